"""Prediction intervals (split conformal) and the forecaster state file, unit by unit."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqtune.data.scalers import Scaler
from seqtune.data.windows import build_forecast
from seqtune.errors import UserError
from seqtune.exported import intervals
from seqtune.exported.state import ForecastState, column_kinds, state_file


def test_half_width_is_the_conformal_order_statistic_per_step() -> None:
    rng = np.random.default_rng(0)
    r = rng.normal(size=(99, 2)) * np.array([1.0, 3.0])
    q = intervals.half_widths(r, 80.0)
    k = math.ceil(100 * 0.8)  # (n + 1) * level
    assert q == pytest.approx([np.sort(np.abs(r[:, 0]))[k - 1], np.sort(np.abs(r[:, 1]))[k - 1]])
    assert q[1] > q[0]  # wider where the errors are


def test_a_level_too_high_for_the_errors_is_refused_naming_the_highest() -> None:
    with pytest.raises(UserError, match=r"--level: 95 %: .*9 validation error.*up to 90\.0 %"):
        intervals.half_widths(np.arange(9.0), 95.0)
    assert intervals.half_widths(np.arange(9.0), 90.0)[0] == 8.0


@pytest.mark.parametrize("bad", [0, 100, -5, 150, "x", float("nan")])
def test_levels_outside_0_100_are_refused(bad: object) -> None:
    with pytest.raises(UserError, match="--level"):
        intervals.check_levels([bad])  # type: ignore[list-item]


def test_levels_keep_order_and_drop_repeats() -> None:
    assert intervals.check_levels([95, 80, 95.0]) == (95.0, 80.0)
    assert intervals.columns([80.0, 97.5]) == ["lower_80", "upper_80", "lower_97.5", "upper_97.5"]


def test_coverage_on_exchangeable_errors_is_near_the_level() -> None:
    rng = np.random.default_rng(0)
    calib = rng.normal(size=(2000, 1))  # the quantile's own error: about 0.01 of coverage
    pred = np.zeros(20_000)
    actual = rng.normal(size=20_000)
    found = intervals.coverage(actual, pred, calib, [80.0, 95.0])
    assert found["80"] == pytest.approx(0.80, abs=0.03)
    assert found["95"] == pytest.approx(0.95, abs=0.02)


def test_bounds_keep_the_prediction_shape_over_a_horizon() -> None:
    pred = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    r = np.array([[1.0, 2.0, 3.0]] * 10)
    b = intervals.bounds(pred, r, [50.0])
    assert b["lower_50"].shape == pred.shape
    assert b["upper_50"] - pred == pytest.approx(np.array([[1.0, 2.0, 3.0]] * 2))


def _windows() -> object:
    y = 100 + np.arange(60.0) + 10 * np.sin(np.arange(60) / 12 * 2 * np.pi)
    values = np.column_stack([y, np.cos(np.arange(60.0))])
    return build_forecast(
        values,
        ("y", "x"),
        0,
        y,
        transform="log_diff",
        period=12,
        look_back=5,
        bounds={"train": (0, 40), "val": (40, 50), "test": (50, 60)},
        scaler="minmax",
        horizon=2,
    )


def test_the_state_round_trips_and_forecasts_as_the_windows_do(tmp_path: Path) -> None:
    windows = _windows()
    frame = pd.DataFrame({"Date": ["a"] * 3, "y": [1.0, 2.0, 3.0], "x": [1, 2, 3]})
    errors = np.arange(20.0).reshape(10, 2)
    state = ForecastState.of(
        windows,  # type: ignore[arg-type]
        column_kinds(frame),
        {"column": "Date", "freq": "MS", "step": None},
        errors,
        "folds",
    )
    path = state_file(tmp_path / "best.yaml")
    assert path.name == "best.state.json"
    path.write_text(state.to_json())
    back = ForecastState.read(path)
    assert back.columns == {"Date": "text", "y": "numeric", "x": "numeric"}
    assert back.residuals is not None and back.residuals.tolist() == errors.tolist()
    rebuilt = back.windows()
    y = 100 + np.arange(30.0)
    values = np.column_stack([y, np.cos(np.arange(30.0))])
    x_old = windows.input_after(values, y)  # type: ignore[attr-defined]
    x_new = rebuilt.input_after(values, y)
    assert np.array_equal(x_old, x_new)
    out = np.array([[0.3, 0.6]])
    assert np.array_equal(
        windows.forecast_after(out, y),  # type: ignore[attr-defined]
        rebuilt.forecast_after(out, y),
    )


def test_a_damaged_or_foreign_state_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "best.state.json"
    for text in ("{", json.dumps({"format": 99}), json.dumps([1, 2])):
        path.write_text(text)
        with pytest.raises(UserError, match="run `seqtune export` again"):
            ForecastState.read(path)


def test_recent_rows_must_have_the_model_data_columns_and_frequency(tmp_path: Path) -> None:
    scaler = Scaler("none", np.zeros(1), np.ones(1))
    state = ForecastState(
        look_back=3,
        transform="none",
        period=None,
        horizon=1,
        target_col=0,
        input_names=("y",),
        feature_scaler=scaler,
        target_scaler=scaler,
        columns={"Date": "text", "y": "numeric"},
        time={"column": "Date", "freq": "MS", "step": None},
    )
    where = tmp_path / "recent.csv"
    with pytest.raises(UserError, match="column 'y' is missing"):
        state.check_columns(pd.DataFrame({"Date": ["x"]}), where)
    with pytest.raises(UserError, match="column 'z' was not in the model's data"):
        state.check_columns(pd.DataFrame({"Date": ["x"], "y": [1.0], "z": [1]}), where)
    with pytest.raises(UserError, match="column 'y' is text here but numeric"):
        state.check_columns(pd.DataFrame({"Date": ["x"], "y": ["a"]}), where)
    with pytest.raises(UserError, match="frequency D, the model's data frequency MS"):
        state.check_frequency("D", None, where)
    state.check_frequency("MS", None, where)


def test_log_scale_intervals_are_multiplicative_and_follow_the_level() -> None:
    actual = np.array([110.0, 90.0, 105.0, 95.0])
    forecast = np.array([100.0, 100.0, 100.0, 100.0])
    s = intervals.scores(actual, forecast, "log")
    assert s[:, 0] == pytest.approx(np.log(actual / forecast))
    b = intervals.bounds(np.array([1000.0]), s, [50.0], "log")
    q = intervals.half_widths(s, 50.0)[0]
    assert b["upper_50"][0] == pytest.approx(1000.0 * np.exp(q))
    assert b["lower_50"][0] == pytest.approx(1000.0 * np.exp(-q))
    assert intervals.scale_for("log_diff") == "log" and intervals.scale_for("diff") == "absolute"
    assert intervals.calibrates(s, [50.0, 90.0]) == (50.0,)
