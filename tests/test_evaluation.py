from __future__ import annotations

import json

import numpy as np
import pytest

from model.evaluation import (
    confusion_matrix,
    cross_entropy,
    evaluate_model,
    evaluate_probabilities,
    format_confusion,
    per_class_accuracy,
)


def _one_hot_ish(predicted: list[int], confidence: list[float]) -> np.ndarray:
    """Probabilities whose top digit is ``predicted`` with ``confidence``; the rest spread evenly."""
    probs = np.zeros((len(predicted), 10), dtype=np.float32)
    for row, (p, c) in enumerate(zip(predicted, confidence)):
        probs[row, :] = (1 - c) / 9
        probs[row, p] = c
    return probs


# Six images, worked out by hand:
#   true 0 -> 0 (0.9), 0 (0.6);  true 1 -> 1 (0.8), 7 (0.7);  true 7 -> 1 (0.95), 7 (0.5)
LABELS = [0, 0, 1, 1, 7, 7]
PREDICTED = [0, 0, 1, 7, 1, 7]
CONFIDENCE = [0.9, 0.6, 0.8, 0.7, 0.95, 0.5]


def test_figures_match_a_hand_computed_case():
    probs = _one_hot_ish(PREDICTED, CONFIDENCE)
    result = evaluate_probabilities(probs, LABELS)
    expected = np.zeros((10, 10), dtype=int)
    expected[0, 0] = 2
    expected[1, 1] = 1
    expected[1, 7] = 1
    expected[7, 1] = 1
    expected[7, 7] = 1
    np.testing.assert_array_equal(result.confusion, expected)
    assert result.accuracy == pytest.approx(4 / 6)
    per_class = result.per_class_accuracy
    assert per_class[0] == 1.0 and per_class[1] == 0.5 and per_class[7] == 0.5
    assert np.isnan(per_class[[2, 3, 4, 5, 6, 8, 9]]).all()  # no images of those digits
    # Loss: mean of -log p(true). True-class probabilities: 0.9, 0.6, 0.8, 0.3/9, 0.05/9, 0.5.
    true_p = [0.9, 0.6, 0.8, 0.3 / 9, 0.05 / 9, 0.5]
    assert result.loss == pytest.approx(-np.mean(np.log(true_p)), rel=1e-5)
    assert result.to_json()["confusion"][1][7] == 1


def test_cell_gallery_lists_most_confident_mistakes_first():
    labels = [3, 3, 3, 3, 8]
    predicted = [5, 5, 3, 5, 5]
    confidence = [0.55, 0.99, 0.9, 0.7, 0.8]
    images = np.arange(5 * 28 * 28, dtype=np.float32).reshape(5, 28, 28, 1)
    result = evaluate_probabilities(_one_hot_ish(predicted, confidence), labels, images)
    items = result.cell(3, 5)
    assert [item.index for item in items] == [1, 3, 0]
    assert [item.confidence for item in items] == pytest.approx([0.99, 0.7, 0.55])
    assert all(item.true == 3 and item.predicted == 5 for item in items)
    np.testing.assert_array_equal(items[0].image, images[1, ..., 0])
    assert [i.index for i in result.cell(3, 5, limit=1)] == [1]
    assert result.cell(0, 0) == []
    assert [i.index for i in result.most_confident_mistakes()] == [1, 4, 3, 0]
    with pytest.raises(ValueError):
        result.cell(10, 0)


def test_helpers_agree_with_each_other():
    confusion = confusion_matrix([0, 1, 1, 2], [0, 1, 2, 2])
    assert confusion.sum() == 4 and confusion[1, 2] == 1
    np.testing.assert_allclose(per_class_accuracy(confusion)[:3], [1.0, 0.5, 1.0])
    assert cross_entropy(np.full((2, 10), 0.1), np.array([3, 4])) == pytest.approx(np.log(10))
    text = format_confusion(confusion)
    assert len(text.splitlines()) == 11 and "50.00%" in text


def test_a_real_model_matches_keras_evaluate(trained_model_path, small_splits):
    from model.modelio import load_model

    model = load_model(trained_model_path).model
    x, y = small_splits.x_test[:300], small_splits.y_test[:300]
    result = evaluate_model(model, x, y)
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    loss, accuracy = model.evaluate(x, y, batch_size=300, verbose=0)
    assert result.accuracy == pytest.approx(accuracy, abs=1e-6)
    assert result.loss == pytest.approx(loss, rel=1e-3)
    assert result.confusion.sum() == 300 and np.trace(result.confusion) == round(accuracy * 300)


def test_cli_evaluate_confusion_prints_the_matrix(trained_model_path, capsys):
    from model.cli import run

    assert run(["evaluate", "--model", str(trained_model_path), "--confusion"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "test accuracy" in lines[0] and lines[1].startswith("true\\pred")
    rows = [[int(v) for v in line.split()[1:11]] for line in lines[2:12]]
    assert len(rows) == 10 and sum(map(sum, rows)) == 10_000  # the whole MNIST test set
    assert run(["evaluate", "--model", str(trained_model_path), "--confusion", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert np.trace(summary["confusion"]) == round(summary["accuracy"] * 10_000)
    assert len(summary["per_class_accuracy"]) == 10
