"""Airline, last 48 months: does selecting on rolling folds, with repeats, a refit on every
month before the test part and a seed ensemble, give a model that holds on the test part?

Part (a) fits the classical references (``_references.py``, shared with ``second_series.py``)
on the same 96 months and scores their one-step-ahead forecasts of the 48 test months
(parameters fixed after the 96 months, each forecast from the true values before it, exactly
as seqtune's windows): persistence, seasonal naive, seasonal random walk
(``y[t-1] + y[t-12] - y[t-13]``), Holt-Winters (additive trend, additive or multiplicative
season) and SARIMA(0,1,1)(0,1,1)12 on logs. Needs statsmodels (``pip install -e '.[bench]'``).

Part (b) runs, for each study seed, a TPE search (Optuna) over one space with seqtune's own
pieces (``Table`` windows, ``models.builders``, ``models.training.fit``) under four protocols:

- ``holdout``: today: value = validation RMSE of one 19-month holdout; the exported model is
  the best trial's own (trained on 77 months);
- ``folds``: value = mean validation RMSE over ``--folds`` rolling origins of ``--val`` months
  (``Table.fold_windows``); export = one refit on all 96 months (``Table.refit_windows``) for
  the median best epoch of the chosen configuration's folds;
- ``folds+repeats``: the same with ``--repeats`` seeds per fold (value = mean over folds and
  seeds); export = one refit;
- ``+ensemble``: the configuration chosen by ``folds+repeats``, refit with ``--repeats``
  seeds, predictions averaged (original units).

The test part is read once per protocol, after the search. Printed: test RMSE median / min /
max over study seeds, and the wall time of a study (search + export), median over seeds.

The search space (``--space``): ``quickstart`` is ``examples/airline_lstm.yaml``'s (LSTM, the
six transforms); ``wide`` adds ``kind: mlp`` (0 hidden layers is a linear model on the window)
and ``skip``, a linear path from the flattened window to the output added to the network's;
``seasonal`` is the MLP alone (with ``skip``) on log_diff / seasonal_diff / log_seasonal_diff
with look_back 12..24 (a season of inputs).

Usage (the defaults: 4 study seeds x 12 trials, two seeds at a time on 2 cores)::

    python benchmarks/model_selection.py [--seeds 4] [--trials 12] [--folds 4] [--val 12]
        [--repeats 2] [--max-epochs 100] [--patience 15] [--space wide|quickstart|seasonal]
        [--jobs 2] [--classical-only]
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import table  # noqa: E402
from _references import references, rmse  # noqa: E402

CSV = ROOT / "data" / "airline.csv"
TEST = 48
PERIOD = 12
PROTOCOLS = ("holdout", "folds", "folds+repeats", "+ensemble")


# -- (a) classical references ----------------------------------------------------------------


def classical(y: np.ndarray) -> list[tuple[str, float]]:
    """Test RMSE of the one-step-ahead forecasts of the classical references."""
    actual = y[-TEST:]
    return [(name, rmse(actual, pred)) for name, pred in references(y, TEST, PERIOD)]


def ridge_by_folds(folds: int, val: int) -> tuple[str, float, float]:
    """seqtune's ridge baseline (``models.baselines``) with its look_back (1..24) and transform
    chosen by mean RMSE over the rolling folds, refit on the 96 months: (choice, folds mean,
    test RMSE)."""
    from seqtune.data.transforms import TRANSFORMS
    from seqtune.models.baselines import score_baselines
    from seqtune.objectives.metrics import rmse as metric

    tab = load({"val": val, "test": TEST, "folds": folds})
    scores = {}
    for transform in TRANSFORMS:
        for look_back in range(1, 25):
            per_fold = [
                score_baselines(tab.fold_windows(i, look_back, transform), metric, ["val"])
                for i in range(folds)
            ]
            scores[(transform, look_back)] = float(np.mean([p["ridge"]["val"] for p in per_fold]))
    transform, look_back = min(scores, key=scores.__getitem__)
    test = score_baselines(tab.refit_windows(look_back, transform), metric, ["test"])
    choice = f"ridge on windows ({transform}, look_back {look_back}, by folds)"
    return choice, scores[(transform, look_back)], test["ridge"]["test"]


# -- (b) the selection experiment ------------------------------------------------------------


@dataclass
class Settings:
    trials: int
    folds: int
    val: int
    repeats: int
    max_epochs: int
    patience: int
    space: str


@dataclass
class Study:
    """One protocol's search result for one study seed."""

    value: float
    values: dict[str, Any]
    epochs: list[int] = field(default_factory=list)  # best epoch (1-based) per fold x seed
    model: Any = None  # holdout: the best trial's own model


