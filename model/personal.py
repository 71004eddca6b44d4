"""The personal handwriting dataset: corrected drawings kept to fine-tune the model on.

One JSON Lines file in the user's data folder, in the pendigits format
(``label``, ``writer``, ``width``, ``height``, ``strokes``) plus an ``id`` and
the date ``added``; readers of the pendigits format, ``predict --strokes``
included, read it as it is. Every change rewrites the file atomically, so a
crash or a kill never leaves a partial line.
"""
from __future__ import annotations

import datetime as _dt
import io
import json
import numbers
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from model import paths
from model.atomic import append_line_atomic, write_text_atomic
from model.errors import DigitsError
from model.strokes import Drawing, is_too_small, iter_drawings, read_drawings

MAX_IMPORT_BYTES = 64 * 1024 * 1024  # about 300,000 drawings: far beyond a personal set, bounded for a hostile file


def personal_path() -> Path:
    return paths.user_data_dir() / "personal" / "samples.jsonl"


def sample_id(drawing: Drawing) -> str:
    return str(drawing.extra.get("id", ""))


@dataclass(frozen=True)
class ImportReport:
    added: int
    duplicates: int  # already in the dataset (same label, box and strokes), skipped
    total: int  # samples in the dataset afterwards


def _key(drawing: Drawing) -> str:
    return json.dumps([drawing.label, drawing.width, drawing.height, drawing.strokes], separators=(",", ":"))


def _validated(drawing: Drawing, where: str) -> Drawing:
    if drawing.label is None:
        raise DigitsError(f"{where}: missing the 'label' (the digit 0-9 this drawing shows).")
    if is_too_small(drawing.strokes, drawing.width, drawing.height):
        raise DigitsError(f"{where}: no digit in the drawing (no ink, or only a speck).")
    return drawing


class PersonalDataset:
    """The samples in one personal JSON Lines file (by default the user's)."""

    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path is not None else personal_path()

    def samples(self) -> list[Drawing]:
        """Every sample, oldest first; an empty list when there is no file yet."""
        if not self.path.exists():
            return []
        return read_drawings(self.path)

    def __len__(self) -> int:
        return len(self.samples())

    def counts(self) -> list[int]:
        """Samples per digit 0-9."""
        counts = [0] * 10
        for drawing in self.samples():
            if drawing.label is not None:
                counts[drawing.label] += 1
        return counts

    def add(self, strokes: Sequence, label: int, width: float = 500.0, height: float = 500.0,
            writer: int | str | None = None) -> Drawing:
        """Save one corrected drawing ("that's a 7") and return it with its new ``id``.

        The strokes are those the canvas kept (lists of ``[x, y]`` or ``[x, y,
        pressure]``), in a ``width`` x ``height`` box. The line is validated
        exactly as a file being read would be, before anything is written.
        """
        if isinstance(label, bool) or not isinstance(label, numbers.Integral) or not 0 <= int(label) <= 9:
            raise DigitsError(f"the label must be a digit 0-9, not {label!r}.")
        record = {"label": int(label), "width": float(width), "height": float(height),
                  "strokes": [[[float(v) for v in point] for point in stroke] for stroke in strokes]}
        if writer is not None:
            record["writer"] = writer
        record["id"] = uuid.uuid4().hex[:12]
        record["added"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        try:
            line = json.dumps(record, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError):
            raise DigitsError("the drawing holds values that are not finite numbers.") from None
        drawing = _validated(next(iter_drawings(io.StringIO(line), "the drawing")), "the drawing")
        try:
            append_line_atomic(self.path, line)
        except OSError as exc:
            raise DigitsError(f"{self.path}: cannot save the sample ({exc.strerror or exc}).") from None
        return drawing

    def _write(self, drawings: Iterable[Drawing]) -> None:
        text = "".join(d.to_json() + "\n" for d in drawings)
        try:
            write_text_atomic(self.path, text)
        except OSError as exc:
            raise DigitsError(f"{self.path}: cannot save the personal samples ({exc.strerror or exc}).") from None

    def delete(self, ids: Iterable[str]) -> int:
        """Remove the samples with these ids; returns how many were removed."""
        doomed = set(ids)
        samples = self.samples()
        kept = [d for d in samples if sample_id(d) not in doomed]
        if len(kept) != len(samples):
            self._write(kept)
        return len(samples) - len(kept)

    def clear(self) -> None:
        self._write([])

    def export(self, destination: Path | str) -> Path:
        """Copy the dataset to ``destination`` (a complete file or none)."""
        destination = Path(destination)
        samples = self.samples()
        if not samples:
            raise DigitsError("there are no personal samples to export yet.")
        if destination.resolve() == self.path.resolve():
            return destination
        text = "".join(d.to_json() + "\n" for d in samples)
        try:
            write_text_atomic(destination, text)
        except OSError as exc:
            raise DigitsError(f"{destination}: cannot export ({exc.strerror or exc}).") from None
        return destination

    def import_file(self, source: Path | str) -> ImportReport:
        """Add the samples of a pendigits-format file, all or nothing.

        Every line is checked first (valid JSON, strokes of numbers, a label
        0-9, some ink); one bad line refuses the whole file with its line
        number. Samples already present are skipped.
        """
        source = Path(source)
        try:
            size = source.stat().st_size
        except FileNotFoundError:
            raise DigitsError(f"{source}: file not found.") from None
        except OSError as exc:
            raise DigitsError(f"{source}: cannot be read ({exc.strerror or exc}).") from None
        if size > MAX_IMPORT_BYTES:
            raise DigitsError(f"{source}: {size / 2**20:.0f} MB is too large for a personal dataset.")
        incoming = []
        try:
            with open(source, encoding="utf-8") as handle:
                for number, drawing in enumerate(iter_drawings(handle, str(source)), start=1):
                    incoming.append(_validated(drawing, f"{source}, sample {number}"))
        except IsADirectoryError:
            raise DigitsError(f"{source}: is a folder, not a strokes file.") from None
        except UnicodeDecodeError:
            raise DigitsError(f"{source}: not a text file (JSON Lines expected).") from None
        if not incoming:
            raise DigitsError(f"{source}: holds no drawings.")
        existing = self.samples()
        seen = {_key(d) for d in existing}
        ids = {sample_id(d) for d in existing}
        added = []
        for drawing in incoming:
            key = _key(drawing)
            if key in seen:
                continue
            seen.add(key)
            if not sample_id(drawing) or sample_id(drawing) in ids:  # ids must stay unique for delete
                drawing.extra["id"] = uuid.uuid4().hex[:12]
            ids.add(sample_id(drawing))
            added.append(drawing)
        if added:
            self._write(existing + added)
        return ImportReport(len(added), len(incoming) - len(added), len(existing) + len(added))
