"""3,498 drawings through ``digits predict --strokes FILE`` (the size of pendigits' held-out test set).

The file is the first 3,498 lines of the pendigits file. Each run is a fresh
process; the figure is the time of the ``predict`` command itself (read the
file, load the model, render every drawing, predict in batches, write 3,498
JSON lines), not the interpreter's and TensorFlow's start-up, which is
reported beside it. A breakdown of the stages follows from one run: the
command itself overlaps rendering (Python) with prediction (TensorFlow, in a
helper thread), so it takes less than their sum.
"""
from __future__ import annotations

import io
import json
import sys
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path

from benchmarks.common import (
    BUNDLED_MODEL,
    PENDIGITS,
    Figure,
    child_env,
    fig_from_samples,
    last_json_line,
    log,
    main,
    not_measured,
    recipe_model,
    run_child,
)

COUNT = 3498


def child(model_path: str, strokes_path: str) -> None:
    t_start = time.perf_counter()
    from model.backend import keras

    keras()  # TensorFlow's import: start-up, not the command's work
    from model.cli import run

    t_ready = time.perf_counter()
    out = io.StringIO()
    with redirect_stdout(out):
        code = run(["predict", "--model", model_path, "--strokes", strokes_path])
    t_done = time.perf_counter()
    lines = out.getvalue().count("\n")
    # The stages, once more, by hand.
    from model.inference import Predictor
    from model.modelio import load_model
    from model.strokes import read_drawings, strokes_to_input

    t = time.perf_counter()
    drawings = read_drawings(strokes_path)
    t_read = time.perf_counter() - t
    t = time.perf_counter()
    loaded = load_model(model_path)
    t_load = time.perf_counter() - t
    t = time.perf_counter()
    inputs = [strokes_to_input(d.strokes, d.width, d.height) for d in drawings]
    t_render = time.perf_counter() - t
    predictor = Predictor(loaded.model, loaded.temperature, frozen=True, novelty=loaded.novelty)  # as the command
    t = time.perf_counter()
    predictions = predictor.predict_inputs(inputs)
    t_predict = time.perf_counter() - t
    t = time.perf_counter()
    text = "".join(json.dumps(p.to_json()) + "\n" for p in predictions)
    t_write = time.perf_counter() - t
    print(json.dumps({"code": code, "lines": lines, "startup": t_ready - t_start, "command": t_done - t_ready,
                      "read": t_read, "load": t_load, "render": t_render, "predict": t_predict, "json": t_write,
                      "chars": len(text)}))


def run(opts) -> list[Figure]:
    label = "3,498 drawings via predict --strokes (excl. start-up)"
    if not PENDIGITS.is_file():
        return [not_measured("bulk_predict_s", label, "pendigits file missing", "<= 3 s")]
    if BUNDLED_MODEL.is_file():
        model_path, which = BUNDLED_MODEL, "bundled model"
    else:
        loaded, how = recipe_model("fast", log=log)
        if loaded is None:
            return [not_measured("bulk_predict_s", label, how, "<= 3 s")]
        model_path, which = loaded.path, "fast model (no bundled model yet)"
    tmp = Path(tempfile.mkdtemp(prefix="digits-bench-"))
    strokes = tmp / "strokes-3498.jsonl"
    with open(PENDIGITS, encoding="utf-8") as src:
        strokes.write_text("".join(line for _, line in zip(range(COUNT), src)), encoding="utf-8")
    reps = 1 if opts.quick else opts.reps
    results = []
    for _ in range(reps):
        code, out, err, _wall = run_child(["-m", "benchmarks.bulk_predict", "--child", str(model_path), str(strokes)],
                                         timeout=300, env=child_env())
        r = last_json_line(out)
        if code != 0 or r is None or r["code"] != 0 or r["lines"] != COUNT:
            return [not_measured("bulk_predict_s", label, f"the child failed (exit {code}): {err.strip()[-300:]}",
                                 "<= 3 s")]
        results.append(r)
    stages = results[-1]
    breakdown = ", ".join(f"{k} {stages[k]:.2f} s" for k in ("read", "load", "render", "predict", "json"))
    return [
        fig_from_samples("bulk_predict_s", label, [r["command"] for r in results], "s", target="<= 3 s",
                         limit=3.0, note=f"{which}; the stages, timed one after the other in the same process: "
                                                   f"{breakdown} (the command overlaps rendering and prediction)"),
        fig_from_samples("bulk_predict_startup_s", "  process start-up (Python + TensorFlow import)",
                         [r["startup"] for r in results], "s"),
    ]


def _args(parser) -> None:
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--child", nargs=2, metavar=("MODEL", "STROKES"), help=argparse_hidden())


def argparse_hidden():
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    if "--child" in sys.argv:
        i = sys.argv.index("--child")
        child(sys.argv[i + 1], sys.argv[i + 2])
    else:
        main(run, __doc__, _args)
