"""The "not a digit" signal (model.novelty): fitted, saved, loaded, and honest on real drawings."""
from __future__ import annotations

import json
import math
import zipfile

import numpy as np
import pytest

from model import paths
from model.errors import DigitsError
from model.inference import Predictor
from model.modelio import NOVELTY_ENTRY, load_model, new_metadata, save_model
from model.novelty import Novelty, features_of, fit, fit_model
from model.strokes import strokes_to_input


def _line(x0, y0, x1, y1, n=30):
    return [[x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n] for i in range(n + 1)]


# Not digits, drawn as a person would on the 500 x 500 canvas. The bundled model reads each
# as a digit with 85-100 % (python -m benchmarks not_digits), and its features put each far
# past the threshold (distances 76-176 against 47).
NOT_DIGITS = {
    "letter H": [_line(130, 100, 130, 400), _line(370, 100, 370, 400), _line(130, 250, 370, 250)],
    "dash": [_line(100, 250, 400, 250)],
    "square": [_line(100, 100, 400, 100) + _line(400, 100, 400, 400)[1:] + _line(400, 400, 100, 400)[1:]
               + _line(100, 400, 100, 100)[1:]],
    "spiral": [[[250 + (5 + 3 * t) * math.cos(t / 4), 250 + (5 + 3 * t) * math.sin(t / 4)] for t in range(80)]],
    "zigzag": [_line(80, 150, 160, 350) + _line(160, 350, 240, 150)[1:] + _line(240, 150, 320, 350)[1:]
               + _line(320, 350, 400, 150)[1:]],
}


@pytest.fixture(scope="module")
def bundled():
    return load_model(paths.BUNDLED_MODEL)


def test_the_bundled_model_calls_shapes_not_digits_and_real_drawings_digits(bundled, pendigits_samples):
    assert bundled.novelty is not None
    predictor = Predictor(bundled.model, bundled.temperature, frozen=True, interactive=True, novelty=bundled.novelty)
    for name, strokes in NOT_DIGITS.items():
        prediction = predictor.predict_strokes(strokes, 500, 500)
        assert prediction.digit is not None and prediction.unfamiliar is True, name
        assert prediction.to_json()["unfamiliar"] is True
    drawn = predictor.predict_drawings(pendigits_samples)
    assert [p.unfamiliar for p in drawn] == [False] * len(pendigits_samples)  # tablet handwriting of real people


def test_one_drawing_and_a_batch_get_the_same_answer(bundled, pendigits_samples):
    """The window predicts one drawing at a time (XLA), the CLI in padded batches: one verdict."""
    inputs = [strokes_to_input(s, 500, 500) for s in NOT_DIGITS.values()]
    inputs += [strokes_to_input(d.strokes, d.width, d.height) for d in pendigits_samples[:5]]
    one = Predictor(bundled.model, bundled.temperature, frozen=True, interactive=True, novelty=bundled.novelty)
    batch = Predictor(bundled.model, bundled.temperature, frozen=True, novelty=bundled.novelty)
    singles = [one.predict_input(x).unfamiliar for x in inputs]
    assert singles == [p.unfamiliar for p in batch.predict_inputs(inputs)]
    assert singles == [True] * len(NOT_DIGITS) + [False] * 5


def test_the_graph_measures_the_distances_the_statistics_were_fitted_with(bundled):
    """Predictors compute the distances in the model's graph; fitting and thresholds use NumPy's."""
    from model.novelty import tapped

    inputs = np.stack([strokes_to_input(s, 500, 500) for s in NOT_DIGITS.values()])[..., None]
    in_graph = np.asarray(tapped(bundled.model, bundled.novelty).predict_on_batch(inputs)[1])
    np.testing.assert_allclose(in_graph, bundled.novelty.distances(features_of(bundled.model, inputs)), rtol=1e-3)


def test_a_predictor_without_statistics_cannot_tell(bundled):
    predictor = Predictor(bundled.model, bundled.temperature, frozen=True)
    prediction = predictor.predict_strokes(NOT_DIGITS["square"], 500, 500)
    assert prediction.unfamiliar is None and prediction.to_json()["unfamiliar"] is None


