"""Training off the GUI thread: a QObject whose ``run`` calls ``model.training.train`` and only emits signals.

Stop is a ``threading.Event`` set from the GUI thread and polled by ``train``
after every batch (a queued slot would never run while ``fit`` holds this
thread). ``abandon`` (the window is closing) also skips saving the model.
"""
from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from gui.threads import building_model, ensure_keras
from model.errorlog import with_details
from model.errors import DigitsError

_full_data = None
_full_data_lock = threading.Lock()


def load_full_data():
    """MNIST as the CLI's ``train`` uses it (bundled file, 5,000 validation images), loaded once a process.

    Every run used to load its own copy (about 220 MB), and a finished run's copy
    lived on until the garbage collector's next full pass: in a 10-minute soak
    RSS between runs climbed in 220 MB steps to 2.2 GB before each such pass
    (``python -m benchmarks soak --soak-minutes 10``). One shared copy also saves
    each later run the 0.7 s of loading. ``train`` only reads it.
    """
    global _full_data
    from model.data import load_splits

    with _full_data_lock:
        if _full_data is None:
            _full_data = load_splits(notify=lambda message: None)
        return _full_data


_malloc_trim = None  # glibc's, once looked up; False where there is none


def return_freed_memory() -> None:
    """Give the memory a finished run freed back to the system (glibc only; elsewhere nothing).

    A run frees hundreds of megabytes in many threads' malloc arenas; glibc keeps
    much of it, scattered, so the app's resident size crept up about 0.3 MB a run
    in the 10-minute soak although live memory did not grow (benchmarks/soak).
    ``malloc_trim`` returns the free pages; it takes milliseconds, in this worker thread.

    A run's Keras models and traced graphs are reference cycles, so most of what it
    frees is only freed by the collector's full pass, which came every ten runs or
    so: in a 5-minute soak RSS between runs rose by up to 170 MB and fell back,
    and the soak's slope depended on where it stopped in that cycle (malloc's
    in-use memory between runs: a 100 MB saw-tooth). Collecting here first, once a
    run, keeps it flat (+0.00 MB in-use over 21 runs, RSS within 7 MB) for 22-35 ms
    in this thread, 16,000-26,000 objects; the full pass it replaces took longer.
    """
    global _malloc_trim
    gc.collect()
    if _malloc_trim is None:
        try:
            import ctypes

            _malloc_trim = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)


@dataclass(frozen=True)
class TrainingJob:
    config: object  # model.training.TrainConfig
    data_loader: Callable[[], object]  # () -> model.data.Splits; runs in the worker thread
    models_dir: Path
    tensorboard_dir: Path | None = None  # also write TensorBoard logs there


@dataclass(frozen=True)
class TrainingOutcome:
    result: object | None  # model.training.TrainResult; None when stopped before training began
    loaded: object | None  # model.modelio.LoadedModel of the saved model; None when nothing was kept
    message: str  # one sentence for the status bar
    batches_after_stop: int  # batches that ended after Stop was pressed (1: it stopped at the next boundary)
    save_error: str | None = None  # the model could not be saved (read-only or full data folder); it is in memory


