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


def test_only_models_a_person_opens_are_compiled_by_xla(qapp, trained_model_path):
    """TensorFlow keeps each XLA program for the process's life: not one per training run's model."""
    from model.backend import keras

    worker = InferenceWorker()
    loaded_keys, failures = [], []
    worker.loaded.connect(lambda key, _what: loaded_keys.append(key))
    worker.load_failed.connect(lambda _key, message: failures.append(message))
    worker.load(1, trained_model_path)  # opened: startup, File > Open, the previous model
    worker.adopt(2, load_model(trained_model_path))  # handed over at the end of a training run
    assert not failures and loaded_keys == [1, 2]
    single = (1, 28, 28, 1)
    opened, adopted = worker._predictors[1]._forwards[single], worker._predictors[2]._forwards[single]  # noqa: SLF001
    assert opened.xla == (keras().backend.backend() == "tensorflow") and not adopted.xla
    drawing = np.random.default_rng(2).random((28, 28)).astype(np.float32)
    np.testing.assert_allclose(worker._predictors[1].predict_input(drawing).probabilities,  # noqa: SLF001
                               worker._predictors[2].predict_input(drawing).probabilities, atol=2e-5)