def test_fit_flags_about_one_validation_digit_in_200_and_far_points():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 5, size=(10, 8))
    labels = np.repeat(np.arange(10), 300)
    train = centres[labels] + rng.normal(size=(3000, 8))
    val = centres[np.repeat(np.arange(10), 400)] + rng.normal(size=(4000, 8))
    novelty = fit(train, labels, val)
    assert 0.002 <= novelty.unfamiliar(val).mean() <= 0.01
    fresh = centres[np.repeat(np.arange(10), 200)] + rng.normal(size=(2000, 8))
    assert novelty.unfamiliar(fresh).mean() < 0.02
    assert novelty.unfamiliar(centres + 12.0).all()  # far from every class


def test_statistics_survive_saving_and_loading(trained_model_path, tmp_path):
    loaded = load_model(trained_model_path)  # trained by train(), saved as the app saves it
    assert loaded.novelty is not None and loaded.novelty.width == 32  # fast's deepest convolution
    copy = save_model(loaded.model, tmp_path / "copy.keras", loaded.metadata, loaded.novelty)
    again = load_model(copy)
    np.testing.assert_array_equal(again.novelty.precisions, loaded.novelty.precisions)
    assert again.novelty.threshold == loaded.novelty.threshold
    bare = load_model(save_model(loaded.model, tmp_path / "bare.keras", loaded.metadata))
    assert bare.novelty is None


def _with_entry(source, target, data: bytes):
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as out:
        for info in src.infolist():
            if info.filename != NOVELTY_ENTRY:
                out.writestr(info, src.read(info.filename))
        out.writestr(NOVELTY_ENTRY, data)
    return target


def test_statistics_that_do_not_fit_the_model_are_refused_in_one_sentence(trained_model_path, tmp_path):
    wrong_width = Novelty(np.zeros((10, 5), np.float32), np.zeros((10, 5, 5), np.float32), 1.0)
    for name, data in [("garbage.keras", b"not an npz at all"), ("wide.keras", wrong_width.to_bytes())]:
        path = _with_entry(trained_model_path, tmp_path / name, data)
        with pytest.raises(DigitsError) as caught:
            load_model(path)
        message = str(caught.value)
        assert message.startswith(str(path)) and "not-a-digit statistics" in message and "\n" not in message


def test_fit_model_needs_a_convolution_and_enough_validation(small_splits):
    from model.backend import keras

    k = keras()
    dense_only = k.Sequential([k.Input((28, 28, 1)), k.layers.Flatten(), k.layers.Dense(10, activation="softmax")])
    assert fit_model(dense_only, small_splits.x_train, small_splits.y_train, small_splits.x_val) is None
    assert features_of(dense_only, small_splits.x_val[:3]) is None
    from model import architectures

    model = architectures.get("seed").build()
    assert fit_model(model, small_splits.x_train, small_splits.y_train, small_splits.x_val[:50]) is None
    novelty = fit_model(model, small_splits.x_train, small_splits.y_train, small_splits.x_val)
    assert novelty is not None and novelty.width == 64


def test_training_without_novelty_skips_it(small_splits):
    from model.training import TrainConfig, train

    result = train(TrainConfig(arch="seed", epochs=1, batch_size=128), small_splits.head(1000, 300, 100),
                   fit_novelty=False)
    assert result.novelty is None


def test_evaluate_on_drawings_reports_how_many_real_digits_it_called_not_digits(trained_model_path, capsys):
    from model.cli import run

    samples = paths_to_sample()
    assert run(["evaluate", "--model", str(trained_model_path), "--strokes", str(samples), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert isinstance(report["unfamiliar"], int) and 0 <= report["unfamiliar"] <= report["count"] == 20
    bare = trained_model_path.parent / "bare-for-cli.keras"
    loaded = load_model(trained_model_path)
    save_model(loaded.model, bare, new_metadata("fast"))
    assert run(["evaluate", "--model", str(bare), "--strokes", str(samples), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["unfamiliar"] is None


def paths_to_sample():
    from pathlib import Path

    return Path(__file__).parent / "data" / "pendigits-sample.jsonl"
