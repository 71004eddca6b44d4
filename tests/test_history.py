from __future__ import annotations

import csv
import io
import json

import pytest
from conftest import BERLIN

from model import history
from model.errors import DigitsError
from model.history import RunRecord, export_csv, list_runs, load_run, record_run


def _record(arch="fast", **kw) -> RunRecord:
    curves = {"loss": [0.5, 0.2], "accuracy": [0.9, 0.95], "val_loss": [0.3, float("nan")],
              "val_accuracy": [0.92, 0.96], "seconds": [3.0, 6.1]}
    return RunRecord(arch=arch, config={"arch": arch, "epochs": 2}, history=curves, test_accuracy=0.97,
                     test_loss=0.1, train_seconds=6.1, epochs_completed=2, **kw)


def test_runs_are_kept_in_the_user_data_folder_newest_first(private_user_data):
    old = _record("mlp", date="2024-01-01T10:00:00+00:00")
    new = _record("seed", date="2024-02-01T10:00:00+00:00")
    for r in (old, new):
        history.save_run(r)
    assert history.runs_dir().parent == private_user_data
    runs = list_runs()
    assert [r.arch for r in runs] == ["seed", "mlp"]
    assert runs[0].history["loss"] == [0.5, 0.2] and runs[0].config["epochs"] == 2
    assert load_run(old.id).test_accuracy == 0.97
    (history.runs_dir() / "broken.json").write_text("{not json")  # a damaged file hides only itself
    assert len(list_runs()) == 2
    history.delete_run(old.id)
    assert [r.arch for r in list_runs()] == ["seed"]
    with pytest.raises(DigitsError):
        load_run(old.id)
    with pytest.raises(DigitsError):
        load_run("../state")


def test_csv_export_has_one_row_per_epoch(tmp_path):
    path = export_csv(_record(), tmp_path / "run.csv")
    rows = list(csv.reader(io.StringIO(path.read_text())))
    assert rows[0] == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds"]
    assert rows[1] == ["1", "0.5", "0.9", "0.3", "0.92", "3.0"]
    assert rows[2][3] == ""  # a missing value is an empty cell, not "nan"
    assert len(rows) == 3


def test_a_real_training_run_is_recorded(small_splits):
    from model.training import TrainConfig, train

    result = train(TrainConfig(arch="mlp", epochs=2, batch_size=128), small_splits.head(512, 64, 64))
    record = record_run(result, model_path="/tmp/x.keras")
    [again] = list_runs()
    assert again.id == record.id and again.arch == "mlp" and again.epochs_completed == 2
    assert len(again.history["val_accuracy"]) == 2 and again.test_accuracy == pytest.approx(result.test_accuracy)
    assert again.temperature == pytest.approx(result.temperature) and again.model_path == "/tmp/x.keras"
    assert json.loads(json.dumps(again.to_json()))["config"]["arch"] == "mlp"
    assert "mlp" in again.label


def test_run_dates_are_kept_in_utc_and_shown_in_local_time(time_zone):
    """A run stored at 09:21 UTC reads 10:21 in Berlin in November and 11:21 in July (the zone of the
    run's date, not today's); a record written before dates carried an offset was UTC too."""
    time_zone(BERLIN)
    winter = _record("seed", date="2026-11-29T09:21:48+00:00")
    summer = _record("seed", date="2026-07-01T09:21:48+00:00")
    old = _record("seed", date="2026-11-29T09:21:48")
    assert winter.label == "seed 2026-11-29 10:21, 97.00%"
    assert summer.label == "seed 2026-07-01 11:21, 97.00%"
    assert old.label == winter.label
    assert history.local_date(winter.date, seconds=True) == "2026-11-29 10:21:48"
    history.save_run(winter)
    assert load_run(winter.id).date == "2026-11-29T09:21:48+00:00"  # kept as written: UTC
    assert "10:21" in _record("seed", date="2026-11-29T10:21:48+01:00").label
    time_zone("UTC")
    assert winter.label == "seed 2026-11-29 09:21, 97.00%"
    assert _record("seed", date="not a date").label == "seed not a date, 97.00%"  # shown as written


def test_a_date_past_year_9999_is_shown_as_written(time_zone):
    """In UTC or in local time: a hand-edited or imported date must not end the program with OverflowError."""
    time_zone(BERLIN)
    for date in ("9999-12-31T23:59:59-12:00", "9999-12-31T23:30:00+00:00"):
        assert history.local_date(date) == date
    assert history.utc_time("9999-12-31T23:59:59-12:00") is None


def test_an_exported_run_is_offered_a_name_in_local_time(time_zone):
    """The export dialog offered the run id, which reads in UTC and ends in random hex."""
    time_zone(BERLIN)
    record = _record("seed", date="2026-11-29T09:21:48+00:00")
    assert history.export_file_name(record) == "seed-20261129-102148.csv"
    assert history.export_file_name(_record("seed", date="not a date", id="run-7")) == "seed-run-7.csv"
    assert history.export_file_name(_record("seed", date="9999-12-31T23:59:59-12:00", id="run-8")) == "seed-run-8.csv"


def test_labels_of_runs_that_read_alike_are_told_apart():
    """One architecture, minute and accuracy: the seconds, and a (2) after the later of one second."""
    records = [_record("seed", date=f"2026-11-29T09:21:{s}+00:00", id=f"run-{i}")
               for i, s in enumerate(("05", "48", "48", "48"))]
    records[3].date = "2026-11-29T09:22:00+00:00"
    assert len({r.label for r in records[:3]}) == 1
    labels = history.run_labels(reversed(records))
    assert [labels[r.id] for r in records] == [
        "seed 2026-11-29 09:21:05, 97.00%", "seed 2026-11-29 09:21:48, 97.00%",
        "seed 2026-11-29 09:21:48, 97.00% (2)", "seed 2026-11-29 09:22, 97.00%"]
    older_naive = _record("seed", date="2026-11-29T09:21:48")  # before offsets were written: UTC too
    labels = history.run_labels([records[1], older_naive])
    assert labels[records[1].id] != labels[older_naive.id]
