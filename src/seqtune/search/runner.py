"""One trial, the same on every backend: windows → model → training → best epoch.

A holdout trial trains one model through the engine kept per layer structure
(:class:`~seqtune.models.engine.Wide` with one member: no trace per trial), or, when it
may run many batches (:meth:`Runner.trainer_for`) or belongs to a study made before
0.3.0 (:mod:`seqtune.search.versions`), through the compiled fit, traced per trial. A trial over
folds or repeats trains all its models side by side in one Wide. Either way each epoch
is scored on the whole validation set (in metric units), offered to the best-epoch
tracker, reported to the backend (which may prune), and checked for a stop request and
for patience — in that order, in :meth:`Runner._epoch_end` and nowhere else. The best
epoch's weights are restored; the trial's value is its objective.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from seqtune.data import Table, Windows
from seqtune.kinds import kind_of, kinds_of
from seqtune.models.builders import build_model
from seqtune.models.engine import Member, Wide, padded_steps, seed_keras
from seqtune.models.engine.assemble import seeded_wide
from seqtune.models.ensemble import mean_model
from seqtune.models.feed import window_of
from seqtune.models.training import Epoch, predictor, train_epochs
from seqtune.objectives.epochs import BestEpoch, score
from seqtune.search.framing import Framing
from seqtune.search.signals import check_stop
from seqtune.search.versions import Training
from seqtune.spec import Spec, searched_look_backs
from seqtune.tasks import calendar_of

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
    #: forecast trials over folds or repeats: ``(actual, forecast)`` in original units of
    #: every fold's validation part, the repeats' mean forecast at the best epoch, the
    #: folds' rows one after the other, each (n,) or (n, horizon); what prediction
    #: intervals are calibrated on (seqtune.exported.intervals). None elsewhere.
    validation: tuple[np.ndarray, np.ndarray] | None = None


class TrialFailed(RuntimeError):
    """A trial that could not finish for a reason of its own (its process died, ...):
    recorded as failed with this message, and the study goes on."""


def out_of_memory(exc: BaseException) -> TrialFailed:
    """The trial failure for an allocation that failed (TensorFlow's ResourceExhaustedError
    or Python's MemoryError): one line, without TensorFlow's op and device decorations."""
    text = re.sub(r"\{\{[^}]*\}\}", "", str(exc)).strip()
    first = (text.splitlines() or [""])[0].split(" on /job:")[0].strip()
    return TrialFailed(f"out of memory: {first[:200] or type(exc).__name__}")


@contextmanager
def memory_fails_the_trial() -> Iterator[None]:
    """An allocation that fails inside becomes :func:`out_of_memory`'s one-line
    :class:`TrialFailed` (a trial, or a refit at export, fails alone)."""
    try:
        yield
    except (MemoryError, tf.errors.ResourceExhaustedError) as exc:
        raise out_of_memory(exc) from None


def member_seeds(seed: int, k: int) -> list[int]:
    """The seeds of a configuration's ``k`` repeats (and of its ensemble's members): the
    trial's own seed first, so one repeat trains what a single-model trial trains."""
    more = np.random.SeedSequence([seed, 0x5EED]).generate_state(max(k - 1, 0))
    return [int(seed)] + [int(v % (2**31 - 1)) for v in more]


#: ``auto``: a holdout trial of at most this many batches (``search.max_epochs`` times the
#: batches of an epoch) trains through the kept engine, a longer one with the compiled fit.
#: The engine saves the fit's trace (0.6-1.3 s a trial here) but, its dims being open,
#: pays 0.1-0.6 ms more a batch (measured on airline and the drone stream, see
#: docs/benchmarks.md): the two break even between about 2,000 and 10,000 batches.
WIDE_MAX_BATCHES = 2000
#: ``auto``, unrolled LSTM (studies made before 0.3.2): an LSTM over time steps whose
#: look_back can make more than this many engine structures (window lengths, or their
#: buckets when windows are padded) trains its holdout trials with the fit. Each is a layer
#: structure of its own, so most trials would trace the engine anew, and its first trace
#: costs about twice the fit's (a 50-trial study over 12 unpadded window lengths ran 1.18x
#: slower on the engine).
WIDE_MAX_WINDOWS = 4


def _look_backs(spec: Spec) -> list[int] | None:
    """Every window length an LSTM over time steps can get (None: another model, or a
    look_back that is not searched)."""
    lstm = "lstm" in kinds_of(spec)
    if not lstm or spec.layout != "timesteps" or "look_back" not in spec.space:
        return None
    return list(searched_look_backs(spec))


