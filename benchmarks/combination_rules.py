"""Combination at export: each rule's test score on launched studies (docs/combination.md).

For each study folder: the best trial's network as ``seqtune export`` makes it (its folds'
validation forecasts, then the refit on every row before the test part), then for each
combination rule — the network alone, the simple average with the best statistical model,
inverse-MSE weights, constrained stacking (each rule's own weights, fitted on the folds),
and ``auto`` (the rule the left-out folds choose) — the combined forecast's test score, and
each rule's left-out fold score that ``auto`` chose by. Prints one table
row per study and rule; the test part is read once per study, after every choice is made.

Usage::

    seqtune launch examples/airline.yaml           # and the others
    python benchmarks/combination_rules.py results/airline results/airline-h12-folds \\
        results/co2-folds
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from seqtune.exported.bundle import holdout_forecasts, validation_forecasts
from seqtune.exported.combination import (
    Combination,
    build,
    combined_runner,
    fold_forecasts,
)
from seqtune.exported.export import _refit, refit_epochs
from seqtune.exported.predict import model_windows
from seqtune.models import statistical
from seqtune.models.combination import RULES, Choice, weights
from seqtune.quiet import quiet_libraries
from seqtune.search.records import best_of
from seqtune.study.baselines import fit_stop
from seqtune.study.lifecycle import Study


def measure(folder: Path) -> list[tuple[str, str, float, str]]:
    """``(study, rule, test value, combination)`` of each rule on one study."""
    study = Study.open(folder)
    spec = study.spec
    best = best_of(study.backend.records(), spec.objective.direction)
    assert best is not None
    _, runner = study.prepare()
    seed = best.seed if best.seed is not None else spec.seed
    if runner.refits:
        validation = validation_forecasts(runner, _refit(runner, best.params, seed, None))
        outcome = runner.refit(best.params, seed, refit_epochs(best.best_epoch))
        model, windows = outcome.model, outcome.windows
    else:
        outcome = _refit(runner, best.params, seed, None)
        model, windows = outcome.model, model_windows(runner, best.params)
        validation = holdout_forecasts(runner, model, windows)
    key = spec.objective.name.removeprefix("val_")
    rows = []
    combo, note = build(runner, best.params, validation, windows, "auto")
    if combo is None:
        return [(spec.study, "auto", float("nan"), str(note))]
    scores = ", ".join(f"{r} {v:.4g}" for r, v in combo.choice.scores.items())
    rows.append((spec.study, "folds", float("nan"), f"left-out fold scores: {scores}"))
    found = fold_forecasts(runner, best.params, validation)
    assert found is not None
    actual, members, _ = found
    y = np.asarray(windows.target_values, np.float64)
    stop = fit_stop(windows, "test")
    first = statistical.fit_start(stop)  # the rows export fits the members on
    for rule in ("auto", *RULES):
        if rule == "auto":
            choice = combo.choice
        else:  # the rule's own weights on the folds, whatever the left-out scores say
            w = weights(rule, members, actual)
            names = [n for n, v in zip(members, w, strict=True) if v > 0 or n == "network"]
            kept = [float(v) for n, v in zip(members, w, strict=True) if n in names]
            choice = Choice(rule, tuple(names), tuple(kept), {})
        fitted = {
            n: statistical.fit(n, y[first:stop], windows.period)
            for n in choice.members
            if n != "network"
        }
        one = Combination(choice, fitted, y[first:stop], [], None, start=first)
        scorer = combined_runner(runner, one, windows) if one.combines else runner
        value = float(scorer.evaluate(model, windows, "test")[key])
        rows.append((spec.study, rule, value, one.describe()))
    study.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("studies", nargs="+", type=Path)
    args = parser.parse_args()
    quiet_libraries(own_warnings=False)
    for folder in args.studies:
        for name, rule, value, text in measure(folder):
            print(f"{name:20s} {rule:9s} {value:10.4f}  {text}", flush=True)


if __name__ == "__main__":
    main()
