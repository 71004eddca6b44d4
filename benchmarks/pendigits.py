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


def score(loaded, inputs, labels, writers) -> tuple[float, tuple[float, float], float, float | None, float | None]:
    """Accuracy, the writers' range and count; the share of drawings called not a digit (None: the model cannot
    tell), and the accuracy on those."""
    from model.inference import Predictor

    predictions = Predictor(loaded.model, loaded.temperature, novelty=loaded.novelty).predict_inputs(inputs)
    digits = np.array([-1 if p.digit is None else p.digit for p in predictions])
    correct = digits == labels
    per_writer = [correct[writers == w].mean() for w in np.unique(writers)]
    flagged = np.array([bool(p.unfamiliar) for p in predictions])
    unfamiliar = 100 * float(flagged.mean()) if loaded.novelty is not None else None
    flagged_accuracy = 100 * float(correct[flagged].mean()) if unfamiliar and flagged.any() else None
    return (100 * float(correct.mean()), (100 * min(per_writer), 100 * max(per_writer)), len(per_writer),
            unfamiliar, flagged_accuracy)


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
        acc, spread, n, unfamiliar, flagged_accuracy = score(loaded, inputs, labels, writers)
        figures.append(Figure("pendigits_bundled", f"Pendigits accuracy, bundled model ({loaded.arch})", acc, "%",
                              spread, "writers' range", n, ">= 97 %", acc >= 97.0,
                              f"{len(drawings)} drawings; MNIST test accuracy in its metadata: "
                              f"{(bundled_model_info() or {}).get('test_accuracy')}"))
        if unfamiliar is not None:
            figures.append(Figure("pendigits_bundled_unfamiliar", "Pendigits drawings the bundled model calls "
                                  "not a digit (model.novelty)", unfamiliar, "%",
                                  note=f"real digits wrongly flagged; it reads {flagged_accuracy or 0:.1f} % of "
                                       f"those right anyway"))
    else:
        figures.append(not_measured("pendigits_bundled", "Pendigits accuracy, bundled model",
                                    "assets/model.keras does not exist yet", ">= 97 %", "%"))
    for arch in architectures.ARCHITECTURES:
        loaded, how = recipe_model(arch, train_if_missing=not opts.no_train, log=log)
        label = f"Pendigits accuracy, {arch}"
        if loaded is None:
            figures.append(not_measured(f"pendigits_{arch}", label, how, unit="%"))
            continue
        acc, spread, n, unfamiliar, _ = score(loaded, inputs, labels, writers)
        mnist = loaded.test_accuracy
        note = f"{how}; MNIST test {mnist:.2%}" if mnist is not None else how
        if unfamiliar is not None:
            note += f"; {unfamiliar:.1f} % called not a digit"
        figures.append(Figure(f"pendigits_{arch}", label, acc, "%", spread, "writers' range", n, note=note))
    return figures


def _args(parser) -> None:
    parser.add_argument("--no-train", action="store_true", help="only use models already cached")


if __name__ == "__main__":
    main(run, __doc__, _args)
