"""Helpers for the benchmarks that drive the real window: find widgets, draw strokes with mouse events."""
from __future__ import annotations

import json
import time

from benchmarks.common import PENDIGITS, REPO


def sample_strokes(index: int = 0) -> dict:
    """One pendigits drawing (label, width, height, strokes); the repo's test sample if the file is missing."""
    for path in (PENDIGITS, REPO / "tests" / "data" / "pendigits-sample.jsonl"):
        if path.is_file():
            with open(path, encoding="utf-8") as f:
                for i, line in enumerate(f):
                    if i == index:
                        return json.loads(line)
    # A hand-made "1" if there is no data at all.
    return {"label": 1, "width": 500, "height": 500, "strokes": [[[250, 50], [250, 250], [250, 450]]]}


def find(window, name: str):
    from PySide6.QtWidgets import QWidget

    return window.findChild(QWidget, name)


def send_mouse(widget, kind: str, x: float, y: float) -> None:
    """Deliver one mouse event (press, move with the button held, release) straight to ``widget``."""
    from PySide6.QtCore import QEvent, QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    types = {"press": QEvent.Type.MouseButtonPress, "move": QEvent.Type.MouseMove,
             "release": QEvent.Type.MouseButtonRelease}
    local = QPointF(x, y)
    global_pos = QPointF(widget.mapToGlobal(local))
    button = Qt.MouseButton.NoButton if kind == "move" else Qt.MouseButton.LeftButton
    buttons = Qt.MouseButton.NoButton if kind == "release" else Qt.MouseButton.LeftButton
    event = QMouseEvent(types[kind], local, local, global_pos, button, buttons, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)


def widget_points(canvas, sample: dict) -> list[list[tuple[float, float]]]:
    """The sample's strokes in the canvas's widget pixels, fitted into its writing box."""
    size = 280.0
    scale = size / max(sample.get("width", 500), sample.get("height", 500), 1)
    to_widget = getattr(canvas, "to_widget", None)
    out = []
    for stroke in sample["strokes"]:
        pts = []
        for p in stroke:
            x, y = p[0] * scale, p[1] * scale
            if to_widget is not None:
                q = to_widget(x, y)
                pts.append((q.x(), q.y()))
            else:
                pts.append((x * canvas.width() / size, y * canvas.height() / size))
        out.append(pts)
    return out


class StrokePlayer:
    """Plays strokes onto the canvas one mouse event per call of ``step`` (drive it from a QTimer)."""

    def __init__(self, canvas, sample: dict):
        self.canvas = canvas
        self.events = []
        for stroke in widget_points(canvas, sample):
            self.events.append(("press", *stroke[0]))
            self.events += [("move", x, y) for x, y in stroke[1:]]
            self.events.append(("release", *stroke[-1]))
        self.i = 0
        self.done_at: float | None = None

    def step(self) -> bool:
        """Send the next event; False when the drawing is complete."""
        if self.i >= len(self.events):
            return False
        kind, x, y = self.events[self.i]
        send_mouse(self.canvas, kind, x, y)
        self.i += 1
        if self.i == len(self.events):
            self.done_at = time.perf_counter()
        return True

    def play_all(self) -> None:
        while self.step():
            pass
