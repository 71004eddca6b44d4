"""Earlier runs beside the current one, and exports: the plots as PNG, a run's curves as CSV.

``RunOverlay`` is the training panel's "Compare with…" button: a checkable
menu of the run history (``model.history.list_runs``, newest first); each
checked run draws its per-epoch curves on the panel's plots, validation
dashed and training dotted. The legend gives each run an entry in its colour,
drawn as its validation curve, and the dotted lines one entry for all runs
("earlier runs' training"): the Compare button's tooltip was the only place
that said what they were. Runs that would read alike there (one architecture,
minute and accuracy) show their seconds, and a "(2)" if those match too; the
legend knows each entry by its run's id. A run's colours follow the theme, as
the current run's do.
``install_run_history(window)`` adds the File menu's export items and
refreshes the list after every finished run.
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtGui import QColor, QPixmap
from PySide6.QtWidgets import QInputDialog, QMenu, QToolButton, QWidget

from gui import file_dialogs
from gui.style import is_dark
from model import history
from model.errors import DigitsError

# Okabe-Ito hues not taken by the current run's blue and vermilion; a run keeps its colour while shown.
_LIGHT = ("#009e73", "#cc79a7", "#9a7d00", "#6a3d9a", "#555555", "#56b4e9")
_DARK = ("#3fd0a0", "#e08fc0", "#f0e442", "#b8a0e0", "#bbbbbb", "#0072b2")
# The legend's one entry for every shown run's dotted training curves: their colours are the runs' entries'.
TRAINING_KEY = "earlier runs' training"
# (curve, plot, scale): per-epoch curves as model.history keeps them; accuracy is a fraction there.
_CURVES = (("val_loss", "loss", 1.0), ("val_accuracy", "accuracy", 100.0),
           ("loss", "loss", 1.0), ("accuracy", "accuracy", 100.0))


class RunOverlay(QToolButton):
    """Compare with…: a menu of earlier runs; checked ones are drawn on ``plots`` (a ``TrainingPlots``)."""

    def __init__(self, plots, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("compareRunsButton")
        self.setAccessibleName("Compare with earlier runs")
        self.setText("Compare with…")
        self.setToolTip("Draw earlier runs' per-epoch curves (dashed: validation, dotted: training) "
                        "beside this one")
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.plots = plots
        plots.legend.add_shared(TRAINING_KEY)  # beside the current run's entries, before the runs'
        self.runs: dict[str, history.RunRecord] = {}
        self._labels: dict[str, str] = {}  # run id -> legend text, distinct among the history's runs
        self._shown: dict[str, dict[str, pg.PlotDataItem]] = {}  # run id -> curve name -> curve
        self._colour_of: dict[str, int] = {}
        self._menu = QMenu(self)
        self._menu.setObjectName("compareRunsMenu")
        self._menu.triggered.connect(lambda action: self.set_shown(action.data(), action.isChecked()))
        self.setMenu(self._menu)
        plots.restyled.connect(self._restyle)
        self.refresh()

    @Slot()
    def refresh(self) -> None:
        """Re-read the run history; shown runs that still exist stay shown."""
        records = history.list_runs()
        self.runs = {r.id: r for r in records}
        self._labels = legend_labels(records)
        for run_id in [i for i in self._shown if i not in self.runs]:
            self.set_shown(run_id, False)
        for run_id in self._shown:  # a new run may read like one shown: both now show their seconds
            self.plots.legend.set_text(run_id, self._labels[run_id])
        self._menu.clear()
        texts = menu_texts(records)
        for record in records:
            action = self._menu.addAction(texts[record.id])
            action.setCheckable(True)
            action.setChecked(record.id in self._shown)
            action.setData(record.id)
        if not records:
            self._menu.addAction("no earlier runs yet").setEnabled(False)
        else:
            self._menu.addSeparator()
            self._menu.addAction("Hide all", self.hide_all).setEnabled(bool(self._shown))
        self.setEnabled(bool(records))

    def shown_ids(self) -> list[str]:
        return list(self._shown)

    @Slot()
    def hide_all(self) -> None:
        for run_id in list(self._shown):
            self.set_shown(run_id, False)
        self.refresh()

    def set_shown(self, run_id: str, shown: bool) -> None:
        """Draw (or remove) run ``run_id``'s curves."""
        if not run_id or shown == (run_id in self._shown):
            return
        if shown:
            record = self.runs.get(run_id)
            if record is None:
                return
            self._shown[run_id] = self._add_curves(record)
        else:
            for name, curve in self._shown.pop(run_id).items():
                self.plots.legend.remove_curve(curve)
                self._plot_for(name).removeItem(curve)
            self._colour_of.pop(run_id, None)
        for action in self._menu.actions():
            if action.data() == run_id:
                action.setChecked(shown)
        self.plots.legend.set_shared_curves(TRAINING_KEY, [curve for curves in self._shown.values()
                                                           for name, curve in curves.items()
                                                           if not name.startswith("val_")])
        self.fit_x()
        self.plots.fit_y()

    def curve_data(self, run_id: str, name: str) -> tuple[np.ndarray, np.ndarray]:
        """The data the overlay of run ``run_id`` shows for ``name`` (``val_loss``, ``accuracy``, ...)."""
        curve = self._shown[run_id][name]
        return curve.xData, curve.yData

    def curves(self, run_id: str) -> dict[str, pg.PlotDataItem]:
        """The plot items that show run ``run_id``, by curve name (``val_loss``, ``accuracy``, ...)."""
        return dict(self._shown[run_id])

    def _plot_for(self, name: str) -> pg.PlotWidget:
        return self.plots.loss_plot if name.endswith("loss") else self.plots.accuracy_plot

    def _colour(self, run_id: str) -> QColor:
        """Run ``run_id``'s colour in the plots' theme."""
        palette = _DARK if is_dark(self.plots.palette()) else _LIGHT
        return QColor(palette[self._colour_of[run_id] % len(palette)])

    def _add_curves(self, record: history.RunRecord) -> dict[str, pg.PlotDataItem]:
        taken = set(self._colour_of.values())
        self._colour_of[record.id] = next(i for i in range(len(self._colour_of) + 1) if i not in taken)
        colour = self._colour(record.id)
        curves = {}
        for name, _plot, scale in _CURVES:
            values = np.asarray([np.nan if v is None else v for v in record.history.get(name) or []], float)
            if not np.isfinite(values).any():
                continue  # not recorded (a run without validation, an old record)
            curve = self._plot_for(name).plot(connect="finite")
            curve.setData(np.arange(1, len(values) + 1, dtype=float), values * scale)
            _style(curve, name, colour)
            curves[name] = curve
        if curves:  # one legend entry a run, drawn as its first curve (validation where recorded); a click
            first, *others = curves.values()  # on it hides or shows them all
            self.plots.legend.add_curve(first, self._labels[record.id], also=tuple(others), key=record.id)
        return curves

    @Slot()
    def _restyle(self) -> None:
        """The shown runs' curves in the new theme's colours (the legend draws its samples from them)."""
        for run_id, curves in self._shown.items():
            colour = self._colour(run_id)
            for name, curve in curves.items():
                _style(curve, name, colour)

    def fit_x(self) -> None:
        """Widen the shared epoch axis to the longest shown run (never narrower than the current run's)."""
        current = self.plots.epochs
        longest = max((len(c.xData) for curves in self._shown.values() for c in curves.values()), default=0)
        self.plots.loss_plot.setXRange(0, max(1, current, longest), padding=0.02)


