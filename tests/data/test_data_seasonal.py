"""The deseason framings: seasonal indices fitted on training rows, inverted exactly, kept
in the forecaster state, and placed in the period by the recent rows' time."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from seqtune.data import transforms
from seqtune.data.seasonal import Season, fit_indices, steps_between
from seqtune.data.windows import build_forecast
from seqtune.errors import UserError
from seqtune.exported.state import ForecastState, column_kinds
from tests.conftest import AIRLINE, cli_here, launched_and_exported, tiny_spec, write_spec


def test_classical_indices_recover_a_season_under_a_trend() -> None:
    season = np.array([5.0, -3.0, 1.0, -2.0, 0.5, -1.5])
    t = np.arange(60.0)
    found = fit_indices(2.0 + 0.3 * t + np.tile(season, 10), 6)
    assert found == pytest.approx(season - season.mean(), abs=1e-9)
    odd = np.array([2.0, -1.0, -1.0])
    assert fit_indices(0.1 * np.arange(30.0) + np.tile(odd, 10), 3) == pytest.approx(odd)
    with pytest.raises(ValueError, match="two periods"):
        fit_indices(np.arange(23.0), 12)


@pytest.mark.parametrize("name", transforms.DESEASON)
@pytest.mark.parametrize("horizon", [1, 4])
def test_forward_then_inverse_gives_the_values_back_on_random_data(name: str, horizon: int) -> None:
    rng = np.random.default_rng(3)
    y = rng.uniform(0.5, 50.0, 90)
    season = transforms.fit_season(name, y, 12, 40)
    assert season is not None and season.indices.shape == (12,)
    for phase in (0, 5):  # rows whose row 0 lies anywhere in the period
        s = season.shifted(phase)
        z = transforms.forward(name, y, 12, s)
        rows = np.arange(transforms.lost_rows(name, 12) + 1, y.size - horizon + 1)
        at = rows if horizon == 1 else rows[:, None] + np.arange(horizon)
        back = transforms.inverse(name, z[at], y, rows, 12, s)
        assert back == pytest.approx(y[at], rel=1e-12)


def test_the_indices_read_the_training_rows_only() -> None:
    rng = np.random.default_rng(0)
    y = 10 + rng.normal(size=80) + np.tile(np.arange(12.0), 7)[:80]
    later = y.copy()
    later[48:] *= 3.0  # rows after the training part
    kw = {
        "transform": "deseason_diff",
        "period": 12,
        "look_back": 3,
        "bounds": {"train": (0, 48), "val": (48, 60), "test": (60, 80)},
        "scaler": "minmax",
    }
    a = build_forecast(y[:, None], ("y",), 0, y, **kw)  # type: ignore[arg-type]
    b = build_forecast(later[:, None], ("y",), 0, later, **kw)  # type: ignore[arg-type]
    assert a.season is not None and b.season is not None
    assert np.array_equal(a.season.indices, b.season.indices)
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_train, b.y_train)
    # the model's own windows map back exactly: true z in, the true values out
    assert a.to_original("test", a.target_scaled("test")) == pytest.approx(y[a.rows["test"]])


def test_unknown_and_inapplicable_framings_are_refused_in_one_line() -> None:
    y, rows = np.array([1.0, -2.0, 3.0]), np.arange(1, 4)
    with pytest.raises(UserError, match="set data.period"):
        transforms.check("deseason", "forecast", y, None, "v", rows)
    with pytest.raises(UserError, match="needs a positive target, but 'v' is -2 at row 2"):
        transforms.check("log_deseason_diff", "forecast", y, 12, "v", rows)
    with pytest.raises(UserError, match="classify target takes only 'none'"):
        transforms.check("deseason", "classify", y, 12, "v", rows)
    transforms.check("deseason_diff", "forecast", y, 12, "v", rows)  # no log: any sign


def test_check_refuses_a_first_fold_shorter_than_two_seasons(tmp_path: Path) -> None:
    spec = tiny_spec(
        data={"split": {"val": 12, "test": 48, "folds": 6}},
        space={**tiny_spec()["space"], "transform": {"choice": ["diff", "deseason"]}},
    )
    done = cli_here("check", str(write_spec(tmp_path / "s.yaml", spec)))
    assert done.returncode == 0, done.stdout + done.stderr
    spec["data"]["split"]["folds"] = 7  # the first fold trains on 12 rows
    done = cli_here("check", str(write_spec(tmp_path / "s.yaml", spec)))
    assert done.returncode != 0
    assert "'deseason' estimates the season on the training rows and needs two full " in (
        done.stdout + done.stderr
    )
    assert "(24 rows); the first fold trains on 12" in done.stdout + done.stderr


def test_steps_between_dates_and_integers() -> None:
    assert steps_between("1949-01-01T00:00:00", "1960-12-01", "MS", None) == 143
    assert steps_between("1950-03-01", "1949-01-01", "MS", None) == -14
    assert steps_between("2024-01-01", "2024-01-15", "D", None) == 14
    assert steps_between(100, 130, None, 5) == 6
    assert Season(np.arange(12.0)).shifted(steps_between(0, -1, None, 1)).phase == 11


def _deseason_windows() -> object:
    y = 100 + np.arange(60.0) + 10 * np.sin(np.arange(60) / 12 * 2 * np.pi)
    return build_forecast(
        y[:, None],
        ("y",),
        0,
        y,
        transform="log_deseason_diff",
        period=12,
        look_back=5,
        bounds={"train": (0, 40), "val": (40, 50), "test": (50, 60)},
        scaler="minmax",
        horizon=2,
    )


def test_the_state_keeps_the_indices_and_old_states_still_load(tmp_path: Path) -> None:
    windows = _deseason_windows()
    frame = pd.DataFrame({"Date": ["1950-01"] * 3, "y": [1.0, 2.0, 3.0]})
    time = {"column": "Date", "freq": "MS", "step": None}
    state = ForecastState.of(
        windows,  # type: ignore[arg-type]
        column_kinds(frame),
        time,
        None,
        "validation",
        "log",
        "1950-01-01T00:00:00",
    )
    raw = json.loads(state.to_json())
    assert raw["season"]["origin"] == "1950-01-01T00:00:00" and len(raw["season"]["indices"]) == 12
    back = ForecastState.from_dict(raw)
    assert back.phase_of("1951-04-01") == 15
    y = 100 + np.arange(20.0, 50.0) + 10 * np.sin(np.arange(20, 50) / 12 * 2 * np.pi)
    # rows starting at table row 20: phase 20 gives what the model's own windows give
    rebuilt = back.windows(back.phase_of("1951-09-01"))
    out = np.array([[0.3, 0.6]])
    whole = 100 + np.arange(50.0) + 10 * np.sin(np.arange(50) / 12 * 2 * np.pi)
    assert rebuilt.forecast_after(out, y) == pytest.approx(
        windows.forecast_after(out, whole),  # type: ignore[attr-defined]
        rel=1e-12,
    )
    assert rebuilt.input_after(y[:, None], y) == pytest.approx(
        windows.input_after(whole[:, None], whole),  # type: ignore[attr-defined]
        abs=1e-6,
    )
    old = {k: v for k, v in raw.items() if k != "season"}  # a state of an earlier export
    assert ForecastState.from_dict(old).season is None
    for bad in ({"indices": [1.0] * 5, "origin": None}, {"indices": [1.0] * 12}, [1]):
        with pytest.raises(ValueError, match="season"):
            ForecastState.from_dict({**raw, "season": bad})


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_predict_from_recent_rows_gives_predictions_csv_forecasts(tmp_path: Path) -> None:
    space = {
        **tiny_spec()["space"],
        "transform": {"choice": ["log_deseason_diff"]},
        "look_back": {"int": [3, 3]},
    }
    spec = tiny_spec(
        study="deseason",
        data={"time": "Date", "horizon": 3, "split": {"val": 12, "test": 24}},
        space=space,
        search={"backend": "tpe", "trials": 1, "max_epochs": 2, "patience": 2},
    )
    study = launched_and_exported(tmp_path, spec)
    best = yaml.safe_load((study / "best.yaml").read_text())
    assert best["space"]["transform"] == "log_deseason_diff"
    state = json.loads((study / "best.state.json").read_text())
    assert state["season"]["origin"].startswith("1949-01-01")
    preds = [r for r in _rows(study / "predictions.csv") if r["part"] == "test"]
    airline = _rows(AIRLINE)
    for origin in ("1959-02", "1959-06"):  # recent rows starting at other months
        upto = next(i for i, r in enumerate(airline) if r["Date"] == origin)
        recent = tmp_path / f"recent-{origin}.csv"
        with recent.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["Date", "Passengers"])
            writer.writeheader()
            writer.writerows(airline[upto - 29 : upto + 1])  # 30 rows, phase (upto - 29) % 12
        out = tmp_path / f"forecast-{origin}.csv"
        done = cli_here("predict", str(study), "--csv", str(recent), "-o", str(out))
        assert done.returncode == 0, done.stderr
        got = [float(r["prediction"]) for r in _rows(out)]
        want = [float(r["prediction"]) for r in preds if r["origin"] == origin]
        assert len(want) == 3
        assert got == pytest.approx(want, rel=1e-5)


def test_an_export_without_state_places_newer_rows_in_the_period(tmp_path: Path) -> None:
    from seqtune.data import DataSpec, load_table
    from seqtune.exported.predict import placed

    raw = {"csv": str(AIRLINE), "target": "Passengers", "time": "Date"}
    table = load_table(DataSpec.from_dict({**raw, "split": {"val": 12, "test": 24}}, tmp_path))
    newer = tmp_path / "newer.csv"
    pd.read_csv(AIRLINE).iloc[29:].to_csv(newer, index=False)  # from 1951-06
    data = load_table(DataSpec.from_dict({**raw, "csv": str(newer)}, tmp_path))
    windows = table.windows(3, "log_deseason_diff")
    assert placed(windows, table, data).season.phase == 29 % 12  # type: ignore[union-attr]
    plain = table.windows(3, "log")
    assert placed(plain, table, data) is plain


def test_a_holdout_shorter_than_two_seasons_is_refused(tmp_path: Path) -> None:
    spec = tiny_spec(
        data={"split": {"val": 40, "test": 90}},  # 14 training rows
        space={**tiny_spec()["space"], "transform": {"choice": ["deseason_diff"]}},
    )
    done = cli_here("check", str(write_spec(tmp_path / "s.yaml", spec)))
    assert done.returncode != 0
    assert "needs two full seasons (24 rows); the training part has 14" in done.stderr
