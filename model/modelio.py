"""Saving and loading models: ``.keras`` files with our metadata, safe mode only.

A model file is refused, with one sentence naming it and the problem, when it
is not a ``.keras`` archive, is truncated, needs unsafe deserialisation (a
Lambda layer: its code must never run), or does not map 28x28 images to ten
classes.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from model.atomic import write_atomic
from model.backend import keras
from model.errors import DigitsError

if TYPE_CHECKING:  # annotations only: model.novelty is imported where it is used
    from model.novelty import Novelty

METADATA_ENTRY = "digits.json"
NOVELTY_ENTRY = "digits-novelty.npz"  # model.novelty's statistics, when the model has them
_UNSAFE_CLASSES = {"Lambda", "TFOpLambda", "SlicingOpLambda"}
_ACCEPTED_INPUTS = {(None, 28, 28, 1), (None, 28, 28)}
# Declared (uncompressed) sizes bound the work of reading an archive: a zip bomb is refused unread.
MAX_JSON_BYTES = 16 << 20  # also for the novelty statistics: 0.66 MB for the bundled model's 128 features
MAX_ARCHIVE_BYTES = 2 << 30


@dataclass
class LoadedModel:
    model: object
    path: Path | None
    metadata: dict = field(default_factory=dict)
    novelty: Novelty | None = None  # tells drawings that are not digits; None for older models

    @property
    def name(self) -> str:
        return str(self.metadata.get("name") or (self.path.stem if self.path else "untitled"))

    @property
    def arch(self) -> str:
        return str(self.metadata.get("arch", "unknown"))

    @property
    def test_accuracy(self) -> float | None:
        value = self.metadata.get("test_accuracy")
        return float(value) if isinstance(value, (int, float)) else None

    @property
    def temperature(self) -> float:
        value = self.metadata.get("temperature", 1.0)
        return float(value) if isinstance(value, (int, float)) and value > 0 else 1.0

    def describe(self) -> str:
        acc = f"{self.test_accuracy:.2%} on MNIST test" if self.test_accuracy is not None else "accuracy unknown"
        return f"{self.name} ({self.arch}, {acc})"


def new_metadata(arch: str, config: dict | None = None, test_accuracy: float | None = None,
                 name: str | None = None, **extra) -> dict:
    return {
        "name": name or arch,
        "arch": arch,
        "config": config or {},
        "test_accuracy": test_accuracy,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        **extra,
    }


def save_model(model, path: Path | str, metadata: dict, novelty=None) -> Path:
    """Write ``model``, ``metadata`` and ``novelty`` (``model.novelty.Novelty``) to ``path`` atomically:
    the old file survives any interruption."""
    path = Path(path)
    if path.suffix != ".keras":
        raise DigitsError(f"{path}: models are saved as .keras files.")

    def write(tmp: Path) -> None:
        model.save(tmp)
        with zipfile.ZipFile(tmp, "a") as archive:
            archive.writestr(METADATA_ENTRY, json.dumps(metadata, indent=2, default=str))
            if novelty is not None:
                archive.writestr(NOVELTY_ENTRY, novelty.to_bytes())

    try:
        write_atomic(path, write, suffix=".keras")
    except OSError as exc:
        raise DigitsError(f"{path}: cannot save the model ({exc.strerror or exc}).") from None
    except (ValueError, TypeError) as exc:  # Keras refuses some models or paths with these
        raise DigitsError(f"{path}: cannot save the model ({str(exc).splitlines()[0][:200]}).") from None
    return path


def _find_unsafe(config: object) -> str | None:
    if isinstance(config, dict):
        if config.get("class_name") in _UNSAFE_CLASSES:
            return str(config["class_name"])
        return next((hit for v in config.values() if (hit := _find_unsafe(v))), None)
    if isinstance(config, list):
        return next((hit for v in config if (hit := _find_unsafe(v))), None)
    return None


def _check_archive(path: Path) -> tuple[dict, bytes | None]:
    """Check the file is a sound, safe .keras archive; return our metadata (or {} for a foreign model)
    and the novelty statistics' bytes, if any."""
    if not path.exists():
        raise DigitsError(f"{path}: file not found.")
    if path.is_dir():
        raise DigitsError(f"{path}: is a folder, not a model file.")
    if not path.is_file():  # a FIFO would block the open forever, a device never ends
        raise DigitsError(f"{path}: not a regular file, not a model file.")
    if not os.access(path, os.R_OK):
        raise DigitsError(f"{path}: permission denied.")
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
    except OSError as exc:
        raise DigitsError(f"{path}: cannot be read ({exc.strerror or exc}).") from None
    if not head:
        raise DigitsError(f"{path}: the file is empty.")
    if head.startswith(b"\x89HDF"):
        raise DigitsError(f"{path}: a legacy HDF5 (.h5) model; only .keras files are opened.")
    if not zipfile.is_zipfile(path):
        raise DigitsError(f"{path}: not a Keras model file (not a .keras archive, or truncated).")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            infos = archive.infolist()
            if (sum(info.file_size for info in infos) > MAX_ARCHIVE_BYTES
                    or any(info.file_size > MAX_JSON_BYTES for info in infos
                           if info.filename.endswith(".json") or info.filename == NOVELTY_ENTRY)):
                raise DigitsError(f"{path}: refused, the archive would unpack to an implausible size.")
            if "config.json" not in names or "model.weights.h5" not in names:
                raise DigitsError(f"{path}: not a Keras model file (no model configuration or weights inside).")
            bad = archive.testzip()
            if bad is not None:
                raise DigitsError(f"{path}: corrupt entry {bad} in the model archive.")
            config = json.loads(archive.read("config.json"))
            metadata = json.loads(archive.read(METADATA_ENTRY)) if METADATA_ENTRY in names else {}
            novelty = archive.read(NOVELTY_ENTRY) if NOVELTY_ENTRY in names else None
    except DigitsError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise DigitsError(f"{path}: the model archive is corrupt or truncated ({exc}).") from None
    unsafe = _find_unsafe(config)
    if unsafe:
        raise DigitsError(f"{path}: refused, it contains a {unsafe} layer whose loading could run arbitrary code.")
    return (metadata if isinstance(metadata, dict) else {}), novelty


