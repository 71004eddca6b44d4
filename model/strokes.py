"""Strokes: the drawing as data, the one renderer, and the JSON Lines format.

A stroke is one pen-down to pen-up: a list of ``[x, y]`` (or ``[x, y,
pressure]``) points, y down, in the coordinates of a writing box of
``width`` x ``height``. The window's canvas and ``predict --strokes`` both
turn strokes into network input through ``strokes_to_input``, so a digit drawn
in the window and the same strokes on the command line give the same 28x28.
"""
from __future__ import annotations

import gc
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import IO

import numpy as np
from PIL import Image, ImageDraw

from model.errors import DigitsError
from model.preprocess import ink_to_input

Point = Sequence[float]
Stroke = Sequence[Point]

# Pen width as a fraction of the ink's larger side: MNIST strokes are 2-3 px in
# a 20 px box whatever pen the writer used, so the network sees that, not the brush.
PEN_FRACTION = 0.11
RENDER_SIZE = 80  # the ink's larger side, in pixels, when rasterised before the 20 px fit
MAX_POINTS = 100_000  # per drawing: enough for minutes of drawing, bounded for a hostile file
# Rendering cost grows with the points; beyond this many the strokes are subsampled
# (an 80 px raster cannot show more detail), so a huge drawing cannot stall the app.
MAX_RENDER_POINTS = 20_000
MAX_LINE_CHARS = 16 * 1024 * 1024  # MAX_POINTS points take about 2 MB of JSON
MAX_COORDINATE = 1e9  # beyond any screen or tablet; keeps the renderer's arithmetic finite
MIN_INK_FRACTION = 0.03  # ink spanning less of the writing box than this is a speck, not a digit


@dataclass
class Drawing:
    strokes: list[list[list[float]]]
    width: float = 500.0
    height: float = 500.0
    label: int | None = None
    writer: int | str | None = None
    extra: dict = field(default_factory=dict)

    def to_json(self) -> str:
        record: dict = {}
        if self.label is not None:
            record["label"] = self.label
        if self.writer is not None:
            record["writer"] = self.writer
        record.update(width=self.width, height=self.height, strokes=self.strokes)
        record.update(self.extra)
        return json.dumps(record, separators=(",", ":"))


