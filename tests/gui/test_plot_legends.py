"""The training dock at its smallest: legends that never cover the curves, settings that need no scrolling.

Screenshots showed the live plots' legends covering the curves at the window's
minimum width (and with two earlier runs compared, even at 1400 px), and the
settings column cut off below the batch size until scrolled.
"""
# ruff: noqa: F811 - the fixtures imported from gui_helpers are arguments of the tests below
from __future__ import annotations

import time

import pytest
from gui_helpers import app_model, make_window, settings, tiny_data  # noqa: F401 - fixtures
from PySide6.QtCore import QRect, QSize
from PySide6.QtGui import QColor, QFontMetrics, QPalette
from PySide6.QtWidgets import QScrollArea, QWidget

from gui.screenshots import spin
from model import architectures

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

BASE_LABELS = ["training (smoothed)", "validation"]


def _laid_out(window, width: int, height: int) -> None:
    """The window at this size with the docks where a first launch puts them."""
    window.resize(width, height)
    spin(50)
    window.reset_layout()
    spin(100)
    assert (window.width(), window.height()) == (width, height)


def _earlier_runs(count: int) -> list:
    """``count`` runs in the history, as a finished training leaves them (labels as long as real ones)."""
    from model import history

    records = []
    for i in range(count):
        record = history.RunRecord(
            arch=("best", "mlp", "fast")[i % 3], config={}, test_accuracy=0.9964 - i / 100, test_loss=0.02,
            history={"loss": [0.3, 0.1, 0.05], "accuracy": [0.9, 0.97, 0.99],
                     "val_loss": [0.2, 0.08, 0.04], "val_accuracy": [0.94, 0.98, 0.99]},
            train_seconds=10.0, epochs_completed=3, date=f"2026-11-2{i}T14:0{i}:00+00:00")
        history.save_run(record)
        records.append(record)
    return records


def _in_window(widget: QWidget, rect: QRect) -> QRect:
    return QRect(widget.mapTo(widget.window(), rect.topLeft()), rect.size())


def _legend_entries(plots) -> dict[str, QRect]:
    """Every legend entry shown with the plots, in the window's coordinates: pyqtgraph legends inside
    either plot (by text) as well as the legend row (by key: a run's id), so that one inside a plot is caught."""
    entries = {}
    for plot in (plots.loss_plot, plots.accuracy_plot):
        legend = plot.getPlotItem().legend
        for sample, label in legend.items if legend is not None else []:
            scene_rect = sample.sceneBoundingRect().united(label.sceneBoundingRect())
            entries[label.text] = _in_window(plot.viewport(), plot.mapFromScene(scene_rect).boundingRect())
    for legend in plots.findChildren(QWidget, "curveLegend"):
        entries.update({key: _in_window(legend, rect) for key, rect in legend.entry_rects().items()})
    return entries


def _view_boxes(plots) -> dict[str, QRect]:
    """Where each plot draws its curves, in the window's coordinates."""
    return {plot.objectName(): _in_window(plot.viewport(), plot.mapFromScene(
        plot.getPlotItem().getViewBox().sceneBoundingRect()).boundingRect())
        for plot in (plots.loss_plot, plots.accuracy_plot)}


