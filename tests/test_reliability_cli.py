"""The command line: bad arguments exit 2 with argparse's message; every runtime failure exits 1
with one sentence on standard error and no traceback; a diverging run keeps the current model.

Most cases call ``model.cli.run`` in this process (TensorFlow is already loaded here);
test_cli.py runs the real ``main.py`` for the main paths.
"""
from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
from conftest import REPO

from model import cli, paths
from model.modelio import load_model


def digits(argv, capsys):
    """Run the CLI in-process: (exit code, stdout, stderr)."""
    try:
        code = cli.run([str(a) for a in argv])
    except SystemExit as exc:  # argparse
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_sentence(err: str, needle: str) -> None:
    """One line from digits, one sentence; ``train`` may have printed its epoch lines before it."""
    lines = [line for line in err.strip().splitlines() if not line.startswith("epoch ")]
    assert len(lines) == 1, err
    assert lines[0].startswith("digits: ") and needle in lines[0], err
    assert lines[0].count(". ") == 0 and lines[0].endswith("."), err
    assert "Traceback" not in err


@pytest.mark.parametrize("argv", [
    ["train", "--seed", "-1"], ["train", "--seed", str(2**32)], ["train", "--seed", "x"],
    ["train", "--epochs", "1.5"], ["train", "--epochs", "-0"], ["train", "--batch-size", "0"],
    ["train", "--lr", "nan"], ["train", "--lr", "inf"], ["train", "--lr", "-0.01"], ["train", "--lr", "1e-400"],
    ["train", "--limit", "0"], ["finetune", "--samples", "s.jsonl", "--seed", "-5"],
    ["train", "--label-smoothing", "1"], ["train", "--label-smoothing", "-0.1"], ["train", "--label-smoothing", "nan"],
    ["predict", "--model"], ["frobnicate"],
])
def test_bad_arguments_exit_2_with_argparse_message(argv, capsys):
    code, out, err = digits(argv, capsys)
    assert code == 2 and "usage:" in err and "error:" in err and "Traceback" not in err
    assert out == ""


@pytest.fixture
def small_data(monkeypatch, small_splits):
    """``train`` on a few hundred images whatever --data says (MNIST itself is tested elsewhere)."""
    tiny = small_splits.head(256, 64, 64)
    monkeypatch.setattr("model.data.load_splits", lambda *args, **kwargs: tiny)
    return tiny


def test_a_diverging_run_stops_with_a_message_and_the_current_model_stays(monkeypatch, small_splits,
                                                                          trained_model_path, capsys):
    paths.set_active_model_path(trained_model_path)
    poisoned = small_splits.head(256, 32, 32)
    x = poisoned.x_train.copy()
    x[40] = np.nan  # poisons the weights in one step, as a learning rate far too high does
    bad = type(poisoned)(x, poisoned.y_train, poisoned.x_val, poisoned.y_val, poisoned.x_test, poisoned.y_test, "t")
    monkeypatch.setattr("model.data.load_splits", lambda *args, **kwargs: bad)
    code, out, err = digits(["train", "--arch", "mlp", "--epochs", "2", "--batch-size", "32"], capsys)
    assert code == 1 and out == ""
    assert_one_sentence(err, "the loss became NaN")
    assert paths.active_model_path() == trained_model_path.resolve()
    assert not paths.user_models_dir().exists() or not any(paths.user_models_dir().iterdir())


def test_read_only_data_folder_during_train_says_where_else_to_save(small_data, monkeypatch, trained_model_path,
                                                                    capsys, tmp_path):
    import errno

    from model import atomic

    paths.set_active_model_path(trained_model_path)
    real = atomic.tempfile.mkdtemp

    def read_only_home(*args, dir=None, **kwargs):
        if dir is not None and str(dir).startswith(str(paths.user_data_dir())):
            raise OSError(errno.EROFS, "Read-only file system", str(dir))
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(atomic.tempfile, "mkdtemp", read_only_home)
    code, out, err = digits(["train", "--arch", "mlp", "--epochs", "1"], capsys)
    assert code == 1
    assert_one_sentence(err, "cannot save the model (Read-only file system); train again with --out PATH")
    assert "--out" in err
    assert paths.active_model_path() == trained_model_path.resolve()
    # --out elsewhere works; only "make it current" fails, and that is a note, not a failure.
    out_path = tmp_path / "elsewhere.keras"
    code, out, err = digits(["train", "--arch", "mlp", "--epochs", "1", "--out", out_path, "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["model"] == str(out_path) and out_path.is_file()
    assert "cannot record the current model" in err and str(out_path) in err and "Traceback" not in err
    assert paths.active_model_path() == trained_model_path.resolve()


def test_training_with_no_test_images_prints_a_summary(monkeypatch, small_splits, capsys, tmp_path):
    monkeypatch.setattr("model.data.load_splits", lambda *args, **kwargs: small_splits.head(64, 16, 0))
    code, out, err = digits(["train", "--arch", "mlp", "--epochs", "1", "--out", tmp_path / "m.keras"], capsys)
    assert code == 0, err
    assert "no test images" in out and "Traceback" not in err


def _png_bomb(path):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0))
                     + chunk(b"IEND", b""))


