"""Live training curves: loss and accuracy against epochs, per batch (smoothed) and per epoch (validation).

The curves are created once and fed with ``setData`` (pyqtgraph's
``PanningPlot`` example); the widget owns the history arrays. Both plots
share their x axis, in epochs, fixed to the run's length so the curves grow
from left to right. The y axes move in steps (``steady_y_range``), not with
every point: pyqtgraph regenerates an axis's ticks and labels whenever its
range changes, and following the data at each redraw made axis painting the
GUI thread's largest cost during training (py-spy, benchmarks/gui_stall).
The legend is a row above the plots (``gui.curve_legend``), not inside them,
where it covered the curves.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QGraphicsItem, QHBoxLayout, QVBoxLayout, QWidget

from gui.curve_legend import CurveLegend
from gui.style import plot_colours, scaled_font

REDRAW_MS = 200  # live curves redraw at most five times a second
EMPTY_Y_RANGES = {"loss": (0.0, 2.5), "accuracy": (0.0, 101.0)}
PLOT_MIN_HEIGHT = 150  # each plot's, while the legend takes one line
SQUEEZED_PLOT_MIN_HEIGHT = 100  # with the legend on more lines (earlier runs listed, a narrow window)


def _nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^k that is at least ``value`` (positive)."""
    exponent = math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        ceiling = step * 10.0 ** exponent
        if ceiling >= value * (1 - 1e-9):
            return ceiling
    return 10.0 ** (exponent + 1)


def steady_y_range(kind: str, values: np.ndarray) -> tuple[float, float]:
    """A y range for ``values`` that changes only when they leave it: loss from 0, accuracy (%) up to 101.

    Loss starts at 0 and ends at the next "nice" number above the largest value;
    accuracy ends just above 100 % and starts at the tens below the smallest
    value. With the whole run on the x axis the extremes come early (first
    batches), so a run changes each range a few times, not at every redraw.
    """
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return EMPTY_Y_RANGES[kind]
    if kind == "loss":
        top = float(finite.max())
        return 0.0, _nice_ceiling(top) if top > 0 else EMPTY_Y_RANGES["loss"][1]
    # At least a point of room under the lowest value, so the curve never runs along the bottom edge.
    return max(0.0, 10.0 * math.floor((float(finite.min()) - 1.0) / 10.0)), 101.0


class YAxis(pg.AxisItem):
    """A left axis whose label stays whole inside its plot.

    pyqtgraph centres the label on the axis and lets it run past both ends.
    With the legend on two lines (a narrow window, runs compared) the plots
    are about 130 px tall, their y axes 85 px, and "accuracy (%)" ran off the
    plot's top edge: "accuracy (%". Here the label moves down, as far as it
    must, into the empty corner beside the x axis; where even the plot's
    whole height is too short for it, ``short_text`` stands in.
    """

    def __init__(self, short_text: str | None = None):
        super().__init__("left")
        self.short_text = short_text

    def resizeEvent(self, ev=None) -> None:  # noqa: N802 - pyqtgraph's name
        super().resizeEvent(ev)
        self._fit_label()

    def _updateLabel(self) -> None:  # noqa: N802 - a new text or style: the plot does not resize for it
        super()._updateLabel()
        self._fit_label()

    def _fit_label(self) -> None:
        plot = self.parentItem()
        if self.label is None or plot is None:
            return
        top = -self.pos().y()  # the plot's edges, in this axis's coordinates
        bottom = plot.boundingRect().height() + top
        self.label.setHtml(self.labelString())
        if self.short_text and self.label.boundingRect().width() > bottom - top:
            full, self.labelText = self.labelText, self.short_text
            self.label.setHtml(self.labelString())
            self.labelText = full
        length = self.label.boundingRect().width()  # along the axis: the label is turned upright
        centred = self.size().height() / 2 + length / 2  # where pyqtgraph puts its lower end
        self.label.setY(int(min(max(centred, top + length), bottom)))


class _Series:
    """Growing x/y arrays with amortised appends (setData takes views, no copies of the lists)."""

    def __init__(self):
        self._x = np.zeros(256)
        self._y = np.zeros(256)
        self.size = 0

    def append(self, x: float, y: float) -> None:
        if self.size == len(self._x):
            self._x = np.resize(self._x, 2 * self.size)
            self._y = np.resize(self._y, 2 * self.size)
        self._x[self.size], self._y[self.size] = x, y
        self.size += 1

    def clear(self) -> None:
        self.size = 0

    @property
    def x(self) -> np.ndarray:
        return self._x[:self.size]

    @property
    def y(self) -> np.ndarray:
        return self._y[:self.size]


