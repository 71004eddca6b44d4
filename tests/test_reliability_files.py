"""Every bad file a user opens or passes is refused with one sentence naming it; nothing hangs.

Extends test_modelio, test_data and test_preprocess (which cover the plain cases: not a
zip, empty, truncated, legacy .h5, wrong shapes, Lambda, folder, missing; truncated npz,
wrong names and shapes, labels, IDX magic and size) with what they leave out.
"""
from __future__ import annotations

import builtins
import gzip
import io
import json
import os
import struct
import threading
import time
import zipfile
import zlib

import numpy as np
import pytest
from conftest import assert_probabilities
from PIL import Image

from model import data, images, preprocess, strokes
from model.errors import DigitsError
from model.modelio import load_model

# --- model files -----------------------------------------------------------------------------


def _rewrite_config(source, target, mutate):
    with zipfile.ZipFile(source) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(entries["config.json"])
    mutate(config)
    entries["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(target, "w") as archive:
        for name, blob in entries.items():
            archive.writestr(name, blob)


def _dense(config):
    return next(layer for layer in config["config"]["layers"] if layer["class_name"] == "Dense")


def _nested_lambda(marker):
    payload = {"class_name": "__lambda__", "config": {"code": f"open({str(marker)!r}, 'w')", "defaults": None,
                                                      "closure": None}}

    def mutate(config):
        # Wrap the whole model as a layer of an outer model that also holds a Lambda:
        # the scan has to look inside nested configurations.
        inner = json.loads(json.dumps(config))
        config["config"]["layers"].append({"module": "keras.layers", "class_name": "Lambda",
                                           "config": {"name": "evil", "function": payload}, "inbound_nodes": []})
        config["config"]["layers"].append(inner)
    return mutate


def _activation(value):
    def mutate(config):
        _dense(config)["config"]["activation"] = value
    return mutate


def _layer_class(module, class_name, layer_config):
    def mutate(config):
        layer = _dense(config)
        layer.update(module=module, class_name=class_name, config=layer_config)
    return mutate


@pytest.mark.parametrize("make_mutation", [
    _nested_lambda,
    lambda m: _activation({"class_name": "__lambda__", "config": {
        "code": f"open({str(m)!r}, 'w')", "defaults": None, "closure": None}}),
    lambda m: _activation({"module": "os", "class_name": "function", "config": "system", "registered_name": "system"}),
    lambda m: _activation({"module": "builtins", "class_name": "function", "config": "exec",
                           "registered_name": "exec"}),
    lambda m: _layer_class("subprocess", "Popen", {"args": ["touch", str(m)]}),
    lambda m: _layer_class("builtins", "open", {"file": str(m), "mode": "w"}),
], ids=["nested-lambda", "lambda-activation", "os-system", "builtins-exec", "subprocess", "builtins-open"])
def test_models_whose_loading_would_run_code_are_refused_and_nothing_runs(tmp_path, trained_model_path,
                                                                          make_mutation):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.keras"
    _rewrite_config(trained_model_path, path, make_mutation(marker))
    with pytest.raises(DigitsError) as info:
        load_model(path)
    message = str(info.value)
    assert message.startswith(str(path)) and ("refused" in message or "cannot be loaded" in message)
    assert "\n" not in message and len(message) < 300
    assert not marker.exists()


def test_zip_bomb_model_is_refused_unread(tmp_path, trained_model_path):
    path = tmp_path / "bomb.keras"
    with zipfile.ZipFile(trained_model_path) as good, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bomb:
        for name in good.namelist():
            if name != "digits.json":
                bomb.writestr(name, good.read(name))
        bomb.writestr("digits.json", b"{" + b" " * (20 << 20) + b"}")  # 20 MB of spaces, 20 kB on disk
        assert bomb.getinfo("digits.json").compress_size < 100_000
    with pytest.raises(DigitsError, match="implausible size"):
        load_model(path)


def test_unreadable_model_file_is_refused_as_root_too(tmp_path, trained_model_path, monkeypatch):
    """Root reads any file, so the denial is simulated where the code meets it: os.access, then open."""
    from model import modelio

    path = tmp_path / "locked.keras"
    path.write_bytes(trained_model_path.read_bytes())
    real_access = os.access
    monkeypatch.setattr(modelio.os, "access", lambda p, mode: False if str(p) == str(path) else real_access(p, mode))
    with pytest.raises(DigitsError, match=f"^{path}: permission denied"):
        load_model(path)
    monkeypatch.setattr(modelio.os, "access", real_access)

    real_open = builtins.open

    def denying_open(file, *args, **kwargs):  # a denial only open() sees (ACLs, SELinux, a race)
        if str(file) == str(path):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", denying_open)
    with pytest.raises(DigitsError, match=f"^{path}: cannot be read \\(Permission denied\\)"):
        load_model(path)


def _fails_fast(call, path, seconds=10.0):
    """Run ``call()`` in a thread; if it blocks (a FIFO with no writer), unblock it and fail."""
    outcome = {}

    def target():
        try:
            call()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        with open(path, "wb"):  # a writer releases the blocked open()
            pass
        thread.join(5)
        pytest.fail(f"{call} blocked on a FIFO")
    return outcome.get("error")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
@pytest.mark.parametrize("loader", [load_model, images.load_image, data.load_mnist],
                         ids=["model", "image", "data"])
def test_a_fifo_is_refused_not_waited_on(tmp_path, loader):
    fifo = tmp_path / "pipe.keras"
    os.mkfifo(fifo)
    error = _fails_fast(lambda: loader(fifo), fifo)
    assert isinstance(error, DigitsError) and "not a regular file" in str(error) and str(fifo) in str(error)


# --- data files ------------------------------------------------------------------------------


def _arrays(**overrides):
    rng = np.random.default_rng(1)
    arrays = dict(
        x_train=rng.integers(0, 256, (30, 28, 28), dtype=np.uint8), y_train=rng.integers(0, 10, 30).astype(np.uint8),
        x_test=rng.integers(0, 256, (10, 28, 28), dtype=np.uint8), y_test=rng.integers(0, 10, 10).astype(np.uint8),
    )
    arrays.update(overrides)
    return arrays


def _nan_images():
    x = np.full((30, 28, 28), 10.0)
    x[3, 4, 5] = np.nan
    return x


@pytest.mark.parametrize("overrides, problem", [
    (dict(y_train=np.full(30, -1, np.int8)), "labels outside 0-9"),
    (dict(y_test=np.full(10, 2.5)), "labels outside 0-9"),
    (dict(x_train=_nan_images()), "pixel values 0-255"),
    (dict(x_train=np.full((30, 28, 28), 300.0)), "pixel values 0-255"),
    (dict(x_test=np.zeros((0, 28, 28), np.uint8), y_test=np.zeros(0, np.uint8)), "x_test is empty"),
    (dict(x_train=np.zeros((30, 784), np.uint8)), r"shape \(30, 784\)"),
    (dict(x_train=np.array(["a"] * 30).reshape(30, 1, 1).repeat(28, 1).repeat(28, 2)), "pixel values"),
], ids=["negative-labels", "float-labels", "nan-pixels", "pixels-over-255", "empty-test", "flat-images",
        "strings"])
def test_more_bad_npz_contents_are_refused_with_the_path(tmp_path, overrides, problem):
    path = tmp_path / "bad.npz"
    np.savez(path, **_arrays(**overrides))
    with pytest.raises(DigitsError, match=problem) as info:
        data.load_mnist(path)
    assert str(path) in str(info.value)


def _idx(array):
    return bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape) + array.tobytes()