def _points_array(stroke: object) -> np.ndarray | None:
    """A stroke as a float array of shape (n, 2) or (n, 3), or None if it holds no usable points.

    The fast path is one ``np.asarray``; odd input (points of mixed length, numbers too
    large for a float, non-numbers) falls back to point by point, keeping what is usable.
    """
    try:
        points = np.asarray(stroke, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        points = None
    if points is not None and points.ndim == 2 and points.shape[1] in (2, 3):
        return points
    if points is not None and points.ndim != 1 or isinstance(stroke, (str, bytes)):
        return None
    try:
        items = list(stroke)  # type: ignore[call-overload]
    except TypeError:
        return None
    kept = []
    for point in items:
        try:
            kept.append([float(point[0]), float(point[1])])  # mixed lengths: pressure is dropped
        except (TypeError, ValueError, OverflowError, IndexError, KeyError):
            continue
    return np.asarray(kept, dtype=np.float64).reshape(-1, 2)


def clean_strokes(strokes: Iterable[Stroke]) -> list[np.ndarray]:
    """Usable points only, as float arrays of shape (n, 2) or (n, 3); empty strokes dropped.

    A point is dropped when a value is not finite or a coordinate lies beyond
    ``MAX_COORDINATE``: no screen or tablet produces it, and the renderer's
    arithmetic must not overflow.
    """
    cleaned = []
    for stroke in strokes:
        points = _points_array(stroke)
        if points is None or points.shape[0] == 0:
            continue
        usable = np.isfinite(points).all(axis=1) & (np.abs(points[:, :2]) <= MAX_COORDINATE).all(axis=1)
        points = points[usable]
        if len(points):
            cleaned.append(points)
    return cleaned


def _thin(cleaned: list[np.ndarray], limit: int) -> list[np.ndarray]:
    """At most about ``limit`` points in all, each stroke subsampled evenly, its ends kept."""
    total = sum(len(s) for s in cleaned)
    if total <= limit:
        return cleaned
    thinned = []
    for stroke in cleaned:
        keep = max(2, round(len(stroke) * limit / total))
        if keep < len(stroke):
            stroke = stroke[np.unique(np.linspace(0, len(stroke) - 1, keep).round().astype(int))]
        thinned.append(stroke)
    return thinned


def _rasterise(cleaned: list[np.ndarray], pen_fraction: float, size: int) -> np.ndarray | None:
    """``render_strokes`` on strokes already cleaned and thinned."""
    xy = np.concatenate([s[:, :2] for s in cleaned])
    low, high = xy.min(axis=0), xy.max(axis=0)
    extent = float((high - low).max())
    if extent <= 0:
        return None  # a single dot is not a digit
    scale = size / extent
    if not math.isfinite(scale):
        return None  # an extent too small to measure is a dot too
    pen = max(1.0, pen_fraction * size)
    margin = math.ceil(pen)
    canvas_w = int(math.ceil((high[0] - low[0]) * scale)) + 2 * margin + 1
    canvas_h = int(math.ceil((high[1] - low[1]) * scale)) + 2 * margin + 1
    image = Image.new("L", (canvas_w, canvas_h), 0)
    draw = ImageDraw.Draw(image)
    for stroke in cleaned:
        points = (stroke[:, :2] - low) * scale + margin
        if stroke.shape[1] == 3:
            # Pressure in (0, 1]; light touches still leave a visible line.
            widths = pen * np.clip(0.4 + 0.9 * stroke[:, 2], 0.4, 1.3)
            radii = (widths / 2)[:, None]
        else:
            radii = pen / 2
        # One disc per point makes the round caps and joins. The boxes are worked out
        # for all points at once and handed over as plain floats: per-point arithmetic
        # on NumPy scalars cost more than the drawing itself.
        for box in np.concatenate([points - radii, points + radii], axis=1).tolist():
            draw.ellipse(box, fill=255)
        if len(points) > 1:
            if stroke.shape[1] == 2:
                draw.line(points.ravel().tolist(), fill=255, width=max(1, round(pen)))
            else:
                flat = points.tolist()
                for a, b, w in zip(flat[:-1], flat[1:], widths[1:].tolist()):
                    draw.line(a + b, fill=255, width=max(1, round(w)))
    return np.asarray(image, dtype=np.float32) / 255.0


def render_strokes(strokes: Iterable[Stroke], pen_fraction: float = PEN_FRACTION,
                   size: int = RENDER_SIZE) -> np.ndarray | None:
    """Rasterise strokes, white on black, with the ink's larger side ``size`` px; None if there is no ink.

    Round caps and joins, as a pen leaves. The pen width is ``pen_fraction`` of
    the ink's larger side, scaled per point by pressure where a point has one.
    """
    cleaned = clean_strokes(strokes)
    return _rasterise(_thin(cleaned, MAX_RENDER_POINTS), pen_fraction, size) if cleaned else None


def _too_small(cleaned: list[np.ndarray], width: float, height: float, min_fraction: float = MIN_INK_FRACTION) -> bool:
    if not cleaned:
        return True
    xy = np.concatenate([s[:, :2] for s in cleaned])
    extent = float((xy.max(axis=0) - xy.min(axis=0)).max())
    return extent < min_fraction * max(width, height, 1e-9)


def is_too_small(strokes: Iterable[Stroke], width: float, height: float,
                 min_fraction: float = MIN_INK_FRACTION) -> bool:
    """True when the ink spans less than ``min_fraction`` of the writing box: a speck, not a digit."""
    return _too_small(clean_strokes(strokes), width, height, min_fraction)


def strokes_to_input(strokes: Iterable[Stroke], width: float = 500.0, height: float = 500.0) -> np.ndarray | None:
    """Strokes in a ``width`` x ``height`` box -> (28, 28) float32 network input, or None for no digit."""
    cleaned = clean_strokes(strokes)  # once: the size check and the renderer see the same points
    if _too_small(cleaned, width, height):
        return None
    ink = _rasterise(_thin(cleaned, MAX_RENDER_POINTS), PEN_FRACTION, RENDER_SIZE)
    return None if ink is None else ink_to_input(ink)


def _positive_number(value: object) -> bool:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value) and value > 0
    except OverflowError:  # an integer too large for a float
        return False


_LIST_TYPE = frozenset((list,))
_NUMBER_TYPES = frozenset((int, float))


def _plain_points(strokes: list) -> bool:
    """True when every stroke is a list of [x, y] or [x, y, pressure] numbers and there are not too many.

    What ``json.loads`` gives a good file, decided by a few passes of C-level
    ``map`` instead of a Python loop over every coordinate. False says only that
    ``_check_points`` must look closer (it accepts int and float subclasses too).
    """
    if not set(map(type, strokes)) <= _LIST_TYPE:
        return False
    if sum(map(len, strokes)) > MAX_POINTS:
        return False
    points = list(chain.from_iterable(strokes))
    return (set(map(type, points)) <= _LIST_TYPE
            and set(map(len, points)) <= {2, 3}
            and set(map(type, chain.from_iterable(points))) <= _NUMBER_TYPES)


