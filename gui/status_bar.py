"""A status bar whose temporary messages end, at a word and with "…", short of its permanent widgets.

``QStatusBar`` paints a message up to two pixels from its first permanent
widget and cuts it there, mid-letter: in a narrow window "... 81.60% on MNIST
test)" met the model label as "81.60% on MNModel: seed-...", the two read as
one. Here the message keeps a gap before the label, ends with "…" after a
whole word, and its whole text is the status bar's tooltip.
"""
from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QEvent, QObject, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import QSizePolicy, QStatusBar, QStyle, QStyleOption, QWidget

from gui.live_text import LiveText

ELLIPSIS = "…"
_TRAILING = " ,;:·(-–—"  # not left dangling before the ellipsis
_GEOMETRY_EVENTS = (QEvent.Type.Move, QEvent.Type.Resize, QEvent.Type.Show, QEvent.Type.Hide)


def elide_at_word(text: str, metrics: QFontMetrics, width: int) -> str:
    """``text`` if it fits ``width``; else its longest run of whole words that fits with "…" after it.

    A first word too long for the width (a path, a file name) is elided mid-word, as Qt does.
    """
    if metrics.horizontalAdvance(text) <= width:
        return text
    words = text.split(" ")
    for count in range(len(words) - 1, 0, -1):
        kept = " ".join(words[:count]).rstrip(_TRAILING)
        if kept and metrics.horizontalAdvance(kept + ELLIPSIS) <= width:
            return kept + ELLIPSIS
    return metrics.elidedText(text, Qt.TextElideMode.ElideRight, max(0, width))


class StatusBar(QStatusBar):
    """``QStatusBar`` with temporary messages elided at a word, a gap of an "M" before the permanent widgets."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._permanent: list[QWidget] = []
        self.messageChanged.connect(lambda _message: self._update_tooltip())

    def addPermanentWidget(self, widget: QWidget, stretch: int = 0) -> None:  # noqa: N802 - Qt's name
        self._track(widget)
        super().addPermanentWidget(widget, stretch)

    def insertPermanentWidget(self, index: int, widget: QWidget, stretch: int = 0) -> int:  # noqa: N802
        self._track(widget)
        return super().insertPermanentWidget(index, widget, stretch)

    def removeWidget(self, widget: QWidget) -> None:  # noqa: N802
        if widget in self._permanent:
            self._permanent.remove(widget)
            widget.removeEventFilter(self)
        super().removeWidget(widget)

    def _track(self, widget: QWidget) -> None:
        self._permanent.append(widget)
        widget.installEventFilter(self)  # a longer label moves left: the message must be elided again

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() in _GEOMETRY_EVENTS and self.currentMessage():
            self.update()
        return False

    def message_rect(self) -> QRect:
        """Where the message goes: as ``QStatusBar`` puts it, less a gap before the permanent widgets."""
        gap = self.fontMetrics().horizontalAdvance("M")
        left, right = 6, self.width() - 12
        shown = [w for w in self._permanent if w.isVisible()]
        if shown and self.layoutDirection() == Qt.LayoutDirection.RightToLeft:
            left = max(left, max(w.geometry().right() for w in shown) + 1 + gap)
        elif shown:
            right = min(right, min(w.x() for w in shown) - gap)
        return QRect(left, 0, max(0, right - left), self.height())

    def shown_message(self) -> str:
        """The temporary message as painted: whole, or elided at a word to fit before the permanent widgets."""
        message = self.currentMessage()
        return elide_at_word(message, self.fontMetrics(), self.message_rect().width()) if message else ""

    def _update_tooltip(self) -> None:
        message = self.currentMessage()
        self.setToolTip(message if message and self.shown_message() != message else "")

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._update_tooltip()

    def paintEvent(self, event) -> None:  # noqa: N802
        if not self.currentMessage():
            super().paintEvent(event)
            return
        # QStatusBar.paintEvent with the message elided: the panel, the frames of the permanent
        # widgets (the others hide while a message shows), then the text.
        self._update_tooltip()  # the permanent widgets may have moved since the message came
        with QPainter(self) as painter:
            option = QStyleOption()
            option.initFrom(self)
            self.style().drawPrimitive(QStyle.PrimitiveElement.PE_PanelStatusBar, option, painter, self)
            for widget in self._permanent:
                frame = widget.geometry().adjusted(-2, -1, 2, 1)
                if widget.isVisible() and event.rect().intersects(frame):
                    item = QStyleOption()
                    item.rect, item.palette, item.state = frame, self.palette(), QStyle.StateFlag.State_None
                    self.style().drawPrimitive(QStyle.PrimitiveElement.PE_FrameStatusBarItem, item, painter, widget)
            painter.setPen(self.palette().windowText().color())
            painter.drawText(self.message_rect(), Qt.AlignmentFlag.AlignLeading | Qt.AlignmentFlag.AlignVCenter
                             | Qt.TextFlag.TextSingleLine, self.shown_message())


class PermanentLabel(LiveText):
    """One line for the status bar's right end: its whole text where there is room, else the first of its
    ``shorter`` forms that fits (the whole text then the tooltip), never a word cut in two.

    A ``QLabel`` there asks for its whole text as its minimum: a long one held the window wider than its
    minimum, and a window held narrower (a tiled or small screen) cut it mid-word. This one asks for its
    whole text and makes do with its shortest form. Its text changes when the model does, not many times a
    second, so unlike ``LiveText`` it asks for new geometry when it changes.
    """

    def __init__(self, parent: QWidget | None = None):
        super().__init__("", parent, lines=1)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)

    def setText(self, text: str, font: QFont | None = None, *, shorter: Sequence[str] = ()) -> None:  # noqa: N802
        super().setText(text, font, shorter=shorter)
        self.updateGeometry()

    def _size(self, text: str) -> QSize:
        metrics = QFontMetrics(self._text_font or self.font())
        return metrics.boundingRect(QRect(0, 0, 1 << 16, 1 << 10), Qt.TextFlag.TextSingleLine, text).size()

    def sizeHint(self) -> QSize:  # noqa: N802
        return self._size(self.text()) + QSize(1, 0)

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return min((self._size(t) for t in (self.text(), *self._shorter)), key=QSize.width) + QSize(1, 0)

    def _text_rect(self) -> QRectF:
        return QRectF(self.rect())  # a QLabel's height, without LiveText's margins: the status bar keeps its own
