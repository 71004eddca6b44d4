from __future__ import annotations

import numpy as np
import pytest

from model.inference import Predictor
from model.internals import FeatureMaps, input_frame_on_canvas, occlusion_saliency, preprocessing_stages
from model.modelio import load_model
from model.strokes import strokes_to_input


@pytest.fixture(scope="module")
def loaded(trained_model_path):
    return load_model(trained_model_path)


def test_stages_end_in_the_network_input(pendigits_samples):
    drawing = pendigits_samples[3]
    stages = preprocessing_stages(drawing.strokes, drawing.width, drawing.height)
    np.testing.assert_array_equal(stages.centred, strokes_to_input(drawing.strokes, 500, 500))
    assert max(stages.fitted.shape) == 20 and stages.centred.shape == (28, 28)
    assert stages.cropped.shape[0] <= stages.rendered.shape[0] and stages.cropped.shape[1] <= stages.rendered.shape[1]
    assert preprocessing_stages([], 280, 280) is None


def test_feature_maps_have_each_conv_layers_shape_and_follow_the_drawing(loaded, pendigits_samples):
    maps = FeatureMaps(loaded.model)
    conv_shapes = [tuple(layer.output.shape[1:]) for layer in maps.layers]
    assert len(conv_shapes) == 2
    one = maps(strokes_to_input(pendigits_samples[0].strokes, 500, 500))
    other = maps(strokes_to_input(pendigits_samples[5].strokes, 500, 500))
    assert [m.shape for m in one] == conv_shapes
    assert not np.allclose(one[0], other[0])


def test_saliency_lies_on_the_ink_and_reacts_to_the_drawing(loaded, pendigits_samples):
    predictor = Predictor(loaded.model)
    x = strokes_to_input(pendigits_samples[0].strokes, 500, 500)
    y = strokes_to_input(pendigits_samples[9].strokes, 500, 500)
    digit = predictor.predict_input(x).digit
    heat = occlusion_saliency(predictor.probabilities, x, digit)
    assert heat.shape == (28, 28) and heat.max() == pytest.approx(1.0) and heat.min() >= 0
    assert np.all(heat[x <= 0.05] == 0)  # blank paper never gets the credit
    other = occlusion_saliency(predictor.probabilities, y, predictor.predict_input(y).digit)
    assert not np.allclose(heat, other)


def test_input_frame_maps_back_onto_the_drawing(pendigits_samples):
    drawing = pendigits_samples[0]
    x = strokes_to_input(drawing.strokes, 500, 500)
    left, top, side = input_frame_on_canvas(drawing.strokes, x)
    xy = np.array([p for s in drawing.strokes for p in s], float)
    # The 28x28 frame covers all of the ink, with the 20 px box about 20/28 of it.
    assert left <= xy[:, 0].min() and top <= xy[:, 1].min()
    assert left + side >= xy[:, 0].max() and top + side >= xy[:, 1].max()
    extent = (xy.max(axis=0) - xy.min(axis=0)).max()
    assert 28 / 20 * extent * 0.9 <= side <= 28 / 20 * extent * 1.4