@pytest.mark.parametrize("size", ["minimum", (1400, 900)])
def test_legends_never_cover_the_curves_and_name_every_compared_run(make_window, size):
    records = _earlier_runs(2)
    window = make_window(wait_ready=False)
    minimum = window.minimumSizeHint()
    _laid_out(window, *((minimum.width(), minimum.height()) if size == "minimum" else size))
    panel = window.training_panel
    plots = panel.plots
    overlay = panel.compare_button
    _compare(overlay, records)
    spin(100)

    entries = _legend_entries(plots)
    boxes = _view_boxes(plots)
    covering = [(text, plot) for text, rect in entries.items() for plot, box in boxes.items() if rect.intersects(box)]
    assert covering == []
    assert set(BASE_LABELS + [record.id for record in records]) <= set(entries)

    from gui.curve_legend import SAMPLE_GAP, SAMPLE_WIDTH
    from gui.plots import PLOT_MIN_HEIGHT, SQUEEZED_PLOT_MIN_HEIGHT

    legend = plots.legend
    shown = legend.visibleRegion().boundingRect()
    metrics = QFontMetrics(legend.font())
    for key, rect in legend.entry_rects().items():
        text = legend.text(key)
        assert legend.isVisible() and shown.contains(rect), text  # not clipped by the plots below it
        assert rect.width() >= SAMPLE_WIDTH + SAMPLE_GAP + metrics.horizontalAdvance(text), text  # not elided
    # The legend's extra lines come out of the plots, not the window's minimum.
    assert window.minimumSizeHint() == minimum
    assert min(plots.loss_plot.height(), plots.accuracy_plot.height()) >= SQUEEZED_PLOT_MIN_HEIGHT

    overlay.hide_all()
    spin(100)
    assert legend.labels() == BASE_LABELS  # clearing the comparison takes the runs' entries away
    assert min(plots.loss_plot.height(), plots.accuracy_plot.height()) >= PLOT_MIN_HEIGHT


def test_the_settings_need_no_scrolling_at_the_minimum_size(make_window):
    window = make_window(wait_ready=False)
    minimum = window.minimumSizeHint()
    _laid_out(window, minimum.width(), minimum.height())
    panel = window.training_panel
    scroller = panel.findChild(QScrollArea)
    settings_widgets = {"architecture": panel.arch_combo, "description": panel.description,
                        "parameters": panel.params_label, "epochs": panel.epochs_spin, "batch size": panel.batch_spin,
                        "learning rate": panel.lr_spin, "augment": panel.augment_check,
                        "tensorboard": panel.tensorboard_check}
    for arch in architectures.ARCHITECTURES:  # their descriptions take two to four lines
        panel.arch_combo.setCurrentIndex(panel.arch_combo.findData(arch))
        spin(50)
        assert scroller.widget().sizeHint().height() <= scroller.viewport().height(), arch
        assert scroller.verticalScrollBar().maximum() == 0, arch
        clipped = [name for name, widget in settings_widgets.items()
                   if widget.visibleRegion().boundingRect() != widget.rect()]
        assert clipped == [], arch


def _has_colour(image, colour: QColor, tolerance: int = 40) -> bool:
    """Some pixel of ``image`` within ``tolerance`` of ``colour`` in each channel (lines are antialiased)."""
    for y in range(image.height()):
        for x in range(image.width()):
            pixel = image.pixelColor(x, y)
            if max(abs(pixel.red() - colour.red()), abs(pixel.green() - colour.green()),
                   abs(pixel.blue() - colour.blue())) <= tolerance:
                return True
    return False


def test_the_legend_follows_the_theme(qtbot):
    from gui.plots import TrainingPlots
    from gui.style import dark_palette, plot_colours

    plots = TrainingPlots()
    qtbot.addWidget(plots)
    plots.resize(700, 250)
    plots.show()
    qtbot.waitExposed(plots)
    for palette in (plots.palette(), dark_palette()):
        plots.setPalette(palette)
        spin(20)
        image = plots.legend.grab().toImage()
        colours = plot_colours(palette)
        for colour in (colours["train"], colours["val"], palette.color(QPalette.ColorRole.WindowText)):
            assert _has_colour(image, colour), colour.name()


@pytest.mark.parametrize("size", [(937, 700), "minimum"])
def test_the_y_axis_labels_show_whole_beside_compared_runs(make_window, size):
    """At 937 px wide with two runs compared the accuracy plot was about 130 px tall, and its y label,
    centred on the axis and longer than it, ran off the top: "accuracy (%"."""
    records = _earlier_runs(2)
    window = make_window(wait_ready=False)
    minimum = window.minimumSizeHint()
    _laid_out(window, *((minimum.width(), minimum.height()) if size == "minimum" else size))
    overlay = window.training_panel.compare_button
    _compare(overlay, records)
    spin(100)

    plots = window.training_panel.plots
    for plot, full_text in ((plots.loss_plot, "loss"), (plots.accuracy_plot, "accuracy (%)")):
        label = plot.getAxis("left").label
        margin = label.document().documentMargin()  # blank: the text may run into it
        text_rect = label.mapRectToScene(label.boundingRect().adjusted(margin, margin, -margin, -margin))
        shown = plot.mapToScene(plot.viewport().rect()).boundingRect()
        assert label.isVisible() and shown.contains(text_rect), (plot.objectName(), text_rect, shown)
        if size != "minimum":  # where the plots have their height, the label is not shortened either
            assert label.toPlainText().strip() == full_text


