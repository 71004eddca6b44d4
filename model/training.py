"""The one training function: the CLI, the window and the benchmarks all call ``train``.

Progress leaves through plain callables (``on_batch``, ``on_epoch``) and stop
comes in through ``should_stop()``, so the caller decides what a thread, a
terminal or a plot does with them (Orange3's TaskState pattern).
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from model import architectures
from model.backend import keras, traced_gradients_released
from model.calibration import CalibrationReport, calibrate, calibrate_probabilities
from model.data import Splits
from model.errors import DigitsError, TrainingDiverged


@dataclass(frozen=True)
class TrainConfig:
    """What to train and how; ``None`` fields take the architecture's recipe (see ``resolved``)."""

    arch: str = "fast"
    epochs: int | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    schedule: str | None = None
    augment: bool | None = None
    seed: int = 0
    progress_interval: float = 0.05  # seconds between on_batch calls: about 20 a second

    def resolved(self) -> TrainConfig:
        recipe = architectures.get(self.arch).recipe
        filled = replace(
            self,
            epochs=self.epochs if self.epochs is not None else recipe.epochs,
            batch_size=self.batch_size if self.batch_size is not None else recipe.batch_size,
            learning_rate=self.learning_rate if self.learning_rate is not None else recipe.learning_rate,
            schedule=self.schedule if self.schedule is not None else recipe.schedule,
            augment=self.augment if self.augment is not None else recipe.augment,
        )
        filled.validate()
        return filled

    def validate(self) -> None:
        if self.epochs is not None and self.epochs < 1:
            raise DigitsError(f"epochs must be at least 1, not {self.epochs}.")
        if self.batch_size is not None and self.batch_size < 1:
            raise DigitsError(f"batch size must be at least 1, not {self.batch_size}.")
        if self.learning_rate is not None and not 0 < self.learning_rate <= 10:
            raise DigitsError(f"learning rate must be in (0, 10], not {self.learning_rate}.")
        if self.schedule not in (None, "constant", "onecycle"):
            raise DigitsError(f"unknown learning-rate schedule {self.schedule!r}.")

    def to_dict(self) -> dict:
        return asdict(self)


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


@dataclass
class TrainResult:
    model: object
    config: TrainConfig
    history: dict[str, list[float]]
    test_accuracy: float | None
    test_loss: float | None
    epochs_completed: int
    stopped: bool
    train_seconds: float
    samples_per_second: float
    calibration: CalibrationReport | None = None  # temperature fitted on the validation split

    @property
    def temperature(self) -> float:
        return self.calibration.temperature if self.calibration is not None else 1.0

    def metadata_extra(self) -> dict:
        """What a saved model should keep beyond ``new_metadata``'s fields: the curves and the temperature."""
        extra = {"history": self.history, "train_seconds": self.train_seconds,
                 "epochs_completed": self.epochs_completed, "stopped": self.stopped}
        return extra | (self.calibration.to_metadata() if self.calibration is not None else {})

    def summary(self) -> dict:
        return {
            "arch": self.config.arch,
            "temperature": round(self.temperature, 4),
            "epochs": self.epochs_completed,
            "stopped": self.stopped,
            "test_accuracy": self.test_accuracy,
            "test_loss": self.test_loss,
            "train_seconds": round(self.train_seconds, 3),
            "samples_per_second": round(self.samples_per_second, 1),
            "config": self.config.to_dict(),
        }


def make_optimizer(config: TrainConfig, steps_per_epoch: int):
    k = keras()
    lr = config.learning_rate
    if config.schedule == "onecycle":
        total = max(1, config.epochs * steps_per_epoch)
        warmup = max(1, int(0.25 * total))
        lr = k.optimizers.schedules.CosineDecay(
            initial_learning_rate=config.learning_rate / 25,
            decay_steps=max(1, total - warmup),
            alpha=1e-3,
            warmup_target=config.learning_rate,
            warmup_steps=warmup,
        )
    return k.optimizers.Adam(learning_rate=lr)


