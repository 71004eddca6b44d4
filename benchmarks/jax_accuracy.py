"""Time to 99.0 % and 99.5 % MNIST test accuracy for ``fast`` and ``best`` on Keras's JAX backend (issue 5's GPU runs).

Meant for a machine where JAX sees a GPU; not part of ``make bench``, whose
process is TensorFlow's. The same ``train()`` path and off-the-clock test
checkpoints as ``time_to_99``, one run of each preset's own recipe. The clock
includes JAX's compiles, as a person pressing Start would wait for them. The
figures name the device JAX used, so a run on a CPU (``--quick``: a smoke run
of the script) is never mistaken for a GPU figure. On the device machines,
which have JAX but not Keras, Keras 3.15.1, namex and optree (cp312) travel as
wheels in an ignored ``.whl`` folder (``/work/.library/device/README.md``);
the command there::

    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl \\
      && PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1 python3 -m benchmarks.jax_accuracy --json-out $OUT/jax_accuracy.json

and ``python -m benchmarks --report-only`` here once the JSON is copied to ``benchmarks/results/``.
"""
from __future__ import annotations

import os

from benchmarks.common import Figure, log, main, mnist_splits

TARGETS = (0.99, 0.995)
# Where test accuracy is scored, in epochs: about 20-50 checkpoints a run, each off the clock.
CHECKPOINTS = {"fast": {"every": 0.1, "start": 0.3}, "best": {"every": 0.25, "start": 0.5}}


def _device() -> str:
    import jax

    device = jax.devices()[0]
    return f"{device.platform}: {getattr(device, 'device_kind', device)}"


def run(opts) -> list[Figure]:
    # Keras reads its backend once, at its import: this module runs in its own interpreter, and nothing
    # has imported Keras yet when run() starts (benchmarks.common does not).
    os.environ.setdefault("KERAS_BACKEND", "jax")
    from model.backend import keras

    backend = keras().backend.backend()
    device = _device() if backend == "jax" else f"{backend} backend"
    data = mnist_splits()
    if opts.quick:  # a smoke run of this script on any machine: not figures to quote
        data = data.head(6000, 1000, 10000)
    from benchmarks.time_to_99 import one_run

    figures = []
    for arch in opts.archs:
        r = one_run(arch, epochs=1 if opts.quick else None, **CHECKPOINTS[arch], data=data, targets=TARGETS)
        cfg, final = r["config"], r["final_test_accuracy"]
        recipe = f"{cfg['epochs']} epoch(s), batch {cfg['batch_size']}, peak lr {cfg['learning_rate']:g}"
        log(f"  {arch} on {device}: reached {r['reached']}, final {final:.4f}, fit {r['fit_seconds']:.1f} s")
        for target in TARGETS:
            key = f"jax_{arch}_time_to_{target * 100:g}".replace(".", "_")
            label = f"JAX, {arch}: time to {target:.1%} test accuracy (train() call)"
            hit = r["reached"].get(target)
            note = f"on {device}; Keras backend {backend}; {recipe}"
            if hit is None:
                missed = f"not reached: best checkpoint {r['best_checkpoint_accuracy']:.2%}, final {final:.2%}"
                figures.append(Figure(key, label, None, "s", note=f"{missed}; {note}"))
            else:
                figures.append(Figure(key, label, hit[0], "s", note=f"at epoch {hit[1]:.2f} ({hit[2]:.2%}); {note}"))
        figures.append(Figure(f"jax_{arch}_final", f"JAX, {arch}: final test accuracy", 100 * final, "%",
                              note=f"on {device}; whole train() call {r['call_seconds']:.1f} s"))
    return figures


def _args(parser) -> None:
    parser.add_argument("--archs", nargs="+", default=["fast", "best"])


if __name__ == "__main__":
    main(run, __doc__, _args)
