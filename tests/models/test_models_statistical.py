"""AutoETS, AutoTheta and AutoARIMA: fitted once on the training rows, then filtered with
those parameters fixed, each forecast reading only the rows before its origin."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import AIRLINE

from seqtune.errors import UserError
from seqtune.models import statistical
from seqtune.models.statistical import STATISTICAL, fit, time_limit

SEASON = np.array([1.0, 3.0, 2.0, 5.0, 4.0, 2.5])


def seasonal_series(n: int = 72) -> np.ndarray:
    """A pure seasonal series of period 6: nothing but the season."""
    return 10 + np.tile(SEASON, n // SEASON.size)


@pytest.fixture(autouse=True)
def limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(statistical.ENV, "3")  # the searches' cost bounded in the suite


@pytest.mark.parametrize("name", STATISTICAL)
def test_a_pure_season_is_forecast_near_perfectly(name: str) -> None:
    y = seasonal_series()
    fitted = fit(name, y[:48], period=6)
    rows = np.arange(48, 72)
    one = fitted.forecasts(y, rows, 1)
    assert one.shape == (24,)
    assert np.abs(one - y[48:]).max() < 0.05, (fitted.describe, one - y[48:])
    six = fitted.forecasts(y, rows[:-5], 6)
    assert six.shape == (19, 6)
    truth = y[rows[:-5, None] + np.arange(6)]
    assert np.abs(six - truth).max() < 0.05
    assert fitted.seconds > 0


@pytest.mark.parametrize("name", STATISTICAL)
def test_a_forecast_reads_only_the_rows_before_its_origin(name: str) -> None:
    """Fixed parameters: the forecasts from origin t are the same whatever follows t."""
    y = pd.read_csv(AIRLINE)["Passengers"].to_numpy(np.float64)
    fitted = fit(name, y[:96], period=12)
    rows = np.array([96, 110, 131])
    clean = fitted.forecasts(y, rows, 3)
    for t in rows:
        wild = y.copy()
        wild[t:] = 1e6
        assert np.allclose(fitted.forecasts(wild, np.array([t]), 3)[0], clean[rows == t][0])
    # the first step of a horizon's forecast is the one-step forecast
    assert np.allclose(fitted.forecasts(y, rows, 1), clean[:, 0])


@pytest.mark.parametrize("name", STATISTICAL)
def test_parameters_are_fitted_on_the_training_rows_only(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What follows the training rows changes no parameter: the forecasts before it and
    at its end match those of the same fit on a series whose later rows are wild."""
    monkeypatch.setattr(statistical, "ARIMA_MAX_ORDER", 1)  # a short search, whole
    y = pd.read_csv(AIRLINE)["Passengers"].to_numpy(np.float64)
    wild = y.copy()
    wild[96:] *= 3
    # no time limit reached: a search cut by the clock may choose another model
    a = fit(name, y[:96], period=12, seconds=300).forecasts(y, np.array([60, 96]), 2)
    b = fit(name, wild[:96], period=12, seconds=300).forecasts(wild, np.array([60, 96]), 2)
    assert np.allclose(a, b)


def test_theta_is_statsmodels_theta_at_the_end_of_training() -> None:
    from statsmodels.tsa.forecasting.theta import ThetaModel

    y = pd.read_csv(AIRLINE)["Passengers"].to_numpy(np.float64)
    expected = np.asarray(ThetaModel(y[:96], period=12).fit().forecast(5))
    got = fit("auto_theta", y[:96], period=12).forecasts(y, np.array([96]), 5)[0]
    assert np.allclose(got, expected)


@pytest.mark.parametrize("name", ["auto_ets", "auto_arima"])
def test_at_the_end_of_training_it_is_statsmodels_own_forecast(name: str) -> None:
    """Filtering the fitted parameters through a longer series gives, at the training
    end, the forecast statsmodels' fitted results make; later, the same model's
    predictions with the parameters applied to the whole series."""
    y = pd.read_csv(AIRLINE)["Passengers"].to_numpy(np.float64)
    fitted = fit(name, y[:96], period=12)
    res = fitted.extra["results"]
    assert np.allclose(fitted.forecasts(y, np.array([96]), 4)[0], np.asarray(res.forecast(4)))
    if name == "auto_arima":
        applied = res.apply(y)  # statsmodels' refit=False
        got = fitted.forecasts(y, np.arange(96, 144), 1)
        assert np.allclose(got, np.asarray(applied.fittedvalues)[96:])


def test_the_time_limit_keeps_the_best_so_far(monkeypatch: pytest.MonkeyPatch) -> None:
    y = pd.read_csv(AIRLINE)["Passengers"].to_numpy(np.float64)
    quick = fit("auto_arima", y[:96], period=12, seconds=0)
    assert quick.cut and quick.extra["tried"] == 1  # one candidate, then the limit
    assert np.isfinite(quick.forecasts(y, np.arange(96, 100))).all()


def test_the_limit_counts_the_fitting_threads_cpu_not_other_jobs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a loaded machine: 50 wall seconds pass while the search's thread gets 20 s of CPU
    clock = {"cpu": 120.0, "wall": 1000.0}
    monkeypatch.setattr(statistical.time, "thread_time", lambda: clock["cpu"])
    monkeypatch.setattr(statistical.time, "perf_counter", lambda: clock["wall"])
    budget = statistical.Budget(30.0, cpu=100.0, wall=950.0)
    assert not budget.spent()  # 20 CPU seconds of 30: not cut, whatever the wall clock
    clock["cpu"] = 130.0
    assert budget.spent()  # its own 30 CPU seconds
    clock["cpu"], clock["wall"] = 101.0, 950.0 + statistical.WALL_FACTOR * 30.0
    assert budget.spent()  # a machine so loaded that the wall clock caps it


def test_the_time_limit_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(statistical.ENV, "2.5")
    assert time_limit() == 2.5
    monkeypatch.delenv(statistical.ENV)
    assert time_limit() == statistical.TIME_LIMIT
    for bad in ("-1", "soon", "nan"):
        monkeypatch.setenv(statistical.ENV, bad)
        with pytest.raises(UserError, match=statistical.ENV):
            time_limit()


def test_a_series_with_negative_values_gets_additive_models() -> None:
    rng = np.random.default_rng(0)
    y = np.tile(SEASON - 3, 12) + rng.normal(0, 0.1, 72)
    for name in STATISTICAL:
        fitted = fit(name, y[:48], period=6)
        assert "M" not in fitted.describe.split("(")[-1] or name != "auto_ets"
        assert np.isfinite(fitted.forecasts(y, np.arange(48, 72), 2)).all()


def test_a_large_period_gets_no_seasonal_arima() -> None:
    t = np.arange(150)
    y = 50 + np.sin(2 * np.pi * t / 48) + 0.01 * t
    fitted = fit("auto_arima", y[:120], period=48)
    assert "[48]" not in fitted.describe
    assert np.isfinite(fitted.forecasts(y, np.arange(120, 150))).all()
