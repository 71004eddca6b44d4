# ruff: noqa: F811 - pytest fixtures imported from gui_helpers are redefined as parameters
"""Insight from the window: honest answers, evaluation and its gallery, inside the network, your handwriting."""
from __future__ import annotations

import json

import numpy as np
import pytest
from gui_helpers import SAMPLES, app_model, draw_strokes, make_window, settings, tiny_data, wait_for_prediction  # noqa: F401, F811 - fixtures

from model.strokes import read_drawings

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


def _prediction(probabilities):
    from model.inference import Prediction

    p = np.asarray(probabilities, np.float32)
    return Prediction(int(np.argmax(p)), float(p.max()), p, np.zeros((28, 28), np.float32))


def test_unsure_answers_name_the_two_candidates(qtbot):
    from gui.prediction_panel import PredictionPanel
    from model.inference import NO_DIGIT

    panel = PredictionPanel()
    qtbot.addWidget(panel)
    p = np.full(10, 0.01)
    p[4], p[9] = 0.47, 0.45
    unsure = _prediction(p / p.sum())
    assert unsure.unsure
    panel.show_prediction(unsure, "test")
    assert "not sure: 4 or 9?" in panel.confidence_label.text()
    sure = np.full(10, 0.005)
    sure[7] = 0.955
    panel.show_prediction(_prediction(sure), "test")
    assert panel.confidence_label.text().endswith("% sure") and "not sure" not in panel.confidence_label.text()
    panel.show_prediction(NO_DIGIT, "test")  # a blank canvas is never classified
    assert panel.message() == "draw a digit"


def _evaluation():
    """Twelve images: hand-made probabilities, so each cell's members and order are known."""
    from model.evaluation import evaluate_probabilities

    labels = np.array([4, 4, 4, 4, 9, 9, 9, 1, 1, 1, 7, 7])
    predicted = np.array([4, 9, 9, 9, 9, 4, 9, 1, 1, 7, 7, 1])
    confidence = np.array([.9, .6, .95, .8, .9, .7, .85, .99, .9, .55, .9, .6])
    probabilities = np.full((12, 10), 0.0)
    for i, (d, c) in enumerate(zip(predicted, confidence)):
        probabilities[i] = (1 - c) / 9
        probabilities[i, d] = c
    images = np.stack([np.full((28, 28), i / 12, np.float32) for i in range(12)])
    return evaluate_probabilities(probabilities, labels, images)


def test_confusion_cell_click_opens_the_gallery_of_that_cell_most_confident_first(qtbot):
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from gui.evaluation_view import EvaluationView
    from gui.insight_worker import EvaluationResult

    view = EvaluationView()
    qtbot.addWidget(view)
    view.resize(700, 520)
    view.show()
    qtbot.waitExposed(view)
    evaluation = _evaluation()
    view.set_result(EvaluationResult("hand-made", evaluation))
    assert view.matrix.confusion[4, 9] == 3 and view.matrix.confusion[9, 4] == 1
    assert view.per_class[4].text() == "25.0%" and view.per_class[1].text() == "66.7%"
    assert "12 MNIST test images" in view.summary.text() and "6 wrong" in view.summary.text()

    QTest.mouseClick(view.matrix, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     view.matrix.cell_rect(4, 9).center())
    gallery = view.gallery
    assert gallery is not None and gallery.isVisible()
    shown = [gallery.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(gallery.list.count())]
    assert shown == [2, 3, 1]  # the 4s read as 9, most confident mistake first
    assert gallery.list.item(0).text() == "4→9 95%"
    assert all(item.true == 4 and item.predicted == 9 for item in gallery.items)

    QTest.mouseClick(view.matrix, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     view.matrix.cell_rect(7, 1).center())
    assert [item.index for item in view.gallery.items] == [11]


def test_evaluate_runs_off_the_gui_thread_on_the_active_model(qtbot, make_window):
    window = make_window()
    insight = window.insight
    insight.docks["evaluationDock"].raise_()
    with qtbot.waitSignal(insight.service.evaluated, timeout=60_000) as done:
        insight.evaluation_view.evaluate_button.click()
    result = done.args[0]
    assert result.evaluation.count == 100  # the tiny test split the window was given
    assert result.evaluation.confusion.sum() == 100
    assert f"{result.evaluation.accuracy:.2%}" in insight.evaluation_view.summary.text()
    assert insight.service.thread is not None and insight.service.thread.isRunning()


