"""The window under stress: closing mid-training, frantic Start/Stop, damaged settings, a read-only
data folder, a diverging run, bad files. Real Keras models on tiny MNIST slices; nothing mocked
but the one OS failure root cannot get for real (a read-only folder)."""
from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO

from model import paths
from model.data import Splits

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


@pytest.fixture
def settings_file(tmp_path) -> Path:
    return tmp_path / "settings.ini"


@pytest.fixture
def make_window(qtbot, settings_file, small_splits):
    """Build and show a window on a private settings file and 320 training images; always shut down."""
    from PySide6.QtCore import QSettings

    from gui.app import build_window

    windows = []

    def make(data_loader=None, wait_ready: bool = True):
        errors: list[str] = []
        window = build_window(settings=QSettings(str(settings_file), QSettings.Format.IniFormat),
                              data_loader=data_loader or (lambda: small_splits.head(320, 100, 100)),
                              show_error=errors.append)
        window.errors = errors
        qtbot.addWidget(window)
        windows.append(window)
        window.show()
        if wait_ready:
            qtbot.waitUntil(lambda: window.models.state == "ready", timeout=60_000)
        return window

    yield make
    for window in windows:
        window.close()
        assert not window.threads_running(), "a worker thread outlived its window"


def _set(panel, arch: str = "mlp", epochs: int = 1, batch_size: int = 32) -> None:
    panel.arch_combo.setCurrentIndex(panel.arch_combo.findData(arch))
    panel.epochs_spin.setValue(epochs)
    panel.batch_spin.setValue(batch_size)


# --- no hangs: closing during training ---------------------------------------------------------

DRIVER = textwrap.dedent("""
    import gc, json, os, sys, threading, time
    from PySide6.QtCore import QEventLoop, QSettings, QTimer
    from PySide6.QtWidgets import QApplication
    from gui.app import build_window, run_app
    from gui.main_window import MainWindow
    from model.data import load_splits

    loops, settings = int(sys.argv[1]), sys.argv[2]
    data = load_splits(notify=lambda m: None).head(2400, 50, 50)  # 300 batches of 8: never done before close
    app = QApplication.instance() or QApplication([])

    def configure(window):
        panel = window.training_panel
        panel.arch_combo.setCurrentIndex(panel.arch_combo.findData("mlp"))
        panel.epochs_spin.setValue(3)
        panel.batch_spin.setValue(8)
        return panel

    baseline = None
    for n in range(loops):
        # Every sixth window also loads the model in its inference thread: more to shut down, slower.
        window = build_window(settings=QSettings(settings, QSettings.Format.IniFormat), data_loader=lambda: data,
                              show_error=lambda m: None, start=n % 6 == 0)
        panel = configure(window)
        loop = QEventLoop()
        panel.batch_ended.connect(loop.quit)
        QTimer.singleShot(60_000, loop.quit)
        panel.start_button.click()
        loop.exec()
        batches = len(panel.plots.curve_data("loss")[0])
        began = time.monotonic()
        window.close()
        took = time.monotonic() - began
        # Python's own threads (a QThread that ran Python code stays listed as a "dummy" thread, dead or not)
        # and the process's threads as the kernel counts them.
        counts = (sum(not isinstance(t, threading._DummyThread) for t in threading.enumerate()),
                  len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else 0)
        if baseline is None:
            baseline = counts
        # Threads TensorFlow made during a run live until Python's cyclic collector frees the run's objects;
        # collecting here (every thread of the window has been joined: none builds a model) shows what stays.
        collected = None
        if n in (0, loops // 2, loops - 1) and os.path.isdir("/proc/self/task"):
            gc.collect()
            collected = {}
            for task in os.listdir("/proc/self/task"):
                try:
                    with open(f"/proc/self/task/{task}/comm") as comm:
                        name = comm.read().strip()
                except OSError:  # it ended meanwhile
                    continue
                collected[name] = collected.get(name, 0) + 1
        print(json.dumps({"window": n, "batches": batches, "close_s": took, "threads_left": window.threads_running(),
                          "training_thread": panel.thread is not None, "threads": counts,
                          "baseline": baseline, "after_collection": collected}), flush=True)

    def last_window():  # the window run_app made: start training, close it at the first batch
        window = [w for w in app.topLevelWidgets() if isinstance(w, MainWindow) and not w._closed][-1]
        panel = configure(window)

        def first_batch(_progress):
            panel.batch_ended.disconnect(first_batch)
            print(json.dumps({"closing": time.monotonic()}), flush=True)
            window.close()

        panel.batch_ended.connect(first_batch)
        # Start once the model has loaded: this is the close during training; closing while the model
        # still loads is test_closing_the_app_while_the_model_loads.
        poll = QTimer(window)
        poll.timeout.connect(lambda: window.models.state == "loading" or (poll.stop(), panel.start_button.click()))
        poll.start(50)

    QTimer.singleShot(0, last_window)
    sys.exit(run_app(settings=QSettings(settings, QSettings.Format.IniFormat), data_loader=lambda: data))
""")