class TrainingPlots(QWidget):
    restyled = Signal()  # apply_palette gave the curves the palette's colours: earlier runs' overlays follow

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("trainingPlots")
        self.loss_plot = self._make_plot("lossPlot", "Loss plot", "loss")
        self.accuracy_plot = self._make_plot("accuracyPlot", "Accuracy plot", "accuracy (%)", "acc. (%)")
        self.accuracy_plot.setXLink(self.loss_plot)
        self.loss_plot.setLimits(yMin=0)
        self.accuracy_plot.setLimits(yMin=0, yMax=101)
        self._y_ranges: dict[str, tuple[float, float]] = {}
        self._series = {name: _Series() for name in ("loss", "accuracy", "val_loss", "val_accuracy")}
        self._curves = {}
        # Batches arrive about 20 times a second; redrawing both plots for each cost 40-135 ms of
        # GUI time (benchmarks/gui_stall). Five redraws a second still look live.
        self._stale: set[str] = set()
        self._redraw = QTimer(self)
        self._redraw.setSingleShot(True)
        self._redraw.setInterval(REDRAW_MS)
        self._redraw.timeout.connect(self._flush)
        self.legend = CurveLegend()
        self.legend.curves_toggled.connect(self.fit_y)  # a hidden curve's values no longer set the range
        self._build_curves()
        side_by_side = QHBoxLayout()
        side_by_side.setSpacing(6)
        side_by_side.addWidget(self.loss_plot)
        side_by_side.addWidget(self.accuracy_plot)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)  # the plots' own top margin parts them from the legend
        layout.addWidget(self.legend)
        layout.addLayout(side_by_side, 1)
        self._hold_minimum_height()
        self.reset(1)

    def _hold_minimum_height(self) -> None:
        """A minimum of one legend line and full-height plots, whatever the legend needs.

        A legend that wraps takes its extra lines from the plots (down to
        SQUEEZED_PLOT_MIN_HEIGHT), not from the window: comparing runs must not
        make the window's minimum taller than a small screen.
        """
        if self.layout() is None:  # still being built
            return
        self.setMinimumHeight(self.legend.minimumSizeHint().height() + self.layout().spacing() + PLOT_MIN_HEIGHT)

    def hasHeightForWidth(self) -> bool:  # noqa: N802 - Qt's name
        # The legend's height follows the width inside this widget; outside it, the docks and the main
        # window lay out by minimum and hint, and a height-for-width here made them ask for the plots'
        # preferred height as a minimum.
        return False

    def _make_plot(self, object_name: str, accessible: str, y_label: str, short_y_label: str | None = None,
                   ) -> pg.PlotWidget:
        plot = pg.PlotWidget(axisItems={"left": YAxis(short_y_label)})
        plot.setObjectName(object_name)
        plot.setAccessibleName(accessible)
        plot.setMinimumSize(200, SQUEEZED_PLOT_MIN_HEIGHT)
        item = plot.getPlotItem()
        item.setClipToView(True)
        item.setDownsampling(auto=True, mode="peak")
        item.showGrid(x=True, y=True, alpha=0.25)
        item.setMenuEnabled(False)
        plot.setMouseEnabled(x=False, y=False)
        # Each redraw of a curve repainted both axes by replaying their recorded drawing (tick
        # labels included), 2 ms an axis: most of the GUI thread's time during training. Cached as
        # pixmaps they are drawn again only when their range or style changes.
        for side in ("left", "bottom"):
            item.getAxis(side).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
            # Left on, pyqtgraph scales an axis whose values all lie under 1 into "milli" units: a loss
            # below 1 (compared runs alone, fine-tuning) read "loss (x0.001)" with ticks at 200 and 400.
            item.getAxis(side).enableAutoSIPrefix(False)
        plot._y_label = y_label  # noqa: SLF001 - kept for re-styling on palette changes
        return plot

    def _build_curves(self) -> None:
        colours = plot_colours(self.palette())
        for plot, name in ((self.loss_plot, "loss"), (self.accuracy_plot, "accuracy")):
            self._curves[name] = plot.plot(pen=pg.mkPen(colours["train"], width=2))
            self._curves[f"val_{name}"] = plot.plot(
                pen=pg.mkPen(colours["val"], width=3), symbol="o", symbolSize=11,
                symbolBrush=pg.mkBrush(colours["val"]), symbolPen=pg.mkPen(colours["val"]))
        # Both plots draw the current run alike: one entry a style, drawn from the loss plot's curve,
        # and a click on it hides the curve in both.
        self.legend.add_curve(self._curves["loss"], "training (smoothed)", also=(self._curves["accuracy"],))
        self.legend.add_curve(self._curves["val_loss"], "validation", also=(self._curves["val_accuracy"],))
        self.apply_palette()

    def apply_palette(self) -> None:
        palette = self.palette()
        colours = plot_colours(palette)
        background = palette.color(QPalette.ColorRole.Base)
        text = palette.color(QPalette.ColorRole.WindowText)
        tick_font = scaled_font(self.font(), 1.0)
        label_style = {"color": text.name(), "font-size": f"{tick_font.pointSizeF() * 1.1:.0f}pt"}
        for plot in (self.loss_plot, self.accuracy_plot):
            plot.setBackground(background)
            for side in ("left", "bottom"):
                axis = plot.getAxis(side)
                axis.setPen(pg.mkPen(text))
                axis.setTextPen(pg.mkPen(text))
                axis.setStyle(tickFont=tick_font)
            plot.setLabel("bottom", "epoch", **label_style)
            plot.setLabel("left", plot._y_label, **label_style)  # noqa: SLF001
        for name, curve in self._curves.items():
            colour = colours["val"] if name.startswith("val_") else colours["train"]
            curve.setPen(pg.mkPen(colour, width=3 if name.startswith("val_") else 2))
            if name.startswith("val_"):
                curve.setSymbolBrush(pg.mkBrush(colour))
                curve.setSymbolPen(pg.mkPen(background, width=1.5))
        self.restyled.emit()
        self.legend.setFont(tick_font)
        self.legend.update()  # its samples are drawn with the curves' new pens

    def changeEvent(self, event) -> None:  # noqa: N802
        if event.type() in (event.Type.PaletteChange, event.Type.FontChange):
            self.apply_palette()
            self._hold_minimum_height()
        super().changeEvent(event)

    def reset(self, epochs: int) -> None:
        """Empty the curves, show any the legend hid, and fix the x axis to a run of ``epochs``."""
        self.epochs = epochs
        self.legend.show_all()
        self._redraw.stop()
        self._stale.clear()
        for series in self._series.values():
            series.clear()
        for name in self._curves:
            self._refresh(name)
        self.loss_plot.setXRange(0, max(1, epochs), padding=0.02)
        for plot in (self.loss_plot, self.accuracy_plot):
            plot.getPlotItem().disableAutoRange(axis="y")
        self._y_ranges.clear()
        self.fit_y()

    def fit_y(self) -> None:
        """Set each y axis to ``steady_y_range`` of every curve it shows (earlier runs' overlays too),
        not those hidden from the legend."""
        for kind, plot in (("loss", self.loss_plot), ("accuracy", self.accuracy_plot)):
            shown = [item.yData for item in plot.getPlotItem().listDataItems()
                     if item.yData is not None and item.isVisible()]
            y_range = steady_y_range(kind, np.concatenate(shown) if shown else np.zeros(0))
            if self._y_ranges.get(kind) != y_range:
                self._y_ranges[kind] = y_range
                plot.setYRange(*y_range, padding=0)

    def add_batch(self, progress) -> None:
        """A ``model.training.BatchProgress``: smoothed training loss and accuracy at its position."""
        self._series["loss"].append(progress.position, progress.loss)
        self._series["accuracy"].append(progress.position, 100 * progress.accuracy)
        self._stale.update(("loss", "accuracy"))
        if not self._redraw.isActive():
            self._redraw.start()

    def _flush(self) -> None:
        for name in self._stale:
            self._refresh(name)
        if self._stale:
            self.fit_y()
        self._stale.clear()

    def add_epoch(self, progress) -> None:
        """A ``model.training.EpochProgress``: validation loss and accuracy at the epoch's end."""
        if progress.val_loss is None:
            return
        self._series["val_loss"].append(progress.epoch, progress.val_loss)
        self._series["val_accuracy"].append(progress.epoch, 100 * progress.val_accuracy)
        self._flush()
        self._refresh("val_loss")
        self._refresh("val_accuracy")
        self.fit_y()

    def curve_data(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """The data a curve shows: ``loss``, ``accuracy``, ``val_loss`` or ``val_accuracy``."""
        self._flush()
        curve = self._curves[name]
        x, y = curve.xData, curve.yData
        return (np.zeros(0) if x is None else x), (np.zeros(0) if y is None else y)

    def curve(self, name: str) -> pg.PlotDataItem:
        """The plot item of ``loss``, ``accuracy``, ``val_loss`` or ``val_accuracy``."""
        return self._curves[name]

    def _refresh(self, name: str) -> None:
        series = self._series[name]
        self._curves[name].setData(series.x, series.y)
