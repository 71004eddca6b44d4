"""The drawing canvas: strokes recorded as points, painted onto a pixmap as they arrive.

The strokes are the data. They are kept in the coordinates of a 280 x 280
logical writing box, whatever the widget's size or the screen's DPI, and the
network input is made from them by the core's one renderer
(``model.strokes.strokes_to_input``), exactly as ``digits predict --strokes``
does. The pixels on screen are only a picture of them: the mouse handlers paint
each new segment onto a pixmap and ``paintEvent`` copies it to the screen.

Mouse points are ``(x, y)``; tablet points are ``(x, y, pressure)``, and the
renderer thickens the line where the pen pressed harder, as the screen does.
The eraser cuts strokes where it touches them (``gui.stroke_edit``), so what
is erased on screen is erased from the data. Each stroke, erase gesture or
clear is one step on the undo stack.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QImage,
    QPainter,
    QPalette,
    QPen,
    QPixmap,
    QPointingDevice,
    QUndoCommand,
    QUndoStack,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from gui.stroke_edit import Point, Stroke, erase_path

LOGICAL_SIZE = 280.0  # the writing box, in logical units, whatever the widget's size
DEFAULT_BRUSH = 18.0  # logical units: a pen line about as thick, relative to the box, as MNIST's
MIN_BRUSH, MAX_BRUSH = 4.0, 48.0
MARGIN = 8  # widget pixels around the writing box
UNDO_LIMIT = 100  # undo steps kept (strokes, erase gestures, clears); the oldest go first


def pressure_factor(pressure: float) -> float:
    """The width factor the core's renderer gives a point of this pressure (``model.strokes``)."""
    return min(max(0.4 + 0.9 * pressure, 0.4), 1.3)


class StrokesCommand(QUndoCommand):
    """One undo step: the strokes before and after a stroke, an erase gesture or a clear."""

    def __init__(self, canvas: DrawingCanvas, before: list[Stroke], after: list[Stroke], text: str):
        super().__init__(text)
        self._canvas, self._before, self._after = canvas, before, after

    def redo(self) -> None:
        self._canvas._replace_strokes(self._after)

    def undo(self) -> None:
        self._canvas._replace_strokes(self._before)


