"""Where the app's files live: bundled assets and the user's data folder."""
from __future__ import annotations

import json
import os
import sys
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


def _read_state() -> dict:
    try:
        state = json.loads(_state_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


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
    """Record ``path`` as the current model (``None`` goes back to the bundled one)."""
    from model.atomic import write_text_atomic

    state = _read_state()
    if path is None:
        state.pop("active_model", None)
    else:
        state["active_model"] = str(Path(path).resolve())
    write_text_atomic(_state_file(), json.dumps(state, indent=2))
