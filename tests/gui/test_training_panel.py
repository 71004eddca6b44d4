"""Training from the window, on a few hundred MNIST images: progress, plots, the new model, Stop, close, errors."""
# ruff: noqa: F811 - the fixtures imported from gui_helpers are arguments of the tests below
from __future__ import annotations

import numpy as np
import pytest
from gui_helpers import SAMPLES, app_model, draw_strokes, make_window, settings, tiny_data, wait_for_prediction  # noqa: F401 - fixtures

from model import architectures, paths
from model.data import Splits
from model.errors import DigitsError
from model.strokes import read_drawings

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


def _set(panel, arch: str, epochs: int, batch_size: int) -> None:
    panel.arch_combo.setCurrentIndex(panel.arch_combo.findData(arch))
    panel.epochs_spin.setValue(epochs)
    panel.batch_spin.setValue(batch_size)


def test_recipe_fills_the_controls_within_valid_ranges(make_window):
    panel = make_window(wait_ready=False).training_panel
    for index in range(panel.arch_combo.count()):
        panel.arch_combo.setCurrentIndex(index)
        arch = architectures.get(panel.arch_combo.currentData())
        assert panel.epochs_spin.value() == arch.recipe.epochs
        assert panel.batch_spin.value() == arch.recipe.batch_size
        assert panel.lr_spin.value() == pytest.approx(arch.recipe.learning_rate)
        assert panel.augment_check.isChecked() == arch.recipe.augment
        assert f"{arch.params:,}" in panel.params_label.text() and panel.description.text() == arch.description
    panel.lr_spin.setValue(50.0)
    assert panel.lr_spin.value() == 1.0  # the spin box will not take what training would refuse
    panel.epochs_spin.setValue(0)
    assert panel.epochs_spin.value() == 1


def test_a_run_reports_progress_plots_it_and_swaps_in_the_new_model(qtbot, make_window, app_model):
    window = make_window()
    panel = window.training_panel
    sample = read_drawings(SAMPLES)[3]
    draw_strokes(window.canvas, sample.strokes, sample.width, sample.height)
    wait_for_prediction(qtbot, window)
    shown, batches, epochs = [], [], []
    window.prediction_shown.connect(shown.append)
    panel.batch_ended.connect(batches.append)
    panel.epoch_ended.connect(epochs.append)
    _set(panel, "fast", epochs=2, batch_size=32)

    with qtbot.waitSignal(panel.training_finished, timeout=120_000) as finished:
        panel.start_button.click()
        assert not panel.start_button.isEnabled() and panel.stop_button.isEnabled()
    outcome = finished.args[0]

    assert [e.epoch for e in epochs] == [1, 2] and len(batches) >= 2
    assert batches[-1].fraction_done == pytest.approx(1.0) and panel.progress.value() == 1000
    plots = panel.plots
    assert len(plots.curve_data("loss")[0]) == len(batches) and len(plots.curve_data("accuracy")[1]) == len(batches)
    assert list(plots.curve_data("val_loss")[0]) == [1.0, 2.0]  # validation at each epoch's end, x in epochs
    assert np.all(plots.curve_data("val_accuracy")[1] <= 100)
    # While it trained, the drawing was read with a copy of the last finished epoch's weights.
    assert any("weights after epoch" in s.source for s in shown)

    new = outcome.loaded
    assert new is not None and new.path.parent == paths.user_models_dir() and new.path.is_file()
    qtbot.waitUntil(lambda: window.models.active is not None and window.models.active.path == new.path,
                    timeout=30_000)
    assert paths.active_model_path() == new.path  # the CLI now uses it too, and so does the next launch
    assert new.name in window.model_label.text() and "test accuracy" in window.model_label.text()
    assert window.statusBar().currentMessage() == outcome.message  # the run's figures, not the label's again
    qtbot.waitUntil(lambda: window.last_shown.source.startswith(f"model: {new.name}"), timeout=20_000)
    qtbot.waitUntil(lambda: panel.start_button.isEnabled(), timeout=10_000)
    assert not panel.thread_running()

    assert window.restore_model_action.isEnabled()
    window.restore_model_action.trigger()  # back to the model from before the run
    qtbot.waitUntil(lambda: window.models.active.path == app_model, timeout=30_000)
    assert paths.active_model_path() == app_model
    window.restore_model_action.trigger()  # and forth: the trained one is now the previous one
    qtbot.waitUntil(lambda: window.models.active.path == new.path, timeout=30_000)
    if paths.BUNDLED_MODEL.is_file():
        window.reset_model_action.trigger()
        qtbot.waitUntil(lambda: window.models.active.path == paths.BUNDLED_MODEL, timeout=30_000)
        assert paths.active_model_path() == paths.BUNDLED_MODEL