def test_a_y_label_too_long_for_its_plot_is_shortened_not_cut(qtbot):
    import pyqtgraph as pg

    from gui.plots import YAxis

    plot = pg.PlotWidget(axisItems={"left": YAxis("acc. (%)")})
    qtbot.addWidget(plot)
    plot.setLabel("left", "accuracy (%)", **{"font-size": "12pt"})
    plot.setLabel("bottom", "epoch", **{"font-size": "12pt"})
    plot.show()
    qtbot.waitExposed(plot)
    label = plot.getAxis("left").label
    margin = label.document().documentMargin()  # blank: the text may run into it
    texts = []
    for height in (300, 110, 300):  # and back: the whole label returns with the room
        plot.resize(300, height)
        spin(50)
        text_rect = label.mapRectToScene(label.boundingRect().adjusted(margin, margin, -margin, -margin))
        assert plot.mapToScene(plot.viewport().rect()).boundingRect().contains(text_rect), height
        texts.append(label.toPlainText().strip())
    assert texts == ["accuracy (%)", "acc. (%)", "accuracy (%)"]


def _visible_curves(plots) -> set:
    return {item for plot in (plots.loss_plot, plots.accuracy_plot)
            for item in plot.getPlotItem().listDataItems() if item.isVisible()}


def _click(qtbot, legend, key: str) -> None:
    from PySide6.QtCore import Qt

    qtbot.mouseClick(legend, Qt.MouseButton.LeftButton, pos=legend.entry_rects()[key].center())


def _tool_tip(legend, pos) -> str:
    from PySide6.QtCore import QEvent
    from PySide6.QtGui import QHelpEvent
    from PySide6.QtWidgets import QApplication, QToolTip

    QToolTip.hideText()  # after a moment: wait, so that a tip still fading out is not read as shown
    deadline = time.monotonic() + 2
    while QToolTip.isVisible() and time.monotonic() < deadline:
        spin(20)
    QApplication.sendEvent(legend, QHelpEvent(QEvent.Type.ToolTip, pos, legend.mapToGlobal(pos)))
    return QToolTip.text() if QToolTip.isVisible() else ""


