"""Which model predicts: the active one, the previous one, and epoch snapshots while training.

Models are loaded in the inference worker's thread (``gui.inference``); this
object, in the GUI thread, only keeps the bookkeeping: which request is for
what, which model is active, which one came before. A model becomes active
only once it has loaded, so a bad file leaves the old model in place. The
active model's path is recorded with ``model.paths.set_active_model_path``,
which the CLI shares.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from gui.inference import InferenceService, Snapshot
from model import paths
from model.errors import DigitsError

LOADING, READY, MISSING = "loading", "ready", "missing"


def _same_file(a: Path | None, b: Path | None) -> bool:
    if a is None or b is None:
        return False
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


class ModelManager(QObject):
    active_changed = Signal(object)  # LoadedModel
    state_changed = Signal(str)  # LOADING, READY or MISSING
    load_failed = Signal(str)  # a one-sentence message for the user
    busy = Signal(str)  # "opening ..." for the status bar

    def __init__(self, inference: InferenceService, parent: QObject | None = None):
        super().__init__(parent)
        self.inference = inference
        self.active = None  # LoadedModel; its .model belongs to the inference thread: read metadata only
        self.previous_path: Path | None = None
        self.active_trained = False  # the active model was handed over by a training run, not opened
        self.state = LOADING
        self._active_key: int | None = None
        self._pending: dict[int, tuple[str, object]] = {}  # key -> (purpose, path or run id)
        self._snapshot_key: int | None = None
        self._run = 0  # the current training run's number; 0: none
        inference.model_loaded.connect(self._on_loaded)
        inference.model_load_failed.connect(self._on_failed)

    def _set_state(self, state: str) -> None:
        self.state = state
        self.state_changed.emit(state)

    # Requests ---------------------------------------------------------------------------------------

    def start(self) -> None:
        """Load the model the app used last (or the bundled one)."""
        path = paths.active_model_path()
        if not path.is_file():
            self._set_state(MISSING)
            return
        self._set_state(LOADING)
        self._load(path, "startup")

    def open(self, path: Path) -> None:
        self._load(Path(path), "open")

    def reset_to_bundled(self) -> None:
        if not paths.BUNDLED_MODEL.is_file():
            self.load_failed.emit(f"{paths.BUNDLED_MODEL}: there is no bundled model.")
            return
        self._load(paths.BUNDLED_MODEL, "open")

    def restore_previous(self) -> None:
        if self.previous_path is not None:
            self._load(self.previous_path, "open")

    def _load(self, path: Path, purpose: str) -> None:
        self.busy.emit(f"opening {path.name}...")
        self._pending[self.inference.load(path)] = (purpose, path)

    def adopt_trained(self, loaded) -> None:
        """Make a model trained in this session the active one."""
        self._run = 0
        self._pending[self.inference.adopt(loaded)] = ("trained", loaded.path)

    def training_started(self) -> None:
        self._run += 1

    def epoch_weights(self, arch: str, progress) -> None:
        """Predict with a copy of this epoch's weights until the run ends."""
        if self._run:
            snap = Snapshot(arch, progress.epoch, progress.epochs, progress.weights, progress.temperature)
            self._pending[self.inference.snapshot(snap)] = ("snapshot", self._run)

    def training_ended(self) -> None:
        """The run ended without a new model: predict with the active model again."""
        self._run = 0
        if self._active_key is not None:
            self.inference.use(self._active_key, self.describe_active())
        self.inference.forget(self._snapshot_key)
        self._snapshot_key = None

    # Results ----------------------------------------------------------------------------------------

    def describe_active(self) -> str:
        return f"model: {self.active.describe()}" if self.active is not None else ""

    @Slot(object, object)
    def _on_loaded(self, key: int, loaded) -> None:
        purpose, detail = self._pending.pop(key, (None, None))
        if purpose == "snapshot":
            if detail != self._run:  # the run it belongs to has ended
                self.inference.forget(key)
                return
            self.inference.use(key, f"training {loaded.arch}: weights after epoch {loaded.epoch} of {loaded.epochs}")
            if self._snapshot_key != key:
                self.inference.forget(self._snapshot_key)
            self._snapshot_key = key
            return
        if purpose is None:
            self.inference.forget(key)
            return
        old_key, old = self._active_key, self.active
        self._active_key, self.active = key, loaded
        self.active_trained = purpose == "trained"
        if old is not None and not _same_file(old.path, loaded.path):
            self.previous_path = old.path
        if purpose != "startup" and loaded.path is not None:  # an unsaved trained model is not remembered
            try:
                paths.set_active_model_path(None if _same_file(loaded.path, paths.BUNDLED_MODEL) else loaded.path)
            except DigitsError as exc:  # a read-only data folder: the model is in use, just not remembered
                self.load_failed.emit(str(exc))
        if self._snapshot_key is None or purpose == "trained":
            self.inference.use(key, self.describe_active())
        self.inference.forget(old_key)
        if purpose == "trained":
            self.inference.forget(self._snapshot_key)
            self._snapshot_key = None
        self._set_state(READY)
        self.active_changed.emit(loaded)

    @Slot(object, str)
    def _on_failed(self, key: int, message: str) -> None:
        purpose, detail = self._pending.pop(key, (None, None))
        if purpose == "snapshot" or purpose is None:
            return  # a prediction preview during training; the run goes on
        self.load_failed.emit(message)
        if purpose == "trained":
            self.training_ended()  # not left predicting with the run's last epoch snapshot
        elif purpose == "startup" and not _same_file(detail, paths.BUNDLED_MODEL) and paths.BUNDLED_MODEL.is_file():
            # The recorded model is gone or broken: fall back to the bundled one, and record that.
            self._load(paths.BUNDLED_MODEL, "open")
        elif self.active is None and not any(p != "snapshot" for p, _ in self._pending.values()):
            self._set_state(MISSING)
