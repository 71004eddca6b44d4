"""Fixtures and helpers for the window's tests.

Not a ``conftest.py``: a second top-level ``conftest`` module would shadow
``tests/conftest.py`` for the tests that import from it. Test modules import
the fixtures they use from here.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from gui.screenshots import draw_strokes  # noqa: F401 - the tests draw as the screenshots do

REPO = Path(__file__).resolve().parent.parent.parent
SAMPLES = REPO / "tests" / "data" / "pendigits-sample.jsonl"  # twenty pendigits drawings, copied from ../shared


@pytest.fixture
def settings(tmp_path):
    """A QSettings file of the test's own: real settings are never read or written."""
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def app_model(request) -> Path:
    """A real model for the window: the bundled one, or a small one trained here while it does not exist."""
    from model import paths

    if paths.BUNDLED_MODEL.is_file():
        return paths.BUNDLED_MODEL
    model = request.getfixturevalue("trained_model_path")
    paths.set_active_model_path(model)
    return model


@pytest.fixture
def tiny_data(small_splits):
    """MNIST for training tests: 320 training images (ten batches of 32), 100 validation, 100 test."""
    return lambda: small_splits.head(320, 100, 100)


class Errors(list):
    """Records the messages the window would have shown in a message box."""

    def __call__(self, message: str) -> None:
        self.append(message)


@pytest.fixture
def make_window(qtbot, settings, app_model, tiny_data):
    """Build, show and wait for a window; at the end close it and check that no thread is left running."""
    from gui.app import build_window

    windows = []

    def make(data_loader=None, wait_ready: bool = True, show_error=None, window_settings=None, resize=True):
        errors = Errors()
        window = build_window(settings=window_settings or settings, data_loader=data_loader or tiny_data,
                              show_error=show_error if show_error is not None else errors)
        window.errors = errors
        qtbot.addWidget(window)
        windows.append(window)
        if resize:
            window.resize(1200, 860)
        window.show()
        qtbot.waitExposed(window)
        if wait_ready:
            qtbot.waitUntil(lambda: window.models.state == "ready", timeout=60_000)
        return window

    yield make
    for window in windows:
        window.close()
        assert not window.threads_running(), "a worker thread outlived its window"


def wait_for_prediction(qtbot, window, timeout: int = 20_000):
    """Wait until the window shows the final prediction for the canvas as it is now."""
    def current() -> bool:
        shown = window.last_shown
        return shown is not None and shown.final and shown.revision == window.canvas.revision

    qtbot.waitUntil(current, timeout=timeout)
    return window.last_shown
