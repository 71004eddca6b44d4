from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import DATA, REPO, assert_probabilities
from PIL import Image

from model import paths
from model.modelio import load_model


def digits(*args, stdin: str | None = None, env_home=None):
    env = None
    if env_home is not None:
        import os

        env = dict(os.environ, DIGITS_HOME=str(env_home))
    return subprocess.run([sys.executable, "main.py", *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, input=stdin, env=env, timeout=300)


def test_train_json_saves_a_model_and_makes_it_current(private_user_data, tmp_path):
    out = tmp_path / "m.keras"
    run = digits("train", "--arch", "mlp", "--epochs", "1", "--limit", "2000", "--out", out, "--json")
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert {"test_accuracy", "train_seconds", "epochs", "arch", "samples_per_second"} <= set(summary)
    assert summary["arch"] == "mlp" and summary["epochs"] == 1 and summary["test_accuracy"] > 0.7
    assert load_model(out).arch == "mlp"
    assert paths.active_model_path() == out.resolve()
    assert "Traceback" not in run.stderr


def test_evaluate_json(trained_model_path):
    run = digits("evaluate", "--model", trained_model_path, "--json")
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert set(result) == {"accuracy", "loss", "calibrated_loss", "temperature"} and result["accuracy"] > 0.85
    # fast trains on smoothed labels: the raw network is under-confident, its calibration sharpens it
    assert result["temperature"] < 1 and result["calibrated_loss"] < result["loss"]
    text = digits("evaluate", "--model", trained_model_path)
    assert f"{result['calibrated_loss']:.4f} with its calibration" in text.stdout


def test_predict_strokes_one_line_per_drawing_in_order(trained_model_path):
    lines = (DATA / "pendigits-sample.jsonl").read_text().splitlines()
    blank = json.dumps({"strokes": []})
    stdin = "\n".join(lines + [blank]) + "\n"
    run = digits("predict", "--model", trained_model_path, "--strokes", "-", stdin=stdin)
    assert run.returncode == 0, run.stderr
    outputs = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(outputs) == len(lines) + 1
    assert outputs[-1]["digit"] is None
    for output in outputs[:-1]:
        assert_probabilities(output["probabilities"])
        assert output["digit"] == int(np.argmax(output["probabilities"]))
    labels = [json.loads(line)["label"] for line in lines]
    assert np.mean([o["digit"] == y for o, y in zip(outputs, labels)]) >= 0.5  # a small model, far above chance


def test_predict_images(trained_model_path, small_splits, tmp_path):
    files = []
    for i in range(3):
        image = Image.fromarray((255 - small_splits.x_test[i, ..., 0] * 255).astype(np.uint8)).resize((112, 112))
        files.append(tmp_path / f"{i}.png")
        image.save(files[-1])
    run = digits("predict", "--model", trained_model_path, *files)
    assert run.returncode == 0, run.stderr
    digits_found = [json.loads(line)["digit"] for line in run.stdout.splitlines()]
    assert len(digits_found) == 3 and sum(d == y for d, y in zip(digits_found, small_splits.y_test[:3])) >= 2


@pytest.mark.parametrize("args", [
    ["train", "--epochs", "0"], ["train", "--batch-size", "-3"], ["train", "--lr", "0"], ["train", "--lr", "1e6"],
    ["train", "--arch", "nope"], ["evaluate", "--bogus"],
])
def test_bad_arguments_exit_2_with_argparse_message(args):
    run = digits(*args)
    assert run.returncode == 2 and "usage:" in run.stderr and "Traceback" not in run.stderr


@pytest.mark.parametrize("args, needle", [
    (["predict", "--model", "{tmp}/missing.keras", "x.png"], "x.png: file not found"),
    (["predict", "--strokes", "{tmp}/s.jsonl"], "line 2"),
    (["evaluate", "--model", "{tmp}/junk.keras"], "not a Keras model file"),
    (["train", "--data", "{tmp}/junk.keras"], "truncated or corrupt"),
])
def test_runtime_failures_exit_1_with_one_line(tmp_path, args, needle):
    (tmp_path / "s.jsonl").write_text('{"strokes": []}\n{"strokes": [[[1, 2]]\n')
    (tmp_path / "junk.keras").write_text("junk")
    run = digits(*[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert run.returncode == 1, run.stderr
    assert needle in run.stderr and len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.stderr


def test_model_defaults_to_the_current_one(trained_model_path, private_user_data):
    paths.set_active_model_path(trained_model_path)
    run = digits("evaluate", "--json", env_home=private_user_data)
    direct = digits("evaluate", "--json", "--model", trained_model_path)
    assert run.returncode == 0 and json.loads(run.stdout) == json.loads(direct.stdout)


def test_evaluate_on_labelled_drawings(trained_model_path):
    run = digits("evaluate", "--model", trained_model_path, "--strokes", DATA / "pendigits-sample.jsonl", "--json")
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["count"] == 20 and 0.5 <= result["accuracy"] <= 1.0


def test_evaluate_drawings_needs_labels(tmp_path, trained_model_path):
    (tmp_path / "u.jsonl").write_text('{"strokes": [[[0, 0], [0, 50]]]}\n')
    run = digits("evaluate", "--model", trained_model_path, "--strokes", tmp_path / "u.jsonl")
    assert run.returncode == 1 and "needs a 'label'" in run.stderr


def test_batch_larger_than_the_data_is_a_usage_error():
    run = digits("train", "--batch-size", "5000", "--limit", "100")
    assert run.returncode == 2 and "usage: digits train" in run.stderr and "larger than the 100" in run.stderr
    assert "Traceback" not in run.stderr
