"""Shapes that are not digits, drawn as strokes on a 500 x 500 canvas: what the bundled model answers, and how sure.

A baseline for being honest when unsure. The window's "not sure" (top probability
under 60 %, ``model.inference.UNSURE_BELOW``) only catches doubt between digits;
a network trained on digits alone has no way to say "not a digit". Letters,
signs and figures, drawn from straight lines and arcs, go through the app's
renderer and the bundled model with its temperature, as a person's drawing
would. The model's "not a digit" statistics (``model.novelty``) should
call them not digits without calling real drawings so (``python -m
benchmarks pendigits``). Letters from stroke fonts (the ``Hershey-Fonts``
package, the bench extra) make a larger set. No targets.
"""
from __future__ import annotations

import math

from benchmarks.common import BUNDLED_MODEL, Figure, log, main, not_measured, recipe_model

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


# Letters whose usual shapes are also digits' (O 0, I l i 1, Z 2, S 5, b G 6, g q 9, B 8, T 7, ...) are left out.
DIGIT_LIKE_LETTERS = set("OoQDIlijJZzSsbgqBGTt")
FONTS = ("futural", "futuram", "rowmans", "rowmand", "timesr", "timesi", "timesrb", "cursive", "scripts",
         "scriptc", "gothiceng")


def font_letters() -> list[tuple[str, list[list[Point]]]] | None:
    """Latin letters from eleven Hershey stroke fonts (sans, serif, italic, script, gothic), each scaled into
    the middle of a 500 x 500 canvas; None when the ``Hershey-Fonts`` package (the bench extra) is missing."""
    try:
        from HersheyFonts import HersheyFonts
    except ImportError:
        return None
    fonts, letters = HersheyFonts(), []
    for font in FONTS:
        fonts.load_default_font(font)
        for letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz":
            strokes = [list(stroke) for stroke in fonts.strokes_for_text(letter)] if letter not in \
                DIGIT_LIKE_LETTERS else []
            if not strokes:
                continue
            xs = [x for stroke in strokes for x, _ in stroke]
            ys = [y for stroke in strokes for _, y in stroke]
            span = max(max(xs) - min(xs), max(ys) - min(ys), 1)
            letters.append((f"{font} {letter}", [[(100 + 300 * (x - min(xs)) / span, 100 + 300 * (y - min(ys)) / span)
                                                  for x, y in stroke] for stroke in strokes]))
    return letters


def _shares(answers: dict) -> tuple[list, list]:
    """Of ``answers`` (name -> Prediction): the names answered as a digit with confidence, and those flagged."""
    sure = [n for n, p in answers.items() if p.digit is not None and not p.unsure]
    flagged = [n for n, p in answers.items() if p.unfamiliar]
    return sure, flagged


def _answers(predictor, named) -> dict:
    return {name: predictor.predict_strokes(strokes, 500, 500) for name, strokes in named}


def run(opts) -> list[Figure]:
    from model.inference import UNSURE_BELOW, Predictor
    from model.modelio import load_model

    loaded = load_model(BUNDLED_MODEL)
    predictor = Predictor(loaded.model, loaded.temperature, frozen=True, novelty=loaded.novelty)
    answers = _answers(predictor, SHAPES.items())
    sure, flagged = _shares(answers)
    said = "; ".join(f"{name}: {p.digit} at {p.confidence:.1%}" + (", not a digit" if p.unfamiliar else "")
                     for name, p in answers.items())
    figures = [
        Figure("not_digits_answered_sure", f"bundled model: non-digit shapes answered as a digit with "
                                           f"{UNSURE_BELOW:.0%} or more", 100 * len(sure) / len(SHAPES), "%",
               n=len(SHAPES), note=f"{len(sure)} of {len(SHAPES)} shapes; {said}"),
        Figure("not_digits_flagged", "bundled model: non-digit shapes called not a digit (model.novelty)",
               100 * len(flagged) / len(SHAPES), "%", n=len(SHAPES),
               note=f"{len(flagged)} of {len(SHAPES)}; missed: "
                    + (", ".join(n for n, p in answers.items() if not p.unfamiliar) or "none")),
    ]
    letters = font_letters()
    if letters is None:
        return figures + [not_measured("font_letters_flagged", "letters from stroke fonts called not a digit",
                                       "the Hershey-Fonts package is not installed (pip install -e '.[bench]')")]
    sure, flagged = _shares(_answers(predictor, letters))
    figures += [
        Figure("font_letters_answered_sure", f"bundled model: letters from stroke fonts answered as a digit with "
                                             f"{UNSURE_BELOW:.0%} or more", 100 * len(sure) / len(letters), "%",
               n=len(letters),
               note=f"{len(letters)} letters from {len(FONTS)} Hershey fonts, digit-like ones left out"),
        Figure("font_letters_flagged", "bundled model: letters from stroke fonts called not a digit (model.novelty)",
               100 * len(flagged) / len(letters), "%", n=len(letters),
               note=f"{len(flagged)} of {len(letters)}"),
    ]
    for arch in ("seed", "fast"):  # the small networks' statistics, from the pendigits benchmark's cached models
        other, how = recipe_model(arch, train_if_missing=not opts.quick, log=log)
        label = f"{arch}: letters from stroke fonts called not a digit"
        if other is None or other.novelty is None:
            figures.append(not_measured(f"font_letters_flagged_{arch}", label, how, unit="%"))
            continue
        other_predictor = Predictor(other.model, other.temperature, frozen=True, novelty=other.novelty)
        _, flagged = _shares(_answers(other_predictor, letters))
        figures.append(Figure(f"font_letters_flagged_{arch}", label, 100 * len(flagged) / len(letters), "%",
                              n=len(letters), note=f"{len(flagged)} of {len(letters)}; {how}"))
    return figures


if __name__ == "__main__":
    main(run, __doc__)
