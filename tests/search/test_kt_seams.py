"""The keras-tuner members seqtune's Hyperband backend relies on without a public seam
(see seqtune.search.backends.kt_seams), and the schedule formulas written out from
keras-tuner's: a keras-tuner release that changes either fails here, not in a study."""

from __future__ import annotations

from pathlib import Path

import keras_tuner as kt
import pytest

from seqtune.search.backends import kt_seams
from seqtune.search.backends.hyperband import (
    choose,
    describe,
    models_of,
    num_brackets,
    oracle_class,
    round_epochs,
    round_size,
    schedule,
    total_models,
)


def oracle(max_epochs: int = 27, factor: int = 3, **kw: object) -> kt.oracles.HyperbandOracle:
    return kt.oracles.HyperbandOracle(
        objective=kt.Objective("x", "min"), max_epochs=max_epochs, factor=factor, **kw
    )


def test_the_private_members_used_still_exist() -> None:
    o = oracle()
    for name in ("_set_project_dir", "_save_trial", "_retry_queue", "_get_num_brackets"):
        assert hasattr(o, name), f"keras-tuner no longer has HyperbandOracle.{name}"
    assert isinstance(kt_seams.retry_queue(o), list)


@pytest.mark.parametrize(("max_epochs", "factor"), [(9, 3), (27, 3), (100, 3), (81, 4), (4, 2)])
def test_the_schedule_formulas_equal_keras_tuners(max_epochs: int, factor: int) -> None:
    o = oracle(max_epochs, factor)
    n = o._get_num_brackets()
    assert num_brackets(max_epochs, factor) == n
    for b in range(n):
        for r in range(b + 1):
            assert round_size(max_epochs, factor, b, r) == o._get_size(b, r)
            assert round_epochs(max_epochs, factor, b, r) == o._get_epochs(b, r)


def drive(o: kt.oracles.HyperbandOracle) -> list[tuple[int, int, int]]:
    """Run an oracle to its end as seqtune's loop does; (bracket, round, epochs) of each."""
    seen = []
    while True:
        trial = o.create_trial("tuner0")
        if trial.status == "STOPPED":
            return seen
        values = trial.hyperparameters.values
        seen.append((values["tuner/bracket"], values["tuner/round"], values["tuner/epochs"]))
        o.update_trial(trial.trial_id, {"x": float(len(seen) % 7)})
        trial.status = "COMPLETED"
        o.end_trial(trial)


def test_fewer_brackets_run_exactly_the_least_aggressive_ones(tmp_path: Path) -> None:
    limited = kt_seams.limited_brackets(oracle_class(), 2)
    o = limited(objective=kt.Objective("x", "min"), max_epochs=9, factor=3, hyperband_iterations=2)
    (tmp_path / "p").mkdir()
    o.state_file = tmp_path / "p" / "oracle.json"
    kt_seams.set_project_dir(o, tmp_path, "p")
    kt_seams.save_trials_atomically(o, lambda trial_id: tmp_path / "p" / f"trial_{trial_id}")
    o.verbose = 0
    o.hyperparameters.Int("a", 1, 10_000)
    seen = drive(o)
    plan = schedule(9, 3, 2, brackets=2)
    assert len(seen) == models_of(plan) == 2 * (5 + 2 + 3)
    assert {b for b, _, _ in seen} == {1, 0}  # bracket 2 (9 models of 1 epoch) is dropped
    assert sorted(seen) == sorted((b, r, ep) for b, r, size, ep in plan for _ in range(size))
    assert (tmp_path / "p" / "oracle.json").is_file()
    assert (tmp_path / "p" / "trial_0000" / "trial.json").is_file()


def test_what_trials_means_under_hyperband() -> None:
    assert choose(100, 3, 1, None) == (5, 1)  # no trials: the whole schedule
    # a TPE spec's trials: 20 — the brackets that fit, run twice, capped at 20 models
    assert choose(100, 3, 1, 20) == (2, 2)
    assert models_of(schedule(100, 3, 1, 2)) == 18
    assert choose(9, 3, 1, 2) == (1, 1)  # bracket 0 only: random search at full epochs
    assert choose(27, 3, 1, 1000) == (4, 15)  # 70 models each: 14 whole, 1 cut short


def test_a_huge_budget_is_sized_without_listing_every_iteration() -> None:
    brackets, iterations = choose(100, 3, 1, 10**9)
    assert iterations > 10**6  # listed, these rounds would take gigabytes and minutes
    assert total_models(100, 3, iterations, brackets) >= 10**9
    line = describe(100, 3, iterations, brackets, 10**9)
    assert f"{iterations} iteration(s)" in line and "capped at 1000000000 trials" in line
    for it, b, trials in ((3, 2, None), (3, 2, 11), (3, 2, 40), (2, 5, 150)):
        plan = schedule(100, 3, it, b)  # the plan listed: what the sums stand for
        assert total_models(100, 3, it, b) == models_of(plan)
        left, epochs, reached = models_of(plan) if trials is None else trials, 0, {}
        for bracket, rnd, size, ep in plan:
            take = min(size, left)
            epochs += take * (ep - (reached.get(bracket, 0) if rnd else 0))
            reached[bracket], left = ep, left - take
        assert f"about {epochs} epochs" in describe(100, 3, it, b, trials)


def test_reload_restores_the_saved_iterations_and_more_set_after_it_run(tmp_path: Path) -> None:
    """What resume --trials relies on: ``reload()`` sets ``hyperband_iterations`` from the
    oracle's file (whatever the constructor was given), and iterations raised after it run
    new brackets, from the most aggressive one kept, once the saved ones are done."""

    def make(iterations: int) -> kt.oracles.HyperbandOracle:
        limited = kt_seams.limited_brackets(oracle_class(), 2)
        o = limited(
            objective=kt.Objective("x", "min"),
            max_epochs=9,
            factor=3,
            hyperband_iterations=iterations,
        )
        o.state_file = tmp_path / "p" / "oracle.json"
        kt_seams.set_project_dir(o, tmp_path, "p")
        kt_seams.save_trials_atomically(o, lambda trial_id: tmp_path / "p" / f"trial_{trial_id}")
        o.verbose = 0
        o.hyperparameters.Int("a", 1, 10_000)
        return o

    (tmp_path / "p").mkdir()
    first = make(1)
    assert len(drive(first)) == 10
    first.save()  # as seqtune's tell() does after end_trial (see HyperbandBackend.tell)
    again = make(3)
    again.reload()
    assert again.hyperband_iterations == 1 and drive(again) == []
    again.hyperband_iterations = 3
    seen = drive(again)
    assert len(seen) == 2 * 10
    assert seen[0] == (1, 0, 3)  # a new bracket 1: round 0, 3 epochs
