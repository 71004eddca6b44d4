"""What loading costs, in fresh processes: Keras on TensorFlow with JAX hidden or not, and XLA for one drawing.

Two choices in ``model/`` trade start-up time or memory, and this keeps their
costs measured:

- ``model.backend`` hides JAX while Keras loads on TensorFlow, because
  TensorFlow's import loads JAX for its TFLite converter whenever JAX is
  installed. Measured: ``keras()``'s seconds and resident memory, as the app
  runs it and with JAX left visible. This needs JAX installed (the test extra has it).
- The window predicts one drawing through an XLA-compiled graph
  (``Predictor(frozen=True, interactive=True)``, OPTIMISATIONS.md item 29).
  Measured: the peak resident memory of a process that loads the bundled
  model and predicts 50 drawings one by one, with XLA and without.

Each variant runs in its own interpreter, alternating, a few times each.
"""
from __future__ import annotations

import importlib.util
import json
import sys
import time

from benchmarks.common import (
    Figure,
    child_env,
    fig_from_samples,
    last_json_line,
    main,
    peak_rss_mb,
    rss_mb,
    run_child,
)


def child(which: str) -> None:
    import model.backend as backend

    if which == "jax-visible":
        from contextlib import nullcontext

        backend._jax_hidden = nullcontext  # noqa: SLF001 - the variant measured: without the hiding
    started = time.perf_counter()
    backend.keras()
    out = {"keras_seconds": time.perf_counter() - started, "keras_rss_mb": rss_mb(),
           "jax_loaded": "jax" in sys.modules}
    if which in ("xla", "plain"):
        import numpy as np

        from model import paths
        from model.inference import Predictor
        from model.modelio import load_model

        loaded = load_model(paths.BUNDLED_MODEL)
        predictor = Predictor(loaded.model, loaded.temperature, frozen=True, interactive=which == "xla")
        drawing = np.zeros((28, 28), np.float32)
        drawing[6:22, 13:15] = 1.0  # a stroke: a "1"
        for _ in range(50):
            predictor.probabilities(drawing[None])
        out["peak_mb"] = peak_rss_mb()
    print(json.dumps(out))


def _children(variants: list[str], reps: int) -> dict[str, list[dict]]:
    results: dict[str, list[dict]] = {v: [] for v in variants}
    for _ in range(reps):
        for variant in variants:  # alternating, so a change in the machine's load hits each alike
            code, out, err, _wall = run_child(["-m", "benchmarks.startup_memory", "--child", variant],
                                              timeout=300, env=child_env())
            r = last_json_line(out)
            if code == 0 and r is not None:
                results[variant].append(r)
    return results


def run(opts) -> list[Figure]:
    reps = 1 if opts.quick else 3
    figures = []
    if importlib.util.find_spec("jax") is not None:
        r = _children(["jax-hidden", "jax-visible"], reps)
        for variant, label in (("jax-hidden", "keras() on TensorFlow, JAX installed and hidden (as the app runs it)"),
                               ("jax-visible", "  keras() with JAX left visible to TensorFlow's import")):
            runs = r[variant]
            loaded = sorted({x["jax_loaded"] for x in runs})
            figures.append(fig_from_samples(f"keras_import_seconds_{variant}", label + ": seconds",
                                            [x["keras_seconds"] for x in runs], "s"))
            figures.append(fig_from_samples(f"keras_import_rss_{variant}", label + ": resident memory",
                                            [x["keras_rss_mb"] for x in runs], "MB",
                                            note=f"JAX loaded: {loaded}"))
    else:
        figures.append(Figure("keras_import_seconds_jax-hidden", "keras() with JAX hidden or visible", None, "s",
                              note="not measured: JAX is not installed"))
    r = _children(["xla", "plain"], reps)
    for variant, label in (("xla", "bundled model, 50 drawings one by one through XLA (the window): peak RSS"),
                           ("plain", "  the same through TensorFlow's plain graph: peak RSS")):
        figures.append(fig_from_samples(f"predict_peak_rss_{variant}", label, [x["peak_mb"] for x in r[variant]],
                                        "MB"))
    return figures


if __name__ == "__main__":
    if "--child" in sys.argv:
        child(sys.argv[sys.argv.index("--child") + 1])
    else:
        main(run, __doc__)
