"""The live curves' y axes: steady while a run's curves grow, yet always showing every point."""
from __future__ import annotations

import math

import numpy as np
import pytest

from gui.plots import TrainingPlots, steady_y_range
from model.training import BatchProgress, EpochProgress


@pytest.mark.parametrize(("kind", "values", "expected"), [
    ("loss", [2.31, 0.4, 0.05], (0.0, 2.5)),
    ("loss", [0.31, 0.02], (0.0, 0.5)),
    ("loss", [7.0], (0.0, 10.0)),
    ("loss", [], (0.0, 2.5)),
    ("accuracy", [9.5, 99.0], (0.0, 101.0)),
    ("accuracy", [90.3, 99.8], (80.0, 101.0)),
    ("accuracy", [95.0, 100.0], (90.0, 101.0)),
    ("accuracy", [math.nan], (0.0, 101.0)),
])
def test_steady_range_holds_the_values_with_room(kind, values, expected):
    low, high = steady_y_range(kind, np.asarray(values, dtype=float))
    assert (low, high) == expected
    finite = [v for v in values if math.isfinite(v)]
    assert all(low <= v <= high for v in finite)


def test_y_axes_change_a_few_times_per_run_not_at_every_redraw(qtbot):
    plots = TrainingPlots()
    qtbot.addWidget(plots)
    plots.reset(2)
    seen = {"loss": [], "accuracy": []}
    batches = 200
    for i in range(1, batches + 1):
        # A typical run: the loss falls from 2.3 towards 0.03, accuracy climbs from 10 % to 99 %.
        loss, accuracy = 2.3 * math.exp(-i / 20) + 0.03, 0.99 - 0.89 * math.exp(-i / 15)
        plots.add_batch(BatchProgress(1 + (i > batches // 2), 2, (i - 1) % (batches // 2) + 1, batches // 2,
                                      loss, accuracy, 1000.0, 1.0))
        plots._flush()  # noqa: SLF001 - what the redraw timer does, at every batch here: the worst case
        for kind, plot in (("loss", plots.loss_plot), ("accuracy", plots.accuracy_plot)):
            y_range = tuple(round(v, 6) for v in plot.viewRange()[1])
            if not seen[kind] or seen[kind][-1] != y_range:
                seen[kind].append(y_range)
    plots.add_epoch(EpochProgress(2, 2, 0.05, 0.985, 0.04, 0.99, 1000.0, 0.0))
    assert len(seen["loss"]) <= 2 and len(seen["accuracy"]) <= 2, seen
    for plot, name in ((plots.loss_plot, "loss"), (plots.accuracy_plot, "accuracy")):
        low, high = plot.viewRange()[1]
        for curve in (name, f"val_{name}"):
            values = plots.curve_data(curve)[1]
            assert len(values) and low <= values.min() and values.max() <= high, (curve, low, high)
