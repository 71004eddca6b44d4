"""Regenerate the README's screenshots: ``python -m gui.screenshots docs/screenshots``.

Draws a real pen-tablet digit on the canvas with mouse events (the drawing
view), then a star, which the model should call "not a digit?" (the canvas
and the prediction only), then trains a network on an MNIST slice and
captures the window mid-run, with curves (the training view). Runs headless (``QT_QPA_PLATFORM=
offscreen``) or under Xvfb. Uses a throw-away data folder and settings file,
so the user's models and window layout are untouched.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def spin(ms: int) -> None:
    """Run the event loop for ``ms``. Not ``QTest.qWait``: it keeps the GIL while it sleeps, and
    starves the worker threads (TensorFlow's import in the inference thread took a minute)."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def _wait_until(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"screenshots: timed out waiting for {what}")
        spin(20)


def draw_strokes(canvas, strokes, width: float, height: float, delay_ms: int = 0) -> None:
    """Draw ``strokes`` (in a width x height box) on ``canvas`` with real mouse press, move and release events.

    The screenshots and the window's tests both draw this way; ``delay_ms`` lets the event loop run
    between moves, as a person's hand would.
    """
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest

    box = canvas.writing_box()
    scale = box.width() / max(width, height)
    for stroke in strokes:
        points = [QPoint(box.left() + round(p[0] * scale), box.top() + round(p[1] * scale)) for p in stroke]
        QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, points[0])
        for point in points[1:]:
            QTest.mouseMove(canvas, point)
            if delay_ms:
                spin(delay_ms)
        QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, points[-1])


def draw(window, strokes, width: float, height: float, delay_ms: int = 4) -> None:
    """Draw ``strokes`` on the window's canvas, a few milliseconds between moves."""
    draw_strokes(window.canvas, strokes, width, height, delay_ms)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gui.screenshots", description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--model", type=Path, help="model to show (default: the app's current or bundled one)")
    parser.add_argument("--strokes", type=Path, default=REPO / "tests" / "data" / "pendigits-sample.jsonl")
    parser.add_argument("--index", type=int, default=1, help="which drawing of the strokes file (default: 1)")
    parser.add_argument("--arch", default="seed", help="architecture trained in the training view")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--train-limit", type=int, default=8000, help="MNIST training images (default: 8000)")
    parser.add_argument("--capture-at", type=float, default=2.5, help="epochs done when captured (default 2.5)")
    parser.add_argument("--size", default="1400x900")
    parser.add_argument("--dark", action="store_true", help="dark palette; files get a -dark suffix")
    parser.add_argument("--compare", nargs="+", default=[], metavar="ARCH",
                        help="train these first (one epoch each) and overlay them on the training view, "
                             "as Compare with… does")
    args = parser.parse_args(argv)

    model_path = args.model.resolve() if args.model else None
    os.environ["DIGITS_HOME"] = tempfile.mkdtemp(prefix="digits-screenshots-")

    from gui.app import build_window
    from gui.style import use_dark_theme
    from model import paths
    from model.data import load_splits
    from model.strokes import read_drawings

    if model_path is not None:
        paths.set_active_model_path(model_path)
    drawing = read_drawings(args.strokes)[args.index]
    limit = args.train_limit

    def data_loader():
        return load_splits(notify=lambda m: None).head(limit, 2000, 2000)

    # With DIGITS_HOME set above, the window's settings go to that throw-away folder too.
    window = build_window(data_loader=data_loader, show_error=lambda m: print("error:", m))
    if args.dark:
        use_dark_theme(window._app)  # noqa: SLF001
    width, height = (int(v) for v in args.size.split("x"))
    window.resize(width, height)
    window.show()
    suffix = "-dark" if args.dark else ""
    args.outdir.mkdir(parents=True, exist_ok=True)

    _wait_until(lambda: window.models.state != "loading", 60, "the model")
    if window.models.state != "ready":
        raise SystemExit("screenshots: no model to show; pass --model FILE")
    from PySide6.QtWidgets import QDockWidget

    docks = [d for d in window.findChildren(QDockWidget) if d.isVisible()]
    for dock in docks:  # the drawing view: canvas and prediction only
        dock.hide()
    spin(300)  # let the canvas take the docks' place before drawing
    draw(window, drawing.strokes, drawing.width, drawing.height)
    _wait_until(lambda: window.last_shown is not None and window.last_shown.final
                and window.last_shown.revision == window.canvas.revision, 20, "the prediction")
    window.grab().save(str(args.outdir / f"drawing{suffix}.png"))
    print("wrote", args.outdir / f"drawing{suffix}.png")

    from benchmarks.not_digits import SHAPES  # the star the "not a digit" benchmark draws, in a 500x500 box

    window.canvas.clear()
    draw(window, SHAPES["star"], 500, 500)
    _wait_until(lambda: window.last_shown is not None and window.last_shown.final
                and window.last_shown.revision == window.canvas.revision, 20, "the star's prediction")
    if not window.last_shown.prediction.unfamiliar:
        print("screenshots: this model reads the star as a digit; not-a-digit.png shows that", file=sys.stderr)
    window.centralWidget().grab().save(str(args.outdir / f"not-a-digit{suffix}.png"))
    print("wrote", args.outdir / f"not-a-digit{suffix}.png")

    for dock in docks:
        dock.show()
    window.training_dock.raise_()  # in front of any dock tabbed with it
    panel = window.training_panel
    for arch in args.compare:  # earlier runs, trained as the window trains, then checked in Compare with…
        panel.arch_combo.setCurrentIndex(panel.arch_combo.findData(arch))
        panel.epochs_spin.setValue(1)
        panel.start()
        _wait_until(lambda: not panel.running, 900, f"the earlier {arch} run")
    for run_id in panel.compare_button.runs:
        panel.compare_button.set_shown(run_id, True)
    panel.arch_combo.setCurrentIndex(panel.arch_combo.findData(args.arch))
    panel.epochs_spin.setValue(args.epochs)
    position = {"at": 0.0}
    panel.batch_ended.connect(lambda p: position.__setitem__("at", p.position))
    panel.start()
    _wait_until(lambda: position["at"] >= args.capture_at or not panel.running, 900, "training")
    _wait_until(lambda: window.last_shown is not None and "epoch" in window.last_shown.source, 20,
                "a prediction with epoch weights")
    window.grab().save(str(args.outdir / f"training{suffix}.png"))
    print("wrote", args.outdir / f"training{suffix}.png")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
