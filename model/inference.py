"""Predictions for single drawings at interactive speed, and for thousands in batches.

``model.predict()`` costs about 55 ms of fixed overhead a call; a drawing must
take about 2 ms. The predictor calls the model's compiled predict function
directly, always with one of two fixed batch shapes, so nothing is retraced.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from model.preprocess import image_to_input
from model.strokes import Drawing, strokes_to_input

if TYPE_CHECKING:  # annotations only: model.novelty is imported where it is used
    from model.novelty import Novelty

BULK_BATCH = 256
UNSURE_BELOW = 0.6  # top probability under which the answer is "not sure"


@dataclass(frozen=True)
class Prediction:
    digit: int | None  # None: no digit on the canvas
    confidence: float
    probabilities: np.ndarray  # ten floats summing to 1; zeros when there is no digit
    network_input: np.ndarray | None  # the (28, 28) image the network saw
    # Unlike the digits the model learned from (model.novelty); None when the model cannot tell.
    unfamiliar: bool | None = None

    @property
    def is_digit(self) -> bool:
        return self.digit is not None

    @property
    def unsure(self) -> bool:
        return self.digit is not None and self.confidence < UNSURE_BELOW

    def runner_up(self) -> int:
        return int(np.argsort(self.probabilities)[-2])

    def to_json(self) -> dict:
        return {
            "digit": self.digit,
            "confidence": round(float(self.confidence), 6),
            "probabilities": [round(float(p), 6) for p in self.probabilities],
            "unfamiliar": self.unfamiliar,
        }


NO_DIGIT = Prediction(None, 0.0, np.zeros(10, dtype=np.float32), None)


def apply_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(logits / T) computed from probabilities: log p differs from the logits by a constant."""
    if temperature == 1.0:
        return probabilities
    logits = np.log(np.clip(probabilities, 1e-12, 1.0)) / temperature
    logits -= logits.max(axis=-1, keepdims=True)
    scaled = np.exp(logits)
    return scaled / scaled.sum(axis=-1, keepdims=True)


