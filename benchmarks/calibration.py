"""Calibration: expected calibration error before and after temperature scaling.

The temperature is fitted on the 5,000-image validation split when a model is
trained (``model.calibration``) and stored in the model's metadata; here the
bundled model's error is measured where the fit never looked: MNIST test and
the pendigits drawings (15 equal-width confidence bins). Lower is better; a
perfectly calibrated model scores 0.
"""
from __future__ import annotations

import numpy as np

from benchmarks.common import BUNDLED_MODEL, Figure, main, mnist_splits, not_measured, pendigits


def run(opts) -> list[Figure]:
    if not BUNDLED_MODEL.is_file():
        return [not_measured("ece_bundled", "ECE, bundled model", "assets/model.keras does not exist yet")]
    from model.calibration import expected_calibration_error
    from model.inference import Predictor, apply_temperature
    from model.modelio import load_model
    from model.strokes import strokes_to_input

    loaded = load_model(BUNDLED_MODEL)
    raw = Predictor(loaded.model)  # temperature 1: the network's own confidences
    temperature = loaded.temperature
    sets = []
    splits = mnist_splits()
    sets.append(("MNIST test", raw.probabilities(splits.x_test[..., 0]), splits.y_test))
    drawings = pendigits(1500 if opts.quick else None)
    if drawings is not None:
        inputs = [strokes_to_input(d.strokes, d.width, d.height) for d in drawings]
        keep = [i for i, x in enumerate(inputs) if x is not None]
        sets.append((f"pendigits ({len(keep)} drawings)", raw.probabilities(np.stack([inputs[i] for i in keep])),
                     np.array([drawings[i].label for i in keep])))
    figures = []
    for name, probs, labels in sets:
        before = 100 * expected_calibration_error(probs, labels)
        after = 100 * expected_calibration_error(apply_temperature(probs, temperature), labels)
        key = "ece_" + name.split()[0].lower()
        figures.append(Figure(f"{key}_before", f"ECE on {name}, raw confidences", before, "%",
                              note="bundled model, temperature 1"))
        figures.append(Figure(f"{key}_after", f"ECE on {name}, calibrated (T={temperature:.3f})", after, "%",
                              target="lower than raw", met=after <= before,
                              note="temperature fitted on the validation split, stored in the model"))
    return figures


if __name__ == "__main__":
    main(run, __doc__)