def _style(curve: pg.PlotDataItem, name: str, colour: QColor) -> None:
    """A compared run's look: validation dashed with triangles, training dotted, all in its colour.

    Training of a one-epoch run is a single point, which a line cannot draw: it gets a small ring."""
    validation = name.startswith("val_")
    curve.setPen(pg.mkPen(colour, width=2.5 if validation else 1.5,
                          style=Qt.PenStyle.DashLine if validation else Qt.PenStyle.DotLine))
    if validation:
        curve.setSymbol("t")
        curve.setSymbolSize(8)
        curve.setSymbolBrush(pg.mkBrush(colour))
        curve.setSymbolPen(pg.mkPen(colour))
    elif curve.yData is not None and np.isfinite(curve.yData).sum() == 1:
        curve.setSymbol("o")
        curve.setSymbolSize(6)
        curve.setSymbolBrush(None)
        curve.setSymbolPen(pg.mkPen(colour, width=1.5))


def legend_label(record: history.RunRecord, seconds: bool = False) -> str:
    """A run's legend entry, short, in local time: ``mlp 05-01 14:03, 98.1%`` (``14:03:27`` with ``seconds``)."""
    acc = f", {record.test_accuracy:.1%}" if record.test_accuracy is not None else ""
    when = history.local_date(record.date, seconds=seconds, year=False)
    return f"{record.arch}{' ft' if record.kind == 'finetune' else ''} {when}{acc}"


