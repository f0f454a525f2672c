"""Multi-step horizons, the time index and calendar inputs: windows, targets and inversion
over H against plain loops, time parsing and frequency inference, predictions.csv rows."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from seqtune.data import DataSpec, Table, load_table
from seqtune.data.spec import parse_calendar
from seqtune.data.split import part_sizes
from seqtune.data.transforms import LOGS, TRANSFORMS, fit_season, forward, inverse, lost_rows
from seqtune.errors import UserError
from seqtune.exported.predict import check_same_columns, prediction_rows
from seqtune.objectives.registry import test_report as report_of
from seqtune.spec import Spec, check_spec_against_data
from seqtune.tasks import task_of

PARTS = ("train", "val", "test")


def table_of(tmp_path: Path, frame: pd.DataFrame, **data: Any) -> Table:
    frame.to_csv(tmp_path / "f.csv", index=False)
    return load_table(DataSpec.from_dict({"csv": "f.csv", "target": "y", **data}, tmp_path))


def monthly(n: int = 60, seed: int = 0, start: str = "2000-01") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    y = 100 + 2 * t + 10 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1, n)
    dates = pd.date_range(start, periods=n, freq="MS").strftime("%Y-%m")
    return pd.DataFrame({"Date": dates, "y": y})


# ---- windows and targets over H --------------------------------------------------------------


@pytest.mark.parametrize("transform", ["none", "diff", "log_seasonal_diff"])
@pytest.mark.parametrize("horizon", [1, 3, 7])
def test_windows_over_horizon_match_a_loop(tmp_path: Path, transform: str, horizon: int) -> None:
    table = table_of(
        tmp_path, monthly(), time="Date", horizon=horizon, split={"val": 10, "test": 0.2}
    )
    look_back = 4
    w = table.windows(look_back, transform)
    d = lost_rows(transform, 12)
    z_scaled = w.target_scaler.transform(w.z)
    matrix = table.feature_values().copy()
    matrix[:, 0] = w.z  # the target's own input column carries the transformed target
    scaled = w.feature_scaler.transform(matrix)
    for part in PARTS:
        start, stop = table.bounds[part]
        xs, ys, origins = [], [], []
        for t in range(len(table.y)):  # the plain reference: every origin, checked one by one
            if t - look_back >= d and start <= t and t + horizon - 1 < stop:
                xs.append(scaled[t - look_back : t])
                ys.append([z_scaled[t + h] for h in range(horizon)])
                origins.append(t)
        x, y = w.part(part)
        np.testing.assert_array_equal(w.target_rows(part), origins)
        np.testing.assert_allclose(x, np.array(xs, np.float32), rtol=1e-6)
        want = np.array(ys, np.float32)
        np.testing.assert_allclose(y, want[:, 0] if horizon == 1 else want, rtol=1e-6)
        # the targets never leave their part
        assert (w.target_rows(part) + horizon - 1 < stop).all()


def test_horizon_one_windows_keep_their_shape(tmp_path: Path) -> None:
    w = table_of(tmp_path, monthly()).windows(3, "diff")
    assert w.horizon == 1 and w.y_val.ndim == 1 and w.true_original("val").ndim == 1


def _inverse_loop(
    name: str, z: np.ndarray, y: np.ndarray, rows: np.ndarray, period: int, season: Any = None
):
    lag = lost_rows(name, period)
    out = np.empty_like(z)
    for k, t in enumerate(rows):
        level = list(np.log(y[:t]) if name in LOGS else y[:t])  # only values before the origin
        s = [season.at(np.array([r]))[0] if season else 0.0 for r in range(t + z.shape[1])]
        level = [v - s[r] for r, v in enumerate(level)]  # deseasonalised (deseason only)
        for h in range(z.shape[1]):
            level.append(z[k, h] + (level[t + h - lag] if lag else 0.0))
        back = [v + s[r] for r, v in enumerate(level)]
        out[k] = np.exp(back[t:]) if name in LOGS else back[t:]
    return out


@pytest.mark.parametrize("name", TRANSFORMS)
def test_inverse_over_horizon_matches_a_loop(name: str) -> None:
    rng = np.random.default_rng(1)
    y = 50 + np.cumsum(rng.uniform(0.5, 2, 40))
    period, horizon = 4, 10  # the horizon runs past two periods
    rows = np.array([8, 15, 30, 40])  # 40 = len(y): a forecast past the data
    z = rng.normal(0, 0.1, (rows.size, horizon))
    season = fit_season(name, y, period, 20)  # None but for a deseason framing
    np.testing.assert_allclose(
        inverse(name, z, y, rows, period, season),
        _inverse_loop(name, z, y, rows, period, season),
        rtol=1e-12,
    )
    # the true z inverts to the true values exactly
    zt = forward(name, y, period, season)
    r = rows[:-1]
    idx = r[:, None] + np.arange(horizon)
    idx = np.minimum(idx, len(y) - 1)
    ok = r + horizon <= len(y)
    np.testing.assert_allclose(inverse(name, zt[idx][ok], y, r[ok], period, season), y[idx][ok])


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_to_original_over_horizon_gives_back_the_truth(tmp_path: Path, transform: str) -> None:
    table = table_of(tmp_path, monthly(72), time="Date", horizon=14, split={"val": 16, "test": 14})
    w = table.windows(3, transform)
    for part in ("val", "test"):
        got = w.to_original(part, w.target_scaled(part))
        assert got.shape == (w.target_rows(part).size, 14)
        np.testing.assert_allclose(got, w.true_original(part), rtol=1e-10)


def test_report_keeps_the_error_of_each_step() -> None:
    truth = np.array([[1.0, 2.0], [3.0, 4.0]])
    pred = np.array([[1.0, 4.0], [3.0, 2.0]])
    out = report_of("forecast", truth, pred)
    assert out["mae"] == 1.0 and out["mae_by_step"] == [0.0, 2.0]
    assert out["rmse_by_step"] == [0.0, 2.0] and out["rmse"] == pytest.approx(np.sqrt(2))
    assert "mae_by_step" not in report_of("forecast", truth[:, 0], pred[:, 0])


def test_horizon_longer_than_validation_is_refused(tmp_path: Path) -> None:
    table = table_of(tmp_path, monthly(), horizon=11, split={"val": 10, "test": 12})
    with pytest.raises(UserError, match="data.horizon: 11 steps are longer than the validation"):
        table.check_capacity(3)


def test_split_takes_numbers_of_rows() -> None:
    assert part_sizes(144, 12, 12) == (120, 12, 12)
    assert part_sizes(144, 0.13, 12) == (113, 19, 12)
    assert part_sizes(144, 0.13, 0.33) == (77, 19, 48)


# ---- the time index -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("freq", "period", "shown"),
    [
        ("MS", 12, "%Y-%m"),
        ("QS", 4, "%Y-%m-%d"),
        ("W-SUN", 52, "%Y-%m-%d"),
        ("D", 7, "%Y-%m-%d"),
        ("h", 24, "%Y-%m-%d %H:%M:%S"),
        ("YS", None, "%Y-%m-%d"),
    ],
)
def test_frequency_gives_the_period(tmp_path: Path, freq: str, period: int | None, shown: str):
    dates = pd.date_range("2001-01-01", periods=40, freq=freq)
    frame = pd.DataFrame({"t": dates.strftime(shown), "y": np.arange(40.0) + 1})
    table = table_of(tmp_path, frame, time="t")
    assert table.period == period
    assert table.labels_after(2) == list(
        pd.date_range(dates[-1], periods=3, freq=freq)[1:].strftime(shown)
    )
    assert table.feature_values().shape == (40, 1)  # the time column is no input
    assert table_of(tmp_path, frame, time="t", period=3).period == 3  # the user's wins


def test_integer_time_and_no_time(tmp_path: Path) -> None:
    frame = pd.DataFrame({"t": np.arange(10, 70, 2), "y": np.arange(30.0) + 1})
    table = table_of(tmp_path, frame, time="t")
    assert table.period is None and table.labels_after(2) == [70, 72]
    assert table.labels_of(np.array([0, 1])) == [10, 12]
    plain = table_of(tmp_path, frame)
    assert plain.labels_after(2) == [30, 31] and plain.labels_of(np.array([4])) == [4]


@pytest.mark.parametrize(
    ("dates", "needle"),
    [
        (["2000-01", "2000-03", "2000-02", "2000-04"], "not sorted: row 3 (2000-02-01"),
        (["2000-01", "2000-02", "2000-02", "2000-03"], "duplicate: row 3"),
        (["2000-01", "2000-02", "2000-03", "2000-05"], "gap: row 4 is 2000-05-01"),
        (["2000-01", "2000-02", "soon", "2000-04"], "'soon' at row 3"),
        (["2000-01-01", "2000-01-05", "2000-02-20", "2000-07-01"], "cannot infer a regular"),
    ],
)
def test_bad_time_index_is_refused_in_one_line(tmp_path: Path, dates: list[str], needle: str):
    frame = pd.DataFrame({"t": dates, "y": [1.0, 2.0, 3.0, 4.0]})
    with pytest.raises(UserError, match="data.time") as err:
        table_of(tmp_path, frame, time="t")
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_missing_drop_leaves_a_gap_that_is_refused(tmp_path: Path) -> None:
    frame = monthly(24)
    frame.loc[5, "y"] = np.nan
    with pytest.raises(UserError, match="drop removed rows"):
        table_of(tmp_path, frame, time="Date", missing="drop")
    assert table_of(tmp_path, frame, time="Date", missing="ffill").n_rows == 24


def test_seasonal_transform_without_a_period_names_the_frequency(tmp_path: Path) -> None:
    frame = pd.DataFrame({"t": np.arange(40), "y": np.arange(40.0) + 1})
    table = table_of(tmp_path, frame, time="t")
    with pytest.raises(UserError, match="integer step 1.*set data.period"):
        table.check_transform("seasonal_diff")


def test_calendar_columns(tmp_path: Path) -> None:
    table = table_of(tmp_path, monthly(24), time="Date", calendar=["month"])
    assert table.input_names == ("y", "month_sin", "month_cos")
    cal = table.feature_values()[:, 1:]
    np.testing.assert_allclose(cal[0], [0.0, 1.0], atol=1e-12)  # January
    np.testing.assert_allclose(cal[3], [1.0, 0.0], atol=1e-12)  # April
    np.testing.assert_allclose(cal[12], cal[0])
    assert table.windows(2).n_features == 3
    with pytest.raises(UserError, match="day_of_week' needs an index of one row a day or finer"):
        table_of(tmp_path, monthly(24), time="Date", calendar=["day_of_week"])


def test_a_searched_calendar_gives_its_own_windows(tmp_path: Path) -> None:
    table = table_of(tmp_path, monthly(60), time="Date", horizon=3, split={"val": 12, "test": 12})
    plain = table.windows(4, "diff")
    month = table.windows(4, "diff", calendar=("month",))
    assert (plain.n_features, month.n_features) == (1, 3)
    assert month.feature_names == ("y", "month_sin", "month_cos")
    np.testing.assert_array_equal(month.x_val[..., 0], plain.x_val[..., 0])  # same series
    np.testing.assert_array_equal(month.y_val, plain.y_val)  # same targets
    assert month.x_val[..., 1:].std() > 0  # the month inputs vary along the window
    # cached per calendar: none given is data.calendar's (none here), () the same
    assert table.windows(4, "diff", calendar=()) is plain
    assert table.windows(4, "diff", calendar=("month",)) is month
    # the trial's values choose it through the task; without the key data.calendar does
    forecast = task_of("forecast")
    assert forecast.windows(table, {"look_back": 4, "transform": "diff"}, 0) is plain
    chosen = {"look_back": 4, "transform": "diff", "calendar": "month"}
    assert forecast.windows(table, chosen, 0) is month
    assert forecast.windows(table, {**chosen, "calendar": "none"}, 0) is plain
    assert table.refit_windows(4, "diff", calendar=("month",)).n_features == 3
    fixed = table_of(tmp_path, monthly(60), time="Date", calendar=["month"])
    assert fixed.windows(4).n_features == 3 and fixed.windows(4, calendar=()).n_features == 1


@pytest.mark.parametrize(
    ("value", "items"),
    [("none", ()), ("month", ("month",)), ("day_of_week+hour", ("day_of_week", "hour"))],
)
def test_calendar_values_parse(value: str, items: tuple[str, ...]) -> None:
    assert parse_calendar(value) == items


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("Month", "'Month' is not a calendar item (did you mean 'month'?)"),
        ("month+month", "lists 'month' twice"),
        ("month+", "'' is not a calendar item"),
        ("", "is not a calendar"),
    ],
)
def test_bad_calendar_values_are_one_line(value: str, needle: str) -> None:
    with pytest.raises(UserError, match="space.calendar") as err:
        parse_calendar(value)
    assert needle in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("data", "space", "needle"),
    [
        ({}, {"choice": ["none", "month"]}, "set data.time"),
        ({"time": "Date"}, {"choice": ["none", "moon"]}, "'moon' is not a calendar item"),
        ({"time": "Date"}, {"int": [0, 1]}, "expected a calendar name"),
        ({"time": "Date", "calendar": ["month"]}, "month", "not both"),
    ],
)
def test_a_calendar_in_the_space_is_validated_with_the_spec(
    data: dict[str, Any], space: Any, needle: str
) -> None:
    raw = {
        "study": "cal",
        "data": {"csv": "f.csv", "target": "y", "split": {"val": 12, "test": 12}, **data},
        "model": {"kind": "lstm"},
        "space": {"calendar": space},
        "objective": "val_rmse",
    }
    with pytest.raises(UserError, match="space.calendar") as err:
        Spec.from_dict(raw, Path("."))
    assert needle in str(err.value)


def test_a_calendar_the_index_cannot_give_is_refused_with_the_data(tmp_path: Path) -> None:
    monthly(60).rename(columns={"y": "Passengers"}).to_csv(tmp_path / "f.csv", index=False)
    raw = {
        "study": "cal",
        "data": {"csv": "f.csv", "target": "Passengers", "time": "Date"},
        "model": {"kind": "lstm"},
        "space": {"calendar": {"choice": ["none", "month", "month+day_of_week"]}},
        "objective": "val_rmse",
    }
    spec = Spec.from_dict(raw, tmp_path)
    with pytest.raises(UserError, match="space.calendar") as err:
        check_spec_against_data(spec, load_table(spec.data))
    assert "'day_of_week' needs an index of one row a day or finer" in str(err.value)
    spec = Spec.from_dict({**raw, "space": {"calendar": {"choice": ["none", "month"]}}}, tmp_path)
    check_spec_against_data(spec, load_table(spec.data))


@pytest.mark.parametrize(
    ("data", "field", "needle"),
    [
        ({"horizon": 0}, "data.horizon", "at least 1"),
        ({"horizon": 2.5}, "data.horizon", "whole number"),
        ({"horizon": 2, "task": "classify"}, "data.horizon", "only to task: forecast"),
        ({"time": "y"}, "data.time", "is the target"),
        ({"time": "t", "features": ["t", "y"]}, "data.features", "never a model input"),
        ({"calendar": ["month"]}, "data.calendar", "set data.time"),
        ({"time": "t", "calendar": ["moon"]}, "data.calendar", "expected one of"),
        ({"split": {"val": 0}}, "data.split.val", "between 0 and 1"),
    ],
)
def test_new_keys_are_validated(data: dict[str, Any], field: str, needle: str) -> None:
    with pytest.raises(UserError, match=field) as err:
        DataSpec.from_dict({"csv": "f.csv", "target": "y", **data}, Path("."))
    assert needle in str(err.value)


def test_new_keys_round_trip_and_stay_out_when_default() -> None:
    raw = {"csv": "f.csv", "target": "y", "time": "t", "horizon": 3, "calendar": ["month"]}
    spec = DataSpec.from_dict({**raw, "split": {"val": 12, "test": 0.2}}, Path("."))
    out = spec.to_dict()
    assert out["horizon"] == 3 and out["time"] == "t" and out["calendar"] == ["month"]
    assert out["split"] == {"val": 12, "test": 0.2}
    plain = DataSpec.from_dict({"csv": "f.csv", "target": "y"}, Path(".")).to_dict()
    assert not {"horizon", "time", "calendar"} & set(plain)


# ---- predictions.csv ------------------------------------------------------------------------


def test_prediction_rows(tmp_path: Path) -> None:
    table = table_of(tmp_path, monthly(48), time="Date", horizon=3, split={"val": 6, "test": 5})
    w = table.windows(2, "log_diff")

    def predict(model: Any, windows: Any, part: str) -> np.ndarray:
        return windows.true_original(part) + 0.5

    runner = SimpleNamespace(table=table, predict=predict)
    header, rows = prediction_rows(runner, None, w)
    assert header == ["time", "part", "origin", "h", "actual", "prediction"]
    assert len(rows) == (4 + 3) * 3  # (6 - 3 + 1) val and (5 - 3 + 1) test origins, 3 steps
    dates = list(monthly(48)["Date"])
    y = dict(zip(dates, table.y, strict=True))
    assert rows[0][:4] == [dates[37], "val", dates[36], 1]  # train holds rows 0..36
    for time, part, origin, h, actual, pred in rows:
        assert dates.index(time) - dates.index(origin) == h
        assert actual == y[time] and pred == actual + 0.5
        assert part == ("val" if dates.index(time) < 43 else "test")
    text = io.StringIO()
    csv.writer(text).writerows(rows)
    assert f"{dates[42]},val,{dates[39]},3" in text.getvalue()  # the last val target


def test_newer_csv_columns_and_dtypes_are_checked(tmp_path: Path) -> None:
    old = tmp_path / "old.csv"
    monthly(24).to_csv(old, index=False)
    new = tmp_path / "new.csv"
    monthly(30).rename(columns={"y": "Y"}).to_csv(new, index=False)
    with pytest.raises(UserError, match="column 'y' of old.csv is missing"):
        check_same_columns(old, new)
    frame = monthly(30)
    frame["y"] = "many"
    frame.to_csv(new, index=False)
    with pytest.raises(UserError, match="column 'y' is text here but numeric in old.csv"):
        check_same_columns(old, new)
    monthly(30).to_csv(new, index=False)
    check_same_columns(old, new)
