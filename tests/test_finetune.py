"""Fine-tuning on a synthetic "personal style": the pendigits sample drawings, consistently slanted."""
from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import DATA

from model.errors import DigitsError
from model.finetune import FinetuneConfig, finetune, split_held_back
from model.strokes import Drawing


def _my_style(drawing: Drawing, rng: np.random.Generator) -> Drawing:
    """This writer turns every digit about 30 degrees and varies its width a little."""
    angle = np.deg2rad(30 + rng.uniform(-6, 6))
    stretch = rng.uniform(0.85, 1.15)
    rotate = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    transform = rotate @ np.diag([stretch, 1 / stretch])
    strokes = []
    for stroke in drawing.strokes:
        points = np.asarray(stroke, dtype=float)[:, :2] - 250
        points = points @ transform.T + 250 + rng.normal(0, 2.0, points.shape)
        strokes.append(points.round(1).tolist())
    return Drawing(strokes, 500, 500, drawing.label)


@pytest.fixture(scope="module")
def personal_sets(pendigits_samples):
    """Eight variants of one drawing per digit to fine-tune on; four of the *other* drawing to measure."""
    first, second, seen = [], [], set()
    for drawing in pendigits_samples:
        (second if drawing.label in seen else first).append(drawing)
        seen.add(drawing.label)
    # One generator a set, so the variants differ (a generator made per drawing gave eight identical copies)
    mine_rng, unseen_rng = np.random.default_rng(1), np.random.default_rng(2)
    mine = [_my_style(d, mine_rng) for d in first for _ in range(8)]
    unseen = [_my_style(d, unseen_rng) for d in second for _ in range(4)]
    return mine, unseen


def test_finetuning_learns_my_style_and_keeps_mnist(trained_model_path, small_splits, personal_sets):
    from model.modelio import load_model

    model = load_model(trained_model_path).model
    original = [w.copy() for w in model.get_weights()]
    mine, unseen = personal_sets
    epochs = []
    config = FinetuneConfig(epochs=3, learning_rate=5e-4, mnist_ratio=5, min_mnist=600)
    result = finetune(model, mine, small_splits, config, arch="fast", evaluate_on=unseen, on_epoch=epochs.append)

    assert (result.personal_train, result.personal_held_back) == (60, 20)
    assert result.personal_after >= result.personal_before + 0.3  # the held-back variants of my digits
    assert result.extra_after > result.extra_before  # drawings of my style it never trained on
    # "Does not break MNIST": on this 1,000-image slice, with a weak 3,000-image model, within 2.5 points.
    # Measured over training seeds 0-2: this recipe costs 1.1-1.6 points here, while fine-tuning at 5e-3
    # with no MNIST in the mix costs 21. The 0.2-point limit is for
    # the bundled model on the full test set (README demonstration).
    assert result.mnist_after >= result.mnist_before - 0.025
    assert [e.epoch for e in epochs] == [1, 2, 3] and epochs[-1].val_accuracy == pytest.approx(result.personal_after)
    assert result.calibration is not None and result.metadata_extra()["temperature"] == result.temperature
    # "Not a digit" is refitted on the tuned features, with the person's drawings among the digits
    assert result.novelty is not None
    assert result.novelty.threshold != load_model(trained_model_path).novelty.threshold
    for before, after in zip(original, model.get_weights()):  # the window's model is untouched
        np.testing.assert_array_equal(before, after)


def test_finetuning_stops_within_one_batch(trained_model_path, small_splits, personal_sets):
    from model.modelio import load_model

    batches, asked = [], []

    def should_stop() -> bool:  # the Stop button is pressed during the second batch
        asked.append(True)
        return len(asked) >= 2

    result = finetune(load_model(trained_model_path).model, personal_sets[0], small_splits.head(600, 50, 50),
                      FinetuneConfig(epochs=2, min_mnist=200, progress_interval=0),
                      on_batch=batches.append, should_stop=should_stop)
    assert result.stopped and [b.batch for b in batches] == [1, 2]
    assert result.train_result.epochs_completed == 0


def test_held_back_split_is_per_digit_and_seeded():
    labels = np.array([0] * 10 + [1] * 5 + [2])
    train, held = split_held_back(labels, 0.2, seed=3)
    assert sorted(np.concatenate([train, held]).tolist()) == list(range(16))
    assert np.bincount(labels[held], minlength=3).tolist() == [2, 1, 0]  # a lone sample is never held back
    assert np.array_equal(held, split_held_back(labels, 0.2, seed=3)[1])


def test_nothing_to_learn_from_is_refused(trained_model_path, small_splits):
    from model.modelio import load_model

    with pytest.raises(DigitsError, match="no labelled drawings"):
        finetune(load_model(trained_model_path).model, [Drawing([[[0, 0], [0, 0]]], label=3)], small_splits)


def test_cli_finetune_saves_a_calibrated_copy_and_records_the_run(trained_model_path, mnist_splits, tmp_path,
                                                                   capsys):
    from model import history, paths
    from model.cli import run
    from model.modelio import load_model

    # A small MNIST in the Keras layout: 5,000 validation images are split off, 600 left to mix in.
    small = tmp_path / "mnist-small.npz"
    as_uint8 = lambda x: (x[..., 0] * 255).round().astype(np.uint8)  # noqa: E731
    np.savez(small, x_train=as_uint8(mnist_splits.x_train[:5600]), y_train=mnist_splits.y_train[:5600],
             x_test=as_uint8(mnist_splits.x_test[:500]), y_test=mnist_splits.y_test[:500])
    samples = tmp_path / "mine.jsonl"
    samples.write_text((DATA / "pendigits-sample.jsonl").read_text())
    out = tmp_path / "tuned.keras"
    args = ["finetune", "--samples", str(samples), "--model", str(trained_model_path), "--out", str(out),
            "--data", str(small), "--epochs", "1", "--json"]
    assert run(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["personal_train"] + summary["personal_held_back"] == 20 and summary["epochs"] == 1
    loaded = load_model(out)
    assert loaded.metadata["finetune"]["mnist_after"] == summary["mnist_after"] == loaded.test_accuracy
    assert loaded.metadata["finetuned_from"] == str(trained_model_path) and "temperature" in loaded.metadata
    if not summary["forgot"]:
        assert paths.active_model_path() == out.resolve()
    [record] = history.list_runs()
    assert record.kind == "finetune" and record.model_path == str(out)
    assert run(["finetune", "--samples", str(samples), "--out", str(paths.BUNDLED_MODEL)]) == 1
    assert "never overwritten" in capsys.readouterr().err
