"""The main window: canvas on the left, prediction on the right, training panel docked below."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QByteArray, QSettings, QSize, Qt, Signal, Slot
from PySide6.QtGui import QAction, QActionGroup, QImage, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSlider,
    QToolBar,
    QWidget,
)

from gui import file_dialogs
from gui.canvas import DEFAULT_BRUSH, MAX_BRUSH, MIN_BRUSH, DrawingCanvas
from gui.inference import InferenceService, PredictionInput
from gui.insight import install_insight
from gui.model_loader import LOADING, MISSING, READY, ModelManager
from gui.prediction_panel import PredictionPanel
from gui.run_history import install_run_history
from gui.status_bar import PermanentLabel, StatusBar
from gui.style import base_font, scaled_font
from gui.training_panel import TrainingPanel
from model import paths
from model.errors import DigitsError

DEFAULT_SIZE = QSize(1320, 900)  # a first launch's window, when the screen has room for it
# The docks' share of the window's height at a first launch (and View > Reset layout): at 900 px, the
# training dock's minimum, which leaves the digit its full size above the probabilities; taller windows
# give the plots more. Never below the dock's minimum, so a short screen's plots keep theirs.
DOCK_SHARE = 0.26
FRAME_ALLOWANCE = QSize(16, 40)  # the window manager's title bar and borders, unknown until shown

_orphans: list = []  # threads that outlived their join timeout: kept referenced, never destroyed running
INFERENCE_GRACE_S = 0.25  # how long a closing app waits for a busy inference thread (an idle one quits in ms)


def _garbled(path: str) -> bool:
    """Binary junk in an ini file: QSettings reads it without complaint, as odd keys."""
    try:
        data = Path(path).read_bytes()
        data.decode("utf-8")
    except OSError:
        return False
    except UnicodeDecodeError:
        return True
    return b"\0" in data


def first_launch_size(available: QSize) -> QSize:
    """The window's size at a first launch: DEFAULT_SIZE, or less on a screen (less its taskbar) that
    cannot hold it, such as a 1366 x 768 laptop's, so that it opens whole."""
    return DEFAULT_SIZE.boundedTo(available - FRAME_ALLOWANCE)


