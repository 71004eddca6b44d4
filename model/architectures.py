"""The model zoo: named architectures, each with its recommended recipe.

``params`` is written down so the window can show it without importing
TensorFlow; a test checks it against the built model.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from model.backend import keras

INPUT_SHAPE = (28, 28, 1)


@dataclass(frozen=True)
class Recipe:
    """How an architecture is best trained; the defaults of a ``TrainConfig``."""

    learning_rate: float
    batch_size: int
    epochs: int
    schedule: str = "constant"  # "constant" or "onecycle" (linear warm-up, cosine decay)
    augment: bool = False
    label_smoothing: float = 0.0  # share of each target spread over all ten classes (0: plain cross-entropy)


@dataclass(frozen=True)
class Architecture:
    name: str
    description: str
    params: int
    recipe: Recipe
    builder: Callable[[], object]
    supports_augmentation: bool = True

    def build(self):
        """A fresh, uncompiled ``keras.Model`` taking (N, 28, 28, 1) and returning ten probabilities."""
        model = self.builder()
        model.name  # noqa: B018 - builders return named models; touching it catches a builder returning None
        return model


def _input():
    return keras().Input(shape=INPUT_SHAPE, name="image")


def _seed():
    layers = keras().layers
    return keras().Sequential(
        [
            _input(),
            layers.Conv2D(32, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ],
        name="seed",
    )


def cosine_patterns(size: int = 5, count: int = 16, gain: float = 3.0) -> np.ndarray:
    """A (size, size, 1, 2 * count) convolution kernel: the ``count`` lowest-frequency 2-D cosine (DCT-II)
    patterns, unit length times ``gain``, each followed by its negative.

    With a ReLU after it, each pattern and its negative together pass the patch's projection on that
    pattern whatever its sign, so the layer loses only the highest frequencies: the 16 patterns hold
    98.4% of the ink's energy in the 5x5 patches ``fast`` reads from MNIST's first 5,000 training
    images. They are nearly what a principal component analysis of those patches finds: a fixed
    basis, not learned.
    """
    index = np.arange(size) + 0.5
    pairs = sorted(((u, v) for u in range(size) for v in range(size)), key=lambda uv: (uv[0] + uv[1], uv[0]))
    patterns = []
    for u, v in pairs[:count]:
        pattern = np.outer(np.cos(np.pi * index * u / size), np.cos(np.pi * index * v / size))
        patterns.append(gain * pattern / np.linalg.norm(pattern))
    both = np.stack(patterns + [-p for p in patterns], axis=-1)
    return both.reshape(size, size, 1, 2 * count).astype(np.float32)


def _fast():
    layers = keras().layers
    # Measured on the 2-core CPU (benchmarks/OPTIMISATIONS.md): a 5x5 convolution over one
    # input channel at stride 1 costs as much as the whole rest of the network, so it strides
    # by 2. The second convolution is most of a step's work; 32 channels instead of 48 make a
    # step 0.78x as long and cross 99.0% as early. Batch normalisation of the dense layer costs
    # 1.07x a step and crosses 99.0% about 0.25 epoch sooner. The outer two pixels are cut off
    # first: MNIST-style digits sit in the middle 20x20 and only 0.24% of the ink falls outside
    # the middle 24x24, so the convolutions do 0.71x the work for a crossing about 0.1 epoch
    # later (6 seeds through train(): 4.49-5.01 s to 99% against 5.28-5.80 s, same finals and
    # pendigits). (Dense 128 or 512, or 24 channels in the first convolution, were no quicker
    # to 99%, ended a seed below 99.0% or fine-tuned worse on a few personal drawings.)
    # The first convolution is fixed cosine patterns (``cosine_patterns``), not learned: with
    # nothing to learn below the second convolution, a step skips that convolution's gradient
    # for its input and the first one's for its kernel, most of the backward pass (item 32).
    first = layers.Conv2D(32, 5, strides=2, activation="relu", use_bias=False, kernel_initializer="zeros",
                          trainable=False, name="cosine_patterns")
    model = keras().Sequential(
        [
            _input(),
            layers.Cropping2D(2),
            first,
            layers.Conv2D(32, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(256, use_bias=False),
            layers.BatchNormalization(momentum=0.9),  # momentum: see _conv_bn
            layers.ReLU(),
            layers.Dense(10, activation="softmax"),
        ],
        name="fast",
    )
    first.kernel.assign(cosine_patterns())
    return model


def _conv_bn(layers, filters: int, kernel: int = 3):
    return [
        layers.Conv2D(filters, kernel, padding="same", use_bias=False),
        # Momentum 0.9, not Keras's 0.99: runs here are a few hundred steps, and
        # slow running statistics would leave inference far from training.
        layers.BatchNormalization(momentum=0.9),
        layers.ReLU(),
    ]


def _best():
    layers = keras().layers
    return keras().Sequential(
        [
            _input(),
            *_conv_bn(layers, 32),
            *_conv_bn(layers, 32),
            layers.MaxPooling2D(2),
            *_conv_bn(layers, 64),
            *_conv_bn(layers, 64),
            layers.MaxPooling2D(2),
            *_conv_bn(layers, 128),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(256, use_bias=False),
            layers.BatchNormalization(momentum=0.9),
            layers.ReLU(),
            layers.Dropout(0.4),
            layers.Dense(10, activation="softmax"),
        ],
        name="best",
    )


def _mlp():
    layers = keras().layers
    return keras().Sequential(
        [
            _input(),
            layers.Flatten(),
            layers.Dense(256, activation="relu"),
            layers.Dense(128, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ],
        name="mlp",
    )


ARCHITECTURES: dict[str, Architecture] = {
    arch.name: arch
    for arch in (
        Architecture(
            "seed",
            "The reference article's CNN: two 3x3 convolutions, dense 64, dropout.",
            121930,
            Recipe(learning_rate=1e-3, batch_size=32, epochs=5),
            _seed,
        ),
        Architecture(
            "fast",
            "Quickest to 99%: fixed cosine patterns, then one learned convolution; two epochs of "
            "one-cycle Adam on smoothed labels.",
            144714,
            # Label smoothing 0.1: the crossing of 99.0% comes at about 1.0 epoch instead of 1.5
            # (six seeds, benchmarks/OPTIMISATIONS.md item 25); 0.05 and 0.2 did as well.
            Recipe(learning_rate=1e-2, batch_size=256, epochs=2, schedule="onecycle", label_smoothing=0.1),
            _fast,
        ),
        Architecture(
            "best",
            "Most accurate: five batch-normalised convolutions trained on augmented digits.",
            438314,
            Recipe(learning_rate=4e-3, batch_size=128, epochs=12, schedule="onecycle", augment=True),
            _best,
        ),
        Architecture(
            "mlp",
            "Dense baseline with no convolutions, to show why convolutions matter.",
            235146,
            Recipe(learning_rate=1e-3, batch_size=128, epochs=5),
            _mlp,
        ),
    )
}


def get(name: str) -> Architecture:
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise KeyError(f"unknown architecture {name!r}; choose from {', '.join(ARCHITECTURES)}") from None
