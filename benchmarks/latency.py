"""One drawing: preprocessing (strokes -> 28x28) plus prediction, as the window's inference thread does it.

Each pendigits drawing goes through ``Predictor.predict_strokes``, the call the
window makes on every throttled pen move and on pen release. The model is
the bundled one (what users see first) and, for comparison, ``fast``. The
two halves are timed separately too, and so is one ``model.predict()`` call,
the overhead the predictor exists to avoid. Pendigits was sampled every
100 ms; the canvas records a point per mouse move, so the bundled model is
also timed on the same drawings resampled as a mouse draws them (a point
every 3 px of a 280 px box), where rendering costs more.
"""
from __future__ import annotations

import time

import numpy as np

from benchmarks.common import Figure, fig_from_samples, log, main, not_measured, pendigits, percentile, recipe_model


def _time_each(fn, items, repeat: int = 1) -> list[float]:
    out = []
    for _ in range(repeat):
        for item in items:
            t = time.perf_counter()
            fn(item)
            out.append((time.perf_counter() - t) * 1000)
    return out


def as_canvas(drawing, box: float = 280.0, step: float = 3.0):
    """The drawing scaled into the canvas's 280 px box, with a point every ``step`` px, as mouse moves record."""
    from model.strokes import Drawing

    scale = box / max(drawing.width, drawing.height)
    strokes = []
    for stroke in drawing.strokes:
        pts = np.asarray(stroke, dtype=float)[:, :2] * scale
        dense = [pts[0]]
        for a, b in zip(pts[:-1], pts[1:]):
            n = max(1, int(np.ceil(np.linalg.norm(b - a) / step)))
            dense += [a + (b - a) * (i / n) for i in range(1, n + 1)]
        strokes.append([[round(float(x), 2), round(float(y), 2)] for x, y in dense])
    return Drawing(strokes, box, box, drawing.label)


def measure(model, drawings, label: str, key: str, temperature: float = 1.0, novelty=None) -> list[Figure]:
    from model.inference import Predictor
    from model.strokes import strokes_to_input

    # As the window predicts with a loaded model: its "not a digit" statistics included (model.novelty).
    predictor = Predictor(model, temperature, frozen=True, interactive=True, novelty=novelty)
    for d in drawings[:30]:  # warm up: trace, allocate, fill caches
        predictor.predict_strokes(d.strokes, d.width, d.height)
    whole = _time_each(lambda d: predictor.predict_strokes(d.strokes, d.width, d.height), drawings)
    render = _time_each(lambda d: strokes_to_input(d.strokes, d.width, d.height), drawings)
    inputs = [x for x in (strokes_to_input(d.strokes, d.width, d.height) for d in drawings) if x is not None]
    predict = _time_each(predictor.predict_input, inputs)
    p99 = percentile(whole, 99)
    med = float(np.median(whole))
    points = int(np.median([sum(len(s) for s in d.strokes) for d in drawings]))
    f = fig_from_samples(f"{key}_drawing_ms", f"{label}: one drawing, preprocessing + prediction", whole, "ms",
                         target="median <= 2 ms, p99 <= 5 ms", spread="p1-p99",
                         note=f"p99 {p99:.2f} ms, max {max(whole):.1f} ms over {len(whole)} drawings "
                              f"(median {points} points each)")
    f.met = med <= 2.0 and p99 <= 5.0
    return [
        f,
        fig_from_samples(f"{key}_render_ms", f"{label}: preprocessing alone (strokes_to_input)", render, "ms",
                         spread="p1-p99", note=f"p99 {percentile(render, 99):.2f} ms"),
        fig_from_samples(f"{key}_predict_ms", f"{label}: prediction alone (Predictor.predict_input)", predict,
                         "ms", spread="p1-p99", note=f"p99 {percentile(predict, 99):.2f} ms"),
    ]


def run(opts) -> list[Figure]:
    drawings = pendigits(200 if opts.quick else opts.drawings)
    if drawings is None:
        return [not_measured("latency", "one drawing, preprocessing + prediction", "pendigits file missing",
                             "median <= 2 ms, p99 <= 5 ms")]
    figures = []
    from benchmarks.common import BUNDLED_MODEL

    if BUNDLED_MODEL.is_file():
        from model.modelio import load_model

        loaded = load_model(BUNDLED_MODEL)
        figures += measure(loaded.model, drawings, f"bundled model ({loaded.arch})", "bundled", loaded.temperature,
                           loaded.novelty)
        canvas = [as_canvas(d) for d in drawings]
        figures += measure(loaded.model, canvas, f"bundled model ({loaded.arch}), canvas-density strokes",
                           "bundled_canvas", loaded.temperature, loaded.novelty)[:2]
        bundled = loaded.model
    else:
        figures.append(not_measured("bundled_drawing_ms", "bundled model: one drawing, preprocessing + prediction",
                                    "assets/model.keras does not exist yet", "median <= 2 ms, p99 <= 5 ms"))
        bundled = None
    fast, how = recipe_model("fast", log=log)
    if fast is not None:
        figures += measure(fast.model, drawings, "fast", "fast", novelty=fast.novelty)
    # The reference point: what a plain model.predict() costs for one drawing.
    model = bundled if bundled is not None else (fast.model if fast is not None else None)
    if model is not None:
        x = np.zeros((1, 28, 28, 1), np.float32)
        model.predict(x, verbose=0)
        calls = [0.0] * (5 if opts.quick else 20)
        for i in range(len(calls)):
            t = time.perf_counter()
            model.predict(x, verbose=0)
            calls[i] = (time.perf_counter() - t) * 1000
        figures.append(fig_from_samples("model_predict_ms", "for reference: one model.predict() call", calls, "ms",
                                        note="what Predictor avoids"))
    return figures


def _args(parser) -> None:
    parser.add_argument("--drawings", type=int, default=1000, help="pendigits drawings to time")


if __name__ == "__main__":
    main(run, __doc__, _args)
