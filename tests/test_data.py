from __future__ import annotations

import gzip
import struct
import zipfile

import numpy as np
import pytest

from model import data
from model.errors import DigitsError


def _write_npz(path, **overrides):
    rng = np.random.default_rng(0)
    arrays = dict(
        x_train=rng.integers(0, 256, (50, 28, 28), dtype=np.uint8), y_train=rng.integers(0, 10, 50).astype(np.uint8),
        x_test=rng.integers(0, 256, (20, 28, 28), dtype=np.uint8), y_test=rng.integers(0, 10, 20).astype(np.uint8),
    )
    arrays.update(overrides)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    np.savez(path, **arrays)
    return arrays


def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def _write_idx_folder(folder, arrays, gz: bool):
    names = {"x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
             "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte"}
    folder.mkdir()
    for key, stem in names.items():
        raw = _idx_bytes(arrays[key])
        if gz:
            (folder / f"{stem}.gz").write_bytes(gzip.compress(raw))
        else:
            (folder / stem).write_bytes(raw)


def test_bundled_mnist_is_found_and_checked():
    raw = data.load_mnist(allow_download=False)
    assert raw.x_train.shape == (60000, 28, 28) and raw.x_test.shape == (10000, 28, 28)
    assert raw.x_train.dtype == np.uint8 and set(np.unique(raw.y_test)) == set(range(10))
    assert raw.source.endswith("assets/mnist.npz")


def test_explicit_npz_wins(tmp_path):
    arrays = _write_npz(tmp_path / "m.npz")
    raw = data.load_mnist(tmp_path / "m.npz")
    np.testing.assert_array_equal(raw.x_train, arrays["x_train"])


@pytest.mark.parametrize("gz", [False, True])
def test_idx_folder_gzipped_or_not(tmp_path, gz):
    arrays = _write_npz(tmp_path / "m.npz")
    _write_idx_folder(tmp_path / "idx", arrays, gz)
    raw = data.load_mnist(tmp_path / "idx")
    np.testing.assert_array_equal(raw.x_test, arrays["x_test"])
    np.testing.assert_array_equal(raw.y_train, arrays["y_train"])


def test_bad_checksum_falls_back_and_says_so(tmp_path, monkeypatch):
    fake = tmp_path / "assets" / "mnist.npz"
    fake.parent.mkdir()
    _write_npz(fake)
    monkeypatch.setattr(data.paths, "BUNDLED_MNIST", fake)
    monkeypatch.setattr(data, "KERAS_CACHE", tmp_path / "nowhere.npz")
    notes = []
    with pytest.raises(DigitsError, match="No MNIST found"):
        data.load_mnist(notify=notes.append, allow_download=False)
    assert "checksum" in notes[0]


def _truncated(tmp_path):
    _write_npz(tmp_path / "full.npz")
    blob = (tmp_path / "full.npz").read_bytes()
    (tmp_path / "bad.npz").write_bytes(blob[: len(blob) // 2])


@pytest.mark.parametrize(
    "make, problem",
    [
        (lambda p: None, "file not found"),
        (_truncated, "truncated or corrupt"),
        (lambda p: (p / "bad.npz").write_bytes(b""), "truncated or corrupt"),
        (lambda p: _write_npz(p / "bad.npz", x_train=np.zeros((50, 32, 32), np.uint8)), r"shape \(50, 32, 32\)"),
        (lambda p: _write_npz(p / "bad.npz", y_test=np.full(20, 12, np.uint8)), "labels outside 0-9"),
        (lambda p: _write_npz(p / "bad.npz", y_test=None), "missing arrays y_test"),
        (lambda p: _write_npz(p / "bad.npz", y_train=np.zeros(7, np.uint8)), "expected \\(50,\\)"),
    ],
    ids=["missing", "truncated", "empty", "wrong-shape", "bad-labels", "missing-array", "label-count"],
)
def test_bad_npz_files_are_refused_with_the_path(tmp_path, make, problem):
    make(tmp_path)
    with pytest.raises(DigitsError, match=problem) as info:
        data.load_mnist(tmp_path / "bad.npz")
    assert str(tmp_path / "bad.npz") in str(info.value)


def test_npz_that_is_a_zip_of_something_else(tmp_path):
    with zipfile.ZipFile(tmp_path / "bad.npz", "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(DigitsError, match="missing arrays"):
        data.load_mnist(tmp_path / "bad.npz")


@pytest.mark.parametrize("corrupt, problem", [
    (lambda raw: b"\x00\x00\x09\x03" + raw[4:], "bad magic number"),
    (lambda raw: raw[:-10], "header says"),
])
def test_bad_idx_files_are_refused(tmp_path, corrupt, problem):
    arrays = _write_npz(tmp_path / "m.npz")
    _write_idx_folder(tmp_path / "idx", arrays, gz=False)
    target = tmp_path / "idx" / "train-images-idx3-ubyte"
    target.write_bytes(corrupt(target.read_bytes()))
    with pytest.raises(DigitsError, match=problem) as info:
        data.load_mnist(tmp_path / "idx")
    assert "train-images-idx3-ubyte" in str(info.value)


def test_split_is_seeded_normalised_and_disjoint(tmp_path):
    _write_npz(tmp_path / "m.npz")
    raw = data.load_mnist(tmp_path / "m.npz")
    a, b = data.split(raw, val_size=10, seed=3), data.split(raw, val_size=10, seed=3)
    c = data.split(raw, val_size=10, seed=4)
    np.testing.assert_array_equal(a.x_val, b.x_val)
    assert not np.array_equal(a.x_val, c.x_val)
    assert a.x_train.shape == (40, 28, 28, 1) and a.x_val.shape == (10, 28, 28, 1)
    assert a.x_train.dtype == np.float32 and 0.0 <= a.x_train.min() and a.x_train.max() <= 1.0
    # Validation images come from the training set and are not also trained on.
    train_rows = {r.tobytes() for r in a.x_train}
    assert not any(r.tobytes() in train_rows for r in a.x_val)


def test_split_keeps_the_training_pixels_training_feeds_and_head_slices_them(tmp_path):
    from model.pipeline import as_uint8_images

    _write_npz(tmp_path / "m.npz")
    splits = data.split(data.load_mnist(tmp_path / "m.npz"), val_size=10, seed=3)
    assert splits.train_pixels.dtype == np.uint8 and splits.train_pixels.shape == splits.x_train.shape
    # The same pixels training would get by converting the float images back.
    np.testing.assert_array_equal(splits.train_pixels, as_uint8_images(splits.x_train))
    head = splits.head(7, 3, 3)
    np.testing.assert_array_equal(head.train_pixels, splits.train_pixels[:7])
    assert head.x_train.shape == head.train_pixels.shape
