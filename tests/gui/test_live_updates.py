"""Live updates (training progress, predictions) repaint their widgets without laying the window out again.

A ``QLabel`` whose text changed asked Qt for new geometry, and Qt laid the whole
main window out for it: 20 times a second during training and at each live
prediction, 5-13 ms of GUI time each (benchmarks/gui_stall).
"""
# ruff: noqa: F811 - the fixtures imported from gui_helpers are arguments of the tests below
from __future__ import annotations

import numpy as np
import pytest
from gui_helpers import app_model, make_window, settings, tiny_data  # noqa: F401 - fixtures
from PySide6.QtCore import QEvent, QObject

from model.inference import NO_DIGIT, Prediction

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


class LayoutPasses(QObject):
    """Counts the layout requests that reach the main window while ``counting``."""

    def __init__(self, window):
        super().__init__()
        self.count = 0
        self.counting = False
        window.installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802
        if self.counting and event.type() == QEvent.Type.LayoutRequest:
            self.count += 1
        return False


def _prediction(digit: int, confidence: float) -> Prediction:
    probabilities = np.full(10, (1 - confidence) / 9, dtype=np.float32)
    probabilities[digit] = confidence
    return Prediction(digit, confidence, probabilities, np.random.default_rng(digit).random((28, 28)))


def test_predictions_repaint_without_a_layout_pass(qtbot, make_window):
    window = make_window()
    panel = window.prediction_panel
    passes = LayoutPasses(window)
    qtbot.wait(50)
    passes.counting = True
    for i in range(20):
        # A confident digit, an unsure one, then no digit: every text and font the panel shows.
        shown = (_prediction(i % 10, 0.97), _prediction((i + 3) % 10, 0.41), NO_DIGIT)[i % 3]
        panel.show_prediction(shown, f"model: run {i} of a long and descriptive model name · fast · 99.1%")
        qtbot.wait(5)
    passes.counting = False
    assert panel.digit_label.text() == str(shown.digit) and panel.confidence_label.text().startswith("not sure")
    assert passes.count == 0


def test_training_progress_repaints_without_a_layout_pass(qtbot, make_window):
    window = make_window()
    panel = window.training_panel
    panel.arch_combo.setCurrentIndex(panel.arch_combo.findData("fast"))
    panel.epochs_spin.setValue(2)
    panel.batch_spin.setValue(32)
    passes = LayoutPasses(window)
    reports = []

    def on_batch(progress) -> None:
        reports.append(progress)
        passes.counting = len(reports) >= 2 and progress.fraction_done < 1  # the run's start and end change controls

    panel.batch_ended.connect(on_batch)
    with qtbot.waitSignal(panel.training_finished, timeout=120_000):
        panel.start_button.click()
    assert len(reports) >= 4
    assert passes.count == 0
