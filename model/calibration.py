"""Honest confidences: temperature scaling fitted on the validation split, and the calibration error.

A network trained with cross-entropy is often over-confident: "99% sure" is
right less than 99% of the time. Temperature scaling (Guo et al., 2017)
divides the logits by one number ``T`` fitted to minimise the negative
log-likelihood on held-out images; it never changes which digit wins. Our
models end in a softmax, and ``log p`` equals the logits up to a constant, so
``T`` is fitted and applied to probabilities (``inference.apply_temperature``).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from model.inference import apply_temperature

ECE_BINS = 15
T_MIN, T_MAX = 0.05, 20.0


@dataclass(frozen=True)
class CalibrationReport:
    temperature: float
    ece_before: float  # on the images the temperature was fitted on
    ece_after: float
    nll_before: float
    nll_after: float
    count: int

    def to_metadata(self) -> dict:
        """What a saved model keeps: ``temperature`` (read by ``LoadedModel.temperature``) and the figures."""
        return {"temperature": self.temperature,
                "calibration": {k: round(v, 6) if isinstance(v, float) else v for k, v in asdict(self).items()}}


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """Mean gap between confidence and accuracy over equal-width confidence bins, weighted by bin size."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64).ravel()
    if len(labels) == 0:
        return float("nan")
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    # Bin edges (0, 1/b], (1/b, 2/b], ...: a confidence of exactly 1 lands in the last bin.
    which = np.clip(np.ceil(confidence * bins).astype(np.int64) - 1, 0, bins - 1)
    conf_sum = np.bincount(which, weights=confidence, minlength=bins)
    acc_sum = np.bincount(which, weights=correct.astype(np.float64), minlength=bins)
    return float(np.abs(conf_sum - acc_sum).sum() / len(labels))


def reliability(probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per bin: mean confidence, accuracy (NaN for empty bins) and count; for a reliability diagram."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64).ravel()
    confidence = probabilities.max(axis=1) if len(labels) else np.zeros(0)
    correct = (probabilities.argmax(axis=1) == labels) if len(labels) else np.zeros(0, dtype=bool)
    which = np.clip(np.ceil(confidence * bins).astype(np.int64) - 1, 0, bins - 1)
    count = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(which, weights=confidence, minlength=bins) / count
        accuracy = np.bincount(which, weights=correct.astype(np.float64), minlength=bins) / count
    return mean_conf, accuracy, count


def _nll(log_p: np.ndarray, labels: np.ndarray, inverse_t: float) -> float:
    z = log_p * inverse_t
    z = z - z.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(z).sum(axis=1))
    return float(np.mean(log_norm - z[np.arange(len(labels)), labels]))


def _nll_slope_and_curvature(log_p: np.ndarray, true_log_p: np.ndarray, inverse_t: float) -> tuple[float, float]:
    """First and second derivative of the NLL in ``1/T``: mean(E_q[l] - l_true) and mean(Var_q[l])."""
    z = log_p * inverse_t
    q = np.exp(z - z.max(axis=1, keepdims=True))
    q /= q.sum(axis=1, keepdims=True)
    mean_l = (q * log_p).sum(axis=1)
    var_l = (q * log_p * log_p).sum(axis=1) - mean_l * mean_l
    return float(np.mean(mean_l - true_log_p)), float(np.mean(var_l))


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The ``T`` in [0.05, 20] minimising the NLL of ``softmax(log p / T)``; 1.0 for no data.

    The NLL is convex in ``1/T``: Newton steps on ``1/T``, kept inside a bracket
    that each slope narrows, find the minimum in a handful of passes over the
    data (a golden-section search took 60; it runs at every epoch's end). It
    stops where the NLL's slope is below 1e-10: for predictions that are all
    right, the NLL keeps falling towards T = 0.05 by less than that.
    """
    labels = np.asarray(labels, dtype=np.int64).ravel()
    if len(labels) == 0:
        return 1.0
    log_p = np.log(np.clip(np.asarray(probabilities, dtype=np.float64), 1e-12, 1.0))
    true_log_p = log_p[np.arange(len(labels)), labels]
    low, high = 1 / T_MAX, 1 / T_MIN
    inverse_t = 1.0
    for _ in range(100):
        slope, curvature = _nll_slope_and_curvature(log_p, true_log_p, inverse_t)
        if abs(slope) < 1e-10:
            break
        if slope > 0:
            high = inverse_t
        else:
            low = inverse_t
        step = slope / curvature if curvature > 0 else math.inf
        target = inverse_t - step
        if not low < target < high:  # Newton left the bracket: bisect instead
            target = (low + high) / 2
        if abs(target - inverse_t) <= 1e-9 * inverse_t or high - low <= 1e-9 * high:
            inverse_t = target
            break
        inverse_t = target
    # A model that is already calibrated keeps T = 1 exactly rather than a noise-level 0.998.
    if _nll(log_p, labels, 1.0) <= _nll(log_p, labels, inverse_t) + 1e-9:
        return 1.0
    return float(1 / inverse_t)


def calibrate_probabilities(probabilities: np.ndarray, labels: np.ndarray) -> CalibrationReport:
    from model.evaluation import cross_entropy

    temperature = fit_temperature(probabilities, labels)
    scaled = apply_temperature(np.asarray(probabilities, dtype=np.float64), temperature)
    return CalibrationReport(
        temperature=temperature,
        ece_before=expected_calibration_error(probabilities, labels),
        ece_after=expected_calibration_error(scaled, labels),
        nll_before=cross_entropy(np.asarray(probabilities), labels),
        nll_after=cross_entropy(scaled, labels),
        count=len(labels),
    )


def calibrate(model, x_val: np.ndarray, y_val: np.ndarray) -> CalibrationReport:
    """Fit the temperature of a Keras model on validation images (N, 28, 28[, 1]) and labels."""
    from model.inference import Predictor

    probabilities = Predictor(model, 1.0).probabilities(x_val) if len(x_val) else np.zeros((0, 10))
    return calibrate_probabilities(probabilities, y_val)
