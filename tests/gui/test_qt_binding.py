"""The Qt binding must not leak references to None: on Python 3.11 that aborts the app."""
from __future__ import annotations

import sys

import pytest
from PySide6.QtWidgets import QLabel


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="None is immortal from Python 3.12")
def test_calls_returning_nothing_keep_none_alive(qtbot):
    label = QLabel()
    qtbot.addWidget(label)
    before = sys.getrefcount(None)
    for _ in range(20_000):
        label.setText("7")
    # PySide6 6.12.0 loses one reference per call: 20,000 here, and the app dies at zero.
    assert before - sys.getrefcount(None) < 1_000
