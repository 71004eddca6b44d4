"""digits: draw a digit, watch a CNN read it, train your own.

``digits`` (or ``python main.py``) opens the app; ``digits train|evaluate|predict``
is the command line. Neither imports TensorFlow before it is needed.
"""
from __future__ import annotations

import sys


def build_window(argv: list[str] | None = None):
    """The ready main window, without entering the event loop (tests drive it)."""
    from gui.app import build_window as _build

    return _build(argv)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if not args:
        from gui.app import run_app

        return run_app()
    from model.cli import run

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
