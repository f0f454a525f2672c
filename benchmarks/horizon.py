"""Airline, 12 months ahead: seqtune against seasonal naive and Holt-Winters (ETS).

The reference setup is neuralforecast's airline example (fit on 1949-1959, forecast the 12
months of 1960); their notebook reports ETS MAE 16.22 and AutoARIMA 18.55 (not rerun here).
This script runs a small seqtune study on ``examples/airline_h12.yaml`` through the CLI
(launch, export), reads the test rows of ``predictions.csv`` (the one forecast from
December 1959) and fits, on the same 132 months, the seasonal naive forecast (1959 repeated)
and statsmodels' ExponentialSmoothing with additive trend and multiplicative seasonality.

Needs statsmodels (``pip install -e '.[bench]'``). Usage::

    python benchmarks/horizon.py [--trials 20] [--max-epochs 300]

``--calendar-arms`` instead compares, over several study seeds, the month inputs fixed (the
example as shipped), left out, and searched (``space: {calendar: {choice: [none, month]}}``)
on the same study (no statsmodels needed)::

    python benchmarks/horizon.py --calendar-arms [--seeds 123,1,2] [--arms fixed,none,searched]

``--recursive`` measures the recursive strategy on the same setup: the study of the example
with ``horizon: 1`` (one-step model, chosen on its one-step validation MAE), exported, then
fed its own forecasts for 12 steps from December 1959 (``--arms`` fixed or none: the month
inputs as shipped or left out; the direct strategy's numbers are ``--calendar-arms``')::

    python benchmarks/horizon.py --recursive [--seeds 123,1,2] [--arms fixed]
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
import yaml

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "examples" / "airline_h12.yaml"
H = 12


def scores(actual: np.ndarray, forecast: np.ndarray) -> tuple[float, float]:
    err = np.asarray(actual, np.float64) - np.asarray(forecast, np.float64)
    return float(np.mean(np.abs(err))), float(np.sqrt(np.mean(err * err)))


def seqtune_forecast(
    trials: int, max_epochs: int, results: Path, spec: Path = SPEC
) -> tuple[np.ndarray, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    cli = [sys.executable, "-m", "seqtune.cli"]
    launch = [*cli, "launch", str(spec), "--results", str(results)]
    launch += ["--trials", str(trials), "--max-epochs", str(max_epochs)]
    done = subprocess.run(launch, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"launch failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
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


#: how each arm of ``--calendar-arms`` sets the month inputs
ARMS = ("fixed", "none", "searched")


def arm_spec(arm: str, seed: int, folder: Path, horizon: int = H) -> Path:
    """The example spec with the month inputs fixed, left out or searched, ``seed`` and
    ``horizon``."""
    spec = yaml.safe_load(SPEC.read_text())
    spec["seed"] = seed
    spec["data"]["horizon"] = horizon
    spec["data"]["csv"] = str(ROOT / "data" / "airline.csv")
    if arm != "fixed":
        spec["data"].pop("calendar", None)
    if arm == "searched":
        spec["space"]["calendar"] = {"choice": ["none", "month"]}
    path = folder / f"{arm}-{seed}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def calendar_arms(args: argparse.Namespace) -> None:
    """Test MAE and RMSE of the study's export per arm and seed, and each arm's median."""
    y = pd.read_csv(ROOT / "data" / "airline.csv")["Passengers"].to_numpy(np.float64)
    actual = y[-H:]
    arms = [a for a in args.arms.split(",") if a]
    seeds = [int(s) for s in args.seeds.split(",") if s]
    found: dict[str, list[tuple[float, float]]] = {arm: [] for arm in arms}
    print(f"airline H = {H}: month inputs fixed / left out / searched; {args.trials} TPE")
    print(f"trials of at most {args.max_epochs} epochs per study; test = 1960 from 1959-12")
    print(f"{'arm':<9} {'seed':>5} {'val MAE':>8} {'MAE':>8} {'RMSE':>8} {'s':>5}  chosen")
    for seed in seeds:
        for arm in arms:
            start = time.perf_counter()
            with tempfile.TemporaryDirectory() as tmp:
                spec = arm_spec(arm, seed, Path(tmp))
                pred, best = seqtune_forecast(args.trials, args.max_epochs, Path(tmp), spec)
            seconds = time.perf_counter() - start
            mae, rmse = scores(actual, pred)
            found[arm].append((mae, rmse))
            val = best.splitlines()[0].rpartition("= ")[2]
            chosen = "month" if arm == "fixed" else "none"
            if "calendar: month" in best:
                chosen = "month"
            print(
                f"{arm:<9} {seed:>5} {float(val):8.2f} {mae:8.2f} {rmse:8.2f} {seconds:5.0f}"
                f"  {chosen}",
                flush=True,
            )
    print()
    for arm, values in found.items():
        maes, rmses = [v[0] for v in values], [v[1] for v in values]
        print(
            f"{arm:<9} median MAE {np.median(maes):6.2f} (min {min(maes):.2f}, max "
            f"{max(maes):.2f}); median RMSE {np.median(rmses):6.2f}"
        )


def recursive_forecast(study: Path) -> np.ndarray:
    """The H steps after the last H rows of the data by the exported one-step model of
    ``study``, each step's forecast fed back as the next input (the calendar inputs are
    the true ones: they are known in advance). Inputs are scaled and transformed as in the
    study (scalers of its training rows); the first step is the study's own test forecast."""
    sys.path.insert(0, str(ROOT / "src"))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up lines
    import keras

    from seqtune.exported.predict import check_predict, resolve_export
    from seqtune.models.builders import reshape_x
    from seqtune.models.runtime import configure_from_env
    from seqtune.models.training import predictor
    from seqtune.search.runner import Runner
    from seqtune.tasks import calendar_of

    configure_from_env()  # the threads of a seqtune process, as the study had them
    spec, values, model_path = resolve_export(study / "best.yaml")
    table, _ = check_predict(spec, None)
    windows = Runner(spec, table).windows(values)
    predict = predictor(keras.models.load_model(model_path, compile=False))
    origin = table.n_rows - H
    features = table.feature_values(calendar_of(values))
    y = table.y[:origin].copy()
    for k in range(H):
        x = windows.input_after(features[: origin + k], y)  # the target column from y
        step = windows.forecast_after(predict(reshape_x(x, spec.layout)), y)[0]
        y = np.append(y, step)
    return y[origin:]


