"""The window on a 1366 x 768 laptop (a classroom's usual screen), on a 1400 x 900 one, and at its narrowest."""
# ruff: noqa: F811 - the fixtures imported from gui_helpers are arguments of the tests below
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from gui_helpers import REPO, app_model, make_window, settings, tiny_data  # noqa: F401 - fixtures
from PySide6.QtCore import QSize
from PySide6.QtGui import QFont, QFontMetricsF
from PySide6.QtWidgets import QAbstractScrollArea

from gui.main_window import first_launch_size
from gui.prediction_panel import DIGIT_INK, DIGIT_PIXELS, PREVIEW_MIN, PREVIEW_SIDE, PredictedDigit
from gui.screenshots import spin
from model.progress import BatchProgress

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

LAPTOP = (1366, 700)  # 768 less a taskbar and a title bar
NARROW = (937, 700)  # the window's minimum width before the progress text took room from the bar


def _laid_out(window, width: int, height: int) -> None:
    """The window at this size with the docks as a first launch there puts them."""
    window.resize(width, height)
    spin(50)
    window.reset_layout()
    spin(100)
    assert (window.width(), window.height()) == (width, height)  # not held larger by its minimum


def _whole(widget) -> bool:
    """Shown, and not clipped by anything around it."""
    if isinstance(widget, QAbstractScrollArea):  # a plot: its viewport covers it, and is what shows
        widget = widget.viewport()
    return widget.isVisible() and widget.visibleRegion().boundingRect() == widget.rect()


def _key_widgets(window) -> dict:
    panel, training = window.prediction_panel, window.training_panel
    return {"canvas": window.canvas, "digit": panel.digit_label, "confidence": panel.confidence_label,
            "preview": panel.preview, "bars": panel.bars, "source": panel.source_label,
            "correction": window.insight.correction, "start": training.start_button, "stop": training.stop_button,
            "progress": training.progress, "loss plot": training.plots.loss_plot,
            "accuracy plot": training.plots.accuracy_plot}


def test_the_window_fits_a_1366_by_768_screen(make_window):
    minimum = make_window(wait_ready=False).minimumSizeHint()
    assert minimum.width() <= LAPTOP[0] and minimum.height() <= LAPTOP[1], minimum


def test_at_1366_by_700_everything_is_whole_and_the_digit_sits_beside_the_probabilities(make_window):
    window = make_window(wait_ready=False)
    _laid_out(window, *LAPTOP)
    panel = window.prediction_panel
    assert panel.side_by_side()  # the canvas is a square: the width beside it holds the probabilities
    assert panel.preview.side() >= PREVIEW_MIN and panel.digit_label.digit_pixels() >= PREVIEW_MIN
    assert panel.bars.height() >= 10 * panel.bars.min_row_height()  # ten rows of legible text
    writing = window.canvas.writing_box()
    assert min(writing.width(), writing.height()) >= 280  # big enough to draw on
    dock = window.training_dock
    assert dock.height() >= dock.minimumSizeHint().height()  # not collapsed
    assert window.training_panel.plots.height() >= 150
    clipped = [name for name, widget in _key_widgets(window).items() if not _whole(widget)]
    assert clipped == []


def test_at_1400_by_900_the_window_looks_as_before(make_window):
    window = make_window(wait_ready=False)
    _laid_out(window, 1400, 900)
    panel = window.prediction_panel
    assert not panel.side_by_side()  # the digit above the probabilities
    assert panel.digit_label.digit_pixels() == DIGIT_PIXELS and panel.preview.side() == PREVIEW_SIDE
    assert window.training_panel.plots.height() >= 150
    clipped = [name for name, widget in _key_widgets(window).items() if not _whole(widget)]
    assert clipped == []


def test_the_arrangement_follows_the_height_both_ways(make_window):
    window = make_window(wait_ready=False)
    panel = window.prediction_panel
    for size, side_by_side in (((1400, 900), False), (LAPTOP, True), ((1400, 900), False), ((1400, 1050), False)):
        _laid_out(window, *size)
        assert panel.side_by_side() == side_by_side, size
        assert panel.preview.side() == PREVIEW_SIDE and panel.digit_label.digit_pixels() == DIGIT_PIXELS, size
    window.training_dock.hide()
    window.resize(*LAPTOP)
    spin(100)
    assert panel.side_by_side()  # the other docks, tabbed with it, still take the bottom
    for dock in window.insight.docks.values():
        dock.hide()
    spin(100)
    assert not panel.side_by_side()  # no dock: the whole height for the canvas and the digit above


def test_a_short_digit_row_shrinks_the_digit_to_fit(qtbot):
    digit = PredictedDigit(QFont())
    qtbot.addWidget(digit)
    digit.show_digit("8")
    for height, expected in ((PREVIEW_SIDE, DIGIT_PIXELS), (PREVIEW_MIN, None)):
        digit.resize(200, height)
        digit.show()
        qtbot.waitExposed(digit)
        font = QFont(digit.font())
        font.setBold(True)
        font.setPixelSize(digit.digit_pixels())
        ink = QFontMetricsF(font).tightBoundingRect("0123456789").height()
        if expected is not None:
            assert digit.digit_pixels() == expected
        else:
            assert PREVIEW_MIN * 0.9 < digit.digit_pixels() < DIGIT_PIXELS
        assert ink <= DIGIT_INK * height + 1


