"""Which of the bundled model's layers tells digits from non-digits best: the study behind ``model.novelty``.

For each candidate feature layer (each convolution's ReLU output averaged over
the image, and the dense layer before the output), statistics are fitted
exactly as ``model.novelty.fit_model`` fits them (1,000 training images a
class, threshold at the 99.5th percentile of the validation digits), and the
shares called "not a digit" are counted among letters from stroke fonts
(``not_digits.font_letters``) and the pendigits drawings, which are real
digits. The deepest convolution catches the most letters for the fewest real
drawings; the product uses it. Not part of ``make bench``: it answers a design
question once (``python -m benchmarks novelty_layers``, about a minute). It also times the fit.
"""
from __future__ import annotations

import numpy as np

from benchmarks.common import BUNDLED_MODEL, Figure, main, mnist_splits, not_measured, pendigits


def run(opts) -> list[Figure]:
    from benchmarks.not_digits import font_letters
    from model import novelty
    from model.backend import keras
    from model.modelio import load_model
    from model.strokes import strokes_to_input

    letters, drawings = font_letters(), pendigits(1500 if opts.quick else None)
    if letters is None or drawings is None:
        return [not_measured("novelty_layers", "not a digit, per feature layer",
                             "Hershey-Fonts (the bench extra) or the pendigits file is missing")]
    k = keras()
    model = load_model(BUNDLED_MODEL).model
    relus = [layer for layer in model.layers if len(layer.output.shape) == 4 and novelty.has_relu(layer)]
    candidates = {f"{layer.name} (averaged)": k.layers.GlobalAveragePooling2D()(layer.output) for layer in relus}
    candidates[f"{model.layers[-1].name}'s input (dense)"] = model.layers[-1].input
    extractor = k.Model(model.inputs, list(candidates.values()))

    def features(images) -> list[np.ndarray]:
        images = np.asarray(images, np.float32).reshape(-1, 28, 28, 1)
        parts = [[np.asarray(o) for o in extractor.predict_on_batch(images[i:i + 500])]
                 for i in range(0, len(images), 500)]
        return [np.concatenate([p[j] for p in parts]) for j in range(len(candidates))]

    data = mnist_splits()
    rows = novelty.fit_rows(data.y_train)  # the images fit_model takes
    train, val = features(data.x_train[rows]), features(data.x_val)
    drawn = features([x for x in (strokes_to_input(d.strokes, d.width, d.height) for d in drawings) if x is not None])
    fonts = features([strokes_to_input(strokes, 500, 500) for _, strokes in letters])
    figures = []
    for j, name in enumerate(candidates):
        stats = novelty.fit(train[j], data.y_train[rows], val[j])
        letters_share = 100 * float(stats.unfamiliar(fonts[j]).mean())
        drawn_share = 100 * float(stats.unfamiliar(drawn[j]).mean())
        figures.append(Figure(f"novelty_layer_{j}", f"bundled model, statistics of {name}: letters called "
                                                    f"not a digit", letters_share, "%", n=len(letters),
                              note=f"and {drawn_share:.2f} % of the {len(drawn[j])} pendigits drawings; "
                                   f"{stats.width} features"))
    # What fitting costs at the end of a run (train() and finetune() call fit_model), for the two presets.
    import time

    from benchmarks.common import log, recipe_model

    for arch, loaded in (("best", load_model(BUNDLED_MODEL)), ("fast", recipe_model("fast", log=log)[0])):
        if loaded is None:
            continue
        started = time.perf_counter()
        novelty.fit_model(loaded.model, data.x_train, data.y_train, data.x_val)
        figures.append(Figure(f"novelty_fit_seconds_{arch}", f"{arch}: fitting the statistics after a run",
                              time.perf_counter() - started, "s", n=1,
                              note="10,000 training and 5,000 validation images through the network"))
    return figures


if __name__ == "__main__":
    main(run, __doc__)