def window_lengths(spec: Spec, pad: bool = False) -> int:
    """How many engine structures the spec's look_back makes: its LSTM window lengths, or
    with ``pad`` their :func:`~seqtune.models.engine.padded_steps` buckets; 1 unless the
    model is an LSTM over time steps."""
    looks = _look_backs(spec)
    if not looks:
        return 1
    return len({padded_steps(n) for n in looks} if pad else set(looks))


def _first_member(wide: Wide, epochs: int, initial_epoch: int) -> Iterator[Epoch]:
    """A one-member :class:`Wide`'s epochs as the compiled fit's records (raising
    :class:`Diverged` as the fit does), so one loop scores either."""
    for epoch in wide.run(epochs, initial_epoch):
        if epoch.diverged:
            raise wide.diverged[0]
        yield Epoch(epoch.epoch, float(epoch.loss[0]), epoch.validation[0])


class Runner(Framing):
    """Runs trials of one spec on one loaded table (its windows and metrics are
    :class:`~seqtune.search.framing.Framing`'s)."""

    def __init__(
        self,
        spec: Spec,
        table: Table,
        training: Training | None = None,
    ) -> None:
        # how this study trains, by the version that made it (seqtune.search.versions)
        self.training = training = training or Training()
        holdout, pad, lstm = training.holdout, training.pad, training.lstm
        super().__init__(spec, table)
        # How the engine computes an LSTM: fused (0.3.2 on; any window length shares one
        # trace) or unrolled over the window's steps (a study made before; an export
        # records which, for train)
        self.lstm = lstm
        # LSTM windows padded to a few lengths in the unrolled engine (one structure per
        # bucket of look_back values, not per value): only where look_back is searched,
        # since a fixed window gains nothing from padding steps, and only in short trials
        # (pads); an export records it for train
        self.pad_steps = lstm == "unrolled" and (
            pad == "on" or (pad == "auto" and window_lengths(spec, pad=True) < window_lengths(spec))
        )
        # A holdout trial through the kept engine (one member: no tracing per trial) or
        # through the compiled fit (traced per trial): the two agree to round-off only, so
        # a trial is always trained the same way (trainer_for), and an export says which.
        self.holdout = holdout
        self.on_epoch: Callable[[int], None] | None = None  # told each epoch's end (progress)

    def trainer_for(self, values: dict[str, Any], windows: Windows) -> str:
        """How the holdout trial of ``values`` (on its ``windows``) trains: ``wide`` (a
        one-member Wide on the kept engine) or ``fit`` (the compiled fit). ``auto``: the
        engine unless the trial may run more than :data:`WIDE_MAX_BATCHES` batches, where
        its dearer batches cost more than the trace it saves, or (unrolled LSTM only) the
        spec searches more than :data:`WIDE_MAX_WINDOWS` LSTM window lengths, where most
        trials would be a new structure. A function of the spec and the values only, so
        every trial of a configuration trains alike."""
        if self.holdout != "auto":
            return self.holdout
        if self.lstm == "unrolled" and window_lengths(self.spec, self.pad_steps) > WIDE_MAX_WINDOWS:
            return "fit"
        rows = len(windows.part("train")[0])
        return "wide" if self._batches(values, rows) <= WIDE_MAX_BATCHES else "fit"

    def _batches(self, values: dict[str, Any], rows: int) -> int:
        """The most batches a trial of ``values`` on ``rows`` training rows may run."""
        batch = max(1, min(int(self.resolved(values)["batch_size"]), rows))
        return -(-rows // batch) * self.spec.search.max_epochs

    def pads(self, values: dict[str, Any], rows: int) -> bool:
        """Whether the engine pads the LSTM windows of a trial (or refit) of ``values``
        whose members train on at most ``rows`` rows: where the runner pads at all
        (:attr:`pad_steps`) and the trial runs at most :data:`WIDE_MAX_BATCHES` batches.
        The padding steps cost about as much as real ones, so a long trial would pay more
        for them than the trace they save (about 2 s). A function of the spec, the values
        and the rows, so a trial, its export and ``train`` pad alike."""
        return self.pad_steps and self._batches(values, rows) <= WIDE_MAX_BATCHES

    def build(self, values: dict[str, Any], windows: Windows) -> keras.Model:
        head, n_out = self.task.head(windows)
        return build_model(
            kind_of(self.spec, values),
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
        with memory_fails_the_trial():
            return self._run(values, seed, epochs, initial_epoch, weights_from, report)

    def _run(
        self,
        values: dict[str, Any],
        seed: int,
        epochs: int | None,
        initial_epoch: int,
        weights_from: str | None,
        report: Report | None,
    ) -> Outcome:
        if self.trains_members:  # folds × repeats, side by side
            return self._run_members(values, seed, epochs, report)
        start = time.perf_counter()
        resolved = self.resolved(values)
        total = epochs if epochs is not None else self.spec.search.max_epochs
        with ExitStack() as held:
            wide: Wide | None = None
            windows = self.windows(values)
            if self.trainer_for(values, windows) == "wide":  # the kept engine, no trace
                if weights_from is None:
                    wide = self._wide(values, resolved, [(windows, seed)], True)
                else:  # Hyperband's next round
                    seed_keras(seed)
                    loaded = self.build(values, windows)
                    loaded.load_weights(weights_from)
                    wide = self._wide(values, resolved, [(windows, seed)], True, models=[loaded])
                held.enter_context(wide)
                variables = wide.variables
                records = _first_member(wide, total, initial_epoch)
            else:  # the compiled fit, traced per trial
                keras.backend.clear_session()
                keras.utils.set_random_seed(seed)
                model = self.build(values, windows)
                if weights_from is not None:
                    model.load_weights(weights_from)
                variables = list(model.weights)  # listed once: model.weights walks the layers
                records = self._epochs(model, windows, resolved, seed, total, initial_epoch)
            y_true, to_units = self.task.truth(windows, "val"), self.task.to_units(windows, "val")
            metrics = self.metrics(int(resolved["batch_size"]))
            best = BestEpoch(self.spec.objective, self.spec.search.patience)
            pruned_at, epochs_run = None, 0
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
            best.restore(variables)
            if wide is not None:
                model = wide.export(0)
        return self._outcome(best, epochs_run, start, model, windows, pruned_at)

    @property
    def trains_members(self) -> bool:
        """Whether a trial trains several models (rolling-origin folds × repeats), side by
        side in one compiled call per epoch, instead of one model on the holdout."""
        return self.table.uses_folds or self.spec.search.repeats > 1

    @property
    def refits(self) -> bool:
        """Whether export and ``train`` refit the chosen configuration on every row before
        the test part (folds, repeats or an ensemble) instead of keeping the trial's model."""
        return self.trains_members or self.spec.search.members > 1

    def _wide(
        self,
        values: dict[str, Any],
        resolved: dict[str, Any],
        parts: list[tuple[Windows, int]],
        validation: bool,
        *,
        models: list[keras.Model] | None = None,
    ) -> Wide:
        """A :class:`Wide` of one member per (windows, seed): its training part, and its
        validation inputs when ``validation``; each member starts from the weights its own
        build would get (:func:`~seqtune.models.engine.assemble.seeded_wide`). ``models``:
        the members' models as given (e.g. holding loaded weights)."""
        members = []
        layout = self.spec.layout
        for windows, seed in parts:
            x_val = window_of(windows, "val", layout) if validation else None
            members.append(
                Member(
                    seed,
                    window_of(windows, "train", layout),
                    windows.part("train")[1],
                    windows.sample_weight_train,
                    x_val,
                )
            )
        head, n_out = self.task.head(parts[0][0])
        common = {
            "head": head,
            "learning_rate": float(resolved["learning_rate"]),
            "batch_size": int(resolved["batch_size"]),
            "pad_steps": self.pads(values, max(len(mb.x) for mb in members)),
            "lstm": self.lstm,
        }
        if models is not None:
            return Wide(models, members, **common)
        first = parts[0][0]
        return seeded_wide(
            members,
            lambda i: self.build(values, parts[i][0]),
            (
                kind_of(self.spec, values),
                self.spec.layout,
                first.look_back,
                first.n_features,
                n_out,
                head,
            ),
            resolved,
            **common,
        )

    def _run_members(
        self, values: dict[str, Any], seed: int, epochs: int | None, report: Report | None
    ) -> Outcome:
        """A trial over the rolling-origin folds of ``data.split`` (the holdout alone with
        ``folds: 1``) × ``search.repeats`` seeds: one model per fold and seed (scalers and
        transforms fitted on that fold's training rows), all trained in one compiled call
        per epoch (:mod:`seqtune.models.engine`). Each epoch, a fold's value is its objective
        on the mean of its repeats' predictions (in metric units); the epoch's value is
        the mean (``search.aggregate: median``: the median) over the folds, so the best
        epoch, patience and the pruner all read it. The per-fold values at the best epoch
        are kept as ``<objective>_fold<i>`` and ``<objective>_sd``. A model whose loss
        stops being finite stops alone; a fold left with none fails the trial
        (:class:`Diverged`)."""
        start = time.perf_counter()
        resolved = self.resolved(values)
        folds = self.member_windows(values)
        seeds = member_seeds(seed, self.spec.search.repeats)
        r = len(seeds)
        with self._wide(values, resolved, [(w, s) for w in folds for s in seeds], True) as wide:
            metrics = self.metrics(int(resolved["batch_size"]))
            name = self.spec.objective.name
            truths = [(self.task.truth(w, "val"), self.task.to_units(w, "val")) for w in folds]
            combine = np.median if self.spec.search.aggregate == "median" else np.mean
            variables = wide.variables
            best = BestEpoch(self.spec.objective, self.spec.search.patience)
            pruned_at, epochs_run = None, 0
            validation: tuple[np.ndarray, np.ndarray] | None = None
            total = epochs if epochs is not None else self.spec.search.max_epochs
            for epoch in wide.run(total):
                epochs_run += 1
                per, errors = [], []
                for f, (y_true, to_units) in enumerate(truths):
                    preds = [p for p in epoch.validation[f * r : (f + 1) * r] if p is not None]
                    if not preds:  # every repeat of this fold diverged
                        raise wide.diverged[min(k for k in wide.diverged if k // r == f)]
                    mean = np.mean([to_units(p) for p in preds], axis=0)
                    per.append(score(y_true, mean, metrics))
                    if self.task.forecasts:
                        errors.append((np.asarray(y_true, np.float64), mean))
                scores = {k: float(combine([p[k] for p in per])) for k in per[0]}
                scores["loss"] = float(np.nanmean(epoch.loss))
                values_f = [p[name] for p in per]
                if len(per) > 1:
                    scores[f"{name}_sd"] = float(np.std(values_f))
                    scores.update({f"{name}_fold{i}": v for i, v in enumerate(values_f)})
                end = self._epoch_end(best, epoch.epoch, scores, variables, report)
                if errors and best.epoch == epoch.epoch:
                    validation = (
                        np.concatenate([a for a, _ in errors], axis=0),
                        np.concatenate([f for _, f in errors], axis=0),
                    )
                if end == "pruned":
                    pruned_at = epoch.epoch
                if end is not None:
                    break
            best.restore(variables)
            last = (len(folds) - 1) * r  # the fold trained on the most rows, first seed
            model = wide.export(last)
        outcome = self._outcome(best, epochs_run, start, model, folds[-1], pruned_at)
        outcome.validation = validation
        return outcome

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
        epochs_run: int,
        start: float,
        model: keras.Model,
        windows: Windows,
        pruned_at: int | None,
    ) -> Outcome:
        """The trial's outcome (``model`` holds the best epoch's weights)."""
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
        return train_epochs(
            model,
            window_of(windows, "train", layout),
            windows.part("train")[1],
            head=self.task.head(windows)[0],
            learning_rate=float(resolved["learning_rate"]),
            batch_size=int(resolved["batch_size"]),
            epochs=epochs if epochs is not None else self.spec.search.max_epochs,
            seed=seed,
            sample_weight=windows.sample_weight_train,
            initial_epoch=initial_epoch,
            validation_x=window_of(windows, "val", layout),
        )

    def refit(self, values: dict[str, Any], seed: int, epochs: int) -> Outcome:
        """Train ``values`` on every row before the test part (no validation) for
        ``epochs`` epochs with ``search.ensemble`` seeds (the repeats' seeds), side by
        side: what export and ``train`` do when the configuration was chosen on folds or
        repeats, before the test part is read once. The outcome's model is the members'
        mean (:func:`~seqtune.models.ensemble.mean_model`; one member: the model)."""
        check_stop()
        with memory_fails_the_trial():
            return self._refit(values, seed, epochs)

    def _refit(self, values: dict[str, Any], seed: int, epochs: int) -> Outcome:
        start = time.perf_counter()
        resolved = self.resolved(values)
        windows = self.table.refit_windows(
            int(resolved["look_back"]), str(resolved["transform"]), calendar_of(values)
        )
        seeds = member_seeds(seed, self.spec.search.members)
        with self._wide(values, resolved, [(windows, s) for s in seeds], False) as wide:
            ran = 0
            for _ in wide.run(epochs):
                ran += 1
                check_stop()
            if len(wide.diverged) == wide.k:
                raise wide.diverged[0]
            kept = [k for k in range(wide.k) if k not in wide.diverged]
            model = mean_model([wide.export(k) for k in kept])
        return Outcome(None, epochs - 1, ran, time.perf_counter() - start, {}, model, windows)

    def predict(self, model: keras.Model, windows: Windows, part: str) -> np.ndarray:
        """Predictions of ``part`` in metric units: original units for a forecast, shape
        (n,) or (n, horizon); class probabilities for classify."""
        raw = predictor(model)(window_of(windows, part, self.spec.layout))
        return self.task.to_units(windows, part)(raw)

    def evaluate(self, model: keras.Model, windows: Windows, part: str) -> dict[str, Any]:
        """Metrics of ``part`` in the original units (test metrics for export and train)."""
        y_pred = self.predict(model, windows, part)
        y_true = self.task.truth(windows, part)
        report = self.task.report(y_true, y_pred)
        if self._user_fn is not None:
            report[self.spec.objective.name] = float(self._user_fn(y_true, y_pred))
        return report
