"""Text that changes many times a second without making the window lay itself out again.

``QLabel.setText`` (and ``setFont``, ``setPixmap``) ask the layout system for
new geometry every time, and Qt passes that request up to the top-level
window, which lays everything out again: with a label updated at each
training progress report (about 20 a second) and the prediction's labels at
each live prediction, the main window was re-laid out more than a hundred
times in ten drawings, 5-13 ms of GUI time a pass (benchmarks/gui_stall).
``LiveText`` keeps one size whatever it shows, so new text costs a repaint of
its own rectangle only.
"""
from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget


class LiveText(QWidget):
    """Word-wrapped text in up to ``lines`` lines (elided to one when longer), in a size of its own.

    ``setText`` takes an optional font for that text (the prediction's large
    digit and its smaller messages share one widget), and ``shorter`` forms of
    it, each shorter than the one before, painted in its place when it does not
    fit (the whole text is then the tooltip). The accessible name stays what
    the owner set; the text itself is the accessible description.
    """

    def __init__(self, text: str = "", parent: QWidget | None = None, *, lines: int = 2,
                 alignment: Qt.AlignmentFlag = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                 width_chars: int = 34):
        super().__init__(parent)
        self._text = ""
        self._text_font: QFont | None = None
        self._shorter: tuple[str, ...] = ()
        self._lines = lines
        self._alignment = alignment
        self._width_chars = width_chars
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setText(text)

    def text(self) -> str:
        return self._text

    def setText(self, text: str, font: QFont | None = None, *, shorter: Sequence[str] = ()) -> None:  # noqa: N802
        shorter = tuple(shorter)
        if text == self._text and font == self._text_font and shorter == self._shorter:
            return
        self._text, self._text_font, self._shorter = text, font, shorter
        self.setAccessibleDescription(text)
        # The whole text, should a shorter form or an elided line take its place.
        self.setToolTip(text if shorter or len(text) > self._width_chars else "")
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802
        metrics = QFontMetrics(self.font())
        return QSize(metrics.horizontalAdvance("x" * self._width_chars), self._lines * metrics.lineSpacing() + 4)

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(QFontMetrics(self.font()).horizontalAdvance("x" * 8), self.sizeHint().height())

    def shown_text(self) -> str:
        """The text as painted at the current size: the first of it and its shorter forms that fits the lines
        there are, or the shortest elided to one line."""
        return self._fitted()[0]

    def _fitted(self) -> tuple[str, Qt.AlignmentFlag | Qt.TextFlag]:
        metrics = QFontMetrics(self._text_font or self.font())
        rect = self._text_rect()
        flags = self._alignment | Qt.TextFlag.TextWordWrap
        for text in (self._text, *self._shorter):
            needed = metrics.boundingRect(rect.toRect(), flags, text)
            if needed.height() <= rect.height() and needed.width() <= rect.width():
                return text, flags
        # Longer than the lines there are: one elided line rather than clipped ones.
        horizontal = self._alignment & Qt.AlignmentFlag.AlignHorizontal_Mask
        return (metrics.elidedText(text, Qt.TextElideMode.ElideRight, int(rect.width())),
                horizontal | Qt.AlignmentFlag.AlignVCenter)

    def _text_rect(self) -> QRectF:
        return QRectF(self.rect().adjusted(0, 2, 0, -2))

    def paintEvent(self, event) -> None:  # noqa: N802
        text, flags = self._fitted()
        with QPainter(self) as painter:
            painter.setFont(self._text_font or self.font())
            painter.setPen(self.palette().color(self.foregroundRole()))
            painter.drawText(self._text_rect(), flags, text)
