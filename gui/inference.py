"""Loading models and predicting, on one worker thread that owns every Keras model it touches.

The GUI thread never calls Keras. ``InferenceService`` (GUI thread) sends
requests to ``InferenceWorker`` (its own QThread) through queued signals and
throttles them: at most one prediction in flight and at most ``MAX_RATE`` a
second, always for the newest drawing, so a burst of pen moves costs one
prediction, never a queue, and painting the stroke never waits for the network.
"""
from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal, Slot

from gui.threads import building_model, ensure_keras, join, start_in_thread
from model.errorlog import with_details
from model.errors import DigitsError

MAX_RATE = 30.0  # predictions a second, at most


@dataclass(frozen=True)
class PredictionInput:
    """What to classify: the canvas's strokes (logical coordinates) or a picture."""

    revision: int  # the canvas revision this input belongs to; later results replace earlier ones
    strokes: list | None = None
    width: float = 280.0
    height: float = 280.0
    image: object = None  # a PIL image, handed over to the worker and never touched again here
    final: bool = True  # pen released (or undo, clear, ...), as opposed to mid-stroke


@dataclass(frozen=True)
class Snapshot:
    """A copy of the weights of a model in training, at the end of an epoch."""

    arch: str
    epoch: int
    epochs: int
    weights: list
    temperature: float = 1.0  # fitted on the validation split at this epoch's end


@dataclass(frozen=True)
class ShownPrediction:
    revision: int
    prediction: object  # model.inference.Prediction
    source: str  # which model made it, in words
    final: bool


@dataclass(frozen=True)
class _Request:
    key: int
    source: str
    input: PredictionInput


