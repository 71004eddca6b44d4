"""``model/`` runs on Keras's JAX backend too: the fixed choice is the Keras 3 API only, so that it does.

Keras picks its backend once per process, at import, so the JAX side runs in a fresh
process with ``KERAS_BACKEND=jax``. JAX is in the test extra (CPU wheels).
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import DATA, REPO

pytestmark = pytest.mark.skipif(importlib.util.find_spec("jax") is None,
                                reason="JAX is not installed (pip install -e '.[test]' installs it)")

ON_JAX = """
import importlib.abc, json, sys


class NoTensorFlow(importlib.abc.MetaPathFinder):
    # As on a machine with JAX and no TensorFlow (the GPU machines the benchmarks issue names).
    def find_spec(self, name, path, target=None):
        if name == "tensorflow" or name.startswith("tensorflow."):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)")


sys.meta_path.insert(0, NoTensorFlow())
import numpy as np
from model.backend import keras
from model.data import load_splits
from model.inference import Predictor
from model.modelio import load_model, new_metadata, save_model
from model.strokes import read_drawings
from model.training import TrainConfig, train

out = {"backend": keras().backend.backend()}
data = load_splits(notify=lambda message: None).head(3000, 500, 1000)
result = train(TrainConfig(arch="fast", epochs=2, batch_size=64, learning_rate=3e-3), data)
out["accuracy"], out["temperature"], out["epochs"] = result.test_accuracy, result.temperature, result.epochs_completed
saved = sys.argv[1] + "/fast-on-jax.keras"
save_model(result.model, saved, new_metadata("fast", result.config.to_dict(), result.test_accuracy,
                                             **result.metadata_extra()))
drawings = read_drawings(sys.argv[2])
before = [p.probabilities for p in Predictor(result.model, result.temperature).predict_drawings(drawings)]
reloaded = load_model(saved)
after = [p.probabilities for p in Predictor(reloaded.model, reloaded.temperature).predict_drawings(drawings)]
out["reload_gap"] = float(np.abs(np.asarray(before) - np.asarray(after)).max())
batches, asked = [], []
stopped = train(TrainConfig(arch="fast", epochs=1, batch_size=64, progress_interval=0), data,
                on_batch=lambda p: batches.append(p.batch), should_stop=lambda: asked.append(1) or len(asked) >= 3)
out["stopped"], out["last_batch"], out["epochs_when_stopped"] = stopped.stopped, batches[-1], stopped.epochs_completed
bundled = load_model(sys.argv[3])
predictor = Predictor(bundled.model, bundled.temperature, frozen=True, interactive=True, novelty=bundled.novelty)
answers = predictor.predict_drawings(drawings)
out["bundled"] = [p.probabilities.tolist() for p in answers]
out["bundled_unfamiliar"] = [p.unfamiliar for p in answers]
square = [[[100, 100], [400, 100], [400, 400], [100, 400], [100, 100]]]
out["square_unfamiliar"] = predictor.predict_strokes(square, 500, 500).unfamiliar
out["novelty_width"] = result.novelty.width if result.novelty is not None else None
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def on_jax(tmp_path_factory) -> dict:
    from model import paths

    home = tmp_path_factory.mktemp("jax-home")
    env = dict(os.environ, KERAS_BACKEND="jax", DIGITS_HOME=str(home), JAX_PLATFORMS="cpu")
    run = subprocess.run([sys.executable, "-c", ON_JAX, str(home), str(DATA / "pendigits-sample.jsonl"),
                          str(paths.BUNDLED_MODEL)], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_training_saving_and_stop_work_on_jax_without_tensorflow(on_jax):
    """TensorFlow cannot be imported there: model/'s TensorFlow reach-ins stay behind their backend checks."""
    assert on_jax["backend"] == "jax"
    assert on_jax["epochs"] == 2 and on_jax["accuracy"] > 0.85  # 3,000 images, as conftest's TensorFlow model
    assert 0.05 <= on_jax["temperature"] <= 20
    assert on_jax["reload_gap"] < 1e-5  # saved and loaded with its temperature
    assert on_jax["novelty_width"] == 32  # "not a digit" statistics fitted on JAX too (model.novelty)
    # Stop asked at the third batch's end: no batch ran after it, and the cut epoch is not recorded.
    assert on_jax["stopped"] and on_jax["last_batch"] == 3 and on_jax["epochs_when_stopped"] == 0


def test_the_bundled_model_reads_drawings_alike_on_both_backends(on_jax, pendigits_samples):
    """Saved under TensorFlow, the bundled model gives the same probabilities on JAX."""
    from model import paths
    from model.inference import Predictor
    from model.modelio import load_model

    bundled = load_model(paths.BUNDLED_MODEL)
    here = [p.probabilities for p in Predictor(bundled.model, bundled.temperature).predict_drawings(pendigits_samples)]
    np.testing.assert_allclose(np.asarray(on_jax["bundled"]), np.asarray(here), atol=1e-4)
    # "not a digit" from the statistics saved under TensorFlow: real drawings pass, a square does not
    assert on_jax["bundled_unfamiliar"] == [False] * len(pendigits_samples) and on_jax["square_unfamiliar"] is True


def test_tensorflow_does_not_load_jax_for_the_app(tmp_path):
    """TensorFlow's import loads JAX when it is installed (its TFLite converter), 0.3 s before the first
    prediction for nothing: hidden while Keras loads on TensorFlow, importable after."""
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    script = ("import sys; from model.backend import keras; k = keras(); loaded = 'jax' in sys.modules; "
              "import jax; print(k.backend.backend(), loaded, jax.__name__)")
    run = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=dict(env, KERAS_HOME=str(tmp_path)),
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.split() == ["tensorflow", "False", "jax"]
    # A Keras whose config file names JAX (no KERAS_BACKEND) still gets it.
    (tmp_path / "keras.json").write_text(json.dumps({"backend": "jax", "floatx": "float32", "epsilon": 1e-7,
                                                     "image_data_format": "channels_last"}))
    run = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=dict(env, KERAS_HOME=str(tmp_path)),
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.split() == ["jax", "True", "jax"]
