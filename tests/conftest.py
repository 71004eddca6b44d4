"""Shared fixtures: headless Qt, a private user data folder, small real MNIST slices and models."""
from __future__ import annotations

import os
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(autouse=True)
def private_user_data(tmp_path_factory, monkeypatch):
    """Every test gets its own empty user data folder: no test sees another's models or state."""
    home = tmp_path_factory.mktemp("digits-home")
    monkeypatch.setenv("DIGITS_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def time_zone():
    """Every test runs in UTC, whatever the machine's zone, unless it calls ``time_zone(tz)`` (a ``TZ``
    value): times shown to the user are local. The process's own zone is back after the test."""
    before = os.environ.get("TZ")

    def set_zone(tz: str) -> None:
        os.environ["TZ"] = tz
        time.tzset()

    set_zone("UTC")
    yield set_zone
    if before is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = before
    time.tzset()


# Berlin's rule, spelled out so that it holds without the system's zone files: UTC+1, +2 in summer.
BERLIN = "CET-1CEST,M3.5.0,M10.5.0/3"


@pytest.fixture(scope="session")
def mnist_splits():
    from model.data import load_splits

    return load_splits()


@pytest.fixture(scope="session")
def small_splits(mnist_splits):
    """3,000 training images: enough for a real model to learn, quick on two cores."""
    return mnist_splits.head(3000, 500, 1000)


@pytest.fixture(scope="session")
def trained_model_path(tmp_path_factory, small_splits):
    """A real ``fast`` model trained for two short epochs and saved with metadata and novelty statistics."""
    from model.modelio import new_metadata, save_model
    from model.training import TrainConfig, train

    result = train(TrainConfig(arch="fast", epochs=2, batch_size=64, learning_rate=3e-3), small_splits)
    path = tmp_path_factory.mktemp("models") / "fast-small.keras"
    # saved as the app and the CLI save it: with its curves and the temperature fitted on validation
    save_model(result.model, path, new_metadata("fast", result.config.to_dict(), result.test_accuracy,
                                                **result.metadata_extra()), result.novelty)
    return path


@pytest.fixture(scope="session")
def pendigits_samples():
    from model.strokes import read_drawings

    return read_drawings(DATA / "pendigits-sample.jsonl")


def assert_probabilities(probabilities) -> None:
    probabilities = np.asarray(probabilities)
    assert probabilities.shape == (10,)
    assert np.all(probabilities >= 0)
    assert abs(float(probabilities.sum()) - 1.0) < 1e-4
