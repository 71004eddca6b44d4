"""Peak resident memory while training ``seed`` on full MNIST, in a fresh process, beside the plain reference script.

The app's path: ``load_splits()`` then ``train(TrainConfig(arch="seed"))``
with one epoch (the recipe's later epochs repeat the first: same arrays, same
pipeline), then the test evaluation. The reference is the article's plain
Keras script: the npz loaded, scaled to float32, one-hot labels,
``model.fit(batch_size=32, validation_data=test)``. Peak is the kernel's
high-water mark (VmHWM, the same as ``getrusage``'s ``ru_maxrss``); a sampler
thread records RSS after each stage.
"""
from __future__ import annotations

import json
import sys
import threading
import time

from benchmarks.common import Figure, child_env, last_json_line, log, main, run_child

GB = 1e9


def _vm(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def child(which: str, epochs: int) -> None:
    stages: list[tuple[str, float, float]] = []
    t0 = time.perf_counter()

    def mark(name: str) -> None:
        stages.append((name, round(time.perf_counter() - t0, 1), round(_vm("VmRSS") / GB, 3)))

    samples: list[int] = []
    done = threading.Event()

    def sampler() -> None:
        while not done.wait(0.05):
            samples.append(_vm("VmRSS"))

    threading.Thread(target=sampler, daemon=True).start()
    from model.backend import keras

    k = keras()
    mark("keras imported")
    if which == "app":
        from model.data import load_splits
        from model.training import TrainConfig, train

        data = load_splits(notify=lambda m: None)
        mark("data loaded")
        result = train(TrainConfig(arch="seed", epochs=epochs), data,
                       on_epoch=lambda p: mark(f"epoch {p.epoch} ended"))
        mark("train() returned")
        extra = {"test_accuracy": result.test_accuracy}
    else:
        import numpy as np

        from model import architectures, paths

        with np.load(paths.BUNDLED_MNIST) as npz:
            x_train, y_train, x_test, y_test = (npz[n] for n in ("x_train", "y_train", "x_test", "y_test"))
        x_train = x_train.reshape(-1, 28, 28, 1).astype("float32") / 255
        x_test = x_test.reshape(-1, 28, 28, 1).astype("float32") / 255
        y_train = k.utils.to_categorical(y_train, 10)
        y_test = k.utils.to_categorical(y_test, 10)
        mark("data loaded")
        model = architectures.get("seed").build()
        model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
        model.fit(x_train, y_train, batch_size=32, epochs=epochs, validation_data=(x_test, y_test), verbose=0)
        mark("fit returned")
        extra = {"test_accuracy": float(model.evaluate(x_test, y_test, verbose=0)[1])}
    done.set()
    print(json.dumps({"peak": _vm("VmHWM"), "sampled_peak": max(samples, default=0), "stages": stages, **extra}))


def run(opts) -> list[Figure]:
    figures = []
    for which, label in (("app", "Peak RSS training seed on full MNIST (app's train())"),
                         ("reference", "  the article's plain Keras script, same model")):
        if which == "reference" and opts.quick:
            continue
        code, out, err, wall = run_child(["-m", "benchmarks.memory", "--child", which, str(opts.epochs)],
                                         timeout=900, env=child_env())
        r = last_json_line(out)
        if code != 0 or r is None:
            figures.append(Figure(f"peak_rss_{which}_gb", label, None, "GB",
                                  note=f"not measured: child failed ({code}): {err.strip()[-300:]}"))
            continue
        stages = "; ".join(f"{name} at {t} s: {rss:.2f} GB" for name, t, rss in r["stages"])
        peak = r["peak"] / GB
        log(f"  {which}: peak {peak:.3f} GB; {stages}")
        fig = Figure(f"peak_rss_{which}_gb", label, peak, "GB", n=1,
                     note=f"{opts.epochs} epoch(s), {wall:.0f} s, test acc {r['test_accuracy']:.4f}; RSS {stages}")
        if which == "app":
            fig.target, fig.met = "<= 1.2 GB", peak <= 1.2
        figures.append(fig)
    return figures


def _args(parser) -> None:
    parser.add_argument("--epochs", type=int, default=1)


if __name__ == "__main__":
    if "--child" in sys.argv:
        i = sys.argv.index("--child")
        child(sys.argv[i + 1], int(sys.argv[i + 2]))
    else:
        main(run, __doc__, _args)
