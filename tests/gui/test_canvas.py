"""The canvas on its own: strokes as data, undo/redo per stroke, the eraser, pressure. No TensorFlow here."""
from __future__ import annotations

import numpy as np
import pytest
from gui_helpers import draw_strokes
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QInputDevice, QPointingDevice, QTabletEvent, QUndoStack
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from gui.canvas import DEFAULT_BRUSH, LOGICAL_SIZE, MAX_BRUSH, UNDO_LIMIT, DrawingCanvas, StrokesCommand
from gui.stroke_edit import erase_disk, erase_path

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

L_SHAPE = [[[100, 50], [100, 200], [180, 200]]]
TWO_STROKES = [[[60, 60], [200, 60]], [[130, 60], [130, 220]]]


@pytest.fixture
def canvas(qtbot):
    canvas = DrawingCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(int(LOGICAL_SIZE) + 16, int(LOGICAL_SIZE) + 16)  # a 280 px writing box: 1 px = 1 unit
    canvas.show()
    qtbot.waitExposed(canvas)
    return canvas


def test_mouse_strokes_are_recorded_in_logical_units_whatever_the_size(qtbot, canvas):
    draw_strokes(canvas, L_SHAPE, LOGICAL_SIZE, LOGICAL_SIZE)
    assert canvas.strokes == [[[100.0, 50.0], [100.0, 200.0], [180.0, 200.0]]]
    canvas.resize(600, 700)  # a bigger window: the box scales, the data does not
    draw_strokes(canvas, [[[20, 20], [40, 40]]], LOGICAL_SIZE, LOGICAL_SIZE)
    assert np.allclose(canvas.strokes[1], [[20.0, 20.0], [40.0, 40.0]], atol=0.5)
    assert canvas.drawing().width == canvas.drawing().height == LOGICAL_SIZE


def test_each_stroke_is_one_undo_step_and_clear_is_undoable(qtbot, canvas):
    finals = []
    canvas.changed.connect(lambda final: finals.append(final))
    draw_strokes(canvas, TWO_STROKES, LOGICAL_SIZE, LOGICAL_SIZE)
    assert len(canvas.strokes) == 2 and canvas.undo_stack.count() == 2
    assert finals.count(True) == 2 and False in finals  # live updates while drawing, a final one per release
    canvas.undo_stack.undo()
    assert canvas.strokes == [[[60.0, 60.0], [200.0, 60.0]]]
    canvas.undo_stack.redo()
    assert len(canvas.strokes) == 2
    canvas.clear()
    assert canvas.strokes == [] and canvas.is_empty
    canvas.undo_stack.undo()
    assert len(canvas.strokes) == 2
    revision = canvas.revision
    canvas.undo_stack.undo()
    assert canvas.revision > revision  # every change has a new revision: predictions follow it


