"""Overhead of the app's training path over a bare ``model.fit`` of the same model, data and config.

Three ways to train, interleaved in each repetition so a change of load hits
all of them:

- ``bare``: ``model.fit`` of the same model on the same input pipeline as
  ``train`` builds it (uint8 images scaled in the model, a PyDataset,
  optimizer built first), with one callback that runs the same validation
  pass at each epoch's end; no progress, stop or NaN checks.
- ``train()``: ``model.training.train`` with progress callables (throttled to
  about 20 a second), as the CLI calls it.
- ``app``: the window's ``TrainingPanel`` starting a ``TrainingWorker`` on a
  QThread; progress reaches the GUI thread as queued signals and updates the
  live plots and the progress bar, as in the app (offscreen).

Each figure is the ``fit`` time (``TrainResult.train_seconds`` for the two app
paths): data loading, model saving and the final test evaluation are the
same for all and outside the training loop. Two configs: ``fast``'s recipe on
the full data, and ``seed``'s recipe (batch 32, where per-batch costs weigh
most) for one epoch on 16,000 images. For reference, once per config, the
plain script way: ``model.fit(x_float, y, validation_data=val)``, which on
TensorFlow often waits 10 s for tf.data's autotuner when it ends (see
OPTIMISATIONS.md).
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import Figure, log, main, mnist_splits


def bare_fit(config, data) -> float:
    """fit() on exactly the model, wrapper and input pipeline train() builds, with nothing but validation."""
    import math

    from model import architectures, training
    from model.backend import keras
    from model.inference import Predictor

    k = keras()
    config = config.resolved()
    k.utils.set_random_seed(config.seed)
    model = architectures.get(config.arch).build()
    x = training.as_uint8_images(data.x_train)
    front = [k.Input(shape=architectures.INPUT_SHAPE, dtype="uint8"), k.layers.Rescaling(1 / 255.0)]
    if config.augment:
        from model.augment import drawn_digit_augmentation

        front.append(drawn_digit_augmentation())
    trainable = k.Sequential([*front, model])
    training.compile_for_training(trainable, config, math.ceil(len(x) / config.batch_size))
    training._build_before_fit(trainable, x[:1], data.y_train[:1])  # noqa: SLF001 - the same pipeline
    predictor = Predictor(model, 1.0)

    class Validate(k.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            training._loss_and_accuracy(predictor.probabilities(data.x_val), data.y_val)  # noqa: SLF001

    t = time.perf_counter()
    trainable.fit(training._batches(x, data.y_train, config.batch_size, config.seed),  # noqa: SLF001
                  epochs=config.epochs, shuffle=False, callbacks=[Validate()], verbose=0)
    return time.perf_counter() - t


def plain_fit(config, data) -> tuple[float, float]:
    """The plain script: model.fit on the float arrays; (fit seconds, seconds after the last batch)."""
    import math

    from model import architectures
    from model.backend import keras
    from model.training import compile_for_training

    k = keras()
    config = config.resolved()
    k.utils.set_random_seed(config.seed)
    model = architectures.get(config.arch).build()
    compile_for_training(model, config, math.ceil(len(data.x_train) / config.batch_size))
    last = [0.0]

    class LastBatch(k.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            last[0] = time.perf_counter()

    t = time.perf_counter()
    model.fit(data.x_train, data.y_train, batch_size=config.batch_size, epochs=config.epochs, shuffle=True,
              validation_data=(data.x_val, data.y_val), validation_batch_size=256, verbose=0,
              callbacks=[LastBatch()])
    end = time.perf_counter()
    return end - t, end - last[0]


def core_train(config, data) -> float:
    from model.training import train

    counts = [0, 0]

    def on_batch(p):
        counts[0] += 1

    def on_epoch(p):
        counts[1] += 1

    result = train(config, data, on_batch=on_batch, on_epoch=on_epoch, should_stop=lambda: False)
    return result.train_seconds


class AppPath:
    """The window's training panel, its worker thread and live plots, without the rest of the window."""

    def __init__(self):
        from PySide6.QtWidgets import QApplication

        self.app = QApplication.instance() or QApplication(["bench"])
        self.models_dir = Path(tempfile.mkdtemp(prefix="digits-bench-models-"))

    def run(self, config, data) -> tuple[float, int]:
        from PySide6.QtCore import QEventLoop, QTimer

        from gui.training_panel import TrainingPanel

        panel = TrainingPanel(data_loader=lambda: data, models_dir=lambda: self.models_dir)
        panel.resize(900, 500)
        panel.show()
        combo = panel.arch_combo
        combo.setCurrentIndex(combo.findData(config.arch))
        resolved = config.resolved()
        panel.epochs_spin.setValue(resolved.epochs)
        panel.batch_spin.setValue(resolved.batch_size)
        panel.lr_spin.setValue(resolved.learning_rate)
        outcome = {}
        batches = [0]
        loop = QEventLoop()
        panel.batch_ended.connect(lambda p: batches.__setitem__(0, batches[0] + 1))
        panel.training_finished.connect(lambda o: (outcome.setdefault("o", o), loop.quit()))
        panel.training_failed.connect(lambda m: (outcome.setdefault("error", m), loop.quit()))
        QTimer.singleShot(0, panel.start)
        loop.exec()
        panel.shutdown()
        self.app.processEvents()
        panel.close()
        panel.deleteLater()
        if "error" in outcome:
            raise RuntimeError(outcome["error"])
        return outcome["o"].result.train_seconds, batches[0]


