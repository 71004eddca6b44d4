"""The user's own files: a damaged settings file, a read-only or full data folder.

A damaged state file gives the defaults, is reported once, and is kept aside. A data
folder that cannot be written gives one clear sentence and leaves everything as it was.
Root can write anywhere, so the real read-only cases run in a child process with the
capabilities that let root ignore file permissions dropped (or as a normal user).
"""
from __future__ import annotations

import ctypes
import errno
import json
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest
from conftest import REPO

from model import atomic, paths
from model.errors import DigitsError


@pytest.fixture
def notices(monkeypatch):
    """Collect what paths says about the user's files; fresh "already said" memory per test."""
    monkeypatch.setattr(paths, "_reported", set())
    monkeypatch.setattr(paths, "_pending", [])
    monkeypatch.setattr(paths, "_notifier", None)
    said: list[str] = []
    paths.set_notifier(said.append)
    return said


@pytest.mark.parametrize("content", [
    b"{\"active_model\": ", b"\x00\x01garbage\xff", b"[1, 2, 3]", b"", b"null", b"\xff\xfe{}",
    b"[" * 100_000,
], ids=["truncated", "binary", "a-list", "empty", "null", "utf16", "deep"])
def test_damaged_state_file_gives_defaults_says_so_once_and_keeps_a_copy(private_user_data, notices,
                                                                         trained_model_path, content):
    state = private_user_data / "state.json"
    state.write_bytes(content)
    assert paths.active_model_path() == paths.BUNDLED_MODEL
    assert paths.active_model_path() == paths.BUNDLED_MODEL
    assert len(notices) == 1, notices  # said once, not at every read
    assert str(state) in notices[0] and "default" in notices[0] and "\n" not in notices[0]
    kept = [p for p in private_user_data.iterdir() if p.name.startswith("state.json.damaged-")]
    assert len(kept) == 1 and kept[0].read_bytes() == content and kept[0].name in notices[0]
    # The app carries on: the next change writes a sound file, and the bad copy stays.
    paths.set_active_model_path(trained_model_path)
    assert paths.active_model_path() == trained_model_path.resolve()
    assert json.loads(state.read_text())["active_model"] == str(trained_model_path.resolve())
    assert kept[0].exists() and len(notices) == 1


def test_notices_before_the_window_exists_reach_it_later(private_user_data, monkeypatch, capsys):
    monkeypatch.setattr(paths, "_reported", set())
    monkeypatch.setattr(paths, "_pending", [])
    monkeypatch.setattr(paths, "_notifier", None)
    (private_user_data / "state.json").write_text("{oops")
    paths.active_model_path()  # at start-up, before any window: standard error
    assert "state.json" in capsys.readouterr().err
    shown: list[str] = []
    paths.set_notifier(shown.append)  # the window installs its message box
    assert len(shown) == 1 and "state.json" in shown[0]


def test_unreadable_state_file_gives_defaults_and_says_so_once(private_user_data, notices, monkeypatch):
    state = private_user_data / "state.json"
    state.write_text(json.dumps({"active_model": "/somewhere.keras"}))
    real = pathlib.Path.read_text

    def denied(self, *args, **kwargs):
        if self == state:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "read_text", denied)
    assert paths.active_model_path() == paths.BUNDLED_MODEL
    assert paths.active_model_path() == paths.BUNDLED_MODEL
    assert len(notices) == 1 and "cannot be read" in notices[0] and "Permission denied" in notices[0]
    assert state.exists()  # not ours to move: it may be fine once readable


def _failing(exc: OSError):
    def fail(*args, **kwargs):
        raise exc
    return fail


FOLDER_FAILURES = {
    "read-only": OSError(errno.EROFS, "Read-only file system"),
    "no-permission": PermissionError(errno.EACCES, "Permission denied"),
    "disk-full": OSError(errno.ENOSPC, "No space left on device"),
    "quota": OSError(errno.EDQUOT, "Disk quota exceeded"),
}


