from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from conftest import DATA, REPO

from model.errors import DigitsError
from model.personal import PersonalDataset, personal_path, sample_id
from model.strokes import read_drawings, strokes_to_input

SEVEN = [[[100, 100], [400, 100], [220, 420]], [[180, 260], [330, 260]]]


def test_a_correction_is_one_valid_line_in_the_pendigits_format(private_user_data):
    dataset = PersonalDataset()
    assert dataset.path == personal_path() and str(dataset.path).startswith(str(private_user_data))
    assert dataset.samples() == []
    saved = dataset.add(SEVEN, 7, width=500, height=500)
    lines = dataset.path.read_text().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["label"] == 7 and record["width"] == 500 and record["height"] == 500
    assert record["strokes"] == SEVEN and record["id"] == sample_id(saved) and record["added"]
    # Read back with the same reader as pendigits and `predict --strokes`, rendered by the one renderer.
    [again] = read_drawings(dataset.path)
    assert again.label == 7 and strokes_to_input(again.strokes, again.width, again.height) is not None
    dataset.add([[[10, 10, 0.5], [90, 300, 0.7]]], 1, width=120, height=320)
    assert len(dataset) == 2 and dataset.counts()[7] == 1 and dataset.counts()[1] == 1


@pytest.mark.parametrize("strokes, label, message", [
    (SEVEN, 10, "digit 0-9"), (SEVEN, True, "digit 0-9"), (SEVEN, None, "digit 0-9"),
    ([], 3, "no digit"), ([[[5, 5], [6, 6]]], 3, "no digit"), ([[[1, float("nan")], [3, 4]]], 3, "finite"),
])
def test_bad_corrections_are_refused_and_nothing_is_written(strokes, label, message):
    dataset = PersonalDataset()
    with pytest.raises(DigitsError, match=message):
        dataset.add(strokes, label)
    assert not dataset.path.exists()


_KILLER = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from model.personal import PersonalDataset

    dataset = PersonalDataset(sys.argv[1])
    real_write_bytes = Path.write_bytes

    def half_then_die(self, data):
        real_write_bytes(self, data[: len(data) // 2])  # half the file reaches the disk ...
        os.kill(os.getpid(), signal.SIGKILL)  # ... then the process is killed outright

    Path.write_bytes = half_then_die
    dataset.add([[[100, 100], [400, 100], [220, 420]]], 7)
""")


def test_a_killed_save_leaves_the_old_file_whole(tmp_path):
    path = tmp_path / "samples.jsonl"
    dataset = PersonalDataset(path)
    for label in (1, 2, 3):
        dataset.add(SEVEN, label)
    before = path.read_bytes()
    run = subprocess.run([sys.executable, "-c", _KILLER, str(path)], cwd=REPO, capture_output=True)
    assert run.returncode == -9  # really killed mid-write
    assert path.read_bytes() == before  # no partial line, nothing lost
    assert [d.label for d in dataset.samples()] == [1, 2, 3]
    dataset.add(SEVEN, 4)  # the next save works; the killed one's temporary file is ignored
    assert [d.label for d in dataset.samples()] == [1, 2, 3, 4]


def test_delete_export_and_import(tmp_path):
    dataset = PersonalDataset()
    ids = [sample_id(dataset.add(SEVEN, label)) for label in (7, 1, 7)]
    assert dataset.delete([ids[1], "no-such-id"]) == 1
    assert [d.label for d in dataset.samples()] == [7, 7]
    exported = dataset.export(tmp_path / "mine.jsonl")
    assert [d.label for d in read_drawings(exported)] == [7, 7]

    other = PersonalDataset(tmp_path / "other.jsonl")
    report = other.import_file(DATA / "pendigits-sample.jsonl")
    assert (report.added, report.duplicates, report.total) == (20, 0, 20)
    assert other.import_file(DATA / "pendigits-sample.jsonl").duplicates == 20  # no double import
    assert len({sample_id(d) for d in other.samples()}) == 20  # every sample can be deleted by id
    report = other.import_file(exported)
    assert report.added == 1 and report.duplicates == 1  # the two exported sevens are identical strokes
    other.clear()
    with pytest.raises(DigitsError, match="no personal samples"):
        other.export(tmp_path / "empty.jsonl")


@pytest.mark.parametrize("content, message", [
    ('{"label": 3, "strokes": [[[0, 0], [100, 200]]]}\n{"label": 3, "strokes": [[[0, 0], "x"]]}\n', "line 2"),
    ('{"strokes": [[[0, 0], [100, 200]]]}\n', "missing the 'label'"),
    ('{"label": 3, "strokes": []}\n', "no digit"),
    ("not json\n", "not valid JSON"),
    ("\n\n", "no drawings"),
])
def test_a_bad_import_is_refused_whole(tmp_path, content, message):
    dataset = PersonalDataset()
    dataset.add(SEVEN, 7)
    before = dataset.path.read_bytes()
    bad = tmp_path / "bad.jsonl"
    bad.write_text(content)
    with pytest.raises(DigitsError, match=message):
        dataset.import_file(bad)
    assert dataset.path.read_bytes() == before
    with pytest.raises(DigitsError, match="not found"):
        dataset.import_file(tmp_path / "missing.jsonl")
