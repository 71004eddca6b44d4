from __future__ import annotations

import gc
import math

import numpy as np
import pytest

from model import architectures
from model.errors import DigitsError, TrainingDiverged
from model.training import TrainConfig, train


@pytest.mark.parametrize("name", list(architectures.ARCHITECTURES))
def test_each_architecture_builds_with_its_stated_size_and_trains(name, small_splits):
    arch = architectures.get(name)
    model = arch.build()
    assert model.count_params() == arch.params
    assert tuple(model.output_shape) == (None, 10)
    tiny = small_splits.head(256, 64, 64)
    result = train(TrainConfig(arch=name, epochs=1, batch_size=64), tiny)
    assert result.epochs_completed == 1 and not result.stopped
    assert math.isfinite(result.history["loss"][0]) and 0 <= result.test_accuracy <= 1
    assert arch.description and arch.recipe.epochs >= 1


def test_seed_is_the_reference_article_network():
    layers = [type(layer).__name__ for layer in architectures.get("seed").build().layers]
    assert layers == ["Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Flatten", "Dense", "Dropout", "Dense"]


def test_fasts_cosine_patterns_keep_nearly_all_of_the_ink_in_the_patches_they_read(small_splits):
    """The 16 lowest frequencies: 98.4% of the energy of the 5x5 patches (stride 2, middle 24x24) of MNIST digits.
    Patterns in the wrong order, or missing a low frequency, keep far less."""
    images = np.asarray(small_splits.x_train, np.float64).reshape(-1, 28, 28)[:, 2:26, 2:26]
    patches = np.lib.stride_tricks.sliding_window_view(images, (5, 5), axis=(1, 2))[:, ::2, ::2].reshape(-1, 25)
    patterns = architectures.cosine_patterns(gain=1.0).reshape(25, 32)[:, :16]
    assert ((patches @ patterns) ** 2).sum() / (patches ** 2).sum() > 0.97


def test_fasts_first_convolution_stays_the_fixed_cosine_patterns_through_training_and_saving(trained_model_path):
    from model.modelio import load_model

    model = load_model(trained_model_path).model  # trained two epochs, saved and loaded
    first = model.get_layer("cosine_patterns")
    assert not first.trainable and all(w is not first.kernel for w in model.trainable_weights)
    np.testing.assert_array_equal(first.kernel.numpy(), architectures.cosine_patterns())
    # Sixteen orthogonal patterns of length 3, then their negatives: a basis, nothing repeated
    patterns = architectures.cosine_patterns().reshape(25, 32)
    np.testing.assert_allclose(patterns[:, :16].T @ patterns[:, :16], 9 * np.eye(16), atol=1e-5)
    np.testing.assert_array_equal(patterns[:, 16:], -patterns[:, :16])


def test_training_learns_and_reports_progress(small_splits):
    batches, epochs = [], []
    result = train(TrainConfig(arch="fast", epochs=2, batch_size=64, learning_rate=3e-3, progress_interval=0),
                   small_splits, on_batch=batches.append, on_epoch=epochs.append)
    assert result.test_accuracy > 0.85  # 3,000 images, two epochs: far above chance (0.10)
    assert [e.epoch for e in epochs] == [1, 2]
    assert epochs[-1].val_accuracy > 0.85 and epochs[-1].samples_per_second > 0
    assert len(epochs[-1].weights) == len(result.model.get_weights())
    per_epoch = math.ceil(3000 / 64)
    assert len(batches) == 2 * per_epoch  # interval 0: every batch reported
    assert batches[-1].fraction_done == pytest.approx(1.0)
    assert batches[0].loss > batches[-1].loss
    assert all(b.eta_seconds >= 0 for b in batches)
    assert result.history["val_accuracy"] == [e.val_accuracy for e in epochs]


def test_progress_is_throttled(small_splits):
    batches = []
    train(TrainConfig(arch="mlp", epochs=1, batch_size=16, progress_interval=10.0),
          small_splits.head(1600, 16, 16), on_batch=batches.append)
    # The first batch and the last of the epoch always report; nothing in between within 10 s.
    assert len(batches) <= 3 and batches[-1].batch == 100


