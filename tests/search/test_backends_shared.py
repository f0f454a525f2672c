"""One suite that every backend must pass (as Optuna's pytest_samplers does for samplers).

The backend machinery is exercised with a stand-in runner whose "training" is a formula of
the parameters, so hundreds of trials take seconds; the real training path is covered by
the end-to-end tests.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import keras
import pytest
from conftest import tiny_spec

from seqtune.search.runner import Outcome
from seqtune.spec import Spec
from seqtune.study.lifecycle import Study

BACKENDS = ["tpe", "random", "hyperband"]

SPACE = {
    "look_back": {"int": [1, 3]},
    "dropout": {"float": [0.1, 0.3], "step": 0.1},
    "learning_rate": {"float": [0.001, 0.1], "log": True},
    "num_hidden_layers": {"int": [0, 2]},
    "dense_units": {"int": [4, 12], "step": 4, "per": "num_hidden_layers"},
    "batch_size": {"choice": [8, 16]},
}


class FormulaRunner:
    """Stands in for seqtune's Runner: the objective is a formula of the parameters."""

    def __init__(self, direction: str) -> None:
        self.direction = direction
        self.seen: list[dict[str, Any]] = []

    def value_of(self, values: dict[str, Any]) -> float:
        return float(values["look_back"]) + 10 * float(values["dropout"])

    def windows(self, values: dict[str, Any]) -> None:
        return None

    def build(self, values: dict[str, Any], windows: Any) -> keras.Model:
        inputs = keras.Input((1,))
        return keras.Model(inputs, keras.layers.Dense(1)(inputs))

    def run(self, values: dict[str, Any], seed: int, **kwargs: Any) -> Outcome:
        self.seen.append(dict(values))
        value = self.value_of(values)
        model = self.build(values, None)
        epochs = int(kwargs.get("epochs") or 1) - int(kwargs.get("initial_epoch") or 0)
        return Outcome(value, 0, max(1, epochs), 0.0, {"val_rmse": value}, model, None)


def make_spec(tmp_path: Path, backend: str, trials: int, direction: str = "minimize") -> Spec:
    raw = tiny_spec(space=SPACE, search={"backend": backend, "trials": trials, "max_epochs": 9})
    raw["search"].pop("patience", None)
    if direction == "maximize":
        (tmp_path / "userobj.py").write_text("def score(y, p):\n    return 0.0\n")
        raw["objective"] = {"name": "userobj:score", "direction": "maximize"}
    return Spec.from_dict(raw, tmp_path, tmp_path / "spec.yaml")


def run_study(tmp_path: Path, backend: str, trials: int, direction: str = "minimize"):
    spec = make_spec(tmp_path, backend, trials, direction)
    study, _ = Study.launch(spec, tmp_path / "results")
    runner = FormulaRunner(direction)
    if direction == "maximize":  # the formula stands in for the user objective
        original = runner.run

        def run(values: dict[str, Any], seed: int, **kw: Any) -> Outcome:
            out = original(values, seed, **kw)
            out.metrics = {"score": out.value}  # type: ignore[assignment]
            return out

        runner.run = run  # type: ignore[method-assign]
    study.run(runner)  # type: ignore[arg-type]
    return study, runner


@pytest.mark.parametrize("backend", BACKENDS)
def test_values_inside_bounds_and_both_ends_reached(tmp_path: Path, backend: str) -> None:
    study, runner = run_study(tmp_path, backend, trials=40)
    seen = runner.seen
    assert len(seen) >= 20
    look_backs = {v["look_back"] for v in seen}
    assert look_backs <= {1, 2, 3} and {1, 3} <= look_backs
    dropouts = {v["dropout"] for v in seen}
    assert (
        dropouts <= {0.1, 0.2, 0.3} and {0.1, 0.3} <= dropouts
    )  # exactly 0.3, not 0.30000000000000004
    assert all(0.001 <= v["learning_rate"] <= 0.1 for v in seen)
    assert {v["batch_size"] for v in seen} == {8, 16}
    for v in seen:
        assert all(u in (4, 8, 12) for k, u in v.items() if k.startswith("dense_units_"))


