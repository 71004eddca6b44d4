"""The right-hand side: the predicted digit, how sure, all ten probabilities, and what the network saw.

Two arrangements, chosen by the height the panel gets: the digit above the
probabilities when both fit at their full size (a 1400 x 900 window with the
training dock), beside them when they do not (a 1366 x 768 laptop's screen),
where the canvas is a square no wider than it is tall and the width beside it
is free. Either way the digit and the 28 x 28 preview keep their full size.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QFontMetricsF, QImage, QPainter, QPalette
from PySide6.QtWidgets import QBoxLayout, QGridLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from gui.live_text import LiveText
from gui.style import scaled_font

DIGIT_PIXELS = 136  # the predicted digit's font size when there is room: legible from the back of a classroom
PREVIEW_SIDE = 140  # the network's 28 x 28 input, 5 pixels a pixel when there is room
PREVIEW_MIN = 84  # 3 pixels a pixel: the least the input preview (and the digit's row) shrinks to
DIGIT_INK = 0.85  # the share of its row a digit's ink may fill


UNFAMILIAR_TIP = ("The network's features for this drawing are unlike those of every digit it learned from.\n"
                  "The bars only compare the ten digits with each other, so they can look sure anyway.")


def _muted(palette: QPalette, alpha: float = 0.35) -> QColor:
    colour = QColor(palette.color(QPalette.ColorRole.WindowText))
    colour.setAlphaF(alpha)
    return colour


class ProbabilityBars(QWidget):
    """Ten horizontal bars, one per digit; the most likely one in the highlight colour."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("probabilityBars")
        self.setAccessibleName("Probabilities")
        self._probabilities = np.zeros(10, dtype=np.float32)
        self._top: int | None = None
        self.setFont(scaled_font(self.font(), 1.05))
        # Preferred: on a short screen the rows give way (down to the text's height) before anything else.
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self._describe()

    def probabilities(self) -> np.ndarray:
        return self._probabilities.copy()

    def set_probabilities(self, probabilities: np.ndarray | None, top: int | None) -> None:
        self._probabilities = (np.zeros(10, dtype=np.float32) if probabilities is None
                               else np.asarray(probabilities, dtype=np.float32).copy())
        self._top = top
        self._describe()
        self.update()

    def _describe(self) -> None:
        order = np.argsort(self._probabilities)[::-1][:3]
        text = ", ".join(f"{d}: {self._probabilities[d]:.0%}" for d in order) if self._top is not None else "none"
        self.setAccessibleDescription(f"most likely digits {text}")

    def _row_height(self) -> int:
        return max(20, int(QFontMetrics(self.font()).height() * 1.12))

    def sizeHint(self) -> QSize:
        return QSize(320, 10 * self._row_height())

    def minimumSizeHint(self) -> QSize:
        # Rows may shrink to the text's height when the window is short, never clip a digit.
        return QSize(220, 10 * self.min_row_height())

    def min_row_height(self) -> int:
        return max(12, QFontMetrics(self.font()).height() - 4)

    def paintEvent(self, event) -> None:  # noqa: N802
        palette = self.palette()
        metrics = QFontMetrics(self.font())
        row = min(self._row_height(), self.height() / 10)
        label_w = metrics.horizontalAdvance("0") + 14
        value_w = metrics.horizontalAdvance("100%") + 10
        bar_w = max(10, self.width() - label_w - value_w)
        with QPainter(self) as painter:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            bold = QFont(self.font())
            bold.setBold(True)
            for digit in range(10):
                top = digit * row
                p = float(self._probabilities[digit])
                is_top = digit == self._top
                painter.setFont(bold if is_top else self.font())
                painter.setPen(palette.color(QPalette.ColorRole.WindowText))
                painter.drawText(QRectF(0, top, label_w - 6, row), Qt.AlignmentFlag.AlignVCenter
                                 | Qt.AlignmentFlag.AlignRight, str(digit))
                track = QRectF(label_w, top + row * 0.18, bar_w, row * 0.64)
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(_muted(palette, 0.10))
                painter.drawRoundedRect(track, 3, 3)
                if p > 0:
                    painter.setBrush(palette.color(QPalette.ColorRole.Highlight) if is_top else _muted(palette, 0.45))
                    painter.drawRoundedRect(QRectF(track.left(), track.top(), max(2.0, bar_w * p), track.height()),
                                            3, 3)
                painter.setPen(palette.color(QPalette.ColorRole.WindowText))
                painter.drawText(QRectF(label_w + bar_w, top, value_w, row),
                                 Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                                 f"{p:.0%}" if self._top is not None else "")


