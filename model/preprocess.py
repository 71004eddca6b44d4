"""Images to the 28x28 input the network expects, the way MNIST was made.

Crop to the ink, scale the longer side to 20 px keeping the aspect ratio
(anti-aliased), place in 28x28 with the centre of mass at the centre, white
ink on black, float32 in [0, 1]. A blank or near-blank image gives ``None``:
"no digit", never a guess.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

SIZE = 28
BOX = 20
INK_THRESHOLD = 0.2  # a pixel this bright (of 1) counts as ink when finding the bounding box
MIN_INK_PIXELS = 4  # fewer ink pixels than this is a speck, not a digit


def ink_bounding_box(ink: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, left, bottom, right), exclusive, of the pixels brighter than INK_THRESHOLD; None if too few."""
    mask = ink > INK_THRESHOLD
    if np.count_nonzero(mask) < MIN_INK_PIXELS:
        return None
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def fit_to_box(ink: np.ndarray, box: int = BOX) -> np.ndarray | None:
    """Crop ``ink`` to its bounding box and scale the longer side to ``box`` px; None if blank."""
    bounds = ink_bounding_box(ink)
    if bounds is None:
        return None
    top, left, bottom, right = bounds
    crop = np.ascontiguousarray(ink[top:bottom, left:right], dtype=np.float32)
    height, width = crop.shape
    scale = box / max(height, width)
    new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    fitted = np.asarray(Image.fromarray(crop, mode="F").resize(new_size, Image.Resampling.BILINEAR))
    peak = float(fitted.max())
    if peak <= 0:
        return None
    # Thin strokes turn grey when shrunk; MNIST's strokes are saturated, so restore full strength.
    return np.clip(fitted / peak, 0.0, 1.0)


def centre_by_mass(fitted: np.ndarray, size: int = SIZE) -> np.ndarray:
    """Place ``fitted`` in a size x size frame so its centre of mass lands on the centre."""
    height, width = fitted.shape
    total = float(fitted.sum())
    rows, cols = np.arange(height), np.arange(width)
    com_y = float(fitted.sum(axis=1) @ rows) / total
    com_x = float(fitted.sum(axis=0) @ cols) / total
    centre = (size - 1) / 2
    # Round to whole pixels like MNIST; clamp so no ink is pushed out of the frame.
    top = min(max(round(centre - com_y), 0), size - height)
    left = min(max(round(centre - com_x), 0), size - width)
    frame = np.zeros((size, size), dtype=np.float32)
    frame[top:top + height, left:left + width] = fitted
    return frame


def ink_to_input(ink: np.ndarray) -> np.ndarray | None:
    """White-on-black ink (H, W) in [0, 1] -> (28, 28) float32 network input, or None for no digit."""
    fitted = fit_to_box(ink)
    if fitted is None:
        return None
    return centre_by_mass(fitted)


def image_to_ink(image: Image.Image | np.ndarray) -> np.ndarray:
    """Any picture -> white-on-black ink in [0, 1].

    Transparent pixels count as background; the polarity is decided by the
    border, which is background in any sensible picture of one digit, so both
    dark-on-light and light-on-dark pictures classify.
    """
    if isinstance(image, np.ndarray):
        array = image.astype(np.float32)
        if array.ndim == 3:
            array = array[..., :3].mean(axis=2)
        peak = 255.0 if array.max() > 1.0 else 1.0
        gray = array / peak
        alpha = None
    else:
        if image.mode in ("I;16", "I;16B", "I;16L", "I"):
            array = np.asarray(image, dtype=np.float32)
            gray = array / max(float(array.max()), 1.0)
            alpha = None
        else:
            rgba = np.asarray(image.convert("RGBA"), dtype=np.float32) / 255.0
            gray = rgba[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
            alpha = rgba[..., 3]
    if alpha is not None and alpha.min() < 0.99:
        # Ink is what is opaque; where the opaque part is darker than its surroundings the
        # drawing is dark ink on a transparent sheet, else light ink.
        opaque = alpha > 0.5
        if opaque.any() and gray[opaque].mean() < 0.5:
            return np.clip(alpha * (1.0 - gray), 0.0, 1.0)
        return np.clip(alpha * gray, 0.0, 1.0)
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    ink = 1.0 - gray if float(np.median(border)) > 0.5 else gray
    # Subtract the background level so a grey page does not count as ink.
    background = float(np.median(np.concatenate([ink[0], ink[-1], ink[:, 0], ink[:, -1]])))
    ink = np.clip((ink - background) / max(1.0 - background, 1e-6), 0.0, 1.0)
    return ink.astype(np.float32)


def image_to_input(image: Image.Image | np.ndarray) -> np.ndarray | None:
    return ink_to_input(image_to_ink(image))
