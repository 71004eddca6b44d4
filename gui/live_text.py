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

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget


class LiveText(QWidget):
    """Word-wrapped text in up to ``lines`` lines (elided to one when longer), in a size of its own.

    ``setText`` takes an optional font for that text (the prediction's large
    digit and its smaller messages share one widget). The accessible name
    stays what the owner set; the text itself is the accessible description.
    """

    def __init__(self, text: str = "", parent: QWidget | None = None, *, lines: int = 2,
                 alignment: Qt.AlignmentFlag = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                 width_chars: int = 34):
        super().__init__(parent)
        self._text = ""
        self._text_font: QFont | None = None
        self._lines = lines
        self._alignment = alignment
        self._width_chars = width_chars
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setText(text)

    def text(self) -> str:
        return self._text

    def setText(self, text: str, font: QFont | None = None) -> None:  # noqa: N802 - QLabel's name
        if text == self._text and font == self._text_font:
            return
        self._text, self._text_font = text, font
        self.setAccessibleDescription(text)
        self.setToolTip(text if len(text) > self._width_chars else "")  # the whole text, should it be elided
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802
        metrics = QFontMetrics(self.font())
        return QSize(metrics.horizontalAdvance("x" * self._width_chars), self._lines * metrics.lineSpacing() + 4)

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(QFontMetrics(self.font()).horizontalAdvance("x" * 8), self.sizeHint().height())

    def paintEvent(self, event) -> None:  # noqa: N802
        font = self._text_font or self.font()
        metrics = QFontMetrics(font)
        rect = QRectF(self.rect().adjusted(0, 2, 0, -2))
        horizontal = self._alignment & Qt.AlignmentFlag.AlignHorizontal_Mask
        flags = self._alignment | Qt.TextFlag.TextWordWrap
        text = self._text
        needed = metrics.boundingRect(rect.toRect(), flags, text)
        if needed.height() > rect.height() or needed.width() > rect.width():
            # Longer than the lines there are: one elided line rather than clipped ones.
            flags = horizontal | Qt.AlignmentFlag.AlignVCenter
            text = metrics.elidedText(text, Qt.TextElideMode.ElideRight, int(rect.width()))
        with QPainter(self) as painter:
            painter.setFont(font)
            painter.setPen(self.palette().color(self.foregroundRole()))
            painter.drawText(rect, flags, text)
