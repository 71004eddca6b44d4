"""How good a model is, and where it fails: accuracy, loss, per-class accuracy, confusion matrix.

The figures come from one array of probabilities, so they can be checked by
hand (``evaluate_probabilities``) and computed for a Keras model in one batched
pass (``evaluate_model``). Rows of the confusion matrix are the true digit,
columns the predicted one.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

N_CLASSES = 10
_EPSILON = 1e-7  # Keras clips probabilities the same way inside its cross-entropy


@dataclass(frozen=True)
class GalleryItem:
    """One image of a confusion-matrix cell."""

    index: int  # row in the evaluated images
    true: int
    predicted: int
    confidence: float  # probability of the predicted digit
    image: np.ndarray | None  # (28, 28) float32, when the images were kept


@dataclass(frozen=True)
class Evaluation:
    """Figures for one model on one labelled set of images."""

    accuracy: float
    loss: float
    confusion: np.ndarray  # (10, 10) int64, confusion[true, predicted]
    probabilities: np.ndarray = field(repr=False)  # (N, 10)
    labels: np.ndarray = field(repr=False)  # (N,)
    images: np.ndarray | None = field(default=None, repr=False)  # (N, 28, 28[, 1]), for the gallery

    @property
    def count(self) -> int:
        return len(self.labels)

    @property
    def predictions(self) -> np.ndarray:
        return np.argmax(self.probabilities, axis=1) if self.count else np.zeros(0, dtype=np.int64)

    @property
    def confidences(self) -> np.ndarray:
        return np.max(self.probabilities, axis=1) if self.count else np.zeros(0, dtype=np.float32)

    @property
    def per_class_accuracy(self) -> np.ndarray:
        return per_class_accuracy(self.confusion)

    def cell_indices(self, true: int, predicted: int) -> np.ndarray:
        """Indices of the images in ``confusion[true, predicted]``, most confident first.

        Off the diagonal these are mistakes, so the most confident mistakes come
        first: the ones that say most about what the network gets wrong.
        """
        _check_digit(true, "true")
        _check_digit(predicted, "predicted")
        hits = np.flatnonzero((self.labels == true) & (self.predictions == predicted))
        confidence = self.probabilities[hits, predicted]
        return hits[np.argsort(-confidence, kind="stable")]

    def cell(self, true: int, predicted: int, limit: int | None = None) -> list[GalleryItem]:
        """The gallery of one cell: images with true and predicted digit and confidence."""
        indices = self.cell_indices(true, predicted)[:limit]
        return [
            GalleryItem(int(i), true, predicted, float(self.probabilities[i, predicted]),
                        None if self.images is None else np.asarray(self.images[i]).reshape(28, 28))
            for i in indices
        ]

    def most_confident_mistakes(self, limit: int = 20) -> list[GalleryItem]:
        """Mistakes over all cells, most confident first."""
        predictions = self.predictions
        wrong = np.flatnonzero(predictions != self.labels)
        wrong = wrong[np.argsort(-self.confidences[wrong], kind="stable")][:limit]
        return [
            GalleryItem(int(i), int(self.labels[i]), int(predictions[i]), float(self.confidences[i]),
                        None if self.images is None else np.asarray(self.images[i]).reshape(28, 28))
            for i in wrong
        ]

    def to_json(self) -> dict:
        return {
            "accuracy": self.accuracy,
            "loss": self.loss,
            "count": self.count,
            "per_class_accuracy": [None if np.isnan(a) else round(float(a), 6) for a in self.per_class_accuracy],
            "confusion": self.confusion.tolist(),
        }


def _check_digit(value: int, name: str) -> None:
    if not 0 <= int(value) < N_CLASSES:
        raise ValueError(f"{name} digit must be 0-9, not {value}")


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, n_classes: int = N_CLASSES) -> np.ndarray:
    """``confusion[t, p]`` counts images of digit ``t`` predicted as ``p``."""
    labels = np.asarray(labels, dtype=np.int64).ravel()
    predictions = np.asarray(predictions, dtype=np.int64).ravel()
    if labels.shape != predictions.shape:
        raise ValueError(f"{len(labels)} labels but {len(predictions)} predictions")
    return np.bincount(labels * n_classes + predictions, minlength=n_classes * n_classes).reshape(
        n_classes, n_classes)


def per_class_accuracy(confusion: np.ndarray) -> np.ndarray:
    """Recall of each digit: correct / images of that digit; NaN for a digit with no images."""
    confusion = np.asarray(confusion, dtype=np.float64)
    totals = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, np.diag(confusion) / totals, np.nan)


def cross_entropy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Mean negative log-probability of the true digit (Keras's sparse categorical cross-entropy)."""
    if len(labels) == 0:
        return float("nan")
    picked = probabilities[np.arange(len(labels)), np.asarray(labels, dtype=np.int64)]
    return float(-np.mean(np.log(np.clip(picked, _EPSILON, 1.0))))


def evaluate_probabilities(probabilities: np.ndarray, labels: np.ndarray,
                           images: np.ndarray | None = None) -> Evaluation:
    """All the figures from (N, 10) probabilities and (N,) true labels."""
    probabilities = np.asarray(probabilities, dtype=np.float32)
    labels = np.asarray(labels, dtype=np.int64).ravel()
    if probabilities.ndim != 2 or probabilities.shape[1] != N_CLASSES or len(probabilities) != len(labels):
        raise ValueError(f"expected ({len(labels)}, 10) probabilities, got {probabilities.shape}")
    predictions = np.argmax(probabilities, axis=1) if len(labels) else np.zeros(0, dtype=np.int64)
    accuracy = float(np.mean(predictions == labels)) if len(labels) else float("nan")
    return Evaluation(accuracy, cross_entropy(probabilities, labels), confusion_matrix(labels, predictions),
                      probabilities, labels, images)


def evaluate_model(model, images: np.ndarray, labels: np.ndarray, temperature: float = 1.0,
                   keep_images: bool = True) -> Evaluation:
    """Evaluate a Keras model on (N, 28, 28[, 1]) images in [0, 1], in fixed-size batches.

    ``temperature`` 1 gives the raw network; pass a model's calibrated
    temperature to see the figures the app shows (accuracy does not change).
    """
    from model.inference import Predictor

    probabilities = Predictor(model, temperature).probabilities(images)
    return evaluate_probabilities(probabilities, labels, images if keep_images else None)


def format_confusion(confusion: np.ndarray) -> str:
    """The matrix as text: a header of predicted digits, a row per true digit, per-class accuracy at the end."""
    confusion = np.asarray(confusion)
    width = max(4, len(str(int(confusion.max(initial=0)))) + 1)
    lines = ["true\\pred" + "".join(f"{p:>{width}}" for p in range(N_CLASSES)) + "   accuracy"]
    for t, (row, acc) in enumerate(zip(confusion, per_class_accuracy(confusion))):
        figure = "      -" if np.isnan(acc) else f"{acc:>9.2%}"
        lines.append(f"{t:>9}" + "".join(f"{int(v):>{width}}" for v in row) + "  " + figure)
    return "\n".join(lines)