def _run_driver(loops: int, tmp_path: Path) -> tuple[list[dict], float, str]:
    """Run the driver; its windows' JSON lines, the seconds from its last window's close to its exit, its stderr."""
    lines, exit_s, stderr = _run_script(DRIVER, [str(loops), str(tmp_path / "settings.ini")], tmp_path)
    return [line for line in lines if "window" in line], exit_s, stderr


def _run_script(script: str, args: list[str], tmp_path: Path) -> tuple[list[dict], float, str]:
    """Run ``script`` in a fresh process; its JSON lines, the seconds from its one "closing" line to its exit
    (exit code 0 asserted), its stderr."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO),
               DIGITS_HOME=str(tmp_path / "home"), XDG_CONFIG_HOME=str(tmp_path / "config"))
    process = subprocess.Popen([sys.executable, "-c", script, *args], cwd=REPO,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stderr: list[str] = []
    drain = threading.Thread(target=lambda: stderr.extend(process.stderr), daemon=True)
    drain.start()
    lines = []
    try:
        for line in process.stdout:  # ends when the process closes its output: at exit
            lines.append(json.loads(line))
        rc = process.wait(timeout=10)
        exited = time.monotonic()
    finally:
        if process.poll() is None:
            process.kill()
    drain.join(5)
    text = "".join(stderr)
    assert rc == 0, text[-3000:]
    closing = [line["closing"] for line in lines if "closing" in line]
    assert len(closing) == 1, (lines, text[-3000:])
    return lines, exited - closing[0], text


def test_closing_the_window_during_training_20_times(tmp_path):
    """18 windows closed mid-run in one process, the app closed mid-run at its end and in a fresh process: 20."""
    windows, exit_s, stderr = _run_driver(18, tmp_path)  # 18 windows, then run_app's window, exiting the process
    _, exit_s_2, stderr_2 = _run_driver(0, tmp_path / "second")  # one more, TensorFlow imported for it alone
    assert len(windows) == 18
    for report in windows:
        assert report["batches"] >= 1  # closed while training, not after
        assert report["close_s"] < 2.0, report
        assert not report["threads_left"] and not report["training_thread"], report
        assert report["threads"][0] <= report["baseline"][0], report  # nothing piles up window after window
    # The kernel's count of the process's threads ("threads"[1]) goes up and down between 9 and 16 with no trend
    # (40 windows in one process: 10, 12, 11, 12, 13, 14, 11, ... 14, 11). Names (/proc/self/task/*/comm; a thread
    # inherits its maker's) and stacks (gdb) say what climbs: each training run leaves one TensorFlow (Eigen)
    # thread-pool thread named "training", freed with the run's objects when Python's cyclic collector gets to
    # them; a generation-2 collection every few windows ends the lot (the drops). After a full collection the
    # count is the same, 8, at the first window, halfway and at the end: the main thread, OpenBLAS's, TensorFlow's
    # two pools (2 threads each on 2 cores), its graph runner and tf.data's memory logger. So the assertion: after
    # a collection nothing stays. A thread kept per window, per run or per model load would add 2 to 17 here.
    if os.path.isdir("/proc/self/task"):  # Linux
        checkpoints = [report for report in windows if report["after_collection"] is not None]
        assert [report["window"] for report in checkpoints] == [0, 9, 17]
        first = sum(checkpoints[0]["after_collection"].values())
        for report in checkpoints[1:]:
            assert sum(report["after_collection"].values()) <= first + 1, [r["after_collection"] for r in checkpoints]
    for seconds in (exit_s, exit_s_2):
        assert seconds < 2.0, (exit_s, exit_s_2)
    for text in (stderr, stderr_2):
        assert "QThread" not in text and "Traceback" not in text, text[-3000:]


# --- no hangs: closing while the model loads ----------------------------------------------------

LOADING_DRIVER = textwrap.dedent("""
    import json, sys, time
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication
    from gui.app import run_app
    from gui.main_window import MainWindow
    from gui.threads import model_build_lock
    from model import backend
    from model.data import load_splits

    stage, settings = sys.argv[1], sys.argv[2]
    data = load_splits(notify=lambda m: None).head(2400, 50, 50)
    app = QApplication.instance() or QApplication([])

    def watch():
        window = [w for w in app.topLevelWidgets() if isinstance(w, MainWindow)][-1]
        panel = window.training_panel
        window.canvas.set_brush_size(27)  # a setting the close must save
        poll = QTimer(window)

        def tick():
            if not window.inference.running:  # run_app starts it (and the model's load) once the window is up
                return
            if stage == "training":  # Start pressed at once: the run waits for TensorFlow's import
                if not panel.running:
                    panel.arch_combo.setCurrentIndex(panel.arch_combo.findData("mlp"))
                    panel.start_button.click()
                if panel.info_label.text() != "starting TensorFlow...":
                    return
            if stage == "building":  # TensorFlow imported, the model not yet built
                if not backend.is_loaded():
                    return
                # Take the build lock as a training run does while it traces its first step: the inference
                # thread then loads the model after it, not before the close.
                model_build_lock.acquire(blocking=False)
            poll.stop()
            print(json.dumps({"closing": time.monotonic(), "state": window.models.state,
                              "keras": backend.is_loaded(), "training": panel.running}), flush=True)
            window.close()

        poll.timeout.connect(tick)
        poll.start(5)

    QTimer.singleShot(0, watch)
    sys.exit(run_app(settings=QSettings(settings, QSettings.Format.IniFormat), data_loader=lambda: data))
