"""The training input pipeline: uint8 images in a Keras ``PyDataset``, and the variables built before ``fit``.

Each choice here was measured (benchmarks/OPTIMISATIONS.md, items 1, 3, 4 and 6).
"""
from __future__ import annotations

import math

import numpy as np

from model.backend import keras


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


def batches(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int):
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


def build_before_fit(model, x: np.ndarray, y: np.ndarray) -> None:
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
