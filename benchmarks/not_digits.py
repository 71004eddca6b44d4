"""Shapes that are not digits, drawn as strokes on a 500 x 500 canvas: what the bundled model answers, and how sure.

A baseline for being honest when unsure. The window's "not sure" (top probability
under 60 %, ``model.inference.UNSURE_BELOW``) only catches doubt between digits;
a network trained on digits alone has no way to say "not a digit". Letters,
signs and figures, drawn from straight lines and arcs, go through the app's
renderer and the bundled model with its temperature, as a person's drawing
would. No target: the figure is what a future out-of-distribution signal
would have to bring down, without flagging real drawings (pendigits).
"""
from __future__ import annotations

import math

from benchmarks.common import BUNDLED_MODEL, Figure, main

Point = tuple[float, float]


def _line(x0: float, y0: float, x1: float, y1: float, n: int = 30) -> list[Point]:
    return [(x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n) for i in range(n + 1)]


def _arc(cx: float, cy: float, r: float, start: float = 0.0, end: float = 2 * math.pi, n: int = 60) -> list[Point]:
    return [(cx + r * math.cos(start + (end - start) * i / n), cy + r * math.sin(start + (end - start) * i / n))
            for i in range(n + 1)]


def _path(*corners: Point) -> list[Point]:
    points = [corners[0]]
    for a, b in zip(corners, corners[1:]):
        points += _line(*a, *b)[1:]
    return points


SHAPES: dict[str, list[list[Point]]] = {
    "letter A": [_line(100, 400, 250, 100), _line(250, 100, 400, 400), _line(160, 280, 340, 280)],
    "letter B": [_line(150, 100, 150, 400), _arc(150, 175, 75, -math.pi / 2, math.pi / 2),
                 _arc(150, 325, 75, -math.pi / 2, math.pi / 2)],
    "letter H": [_line(130, 100, 130, 400), _line(370, 100, 370, 400), _line(130, 250, 370, 250)],
    "letter X": [_line(100, 100, 400, 400), _line(400, 100, 100, 400)],
    "plus sign": [_line(250, 100, 250, 400), _line(100, 250, 400, 250)],
    "dash": [_line(100, 250, 400, 250)],
    "square": [_path((100, 100), (400, 100), (400, 400), (100, 400), (100, 100))],
    "triangle": [_path((250, 100), (400, 400), (100, 400), (250, 100))],
    "star": [_path((250, 80), (320, 420), (80, 200), (420, 200), (180, 420), (250, 80))],
    "spiral": [[(250 + (5 + 3 * t) * math.cos(t / 4), 250 + (5 + 3 * t) * math.sin(t / 4)) for t in range(80)]],
    "zigzag": [_path((80, 150), (160, 350), (240, 150), (320, 350), (400, 150))],
    "tick": [_path((120, 260), (200, 380), (400, 100))],
}


def run(opts) -> list[Figure]:
    from model.inference import UNSURE_BELOW, Predictor
    from model.modelio import load_model

    loaded = load_model(BUNDLED_MODEL)
    predictor = Predictor(loaded.model, loaded.temperature, frozen=True)
    answers = {name: predictor.predict_strokes(strokes, 500, 500) for name, strokes in SHAPES.items()}
    sure = [name for name, p in answers.items() if p.digit is not None and not p.unsure]
    said = "; ".join(f"{name}: {p.digit} at {p.confidence:.1%}" for name, p in answers.items())
    return [Figure("not_digits_answered_sure", f"bundled model: non-digit shapes answered as a digit with "
                                               f"{UNSURE_BELOW:.0%} or more", 100 * len(sure) / len(SHAPES), "%",
                   n=len(SHAPES), note=f"{len(sure)} of {len(SHAPES)} shapes; {said}")]


if __name__ == "__main__":
    main(run, __doc__)