def _check_points(strokes: list, where: str) -> None:
    """Point by point: raises DigitsError for the first stroke or point that is not usable."""
    total = 0
    for stroke in strokes:
        if not isinstance(stroke, list):
            raise DigitsError(f"{where}: each stroke must be a list of [x, y] points.")
        total += len(stroke)
        if total > MAX_POINTS:
            raise DigitsError(f"{where}: more than {MAX_POINTS} points in one drawing.")
        for point in stroke:
            if (not isinstance(point, list) or len(point) not in (2, 3)
                    or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in point)):
                raise DigitsError(f"{where}: each point must be [x, y] or [x, y, pressure] numbers.")


def _parse_drawing(record: object, where: str) -> Drawing:
    if not isinstance(record, dict):
        raise DigitsError(f"{where}: expected a JSON object with a 'strokes' key.")
    if "strokes" not in record:
        raise DigitsError(f"{where}: missing the 'strokes' key.")
    strokes = record["strokes"]
    if not isinstance(strokes, list):
        raise DigitsError(f"{where}: 'strokes' must be a list of strokes.")
    if not _plain_points(strokes):
        _check_points(strokes, where)  # the slow look: raises at the first bad stroke or point
    width, height = record.get("width", 500), record.get("height", 500)
    for name, value in (("width", width), ("height", height)):
        if not _positive_number(value):
            raise DigitsError(f"{where}: '{name}' must be a positive number.")
    label = record.get("label")
    if label is not None and (not isinstance(label, int) or isinstance(label, bool) or not 0 <= label <= 9):
        raise DigitsError(f"{where}: 'label' must be a digit 0-9.")
    extra = {k: v for k, v in record.items() if k not in ("strokes", "width", "height", "label", "writer")}
    return Drawing(strokes, float(width), float(height), label, record.get("writer"), extra)


def iter_drawings(handle: IO[str] | IO[bytes], name: str) -> Iterator[Drawing]:
    """Drawings from a JSON Lines stream; blank lines are skipped, a bad line raises naming its number.

    ``handle`` may be text or binary; binary lines are decoded one by one (UTF-8), so
    a bad byte is reported with its line number, which a text stream's decoding of
    whole blocks cannot do.
    """
    number = 0
    while True:
        number += 1
        where = f"{name}, line {number}"
        try:
            line = handle.readline(MAX_LINE_CHARS + 1)  # bounded: /dev/zero or a binary file has no newline
            if len(line) > MAX_LINE_CHARS:
                raise DigitsError(f"{where}: longer than {MAX_LINE_CHARS:,} characters, not one drawing.")
            if isinstance(line, bytes):
                line = line.decode("utf-8")
        except UnicodeDecodeError:
            raise DigitsError(f"{where}: not UTF-8 text (JSON Lines expected).") from None
        if not line:
            return
        if number == 1:
            line = line.lstrip("\ufeff")  # the byte-order mark some editors write
        if not line.strip():
            continue
        if line.count("[") > 3 * MAX_POINTS:  # each point opens a bracket: refuse before parsing megabytes
            raise DigitsError(f"{where}: more than {MAX_POINTS} points in one drawing.")
        try:
            record = json.loads(line, parse_constant=float)  # NaN and Infinity, which Python's json writes
        except RecursionError:
            raise DigitsError(f"{where}: not valid JSON (nested too deeply).") from None
        except ValueError as exc:  # JSONDecodeError, or an integer with too many digits
            raise DigitsError(f"{where}: not valid JSON ({getattr(exc, 'msg', None) or exc}).") from None
        yield _parse_drawing(record, where)


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector; it is switched back on only if it was on.

    Parsing a file makes hundreds of thousands of lists, and each few hundred
    start a collection; once TensorFlow is imported every older-generation
    collection walks its quarter of a million objects too. JSON makes no
    reference cycles, so there is nothing for those collections to find:
    reading 3,498 pendigits drawings in a process with Keras loaded took
    0.26-0.33 s of CPU, 0.09-0.10 s with the collector paused.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def read_drawing_stream(handle: IO[str] | IO[bytes], name: str) -> list[Drawing]:
    """Every drawing of a JSON Lines stream (``iter_drawings``, with its refusals), as a list."""
    with _cyclic_gc_paused():
        return list(iter_drawings(handle, name))


def read_drawings(path: Path | str) -> list[Drawing]:
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            return read_drawing_stream(handle, str(path))
    except FileNotFoundError:
        raise DigitsError(f"{path}: file not found.") from None
    except IsADirectoryError:
        raise DigitsError(f"{path}: is a folder, not a strokes file.") from None
    except PermissionError:
        raise DigitsError(f"{path}: permission denied.") from None
    except UnicodeDecodeError:
        raise DigitsError(f"{path}: not a text file (JSON Lines expected).") from None
