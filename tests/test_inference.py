from __future__ import annotations

import os

import numpy as np
import pytest
from conftest import assert_probabilities

from model import architectures
from model.inference import NO_DIGIT, Predictor, apply_temperature
from model.modelio import load_model
from model.strokes import strokes_to_input


@pytest.fixture(scope="module")
def predictor(trained_model_path):
    return Predictor(load_model(trained_model_path).model)


def test_single_and_batched_predictions_agree(predictor, small_splits):
    images = small_splits.x_test[:300, ..., 0]
    batched = predictor.probabilities(images)
    assert batched.shape == (300, 10)
    for i in (0, 150, 299):
        np.testing.assert_allclose(predictor.probabilities(images[i][None])[0], batched[i], atol=1e-5)
    assert (batched.argmax(1) == small_splits.y_test[:300]).mean() > 0.85


def test_prediction_contract(predictor, small_splits):
    prediction = predictor.predict_input(small_splits.x_test[0, ..., 0])
    assert prediction.digit == int(np.argmax(prediction.probabilities))
    assert prediction.confidence == pytest.approx(prediction.probabilities.max())
    assert_probabilities(prediction.probabilities)
    payload = prediction.to_json()
    assert set(payload) == {"digit", "confidence", "probabilities", "unfamiliar"}
    assert len(payload["probabilities"]) == 10
    assert payload["unfamiliar"] is None  # this predictor was given no novelty statistics (tests/test_novelty.py)


def test_blank_is_no_digit_not_a_guess(predictor):
    assert predictor.predict_strokes([], 280, 280) is NO_DIGIT
    assert predictor.predict_input(None).to_json() == {"digit": None, "confidence": 0.0, "probabilities": [0.0] * 10,
                                                       "unfamiliar": None}


def test_drawings_in_bulk_match_one_by_one(predictor, pendigits_samples):
    bulk = predictor.predict_drawings(pendigits_samples)
    for drawing, prediction in zip(pendigits_samples, bulk):
        single = predictor.predict_strokes(drawing.strokes, drawing.width, drawing.height)
        assert single.digit == prediction.digit
        np.testing.assert_array_equal(single.network_input, strokes_to_input(drawing.strokes, 500, 500))


def test_temperature_softens_without_changing_the_answer():
    probs = np.array([[0.9, 0.05, 0.05] + [0.0] * 7], np.float32)
    softer = apply_temperature(probs, 2.0)
    assert softer.argmax() == 0 and softer[0, 0] < 0.9 and softer.sum() == pytest.approx(1.0)


def test_batch_norm_folds_into_an_equivalent_copy(small_splits):
    from model.backend import keras
    from model.folding import fold_batch_norm

    k = keras()
    model = architectures.get("best").build()
    rng = np.random.default_rng(3)
    for layer in model.layers:  # statistics far from the initial ones, as after training
        if isinstance(layer, k.layers.BatchNormalization):
            n = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 2, n), rng.normal(0, 0.5, n), rng.normal(0, 0.3, n),
                               rng.uniform(0.05, 3, n)])
    folded = fold_batch_norm(model)
    assert not any(isinstance(layer, k.layers.BatchNormalization) for layer in folded.layers)
    assert len(folded.layers) == len(model.layers) - 6  # five convolutions and the dense layer
    images = small_splits.x_test[:64].reshape(-1, 28, 28, 1)
    np.testing.assert_allclose(folded.predict_on_batch(images), model.predict_on_batch(images), atol=2e-5)
    plain = architectures.get("seed").build()
    assert fold_batch_norm(plain) is plain


def test_a_frozen_predictor_predicts_as_the_model_does(small_splits):
    from model import paths

    loaded = load_model(paths.BUNDLED_MODEL)  # the bundled network has six batch normalisations
    images = small_splits.x_test[:300]
    np.testing.assert_allclose(Predictor(loaded.model, loaded.temperature, frozen=True).probabilities(images),
                               Predictor(loaded.model, loaded.temperature).probabilities(images), atol=2e-5)


