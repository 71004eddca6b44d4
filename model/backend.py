"""The one place that imports Keras, lazily.

TensorFlow takes about 3 s to import, so every module calls ``keras()`` inside
the functions that need it instead of importing at module level.
"""
from __future__ import annotations

import gc
import os
import sys
from contextlib import contextmanager
from types import ModuleType

import numpy as np

_keras: ModuleType | None = None


@contextmanager
def _native_stderr_silenced():
    """Hide the C++ start-up notes (oneDNN, CUDA stubs) TensorFlow writes straight to fd 2.

    They bypass Python and ignore TF_CPP_MIN_LOG_LEVEL; a user who asked for a
    prediction should not read about missing CUDA drivers. Python exceptions
    still propagate normally.
    """
    if os.environ.get("DIGITS_DEBUG"):
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


@contextmanager
def _jax_hidden():
    """Make ``import jax`` fail inside the block, unless Keras was asked for another backend.

    When JAX is installed (it comes with the test extra, and many ML environments
    have it), TensorFlow's own import loads it for its TFLite converter, which the
    app never uses: about 0.25 s and 110 MB more (``python -m benchmarks
    startup_memory``). Where ``KERAS_BACKEND``
    is unset, Keras's config file may still name JAX: ``keras`` then retries with
    JAX visible.
    """
    hide = os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow" and "jax" not in sys.modules
    if hide:
        sys.modules["jax"] = None  # type: ignore[assignment] - None in sys.modules makes an import fail
    try:
        yield
    finally:
        if hide and "jax" in sys.modules and sys.modules["jax"] is None:
            del sys.modules["jax"]


def _import_keras() -> ModuleType:
    try:
        with _jax_hidden():
            import keras as k
    except ImportError:  # a Keras configured for JAX: import it as it is
        import keras as k
    return k


def keras() -> ModuleType:
    global _keras
    if _keras is None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        with _native_stderr_silenced():
            _k = _import_keras()
            _k.ops.zeros(1)  # initialises the device now, while its notes are still hidden
        # TensorFlow's ~280,000 objects live as long as the process; left in the collector's oldest
        # generation, every full collection walks them all: 110 ms holding the GIL (measured with the
        # bundled model loaded), in whichever thread it falls, the window's included. Frozen, they are
        # skipped (0.0 ms); objects made later are collected as before.
        gc.freeze()
        _keras = _k
    return _keras


def is_loaded() -> bool:
    return _keras is not None


def _tensorflow_gradient_registry() -> dict | None:
    """TensorFlow's global table of gradient functions, or None on another backend or TensorFlow version."""
    if _keras is None or _keras.backend.backend() != "tensorflow":
        return None
    try:
        import importlib

        registry = importlib.import_module("tensorflow.python.framework.ops")._gradient_registry._registry
    except Exception:  # noqa: BLE001 - a workaround only; without it the leak is back, nothing breaks
        return None
    return registry if isinstance(registry, dict) else None


@contextmanager
def traced_gradients_released():
    """Around ``fit``: free the gradient functions TensorFlow registers while tracing the training step.

    Keras's TensorFlow optimizer sums gradients through a replica context whose
    ``all_reduce`` is a TensorFlow custom gradient; tracing one registers a gradient
    function under a fresh global name ("CustomGradient-N") that is never
    removed, and its closure holds the whole traced training graph. Every
    training run in a process therefore kept about 5-7 MB (measured: twelve
    runs, +65 MB after ``malloc_trim``). Those functions are only looked up
    while the step is being traced, which ends before ``fit`` returns, so the
    ones added inside this block are dropped at its end. A no-op on JAX.
    """
    registry = _tensorflow_gradient_registry()
    before = set(registry) if registry is not None else set()
    try:
        yield
    finally:
        if registry is not None:
            for name in [n for n in list(registry) if n not in before and str(n).startswith("CustomGradient-")]:
                registry.pop(name, None)


def _tensorflow_global_graph():
    """TensorFlow's process-wide default graph, or None on another backend."""
    if _keras is None or _keras.backend.backend() != "tensorflow":
        return None
    try:
        import importlib

        return importlib.import_module("tensorflow.python.framework.ops").get_default_graph()
    except Exception:  # noqa: BLE001 - a workaround only; without it the leak is back, nothing breaks
        return None


@contextmanager
def generator_functions_released():
    """Around ``fit`` on a ``PyDataset``: free the Python callbacks TensorFlow keeps for its generator dataset.

    Keras feeds a ``PyDataset`` to TensorFlow through ``Dataset.from_generator``,
    whose three Python callbacks (``py_func``) TensorFlow appends to the
    outermost graph's ``_py_funcs_used_in_graph`` "so they live as long as the
    graph"; in eager mode that graph is the process's global default graph,
    which never goes away. Every run therefore kept its dataset adapter, its
    enqueuer with two queues and the ``PyDataset`` itself (about 100 objects a
    run, measured: 4 runs, 4 adapters alive; ``model.pipeline`` already drops the
    images). The callbacks are only called by the dataset's iterator, which is
    gone when ``fit`` returns, so those added inside this block are dropped at
    its end. Assumes no other thread runs a generator dataset meanwhile (the
    app trains one model at a time). A no-op on JAX or without that attribute.
    """
    graph = _tensorflow_global_graph()
    before = {id(f) for f in getattr(graph, "_py_funcs_used_in_graph", ())}
    try:
        yield
    finally:
        funcs = getattr(graph, "_py_funcs_used_in_graph", None)
        if isinstance(funcs, list):
            funcs[:] = [f for f in funcs if id(f) in before]


def compiled_forward(model, batch_shape: tuple[int, ...], *, xla: bool = False):
    """``model``'s inference traced once for float32 batches of ``batch_shape``; None off TensorFlow.

    The returned function takes a NumPy array of exactly that shape and returns a
    NumPy array (a list of them for a model with several outputs). Why: for one
    drawing, Keras's ``predict_on_batch`` spends about
    0.3 ms around the graph it runs (the ``tf.function`` dispatch, converting the
    array, its data-adapter wrapping), a fifth of the whole prediction. Calling the
    traced concrete function with a tensor skips that: 1.38 against 1.65 ms for the
    bundled model, outputs identical (benchmarks/OPTIMISATIONS.md). The model's
    variables are read at each call, so weights set later are seen. Tracing happens
    here, in the caller's thread.

    ``xla``: compile the graph with XLA, here and now (about 0.2 s for the bundled
    model). For one drawing that runs in 0.84x the time of TensorFlow's own kernels,
    which split each small convolution over both cores and wait for each other
    (OPTIMISATIONS.md item 29); for batches it would lose to them. Where XLA cannot
    compile the model, the plain graph is returned instead. ``forward.xla`` says which.
    """
    if keras().backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    spec = tf.TensorSpec(batch_shape, tf.float32)

    def traced(jit_compile: bool):
        concrete = tf.function(lambda x: model(x, training=False), input_signature=[spec],
                               autograph=False, jit_compile=jit_compile).get_concrete_function()

        def forward(batch):
            outputs = concrete(tf.constant(batch))
            if isinstance(outputs, (list, tuple)):  # a model with several outputs
                return [output.numpy() for output in outputs]
            return outputs.numpy()

        forward.xla = jit_compile
        return forward

    if xla:
        try:
            forward = traced(True)
            forward(np.zeros(batch_shape, dtype=np.float32))  # XLA compiles at the first call
            return forward
        except Exception:  # noqa: BLE001 - a build of TensorFlow without XLA's CPU compiler, an op it lacks
            pass
    return traced(False)
