"""Hyperband on keras-tuner: the same spec, objective, trial runner and result files.

keras-tuner owns the schedule (brackets, rounds, which trial continues from which
checkpoint); seqtune's runner trains each trial, so data parameters (``look_back``,
``batch_size``, ``transform``) are searched like any other and the objective is the same
number as on TPE. State lives in ``<study>/keras_tuner/``; oracle and trial files are
written atomically so a kill never leaves half a JSON file behind.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
from pathlib import Path
from typing import Any

import keras_tuner as kt
from keras_tuner.src import config as kt_config

from seqtune.errors import UserError
from seqtune.models.training import Diverged
from seqtune.search.backends.base import AfterTrial, Backend, BeforeComplete
from seqtune.search.files import write_text
from seqtune.search.records import TrialRecord
from seqtune.search.runner import Runner, TrialFailed, derive_seed
from seqtune.spaces import declare_keras_tuner
from seqtune.spec import Spec

PROJECT = "hyperband"
SIDECAR = "seqtune.json"
_STATE = {
    "COMPLETED": "complete",
    "RUNNING": "running",
    "FAILED": "failed",
    "INVALID": "failed",
    "STOPPED": "pruned",
    "IDLE": "running",
}


def schedule(max_epochs: int, factor: int, iterations: int) -> list[tuple[int, int, int, int]]:
    """keras-tuner's Hyperband plan as (bracket, round, models, epochs each model reaches)."""
    oracle = kt.oracles.HyperbandOracle(
        objective=kt.Objective("x", "min"), max_epochs=max_epochs, factor=factor
    )
    plan = []
    for _ in range(iterations):
        for bracket in reversed(range(oracle._get_num_brackets())):
            for rnd in range(oracle._get_num_rounds(bracket)):
                plan.append(
                    (bracket, rnd, oracle._get_size(bracket, rnd), oracle._get_epochs(bracket, rnd))
                )
    return plan


class _SpaceModel(kt.HyperModel):
    """Declares the spec's space on keras-tuner's HyperParameters (no model is built here:
    seqtune's runner builds and trains each trial)."""

    def __init__(self, spec: Spec) -> None:
        super().__init__()
        self.spec = spec

    def build(self, hp: kt.HyperParameters) -> None:  # type: ignore[override]
        declare_keras_tuner(hp, self.spec.space)


class _Oracle(kt.oracles.HyperbandOracle):
    """Hyperband's oracle with atomic state files and an optional cap on trials."""

    cap: int | None = None

    def save(self) -> None:
        write_text(Path(self._get_oracle_fname()), json.dumps(self.get_state()))

    def _save_trial(self, trial: kt.engine.trial.Trial) -> None:
        path = Path(self._get_trial_dir(trial.trial_id)) / "trial.json"
        write_text(path, json.dumps(trial.get_state()))

    def populate_space(self, trial_id: str) -> dict[str, Any]:
        if self.cap is not None:
            finished = sum(
                1 for t in self.trials.values() if t.status in ("COMPLETED", "FAILED", "INVALID")
            )
            if finished >= self.cap:
                return {"status": "STOPPED"}
        return super().populate_space(trial_id)


