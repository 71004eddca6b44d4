"""Images to the 28x28 input the network expects, the way MNIST was made.

Crop to the ink, scale the longer side to 20 px keeping the aspect ratio
(anti-aliased), place in 28x28 with the centre of mass at the centre, white
ink on black, float32 in [0, 1]. A blank or near-blank image gives ``None``:
"no digit", never a guess.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from model.errors import DigitsError

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


def _sane_ink(ink: np.ndarray) -> np.ndarray | None:
    """``ink`` as finite float32 in [0, 1] (NaN counts as no ink, +inf as full ink); None if empty."""
    ink = np.asarray(ink)
    if ink.ndim != 2:
        raise DigitsError(f"ink must be a 2-D array, not one of shape {ink.shape}.")
    if ink.size == 0:
        return None
    if ink.dtype == np.float32 and ink.min() >= 0.0 and ink.max() <= 1.0:
        return ink  # already sane, as the stroke renderer's output always is (NaN fails both tests)
    with np.errstate(over="ignore", invalid="ignore"):
        ink = ink.astype(np.float32)
    return np.clip(np.nan_to_num(ink, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)


def fit_to_box(ink: np.ndarray, box: int = BOX) -> np.ndarray | None:
    """Crop ``ink`` to its bounding box and scale the longer side to ``box`` px; None if blank."""
    ink = _sane_ink(ink)
    if ink is None:
        return None
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


def _ink_on_transparent(gray: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Ink on a see-through sheet: the opaque part, its strength set by its contrast with the sheet.

    The colour under the transparent pixels (a GIF's or PNG's transparent key colour)
    tells the background; when it does not differ from the ink (RGBA all black, say),
    the alpha channel alone is the drawing. Judging the polarity by the opaque
    pixels' own mean would fail on anti-aliased ink, whose fringe can outweigh its core.
    """
    clear = alpha < 0.5
    if clear.all():
        return np.zeros_like(gray, dtype=np.float32)
    background = float(np.median(gray[clear]))
    foreground = float(np.mean(gray[~clear]))
    if foreground - background > 0.25:  # light ink
        strength = np.clip((gray - background) / max(1.0 - background, 1e-6), 0.0, 1.0)
    elif background - foreground > 0.25:  # dark ink
        strength = np.clip((background - gray) / max(background, 1e-6), 0.0, 1.0)
    else:
        strength = np.ones_like(gray)
    return np.clip(alpha * strength, 0.0, 1.0).astype(np.float32)


def image_to_ink(image: Image.Image | np.ndarray) -> np.ndarray:
    """Any picture -> white-on-black ink in [0, 1].

    Transparent pixels count as background; the polarity is decided by the
    border, which is background in any sensible picture of one digit, so both
    dark-on-light and light-on-dark pictures classify.
    """
    if isinstance(image, np.ndarray):
        if not (image.ndim == 2 or (image.ndim == 3 and 1 <= image.shape[2] <= 4)):
            raise DigitsError(f"an image must be (height, width) or (height, width, channels), not {image.shape}.")
        if image.size == 0:
            return np.zeros((1, 1), dtype=np.float32)
        with np.errstate(over="ignore", invalid="ignore"):
            array = np.nan_to_num(image.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        if array.ndim == 3:
            array = array[..., :3].mean(axis=2)
        top = float(array.max())
        peak = 1.0 if top <= 1.0 else 255.0 if top <= 255.0 else top  # [0, 1], 8-bit, or wider
        gray = np.clip(array / peak, 0.0, 1.0)
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
        edge = np.concatenate([alpha[0], alpha[-1], alpha[:, 0], alpha[:, -1]])
        if float(np.median(edge)) < 0.5:
            return _ink_on_transparent(gray, alpha)
        gray = alpha * gray + (1.0 - alpha)  # a few see-through pixels on a page: show them as paper
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    ink = 1.0 - gray if float(np.median(border)) > 0.5 else gray
    # Subtract the background level so a grey page does not count as ink.
    background = float(np.median(np.concatenate([ink[0], ink[-1], ink[:, 0], ink[:, -1]])))
    ink = np.clip((ink - background) / max(1.0 - background, 1e-6), 0.0, 1.0)
    return ink.astype(np.float32)


def image_to_input(image: Image.Image | np.ndarray) -> np.ndarray | None:
    return ink_to_input(image_to_ink(image))