def test_the_undo_history_is_bounded_and_frees_what_it_drops(qtbot, canvas):
    """Drawing and clearing for hours must not grow memory: the oldest steps (and their strokes) go."""
    import gc

    for i in range(UNDO_LIMIT // 2 + 20):  # a stroke and a clear each: more steps than the limit
        draw_strokes(canvas, [[[40, 40 + i % 200], [240, 60 + i % 200]]], LOGICAL_SIZE, LOGICAL_SIZE)
        canvas.clear()
    assert canvas.undo_stack.count() == UNDO_LIMIT
    gc.collect()
    kept = [o for o in gc.get_objects() if isinstance(o, StrokesCommand) and o._canvas is canvas]  # noqa: SLF001
    assert len(kept) == UNDO_LIMIT
    canvas.undo_stack.undo()  # the newest steps still undo
    assert len(canvas.strokes) == 1
    shared = QUndoStack()  # a stack the caller limited itself keeps its limit
    shared.setUndoLimit(7)
    other = DrawingCanvas(shared)
    qtbot.addWidget(other)
    assert other.undo_stack.undoLimit() == 7


def test_eraser_cuts_the_strokes_it_touches_in_one_undo_step(qtbot, canvas):
    draw_strokes(canvas, [[[40, 140], [240, 140]]], LOGICAL_SIZE, LOGICAL_SIZE)
    canvas.set_eraser(True)
    draw_strokes(canvas, [[[140, 100], [140, 180]]], LOGICAL_SIZE, LOGICAL_SIZE)  # across the middle
    left, right = canvas.strokes
    reach = canvas.eraser_radius() + canvas.brush_size() * 0.65
    assert left[0] == [40.0, 140.0] and left[-1][0] == pytest.approx(140 - reach, abs=0.01)
    assert right[0][0] == pytest.approx(140 + reach, abs=0.01) and right[-1] == [240.0, 140.0]
    assert canvas.undo_stack.count() == 2
    canvas.undo_stack.undo()
    assert canvas.strokes == [[[40.0, 140.0], [240.0, 140.0]]]


def test_right_button_erases_too(qtbot, canvas):
    draw_strokes(canvas, [[[40, 140], [240, 140]]], LOGICAL_SIZE, LOGICAL_SIZE)
    QTest.mousePress(canvas, Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier, canvas.writing_box().center())
    QTest.mouseRelease(canvas, Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier,
                       canvas.writing_box().center())
    assert len(canvas.strokes) == 2


def test_erasing_geometry():
    strokes, changed = erase_disk([[(0.0, 0.0, 0.2), (10.0, 0.0, 0.6)]], 5.0, 0.0, 1.0)
    assert changed and len(strokes) == 2  # cut at the disk's edge, pressure interpolated
    assert np.allclose(strokes[0], [(0.0, 0.0, 0.2), (4.0, 0.0, 0.36)])
    assert np.allclose(strokes[1], [(6.0, 0.0, 0.44), (10.0, 0.0, 0.6)])
    assert erase_disk([[(0.0, 0.0), (10.0, 0.0)]], 5.0, 3.0, 1.0) == ([[(0.0, 0.0), (10.0, 0.0)]], False)
    assert erase_disk([[(5.0, 5.0)]], 5.0, 5.5, 1.0) == ([], True)  # a dot under the eraser goes
    # A fast sweep between two mouse positions still erases what lies between them.
    swept, changed = erase_path([[(50.0, 0.0), (50.0, 100.0)]], (0.0, 50.0), (100.0, 50.0), 2.0)
    assert changed and len(swept) == 2


def _tablet(canvas, kind, pos, pressure, pointer=QPointingDevice.PointerType.Pen):
    device = QPointingDevice("test pen", 1, QInputDevice.DeviceType.Stylus, pointer,
                             QInputDevice.Capability.Position | QInputDevice.Capability.Pressure, 1, 2)
    event = QTabletEvent(kind, device, QPointF(pos), QPointF(canvas.mapToGlobal(pos)), pressure, 0, 0, 0, 0, 0,
                         Qt.KeyboardModifier.NoModifier, Qt.MouseButton.LeftButton, Qt.MouseButton.LeftButton)
    QApplication.sendEvent(canvas, event)
    return event


def test_tablet_pen_records_pressure_and_its_eraser_end_erases(qtbot, canvas):
    box = canvas.writing_box()
    points = [(QPoint(box.left() + 50, box.top() + 100), 0.2), (QPoint(box.left() + 150, box.top() + 100), 0.9)]
    for kind, (pos, pressure) in zip((QTabletEvent.Type.TabletPress, QTabletEvent.Type.TabletMove), points,
                                     strict=True):
        assert _tablet(canvas, kind, pos, pressure).isAccepted()  # accepted: no mouse event draws it twice
    _tablet(canvas, QTabletEvent.Type.TabletRelease, points[-1][0], 0.0)
    assert canvas.strokes == [[[50.0, 100.0, 0.2], [150.0, 100.0, 0.9]]]
    eraser = QPointingDevice.PointerType.Eraser
    middle = QPoint(box.left() + 100, box.top() + 100)
    _tablet(canvas, QTabletEvent.Type.TabletPress, middle, 0.5, eraser)
    _tablet(canvas, QTabletEvent.Type.TabletRelease, middle, 0.0, eraser)
    assert len(canvas.strokes) == 2 and canvas.undo_stack.count() == 2


def test_brush_size_is_clamped_and_reported(qtbot, canvas):
    assert canvas.brush_size() == DEFAULT_BRUSH
    with qtbot.waitSignal(canvas.brush_size_changed):
        canvas.set_brush_size(500)
    assert canvas.brush_size() == MAX_BRUSH