@pytest.mark.parametrize("argv, make, needle", [
    (["predict", "{tmp}/empty.png"], lambda t: (t / "empty.png").write_bytes(b""), "not an image"),
    (["predict", "{tmp}/bomb.png"], lambda t: _png_bomb(t / "bomb.png"), "too large"),
    (["predict", "{tmp}"], lambda t: None, "is a folder"),
    (["predict", "--strokes", "{tmp}/deep.jsonl"], lambda t: (t / "deep.jsonl").write_text("[" * 100_000),
     "line 1: not valid JSON"),
    (["predict", "--strokes", "{tmp}/bin.jsonl"], lambda t: (t / "bin.jsonl").write_bytes(b"\x89PNG\xff\xfe"),
     "line 1: not UTF-8 text"),
    (["predict", "--strokes", "{tmp}"], lambda t: None, "is a folder"),
    (["predict", "--model", "{tmp}/m.h5", "--strokes", "{tmp}/ok.jsonl"],
     lambda t: ((t / "m.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64),
                (t / "ok.jsonl").write_text('{"strokes": []}\n')), "legacy HDF5"),
    (["evaluate", "--model", "{tmp}/m.keras"], lambda t: (t / "m.keras").write_bytes(b"PK\x03\x04" + b"\0" * 30),
     "not a Keras model file"),
    (["evaluate", "--model", "{model}", "--data", "{tmp}/idx"], lambda t: (t / "idx").mkdir(), "missing the IDX"),
    (["train", "--data", "{tmp}/x.npz"], lambda t: np.savez(t / "x.npz", x_train=np.zeros((3, 28, 28))),
     "missing arrays"),
    (["finetune", "--samples", "{tmp}/none.jsonl"], lambda t: None, "file not found"),
], ids=["empty-image", "image-bomb", "image-folder", "deep-json", "binary-strokes", "strokes-folder",
        "h5-model", "bad-zip-model", "idx-missing", "npz-names", "finetune-samples"])
def test_runtime_failures_exit_1_with_one_sentence(tmp_path, trained_model_path, capsys, argv, make, needle):
    make(tmp_path)
    code, out, err = digits([a.format(tmp=tmp_path, model=trained_model_path) for a in argv], capsys)
    assert code == 1, err
    assert_one_sentence(err, needle)
    assert out == ""


def test_non_utf8_standard_input_names_the_line(capsys, monkeypatch):
    raw = b'{"strokes": []}\n{"strokes": "\xff"}\n'
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8"))
    code, out, err = digits(["predict", "--strokes", "-"], capsys)
    assert code == 1
    assert_one_sentence(err, "standard input, line 2: not UTF-8 text")


def test_an_unexpected_error_is_still_one_line_unless_debugging(monkeypatch, capsys):
    def broken(args):
        raise RuntimeError("something nobody foresaw\nwith a second line")

    monkeypatch.setattr(cli, "cmd_predict", broken)
    code, out, err = digits(["predict", "x.png"], capsys)
    assert code == 1
    assert_one_sentence(err, "unexpected error (RuntimeError: something nobody foresaw)")
    monkeypatch.setenv("DIGITS_DEBUG", "1")
    with pytest.raises(RuntimeError):
        cli.run(["predict", "x.png"])


def test_os_errors_that_slip_through_are_one_line(monkeypatch, capsys):
    def failing(args):
        raise PermissionError(13, "Permission denied", "/some/where")

    monkeypatch.setattr(cli, "cmd_evaluate", failing)
    code, out, err = digits(["evaluate"], capsys)
    assert code == 1
    assert_one_sentence(err, "/some/where: Permission denied.")


def test_a_closed_pipe_ends_quietly(trained_model_path, monkeypatch, capsys, pendigits_samples):
    class ClosedPipe(io.StringIO):
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

    stdin = "\n".join(d.to_json() for d in pendigits_samples[:5]) + "\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    code = cli.run(["predict", "--model", str(trained_model_path), "--strokes", "-"])
    assert code == 1
    assert capsys.readouterr().err == ""


def test_main_py_failures_really_have_no_traceback(tmp_path):
    """The real entry point, on a failure that needs no TensorFlow: exit 1, one line."""
    (tmp_path / "s.jsonl").write_bytes(b'{"strokes": [[[1, 2]]]}\n' + b"[" * 100_000 + b"\n")
    run = subprocess.run([sys.executable, "main.py", "predict", "--strokes", str(tmp_path / "s.jsonl")], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr == f"digits: {tmp_path / 's.jsonl'}, line 2: not valid JSON (nested too deeply).\n"



def test_label_smoothing_reaches_the_run_and_its_saved_settings(small_data, capsys, tmp_path):
    out_path = tmp_path / "smoothed.keras"
    code, out, err = digits(["train", "--arch", "mlp", "--epochs", "1", "--label-smoothing", "0.05",
                             "--out", out_path, "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["config"]["label_smoothing"] == 0.05
    assert load_model(out_path).metadata["config"]["label_smoothing"] == 0.05