class DrawingCanvas(QWidget):
    changed = Signal(bool)  # the drawing changed; True when final (pen released, undo, clear...)
    file_dropped = Signal(str)  # a local file dropped onto the canvas
    brush_size_changed = Signal(float)
    eraser_toggled = Signal(bool)

    def __init__(self, undo_stack: QUndoStack | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("canvas")
        self.setAccessibleName("Drawing canvas")
        self.setAccessibleDescription("Draw one digit with the mouse or a pen; right button or E erases.")
        self.undo_stack = undo_stack if undo_stack is not None else QUndoStack(self)
        # Every step keeps the strokes before and after it, and Qt's stack is unlimited by default: it
        # grew for as long as the app ran (about 4 KB a drawing: some 1,900 steps, 850 drawings, in the
        # 10-minute soak). Qt takes a limit only while the stack is empty; a caller's own limit stays.
        if self.undo_stack.count() == 0 and self.undo_stack.undoLimit() == 0:
            self.undo_stack.setUndoLimit(UNDO_LIMIT)
        self._strokes: list[Stroke] = []
        self._drawing = False  # a stroke is under way; it is the last of _strokes
        self._erase_before: list[Stroke] | None = None  # strokes when the erase gesture began
        self._erase_last: tuple[float, float] | None = None
        self._brush = DEFAULT_BRUSH
        self._eraser = False
        self._image: QImage | None = None
        self.image_payload: object = None  # what the image stands for (the PIL image), for the window
        self._image_label = ""
        self._pixmap: QPixmap | None = None
        self._hover: QPointF | None = None
        self.revision = 0  # increases with every change; predictions carry it
        self.setAcceptDrops(True)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setMinimumSize(200, 200)  # the writing box scales; strokes stay in logical units
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    # Public state ------------------------------------------------------------------------------------

    @property
    def strokes(self) -> list[list[list[float]]]:
        """A copy of the strokes, as JSON-ready lists of [x, y] or [x, y, pressure]."""
        return [[list(p) for p in stroke] for stroke in self._strokes]

    @property
    def is_empty(self) -> bool:
        return not self._strokes and self._image is None

    @property
    def has_image(self) -> bool:
        return self._image is not None

    def drawing(self):
        """The strokes as a ``model.strokes.Drawing`` (what ``predict --strokes`` reads)."""
        from model.strokes import Drawing

        return Drawing(self.strokes, LOGICAL_SIZE, LOGICAL_SIZE)

    def brush_size(self) -> float:
        return self._brush

    def set_brush_size(self, size: float) -> None:
        size = float(min(max(size, MIN_BRUSH), MAX_BRUSH))
        if size != self._brush:
            self._brush = size
            self._render_all()
            self.update()
            self.brush_size_changed.emit(size)

    def eraser(self) -> bool:
        return self._eraser

    def set_eraser(self, on: bool) -> None:
        if on != self._eraser:
            self._eraser = on
            self.update()
            self.eraser_toggled.emit(on)

    def clear(self) -> None:
        """Remove the drawing (one undo step) and any picture shown."""
        had_image = self._image is not None
        self._drop_image()
        if self._strokes:
            self.undo_stack.push(StrokesCommand(self, list(self._strokes), [], "Clear"))
        elif had_image:
            self._changed(True)

    def set_image(self, image: QImage, payload: object, label: str) -> None:
        """Show a picture to classify instead of a drawing; drawing again dismisses it."""
        self._strokes = []
        self.undo_stack.clear()
        self._image, self.image_payload, self._image_label = image, payload, label
        self._render_all()
        self._changed(True)

    # Geometry ------------------------------------------------------------------------------------------

    def writing_box(self) -> QRect:
        """The square the 280 x 280 logical box occupies, in widget pixels."""
        side = max(1, min(self.width(), self.height()) - 2 * MARGIN)
        return QRect((self.width() - side) // 2, (self.height() - side) // 2, side, side)

    def to_logical(self, pos: QPointF) -> tuple[float, float]:
        box = self.writing_box()
        scale = LOGICAL_SIZE / box.width()
        x = min(max((pos.x() - box.left()) * scale, 0.0), LOGICAL_SIZE)
        y = min(max((pos.y() - box.top()) * scale, 0.0), LOGICAL_SIZE)
        return round(x, 2), round(y, 2)

    def to_widget(self, x: float, y: float) -> QPointF:
        box = self.writing_box()
        scale = box.width() / LOGICAL_SIZE
        return QPointF(box.left() + x * scale, box.top() + y * scale)

    def _inside(self, pos: QPointF) -> bool:
        return QRectF(self.writing_box()).contains(pos)

    def eraser_radius(self) -> float:
        """The eraser's radius in logical units, as its on-screen circle shows it."""
        return self._brush

    def sizeHint(self) -> QSize:
        return QSize(480, 480)

    # Strokes ------------------------------------------------------------------------------------------

    def _begin_stroke(self, pos: QPointF, pressure: float | None) -> None:
        if self._image is not None:
            self._drop_image()
            self._render_all()
        self._drawing = True
        self._strokes.append([self._point(pos, pressure)])
        self._paint_segment(self._strokes[-1][0], self._strokes[-1][0])
        self._changed(False)

    def _extend_stroke(self, pos: QPointF, pressure: float | None) -> None:
        stroke = self._strokes[-1]
        point = self._point(pos, pressure)
        if point[:2] == stroke[-1][:2]:
            return
        stroke.append(point)
        self._paint_segment(stroke[-2], point)
        self._changed(False)

    def _end_stroke(self) -> None:
        self._drawing = False
        stroke = self._strokes[-1]
        before = [list(s) for s in self._strokes[:-1]]
        self.undo_stack.push(StrokesCommand(self, before, before + [list(stroke)], "Stroke"))

    def _point(self, pos: QPointF, pressure: float | None) -> Point:
        x, y = self.to_logical(pos)
        return (x, y) if pressure is None else (x, y, round(float(pressure), 3))

    def _begin_erase(self, pos: QPointF) -> None:
        if self._image is not None:
            return
        self._erase_before = [list(s) for s in self._strokes]
        self._erase_last = self.to_logical(pos)
        self._erase_to(pos)

    def _erase_to(self, pos: QPointF) -> None:
        end = self.to_logical(pos)
        # Cut the centre line wherever the circle comes within half a line width of it,
        # so no painted ink is left inside the circle.
        reach = self.eraser_radius() + self._brush * pressure_factor(1.0) / 2
        strokes, changed = erase_path(self._strokes, self._erase_last, end, reach)
        self._erase_last = end
        if changed:
            self._strokes = strokes
            self._render_all()
            self.update()
            self._changed(False)

    def _end_erase(self) -> None:
        before, self._erase_before, self._erase_last = self._erase_before, None, None
        if before is not None and before != self._strokes:
            self.undo_stack.push(StrokesCommand(self, before, [list(s) for s in self._strokes], "Erase"))

    def _replace_strokes(self, strokes: list[Stroke]) -> None:
        """Undo, redo and every pushed command end here."""
        self._drawing = False
        self._strokes = [list(s) for s in strokes]
        self._render_all()
        self.update()
        self._changed(True)

    def _changed(self, final: bool) -> None:
        self.revision += 1
        self.changed.emit(final)

    def _drop_image(self) -> None:
        self._image, self.image_payload, self._image_label = None, None, ""
        self.update()

    # Painting ----------------------------------------------------------------------------------------

    def _colours(self) -> tuple[QColor, QColor]:
        palette = self.palette()
        return palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.Text)

    def _pen(self, point: Point) -> QPen:
        width = self._brush * (pressure_factor(point[2]) if len(point) == 3 else 1.0)
        pen = QPen(self._colours()[1], width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                   Qt.PenJoinStyle.RoundJoin)
        return pen

    def _ensure_pixmap(self) -> bool:
        box = self.writing_box()
        ratio = self.devicePixelRatioF()
        wanted = QSize(round(box.width() * ratio), round(box.height() * ratio))
        if self._pixmap is None or self._pixmap.size() != wanted:
            self._pixmap = QPixmap(wanted)
            self._pixmap.setDevicePixelRatio(ratio)
            return False
        return True

    def _logical_painter(self) -> QPainter:
        painter = QPainter(self._pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        scale = self.writing_box().width() / LOGICAL_SIZE
        painter.scale(scale, scale)
        return painter

    def _render_all(self) -> None:
        self._ensure_pixmap()
        self._pixmap.fill(self._colours()[0])
        painter = self._logical_painter()
        try:
            for stroke in self._strokes:
                for a, b in zip([stroke[0]] + stroke[:-1], stroke, strict=True):
                    painter.setPen(self._pen(b))
                    painter.drawLine(QPointF(a[0], a[1]), QPointF(b[0], b[1]))
        finally:
            painter.end()

    def _paint_segment(self, a: Point, b: Point) -> None:
        if not self._ensure_pixmap():
            self._render_all()
            self.update()
            return
        painter = self._logical_painter()
        try:
            painter.setPen(self._pen(b))
            painter.drawLine(QPointF(a[0], a[1]), QPointF(b[0], b[1]))
        finally:
            painter.end()
        pa, pb = self.to_widget(a[0], a[1]), self.to_widget(b[0], b[1])
        pad = self._brush * 1.3 * self.writing_box().width() / LOGICAL_SIZE + 2
        self.update(QRectF(pa, pb).normalized().adjusted(-pad, -pad, pad, pad).toAlignedRect())

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if not self._ensure_pixmap():
            self._render_all()
        box = self.writing_box()
        palette = self.palette()
        with QPainter(self) as painter:
            painter.fillRect(self.rect(), palette.color(QPalette.ColorRole.Window))
            painter.drawPixmap(box.topLeft(), self._pixmap)
            if self._image is not None:
                self._paint_image(painter, box)
            elif not self._strokes:
                hint = QColor(palette.color(QPalette.ColorRole.Text))
                hint.setAlphaF(0.35)
                painter.setPen(hint)
                font = QFont(self.font())
                font.setPointSizeF(max(self.font().pointSizeF(), 10) * 1.6)
                painter.setFont(font)
                painter.drawText(box, Qt.AlignmentFlag.AlignCenter, "draw a digit here")
            painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid), 2))
            painter.drawRect(box.adjusted(0, 0, -1, -1))
            if self._hover is not None and (self._eraser or self._erase_before is not None):
                radius = self.eraser_radius() * box.width() / LOGICAL_SIZE
                painter.setRenderHint(QPainter.RenderHint.Antialiasing)
                painter.setPen(QPen(palette.color(QPalette.ColorRole.Highlight), 2, Qt.PenStyle.DashLine))
                painter.drawEllipse(self._hover, radius, radius)

    def _paint_image(self, painter: QPainter, box: QRect) -> None:
        scaled = self._image.scaled(box.size() * 0.9, Qt.AspectRatioMode.KeepAspectRatio,
                                    Qt.TransformationMode.SmoothTransformation)
        top_left = box.center() - scaled.rect().center()
        painter.drawImage(top_left, scaled)
        painter.setPen(self.palette().color(QPalette.ColorRole.Text))
        painter.drawText(box.adjusted(8, 4, -8, -4), Qt.AlignmentFlag.AlignBottom | Qt.AlignmentFlag.AlignHCenter,
                         f"{self._image_label} (draw to dismiss)")

    def resizeEvent(self, event) -> None:  # noqa: N802
        self._render_all()
        super().resizeEvent(event)

    def changeEvent(self, event) -> None:  # noqa: N802
        if event.type() == event.Type.PaletteChange and self._pixmap is not None:
            self._render_all()
        super().changeEvent(event)

    # Input ------------------------------------------------------------------------------------------

    def mousePressEvent(self, event) -> None:  # noqa: N802
        pos = event.position()
        if self._drawing or self._erase_before is not None or not self._inside(pos):
            return
        if event.button() == Qt.MouseButton.LeftButton and not self._eraser:
            self._begin_stroke(pos, None)
        elif event.button() in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            self._begin_erase(pos)
        event.accept()

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        pos = event.position()
        if self._drawing:
            self._extend_stroke(pos, None)
        elif self._erase_before is not None:
            self._erase_to(pos)
        if self._eraser or self._erase_before is not None:
            self._hover = pos
            self.update()

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        if self._drawing:
            self._end_stroke()
        elif self._erase_before is not None:
            self._end_erase()

    def leaveEvent(self, event) -> None:  # noqa: N802
        self._hover = None
        self.update()
        super().leaveEvent(event)

    def tabletEvent(self, event) -> None:  # noqa: N802
        """A pen: its pressure is recorded with each point; its eraser end erases."""
        pos, kind = event.position(), event.type()
        erasing = self._eraser or event.pointerType() == QPointingDevice.PointerType.Eraser
        if kind == event.Type.TabletPress:
            if not self._inside(pos) or self._drawing or self._erase_before is not None:
                event.accept()
                return
            if erasing:
                self._begin_erase(pos)
            else:
                self._begin_stroke(pos, event.pressure())
        elif kind == event.Type.TabletMove:
            if self._drawing:
                self._extend_stroke(pos, event.pressure())
            elif self._erase_before is not None:
                self._erase_to(pos)
            if erasing:
                self._hover = pos
                self.update()
        elif kind == event.Type.TabletRelease:
            if self._drawing:
                self._end_stroke()
            elif self._erase_before is not None:
                self._end_erase()
        event.accept()  # no synthesised mouse events: they would draw the stroke twice

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        files = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if files:
            event.acceptProposedAction()
            self.file_dropped.emit(str(Path(files[0])))