""")


@pytest.mark.parametrize("stage", ["importing", "building", "training"])
def test_closing_the_app_while_the_model_loads(tmp_path, stage):
    """The app closed at start-up, while the inference thread imports TensorFlow or loads the model (and, in
    "training", while a run just started waits for the import), exits within 2 s, cleanly, settings saved."""
    from PySide6.QtCore import QSettings

    settings = tmp_path / "settings.ini"
    lines, exit_s, stderr = _run_script(LOADING_DRIVER, [stage, str(settings)], tmp_path)
    closing = next(line for line in lines if "closing" in line)
    assert closing["state"] == "loading", closing  # closed before the model was ready
    assert closing["keras"] is (stage == "building") and closing["training"] is (stage == "training"), closing
    assert exit_s < 2.0, exit_s
    alarming = [line for line in stderr.splitlines() if "propagateSizeHints" not in line]
    assert alarming == [], stderr[-3000:]  # no "QThread: Destroyed while thread is still running", no traceback
    assert float(QSettings(str(settings), QSettings.Format.IniFormat).value("canvas/brushSize")) == 27
    assert not list((tmp_path / "home").glob("models/*.keras"))  # the abandoned run kept nothing


def test_a_start_after_the_close_starts_no_thread(qtbot, settings_file):
    """run_app starts the model's load 150 ms after showing the window: closed before that, nothing starts."""
    from PySide6.QtCore import QSettings

    from gui.app import build_window

    window = build_window(settings=QSettings(str(settings_file), QSettings.Format.IniFormat), show_error=print,
                          start=False)
    qtbot.addWidget(window)
    window.show()
    window.close()
    window.start()
    assert not window.threads_running()


