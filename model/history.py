"""Run history: every training run kept in the user's data folder, to compare and export.

One JSON file per run under ``<user data>/runs/``, written atomically: a crash
loses at most the run being written, and a damaged file hides only itself.
A run's date is kept in UTC and shown in local time (``local_date``); records
written without an offset were UTC too. ``distinct_labels`` is the one way runs
that read alike (one architecture, minute and accuracy) are told apart, here
(``run_labels``) and in the window's menus and legend.
"""
from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import math
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from model import paths
from model.atomic import write_text_atomic
from model.errors import DigitsError

CURVES = ("loss", "accuracy", "val_loss", "val_accuracy", "seconds")


def runs_dir() -> Path:
    return paths.user_data_dir() / "runs"


@dataclass
class RunRecord:
    """One training (or fine-tuning) run as the history keeps it."""

    arch: str
    config: dict
    history: dict[str, list[float]]  # per-epoch curves, keys as in ``CURVES``
    test_accuracy: float | None
    test_loss: float | None
    train_seconds: float
    epochs_completed: int
    stopped: bool = False
    kind: str = "train"  # "train" or "finetune"
    model_path: str | None = None
    temperature: float = 1.0
    extra: dict = field(default_factory=dict)
    date: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    id: str = ""

    def __post_init__(self) -> None:
        if not self.id:
            stamp = self.date.replace("-", "").replace(":", "").replace("+0000", "")[:15]
            self.id = f"{stamp}-{self.arch}-{uuid.uuid4().hex[:6]}"

    @property
    def label(self) -> str:
        """A short name, in local time: ``fast 2024-05-01 14:03, 99.12%``; two runs may read alike
        (``run_labels`` tells them apart)."""
        return run_label(self)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> RunRecord:
        known = {f.name for f in fields(cls)}
        if not isinstance(data, dict) or not {"arch", "history"} <= data.keys():
            raise ValueError("not a run record")
        record = cls(**{k: v for k, v in data.items() if k in known and k != "extra"},
                     extra=dict(data.get("extra") or {}))
        if not isinstance(record.history, dict):
            raise ValueError("history must be a mapping of curves")
        return record

    def to_csv(self) -> str:
        """One row per epoch: ``epoch, loss, accuracy, val_loss, val_accuracy, seconds``."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["epoch", *CURVES])
        epochs = max((len(self.history.get(k) or []) for k in CURVES), default=0)
        for i in range(epochs):
            row: list[object] = [i + 1]
            for key in CURVES:
                values = self.history.get(key) or []
                value = values[i] if i < len(values) else None
                row.append("" if value is None or (isinstance(value, float) and math.isnan(value)) else value)
            writer.writerow(row)
        return out.getvalue()


def utc_time(date: str) -> _dt.datetime | None:
    """A record's ``date`` as an aware UTC time; one without an offset (older records) was UTC.
    ``None`` when it is not an ISO date."""
    try:
        when = _dt.datetime.fromisoformat(date)
        if when.tzinfo is None:
            when = when.replace(tzinfo=_dt.timezone.utc)
        return when.astimezone(_dt.timezone.utc)
    except (TypeError, ValueError, OverflowError):  # overflow: past year 9999 in UTC
        return None


def _local_time(date: str) -> _dt.datetime | None:
    """A record's ``date`` in the machine's zone; ``None`` when it does not parse or cannot be shown."""
    when = utc_time(date)
    try:
        return when.astimezone() if when is not None else None
    except OverflowError:  # past year 9999 in local time
        return None


def local_date(date: str, *, seconds: bool = False, year: bool = True) -> str:
    """A record's ``date`` as the user reads it, in local time: ``2024-05-01 14:03`` (``14:03:27``
    with ``seconds``, ``05-01 14:03`` without ``year``). A date that does not parse is shown as written."""
    local = _local_time(date)
    if local is None:
        return str(date)
    return local.strftime(f"{'%Y-' if year else ''}%m-%d %H:%M{':%S' if seconds else ''}")


def export_file_name(record: RunRecord) -> str:
    """A CSV name for ``record`` as a person would save it: ``fast-20240501-140327.csv``, in local time,
    as model files are named. The run id would do, but it reads in UTC and ends in random hex."""
    local = _local_time(record.date)
    return f"{record.arch}-{local.strftime('%Y%m%d-%H%M%S') if local is not None else record.id}.csv"


def run_label(record: RunRecord, seconds: bool = False) -> str:
    """``RunRecord.label``, with the seconds where asked: ``fast 2024-05-01 14:03:27, 99.12%``."""
    acc = f", {record.test_accuracy:.2%}" if record.test_accuracy is not None else ""
    when = local_date(record.date, seconds=seconds)
    return f"{record.arch}{' (fine-tuned)' if record.kind == 'finetune' else ''} {when}{acc}"


def run_labels(records: Iterable[RunRecord]) -> dict[str, str]:
    """Each run's ``label`` by run id, no two alike (``distinct_labels`` of ``run_label``)."""
    return distinct_labels(records, run_label)