def recursive(args: argparse.Namespace) -> None:
    """Test MAE and RMSE of the recursive strategy per seed (and its one-step test MAE)."""
    y = pd.read_csv(ROOT / "data" / "airline.csv")["Passengers"].to_numpy(np.float64)
    actual = y[-H:]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    cli = [sys.executable, "-m", "seqtune.cli"]
    print(f"airline, recursive strategy: a one-step study ({args.trials} TPE trials of at")
    print(f"most {args.max_epochs} epochs), its export fed its own forecasts for {H} months")
    print(f"{'arm':<9} {'seed':>5} {'val MAE':>8} {'MAE':>8} {'RMSE':>8} {'1-step':>7} {'s':>5}")
    found: dict[str, list[float]] = {}
    for seed in [int(s) for s in args.seeds.split(",") if s]:
        for arm in [a for a in args.arms.split(",") if a]:
            start = time.perf_counter()
            with tempfile.TemporaryDirectory() as tmp:
                spec = arm_spec(arm, seed, Path(tmp), horizon=1)
                launch = [*cli, "launch", str(spec), "--results", tmp]
                launch += ["--trials", str(args.trials), "--max-epochs", str(args.max_epochs)]
                subprocess.run(launch, check=True, env=env, capture_output=True)
                study = Path(tmp) / "airline-h12"
                done = subprocess.run(
                    [*cli, "export", str(study)], check=True, env=env, capture_output=True
                )
                val = float(done.stdout.decode().splitlines()[0].rpartition("= ")[2])
                one_step = pd.read_csv(study / "predictions.csv")
                one_step = one_step[one_step["part"] == "test"]["prediction"].to_numpy()
                pred = recursive_forecast(study)
            # the first recursive step is the one-step test forecast from 1959-12
            assert abs(pred[0] - one_step[0]) <= 1e-6 * abs(one_step[0]), (pred[0], one_step)
            mae, rmse = scores(actual, pred)
            found.setdefault(arm, []).append(mae)
            one = scores(actual, one_step)[0]
            seconds = time.perf_counter() - start
            print(
                f"{arm:<9} {seed:>5} {val:8.2f} {mae:8.2f} {rmse:8.2f} {one:7.2f} {seconds:5.0f}",
                flush=True,
            )
    for arm, maes in found.items():
        print(f"{arm:<9} median MAE {np.median(maes):6.2f} over {len(maes)} seeds")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--max-epochs", type=int, default=300)
    ap.add_argument("--calendar-arms", action="store_true", help="compare the month inputs")
    ap.add_argument("--seeds", default="123,1,2", help="study seeds (--calendar-arms)")
    ap.add_argument("--arms", default=None, help="of fixed,none,searched")
    ap.add_argument("--recursive", action="store_true", help="the recursive strategy")
    args = ap.parse_args()
    if args.calendar_arms:
        args.arms = args.arms or ",".join(ARMS)
        calendar_arms(args)
        return
    if args.recursive:
        args.arms = args.arms or "fixed"
        recursive(args)
        return

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
