"""Worker threads, the way STYLE.md describes them: a QObject moved to a parentless QThread."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QThread

_keras_lock = threading.Lock()  # guards starting the import
_import: tuple[threading.Thread, list[BaseException]] | None = None  # the import thread and its errors
# Held while a worker loads or builds a Keras model: two threads building models at once aborted the process.
model_build_lock = threading.RLock()


class building_model:  # noqa: N801 - used as a context manager
    """Hold ``model_build_lock`` with the garbage collector paused: a collection that freed another model's
    TensorFlow objects while this thread built one aborted the process (seen in the window's tests)."""

    def __enter__(self):
        import gc

        model_build_lock.acquire()
        self._was_enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc):
        import gc

        if self._was_enabled:
            gc.enable()
        model_build_lock.release()


def ensure_keras(should_stop: Callable[[], bool] | None = None) -> bool:
    """Import Keras (and TensorFlow) once, in a thread Python started; any worker may call this.

    True once Keras is loaded. With ``should_stop``, False as soon as it says so
    (polled a few times a second): the import goes on in its own thread, and a
    later call waits for that same import. A training run stopped while
    TensorFlow is still importing (the window closing at start-up) thus ends
    its thread at once instead of seconds later.

    Imported inside a QThread (a thread Python did not start), TensorFlow 2.21
    later segfaulted as soon as one thread traced a function while another ran
    ``fit`` (reproduced headless, without widgets); imported in a
    ``threading.Thread``, or in the main thread, it does not. So the import runs
    in a short-lived Python thread while the calling worker waits; the GUI
    thread is never blocked. Only one such thread runs at a time, which also
    stops two workers from both running ``model.backend.keras()``: it redirects
    file descriptor 2 for a moment.
    """
    global _import
    from model.backend import is_loaded, keras

    if is_loaded():
        return True
    with _keras_lock:
        if is_loaded():
            return True
        if _import is None or not _import[0].is_alive():  # none yet, or the last one failed: try again
            errors: list[BaseException] = []

            def load() -> None:
                try:
                    keras()
                except BaseException as exc:  # noqa: BLE001 - handed to the callers below
                    errors.append(exc)

            _import = (threading.Thread(target=load, name="keras-import", daemon=True), errors)
            _import[0].start()
        importer, errors = _import
    if should_stop is None:
        importer.join()
    else:
        while importer.is_alive():
            if should_stop():
                return False
            importer.join(0.05)
    if errors:
        raise errors[0]
    return True


def keras_import_running() -> bool:
    """True while TensorFlow is being imported (possibly for a worker that has stopped waiting for it)."""
    return _import is not None and _import[0].is_alive()


def start_in_thread(worker: QObject, name: str, run_slot=None, on_finished=None) -> QThread:
    """Move ``worker`` to a new QThread (no parent: moveToThread would fail) and start it.

    With ``run_slot`` the thread runs that one job and quits when the worker emits
    ``finished``; without, the thread runs an event loop serving queued slots.
    """
    thread = QThread()
    thread.setObjectName(name)
    worker.moveToThread(thread)
    if run_slot is not None:
        thread.started.connect(run_slot)
        # Direct: QThread.quit is thread-safe, and the thread must end even if the GUI loop has stopped.
        worker.finished.connect(thread.quit, Qt.ConnectionType.DirectConnection)
    if on_finished is not None:
        thread.finished.connect(on_finished)
    thread.start()
    return thread


def join(thread: QThread | None, timeout_s: float = 60.0) -> bool:
    """Ask ``thread`` to quit and wait for it; True when it has stopped.

    The timeout is a last resort: a worker that has been told to stop finishes
    its current batch (and the test evaluation) first, which takes seconds.
    """
    if thread is None:
        return True
    thread.quit()
    deadline = time.monotonic() + timeout_s
    while thread.isRunning():
        remaining_ms = int((deadline - time.monotonic()) * 1000)
        if remaining_ms <= 0:
            return False
        thread.wait(min(remaining_ms, 200))
    return True