class _TracingGuard:
    """``building_model()`` entered and left from callbacks rather than a ``with`` block."""

    def __init__(self):
        self._held = None

    def hold(self) -> None:
        if self._held is None:
            self._held = building_model()
            self._held.__enter__()

    def release(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            held.__exit__(None, None, None)


class TrainingWorker(QObject):
    status_changed = Signal(str)
    batch_ended = Signal(object)  # BatchProgress, about 20 a second
    epoch_ended = Signal(object)  # EpochProgress, with a copy of the weights
    training_finished = Signal(object)  # TrainingOutcome
    training_failed = Signal(str)
    finished = Signal()  # always, last: the thread quits on it

    def __init__(self, job: TrainingJob):
        super().__init__()
        self._job = job
        self._stop = threading.Event()
        self._abandon = threading.Event()
        self._batches_after_stop = 0

    def request_stop(self) -> None:
        """Thread-safe: training ends at the next batch boundary."""
        self._stop.set()

    def abandon(self) -> None:
        """Thread-safe: stop, and neither save nor report the model (the window is closing)."""
        self._abandon.set()
        self._stop.set()

    def _should_stop(self) -> bool:
        if self._stop.is_set():
            self._batches_after_stop += 1
            return True
        return False

    @Slot()
    def run(self) -> None:
        try:
            self._run()
        except DigitsError as exc:
            self.training_failed.emit(str(exc))
        except MemoryError:
            self.training_failed.emit("Out of memory: try a smaller batch size or a smaller architecture.")
        except Exception as exc:  # noqa: BLE001 - the app must survive any failure in training
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            if "ResourceExhausted" in type(exc).__name__ or "out of memory" in text.lower():
                self.training_failed.emit("Out of memory: try a smaller batch size or a smaller architecture.")
            else:
                said = f"Training failed: {type(exc).__name__}: {text[:300]}".rstrip(".") + "."
                self.training_failed.emit(with_details(said, "training", exc))
        finally:
            return_freed_memory()
            self.finished.emit()

    def _run(self) -> None:
        from model.training import TrainConfig

        config: TrainConfig = self._job.config.resolved()  # refuse a bad setting before loading anything
        self.status_changed.emit("loading MNIST...")
        data = self._job.data_loader()
        if config.batch_size > len(data.x_train):
            raise DigitsError(f"batch size {config.batch_size} is larger than the {len(data.x_train)} "
                              "training images.")
        if self._stop.is_set():
            if not self._abandon.is_set():
                self.training_finished.emit(TrainingOutcome(None, None, "Training stopped before it began.", 0))
            return
        self.status_changed.emit("starting TensorFlow...")
        if not ensure_keras(should_stop=self._stop.is_set):  # stopped while TensorFlow imports: end now
            if not self._abandon.is_set():
                self.training_finished.emit(TrainingOutcome(None, None, "Training stopped before it began.", 0))
            return
        from model.training import train

        self.status_changed.emit("training...")
        # TensorFlow traces in three stretches of train(): building the model and its step (until the first
        # batch), the validation pass after the first epoch, and the test pass after a stop. Tracing while
        # another thread builds or traces aborted the process, so those stretches run inside building_model().
        guard = _TracingGuard()
        guard.hold()

        def on_batch(progress) -> None:
            guard.release()  # the first batch always reports
            self.batch_ended.emit(progress)
            if progress.epoch == 1 and progress.batch == progress.batches_per_epoch:
                guard.hold()  # the last batch of an epoch always reports; validation comes next

        def on_epoch(progress) -> None:
            guard.release()
            self.epoch_ended.emit(progress)

        def should_stop() -> bool:
            stop = self._should_stop()
            if stop:
                guard.hold()  # the test pass comes next
            return stop

        extra = None
        if self._job.tensorboard_dir is not None:
            from model.backend import keras

            extra = [keras().callbacks.TensorBoard(log_dir=str(self._job.tensorboard_dir))]
        try:
            result = train(config, data, on_batch=on_batch, on_epoch=on_epoch, should_stop=should_stop,
                           extra_callbacks=extra)
        finally:
            guard.release()
        if self._abandon.is_set():
            return
        if result.epochs_completed == 0:
            message = "Training stopped before the first epoch ended; the model was not kept."
            self.training_finished.emit(TrainingOutcome(result, None, message, self._batches_after_stop))
            return
        loaded, save_error = self._save(result, data.source)
        how = "stopped after" if result.stopped else "trained for"
        accuracy = (f"{result.test_accuracy:.2%} test accuracy" if result.test_accuracy is not None
                    else "no test images")
        where = f"saved to {loaded.path}" if save_error is None else "not saved"
        message = f"{loaded.name}: {how} {result.epochs_completed} epoch(s), {accuracy}; {where}"
        self.training_finished.emit(TrainingOutcome(result, loaded, message, self._batches_after_stop, save_error))

    def _save(self, result, source: str):
        """Save as ``digits train`` does: metadata with the curves and the fitted temperature, and the run history."""
        from model import history
        from model.modelio import LoadedModel, new_metadata, save_model

        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = Path(self._job.models_dir) / f"{result.config.arch}-{stamp}.keras"
        for n in range(2, 1000):  # two runs within one second must not overwrite each other
            if not path.exists():
                break
            path = path.with_name(f"{result.config.arch}-{stamp}-{n}.keras")
        metadata = new_metadata(result.config.arch, result.config.to_dict(), result.test_accuracy, name=path.stem,
                                data=source, **result.metadata_extra())
        try:
            save_model(result.model, path, metadata, result.novelty)
        except DigitsError as exc:  # a read-only or full data folder: the model stays in memory, unsaved
            return LoadedModel(result.model, None, metadata, result.novelty), str(exc)
        try:
            history.record_run(result, model_path=path)
        except DigitsError as exc:  # the model is saved; only its entry in the run history is missing
            self.status_changed.emit(str(exc))
        return LoadedModel(result.model, path, metadata, result.novelty), None
