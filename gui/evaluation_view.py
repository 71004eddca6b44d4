"""Evaluation: test accuracy and loss, per-class accuracy, and a clickable 10x10 confusion matrix.

Clicking a cell opens a gallery of its test images, most confident first (off
the diagonal: the most confident mistakes). The figures come from
``model.evaluation`` through ``gui.insight_worker``; nothing here runs Keras.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFontMetrics, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from gui.images import grey_image
from gui.style import scaled_font

GALLERY_LIMIT = 200
GALLERY_THUMB = 64


class ConfusionMatrix(QWidget):
    """confusion[true, predicted]: rows are the true digit, columns the prediction."""

    cell_clicked = Signal(int, int)  # true, predicted

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("confusionMatrix")
        self.setAccessibleName("Confusion matrix")
        self.setToolTip("Rows: the true digit. Columns: what the network said. Click a cell to see its images.")
        self.confusion = np.zeros((10, 10), dtype=np.int64)
        self.setMinimumSize(300, 300)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def sizeHint(self) -> QSize:
        return QSize(440, 440)

    def set_confusion(self, confusion: np.ndarray) -> None:
        self.confusion = np.asarray(confusion, dtype=np.int64).copy()
        self.update()

    def _geometry(self) -> tuple[float, float, float]:
        """(left, top, cell side) of the grid in widget pixels; room on the top and left for the labels."""
        margin = QFontMetrics(self.font()).height() * 2.4
        side = max(4.0, (min(self.width(), self.height()) - margin - 4) / 10)
        return margin, margin, side

    def cell_rect(self, true: int, predicted: int) -> QRect:
        left, top, side = self._geometry()
        return QRectF(left + predicted * side, top + true * side, side, side).toRect()

    def cell_at(self, x: float, y: float) -> tuple[int, int] | None:
        left, top, side = self._geometry()
        col, row = int((x - left) // side), int((y - top) // side)
        return (row, col) if 0 <= row < 10 and 0 <= col < 10 else None

    def _colour(self, true: int, predicted: int, base: QColor) -> QColor:
        row = self.confusion[true].sum()
        share = self.confusion[true, predicted] / row if row else 0.0
        if true == predicted:  # green, stronger the more of the row is right
            target, strength = QColor("#1a9850"), share
        else:  # red; a mistake rate of 5% of a row is already strong
            target, strength = QColor("#d73027"), min(1.0, np.sqrt(share / 0.05)) if share > 0 else 0.0
        mix = lambda a, b: round(a + (b - a) * strength)  # noqa: E731
        return QColor(mix(base.red(), target.red()), mix(base.green(), target.green()), mix(base.blue(), target.blue()))

    def paintEvent(self, event) -> None:  # noqa: N802
        left, top, side = self._geometry()
        palette = self.palette()
        base = palette.color(QPalette.ColorRole.Base)
        text = palette.color(QPalette.ColorRole.WindowText)
        line = palette.color(QPalette.ColorRole.Mid)
        with QPainter(self) as painter:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
            font = scaled_font(self.font(), max(0.6, min(1.0, side / 40)))
            painter.setFont(font)
            for t in range(10):
                for p in range(10):
                    rect = QRectF(left + p * side, top + t * side, side, side)
                    colour = self._colour(t, p, base)
                    painter.fillRect(rect, colour)
                    painter.setPen(line)
                    painter.drawRect(rect)
                    count = int(self.confusion[t, p])
                    if count:
                        painter.setPen(QColor("white") if colour.lightness() < 130 else QColor("black"))
                        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, str(count))
            painter.setPen(text)
            painter.setFont(scaled_font(self.font(), 1.0, bold=True))
            metrics = QFontMetrics(painter.font())
            row_h = metrics.height()
            for d in range(10):
                painter.drawText(QRectF(left + d * side, top - row_h - 2, side, row_h),
                                 Qt.AlignmentFlag.AlignCenter, str(d))
                painter.drawText(QRectF(left - row_h - 4, top + d * side, row_h, side),
                                 Qt.AlignmentFlag.AlignCenter, str(d))
            painter.setFont(scaled_font(self.font(), 0.95))
            painter.drawText(QRectF(left, 0, 10 * side, row_h), Qt.AlignmentFlag.AlignCenter, "predicted →")
            painter.save()
            painter.translate(0, top + 10 * side)
            painter.rotate(-90)
            painter.drawText(QRectF(0, 0, 10 * side, row_h), Qt.AlignmentFlag.AlignCenter, "true digit →")
            painter.restore()

    def mousePressEvent(self, event) -> None:  # noqa: N802
        cell = self.cell_at(event.position().x(), event.position().y())
        if cell is not None and event.button() == Qt.MouseButton.LeftButton:
            self.cell_clicked.emit(*cell)


class GalleryDialog(QDialog):
    """The test images of one confusion-matrix cell, with true and predicted digit and confidence."""

    def __init__(self, items, true: int, predicted: int, total: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("galleryDialog")
        self.items = items
        what = "right" if true == predicted else "mistaken"
        self.setWindowTitle(f"True {true}, predicted {predicted}")
        heading = QLabel(f"{total} test image(s) of a {true} read as a {predicted} ({what})"
                         + (f"; the {len(items)} most confident shown" if len(items) < total else "")
                         + (", most confident first" if items else ""))
        heading.setObjectName("galleryHeading")
        heading.setWordWrap(True)
        self.list = QListWidget()
        self.list.setObjectName("galleryList")
        self.list.setViewMode(QListView.ViewMode.IconMode)
        self.list.setIconSize(QSize(GALLERY_THUMB, GALLERY_THUMB))
        self.list.setResizeMode(QListView.ResizeMode.Adjust)
        self.list.setMovement(QListView.Movement.Static)
        self.list.setSpacing(6)
        self.list.setUniformItemSizes(True)
        for item in items:
            pixmap = (QPixmap.fromImage(grey_image(item.image, invert=True)).scaled(
                GALLERY_THUMB, GALLERY_THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation) if item.image is not None else QPixmap())
            entry = QListWidgetItem(QIcon(pixmap), f"{item.true}→{item.predicted} {item.confidence:.0%}")
            entry.setToolTip(f"test image #{item.index}: a {item.true}, read as a {item.predicted} "
                             f"with {item.confidence:.1%} confidence")
            entry.setData(Qt.ItemDataRole.UserRole, item.index)
            self.list.addItem(entry)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(self.list, 1)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(close)
        layout.addLayout(row)
        self.resize(720, 520)


class EvaluationView(QWidget):
    evaluate_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("evaluationView")
        self.result = None
        self.gallery: GalleryDialog | None = None
        self.evaluate_button = QPushButton("Evaluate")
        self.evaluate_button.setObjectName("evaluateButton")
        self.evaluate_button.setToolTip("Measure the active model on the MNIST test images")
        self.evaluate_button.setFont(scaled_font(self.font(), 1.1, bold=True))
        self.evaluate_button.clicked.connect(self.evaluate_requested.emit)
        self.summary = QLabel("Evaluate the active model on the MNIST test images.")
        self.summary.setObjectName("evaluationSummary")
        self.summary.setWordWrap(True)
        self.summary.setFont(scaled_font(self.font(), 1.1))
        self.matrix = ConfusionMatrix()
        self.matrix.cell_clicked.connect(self.open_cell)

        self.per_class = []
        grid = QGridLayout()
        grid.setVerticalSpacing(2)
        grid.addWidget(QLabel("<b>per-digit accuracy</b>"), 0, 0, 1, 2)
        for d in range(10):
            digit = QLabel(f"<b>{d}</b>")
            value = QLabel("–")
            value.setObjectName(f"classAccuracy{d}")
            value.setAlignment(Qt.AlignmentFlag.AlignRight)
            grid.addWidget(digit, d + 1, 0)
            grid.addWidget(value, d + 1, 1)
            self.per_class.append(value)
        grid.setRowStretch(11, 1)
        hint = QLabel("Click a cell to see its images; off the diagonal, the most confident mistakes come first.")
        hint.setWordWrap(True)

        top = QHBoxLayout()
        top.addWidget(self.evaluate_button)
        top.addWidget(self.summary, 1)
        body = QHBoxLayout()
        body.addWidget(self.matrix, 1)
        body.addLayout(grid)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(body, 1)
        layout.addWidget(hint)

    def set_busy(self, busy: bool) -> None:
        self.evaluate_button.setEnabled(not busy)
        if busy:
            self.summary.setText("evaluating on the MNIST test images…")

    def set_result(self, result) -> None:
        """An ``EvaluationResult`` (model name and ``model.evaluation.Evaluation``)."""
        self.result = result
        ev = result.evaluation
        self.summary.setText(f"<b>{result.model_name}</b>: {ev.accuracy:.2%} accuracy, loss {ev.loss:.4f} "
                             f"on {ev.count:,} MNIST test images; {int(ev.count - np.trace(ev.confusion)):,} wrong")
        for value, acc in zip(self.per_class, ev.per_class_accuracy):
            value.setText("–" if np.isnan(acc) else f"{acc:.1%}")
        self.matrix.set_confusion(ev.confusion)

    def open_cell(self, true: int, predicted: int) -> GalleryDialog | None:
        if self.result is None:
            return None
        ev = self.result.evaluation
        items = ev.cell(true, predicted, GALLERY_LIMIT)
        if self.gallery is not None:  # one gallery at a time
            self.gallery.close()
            self.gallery.deleteLater()
        self.gallery = GalleryDialog(items, true, predicted, int(ev.confusion[true, predicted]), self)
        self.gallery.show()
        return self.gallery