def distinct_labels(records: Iterable[RunRecord], label: Callable[[RunRecord, bool], str]) -> dict[str, str]:
    """Each run's ``label(record, seconds)`` by run id, no two alike: without the seconds, with them
    where two runs would read alike (one architecture, minute and accuracy), and " (2)", " (3)"... after
    the later of runs that still do (saved in one second)."""
    records = sorted(records, key=_age)
    short = Counter(label(r, False) for r in records)
    labels = {r.id: label(r, short[label(r, False)] > 1) for r in records}
    seen: Counter[str] = Counter()
    for run_id, text in labels.items():
        seen[text] += 1
        if seen[text] > 1:
            labels[run_id] = f"{text} ({seen[text]})"
    return labels


def _age(record: RunRecord) -> tuple:
    """Oldest first by the instant, not the text (``...T09:00:00`` and ``...T09:00:00+00:00`` are one
    time); a date that does not parse counts as the oldest."""
    when = utc_time(record.date)
    return (when is not None, when or _dt.datetime.min, record.id)


def record_from_result(result, *, kind: str = "train", model_path: Path | str | None = None,
                       extra: dict | None = None) -> RunRecord:
    """A ``RunRecord`` from a ``model.training.TrainResult``."""
    return RunRecord(
        arch=result.config.arch, config=result.config.to_dict(), history=result.history,
        test_accuracy=result.test_accuracy, test_loss=result.test_loss, train_seconds=result.train_seconds,
        epochs_completed=result.epochs_completed, stopped=result.stopped, kind=kind,
        model_path=str(model_path) if model_path is not None else None,
        temperature=getattr(result, "temperature", 1.0), extra=dict(extra or {}),
    )


def save_run(record: RunRecord) -> Path:
    path = runs_dir() / f"{record.id}.json"
    try:
        write_text_atomic(path, json.dumps(record.to_json(), indent=1, default=_json_default))
    except OSError as exc:
        raise DigitsError(f"{path}: cannot save the run history ({exc.strerror or exc}).") from None
    return path


def record_run(result, *, kind: str = "train", model_path: Path | str | None = None,
               extra: dict | None = None) -> RunRecord:
    """Keep a finished run in the history; returns the record (its ``id`` names it)."""
    record = record_from_result(result, kind=kind, model_path=model_path, extra=extra)
    save_run(record)
    return record


def list_runs() -> list[RunRecord]:
    """Every readable run, newest first; damaged files are skipped, not fatal."""
    records = []
    folder = runs_dir()
    if not folder.is_dir():
        return []
    for path in folder.glob("*.json"):
        try:
            records.append(RunRecord.from_json(json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError, TypeError):
            continue
    return sorted(records, key=_age, reverse=True)


def load_run(run_id: str) -> RunRecord:
    path = _path_of(run_id)
    try:
        return RunRecord.from_json(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise DigitsError(f"no run {run_id!r} in the history.") from None
    except (OSError, ValueError, TypeError) as exc:
        raise DigitsError(f"{path}: the run record is damaged ({exc}).") from None


def delete_run(run_id: str) -> None:
    path = _path_of(run_id)
    try:
        path.unlink()
    except FileNotFoundError:
        raise DigitsError(f"no run {run_id!r} in the history.") from None


def export_csv(record: RunRecord, path: Path | str) -> Path:
    """Write a run's per-epoch curves as CSV (atomically)."""
    path = Path(path)
    try:
        write_text_atomic(path, record.to_csv())
    except OSError as exc:
        raise DigitsError(f"{path}: cannot write the CSV ({exc.strerror or exc}).") from None
    return path


def _path_of(run_id: str) -> Path:
    if not run_id or "/" in run_id or "\\" in run_id or run_id.startswith("."):
        raise DigitsError(f"{run_id!r} is not a run id.")
    return runs_dir() / f"{run_id}.json"


def _json_default(value):
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return value.tolist()
    return str(value)
