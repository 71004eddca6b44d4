"""Ablations: each speed change of issue 5 against what it replaced, interleaved in one run.

Not part of the default suite (it takes about five minutes): ``python -m
benchmarks ablations``. Each pair runs old, new, old, new ... in one process
(or in fresh processes, for memory), so load changes hit both sides.

- ``fast`` architecture and recipe, all through ``train``, each repetition with
  its own random seed: the first network (5x5x24 and 3x3x32 convolutions,
  "same" padding, dense 256, one epoch), the second (strided 5x5x32, 3x3x48,
  dense 256, two epochs), the third (3x3x32 and a batch-normalised dense
  layer over the whole 28x28), the fourth (the same over the middle 24x24),
  the fifth (the same, trained on labels smoothed by 0.1) and today's (the
  same with fixed cosine patterns as its first convolution). ``--only fast
  --sides smoothed,now`` compares the last two alone.
- Input pipeline: ``fit(x_float, y)`` (Keras's tf.data adapter) against
  ``train``'s PyDataset of uint8 images: step time and the wait after the
  last batch.
- Building optimizer and metric variables before ``fit``: time to the first batch.
- Evaluation: ``model.evaluate`` against the predictor's fixed-shape calls (5,000 images).
- XLA (``jit_compile=True``) against TensorFlow's default (oneDNN kernels): step time.
- One-drawing inference: ``model.predict``, a direct ``model(x)`` call and
  ``predict_on_batch`` (what ``Predictor`` uses).
- Peak memory training ``seed``: float32 input against uint8 (fresh processes).
"""
from __future__ import annotations

import json
import sys
import time

import numpy as np

from benchmarks.common import Figure, child_env, last_json_line, log, main, mnist_splits, run_child


def _old_fast():
    from model.backend import keras

    k = keras()
    layers = k.layers
    return k.Sequential([
        k.Input(shape=(28, 28, 1), name="image"),
        layers.Conv2D(24, 5, padding="same"), layers.MaxPooling2D(2), layers.ReLU(),
        layers.Conv2D(32, 3, padding="same"), layers.MaxPooling2D(2), layers.ReLU(),
        layers.Flatten(), layers.Dense(256, activation="relu"), layers.Dense(10, activation="softmax"),
    ], name="fast")


def _strided_fast(second_channels: int, normalised_dense: bool, cropped: bool = False):
    """A builder of an earlier strided ``fast``: the whole 28x28 (``cropped``: the middle 24x24), a learned 5x5x32
    at stride 2, 3x3x``second_channels``."""

    def build():
        from model.backend import keras

        k = keras()
        layers = k.layers
        dense = ([layers.Dense(256, use_bias=False), layers.BatchNormalization(momentum=0.9), layers.ReLU()]
                 if normalised_dense else [layers.Dense(256, activation="relu")])
        return k.Sequential([
            k.Input(shape=(28, 28, 1), name="image"), *([layers.Cropping2D(2)] if cropped else []),
            layers.Conv2D(32, 5, strides=2, activation="relu"),
            layers.Conv2D(second_channels, 3, activation="relu"),
            layers.MaxPooling2D(2), layers.Flatten(), *dense, layers.Dense(10, activation="softmax"),
        ], name="fast")

    return build


def _train_fast(side: str, seed: int) -> dict:
    import dataclasses

    from benchmarks.time_to_99 import CHECKPOINTS, one_run
    from model import architectures

    saved = architectures.ARCHITECTURES["fast"]
    smoothing = saved.recipe.label_smoothing
    earlier = {  # side: builder, parameters, epochs of the recipe, label smoothing
        "first": (_old_fast, 411802, 1, 0.0),
        "c48": (_strided_fast(48, normalised_dense=False), 324730, saved.recipe.epochs, 0.0),
        "uncropped": (_strided_fast(32, normalised_dense=True), 218474, saved.recipe.epochs, 0.0),
        "cropped": (_strided_fast(32, normalised_dense=True, cropped=True), 144746, saved.recipe.epochs, 0.0),
        "smoothed": (_strided_fast(32, normalised_dense=True, cropped=True), 144746, saved.recipe.epochs, smoothing),
    }
    if side in earlier:
        builder, params, epochs, smoothing = earlier[side]
        recipe = dataclasses.replace(saved.recipe, epochs=epochs, label_smoothing=smoothing)
        architectures.ARCHITECTURES["fast"] = dataclasses.replace(saved, builder=builder, params=params, recipe=recipe)
    try:
        return one_run("fast", **CHECKPOINTS["fast"], seed=seed)
    finally:
        architectures.ARCHITECTURES["fast"] = saved