def test_one_drawing_in_the_window_runs_compiled_by_xla_and_predicts_as_the_model_does(small_splits):
    from model import paths
    from model.backend import keras

    loaded = load_model(paths.BUNDLED_MODEL)
    frozen, plain = Predictor(loaded.model, frozen=True, interactive=True), Predictor(loaded.model)
    command = Predictor(loaded.model, frozen=True)  # a few files: compiling would cost more than it saves
    for image in small_splits.x_test[:8, ..., 0]:
        np.testing.assert_allclose(frozen.probabilities(image[None]), plain.probabilities(image[None]), atol=2e-5)
    frozen.probabilities(small_splits.x_test[:3, ..., 0])  # a batch: TensorFlow's own kernels, quicker there
    if keras().backend.backend() == "tensorflow":
        assert frozen._forwards[(1, 28, 28, 1)].xla  # noqa: SLF001
        assert not frozen._forwards[(256, 28, 28, 1)].xla  # noqa: SLF001
        assert not plain._forwards[(1, 28, 28, 1)].xla  # noqa: SLF001 - its weights may change: no compile
        command.probabilities(small_splits.x_test[:1, ..., 0])
        assert not command._forwards[(1, 28, 28, 1)].xla  # noqa: SLF001


@pytest.mark.skipif(os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow", reason="XLA via TensorFlow")
def test_a_model_xla_cannot_compile_is_predicted_through_the_plain_graph():
    import tensorflow as tf

    from model.backend import compiled_forward, keras

    k = keras()

    class HostDoubling(k.layers.Layer):  # a NumPy call inside the graph: XLA cannot compile it
        def call(self, x):
            doubled = tf.numpy_function(lambda a: a * 2, [x], tf.float32)
            return tf.ensure_shape(doubled, x.shape)

    model = k.Sequential([k.Input((28, 28, 1)), HostDoubling(), k.layers.Flatten(), k.layers.Dense(10)])
    image = np.random.default_rng(0).random((1, 28, 28, 1)).astype(np.float32)
    forward = compiled_forward(model, (1, 28, 28, 1), xla=True)
    assert not forward.xla
    np.testing.assert_allclose(forward(image), model.predict_on_batch(image), atol=1e-5)


def test_one_drawing_follows_weights_set_after_the_first_prediction(small_splits):
    """The window's epoch snapshots set new weights into the model a predictor already traced."""
    trained, fresh = architectures.get("seed").build(), architectures.get("seed").build()
    rng = np.random.default_rng(5)
    trained.set_weights([rng.normal(0, 0.1, w.shape) for w in trained.get_weights()])
    image = small_splits.x_test[7, ..., 0]
    predictor = Predictor(fresh)
    before = predictor.probabilities(image[None])[0]
    np.testing.assert_allclose(before, fresh.predict_on_batch(image[None, ..., None])[0], atol=1e-6)
    fresh.set_weights(trained.get_weights())
    after = predictor.probabilities(image[None])[0]
    np.testing.assert_allclose(after, trained.predict_on_batch(image[None, ..., None])[0], atol=1e-6)
    assert not np.allclose(before, after, atol=1e-3)


def test_the_keras_fallback_predicts_the_same(predictor, small_splits, monkeypatch):
    """Off TensorFlow ``compiled_forward`` returns None and the predictor uses ``predict_on_batch``."""
    import model.backend

    monkeypatch.setattr(model.backend, "compiled_forward", lambda network, shape, xla=False: None)
    fallback = Predictor(predictor.model)
    images = small_splits.x_test[:5, ..., 0]
    for image in images:
        np.testing.assert_allclose(fallback.probabilities(image[None]), predictor.probabilities(image[None]),
                                   atol=1e-6)
    np.testing.assert_allclose(fallback.probabilities(images), predictor.probabilities(images), atol=1e-6)
    assert all(f == predictor.model.predict_on_batch for f in fallback._forwards.values())  # noqa: SLF001
