"""File dialogs that start where a person would look: each kind of file remembers the folder last used.

Qt's static dialogs, given a bare file name, start in the process's working
directory: the repository when the app is run from a terminal, often ``/``
when it is started from a desktop menu, and never the folder where training
has just saved a model. Each kind below starts in its own default folder and
then in the folder last used for it, kept in the window's settings.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog, QWidget

MODELS, IMAGES, STROKES, EXPORTS = "models", "images", "strokes", "exports"


def _default_folder(kind: str) -> Path:
    if kind == MODELS:  # where training and `digits train` save them
        from model import paths

        return paths.user_models_dir()
    return Path.home()


def start_folder(settings: QSettings, kind: str) -> Path:
    """The folder last used for ``kind``; the kind's default if none was, or if it is gone."""
    remembered = settings.value(f"folders/{kind}")
    for folder in (remembered, _default_folder(kind), Path.home()):
        if isinstance(folder, (str, Path)) and str(folder) and Path(folder).is_dir():
            return Path(folder)
    return Path.cwd()


def remember(settings: QSettings, kind: str, path: str | Path) -> None:
    settings.setValue(f"folders/{kind}", str(Path(path).parent))


def ask_open(parent: QWidget, settings: QSettings, kind: str, title: str, filters: str) -> str:
    """The chosen file's path, or "" if the dialog was cancelled."""
    path, _ = QFileDialog.getOpenFileName(parent, title, str(start_folder(settings, kind)), filters)
    if path:
        remember(settings, kind, path)
    return path


def ask_save(parent: QWidget, settings: QSettings, kind: str, title: str, name: str, filters: str) -> str:
    """The path to save to, offered as ``name`` in the kind's folder; "" if the dialog was cancelled."""
    path, _ = QFileDialog.getSaveFileName(parent, title, str(start_folder(settings, kind) / name), filters)
    if path:
        remember(settings, kind, path)
    return path
