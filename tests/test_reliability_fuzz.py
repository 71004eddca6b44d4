"""Fuzzing the strokes parser and the preprocessing: never an unhandled exception.

Whatever a file or a caller hands over, the outcome is a DigitsError (one sentence)
or a valid result: a (28, 28) float32 input in [0, 1], or None ("no digit"); and
through a real model, ten probabilities summing to 1, or "no digit".
Example counts are kept modest so the whole file runs in seconds on two cores.
"""
from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from model import preprocess, strokes
from model.errors import DigitsError

FUZZ = settings(max_examples=150, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Numbers as a file or a canvas may hold them: ordinary, huge, tiny, negative, NaN, infinite.
coordinates = st.one_of(
    st.floats(-600, 600, allow_nan=False),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-10**6, 10**6),
    st.integers(min_value=10**300, max_value=10**320),  # beyond a float: must not overflow
)
points = st.lists(coordinates, min_size=0, max_size=4)
stroke = st.lists(points, max_size=30)
drawing = st.lists(stroke, max_size=6)
junk = st.recursive(
    st.none() | st.booleans() | coordinates | st.text(max_size=5),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=20,
)
records = st.fixed_dictionaries(
    {"strokes": st.one_of(drawing, junk)},
    optional={"width": st.one_of(coordinates, junk), "height": st.one_of(coordinates, junk),
              "label": st.one_of(st.integers(-3, 12), junk), "writer": junk},
)


def assert_network_input(value) -> None:
    if value is None:
        return
    assert isinstance(value, np.ndarray) and value.shape == (28, 28) and value.dtype == np.float32
    assert np.isfinite(value).all() and value.min() >= 0.0 and value.max() <= 1.0


def _dumps(record) -> str:
    try:
        return json.dumps(record)
    except (ValueError, OverflowError):  # a float that json refuses: write it as text instead
        return str(record)


@FUZZ
@given(st.lists(st.one_of(records.map(_dumps), st.text(max_size=40)), max_size=4))
def test_strokes_parser_never_raises_anything_but_a_digits_error(lines):
    try:
        drawings = list(strokes.iter_drawings(io.StringIO("\n".join(lines)), "fuzz.jsonl"))
    except DigitsError as exc:
        message = str(exc)
        assert message.startswith("fuzz.jsonl, line ") and "\n" not in message
        return
    for parsed in drawings:
        assert math.isfinite(parsed.width) and parsed.width > 0 and parsed.height > 0
        assert parsed.label is None or parsed.label in range(10)
        assert_network_input(strokes.strokes_to_input(parsed.strokes, parsed.width, parsed.height))


@FUZZ
@given(drawing, st.floats(1e-6, 1e6), st.floats(1e-6, 1e6))
def test_any_strokes_render_to_a_valid_input_or_no_digit(strokes_, width, height):
    assert_network_input(strokes.strokes_to_input(strokes_, width, height))
    ink = strokes.render_strokes(strokes_)
    assert ink is None or (ink.ndim == 2 and np.isfinite(ink).all())


@FUZZ
@given(junk)
def test_strokes_of_any_shape_from_code_never_crash(anything):
    try:
        strokes_ = list(anything) if isinstance(anything, (list, dict, str)) else [anything]
    except TypeError:
        return
    assert_network_input(strokes.strokes_to_input(strokes_, 500, 500))


images = st.one_of(
    hnp.arrays(st.sampled_from([np.uint8, np.uint16, np.float32, np.float64, np.bool_]),
               hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=48)),
    hnp.arrays(st.sampled_from([np.uint8, np.float32]),
               st.tuples(st.integers(1, 40), st.integers(1, 40), st.integers(1, 4))),
)


@FUZZ
@given(images)
def test_any_image_array_gives_a_valid_input_or_no_digit(array):
    assert_network_input(preprocess.image_to_input(array))


@FUZZ
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=60),
                  elements=st.floats(allow_nan=True, allow_infinity=True, width=64)))
def test_any_ink_gives_a_valid_input_or_no_digit(ink):
    assert_network_input(preprocess.ink_to_input(ink))


@FUZZ
@given(hnp.arrays(np.uint8, st.tuples(st.integers(1, 40), st.integers(1, 40), st.integers(2, 4))),
       st.sampled_from(["LA", "RGB", "RGBA", "P"]))
def test_any_pillow_picture_gives_a_valid_input_or_no_digit(array, mode):
    from PIL import Image

    channels = {"LA": 2, "RGB": 3, "RGBA": 4}.get(mode)
    if mode == "P":
        picture = Image.fromarray(array[..., 0]).convert("P")
        picture.info["transparency"] = int(array[0, 0, 1])
        picture = picture.convert("RGBA")
    elif channels is None or array.shape[2] != channels:
        picture = Image.fromarray(array[..., 0], "L").convert(mode)
    else:
        picture = Image.fromarray(array, mode)
    assert_network_input(preprocess.image_to_input(picture))


@pytest.fixture(scope="module")
def predictor(trained_model_path):
    from model.inference import Predictor
    from model.modelio import load_model

    loaded = load_model(trained_model_path)
    return Predictor(loaded.model, loaded.temperature)


def _check_prediction(prediction) -> None:
    probabilities = np.asarray(prediction.probabilities)
    assert probabilities.shape == (10,) and np.isfinite(probabilities).all()
    if prediction.digit is None:
        assert not probabilities.any() and prediction.confidence == 0.0
    else:
        assert probabilities.min() >= 0 and abs(float(probabilities.sum()) - 1.0) < 1e-4
        assert prediction.digit == int(np.argmax(probabilities))
        assert prediction.confidence == pytest.approx(float(probabilities.max()))
    json.dumps(prediction.to_json(), allow_nan=False)  # what the CLI prints is strict JSON


sevens = st.builds(
    lambda dx, dy, s, noise: [[[dx + s * x + n, dy + s * y - n] for (x, y), n in zip(
        [(100, 100), (300, 100), (180, 400)], noise)]],
    st.floats(-1e4, 1e4), st.floats(-1e4, 1e4), st.floats(0.01, 100), st.lists(st.floats(-20, 20), min_size=3,
                                                                              max_size=3))


@settings(max_examples=40, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(st.one_of(records.map(_dumps), sevens.map(lambda s: json.dumps({"strokes": s}))),
                min_size=1, max_size=5))
def test_end_to_end_every_line_gives_ten_probabilities_or_no_digit(predictor, lines):
    """Parser, renderer, preprocessing and a real Keras model, as ``digits predict --strokes`` runs them."""
    try:
        drawings = list(strokes.iter_drawings(io.StringIO("\n".join(lines)), "fuzz.jsonl"))
    except DigitsError:
        return
    predictions = predictor.predict_drawings(drawings)
    assert len(predictions) == len(drawings)
    for prediction in predictions:
        _check_prediction(prediction)


@settings(max_examples=25, deadline=None, database=None, derandomize=True)
@given(hnp.arrays(np.float32, (28, 28), elements=st.one_of(
    st.floats(-1e6, 1e6, width=32), st.sampled_from([float("nan"), float("inf"), -float("inf")]))))
def test_predictor_survives_any_network_input(predictor, network_input):
    """Even a 28x28 input that skipped preprocessing (NaN, huge values) yields a valid answer."""
    _check_prediction(predictor.predict_input(network_input))
