"""Progress between Keras's ``fit`` and the caller of ``train``: what is reported, and the callback that reports it.

The caller gets plain immutable records (``BatchProgress`` about 20 times a
second, ``EpochProgress`` at each epoch's end with a copy of the weights) and
answers through ``should_stop()``; nothing here knows about threads or Qt.
"""
from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from model.backend import keras

# The metric that carries plain cross-entropy when the training loss is label-smoothed
# (model.training.compile_for_training): what the curves call "loss".
DISPLAYED_LOSS = "crossentropy"


def _displayed_loss(logs: dict) -> float:
    return float(logs.get(DISPLAYED_LOSS, logs.get("loss", np.nan)))


@dataclass(frozen=True)
class BatchProgress:
    epoch: int  # 1-based
    epochs: int
    batch: int  # 1-based, within the epoch
    batches_per_epoch: int
    loss: float  # smoothed per-batch values (exponential moving average)
    accuracy: float
    samples_per_second: float
    eta_seconds: float

    @property
    def position(self) -> float:
        """Where the run is, in epochs (1.5 = half-way through the second epoch)."""
        return self.epoch - 1 + self.batch / self.batches_per_epoch

    @property
    def fraction_done(self) -> float:
        return self.position / self.epochs


@dataclass(frozen=True)
class EpochProgress:
    epoch: int
    epochs: int
    loss: float
    accuracy: float
    val_loss: float | None
    val_accuracy: float | None
    samples_per_second: float
    eta_seconds: float
    weights: list = field(repr=False, default_factory=list)  # a copy, safe to use in another thread
    # Fitted on this epoch's validation split (model.calibration): what makes the weights' probabilities
    # honest before the run's final temperature exists. A label-smoothed network is under-confident.
    temperature: float = 1.0


def _started(call: Callable[[], object]) -> Callable[[], object]:
    """Start ``call`` in a new thread; the returned function waits for it and returns (or raises) its result."""
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread, which raises it
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="digits-validation", daemon=True)
    thread.start()

    def result():
        thread.join()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]

    return result


def bridge_callback(config, n_train, on_batch, on_epoch, should_stop, evaluate_val):
    """The one Keras callback between ``fit`` and the caller (logs out, stop in)."""
    k = keras()
    batches = math.ceil(n_train / config.batch_size)
    total_batches = batches * config.epochs

    class Bridge(k.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.stopped = False
            self.diverged_at: tuple[int, int] | None = None
            self.history: dict[str, list[float]] = {
                "loss": [], "accuracy": [], "val_loss": [], "val_accuracy": [], "seconds": []}
            self.start = time.perf_counter()
            self.batches_done = 0
            # The smoothed curve runs across epochs: restarting it each epoch drew a spike
            # at every epoch boundary from the first, noisy batch.
            self.ema_loss = self.ema_acc = None
            self.validation: Callable[[], object] | None = None  # waits for this epoch's validation

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch + 1
            self.epoch_start = time.perf_counter()
            self.prev_loss_sum = self.prev_acc_sum = 0.0
            self.prev_seen = 0
            self.last_report = 0.0

        def _weights_finite(self) -> bool:
            # Keras clips probabilities inside the loss, so NaN weights can still report a
            # finite loss (and the clip stops NaN gradients reaching the last layer); the
            # first layer's weights are small and poisoned at the first bad step.
            first = self.model.trainable_weights[0]
            return bool(np.isfinite(first.numpy()).all())

        def _rate_and_eta(self, seen_this_epoch: int) -> tuple[float, float]:
            elapsed = time.perf_counter() - self.start
            rate = self.batches_done / elapsed if elapsed > 0 else 0.0
            eta = (total_batches - self.batches_done) / rate if rate > 0 else float("inf")
            epoch_elapsed = time.perf_counter() - self.epoch_start
            return (seen_this_epoch / epoch_elapsed if epoch_elapsed > 0 else 0.0), eta

        def on_train_batch_end(self, batch, logs=None):
            logs = logs or {}
            self.batches_done += 1
            seen = min((batch + 1) * config.batch_size, n_train)
            mean_loss, mean_acc = _displayed_loss(logs), float(logs.get("accuracy", np.nan))
            # Keras reports running means over the epoch; recover this batch's own values.
            n = seen - self.prev_seen
            batch_loss = (mean_loss * seen - self.prev_loss_sum) / n if n else mean_loss
            batch_acc = (mean_acc * seen - self.prev_acc_sum) / n if n else mean_acc
            self.prev_loss_sum, self.prev_acc_sum, self.prev_seen = mean_loss * seen, mean_acc * seen, seen
            now = time.perf_counter()
            last_of_epoch = batch + 1 == batches
            due = now - self.last_report >= config.progress_interval or last_of_epoch
            if due:
                self.last_report = now
            # Reading the weights back costs 0.17 ms, 3% of a batch of 32 through seed; checked as often
            # as progress is reported (and at each epoch's end), a bad step still stops the run within
            # a twentieth of a second, before validation or saving.
            if not math.isfinite(mean_loss) or (due and not self._weights_finite()):
                self.diverged_at = (self.epoch, batch + 1)
                self.model.stop_training = True
                return
            alpha = 0.1
            self.ema_loss = batch_loss if self.ema_loss is None else (1 - alpha) * self.ema_loss + alpha * batch_loss
            self.ema_acc = batch_acc if self.ema_acc is None else (1 - alpha) * self.ema_acc + alpha * batch_acc
            if should_stop is not None and should_stop():
                self.stopped = True
                self.model.stop_training = True
            if on_batch is not None and due:
                rate, eta = self._rate_and_eta(seen)
                on_batch(BatchProgress(self.epoch, config.epochs, batch + 1, batches,
                                       self.ema_loss, self.ema_acc, rate, eta))
            if last_of_epoch and not self.stopped:
                # The weights are final for this epoch. Before on_epoch_end, Keras stops its data
                # threads, which waits out a 0.1 s timeout on their empty queue: validate meanwhile.
                self.validation = _started(evaluate_val)

        def on_epoch_end(self, epoch, logs=None):
            validation, self.validation = self.validation, None
            if self.diverged_at or self.stopped:
                if validation is not None:
                    validation()  # no thread outlives the run
                return  # an unfinished epoch is neither recorded nor validated
            logs = logs or {}
            val_loss, val_acc, temperature = validation() if validation is not None else evaluate_val()
            for key, value in (("loss", _displayed_loss(logs)), ("accuracy", logs.get("accuracy")),
                               ("val_loss", val_loss), ("val_accuracy", val_acc),
                               ("seconds", time.perf_counter() - self.start)):
                self.history[key].append(float(value) if value is not None else float("nan"))
            if on_epoch is not None:
                rate, eta = self._rate_and_eta(n_train)
                on_epoch(EpochProgress(
                    epoch + 1, config.epochs, _displayed_loss(logs),
                    float(logs.get("accuracy", np.nan)), val_loss, val_acc, rate, eta,
                    [w.copy() for w in self.model.get_weights()], temperature,
                ))
            if should_stop is not None and should_stop():
                self.stopped = True
                self.model.stop_training = True

    return Bridge()
