"""Evaluation and the network's internals, off the GUI thread, on a model copy of their own.

``InsightWorker`` lives in its own QThread and loads its own copy of the active
model from its file (Keras models are not safe to share between threads: the
inference thread keeps predicting with its copy meanwhile). ``InsightService``
(GUI thread) sends it requests through queued signals and keeps at most one
internals request in flight, always the newest drawing, at most ``RATE`` a second.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal, Slot

from gui.threads import building_model, ensure_keras
from model.errorlog import with_details

RATE = 4.0  # internals a second, at most: feature maps and occlusion cost far more than a prediction


@dataclass(frozen=True)
class InternalsRequest:
    revision: int
    strokes: list
    width: float = 280.0
    height: float = 280.0
    saliency: bool = True


@dataclass(frozen=True)
class Internals:
    revision: int
    strokes: list
    stages: object | None  # model.internals.Stages; None when the canvas holds no digit
    digit: int | None
    names: list
    maps: list  # one (H, W, C) array per convolutional layer
    saliency: np.ndarray | None  # (28, 28) in [0, 1]
    frame: tuple | None  # (left, top, side) of the 28x28 input on the canvas, in canvas units


@dataclass(frozen=True)
class EvaluationResult:
    model_name: str
    evaluation: object  # model.evaluation.Evaluation


class InsightWorker(QObject):
    evaluated = Signal(object)  # EvaluationResult
    internals_ready = Signal(object)  # Internals
    failed = Signal(str)  # a one-sentence message

    def __init__(self, data_loader: Callable[[], object]):
        super().__init__()
        self._data_loader = data_loader
        self._splits = None
        self._path: Path | None = None
        self._loaded = None
        self._predictor = None
        self._maps = None

    def _model(self, path: Path):
        if self._loaded is None or self._path != path:
            ensure_keras()
            from model.inference import Predictor
            from model.internals import FeatureMaps
            from model.modelio import load_model

            with building_model():
                self._loaded = load_model(path)
                self._path = path
                self._predictor = Predictor(self._loaded.model, self._loaded.temperature)
                self._maps = FeatureMaps(self._loaded.model)
        return self._loaded

    @Slot(object)
    def evaluate(self, path: Path) -> None:
        try:
            loaded = self._model(Path(path))
            if self._splits is None:
                self._splits = self._data_loader()
            from model.evaluation import evaluate_model

            data = self._splits
            evaluation = evaluate_model(loaded.model, data.x_test, data.y_test, loaded.temperature)
        except Exception as exc:  # noqa: BLE001 - any failure must reach the user as a message
            self.failed.emit(with_details(f"Evaluation failed ({type(exc).__name__}: {exc}).", "evaluation", exc))
            self.evaluated.emit(None)  # the request is answered either way
            return
        self.evaluated.emit(EvaluationResult(loaded.name, evaluation))

    @Slot(object, object)
    def internals(self, path: Path, request: InternalsRequest) -> None:
        try:
            self._model(Path(path))
            from model.internals import input_frame_on_canvas, occlusion_saliency, preprocessing_stages

            stages = preprocessing_stages(request.strokes, request.width, request.height)
            if stages is None:
                result = Internals(request.revision, request.strokes, None, None, [], [], None, None)
            else:
                x28 = stages.centred
                digit = int(np.argmax(self._predictor.probabilities(x28[None])[0]))
                heat = frame = None
                if request.saliency:
                    heat = occlusion_saliency(self._predictor.probabilities, x28, digit)
                    frame = input_frame_on_canvas(request.strokes, x28)
                result = Internals(request.revision, request.strokes, stages, digit, self._maps.names,
                                   self._maps(x28), heat, frame)
        except Exception as exc:  # noqa: BLE001
            self.failed.emit(with_details(f"Cannot look inside the network ({type(exc).__name__}: {exc}).",
                                          "looking inside the network", exc))
            result = Internals(request.revision, request.strokes, None, None, [], [], None, None)
        self.internals_ready.emit(result)


class InsightService(QObject):
    """GUI-thread side: which model, and the internals throttle.

    The worker runs on the thread ``host`` gives it (the window's inference
    thread): one thread then loads, traces and frees every model the window
    predicts with, where two threads doing so at once aborted TensorFlow.
    """

    evaluated = Signal(object)
    internals_ready = Signal(object)
    failed = Signal(str)
    evaluating = Signal(bool)

    _evaluate_requested = Signal(object)
    _internals_requested = Signal(object, object)

    def __init__(self, data_loader: Callable[[], object], host: Callable[[QObject], object],
                 parent: QObject | None = None, rate: float = RATE):
        super().__init__(parent)
        self._data_loader = data_loader
        self._host = host
        self._thread = None
        self._worker = None
        self.model_path: Path | None = None
        self._pending: InternalsRequest | None = None
        self._in_flight = False
        self._evaluations = 0
        self._last = 0.0
        self._interval = 1.0 / rate
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._pump)
        self._closed = False

    def _ensure(self) -> bool:
        """True when the worker is hosted. After shutdown nothing is hosted again: a queued
        request (say, the evaluation that follows a training run) must not outlive the window."""
        if self._thread is None and not self._closed:
            worker = InsightWorker(self._data_loader)
            thread = self._host(worker)
            if thread is None:  # the host thread is not running (yet, or any more)
                return False
            self._evaluate_requested.connect(worker.evaluate)
            self._internals_requested.connect(worker.internals)
            worker.evaluated.connect(self._on_evaluated)
            worker.internals_ready.connect(self._on_internals)
            worker.failed.connect(self.failed)
            self._worker = worker
            self._thread = thread
        return self._thread is not None and not self._closed

    def shutdown(self, timeout_s: float = 60.0) -> bool:
        """Take no more requests; the host joins the thread (and frees the worker) when it shuts down."""
        self._closed = True
        self._pending = None
        self._timer.stop()
        self._thread = None
        return True

    @property
    def thread(self):
        return self._thread

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.isRunning()

    def evaluate(self, path: Path | None = None) -> bool:
        path = path or self.model_path
        if path is None or not self._ensure():
            return False
        self._evaluations += 1
        self.evaluating.emit(True)
        self._evaluate_requested.emit(Path(path))
        return True

    def request_internals(self, request: InternalsRequest) -> None:
        """Newest drawing wins; earlier requests not yet sent are dropped."""
        self._pending = request
        self._pump()

    def _pump(self) -> None:
        if self._in_flight or self._pending is None or self.model_path is None or self._closed:
            return
        wait = self._interval - (time.monotonic() - self._last)
        if wait > 0:
            if not self._timer.isActive():
                self._timer.start(int(wait * 1000) + 1)
            return
        if not self._ensure():
            return
        request, self._pending = self._pending, None
        self._in_flight = True
        self._last = time.monotonic()
        self._internals_requested.emit(self.model_path, request)

    @Slot(object)
    def _on_evaluated(self, result) -> None:
        self._evaluations -= 1
        self.evaluating.emit(self._evaluations > 0)
        if result is not None:
            self.evaluated.emit(result)

    @Slot(object)
    def _on_internals(self, result) -> None:
        self._in_flight = False
        self.internals_ready.emit(result)
        self._pump()