class _Tuner(kt.Hyperband):
    """keras-tuner's Hyperband whose trials run on seqtune's runner."""

    def __init__(self, backend: HyperbandBackend, oracle: _Oracle, **kwargs: Any) -> None:
        self.backend = backend
        self.seqtune_runner: Runner | None = None
        self.before_complete: BeforeComplete | None = None
        self.after: AfterTrial | None = None
        kt.Tuner.__init__(self, oracle=oracle, hypermodel=_SpaceModel(backend.spec), **kwargs)

    def run_trial(
        self, trial: kt.engine.trial.Trial, *args: Any, **kwargs: Any
    ) -> dict[str, float]:
        assert self.seqtune_runner is not None and self.before_complete is not None
        spec = self.backend.spec
        hp = trial.hyperparameters
        values = declare_keras_tuner(hp, spec.space)
        number = int(trial.trial_id)
        seed = derive_seed(spec.seed, number)
        epochs = int(hp.values.get("tuner/epochs", spec.search.max_epochs))
        initial = int(hp.values.get("tuner/initial_epoch", 0))
        sidecar: dict[str, Any] = {
            "params": values,
            "seed": seed,
            "state": "running",
            "continues": hp.values.get("tuner/trial_id"),
        }
        self.backend.write_sidecar(trial.trial_id, sidecar)
        previous = hp.values.get("tuner/trial_id")
        weights = self._get_checkpoint_fname(previous) if previous is not None else None
        try:
            outcome = self.seqtune_runner.run(
                values, seed, epochs=epochs, initial_epoch=initial, weights_from=weights
            )
        except TrialFailed as exc:
            sidecar.update(state="failed", reason=str(exc))
            self.backend.write_sidecar(trial.trial_id, sidecar)
            raise kt.errors.FailedTrialError(str(exc)) from None
        except Diverged as exc:
            sidecar.update(state="failed", reason=f"diverged: {exc}")
            self.backend.write_sidecar(trial.trial_id, sidecar)
            raise kt.errors.FailedTrialError(str(exc)) from None
        except UserError as exc:  # keras-tuner would record it and go on: stop instead
            # (e.g. a broken user objective); resume runs this trial again
            sidecar.update(state="interrupted", reason=f"stopped: {exc}"[:300])
            self.backend.write_sidecar(trial.trial_id, sidecar)
            self.backend.fatal = exc
            raise kt.errors.FatalError(str(exc)) from None
        except KeyboardInterrupt:
            sidecar.update(state="interrupted", reason="interrupted")
            self.backend.write_sidecar(trial.trial_id, sidecar)
            raise
        sidecar.update(
            state="done",
            epochs=initial + outcome.epochs_run,
            best_epoch=outcome.best_epoch,
            seconds=round(outcome.seconds, 3),
            metrics=outcome.metrics,
            initial_epoch=initial,
        )
        if outcome.value is None or outcome.model is None:
            sidecar.update(state="failed", reason="objective was never finite")
            self.backend.write_sidecar(trial.trial_id, sidecar)
            raise kt.errors.FailedTrialError("objective was never finite")
        outcome.model.save_weights(self._get_checkpoint_fname(trial.trial_id))
        self.before_complete(number, outcome)
        self.backend.write_sidecar(trial.trial_id, sidecar)
        return {spec.objective.name: float(outcome.value)}

    def on_trial_end(self, trial: kt.engine.trial.Trial) -> None:
        super().on_trial_end(trial)
        if self.after is not None:
            self.after(self.backend.record(self.oracle.get_trial(trial.trial_id)))

    def _get_checkpoint_fname(self, trial_id: str) -> str:
        return os.path.join(self.get_trial_dir(trial_id), "checkpoint.weights.h5")