def test_a_first_launch_sizes_the_window_to_the_screen():
    assert first_launch_size(QSize(1920, 1040)) == QSize(1320, 900)
    small = first_launch_size(QSize(1366, 728))  # 768 less a 40-pixel taskbar
    assert small.width() <= 1366 and small.height() <= 700


def test_a_first_launch_on_a_1366_by_768_screen_opens_whole(tmp_path):
    """A fresh process on a screen that small: the window, its docks and the digit as it opens."""
    seen = _window_in_process(tmp_path, _screen(tmp_path, 1366, 768), (
        "w.show(); spin(200)\n"
        "p, d = w.prediction_panel, w.training_dock\n"
        "print(json.dumps({'size': w.size().toTuple(), 'minimum': w.minimumSizeHint().toTuple(),"
        " 'dock': d.height(), 'dock_minimum': d.minimumSizeHint().height(), 'side_by_side': p.side_by_side(),"
        " 'preview': p.preview.side(), 'digit': p.digit_label.digit_pixels()}))"))
    assert seen["size"][1] <= 768 - 40 and seen["size"][0] <= 1366
    assert seen["minimum"][1] <= seen["size"][1]
    assert seen["dock"] >= seen["dock_minimum"]
    assert seen["side_by_side"] and seen["preview"] == PREVIEW_SIDE and seen["digit"] == DIGIT_PIXELS


