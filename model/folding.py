"""An inference copy of a model with each batch normalisation folded into the layer before it.

At inference a batch normalisation is a fixed per-channel scale and shift, so
``Conv2D``/``Dense`` (no activation) followed by ``BatchNormalization`` is one
``Conv2D``/``Dense`` with a scaled kernel and a bias. For one drawing through
the bundled model that removes six operations of 25 and about 0.17 ms of 1.8
(benchmarks/OPTIMISATIONS.md). Only a copy is folded: the original keeps its
layers for training, saving and the internals view.
"""
from __future__ import annotations

import numpy as np

from model.backend import keras


def _foldable(layer, following) -> bool:
    k = keras()
    if not isinstance(layer, (k.layers.Conv2D, k.layers.Dense)) or not isinstance(
            following, k.layers.BatchNormalization):
        return False
    axis = following.axis if isinstance(following.axis, int) else list(following.axis)
    return layer.get_config().get("activation") == "linear" and axis in (-1, [-1], len(layer.output.shape) - 1,
                                                                             [len(layer.output.shape) - 1])


def _folded_weights(layer, norm) -> list[np.ndarray]:
    kernel = np.asarray(keras().ops.convert_to_numpy(layer.kernel), dtype=np.float64)
    channels = kernel.shape[-1]
    bias = np.asarray(keras().ops.convert_to_numpy(layer.bias), np.float64) if layer.use_bias else np.zeros(channels)

    def weight(name: str, default: float) -> np.ndarray:
        value = getattr(norm, name, None)
        return np.full(channels, default) if value is None else np.asarray(
            keras().ops.convert_to_numpy(value), dtype=np.float64)

    scale = weight("gamma", 1.0) / np.sqrt(weight("moving_variance", 1.0) + norm.epsilon)
    shift = weight("beta", 0.0) - weight("moving_mean", 0.0) * scale
    return [(kernel * scale).astype(np.float32), (bias * scale + shift).astype(np.float32)]


def fold_batch_norm(model):
    """A copy of the ``Sequential`` ``model`` with its batch normalisations folded; ``model`` itself otherwise.

    ``model`` is returned unchanged when it is not a plain ``Sequential`` or has
    nothing to fold. (No check prediction here: tracing the original too would
    add a few tenths of a second to the app's start; tests compare the two.)
    """
    k = keras()
    if type(model) is not k.Sequential or not getattr(model, "inputs", None):
        return model
    try:
        layers = list(model.layers)
        built: list[tuple[object, list[np.ndarray]]] = []
        i = 0
        while i < len(layers):
            layer = layers[i]
            following = layers[i + 1] if i + 1 < len(layers) else None
            config = layer.get_config()
            if _foldable(layer, following):
                built.append((type(layer).from_config({**config, "use_bias": True}), _folded_weights(layer, following)))
                i += 2
            else:
                built.append((type(layer).from_config(config), layer.get_weights()))
                i += 1
        if len(built) == len(layers):
            return model
        copy = k.Sequential([k.Input(shape=tuple(model.inputs[0].shape[1:])), *(new for new, _ in built)],
                            name=f"{model.name}_folded")
        for new, weights in built:
            new.set_weights(weights)
        return copy
    except Exception:  # noqa: BLE001 - an optimisation only: the model as it is always works
        return model
