"""Editing strokes as data: the eraser cuts the lines it touches.

The network input comes from the strokes (``model.strokes.strokes_to_input``),
not from the pixels on screen, so erasing has to change the strokes: wherever
the eraser's disk covers a stroke's centre line, that part of the line is
removed and the stroke splits in two, with new end points exactly on the
disk's edge (pressure interpolated). What remains is an ordinary list of
strokes, which the screen and the shared renderer draw the same way. No Qt here.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

Point = tuple[float, ...]  # (x, y) or (x, y, pressure)
Stroke = list[Point]


def _lerp(a: Point, b: Point, t: float) -> Point:
    return tuple(p + (q - p) * t for p, q in zip(a, b, strict=True))


def _inside_interval(a: Point, b: Point, cx: float, cy: float, r: float) -> tuple[float, float] | None:
    """The part [t0, t1] of segment a->b (t in [0, 1]) that lies strictly inside the disk, or None."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    fx, fy = a[0] - cx, a[1] - cy
    qa = dx * dx + dy * dy
    qc = fx * fx + fy * fy - r * r
    if qa == 0.0:
        return (0.0, 1.0) if qc < 0 else None
    qb = 2 * (fx * dx + fy * dy)
    disc = qb * qb - 4 * qa * qc
    if disc <= 0:
        return None
    root = math.sqrt(disc)
    t0, t1 = max((-qb - root) / (2 * qa), 0.0), min((-qb + root) / (2 * qa), 1.0)
    return (t0, t1) if t0 < t1 else None


def _inside(p: Point, cx: float, cy: float, r: float) -> bool:
    return (p[0] - cx) ** 2 + (p[1] - cy) ** 2 < r * r


def erase_disk(strokes: Sequence[Sequence[Point]], cx: float, cy: float, r: float) -> tuple[list[Stroke], bool]:
    """Strokes with every part inside the disk (cx, cy, r) removed; and whether anything changed."""
    result: list[Stroke] = []
    changed = False
    for stroke in strokes:
        pieces = _cut(list(stroke), cx, cy, r)
        if pieces is None:
            result.append(list(stroke))
        else:
            changed = True
            result.extend(pieces)
    return result, changed


def _cut(stroke: Stroke, cx: float, cy: float, r: float) -> list[Stroke] | None:
    """The pieces of ``stroke`` outside the disk, or None if the disk does not touch it."""
    if not stroke:
        return None
    if len(stroke) == 1:
        return [] if _inside(stroke[0], cx, cy, r) else None
    spans = [_inside_interval(a, b, cx, cy, r) for a, b in zip(stroke[:-1], stroke[1:], strict=False)]
    if all(span is None for span in spans):
        return None
    pieces: list[Stroke] = []
    piece: Stroke | None = None if _inside(stroke[0], cx, cy, r) else [stroke[0]]
    for (a, b), span in zip(zip(stroke[:-1], stroke[1:], strict=False), spans, strict=True):
        if span is None:
            if piece is None:  # can only happen on the disk's rim: start afresh at a
                piece = [a]
            piece.append(b)
            continue
        t0, t1 = span
        if piece is not None:
            if t0 > 0:
                piece.append(_lerp(a, b, t0))
            pieces.append(piece)
        piece = [_lerp(a, b, t1), b] if t1 < 1 else None
    if piece is not None:
        pieces.append(piece)
    # A piece shorter than a hair is an artefact of cutting at the rim, not ink.
    return [p for p in pieces if len(p) >= 2 and _length(p) > 1e-6]


def _length(stroke: Stroke) -> float:
    return sum(math.dist(a[:2], b[:2]) for a, b in zip(stroke[:-1], stroke[1:], strict=False))


def erase_path(strokes: Sequence[Sequence[Point]], start: tuple[float, float], end: tuple[float, float],
               r: float) -> tuple[list[Stroke], bool]:
    """Erase along the eraser's path from ``start`` to ``end``: disks every r/2, so a fast sweep skips nothing."""
    distance = math.dist(start, end)
    steps = max(1, math.ceil(distance / max(r / 2, 1e-9)))
    current = [list(s) for s in strokes]
    changed = False
    for i in range(steps + 1):
        t = i / steps
        current, hit = erase_disk(current, start[0] + (end[0] - start[0]) * t, start[1] + (end[1] - start[1]) * t, r)
        changed = changed or hit
    return current, changed
