"""Wires the insight features into the main window: evaluation, inside the network, your handwriting.

``install_insight(window)`` adds three docks (tabbed with the training panel),
the "That's a ..." buttons under the prediction, and menu items, and connects
them to the window's models, canvas and training panel. The window keeps a
reference and shuts the insight thread down on close.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtWidgets import QDockWidget, QFrame, QScrollArea

from gui import file_dialogs
from gui.evaluation_view import EvaluationView
from gui.finetune_worker import FinetuneJob, FinetuneWorker
from gui.insight_worker import InsightService, InternalsRequest
from gui.internals_view import InternalsView, SaliencyOverlay
from gui.personal_view import CorrectionBar, PersonalView
from model.errors import DigitsError


class Insight(QObject):
    def __init__(self, window):
        super().__init__(window)
        self.window = window
        panel = window.training_panel
        self.service = InsightService(lambda: panel.data_loader(), window.inference.host, self)
        self.evaluation_view = EvaluationView()
        self.internals_view = InternalsView()
        self.personal_view = PersonalView()
        self.overlay = SaliencyOverlay(window.canvas)
        self.correction = CorrectionBar()
        self.finetune_config = None  # model.finetune.FinetuneConfig; None: its defaults
        self.finetune_report = ""
        self._finetuning = False
        window.prediction_panel.add_below(self.correction)

        self.docks = {}
        previous = window.training_dock
        for title, name, widget in (("Evaluation", "evaluationDock", self.evaluation_view),
                                    ("Inside the network", "internalsDock", self.internals_view),
                                    ("My handwriting", "personalDock", self.personal_view)):
            dock = QDockWidget(title, window)
            dock.setObjectName(name)
            # Scroll rather than grow: these views are taller than the training panel, and a
            # dock's minimum height would push the window past a 900-pixel screen.
            scroller = QScrollArea()
            scroller.setWidget(widget)
            scroller.setWidgetResizable(True)
            scroller.setFrameShape(QFrame.Shape.NoFrame)
            dock.setWidget(scroller)
            window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
            window.tabifyDockWidget(previous, dock)
            previous = dock
            self.docks[name] = dock
        window.training_dock.raise_()
        self._add_menu()
        self._connect()
        self.refresh_samples()

    def _add_menu(self) -> None:
        window = self.window
        view = next((a.menu() for a in window.menuBar().actions() if a.text() == "&View"), None)
        menu = window.menuBar().addMenu("&Insight")
        for dock, key in ((self.docks["evaluationDock"], "Ctrl+E"), (self.docks["internalsDock"], "Ctrl+N"),
                          (self.docks["personalDock"], "Ctrl+H")):
            action = dock.toggleViewAction()
            action.setShortcut(key)
            menu.addAction(action)
            if view is not None:
                view.addAction(action)
        menu.addSeparator()
        self.evaluate_action = menu.addAction("&Evaluate the active model", self.evaluate)
        self.evaluate_action.setObjectName("evaluateAction")
        self.finetune_action = menu.addAction("&Fine-tune on my handwriting", self.finetune)
        self.finetune_action.setObjectName("finetuneAction")

    def _connect(self) -> None:
        window = self.window
        window.models.active_changed.connect(self._on_active)
        window.prediction_shown.connect(self._on_prediction)
        window.canvas.changed.connect(self._on_canvas_changed)
        window.training_panel.training_finished.connect(self._on_training_finished)
        window.training_panel.running_changed.connect(self._on_running)
        self.service.evaluated.connect(self.evaluation_view.set_result)
        self.service.evaluating.connect(self.evaluation_view.set_busy)
        self.service.internals_ready.connect(self._on_internals)
        self.service.failed.connect(window.report_error)
        self.evaluation_view.evaluate_requested.connect(self.evaluate)
        self.correction.corrected.connect(self.save_correction)
        self.personal_view.delete_requested.connect(self.delete_samples)
        self.personal_view.export_requested.connect(self._ask_export)
        self.personal_view.import_requested.connect(self._ask_import)
        self.personal_view.finetune_requested.connect(self.finetune)
        self.internals_view.saliency_check.toggled.connect(self._on_saliency_toggled)
        self.docks["internalsDock"].visibilityChanged.connect(lambda visible: visible and self._request_internals())

    def shutdown(self, timeout_s: float = 60.0) -> bool:
        return self.service.shutdown(timeout_s)

    @property
    def thread(self):
        return self.service.thread

    @property
    def running(self) -> bool:
        return self.service.running

    # Evaluation -----------------------------------------------------------------------------------------

    @Slot()
    def evaluate(self) -> None:
        active = self.window.models.active
        if active is None or active.path is None:
            self.window.report_error("There is no model to evaluate.")
            return
        self.service.evaluate(active.path)

    @Slot(object)
    def _on_training_finished(self, outcome) -> None:
        finetune = getattr(outcome, "finetune", None)
        if finetune is not None:
            self.personal_view.report.setText(outcome.message.split("; saved")[0])
        if outcome.loaded is not None and outcome.loaded.path is not None:
            self.service.evaluate(outcome.loaded.path)  # every run ends with its figures

    # Inside the network ----------------------------------------------------------------------------------

    @Slot(object)
    def _on_active(self, loaded) -> None:
        self.service.model_path = loaded.path
        self._request_internals()

    def _wanted(self) -> bool:
        return self.internals_view.isVisible() or self.internals_view.saliency_check.isChecked()

    def _request_internals(self) -> None:
        canvas = self.window.canvas
        if not self._wanted() or canvas.has_image:
            return
        if canvas.is_empty:  # nothing to look at: no model needed
            self.overlay.set_heat(None, None)
            return
        self.service.request_internals(InternalsRequest(canvas.revision, canvas.strokes,
                                                        saliency=self.internals_view.saliency_check.isChecked()))

    @Slot(object)
    def _on_prediction(self, shown) -> None:
        canvas = self.window.canvas
        self.correction.setEnabled(shown.prediction.digit is not None and not canvas.has_image and not canvas.is_empty)
        self._request_internals()

    @Slot(bool)
    def _on_canvas_changed(self, final: bool) -> None:
        if self.window.canvas.is_empty:
            self.correction.setEnabled(False)
            self.overlay.set_heat(None, None)

    @Slot(object)
    def _on_internals(self, internals) -> None:
        self.internals_view.show_internals(internals)
        self.overlay.set_heat(internals.saliency, internals.frame)

    @Slot(bool)
    def _on_saliency_toggled(self, on: bool) -> None:
        self.overlay.setVisible(on)
        if on:
            self.overlay.raise_()
            self._request_internals()

    # Your handwriting ---------------------------------------------------------------------------------

    def _dataset(self):
        from model.personal import PersonalDataset

        return PersonalDataset()

    def refresh_samples(self) -> None:
        try:
            self.personal_view.set_samples(self._dataset().samples())
        except DigitsError as exc:
            self.personal_view.set_samples([])
            self.window.report_error(f"Your personal samples cannot be read: {exc}")

    @Slot(int)
    def save_correction(self, digit: int) -> None:
        canvas = self.window.canvas
        if canvas.is_empty or canvas.has_image:
            return
        from gui.canvas import LOGICAL_SIZE

        try:
            self._dataset().add(canvas.strokes, digit, LOGICAL_SIZE, LOGICAL_SIZE)
        except DigitsError as exc:
            self.window.report_error(f"The correction was not saved: {exc}")
            return
        self.refresh_samples()
        count = self.personal_view.list.count()
        self.window.statusBar().showMessage(f"saved as a {digit}: {count} personal sample(s) "
                                            "(Insight > My handwriting)", 6000)

    @Slot(list)
    def delete_samples(self, ids: list) -> None:
        try:
            self._dataset().delete(ids)
        except DigitsError as exc:
            self.window.report_error(str(exc))
        self.refresh_samples()

    def export_samples(self, path) -> None:
        try:
            self._dataset().export(path)
        except DigitsError as exc:
            self.window.report_error(f"Export failed: {exc}")
            return
        self.window.statusBar().showMessage(f"exported your samples to {path}", 6000)

    def import_samples(self, path) -> None:
        try:
            report = self._dataset().import_file(path)
        except DigitsError as exc:
            self.window.report_error(f"Nothing was imported: {exc}")
            return
        self.refresh_samples()
        self.window.statusBar().showMessage(f"imported {report.added} sample(s), skipped {report.duplicates} "
                                            f"already there; {report.total} in all", 8000)

    def _ask_export(self) -> None:
        path = file_dialogs.ask_save(self.window, self.window.settings, file_dialogs.STROKES, "Export my samples",
                                     "my-digits.jsonl", "Strokes (*.jsonl)")
        if path:
            self.export_samples(path)

    def _ask_import(self) -> None:
        path = file_dialogs.ask_open(self.window, self.window.settings, file_dialogs.STROKES, "Import samples",
                                     "Strokes (*.jsonl);;All files (*)")
        if path:
            self.import_samples(path)

    @Slot()
    def finetune(self) -> bool:
        window, panel = self.window, self.window.training_panel
        active = window.models.active
        if active is None or active.path is None:
            window.report_error("There is no model to fine-tune: open or train one first.")
            return False
        if panel.running:
            window.report_error("Wait for the training run to end, then fine-tune.")
            return False
        try:
            samples = self._dataset().samples()
        except DigitsError as exc:
            window.report_error(str(exc))
            return False
        if not samples:
            window.report_error("There are no personal samples yet: draw a digit, then click “That's a …”.")
            return False
        from model import architectures
        from model.finetune import FinetuneConfig
        from model.training import TrainConfig

        config = self.finetune_config or FinetuneConfig()
        arch = active.arch if active.arch in architectures.ARCHITECTURES else "fast"
        train_config = TrainConfig(arch=arch, epochs=config.epochs, batch_size=config.batch_size,
                                   learning_rate=config.learning_rate)
        job = FinetuneJob(train_config, panel.data_loader, panel._models_dir(), model_path=active.path,  # noqa: SLF001
                          samples=tuple(samples), finetune_config=config)
        self.personal_view.report.setText(f"fine-tuning {active.name} on {len(samples)} sample(s)…")
        window.training_dock.raise_()
        return panel.run_worker(FinetuneWorker(job), train_config)

    @Slot(bool)
    def _on_running(self, running: bool) -> None:
        self.personal_view.set_busy(running)
        self.finetune_action.setEnabled(not running)


def install_insight(window) -> Insight:
    return Insight(window)