def compile_for_training(model, config: TrainConfig, steps_per_epoch: int) -> None:
    model.compile(
        optimizer=make_optimizer(config, steps_per_epoch),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )


def _bridge_callback(config, n_train, on_batch, on_epoch, should_stop, evaluate_val):
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
            mean_loss, mean_acc = float(logs.get("loss", np.nan)), float(logs.get("accuracy", np.nan))
            # Keras reports running means over the epoch; recover this batch's own values.
            n = seen - self.prev_seen
            batch_loss = (mean_loss * seen - self.prev_loss_sum) / n if n else mean_loss
            batch_acc = (mean_acc * seen - self.prev_acc_sum) / n if n else mean_acc
            self.prev_loss_sum, self.prev_acc_sum, self.prev_seen = mean_loss * seen, mean_acc * seen, seen
            if not math.isfinite(mean_loss) or not self._weights_finite():
                self.diverged_at = (self.epoch, batch + 1)
                self.model.stop_training = True
                return
            alpha = 0.1
            self.ema_loss = batch_loss if self.ema_loss is None else (1 - alpha) * self.ema_loss + alpha * batch_loss
            self.ema_acc = batch_acc if self.ema_acc is None else (1 - alpha) * self.ema_acc + alpha * batch_acc
            if should_stop is not None and should_stop():
                self.stopped = True
                self.model.stop_training = True
            now = time.perf_counter()
            last_of_epoch = batch + 1 == batches
            if on_batch is not None and (now - self.last_report >= config.progress_interval or last_of_epoch):
                self.last_report = now
                rate, eta = self._rate_and_eta(seen)
                on_batch(BatchProgress(self.epoch, config.epochs, batch + 1, batches,
                                       self.ema_loss, self.ema_acc, rate, eta))

        def on_epoch_end(self, epoch, logs=None):
            if self.diverged_at or self.stopped:
                return  # an unfinished epoch is neither recorded nor validated
            logs = logs or {}
            val_loss, val_acc = evaluate_val()
            for key, value in (("loss", logs.get("loss")), ("accuracy", logs.get("accuracy")),
                               ("val_loss", val_loss), ("val_accuracy", val_acc),
                               ("seconds", time.perf_counter() - self.start)):
                self.history[key].append(float(value) if value is not None else float("nan"))
            if on_epoch is not None:
                rate, eta = self._rate_and_eta(n_train)
                on_epoch(EpochProgress(
                    epoch + 1, config.epochs, float(logs.get("loss", np.nan)),
                    float(logs.get("accuracy", np.nan)), val_loss, val_acc, rate, eta,
                    [w.copy() for w in self.model.get_weights()],
                ))
            if should_stop is not None and should_stop():
                self.stopped = True
                self.model.stop_training = True

    return Bridge()


def as_uint8_images(x: np.ndarray, chunk: int = 1024) -> np.ndarray | None:
    """``x`` (float32 pixels k/255, as ``model.data`` makes them) as uint8 0-255, or None if that is not exact.

    Training feeds uint8 and lets the model scale it on the fly: ``fit`` copies
    its arrays (twice, briefly) into its input pipeline, and a quarter of the
    bytes keeps the peak memory of a full MNIST run well under 1.2 GB. Anything
    that does not round-trip exactly (other scaling, NaN) returns None and
    trains from the float array as given. Chunked through two small scratch
    buffers: whole-array temporaries would double the float copy, and
    per-chunk ones of several MB fragment the heap (RSS grew 45 MB a run).
    """
    if x.dtype != np.float32 or x.size == 0:
        return None
    out = np.empty(x.shape, dtype=np.uint8)
    scale, back = np.float32(255.0), np.float32(1 / 255.0)
    levels = np.empty((min(chunk, len(x)), *x.shape[1:]), dtype=np.float32)
    check = np.empty_like(levels)
    for start in range(0, len(x), chunk):
        part = x[start:start + chunk]
        n = len(part)
        np.multiply(part, scale, out=levels[:n])
        np.rint(levels[:n], out=levels[:n])
        if not (levels[:n].min() >= 0 and levels[:n].max() <= 255):  # also False for NaN
            return None
        out[start:start + n] = levels[:n]
        np.multiply(out[start:start + n], back, out=check[:n], dtype=np.float32)
        if not np.array_equal(check[:n], part):
            return None
    return out