def test_internals_and_saliency_follow_the_drawing(qtbot, make_window):
    window = make_window()
    insight = window.insight
    insight.docks["internalsDock"].raise_()
    insight.internals_view.saliency_check.setChecked(True)
    samples = read_drawings(SAMPLES)
    first, second = samples[0], next(s for s in samples if s.label != samples[0].label)

    def current():
        shown = insight.internals_view.internals
        return shown is not None and shown.revision == window.canvas.revision and shown.stages is not None

    draw_strokes(window.canvas, first.strokes, first.width, first.height)
    wait_for_prediction(qtbot, window)
    qtbot.waitUntil(current, timeout=30_000)
    a = insight.internals_view.internals
    assert a.stages.centred.shape == (28, 28) and a.stages.fitted.shape[:2] <= (20, 20)
    assert len(a.maps) >= 1 and all(m.ndim == 3 for m in a.maps) and len(a.names) == len(a.maps)
    assert a.saliency.shape == (28, 28) and 0 <= a.saliency.min() and a.saliency.max() <= 1
    assert insight.overlay.isVisible() and insight.overlay.target_rect() is not None
    assert not insight.internals_view.stage_labels[3].pixmap().isNull()

    window.canvas.clear()
    draw_strokes(window.canvas, second.strokes, second.width, second.height)
    wait_for_prediction(qtbot, window)
    qtbot.waitUntil(current, timeout=30_000)
    b = insight.internals_view.internals
    assert not np.allclose(a.maps[0], b.maps[0])  # the feature maps changed with the drawing
    assert not np.allclose(a.stages.centred, b.stages.centred)

    insight.internals_view.saliency_check.setChecked(False)
    assert not insight.overlay.isVisible()


def test_correction_saves_a_valid_line_and_the_browser_shows_it(qtbot, make_window):
    from model.personal import PersonalDataset, personal_path

    window = make_window()
    bar = window.insight.correction
    assert not bar.isEnabled()  # nothing drawn: nothing to correct
    sample = read_drawings(SAMPLES)[5]
    draw_strokes(window.canvas, sample.strokes, sample.width, sample.height)
    wait_for_prediction(qtbot, window)
    assert bar.isEnabled()
    bar.buttons[7].click()

    lines = personal_path().read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["label"] == 7 and record["width"] == 280 and record["strokes"]
    saved = PersonalDataset().samples()
    assert len(saved) == 1 and saved[0].label == 7
    view = window.insight.personal_view
    assert view.list.count() == 1 and "1 sample" in view.summary.text()

    view.list.item(0).setSelected(True)
    view.delete_button.click()
    assert PersonalDataset().samples() == [] and view.list.count() == 0


def test_the_browser_shows_when_each_drawing_was_added_in_local_time(qtbot, time_zone):
    """Stored in UTC ("2026-11-29T09:21:48+00:00"), read as the run labels read: 10:21 in Berlin in November."""
    from conftest import BERLIN

    from gui.personal_view import PersonalView
    from model.strokes import Drawing

    time_zone(BERLIN)
    view = PersonalView()
    qtbot.addWidget(view)
    strokes = [[[10.0, 10.0], [10.0, 90.0]]]
    view.set_samples([Drawing(strokes, 100.0, 100.0, label=7, extra={"added": "2026-11-29T09:21:48+00:00"}),
                      Drawing(strokes, 100.0, 100.0, label=1, extra={"added": "2026-07-01T09:21:48+00:00"}),
                      Drawing(strokes, 100.0, 100.0, label=4),  # imported from a file without dates
                      Drawing(strokes, 100.0, 100.0, label=5, extra={"added": "9999-12-31T23:30:00+00:00"})])
    assert [view.list.item(i).toolTip() for i in range(4)] == [
        "a 7, added 2026-11-29 10:21", "a 1, added 2026-07-01 11:21", "a 4",
        "a 5, added 9999-12-31T23:30:00+00:00"]  # past year 9999 in Berlin: as written


def test_import_refuses_a_bad_file_with_a_message(qtbot, make_window, tmp_path):
    window = make_window(wait_ready=False)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"label": 3, "strokes": [[[0, 0], [10, 10]]], "width": 20, "height": 20}\nnot json\n')
    window.insight.import_samples(bad)
    assert window.errors and "Nothing was imported" in window.errors[-1]
    assert window.insight.personal_view.list.count() == 0


def test_finetune_from_the_window_swaps_in_the_tuned_model(qtbot, make_window, app_model, tmp_path):
    from model import history, paths
    from model.finetune import FinetuneConfig

    window = make_window()
    insight = window.insight
    insight.import_samples(SAMPLES)
    assert insight.personal_view.list.count() == 20 and not window.errors
    insight.finetune_config = FinetuneConfig(epochs=1, batch_size=32, learning_rate=2e-5, min_mnist=200)

    panel = window.training_panel
    with qtbot.waitSignal(panel.training_finished, timeout=120_000) as finished:
        insight.personal_view.finetune_button.click()
        assert panel.stop_button.isEnabled()  # the same Stop as training
    outcome = finished.args[0]
    result = outcome.finetune
    assert result is not None and result.personal_held_back >= 1
    assert "MNIST test" in insight.personal_view.report.text()
    assert len(panel.plots.curve_data("loss")[0]) >= 1  # the same live plots
    if result.forgot:  # refused: the active model stays
        assert outcome.loaded is None
        return
    new = outcome.loaded
    assert new.path.parent == paths.user_models_dir() and new.metadata["finetune"]["mnist_after"] is not None
    assert "temperature" in new.metadata
    qtbot.waitUntil(lambda: window.models.active is not None and window.models.active.path == new.path,
                    timeout=30_000)
    assert any(run.kind == "finetune" for run in history.list_runs())
    assert window.restore_model_action.isEnabled()
    window.restore_model_action.trigger()
    qtbot.waitUntil(lambda: window.models.active.path == app_model, timeout=30_000)
    qtbot.waitUntil(lambda: panel.start_button.isEnabled(), timeout=10_000)
