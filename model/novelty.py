"""Does a drawing look like the digits the model learned from? An honest "that is not a digit".

A network trained on digits alone gives every input ten probabilities summing to
one, so the bundled model reads a letter "H" as a 4 at 100 % (``python -m
benchmarks not_digits``). Its feature maps know better. The deepest convolution's
activations, averaged over the image, form a short vector, and each digit
class's vectors cluster; a drawing whose vector lies far from every cluster (the
squared Mahalanobis distance to the nearest, with each class's own covariance)
is unfamiliar. The threshold is the 99.5th percentile of the validation digits'
distances, so about one MNIST digit in 200 is flagged.

Why that layer (``python -m benchmarks novelty_layers``): for the bundled model
it calls 81 % of 352 letters from stroke fonts and 1.07 % of the 7,494
pendigits drawings not a digit. The dense layer before the output called 3.9 %
of the drawings for 69 % of the letters; earlier convolutions catch fewer
letters (12-58 %). In the small networks (``fast``, ``seed``) the deepest
convolution is the second, and it catches 10-16 % of the letters: the signal is
only as good as the network's features (``python -m benchmarks not_digits``).
"""
from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.backend import keras
from model.errors import DigitsError

PERCENTILE = 99.5  # of validation digits' distances: the threshold
REGULARISATION = 1e-2  # added to each covariance's diagonal: some classes have few examples for 128 dimensions
FIT_PER_CLASS = 1000  # training images per class whose features make the clusters
MIN_VALIDATION = 200  # fewer validation images than this cannot place a 99.5th percentile


def has_relu(layer) -> bool:
    """A ReLU layer, or a layer (a convolution) whose activation is ReLU."""
    if isinstance(layer, keras().layers.ReLU):
        return True
    return getattr(getattr(layer, "activation", None), "__name__", "") == "relu"


def feature_tap(model):
    """The deepest layer with a ReLU and a spatial (N, H, W, C) output; None when the model has none."""
    tap = None
    for layer in getattr(model, "layers", []):
        try:
            shape = layer.output.shape
        except (AttributeError, ValueError):
            continue
        if len(shape) == 4 and has_relu(layer):
            tap = layer
    return tap


def tapped(model, novelty: Novelty | None = None):
    """A model giving ``model``'s probabilities and, second, the tap's averaged map, or with ``novelty`` each
    input's distance to the nearest class (``Novelty.distances``); None without a tap.

    The distances are computed in the model's graph, not in NumPy: after each NumPy matrix product OpenBLAS's
    threads spin for a while, and in ``predict --strokes`` they took the cores from the rendering thread
    (benchmarks/OPTIMISATIONS.md item 31).
    """
    tap = feature_tap(model)
    if tap is None or not getattr(model, "inputs", None):
        return None
    k = keras()
    ops = k.ops
    try:
        pooled = k.layers.GlobalAveragePooling2D(name="novelty_features")(tap.output)
        if novelty is None:
            return k.Model(model.inputs, [model.outputs[0], pooled], name=f"{model.name}_tapped")
        diff = ops.subtract(ops.expand_dims(pooled, 0), ops.expand_dims(ops.convert_to_tensor(novelty.means), 1))
        squared = ops.sum(ops.multiply(ops.matmul(diff, ops.convert_to_tensor(novelty.precisions)), diff), axis=-1)
        return k.Model(model.inputs, [model.outputs[0], ops.min(squared, axis=0)], name=f"{model.name}_tapped")
    except (ValueError, TypeError, AttributeError, KeyError):  # a foreign model whose graph Keras cannot split there
        return None


def feature_width(model) -> int | None:
    tap = feature_tap(model)
    return None if tap is None else int(tap.output.shape[-1])


@dataclass(frozen=True)
class Novelty:
    """Class means (10, C) and precisions (10, C, C) of the tap's features, and the distance flagged."""

    means: np.ndarray
    precisions: np.ndarray
    threshold: float

    @property
    def width(self) -> int:
        return int(self.means.shape[1])

    def distances(self, features: np.ndarray) -> np.ndarray:
        """(N, C) features -> (N,) squared Mahalanobis distance to the nearest class."""
        diff = np.asarray(features, np.float32)[None, :, :] - self.means[:, None, :]  # (10, N, C)
        # One batched matrix product: 0.02 ms for a drawing, where np.einsum took 0.3 ms.
        return (np.matmul(diff, self.precisions) * diff).sum(axis=-1).min(axis=0)

    def beyond(self, distances: np.ndarray) -> np.ndarray:
        """Which of ``distances`` (from ``distances`` or the ``tapped`` graph) are unfamiliar; NaN, from a
        broken model, counts as unfamiliar."""
        with np.errstate(invalid="ignore"):
            return ~(np.asarray(distances) <= self.threshold)

    def unfamiliar(self, features: np.ndarray) -> np.ndarray:
        return self.beyond(self.distances(features))

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(buffer, means=self.means, precisions=self.precisions, threshold=np.float64(self.threshold))
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, where: str, width: int | None) -> Novelty:
        """Read what ``to_bytes`` wrote, checked against the model's feature ``width``."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
                novelty = cls(np.asarray(arrays["means"], np.float32), np.asarray(arrays["precisions"], np.float32),
                              float(arrays["threshold"]))
        except (OSError, ValueError, KeyError, EOFError, TypeError) as exc:
            raise DigitsError(f"{where}: its not-a-digit statistics are unreadable ({exc}).") from None
        c = novelty.width
        if (width != c or novelty.means.shape != (10, c) or novelty.precisions.shape != (10, c, c)
                or not (np.isfinite(novelty.means).all() and np.isfinite(novelty.precisions).all())
                or not np.isfinite(novelty.threshold)):
            raise DigitsError(f"{where}: its not-a-digit statistics do not fit the model.")
        return novelty


def fit(train_features: np.ndarray, labels: np.ndarray, val_features: np.ndarray) -> Novelty:
    """Class clusters from training features; the threshold from validation digits' distances."""
    features, labels = np.asarray(train_features, np.float64), np.asarray(labels)
    width = features.shape[1]
    means = np.stack([features[labels == c].mean(axis=0) for c in range(10)])
    precisions = np.stack([
        np.linalg.inv(np.cov(features[labels == c], rowvar=False, bias=True).reshape(width, width)
                      + REGULARISATION * np.eye(width))
        for c in range(10)])
    partial = Novelty(means.astype(np.float32), precisions.astype(np.float32), 0.0)
    threshold = float(np.percentile(partial.distances(val_features), PERCENTILE))
    return Novelty(partial.means, partial.precisions, threshold)


