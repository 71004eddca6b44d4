"""Safety: models only in Keras safe mode, nothing ever unpickled, no network but the announced MNIST download.

Two kinds of proof: the source is inspected (every call site, also in code written
later), and the behaviour is observed (a pickle payload never runs; sockets are
forbidden while data, models and the CLI do their work).
"""
from __future__ import annotations

import ast
import socket

import numpy as np
import pytest
from conftest import REPO

from model import data, paths
from model.errors import DigitsError

SOURCES = sorted(
    p for folder in ("model", "gui", "benchmarks") for p in (REPO / folder).rglob("*.py")
) + [REPO / "main.py"]
UNPICKLERS = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve", "marshal"}


def _calls(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            yield name, node


def _keyword(node: ast.Call, name: str):
    for keyword in node.keywords:
        if keyword.arg == name:
            return keyword.value
    return None


def _is_true(value) -> bool:
    return isinstance(value, ast.Constant) and value.value is True


def _is_false(value) -> bool:
    return isinstance(value, ast.Constant) and value.value is False


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(REPO)) for p in SOURCES])
def test_source_never_unpickles_and_loads_models_only_in_safe_mode(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    where = path.relative_to(REPO)
    shipped = where.parts[0] != "benchmarks"  # what the app installs and runs
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert not {a.name.split(".")[0] for a in node.names} & UNPICKLERS, f"{where}:{node.lineno}"
        if isinstance(node, ast.ImportFrom):
            assert (node.module or "").split(".")[0] not in UNPICKLERS, f"{where}:{node.lineno}"
    for name, call in _calls(tree):
        line = f"{where}:{call.lineno}"
        if name == "load" and isinstance(call.func, ast.Attribute) and getattr(call.func.value, "id", "") in (
                "np", "numpy"):
            value = _keyword(call, "allow_pickle")
            if shipped:
                assert _is_false(value), f"{line}: np.load without allow_pickle=False"
            else:  # benchmarks: numpy's default (False since 1.16.3) is acceptable, True never
                assert value is None or _is_false(value), f"{line}: np.load may unpickle"
        if name == "load_model" and isinstance(call.func, ast.Attribute):  # keras.saving / keras.models
            assert _is_true(_keyword(call, "safe_mode")), f"{line}: load_model without safe_mode=True"
        if name in ("load_model", "load_weights", "deserialize_keras_object", "model_from_json"):
            value = _keyword(call, "safe_mode")
            assert value is None or _is_true(value), f"{line}: safe_mode switched off"
        assert name != "enable_unsafe_deserialization", f"{line}: {name}()"
        if isinstance(call.func, ast.Name):  # the builtins; Qt's app.exec() is an attribute and fine
            assert name not in ("eval", "exec"), f"{line}: {name}()"
        if name in ("read_pickle", "from_pickle"):
            pytest.fail(f"{line}: {name}() unpickles")


def test_all_sources_were_found():
    names = {str(p.relative_to(REPO)) for p in SOURCES}
    assert {"model/data.py", "model/modelio.py", "model/cli.py", "main.py"} <= names


class Payload:
    """Unpickling this creates a file: proof that code from a data file ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_a_pickle_inside_an_npz_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    for key in ("x_train", "y_train"):
        path = tmp_path / f"evil-{key}.npz"
        arrays = dict(x_train=np.zeros((5, 28, 28), np.uint8), y_train=np.zeros(5, np.uint8),
                      x_test=np.zeros((2, 28, 28), np.uint8), y_test=np.zeros(2, np.uint8))
        arrays[key] = np.array([Payload(marker)] * 5, dtype=object)
        np.savez(path, **arrays)  # numpy pickles object arrays inside the npz
        with pytest.raises(DigitsError) as info:
            data.load_mnist(path)
        assert str(path) in str(info.value)
        assert not marker.exists()


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to connect or resolve a name fails the test, wherever it comes from."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise AssertionError(f"network use: {args!r}")

    for name in ("connect", "connect_ex", "sendto"):
        monkeypatch.setattr(socket.socket, name, refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return attempts


@pytest.fixture
def download_spy(monkeypatch):
    """Stand in for Keras's MNIST download, recording when it is called."""
    from model.backend import keras

    calls = []

    def fake_download(*args, **kwargs):
        calls.append("download")
        rng = np.random.default_rng(0)
        return ((rng.integers(0, 256, (20, 28, 28), dtype=np.uint8), rng.integers(0, 10, 20).astype(np.uint8)),
                (rng.integers(0, 256, (5, 28, 28), dtype=np.uint8), rng.integers(0, 10, 5).astype(np.uint8)))

    monkeypatch.setattr(keras().datasets.mnist, "load_data", fake_download)
    return calls


def test_bundled_mnist_never_reaches_the_download(no_network, download_spy):
    raw = data.load_mnist()
    assert raw.source == str(paths.BUNDLED_MNIST) and download_spy == [] and no_network == []


def test_keras_cache_is_used_before_any_download(tmp_path, monkeypatch, no_network, download_spy):
    cache = tmp_path / "cache" / "mnist.npz"
    cache.parent.mkdir()
    rng = np.random.default_rng(1)
    np.savez(cache, x_train=rng.integers(0, 256, (20, 28, 28), dtype=np.uint8), y_train=np.zeros(20, np.uint8),
             x_test=np.zeros((5, 28, 28), np.uint8), y_test=np.zeros(5, np.uint8))
    monkeypatch.setattr(data.paths, "BUNDLED_MNIST", tmp_path / "missing.npz")
    monkeypatch.setattr(data, "KERAS_CACHE", cache)
    said = []
    assert data.load_mnist(notify=said.append).source == str(cache)
    assert download_spy == [] and said == [] and no_network == []


def test_the_download_happens_only_with_no_local_copy_and_after_saying_so(tmp_path, monkeypatch, download_spy):
    monkeypatch.setattr(data.paths, "BUNDLED_MNIST", tmp_path / "missing.npz")
    monkeypatch.setattr(data, "KERAS_CACHE", tmp_path / "also-missing.npz")
    events = download_spy  # the same list: the notice must come before the download
    raw = data.load_mnist(notify=lambda message: events.append(f"said: {message}"))
    assert len(events) == 2 and events[0].startswith("said: No local copy of MNIST") and events[1] == "download"
    assert len(raw.x_train) == 20
    with pytest.raises(DigitsError, match="No MNIST found"):
        data.load_mnist(allow_download=False)


def test_models_are_loaded_in_safe_mode_only(trained_model_path, monkeypatch):
    from model import modelio
    from model.backend import keras

    seen = []
    real = keras().saving.load_model

    def spy(*args, **kwargs):
        seen.append(kwargs.get("safe_mode"))
        return real(*args, **kwargs)

    monkeypatch.setattr(keras().saving, "load_model", spy)
    modelio.load_model(trained_model_path)
    assert seen == [True]


def test_predicting_and_evaluating_open_no_connection(trained_model_path, no_network, capsys):
    from conftest import DATA

    from model import cli

    assert cli.run(["predict", "--model", str(trained_model_path), "--strokes",
                    str(DATA / "pendigits-sample.jsonl")]) == 0
    assert cli.run(["evaluate", "--model", str(trained_model_path), "--json"]) == 0
    capsys.readouterr()
    assert no_network == []
