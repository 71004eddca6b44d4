from __future__ import annotations

import numpy as np
import pytest

from model.calibration import (
    calibrate,
    calibrate_probabilities,
    expected_calibration_error,
    fit_temperature,
    reliability,
)
from model.inference import Predictor, apply_temperature


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def test_ece_by_hand():
    # Two images at confidence 0.9 (one right), two at 0.6 (both right): |0.9-0.5|*2/4 + |0.6-1.0|*2/4 = 0.4
    probs = np.full((4, 10), 0.0)
    probs[:2, 0], probs[:2, 1] = 0.9, 0.1
    probs[2:, 2], probs[2:, 3] = 0.6, 0.4
    labels = np.array([0, 1, 2, 2])
    assert expected_calibration_error(probs, labels) == pytest.approx(0.4)
    conf, acc, count = reliability(probs, labels)
    assert count.sum() == 4 and np.nanmax(acc) == 1.0


def test_temperature_recovers_a_known_overconfidence():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, size=(4000, 10))
    labels = np.array([rng.choice(10, p=p) for p in _softmax(logits)])  # drawn from softmax(logits)
    overconfident = _softmax(logits * 2.0)  # a network that is twice too sure
    assert fit_temperature(overconfident, labels) == pytest.approx(2.0, rel=0.1)
    report = calibrate_probabilities(overconfident, labels)
    assert report.ece_after < report.ece_before / 3 and report.nll_after < report.nll_before
    assert fit_temperature(np.zeros((0, 10)), np.zeros(0)) == 1.0


def test_calibration_on_validation_lowers_ece_on_held_out_test(trained_model_path, small_splits):
    from model.modelio import load_model

    model = load_model(trained_model_path).model
    report = calibrate(model, small_splits.x_val, small_splits.y_val)  # fitted on validation only
    assert report.temperature != 1.0 and report.ece_after < report.ece_before
    test = Predictor(model).probabilities(small_splits.x_test)  # never seen by the fit
    before = expected_calibration_error(test, small_splits.y_test)
    after = expected_calibration_error(apply_temperature(test, report.temperature), small_splits.y_test)
    assert after < before
    # Temperature never changes which digit wins.
    np.testing.assert_array_equal(test.argmax(1), apply_temperature(test, report.temperature).argmax(1))


def test_training_fits_a_temperature_and_saved_models_keep_it(small_splits, tmp_path):
    from model.modelio import load_model, new_metadata, save_model
    from model.training import TrainConfig, train

    result = train(TrainConfig(arch="mlp", epochs=1, batch_size=64), small_splits.head(512, 200, 64))
    assert result.calibration is not None and result.calibration.count == 200
    assert result.summary()["temperature"] == pytest.approx(result.temperature, abs=1e-4)
    path = save_model(result.model, tmp_path / "m.keras",
                      new_metadata("mlp", result.config.to_dict(), result.test_accuracy, **result.metadata_extra()))
    loaded = load_model(path)
    assert loaded.temperature == pytest.approx(result.temperature)
    assert loaded.metadata["calibration"]["ece_after"] <= loaded.metadata["calibration"]["ece_before"] + 1e-9