def _batches(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int):
    """The training set as a Keras ``PyDataset``: a seeded shuffle each epoch, batches cut by two threads.

    Why not ``fit(x, y)``: on TensorFlow, Keras turns arrays into an autotuned
    TensorFlow data pipeline, and destroying its iterator waits for the autotuner's
    thread, which often misses its wake-up and sleeps out its period: up to
    10 s (measured: 9-10 s in most runs) after the last batch, before ``fit``
    returns, at every epoch's end and in every ``evaluate``. A PyDataset with
    worker threads turns the autotuner off (Keras's own choice), costs the
    same per step, and runs unchanged on JAX. The queue holds a whole epoch,
    so the feeding thread never blocks: a run stopped mid-epoch leaves no
    thread waiting on a full queue. Call ``release()`` after ``fit``:
    TensorFlow's registry of Python generators keeps the dataset object
    alive after the run, and without it every run would keep its images
    (about 45 MB a full-MNIST run, measured).
    """
    k = keras()
    n_batches = math.ceil(len(x) / batch_size)

    class Batches(k.utils.PyDataset):
        # The arrays come in as arguments, never through the closure, so release() frees them.
        def __init__(self, images: np.ndarray, labels: np.ndarray):
            super().__init__(workers=2, use_multiprocessing=False, max_queue_size=n_batches + 1)
            self._arrays = (images, labels)
            self._rng = np.random.default_rng(seed)
            self._order = self._rng.permutation(len(images))

        def __len__(self) -> int:
            return n_batches

        def __getitem__(self, index: int):
            images, labels = self._arrays
            rows = self._order[index * batch_size:(index + 1) * batch_size]
            return images[rows], labels[rows]

        def on_epoch_end(self) -> None:
            # Keras calls this once before the first epoch and after each; never while batches are cut.
            self._order = self._rng.permutation(len(self._order))

        def release(self) -> None:
            self._arrays = self._order = None

    return Batches(x, y)


def _build_before_fit(model, x: np.ndarray, y: np.ndarray) -> None:
    """Create the optimizer's and the metrics' variables before ``fit``, so it traces its step once.

    Without a distribution strategy Keras creates them inside the first trace
    of the training step, and TensorFlow then traces it a second time: about
    0.4-0.8 s of the 5 s the fast preset is given. ``_symbolic_build`` is
    Keras internals; if it is missing or fails, fit builds everything itself
    as before, only slower.
    """
    try:
        model.optimizer.build(model.trainable_variables)
        symbolic_build = getattr(model, "_symbolic_build", None)
        if symbolic_build is not None:
            symbolic_build(data_batch=(x, y))
    except Exception:  # noqa: BLE001 - an optimisation only; fit builds what is missing
        pass


