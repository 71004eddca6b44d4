"""File dialogs start where a person would look: the models folder, then the folder last used (gui/file_dialogs.py).

They started in the process's working directory, which is not where training saves models.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from gui_helpers import app_model, make_window, settings, tiny_data  # noqa: F401, F811 - fixtures

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


class Dialog:
    """Stands in for QFileDialog's static calls: records where each one started and answers ``answer``."""

    def __init__(self, monkeypatch, answer: Path | str = ""):
        from PySide6.QtWidgets import QFileDialog

        self.started: list[str] = []
        self.answer = answer
        for name in ("getOpenFileName", "getSaveFileName"):
            monkeypatch.setattr(QFileDialog, name, self)

    def __call__(self, parent, title, start, filters):
        self.started.append(start)
        return str(self.answer), ""


def test_open_model_starts_in_the_models_folder_then_in_the_folder_last_used(
        make_window, settings, trained_model_path, tmp_path, monkeypatch):  # noqa: F811
    from PySide6.QtCore import QSettings

    from model import paths

    paths.user_models_dir().mkdir(parents=True, exist_ok=True)
    window = make_window()
    elsewhere = tmp_path / "my models"
    elsewhere.mkdir()
    chosen = elsewhere / "mine.keras"
    shutil.copyfile(trained_model_path, chosen)
    dialog = Dialog(monkeypatch, chosen)

    window.open_model_action.trigger()
    assert dialog.started == [str(paths.user_models_dir())]  # where training saves them
    window.open_model_action.trigger()
    assert dialog.started[-1] == str(elsewhere)

    settings.sync()  # the next launch reads the folder from the settings file
    assert QSettings(settings.fileName(), QSettings.Format.IniFormat).value("folders/models") == str(elsewhere)

    shutil.rmtree(elsewhere)  # gone since: back to the models folder
    dialog.answer = ""  # cancelled: nothing is remembered
    window.open_model_action.trigger()
    window.open_model_action.trigger()
    assert dialog.started[-2:] == [str(paths.user_models_dir())] * 2


def test_save_model_as_offers_the_model_by_name_in_the_models_folder(make_window, tmp_path, monkeypatch):  # noqa: F811
    from model import paths

    window = make_window()
    dialog = Dialog(monkeypatch, tmp_path / "copy.keras")
    window.save_model_action.trigger()
    offered = Path(dialog.started[0])
    assert offered.name == f"{window.models.active.name}.keras"
    # The models folder does not exist before a first training: the home folder instead of the working one.
    assert offered.parent == (paths.user_models_dir() if paths.user_models_dir().is_dir() else Path.home())
    assert (tmp_path / "copy.keras").is_file()


def test_each_kind_of_file_keeps_its_own_folder(make_window, tmp_path, monkeypatch):  # noqa: F811
    """A drawing saved in one folder leaves the image and model dialogs where they were."""
    from gui.file_dialogs import IMAGES, MODELS, STROKES, start_folder

    window = make_window()
    drawings = tmp_path / "drawings"
    drawings.mkdir()
    dialog = Dialog(monkeypatch, drawings / "three.jsonl")
    window.save_drawing_action.trigger()
    assert Path(dialog.started[0]) == Path.home() / "drawing.jsonl"
    assert (drawings / "three.jsonl").is_file()
    window.save_drawing_action.trigger()
    assert Path(dialog.started[1]) == drawings / "drawing.jsonl"
    assert start_folder(window.settings, STROKES) == drawings
    assert start_folder(window.settings, IMAGES) == Path.home()
    assert start_folder(window.settings, MODELS) != drawings
