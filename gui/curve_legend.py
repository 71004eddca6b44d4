"""The live plots' legend: a row above them, one entry a curve style, wrapping onto more lines when narrow.

pyqtgraph's legends sit inside the plots, and on plots a couple of hundred
pixels tall they covered the curves, the more so with earlier runs listed
beside the current one. Above the plots the legend covers nothing, and one
row serves both plots, whose curves share their styles. It is a plain
widget that draws each entry's sample from the curve's own pen and symbol,
so a theme change needs only a repaint, and the curves' redraws never
touch it.

As pyqtgraph's legend did, a click on an entry hides its curves (in both
plots) and a second click shows them again; a hidden entry is drawn faint
and struck through. A shared entry stands for curves of several colours
drawn alike (every compared run's dotted training line): its sample is their
line in the text's colour, and it is listed only while it has curves.

Code finds an entry by its key (a compared run's id), never by its text:
two runs may read alike, and a click on one must not hide the other's curves.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import pyqtgraph as pg
from pyqtgraph.graphicsItems.ScatterPlotItem import drawSymbol
from PySide6.QtCore import QEvent, QPoint, QPointF, QRect, QSize, Qt, Signal
from PySide6.QtGui import QFontMetricsF, QPainter, QPalette
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

SAMPLE_WIDTH = 40  # long enough to tell a dashed line from a dotted one
SAMPLE_GAP = 6  # between a sample and its text
ENTRY_GAP = 20  # between entries on a line
MARGIN = 4  # at the left, where the plots' frames start
HIDDEN_OPACITY = 0.35  # a hidden entry's sample and text, struck through as well
SHOWN_TIP = "Click to hide these curves; click again to show them"
HIDDEN_TIP = "Hidden: click to show these curves again"


@dataclass(eq=False)
class _Entry:
    key: str  # unique in a legend: what code finds the entry by
    text: str
    curves: list[pg.PlotDataItem] = field(default_factory=list)  # a click hides or shows them all
    shared: bool = False  # several runs' curves, one line style: drawn in the text's colour, kept while empty
    hidden: bool = False


class CurveLegend(QWidget):
    """Entries (a sample and a text), left to right, onto as many lines as the width needs.

    Its height follows its width (``heightForWidth``): the layout around it
    gives the lines it needs and the plots below the rest, so an entry is
    never hidden and never covers a curve. A curve is visible unless an
    entry that stands for it is hidden.
    """

    curves_toggled = Signal()  # a click hid or showed curves

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("curveLegend")
        self.setAccessibleName("Legend")
        self.setMouseTracking(True)  # the hand cursor over entries only
        self._entries: list[_Entry] = []
        self._pressed: _Entry | None = None
        policy = QSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)

    def add_curve(self, curve: pg.PlotDataItem, text: str, also: tuple[pg.PlotDataItem, ...] = (),
                  key: str | None = None) -> None:
        """An entry drawn with ``curve``'s pen and symbol; a click hides or shows ``curve`` and ``also``
        (the same series in the other plot, a run's other curves). ``key`` (default: ``text``) names it
        to the methods below; a key already taken raises ``ValueError``."""
        self._add(_Entry(text if key is None else key, text, [curve, *also]))

    def add_shared(self, text: str, key: str | None = None) -> None:
        """An entry for curves of several colours drawn alike (every compared run's dotted training line):
        its sample is their line in the text's colour. Empty, it is not shown; ``set_shared_curves`` fills it."""
        self._add(_Entry(text if key is None else key, text, shared=True))

    def _add(self, entry: _Entry) -> None:
        if any(e.key == entry.key for e in self._entries):
            raise ValueError(f"the legend already has an entry {entry.key!r}")
        self._entries.append(entry)
        self._changed()

    def _entry(self, key: str) -> _Entry:
        entry = next((e for e in self._entries if e.key == key), None)
        if entry is None:
            raise KeyError(key)
        return entry

    def set_shared_curves(self, key: str, curves: list[pg.PlotDataItem]) -> None:
        entry = self._entry(key)
        entry.curves = list(curves)
        entry.hidden = entry.hidden and bool(curves)  # the next runs compared start shown
        self._apply_visibility()
        self._changed()

    def remove_curve(self, curve: pg.PlotDataItem) -> None:
        """Drop ``curve`` from the entries that stand for it, and any entry (not shared) left with none."""
        for entry in self._entries:
            entry.curves = [c for c in entry.curves if c is not curve]
            entry.hidden = entry.hidden and bool(entry.curves)
        self._entries = [e for e in self._entries if e.curves or e.shared]
        self._changed()

    def labels(self) -> list[str]:
        """The listed entries' texts, left to right."""
        return [entry.text for entry in self._listed()]

    def keys(self) -> list[str]:
        """The listed entries' keys, left to right."""
        return [entry.key for entry in self._listed()]

    def text(self, key: str) -> str:
        return self._entry(key).text

    def set_text(self, key: str, text: str) -> None:
        """A new text for entry ``key`` (a compared run that now reads like a newer one)."""
        entry = self._entry(key)
        if entry.text != text:
            entry.text = text
            self._changed()

    def entry_rects(self) -> dict[str, QRect]:
        """Where each entry (sample and text) is drawn, in this widget's coordinates, by its key."""
        return {entry.key: rect for entry, rect in zip(self._listed(), self._place(self.width()))}

    def is_hidden(self, key: str) -> bool:
        return self._entry(key).hidden

    def set_hidden(self, key: str, hidden: bool) -> None:
        """Hide (or show) the curves of entry ``key``, as a click on it does."""
        self._set_hidden(self._entry(key), hidden)

    def _set_hidden(self, entry: _Entry, hidden: bool) -> None:
        entry.hidden = hidden and bool(entry.curves)
        self._apply_visibility()
        self.update()
        self.curves_toggled.emit()

    def show_all(self) -> None:
        """Every entry's curves visible again: a new run starts with all its curves shown."""
        if any(entry.hidden for entry in self._entries):
            for entry in self._entries:
                entry.hidden = False
            self._apply_visibility()
            self.update()
            self.curves_toggled.emit()

    def _listed(self) -> list[_Entry]:
        return [entry for entry in self._entries if entry.curves]

    def _apply_visibility(self) -> None:
        hidden = {id(curve) for entry in self._entries if entry.hidden for curve in entry.curves}
        for entry in self._entries:
            for curve in entry.curves:
                curve.setVisible(id(curve) not in hidden)

    def _changed(self) -> None:
        self.updateGeometry()  # a new entry may need another line
        self.update()

    # Geometry -------------------------------------------------------------------------------------

    def _line_height(self) -> int:
        return self.fontMetrics().height()

    def _entry_width(self, text: str) -> int:
        # Rounded up, and a pixel more: at exactly its rounded width, elidedText cut the text short.
        return SAMPLE_WIDTH + SAMPLE_GAP + math.ceil(QFontMetricsF(self.font()).horizontalAdvance(text)) + 1

    def _place(self, width: int) -> list[QRect]:
        """Each entry's rectangle at this width: left to right, a new line when the next does not fit."""
        rects, x, y, line = [], MARGIN, 0, self._line_height()
        for shown in self._listed():
            entry = min(self._entry_width(shown.text), width - MARGIN)
            if x > MARGIN and x + entry > width:
                x, y = MARGIN, y + line
            rects.append(QRect(x, y, entry, line))
            x += entry + ENTRY_GAP
        return rects

    def hasHeightForWidth(self) -> bool:  # noqa: N802 - Qt's name
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802
        rects = self._place(width)
        return rects[-1].bottom() + 1 if rects else self._line_height()

    def sizeHint(self) -> QSize:  # noqa: N802
        one_line = sum(self._entry_width(entry.text) + ENTRY_GAP for entry in self._listed())
        return QSize(MARGIN + one_line, self._line_height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(0, self._line_height())

    def changeEvent(self, event) -> None:  # noqa: N802
        if event.type() == event.Type.FontChange:
            self.updateGeometry()
        super().changeEvent(event)

    # Clicks ---------------------------------------------------------------------------------------

    def _entry_at(self, pos: QPoint) -> _Entry | None:
        return next((entry for entry, rect in zip(self._listed(), self._place(self.width())) if rect.contains(pos)),
                    None)

    def mousePressEvent(self, event) -> None:  # noqa: N802
        self._pressed = self._entry_at(event.position().toPoint())
        if event.button() != Qt.MouseButton.LeftButton or self._pressed is None:
            super().mousePressEvent(event)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        # A click is a press and a release on one entry, as a button's is.
        entry, self._pressed = self._pressed, None
        if event.button() == Qt.MouseButton.LeftButton and entry is not None \
                and entry is self._entry_at(event.position().toPoint()):
            self._set_hidden(entry, not entry.hidden)
        else:
            super().mouseReleaseEvent(event)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if self._entry_at(event.position().toPoint()) is not None:
            self.setCursor(Qt.CursorShape.PointingHandCursor)
        else:
            self.unsetCursor()
        super().mouseMoveEvent(event)

    def event(self, event) -> bool:
        if event.type() == QEvent.Type.ToolTip:  # each entry its own tip, saying what a click will do
            entry = self._entry_at(event.pos())
            if entry is None:
                QToolTip.hideText()
                event.ignore()
            else:
                QToolTip.showText(event.globalPos(), HIDDEN_TIP if entry.hidden else SHOWN_TIP, self,
                                  self._place(self.width())[self._listed().index(entry)])
            return True
        return super().event(event)

    # Drawing --------------------------------------------------------------------------------------

    def paintEvent(self, _event) -> None:  # noqa: N802
        text_colour = self.palette().color(QPalette.ColorRole.WindowText)
        metrics = self.fontMetrics()
        struck = self.font()
        struck.setStrikeOut(True)
        with QPainter(self) as painter:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            for entry, rect in zip(self._listed(), self._place(self.width())):
                painter.setOpacity(HIDDEN_OPACITY if entry.hidden else 1.0)
                painter.setFont(struck if entry.hidden else self.font())
                middle = rect.top() + rect.height() / 2
                self._draw_sample(painter, entry.curves[0], QPointF(rect.left(), middle),
                                  text_colour if entry.shared else None)
                painter.setPen(text_colour)
                text_rect = rect.adjusted(SAMPLE_WIDTH + SAMPLE_GAP, 0, 0, 0)
                painter.drawText(text_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                                 metrics.elidedText(entry.text, Qt.TextElideMode.ElideRight, text_rect.width()))

    @staticmethod
    def _draw_sample(painter: QPainter, curve: pg.PlotDataItem, start: QPointF, colour=None) -> None:
        """The curve's line and symbol, as the plot draws them (pyqtgraph's ``ItemSample``, longer);
        with ``colour``, only its line, in that colour."""
        opts = curve.opts
        painter.save()
        pen = pg.mkPen(opts["pen"])
        if colour is not None:
            pen.setColor(colour)
        painter.setPen(pen)
        painter.drawLine(start, start + QPointF(SAMPLE_WIDTH, 0))
        if colour is None and opts.get("symbol") is not None:
            painter.translate(start + QPointF(SAMPLE_WIDTH / 2, 0))
            drawSymbol(painter, opts["symbol"], opts["symbolSize"], pg.mkPen(opts["symbolPen"]),
                       pg.mkBrush(opts["symbolBrush"]))
        painter.restore()