def load(split: dict[str, Any]) -> Any:
    from seqtune.data import DataSpec, load_table

    raw = {"csv": str(CSV), "target": "Passengers", "period": PERIOD, "split": split}
    return load_table(DataSpec.from_dict(raw, ROOT))


def suggest(trial: Any, space: str) -> dict[str, Any]:
    """A configuration; names as seqtune's model parameters, plus ``kind`` and ``skip``."""
    kinds = {"quickstart": ["lstm"], "wide": ["lstm", "mlp"], "seasonal": ["mlp"]}[space]
    v: dict[str, Any] = {"kind": trial.suggest_categorical("kind", kinds)}
    transforms = ["none", "log", "diff", "log_diff", "seasonal_diff", "log_seasonal_diff"]
    if space == "seasonal":  # the framings that worked (diff, seasonal diff), a season of inputs
        transforms = ["log_diff", "seasonal_diff", "log_seasonal_diff"]
    v["transform"] = trial.suggest_categorical("transform", transforms)
    v["look_back"] = trial.suggest_int("look_back", 12 if space == "seasonal" else 1, 24)
    if v["kind"] == "lstm":
        v["units"] = trial.suggest_int("units", 8, 64, step=8)
        v["dropout"] = trial.suggest_float("dropout", 0.0, 0.3, step=0.1)
    v["num_hidden_layers"] = trial.suggest_int("num_hidden_layers", 0, 2)
    for i in range(v["num_hidden_layers"]):
        v[f"dense_units_{i}"] = trial.suggest_int(f"dense_units_{i}", 8, 64, step=8)
    v["learning_rate"] = trial.suggest_float("learning_rate", 3e-4, 3e-2, log=True)
    v["batch_size"] = trial.suggest_categorical("batch_size", [8, 16, 32])
    v["skip"] = False if space == "quickstart" else trial.suggest_categorical("skip", [False, True])
    return v


def build(values: dict[str, Any], look_back: int) -> Any:
    import keras

    from seqtune.models.builders import build_model

    params = {k: v for k, v in values.items() if k not in ("kind", "skip")}
    base = build_model(
        values["kind"],
        "timesteps",
        params,
        look_back=look_back,
        n_features=1,
        n_outputs=1,
        head="linear",
    )
    if not values.get("skip"):
        return base
    linear = keras.layers.Dense(1, use_bias=False)(keras.layers.Flatten()(base.input))
    return keras.Model(base.input, keras.layers.Add()([base.output, linear]))


