"""The command line: ``digits train | evaluate | predict`` (``digits`` alone opens the window)."""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import time
from pathlib import Path

from model import architectures, paths
from model.errors import DigitsError


class UsageError(Exception):
    """An argument that is only found to be wrong once the data is loaded: argparse's exit 2."""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _finite_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, not {text}")
    return value


def _learning_rate(text: str) -> float:
    value = _finite_number(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be greater than 0 and at most 1, not {text}")
    return value


def _label_smoothing(text: str) -> float:
    value = _finite_number(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 0 and below 1, not {text}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be between 0 and {2**32 - 1}, not {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="digits",
        description="Draw digits and train the network that reads them. With no command, opens the app.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    train = commands.add_parser("train", help="train an architecture on MNIST and save the model")
    train.add_argument("--arch", choices=list(architectures.ARCHITECTURES), default="fast",
                       help="architecture (default: fast)")
    train.add_argument("--epochs", type=_positive_int, help="epochs (default: the architecture's recipe)")
    train.add_argument("--batch-size", type=_positive_int, help="batch size (default: the recipe)")
    train.add_argument("--lr", type=_learning_rate, help="peak learning rate (default: the recipe)")
    train.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                       help="augment training images (default: the recipe)")
    train.add_argument("--label-smoothing", type=_label_smoothing, metavar="S",
                       help="share of each target spread over all classes, 0 to below 1 (default: the recipe)")
    train.add_argument("--data", type=Path, help="MNIST .npz or folder of IDX files (default: bundled)")
    train.add_argument("--limit", type=_positive_int, help="train on only the first N training images")
    train.add_argument("--seed", type=_seed, default=0, help="random seed (default: 0)")
    train.add_argument("--out", type=Path, help="where to save the model (default: your data folder)")
    train.add_argument("--json", action="store_true", help="print one JSON summary on standard output")

    evaluate = commands.add_parser("evaluate", help="test accuracy and loss of a model on MNIST test")
    evaluate.add_argument("--model", type=Path, help="model file (default: the app's current model)")
    evaluate.add_argument("--data", type=Path, help="MNIST .npz or folder of IDX files (default: bundled)")
    evaluate.add_argument("--json", action="store_true", help="print {\"accuracy\": ..., \"loss\": ...}")
    evaluate.add_argument("--confusion", action="store_true",
                          help="also print the 10x10 confusion matrix (rows: true digit) and per-class accuracy")
    evaluate.add_argument("--strokes", metavar="FILE",
                          help="measure on labelled drawings (JSON Lines, pendigits format) instead of MNIST test")

    predict = commands.add_parser("predict", help="classify images or strokes; one JSON object per input")
    predict.add_argument("--model", type=Path, help="model file (default: the app's current model)")
    predict.add_argument("--strokes", metavar="FILE", help="JSON Lines strokes file ('-' for standard input)")
    predict.add_argument("images", nargs="*", type=Path, metavar="IMAGE", help="PNG/JPEG files")

    finetune = commands.add_parser(
        "finetune", help="fine-tune a copy of a model on your handwriting (strokes), mixed with MNIST")
    finetune.add_argument("--samples", metavar="FILE", type=Path, required=True,
                          help="labelled drawings, JSON Lines in the pendigits format")
    finetune.add_argument("--model", type=Path, help="model to start from (default: the app's current model)")
    finetune.add_argument("--out", type=Path, help="where to save the fine-tuned model (default: your data folder)")
    finetune.add_argument("--test-samples", metavar="FILE", type=Path,
                          help="labelled drawings never trained on, also measured before and after")
    finetune.add_argument("--epochs", type=_positive_int, help="epochs (default: 3)")
    finetune.add_argument("--lr", type=_learning_rate, help="learning rate (default: 1e-4)")
    finetune.add_argument("--data", type=Path, help="MNIST .npz or folder of IDX files (default: bundled)")
    finetune.add_argument("--seed", type=_seed, default=0, help="random seed (default: 0)")
    finetune.add_argument("--json", action="store_true", help="print one JSON summary on standard output")
    return parser


def _keep_in_history(result, model_path: Path, kind: str = "train") -> None:
    """Record the run for the window's history; a failure here must not lose the saved model."""
    from model import history

    try:
        record = result.run_record(model_path) if kind == "finetune" else history.record_from_result(
            result, model_path=model_path)
        history.save_run(record)
    except DigitsError as exc:
        print(f"digits: {exc} (the model itself is saved)", file=sys.stderr)


def _load_model(path: Path | None):
    from model.modelio import load_model

    return load_model(path if path is not None else paths.active_model_path())


def _progress_printer(stream):
    """A one-line progress bar on a terminal; a line per epoch otherwise."""
    interactive = stream.isatty()

    def on_batch(p) -> None:
        if not interactive:
            return
        width = 30
        filled = int(width * p.fraction_done)
        eta = f"{p.eta_seconds:5.0f}s" if math.isfinite(p.eta_seconds) else "    ?"
        stream.write(f"\repoch {p.epoch}/{p.epochs} [{'#' * filled}{'.' * (width - filled)}] "
                     f"{p.fraction_done:4.0%} loss {p.loss:.4f} acc {p.accuracy:.4f} "
                     f"{p.samples_per_second:6.0f}/s ETA {eta}")
        stream.flush()

    def on_epoch(p) -> None:
        val = f" val_loss {p.val_loss:.4f} val_acc {p.val_accuracy:.4f}" if p.val_loss is not None else ""
        prefix = "\r" if interactive else ""
        stream.write(f"{prefix}epoch {p.epoch}/{p.epochs} loss {p.loss:.4f} acc {p.accuracy:.4f}{val} "
                     f"({p.samples_per_second:.0f} samples/s)" + " " * 10 + "\n")
        stream.flush()

    return on_batch, on_epoch


def cmd_train(args) -> int:
    from model.data import load_splits
    from model.modelio import new_metadata, save_model
    from model.training import TrainConfig, train

    config = TrainConfig(arch=args.arch, epochs=args.epochs, batch_size=args.batch_size,
                         learning_rate=args.lr, augment=args.augment, label_smoothing=args.label_smoothing,
                         seed=args.seed)
    config.resolved()  # refuse a bad combination before loading anything
    data = load_splits(args.data, seed=args.seed)
    if args.limit:
        data = data.head(args.limit, val=min(len(data.x_val), max(1, args.limit // 5)))
    if args.batch_size and args.batch_size > len(data.x_train):
        raise UsageError(f"argument --batch-size: {args.batch_size} is larger than the "
                         f"{len(data.x_train)} training images")
    on_batch, on_epoch = _progress_printer(sys.stderr)
    result = train(config, data, on_batch=on_batch, on_epoch=on_epoch)
    out = args.out or paths.user_models_dir() / f"{args.arch}-{time.strftime('%Y%m%d-%H%M%S')}.keras"
    # metadata_extra: the curves, and the temperature fitted on the validation split (LoadedModel.temperature).
    metadata = new_metadata(args.arch, result.config.to_dict(), result.test_accuracy, data=data.source,
                            **result.metadata_extra())
    try:
        save_model(result.model, out, metadata, result.novelty)
    except DigitsError as exc:
        if args.out is None:  # the user data folder is read-only or full: say where else it can go
            raise DigitsError(f"{str(exc).rstrip('.')}; train again with --out PATH to save it elsewhere.") from None
        raise
    try:
        paths.set_active_model_path(out)
    except DigitsError as exc:  # the model is saved; only "make it current" failed
        print(f"digits: {str(exc).rstrip('.')}, but the model is saved: pass --model {out} to use it.",
              file=sys.stderr)
    _keep_in_history(result, out)
    summary = result.summary() | {"model": str(out)}
    if args.json:
        print(json.dumps(summary))
    else:
        tested = (f"test accuracy {result.test_accuracy:.2%}, loss {result.test_loss:.4f}"
                  if result.test_accuracy is not None else "no test images")
        epochs = f"{result.epochs_completed} epoch{'s' if result.epochs_completed != 1 else ''}"
        print(f"{args.arch}: {tested}, {epochs} in {result.train_seconds:.1f} s "
              f"({result.samples_per_second:.0f} samples/s); saved to {out}")
    return 0


def cmd_evaluate(args) -> int:
    """MNIST test accuracy and loss (and the confusion matrix): one path, ``model.evaluation``."""
    from model.data import load_mnist, to_float
    from model.evaluation import cross_entropy, evaluate_model, format_confusion
    from model.inference import apply_temperature

    if args.strokes is not None:
        return _evaluate_drawings(args)
    loaded = _load_model(args.model)
    raw = load_mnist(args.data)
    result = evaluate_model(loaded.model, to_float(raw.x_test), raw.y_test, keep_images=False)
    # The raw network's loss says how it was trained (labels smoothed for ``fast`` make it under-confident);
    # with the model's temperature it is the loss of the probabilities the app shows.
    calibrated = cross_entropy(apply_temperature(result.probabilities, loaded.temperature), raw.y_test)
    if args.json:
        figures = result.to_json() if args.confusion else {"accuracy": result.accuracy, "loss": result.loss}
        print(json.dumps({**figures, "calibrated_loss": calibrated, "temperature": loaded.temperature}))
        return 0
    with_temperature = (f" ({calibrated:.4f} with its calibration, temperature {loaded.temperature:.3g})"
                        if loaded.temperature != 1.0 else "")
    print(f"{loaded.describe()}: test accuracy {result.accuracy:.2%}, loss {result.loss:.4f}{with_temperature} "
          f"on {len(raw.x_test)} images from {raw.source}")
    if args.confusion:
        print(format_confusion(result.confusion))
    return 0


def _evaluate_drawings(args) -> int:
    """Accuracy on labelled drawings through the app's renderer; "no digit" counts as wrong."""
    from model.inference import Predictor
    from model.strokes import read_drawings

    drawings = read_drawings(args.strokes)
    if not drawings or any(d.label is None for d in drawings):
        raise DigitsError(f"{args.strokes}: every drawing needs a 'label' to be evaluated.")
    loaded = _load_model(args.model)
    predictor = Predictor(loaded.model, loaded.temperature, frozen=True, novelty=loaded.novelty)
    predictions = predictor.predict_drawings(drawings)
    correct = [p.digit == d.label for p, d in zip(predictions, drawings)]
    accuracy = sum(correct) / len(correct)
    # Real digits called "not a digit": the price of the honest answer (model.novelty); None: the model cannot tell.
    unfamiliar = sum(bool(p.unfamiliar) for p in predictions) if predictor.novelty is not None else None
    if args.json:
        print(json.dumps({"accuracy": accuracy, "count": len(correct),
                          "no_digit": sum(p.digit is None for p in predictions), "unfamiliar": unfamiliar}))
    else:
        flagged = f"; {unfamiliar} called not a digit" if unfamiliar is not None else ""
        print(f"{loaded.describe()}: {accuracy:.2%} of {len(correct)} drawings from {args.strokes}{flagged}")
    return 0


def cmd_predict(args) -> int:
    from model.images import load_image
    from model.inference import Predictor
    from model.strokes import read_drawing_stream, read_drawings

    if args.strokes is None and not args.images:
        raise DigitsError("predict needs IMAGE files or --strokes FILE.")
    if args.strokes is not None and args.images:
        raise DigitsError("give either IMAGE files or --strokes FILE, not both.")
    # Read every input before loading the model, so a bad file fails fast.
    if args.strokes is not None:
        stdin = getattr(sys.stdin, "buffer", sys.stdin)  # bytes: a bad byte is reported with its line
        drawings = (read_drawing_stream(stdin, "standard input") if args.strokes == "-"
                    else read_drawings(args.strokes))
        images = []
    else:
        drawings, images = [], [load_image(p) for p in args.images]
    loaded = _load_model(args.model)
    predictor = Predictor(loaded.model, loaded.temperature, frozen=True, novelty=loaded.novelty)
    if drawings:
        predictions = predictor.predict_drawings(drawings)
    else:
        from model.preprocess import image_to_input

        predictions = predictor.predict_inputs([image_to_input(image) for image in images])
    out = sys.stdout
    for prediction in predictions:
        out.write(json.dumps(prediction.to_json()) + "\n")
    return 0


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


def cmd_finetune(args) -> int:
    from model.data import load_splits
    from model.finetune import FinetuneConfig, config_dict, finetune
    from model.modelio import new_metadata, save_model
    from model.strokes import read_drawings

    samples = read_drawings(args.samples)  # read every input first, so a bad file fails fast
    others = read_drawings(args.test_samples) if args.test_samples is not None else None
    out = args.out or paths.user_models_dir() / f"finetuned-{time.strftime('%Y%m%d-%H%M%S')}.keras"
    if out.resolve() == paths.BUNDLED_MODEL.resolve():
        raise DigitsError(f"{out}: the bundled model is never overwritten; choose another --out.")
    defaults = FinetuneConfig()
    config = FinetuneConfig(epochs=args.epochs or defaults.epochs, learning_rate=args.lr or defaults.learning_rate,
                            seed=args.seed)
    config.validate()
    loaded = _load_model(args.model)
    data = load_splits(args.data)
    on_batch, on_epoch = _progress_printer(sys.stderr)
    result = finetune(loaded.model, samples, data, config, arch=loaded.arch, evaluate_on=others,
                      on_batch=on_batch, on_epoch=on_epoch)
    metadata = new_metadata(loaded.arch, config_dict(config), result.mnist_after, name=out.stem,
                            data=f"{data.source} + {args.samples}", finetuned_from=str(loaded.path),
                            **result.metadata_extra())
    save_model(result.model, out, metadata, result.novelty)
    if result.forgot:
        print(f"digits: MNIST test accuracy fell by {-result.mnist_change:.2%} (more than 0.2 points); "
              f"the model is saved but not made current.", file=sys.stderr)
    else:
        try:
            paths.set_active_model_path(out)
        except DigitsError as exc:
            print(f"digits: {exc} The model is saved; pass --model {out} to use it.", file=sys.stderr)
    _keep_in_history(result, out, kind="finetune")
    summary = result.summary() | {"model": str(out), "base_model": str(loaded.path)}
    if args.json:
        print(json.dumps(summary))
        return 0
    print(f"fine-tuned {loaded.describe()} on {result.personal_train} of your drawings "
          f"({result.personal_held_back} held back) mixed with {result.mnist_in_mix} MNIST images; saved to {out}")
    print(f"  your held-back drawings: {_pct(result.personal_before)} -> {_pct(result.personal_after)}")
    if others is not None:
        print(f"  {args.test_samples}: {_pct(result.extra_before)} -> {_pct(result.extra_after)}")
    print(f"  MNIST test:              {_pct(result.mnist_before)} -> {_pct(result.mnist_after)}")
    return 0


def run(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handlers = {"train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict, "finetune": cmd_finetune}
    if args.command not in handlers:
        parser.print_help()
        return 0
    try:
        return handlers[args.command](args)
    except UsageError as exc:
        subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        subparsers.choices[args.command].error(str(exc))  # prints the usage, exits 2
    except DigitsError as exc:
        print(f"digits: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("digits: interrupted.", file=sys.stderr)
        return 130
    except MemoryError:
        print("digits: out of memory.", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (``digits predict ... | head``): stop quietly, and keep
        # Python's final flush of standard output from printing a traceback.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"digits: {where}{exc.strerror or exc}.", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug, not the user's fault: still one line, no traceback
        if os.environ.get("DIGITS_DEBUG"):
            raise
        detail = (str(exc).splitlines() or [""])[0][:200]
        print(f"digits: unexpected error ({type(exc).__name__}: {detail}); "
              "set DIGITS_DEBUG=1 to see the details.", file=sys.stderr)
        return 1