def test_stop_ends_the_run_within_one_batch(qtbot, make_window, small_splits, app_model):
    window = make_window(data_loader=lambda: small_splits.head(2400, 100, 100))
    panel = window.training_panel
    _set(panel, "fast", epochs=3, batch_size=8)  # 300 batches an epoch: plenty left when Stop comes
    panel.batch_ended.connect(lambda p: panel.stop_button.click() if panel.stop_button.isEnabled() else None)
    with qtbot.waitSignal(panel.training_finished, timeout=120_000) as finished:
        panel.start_button.click()
    outcome = finished.args[0]
    assert outcome.batches_after_stop == 1  # the batch under way when Stop came, and not one more
    assert outcome.result.stopped and outcome.result.epochs_completed == 0
    assert outcome.loaded is None and "not kept" in outcome.message
    qtbot.waitUntil(lambda: panel.start_button.isEnabled(), timeout=10_000)
    assert not panel.stop_button.isEnabled() and not panel.thread_running()
    assert window.models.active.path == app_model and not list(paths.user_models_dir().glob("*.keras"))


def test_closing_during_training_stops_and_joins_the_thread(qtbot, make_window, small_splits):
    window = make_window(data_loader=lambda: small_splits.head(2400, 100, 100))
    panel = window.training_panel
    _set(panel, "fast", epochs=3, batch_size=8)
    with qtbot.waitSignal(panel.batch_ended, timeout=120_000):
        panel.start_button.click()
    assert panel.thread_running()
    window.close()
    assert not window.threads_running()  # joined, so no "QThread: Destroyed while thread is still running"
    assert not list(paths.user_models_dir().glob("*.keras"))  # an abandoned run is not saved


def _nan_data(small_splits) -> Splits:
    tiny = small_splits.head(64, 16, 16)
    x = tiny.x_train.copy()
    x[:] = np.nan
    return Splits(x, tiny.y_train, tiny.x_val, tiny.y_val, tiny.x_test, tiny.y_test, "nan.npz")


@pytest.mark.parametrize("problem", ["bad data file", "NaN loss"])
def test_training_errors_become_messages_and_the_controls_come_back(qtbot, make_window, small_splits, problem):
    def bad_file():
        raise DigitsError("/data/mnist.npz: not a readable .npz file (truncated or corrupt).")

    window = make_window(data_loader=bad_file if problem == "bad data file" else lambda: _nan_data(small_splits))
    panel = window.training_panel
    _set(panel, "mlp", epochs=1, batch_size=16)
    with qtbot.waitSignal(window.error_reported, timeout=120_000) as error:
        panel.start_button.click()
    assert ("mnist.npz" if problem == "bad data file" else "NaN") in error.args[0]
    assert window.errors == [error.args[0]]
    qtbot.waitUntil(lambda: panel.start_button.isEnabled(), timeout=10_000)
    assert panel.info_label.text() == "training failed" and window.models.state == "ready"


def test_tensorboard_option_writes_logs_in_the_data_folder(qtbot, make_window, private_user_data):
    window = make_window()
    panel = window.training_panel
    assert panel.tensorboard_check.isEnabled()  # the test extra installs tensorboard
    panel.tensorboard_check.setChecked(True)
    panel.epochs_spin.setValue(1)
    with qtbot.waitSignal(panel.training_finished, timeout=120_000):
        panel.start_button.click()
    assert list((private_user_data / "tensorboard").rglob("events.out.tfevents.*"))


def test_runs_in_one_window_share_one_copy_of_mnist():
    # Each run loading its own 220 MB copy left finished runs' copies waiting for the collector.
    from gui.training_worker import load_full_data

    first = load_full_data()
    assert load_full_data() is first and len(first.x_train) == 55_000


def test_memory_is_returned_after_a_run_including_reference_cycles():
    # A run's models and traced graphs are cycles; left to the collector's occasional full pass,
    # the window's memory between runs rose by up to 170 MB and fell back (benchmarks/soak).
    import weakref

    from gui.training_worker import return_freed_memory

    class Node:
        pass

    node = Node()
    node.self = node
    alive = weakref.ref(node)
    del node
    return_freed_memory()
    assert alive() is None
