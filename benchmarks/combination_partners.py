"""Which statistical partner the exported network should be averaged with: measured after
the fact on exported studies, without training anything again.

For each exported forecast study (a folder with ``predictions.csv`` holding the
``network`` column, as 0.5.0's exports write it, and ``best.yaml``) this refits AutoETS,
AutoTheta and AutoARIMA on every row before the test part (as export does), filters them
through the test part from each test origin (every step of the horizon), and scores on the
test part with the study's objective (RMSE or MAE, over every step of every origin):

- ``network``: the exported network alone;
- ``exported``: what the export chose (by default ½ network + ½ the statistical model best
  on the folds);
- ``net+mean3``: ½ network + ½ the mean of the three statistical models;
- ``equal4``: the mean of the network and the three;
- ``median4``: their median (not a weighted sum: predict could not apply it);
- ``net+median3``: ½ network + ½ the median of the three;
- ``ridge``: the ridge baseline on the chosen windows (``result.baselines``).

Each score is divided by the best of AutoETS, AutoARIMA, AutoTheta, the seasonal naive
forecast and persistence on the same test rows (``result.baselines``), as
``benchmarks/panel.py`` does; the aggregate is the geometric mean. These are test-part
scores of rules *not* chosen on the folds: they say which default to measure next, not a
result to report as seqtune's. ``--absolute`` prints the scores themselves.

Usage::

    python benchmarks/panel.py --horizons 1 --out /tmp/panel      # exported studies
    SEQTUNE_BASELINE_SECONDS=10 python benchmarks/combination_partners.py /tmp/panel \\
        results/airline
    python benchmarks/combination_partners.py --absolute results/h12-lstm-s*   # MAE itself
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from _common import ERRORS, ratio_main

from seqtune.data.table import load_table
from seqtune.models import statistical
from seqtune.spec import Spec

#: the best of these on the test part is the ratio's denominator (as in panel.py)
REFERENCE = ("auto_ets", "auto_arima", "auto_theta", "seasonal_naive", "persistence")


def measure(study: Path) -> tuple[dict[str, float], dict[str, float]]:
    """Each rule's test score over the best statistical model's on one exported study, and
    the scores themselves."""
    spec = Spec.from_file(study / "spec.yaml")
    table = load_table(spec.data)
    y = np.asarray(table.y, np.float64)
    rows = pd.read_csv(study / "predictions.csv")
    rows = rows[rows["part"] == "test"]
    if "network" not in rows.columns:
        raise SystemExit(f"{study}: predictions.csv has no network column (export by 0.5.0+)")
    horizon = int(rows["h"].max())
    origins = list(dict.fromkeys(rows["origin"].tolist()))  # in order; one row per step each
    actual = rows["actual"].to_numpy(np.float64)
    network = rows["network"].to_numpy(np.float64)
    stop = y.size - (len(origins) + horizon - 1)  # the first test target
    firsts = stop + np.arange(len(origins))  # each origin's first target row
    stats = np.array(
        [
            np.reshape(
                statistical.fit(name, y[:stop], table.period).forecasts(y, firsts, horizon), -1
            )
            for name in statistical.STATISTICAL
        ]
    )
    result = yaml.safe_load((study / "best.yaml").read_text())["result"]
    error = ERRORS[result["objective"]["name"].removeprefix("val_")]
    baselines = {
        name: float(parts["test"])
        for name, parts in (result.get("baselines") or {}).items()
        if isinstance(parts, dict) and isinstance(parts.get("test"), int | float)
    }
    best = min(baselines[name] for name in REFERENCE if name in baselines)
    scores = {
        "network": error(actual, network),
        "exported": error(actual, rows["prediction"].to_numpy(np.float64)),
        "net+mean3": error(actual, 0.5 * network + 0.5 * stats.mean(axis=0)),
        "equal4": error(actual, np.vstack([network, stats]).mean(axis=0)),
        "median4": error(actual, np.median(np.vstack([network, stats]), axis=0)),
        "net+median3": error(actual, 0.5 * network + 0.5 * np.median(stats, axis=0)),
        "ridge": baselines.get("ridge", math.nan),
    }
    return {rule: value / best for rule, value in scores.items()}, scores


def main() -> None:
    ratio_main(__doc__, measure)


if __name__ == "__main__":
    main()
