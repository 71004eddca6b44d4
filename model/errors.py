from __future__ import annotations


class DigitsError(Exception):
    """A failure the user can act on.

    ``str(error)`` is one sentence that names the file (or setting) and the
    problem; the CLI prints it and exits 1, the window shows it in a message.
    """


class TrainingDiverged(DigitsError):
    """The loss became NaN or infinite; the partly trained model is discarded."""
