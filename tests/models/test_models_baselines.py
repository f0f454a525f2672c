"""Baselines: exact on the series they are made for, in the study's metric units, on folds and
on the refit view, and no import of the search layer or TensorFlow."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from seqtune.data import DataSpec, Table, load_table
from seqtune.models import baselines as bl
from seqtune.objectives import metrics

AIRLINE = Path(__file__).resolve().parents[2] / "data" / "airline.csv"


def table_of(tmp_path: Path, y: np.ndarray, **data: Any) -> Table:
    pd.DataFrame({"y": y}).to_csv(tmp_path / "y.csv", index=False)
    raw = {"csv": "y.csv", "target": "y", "split": {"val": 24, "test": 24}, **data}
    return load_table(DataSpec.from_dict(raw, tmp_path))


def seasonal(n: int = 120, period: int = 12) -> np.ndarray:
    phase = np.arange(n) % period
    return 50.0 + 10.0 * np.sin(2 * np.pi * phase / period) + 3.0 * (phase == 5)


# -- the plain functions ---------------------------------------------------------------------


def test_persistence_and_seasonal_naive_read_only_the_past() -> None:
    y = np.arange(40, dtype=np.float64)
    rows = np.array([20, 30])
    np.testing.assert_array_equal(bl.persistence(y, rows), [19, 29])
    np.testing.assert_array_equal(bl.persistence(y, rows, 3), [[19, 19, 19], [29, 29, 29]])
    np.testing.assert_array_equal(bl.seasonal_naive(y, rows, 12), [8, 18])
    # horizon longer than a period: the last observed season repeats
    got = bl.seasonal_naive(y, np.array([20]), 4, horizon=6)
    np.testing.assert_array_equal(got, [[16, 17, 18, 19, 16, 17]])
    assert (got < 20).all()
    with pytest.raises(ValueError):
        bl.seasonal_naive(y, np.array([5]), 12)


def test_mean_majority_always_positive() -> None:
    np.testing.assert_array_equal(bl.mean_forecast(np.array([1.0, 2.0, 6.0]), 2), [3.0, 3.0])
    assert bl.mean_forecast(np.array([1.0, 3.0]), 2, 4).shape == (2, 4)
    np.testing.assert_array_equal(bl.majority(np.array([1, 1, 0]), 3, 2), [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(bl.majority(np.array([0, 0, 1]), 2, 2), [0.0, 0.0])
    three = bl.majority(np.array([2, 2, 0, 1]), 2, 3)
    np.testing.assert_array_equal(three, [[0, 0, 1], [0, 0, 1]])
    np.testing.assert_array_equal(bl.always_positive(3), [1.0, 1.0, 1.0])


def test_ridge_recovers_a_linear_ar_series() -> None:
    rng = np.random.default_rng(0)
    n, a1, a2, c = 600, 0.6, -0.3, 2.0
    y = np.zeros(n)
    for t in range(2, n):
        y[t] = c + a1 * y[t - 1] + a2 * y[t - 2] + rng.normal(0, 0.1)
    x = np.stack([y[:-2], y[1:-1]], axis=1)[:, :, None]  # windows (t-2, t-1)
    target = y[2:]
    truth = c + a2 * x[:, 0, 0] + a1 * x[:, 1, 0]
    (pred,) = bl.ridge(x[:500], target[:500], [x[500:]])
    np.testing.assert_allclose(pred, truth[500:], atol=0.02)
    (fixed,) = bl.ridge(x[:500], target[:500], [x[500:]], alpha=1e-8)
    np.testing.assert_allclose(fixed, truth[500:], atol=0.02)


def test_logistic_separates_separable_windows() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (200, 3, 2))
    y = (x[:, -1, 0] > 0).astype(np.int64)
    (proba,) = bl.logistic(x[:150], y[:150], [x[150:]], 2, c=100.0)
    assert proba.shape == (50,)
    assert metrics.accuracy(y[150:], proba) > 0.95
    y3 = np.digitize(x[:, -1, 0], [-0.5, 0.5])
    (p3,) = bl.logistic(x[:150], y3[:150], [x[150:]], 4, c=100.0)  # class 3 never seen
    assert p3.shape == (50, 4) and np.allclose(p3[:, 3], 0) and np.allclose(p3.sum(axis=1), 1)


# -- on a study's windows --------------------------------------------------------------------


def test_seasonal_naive_is_exact_on_a_pure_seasonal_series(tmp_path: Path) -> None:
    table = table_of(tmp_path, seasonal(), period=12)
    windows = table.windows(3)
    scores = bl.score_baselines(windows, metrics.rmse)
    assert scores["seasonal_naive"]["val"] == pytest.approx(0.0, abs=1e-12)
    assert scores["seasonal_naive"]["test"] == pytest.approx(0.0, abs=1e-12)
    assert scores["persistence"]["val"] > 1.0
    assert set(scores) == {"persistence", "seasonal_naive", "mean", "ridge"}


def test_ridge_on_the_windows_recovers_an_ar_series_in_original_units(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    y = np.zeros(2000)
    y[:2] = 100.0
    for t in range(2, 2000):
        y[t] = 30.0 + 0.9 * y[t - 1] - 0.2 * y[t - 2] + rng.normal(0, 1.0)
    table = table_of(tmp_path, y, split={"val": 200, "test": 200})
    windows = table.windows(2)
    predictions = bl.baseline_predictions(windows)
    for part in ("val", "test"):
        rows = windows.target_rows(part)
        expected = 30.0 + 0.9 * y[rows - 1] - 0.2 * y[rows - 2]
        # off the true conditional mean by far less than the noise (sd 1)
        np.testing.assert_allclose(predictions["ridge"][part], expected, atol=0.15)
    assert "seasonal_naive" not in predictions  # no period known


def test_forecast_baselines_on_airline_match_hand_computation() -> None:
    raw = {"csv": str(AIRLINE), "target": "Passengers", "period": 12}
    raw["split"] = {"val": 12, "test": 48, "folds": 3}
    table = load_table(DataSpec.from_dict(raw, Path(".")))
    y = table.y
    refit = table.refit_windows(13, "log_seasonal_diff")
    got = bl.baseline_predictions(refit)
    assert set(got["persistence"]) == {"test"}  # the refit view has no validation part
    np.testing.assert_array_equal(got["persistence"]["test"], y[95:143])
    np.testing.assert_array_equal(got["seasonal_naive"]["test"], y[84:132])
    np.testing.assert_allclose(got["mean"]["test"], np.full(48, y[:96].mean()))
    scores = bl.score_baselines(refit, metrics.rmse, ["test"])
    assert scores["seasonal_naive"]["test"] == pytest.approx(metrics.rmse(y[96:], y[84:132]))
    for fold in table.fold_plan.folds:  # each fold: fitted on its own training rows only
        w = table.fold_windows(fold.index, 13, "log_seasonal_diff")
        mean = bl.baseline_predictions(w, ["val"])["mean"]["val"]
        np.testing.assert_allclose(mean, y[: fold.train_stop].mean())


def test_horizon_shapes(tmp_path: Path) -> None:
    table = table_of(tmp_path, seasonal() + np.arange(120) * 0.1, period=12, horizon=3)
    windows = table.windows(4, "seasonal_diff")
    predictions = bl.baseline_predictions(windows)
    for name in ("persistence", "seasonal_naive", "mean", "ridge"):
        assert predictions[name]["val"].shape == windows.true_original("val").shape == (22, 3)


def stream(tmp_path: Path, k: int = 2) -> Table:
    rng = np.random.default_rng(0)
    n = 300
    x = rng.normal(0, 1, n)
    labels = np.zeros(n, np.int64)
    labels[1:] = (x[:-1] > -0.4).astype(np.int64)  # class of row t: the sign of x at t - 1
    if k == 3:
        labels[1:] += x[:-1] > 0.8
    pd.DataFrame({"x": x, "class": labels}).to_csv(tmp_path / "s.csv", index=False)
    raw = {"csv": "s.csv", "target": "class", "task": "classify"}
    raw["split"] = {"val": 60, "test": 60}
    return load_table(DataSpec.from_dict(raw, tmp_path))


def test_classify_baselines_in_metric_units(tmp_path: Path) -> None:
    windows = stream(tmp_path).windows(3)
    scores = bl.score_baselines(windows, metrics.f1)
    assert set(scores) == {"majority", "always_positive", "logistic", "gradient_boosting"}
    _, y_val = windows.part("val")
    assert scores["always_positive"]["val"] == pytest.approx(metrics.f1(y_val, np.ones(len(y_val))))
    assert scores["logistic"]["val"] > 0.95  # the label is a threshold on the last input
    acc = bl.score_baselines(windows, metrics.accuracy)
    assert acc["majority"]["val"] == pytest.approx(np.mean(y_val == 1))


def test_multiclass_has_no_always_positive(tmp_path: Path) -> None:
    windows = stream(tmp_path, k=3).windows(3)
    predictions = bl.baseline_predictions(windows)
    assert set(predictions) == {"majority", "logistic", "gradient_boosting"}
    assert predictions["logistic"]["test"].shape == (len(windows.y_test), 3)
    assert predictions["gradient_boosting"]["test"].shape == (len(windows.y_test), 3)


def test_baselines_import_neither_search_nor_tensorflow() -> None:
    code = (
        "import sys, seqtune.models.baselines, seqtune.models;"
        "bad=[m for m in sys.modules if m.startswith(('seqtune.search','tensorflow','keras'))];"
        "print(bad)"
    )
    src = str(Path(__file__).resolve().parents[2] / "src")
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": src, "PATH": ""},
    )
    assert out.stdout.strip() == "[]"