class HyperbandBackend(Backend):
    name = "hyperband"

    def __init__(self, study_dir: Path, spec: Spec, storage: str | None = None) -> None:
        super().__init__(study_dir, spec, storage)
        self._tuner: _Tuner | None = None
        self.fatal: UserError | None = None

    @property
    def directory(self) -> Path:
        return self.study_dir / "keras_tuner"

    def _open(self, overwrite: bool) -> None:
        s = self.spec.search
        oracle = _Oracle(
            objective=kt.Objective(self.spec.objective.name, _kt_direction(self.spec)),
            max_epochs=s.max_epochs,
            factor=s.factor,
            hyperband_iterations=s.hyperband_iterations,
            seed=self.spec.seed,
            max_consecutive_failed_trials=10**9,
        )
        oracle.cap = s.trials
        with contextlib.redirect_stdout(io.StringIO()):  # "Reloading Tuner from ..." on stdout
            self._tuner = _Tuner(
                self,
                oracle,
                directory=str(self.directory),
                project_name=PROJECT,
                overwrite=overwrite,
            )
        self._recovered = [t for t in oracle._retry_queue]

    def create(self, replace_empty: bool = False) -> None:
        self._open(overwrite=True)  # the state lives in the study folder, cleared by launch

    def load(self) -> None:
        self.check_state_files()
        try:
            self._open(overwrite=False)
        except UserError:
            raise
        except Exception as exc:  # a file keras-tuner could not make sense of
            raise UserError(
                f"keras-tuner could not reload this study ({type(exc).__name__}: "
                f"{(str(exc).splitlines() or [''])[0][:150]}); restore the folder from a copy "
                "of the study",
                str(self.directory / PROJECT),
            ) from None

    def check_state_files(self) -> None:
        """Refuse, naming the file, state that keras-tuner would fail on with a traceback
        or, worse, silently start over from: a missing, empty or damaged ``oracle.json`` or
        ``trial.json``. Checked against keras-tuner 1.4.8's layout."""
        project = self.directory / PROJECT
        trials = sorted(project.glob("trial_*/trial.json")) if project.is_dir() else []
        oracle = project / "oracle.json"
        restore = "restore it from a copy of the study (the trials in it are lost otherwise)"
        if not oracle.is_file():
            if trials or (project.is_dir() and any(project.glob("trial_*"))):
                raise UserError(f"is missing but the study has trials; {restore}", str(oracle))
            return
        for path, keys in ((oracle, ("ongoing_trials", "tried_so_far")), *(
            (t, ("trial_id", "hyperparameters", "status")) for t in trials
        )):
            try:
                state = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise UserError(
                    f"is damaged ({type(exc).__name__}); {restore}", str(path)
                ) from None
            if not isinstance(state, dict) or any(k not in state for k in keys):
                raise UserError(
                    f"is not keras-tuner state (expected an object with {', '.join(keys)}); "
                    + restore,
                    str(path),
                )
            if path == oracle:  # keras-tuner writes a trial's file before the oracle's
                for trial_id in state.get("start_order") or []:
                    trial = project / f"trial_{trial_id}" / "trial.json"
                    if not trial.is_file():
                        raise UserError(f"is missing; {restore}", str(trial))
        self._repair_tuner_file(project)

    def _repair_tuner_file(self, project: Path) -> None:
        """keras-tuner reloads its oracle only if ``tuner0.json`` exists, and otherwise
        starts a new search that overwrites ``oracle.json``: every trial lost. That file is
        written only when a trial ends (a study stopped in its first trial has none) and
        always holds ``{}`` (keras-tuner 1.4.8's ``BaseTuner.get_state``), so it is
        written again here when it is missing or damaged."""
        tuner = project / "tuner0.json"
        try:
            if isinstance(json.loads(tuner.read_text(encoding="utf-8")), dict):
                return
        except (OSError, ValueError):
            pass
        try:
            write_text(tuner, "{}")
        except OSError:
            raise UserError(
                "is missing or damaged and the folder cannot be written: copy the study "
                "somewhere writable (seqtune restores this file there)",
                str(tuner),
            ) from None

    @property
    def tuner(self) -> _Tuner:
        assert self._tuner is not None, "create() or load() first"
        return self._tuner

    def budget(self) -> int:
        total = sum(
            size
            for _, _, size, _ in schedule(
                self.spec.search.max_epochs,
                self.spec.search.factor,
                self.spec.search.hyperband_iterations,
            )
        )
        return min(total, self.spec.search.trials) if self.spec.search.trials else total

    def plan(self) -> str:
        s = self.spec.search
        plan = schedule(s.max_epochs, s.factor, s.hyperband_iterations)
        brackets = len({b for b, _, _, _ in plan})
        models = sum(size for _, _, size, _ in plan)
        epochs, prev = 0, {}
        for b, r, size, ep in plan:
            epochs += size * (ep - (prev.get(b, 0) if r > 0 else 0))
            prev[b] = ep
        text = (
            f"hyperband: max_epochs {s.max_epochs}, factor {s.factor}, "
            f"{s.hyperband_iterations} iteration(s) → {brackets} brackets, "
            f"{models} models, about {epochs} epochs in all"
        )
        if s.trials and s.trials < models:
            text += f"; capped at {s.trials} trials by search.trials"
        return text

    def recover(self) -> list[int]:
        """Trials a dead process left running: keras-tuner retries those its oracle file
        lists as ongoing. One more kind is dropped here: keras-tuner writes a new trial's
        file before the oracle file, so a kill between the two leaves a trial that is
        "RUNNING" but unknown to the oracle (and never started: seqtune writes its sidecar
        first thing in the trial). It would stay running forever; it is removed, as if the
        oracle had never created it."""
        oracle = self.tuner.oracle
        queued = set(oracle._retry_queue)
        stray = [
            trial_id
            for trial_id, trial in oracle.trials.items()
            if str(trial.status) in ("RUNNING", "IDLE") and trial_id not in queued
        ]
        for trial_id in stray:
            if self.sidecar_path(trial_id).exists():  # it did start: run it again
                oracle._retry_queue.append(trial_id)
                self._recovered.append(trial_id)
                continue
            shutil.rmtree(oracle._get_trial_dir(trial_id), ignore_errors=True)
            del oracle.trials[trial_id]
            if trial_id in oracle.start_order:
                oracle.start_order.remove(trial_id)
        if stray:
            oracle.save()
        return [int(t) for t in self._recovered]

    def sidecar_path(self, trial_id: str) -> Path:
        return Path(self.tuner.get_trial_dir(trial_id)) / SIDECAR

    def write_sidecar(self, trial_id: str, data: dict[str, Any]) -> None:
        write_text(self.sidecar_path(trial_id), json.dumps(data))

    def record(self, trial: kt.engine.trial.Trial) -> TrialRecord:
        path = self.sidecar_path(trial.trial_id)
        side: dict[str, Any] = {}
        if path.is_file():
            try:
                side = json.loads(path.read_text(encoding="utf-8"))
            except ValueError:
                side = {}
        state = _STATE.get(str(trial.status), "failed")
        if state == "running" and side.get("state") == "interrupted":
            state = "interrupted"
        params = side.get("params")
        if params is None:
            values = trial.hyperparameters.values
            params = {k: v for k, v in values.items() if not k.startswith("tuner/")}
        reason = side.get("reason")
        if state == "failed" and reason is None and trial.message:
            reason = str(trial.message).strip().splitlines()[-1][:200]
        return TrialRecord(
            number=int(trial.trial_id),
            state=state,
            params=params,
            value=float(trial.score) if state == "complete" and trial.score is not None else None,
            epochs=side.get("epochs"),
            best_epoch=side.get("best_epoch"),
            seconds=side.get("seconds"),
            seed=side.get("seed"),
            reason=reason,
            metrics=side.get("metrics", {}),
        )

    def records(self) -> list[TrialRecord]:
        trials = self.tuner.oracle.trials
        return [self.record(trials[k]) for k in sorted(trials, key=int)]

    def optimize(
        self, runner: Runner, budget: int, before_complete: BeforeComplete, after: AfterTrial
    ) -> None:
        tuner = self.tuner
        tuner.seqtune_runner, tuner.before_complete, tuner.after = runner, before_complete, after
        tuner.oracle.cap = budget
        # keras-tuner prints the traceback of every failed trial while its DEBUG flag is
        # on (the default): a trial that failed alone (out of memory, diverged) is
        # recorded with its one-line reason instead
        debug = kt_config.DEBUG
        kt_config.DEBUG = False
        try:
            tuner.search(verbose=0)
        except kt.errors.FatalError:
            if self.fatal is not None:
                raise self.fatal from None
            raise
        finally:
            kt_config.DEBUG = debug


def _kt_direction(spec: Spec) -> str:
    return "min" if spec.objective.direction == "minimize" else "max"