@pytest.mark.qt_log_ignore("This plugin does not support raise")  # the offscreen platform, for a tooltip
def test_clicking_a_legend_entry_hides_its_curves_in_both_plots_and_a_second_click_shows_them(make_window, qtbot):
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest

    from gui.run_history import TRAINING_KEY

    records = _earlier_runs(2)
    window = make_window(wait_ready=False)
    _laid_out(window, 937, 700)
    overlay = window.training_panel.compare_button
    _compare(overlay, records)
    spin(100)
    plots = window.training_panel.plots
    legend = plots.legend
    runs = [overlay.curves(record.id) for record in records]
    stands_for = {
        "training (smoothed)": {plots.curve("loss"), plots.curve("accuracy")},
        "validation": {plots.curve("val_loss"), plots.curve("val_accuracy")},
        records[0].id: set(runs[0].values()),
        records[1].id: set(runs[1].values()),
        TRAINING_KEY: {run[name] for run in runs for name in ("loss", "accuracy")},
    }
    assert set(legend.keys()) == set(stands_for)
    # The dotted lines' entry is drawn in the text's colour: it is no one run's.
    from gui.curve_legend import SAMPLE_WIDTH

    shared = legend.entry_rects()[TRAINING_KEY]
    key_sample = legend.grab(QRect(shared.topLeft(), QSize(SAMPLE_WIDTH, shared.height()))).toImage()
    assert _has_colour(key_sample, legend.palette().color(QPalette.ColorRole.WindowText))
    assert not _has_colour(key_sample, runs[0]["loss"].opts["pen"].color())
    everything = _visible_curves(plots)
    assert set().union(*stands_for.values()) <= everything

    for key, curves in stands_for.items():
        shown_look = legend.grab(legend.entry_rects()[key]).toImage()
        _click(qtbot, legend, key)
        assert legend.is_hidden(key), key
        assert _visible_curves(plots) == everything - curves, key  # its curves, in both plots, and no other
        assert legend.grab(legend.entry_rects()[key]).toImage() != shown_look, key  # drawn faint
        _click(qtbot, legend, key)
        assert not legend.is_hidden(key) and _visible_curves(plots) == everything, key

    # A curve shows while no entry that stands for it is hidden: a run shown again keeps its training
    # hidden while the earlier runs' training is.
    _click(qtbot, legend, TRAINING_KEY)
    _click(qtbot, legend, records[0].id)
    _click(qtbot, legend, records[0].id)
    assert _visible_curves(plots) == everything - stands_for[TRAINING_KEY]

    # The pointing hand and a tip that says what a click does, over the entries only.
    entry = legend.entry_rects()["validation"].center()
    nowhere = QPoint(legend.width() - 1, legend.height() - 1)
    assert not any(rect.contains(nowhere) for rect in legend.entry_rects().values())
    QTest.mouseMove(legend, entry)
    assert legend.cursor().shape() == Qt.CursorShape.PointingHandCursor
    assert "click to hide" in _tool_tip(legend, entry).lower()
    _click(qtbot, legend, "validation")
    assert "click to show" in _tool_tip(legend, entry).lower()
    QTest.mouseMove(legend, nowhere)
    assert legend.cursor().shape() == Qt.CursorShape.ArrowCursor
    assert _tool_tip(legend, nowhere) == ""

    # A new run shows everything again.
    plots.reset(3)
    assert not any(legend.is_hidden(key) for key in stands_for)
    assert _visible_curves(plots) == everything


def test_a_hidden_curve_no_longer_sets_the_y_range_and_clearing_the_comparison_forgets_what_was_hidden(qtbot):
    from types import SimpleNamespace

    from gui.run_history import TRAINING_KEY

    records = _earlier_runs(1)
    panel, plots, overlay = _shown_panel(qtbot, 900, 300)
    plots.reset(2)
    for position, loss in ((0.1, 2.3), (0.5, 0.4), (1.0, 0.3)):
        plots.add_batch(SimpleNamespace(position=position, loss=loss, accuracy=0.9))
    plots.add_epoch(SimpleNamespace(epoch=1, val_loss=0.35, val_accuracy=0.9))
    assert plots.loss_plot.viewRange()[1][1] == pytest.approx(2.5)
    plots.legend.set_hidden("training (smoothed)", True)  # its first batches' 2.3 set the range
    assert plots.loss_plot.viewRange()[1][1] == pytest.approx(0.5)
    plots.legend.set_hidden("training (smoothed)", False)
    assert plots.loss_plot.viewRange()[1][1] == pytest.approx(2.5)

    overlay.refresh()
    overlay.set_shown(records[0].id, True)
    plots.legend.set_hidden(TRAINING_KEY, True)
    overlay.hide_all()
    assert TRAINING_KEY not in plots.legend.labels()  # no runs compared, no entry for their training
    overlay.set_shown(records[0].id, True)
    assert not plots.legend.is_hidden(TRAINING_KEY)
    assert all(curve.isVisible() for curve in overlay.curves(records[0].id).values())


def _compare(overlay, records) -> None:
    """Show ``records`` in the plots, as ticking them in the Compare menu does."""
    overlay.refresh()
    for record in records:
        overlay.set_shown(record.id, True)


def _shown_panel(qtbot, width: int, height: int):
    """A training panel on screen at ``width`` x ``height``: its plots and its Compare button."""
    from gui.training_panel import TrainingPanel

    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.resize(width, height)
    panel.show()
    qtbot.waitExposed(panel)
    return panel, panel.plots, panel.compare_button