class NetworkInputPreview(QWidget):
    """The 28 x 28 input, white on black as the network sees it, scaled up without smoothing."""

    def __init__(self, parent: QWidget | None = None, side: int = PREVIEW_SIDE):
        super().__init__(parent)
        self.setObjectName("networkInputPreview")
        self.setAccessibleName("Network input preview")
        self.setAccessibleDescription("The 28 by 28 pixel image the network classifies")
        self._image: QImage | None = None
        self._array: np.ndarray | None = None
        self._side = side
        self.setMinimumSize(PREVIEW_MIN, PREVIEW_MIN)  # on a short screen it shrinks rather than push the bars off
        self.setMaximumSize(side, side)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)

    def sizeHint(self) -> QSize:
        return QSize(self._side, self._side)

    def side(self) -> int:
        """The side of the square the 28 x 28 image is drawn in."""
        return min(self.width(), self.height())

    def _square(self):
        side = min(self.width(), self.height())
        return self.rect().adjusted((self.width() - side) // 2, (self.height() - side) // 2,
                                    -((self.width() - side + 1) // 2), -((self.height() - side + 1) // 2))

    def network_input(self) -> np.ndarray | None:
        return None if self._array is None else self._array.copy()

    def set_input(self, network_input: np.ndarray | None) -> None:
        if network_input is None:
            self._array, self._image = None, None
        else:
            self._array = np.asarray(network_input, dtype=np.float32).reshape(28, 28).copy()
            pixels = np.ascontiguousarray(np.clip(self._array * 255 + 0.5, 0, 255).astype(np.uint8))
            self._image = QImage(pixels.data, 28, 28, 28, QImage.Format.Format_Grayscale8).copy()
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802
        square = self._square()
        with QPainter(self) as painter:
            painter.fillRect(square, Qt.GlobalColor.black)
            if self._image is not None:
                painter.drawImage(square, self._image)  # no smooth hint: crisp 28x28 pixels
            else:
                painter.setPen(QColor(150, 150, 150))
                painter.drawText(square, Qt.AlignmentFlag.AlignCenter, "28 × 28")
            painter.setPen(QColor(128, 128, 128))
            painter.drawRect(square.adjusted(0, 0, -1, -1))


class PredictedDigit(LiveText):
    """The predicted digit, at DIGIT_PIXELS when its row is tall enough and smaller when it is not; or a
    message in its place ("draw a digit")."""

    def __init__(self, message_font: QFont, parent: QWidget | None = None):
        super().__init__("", parent, lines=2, alignment=Qt.AlignmentFlag.AlignCenter, width_chars=12)
        self.setFont(message_font)
        self._digit_font = QFont(self.font())
        self._digit_font.setBold(True)
        self._digit_font.setPixelSize(DIGIT_PIXELS)
        # A digit's ink is about three quarters of the font's size (no descender, no accent above).
        self._ink_per_pixel = QFontMetricsF(self._digit_font).tightBoundingRect("0123456789").height() / DIGIT_PIXELS
        self._digit: str | None = None
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(150)

    def _fitting_pixels(self, height: int) -> int:
        return max(1, min(DIGIT_PIXELS, int(height * DIGIT_INK / self._ink_per_pixel)))

    def sizeHint(self) -> QSize:  # noqa: N802 - as tall as the full-size digit needs
        height = int(DIGIT_PIXELS * self._ink_per_pixel / DIGIT_INK) + 1
        return QSize(super().sizeHint().width(), max(height, super().sizeHint().height()))

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(super().minimumSizeHint().width(), max(PREVIEW_MIN, super().sizeHint().height()))

    def digit_pixels(self) -> int:
        """The digit's font size in pixels at the label's present height."""
        return self._digit_font.pixelSize()

    def show_digit(self, digit: str) -> None:
        self._digit = digit
        self.setText(digit, self._digit_font)

    def show_text(self, text: str, font: QFont) -> None:
        self._digit = None
        self.setText(text, font)

    def resizeEvent(self, event) -> None:  # noqa: N802
        pixels = self._fitting_pixels(event.size().height())
        if pixels != self._digit_font.pixelSize():
            self._digit_font = QFont(self._digit_font)  # a copy: LiveText holds the old one and compares with it
            self._digit_font.setPixelSize(pixels)
            if self._digit is not None:
                self.setText(self._digit, self._digit_font)
        super().resizeEvent(event)


class PredictionPanel(QWidget):
    """The digit, how sure, and what the network saw (the head); the ten probabilities and whatever is
    added below them (the body): the head above the body when the panel is tall enough for both at
    their full size, beside it on a short screen."""

    arrangement_changed = Signal(bool)  # True: the head beside the body

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("predictionPanel")
        # The digit, its confidence and its source change with every live prediction: LiveText, not
        # QLabel, so that each change repaints them without laying the window out again.
        self._message_font = scaled_font(self.font(), 1.6)
        self.digit_label = PredictedDigit(self._message_font)
        self.digit_label.setObjectName("predictedDigit")
        self.digit_label.setAccessibleName("Predicted digit")

        self.confidence_label = LiveText(lines=1, alignment=Qt.AlignmentFlag.AlignCenter, width_chars=16)
        self.confidence_label.setObjectName("confidenceLabel")
        self.confidence_label.setAccessibleName("Confidence")
        self.confidence_label.setFont(scaled_font(self.font(), 1.5))

        self.preview = NetworkInputPreview()
        preview_caption = QLabel("what the network sees")
        preview_caption.setAlignment(Qt.AlignmentFlag.AlignCenter)

        self.bars = ProbabilityBars()
        self.source_label = LiveText(lines=2)
        self.source_label.setObjectName("predictionSource")
        self.source_label.setAccessibleName("Which model predicts")
        self.source_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)

        self._head = QWidget()
        grid = QGridLayout(self._head)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(self.digit_label, 0, 0)
        grid.addWidget(self.preview, 0, 1, Qt.AlignmentFlag.AlignCenter)
        grid.addWidget(self.confidence_label, 1, 0)
        grid.addWidget(preview_caption, 1, 1)
        grid.setColumnStretch(0, 1)
        grid.setHorizontalSpacing(16)

        self._body = QWidget()
        self._body_layout = QVBoxLayout(self._body)
        self._body_layout.setContentsMargins(0, 0, 0, 0)
        self._body_layout.addWidget(self.bars)
        self._body_layout.addWidget(self.source_label)

        layout = QBoxLayout(QBoxLayout.Direction.TopToBottom, self)
        layout.setSpacing(14)
        layout.addWidget(self._head, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self._body, 0, Qt.AlignmentFlag.AlignTop)
        layout.addStretch(1)
        self._side_by_side = None
        self._arrange(False)
        self.show_message("loading model...")

    def add_below(self, widget: QWidget) -> None:
        """Add ``widget`` under the probabilities (and the line naming the model)."""
        self._body_layout.addWidget(widget)

    # Arrangement ------------------------------------------------------------------------------------

    def side_by_side(self) -> bool:
        """True when the digit is beside the probabilities (a short panel), False when above them."""
        return self._side_by_side

    def stacked_height(self) -> int:
        """The least height that holds the digit at full size above the probabilities at their smallest."""
        margins = self.layout().contentsMargins()
        return (margins.top() + self._head.sizeHint().height() + self.layout().spacing()
                + self._body.minimumSizeHint().height() + margins.bottom())

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        # Side by side is the shorter arrangement: the panel may always be that short, and takes it on
        # when it is (resizeEvent). Its width is the present arrangement's.
        margins = self.layout().contentsMargins()
        height = max(self._head.minimumSizeHint().height(), self._body.minimumSizeHint().height())
        return QSize(self.layout().minimumSize().width(), margins.top() + height + margins.bottom())

    def resizeEvent(self, event) -> None:  # noqa: N802
        if self._arrange(event.size().height() < self.stacked_height()):
            self.layout().activate()  # now, not at the next event: no frame is painted in the old arrangement
        super().resizeEvent(event)

    def _arrange(self, side_by_side: bool) -> bool:
        if side_by_side == self._side_by_side:
            return False
        self._side_by_side = side_by_side
        layout = self.layout()
        layout.setDirection(QBoxLayout.Direction.LeftToRight if side_by_side else QBoxLayout.Direction.TopToBottom)
        # Above the probabilities the digit keeps its full size (they give way); beside them it may shrink.
        self._head.setSizePolicy(QSizePolicy.Policy.Preferred,
                                 QSizePolicy.Policy.Preferred if side_by_side else QSizePolicy.Policy.Fixed)
        layout.setStretch(1, 1 if side_by_side else 0)  # the probabilities take the width beside the digit
        layout.setStretch(2, 0 if side_by_side else 1)  # or the height left under them
        self.arrangement_changed.emit(side_by_side)
        return True

    # Contents ---------------------------------------------------------------------------------------

    def message(self) -> str | None:
        """The message shown instead of a digit ("draw a digit", "loading model..."), or None."""
        return self._message

    def show_message(self, text: str, detail: str = "") -> None:
        self._message = text
        self.digit_label.show_text(text, self._message_font)
        self.confidence_label.setText(detail)
        self.confidence_label.setToolTip("")
        self.bars.set_probabilities(None, None)
        self.preview.set_input(None)

    def show_prediction(self, prediction, source: str) -> None:
        """Show a ``model.inference.Prediction``; "draw a digit" when there is none."""
        self.source_label.setText(source)
        if prediction.digit is None:
            self.show_message("draw a digit")
            return
        self._message = None
        if prediction.unfamiliar:  # the probabilities only compare digits; the features say it is none (model.novelty)
            self.digit_label.show_text("not a digit?", self._message_font)
            self.confidence_label.setText(f"closest digit: {prediction.digit}")
            self.confidence_label.setToolTip(UNFAMILIAR_TIP)
        else:
            self.confidence_label.setToolTip("")
            self.digit_label.show_digit(str(prediction.digit))
            if prediction.unsure:
                self.confidence_label.setText(f"not sure: {prediction.digit} or {prediction.runner_up()}?")
            else:
                self.confidence_label.setText(f"{prediction.confidence:.0%} sure")
        self.bars.set_probabilities(prediction.probabilities, prediction.digit)
        self.preview.set_input(prediction.network_input)
