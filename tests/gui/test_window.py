"""The window with a real model: drawing, the CLI's view of the same strokes, menus, errors, settings."""
# ruff: noqa: F811 - the fixtures imported from gui_helpers are arguments of the tests below
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from gui_helpers import REPO, SAMPLES, app_model, draw_strokes, make_window, settings, tiny_data, wait_for_prediction  # noqa: F401 - fixtures
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox, QTabBar

from gui.inference import PredictionInput
from model import paths
from model.strokes import read_drawings, strokes_to_input

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


def test_window_is_shown_before_tensorflow_is_imported():
    code = (
        "import sys\n"
        "from gui.app import build_window\n"
        "w = build_window(start=False)\n"
        "w.show(); w._app.processEvents()\n"
        "print(w.isVisible(), 'tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert out.stdout.split() == ["True", "False", "False"], out.stderr


def test_empty_canvas_says_draw_a_digit(qtbot, make_window):
    window = make_window(wait_ready=False)
    assert window.prediction_panel.message() == "loading model..."  # TensorFlow is still loading
    qtbot.waitUntil(lambda: window.models.state == "ready", timeout=60_000)
    digit = window.findChild(type(window.prediction_panel.digit_label), "predictedDigit")
    assert digit.text() == "draw a digit"
    assert window.findChild(type(window.model_label), "modelStatus").text().startswith("Model: ")


def test_drawn_digits_get_the_prediction_and_input_of_predict_strokes(qtbot, make_window, app_model, tmp_path):
    """QTest mouse events along pendigits samples; ``python main.py predict --strokes`` reads what the canvas kept.

    The CLI runs in a process of its own: TensorFlow must not trace in this (GUI) thread while the
    window's workers use it.
    """
    window = make_window()
    canvas = window.canvas
    strokes_file = tmp_path / "drawings.jsonl"
    seen = []
    for index in (0, 1, 9):
        sample = read_drawings(SAMPLES)[index]
        canvas.clear()
        draw_strokes(canvas, sample.strokes, sample.width, sample.height)
        shown = wait_for_prediction(qtbot, window)

        # The canvas recorded the points the mouse went through (the sample's, to the pixel), stroke by stroke.
        box = canvas.writing_box()
        to_pixels, to_logical = box.width() / sample.width, 280 / box.width()
        recorded = canvas.strokes
        assert len(recorded) == len(sample.strokes)
        for drawn, original in zip(recorded, sample.strokes, strict=True):
            pixels = [tuple(round(v * to_pixels) for v in point) for point in original]
            reached = [p for i, p in enumerate(pixels) if i == 0 or p != pixels[i - 1]]  # moves to the same pixel
            assert np.allclose(drawn, np.asarray(reached) * to_logical, atol=0.01)

        panel = window.prediction_panel
        assert shown.prediction.digit == int(panel.digit_label.text()) and panel.confidence_label.text()
        assert np.array_equal(panel.preview.network_input(), strokes_to_input(recorded, 280, 280))
        assert np.allclose(panel.bars.probabilities(), shown.prediction.probabilities)
        window.save_drawing(tmp_path / "one.jsonl")
        with open(strokes_file, "a", encoding="utf-8") as out:
            out.write((tmp_path / "one.jsonl").read_text(encoding="utf-8"))
        seen.append(shown.prediction)

    cli = subprocess.run([sys.executable, "main.py", "predict", "--strokes", str(strokes_file), "--model",
                          str(app_model)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0, cli.stderr
    answers = [json.loads(line) for line in cli.stdout.splitlines()]
    assert [a["digit"] for a in answers] == [p.digit for p in seen]
    for answer, prediction in zip(answers, seen, strict=True):
        assert np.allclose(answer["probabilities"], prediction.probabilities, atol=1e-5)


def test_undo_redo_and_clear_from_the_keyboard(qtbot, make_window):
    sample = read_drawings(SAMPLES)[4]
    window = make_window()
    draw_strokes(window.canvas, sample.strokes, sample.width, sample.height)
    draw_strokes(window.canvas, [[[20, 20], [60, 20]]], 280, 280)  # a stray line
    first = wait_for_prediction(qtbot, window)
    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert len(window.canvas.strokes) == len(sample.strokes)
    undone = wait_for_prediction(qtbot, window)
    assert undone.revision > first.revision
    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert len(window.canvas.strokes) == len(sample.strokes) + 1
    QTest.keyClick(window, Qt.Key.Key_Escape)
    assert window.canvas.strokes == []
    wait_for_prediction(qtbot, window)
    assert window.prediction_panel.digit_label.text() == "draw a digit"
    assert window.prediction_panel.preview.network_input() is None
    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # clear is undoable
    assert len(window.canvas.strokes) == len(sample.strokes) + 1
    QTest.keyClick(window, Qt.Key.Key_Delete)
    assert window.canvas.strokes == []


def test_a_drawing_unlike_any_digit_is_called_not_a_digit_then_a_digit_is_a_digit_again(qtbot, make_window):
    """The bundled model reads a square as a 0 at 99 %; its features say it is no digit (model.novelty)."""
    window = make_window()
    panel = window.prediction_panel
    square = [[[100, 100], [400, 100], [400, 400], [100, 400], [100, 100]]]
    draw_strokes(window.canvas, square, 500, 500)
    shown = wait_for_prediction(qtbot, window)
    assert shown.prediction.unfamiliar is True
    assert panel.digit_label.text() == "not a digit?"
    assert panel.confidence_label.text() == f"closest digit: {shown.prediction.digit}"
    assert "unlike" in panel.confidence_label.toolTip()
    QTest.keyClick(window, Qt.Key.Key_Escape)
    sample = read_drawings(SAMPLES)[0]
    draw_strokes(window.canvas, sample.strokes, sample.width, sample.height)
    shown = wait_for_prediction(qtbot, window)
    assert shown.prediction.unfamiliar is False
    assert panel.digit_label.text() == str(shown.prediction.digit) and panel.confidence_label.toolTip() == ""


def test_a_speck_is_not_a_digit(qtbot, make_window):
    window = make_window()
    draw_strokes(window.canvas, [[[140, 140], [142, 141]]], 280, 280)
    wait_for_prediction(qtbot, window)
    assert window.prediction_panel.message() == "draw a digit"


def test_predictions_are_throttled_and_the_newest_drawing_wins(qtbot, make_window):
    sample = read_drawings(SAMPLES)[2]
    window = make_window()
    service = window.inference
    before = service.requests_sent
    strokes = [list(map(list, s)) for s in sample.strokes]
    for n in range(1, 60):  # sixty changes with no time in between: one goes out at once, the last follows
        service.submit(PredictionInput(10_000 + n, strokes=strokes, width=500, height=500, final=n == 59))
    assert service.requests_sent - before == 1
    qtbot.waitUntil(lambda: window.last_shown is not None and window.last_shown.revision == 10_059, timeout=20_000)
    assert window.last_shown.final and service.requests_sent - before == 2


def test_a_bad_model_file_shows_an_error_and_keeps_the_model(qtbot, make_window, tmp_path, app_model):
    window = make_window()
    before = window.models.active
    bad = tmp_path / "broken.keras"
    bad.write_bytes(b"this is not a zip archive")
    with qtbot.waitSignal(window.error_reported, timeout=30_000) as blocker:
        window.open_model(bad)
    assert "broken.keras" in blocker.args[0]
    assert window.errors == [blocker.args[0]]
    assert window.models.active is before and paths.active_model_path() == app_model
    assert window.model_label.text().startswith(f"Model: {before.name}")


def test_a_trained_model_that_cannot_be_used_is_let_go(qtbot, make_window):
    """Its adoption fails in the inference thread (no predictor can be built on it): the error shows, the
    model before stays, and the window keeps nothing of the refused model, whose memory is freed at once."""
    import gc
    import weakref
    from types import SimpleNamespace

    from gui.training_worker import TrainingOutcome
    from model import architectures
    from model.modelio import LoadedModel

    window = make_window()
    before = window.models.active
    # The run predicted with its epochs' weights meanwhile.
    window.models.training_started()
    epoch = SimpleNamespace(epoch=1, epochs=1, weights=architectures.get("mlp").build().get_weights(), temperature=1.0)
    window.models.epoch_weights("mlp", epoch)
    qtbot.waitUntil(lambda: window.models._snapshot_key is not None, timeout=30_000)  # noqa: SLF001
    assert window.inference._current[1].startswith("training mlp")  # noqa: SLF001
    refused = LoadedModel(object(), None, {"arch": "mlp", "name": "refused", "test_accuracy": 0.9})
    gone = weakref.ref(refused)
    outcome = TrainingOutcome(None, refused, "refused: trained for 1 epoch(s)", batches_after_stop=0)
    del refused
    with qtbot.waitSignal(window.error_reported, timeout=30_000) as error:
        window.training_panel.training_finished.emit(outcome)  # as the panel does when a run ends
    del outcome
    assert error.args[0].startswith("The trained model cannot be used") and window.errors == [error.args[0]]
    assert window.models.active is before and window.model_label.text().startswith(f"Model: {before.name}")
    # Back to predicting with the model before, not the run's last epoch.
    assert window.models._snapshot_key is None  # noqa: SLF001
    assert window.inference._current == (window.models._active_key, window.models.describe_active())  # noqa: SLF001
    gc.collect()
    assert gone() is None


def test_errors_appear_in_a_message_box_that_does_not_block(qtbot, make_window, tmp_path):
    window = make_window()
    window.show_error = window._error_box  # the real box, instead of the fixture's recorder
    window.open_image(tmp_path / "missing.png")
    box = window.findChild(QMessageBox, "errorMessage")
    assert box is not None and box.isVisible() and "missing.png" in box.text()
    box.accept()


def test_open_image_classifies_a_picture(qtbot, make_window, tmp_path, mnist_splits):
    from PIL import Image

    picture = tmp_path / "seven.png"
    index = int(np.flatnonzero(mnist_splits.y_test == 7)[0])
    Image.fromarray((255 - mnist_splits.x_test[index, ..., 0] * 255).astype(np.uint8)).resize((140, 140)).save(picture)
    window = make_window()
    window.open_file(str(picture))  # what a drop onto the canvas does
    assert window.canvas.has_image
    shown = wait_for_prediction(qtbot, window)
    assert shown.prediction.digit == 7
    draw_strokes(window.canvas, [[[20, 20], [60, 20]]], 280, 280)  # drawing dismisses the picture
    assert not window.canvas.has_image


def test_no_model_says_so(qtbot, make_window, monkeypatch, tmp_path):
    monkeypatch.setattr(paths, "BUNDLED_MODEL", tmp_path / "absent.keras")
    window = make_window(wait_ready=False)
    qtbot.waitUntil(lambda: window.models.state == "missing", timeout=10_000)
    assert window.prediction_panel.message() == "no model"
    assert window.model_label.text() == "no model"


def test_brush_size_geometry_and_dock_are_remembered(qtbot, make_window, settings):
    window = make_window(wait_ready=False, resize=False)
    window.canvas.set_brush_size(30)
    available = window.screen().availableGeometry()
    minimum = window.minimumSizeHint()
    size = (max(minimum.width(), 700), max(minimum.height(), 700))
    fits = size[0] <= available.width() - 20 and size[1] <= available.height() - 40
    window.resize(*size)
    window.training_dock.hide()
    window.close()
    again = make_window(wait_ready=False, window_settings=settings, resize=False)
    assert again.canvas.brush_size() == 30 and again.brush_slider.value() == 30
    assert not again.training_dock.isVisible()
    if fits:  # restoring shrinks a window the screen cannot hold, so only then is the size exact
        assert (again.width(), again.height()) == size


def test_widgets_carry_object_and_accessible_names(make_window):
    window = make_window(wait_ready=False)
    names = ["canvas", "predictedDigit", "confidenceLabel", "probabilityBars", "networkInputPreview",
             "architectureCombo", "epochsSpin", "batchSizeSpin", "learningRateSpin", "startTrainingButton",
             "stopTrainingButton", "trainingProgress", "lossPlot", "accuracyPlot"]
    from PySide6.QtWidgets import QWidget

    for name in names:
        widget = window.findChild(QWidget, name)
        assert widget is not None, name
        assert widget.accessibleName(), name


def test_reset_layout_brings_the_docks_back_tabbed_with_training_in_front(qtbot, make_window):
    window = make_window(wait_ready=False)
    training, *others = [window.training_dock, *window.insight.docks.values()]
    for dock, area in ((others[0], Qt.DockWidgetArea.RightDockWidgetArea),
                       (others[1], Qt.DockWidgetArea.LeftDockWidgetArea)):  # dragged away, as a user might
        window.removeDockWidget(dock)
        window.addDockWidget(area, dock)
        dock.show()
    others[2].close()
    assert window.dockWidgetArea(others[0]) == Qt.DockWidgetArea.RightDockWidgetArea
    assert not others[2].toggleViewAction().isChecked()
    window.findChild(QAction, "resetLayoutAction").trigger()
    assert all(window.dockWidgetArea(dock) == Qt.DockWidgetArea.BottomDockWidgetArea for dock in others)
    assert set(window.tabifiedDockWidgets(training)) == set(others)
    assert all(dock.toggleViewAction().isChecked() for dock in others)  # shown, behind Training's tab
    tabs = [bar for bar in window.findChildren(QTabBar) if bar.count() == 4 and bar.isVisible()]
    assert len(tabs) == 1 and tabs[0].tabText(tabs[0].currentIndex()) == "Training"


def test_with_a_data_folder_named_the_window_settings_are_kept_in_it(qapp, tmp_path, monkeypatch):
    """A separate profile (a demo, a script run offscreen) leaves the user's own window layout alone."""
    from pathlib import Path

    from gui.app import default_settings

    monkeypatch.setenv("DIGITS_HOME", str(tmp_path / "profile"))
    settings = default_settings()
    settings.setValue("canvas/brushSize", 7.0)
    settings.sync()
    assert Path(settings.fileName()) == tmp_path / "profile" / "settings.ini"
    assert "brushSize=7" in (tmp_path / "profile" / "settings.ini").read_text()