def _alike_runs() -> list:
    """Three seed runs, not yet saved, that the legend's short label cannot tell apart ("seed 11-29 09:21,
    81.6%"), the last two from the same second."""
    from model import history

    records = []
    for seconds, accuracy, loss in (("05", 0.8161, 0.5), ("48", 0.8158, 0.6), ("48", 0.8164, 0.7)):
        record = history.RunRecord(
            arch="seed", config={}, test_accuracy=accuracy, test_loss=loss,
            history={"loss": [1.2, loss], "accuracy": [0.6, 0.8], "val_loss": [0.9, loss + 0.05],
                     "val_accuracy": [0.7, 0.81]},
            train_seconds=10.0, epochs_completed=2, date=f"2026-11-29T09:21:{seconds}+00:00")
        records.append(record)
    return records


def test_runs_that_read_alike_get_distinct_entries_and_a_click_hides_only_its_own_run(qtbot):
    from gui.run_history import legend_label
    from model import history

    records = _alike_runs()
    assert len({legend_label(record) for record in records}) == 1
    for record in records:
        history.save_run(record)
    panel, plots, overlay = _shown_panel(qtbot, 1100, 330)
    _compare(overlay, records)
    spin(50)
    runs = plots.legend.labels()[len(BASE_LABELS) + 1:]  # after the current run's and the dotted lines' entries
    assert len(runs) == len(set(runs)) == 3, runs
    assert {text[:len("seed 11-29 09:21:05")] for text in runs} == {"seed 11-29 09:21:05", "seed 11-29 09:21:48"}
    assert sum(text.endswith(" (2)") for text in runs) == 1  # the two of one second

    legend = plots.legend
    rects = legend.entry_rects()
    assert len({rects[record.id].topLeft().toTuple() for record in records}) == 3
    everything = _visible_curves(plots)
    for record in records:
        own = set(overlay.curves(record.id).values())
        _click(qtbot, legend, record.id)
        assert legend.is_hidden(record.id)
        assert _visible_curves(plots) == everything - own, legend.text(record.id)
        assert [legend.is_hidden(other.id) for other in records if other is not record] == [False, False]
        _click(qtbot, legend, record.id)
        assert _visible_curves(plots) == everything


def test_a_run_that_comes_to_read_like_a_shown_one_renames_it(qtbot):
    """The shown run's entry gains its seconds when a newer run with the same short label is saved."""
    from gui.training_panel import TrainingPanel
    from model import history

    first, second, _ = _alike_runs()
    history.save_run(first)
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    overlay = panel.compare_button
    overlay.refresh()
    overlay.set_shown(first.id, True)
    assert panel.plots.legend.text(first.id) == "seed 11-29 09:21, 81.6%"
    history.save_run(second)
    overlay.refresh()  # as after a finished run
    assert panel.plots.legend.text(first.id) == "seed 11-29 09:21:05, 81.6%"


def test_compared_runs_follow_the_theme(qtbot):
    from gui.curve_legend import SAMPLE_WIDTH
    from gui.run_history import _DARK, _LIGHT
    from gui.style import dark_palette, is_dark

    records = _earlier_runs(2)
    panel, plots, overlay = _shown_panel(qtbot, 1100, 330)
    _compare(overlay, records)
    light = panel.palette()
    assert not is_dark(light)
    for palette, colours in ((light, _LIGHT), (dark_palette(), _DARK), (light, _LIGHT)):
        panel.setPalette(palette)  # as a change of the application's theme reaches it
        spin(20)
        other = _DARK if colours is _LIGHT else _LIGHT
        for index, record in enumerate(records):
            colour = QColor(colours[index])
            for name, curve in overlay.curves(record.id).items():
                assert curve.opts["pen"].color() == colour, (name, curve.opts["pen"].color().name())
                if name.startswith("val_"):
                    assert curve.opts["symbolBrush"].color() == colour, name
            entry = plots.legend.entry_rects()[record.id]  # its sample is drawn with the curve's new pen
            sample = plots.legend.grab(QRect(entry.topLeft(), QSize(SAMPLE_WIDTH, entry.height()))).toImage()
            assert _has_colour(sample, colour, tolerance=10), colour.name()
            assert not _has_colour(sample, QColor(other[index]), tolerance=10), other[index]