_IDX = {"x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
        "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte"}


def _huge_header(raw):
    return bytes([0, 0, 0x08, 3]) + struct.pack(">III", 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF) + raw[16:]


@pytest.mark.parametrize("name, corrupt, problem", [
    ("train-images-idx3-ubyte", lambda raw: raw[:6], "truncated header"),
    ("train-images-idx3-ubyte", lambda raw: b"", "bad magic number"),
    ("train-images-idx3-ubyte", lambda raw: raw + b"\0" * 7, "file holds more"),
    ("train-images-idx3-ubyte", _huge_header, "far more than any MNIST file"),
    ("train-labels-idx1-ubyte", lambda raw: bytes([0, 0, 8, 3]) + raw[4:], "has 3 dimensions, expected 1"),
    ("train-labels-idx1-ubyte", lambda raw: bytes([0, 0, 8, 1]) + struct.pack(">I", 20) + raw[8:28],
     r"y_train has shape \(20,\)"),
], ids=["short-header", "empty", "trailing-bytes", "huge-header", "wrong-dims", "label-count"])
def test_more_bad_idx_files_are_refused(tmp_path, name, corrupt, problem):
    folder = tmp_path / "idx"
    folder.mkdir()
    for key, stem in _IDX.items():
        (folder / stem).write_bytes(_idx(_arrays()[key]))
    (folder / name).write_bytes(corrupt((folder / name).read_bytes()))
    started = time.perf_counter()
    with pytest.raises(DigitsError, match=problem):
        data.load_mnist(folder)
    assert time.perf_counter() - started < 5


