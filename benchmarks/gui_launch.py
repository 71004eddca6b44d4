"""Launch to window visible, and launch to first prediction, of the real app (``gui.app.run_app``), offscreen.

Each repetition is a fresh process. The clock starts in the parent just
before the process is spawned (so Python's own start-up counts, as it does
for a user). The child installs an event filter, then calls ``run_app()``
exactly as ``digits`` does. "Visible": the first paint of the main window.
"Model ready": the window's model manager reports ``ready`` (model loaded and
its predictor traced in the inference thread). "First prediction": a
pendigits drawing is played onto the canvas with mouse events as soon as the
model is ready, and the clock stops when the window shows its prediction.
"""
from __future__ import annotations

import json
import sys
import time

from benchmarks.common import (
    BUNDLED_MODEL,
    Figure,
    app_env,
    fig_from_samples,
    last_json_line,
    log,
    main,
    not_measured,
    run_child,
)


def child(t_spawn: float) -> None:
    t_child = time.time()
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QApplication

    from benchmarks._gui import StrokePlayer, find, sample_strokes

    app = QApplication([sys.argv[0]])
    marks: dict[str, float] = {"child_started": t_child - t_spawn}
    state = {"window": None, "player": None}

    def finish(error: str | None = None) -> None:
        if error:
            marks["error"] = error
        print(json.dumps(marks), flush=True)
        window = state["window"]
        if window is not None:
            window.close()
        app.quit()

    def poll() -> None:
        window = state["window"]
        models = getattr(window, "models", None)
        ready = getattr(models, "state", None) == "ready"
        if not ready:
            if getattr(models, "state", None) == "missing":
                finish("the window found no model")
                return
            if time.time() - t_spawn > 60:
                finish("no model after 60 s")
                return
            QTimer.singleShot(5, poll)
            return
        marks["model_ready"] = time.time() - t_spawn
        canvas = find(window, "canvas")
        if canvas is None or not hasattr(window, "prediction_shown"):
            finish("no canvas or no prediction_shown signal")
            return

        def shown(s) -> None:
            if "first_prediction" not in marks and getattr(s, "final", True):
                marks["first_prediction"] = time.time() - t_spawn
                marks["digit"] = getattr(getattr(s, "prediction", None), "digit", None)
                QTimer.singleShot(0, finish)

        window.prediction_shown.connect(shown)
        marks["drawing_started"] = time.time() - t_spawn
        StrokePlayer(canvas, sample_strokes(0)).play_all()
        QTimer.singleShot(20000, lambda: finish("no prediction within 20 s"))

    class Watcher(QObject):
        def eventFilter(self, obj, event):  # noqa: N802
            if event.type() == QEvent.Type.Paint and "visible" not in marks:
                window = obj.window() if hasattr(obj, "window") else None
                if window is not None and window.objectName() == "mainWindow" and window.isVisible():
                    marks["visible"] = time.time() - t_spawn
                    state["window"] = window
                    QTimer.singleShot(0, poll)
            return False

    watcher = Watcher()
    app.installEventFilter(watcher)
    QTimer.singleShot(60000, lambda: finish("timeout"))
    import main as app_main  # noqa: F401 - what `digits` imports first
    from gui.app import run_app

    run_app([])


def run(opts) -> list[Figure]:
    which = "bundled model" if BUNDLED_MODEL.is_file() else "the cached fast model (no bundled model yet)"
    env, why_not = app_env()
    if why_not:
        return [not_measured("launch_visible_s", "Launch to window visible", why_not, "<= 1.5 s")]
    reps = 1 if opts.quick else opts.reps
    runs = []
    for _ in range(reps):
        t_spawn = time.time()
        code, out, err, wall = run_child(["-m", "benchmarks.gui_launch", "--child", repr(t_spawn)], timeout=120,
                                         env=env)
        r = last_json_line(out)
        if r is None:
            return [not_measured("launch_visible_s", "Launch to window visible",
                                 f"the app's process failed ({code}): {err.strip()[-300:]}", "<= 1.5 s")]
        r["exit_seconds"] = wall
        r["exit_code"] = code
        runs.append(r)
        log(f"  launch: {r}")
    errors = [r["error"] for r in runs if "error" in r]
    return [
        fig_from_samples("launch_visible_s", "Launch to window visible", [r.get("visible") for r in runs], "s",
                         target="<= 1.5 s", limit=1.5, note="offscreen platform; Python start-up included"),
        fig_from_samples("launch_model_ready_s", "Launch to model ready (loaded, traced)",
                         [r.get("model_ready") for r in runs], "s", note=which),
        fig_from_samples("launch_first_prediction_s", "Launch to first prediction shown",
                         [r.get("first_prediction") for r in runs], "s", target="<= 5 s", limit=5.0,
                         note=f"a pendigits '{_label()}' drawn with mouse events once the model is ready"
                              + (f"; errors: {errors}" if errors else "")),
        fig_from_samples("launch_exit_s", "  whole process (launch, predict, close, exit)",
                         [r["exit_seconds"] for r in runs], "s",
                         note=f"exit codes {[r['exit_code'] for r in runs]}"),
    ]


def _label() -> str:
    from benchmarks._gui import sample_strokes

    return str(sample_strokes(0).get("label"))


def _args(parser) -> None:
    parser.add_argument("--reps", type=int, default=3)


if __name__ == "__main__":
    if "--child" in sys.argv:
        child(float(sys.argv[sys.argv.index("--child") + 1]))
    else:
        main(run, __doc__, _args)
