"""Time to 99.0 % MNIST test accuracy: the ``fast`` preset against ``seed`` (the article's recipe), interleaved.

Both go through ``model.training.train``, the function the app and the CLI
call, with its default progress throttle. Test accuracy is measured at
checkpoints from the ``on_batch``/``on_epoch`` callables: the weights are
copied into a separate evaluation model and scored on the 10,000 test images.
The time each checkpoint costs is measured and subtracted, so the figure is
the training path's own time, from the call of ``train`` (model built,
compiled, traced) to the end of the first batch after which the model scores
99.0 % or more. ``seed`` stops as soon as it gets there.
"""
from __future__ import annotations

import time

import numpy as np

from benchmarks.common import Figure, fig_from_samples, log, main, mnist_splits

TARGET = 0.99
# Where (in epochs) test accuracy is scored. Each checkpoint is off the clock, so finer ones only
# lengthen the benchmark. Both sides are scored every 0.05 epoch, so each crossing is found to
# within the same share of an epoch and the ratio favours neither.
CHECKPOINTS = {"fast": {"every": 0.05, "start": 0.5}, "seed": {"every": 0.05, "start": 0.5}}


class Checkpointer:
    """Scores a model in training on the test set at given positions (in epochs), off the clock.

    ``first_reached[target]``: (seconds on the clock, position, accuracy) at the first checkpoint
    scoring ``target`` or more, for each of ``targets``; ``reached`` is that of 99.0 %."""

    def __init__(self, eval_model, model, data, every: float, start: float, stop_when_reached: bool,
                 targets: tuple[float, ...] = (TARGET,)):
        self.model = model
        self.eval_model = eval_model  # built by the caller before its clock starts
        self.x_test, self.y_test = data.x_test, data.y_test
        self.every, self.next = every, start
        self.stop_when_reached = stop_when_reached
        self.overhead = 0.0
        self.t0 = time.perf_counter()
        self.points: list[tuple[float, float, float]] = []  # (seconds on the clock, position, accuracy)
        self.targets = targets
        self.first_reached: dict[float, tuple[float, float, float]] = {}

    @property
    def reached(self) -> tuple[float, float, float] | None:
        return self.first_reached.get(TARGET)

    def score(self, weights) -> float:
        self.eval_model.set_weights(weights)
        correct = 0
        for start in range(0, len(self.x_test), 1000):
            probs = self.eval_model.predict_on_batch(self.x_test[start:start + 1000])
            correct += int((np.asarray(probs).argmax(1) == self.y_test[start:start + 1000]).sum())
        return correct / len(self.x_test)

    def checkpoint(self, position: float, weights=None) -> None:
        t = time.perf_counter()
        clock = t - self.t0 - self.overhead
        acc = self.score(weights if weights is not None else self.model.get_weights())
        self.points.append((clock, position, acc))
        for target in self.targets:
            if acc >= target and target not in self.first_reached:
                self.first_reached[target] = (clock, position, acc)
        self.overhead += time.perf_counter() - t

    def on_batch(self, p) -> None:
        last = p.batch == p.batches_per_epoch and p.epoch == p.epochs
        if p.position + 1e-9 >= self.next or last:
            self.checkpoint(p.position)
            while self.next <= p.position + 1e-9:
                self.next += self.every

    def should_stop(self) -> bool:
        return self.stop_when_reached and self.reached is not None


def one_run(arch: str, *, epochs: int | None = None, batch_size: int | None = None,
            learning_rate: float | None = None, every: float = 0.1, start: float = 0.5,
            stop_when_reached: bool = False, seed: int = 0, data=None, targets: tuple[float, ...] = (TARGET,)) -> dict:
    """One run through ``train()`` scored at test checkpoints; ``data`` defaults to the app's MNIST splits,
    and ``reached`` holds where each of ``targets`` was first met (``Checkpointer.first_reached``)."""
    from model import architectures
    from model.backend import keras
    from model.training import TrainConfig, train

    data = data if data is not None else mnist_splits()
    config = TrainConfig(arch=arch, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, seed=seed)
    eval_model = architectures.get(arch).build()  # the checkpoints' scoring copy: off the clock
    t0 = time.perf_counter()
    keras().utils.set_random_seed(seed)
    model = architectures.get(arch).build()  # what train() does, done here to keep a handle for checkpoints
    ckpt = Checkpointer(eval_model, model, data, every, start, stop_when_reached, targets)
    ckpt.t0 = t0
    result = train(config, data, on_batch=ckpt.on_batch, should_stop=ckpt.should_stop, initial_model=model)
    total = time.perf_counter() - t0 - ckpt.overhead
    reached = ckpt.reached
    return {
        "arch": arch,
        "config": result.config.to_dict(),
        "time_to_99": reached[0] if reached else None,
        "position_at_99": reached[1] if reached else None,
        "reached": ckpt.first_reached,
        "final_test_accuracy": result.test_accuracy,
        "best_checkpoint_accuracy": max((p[2] for p in ckpt.points), default=None),
        "fit_seconds": result.train_seconds,
        "call_seconds": total,
        "checkpoint_overhead": ckpt.overhead,
        "checkpoints": [(round(c, 2), round(p, 3), round(a, 4)) for c, p, a in ckpt.points],
        "stopped": result.stopped,
    }


