"""A second series: Mauna Loa CO2 (``data/co2.csv``, monthly 1977-2001, public domain), the last
60 months (1997-2001) as the test part. Prints, on those same 60 months, the test RMSE and MAE
of seqtune's exported model — a study run and exported by the real ``seqtune`` command from
``examples/co2_folds.yaml`` — beside the classical references fitted on the 240 months before
(``_references.py``, the same code as ``model_selection.py``'s airline references):
persistence, seasonal naive, seasonal random walk, Holt-Winters and SARIMA(0,1,1)(0,1,1)12 on
levels (CO2's season has a constant size, so no logs).

The exported numbers are read from the export's ``predictions.csv`` (its test rows must be
the CSV's last 60 months) and checked against ``best.yaml``; the export's own persistence and
seasonal naive baselines must equal the references' (the same rows, the same forecasts).

Usage::

    seqtune launch examples/co2_folds.yaml && seqtune export results/co2-folds
    python benchmarks/second_series.py results/co2-folds      # read those exports

    python benchmarks/second_series.py --seeds 1 2 3
        # for each seed: a copy of the example with that seed, launched and exported through
        # the command (python -m seqtune.cli) under results/co2-seeds/, then read; a study
        # already there is exported again, not searched again

Needs statsmodels (``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import table  # noqa: E402
from _references import mae, references, rmse  # noqa: E402

CSV = ROOT / "data" / "co2.csv"
SPEC = ROOT / "examples" / "co2_folds.yaml"
TEST = 60
PERIOD = 12


def read_export(study_dir: Path, y: np.ndarray, dates: list[str]) -> dict[str, Any]:
    """The exported model's test forecasts and metrics, checked to be on the last ``TEST``
    rows of the CSV and to agree with ``best.yaml``."""
    best = yaml.safe_load((study_dir / "best.yaml").read_text())["result"]
    pred = pd.read_csv(study_dir / "predictions.csv", dtype={"time": str})
    test = pred[pred["part"] == "test"]
    if list(test["time"]) != dates[-TEST:]:
        raise SystemExit(f"{study_dir}: the export's test rows are not the last {TEST} months")
    forecast = test["prediction"].to_numpy(np.float64)
    actual = y[-TEST:]
    if not np.allclose(test["actual"].to_numpy(np.float64), actual):
        raise SystemExit(f"{study_dir}: predictions.csv's actual values are not data/co2.csv's")
    out = {"rmse": rmse(actual, forecast), "mae": mae(actual, forecast), "result": best}
    if not np.isclose(out["rmse"], best["test"]["rmse"], rtol=1e-6):
        raise SystemExit(f"{study_dir}: predictions.csv disagrees with best.yaml's test rmse")
    return out


def seqtune(*args: str) -> None:
    """Run the ``seqtune`` command as a user would (its output goes to this terminal)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    subprocess.run([sys.executable, "-m", "seqtune.cli", *args], check=True, cwd=ROOT, env=env)


def run_seed(seed: int, results: Path) -> tuple[Path, float]:
    """Launch (unless done already) and export the example with ``seed``: (study, seconds)."""
    raw = yaml.safe_load(SPEC.read_text())
    raw["seed"] = seed
    raw["study"] = f"co2-folds-seed{seed}"
    raw["data"]["csv"] = str(CSV)
    results.mkdir(parents=True, exist_ok=True)
    spec = results / f"co2_folds_seed{seed}.yaml"
    spec.write_text(yaml.safe_dump(raw, sort_keys=False))
    study = results / raw["study"]
    start = time.perf_counter()
    if not (study / "study.json").exists():
        seqtune("launch", str(spec), "--results", str(results))
    seqtune("export", str(study))
    return study, time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("studies", nargs="*", type=Path, help="exported study folders to read")
    ap.add_argument("--seeds", type=int, nargs="*", default=[], help="launch + export these")
    ap.add_argument("--results", type=Path, default=ROOT / "results" / "co2-seeds")
    args = ap.parse_args(argv)

    frame = pd.read_csv(CSV, dtype={"Date": str})
    y = frame["CO2"].to_numpy(np.float64)
    dates = list(frame["Date"])
    print(
        f"co2: {y.size - TEST} months before the test part ({dates[0]} to "
        f"{dates[-TEST - 1]}), {TEST} test months ({dates[-TEST]} to {dates[-1]})\n"
    )
    actual = y[-TEST:]
    refs = references(y, TEST, PERIOD, sarima_on_logs=False)
    rows: list[list[Any]] = [
        [name, f"{rmse(actual, p):.3f}", f"{mae(actual, p):.3f}", ""] for name, p in refs
    ]
    naive = {name: rmse(actual, p) for name, p in refs[:2]}
    naive_mae = min(mae(actual, p) for _, p in refs[:2])

    timed = {}
    for seed in args.seeds:
        study, seconds = run_seed(seed, args.results)
        timed[study] = seconds
    studies = [*args.studies, *timed]
    scores = []
    for study in studies:
        got = read_export(study, y, dates)
        result = got["result"]
        found = result.get("baselines") or {}
        for name, key in (("persistence", "persistence"), ("seasonal naive", "seasonal_naive")):
            mine = found.get(key, {}).get("test")
            if mine is not None and not np.isclose(mine, naive[name], rtol=1e-6):
                raise SystemExit(f"{study}: the export's {name} ({mine}) is not the reference's")
        beats = got["rmse"] < min(naive.values()) and got["mae"] < naive_mae
        took = f", {timed[study]:.0f} s" if study in timed else ""
        label = (
            f"seqtune {study.name} (trial {result['trial']}, val {result['objective']['value']:.3f}"
            f"{took})"
        )
        rows.append([label, f"{got['rmse']:.3f}", f"{got['mae']:.3f}", "yes" if beats else "NO"])
        scores.append(got)
        ridge = found.get("ridge", {}).get("test")
        if ridge is not None:
            rows.append(["  its ridge baseline (same rows)", f"{ridge:.3f}", "", ""])
    headers = ["one step ahead, test 1997-2001 (fit on 1977-1996)", "RMSE", "MAE", "beats both"]
    print(table(headers, rows))
    print("(beats both: lower RMSE and MAE than persistence and than the seasonal naive)")
    if len(scores) > 1:
        r = [s["rmse"] for s in scores]
        m = [s["mae"] for s in scores]
        print(
            f"\nseqtune over {len(scores)} studies: RMSE median {statistics.median(r):.3f} "
            f"(min {min(r):.3f}, max {max(r):.3f}); MAE median {statistics.median(m):.3f}"
        )
        ridges = [s["result"].get("baselines", {}).get("ridge", {}).get("test") for s in scores]
        lower = {name: sum(x < rmse(actual, p) for x in r) for name, p in refs}
        lower["its ridge baseline"] = sum(
            x < ridge for x, ridge in zip(r, ridges, strict=True) if ridge is not None
        )
        print(
            f"beats persistence and seasonal naive (RMSE and MAE) in "
            f"{sum(x['rmse'] < min(naive.values()) and x['mae'] < naive_mae for x in scores)}"
            f"/{len(r)}; lower RMSE than "
            + ", ".join(f"{name} in {n}/{len(r)}" for name, n in lower.items() if name not in naive)
        )


if __name__ == "__main__":
    main()
