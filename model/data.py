"""MNIST: find it, check it, split it once.

Resolution order: an explicit path (Keras-layout ``.npz`` or a folder of the
four IDX files, gzipped or not), the bundled ``assets/mnist.npz`` (checksum
verified), Keras's cache ``~/.keras/datasets/mnist.npz``, and only then
``keras.datasets.mnist.load_data()``, which downloads.
"""
from __future__ import annotations

import gzip
import hashlib
import math
import sys
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from model import paths
from model.errors import DigitsError

KERAS_CACHE = Path.home() / ".keras" / "datasets" / "mnist.npz"
_NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
MAX_IDX_BYTES = 1 << 30  # MNIST's largest IDX file holds 47 MB; a header promising more is refused unread
_IDX_NAMES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


@dataclass(frozen=True)
class RawMnist:
    """MNIST as stored: uint8 images (N, 28, 28) and uint8 labels (N,)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str


@dataclass(frozen=True)
class Splits:
    """Training-ready arrays: images float32 (N, 28, 28, 1) in [0, 1], labels int32."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    # x_train as the 8-bit pixels it was made from, (N, 28, 28, 1) uint8, when it was: what training
    # feeds (model.pipeline.as_uint8_images), kept so that a run need not convert 55,000 images back.
    train_pixels: np.ndarray | None = field(default=None, repr=False, compare=False)

    def head(self, train: int, val: int | None = None, test: int | None = None) -> Splits:
        """A small slice, for tests and quick demos."""
        val = train // 5 if val is None else val
        test = train // 5 if test is None else test
        return Splits(
            self.x_train[:train], self.y_train[:train], self.x_val[:val], self.y_val[:val],
            self.x_test[:test], self.y_test[:test], self.source,
            None if self.train_pixels is None else self.train_pixels[:train],
        )


def _check_arrays(arrays: dict[str, np.ndarray], where: Path) -> RawMnist:
    for part in ("train", "test"):
        x, y = arrays[f"x_{part}"], arrays[f"y_{part}"]
        if x.ndim != 3 or x.shape[1:] != (28, 28):
            raise DigitsError(f"{where}: x_{part} has shape {x.shape}, expected (N, 28, 28).")
        if y.ndim != 1 or len(y) != len(x):
            raise DigitsError(f"{where}: y_{part} has shape {y.shape}, expected ({len(x)},) to match x_{part}.")
        if len(x) == 0:
            raise DigitsError(f"{where}: x_{part} is empty.")
        if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() > 9:
            raise DigitsError(f"{where}: y_{part} holds labels outside 0-9.")
        if x.dtype != np.uint8:
            if (not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating)
                    or not np.isfinite(x).all() or x.min() < 0 or x.max() > 255):
                raise DigitsError(f"{where}: x_{part} must hold pixel values 0-255.")
            arrays[f"x_{part}"] = x.astype(np.uint8)
        arrays[f"y_{part}"] = y.astype(np.uint8)
    return RawMnist(**{k: arrays[k] for k in _NPZ_KEYS}, source=str(where))


def _load_npz(path: Path) -> RawMnist:
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in _NPZ_KEYS if k not in npz.files]
            if missing:
                raise DigitsError(f"{path}: not an MNIST file, missing arrays {', '.join(missing)}.")
            arrays = {k: npz[k] for k in _NPZ_KEYS}
    except DigitsError:
        raise
    except FileNotFoundError:
        raise DigitsError(f"{path}: file not found.") from None
    except PermissionError:
        raise DigitsError(f"{path}: permission denied.") from None
    except IsADirectoryError:
        raise DigitsError(f"{path}: is a folder, not an .npz file.") from None
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise DigitsError(f"{path}: not a readable .npz file (truncated or corrupt: {exc}).") from None
    return _check_arrays(arrays, path)