def _loss_and_accuracy(probabilities: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Sparse categorical cross-entropy (probabilities clipped at 1e-7, as Keras does) and accuracy."""
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    picked = np.clip(probabilities[np.arange(len(labels)), labels], 1e-7, 1.0)
    return float(-np.log(picked).mean()), float((probabilities.argmax(axis=1) == labels).mean())


def train(
    config: TrainConfig,
    data: Splits,
    *,
    on_batch: Callable[[BatchProgress], None] | None = None,
    on_epoch: Callable[[EpochProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    initial_model=None,
    extra_callbacks: list | None = None,
) -> TrainResult:
    """Train ``config.arch`` (or continue ``initial_model``) on ``data``; return the model and its figures.

    Stop takes effect at the next batch boundary; the epoch it interrupts is not
    recorded. ``extra_callbacks`` are Keras callbacks added to ``fit`` (the
    window's TensorBoard option). Raises ``TrainingDiverged`` if the loss becomes NaN or infinite.
    """
    config = config.resolved()
    k = keras()
    n_train = len(data.x_train)
    if n_train == 0:
        raise DigitsError(f"{data.source}: no training images.")
    k.utils.set_random_seed(config.seed)
    model = initial_model if initial_model is not None else architectures.get(config.arch).build()
    steps_per_epoch = math.ceil(n_train / config.batch_size)
    # Wrappers exist only while training, so the saved model stays plain: scaling of uint8
    # input (see as_uint8_images) and augmentation.
    x_train = as_uint8_images(data.x_train)
    front = []
    if x_train is not None:
        front = [k.Input(shape=architectures.INPUT_SHAPE, dtype="uint8"), k.layers.Rescaling(1 / 255.0)]
    else:
        x_train = data.x_train
    if config.augment:
        from model.augment import drawn_digit_augmentation

        front = front or [k.Input(shape=architectures.INPUT_SHAPE)]
        front.append(drawn_digit_augmentation())
    trainable = k.Sequential([*front, model]) if front else model
    compile_for_training(trainable, config, steps_per_epoch)
    _build_before_fit(trainable, x_train[:1].copy(), data.y_train[:1].copy())  # copies: Keras may keep them
    if trainable is not model:
        model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])  # callers may evaluate it

    from model.inference import Predictor

    # Evaluation through the predictor's fixed-shape calls: model.evaluate builds a TensorFlow
    # data pipeline each time (see _batches) and takes twice as long.
    predictor = Predictor(model, 1.0)
    val_cache: dict = {}  # the last validation probabilities, and after how many batches

    def evaluate_val() -> tuple[float | None, float | None]:
        if len(data.x_val) == 0:
            return None, None
        val_cache["probabilities"] = predictor.probabilities(data.x_val)
        val_cache["batches"] = bridge.batches_done
        return _loss_and_accuracy(val_cache["probabilities"], data.y_val)

    bridge = _bridge_callback(config, n_train, on_batch, on_epoch, should_stop, evaluate_val)
    start = time.perf_counter()
    batches = _batches(x_train, data.y_train, config.batch_size, config.seed)
    try:
        with traced_gradients_released():
            trainable.fit(batches, epochs=config.epochs, shuffle=False, verbose=0,
                          callbacks=[bridge, *(extra_callbacks or [])])
    finally:
        batches.release()
    seconds = time.perf_counter() - start
    if bridge.diverged_at is not None:
        epoch, batch = bridge.diverged_at
        raise TrainingDiverged(
            f"Training stopped at epoch {epoch}, batch {batch}: the loss became NaN "
            f"(learning rate {config.learning_rate:g} is probably too high).")
    test_loss = test_acc = None
    if len(data.x_test):
        test_loss, test_acc = _loss_and_accuracy(predictor.probabilities(data.x_test), data.y_test)
    # Temperature scaling on the validation split, so that "90% sure" means right about 90% of the time;
    # the last epoch's validation probabilities are those of the final weights unless a stop came after.
    calibration = None
    if len(data.x_val):
        if val_cache.get("batches") == bridge.batches_done:
            calibration = calibrate_probabilities(val_cache["probabilities"], data.y_val)
        else:
            calibration = calibrate(model, data.x_val, data.y_val)
    epochs_done = len(bridge.history["loss"])
    samples = bridge.batches_done * config.batch_size
    return TrainResult(
        model=model, config=config, history=bridge.history, test_accuracy=test_acc, test_loss=test_loss,
        epochs_completed=epochs_done, stopped=bridge.stopped, train_seconds=seconds,
        samples_per_second=min(samples, n_train * config.epochs) / seconds if seconds > 0 else 0.0,
        calibration=calibration,
    )
