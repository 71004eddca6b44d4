"""Starting the app: the window first, TensorFlow and the model after it is on screen."""
from __future__ import annotations

import gc
import os
import signal
import sys
from collections.abc import Callable

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from gui.threads import keras_import_running

ORGANISATION = APPLICATION = "digits"


MALLOC_ARENAS = 2


def _limit_malloc_arenas() -> None:
    """At most ``MALLOC_ARENAS`` glibc malloc arenas for the app's threads (glibc only; elsewhere nothing).

    Each training run gets a new thread, and glibc gives threads up to 8 arenas per core. A run
    whose thread landed on an arena not yet used grew it once, by about 16 MB, mostly left free, so
    the app's resident size rose in steps until 16 arenas were full: 148 MB of arenas became 325 MB
    over 46 soak runs, while memory in use stayed flat (benchmarks/OPTIMISATIONS.md, "The soak's
    slope"). Two arenas stopped the steps, and training was no slower (``benchmarks.throughput``).
    ``MALLOC_ARENA_MAX`` in the environment, if set, is left to decide.
    """
    if "MALLOC_ARENA_MAX" in os.environ or not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc (musl, ...)
        return
    m_arena_max = -8  # from glibc's malloc.h
    mallopt(m_arena_max, MALLOC_ARENAS)


def _application(argv: list[str] | None) -> QApplication:
    _limit_malloc_arenas()
    app = QApplication.instance()
    if app is None:
        app = QApplication([sys.argv[0] if sys.argv else "digits", *(argv or [])])
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    from gui.style import base_font

    app.setFont(base_font(app.font()))  # before any widget exists, so every one is made at projector size
    return app


def default_settings() -> QSettings:
    """Window geometry and brush size (the model is recorded by ``model.paths``, shared with the CLI).

    Kept in Qt's per-user place, or in the data folder ``DIGITS_HOME`` names: a separate profile (a
    demo, a class's shared machine, a script run offscreen) then leaves the user's own window layout
    alone. (A window run offscreen had saved an 800 x 600 screen's geometry over this machine's.)
    """
    from model import paths

    if os.environ.get("DIGITS_HOME"):
        return QSettings(str(paths.user_data_dir() / "settings.ini"), QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANISATION, APPLICATION)


def build_window(argv: list[str] | None = None, *, settings: QSettings | None = None,
                 data_loader: Callable[[], object] | None = None, show_error: Callable[[str], None] | None = None,
                 start: bool = True):
    """The ready main window, not shown and without entering the event loop.

    ``settings``, ``data_loader`` (MNIST for training) and ``show_error`` replace
    the defaults (tests use a temporary settings file, a small MNIST slice and a
    recorder instead of message boxes). With ``start`` the model starts loading
    in the background at once.
    """
    app = _application(argv)
    from gui.main_window import MainWindow

    window = MainWindow(settings or default_settings(), data_loader=data_loader, show_error=show_error)
    window._app = app  # noqa: SLF001 - keeps a QApplication created here alive as long as the window
    if start:
        window.start()
    return window


def run_app(argv: list[str] | None = None, **window_options) -> int:
    """Open the window and run until it closes; the exit code.

    ``window_options`` go to ``build_window`` (tests pass a small ``data_loader``).
    """
    app = _application(argv)
    window = build_window(argv, start=False, **window_options)
    window.show()
    # Importing TensorFlow holds the interpreter for seconds: begin only once the window is painted.
    QTimer.singleShot(150, window.start)
    _close_on_signals(window)
    window.ends_process = True
    code = app.exec()
    if window.threads_running() or keras_import_running():
        _end_process(code)
    # The objects live until the process ends anyway: leaving them out of the collections Python runs
    # while it tears TensorFlow's thousands of modules down takes seconds off closing the app.
    gc.freeze()
    return code


def _end_process(code: int) -> None:
    """End the process now, with ``code``, while a worker is still busy (importing TensorFlow, loading a
    model, evaluating).

    Everything the user owns is already on disk: settings were synced when the window closed, the active
    model is recorded when it changes, and the training thread was joined. Waiting for the worker is what
    made closing at start-up take 3 s; returning instead would tear the interpreter (and TensorFlow's
    C++ libraries) down under a thread still running them, and Python would destroy a running QThread.
    ``os._exit`` does neither: the kernel ends every thread at once.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass
    os._exit(code)


def _close_on_signals(window) -> None:
    """Ctrl+C or SIGTERM close the window the normal way: training stops, threads are joined."""
    def close(*_args) -> None:
        QTimer.singleShot(0, window.close)

    for name in ("SIGINT", "SIGTERM"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), close)
    # Python runs signal handlers only between bytecodes; a timer lets it in while Qt's loop waits.
    window._signal_timer = QTimer(window)  # noqa: SLF001
    window._signal_timer.timeout.connect(lambda: None)  # noqa: SLF001
    window._signal_timer.start(250)  # noqa: SLF001
