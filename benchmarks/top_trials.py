"""Would averaging the best few trials beat exporting the best one? Measured on exported
studies' test parts.

The export refits one configuration, the trial best on the folds. On short series the
folds are few and noisy, so the best of 30 trials on them is partly luck (docs/combination.md,
"What the measurements say"). This script refits each of the ``k`` best complete trials as
``seqtune export`` refits the best one (every row before the test part, the trial's best
mean epoch, the study's ensemble seeds), averages their test forecasts in the target's units,
and scores, with the study's objective on the test part:

- ``best``: the best trial alone (the network ``export`` makes; checked against the
  ``network`` column of predictions.csv);
- ``top3``, ``top5``: the mean of the 3 or 5 best trials' forecasts;
- ``pooled``, ``pooled3``, ``pooled5``: ½ of each of those + ½ the mean of AutoETS,
  AutoTheta and AutoARIMA fitted on every row before the test part (0.5.1's default
  combination).

Each score is divided by the best of AutoETS, AutoARIMA, AutoTheta, seasonal naive and
persistence on the same test rows (``result.baselines``), as ``benchmarks/panel.py`` does;
the aggregates are the median, the geometric mean and the worst ratio. ``k`` and the equal
weights are fixed beforehand, nothing is chosen on the test part; these are measurements of
a possible default, not seqtune's results.

Usage::

    python benchmarks/panel.py --horizons 1 --out /tmp/panel      # exported studies
    SEQTUNE_BASELINE_SECONDS=10 python benchmarks/top_trials.py /tmp/panel
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from _common import ERRORS, ratio_main

from seqtune.exported.export import refit_epochs
from seqtune.models import statistical
from seqtune.search.records import TrialRecord
from seqtune.study.baselines import fit_and_filter
from seqtune.study.lifecycle import Study

#: the best of these on the test part is the ratio's denominator (as in panel.py)
REFERENCE = ("auto_ets", "auto_arima", "auto_theta", "seasonal_naive", "persistence")
#: how many of the best trials are averaged, fixed before any was measured
KS = (3, 5)


def ranked(records: list[TrialRecord], direction: str) -> list[TrialRecord]:
    """Complete trials, best first (ties: the earlier trial)."""
    done = [r for r in records if r.state == "complete" and r.value is not None]
    sign = 1.0 if direction == "minimize" else -1.0
    return sorted(done, key=lambda r: (sign * float(r.value or 0.0), r.number))


def measure(folder: Path) -> tuple[dict[str, float], dict[str, float]]:
    """Each way's test score over the best statistical model's, and the scores themselves."""
    study = Study.open(folder)
    spec = study.spec
    _, runner = study.prepare()
    trials = ranked(study.backend.records(), spec.objective.direction)
    result = yaml.safe_load((folder / "best.yaml").read_text())["result"]
    key = spec.objective.name.removeprefix("val_")
    error = ERRORS[key]
    forecasts: list[np.ndarray] = []
    actual: np.ndarray | None = None
    windows = None
    for trial in trials[: max(KS)]:
        seed = trial.seed if trial.seed is not None else spec.seed
        outcome = runner.refit(trial.params, seed, refit_epochs(trial.best_epoch))
        pred = np.asarray(runner.predict(outcome.model, outcome.windows, "test"), np.float64)
        truth = np.asarray(outcome.windows.true_original("test"), np.float64)
        if actual is None:
            actual, windows = truth, outcome.windows
        elif truth.shape != actual.shape or not np.allclose(truth, actual):
            raise SystemExit(f"{folder}: trial {trial.number} forecasts other test rows")
        forecasts.append(pred.reshape(actual.shape))
    assert actual is not None and windows is not None
    exported = pd.read_csv(folder / "predictions.csv")
    exported = exported[exported["part"] == "test"]
    if "network" in exported.columns:  # the refit is deterministic: the export's network
        same = np.allclose(exported["network"].to_numpy(), np.ravel(forecasts[0]), rtol=1e-4)
        if not same:
            print(f"  note: {folder.name}: the best trial's refit differs from the export's")
    # each fitted on the rows before the test part and filtered through it, as export does
    stats = [
        np.asarray(fit_and_filter(name, windows, "test", "test")[1]).reshape(actual.shape)
        for name in statistical.STATISTICAL
    ]
    partner = np.mean(stats, axis=0)
    ways = {"best": forecasts[0], **{f"top{k}": np.mean(forecasts[:k], axis=0) for k in KS}}
    scores = {name: error(actual, f) for name, f in ways.items()}
    for name, f in ways.items():  # best -> pooled, top3 -> pooled3, top5 -> pooled5
        suffix = name.removeprefix("best").removeprefix("top")
        scores[f"pooled{suffix}"] = error(actual, 0.5 * f + 0.5 * partner)
    baselines = {
        name: float(parts["test"])
        for name, parts in (result.get("baselines") or {}).items()
        if isinstance(parts, dict) and isinstance(parts.get("test"), int | float)
    }
    best = min(baselines[name] for name in REFERENCE if name in baselines)
    study.close()
    return {name: value / best for name, value in scores.items()}, scores


def main() -> None:
    ratio_main(__doc__, measure, width=10, progress=True)


if __name__ == "__main__":
    main()