@pytest.mark.parametrize("damage, problem", [
    (lambda blob: blob[: len(blob) // 2], "cannot be read"),  # truncated gzip stream
    (lambda blob: blob[:10] + bytes(b ^ 0xFF for b in blob[10:40]) + blob[40:], "cannot be read"),  # bad deflate
    (lambda blob: b"not gzip at all", "cannot be read"),
], ids=["truncated-gz", "corrupt-gz", "not-gz"])
def test_damaged_gzipped_idx_files_are_refused(tmp_path, damage, problem):
    folder = tmp_path / "idx"
    folder.mkdir()
    for key, stem in _IDX.items():
        (folder / f"{stem}.gz").write_bytes(gzip.compress(_idx(_arrays()[key])))
    target = folder / "t10k-images-idx3-ubyte.gz"
    target.write_bytes(damage(target.read_bytes()))
    with pytest.raises(DigitsError, match=problem) as info:
        data.load_mnist(folder)
    assert str(target) in str(info.value)


# --- images ----------------------------------------------------------------------------------


def _png_header_only(path, width, height):
    """A PNG that claims ``width`` x ``height`` pixels but is a few bytes long: a decompression bomb."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))


@pytest.mark.parametrize("make, problem", [
    (lambda p: p.write_bytes(b""), "not an image"),
    (lambda p: p.write_text("a letter, not a picture"), "not an image"),
    (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20), "not an image|damaged"),
    (lambda p: _png_header_only(p, 20000, 20000), "too large"),  # 400 Mpx: past Pillow's hard limit
    (lambda p: _png_header_only(p, 8000, 6000), "too large"),  # 48 Mpx: past our limit, under Pillow's error
    (lambda p: p.mkdir(), "is a folder"),
    (lambda p: None, "file not found"),
], ids=["zero-bytes", "text", "truncated-png", "bomb", "bomb-warning-range", "folder", "missing"])
def test_bad_image_files_are_refused_with_the_path(tmp_path, make, problem):
    path = tmp_path / "digit.png"
    make(path)
    with pytest.raises(DigitsError, match=problem) as info:
        images.load_image(path)
    assert str(info.value).startswith(str(path))


def test_truncated_real_png_is_refused(tmp_path):
    path = tmp_path / "cut.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (200, 200), dtype=np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:3000])
    with pytest.raises(DigitsError, match="damaged or truncated|not an image"):
        images.load_image(path)


def test_pillow_limit_holds_even_if_someone_lifted_it(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # another library switched the guard off
    path = tmp_path / "bomb.png"
    _png_header_only(path, 20000, 20000)
    with pytest.raises(DigitsError, match="too large"):
        images.load_image(path)
    assert Image.MAX_IMAGE_PIXELS == images.MAX_PIXELS


def _digit_ink(small_splits, index=0, size=112):
    ink = Image.fromarray((small_splits.x_test[index, ..., 0] * 255).astype(np.uint8)).resize((size, size))
    return np.asarray(ink, dtype=np.float32) / 255.0


def _variants(ink):
    """The same digit as the picture formats a user might open."""
    dark = ((1 - ink) * 255).astype(np.uint8)
    light = (ink * 255).astype(np.uint8)
    rgba = np.zeros(ink.shape + (4,), np.uint8)
    rgba[..., 3] = light  # black ink on a transparent sheet
    white_on_clear = np.full(ink.shape + (4,), 255, np.uint8)
    white_on_clear[..., 3] = light
    palette = Image.fromarray(dark).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    palette_transparent = Image.fromarray(light).convert("P")
    palette_transparent.info["transparency"] = 0  # light ink, its black background keyed see-through
    palette_dark_transparent = Image.fromarray(dark).convert("P")
    palette_dark_transparent.info["transparency"] = 255  # dark ink, white background keyed see-through
    return {
        "dark-on-light": Image.fromarray(dark),
        "light-on-dark": Image.fromarray(light),
        "16-bit-dark-on-light": Image.fromarray(((1 - ink) * 65535).astype(np.uint16)),
        "16-bit-light-on-dark": Image.fromarray((ink * 65535).astype(np.uint16)),
        "palette": palette,
        "palette-light-ink-transparent": palette_transparent,
        "palette-dark-ink-transparent": palette_dark_transparent,
        "rgba-black-ink-on-transparent": Image.fromarray(rgba, "RGBA"),
        "rgba-white-ink-on-transparent": Image.fromarray(white_on_clear, "RGBA"),
        "rgb-blue-ink-on-yellow": Image.fromarray(np.stack([255 * (1 - ink), 255 * (1 - ink), 255 * ink], -1)
                                                  .astype(np.uint8)),
        "grey-page": Image.fromarray((200 - 150 * ink).astype(np.uint8)),
        "cmyk": Image.fromarray(dark).convert("CMYK"),
        "la": Image.fromarray(dark).convert("LA"),
    }


@pytest.fixture(scope="module")
def predictor(trained_model_path):
    from model.inference import Predictor

    loaded = load_model(trained_model_path)
    return Predictor(loaded.model, loaded.temperature)


def test_every_picture_format_of_one_digit_reads_the_same(tmp_path, small_splits, predictor):
    ink = _digit_ink(small_splits)
    reference = preprocess.ink_to_input(ink)
    expected = predictor.predict_input(reference).digit
    assert expected == small_splits.y_test[0]
    for name, picture in _variants(ink).items():
        path = tmp_path / f"{name}.{'tiff' if picture.mode == 'CMYK' else 'png'}"
        picture.save(path)
        loaded = images.load_image(path)
        network_input = preprocess.image_to_input(loaded)
        assert network_input is not None, name
        assert np.abs(network_input - reference).max() < 0.15, name
        prediction = predictor.predict_input(network_input)
        assert prediction.digit == expected, name
        assert_probabilities(prediction.probabilities)


@pytest.mark.parametrize("picture", [
    Image.new("L", (64, 64), 255), Image.new("L", (64, 64), 0), Image.new("RGB", (50, 80), (30, 200, 90)),
    Image.new("RGBA", (40, 40), (0, 0, 0, 0)), Image.new("I;16", (40, 40), 65535), Image.new("1", (30, 30), 1),
], ids=["all-white", "all-black", "one-colour", "fully-transparent", "16-bit-white", "bilevel-white"])
def test_blank_pictures_are_no_digit(tmp_path, picture, predictor):
    path = tmp_path / "blank.png"
    picture.save(path)
    assert preprocess.image_to_input(images.load_image(path)) is None
    assert predictor.predict_image(images.load_image(path)).digit is None


# --- strokes files ---------------------------------------------------------------------------


def _read(text, name="s.jsonl"):
    return list(strokes.iter_drawings(io.StringIO(text), name))


GOOD = json.dumps({"label": 7, "strokes": [[[100, 100], [300, 100], [180, 400]]]})


@pytest.mark.parametrize("bad_line, problem", [
    ('{"strokes": [[[1, 2]]', "not valid JSON"),
    ("[" * 50_000 + "]" * 50_000, "nested too deeply"),
    ('{"strokes": [[[1' + "0" * 5000 + ', 2]]]}', "not valid JSON"),  # an integer past Python's digit limit
    ('[1, 2, 3]', "expected a JSON object"),
    ('"strokes"', "expected a JSON object"),
    ('{"strokes": [[[1, 2]]], "width": 1' + "0" * 400 + "}", "'width' must be a positive number"),
    ('{"strokes": [[[1, 2]]], "height": NaN}', "'height' must be a positive number"),
    ('{"strokes": [[1, 2]]}', "list of \\[x, y\\] points|each point"),
    ('{"strokes": [[[1, 2, 3, 4]]]}', "each point"),
    ('{"strokes": [[[true, 2]]]}', "each point"),
    ('{"strokes": [[[1, 2]]], "label": true}', "digit 0-9"),
], ids=["truncated", "deep", "huge-digits", "array", "string", "huge-width", "nan-height", "flat-stroke",
        "four-values", "boolean", "boolean-label"])
def test_a_malformed_line_is_refused_naming_its_number(bad_line, problem):
    text = GOOD + "\n\n" + GOOD + "\n" + bad_line + "\n" + GOOD + "\n"
    with pytest.raises(DigitsError, match=problem) as info:
        _read(text)
    assert str(info.value).startswith("s.jsonl, line 4:")
    assert "\n" not in str(info.value) and len(str(info.value)) < 300


def test_non_utf8_input_names_the_line():
    raw = (GOOD + "\n").encode() * 2 + b'{"strokes": "\xff\xfe"}\n'
    handle = io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8")
    with pytest.raises(DigitsError, match="not UTF-8 text"):
        list(strokes.iter_drawings(handle, "standard input"))


def test_a_file_with_a_byte_order_mark_and_crlf_reads(tmp_path):
    path = tmp_path / "windows.jsonl"
    path.write_bytes(("\ufeff" + GOOD + "\r\n" + GOOD + "\r\n").encode("utf-8"))
    drawings = strokes.read_drawings(path)
    assert [d.label for d in drawings] == [7, 7]


def test_an_endless_line_is_refused_not_read_forever():
    class Endless(io.TextIOBase):
        def readline(self, size=-1):
            assert 0 < size < 1 << 26, "the reader must bound the line"
            return "x" * size

    with pytest.raises(DigitsError, match="line 1: longer than"):
        list(strokes.iter_drawings(Endless(), "/dev/zero"))


def test_a_million_points_in_one_stroke(tmp_path):
    t = np.linspace(0, 2 * np.pi, 1000)
    ring = np.stack([250 + 150 * np.cos(t), 250 + 200 * np.sin(t)], 1).round()
    lap = ",".join(f"[{x:.0f},{y:.0f}]" for x, y in ring)
    path = tmp_path / "huge.jsonl"  # the ring drawn 1,000 times over: a million points, 10 MB
    path.write_text(GOOD + "\n" + '{"strokes": [[' + ",".join([lap] * 1000) + "]]}\n")
    started = time.perf_counter()
    with pytest.raises(DigitsError, match="line 2: (more than 100000 points|longer than)"):
        strokes.read_drawings(path)
    # The same drawing straight from code (the canvas) renders, bounded in time, to a valid input.
    points = np.tile(ring, (1000, 1))
    network_input = strokes.strokes_to_input([points], 500, 500)
    assert time.perf_counter() - started < 20
    assert network_input is not None and network_input.shape == (28, 28) and np.isfinite(network_input).all()
    assert np.abs(network_input - strokes.strokes_to_input([ring], 500, 500)).max() < 0.35


@pytest.mark.parametrize("record", [
    {"strokes": []},
    {"strokes": [[], [], []]},
    {"strokes": [[[120, 130]]]},
    {"strokes": [[[120, 130], [120, 130], [120, 130]]]},
    {"strokes": [[[float("nan"), 1], [float("inf"), 2], [-float("inf"), 3]]]},
    {"strokes": [[[1e300, 0], [-1e300, 5]]]},  # beyond any screen: dropped, not overflowed
], ids=["none", "empty-strokes", "one-point", "repeated-point", "non-finite", "astronomic"])
def test_drawings_without_a_line_are_no_digit(record, predictor):
    line = json.dumps(record)  # json writes NaN and Infinity, as a JavaScript canvas would not; both must read
    (drawing,) = _read(line)
    assert strokes.strokes_to_input(drawing.strokes, drawing.width, drawing.height) is None
    (prediction,) = predictor.predict_drawings([drawing])
    assert prediction.digit is None and not prediction.probabilities.any()


def test_negative_and_partly_bad_coordinates_still_read(predictor):
    seven = [[100, 100], [300, 100], [180, 400]]
    shifted = [[[x - 1000, y - 2000] for x, y in seven]]
    spoiled = [[[x, y] for x, y in seven] + [[float("nan"), 5], [10 ** 400, 3], [2, float("inf")]]]
    mixed = [[[100, 100, 0.5], [300, 100], [180, 400, 0.5]]]  # pressure on some points only
    reference = strokes.strokes_to_input([seven], 500, 500)
    assert np.abs(strokes.strokes_to_input(shifted, 500, 500) - reference).max() < 1e-6
    assert np.abs(strokes.strokes_to_input(spoiled, 500, 500) - reference).max() < 1e-6
    assert strokes.strokes_to_input(mixed, 500, 500) is not None
    for drawing in (shifted, spoiled, mixed):
        prediction = predictor.predict_strokes(drawing, 500, 500)
        assert_probabilities(prediction.probabilities)