FAST_SIDES = {
    "first": "first fast (24/32 same, 1 epoch)",
    "c48": "second fast (strided 32/48, 2 epochs)",
    "uncropped": "third fast (strided 32/32, normalised dense, whole 28x28)",
    "cropped": "fourth fast (the same over the middle 24x24)",
    "smoothed": "fifth fast (the same, labels smoothed by 0.1)",
    "now": "fast now (the same, its first convolution fixed cosine patterns)",
}


def ablate_fast(reps: int, sides: list[str] | None = None) -> list[Figure]:
    sides = sides or list(FAST_SIDES)
    runs = {side: [] for side in sides}
    for rep in range(reps):
        for side in sides:
            r = _train_fast(side, seed=rep)
            runs[side].append(r)
            log(f"  fast {side}: final {r['final_test_accuracy']:.4f}, time to 99% {r['time_to_99']}, "
                f"train() {r['call_seconds']:.2f} s (test-set checkpoints subtracted)")
    figs = []
    for side in sides:
        label, rs = FAST_SIDES[side], runs[side]
        reached = [r["time_to_99"] for r in rs if r["time_to_99"] is not None]
        calls = [r["call_seconds"] for r in rs]
        figs.append(Figure(f"ablate_fast_{side}_call", f"{label}: whole train() call", float(np.median(calls)),
                           "s", (min(calls), max(calls)), n=len(rs),
            note=f"final test accuracy {[round(100 * r['final_test_accuracy'], 2) for r in rs]} %; reached 99.0% "
                 f"in {len(reached)}/{len(rs)} runs" + (f", median {np.median(reached):.2f} s" if reached else "")
                 + f" (at epochs {[r['position_at_99'] and round(r['position_at_99'], 2) for r in rs]})"))
    return figs


def ablate_pipeline(reps: int) -> list[Figure]:
    from benchmarks.overhead import bare_fit, plain_fit
    from model.training import TrainConfig

    data = mnist_splits()
    config = TrainConfig(arch="fast", epochs=1)
    plain, tails, pyds = [], [], []
    for _ in range(reps):
        p, tail = plain_fit(config, data)
        plain.append(p)
        tails.append(tail)
        pyds.append(bare_fit(config, data))
        log(f"  pipeline: plain {p:.2f} s (tail {tail:.2f} s), PyDataset {pyds[-1]:.2f} s")
    return [
        Figure("ablate_pipeline_plain", "fit(x_float, y), fast, 1 epoch + validation", float(np.median(plain)), "s",
               (min(plain), max(plain)), n=reps,
               note=f"waits after the last batch: {[round(t, 2) for t in tails]} s"),
        Figure("ablate_pipeline_pyds", "fit(PyDataset of uint8), same work", float(np.median(pyds)), "s",
               (min(pyds), max(pyds)), n=reps),
    ]


def ablate_prebuild(reps: int) -> list[Figure]:
    from model import training
    from model.training import TrainConfig, train

    data = mnist_splits().head(256 * 4, 0, 0)
    saved = training._build_before_fit  # noqa: SLF001
    out = {"without": [], "with": []}
    for _ in range(reps):
        for side in ("without", "with"):
            training._build_before_fit = saved if side == "with" else (lambda *a: None)  # noqa: SLF001
            stamps: list[float] = []
            t = time.perf_counter()
            train(TrainConfig(arch="fast", epochs=1, progress_interval=0), data,
                  on_batch=lambda p, stamps=stamps: stamps.append(time.perf_counter()))
            out[side].append(stamps[0] - t)
    training._build_before_fit = saved  # noqa: SLF001
    return [Figure(f"ablate_prebuild_{side}", f"train() call to first batch, {side} building variables first",
                   float(np.median(v)), "s", (min(v), max(v)), n=len(v)) for side, v in out.items()]


def ablate_eval(reps: int) -> list[Figure]:
    from model import architectures
    from model.inference import Predictor

    data = mnist_splits()
    model = architectures.get("fast").build()
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    predictor = Predictor(model, 1.0)
    out = {"evaluate": [], "predictor": []}
    for _ in range(reps + 1):
        t = time.perf_counter()
        model.evaluate(data.x_val, data.y_val, batch_size=256, verbose=0)
        out["evaluate"].append(time.perf_counter() - t)
        t = time.perf_counter()
        predictor.probabilities(data.x_val)
        out["predictor"].append(time.perf_counter() - t)
    return [Figure(f"ablate_eval_{side}", f"5,000 validation images: {side}", float(np.median(v[1:])), "s",
                   (min(v[1:]), max(v[1:])), n=reps, note=f"first call {v[0]:.2f} s (tracing)")
            for side, v in out.items()]


