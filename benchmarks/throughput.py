"""Training throughput, samples a second, per architecture, through ``train`` with each recipe's batch size.

Each architecture trains for one short epoch (``--batches`` batches) on a
slice of MNIST, with augmentation where its recipe has it. The figure is the
steady state: the median time between batch ends, after the first
``WARMUP`` batches (tracing), turned into samples a second; the spread is the
interquartile range of the per-batch rates. Each run is compared with the
previous run's figure (``benchmarks/results/throughput.json``): a drop of
more than 15 % is flagged as a regression (this machine's noise is about 10 %).
"""
from __future__ import annotations

import json
import time

import numpy as np

from benchmarks.common import RESULTS_DIR, Figure, log, main, mnist_splits

WARMUP = 5


def measure(arch: str, batches: int) -> tuple[list[float], float, int]:
    from model import architectures
    from model.training import TrainConfig, train

    bs = architectures.get(arch).recipe.batch_size
    data = mnist_splits().head(bs * (batches + WARMUP), 0, 0)
    stamps: list[float] = []
    result = train(TrainConfig(arch=arch, epochs=1, progress_interval=0.0), data,
                   on_batch=lambda p: stamps.append(time.perf_counter()))
    rates = [bs / dt for dt in np.diff(stamps[WARMUP:]) if dt > 0]
    return rates, result.samples_per_second, bs


def run(opts) -> list[Figure]:
    from model import architectures

    previous = {}
    prev_file = RESULTS_DIR / "throughput.json"
    if prev_file.is_file():
        try:
            previous = {f["key"]: f for f in json.loads(prev_file.read_text())["figures"]}
        except (ValueError, KeyError):
            previous = {}
    batches = 20 if opts.quick else opts.batches
    figures = []
    for arch in architectures.ARCHITECTURES:
        rates, end_to_end, bs = measure(arch, batches)
        med = float(np.median(rates))
        q1, q3 = float(np.percentile(rates, 25)), float(np.percentile(rates, 75))
        key = f"throughput_{arch}"
        note = f"batch {bs}{', augmented' if architectures.get(arch).recipe.augment else ''}; " \
               f"{end_to_end:,.0f}/s end to end incl. tracing"
        met = None
        before = previous.get(key, {}).get("value")
        if before:
            change = med / before - 1
            note += f"; {change:+.0%} vs the previous run ({before:,.0f}/s)"
            met = change > -0.15
        log(f"  {arch}: {med:,.0f} samples/s ({note})")
        figures.append(Figure(key, f"Throughput {arch} (samples/s)", med, "/s", (q1, q3), "IQR", len(rates),
                              "no regression between runs", met, note))
    return figures


def _args(parser) -> None:
    parser.add_argument("--batches", type=int, default=60, help="timed batches per architecture")


if __name__ == "__main__":
    main(run, __doc__, _args)