class Predictor:
    """Wraps a Keras model: (N, 28, 28) inputs in, calibrated probabilities out."""

    def __init__(self, model, temperature: float = 1.0, *, frozen: bool = False, interactive: bool = False,
                 novelty: Novelty | None = None):
        """``novelty``: the model's ``model.novelty.Novelty``, to tell each prediction whether the drawing
        looks like a digit at all (``Prediction.unfamiliar``).

        ``frozen``: ``model``'s weights will not change while this predictor is used (a loaded model,
        not a model in training or an epoch snapshot), so it may predict with a faster copy of it, its
        batch normalisation folded.

        ``interactive`` (with ``frozen``): it will predict one drawing at a time, many times, as the
        window does while a person draws. One drawing's graph is then compiled with XLA at the first
        prediction: about 0.2 s once, for 0.2 ms less on every drawing after (OPTIMISATIONS.md item 29).
        A command that predicts a few files would only pay the compile, and TensorFlow keeps each compiled
        program until the process ends (about 1.6 MB for the bundled model; the first compile in a process
        also keeps about 80 MB of XLA itself, ``python -m benchmarks startup_memory``), so it is for models
        that predict for a long time."""
        self.model = model
        self.temperature = temperature
        self._single = np.zeros((1, 28, 28, 1), dtype=np.float32)
        self._rank = len(model.inputs[0].shape) if getattr(model, "inputs", None) else 4
        self._network = model
        self._xla_single = frozen and interactive
        self._forwards: dict[tuple, object] = {}  # batch shape -> traced call (model.backend.compiled_forward)
        if frozen:
            from model.folding import fold_batch_norm

            self._network = fold_batch_norm(model)
        self.novelty = None
        if novelty is not None:
            from model.novelty import tapped

            with_tap = tapped(self._network, novelty)
            if with_tap is not None:
                self._network, self.novelty = with_tap, novelty

    def _call(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Raw probabilities, and each input's novelty distance when the network gives them."""
        if self._rank == 3:
            batch = batch[..., 0]
        forward = self._forwards.get(batch.shape)
        if forward is None:  # one of two shapes (one drawing, BULK_BATCH), traced once each
            from model.backend import compiled_forward

            xla = self._xla_single and batch.shape[0] == 1
            forward = compiled_forward(self._network, batch.shape, xla=xla) or self._network.predict_on_batch
            self._forwards[batch.shape] = forward
        outputs = forward(batch)
        if isinstance(outputs, (list, tuple)):
            return np.asarray(outputs[0], dtype=np.float32), np.asarray(outputs[1], dtype=np.float32)
        return np.asarray(outputs, dtype=np.float32), None

    def _outputs(self, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(N, 28, 28) float32 in [0, 1] -> (N, 10) probabilities and (N,) unfamiliar flags (or None)."""
        inputs = np.asarray(inputs, dtype=np.float32).reshape(-1, 28, 28, 1)
        if len(inputs) == 1:
            self._single[...] = inputs
            raw, distances = self._call(self._single)
        else:
            chunks = []
            for start in range(0, len(inputs), BULK_BATCH):
                chunk = inputs[start:start + BULK_BATCH]
                padded = np.zeros((BULK_BATCH, 28, 28, 1), dtype=np.float32)
                padded[:len(chunk)] = chunk
                probs, far = self._call(padded)
                chunks.append((probs[:len(chunk)], None if far is None else far[:len(chunk)]))
            raw = np.concatenate([c[0] for c in chunks]) if chunks else np.zeros((0, 10), dtype=np.float32)
            distances = np.concatenate([c[1] for c in chunks]) if chunks and chunks[0][1] is not None else None
        raw = np.clip(np.nan_to_num(raw, nan=0.0), 0.0, None)
        sums = raw.sum(axis=1, keepdims=True)
        raw = np.where(sums > 0, raw / np.where(sums > 0, sums, 1), 0.1)
        unfamiliar = None
        if distances is not None and self.novelty is not None:
            unfamiliar = self.novelty.beyond(distances)
        return apply_temperature(raw, self.temperature).astype(np.float32), unfamiliar

    def probabilities(self, inputs: np.ndarray) -> np.ndarray:
        """(N, 28, 28) float32 in [0, 1] -> (N, 10) probabilities, in fixed-size batches."""
        return self._outputs(inputs)[0]

    def _wrap(self, network_input: np.ndarray | None, probabilities: np.ndarray | None,
              unfamiliar: bool | None = None) -> Prediction:
        if network_input is None or probabilities is None:
            return NO_DIGIT
        digit = int(np.argmax(probabilities))
        return Prediction(digit, float(probabilities[digit]), probabilities, network_input,
                          None if unfamiliar is None else bool(unfamiliar))

    def predict_input(self, network_input: np.ndarray | None) -> Prediction:
        if network_input is None:
            return NO_DIGIT
        probs, unfamiliar = self._outputs(network_input[None])
        return self._wrap(network_input, probs[0], None if unfamiliar is None else unfamiliar[0])

    def predict_inputs(self, inputs: Sequence[np.ndarray | None]) -> list[Prediction]:
        present = [i for i, x in enumerate(inputs) if x is not None]
        probs, unfamiliar = self._outputs(np.stack([inputs[i] for i in present])) if present else ([], None)
        result = [NO_DIGIT] * len(inputs)
        for row, index in enumerate(present):
            result[index] = self._wrap(inputs[index], probs[row], None if unfamiliar is None else unfamiliar[row])
        return result

    def predict_strokes(self, strokes, width: float = 500.0, height: float = 500.0) -> Prediction:
        return self.predict_input(strokes_to_input(strokes, width, height))

    def predict_drawings(self, drawings: Iterable[Drawing]) -> list[Prediction]:
        """Many drawings, rendered here while a helper thread predicts the previous batch.

        Rendering is Python and the network is TensorFlow, which lets go of the
        GIL: overlapped, 3,498 pendigits drawings take about the longer of the
        two instead of their sum. Only the helper thread touches the model.
        """
        drawings = list(drawings)
        if len(drawings) <= BULK_BATCH:
            return self.predict_inputs([strokes_to_input(d.strokes, d.width, d.height) for d in drawings])
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="predict") as pool:
            futures = [
                pool.submit(self.predict_inputs,
                            [strokes_to_input(d.strokes, d.width, d.height) for d in drawings[i:i + BULK_BATCH]])
                for i in range(0, len(drawings), BULK_BATCH)
            ]
            return [prediction for future in futures for prediction in future.result()]

    def predict_image(self, image) -> Prediction:
        return self.predict_input(image_to_input(image))