def test_stop_takes_effect_within_one_batch(small_splits):
    seen = []
    stop_after = 5

    def on_batch(progress):
        seen.append(progress.batch)

    calls = {"n": 0}

    def should_stop():
        calls["n"] += 1
        return calls["n"] >= stop_after

    result = train(TrainConfig(arch="fast", epochs=3, batch_size=32, progress_interval=0), small_splits,
                   on_batch=on_batch, should_stop=should_stop)
    assert result.stopped
    assert seen[-1] == stop_after  # no batch ran after the one where stop was requested
    assert result.epochs_completed == 0  # the interrupted epoch is not recorded


def test_nan_loss_stops_with_a_clear_message(small_splits):
    poisoned = small_splits.head(512, 32, 32)
    x = poisoned.x_train.copy()
    x[100] = np.nan  # one bad value poisons the weights in one step, as a diverging run does
    bad = type(poisoned)(x, poisoned.y_train, poisoned.x_val, poisoned.y_val, poisoned.x_test, poisoned.y_test, "t")
    with pytest.raises(TrainingDiverged, match="loss became NaN"):
        train(TrainConfig(arch="mlp", epochs=2, batch_size=32), bad)


def test_same_seed_same_result(small_splits):
    tiny = small_splits.head(512, 64, 64)
    a = train(TrainConfig(arch="mlp", epochs=1, batch_size=64, seed=7), tiny)
    b = train(TrainConfig(arch="mlp", epochs=1, batch_size=64, seed=7), tiny)
    for wa, wb in zip(a.model.get_weights(), b.model.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("field, value", [("epochs", 0), ("batch_size", -1), ("learning_rate", 0.0),
                                          ("learning_rate", 1e6)])
def test_bad_hyperparameters_are_refused(field, value):
    with pytest.raises(DigitsError):
        TrainConfig(arch="fast", **{field: value}).resolved()


def test_extra_callbacks_write_tensorboard_logs(small_splits, tmp_path):
    import keras

    logs = tmp_path / "tb"
    train(TrainConfig(arch="mlp", epochs=1, batch_size=64), small_splits.head(256, 64, 64),
          extra_callbacks=[keras.callbacks.TensorBoard(log_dir=str(logs))])
    assert list(logs.rglob("events.out.tfevents.*"))


def _left_behind() -> dict[str, int]:
    """What a training run should take with it: its traced step and its input pipeline."""
    gc.collect()
    objects = gc.get_objects()
    return {"traced steps": sum(1 for o in objects if type(o).__name__ == "FuncGraph"
                                and getattr(o, "name", "") == "one_step_on_data"),
            "dataset adapters": sum(1 for o in objects if type(o).__name__ == "PyDatasetAdapter")}


def test_a_finished_run_leaves_neither_its_traced_step_nor_its_dataset_behind(small_splits):
    # TensorFlow kept every run's traced training step (5-7 MB) in a global gradient
    # registry until the process ended: the window grew with each training run. And
    # Dataset.from_generator hands its Python callbacks to the global default graph, which
    # never goes away: each run kept its PyDataset, its adapter and enqueuer (two queues),
    # about 100 objects a run in the window's soak.
    from model.backend import keras

    if keras().backend.backend() != "tensorflow":
        pytest.skip("traced graphs and generator datasets are TensorFlow's")
    before = _left_behind()
    for _ in range(2):
        result = train(TrainConfig(arch="fast", epochs=1, batch_size=64), small_splits.head(256, 64, 64))
        del result
    assert _left_behind() == before


def test_each_epochs_validation_scores_that_epochs_final_weights(small_splits):
    # Validation starts in a helper thread at the epoch's last batch, while Keras stops its data
    # threads; it must still see exactly the weights the epoch ended with, not the next epoch's.
    from model.inference import Predictor

    data = small_splits.head(1024, 300, 64)
    epochs = []
    train(TrainConfig(arch="fast", epochs=3, batch_size=64), data, on_epoch=epochs.append)
    scorer = architectures.get("fast").build()
    for progress in epochs:
        scorer.set_weights(progress.weights)
        predicted = Predictor(scorer).probabilities(data.x_val).argmax(axis=1)
        assert progress.val_accuracy == pytest.approx(float((predicted == data.y_val).mean()))


def test_a_failure_while_validating_reaches_the_caller(small_splits):
    tiny = small_splits.head(256, 64, 64)
    broken = type(tiny)(tiny.x_train, tiny.y_train, tiny.x_val[:, :27, :27], tiny.y_val, tiny.x_test, tiny.y_test, "t")
    with pytest.raises(ValueError):
        train(TrainConfig(arch="mlp", epochs=2, batch_size=64), broken)
