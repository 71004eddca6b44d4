"""Accuracy on real pen trajectories: the pendigits file through the app's renderer, per architecture and bundled.

7,494 digits written on a tablet by 30 people, rendered by
``model.strokes.strokes_to_input`` (the canvas's and the CLI's renderer) and
classified in batches. "No digit" counts as wrong. Each architecture's model
is trained with its own recipe (seed 0) and cached in ``benchmarks/.cache``;
``best`` is the bundled model when that was trained with ``best``'s recipe.
The spread is the range of the 30 writers' accuracies.
"""
from __future__ import annotations

import numpy as np

from benchmarks.common import (
    BUNDLED_MODEL,
    Figure,
    bundled_model_info,
    log,
    main,
    not_measured,
    pendigits,
    recipe_model,
)


def score(loaded, inputs, labels, writers) -> tuple[float, tuple[float, float], float]:
    from model.inference import Predictor

    predictions = Predictor(loaded.model, loaded.temperature).predict_inputs(inputs)
    digits = np.array([-1 if p.digit is None else p.digit for p in predictions])
    correct = digits == labels
    per_writer = [correct[writers == w].mean() for w in np.unique(writers)]
    return 100 * float(correct.mean()), (100 * min(per_writer), 100 * max(per_writer)), len(per_writer)


def run(opts) -> list[Figure]:
    drawings = pendigits(1500 if opts.quick else None)
    if drawings is None:
        return [not_measured("pendigits", "pendigits accuracy", "the pendigits file is missing")]
    from model import architectures
    from model.strokes import strokes_to_input

    inputs = [strokes_to_input(d.strokes, d.width, d.height) for d in drawings]
    labels = np.array([d.label for d in drawings])
    writers = np.array([str(d.writer) for d in drawings])
    figures = []
    if BUNDLED_MODEL.is_file():
        from model.modelio import load_model

        loaded = load_model(BUNDLED_MODEL)
        acc, spread, n = score(loaded, inputs, labels, writers)
        figures.append(Figure("pendigits_bundled", f"Pendigits accuracy, bundled model ({loaded.arch})", acc, "%",
                              spread, "writers' range", n, ">= 97 %", acc >= 97.0,
                              f"{len(drawings)} drawings; MNIST test accuracy in its metadata: "
                              f"{(bundled_model_info() or {}).get('test_accuracy')}"))
    else:
        figures.append(not_measured("pendigits_bundled", "Pendigits accuracy, bundled model",
                                    "assets/model.keras does not exist yet", ">= 97 %", "%"))
    for arch in architectures.ARCHITECTURES:
        loaded, how = recipe_model(arch, train_if_missing=not opts.no_train, log=log)
        label = f"Pendigits accuracy, {arch}"
        if loaded is None:
            figures.append(not_measured(f"pendigits_{arch}", label, how, unit="%"))
            continue
        acc, spread, n = score(loaded, inputs, labels, writers)
        mnist = loaded.test_accuracy
        figures.append(Figure(f"pendigits_{arch}", label, acc, "%", spread, "writers' range", n,
                              note=f"{how}; MNIST test {mnist:.2%}" if mnist is not None else how))
    return figures


def _args(parser) -> None:
    parser.add_argument("--no-train", action="store_true", help="only use models already cached")


if __name__ == "__main__":
    main(run, __doc__, _args)