# --- no hangs: Start, Stop, Start --------------------------------------------------------------

def test_rapid_start_stop_start_never_runs_two_trainings(qtbot, make_window, monkeypatch, small_splits):
    from gui.training_worker import TrainingWorker

    live, most, runs = [0], [0], [0]
    lock = threading.Lock()
    real_run = TrainingWorker.run

    def counted(self):  # counts runs in progress: the real run does all the work
        with lock:
            live[0] += 1
            runs[0] += 1
            most[0] = max(most[0], live[0])
        try:
            real_run(self)
        finally:
            with lock:
                live[0] -= 1

    monkeypatch.setattr(TrainingWorker, "run", counted)
    window = make_window(data_loader=lambda: small_splits.head(640, 50, 50))
    panel = window.training_panel
    _set(panel, "mlp", epochs=1, batch_size=8)
    started, ended = [], []
    panel.training_started.connect(started.append)
    panel.training_finished.connect(ended.append)
    panel.training_failed.connect(ended.append)
    from PySide6.QtCore import Qt

    for _round in range(4):
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
        qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)  # disabled until the thread has ended
        panel.start()  # and the slot itself refuses while a run's thread lives (a shortcut, a double click)
        qtbot.wait(20)
        assert most[0] <= 1
        qtbot.waitUntil(lambda: not panel.running, timeout=60_000)
    with qtbot.waitSignal(panel.training_finished, timeout=60_000) as finished:
        panel.start_button.click()
    assert most[0] == 1 and runs[0] == len(started) == 5 and len(ended) == 5
    assert finished.args[0].loaded is not None  # the last run was not stopped: a new model
    qtbot.waitUntil(lambda: window.models.active.path == finished.args[0].loaded.path, timeout=30_000)
    qtbot.waitUntil(lambda: panel.start_button.isEnabled(), timeout=10_000)
    assert not panel.stop_button.isEnabled() and not panel.thread_running() and window.models.state == "ready"
    assert window.errors == []


def test_an_unforeseen_training_failure_is_one_sentence_and_its_traceback_is_kept(qtbot, make_window,
                                                                                  private_user_data):
    def unreadable_training_data():
        raise RuntimeError("the disk went away")

    window = make_window(data_loader=unreadable_training_data)
    panel = window.training_panel
    _set(panel, "mlp")
    with qtbot.waitSignal(panel.training_failed, timeout=60_000) as failed:
        panel.start_button.click()
    message, log = failed.args[0], private_user_data / "errors.log"
    assert message == f"Training failed: RuntimeError: the disk went away. The details are in {log}."
    text = log.read_text(encoding="utf-8")
    assert " training\n" in text and "in unreadable_training_data" in text
    qtbot.waitUntil(lambda: not panel.running and panel.start_button.isEnabled(), timeout=30_000)
    assert window.models.state == "ready"  # the app and its model carry on


# --- nothing lost: damaged settings and state -------------------------------------------------

