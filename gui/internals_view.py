"""Inside the network, for the drawing on the canvas: preprocessing stages, feature maps, saliency.

The view only paints what ``gui.insight_worker`` computed; the saliency overlay
is a transparent child of the canvas that draws the occlusion heat map over
the ink, placed with ``model.internals.input_frame_on_canvas``.
"""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QEvent, QObject, QRectF, Qt
from PySide6.QtGui import QImage, QPainter, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from gui.images import grey_image, heat_image
from gui.live_text import LiveText

STAGE_SIDE = 112
MAP_CELL = 34  # pixels per feature map in the grid


def montage(maps: np.ndarray, pad: int = 1) -> tuple[np.ndarray, int, int]:
    """(H, W, C) activations -> one 2-D image: a grid of C maps, each scaled to [0, 1] on its own."""
    h, w, c = maps.shape
    cols = math.ceil(math.sqrt(c * 2))  # wider than tall: the view is a wide dock
    rows = math.ceil(c / cols)
    out = np.full((rows * (h + pad) - pad, cols * (w + pad) - pad), 0.35, np.float32)
    for i in range(c):
        m = maps[..., i]
        peak = float(m.max())
        m = m / peak if peak > 0 else np.zeros_like(m)
        r, col = divmod(i, cols)
        out[r * (h + pad):r * (h + pad) + h, col * (w + pad):col * (w + pad) + w] = m
    return out, rows, cols


class InternalsView(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("internalsView")
        self.internals = None
        self.saliency_check = QCheckBox("Show which ink drove the decision (over the canvas)")
        self.saliency_check.setObjectName("saliencyCheck")
        self.saliency_check.setToolTip("Occlusion saliency: how much the answer's probability drops when each "
                                       "part of the ink is hidden. Red-yellow: ink the answer depends on.")
        self.status = LiveText("draw a digit to look inside the network", lines=1)  # changes with each drawing
        self.status.setObjectName("internalsStatus")
        self.status.setAccessibleName("What the network reads")

        self.stage_labels = []
        stages = QHBoxLayout()
        for caption in ("as drawn", "cropped to the ink", "fitted to 20×20", "centred by mass in 28×28"):
            box = QVBoxLayout()
            image = QLabel()
            image.setFixedSize(STAGE_SIDE, STAGE_SIDE)
            image.setFrameShape(QFrame.Shape.Box)
            image.setAlignment(Qt.AlignmentFlag.AlignCenter)
            text = QLabel(caption)
            text.setAlignment(Qt.AlignmentFlag.AlignCenter)
            box.addWidget(image, 0, Qt.AlignmentFlag.AlignHCenter)
            box.addWidget(text)
            stages.addLayout(box)
            self.stage_labels.append(image)
        stages.addStretch(1)

        self.maps_widget = QWidget()
        self.maps_layout = QGridLayout(self.maps_widget)
        self.maps_layout.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.map_labels: list[tuple[QLabel, QLabel]] = []
        scroll = QScrollArea()
        scroll.setWidget(self.maps_widget)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)

        top = QHBoxLayout()
        top.addWidget(self.status, 1)
        top.addWidget(self.saliency_check)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(QLabel("<b>Preprocessing</b>: the drawing becomes the 28×28 image the network reads"))
        layout.addLayout(stages)
        layout.addWidget(QLabel("<b>Feature maps</b> of each convolutional layer (bright: the filter fired)"))
        layout.addWidget(scroll, 1)

    def _layer_labels(self, count: int) -> None:
        while len(self.map_labels) < count:
            row = len(self.map_labels)
            name, image = QLabel(), QLabel()
            name.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
            image.setObjectName(f"featureMap{row}")
            self.maps_layout.addWidget(name, row, 0)
            self.maps_layout.addWidget(image, row, 1)
            self.map_labels.append((name, image))
        for i, (name, image) in enumerate(self.map_labels):
            name.setVisible(i < count)
            image.setVisible(i < count)

    def show_internals(self, internals) -> None:
        self.internals = internals
        stages = internals.stages
        if stages is None:
            self.status.setText("draw a digit to look inside the network")
            for label in self.stage_labels:
                label.clear()
            self._layer_labels(0)
            return
        self.status.setText(f"the network reads a {internals.digit}")
        for label, array in zip(self.stage_labels, (stages.rendered, stages.cropped, stages.fitted, stages.centred)):
            pixmap = QPixmap.fromImage(grey_image(array))
            mode = (Qt.TransformationMode.SmoothTransformation if max(array.shape) > STAGE_SIDE
                    else Qt.TransformationMode.FastTransformation)  # small inputs: show the real pixels
            label.setPixmap(pixmap.scaled(STAGE_SIDE - 4, STAGE_SIDE - 4, Qt.AspectRatioMode.KeepAspectRatio, mode))
        self._layer_labels(len(internals.maps))
        for (name, image), layer, maps in zip(self.map_labels, internals.names, internals.maps):
            grid, rows, cols = montage(maps)
            name.setText(f"{layer}\n{maps.shape[2]} maps\n{maps.shape[0]}×{maps.shape[1]}")
            scale = max(1, MAP_CELL // maps.shape[0])
            image.setPixmap(QPixmap.fromImage(grey_image(grid)).scaled(
                grid.shape[1] * scale, grid.shape[0] * scale, Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.FastTransformation))


class SaliencyOverlay(QWidget):
    """The heat map over the canvas's ink; transparent to the mouse, so drawing goes on underneath."""

    def __init__(self, canvas):
        super().__init__(canvas)
        self.setObjectName("saliencyOverlay")
        self.canvas = canvas
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setAttribute(Qt.WidgetAttribute.WA_NoSystemBackground)
        self._image: QImage | None = None
        self.frame: tuple | None = None
        self.heat: np.ndarray | None = None
        self.setGeometry(canvas.rect())
        canvas.installEventFilter(self)
        self.hide()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if watched is self.canvas and event.type() == QEvent.Type.Resize:
            self.setGeometry(self.canvas.rect())
        return False

    def set_heat(self, heat: np.ndarray | None, frame: tuple | None) -> None:
        self.heat, self.frame = heat, frame
        self._image = heat_image(heat) if heat is not None and frame is not None else None
        self.update()

    def target_rect(self) -> QRectF | None:
        if self.frame is None:
            return None
        left, top, side = self.frame
        a = self.canvas.to_widget(left, top)
        b = self.canvas.to_widget(left + side, top + side)
        return QRectF(a, b)

    def paintEvent(self, event) -> None:  # noqa: N802
        rect = self.target_rect()
        if self._image is None or rect is None:
            return
        with QPainter(self) as painter:
            painter.setClipRect(self.canvas.writing_box())
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            painter.drawImage(rect, self._image)