def _ink_columns(widget, left: int, right: int) -> list[int]:
    """The columns in [left, right) of ``widget`` as painted that differ from its background at (2, middle)."""
    image = widget.grab().toImage()
    background = image.pixelColor(2, image.height() // 2)
    return [x for x in range(max(0, left), right)
            if any(image.pixelColor(x, y) != background for y in range(image.height()))]


@pytest.mark.parametrize("size", [NARROW, "minimum"])
def test_when_narrow_a_status_message_ends_at_a_word_short_of_the_model_label(make_window, size):
    """It was cut mid-letter where the label began: "...81.60% on MNModel: seed-...", the two run together."""
    window = make_window()  # the model loaded: its own "opened ..." message cannot replace the test's
    _laid_out(window, *(NARROW if size != "minimum" else (window.minimumSizeHint().width(), NARROW[1])))
    label, bar = window.model_label, window.statusBar()
    label.setText("Model: seed-20261129-092132 · seed · 81.60% test accuracy")  # as after a training run
    message = ("seed-20261129-092132: trained for 2 epoch(s), 81.60% test accuracy; "
               "saved to /home/someone/.local/share/digits/models/seed-20261129-092132.keras")
    bar.showMessage(message, 10_000)
    spin(50)
    gap = label.fontMetrics().horizontalAdvance("M")
    assert _ink_columns(bar, 0, 40), "no message painted"
    assert _ink_columns(bar, label.x() - gap, label.x()) == []  # a gap before the label
    shown = bar.shown_message()
    assert shown.endswith("…") and len(shown) < len(message)
    kept = shown[:-1]
    assert message.startswith(kept) and message[len(kept)] in " ,;:", shown  # at a word boundary
    assert bar.toolTip() == message  # the whole of it, on hovering

    _laid_out(window, 1400, 900)
    bar.showMessage("saved the plots to /tmp/plots.png", 10_000)
    spin(50)
    assert bar.shown_message() == "saved the plots to /tmp/plots.png" and bar.toolTip() == ""


def _renamed(model, folder, name: str, accuracy: float):
    """A copy of ``model`` whose metadata names it ``name``, a seed model of this ``accuracy``."""
    import zipfile

    from model.modelio import METADATA_ENTRY

    copy = folder / f"{name}.keras"
    with zipfile.ZipFile(model) as source, zipfile.ZipFile(copy, "w") as target:
        metadata = json.loads(source.read(METADATA_ENTRY)) if METADATA_ENTRY in source.namelist() else {}
        for info in source.infolist():
            if info.filename != METADATA_ENTRY:
                target.writestr(info, source.read(info))
        target.writestr(METADATA_ENTRY, json.dumps(dict(metadata, name=name, arch="seed", test_accuracy=accuracy)))
    return copy


LONG_NAME = "handwriting-cnn-from-the-course-site-trained-overnight-on-all-of-mnist-then-tuned-v2"  # an opened file's


@pytest.mark.parametrize("name", ["seed-20261129-094652", LONG_NAME])
@pytest.mark.parametrize("size", [NARROW, "minimum", (1400, 900)])
def test_the_model_label_shortens_to_fit_and_is_never_cut_mid_word(qtbot, make_window, app_model, tmp_path,
                                                                   size, name):
    """A QLabel asked for its whole text as its minimum: a long name held the window wider than it was
    made, and a window held narrower than that (a small or tiled screen) cut the label mid-word. It now
    gives up "Model: ", then the architecture and "test accuracy"; the whole text is the tooltip."""
    window = make_window()
    width, height = size if size != "minimum" else (window.minimumSizeHint().width(), NARROW[1])
    _laid_out(window, width, height)
    with qtbot.waitSignal(window.models.active_changed, timeout=30_000):
        window.open_model(_renamed(app_model, tmp_path, name, 0.93))
    spin(50)
    label = window.model_label
    full = f"Model: {name} · seed · 93.00% test accuracy"
    assert window.width() == width  # not held wider by the label
    assert label.text() == full and _whole(label)
    assert label.shown_text() in (full, f"{name} · seed · 93.00% test accuracy", f"{name} · 93.00%")
    assert label.toolTip() == full
    if size == (1400, 900):
        assert label.shown_text() == full
    if name == LONG_NAME and size != (1400, 900):
        assert label.shown_text() != full  # the case that was cut: it does not fit whole


def test_a_model_change_does_not_repeat_the_model_label_in_the_status_message(make_window):
    window = make_window()  # the model loaded at startup
    active, message = window.models.active, window.statusBar().currentMessage()
    assert window.model_label.text().startswith(f"Model: {active.name}")
    assert f"{active.test_accuracy:.2%}" not in message and active.arch not in message.split()
    assert message == f"opened {active.path.name} from {active.path.parent}"  # what the label does not say


@pytest.mark.parametrize(("size", "epoch", "epochs"), [(NARROW, 3, 4), ("minimum", 10, 12), ((1400, 900), 10, 12)])
def test_the_progress_text_keeps_the_epoch_in_view(make_window, size, epoch, epochs):
    """At the window's narrowest it read "epoch …"; the samples per second and the ETA give way first."""
    window = make_window(wait_ready=False)
    _laid_out(window, *(size if size != "minimum" else (window.minimumSizeHint().width(), NARROW[1])))
    panel = window.training_panel
    panel.stop_button.setEnabled(True)  # as while a run is under way
    panel._on_batch(BatchProgress(epoch, epochs, 5, 10, loss=0.3, accuracy=0.9,  # noqa: SLF001
                                  samples_per_second=1234.0, eta_seconds=75.0))
    spin(50)
    info = panel.info_label
    full = f"epoch {epoch}/{epochs} · 1,234 samples/s · ETA 1:15"
    assert info.text() == full
    assert f"epoch {epoch}/{epochs}" in info.shown_text() and "…" not in info.shown_text()
    if size == (1400, 900):
        assert info.shown_text() == full
    else:
        assert info.toolTip() == full  # the rest, on hovering
    assert _whole(panel.progress) and panel.progress.text().endswith("%")  # the bar that gave the room


def _screen(tmp_path, width: int, height: int):
    config = tmp_path / f"screen-{width}x{height}.json"
    config.write_text(json.dumps({"screens": [{"name": "s", "x": 0, "y": 0, "width": width, "height": height,
                                              "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1}]}))
    return config


def _window_in_process(tmp_path, screen, body: str) -> dict:
    """Build the window in a fresh process on ``screen`` with the settings in ``tmp_path``; run ``body``."""
    code = (
        "import json\n"
        "from PySide6.QtCore import QSettings\n"
        "from gui.app import build_window\n"
        "from gui.screenshots import spin\n"
        f"w = build_window(settings=QSettings({str(tmp_path / 'settings.ini')!r}, QSettings.Format.IniFormat),"
        " start=False)\n"
        f"{body}\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "QT_QPA_PLATFORM": f"offscreen:configfile={screen}"})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


def test_a_window_saved_on_a_larger_screen_opens_whole_on_a_smaller_one(tmp_path):
    """Saved at 1320 x 900 on a desktop monitor, then opened on a 1366 x 768 laptop: Qt shrank it to the
    window's minimum (924 x 666 under X11) or left it taller than the screen; it gets a first launch's size."""
    desktop, laptop = _screen(tmp_path, 1920, 1080), _screen(tmp_path, 1366, 768)
    saved = _window_in_process(tmp_path, desktop, (
        "w.show(); spin(100); w.resize(1320, 900); spin(100); w.close(); spin(100)\n"
        "print(json.dumps({'size': w.size().toTuple()}))"))
    assert saved["size"] == [1320, 900]
    seen = _window_in_process(tmp_path, laptop, (
        "w.show(); spin(200)\n"
        "seen = {'size': w.size().toTuple(), 'available': w.screen().availableGeometry().size().toTuple(),"
        " 'minimum': w.minimumSizeHint().toTuple()}\n"
        "w.close(); spin(100); print(json.dumps(seen))"))
    expected = first_launch_size(QSize(*seen["available"])).expandedTo(QSize(*seen["minimum"]))
    assert seen["size"] == list(expected.toTuple())

    # Back on the desktop, a size that fits is kept as it was saved.
    reopened = _window_in_process(tmp_path, desktop, "w.show(); spin(200); print(json.dumps(w.size().toTuple()))")
    assert reopened == seen["size"]
