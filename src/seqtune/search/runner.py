"""One trial, the same on every backend: windows → model → compiled fit → best epoch.

The compiled fit yields one record per epoch; each is scored on the whole validation set
(in metric units), offered to the best-epoch tracker, reported to the backend (which may
prune), and checked for a stop request and for patience — in that order, here and
nowhere else. The best epoch's weights are restored; the trial's value is its objective.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from seqtune.data import Table, Windows
from seqtune.models.builders import build_model, reshape_x
from seqtune.models.params import resolve
from seqtune.models.training import Epoch, predictor, train_epochs
from seqtune.objectives import load_user_function, task_metrics
from seqtune.objectives.epochs import BestEpoch, score
from seqtune.objectives.guard import guarded
from seqtune.search.signals import check_stop
from seqtune.spec import Spec
from seqtune.tasks import task_of

#: Told each epoch's objective value: ``report(epoch, value)`` returns True to stop the
#: trial there (pruned). NaN values are not reported.
Report = Callable[[int, float], bool]


@dataclass
class Outcome:
    """What a trial produced."""

    value: float | None
    best_epoch: int | None  # 0-based
    epochs_run: int
    seconds: float
    metrics: dict[str, float] = field(default_factory=dict)  # validation metrics at best epoch
    model: keras.Model | None = None
    windows: Windows | None = None
    pruned_at: int | None = None  # the epoch after which the backend stopped it (0-based)


class TrialFailed(RuntimeError):
    """A trial that could not finish for a reason of its own (its process died, ...):
    recorded as failed with this message, and the study goes on."""


def out_of_memory(exc: BaseException) -> TrialFailed:
    """The trial failure for an allocation that failed (TensorFlow's ResourceExhaustedError
    or Python's MemoryError): one line, without TensorFlow's op and device decorations."""
    text = re.sub(r"\{\{[^}]*\}\}", "", str(exc)).strip()
    first = (text.splitlines() or [""])[0].split(" on /job:")[0].strip()
    return TrialFailed(f"out of memory: {first[:200] or type(exc).__name__}")


class Runner:
    """Runs trials of one spec on one loaded table."""

    def __init__(self, spec: Spec, table: Table) -> None:
        self.spec = spec
        self.table = table
        self.task = task_of(spec.data.task)
        self.on_epoch: Callable[[int], None] | None = None  # told each epoch's end (progress)
        self._user_fn = None
        if spec.objective.function is not None:
            # raises, exits, hangs, returns a non-number: one UserError naming it (a bug
            # in it would fail every trial alike, so the study stops)
            self._user_fn = guarded(
                load_user_function(spec.objective.function, spec.objective.path),
                spec.objective.function,
                spec.objective.timeout,
            )

    def windows(self, values: dict[str, Any]) -> Windows:
        return self.task.windows(self.table, values, self.spec.seed)

    def metrics(self, batch_size: int) -> dict[str, Callable[[np.ndarray, np.ndarray], float]]:
        out = task_metrics(self.spec.data.task, batch_size)
        if self._user_fn is not None:
            out[self.spec.objective.name] = self._user_fn
        return out

    def build(self, values: dict[str, Any], windows: Windows) -> keras.Model:
        head, n_out = self.task.head(windows)
        return build_model(
            self.spec.kind,
            self.spec.layout,
            values,
            look_back=windows.look_back,
            n_features=windows.n_features,
            n_outputs=n_out,
            head=head,
        )

    def run(
        self,
        values: dict[str, Any],
        seed: int,
        *,
        epochs: int | None = None,
        initial_epoch: int = 0,
        weights_from: str | None = None,
        report: Report | None = None,
    ) -> Outcome:
        """Train one configuration, from scratch or from saved weights (Hyperband's next
        round); ``report`` is told every epoch's objective and may stop the trial.

        Raises :class:`~seqtune.models.training.Diverged` on a NaN loss and
        :class:`TrialFailed` when memory runs out (this configuration fails alone, on every
        backend)."""
        check_stop()
        try:
            return self._run(values, seed, epochs, initial_epoch, weights_from, report)
        except (MemoryError, tf.errors.ResourceExhaustedError) as exc:
            raise out_of_memory(exc) from None

    def _run(
        self,
        values: dict[str, Any],
        seed: int,
        epochs: int | None,
        initial_epoch: int,
        weights_from: str | None,
        report: Report | None,
    ) -> Outcome:
        if self.table.uses_folds:  # rolling origins: one model per fold, in step
            return self._run_folds(values, seed, epochs, report)
        start = time.perf_counter()
        keras.backend.clear_session()
        keras.utils.set_random_seed(seed)
        windows = self.windows(values)
        model = self.build(values, windows)
        if weights_from is not None:
            model.load_weights(weights_from)
        resolved = resolve(self.spec.kind, values)
        batch_size = int(resolved["batch_size"])
        y_true, to_units = self.task.truth(windows, "val"), self.task.to_units(windows, "val")
        metrics = self.metrics(batch_size)
        best = BestEpoch(self.spec.objective, self.spec.search.patience)
        variables = list(model.weights)  # listed once: model.weights walks the layers
        pruned_at, epochs_run = None, 0
        records = self._epochs(model, windows, resolved, seed, epochs, initial_epoch)
        try:
            for epoch in records:
                epochs_run += 1
                scores = {"loss": epoch.loss}
                if epoch.predictions is not None:
                    scores.update(score(y_true, to_units(epoch.predictions), metrics))
                end = self._epoch_end(best, epoch.index, scores, variables, report)
                if end == "pruned":
                    pruned_at = epoch.index
                if end is not None:
                    break
        finally:
            records.close()
        return self._outcome(best, variables, epochs_run, start, model, windows, pruned_at)

    def _run_folds(
        self, values: dict[str, Any], seed: int, epochs: int | None, report: Report | None
    ) -> Outcome:
        """A trial over the rolling-origin folds of ``data.split``: one model per fold
        (scalers and transforms fitted on that fold's training rows), trained epoch by epoch
        in step; an epoch's value is the mean over the folds of their validation objective,
        so the best epoch, patience and the pruner all read the mean. The per-fold values
        at the best epoch are kept as ``<objective>_fold<i>`` (and ``<objective>_sd``)."""
        start = time.perf_counter()
        keras.backend.clear_session()
        keras.utils.set_random_seed(seed)
        resolved = resolve(self.spec.kind, values)
        look_back, transform = int(resolved["look_back"]), str(resolved["transform"])
        batch_size = int(resolved["batch_size"])
        metrics = self.metrics(batch_size)
        name = self.spec.objective.name
        folds = []
        for f in range(len(self.table.fold_plan)):
            windows = self.table.fold_windows(f, look_back, transform)
            model = self.build(values, windows)
            records = self._epochs(model, windows, resolved, seed, epochs, 0)
            folds.append(
                (windows, model, records, self.task.truth(windows, "val"),
                 self.task.to_units(windows, "val"))
            )
        variables = [v for _, model, _, _, _ in folds for v in model.weights]
        best = BestEpoch(self.spec.objective, self.spec.search.patience)
        pruned_at, epochs_run = None, 0
        try:
            for step in zip(*(records for _, _, records, _, _ in folds), strict=False):
                epochs_run += 1
                per = [
                    score(y_true, to_units(epoch.predictions), metrics)
                    for (_, _, _, y_true, to_units), epoch in zip(folds, step, strict=True)
                    if epoch.predictions is not None
                ]
                scores = {k: float(np.mean([p[k] for p in per])) for k in per[0]}
                scores["loss"] = float(np.mean([epoch.loss for epoch in step]))
                values_f = [p[name] for p in per]
                scores[f"{name}_sd"] = float(np.std(values_f))
                scores.update({f"{name}_fold{i}": v for i, v in enumerate(values_f)})
                end = self._epoch_end(best, step[0].index, scores, variables, report)
                if end == "pruned":
                    pruned_at = step[0].index
                if end is not None:
                    break
        finally:
            for _, _, records, _, _ in folds:
                records.close()
        windows, model = folds[-1][0], folds[-1][1]  # the fold trained on the most rows
        return self._outcome(best, variables, epochs_run, start, model, windows, pruned_at)

    def _epoch_end(
        self,
        best: BestEpoch,
        index: int,
        scores: dict[str, float],
        variables: list[Any],
        report: Report | None,
    ) -> str | None:
        """What follows each epoch, in this order: keep it if best, report its objective
        (the backend may prune), tell the progress line, honour a stop request, check
        patience. Returns "pruned", "patience" or None (go on)."""
        best.offer(index, scores, variables)
        value = scores.get(self.spec.objective.name, float("nan"))
        prune = report is not None and value == value and report(index, value)
        if self.on_epoch is not None:
            self.on_epoch(index)
        check_stop()
        if prune:
            return "pruned"
        return "patience" if best.exhausted(index) else None

    @staticmethod
    def _outcome(
        best: BestEpoch,
        variables: list[Any],
        epochs_run: int,
        start: float,
        model: keras.Model,
        windows: Windows,
        pruned_at: int | None,
    ) -> Outcome:
        """The trial's outcome, with the best epoch's weights put back."""
        best.restore(variables)
        return Outcome(
            value=best.value,
            best_epoch=best.epoch,
            epochs_run=epochs_run,
            seconds=time.perf_counter() - start,
            metrics={k: v for k, v in best.scores.items() if k != "loss"},
            model=model,
            windows=windows,
            pruned_at=pruned_at,
        )

    def _epochs(
        self,
        model: keras.Model,
        windows: Windows,
        resolved: dict[str, Any],
        seed: int,
        epochs: int | None,
        initial_epoch: int,
    ) -> Iterator[Epoch]:
        """The compiled fit of ``model`` on ``windows``' training part, yielding one record
        per epoch with the validation part predicted in the epoch's own call."""
        layout = self.spec.layout
        x_train, y_train = windows.part("train")
        x_val, _ = windows.part("val")
        return train_epochs(
            model,
            reshape_x(x_train, layout),
            y_train,
            head=self.task.head(windows)[0],
            learning_rate=float(resolved["learning_rate"]),
            batch_size=int(resolved["batch_size"]),
            epochs=epochs if epochs is not None else self.spec.search.max_epochs,
            seed=seed,
            sample_weight=windows.sample_weight_train,
            initial_epoch=initial_epoch,
            validation_x=reshape_x(x_val, layout),
        )

    def refit(self, values: dict[str, Any], seed: int, epochs: int) -> Outcome:
        """Train ``values`` on every row before the test part (no validation) for
        ``epochs`` epochs: what export and ``train`` do with a configuration chosen on
        rolling-origin folds, before the test part is read once."""
        check_stop()
        start = time.perf_counter()
        keras.backend.clear_session()
        keras.utils.set_random_seed(seed)
        resolved = resolve(self.spec.kind, values)
        windows = self.table.refit_windows(int(resolved["look_back"]), str(resolved["transform"]))
        model = self.build(values, windows)
        ran = 0
        for _ in self._epochs(model, windows, resolved, seed, epochs, 0):  # no val part
            ran += 1
            check_stop()
        return Outcome(None, epochs - 1, ran, time.perf_counter() - start, {}, model, windows)

    def predict(self, model: keras.Model, windows: Windows, part: str) -> np.ndarray:
        """Predictions of ``part`` in metric units: original units for a forecast, shape
        (n,) or (n, horizon); class probabilities for classify."""
        x, _ = windows.part(part)
        raw = predictor(model)(reshape_x(x, self.spec.layout))
        return self.task.to_units(windows, part)(raw)

    def evaluate(self, model: keras.Model, windows: Windows, part: str) -> dict[str, Any]:
        """Metrics of ``part`` in the original units (test metrics for export and train)."""
        y_pred = self.predict(model, windows, part)
        y_true = self.task.truth(windows, part)
        report = self.task.report(y_true, y_pred)
        if self._user_fn is not None:
            report[self.spec.objective.name] = float(self._user_fn(y_true, y_pred))
        return report
