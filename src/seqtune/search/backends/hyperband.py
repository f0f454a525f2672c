"""Hyperband on keras-tuner's Oracle: the same spec, objective, trial loop and result files.

keras-tuner's ``HyperbandOracle`` owns the schedule (brackets, rounds, which trial
continues from which checkpoint) and is driven through its public seam — ``create_trial``,
``update_trial``, ``end_trial`` — by seqtune's trial loop; no keras-tuner ``Tuner`` runs.
Data parameters (``look_back``, ``batch_size``, ``transform``) are searched like any other
and the objective is the same number as on TPE. State lives in ``<study>/keras_tuner/``
with keras-tuner's own layout (so studies of earlier seqtune versions load unchanged);
oracle and trial files are written atomically so a kill never leaves half a JSON file.

Where keras-tuner has no public seam, the private member used sits in one function of
:mod:`seqtune.search.backends.kt_seams` (checked against keras-tuner 1.4.8, with a test).
"""

from __future__ import annotations

import json
import math
import shutil
from functools import cache
from pathlib import Path
from typing import Any

from seqtune.errors import UserError
from seqtune.search.backends import kt_seams
from seqtune.search.backends.base import (
    Backend,
    TrialPlan,
    TrialResult,
    derive_seed,
    refuse_changed_objective,
)
from seqtune.search.records import TrialRecord
from seqtune.search.versions import Training
from seqtune.spaces import declare_keras_tuner
from seqtune.spec import Spec
from seqtune.store.files import write_text

PROJECT = "hyperband"
SIDECAR = "seqtune.json"
#: seqtune's choice of brackets for this study, fixed at launch (see :func:`choose`)
SCHEDULE = "schedule.json"
CHECKPOINT = "checkpoint.weights.h5"
_STATE = {
    "COMPLETED": "complete",
    "RUNNING": "running",
    "FAILED": "failed",
    "INVALID": "failed",
    "STOPPED": "pruned",
    "IDLE": "running",
}


# ---- the schedule ----------------------------------------------------------------------
# keras-tuner 1.4.8's formulas (HyperbandOracle._get_size/_get_epochs/_get_num_brackets),
# written out so that a plan can be printed before any oracle exists; a test checks them
# against the oracle's own methods.
def num_brackets(max_epochs: int, factor: int) -> int:
    epochs, brackets = float(max_epochs), 0
    while epochs >= 1:
        epochs /= factor
        brackets += 1
    return brackets


def round_size(max_epochs: int, factor: int, bracket: int, rnd: int) -> int:
    end_size = math.ceil(1 + math.log(max_epochs, factor)) / (bracket + 1)
    return math.ceil(end_size * factor ** (bracket - rnd))


def round_epochs(max_epochs: int, factor: int, bracket: int, rnd: int) -> int:
    return math.ceil(max_epochs / factor ** (bracket - rnd))


def schedule(
    max_epochs: int, factor: int, iterations: int, brackets: int | None = None
) -> list[tuple[int, int, int, int]]:
    """The Hyperband plan as (bracket, round, models, epochs each model reaches), in the
    order keras-tuner runs it; ``brackets``: only the that many least aggressive ones."""
    n = num_brackets(max_epochs, factor)
    top = n if brackets is None else min(n, brackets)
    return [
        (b, r, round_size(max_epochs, factor, b, r), round_epochs(max_epochs, factor, b, r))
        for _ in range(iterations)
        for b in reversed(range(top))
        for r in range(b + 1)
    ]


def models_of(plan: list[tuple[int, int, int, int]]) -> int:
    return sum(size for _, _, size, _ in plan)


def choose(max_epochs: int, factor: int, iterations: int, trials: int | None) -> tuple[int, int]:
    """(brackets, iterations) a study runs. Without ``search.trials``: every bracket, the
    spec's iterations. With it, ``trials`` is the budget of models, honoured exactly: the
    most aggressive brackets are dropped until one iteration fits in it (at least bracket
    0, plain random search at full epochs), and the iterations are raised until the budget
    is used (the last one may be cut short by the cap).

    Why: keras-tuner runs its most aggressive bracket first (many models, a few epochs
    each); a cap inside it trains every trial for those few epochs and never runs a second
    round — what a TPE spec (``trials: 20``) reused with ``--backend hyperband`` did before.
    Dropping brackets keeps every trial on a real schedule."""
    n = num_brackets(max_epochs, factor)
    if trials is None:
        return n, iterations
    brackets = next(
        (b for b in range(n, 0, -1) if models_of(schedule(max_epochs, factor, 1, b)) <= trials),
        1,
    )
    return brackets, iterations_for(max_epochs, factor, brackets, iterations, trials)