def _read_idx(path: Path, expected_dims: int) -> np.ndarray:
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as handle:
            head = handle.read(4)
            if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] != 0x08:
                raise DigitsError(f"{path}: bad magic number, not an unsigned-byte IDX file.")
            dims = head[3]
            if dims != expected_dims:
                raise DigitsError(f"{path}: has {dims} dimensions, expected {expected_dims}.")
            sizes = handle.read(4 * dims)
            if len(sizes) < 4 * dims:
                raise DigitsError(f"{path}: truncated header.")
            shape = tuple(int.from_bytes(sizes[4 * i: 4 * i + 4], "big") for i in range(dims))
            size = math.prod(shape)
            if size > MAX_IDX_BYTES:
                raise DigitsError(f"{path}: header says {size} bytes of data, far more than any MNIST file.")
            raw = handle.read(size + 1)  # one byte more than promised reveals trailing data
    except DigitsError:
        raise
    except (OSError, EOFError, zlib.error) as exc:
        raise DigitsError(f"{path}: cannot be read ({exc}).") from None
    if len(raw) != size:
        held = f"{len(raw)}" if len(raw) <= size else "more"
        raise DigitsError(f"{path}: header says {size} bytes of data, file holds {held}.")
    return np.frombuffer(raw, dtype=np.uint8).reshape(shape)


def _load_idx_folder(folder: Path) -> RawMnist:
    arrays = {}
    for key, stem in _IDX_NAMES.items():
        candidates = [folder / stem, folder / f"{stem}.gz", folder / stem.replace("-idx", ".idx")]
        candidates += [folder / f"{stem.replace('-idx', '.idx')}.gz"]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise DigitsError(f"{folder}: missing the IDX file {stem} (or {stem}.gz).")
        arrays[key] = _read_idx(found, 3 if key.startswith("x") else 1)
    return _check_arrays(arrays, folder)


def load_from_path(path: Path) -> RawMnist:
    path = Path(path)
    if path.is_dir():
        return _load_idx_folder(path)
    if not path.exists():
        raise DigitsError(f"{path}: file not found.")
    if not path.is_file():  # a FIFO or a device would block or never end
        raise DigitsError(f"{path}: not a regular file.")
    return _load_npz(path)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def load_mnist(path: Path | str | None = None, *, notify: Callable[[str], None] = _say,
               allow_download: bool = True) -> RawMnist:
    """Find MNIST and return it checked; raises DigitsError with the path and the problem."""
    if path is not None:
        return load_from_path(Path(path))
    bundled = paths.BUNDLED_MNIST
    if bundled.is_file():
        if _sha256(bundled) == paths.MNIST_SHA256:
            return _load_npz(bundled)
        notify(f"{bundled}: checksum does not match the bundled MNIST; looking elsewhere.")
    if KERAS_CACHE.is_file():
        return _load_npz(KERAS_CACHE)
    if not allow_download:
        raise DigitsError(f"No MNIST found: {bundled} and {KERAS_CACHE} are both missing.")
    notify("No local copy of MNIST found (bundled or cached); downloading it with Keras.")
    from model.backend import keras

    try:
        (x_train, y_train), (x_test, y_test) = keras().datasets.mnist.load_data()
    except Exception as exc:  # the download can fail in many ways; the user needs one sentence
        raise DigitsError(f"No local MNIST and the download failed: {exc}.") from None
    arrays = dict(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return _check_arrays(arrays, KERAS_CACHE)


def to_float(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) -> float32 (N, 28, 28, 1) in [0, 1]."""
    return (images.astype(np.float32) * np.float32(1 / 255.0))[..., None]


def split(raw: RawMnist, val_size: int = 5000, seed: int = 0) -> Splits:
    """Shuffle the training set once with ``seed``, hold out ``val_size`` for validation, normalise."""
    if not 0 <= val_size < len(raw.x_train):
        raise DigitsError(f"{raw.source}: a validation split of {val_size} leaves no training data.")
    order = np.random.default_rng(seed).permutation(len(raw.x_train))
    val, train = order[:val_size], order[val_size:]
    train_pixels = raw.x_train[train]
    return Splits(
        to_float(train_pixels), raw.y_train[train].astype(np.int32),
        to_float(raw.x_train[val]), raw.y_train[val].astype(np.int32),
        to_float(raw.x_test), raw.y_test.astype(np.int32), raw.source,
        train_pixels[..., None],
    )


def load_splits(path: Path | str | None = None, val_size: int = 5000, seed: int = 0,
                notify: Callable[[str], None] = _say) -> Splits:
    return split(load_mnist(path, notify=notify), val_size=val_size, seed=seed)
