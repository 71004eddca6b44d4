"""While a run trains, the window predicts with each epoch's weights: calibrated by that epoch's temperature."""
from __future__ import annotations

import numpy as np
import pytest

from gui.inference import InferenceWorker, PredictionInput, Snapshot, _Request
from model.inference import Predictor
from model.modelio import load_model

A_SEVEN = [[(60.0, 60.0), (220.0, 60.0), (120.0, 230.0)]]


@pytest.mark.parametrize("temperature", [1.0, 0.3])
def test_epoch_snapshot_predicts_with_its_epochs_temperature(qapp, trained_model_path, temperature):
    model = load_model(trained_model_path).model
    worker = InferenceWorker()
    predictions, failures = [], []
    worker.predicted.connect(lambda _request, prediction: predictions.append(prediction))
    worker.load_failed.connect(lambda _key, message: failures.append(message))
    worker.predict_failed.connect(lambda _request, message: failures.append(message))

    worker.snapshot(1, Snapshot("fast", 1, 2, model.get_weights(), temperature))
    worker.predict(_Request(1, "epoch 1", PredictionInput(0, strokes=A_SEVEN)))

    assert not failures and len(predictions) == 1
    expected = Predictor(model, temperature).predict_strokes(A_SEVEN, 280.0, 280.0)
    np.testing.assert_allclose(predictions[0].probabilities, expected.probabilities, atol=1e-5)
    # The temperature really reached the prediction: sharpened (T < 1) is surer than the raw output.
    raw = Predictor(model, 1.0).predict_strokes(A_SEVEN, 280.0, 280.0)
    assert (predictions[0].confidence > raw.confidence + 1e-3) == (temperature < 1.0)
