"""Fine-tune a model on the user's handwriting without making it forget MNIST.

The personal samples are split into a training part and a held-back part (per
digit, seeded). The training part is mixed with MNIST training images (about
three MNIST images for each personal one) and the copy of the model trains a
short while at a low learning rate through ``model.training.train``, so the
window gets the same live plots and Stop as for any training run. Held-back
accuracy and MNIST test accuracy are measured before and after.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from model import architectures
from model.backend import keras
from model.calibration import CalibrationReport, calibrate
from model.data import Splits
from model.errors import DigitsError
from model.evaluation import evaluate_model
from model.strokes import Drawing, strokes_to_input

if TYPE_CHECKING:  # annotations only: model.novelty is imported where it is used
    from model.novelty import Novelty

MNIST_DROP_LIMIT = 0.002  # a fine-tuned model may lose at most 0.2 points of MNIST test accuracy


@dataclass(frozen=True)
class FinetuneConfig:
    """How long and how gently to fine-tune. The defaults keep MNIST within 0.2 points (see the README)."""

    epochs: int = 3
    learning_rate: float = 1e-4  # a tenth of a fresh run's: nudge the weights, do not retrain them
    batch_size: int = 64
    mnist_ratio: float = 3.0  # MNIST training images per personal image in the mix
    min_mnist: int = 2000  # however few the personal samples, at least this much MNIST in the mix
    max_repeats: int = 20  # a small personal set is repeated to keep its share, at most this often
    holdout_fraction: float = 0.2  # of each digit's samples, kept back to measure the gain
    augment: bool = False
    seed: int = 0
    progress_interval: float = 0.05

    def validate(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise DigitsError("fine-tuning needs at least one epoch and a batch size of at least 1.")
        if not 0 < self.learning_rate <= 1:
            raise DigitsError(f"learning rate must be in (0, 1], not {self.learning_rate}.")
        if not 0 <= self.holdout_fraction < 1:
            raise DigitsError(f"the held-back fraction must be in [0, 1), not {self.holdout_fraction}.")
        if self.mnist_ratio < 0 or self.min_mnist < 0 or self.max_repeats < 1:
            raise DigitsError("the MNIST mix must be a non-negative amount.")


@dataclass
class FinetuneResult:
    model: object  # the fine-tuned copy; the model passed in is untouched
    train_result: object  # model.training.TrainResult
    personal_train: int
    personal_held_back: int
    mnist_in_mix: int
    personal_before: float | None  # accuracy on the held-back personal samples; None when none held back
    personal_after: float | None
    mnist_before: float
    mnist_after: float
    calibration: CalibrationReport | None
    extra_before: float | None = None  # accuracy on ``evaluate_on`` drawings, when given
    extra_after: float | None = None
    held_back_ids: list[str] = field(default_factory=list)
    novelty: Novelty | None = None  # of the tuned model: the person's digits count as digits

    @property
    def stopped(self) -> bool:
        return bool(self.train_result.stopped)

    @property
    def mnist_change(self) -> float:
        """MNIST test accuracy after minus before (negative: it forgot some)."""
        return self.mnist_after - self.mnist_before

    @property
    def forgot(self) -> bool:
        """True when MNIST accuracy fell by more than the 0.2-point limit."""
        return self.mnist_change < -MNIST_DROP_LIMIT - 1e-9

    @property
    def temperature(self) -> float:
        return self.calibration.temperature if self.calibration is not None else 1.0

    def summary(self) -> dict:
        def rounded(v):
            return None if v is None else round(float(v), 6)

        return {
            "personal_train": self.personal_train, "personal_held_back": self.personal_held_back,
            "mnist_in_mix": self.mnist_in_mix,
            "personal_before": rounded(self.personal_before), "personal_after": rounded(self.personal_after),
            "mnist_before": rounded(self.mnist_before), "mnist_after": rounded(self.mnist_after),
            "extra_before": rounded(self.extra_before), "extra_after": rounded(self.extra_after),
            "forgot": self.forgot, "stopped": self.stopped,
            "epochs": self.train_result.epochs_completed,
            "train_seconds": round(self.train_result.train_seconds, 3), "temperature": round(self.temperature, 4),
        }

    def run_record(self, model_path=None):
        """The run as ``model.history`` keeps it (``history.save_run(result.run_record(path))``)."""
        from model.history import record_from_result

        record = record_from_result(self.train_result, kind="finetune", model_path=model_path, extra=self.summary())
        record.test_accuracy = self.mnist_after
        record.temperature = self.temperature
        return record

    def metadata_extra(self) -> dict:
        """For ``modelio.new_metadata(..., **extra)``: the fine-tuning figures and the new temperature."""
        extra = {"finetune": self.summary(), "history": self.train_result.history}
        return extra | (self.calibration.to_metadata() if self.calibration is not None else {})


def drawings_to_arrays(drawings: Sequence[Drawing]) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Labelled drawings -> network inputs (N, 28, 28, 1), labels (N,), and the indices kept.

    Drawings with no label or no digit (blank) are left out.
    """
    images, labels, kept = [], [], []
    for i, drawing in enumerate(drawings):
        if drawing.label is None:
            continue
        network_input = strokes_to_input(drawing.strokes, drawing.width, drawing.height)
        if network_input is None:
            continue
        images.append(network_input)
        labels.append(drawing.label)
        kept.append(i)
    if not images:
        return np.zeros((0, 28, 28, 1), np.float32), np.zeros(0, np.int32), []
    return np.stack(images)[..., None].astype(np.float32), np.asarray(labels, np.int32), kept


