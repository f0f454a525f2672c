"""The trial loop, the only one: ask the backend for a plan, train it, tell the backend how
it ended; until the backend has nothing more to run.

The shape of Optuna's ``study/_optimize.py`` (the loop) and ``_run_trial`` (one trial): the
backend decides (ask / report / tell), the runner trains, and what a study keeps of a trial
(its best model, its records on disk) is handed in as two callables, so the loop knows
nothing of study folders.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any, TextIO

from seqtune.errors import UserError
from seqtune.models.training import Diverged
from seqtune.search.backends.base import Backend, TrialPlan, TrialResult
from seqtune.search.progress import Progress
from seqtune.search.records import TrialRecord, best_of
from seqtune.search.runner import Runner, TrialFailed
from seqtune.search.signals import check_stop, signals_as_interrupt
from seqtune.spec import Spec


class TrialLoop:
    """Runs a backend's trials with a runner.

    Parameters
    ----------
    backend
        Decides what runs (ask), hears every epoch (report) and how each trial ended (tell).
    spec
        The study's spec: its objective (to know the best so far) and epochs per trial.
    keep
        ``keep(number, model)``: called with a complete trial's model when it is the best
        so far (the study saves it as a checkpoint).
    written
        Called after every trial, and when the loop ends (the study rewrites trials.csv).
    """

    def __init__(
        self,
        backend: Backend,
        spec: Spec,
        keep: Callable[[int, Any], None],
        written: Callable[[], None],
    ) -> None:
        self.backend, self.spec, self.keep, self.written = backend, spec, keep, written

    def run(self, runner: Runner, out: TextIO) -> None:
        """Ask, train and tell until the backend has nothing more to run. Raises
        :class:`~seqtune.search.signals.Interrupted` on SIGINT/SIGTERM (the running trial
        is told interrupted first)."""
        budget = self.backend.budget()
        plan = self.backend.plan()
        if plan:
            print(plan, file=out)
        progress = Progress(
            out,
            budget,
            self.spec.objective.name,
            self.spec.search.max_epochs,
            done=self.backend.finished(),
        )
        if progress.live:  # the running trial's epoch on the status line
            runner.on_epoch = progress.epoch_ended
        freeze_startup_objects()
        with signals_as_interrupt():
            try:
                while True:
                    check_stop()
                    trial = self.backend.ask(budget)
                    if trial is None:
                        break
                    record = self.run_trial(runner, trial)
                    self.written()
                    progress.trial_finished(record, self.backend.finished(), self.best())
            finally:
                progress.close()
                self.written()

    def run_trial(self, runner: Runner, plan: TrialPlan) -> TrialRecord:
        """Train one plan and tell the backend how it ended. A trial that fails for a
        reason of its own (diverged, out of memory, its process died) is told failed and
        the study goes on; anything that stops the study (a stop request, a broken user
        objective, a bug) is told interrupted — never left running — and raised."""
        backend = self.backend
        try:
            outcome = runner.run(
                plan.values,
                plan.seed,
                epochs=plan.epochs,
                initial_epoch=plan.initial_epoch,
                weights_from=None if plan.warm_start is None else str(plan.warm_start),
                report=lambda epoch, value: backend.report(plan.number, epoch, value),
            )
        except Diverged as exc:
            return backend.tell(plan.number, TrialResult("failed", reason=f"diverged: {exc}"))
        except TrialFailed as exc:
            return backend.tell(plan.number, TrialResult("failed", reason=str(exc)))
        except BaseException as exc:
            if isinstance(exc, UserError):  # e.g. a broken user objective
                reason = f"stopped: {exc}"
            elif isinstance(exc, KeyboardInterrupt):  # Ctrl-C, SIGTERM
                reason = f"interrupted: {type(exc).__name__}: {exc}"
            else:
                reason = f"error: {type(exc).__name__}: {exc}"
            backend.tell(plan.number, TrialResult("interrupted", reason=reason[:300]))
            raise
        result = TrialResult(
            "complete",
            value=outcome.value,
            epochs=plan.initial_epoch + outcome.epochs_run,
            best_epoch=outcome.best_epoch,
            seconds=outcome.seconds,
            metrics=outcome.metrics,
        )
        if outcome.pruned_at is not None:
            result.state = "pruned"
        elif outcome.value is None or outcome.model is None:
            result.state, result.reason = "failed", "objective was never finite"
        else:
            if plan.keep_weights is not None:  # a later trial may continue from these
                outcome.model.save_weights(str(plan.keep_weights))
            if self.spec.objective.better(float(outcome.value), self.best()):
                self.keep(plan.number, outcome.model)
        return backend.tell(plan.number, result)

    def best(self) -> float | None:
        """The best value so far, from the storage: other workers' trials count."""
        best = best_of(self.backend.records(), self.spec.objective.direction)
        return best.value if best else None


def freeze_startup_objects() -> None:
    """Move every object alive now (TensorFlow's, Keras', Optuna's: about 350,000) out of
    the garbage collector's sight. ``keras.backend.clear_session()``, called before every
    trial of the compiled fit (studies made before 0.3.0) and by Keras elsewhere, runs a
    full ``gc.collect()``: 0.25 s per call over those objects, 0.01 s after this. Objects
    made later, trials' models included, are collected as before."""
    gc.collect()
    gc.freeze()