def _features_forward(model, batch: int = 250):
    """A function from (N, 28, 28[, 1]) float images to the tap's averaged features; None without a tap.

    Peak memory training ``seed`` (``python -m benchmarks memory``): 0.98-1.01 GB in four runs with these
    batches of 250 through one traced call, against 0.97 GB before the statistics existed; batches of 500
    through Keras's ``predict_on_batch`` had lifted it to 1.06 GB."""
    from model.backend import compiled_forward

    with_tap = tapped(model)
    if with_tap is None:
        return None
    rank = len(with_tap.inputs[0].shape)
    shape = (batch, 28, 28) if rank == 3 else (batch, 28, 28, 1)
    # As the predictor calls a network: one batch shape traced once, the last batch padded to it.
    call = compiled_forward(with_tap, shape) or with_tap.predict_on_batch

    def forward(images: np.ndarray) -> np.ndarray:
        images = np.asarray(images, np.float32).reshape(-1, *shape[1:])
        features = []
        for start in range(0, len(images), batch):
            chunk = images[start:start + batch]
            padded = np.zeros(shape, np.float32)
            padded[:len(chunk)] = chunk
            features.append(np.asarray(call(padded)[1])[:len(chunk)])
        return np.concatenate(features)

    return forward


def features_of(model, images: np.ndarray) -> np.ndarray | None:
    """The tap's averaged features of (N, 28, 28[, 1]) float images; None when the model has no tap."""
    forward = _features_forward(model)
    return None if forward is None else forward(images)


def fit_rows(labels: np.ndarray, seed: int = 0) -> np.ndarray | None:
    """Sorted indices of up to ``FIT_PER_CLASS`` training images a class, drawn with ``seed``; None when a class
    has fewer than two."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    chosen = []
    for c in range(10):
        rows = np.flatnonzero(labels == c)
        if len(rows) < 2:
            return None
        chosen.append(rng.choice(rows, size=min(len(rows), FIT_PER_CLASS), replace=False))
    return np.sort(np.concatenate(chosen))


def fit_model(model, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, seed: int = 0) -> Novelty | None:
    """Statistics for ``model`` from up to ``FIT_PER_CLASS`` training images a class and the validation images.

    None when the model has no convolution with a ReLU, when a class has fewer than
    two training images, when there are fewer than ``MIN_VALIDATION`` validation images,
    or when the features are not finite.
    """
    y_train = np.asarray(y_train)
    rows = fit_rows(y_train, seed)
    if feature_tap(model) is None or len(x_val) < MIN_VALIDATION or rows is None:
        return None
    forward = _features_forward(model)  # one traced graph for both sets, one averaging layer on the tap
    if forward is None:  # a graph Keras could not tap (``tapped``)
        return None
    train_features, val_features = forward(x_train[rows]), forward(x_val)
    if not (np.isfinite(train_features).all() and np.isfinite(val_features).all()):
        return None  # weights gone bad: no statistics rather than a failed run
    return fit(train_features, y_train[rows], val_features)


def attach_to_file(path, data) -> Novelty | None:
    """Fit statistics for the model saved at ``path`` on ``data`` (``model.data.Splits``, the split it was
    trained with) and write them into the file, atomically; None (file untouched) when it has no tap."""
    from model.atomic import write_atomic
    from model.modelio import NOVELTY_ENTRY, load_model

    path = Path(path)
    novelty = fit_model(load_model(path).model, data.x_train, data.y_train, data.x_val)
    if novelty is None:
        return None

    def write(tmp: Path) -> None:
        with zipfile.ZipFile(path) as source, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as target:
            for info in source.infolist():
                if info.filename != NOVELTY_ENTRY:
                    target.writestr(info, source.read(info.filename))
            target.writestr(NOVELTY_ENTRY, novelty.to_bytes())

    write_atomic(path, write, suffix=".keras")
    return novelty


if __name__ == "__main__":  # python -m model.novelty MODEL.keras [SEED]: how assets/model.keras got its statistics
    import sys

    from model.data import load_splits

    fitted = attach_to_file(sys.argv[1], load_splits(seed=int(sys.argv[2]) if len(sys.argv) > 2 else 0))
    print("no convolution with a ReLU: nothing written" if fitted is None
          else f"{sys.argv[1]}: statistics of {fitted.width} features written, threshold {fitted.threshold:.2f}")
