"""Nothing lost: SIGKILL at random moments while a model is saved or a line is appended.

Each kill lands on a real writer process. To keep TensorFlow's import (seconds) out of
the loop, one helper process imports it once and forks a saver per kill; the helper
itself is never killed and checks every file after every kill, then reports.
"""
from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time

import pytest
from conftest import REPO

from model.modelio import load_model

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork() and SIGKILL")

KILLS = 20
TEMP = re.compile(r"^\..+\.(\d+)\.[A-Za-z0-9_]+\.tmp$")

SAVER = r"""
import json, os, random, signal, sys, time
from pathlib import Path

sys.path.insert(0, sys.argv[1])
folder, kills, seed = Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np
from model.backend import keras
from model.modelio import load_model, new_metadata, save_model

k = keras()
model = k.Sequential([k.Input((28, 28, 1)), k.layers.Flatten(), k.layers.Dense(10, activation="softmax")])
target = folder / "model.keras"


def stamp(n):  # every weight says which save it belongs to: a mixed file cannot pass for a whole one
    model.set_weights([np.full(w.shape, n, w.dtype) for w in model.get_weights()])
    return new_metadata("tiny", n=n)


def check(path):
    loaded = load_model(path)
    n = loaded.metadata["n"]
    assert all((w == n).all() for w in loaded.model.get_weights()), f"{path}: weights of mixed saves"
    return n


save_model(model, target, stamp(0))
rng = random.Random(seed)
report = []
for kill in range(kills):
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the saver: overwrite the model, and write brand-new files, until killed
        try:
            os.close(read_end)
            n = 1000 * (kill + 1)
            while True:
                n += 1
                path = target if n % 2 else folder / f"new-{n}.keras"
                save_model(model, path, stamp(n))
                os.write(write_end, b".")
        finally:
            os._exit(1)
    os.close(write_end)
    time.sleep(rng.uniform(0.0, 0.3))
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    saves = len(os.read(read_end, 1 << 16))
    os.close(read_end)
    entry = {"pid": pid, "saves": saves, "previous": check(target), "new": [], "hidden": [], "errors": []}
    for path in sorted(folder.glob("new-*.keras")):
        try:
            entry["new"].append(check(path))
        except Exception as exc:  # reported, not raised: the test shows every kill's outcome
            entry["errors"].append(f"{path.name}: {exc}")
        path.unlink()
    entry["hidden"] = sorted(p.name for p in folder.iterdir() if p.name.startswith("."))
    report.append(entry)
save_model(model, target, stamp(1))  # a later save in the folder sweeps what killed savers left
report.append({"final": check(target), "hidden": sorted(p.name for p in folder.iterdir() if p.name.startswith("."))})
print(json.dumps(report))
"""


def test_sigkill_during_model_save_never_loses_or_corrupts_a_model(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    seed = random.randrange(1 << 30)
    run = subprocess.run([sys.executable, "-c", SAVER, str(REPO), str(folder), str(KILLS), str(seed)],
                         capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    kills, final = report[:-1], report[-1]
    assert len(kills) == KILLS
    newest = 0
    for kill, entry in enumerate(kills):
        assert not entry["errors"], (seed, entry)  # a new file is complete, or it is not there
        # The model file always loads whole: the one before the kill, or a newer complete save.
        assert entry["previous"] >= newest, (seed, entry)
        if entry["saves"]:  # this saver's first save went to the model file
            assert entry["previous"] > 1000 * (kill + 1), (seed, entry)
        newest = entry["previous"]
        for name in entry["hidden"]:  # only a killed saver's temporary folders, never a *.keras file
            match = TEMP.match(name)
            assert match and not name.endswith(".keras"), (seed, name)
    assert sum(entry["saves"] for entry in kills) >= KILLS, "the savers hardly ran: the kills proved little"
    assert final["final"] == 1 and final["hidden"] == [], final
    assert load_model(folder / "model.keras").metadata["n"] == 1  # and this process reads it too
    assert [p.name for p in folder.iterdir()] == ["model.keras"]


APPENDER = r"""
import json, os, random, sys
sys.path.insert(0, sys.argv[1])
from model.atomic import append_line_atomic

path, n, rng = sys.argv[2], int(sys.argv[3]), random.Random(int(sys.argv[4]))
while True:
    n += 1
    pad = "x" * rng.randrange(0, 20000)
    append_line_atomic(path, json.dumps({"n": n, "pad": pad, "size": len(pad)}))
    os.write(1, b".")
"""


def _check_jsonl(path):
    text = path.read_bytes().decode("utf-8")
    assert text == "" or text.endswith("\n"), "a partial last line survived"
    numbers = []
    for number, line in enumerate(text.splitlines(), start=1):
        record = json.loads(line)  # every line is whole
        assert len(record["pad"]) == record["size"], f"line {number} is cut"
        numbers.append(record["n"])
    return numbers


def test_sigkill_during_jsonl_append_never_leaves_a_partial_line(tmp_path):
    path = tmp_path / "personal" / "samples.jsonl"
    rng = random.Random()
    seed = rng.randrange(1 << 30)
    expected = 0
    for kill in range(KILLS):
        # -S: no site packages, the appender needs only the standard library and model.atomic.
        child = subprocess.Popen([sys.executable, "-S", "-c", APPENDER, str(REPO), str(path), str(expected),
                                  str(seed + kill)], stdout=subprocess.PIPE)
        try:
            assert child.stdout.read(1) == b"."  # it is appending now
            time.sleep(rng.uniform(0.0, 0.08))
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.wait(10)
            child.stdout.close()
        numbers = _check_jsonl(path)
        assert numbers == list(range(1, len(numbers) + 1)), (seed, kill)  # none lost, none twice
        assert len(numbers) > expected, "the line it reported as written must be there"
        expected = len(numbers)
        for entry in path.parent.iterdir():
            assert entry == path or TEMP.match(entry.name), entry.name
    from model.atomic import append_line_atomic

    append_line_atomic(path, json.dumps({"n": expected + 1, "pad": "", "size": 0}))
    assert _check_jsonl(path) == list(range(1, expected + 2))
    assert [p.name for p in path.parent.iterdir()] == ["samples.jsonl"]  # leftovers swept by the next write