@pytest.mark.parametrize("content", [
    b"[window]\ngeometry=@ByteArray(\\xff\nstate=@Variant(\\0\\0\\0\\x7f\n[canvas\nbrushSize=@Size(\n",
    b"\x00\x01\xff\xfe garbage [[[ = \n=\n",
], ids=["broken-ini", "binary"])
def test_damaged_settings_and_state_give_defaults_say_so_once_and_keep_copies(qtbot, make_window, settings_file,
                                                                              private_user_data, content):
    from PySide6.QtCore import QSettings

    from gui.canvas import DEFAULT_BRUSH

    settings_file.write_bytes(content)
    state = private_user_data / "state.json"
    state.write_bytes(b'{"active_model": ')
    runs = private_user_data / "runs"
    runs.mkdir()
    (runs / "fast-20240101-000000.json").write_bytes(b"\x00 half a run")
    window = make_window()
    assert len(window.errors) == 2, window.errors  # one sentence per damaged file, once
    settings_notice, state_notice = sorted(window.errors, key=lambda m: "state.json" in m)
    assert settings_notice.startswith(str(settings_file)) and "default settings" in settings_notice
    assert state_notice.startswith(str(state)) and "default settings" in state_notice
    for notice, original in ((settings_notice, settings_file), (state_notice, state)):
        kept = [p for p in original.parent.iterdir() if p.name.startswith(original.name + ".damaged-")]
        assert len(kept) == 1 and kept[0].name in notice and "\n" not in notice
    assert [p for p in settings_file.parent.iterdir() if ".damaged-" in p.name][0].read_bytes() == content
    assert window.canvas.brush_size() == DEFAULT_BRUSH
    assert window.models.active.path == paths.BUNDLED_MODEL  # the state's default
    window.canvas.set_brush_size(30)
    window.close()
    reread = QSettings(str(settings_file), QSettings.Format.IniFormat)
    assert reread.status() == QSettings.Status.NoError and float(reread.value("canvas/brushSize")) == 30
    again = make_window(wait_ready=False)
    assert again.errors == [] and again.canvas.brush_size() == 30  # said once: the next start is quiet


# --- nothing lost: a read-only data folder ----------------------------------------------------

@pytest.fixture
def read_only_data_folder(private_user_data, monkeypatch):
    """The user data folder refuses writes: for real when not root, else the OS error root never gets."""
    if os.geteuid() != 0:
        private_user_data.chmod(0o555)
        yield private_user_data
        private_user_data.chmod(0o755)
        return
    import tempfile

    from model import atomic

    real = tempfile.mkdtemp

    def mkdtemp(*args, dir=None, **kwargs):  # noqa: A002 - tempfile's own name
        if dir is not None and Path(dir).resolve().is_relative_to(private_user_data.resolve()):
            raise OSError(errno.EROFS, "Read-only file system", str(dir))
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(atomic.tempfile, "mkdtemp", mkdtemp)
    monkeypatch.setattr(Path, "mkdir", _refusing_mkdir(Path.mkdir, private_user_data))
    yield private_user_data


def _refusing_mkdir(real, root: Path):
    def mkdir(self, *args, **kwargs):
        if self.resolve().is_relative_to(root.resolve()) and not self.exists():
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        return real(self, *args, **kwargs)
    return mkdir


def test_read_only_data_folder_keeps_the_trained_model_in_memory_and_saves_it_elsewhere(
        qtbot, make_window, read_only_data_folder, tmp_path):
    from model.modelio import load_model

    window = make_window()
    before = window.models.active
    panel = window.training_panel
    _set(panel, "mlp", epochs=1, batch_size=32)
    with qtbot.waitSignal(window.error_reported, timeout=120_000) as error:
        panel.start_button.click()
    message = error.args[0]
    assert message.startswith(str(paths.user_models_dir())) and "cannot save the model" in message
    assert "Save model as" in message and "\n" not in message
    qtbot.waitUntil(lambda: window.models.active is not before, timeout=30_000)
    trained = window.models.active
    assert trained.path is None and trained.arch == "mlp" and trained.name in window.model_label.text()
    assert window.errors == [message]  # one message; the unsaved model is not recorded as the current one
    assert paths.active_model_path() == before.path
    qtbot.waitUntil(lambda: panel.start_button.isEnabled(), timeout=10_000)
    assert window.isVisible() and window.save_model_action.isEnabled()

    elsewhere = tmp_path / "kept"
    window.save_model_as(elsewhere)  # what File > Save model as does with the chosen name
    saved = load_model(elsewhere.with_suffix(".keras"))
    assert saved.arch == "mlp" and saved.name == "kept" and window.errors == [message]
    x = np.random.default_rng(0).random((4, 28, 28, 1), dtype=np.float32)
    np.testing.assert_allclose(saved.model(x), trained.model(x), atol=1e-6)  # the same weights