def split_held_back(labels: np.ndarray, fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, held_back): ``fraction`` of each digit's samples held back, none from a digit with one."""
    rng = np.random.default_rng(seed)
    train, held = [], []
    for digit in range(10):
        members = np.flatnonzero(labels == digit)
        members = members[rng.permutation(len(members))]
        # At least one from any digit written twice or more, so a few corrections still get measured.
        n_held = max(1, int(round(fraction * len(members)))) if len(members) >= 2 and fraction > 0 else 0
        n_held = min(n_held, len(members) - 1)
        held.extend(members[:n_held])
        train.extend(members[n_held:])
    return np.sort(np.asarray(train, dtype=np.int64)), np.sort(np.asarray(held, dtype=np.int64))


def _mix(x_personal: np.ndarray, y_personal: np.ndarray, mnist: Splits, config: FinetuneConfig
         ) -> tuple[np.ndarray, np.ndarray, int]:
    n = len(x_personal)
    n_mnist = min(len(mnist.x_train), max(config.min_mnist, int(round(config.mnist_ratio * n))))
    repeats = 1
    if config.mnist_ratio > 0:
        repeats = max(1, min(config.max_repeats, math.floor(n_mnist / (config.mnist_ratio * n))))
    rng = np.random.default_rng(config.seed)
    chosen = np.sort(rng.choice(len(mnist.x_train), size=n_mnist, replace=False))
    x = np.concatenate([np.repeat(x_personal, repeats, axis=0), mnist.x_train[chosen]])
    y = np.concatenate([np.repeat(y_personal, repeats), mnist.y_train[chosen].astype(np.int32)])
    order = rng.permutation(len(x))  # fit shuffles too; this keeps a stopped first epoch mixed
    return x[order], y[order], n_mnist


def copy_model(model):
    """A separate model with the same architecture and weights (the window keeps predicting with the original)."""
    clone = keras().models.clone_model(model)
    clone.set_weights(model.get_weights())
    return clone


def _accuracy(model, x: np.ndarray, y: np.ndarray) -> float | None:
    return evaluate_model(model, x, y, keep_images=False).accuracy if len(x) else None


def finetune(
    model,
    samples: Sequence[Drawing],
    mnist: Splits,
    config: FinetuneConfig | None = None,
    *,
    arch: str | None = None,
    evaluate_on: Sequence[Drawing] | None = None,
    on_batch: Callable | None = None,
    on_epoch: Callable | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> FinetuneResult:
    """Fine-tune a copy of ``model`` on labelled ``samples`` mixed with ``mnist`` training images.

    ``on_batch``, ``on_epoch`` and ``should_stop`` are passed to ``train``
    unchanged; the per-epoch validation figures are those of the held-back
    personal samples. ``evaluate_on`` (labelled drawings never trained on, such
    as other writers) is measured before and after as well. MNIST test accuracy
    is measured on ``mnist.x_test``; the temperature is refitted on ``mnist.x_val``.
    """
    from model.training import TrainConfig, train

    config = config or FinetuneConfig()
    config.validate()
    x_all, y_all, kept = drawings_to_arrays(samples)
    if len(x_all) == 0:
        raise DigitsError("no labelled drawings with a digit to fine-tune on.")
    train_idx, held_idx = split_held_back(y_all, config.holdout_fraction, config.seed)
    x_held, y_held = x_all[held_idx], y_all[held_idx]
    x_extra, y_extra, _ = drawings_to_arrays(evaluate_on or [])

    tuned = copy_model(model)
    personal_before = _accuracy(tuned, x_held, y_held)
    extra_before = _accuracy(tuned, x_extra, y_extra)
    mnist_before = float(_accuracy(tuned, mnist.x_test, mnist.y_test) or 0.0)

    x_mix, y_mix, n_mnist = _mix(x_all[train_idx], y_all[train_idx], mnist, config)
    empty = np.zeros((0, 28, 28, 1), np.float32)
    data = Splits(x_mix, y_mix, x_held, y_held, empty, np.zeros(0, np.int32), f"{mnist.source} + personal")
    train_config = TrainConfig(
        arch=arch if arch in architectures.ARCHITECTURES else "fast",  # only names the run: all fields are set
        epochs=config.epochs, batch_size=config.batch_size, learning_rate=config.learning_rate,
        schedule="constant", augment=config.augment, seed=config.seed, progress_interval=config.progress_interval,
        label_smoothing=0.0,  # measured with plain cross-entropy (tests/test_finetune.py); the recipe's is for MNIST
    )
    result = train(train_config, data, on_batch=on_batch, on_epoch=on_epoch, should_stop=should_stop,
                   initial_model=tuned, fit_novelty=False)  # its validation split is a few personal samples

    calibration = calibrate(tuned, mnist.x_val, mnist.y_val) if len(mnist.x_val) else None
    from model.novelty import fit_model

    novelty = fit_model(tuned, x_mix, y_mix, mnist.x_val, config.seed)
    return FinetuneResult(
        model=tuned, train_result=result, personal_train=len(train_idx), personal_held_back=len(held_idx),
        mnist_in_mix=n_mnist,
        personal_before=personal_before, personal_after=_accuracy(tuned, x_held, y_held),
        mnist_before=mnist_before, mnist_after=float(_accuracy(tuned, mnist.x_test, mnist.y_test) or 0.0),
        calibration=calibration, extra_before=extra_before, extra_after=_accuracy(tuned, x_extra, y_extra),
        held_back_ids=[str(samples[kept[i]].extra.get("id", kept[i])) for i in held_idx], novelty=novelty,
    )


def config_dict(config: FinetuneConfig) -> dict:
    return asdict(config)
