"""What happens inside: the preprocessing stages, feature maps and saliency for one drawing.

Everything here works on the same network input the predictor sees, so the
window can show *why* an answer came out, not a separate approximation.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from model.backend import keras
from model.preprocess import centre_by_mass, fit_to_box, ink_bounding_box
from model.strokes import PEN_FRACTION, Stroke, clean_strokes, is_too_small, render_strokes


@dataclass(frozen=True)
class Stages:
    """The drawing on its way to the network: each step of MNIST's recipe."""

    rendered: np.ndarray  # the strokes rasterised with the shared renderer
    cropped: np.ndarray  # cut to the ink's bounding box
    fitted: np.ndarray  # longer side scaled to 20 px
    centred: np.ndarray  # in 28x28 with the centre of mass at the centre: the network input


def preprocessing_stages(strokes: Iterable[Stroke], width: float, height: float) -> Stages | None:
    """The stages ``strokes_to_input`` goes through (its last stage equals its output); None for no digit."""
    strokes = list(strokes)
    if is_too_small(strokes, width, height):
        return None
    ink = render_strokes(strokes)
    if ink is None:
        return None
    bounds = ink_bounding_box(ink)
    fitted = fit_to_box(ink)
    if bounds is None or fitted is None:
        return None
    top, left, bottom, right = bounds
    return Stages(ink, ink[top:bottom, left:right], fitted, centre_by_mass(fitted))


class FeatureMaps:
    """The activations of every convolutional layer of ``model`` for one input.

    The probe model is built once per model; it shares the model's weights, so
    it always shows the current ones.
    """

    def __init__(self, model):
        k = keras()
        self.layers = [layer for layer in model.layers if isinstance(layer, k.layers.Conv2D)]
        self._probe = None
        if self.layers:
            self._probe = k.Model(inputs=model.inputs[0], outputs=[layer.output for layer in self.layers])

    @property
    def names(self) -> list[str]:
        return [layer.name for layer in self.layers]

    def __call__(self, network_input: np.ndarray) -> list[np.ndarray]:
        """(28, 28) input -> one (H, W, channels) array per convolutional layer, in order."""
        if self._probe is None:
            return []
        batch = np.asarray(network_input, np.float32).reshape(1, 28, 28, 1)
        outputs = self._probe(batch, training=False)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        return [np.asarray(keras().ops.convert_to_numpy(o))[0] for o in outputs]


def occlusion_saliency(probabilities, network_input: np.ndarray, digit: int,
                       patch: int = 6, stride: int = 2) -> np.ndarray:
    """How much each pixel's ink supports ``digit``: the drop in its probability when a patch is hidden.

    ``probabilities`` maps (N, 28, 28) inputs to (N, 10) (``Predictor.probabilities``),
    so every occluded copy goes through the network in one batch; no gradients,
    so it works on any Keras backend. Returns (28, 28) in [0, 1]; zeros if
    hiding ink never lowers the answer.
    """
    x = np.asarray(network_input, np.float32).reshape(28, 28)
    starts = range(0, 28 - patch + 1, stride)
    corners = [(r, c) for r in starts for c in starts]
    occluded = np.repeat(x[None], len(corners) + 1, axis=0)
    for i, (r, c) in enumerate(corners, start=1):
        occluded[i, r:r + patch, c:c + patch] = 0.0
    probs = np.asarray(probabilities(occluded))[:, digit]
    heat = np.zeros((28, 28), np.float32)
    cover = np.zeros((28, 28), np.float32)
    for drop, (r, c) in zip(probs[0] - probs[1:], corners):
        heat[r:r + patch, c:c + patch] += drop
        cover[r:r + patch, c:c + patch] += 1
    heat = np.clip(heat / np.maximum(cover, 1), 0.0, None) * (x > 0.05)  # only ink can drive the answer
    peak = float(heat.max())
    return heat / peak if peak > 0 else heat


def input_frame_on_canvas(strokes: Iterable[Stroke], network_input: np.ndarray) -> tuple[float, float, float]:
    """Where the 28x28 input lies on the canvas: (left, top, side) in canvas units.

    The input's ink box and the strokes' ink box (widened by the pen) are the
    same ink, so matching them maps a saliency map back over the drawing.
    """
    cleaned = clean_strokes(strokes)
    xy = np.concatenate([s[:, :2] for s in cleaned])
    low, high = xy.min(axis=0), xy.max(axis=0)
    extent = float((high - low).max())
    pen = PEN_FRACTION * extent
    bounds = ink_bounding_box(np.asarray(network_input))
    if bounds is None or extent <= 0:
        return float(low[0]), float(low[1]), max(extent, 1.0)
    top, left, bottom, right = bounds
    scale = (extent + pen) / max(bottom - top, right - left)
    return float(low[0] - pen / 2 - left * scale), float(low[1] - pen / 2 - top * scale), 28 * scale
