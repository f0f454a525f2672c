"""Airline, 12 months ahead: seqtune against seasonal naive and Holt-Winters (ETS).

The reference setup is neuralforecast's airline example (fit on 1949-1959, forecast the 12
months of 1960); their notebook reports ETS MAE 16.22 and AutoARIMA 18.55 (not rerun here).
This script runs a small seqtune study on ``examples/airline_h12.yaml`` through the CLI
(launch, export), reads the test rows of ``predictions.csv`` (the one forecast from
December 1959) and fits, on the same 132 months, the seasonal naive forecast (1959 repeated)
and statsmodels' ExponentialSmoothing with additive trend and multiplicative seasonality.

Needs statsmodels (``pip install -e '.[bench]'``). Usage::

    python benchmarks/horizon.py [--trials 20] [--max-epochs 300]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "examples" / "airline_h12.yaml"
H = 12


def scores(actual: np.ndarray, forecast: np.ndarray) -> tuple[float, float]:
    err = np.asarray(actual, np.float64) - np.asarray(forecast, np.float64)
    return float(np.mean(np.abs(err))), float(np.sqrt(np.mean(err * err)))


def seqtune_forecast(trials: int, max_epochs: int, results: Path) -> tuple[np.ndarray, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    cli = [sys.executable, "-m", "seqtune.cli"]
    launch = [*cli, "launch", str(SPEC), "--results", str(results)]
    launch += ["--trials", str(trials), "--max-epochs", str(max_epochs)]
    subprocess.run(launch, check=True, env=env, stdout=subprocess.DEVNULL)
    study = results / "airline-h12"
    out = subprocess.run(
        [*cli, "export", str(study)], check=True, env=env, capture_output=True, text=True
    )
    frame = pd.read_csv(study / "predictions.csv")
    test = frame[frame["part"] == "test"].sort_values("h")
    assert len(test) == H and set(test["origin"]) == {"1959-12"}, test
    best = (study / "best.yaml").read_text()
    params = best[best.index("space:") : best.index("objective:")].strip()
    return test["prediction"].to_numpy(), out.stdout.splitlines()[0] + "\n" + params


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--max-epochs", type=int, default=300)
    args = ap.parse_args()

    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    y = pd.read_csv(ROOT / "data" / "airline.csv")["Passengers"].to_numpy(np.float64)
    train, actual = y[:-H], y[-H:]
    rows: list[tuple[str, float, float]] = []
    rows.append(("seasonal naive (1959 repeated)", *scores(actual, train[-H:])))
    ets = ExponentialSmoothing(
        train, trend="add", seasonal="mul", seasonal_periods=12, initialization_method="estimated"
    ).fit()
    rows.append(("Holt-Winters ETS (add. trend, mult. season)", *scores(actual, ets.forecast(H))))

    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        pred, best = seqtune_forecast(args.trials, args.max_epochs, Path(tmp))
    seconds = time.perf_counter() - start
    rows.append(
        (f"seqtune LSTM, {args.trials} TPE trials ({seconds:.0f} s)", *scores(actual, pred))
    )

    print(f"airline, fit on 1949-1959, forecast 1960 (h = 1..{H}); test MAE and RMSE")
    print(f"{'model':<46} {'MAE':>8} {'RMSE':>8}")
    for name, mae, rmse in rows:
        print(f"{name:<46} {mae:8.2f} {rmse:8.2f}")
    print("(neuralforecast's notebook: ETS MAE 16.22, AutoARIMA 18.55; not rerun here)")
    print()
    print("seqtune best trial:", best)


if __name__ == "__main__":
    main()