def check_model_shape(model, where: str) -> None:
    inputs = getattr(model, "inputs", None) or []
    outputs = getattr(model, "outputs", None) or []
    if len(inputs) != 1 or len(outputs) != 1:
        raise DigitsError(f"{where}: the model must have one input and one output.")
    in_shape = tuple(inputs[0].shape)
    if in_shape not in _ACCEPTED_INPUTS:
        raise DigitsError(f"{where}: the model takes input of shape {in_shape}, expected 28x28 grayscale images.")
    out_shape = tuple(outputs[0].shape)
    if out_shape != (None, 10):
        raise DigitsError(f"{where}: the model outputs shape {out_shape}, expected ten digit probabilities.")


def load_model(path: Path | str) -> LoadedModel:
    """Load a ``.keras`` model in safe mode, checked to read 28x28 digits; raises DigitsError otherwise."""
    path = Path(path)
    metadata, novelty_bytes = _check_archive(path)
    k = keras()
    try:
        model = k.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many types for bad files; the user needs one sentence
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "safe_mode" in str(exc) or "unsafe" in str(exc).lower():
            raise DigitsError(f"{path}: refused, loading it would need unsafe deserialisation.") from None
        if "could not be deserialized" in str(exc):
            raise DigitsError(f"{path}: cannot be loaded, it uses layers or functions that are not "
                              "standard Keras ones.") from None
        raise DigitsError(f"{path}: cannot be loaded as a Keras model ({message[:200]}).") from None
    check_model_shape(model, str(path))
    novelty = None
    if novelty_bytes is not None:
        from model.novelty import Novelty, feature_width

        novelty = Novelty.from_bytes(novelty_bytes, str(path), feature_width(model))
    return LoadedModel(model, path, metadata, novelty)
