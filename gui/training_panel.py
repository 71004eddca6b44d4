"""The training panel: architecture and recipe, Start/Stop, progress, and the live plots.

The panel owns the training thread: Start moves a ``TrainingWorker`` to a new
QThread; the worker's signals arrive here, queued, in the GUI thread; Stop
sets the worker's event; ``shutdown`` (window closing) abandons the run and
joins the thread.
"""
from __future__ import annotations

import importlib.util
import math
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from gui.live_text import LiveText
from gui.plots import TrainingPlots
from gui.run_history import RunOverlay
from gui.style import scaled_font
from gui.threads import join, start_in_thread
from gui.training_worker import TrainingJob, TrainingWorker, load_full_data
from model import architectures, paths

EPOCHS_RANGE = (1, 200)
BATCH_RANGE = (1, 8192)
LEARNING_RATE_RANGE = (1e-5, 1.0)  # as the CLI's --lr accepts
AUGMENT_TIP = "rotate, shear and shift the training digits"


def format_duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "…"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"



def tensorboard_available() -> bool:
    """Keras's TensorBoard callback needs the tensorboard package, which the app does not require."""
    return importlib.util.find_spec("tensorboard") is not None


class TrainingPanel(QWidget):
    training_started = Signal(object)  # the resolved TrainConfig
    batch_ended = Signal(object)  # BatchProgress
    epoch_ended = Signal(object)  # EpochProgress
    training_finished = Signal(object)  # TrainingOutcome
    training_failed = Signal(str)
    running_changed = Signal(bool)

    def __init__(self, data_loader: Callable[[], object] | None = None,
                 models_dir: Callable[[], Path] | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("trainingPanel")
        self.data_loader = data_loader or load_full_data
        self._models_dir = models_dir or paths.user_models_dir
        self._worker: TrainingWorker | None = None
        self._thread = None
        self.config = None  # the running (or last) TrainConfig
        self._build()
        self._arch_changed()

    # Layout ---------------------------------------------------------------------------------------

    def _build(self) -> None:
        self.arch_combo = QComboBox()
        self.arch_combo.setObjectName("architectureCombo")
        self.arch_combo.setAccessibleName("Architecture")
        for arch in architectures.ARCHITECTURES.values():
            self.arch_combo.addItem(arch.name, arch.name)
        self.arch_combo.setCurrentIndex(max(0, self.arch_combo.findData("fast")))
        self.arch_combo.currentIndexChanged.connect(self._arch_changed)

        self.description = QLabel()
        self.description.setObjectName("architectureDescription")
        self.description.setWordWrap(True)
        self.description.setMinimumHeight(self.description.fontMetrics().lineSpacing() * 2 + 4)
        self.description.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.params_label = QLabel()
        self.params_label.setObjectName("architectureParams")
        self.params_label.setForegroundRole(self.params_label.foregroundRole())

        self.epochs_spin = self._spin(QSpinBox(), "epochsSpin", "Epochs", *EPOCHS_RANGE)
        self.batch_spin = self._spin(QSpinBox(), "batchSizeSpin", "Batch size", *BATCH_RANGE)
        self.lr_spin = self._spin(QDoubleSpinBox(), "learningRateSpin", "Learning rate", *LEARNING_RATE_RANGE)
        self.lr_spin.setDecimals(5)
        self.lr_spin.setStepType(QAbstractSpinBox.StepType.AdaptiveDecimalStepType)
        # Short texts, two to a line, the details in tooltips: the settings fit the dock's minimum height.
        self.tensorboard_check = QCheckBox("TensorBoard logs")
        self.tensorboard_check.setObjectName("tensorboardCheck")
        self.tensorboard_check.setAccessibleName("Write TensorBoard logs")
        if tensorboard_available():
            logs = paths.user_data_dir() / "tensorboard"
            self.tensorboard_check.setToolTip(f"also write logs for TensorBoard, to {logs}")
        else:
            self.tensorboard_check.setEnabled(False)
            self.tensorboard_check.setToolTip("install the tensorboard package to use this")
        self.augment_check = QCheckBox("augment")
        self.augment_check.setObjectName("augmentCheck")
        self.augment_check.setAccessibleName("Augmentation")

        self.start_button = QPushButton("Start training")
        self.start_button.setObjectName("startTrainingButton")
        self.start_button.setAccessibleName("Start training")
        self.start_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("stopTrainingButton")
        self.stop_button.setAccessibleName("Stop training")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop)
        for button in (self.start_button, self.stop_button):
            button.setFont(scaled_font(self.font(), 1.15, bold=True))
            button.setMinimumHeight(36)
            button.setMinimumWidth(button.sizeHint().width() + 16)

        self.progress = QProgressBar()
        self.progress.setObjectName("trainingProgress")
        self.progress.setAccessibleName("Training progress")
        self.progress.setRange(0, 1000)
        self.progress.setFormat("%p%")
        self.progress.setValue(0)
        self.progress.setMinimumHeight(28)
        self.info_label = LiveText("ready")  # updated at each progress report: a QLabel re-laid the window out
        self.info_label.setObjectName("trainingInfo")
        # At the window's narrowest the text needs the room more than the bar does: "epoch 10/12" on a line
        # (it read "epoch …"), and the bar still shows "100%" with a margin.
        self.info_label.setMinimumWidth(self.info_label.fontMetrics().horizontalAdvance("epoch 10/12"))
        self.progress.setMinimumWidth(self.progress.fontMetrics().horizontalAdvance("0100%0"))

        inner = QWidget()
        inner.setLayout(self._settings_layout())
        left = QScrollArea()  # with a larger font the settings scroll; they never squeeze or clip
        left.setWidget(inner)
        left.setWidgetResizable(True)
        left.setFrameShape(QFrame.Shape.NoFrame)
        left.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        left.setMinimumWidth(300)
        left.setMaximumWidth(420)

        self.plots = TrainingPlots()
        self.compare_button = RunOverlay(self.plots)  # earlier runs' curves beside this one
        # Start and Stop sit with the progress they control, always in view however short the dock.
        status = QHBoxLayout()
        status.setSpacing(6)  # set, or it would take the column's 4 below (a nested layout takes its parent's)
        status.addWidget(self.start_button)
        status.addWidget(self.stop_button)
        status.addWidget(self.progress, 2)
        status.addWidget(self.info_label, 3)
        status.addWidget(self.compare_button)
        right = QVBoxLayout()
        right.setContentsMargins(0, 0, 0, 0)
        right.setSpacing(4)
        right.addWidget(self.plots, 1)
        right.addLayout(status)

        layout = QHBoxLayout(self)
        # Hardly any margin above and below (the dock's title is above, and the status line's tallest
        # widget pads the buttons): the plots' legend takes that room, and the window's minimum stays.
        layout.setContentsMargins(9, 1, 9, 0)
        layout.addWidget(left)
        layout.addLayout(right, 1)

    def _settings_layout(self) -> QVBoxLayout:
        """The settings on as few lines as they read well on: the recipe's three numbers side by side,
        labels above them, and the two options on one line, so that all fit the dock's minimum height."""
        architecture = QHBoxLayout()
        architecture.addWidget(self._label("Architecture", self.arch_combo))
        architecture.addWidget(self.arch_combo, 1)
        recipe = QGridLayout()
        recipe.setVerticalSpacing(0)
        for column, (text, spin) in enumerate((("Epochs", self.epochs_spin), ("Batch size", self.batch_spin),
                                               ("Learning rate", self.lr_spin))):
            recipe.addWidget(self._label(text, spin), 0, column)
            recipe.addWidget(spin, 1, column)
            recipe.setColumnStretch(column, 1)
        options = QHBoxLayout()
        options.addWidget(self.augment_check)
        options.addWidget(self.tensorboard_check)
        options.addStretch(1)
        settings = QVBoxLayout()
        settings.setContentsMargins(0, 0, 0, 0)
        settings.setSpacing(3)
        settings.addLayout(architecture)
        settings.addWidget(self.description)
        settings.addWidget(self.params_label)
        settings.addLayout(recipe)
        settings.addLayout(options)
        settings.addStretch(1)
        return settings

    @staticmethod
    def _label(text: str, buddy: QWidget) -> QLabel:
        label = QLabel(text)
        label.setBuddy(buddy)
        return label

    def _spin(self, spin, name: str, accessible: str, low, high):
        spin.setObjectName(name)
        spin.setAccessibleName(accessible)
        spin.setRange(low, high)
        spin.setKeyboardTracking(False)
        spin.setAlignment(Qt.AlignmentFlag.AlignRight)
        return spin

    @Slot()
    def _arch_changed(self) -> None:
        """Fill in the chosen architecture's recipe."""
        arch = architectures.get(self.arch_combo.currentData())
        self.description.setText(arch.description)
        self.params_label.setText(f"{arch.params:,} parameters")
        self.epochs_spin.setValue(arch.recipe.epochs)
        self.batch_spin.setValue(arch.recipe.batch_size)
        self.lr_spin.setValue(arch.recipe.learning_rate)
        self.augment_check.setEnabled(arch.supports_augmentation)
        self.augment_check.setChecked(arch.recipe.augment and arch.supports_augmentation)
        self.augment_check.setToolTip(AUGMENT_TIP if arch.supports_augmentation
                                      else f"{arch.name} trains without augmentation")

    # Running ------------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """A run is under way, or its thread has not yet ended."""
        return self._thread is not None

    def current_config(self):
        from model.training import TrainConfig

        return TrainConfig(
            arch=self.arch_combo.currentData(), epochs=self.epochs_spin.value(), batch_size=self.batch_spin.value(),
            learning_rate=self.lr_spin.value(),
            augment=self.augment_check.isChecked() and self.augment_check.isEnabled(),
        )

    @Slot()
    def start(self) -> None:
        if self.running:
            return
        try:
            config = self.current_config().resolved()
        except Exception as exc:  # noqa: BLE001 - a bad setting is a message, not a crash
            self.training_failed.emit(str(exc))
            return
        logs = None
        if self.tensorboard_check.isChecked() and self.tensorboard_check.isEnabled():
            logs = paths.user_data_dir() / "tensorboard" / f"{config.arch}-{time.strftime('%Y%m%d-%H%M%S')}"
        self.run_worker(TrainingWorker(TrainingJob(config, self.data_loader, self._models_dir(), logs)), config)

    def run_worker(self, worker: TrainingWorker, config) -> bool:
        """Run ``worker`` (a TrainingWorker, or one with its signals, e.g. fine-tuning) with these plots,
        progress and Stop; ``config`` is its TrainConfig. False when a run is already under way."""
        if self.running:
            return False
        self.config = config
        worker.status_changed.connect(self._on_status)
        worker.batch_ended.connect(self._on_batch)
        worker.epoch_ended.connect(self._on_epoch)
        worker.training_finished.connect(self._on_finished)
        worker.training_failed.connect(self._on_failed)
        self._worker = worker
        self.plots.reset(config.epochs)
        self.compare_button.fit_x()
        self.progress.setValue(0)
        self._set_running(True)
        self.training_started.emit(config)
        self._thread = start_in_thread(worker, "training", worker.run, self._on_thread_finished)
        return True

    @Slot()
    def stop(self) -> None:
        """Ask the run to end at the next batch boundary."""
        if self._worker is not None:
            self._worker.request_stop()
            self.stop_button.setEnabled(False)
            self.info_label.setText("stopping after this batch...")

    def shutdown(self, timeout_s: float = 60.0) -> bool:
        """Abandon any run and join its thread (window closing); True when no thread is left running."""
        if self._worker is not None:
            self._worker.abandon()
        stopped = join(self._thread, timeout_s)
        if stopped and self._thread is not None:
            self._thread = None
            self._worker = None
            self._set_running(False)
        return stopped

    @property
    def thread(self):
        return self._thread

    def thread_running(self) -> bool:
        return self._thread is not None and self._thread.isRunning()

    def _set_running(self, running: bool) -> None:
        for widget in (self.arch_combo, self.epochs_spin, self.batch_spin, self.lr_spin, self.start_button):
            widget.setEnabled(not running)
        self.augment_check.setEnabled(not running and architectures.get(self.arch_combo.currentData())
                                      .supports_augmentation)
        self.stop_button.setEnabled(running)
        self.running_changed.emit(running)

    @Slot(str)
    def _on_status(self, text: str) -> None:
        self.info_label.setText(text)

    @Slot(object)
    def _on_batch(self, p) -> None:
        self.plots.add_batch(p)
        self.progress.setValue(round(1000 * p.fraction_done))
        if self.stop_button.isEnabled():
            epoch, eta = f"epoch {p.epoch}/{p.epochs}", f"ETA {format_duration(p.eta_seconds)}"
            # Narrow, the speed gives way first, then the ETA; the epoch stays (the rest is the tooltip).
            self.info_label.setText(f"{epoch} · {p.samples_per_second:,.0f} samples/s · {eta}",
                                    shorter=(f"{epoch} · {eta}", epoch, f"{p.epoch}/{p.epochs}"))
        self.batch_ended.emit(p)

    @Slot(object)
    def _on_epoch(self, p) -> None:
        self.plots.add_epoch(p)
        self.epoch_ended.emit(p)

    @Slot(object)
    def _on_finished(self, outcome) -> None:
        result = outcome.result
        if result is not None and not result.stopped:
            self.progress.setValue(1000)
        self.info_label.setText(outcome.message.split("; saved")[0])
        self.training_finished.emit(outcome)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.info_label.setText("training failed")
        self.training_failed.emit(message)

    @Slot()
    def _on_thread_finished(self) -> None:
        """The controls come back only when the thread has ended, so runs never overlap."""
        thread, self._thread, self._worker = self._thread, None, None
        if thread is not None:
            thread.deleteLater()
            self._set_running(False)
