"""Where a recipe first scores 99.0 %: ``train_on_batch`` loops over seeded data, test accuracy every few steps.

Not the app's path (``time_to_99`` measures that) and not part of the suite: a
quick way to compare recipes for an architecture by where, in epochs, each
first reaches 99.0 % on MNIST test, a figure the machine's load does not move.
Each variant is a JSON object: ``name``, the ``TrainConfig`` fields
(``epochs``, ``batch_size``, ``learning_rate``, ``schedule``,
``label_smoothing``), and ``warmup`` (share of the one-cycle spent warming up,
0.25 as in training), ``schedule_epochs`` (length of the one-cycle, default
the epochs), ``alpha`` (the one-cycle's last rate as a share of its peak, 1e-3 as in
training; it stays there after ``schedule_epochs``), ``stop_at`` (epochs to run, default all), ``beta_2`` and
``weight_decay`` (AdamW), ``beta_1``, ``optimizer`` (``"adam"``, ``"nadam"`` or
``"lion"``) and ``initializer`` (a Keras initializer's class name, drawn again for
every kernel). Example, the comparison behind OPTIMISATIONS.md
item 25::

    python -m benchmarks.recipe_search --seeds 0-5 \\
        '[{"name": "plain", "label_smoothing": 0}, {"name": "smoothed 0.1"}]'
"""
from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np

from benchmarks.common import mnist_splits

TARGET = 0.99


def _optimizer(k, config, steps_per_epoch: int, variant: dict):
    schedule_steps = max(1, int(variant.get("schedule_epochs", config.epochs) * steps_per_epoch))
    learning_rate = config.learning_rate
    if config.schedule == "onecycle":
        warmup = max(1, int(variant.get("warmup", 0.25) * schedule_steps))
        learning_rate = k.optimizers.schedules.CosineDecay(
            config.learning_rate / 25, max(1, schedule_steps - warmup), alpha=variant.get("alpha", 1e-3),
            warmup_target=config.learning_rate, warmup_steps=warmup)
    betas = {"beta_1": variant.get("beta_1", 0.9), "beta_2": variant.get("beta_2", 0.999)}
    if variant.get("optimizer") == "lion":
        return k.optimizers.Lion(learning_rate, beta_1=variant.get("beta_1", 0.9), beta_2=variant.get("beta_2", 0.99))
    if variant.get("optimizer") == "nadam":
        return k.optimizers.Nadam(learning_rate, **betas)
    if variant.get("weight_decay"):
        return k.optimizers.AdamW(learning_rate, weight_decay=variant["weight_decay"], **betas)
    return k.optimizers.Adam(learning_rate, **betas)


def _reinitialise(k, model, initializer: str, seed: int) -> None:
    """Draw every kernel again from another initializer (Keras's default is Glorot uniform)."""
    for index, layer in enumerate(model.layers):
        kernel = getattr(layer, "kernel", None)
        if kernel is not None:
            kernel.assign(k.initializers.get({"class_name": initializer, "config": {"seed": seed + index}})(
                tuple(kernel.shape)))


def one_run(variant: dict, arch: str, seed: int, every: int) -> dict:
    from model import architectures
    from model.backend import keras
    from model.training import TrainConfig, smoothed_sparse_crossentropy

    k = keras()
    data = mnist_splits()
    fields = {f: variant[f] for f in ("epochs", "batch_size", "learning_rate", "schedule", "label_smoothing")
              if f in variant}
    config = TrainConfig(arch=arch, seed=seed, **fields).resolved()
    pixels, labels = data.train_pixels, data.y_train
    steps_per_epoch = math.ceil(len(pixels) / config.batch_size)
    k.utils.set_random_seed(seed)
    model = architectures.get(arch).build()
    if variant.get("initializer"):
        _reinitialise(k, model, variant["initializer"], seed)
    trainable = k.Sequential([k.Input(shape=architectures.INPUT_SHAPE, dtype="uint8"),
                              k.layers.Rescaling(1 / 255.0), model])
    loss = (smoothed_sparse_crossentropy(config.label_smoothing) if config.label_smoothing
            else "sparse_categorical_crossentropy")
    trainable.compile(_optimizer(k, config, steps_per_epoch, variant), loss)
    steps = int(variant.get("stop_at", config.epochs) * steps_per_epoch)
    rng = np.random.default_rng(seed)
    order, cursor, step_seconds, scores = rng.permutation(len(pixels)), 0, [], {}
    for step in range(1, steps + 1):
        if cursor >= len(pixels):
            order, cursor = rng.permutation(len(pixels)), 0
        rows = order[cursor:cursor + config.batch_size]
        cursor += config.batch_size
        started = time.perf_counter()
        trainable.train_on_batch(pixels[rows], labels[rows])
        step_seconds.append(time.perf_counter() - started)
        if step % every == 0 or step == steps:
            predicted = np.concatenate([np.asarray(model.predict_on_batch(data.x_test[i:i + 1000])).argmax(1)
                                        for i in range(0, len(data.x_test), 1000)])
            scores[step] = float((predicted == data.y_test).mean())
    crossing = next((s for s in sorted(scores) if scores[s] >= TARGET), None)
    return {"name": variant.get("name", json.dumps(variant)), "seed": seed,
            "crossing_epochs": None if crossing is None else round(crossing / steps_per_epoch, 3),
            "final": scores[steps], "ms_per_step": round(1000 * float(np.median(step_seconds[5:] or step_seconds)), 2)}


def _seeds(text: str) -> list[int]:
    first, _, last = text.partition("-")
    return list(range(int(first), int(last or first) + 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("variants", help="a JSON list of variants (see the module's docstring)")
    parser.add_argument("--arch", default="fast")
    parser.add_argument("--seeds", type=_seeds, default=[0, 1, 2], help="e.g. 0-5 (default 0-2)")
    parser.add_argument("--every", type=int, default=5, help="score the test set every N steps (default 5)")
    args = parser.parse_args()
    results: dict[str, list[dict]] = {}
    for variant in json.loads(args.variants):
        for seed in args.seeds:
            result = one_run(variant, args.arch, seed, args.every)
            results.setdefault(result["name"], []).append(result)
            print(json.dumps(result), flush=True)
    for name, runs in results.items():
        crossings = [r["crossing_epochs"] for r in runs]
        reached = [c for c in crossings if c is not None]
        median = f"{np.median(reached):.2f}" if len(reached) == len(runs) else "n/a (a seed never reached 99.0%)"
        print(f"{name}: crossing at {crossings} epochs, median {median}; "
              f"finals {[round(100 * r['final'], 2) for r in runs]} %")


if __name__ == "__main__":
    main()
