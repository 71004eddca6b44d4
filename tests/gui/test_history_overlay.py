"""Earlier runs overlaid on the training plots; the plots exported as PNG, a run's curves as CSV."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from conftest import BERLIN
from gui_helpers import app_model, make_window, settings, tiny_data  # noqa: F401, F811 - fixtures

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


@pytest.fixture(scope="module")
def tiny_results(small_splits):
    """Two real TrainResults: ``fast`` for 2 and 3 epochs on 320 images."""
    from model.training import TrainConfig, train

    data = small_splits.head(320, 100, 100)
    return [train(TrainConfig(arch="fast", epochs=epochs, batch_size=64, learning_rate=3e-3), data)
            for epochs in (2, 3)]


def _saved_seed_run(date: str, loss: float = 0.3):
    """A one-epoch seed run at 93 %, saved to the history with ``date`` as stored."""
    from model import history

    record = history.RunRecord(
        arch="seed", config={}, test_accuracy=0.93, test_loss=0.3, train_seconds=5.0, epochs_completed=1,
        history={"loss": [loss], "accuracy": [0.9], "val_loss": [loss], "val_accuracy": [0.93]}, date=date)
    history.save_run(record)
    return record


def _menu_texts(overlay) -> list[str]:
    """The runs the Compare menu offers, as it reads once refreshed."""
    overlay.refresh()
    return [a.text() for a in overlay.menu().actions() if a.isCheckable()]


def _record(tiny_results):
    from model import history

    return [history.record_run(result) for result in tiny_results]


def test_checking_a_run_overlays_its_curves_and_unchecking_removes_them(qtbot, tiny_results):
    from gui.training_panel import TrainingPanel

    panel = TrainingPanel()
    qtbot.addWidget(panel)
    overlay = panel.compare_button
    assert not overlay.runs and not overlay.isEnabled()  # no history yet
    records = _record(tiny_results)
    overlay.refresh()  # as after a finished run
    assert set(overlay.runs) == {r.id for r in records}
    menu_ids = [a.data() for a in overlay.menu().actions() if a.isCheckable()]
    assert set(menu_ids) == {r.id for r in records}

    loss_items = len(panel.plots.loss_plot.getPlotItem().listDataItems())
    record = records[1]
    action = next(a for a in overlay.menu().actions() if a.data() == record.id)
    action.trigger()  # checks it, as a click would
    assert overlay.shown_ids() == [record.id]
    for name, scale in (("val_loss", 1), ("val_accuracy", 100), ("loss", 1), ("accuracy", 100)):
        x, y = overlay.curve_data(record.id, name)
        np.testing.assert_array_equal(x, np.arange(1, 4))
        np.testing.assert_allclose(y, np.asarray(record.history[name]) * scale)
    loss_plot = panel.plots.loss_plot.getPlotItem()
    assert len(loss_plot.listDataItems()) == loss_items + 2
    assert panel.plots.legend.keys().count(record.id) == 1  # one entry a run
    assert panel.plots.loss_plot.viewRange()[0][1] >= 3  # the axis widened to the 3-epoch run

    action.trigger()  # unchecks it
    assert overlay.shown_ids() == [] and not action.isChecked()
    assert len(loss_plot.listDataItems()) == loss_items
    assert record.id not in panel.plots.legend.keys()


def test_exports_write_a_png_of_the_plots_and_the_latest_runs_csv(make_window, tiny_results, tmp_path):  # noqa: F811
    from PySide6.QtGui import QImage

    records = _record(tiny_results)
    window = make_window()
    actions = window.run_history
    assert {"exportPlotsAction", "exportRunCsvAction"} <= {a.objectName() for a in window.actions()}
    window.training_panel.compare_button.refresh()
    window.training_panel.compare_button.set_shown(records[0].id, True)

    png = actions.export_png(tmp_path / "plots.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5_000
    image = QImage(str(png))
    assert image.width() >= 400 and image.height() >= 150

    latest = actions.export_csv(tmp_path / "latest.csv")
    rows = list(csv.reader(latest.read_text().splitlines()))
    assert rows[0][:5] == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy"]
    newest = max(records, key=lambda r: (r.date, r.id))
    assert [r[0] for r in rows[1:]] == [str(i) for i in range(1, newest.epochs_completed + 1)]
    assert float(rows[1][3]) == pytest.approx(newest.history["val_loss"][0])

    chosen = actions.export_csv(tmp_path / "first.csv", records[0].id)
    assert len(chosen.read_text().splitlines()) == 1 + records[0].epochs_completed


def test_runs_that_read_alike_get_distinct_menu_items_and_the_export_dialog_writes_the_chosen_one(
        make_window, tmp_path, monkeypatch):  # noqa: F811
    """Two seed runs of one minute and accuracy read alike in Compare with… and the export dialog,
    which found the chosen run by its text: it exported the newer whichever was chosen."""
    from PySide6.QtWidgets import QFileDialog, QInputDialog


    records = [_saved_seed_run(f"2026-11-29T09:55:{seconds}+00:00", loss) for seconds, loss in (("12", 0.25),
                                                                                                  ("46", 0.35))]
    window = make_window()  # loaded: its "opened ..." message cannot replace the one checked
    overlay = window.training_panel.compare_button
    texts = _menu_texts(overlay)
    assert len(set(texts)) == 2, texts
    assert texts == ["seed 2026-11-29 09:55:46, 93.00% · 1 epoch", "seed 2026-11-29 09:55:12, 93.00% · 1 epoch"]

    older = records[0]
    monkeypatch.setattr(QInputDialog, "getItem", lambda *args: (texts[1], True))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args: (str(tmp_path / "chosen.csv"), ""))
    window.run_history.export_csv_action.trigger()
    rows = list(csv.reader((tmp_path / "chosen.csv").read_text().splitlines()))
    assert float(rows[1][1]) == pytest.approx(older.history["loss"][0])
    chosen = tmp_path / "chosen.csv"  # the status message names the chosen run as the dialog did
    assert window.statusBar().currentMessage() == f"exported seed 2026-11-29 09:55:12, 93.00% to {chosen}"


def test_compare_with_the_legend_and_the_export_dialog_show_runs_in_local_time(
        make_window, tmp_path, monkeypatch, time_zone):  # noqa: F811
    """Run dates are stored in UTC and were shown as if local: an hour off in Berlin. A record written
    before dates carried an offset was UTC too."""
    from PySide6.QtWidgets import QFileDialog, QInputDialog


    time_zone(BERLIN)
    records = [_saved_seed_run(date) for date in ("2026-11-28T09:00:00", "2026-11-29T09:21:48+00:00")]
    window = make_window()  # loaded: its "opened ..." message cannot replace the one checked
    overlay = window.training_panel.compare_button
    texts = _menu_texts(overlay)
    assert texts == ["seed 2026-11-29 10:21, 93.00% · 1 epoch", "seed 2026-11-28 10:00, 93.00% · 1 epoch"]
    overlay.set_shown(records[1].id, True)
    assert window.training_panel.plots.legend.text(records[1].id) == "seed 11-29 10:21, 93.0%"

    offered = []
    monkeypatch.setattr(QInputDialog, "getItem", lambda *args: (offered.extend(args[3]) or texts[0], True))
    names = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda *args: (names.append(Path(args[2]).name) or str(tmp_path / "run.csv"), ""))
    window.run_history.export_csv_action.trigger()
    assert offered == texts
    assert names == ["seed-20261129-102148.csv"]  # not the run id, which reads in UTC
    assert window.statusBar().currentMessage() == f"exported seed 2026-11-29 10:21, 93.00% to {tmp_path / 'run.csv'}"


def test_a_one_epoch_runs_training_point_is_drawn(qtbot, tiny_results, time_zone):
    """Its training curve is a single point: as a dotted line alone it was not drawn at all."""
    from gui.training_panel import TrainingPanel

    panel = TrainingPanel()
    qtbot.addWidget(panel)
    one_epoch = _saved_seed_run("2026-11-29T09:21:48+00:00")
    longer = _record(tiny_results)[1]
    overlay = panel.compare_button
    overlay.refresh()
    for record in (one_epoch, longer):
        overlay.set_shown(record.id, True)
    single = overlay.curves(one_epoch.id)
    assert single["loss"].opts["symbol"] == "o" and single["accuracy"].opts["symbol"] == "o"
    assert overlay.curves(longer.id)["loss"].opts["symbol"] is None  # a line needs no marks
    assert single["val_loss"].opts["symbol"] == "t"  # validation keeps its triangles
    overlay._restyle()  # noqa: SLF001 - what a theme change calls (the plots' restyled signal): the point stays
    assert single["loss"].opts["symbol"] == "o"
