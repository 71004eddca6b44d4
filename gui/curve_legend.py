"""The live plots' legend: a row above them, one entry a curve style, wrapping onto more lines when narrow.

pyqtgraph's legends sit inside the plots, and on plots a couple of hundred
pixels tall they covered the curves, the more so with earlier runs listed
beside the current one. Above the plots the legend covers nothing, and one
row serves both plots, whose curves share their styles. It is a plain
widget that draws each entry's sample from the curve's own pen and symbol,
so a theme change needs only a repaint, and the curves' redraws never
touch it.
"""
from __future__ import annotations

import math

import pyqtgraph as pg
from pyqtgraph.graphicsItems.ScatterPlotItem import drawSymbol
from PySide6.QtCore import QPointF, QRect, QSize, Qt
from PySide6.QtGui import QFontMetricsF, QPainter, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

SAMPLE_WIDTH = 40  # long enough to tell a dashed line from a dotted one
SAMPLE_GAP = 6  # between a sample and its text
ENTRY_GAP = 20  # between entries on a line
MARGIN = 4  # at the left, where the plots' frames start


class CurveLegend(QWidget):
    """Entries ``(curve, text)``, left to right, onto as many lines as the width needs.

    Its height follows its width (``heightForWidth``): the layout around it
    gives the lines it needs and the plots below the rest, so an entry is
    never hidden and never covers a curve.
    """

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("curveLegend")
        self.setAccessibleName("Legend")
        self._entries: list[tuple[pg.PlotDataItem, str]] = []
        policy = QSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)

    def add_curve(self, curve: pg.PlotDataItem, text: str) -> None:
        self._entries.append((curve, text))
        self._changed()

    def remove_curve(self, curve: pg.PlotDataItem) -> None:
        """Drop ``curve``'s entry, if it has one."""
        kept = [(c, t) for c, t in self._entries if c is not curve]
        if len(kept) != len(self._entries):
            self._entries = kept
            self._changed()

    def labels(self) -> list[str]:
        return [text for _curve, text in self._entries]

    def entry_rects(self) -> dict[str, QRect]:
        """Where each entry (sample and text) is drawn, in this widget's coordinates, by its text."""
        return {text: rect for (_curve, text), rect in zip(self._entries, self._place(self.width()))}

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
        for _curve, text in self._entries:
            entry = min(self._entry_width(text), width - MARGIN)
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
        one_line = sum(self._entry_width(text) + ENTRY_GAP for _curve, text in self._entries)
        return QSize(MARGIN + one_line, self._line_height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(0, self._line_height())

    def changeEvent(self, event) -> None:  # noqa: N802
        if event.type() == event.Type.FontChange:
            self.updateGeometry()
        super().changeEvent(event)

    # Drawing --------------------------------------------------------------------------------------

    def paintEvent(self, _event) -> None:  # noqa: N802
        text_colour = self.palette().color(QPalette.ColorRole.WindowText)
        metrics = self.fontMetrics()
        with QPainter(self) as painter:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            for (curve, text), rect in zip(self._entries, self._place(self.width())):
                middle = rect.top() + rect.height() / 2
                self._draw_sample(painter, curve, QPointF(rect.left(), middle))
                painter.setPen(text_colour)
                text_rect = rect.adjusted(SAMPLE_WIDTH + SAMPLE_GAP, 0, 0, 0)
                painter.drawText(text_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                                 metrics.elidedText(text, Qt.TextElideMode.ElideRight, text_rect.width()))

    @staticmethod
    def _draw_sample(painter: QPainter, curve: pg.PlotDataItem, start: QPointF) -> None:
        """The curve's line and symbol, as the plot draws them (pyqtgraph's ``ItemSample``, longer)."""
        opts = curve.opts
        painter.save()
        painter.setPen(pg.mkPen(opts["pen"]))
        painter.drawLine(start, start + QPointF(SAMPLE_WIDTH, 0))
        if opts.get("symbol") is not None:
            painter.translate(start + QPointF(SAMPLE_WIDTH / 2, 0))
            drawSymbol(painter, opts["symbol"], opts["symbolSize"], pg.mkPen(opts["symbolPen"]),
                       pg.mkBrush(opts["symbolBrush"]))
        painter.restore()