def train(
    windows: Any, values: dict[str, Any], seed: int, s: Settings, epochs: int | None = None
) -> tuple[float, int, Any]:
    """Fit one model. With a validation part: up to ``max_epochs`` with early stopping on
    validation RMSE (original units), best epoch's weights kept; returns (best RMSE, best
    epoch 1-based, model). Without: ``epochs`` epochs, returns (nan, epochs, model)."""
    import keras

    from seqtune.models.training import fit, predictor

    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    model = build(values, windows.look_back)
    x_val = windows.x_val
    truth = windows.true_original("val") if len(x_val) else None
    predict = predictor(model)

    class KeepBest(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.best, self.epoch, self.weights, self.wait = math.inf, 0, None, 0

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            pred = windows.to_original("val", predict(x_val).reshape(-1))
            value = rmse(truth, pred)
            if value < self.best:
                self.best, self.epoch, self.wait = value, epoch + 1, 0
                self.weights = model.get_weights()
            else:
                self.wait += 1
                if self.wait >= s.patience:
                    model.stop_training = True

    keep = KeepBest()
    fit(
        model,
        windows.x_train,
        windows.y_train,
        head="linear",
        learning_rate=float(values["learning_rate"]),
        batch_size=int(values["batch_size"]),
        epochs=epochs if epochs is not None else s.max_epochs,
        seed=seed,
        callbacks=[keep] if truth is not None else [],
        validation_x=x_val if truth is not None else None,
    )
    if truth is None:
        return math.nan, int(epochs or s.max_epochs), model
    if keep.weights is not None:
        model.set_weights(keep.weights)
    return keep.best, keep.epoch, model


def test_predictions(windows: Any, model: Any) -> np.ndarray:
    from seqtune.models.training import predictor

    return windows.to_original("test", predictor(model)(windows.x_test).reshape(-1))


def derive(*parts: int) -> int:
    return int(np.random.SeedSequence(list(parts)).generate_state(1)[0] % (2**31 - 1))


def search(protocol: str, study_seed: int, s: Settings) -> Study:
    """TPE over the space; a trial's value under ``protocol``; the best study."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    holdout = protocol == "holdout"
    # holdout: today's 0.13 of 144 = 19 validation months right before the test part
    tab = load(
        {"val": 19, "test": TEST} if holdout else {"val": s.val, "test": TEST, "folds": s.folds}
    )
    repeats = s.repeats if protocol == "folds+repeats" else 1
    best: Study | None = None

    def objective(trial: Any) -> float:
        nonlocal best
        values = suggest(trial, s.space)
        lb, tr = int(values["look_back"]), str(values["transform"])
        try:
            if holdout:
                parts = [tab.windows(lb, tr)]
            else:
                parts = [tab.fold_windows(i, lb, tr) for i in range(s.folds)]
        except Exception as exc:  # a look_back a fold cannot serve: a failed trial
            raise optuna.TrialPruned(str(exc)) from None
        scores, epochs, model = [], [], None
        for f, windows in enumerate(parts):
            for r in range(repeats):
                value, epoch, model = train(
                    windows, values, derive(study_seed, trial.number, f, r), s
                )
                if not math.isfinite(value):
                    raise optuna.TrialPruned("diverged")
                scores.append(value)
                epochs.append(epoch)
        value = float(np.mean(scores))
        if best is None or value < best.value:
            best = Study(value, values, epochs, model if holdout else None)
        return value

    sampler = optuna.samplers.TPESampler(seed=study_seed)
    study = optuna.create_study(direction="minimize", sampler=sampler)
    study.optimize(objective, n_trials=s.trials, catch=(Exception,))
    assert best is not None
    return best


def refit(study: Study, study_seed: int, s: Settings, members: int) -> np.ndarray:
    """Mean test predictions of ``members`` models refit on all 96 months for the median
    best epoch of the chosen configuration's folds."""
    tab = load({"val": s.val, "test": TEST, "folds": s.folds})
    values = study.values
    windows = tab.refit_windows(int(values["look_back"]), str(values["transform"]))
    epochs = max(1, int(statistics.median(study.epochs)))
    preds = []
    for m in range(members):
        _, _, model = train(windows, values, derive(study_seed, 10_000 + m), s, epochs=epochs)
        preds.append(test_predictions(windows, model))
    return np.mean(preds, axis=0)


def run_seed(study_seed: int, s: Settings) -> dict[str, Any]:
    """Every protocol for one study seed: {protocol: (test RMSE, seconds, configuration)}."""
    from seqtune.models.runtime import configure_threads

    configure_threads(1, 1)
    y = pd.read_csv(CSV)["Passengers"].to_numpy(np.float64)
    actual = y[-TEST:]
    out: dict[str, Any] = {}

    start = time.perf_counter()
    best = search("holdout", study_seed, s)
    tab = load({"val": 19, "test": TEST})
    w = tab.windows(int(best.values["look_back"]), str(best.values["transform"]))
    pred = test_predictions(w, best.model)
    out["holdout"] = (rmse(actual, pred), time.perf_counter() - start, best.values, best.value)

    start = time.perf_counter()
    best = search("folds", study_seed, s)
    pred = refit(best, study_seed, s, 1)
    out["folds"] = (rmse(actual, pred), time.perf_counter() - start, best.values, best.value)

    start = time.perf_counter()
    best = search("folds+repeats", study_seed, s)
    searched = time.perf_counter() - start
    pred = refit(best, study_seed, s, 1)
    out["folds+repeats"] = (
        rmse(actual, pred),
        time.perf_counter() - start,
        best.values,
        best.value,
    )
    start = time.perf_counter()
    pred = refit(best, study_seed, s, s.repeats)
    ensemble_seconds = searched + time.perf_counter() - start
    out["+ensemble"] = (rmse(actual, pred), ensemble_seconds, best.values, best.value)
    return out


def describe(values: dict[str, Any]) -> str:
    keys = ["kind", "transform", "look_back", "units", "num_hidden_layers", "skip"]
    text = " ".join(f"{k}={values[k]}" for k in keys if k in values)
    return f"{text} lr={values['learning_rate']:.2g} bs={values['batch_size']}"


def show(seed: int, run: dict[str, Any]) -> None:
    for protocol in PROTOCOLS:
        test, seconds, values, value = run[protocol]
        print(
            f"  seed {seed} {protocol:14s} {value:6.2f} -> {test:6.2f} ({seconds:4.0f} s)  "
            f"{describe(values)}",
            flush=True,
        )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=4, help="study seeds (1..N)")
    ap.add_argument("--trials", type=int, default=12, help="TPE trials per search")
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument("--val", type=int, default=12, help="validation months per fold")
    ap.add_argument("--repeats", type=int, default=2, help="seeds per fold, and ensemble size")
    ap.add_argument("--max-epochs", type=int, default=100)
    ap.add_argument("--patience", type=int, default=15)
    ap.add_argument("--space", choices=("wide", "quickstart", "seasonal"), default="wide")
    ap.add_argument("--jobs", type=int, default=2, help="study seeds run in parallel")
    ap.add_argument("--classical-only", action="store_true")
    args = ap.parse_args(argv)

    y = pd.read_csv(CSV)["Passengers"].to_numpy(np.float64)
    print(f"airline: {y.size - TEST} months before the test part, {TEST} test months\n")
    references = [(name, f"{value:.2f}") for name, value in classical(y)]
    choice, _, ridge_test = ridge_by_folds(args.folds, args.val)
    references.append((choice, f"{ridge_test:.2f}"))
    print(table(["reference (fit on the 96 months)", "test RMSE"], references))
    if args.classical_only:
        return

    s = Settings(
        args.trials, args.folds, args.val, args.repeats, args.max_epochs, args.patience, args.space
    )
    print(
        f"\nseqtune, space {s.space}: {s.trials} TPE trials per search, {args.seeds} study "
        f"seeds; folds {s.folds} x {s.val} months, repeats {s.repeats}, max_epochs "
        f"{s.max_epochs}, patience {s.patience}",
        flush=True,
    )
    start = time.perf_counter()
    seeds = list(range(1, args.seeds + 1))
    runs: dict[int, dict[str, Any]] = {}
    print("\nchosen configurations (validation value -> test RMSE):", flush=True)
    if args.jobs > 1:
        context = multiprocessing.get_context("spawn")  # TensorFlow is never forked
        with ProcessPoolExecutor(max_workers=args.jobs, mp_context=context) as pool:
            futures = {pool.submit(run_seed, seed, s): seed for seed in seeds}
            for future in as_completed(futures):
                runs[futures[future]] = future.result()
                show(futures[future], runs[futures[future]])
    else:
        for seed in seeds:
            runs[seed] = run_seed(seed, s)
            show(seed, runs[seed])
    rows = []
    for protocol in PROTOCOLS:
        scores = [run[protocol][0] for run in runs.values()]
        seconds = [run[protocol][1] for run in runs.values()]
        rows.append(
            (
                protocol,
                f"{statistics.median(scores):.2f}",
                f"{min(scores):.2f}",
                f"{max(scores):.2f}",
                f"{sum(v <= 15.0 for v in scores)}/{len(scores)}",
                f"{statistics.median(seconds):.0f}",
            )
        )
    print()
    print(table(["protocol", "test RMSE median", "min", "max", "<= 15", "seconds"], rows))
    print(f"\ntotal wall time {time.perf_counter() - start:.0f} s ({args.jobs} jobs)")


if __name__ == "__main__":
    main()
