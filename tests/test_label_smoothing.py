"""Label smoothing: the ``fast`` recipe's, what it does to the network, and what the user is shown."""
from __future__ import annotations

import numpy as np
import pytest

from model.errors import DigitsError
from model.training import TrainConfig, train


def test_fast_recipe_smooths_labels_and_the_reference_recipe_does_not():
    assert TrainConfig(arch="fast").resolved().label_smoothing == pytest.approx(0.1)
    assert TrainConfig(arch="seed").resolved().label_smoothing == 0.0  # the article's recipe, unchanged
    assert TrainConfig(arch="fast", label_smoothing=0.0).resolved().label_smoothing == 0.0


@pytest.mark.parametrize("value", [-0.1, 1.0, 2.0])
def test_bad_label_smoothing_is_refused_in_one_sentence(value):
    with pytest.raises(DigitsError, match="label smoothing must be at least 0 and below 1"):
        TrainConfig(arch="fast", label_smoothing=value).resolved()


def _mean_top_probability(model, x) -> float:
    return float(np.asarray(model.predict_on_batch(x)).max(axis=1).mean())


@pytest.fixture(scope="module")
def plain_and_smoothed(small_splits):
    """The same small network trained to fit 1,000 images, with plain and with 0.3-smoothed targets."""
    data = small_splits.head(1000, 300, 300)
    runs = {}
    for smoothing in (0.0, 0.3):
        epochs = []
        config = TrainConfig(arch="fast", epochs=6, batch_size=64, learning_rate=3e-3, schedule="constant",
                             label_smoothing=smoothing)
        runs[smoothing] = (train(config, data, on_epoch=epochs.append), epochs)
    return data, runs


def test_smoothed_targets_make_the_network_less_sure(plain_and_smoothed):
    data, runs = plain_and_smoothed
    plain, smoothed = runs[0.0][0], runs[0.3][0]
    # A smoothed target keeps 1 - 0.3 + 0.03 = 0.73 on the true class: the network learns to stop there.
    assert _mean_top_probability(smoothed.model, data.x_train) < 0.85
    assert _mean_top_probability(plain.model, data.x_train) > 0.95
    assert smoothed.test_accuracy > 0.8


def test_curves_show_plain_cross_entropy_not_the_smoothed_loss(plain_and_smoothed):
    data, runs = plain_and_smoothed
    smoothed, epochs = runs[0.3]
    # The smoothed loss cannot fall below its targets' entropy, 1.18 at 0.3; plain cross-entropy can.
    assert smoothed.history["loss"][-1] < 1.0
    assert epochs[-1].loss == pytest.approx(smoothed.history["loss"][-1])
    # Training and validation curves measure the same thing, so they sit together.
    assert abs(smoothed.history["loss"][-1] - smoothed.history["val_loss"][-1]) < 0.3
    # And the returned model evaluates with plain cross-entropy too.
    loss, _accuracy = smoothed.model.evaluate(data.x_test, data.y_test, verbose=0)
    assert loss == pytest.approx(smoothed.test_loss, rel=1e-3)


def test_each_epoch_reports_the_temperature_that_makes_its_weights_honest(plain_and_smoothed):
    _data, runs = plain_and_smoothed
    (plain, plain_epochs), (smoothed, smoothed_epochs) = runs[0.0], runs[0.3]
    # Under-confident weights are sharpened (T < 1); the plain network, fitted hard, is not.
    assert all(e.temperature < 0.9 for e in smoothed_epochs)
    assert plain_epochs[-1].temperature > smoothed_epochs[-1].temperature
    # The last epoch's temperature is the run's: one fit on the same validation probabilities.
    assert smoothed_epochs[-1].temperature == smoothed.temperature
    assert plain_epochs[-1].temperature == plain.temperature


def test_a_smoothed_run_on_inexact_pixels_returns_a_model_that_evaluates_plainly(small_splits):
    # Pixels that are not k/255 train the model itself, not a uint8 wrapper around it.
    tiny = small_splits.head(512, 64, 128)
    shifted = type(tiny)(tiny.x_train + np.float32(1e-4), tiny.y_train, tiny.x_val, tiny.y_val,
                         tiny.x_test, tiny.y_test, "shifted")
    result = train(TrainConfig(arch="fast", epochs=1, batch_size=64, label_smoothing=0.2), shifted)
    loss, _accuracy = result.model.evaluate(tiny.x_test, tiny.y_test, verbose=0)
    assert loss == pytest.approx(result.test_loss, rel=1e-3)