@pytest.mark.parametrize("backend", BACKENDS)
def test_conditional_parameters_present_exactly_when_active(tmp_path: Path, backend: str) -> None:
    study, runner = run_study(tmp_path, backend, trials=25)
    assert {v["num_hidden_layers"] for v in runner.seen} == {0, 1, 2}
    for v in runner.seen:
        k = v["num_hidden_layers"]
        assert sorted(n for n in v if n.startswith("dense_units_")) == [
            f"dense_units_{i}" for i in range(k)
        ]
    for record in study.backend.records():  # what status and best.yaml show
        k = record.params["num_hidden_layers"]
        assert sum(n.startswith("dense_units_") for n in record.params) == k
        assert not any(n.startswith("tuner/") for n in record.params)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_best_respects_direction(tmp_path: Path, backend: str, direction: str) -> None:
    study, _ = run_study(tmp_path, backend, trials=12, direction=direction)
    status = study.status()
    values = [r["value"] for r in status["trial_records"] if r["state"] == "complete"]
    assert status["objective"]["direction"] == direction
    expected = min(values) if direction == "minimize" else max(values)
    assert status["best"]["value"] == expected


@pytest.mark.parametrize("backend", BACKENDS)
def test_budget_counts_finished_trials_and_trials_csv_matches(tmp_path: Path, backend: str) -> None:
    study, runner = run_study(tmp_path, backend, trials=7)
    status = study.status()
    assert status["finished"] == 7 == status["trials"]["complete"]
    assert status["trials"]["running"] == 0
    rows = (study.path / "trials.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + 7
    assert rows[0].startswith("number,state,value")


@pytest.mark.parametrize("backend", BACKENDS)
def test_same_seed_gives_the_same_parameter_sequence(tmp_path: Path, backend: str) -> None:
    _, first = run_study(tmp_path / "a", backend, trials=8)
    _, second = run_study(tmp_path / "b", backend, trials=8)
    assert first.seen == second.seen


class DivergingRunner(FormulaRunner):
    """Every trial with look_back 2 'diverges' (its loss became NaN)."""

    def run(self, values: dict[str, Any], seed: int, **kwargs: Any) -> Outcome:
        from seqtune.models.training import Diverged

        if values["look_back"] == 2:
            self.seen.append(dict(values))
            raise Diverged(3, float("nan"))
        return super().run(values, seed, **kwargs)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_diverged_trial_fails_with_its_reason_and_the_study_goes_on(
    tmp_path: Path, backend: str
) -> None:
    spec = make_spec(tmp_path, backend, trials=12)
    study, _ = Study.launch(spec, tmp_path / "results")
    runner = DivergingRunner("minimize")
    study.run(runner)  # type: ignore[arg-type]
    records = study.backend.records()
    failed = [r for r in records if r.state == "failed"]
    assert failed, "no trial drew look_back 2"
    assert all("diverged: training loss became nan at epoch 4" in (r.reason or "") for r in failed)
    assert all(r.params["look_back"] == 2 for r in failed)
    assert study.status()["finished"] == 12  # failed trials count toward the budget
    assert study.status()["best"] is not None


class KindRunner(FormulaRunner):
    """The formula of a kind choice: look_back, plus dropout where the kind is lstm."""

    def value_of(self, values: dict[str, Any]) -> float:
        return float(values["look_back"]) + 10 * float(values.get("dropout", 0.0))


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_kind_choice_draws_each_kinds_parameters_exactly_when_it_is_chosen(
    tmp_path: Path, backend: str
) -> None:
    """``model.kind: {choice: ...}``: the kind is drawn, and a kind's own parameters (the
    LSTM's dropout, the hidden layers of mlp and lstm) only when it is, on every backend,
    before and after a resume; the records and trials.csv say each trial's kind."""
    from seqtune.study.lifecycle import resume

    raw = tiny_spec(
        model={"kind": {"choice": ["linear", "mlp", "lstm"]}},
        space=SPACE,
        search={"backend": backend, "trials": 20, "max_epochs": 9},
    )
    raw["search"].pop("patience", None)
    spec = Spec.from_dict(raw, tmp_path, tmp_path / "spec.yaml")
    first, _ = Study.launch(spec, tmp_path / "results")
    runner = KindRunner("minimize")
    first.run(runner)  # type: ignore[arg-type]
    first.close()
    study, _, _ = resume(first.path, None, trials=30)  # the same spec: its fingerprint matches
    study.run(runner)  # type: ignore[arg-type]
    assert study.backend.finished() == 30
    assert {v["kind"] for v in runner.seen} == {"linear", "mlp", "lstm"}
    for values in runner.seen:
        kind = values["kind"]
        assert ("dropout" in values) == (kind == "lstm")
        assert ("num_hidden_layers" in values) == (kind != "linear")
        count = values.get("num_hidden_layers", 0)
        assert sorted(n for n in values if n.startswith("dense_units_")) == [
            f"dense_units_{i}" for i in range(count)
        ]
        spec.space.validate_values(values)
    records = study.backend.records()
    assert {r.params["kind"] for r in records} == {"linear", "mlp", "lstm"}
    with (study.path / "trials.csv").open() as rows:
        written = [json.loads(row["params"]) for row in csv.DictReader(rows)]
    assert [p["kind"] for p in written] == [r.params["kind"] for r in records]


def test_hyperband_runs_exactly_the_schedule_it_announces(tmp_path: Path) -> None:
    from seqtune.search.backends.hyperband import schedule

    spec = make_spec(tmp_path, "hyperband", trials=1)
    spec = Spec.from_dict(
        {**spec.to_dict(), "search": {"backend": "hyperband", "max_epochs": 9, "factor": 3}},
        tmp_path,
    )
    study, _ = Study.launch(spec, tmp_path / "results")
    runner = FormulaRunner("minimize")
    study.run(runner)  # type: ignore[arg-type]
    plan = schedule(9, 3, 1)
    assert study.backend.budget() == sum(size for _, _, size, _ in plan)
    assert len(runner.seen) == study.backend.budget()
    text = study.backend.plan() or ""
    assert "bracket 2: 9×1 → 3×3 → 1×9; bracket 1: 5×3 → 2×9; bracket 0: 3×9" in text
    assert "13 + 7 + 3" not in text and "23 models" in text


def test_hyperband_resume_drops_a_trial_killed_between_keras_tuner_writes(tmp_path: Path) -> None:
    """keras-tuner saves a new trial's file, then the oracle's: a kill in between leaves a
    trial marked RUNNING that the oracle does not know. resume must not leave it running."""
    import json

    from seqtune.study.lifecycle import resume

    study, _ = run_study(tmp_path, "hyperband", trials=2)
    project = study.path / "keras_tuner" / "hyperband"
    last = sorted(project.glob("trial_*"))[-1]  # trial_0001: ids are zero-padded
    state = json.loads((last / "trial.json").read_text())
    orphan_id = f"{2:0{len(state['trial_id'])}d}"
    orphan = project / f"trial_{orphan_id}"
    orphan.mkdir()
    (orphan / "trial.json").write_text(
        json.dumps({**state, "trial_id": orphan_id, "status": "RUNNING", "score": None})
    )
    assert Study.open(study.path).status()["trials"]["running"] == 1  # as the kill left it
    study.close()  # the launching process ends: resume may take the study over

    again, _, recovered = resume(study.path, None, trials=3)
    assert recovered == [] and not orphan.exists()
    again.run(FormulaRunner("minimize"))  # type: ignore[arg-type]
    status = Study.open(study.path).status()
    assert status["trials"]["running"] == 0 and status["finished"] == 3


def test_hyperband_resume_with_more_trials_adds_iterations_that_run(tmp_path: Path) -> None:
    """resume --trials past the schedule: iterations of the same brackets are added (in
    schedule.json), the new trials run, and a later resume keeps the grown schedule."""
    import json

    from seqtune.study.lifecycle import resume

    study, _ = run_study(tmp_path, "hyperband", trials=3)  # max_epochs 9: bracket 0, 3 models
    schedule_file = study.path / "keras_tuner" / "schedule.json"
    assert json.loads(schedule_file.read_text()) == {"brackets": 1, "iterations": 1}
    study.close()

    grown, _, _ = resume(study.path, None, trials=7)
    assert json.loads(schedule_file.read_text()) == {"brackets": 1, "iterations": 3}
    assert grown.backend.budget() == 7
    plan = grown.backend.plan() or ""
    assert "3 iteration(s)" in plan and "9 models" in plan
    assert "--trials 7 added 2 iteration(s) to the 1 the schedule held (3 models)" in plan
    assert "capped at 7 trials by --trials" in plan
    grown.close()  # stopped before a trial: oracle.json still says 1 iteration

    for _ in range(2):  # plain resumes: the grown schedule runs, then nothing more
        again, _, _ = resume(study.path, None, trials=None)
        assert again.backend.budget() == 7
        assert "added" not in (again.backend.plan() or "")
        runner = FormulaRunner("minimize")
        again.run(runner)  # type: ignore[arg-type]
        assert again.backend.finished() == 7
        again.close()
        assert json.loads(schedule_file.read_text()) == {"brackets": 1, "iterations": 3}
    assert runner.seen == []  # the second one ran nothing


# ---- the backend interface itself: ask / report / tell --------------------------------
def open_backend(tmp_path: Path, backend: str, trials: int, **search: Any) -> Any:
    raw = tiny_spec(
        space=SPACE, search={"backend": backend, "trials": trials, "max_epochs": 9, **search}
    )
    spec = Spec.from_dict(raw, tmp_path, tmp_path / "spec.yaml")
    study, _ = Study.launch(spec, tmp_path / "results")
    return study


@pytest.mark.parametrize("backend", BACKENDS)
def test_ask_tell_honours_the_budget_and_records_what_it_was_told(
    tmp_path: Path, backend: str
) -> None:
    from seqtune.models.params import base_name
    from seqtune.search.backends.base import TrialResult, derive_seed

    study = open_backend(tmp_path, backend, trials=3)
    b = study.backend
    told = []
    while (plan := b.ask(b.budget())) is not None:
        assert plan.seed == derive_seed(study.spec.seed, plan.number)
        assert {base_name(n) for n in plan.values} <= set(study.spec.space.names)
        assert b.report(plan.number, 0, 5.0) in (False, True)
        value = float(plan.values["look_back"])
        record = b.tell(
            plan.number,
            TrialResult(
                "complete",
                value=value,
                epochs=plan.epochs or 9,
                best_epoch=0,
                seconds=0.1,
                metrics={"val_rmse": value},
            ),
        )
        assert (record.number, record.state, record.value) == (plan.number, "complete", value)
        assert record.params == plan.values and record.seed == plan.seed
        told.append(plan.number)
    assert told == [0, 1, 2] and b.finished() == 3
    study.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_trial_told_interrupted_is_run_again_after_a_resume(tmp_path: Path, backend: str) -> None:
    from seqtune.search.backends.base import TrialResult
    from seqtune.study.lifecycle import resume

    study = open_backend(tmp_path, backend, trials=2)
    b = study.backend
    plan = b.ask(2)
    record = b.tell(plan.number, TrialResult("interrupted", reason="interrupted: SIGTERM"))
    assert record.state == "interrupted" and not record.counts_toward_budget
    study.close()
    again, _, _ = resume(study.path, None, None)
    b = again.backend
    plan2 = b.ask(2)
    assert plan2 is not None
    if backend == "hyperband":  # keras-tuner retries the same trial
        assert (plan2.number, plan2.values) == (plan.number, plan.values)
    else:  # Optuna: a new trial replaces it
        assert plan2.number == plan.number + 1
    again.close()


def test_tpe_with_a_median_pruner_stops_a_trial_worse_than_the_median(tmp_path: Path) -> None:
    from seqtune.search.backends.base import TrialResult

    study = open_backend(tmp_path, "tpe", trials=10, pruner="median")
    b = study.backend
    for _ in range(5):  # the pruner's startup trials: good curves
        plan = b.ask(10)
        for epoch in range(9):
            assert b.report(plan.number, epoch, 1.0 - 0.01 * epoch) is False
        b.tell(plan.number, TrialResult("complete", value=0.92, epochs=9, best_epoch=8))
    plan = b.ask(10)
    stops = [b.report(plan.number, epoch, 50.0) for epoch in range(9)]
    assert stops[:5] == [False] * 5  # n_warmup_steps=5
    assert stops[5] is True
    record = b.tell(plan.number, TrialResult("pruned", epochs=6, best_epoch=0))
    assert record.state == "pruned"
    study.close()


def test_hyperband_plans_warm_starts_from_the_trial_they_continue(tmp_path: Path) -> None:
    from seqtune.search.backends.base import TrialResult

    study = open_backend(tmp_path, "hyperband", trials=None, factor=3)
    b = study.backend
    assert b.warm_starts and not b.parallel_workers and not b.server_storage
    plans = {}
    while (plan := b.ask(b.budget())) is not None:
        plans[plan.number] = plan
        if plan.warm_start is not None:
            previous = next(p for p in plans.values() if p.keep_weights == plan.warm_start)
            assert plan.initial_epoch == previous.epochs  # it goes on from there
            assert plan.values == previous.values  # the same configuration, trained longer
            assert plan.epochs > plan.initial_epoch
        plan.keep_weights.parent.mkdir(parents=True, exist_ok=True)
        plan.keep_weights.write_bytes(b"weights")
        value = float(plan.number % 5)
        b.tell(plan.number, TrialResult("complete", value=value, epochs=plan.epochs, best_epoch=0))
    assert any(p.warm_start is not None for p in plans.values())
    assert len(plans) == b.budget()
    study.close()


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tpe", "random"])
def test_folds_and_repeats_run_and_resume_on_every_backend_that_takes_them(
    tmp_path: Path, backend: str
) -> None:
    """Real training: rolling folds × repeats, launched then resumed to a larger budget;
    every finished trial keeps its folds' values. (Hyperband refuses both: it continues a
    trial from one model's weights.)"""
    import json

    from conftest import run_cli, write_spec

    raw = tiny_spec(search={"backend": backend, "trials": 2, "max_epochs": 3, "repeats": 2})
    raw["data"]["split"] = {"val": 12, "test": 0.33, "folds": 2}
    spec = write_spec(tmp_path / "s.yaml", raw)
    results = tmp_path / "r"
    launched = run_cli("launch", str(spec), "--results", str(results))
    assert launched.returncode == 0, launched.stderr
    resumed = run_cli("resume", str(results / "tiny"), "--trials", "3")
    assert resumed.returncode == 0, resumed.stderr
    status = json.loads(run_cli("status", str(results / "tiny"), "--json").stdout)
    assert status["finished"] == 3
    done = [r for r in status["trial_records"] if r["state"] == "complete"]
    assert done and all({"val_rmse_fold0", "val_rmse_fold1"} <= set(r["metrics"]) for r in done)
    import csv

    with (results / "tiny" / "trials.csv").open() as fh:
        rows = [r for r in csv.DictReader(fh) if r["state"] == "complete"]
    assert rows and all("val_rmse_fold1" in json.loads(r["metrics"]) for r in rows)
    raw["search"]["backend"] = "hyperband"
    raw["search"].pop("patience", None)
    refused = run_cli(
        "launch", str(write_spec(tmp_path / "h.yaml", raw)), "--results", str(results)
    )
    assert refused.returncode == 2 and "data.split.folds" in refused.stderr