class MainWindow(QMainWindow):
    prediction_shown = Signal(object)  # ShownPrediction, after the panel shows it
    error_reported = Signal(str)
    _notice_received = Signal(str)  # from model.paths' notifier, which any thread may call

    def __init__(self, settings: QSettings, data_loader: Callable[[], object] | None = None,
                 show_error: Callable[[str], None] | None = None):
        super().__init__()
        self.setObjectName("mainWindow")
        self.setWindowTitle("digits")
        self.setFont(base_font(self.font()))
        self.settings = settings
        self.show_error = show_error if show_error is not None else self._error_box
        self.last_error: str | None = None
        self.last_shown = None  # the ShownPrediction on screen
        self._closed = False
        # Set by gui.app.run_app: the process ends when this window closes, so closing need not wait for
        # the inference thread (see closeEvent). Windows built for tests leave it False and join every thread.
        self.ends_process = False

        self.undo_stack = QUndoStack(self)
        self.canvas = DrawingCanvas(self.undo_stack)
        self.prediction_panel = PredictionPanel()
        self.training_panel = TrainingPanel(data_loader=data_loader)
        self.inference = InferenceService(self)
        self.models = ModelManager(self.inference, self)

        central = QWidget()
        self._central_layout = QHBoxLayout(central)
        self._central_layout.addWidget(self.canvas, 3)
        self._central_layout.addWidget(self.prediction_panel, 2)
        self.setCentralWidget(central)
        self.prediction_panel.arrangement_changed.connect(self._on_prediction_arrangement)
        self.training_dock = QDockWidget("Training", self)
        self.training_dock.setObjectName("trainingDock")
        self.training_dock.setWidget(self.training_panel)
        self.training_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                                       | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                                       | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.training_dock)

        self.setStatusBar(StatusBar(self))  # messages elided at a word, short of the model label
        self.model_label = PermanentLabel()  # shortened to fit a narrow window, never cut mid-word
        self.model_label.setObjectName("modelStatus")
        self.model_label.setAccessibleName("Active model")
        self.statusBar().addPermanentWidget(self.model_label)

        self._build_actions()
        self._connect()
        self.insight = install_insight(self)  # evaluation, inside the network, your handwriting
        self.run_history = install_run_history(self)  # compare with earlier runs; export plots and curves
        self._first_launch_layout = self.saveState()  # docks tabbed at the bottom, before any saved layout
        self._restore_settings()
        self._on_state(LOADING)

    # Actions and menus ---------------------------------------------------------------------------------

    def _action(self, text: str, slot, shortcuts=(), name: str = "") -> QAction:
        action = QAction(text, self)
        if name:
            action.setObjectName(name)
        if shortcuts:
            action.setShortcuts([QKeySequence(s) for s in shortcuts])
        action.triggered.connect(slot)
        self.addAction(action)  # shortcuts work whichever widget has focus
        return action

    def _build_actions(self) -> None:
        self.open_model_action = self._action("&Open model...", self._ask_open_model,
                                              [QKeySequence.StandardKey.Open], "openModelAction")
        self.save_model_action = self._action("&Save model as...", self._ask_save_model,
                                              ["Ctrl+Shift+S"], "saveModelAction")
        self.reset_model_action = self._action("&Reset to bundled model", self.models.reset_to_bundled,
                                               name="resetModelAction")
        self.restore_model_action = self._action("Restore &previous model", self.models.restore_previous,
                                                 name="restoreModelAction")
        self.open_image_action = self._action("Open &image...", self._ask_open_image, ["Ctrl+I"], "openImageAction")
        self.save_drawing_action = self._action("Save &drawing as strokes...", self._ask_save_drawing,
                                                name="saveDrawingAction")
        self.quit_action = self._action("&Quit", self.close, [QKeySequence.StandardKey.Quit, "Ctrl+Q"], "quitAction")

        self.undo_action = self.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcuts([QKeySequence("Ctrl+Z")])
        self.redo_action = self.undo_stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        for action, name in ((self.undo_action, "undoAction"), (self.redo_action, "redoAction")):
            action.setObjectName(name)
            self.addAction(action)
        self.clear_action = self._action("&Clear", self.canvas.clear, ["Esc", "Delete"], "clearAction")
        self.reset_layout_action = self._action("Reset &layout", self.reset_layout, name="resetLayoutAction")

        tools = QActionGroup(self)
        self.pen_action = self._action("&Pen", lambda: self.canvas.set_eraser(False), ["P"], "penAction")
        self.eraser_action = self._action("&Eraser", lambda: self.canvas.set_eraser(True), ["E"], "eraserAction")
        for action in (self.pen_action, self.eraser_action):
            action.setCheckable(True)
            tools.addAction(action)
        self.pen_action.setChecked(True)
        self.bigger_action = self._action("Bigger brush", lambda: self._nudge_brush(+2), ["]"], "biggerBrushAction")
        self.smaller_action = self._action("Smaller brush", lambda: self._nudge_brush(-2), ["["], "smallerBrushAction")
        self.training_action = self.training_dock.toggleViewAction()
        self.training_action.setText("&Training panel")
        self.training_action.setShortcut(QKeySequence("Ctrl+T"))

        menu = self.menuBar().addMenu("&File")
        for item in (self.open_model_action, self.save_model_action, self.reset_model_action,
                     self.restore_model_action, None, self.open_image_action, self.save_drawing_action, None,
                     self.quit_action):
            menu.addSeparator() if item is None else menu.addAction(item)
        menu = self.menuBar().addMenu("&Edit")
        for item in (self.undo_action, self.redo_action, self.clear_action):
            menu.addAction(item)
        menu = self.menuBar().addMenu("&View")
        for item in (self.training_action, self.reset_layout_action, None, self.pen_action, self.eraser_action,
                     self.bigger_action, self.smaller_action):
            menu.addSeparator() if item is None else menu.addAction(item)

        toolbar = QToolBar("Drawing")
        toolbar.setObjectName("drawingToolbar")
        toolbar.setMovable(False)
        toolbar.setFont(scaled_font(self.font(), 1.1))
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for action in (self.pen_action, self.eraser_action):
            toolbar.addAction(action)
        toolbar.addSeparator()
        toolbar.addWidget(QLabel(" Brush "))
        self.brush_slider = QSlider(Qt.Orientation.Horizontal)
        self.brush_slider.setObjectName("brushSizeSlider")
        self.brush_slider.setAccessibleName("Brush size")
        self.brush_slider.setToolTip("Brush size on screen. The network always sees the strokes at MNIST's "
                                     "relative thickness, whatever the brush.")
        self.brush_slider.setRange(int(MIN_BRUSH), int(MAX_BRUSH))
        self.brush_slider.setFixedWidth(160)
        self.brush_slider.valueChanged.connect(lambda v: self.canvas.set_brush_size(float(v)))
        toolbar.addWidget(self.brush_slider)
        toolbar.addSeparator()
        for action in (self.undo_action, self.redo_action, self.clear_action):
            toolbar.addAction(action)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, toolbar)
        self._update_model_actions()

    def _connect(self) -> None:
        self.canvas.changed.connect(self._on_canvas_changed)
        self.canvas.file_dropped.connect(self.open_file)
        self.canvas.brush_size_changed.connect(lambda v: self.brush_slider.setValue(round(v)))
        self.canvas.eraser_toggled.connect(lambda on: (self.eraser_action if on else self.pen_action).setChecked(True))
        self.inference.prediction_ready.connect(self._on_prediction)
        self.inference.prediction_failed.connect(lambda m: self.statusBar().showMessage(m, 5000))
        self.models.state_changed.connect(self._on_state)
        self.models.active_changed.connect(self._on_active_model)
        self.models.load_failed.connect(self.report_error)
        self._notice_received.connect(self.report_error)
        self.models.busy.connect(lambda m: self.statusBar().showMessage(m, 3000))
        panel = self.training_panel
        panel.training_started.connect(self._on_training_started)
        panel.epoch_ended.connect(lambda p: self.models.epoch_weights(panel.config.arch, p))
        panel.training_finished.connect(self._on_training_finished)
        panel.training_failed.connect(self._on_training_failed)

    # Start and stop ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the inference thread and load the model (the window may already be on screen)."""
        if not self.inference.running and not self._closed:  # run_app's delayed start may come after a close
            if self._settings_notice:
                self.report_error(self._settings_notice)
                self._settings_notice = None
            paths.set_notifier(self._notice_received.emit)
            self.inference.start()
            self.models.start()

    def closeEvent(self, event) -> None:  # noqa: N802
        if not self._closed:
            self._closed = True
            paths.set_notifier(None)
            self._save_settings()
            if self.training_panel.running:
                self.hide()  # the run ends at its next batch; don't look frozen meanwhile
            for owner in (self.training_panel, self.insight, self.inference):
                # The inference thread holds nothing of the user's (models read from disk, predictions,
                # evaluations), but it may be seconds into importing TensorFlow or loading a model. When the
                # process ends with this window it is given a moment to quit, not waited for: run_app then
                # ends the process without tearing the interpreter down under it. The training thread is
                # always joined: it may be saving the model the user just trained.
                quick = owner is self.inference and self.ends_process
                if not owner.shutdown(INFERENCE_GRACE_S if quick else 60.0):
                    _orphans.append(owner.thread)  # never let Python destroy a running QThread
        event.accept()

    def threads_running(self) -> bool:
        return self.training_panel.thread_running() or self.inference.running or self.insight.running

    def _check_settings(self) -> str | None:
        """A damaged settings file is kept as ``NAME.damaged-DATE`` and cleared; the notice for ``start``."""
        import shutil
        import time

        settings = self.settings
        problem = None
        if settings.status() == QSettings.Status.FormatError:
            problem = "not a valid settings file"
        elif not all(isinstance(settings.value(key), (bytes, QByteArray, type(None)))
                     for key in ("window/geometry", "window/state")):
            problem = "the window layout is not readable"
        elif _garbled(settings.fileName()):
            problem = "not text"
        if problem is None:
            return None
        path = Path(settings.fileName())
        backup = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        try:
            shutil.copyfile(path, backup)
            kept = f"the damaged file was kept as {backup.name}"
        except OSError:
            kept = "the damaged file could not be copied"
        settings.clear()
        return f"{path}: the window settings are damaged ({problem}); using the default settings ({kept})."

    def _restore_settings(self) -> None:
        self._settings_notice = self._check_settings()
        geometry, available = self.settings.value("window/geometry"), self.screen().availableGeometry().size()
        if geometry is not None:
            self.restoreGeometry(geometry)
            # Qt restores a size saved on another screen as it sees fit: a window saved on a larger screen
            # came back at its minimum, one saved on a smaller screen shrank on a larger one. The size saved
            # beside the geometry is used where it fits; where not, a first launch's size on this screen.
            saved = self.settings.value("window/size")
            if isinstance(saved, QSize) and saved.isValid():
                fits = saved.boundedTo(available - FRAME_ALLOWANCE) == saved
                self.resize(saved if fits else first_launch_size(available))
        else:
            self.resize(first_launch_size(available))
        state = self.settings.value("window/state")
        if state is not None:
            self.restoreState(state)
        else:
            self._size_first_launch_docks()
        try:
            brush = float(self.settings.value("canvas/brushSize", DEFAULT_BRUSH))
        except (TypeError, ValueError):
            brush = DEFAULT_BRUSH
        self.canvas.set_brush_size(brush)
        self.brush_slider.setValue(round(self.canvas.brush_size()))

    def _size_first_launch_docks(self) -> None:
        # A share of the window, never a fixed height: a fixed 340 px squeezed the digit on a short screen.
        # The dock's minimum keeps the plots readable; the canvas and the prediction keep the rest.
        self.resizeDocks([self.training_dock], [round(DOCK_SHARE * self.height())], Qt.Orientation.Vertical)

    def reset_layout(self) -> None:
        """Docks back where a first launch puts them: all shown, tabbed at the bottom, Training in front.

        A dragged-apart layout is saved and restored at every launch; docks split side by
        side on a narrow window end up a few dozen pixels wide each, with no other way back.
        """
        self.restoreState(self._first_launch_layout)
        self._size_first_launch_docks()
        self.training_dock.raise_()

    @Slot(bool)
    def _on_prediction_arrangement(self, side_by_side: bool) -> None:
        # Digit beside the probabilities (a short window): the canvas is a square no wider than it is
        # tall, so the panel takes the larger share of the width.
        self._central_layout.setStretch(0, 2 if side_by_side else 3)
        self._central_layout.setStretch(1, 3 if side_by_side else 2)

    def _save_settings(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/size", self.size())  # the geometry's size, readable to compare screens
        self.settings.setValue("window/state", self.saveState())
        self.settings.setValue("canvas/brushSize", self.canvas.brush_size())
        self.settings.sync()

    # Errors ---------------------------------------------------------------------------------------

    @Slot(str)
    def report_error(self, message: str) -> None:
        self.last_error = message
        self.statusBar().showMessage(message, 8000)
        self.error_reported.emit(message)
        self.show_error(message)

    def _error_box(self, message: str) -> None:
        box = QMessageBox(QMessageBox.Icon.Warning, "digits", message, QMessageBox.StandardButton.Ok, self)
        box.setObjectName("errorMessage")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()  # not exec(): the window (and any training) carries on

    # Drawing and predictions -------------------------------------------------------------------------

    @Slot(bool)
    def _on_canvas_changed(self, final: bool) -> None:
        canvas = self.canvas
        if canvas.has_image:
            data = PredictionInput(canvas.revision, image=canvas.image_payload, final=final)
        else:
            data = PredictionInput(canvas.revision, strokes=canvas.strokes, final=final)
        self.inference.submit(data)

    @Slot(object)
    def _on_prediction(self, shown) -> None:
        if self.models.state != READY:
            return
        self.last_shown = shown
        self.prediction_panel.show_prediction(shown.prediction, shown.source)
        self.prediction_shown.emit(shown)

    def _nudge_brush(self, delta: float) -> None:
        self.canvas.set_brush_size(self.canvas.brush_size() + delta)

    # Models ---------------------------------------------------------------------------------------------

    @Slot(str)
    def _on_state(self, state: str) -> None:
        if state == LOADING:
            self.prediction_panel.show_message("loading model...")
            self.model_label.setText("loading model...")
        elif state == MISSING:
            self.prediction_panel.show_message(
                "no model", "open one (File > Open model) or train one below")
            self.model_label.setText("no model")
        elif state == READY and self.last_shown is None:
            self.prediction_panel.show_message("draw a digit")
        self._update_model_actions()

    @Slot(object)
    def _on_active_model(self, loaded) -> None:
        described = f"{loaded.name} · {loaded.arch} · " + (
            "accuracy unknown" if loaded.test_accuracy is None else f"{loaded.test_accuracy:.2%} test accuracy")
        short = loaded.name if loaded.test_accuracy is None else f"{loaded.name} · {loaded.test_accuracy:.2%}"
        # Narrow, "Model: " gives way first, then the architecture and the words: the file's name stays.
        self.model_label.setText(f"Model: {described}", shorter=(described, short))
        # The label says which model; the message, only what the label does not: the file it came from.
        # A model just trained keeps the run's message (its epochs, accuracy and file).
        if loaded.path is not None and not self.models.active_trained:
            self.statusBar().showMessage(f"opened {loaded.path.name} from {loaded.path.parent}", 5000)
        self._update_model_actions()

    def _update_model_actions(self) -> None:
        previous = self.models.previous_path
        self.restore_model_action.setEnabled(previous is not None)
        self.restore_model_action.setText("Restore &previous model" + (f" ({previous.stem})" if previous else ""))
        self.save_model_action.setEnabled(self.models.active is not None)

    def open_model(self, path: Path | str) -> None:
        self.models.open(Path(path))

    def open_image(self, path: Path | str) -> None:
        from model.images import load_image

        try:
            image = load_image(path)
        except DigitsError as exc:
            self.report_error(str(exc))
            return
        thumb = image.convert("RGBA")
        thumb.thumbnail((1024, 1024))
        pixels = np.ascontiguousarray(np.asarray(thumb, dtype=np.uint8))
        qimage = QImage(pixels.data, thumb.width, thumb.height, 4 * thumb.width, QImage.Format.Format_RGBA8888).copy()
        self.canvas.set_image(qimage, image, Path(path).name)

    @Slot(str)
    def open_file(self, path: str) -> None:
        """A dropped file: a model if it is a .keras file, else a picture to classify."""
        (self.open_model if Path(path).suffix.lower() == ".keras" else self.open_image)(path)

    def save_model_as(self, path: Path | str) -> None:
        """Copy the active model's file (model and metadata) to ``path``, atomically."""
        import shutil

        from model.atomic import write_atomic

        path = Path(path)
        if path.suffix != ".keras":
            path = path.with_name(path.name + ".keras")
        active = self.models.active
        if active is None:
            self.report_error("There is no model to save.")
            return
        if active.path is None:  # trained here, but the data folder refused it: save it from memory
            from model.modelio import save_model

            try:  # the inference thread may predict with it meanwhile; saving only reads its weights
                save_model(active.model, path, dict(active.metadata, name=path.stem), active.novelty)
            except DigitsError as exc:
                self.report_error(str(exc))
                return
            self.statusBar().showMessage(f"saved {active.name} to {path}", 5000)
            return
        try:
            write_atomic(path, lambda tmp: shutil.copyfile(active.path, tmp), suffix=".keras")
        except OSError as exc:
            self.report_error(f"{path}: cannot save the model ({exc.strerror or exc}).")
            return
        self.statusBar().showMessage(f"saved {self.models.active.name} to {path}", 5000)

    def save_drawing(self, path: Path | str) -> None:
        """Write the strokes as one JSON line, the format ``digits predict --strokes`` reads."""
        try:
            Path(path).write_text(self.canvas.drawing().to_json() + "\n", encoding="utf-8")
        except OSError as exc:
            self.report_error(f"{path}: cannot save the drawing ({exc.strerror or exc}).")

    def _ask_open_model(self) -> None:
        path = file_dialogs.ask_open(self, self.settings, file_dialogs.MODELS, "Open model",
                                     "Keras models (*.keras);;All files (*)")
        if path:
            self.open_model(path)

    def _ask_save_model(self) -> None:
        active = self.models.active
        name = f"{active.name}.keras" if active is not None else "model.keras"
        path = file_dialogs.ask_save(self, self.settings, file_dialogs.MODELS, "Save model as", name,
                                     "Keras models (*.keras)")
        if path:
            self.save_model_as(path)

    def _ask_open_image(self) -> None:
        path = file_dialogs.ask_open(self, self.settings, file_dialogs.IMAGES, "Open image",
                                     "Images (*.png *.jpg *.jpeg *.bmp *.gif)")
        if path:
            self.open_image(path)

    def _ask_save_drawing(self) -> None:
        path = file_dialogs.ask_save(self, self.settings, file_dialogs.STROKES, "Save drawing", "drawing.jsonl",
                                     "Strokes (*.jsonl)")
        if path:
            self.save_drawing(path)

    # Training -------------------------------------------------------------------------------------------

    @Slot(object)
    def _on_training_started(self, config) -> None:
        self.models.training_started()
        self.statusBar().showMessage(f"training {config.arch} for {config.epochs} epoch(s)...", 5000)

    @Slot(object)
    def _on_training_finished(self, outcome) -> None:
        self.statusBar().showMessage(outcome.message, 10000)
        if outcome.save_error:
            self.report_error(f"{outcome.save_error.rstrip('.')}; the trained model is in use but not saved: "
                              "File > Save model as keeps it elsewhere.")
        if outcome.loaded is not None:  # not kept here: refused, it must not stay in memory until the next run
            self.models.adopt_trained(outcome.loaded)
        else:
            self.models.training_ended()

    @Slot(str)
    def _on_training_failed(self, message: str) -> None:
        self.models.training_ended()
        self.report_error(message)
