"""Where the app's files live: bundled assets and the user's data folder."""
from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

ASSETS_DIR = Path(os.environ.get("DIGITS_ASSETS", Path(__file__).resolve().parent.parent / "assets"))
BUNDLED_MNIST = ASSETS_DIR / "mnist.npz"
BUNDLED_MODEL = ASSETS_DIR / "model.keras"
MNIST_SHA256 = "06af5dfe73b70e3bc1c36439982b18a8d76803db9b544f6fdf838a37fbb01b64"


def user_data_dir() -> Path:
    """The user's data folder (models, state); ``DIGITS_HOME`` overrides it (tests use that)."""
    override = os.environ.get("DIGITS_HOME")
    if override:
        return Path(override)
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / "digits"


def user_models_dir() -> Path:
    return user_data_dir() / "models"


def _state_file() -> Path:
    return user_data_dir() / "state.json"


def _say(message: str) -> None:
    print(f"digits: {message}", file=sys.stderr)


_notifier: Callable[[str], None] | None = None
_pending: list[str] = []
_reported: set[tuple[str, int, int]] = set()


def set_notifier(notify: Callable[[str], None] | None) -> None:
    """Route notices about the user's files (a damaged settings file) to ``notify``.

    The window installs one that shows a message; until then notices go to
    standard error, and are also kept and handed to ``notify`` when it is
    installed, so nothing said before the window exists is lost.
    """
    global _notifier
    _notifier = notify
    if notify is not None:
        pending, _pending[:] = list(_pending), []
        for message in pending:
            notify(message)


def _notify(message: str) -> None:
    if _notifier is not None:
        _notifier(message)
    else:
        _pending.append(message)
        _say(message)


def _set_aside(path: Path, problem: str) -> None:
    """Keep a damaged file as ``NAME.damaged-DATE`` and say so once; the caller goes on with defaults."""
    try:
        info = path.stat()
        key = (str(path), info.st_mtime_ns, info.st_size)
    except OSError:
        key = (str(path), 0, 0)
    if key in _reported:
        return  # already said (the file could not be moved aside: a read-only folder)
    _reported.add(key)
    backup = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    try:
        os.replace(path, backup)
        kept = f"the damaged file was kept as {backup.name}"
    except OSError:
        kept = "the damaged file was left as it is"
    _notify(f"{path}: {problem}; using the default settings ({kept}).")


def _read_state() -> dict:
    path = _state_file()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except UnicodeDecodeError:
        _set_aside(path, "the settings file is not text")
        return {}
    except OSError as exc:
        key = (str(path), -1, -1)
        if key not in _reported:
            _reported.add(key)
            _notify(f"{path}: the settings file cannot be read ({exc.strerror or exc}); using the default settings.")
        return {}
    try:
        state = json.loads(text)
    except (ValueError, RecursionError):
        _set_aside(path, "the settings file is damaged (not valid JSON)")
        return {}
    if not isinstance(state, dict):
        _set_aside(path, "the settings file is damaged (not a JSON object)")
        return {}
    return state


def active_model_path() -> Path:
    """The app's current model: the user's last trained or opened one, else the bundled one.

    The CLI and the window share this, so ``digits predict`` reads drawings with
    the model the window showed last.
    """
    recorded = _read_state().get("active_model")
    if isinstance(recorded, str) and Path(recorded).is_file():
        return Path(recorded)
    return BUNDLED_MODEL


def set_active_model_path(path: Path | None) -> None:
    """Record ``path`` as the current model (``None`` goes back to the bundled one).

    Raises DigitsError when the user data folder cannot be written (read-only or full).
    """
    from model.atomic import write_text_atomic
    from model.errors import DigitsError

    state = _read_state()
    if path is None:
        state.pop("active_model", None)
    else:
        state["active_model"] = str(Path(path).resolve())
    try:
        write_text_atomic(_state_file(), json.dumps(state, indent=2))
    except OSError as exc:
        raise DigitsError(f"{_state_file()}: cannot record the current model ({exc.strerror or exc}).") from None
