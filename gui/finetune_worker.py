"""Fine-tuning off the GUI thread, with the training worker's signals so the training panel can run it.

The worker loads its own copy of the active model from its file, calls
``model.finetune.finetune`` (which trains a clone), saves the result as a new
model unless it forgot MNIST, and records the run in the history.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from gui.threads import building_model, ensure_keras
from gui.training_worker import TrainingJob, TrainingOutcome, TrainingWorker


@dataclass(frozen=True)
class FinetuneOutcome(TrainingOutcome):
    finetune: object | None = None  # model.finetune.FinetuneResult


@dataclass(frozen=True)
class FinetuneJob(TrainingJob):
    model_path: Path | None = None
    samples: tuple = ()  # model.strokes.Drawing
    finetune_config: object | None = None  # model.finetune.FinetuneConfig


def describe(result) -> str:
    """The before/after figures in one sentence."""
    def pct(v):
        return "n/a" if v is None else f"{v:.1%}"

    personal = (f"your held-back samples ({result.personal_held_back}): {pct(result.personal_before)} → "
                f"{pct(result.personal_after)}")
    mnist = f"MNIST test: {result.mnist_before:.2%} → {result.mnist_after:.2%}"
    return f"{personal}; {mnist}"


class FinetuneWorker(TrainingWorker):
    def _run(self) -> None:
        job: FinetuneJob = self._job
        self.status_changed.emit("loading MNIST...")
        data = job.data_loader()
        if self._stop.is_set():
            if not self._abandon.is_set():
                self.training_finished.emit(FinetuneOutcome(None, None, "Fine-tuning stopped before it began.", 0))
            return
        self.status_changed.emit("starting TensorFlow...")
        if not ensure_keras(should_stop=self._stop.is_set):  # stopped while TensorFlow imports: end now
            if not self._abandon.is_set():
                self.training_finished.emit(FinetuneOutcome(None, None, "Fine-tuning stopped before it began.", 0))
            return
        from model.finetune import finetune
        from model.modelio import load_model

        with building_model():
            loaded = load_model(job.model_path)
        self.status_changed.emit("measuring, then fine-tuning...")
        result = finetune(loaded.model, list(job.samples), data, job.finetune_config, arch=loaded.arch,
                          on_batch=self.batch_ended.emit, on_epoch=self.epoch_ended.emit,
                          should_stop=self._should_stop)
        if self._abandon.is_set():
            return
        figures = describe(result)
        if result.train_result.epochs_completed == 0:
            message = f"Fine-tuning stopped before the first epoch ended; the model was not kept. {figures}"
            self.training_finished.emit(FinetuneOutcome(result.train_result, None, message,
                                                        self._batches_after_stop, finetune=result))
            return
        if result.forgot:
            self._record(result, None)
            message = (f"Fine-tuning made MNIST accuracy fall by more than 0.2 points; the model was not kept. "
                       f"{figures}")
            self.training_finished.emit(FinetuneOutcome(result.train_result, None, message,
                                                        self._batches_after_stop, finetune=result))
            return
        new = self._save_tuned(loaded, result, data.source)
        message = f"{new.name}: fine-tuned. {figures}; saved to {new.path}"
        self.training_finished.emit(FinetuneOutcome(result.train_result, new, message,
                                                    self._batches_after_stop, finetune=result))

    def _record(self, result, path) -> None:
        from model import history
        from model.errors import DigitsError

        try:
            history.save_run(result.run_record(path))
        except DigitsError as exc:
            self.status_changed.emit(str(exc))

    def _save_tuned(self, loaded, result, source: str):
        from model.finetune import config_dict
        from model.modelio import LoadedModel, new_metadata, save_model

        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = Path(self._job.models_dir) / f"{loaded.arch}-finetuned-{stamp}.keras"
        for n in range(2, 1000):
            if not path.exists():
                break
            path = path.with_name(f"{loaded.arch}-finetuned-{stamp}-{n}.keras")
        config = config_dict(self._job.finetune_config) if self._job.finetune_config is not None else {}
        metadata = new_metadata(loaded.arch, config, result.mnist_after, name=path.stem,
                                data=f"{source} + personal samples", base_model=loaded.name,
                                **result.metadata_extra())
        save_model(result.model, path, metadata, result.novelty)
        self._record(result, path)
        return LoadedModel(result.model, path, metadata, result.novelty)
