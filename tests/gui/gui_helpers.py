"""Helpers shared by the window's tests (a module of its own: ``conftest`` names clash between folders)."""
from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
SAMPLES = REPO / "tests" / "data" / "pendigits-sample.jsonl"  # twenty pendigits drawings, copied from ../shared


def wait_for_prediction(qtbot, window, timeout: int = 20_000):
    """Wait until the window shows the final prediction for the canvas as it is now."""
    def current() -> bool:
        shown = window.last_shown
        return shown is not None and shown.final and shown.revision == window.canvas.revision

    qtbot.waitUntil(current, timeout=timeout)
    return window.last_shown


def draw_strokes(canvas, strokes, width: float, height: float) -> None:
    """Draw strokes given in a width x height box with real mouse press, move and release events."""
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest

    box = canvas.writing_box()
    scale = box.width() / max(width, height)
    for stroke in strokes:
        points = [QPoint(box.left() + round(p[0] * scale), box.top() + round(p[1] * scale)) for p in stroke]
        QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, points[0])
        for point in points[1:]:
            QTest.mouseMove(canvas, point)
        QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, points[-1])