def iterations_for(
    max_epochs: int, factor: int, brackets: int, iterations: int, trials: int
) -> int:
    """The iterations of ``brackets`` that hold ``trials`` models: ``iterations``, or more
    when those hold fewer (the last one may be cut short by the cap)."""
    per_iteration = models_of(schedule(max_epochs, factor, 1, brackets))
    return max(iterations, math.ceil(trials / per_iteration))


def total_models(max_epochs: int, factor: int, iterations: int, brackets: int) -> int:
    """The models of ``iterations`` iterations, counted from one: a budget of a billion
    trials must not list a billion rounds to be printed."""
    return iterations * models_of(schedule(max_epochs, factor, 1, brackets))


def _epochs_of(one: list[tuple[int, int, int, int]], models: int) -> int:
    """The epochs of the first ``models`` models of one iteration's plan ``one`` (a model
    that continues an earlier round trains only its new epochs)."""
    epochs, left = 0, models
    prev: dict[int, int] = {}  # bracket -> the epochs its last round reached
    for b, r, size, ep in one:
        take = min(size, left)
        epochs += take * (ep - (prev.get(b, 0) if r > 0 else 0))
        prev[b], left = ep, left - take
    return epochs


def describe(
    max_epochs: int,
    factor: int,
    iterations: int,
    brackets: int,
    trials: int | None,
    given: str = "search.trials",
    grown_from: int | None = None,
) -> str:
    """The line printed before a Hyperband study runs: the real schedule. ``given``: where
    ``trials`` came from (``--trials`` on a resume); ``grown_from``: the iterations before
    that resume added some (see :meth:`HyperbandBackend.set_budget`), so the user sees what
    the new budget did to the schedule."""
    one = schedule(max_epochs, factor, 1, brackets)
    models = iterations * models_of(one)
    # the epochs of the models run before the cap: whole iterations, then part of one
    whole, rest = divmod(models if trials is None else min(models, trials), models_of(one))
    epochs = whole * _epochs_of(one, models_of(one)) + _epochs_of(one, rest)
    n = num_brackets(max_epochs, factor)
    rounds = "; ".join(
        f"bracket {b}: " + " → ".join(f"{size}×{ep}" for bb, _, size, ep in one if bb == b)
        for b in sorted({b for b, _, _, _ in one}, reverse=True)
    )
    text = (
        f"hyperband: max_epochs {max_epochs}, factor {factor}, {iterations} iteration(s); "
        f"models×epochs {rounds} → {models} models, about {epochs} epochs"
    )
    if min(n, brackets) < n:
        if (
            given == "search.trials"
            and trials is not None
            and (choose(max_epochs, factor, 1, trials)[0] == brackets)
        ):
            text += (
                f"; search.trials {trials} fits {min(n, brackets)} of the {n} brackets (the "
                "most aggressive are dropped; remove search.trials to run all of them)"
            )
        else:  # a raised budget keeps the launch's brackets (see set_budget)
            text += (
                f"; {min(n, brackets)} of the {n} brackets, as launched (the most aggressive "
                "were dropped to fit the launch's search.trials)"
            )
    if grown_from is not None:
        text += (
            f"; {given} {trials} added {iterations - grown_from} iteration(s) to the "
            f"{grown_from} the schedule held ({grown_from * models_of(one)} models)"
        )
    if trials is not None and trials < models:
        text += f"; capped at {trials} trials by {given}"
    return text