def ablate_xla(reps: int) -> list[Figure]:
    from model import architectures
    from model.backend import keras
    from model.training import TrainConfig, make_optimizer

    k = keras()
    x = (np.random.default_rng(0).random((256, 28, 28, 1)) * 255).astype("uint8")
    y = np.random.default_rng(1).integers(0, 10, 256).astype("int32")
    models = {}
    for jit in (False, True):
        m = k.Sequential([k.Input((28, 28, 1), dtype="uint8"), k.layers.Rescaling(1 / 255.0),
                          architectures.get("fast").build()])
        m.compile(optimizer=make_optimizer(TrainConfig(arch="fast").resolved(), 430),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"], jit_compile=jit)
        for _ in range(3):
            m.train_on_batch(x, y)
        models[jit] = m
    out = {False: [], True: []}
    for _ in range(reps * 3):
        for jit, m in models.items():
            t = time.perf_counter()
            for _ in range(10):
                m.train_on_batch(x, y)
            out[jit].append((time.perf_counter() - t) * 100)
    return [Figure(f"ablate_xla_{'on' if jit else 'off'}", f"fast, one step of 256: jit_compile={jit}",
                   float(np.median(v)), "ms", (min(v), max(v)), n=len(v)) for jit, v in out.items()]


def ablate_predict(reps: int) -> list[Figure]:
    from model import architectures

    model = architectures.get("fast").build()
    x = np.zeros((1, 28, 28, 1), np.float32)
    calls = {"model.predict": lambda: model.predict(x, verbose=0),
             "model(x) eager": lambda: np.asarray(model(x, training=False)),
             "predict_on_batch": lambda: model.predict_on_batch(x)}
    out = {name: [] for name in calls}
    for fn in calls.values():
        fn()
    for _ in range(reps * 20):
        for name, fn in calls.items():
            t = time.perf_counter()
            fn()
            out[name].append((time.perf_counter() - t) * 1000)
    return [Figure(f"ablate_predict_{name.split('(')[0].replace('.', '_').replace(' ', '_')}",
                   f"one drawing through {name}", float(np.median(v)), "ms",
                   (float(np.percentile(v, 1)), float(np.percentile(v, 99))), "p1-p99", len(v)) for name, v in
            out.items()]


def memory_child(uint8: bool) -> None:
    from benchmarks.common import peak_rss_mb
    from model import training
    from model.data import load_splits

    if not uint8:
        training.as_uint8_images = lambda x, chunk=4096: None
    data = load_splits(notify=lambda m: None)
    training.train(training.TrainConfig(arch="seed", epochs=1), data.head(len(data.x_train)))
    print(json.dumps({"peak_mb": peak_rss_mb()}))


def ablate_memory() -> list[Figure]:
    figs = []
    for uint8 in (False, True):
        code, out, err, _ = run_child(["-m", "benchmarks.ablations", "--memory-child", str(int(uint8))],
                                      timeout=600, env=child_env())
        r = last_json_line(out)
        label = f"peak RSS training seed, {'uint8' if uint8 else 'float32'} input"
        if r is None:
            figs.append(Figure(f"ablate_memory_{int(uint8)}", label, None, "GB", note=f"failed: {err[-200:]}"))
        else:
            figs.append(Figure(f"ablate_memory_{int(uint8)}", label, r["peak_mb"] * 2**20 / 1e9, "GB", n=1))
    return figs


def run(opts) -> list[Figure]:
    reps = 1 if opts.quick else opts.reps
    figures = []
    for name, fn in (("predict", lambda: ablate_predict(reps)), ("eval", lambda: ablate_eval(reps)),
                     ("prebuild", lambda: ablate_prebuild(reps)), ("xla", lambda: ablate_xla(reps)),
                     ("pipeline", lambda: ablate_pipeline(reps)), ("fast", lambda: ablate_fast(reps, opts.sides)),
                     ("memory", ablate_memory)):
        if opts.only and name not in opts.only:
            continue
        log(f"  ablation: {name}")
        try:
            figures += fn()
        except Exception as exc:  # noqa: BLE001 - one failed ablation must not lose the others
            figures.append(Figure(f"ablate_{name}", f"ablation {name}", None, note=f"failed: {exc}"))
    return figures


def _args(parser) -> None:
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--only", type=lambda text: text.split(","), help="ablations to run, e.g. fast,xla")
    parser.add_argument("--sides", type=lambda text: text.split(","),
                        help=f"fast networks to compare (default all: {','.join(FAST_SIDES)})")


if __name__ == "__main__":
    if "--memory-child" in sys.argv:
        memory_child(bool(int(sys.argv[sys.argv.index("--memory-child") + 1])))
    else:
        main(run, __doc__, _args)