class InferenceWorker(QObject):
    """Owns the loaded models and their predictors; runs only in its own thread."""

    loaded = Signal(object, object)  # key, LoadedModel
    load_failed = Signal(object, str)  # key, one-sentence message
    predicted = Signal(object, object)  # _Request, Prediction
    predict_failed = Signal(object, str)  # _Request, message

    def __init__(self):
        super().__init__()
        self._predictors: dict[int, object] = {}
        self._snapshot_models: dict[str, tuple[object, object]] = {}  # arch -> (model, predictor)

    def _make_predictor(self, model, temperature: float, frozen: bool = True, interactive: bool = False,
                        novelty=None):
        """``interactive``: compile one drawing's graph with XLA (``Predictor``). TensorFlow keeps each
        compiled program for the rest of the process, about 1.6 MB for the bundled model (plus about 80 MB
        of XLA at the first), so only models a person opens get it, not every model a training run or an
        epoch hands over."""
        from model.inference import Predictor

        predictor = Predictor(model, temperature, frozen=frozen, interactive=interactive, novelty=novelty)
        predictor.predict_input(np.zeros((28, 28), dtype=np.float32))  # trace now, not on the first stroke
        return predictor

    @Slot(object, object)
    def load(self, key: int, path: Path) -> None:
        try:
            ensure_keras()
            from model.modelio import load_model

            with building_model():  # building a model while another thread builds one aborted the process
                loaded = load_model(path)
                self._predictors[key] = self._make_predictor(loaded.model, loaded.temperature, interactive=True,
                                                             novelty=loaded.novelty)
        except DigitsError as exc:
            self.load_failed.emit(key, str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - any failure must reach the user as a message
            self.load_failed.emit(key, with_details(f"{path}: cannot be loaded ({type(exc).__name__}: {exc}).",
                                                    f"loading {path}", exc))
            return
        self.loaded.emit(key, loaded)

    @Slot(object, object)
    def adopt(self, key: int, loaded) -> None:
        """Take over a model trained in another (finished) thread."""
        try:
            with building_model():
                self._predictors[key] = self._make_predictor(loaded.model, loaded.temperature,
                                                             novelty=loaded.novelty)
        except Exception as exc:  # noqa: BLE001
            self.load_failed.emit(key, with_details(f"The trained model cannot be used ({type(exc).__name__}: {exc}).",
                                                    "adopting a trained model", exc))
            return
        self.loaded.emit(key, loaded)

    @Slot(object, object)
    def snapshot(self, key: int, snap: Snapshot) -> None:
        """Predict with ``snap.weights`` from now on under ``key``: a separate copy, never the training model."""
        try:
            ensure_keras()
            with building_model():
                if snap.arch not in self._snapshot_models:
                    from model import architectures

                    self._snapshot_models[snap.arch] = (architectures.get(snap.arch).build(), None)
                model, predictor = self._snapshot_models[snap.arch]
                model.set_weights(snap.weights)
                if predictor is None:
                    predictor = self._make_predictor(model, 1.0, frozen=False)  # set_weights at each epoch
                    self._snapshot_models[snap.arch] = (model, predictor)
                predictor.temperature = snap.temperature
            self._predictors[key] = predictor
        except Exception as exc:  # noqa: BLE001
            self.load_failed.emit(key, with_details(f"Cannot predict with the epoch {snap.epoch} weights ({exc}).",
                                                    f"epoch {snap.epoch} snapshot", exc))
            return
        self.loaded.emit(key, snap)

    @Slot(object)
    def forget(self, key: int) -> None:
        self._predictors.pop(key, None)
        in_use = {id(p) for p in self._predictors.values()}
        for arch, (_model, predictor) in list(self._snapshot_models.items()):
            if id(predictor) not in in_use:
                del self._snapshot_models[arch]

    @Slot(object)
    def predict(self, request: _Request) -> None:
        predictor = self._predictors.get(request.key)
        if predictor is None:
            self.predict_failed.emit(request, "no model")
            return
        data = request.input
        try:
            if data.image is not None:
                prediction = predictor.predict_image(data.image)
            else:
                prediction = predictor.predict_strokes(data.strokes or [], data.width, data.height)
        except Exception as exc:  # noqa: BLE001 - a bad picture must not end the app
            self.predict_failed.emit(request, with_details(f"Prediction failed ({type(exc).__name__}: {exc}).",
                                                           "prediction", exc))
            return
        self.predicted.emit(request, prediction)


class InferenceService(QObject):
    """The GUI thread's side: model keys, the current model, and the prediction throttle."""

    model_loaded = Signal(object, object)  # key, LoadedModel or Snapshot
    model_load_failed = Signal(object, str)  # key, message
    prediction_ready = Signal(object)  # ShownPrediction
    prediction_failed = Signal(str)

    _load_requested = Signal(object, object)
    _adopt_requested = Signal(object, object)
    _snapshot_requested = Signal(object, object)
    _forget_requested = Signal(object)
    _predict_requested = Signal(object)

    def __init__(self, parent: QObject | None = None, max_rate: float = MAX_RATE):
        super().__init__(parent)
        self._keys = itertools.count(1)
        self._min_interval = 1.0 / max_rate
        self._current: tuple[int, str] | None = None  # (key, source description)
        self._input: PredictionInput | None = None
        self._dirty = False
        self._in_flight = False
        self._last_sent = 0.0
        self._shown_revision = -1
        self.requests_sent = 0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._pump)
        self._worker: InferenceWorker | None = None
        self._hosted: list[QObject] = []
        self._thread = None

    def start(self) -> None:
        if self._thread is not None:
            return
        worker = InferenceWorker()
        self._load_requested.connect(worker.load)
        self._adopt_requested.connect(worker.adopt)
        self._snapshot_requested.connect(worker.snapshot)
        self._forget_requested.connect(worker.forget)
        self._predict_requested.connect(worker.predict)
        worker.loaded.connect(self.model_loaded)
        worker.load_failed.connect(self.model_load_failed)
        worker.predicted.connect(self._on_predicted)
        worker.predict_failed.connect(self._on_predict_failed)
        self._worker = worker
        self._thread = start_in_thread(worker, "inference")

    def host(self, worker: QObject):
        """Run ``worker``'s slots on this service's thread; returns the thread, or None once shut down.

        Other features that use Keras models in the window (evaluation, feature maps) belong here:
        one thread then loads, builds, traces and frees every model the window predicts with, where
        two threads doing so at once aborted the process. The worker lives until ``shutdown``; after
        it (the window is closing) nothing is hosted and the caller should drop its work.
        """
        if self._thread is None:
            return None
        worker.moveToThread(self._thread)
        self._hosted.append(worker)
        return self._thread

    def shutdown(self, timeout_s: float = 60.0) -> bool:
        """Stop the worker thread (it finishes a model load first, if one is under way)."""
        self._timer.stop()
        stopped = join(self._thread, timeout_s)
        if stopped:
            self._thread = None
            self._worker = None
            self._hosted.clear()  # their thread has ended: deleting them now is safe
        return stopped

    @property
    def thread(self):
        return self._thread

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.isRunning()

    # Models -----------------------------------------------------------------------------------------

    def load(self, path: Path) -> int:
        key = next(self._keys)
        self._load_requested.emit(key, Path(path))
        return key

    def adopt(self, loaded) -> int:
        key = next(self._keys)
        self._adopt_requested.emit(key, loaded)
        return key

    def snapshot(self, snap: Snapshot) -> int:
        key = next(self._keys)
        self._snapshot_requested.emit(key, snap)
        return key

    def use(self, key: int, source: str) -> None:
        """Predict with model ``key`` from now on, and predict the current drawing again.

        The previous model stays loaded until ``forget``: after a failed training
        run the window goes back to it.
        """
        self._current = (key, source)
        if self._input is not None:
            self._dirty = True
            self._pump()

    def forget(self, key: int | None) -> None:
        """Free model ``key`` in the worker (never the current one)."""
        if key is not None and (self._current is None or self._current[0] != key):
            self._forget_requested.emit(key)

    @property
    def has_model(self) -> bool:
        return self._current is not None

    # Predictions ------------------------------------------------------------------------------------

    def submit(self, data: PredictionInput) -> None:
        """Ask for a prediction of ``data``; it replaces any input not yet sent."""
        self._input = data
        self._dirty = True
        self._pump()

    def _pump(self) -> None:
        if self._in_flight or not self._dirty or self._current is None or self._input is None:
            return
        wait = self._min_interval - (time.monotonic() - self._last_sent)
        if wait > 0:
            if not self._timer.isActive():
                self._timer.start(max(1, int(wait * 1000) + 1))
            return
        self._dirty = False
        self._in_flight = True
        self._last_sent = time.monotonic()
        self.requests_sent += 1
        key, source = self._current
        self._predict_requested.emit(_Request(key, source, self._input))

    @Slot(object, object)
    def _on_predicted(self, request: _Request, prediction) -> None:
        self._in_flight = False
        data = request.input
        if data.revision >= self._shown_revision:
            self._shown_revision = data.revision
            # Only the newest input's final prediction counts as final.
            final = data.final and not self._dirty
            self.prediction_ready.emit(ShownPrediction(data.revision, prediction, request.source, final))
        self._pump()

    @Slot(object, str)
    def _on_predict_failed(self, request: _Request, message: str) -> None:
        self._in_flight = False
        if message != "no model":
            self.prediction_failed.emit(message)
        self._pump()
