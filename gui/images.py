"""numpy arrays as QImages for the insight views (grey ink, and a heat map with transparency)."""
from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage


def grey_image(array: np.ndarray, invert: bool = False) -> QImage:
    """A 2-D array in [0, 1] (or any range, normalised) as an 8-bit grey QImage that owns its pixels."""
    a = np.asarray(array, dtype=np.float32)
    if a.ndim == 3:
        a = a[..., 0]
    low, high = float(a.min(initial=0.0)), float(a.max(initial=0.0))
    if low < 0 or high > 1:
        a = (a - low) / (high - low) if high > low else np.zeros_like(a)
    pixels = np.clip(a * 255, 0, 255).astype(np.uint8)
    if invert:
        pixels = 255 - pixels
    pixels = np.ascontiguousarray(pixels)
    height, width = pixels.shape
    return QImage(pixels.data, width, height, width, QImage.Format.Format_Grayscale8).copy()


def heat_image(heat: np.ndarray, alpha: float = 0.65) -> QImage:
    """(H, W) in [0, 1] as a red-to-yellow RGBA image, transparent where the value is 0."""
    h = np.clip(np.asarray(heat, dtype=np.float32), 0, 1)
    rgba = np.zeros(h.shape + (4,), dtype=np.uint8)
    rgba[..., 0] = 255
    rgba[..., 1] = (h * 220).astype(np.uint8)
    rgba[..., 2] = 0
    rgba[..., 3] = (np.sqrt(h) * 255 * alpha).astype(np.uint8)
    rgba = np.ascontiguousarray(rgba)
    height, width = h.shape
    return QImage(rgba.data, width, height, 4 * width, QImage.Format.Format_RGBA8888).copy()