def legend_labels(records: Iterable[history.RunRecord]) -> dict[str, str]:
    """Each run's legend entry by run id, no two alike (``history.distinct_labels`` of ``legend_label``)."""
    return history.distinct_labels(records, legend_label)


def menu_text(record: history.RunRecord, seconds: bool = False) -> str:
    """A run in Compare with… and the export dialog: ``fast 2024-05-01 14:03, 99.12% · 2 epochs``."""
    epochs = f"{record.epochs_completed} epoch{'s' if record.epochs_completed != 1 else ''}"
    return f"{history.run_label(record, seconds)} · {epochs}{' (stopped)' if record.stopped else ''}"


def menu_texts(records: Iterable[history.RunRecord]) -> dict[str, str]:
    """Each run's ``menu_text`` by run id, no two alike: the export dialog finds the run by its text."""
    return history.distinct_labels(records, menu_text)


def grab_plots(plots) -> QPixmap:
    """The loss and accuracy plots side by side with their legend above, as on screen."""
    return plots.grab()


class RunHistoryActions(QObject):
    """File > Export plots as PNG… and Export run history as CSV…; the work is in path-taking methods."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        panel = window.training_panel
        self.overlay = panel.compare_button
        file_menu = next((a.menu() for a in window.menuBar().actions() if a.text() == "&File"), None)
        self.export_png_action = window._action("Export &plots as PNG…", self._ask_export_png,  # noqa: SLF001
                                                name="exportPlotsAction")
        self.export_csv_action = window._action("Export run &history as CSV…", self._ask_export_csv,  # noqa: SLF001
                                                name="exportRunCsvAction")
        if file_menu is not None:
            quit_action = window.quit_action
            file_menu.insertAction(quit_action, self.export_png_action)
            file_menu.insertAction(quit_action, self.export_csv_action)
            file_menu.insertSeparator(quit_action)
        panel.training_finished.connect(lambda _outcome: self.overlay.refresh())

    def export_png(self, path: Path | str) -> Path:
        """Write the plots (with any overlays) to ``path``; raises DigitsError when it cannot."""
        path = Path(path)
        pixmap = grab_plots(self.window.training_panel.plots)
        if pixmap.isNull() or not pixmap.save(str(path), "PNG"):
            raise DigitsError(f"{path}: cannot write the PNG.")
        return path

    def export_csv(self, path: Path | str, run_id: str | None = None) -> Path:
        """Write run ``run_id``'s per-epoch curves (default: the latest run) to ``path``."""
        if run_id is None:
            runs = history.list_runs()
            if not runs:
                raise DigitsError("There are no runs in the history yet: train a model first.")
            record = runs[0]
        else:
            record = history.load_run(run_id)
        return history.export_csv(record, path)

    def _ask_export_png(self) -> None:
        path = file_dialogs.ask_save(self.window, self.window.settings, file_dialogs.EXPORTS, "Export plots",
                                     "training-plots.png", "PNG (*.png)")
        if not path:
            return
        try:
            self.export_png(path)
        except DigitsError as exc:
            self.window.report_error(str(exc))
            return
        self.window.statusBar().showMessage(f"saved the plots to {path}", 6000)

    def _ask_export_csv(self) -> None:
        runs = history.list_runs()
        if not runs:
            self.window.report_error("There are no runs in the history yet: train a model first.")
            return
        texts = menu_texts(runs)
        labels = [texts[r.id] for r in runs]
        label, ok = QInputDialog.getItem(self.window, "Export run history", "Run:", labels, 0, False)
        if not ok:
            return
        record = runs[labels.index(label)]
        path = file_dialogs.ask_save(self.window, self.window.settings, file_dialogs.EXPORTS,
                                     "Export run history as CSV", history.export_file_name(record), "CSV (*.csv)")
        if not path:
            return
        try:
            self.export_csv(path, record.id)
        except DigitsError as exc:
            self.window.report_error(str(exc))
            return
        self.window.statusBar().showMessage(f"exported {history.run_labels(runs)[record.id]} to {path}", 6000)


def install_run_history(window) -> RunHistoryActions:
    return RunHistoryActions(window)