def run(opts) -> list[Figure]:
    from model.training import TrainConfig

    data = mnist_splits()
    try:
        app = AppPath()
        app_error = None
    except Exception as exc:  # noqa: BLE001 - the window may not exist yet; measure what exists
        app, app_error = None, f"{type(exc).__name__}: {exc}"
    configs = {
        "fast": (TrainConfig(arch="fast"), data, opts.reps),
        "seed": (TrainConfig(arch="seed", epochs=1), data.head(16000, len(data.x_val), 0), max(2, opts.reps - 1)),
    }
    figures = []
    for name, (config, subset, reps) in configs.items():
        reps = 1 if opts.quick else reps
        times: dict[str, list[float]] = {"bare": [], "core": [], "app": []}
        signals = []
        bare_fit(config, subset.head(2048, 256, 0))  # warm the process up once (first-use allocations)
        plain, tail = plain_fit(config, subset)
        for _ in range(reps):
            times["bare"].append(bare_fit(config, subset))
            times["core"].append(core_train(config, subset))
            if app is not None:
                try:
                    seconds, n = app.run(config, subset)
                    times["app"].append(seconds)
                    signals.append(n)
                except Exception as exc:  # noqa: BLE001
                    app, app_error = None, f"{type(exc).__name__}: {exc}"
            log(f"  {name}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items() if v))
        bare = float(np.median(times["bare"]))
        desc = (f"{config.resolved().epochs} epoch(s), batch {config.resolved().batch_size}, "
                f"{len(subset.x_train):,} images; bare fit median {bare:.2f} s")
        figures.append(Figure(f"plain_fit_{name}", f"  for reference, {name}: plain model.fit(x, y) / bare fit",
                              plain / bare, "ratio", n=1,
                              note=f"{plain:.2f} s, of which {tail:.2f} s after the last batch"))
        for path, label in (("core", "train() with progress callables"), ("app", "app: worker thread, signals, "
                                                                                 "live plots")):
            key = f"overhead_{name}_{path}"
            full = f"Overhead, {name}: {label} / bare fit"
            if not times[path]:
                figures.append(Figure(key, full, None, "ratio", target="<= 1.05",
                                      note=f"not measured: {app_error or 'no runs'}"))
                continue
            ratio = float(np.median(times[path])) / bare
            pairs = [a / b for a, b in zip(times[path], times["bare"])]
            note = f"{desc}; {path} median {np.median(times[path]):.2f} s"
            if path == "app" and signals:
                note += f"; {int(np.median(signals))} progress signals a run"
            figures.append(Figure(key, full, ratio, "ratio", (min(pairs), max(pairs)), "per-rep ratios", len(pairs),
                                  "<= 1.05", ratio <= 1.05, note, [round(x, 3) for x in pairs]))
    return figures


def _args(parser) -> None:
    parser.add_argument("--reps", type=int, default=3)


if __name__ == "__main__":
    main(run, __doc__, _args)