# ---- the oracle ------------------------------------------------------------------------
@cache
def oracle_class() -> type:
    """Hyperband's oracle with atomic state files and a cap on trials (``populate_space``
    is keras-tuner's public hook for what comes next). Made on first use: importing
    keras-tuner loads TensorFlow, which asking what this backend supports must not."""
    import keras_tuner as kt

    class Oracle(kt.oracles.HyperbandOracle):  # type: ignore[misc]
        cap: int | None = None
        state_file: Path | None = None

        def save(self) -> None:
            assert self.state_file is not None
            write_text(self.state_file, json.dumps(self.get_state()))

        def populate_space(self, trial_id: str) -> dict[str, Any]:
            if self.cap is not None:
                finished = sum(
                    1
                    for t in self.trials.values()
                    if t.status in ("COMPLETED", "FAILED", "INVALID")
                )
                if finished >= self.cap:
                    return {"status": "STOPPED"}
            result: dict[str, Any] = super().populate_space(trial_id)
            return result

    return Oracle


class HyperbandBackend(Backend):
    name = "hyperband"
    warm_starts = True
    ignored_settings = ("pruner",)

    def __init__(self, study_dir: Path, spec: Spec, storage: str | None = None) -> None:
        super().__init__(study_dir, spec, storage)
        self._oracle: Any = None
        self._running: dict[int, Any] = {}
        self._recovered: list[str] = []
        self._given: int | None = None  # resume --trials (see set_budget)
        self._grown_from: int | None = None  # the iterations before set_budget added some

    @property
    def directory(self) -> Path:
        return self.study_dir / "keras_tuner"

    @property
    def project(self) -> Path:
        return self.directory / PROJECT

    @property
    def oracle(self) -> Any:
        assert self._oracle is not None, "create() or load() first"
        return self._oracle

    def trial_dir(self, trial_id: str) -> Path:
        return self.project / f"trial_{trial_id}"

    # ---- state -----------------------------------------------------------------------
    def _check_objective(self) -> None:
        """The objective kept at launch (``study.json``, seqtune 0.3.3 on; keras-tuner's
        state does not keep it) wins over spec.yaml (:func:`refuse_changed_objective`)."""
        kept = _read_json(self.study_dir / "study.json").get("objective")
        if not isinstance(kept, dict):
            return  # launched before the objective was kept
        name, direction = kept.get("name"), kept.get("direction")
        refuse_changed_objective(self.spec, str(name), str(direction), "study.json", self.study_dir)

    def layout(self) -> tuple[int, int]:
        """The study's (brackets, iterations): fixed at launch in ``schedule.json``
        (see :func:`choose`); a study of an earlier seqtune (no such file) runs every
        bracket and the spec's iterations, as it did."""
        s = self.spec.search
        path = self.directory / SCHEDULE
        if path.is_file():
            try:
                saved = json.loads(path.read_text(encoding="utf-8"))
                return int(saved["brackets"]), int(saved["iterations"])
            except (OSError, ValueError, KeyError, TypeError):
                raise UserError(
                    "is damaged; restore it from a copy of the study", str(path)
                ) from None
        if not self.project.exists():  # a launch, before its state is created
            return choose(s.max_epochs, s.factor, s.hyperband_iterations, s.trials)
        if Training.of_study(_launched_by(self.study_dir)).hyperband_schedule:
            raise UserError(
                "is missing: it holds the schedule this study was launched with; restore "
                "it from a copy of the study",
                str(path),
            )
        return num_brackets(s.max_epochs, s.factor), s.hyperband_iterations

    def _open(self, create: bool) -> None:
        s = self.spec.search
        brackets, iterations = (
            choose(s.max_epochs, s.factor, s.hyperband_iterations, s.trials)
            if create
            else self.layout()
        )
        import keras_tuner as kt

        oracle = kt_seams.limited_brackets(oracle_class(), brackets)(
            objective=kt.Objective(self.spec.objective.name, _kt_direction(self.spec)),
            max_epochs=s.max_epochs,
            factor=s.factor,
            hyperband_iterations=iterations,
            seed=self.spec.seed,
            max_consecutive_failed_trials=10**9,
        )
        oracle.verbose = 0  # seqtune prints its own progress
        oracle.cap = s.trials
        oracle.state_file = self.project / "oracle.json"
        kt_seams.set_project_dir(oracle, self.directory, PROJECT)
        kt_seams.save_trials_atomically(oracle, self.trial_dir)
        if create:
            if self.directory.exists():
                shutil.rmtree(self.directory)
            self.project.mkdir(parents=True)
            write_text(
                self.directory / SCHEDULE,
                json.dumps({"brackets": brackets, "iterations": iterations}),
            )
            space = kt.HyperParameters()
            declare_keras_tuner(space, self.spec.space)
            oracle.update_space(space)
        elif oracle.state_file.is_file():
            oracle.reload()  # ongoing trials (a dead process's) go back into its retry queue
            # reload() sets the iterations oracle.json was saved with; schedule.json holds
            # more when resume --trials added some (saved to oracle.json with its next trial)
            oracle.hyperband_iterations = max(oracle.hyperband_iterations, iterations)
        else:  # stopped before its first trial was created
            space = kt.HyperParameters()
            declare_keras_tuner(space, self.spec.space)
            oracle.update_space(space)
        self._oracle = oracle
        self._recovered = list(kt_seams.retry_queue(oracle))

    def create(self, replace_empty: bool = False) -> None:
        self._open(create=True)  # the state lives in the study folder, cleared by launch

    def load(self) -> None:
        self.check_state_files()
        self._check_objective()
        try:
            self._open(create=False)
        except UserError:
            raise
        except Exception as exc:  # a file keras-tuner could not make sense of
            raise UserError(
                f"keras-tuner could not reload this study ({type(exc).__name__}: "
                f"{(str(exc).splitlines() or [''])[0][:150]}); restore the folder from a copy "
                "of the study",
                str(self.project),
            ) from None

    def check_state_files(self) -> None:
        """Refuse, naming the file, state that keras-tuner would fail on with a traceback
        or, worse, silently start over from: a missing, empty or damaged ``oracle.json`` or
        ``trial.json``. Checked against keras-tuner 1.4.8's layout."""
        project = self.project
        trials = sorted(project.glob("trial_*/trial.json")) if project.is_dir() else []
        oracle = project / "oracle.json"
        restore = "restore it from a copy of the study (the trials in it are lost otherwise)"
        if not oracle.is_file():
            if trials or (project.is_dir() and any(project.glob("trial_*"))):
                raise UserError(f"is missing but the study has trials; {restore}", str(oracle))
            return
        for path, keys in (
            (oracle, ("ongoing_trials", "tried_so_far")),
            *((t, ("trial_id", "hyperparameters", "status")) for t in trials),
        ):
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

    # ---- budget ----------------------------------------------------------------------
    def budget(self) -> int:
        s = self.spec.search
        brackets, iterations = self.layout()
        total = total_models(s.max_epochs, s.factor, iterations, brackets)
        return min(total, s.trials) if s.trials else total

    def set_budget(self, trials: int) -> None:
        """``resume --trials``: the study's size is its schedule, not ``search.trials``
        alone (that only caps it). A budget past the models the schedule holds adds
        iterations of the saved brackets — as many as :func:`choose` would — and rewrites
        ``schedule.json`` atomically, so the run goes on into new brackets and a later plain
        resume keeps the new layout. The brackets stay: keras-tuner numbers the bracket it is
        in and the next from their count, so changing it would reshuffle a study midway."""
        s = self.spec.search
        brackets, iterations = self.layout()
        needed = iterations_for(s.max_epochs, s.factor, brackets, iterations, trials)
        self._given = trials
        if needed == iterations:
            return
        write_text(
            self.directory / SCHEDULE, json.dumps({"brackets": brackets, "iterations": needed})
        )
        self._grown_from = iterations
        if self._oracle is not None:
            self._oracle.hyperband_iterations = needed

    def plan(self) -> str:
        s = self.spec.search
        brackets, iterations = self.layout()
        given = "search.trials" if self._given is None else "--trials"
        return describe(
            s.max_epochs, s.factor, iterations, brackets, s.trials, given, self._grown_from
        )

    def recover(self) -> list[int]:
        """Trials a dead process left running: the oracle queues those its file lists as
        ongoing for a retry. One more kind is dropped here: keras-tuner writes a new
        trial's file before the oracle file, so a kill between the two leaves a trial that
        is "RUNNING" but unknown to the oracle (and never started: seqtune writes its
        sidecar first thing in the trial). It would stay running forever; it is removed,
        as if the oracle had never created it."""
        oracle = self.oracle
        queue = kt_seams.retry_queue(oracle)
        stray = [
            trial_id
            for trial_id, trial in oracle.trials.items()
            if str(trial.status) in ("RUNNING", "IDLE") and trial_id not in queue
        ]
        for trial_id in stray:
            if self.sidecar_path(trial_id).exists():  # it did start: run it again
                queue.append(trial_id)
                self._recovered.append(trial_id)
                continue
            shutil.rmtree(self.trial_dir(trial_id), ignore_errors=True)
            del oracle.trials[trial_id]
            if trial_id in oracle.start_order:
                oracle.start_order.remove(trial_id)
        if stray:
            oracle.save()
        return [int(t) for t in self._recovered]

    # ---- ask / report / tell ---------------------------------------------------------
    def ask(self, budget: int) -> TrialPlan | None:
        oracle = self.oracle
        oracle.cap = budget
        trial = oracle.create_trial("tuner0")
        if trial.status == "STOPPED":
            return None
        if trial.status != "RUNNING":  # IDLE: waiting for trials that nobody runs
            raise RuntimeError(
                f"keras-tuner's Hyperband oracle answered {trial.status} with no trial "
                "running; restore the study from a copy"
            )
        hp = trial.hyperparameters
        values = declare_keras_tuner(hp, self.spec.space)
        number = int(trial.trial_id)
        seed = derive_seed(self.spec.seed, number)
        previous = hp.values.get("tuner/trial_id")
        self.write_sidecar(
            trial.trial_id,
            {"params": values, "seed": seed, "state": "running", "continues": previous},
        )
        self._running[number] = trial
        return TrialPlan(
            number=number,
            values=values,
            seed=seed,
            epochs=int(hp.values.get("tuner/epochs", self.spec.search.max_epochs)),
            initial_epoch=int(hp.values.get("tuner/initial_epoch", 0)),
            warm_start=None if previous is None else self.trial_dir(previous) / CHECKPOINT,
            keep_weights=self.trial_dir(trial.trial_id) / CHECKPOINT,
        )

    def report(self, number: int, epoch: int, value: float) -> bool:
        return False  # keras-tuner's Hyperband stops trials only between rounds

    def tell(self, number: int, result: TrialResult) -> TrialRecord:
        trial = self._running.pop(number)
        path = self.sidecar_path(trial.trial_id)
        sidecar = _read_json(path)
        if result.state == "interrupted":
            # left running in the oracle: a resume runs it again (its retry queue)
            sidecar.update(state="interrupted", reason=result.reason)
            self.write_sidecar(trial.trial_id, sidecar)
            return self.record(self.oracle.trials[trial.trial_id])
        sidecar.update(
            state="done" if result.state == "complete" else "failed",
            epochs=result.epochs,
            best_epoch=result.best_epoch,
            seconds=None if result.seconds is None else round(result.seconds, 3),
            metrics=result.metrics,
        )
        if result.reason is not None:
            sidecar["reason"] = result.reason
        if result.state == "complete":
            self.oracle.update_trial(
                trial.trial_id,
                {self.spec.objective.name: float(result.value)},  # type: ignore[arg-type]
            )
            trial.status = "COMPLETED"
        else:
            trial.status = "FAILED"
            trial.message = result.reason
        self.write_sidecar(trial.trial_id, sidecar)
        self.oracle.end_trial(trial)
        # end_trial saves before it drops the trial from the ongoing ones (a Tuner saves
        # again after it): saved here, or a resume would run this finished trial again
        self.oracle.save()
        return self.record(self.oracle.trials[trial.trial_id])

    # ---- records ---------------------------------------------------------------------
    def sidecar_path(self, trial_id: str) -> Path:
        return self.trial_dir(trial_id) / SIDECAR

    def write_sidecar(self, trial_id: str, data: dict[str, Any]) -> None:
        write_text(self.sidecar_path(trial_id), json.dumps(data))

    def record(self, trial: Any) -> TrialRecord:
        side = _read_json(self.sidecar_path(trial.trial_id))
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
        trials = self.oracle.trials
        return [self.record(trials[k]) for k in sorted(trials, key=int)]


def _launched_by(study_dir: Path) -> str | None:
    """The seqtune version that launched the study (``study.json``), if it says."""
    version = _read_json(study_dir / "study.json").get("seqtune")
    return version if isinstance(version, str) else None


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _kt_direction(spec: Spec) -> str:
    return "min" if spec.objective.direction == "minimize" else "max"
