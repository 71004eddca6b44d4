from __future__ import annotations

import json
import os
import zipfile

import numpy as np
import pytest

from model.errors import DigitsError
from model.modelio import load_model, new_metadata, save_model


def test_round_trip_keeps_weights_and_metadata(trained_model_path, tmp_path):
    loaded = load_model(trained_model_path)
    assert loaded.arch == "fast" and 0.5 < loaded.test_accuracy <= 1 and loaded.metadata["date"]
    target = tmp_path / "copy.keras"
    save_model(loaded.model, target, loaded.metadata | {"name": "copy"})
    again = load_model(target)
    assert again.name == "copy" and again.test_accuracy == loaded.test_accuracy
    for a, b in zip(loaded.model.get_weights(), again.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_failed_save_keeps_the_previous_file(trained_model_path, tmp_path):
    target = tmp_path / "model.keras"
    target.write_bytes(trained_model_path.read_bytes())

    class Exploding:
        def save(self, path):
            open(path, "wb").write(b"half a model")
            raise OSError(28, "No space left on device")

    with pytest.raises(DigitsError, match="No space left"):
        save_model(Exploding(), target, {})
    assert load_model(target).arch == "fast"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras"]


def _lambda_model(path, marker):
    import keras

    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Lambda(lambda t: t * 1.0)(x)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x))
    model.save(path)
    # Rewrite the stored lambda so that deserialising it would create a file: it must never run.
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(entries["config.json"])
    payload = f"open({str(marker)!r}, 'w').write('pwned')"
    for layer in config["config"]["layers"]:
        if layer["class_name"] == "Lambda":
            layer["config"]["function"] = {"class_name": "__lambda__", "config": {
                "code": payload, "defaults": None, "closure": None}}
    entries["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, blob in entries.items():
            archive.writestr(name, blob)


def _wrong_shape_model(path, input_shape, outputs):
    import keras

    model = keras.Sequential([keras.Input(input_shape), keras.layers.Flatten(),
                              keras.layers.Dense(outputs, activation="softmax")])
    save_model(model, path, new_metadata("odd"))


@pytest.mark.parametrize("make, problem", [
    (lambda p, good: p.write_text("hello, not a zip"), "not a Keras model file"),
    (lambda p, good: p.write_bytes(b""), "empty"),
    (lambda p, good: p.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2]), "not a Keras model file"),
    (lambda p, good: p.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100), "legacy HDF5"),
    (lambda p, good: _wrong_shape_model(p, (32, 32, 3), 10), "input of shape"),
    (lambda p, good: _wrong_shape_model(p, (28, 28, 1), 5), "outputs shape"),
    (lambda p, good: p.mkdir(), "is a folder"),
    (lambda p, good: None, "file not found"),
], ids=["not-zip", "empty", "truncated", "h5", "wrong-input", "wrong-output", "directory", "missing"])
def test_bad_model_files_are_refused_with_the_path(tmp_path, trained_model_path, make, problem):
    path = tmp_path / "bad.keras"
    make(path, trained_model_path)
    with pytest.raises(DigitsError, match=problem) as info:
        load_model(path)
    assert str(path) in str(info.value)


def test_lambda_model_is_refused_and_its_code_never_runs(tmp_path):
    marker = tmp_path / "pwned.txt"
    path = tmp_path / "lambda.keras"
    _lambda_model(path, marker)
    with pytest.raises(DigitsError, match="Lambda"):
        load_model(path)
    assert not marker.exists()


def test_lambda_check_is_not_the_only_guard(tmp_path, monkeypatch):
    """With our own scan switched off, Keras's safe mode still refuses, and the code still never runs."""
    from model import modelio

    monkeypatch.setattr(modelio, "_find_unsafe", lambda config: None)
    marker = tmp_path / "pwned.txt"
    path = tmp_path / "lambda.keras"
    _lambda_model(path, marker)
    with pytest.raises(DigitsError, match="refused|cannot be loaded"):
        load_model(path)
    assert not marker.exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_file_is_refused(tmp_path, trained_model_path):
    path = tmp_path / "locked.keras"
    path.write_bytes(trained_model_path.read_bytes())
    path.chmod(0)
    with pytest.raises(DigitsError, match="permission denied"):
        load_model(path)
