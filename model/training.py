"""The one training function: the CLI, the window and the benchmarks all call ``train``.

Progress leaves through plain callables (``on_batch``, ``on_epoch``) and stop
comes in through ``should_stop()``, so the caller decides what a thread, a
terminal or a plot does with them (Orange3's TaskState pattern).
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from model import architectures
from model.backend import generator_functions_released, keras, traced_gradients_released
from model.calibration import CalibrationReport, calibrate, calibrate_probabilities
from model.data import Splits
from model.errors import DigitsError, TrainingDiverged
from model.pipeline import as_uint8_images
from model.pipeline import batches as _batches
from model.pipeline import build_before_fit as _build_before_fit
from model.progress import DISPLAYED_LOSS, BatchProgress, EpochProgress  # noqa: F401 - part of this module's interface
from model.progress import bridge_callback as _bridge_callback

if TYPE_CHECKING:  # annotations only: model.novelty is imported where it is used
    from model.novelty import Novelty


@dataclass(frozen=True)
class TrainConfig:
    """What to train and how; ``None`` fields take the architecture's recipe (see ``resolved``)."""

    arch: str = "fast"
    epochs: int | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    schedule: str | None = None
    augment: bool | None = None
    label_smoothing: float | None = None
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
            label_smoothing=self.label_smoothing if self.label_smoothing is not None else recipe.label_smoothing,
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
        if self.label_smoothing is not None and not 0 <= self.label_smoothing < 1:
            raise DigitsError(f"label smoothing must be at least 0 and below 1, not {self.label_smoothing}.")
        if self.schedule not in (None, "constant", "onecycle"):
            raise DigitsError(f"unknown learning-rate schedule {self.schedule!r}.")

    def to_dict(self) -> dict:
        return asdict(self)


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
    novelty: Novelty | None = None  # what a digit looks like to this model, to flag what is not

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


def smoothed_sparse_crossentropy(label_smoothing: float) -> Callable:
    """Cross-entropy against integer labels whose targets keep ``1 - label_smoothing`` on the true class.

    Keras smooths only one-hot targets (``CategoricalCrossentropy``); the pipeline
    feeds integer labels, so they are one-hot encoded inside the traced step.
    """
    k = keras()

    def loss(y_true, y_pred):
        labels = k.ops.cast(k.ops.reshape(y_true, (-1,)), "int32")
        targets = k.ops.one_hot(labels, k.ops.shape(y_pred)[-1], dtype=y_pred.dtype)
        return k.losses.categorical_crossentropy(targets, y_pred, label_smoothing=label_smoothing)

    return loss


def compile_for_training(model, config: TrainConfig, steps_per_epoch: int) -> None:
    """Compile with the recipe's optimizer and loss; with smoothed labels, plain cross-entropy is also tracked.

    A smoothed loss cannot fall below the entropy of its targets (0.50 at 0.1), so it
    would draw a training curve far above the validation one: the curves and the
    history show plain cross-entropy (``DISPLAYED_LOSS``) instead.
    """
    k = keras()
    metrics: list = ["accuracy"]
    loss: object = "sparse_categorical_crossentropy"
    if config.label_smoothing:
        loss = smoothed_sparse_crossentropy(config.label_smoothing)
        metrics.append(k.metrics.SparseCategoricalCrossentropy(name=DISPLAYED_LOSS))
    model.compile(optimizer=make_optimizer(config, steps_per_epoch), loss=loss, metrics=metrics)


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
    fit_novelty: bool = True,
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
    x_train = data.train_pixels if data.train_pixels is not None else as_uint8_images(data.x_train)
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

    from model.inference import Predictor

    # Evaluation through the predictor's fixed-shape calls: model.evaluate builds a TensorFlow
    # data pipeline each time (see model.pipeline.batches) and takes twice as long.
    predictor = Predictor(model, 1.0)
    val_cache: dict = {}  # the last validation's calibration, and after how many batches

    def evaluate_val() -> tuple[float | None, float | None, float]:
        """Validation loss and accuracy, and the temperature that calibrates these weights."""
        if len(data.x_val) == 0:
            return None, None, 1.0
        probabilities = predictor.probabilities(data.x_val)
        val_cache["calibration"] = calibrate_probabilities(probabilities, data.y_val)
        val_cache["batches"] = bridge.batches_done
        return (*_loss_and_accuracy(probabilities, data.y_val), val_cache["calibration"].temperature)

    bridge = _bridge_callback(config, n_train, on_batch, on_epoch, should_stop, evaluate_val)
    start = time.perf_counter()
    batches = _batches(x_train, data.y_train, config.batch_size, config.seed)
    try:
        with traced_gradients_released(), generator_functions_released():
            trainable.fit(batches, epochs=config.epochs, shuffle=False, verbose=0,
                          callbacks=[bridge, *(extra_callbacks or [])])
    finally:
        batches.release()
    seconds = time.perf_counter() - start
    if trainable is not model or config.label_smoothing:
        # Callers may evaluate the model: with plain cross-entropy, as the curves show it.
        model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    if bridge.diverged_at is not None:
        epoch, batch = bridge.diverged_at
        raise TrainingDiverged(
            f"Training stopped at epoch {epoch}, batch {batch}: the loss became NaN "
            f"(learning rate {config.learning_rate:g} is probably too high).")
    test_loss = test_acc = None
    if len(data.x_test):
        test_loss, test_acc = _loss_and_accuracy(predictor.probabilities(data.x_test), data.y_test)
    # Temperature scaling on the validation split, so that "90% sure" means right about 90% of the time;
    # the last epoch's calibration is that of the final weights unless a stop came after it.
    calibration = None
    if len(data.x_val):
        if val_cache.get("batches") == bridge.batches_done:
            calibration = val_cache["calibration"]
        else:
            calibration = calibrate(model, data.x_val, data.y_val)
    novelty = None
    if fit_novelty:
        from model.novelty import fit_model

        novelty = fit_model(model, data.x_train, data.y_train, data.x_val, config.seed)
    epochs_done = len(bridge.history["loss"])
    samples = bridge.batches_done * config.batch_size
    return TrainResult(
        model=model, config=config, history=bridge.history, test_accuracy=test_acc, test_loss=test_loss,
        epochs_completed=epochs_done, stopped=bridge.stopped, train_seconds=seconds,
        samples_per_second=min(samples, n_train * config.epochs) / seconds if seconds > 0 else 0.0,
        calibration=calibration, novelty=novelty,
    )
