from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from model import preprocess, strokes
from model.errors import DigitsError


def _centre_of_mass(image):
    total = image.sum()
    rows, cols = np.indices(image.shape)
    return (rows * image).sum() / total, (cols * image).sum() / total


def _ink_box(image, threshold=0.05):
    rows = np.flatnonzero((image > threshold).any(axis=1))
    cols = np.flatnonzero((image > threshold).any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def test_ink_is_fitted_to_20px_and_centred_by_mass():
    ink = np.zeros((200, 300), np.float32)
    ink[20:180, 30:60] = 1.0  # a tall bar far off centre
    ink[20:40, 30:150] = 1.0  # with a heavy arm to the right: mass is not the box centre
    out = preprocess.ink_to_input(ink)
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() == pytest.approx(1.0)
    height, width = _ink_box(out)
    assert max(height, width) == 20 and width == pytest.approx(20 * 120 / 160, abs=1)
    com_y, com_x = _centre_of_mass(out)
    assert abs(com_y - 13.5) <= 0.5 and abs(com_x - 13.5) <= 0.5


@pytest.mark.parametrize("ink", [
    np.zeros((280, 280), np.float32),
    np.pad(np.ones((1, 2), np.float32), 100),  # a speck of two pixels
    np.full((50, 50), 0.1, np.float32),  # faint noise below the ink threshold
])
def test_blank_or_near_blank_is_no_digit(ink):
    assert preprocess.ink_to_input(ink) is None


def _strokes_of_a_seven(scale=1.0, offset=(0, 0)):
    ox, oy = offset
    return [[[ox + scale * x, oy + scale * y] for x, y in [(100, 100), (300, 100), (180, 400)]]]


def test_rendering_does_not_depend_on_the_drawing_size_or_place():
    small = strokes.strokes_to_input(_strokes_of_a_seven(0.5, (10, 20)), 500, 500)
    big = strokes.strokes_to_input(_strokes_of_a_seven(1.0, (50, 40)), 500, 500)
    assert small is not None and np.abs(small - big).max() < 0.05


def test_rendered_stroke_has_mnist_like_thickness():
    image = strokes.strokes_to_input([[[250, 50], [250, 450]]], 500, 500)  # a plain "1"
    row = image[14]
    assert 2 <= np.count_nonzero(row > 0.5) <= 4  # MNIST strokes are 2-3 px wide


@pytest.mark.parametrize("drawing", [
    [], [[]], [[[10, 10]]], [[[10, 10], [10, 10]]], [[[10, 10], [11, 11]]],
    [[[float("nan"), 1.0], [float("inf"), 2.0]]],
])
def test_empty_dots_and_specks_are_no_digit(drawing):
    assert strokes.strokes_to_input(drawing, 280, 280) is None


def test_pressure_changes_the_width():
    line = [[100, 50, 0.1], [100, 250, 0.1]], [[150, 50, 1.0], [150, 250, 1.0]]
    image = strokes.render_strokes(line)
    light, heavy = image[:, : image.shape[1] // 2], image[:, image.shape[1] // 2:]
    assert heavy.sum() > 1.5 * light.sum()


def test_images_of_either_polarity_classify_the_same():
    ink = np.zeros((100, 80), np.float32)
    ink[10:90, 35:45] = 1.0
    dark_on_light = Image.fromarray(((1 - ink) * 255).astype(np.uint8))
    light_on_dark = Image.fromarray((ink * 255).astype(np.uint8))
    rgba = Image.new("RGBA", (80, 100), (0, 0, 0, 0))
    rgba.putalpha(Image.fromarray((ink * 255).astype(np.uint8)))
    a, b, c = (preprocess.image_to_input(i) for i in (dark_on_light, light_on_dark, rgba))
    assert a is not None and np.abs(a - b).max() < 1e-5 and np.abs(a - c).max() < 0.02


@pytest.mark.parametrize("colour", [0, 255])
def test_uniform_images_are_no_digit(colour):
    assert preprocess.image_to_input(Image.new("L", (64, 64), colour)) is None


def test_jsonl_reader_names_the_bad_line():
    text = json.dumps({"label": 1, "strokes": [[[0, 0], [0, 9]]]}) + "\n\nnot json\n"
    with pytest.raises(DigitsError, match="line 3"):
        list(strokes.iter_drawings(io.StringIO(text), "f.jsonl"))


@pytest.mark.parametrize("record, problem", [
    ({"label": 1}, "missing the 'strokes' key"),
    ({"strokes": [[[0, "a"]]]}, "numbers"),
    ({"strokes": [[[0, 0]]], "label": 12}, "digit 0-9"),
    ({"strokes": [[[0, 0]]], "width": -5}, "positive"),
    ({"strokes": "abc"}, "list of strokes"),
])
def test_jsonl_reader_refuses_bad_records(record, problem):
    with pytest.raises(DigitsError, match=problem):
        list(strokes.iter_drawings(io.StringIO(json.dumps(record)), "f.jsonl"))


def test_drawing_round_trips_through_json(pendigits_samples):
    original = pendigits_samples[0]
    again = next(strokes.iter_drawings(io.StringIO(original.to_json()), "x"))
    assert again.strokes == original.strokes and again.label == original.label
    assert again.writer == original.writer and again.width == original.width


def _render_point_by_point(stroke_list, pen_fraction=strokes.PEN_FRACTION, size=strokes.RENDER_SIZE):
    """The renderer as specified, one disc and one segment at a time: what ``render_strokes`` must equal."""
    from PIL import ImageDraw

    cleaned = strokes.clean_strokes(stroke_list)
    xy = np.concatenate([s[:, :2] for s in cleaned])
    low, high = xy.min(axis=0), xy.max(axis=0)
    scale = size / float((high - low).max())
    pen = max(1.0, pen_fraction * size)
    margin = int(np.ceil(pen))
    image = Image.new("L", (int(np.ceil((high[0] - low[0]) * scale)) + 2 * margin + 1,
                            int(np.ceil((high[1] - low[1]) * scale)) + 2 * margin + 1), 0)
    draw = ImageDraw.Draw(image)
    for stroke in cleaned:
        points = (stroke[:, :2] - low) * scale + margin
        widths = np.full(len(points), pen)
        if stroke.shape[1] == 3:
            widths = pen * np.clip(0.4 + 0.9 * stroke[:, 2], 0.4, 1.3)
        for (x, y), w in zip(points, widths):
            draw.ellipse((x - w / 2, y - w / 2, x + w / 2, y + w / 2), fill=255)
        for a, b, w in zip(points[:-1], points[1:], widths[1:]):
            width = round(pen) if stroke.shape[1] == 2 else round(w)
            draw.line([tuple(a), tuple(b)], fill=255, width=max(1, width))
    return np.asarray(image, dtype=np.float32) / 255.0


def test_renderer_draws_the_same_pixels_as_point_by_point(pendigits_samples):
    rng = np.random.default_rng(3)
    pressured = [[[x, y, float(rng.uniform(0.05, 1))] for x, y in stroke]
                 for stroke in pendigits_samples[1].strokes]
    mixed = [[[0.5, 0.5, 1.0], [40.25, 3.75, 0.2]], [[10.5, 60.1], [30.2, 20.7], [12.0, 12.0]]]
    for drawing in [d.strokes for d in pendigits_samples] + [pressured, mixed]:
        assert np.array_equal(strokes.render_strokes(drawing), _render_point_by_point(drawing))


def test_ink_that_is_already_sane_gives_what_the_general_path_gives(pendigits_samples):
    ink = strokes.render_strokes(pendigits_samples[2].strokes)
    before = ink.copy()
    fast = preprocess.ink_to_input(ink)  # float32 in [0, 1]: used as it is
    general = preprocess.ink_to_input(ink.astype(np.float64))  # converted and clipped first
    assert np.array_equal(fast, general) and np.array_equal(ink, before)
    spoiled = ink.copy()
    spoiled[0, 0], spoiled[1, 1], spoiled[2, 2] = np.nan, -3.0, np.inf  # not sane: cleaned, not trusted
    assert np.isfinite(preprocess.fit_to_box(spoiled)).all()


@pytest.mark.parametrize("stroke_list, problem", [
    ([[[1, 2]], [[True, 2]]], "each point"),
    ([[[1, 2]], [[1.5, None]]], "each point"),
    ([[[1, 2], ["1", 2]]], "each point"),
    ([[[1, 2], [[1], 2]]], "each point"),
    ([[[1, 2], {"x": 1, "y": 2}]], "each point"),
    ([[[1]]], "each point"),
    ([[[1, 2, 0.5, 9]]], "each point"),
    ([[[1, 2]], "stroke"], "each stroke"),
    ([[[1, 2]], [1, 2]], "each point"),
    ([[[1, 2]] * 60_000, [[3, 4]] * 40_001], f"more than {strokes.MAX_POINTS} points"),
    ([[[1, 2]] * 60_000, [["bad"]], [[3, 4]] * 40_001], "each point"),  # the first problem is named
    ([[[1, 2]] * 60_000, [[3, 4]] * 40_001, [["bad"]]], f"more than {strokes.MAX_POINTS} points"),
])
def test_jsonl_reader_refuses_each_bad_point_wherever_it_is(stroke_list, problem):
    with pytest.raises(DigitsError, match=problem):
        list(strokes.iter_drawings(io.StringIO(json.dumps({"strokes": stroke_list})), "f.jsonl"))


@pytest.mark.parametrize("stroke_list", [
    [], [[]], [[], [[1, 2]]], [[[1, 2], [3.5, 4, 0.5]]], [[[-1, 2e300], [10 ** 400, 0]]],
    [[[float("nan"), 1], [float("inf"), 2]]], [[[1, 2]] * 60_000, [[3, 4]] * 40_000],
])
def test_jsonl_reader_keeps_good_strokes_as_they_are(stroke_list):
    drawing = next(strokes.iter_drawings(io.StringIO(json.dumps({"strokes": stroke_list})), "f.jsonl"))
    assert json.dumps(drawing.strokes) == json.dumps(stroke_list)


def test_drawings_made_in_code_with_number_subclasses_still_parse():
    import enum

    class Coordinate(enum.IntEnum):
        TEN = 10

    drawing = strokes._parse_drawing({"strokes": [[[Coordinate.TEN, 2], [3, 4]]]}, "here")
    assert drawing.strokes == [[[10, 2], [3, 4]]]


@pytest.mark.parametrize("enabled", [True, False])
def test_reading_leaves_the_garbage_collector_as_it_was(tmp_path, enabled):
    import gc

    good, bad = tmp_path / "good.jsonl", tmp_path / "bad.jsonl"
    good.write_text(json.dumps({"strokes": [[[0, 0], [0, 9]]]}) + "\n")
    bad.write_text(json.dumps({"strokes": [[[0, 0], [0, 9]]]}) + "\n{oops\n")
    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        assert len(strokes.read_drawings(good)) == 1 and gc.isenabled() is enabled
        with pytest.raises(DigitsError, match="line 2"):
            strokes.read_drawings(bad)
        assert gc.isenabled() is enabled
        assert len(strokes.read_drawing_stream(io.BytesIO(good.read_bytes()), "-")) == 1
        assert gc.isenabled() is enabled
    finally:
        gc.enable() if was else gc.disable()