@pytest.mark.parametrize("failure", FOLDER_FAILURES, ids=list(FOLDER_FAILURES))
def test_state_cannot_be_written_clear_message_nothing_changed(private_user_data, trained_model_path, monkeypatch,
                                                               failure):
    paths.set_active_model_path(trained_model_path)
    before = (private_user_data / "state.json").read_bytes()
    monkeypatch.setattr(atomic.tempfile, "mkdtemp", _failing(FOLDER_FAILURES[failure]))
    with pytest.raises(DigitsError) as info:
        paths.set_active_model_path(None)
    message = str(info.value)
    assert message.startswith(str(private_user_data / "state.json")) and "cannot record" in message
    assert FOLDER_FAILURES[failure].strerror in message
    assert (private_user_data / "state.json").read_bytes() == before
    assert paths.active_model_path() == trained_model_path.resolve()


@pytest.mark.parametrize("failure", FOLDER_FAILURES, ids=list(FOLDER_FAILURES))
def test_model_cannot_be_saved_clear_message_old_file_and_model_kept(tmp_path, trained_model_path, monkeypatch,
                                                                     failure):
    from model.modelio import load_model, save_model

    loaded = load_model(trained_model_path)
    target = tmp_path / "models" / "mine.keras"
    save_model(loaded.model, target, loaded.metadata | {"name": "old"})
    real_replace = os.replace

    def replace(src, dst, **kwargs):  # the very last step fails: everything before it worked
        if pathlib.Path(dst) == target:
            raise FOLDER_FAILURES[failure]
        return real_replace(src, dst, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(DigitsError, match=f"^{target}: cannot save the model \\({FOLDER_FAILURES[failure].strerror}"):
        save_model(loaded.model, target, loaded.metadata | {"name": "new"})
    monkeypatch.setattr(os, "replace", real_replace)
    assert load_model(target).name == "old"
    assert [p.name for p in target.parent.iterdir()] == ["mine.keras"]  # no temporary file left behind
    # The trained model is still in memory and can be saved elsewhere.
    save_model(loaded.model, tmp_path / "elsewhere.keras", loaded.metadata | {"name": "new"})
    assert load_model(tmp_path / "elsewhere.keras").name == "new"


def test_full_disk_while_appending_a_line_keeps_the_file_whole(tmp_path, monkeypatch):
    path = tmp_path / "samples.jsonl"
    atomic.append_line_atomic(path, json.dumps({"n": 1}))
    real = pathlib.Path.write_bytes

    def half_then_full(self, data):
        real(self, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(pathlib.Path, "write_bytes", half_then_full)
    with pytest.raises(OSError, match="No space left"):
        atomic.append_line_atomic(path, json.dumps({"n": 2, "pad": "x" * 5000}))
    monkeypatch.setattr(pathlib.Path, "write_bytes", real)
    assert path.read_text() == '{"n": 1}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["samples.jsonl"]


def test_abandoned_temporary_folders_are_swept_only_when_their_writer_is_dead(tmp_path):
    dead = subprocess.Popen([sys.executable, "-S", "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".model.keras.{dead.pid}.abcd1234.tmp"
    alive = tmp_path / f".other.keras.{os.getppid()}.abcd1234.tmp"  # a live process may be writing it
    mine = tmp_path / f".third.keras.{os.getpid()}.abcd1234.tmp"
    unrelated = tmp_path / ".notes.tmp"
    for folder in (stale, alive, mine, unrelated):
        folder.mkdir()
        (folder / "half").write_bytes(b"partial")
    atomic.write_text_atomic(tmp_path / "state.json", "{}")
    left = sorted(p.name for p in tmp_path.iterdir())
    assert stale.name not in left
    assert {alive.name, mine.name, unrelated.name, "state.json"} == set(left)


def test_new_files_get_ordinary_permissions_and_replacements_keep_theirs(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    path = tmp_path / "shared.json"
    atomic.write_text_atomic(path, "{}")
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600: a teacher shares models
    path.chmod(0o640)
    atomic.write_text_atomic(path, "{\"a\": 1}")
    assert path.stat().st_mode & 0o777 == 0o640


# --- for real: a read-only folder and unreadable files, with root's override dropped ---------

_PR_CAPBSET_DROP, _CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH = 24, 1, 2


def _without_root_override():
    """preexec_fn: drop the capabilities that let root ignore permissions; exec then runs without them."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
        if libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) refused")


def _run_unprivileged(args, env=None, stdin=None):
    preexec = _without_root_override if os.geteuid() == 0 else None
    if preexec is not None and not sys.platform.startswith("linux"):
        pytest.skip("dropping root's file-permission override needs Linux capabilities")
    try:
        return subprocess.run(args, cwd=REPO, capture_output=True, text=True, env=env, input=stdin,
                              preexec_fn=preexec, timeout=120)
    except subprocess.SubprocessError as exc:
        if "prctl" in str(exc) or "preexec_fn" in str(exc):
            pytest.skip(f"cannot drop root's file-permission override here: {exc}")
        raise


@pytest.fixture
def locked_files(tmp_path, trained_model_path):
    """Files nobody may read, and a data folder nobody may write, holding a state file."""
    locked = {}
    for key, name, blob in (("model", "model.keras", trained_model_path.read_bytes()),
                            ("image", "digit.png", b"\x89PNG"), ("strokes", "drawings.jsonl", b'{"strokes": []}\n'),
                            ("data", "mnist.npz", b"PK")):
        path = tmp_path / name
        path.write_bytes(blob)
        path.chmod(0)
        locked[key] = path
    home = tmp_path / "home"
    home.mkdir()
    (home / "state.json").write_text(json.dumps({"active_model": str(trained_model_path)}))
    home.chmod(0o555)
    locked["home"] = home
    yield locked
    home.chmod(0o755)


def test_probe_permissions_really_apply(locked_files):
    probe = _run_unprivileged([sys.executable, "-c", f"open({str(locked_files['image'])!r}, 'rb')"])
    assert probe.returncode != 0 and "Permission denied" in probe.stderr


@pytest.mark.parametrize("args, name", [
    (["evaluate", "--model", "{model}"], "model"),
    (["predict", "{image}"], "image"),
    (["predict", "--strokes", "{strokes}"], "strokes"),
    (["train", "--data", "{data}", "--epochs", "1"], "data"),
], ids=["model", "image", "strokes", "data"])
def test_cli_refuses_unreadable_files_in_one_sentence(locked_files, args, name):
    argv = [a.format(**{k: str(v) for k, v in locked_files.items()}) for a in args]
    run = _run_unprivileged([sys.executable, "main.py", *argv])
    assert run.returncode == 1, run.stderr
    assert run.stderr.strip() == f"digits: {locked_files[name]}: permission denied."


SNIPPET = textwrap.dedent("""
    import json, sys
    from model import paths
    from model.errors import DigitsError
    from model.modelio import save_model
    print(json.dumps(str(paths.active_model_path())))
    for attempt in (lambda: paths.set_active_model_path(None),
                    lambda: save_model(object(), paths.user_models_dir() / "new.keras", {})):
        try:
            attempt()
            print(json.dumps("no error"))
        except DigitsError as exc:
            print(json.dumps(str(exc)))
    print(json.dumps("still running"))
""")


def test_read_only_data_folder_for_real(locked_files, trained_model_path):
    env = dict(os.environ, DIGITS_HOME=str(locked_files["home"]), PYTHONPATH=str(REPO))
    run = _run_unprivileged([sys.executable, "-c", SNIPPET], env=env)
    assert run.returncode == 0, run.stderr
    active, state_error, save_error, last = (json.loads(line) for line in run.stdout.splitlines())
    assert active == str(trained_model_path)  # reading still works
    home = locked_files["home"]
    assert state_error == f"{home / 'state.json'}: cannot record the current model (Permission denied)."
    assert save_error == f"{home / 'models' / 'new.keras'}: cannot save the model (Permission denied)."
    assert last == "still running"
    assert sorted(p.name for p in home.iterdir()) == ["state.json"]