# --- a diverging run ---------------------------------------------------------------------------

def test_a_nan_pixel_stops_the_run_with_a_message_and_the_previous_model_stays(qtbot, make_window, small_splits):
    tiny = small_splits.head(320, 50, 50)
    x = tiny.x_train.copy()
    x[7, 14, 14, 0] = np.nan  # one pixel of one image
    data = Splits(x, tiny.y_train, tiny.x_val, tiny.y_val, tiny.x_test, tiny.y_test, "nan-pixel.npz")
    window = make_window(data_loader=lambda: data)
    before = window.models.active
    panel = window.training_panel
    _set(panel, "mlp", epochs=2, batch_size=32)
    with qtbot.waitSignal(window.error_reported, timeout=120_000) as error:
        panel.start_button.click()
    assert "NaN" in error.args[0] and "\n" not in error.args[0] and window.errors == [error.args[0]]
    qtbot.waitUntil(lambda: panel.start_button.isEnabled(), timeout=10_000)
    assert window.models.active is before and window.models.state == "ready"
    assert paths.active_model_path() == before.path and not list(paths.user_models_dir().glob("*.keras"))
    assert window.model_label.text().startswith(f"Model: {before.name}")


# --- bad files from the window ------------------------------------------------------------------

def _lambda_model(path: Path, marker: Path) -> None:
    """The bundled model with its first Dense activation replaced by code that would write ``marker``."""
    with zipfile.ZipFile(paths.BUNDLED_MODEL) as source, zipfile.ZipFile(path, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "config.json":
                config = json.loads(data)
                dense = next(layer for layer in config["config"]["layers"] if layer["class_name"] == "Dense")
                dense["config"]["activation"] = {"class_name": "__lambda__", "config": {
                    "code": f"open({str(marker)!r}, 'w')", "defaults": None, "closure": None}}
                data = json.dumps(config).encode()
            target.writestr(item, data)


@pytest.mark.parametrize("kind", ["lambda-model", "truncated-model", "text-as-image", "empty-image"])
def test_bad_files_from_the_menu_give_one_sentence_and_keep_the_state(qtbot, make_window, tmp_path, kind):
    marker = tmp_path / "pwned"
    if kind == "lambda-model":
        bad = tmp_path / "evil.keras"
        _lambda_model(bad, marker)
    elif kind == "truncated-model":
        bad = tmp_path / "half.keras"
        blob = paths.BUNDLED_MODEL.read_bytes()
        bad.write_bytes(blob[: len(blob) // 2])
    elif kind == "text-as-image":
        bad = tmp_path / "notes.png"
        bad.write_text("these are notes, not a picture\n")
    else:
        bad = tmp_path / "empty.png"
        bad.write_bytes(b"")
    window = make_window()
    before = window.models.active
    window.canvas.set_brush_size(21)
    revision = window.canvas.revision
    with qtbot.waitSignal(window.error_reported, timeout=30_000) as error:
        (window.open_model if kind.endswith("model") else window.open_image)(bad)
    message = error.args[0]
    assert bad.name in message and "\n" not in message and "Traceback" not in message
    assert window.errors == [message]
    qtbot.wait(200)  # a late second message would show here
    assert window.errors == [message]
    assert window.models.active is before and paths.active_model_path() == before.path
    assert window.canvas.revision == revision and not window.canvas.has_image
    assert not marker.exists()  # the Lambda's code never ran