def run(opts) -> list[Figure]:
    fast_reps = 1 if opts.quick else opts.fast_reps
    seed_reps = 0 if opts.no_seed else (1 if opts.quick else opts.seed_reps)
    fast_kw = dict(epochs=opts.epochs, batch_size=opts.batch_size, learning_rate=opts.lr)
    mnist_splits()
    # The app imports TensorFlow in the background at launch, before anyone presses Start;
    # the clock starts at the train() call, so the import stays off it.
    from model.backend import keras

    keras()
    # Interleave: fast, seed, fast, (seed,) fast ... so a change in the machine's load hits both sides.
    order = []
    for i in range(max(fast_reps, seed_reps)):
        if i < fast_reps:
            order.append("fast")
        if i < seed_reps:
            order.append("seed")
    runs: dict[str, list[dict]] = {"fast": [], "seed": []}
    for arch in order:
        # Each repetition its own seed: where a run crosses 99.0% varies with the initialisation
        # (fast: 1.20-1.31 epochs over seeds 0-2), and one seed repeated would hide that.
        rep = len(runs[arch])
        if arch == "fast":
            r = one_run("fast", **CHECKPOINTS["fast"], seed=rep, **fast_kw)
        else:
            r = one_run("seed", epochs=opts.seed_epochs, **CHECKPOINTS["seed"], stop_when_reached=True, seed=rep)
        runs[arch].append(r)
        log(f"  {arch} (random seed {rep}): time to 99% {r['time_to_99']}, final {r['final_test_accuracy']:.4f}, "
            f"fit {r['fit_seconds']:.2f} s, call {r['call_seconds']:.2f} s, checkpoints {r['checkpoints']}")

    figures = []
    fast = runs["fast"]
    fast_t = [r["time_to_99"] for r in fast]
    reached = [t for t in fast_t if t is not None]
    cfg = fast[0]["config"]
    recipe = (f"{cfg['epochs']} epoch(s), batch {cfg['batch_size']}, peak lr {cfg['learning_rate']:g}, "
              f"{cfg['schedule']}")
    if reached:
        f = fig_from_samples("fast_time_to_99", "fast: time to 99.0% test accuracy (train() call)", reached, "s",
                             target="<= 5 s", limit=5.0,
                             note=f"{len(reached)}/{len(fast)} runs reached 99.0%; {recipe}")
        if len(reached) < len(fast):
            f.met = False
        figures.append(f)
    else:
        figures.append(Figure("fast_time_to_99", "fast: time to 99.0% test accuracy (train() call)", None, "s",
                              target="<= 5 s", met=False, note=f"no run reached 99.0%; {recipe}"))
    figures.append(fig_from_samples("fast_final_accuracy", "fast: final test accuracy",
                                    [100 * r["final_test_accuracy"] for r in fast], "%"))
    figures.append(fig_from_samples("fast_fit_seconds", "fast: fit() incl. validation and the test checkpoints",
                                    [r["fit_seconds"] for r in fast], "s",
                                    note="TrainResult.train_seconds; the checkpoints' scoring is inside it"))
    figures.append(fig_from_samples("fast_call_seconds", "fast: whole train() call incl. test evaluation",
                                    [r["call_seconds"] for r in fast], "s",
                                    note="checkpoint scoring subtracted"))
    if runs["seed"]:
        seed = runs["seed"]
        seed_t = [r["time_to_99"] for r in seed]
        seed_reached = [t for t in seed_t if t is not None]
        if seed_reached:
            figures.append(fig_from_samples("seed_time_to_99", "seed (Adam, batch 32): time to 99.0%",
                                            seed_reached, "s",
                                            note=f"epochs at 99%: {[r['position_at_99'] for r in seed]}"))
        else:
            longest = max(r["call_seconds"] for r in seed)
            figures.append(Figure("seed_time_to_99", "seed (Adam, batch 32): time to 99.0%", None, "s",
                                  note=f"not reached within {opts.seed_epochs} epochs ({longest:.0f} s); best "
                                       f"{max(r['best_checkpoint_accuracy'] for r in seed):.4f}"))
        if reached and seed_reached:
            ratio = float(np.median(seed_reached)) / float(np.median(reached))
            ratios = [s / f for s in seed_reached for f in reached]
            figures.append(Figure("speedup_vs_seed", "fast vs seed: speed-up to 99.0% (ratio of medians)",
                                  ratio, "x", (min(ratios), max(ratios)), "all pairs", len(ratios),
                                  ">= 10x", ratio >= 10))
        elif reached:
            bound = max(r["call_seconds"] for r in seed) / float(np.median(reached))
            figures.append(Figure("speedup_vs_seed", "fast vs seed: speed-up to 99.0%", None, "x",
                                  target=">= 10x", met=bound >= 10 or None,
                                  note=f"seed did not reach 99.0%: at least {bound:.1f}x"))
    else:
        figures.append(Figure("speedup_vs_seed", "fast vs seed: speed-up to 99.0%", None, "x", target=">= 10x",
                              note="not measured: seed skipped"))
    for fig in figures:
        if fig.key in ("fast_time_to_99", "seed_time_to_99"):
            fig.note += "; checkpoints (s, epoch, acc): " + "; ".join(
                str(r["checkpoints"][-4:] if r["arch"] == "fast" else r["checkpoints"][-2:])
                for r in runs[fig.key.split("_")[0]])
    return figures


def _args(parser) -> None:
    parser.add_argument("--fast-reps", type=int, default=5)
    # Three: seed takes 30-45 s a run, and where it first touches 99.0% moved between 2.50 and 3.10
    # epochs for the same seed from run to run (it hovers at 98.8-99.0%); with two, one run decided the ratio.
    parser.add_argument("--seed-reps", type=int, default=3,
                        help="seed takes 30-45 s a run; where it crosses moves by 0.6 epoch from run to run")
    parser.add_argument("--seed-epochs", type=int, default=10, help="give up on seed after this many epochs")
    parser.add_argument("--no-seed", action="store_true")
    parser.add_argument("--epochs", type=int, help="override the fast recipe (experiments)")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--lr", type=float)


if __name__ == "__main__":
    main(run, __doc__, _args)
