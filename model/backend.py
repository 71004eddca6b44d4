"""The one place that imports Keras, lazily.

TensorFlow takes about 3 s to import, so every module calls ``keras()`` inside
the functions that need it instead of importing at module level.
"""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from types import ModuleType

_keras: ModuleType | None = None


@contextmanager
def _native_stderr_silenced():
    """Hide the C++ start-up notes (oneDNN, CUDA stubs) TensorFlow writes straight to fd 2.

    They bypass Python and ignore TF_CPP_MIN_LOG_LEVEL; a user who asked for a
    prediction should not read about missing CUDA drivers. Python exceptions
    still propagate normally.
    """
    if os.environ.get("DIGITS_DEBUG"):
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def keras() -> ModuleType:
    global _keras
    if _keras is None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        with _native_stderr_silenced():
            import keras as _k

            _k.ops.zeros(1)  # initialises the device now, while its notes are still hidden
        _keras = _k
    return _keras


def is_loaded() -> bool:
    return _keras is not None
