"""Classical one-step-ahead references on the test part of a series, shared by the benchmark
scripts (``model_selection.py`` on airline, ``second_series.py`` on CO2). Not a benchmark
itself. Needs statsmodels (``pip install -e '.[bench]'``).

Every reference is fitted on the rows before the test part only; its parameters are then
fixed and each test value is forecast from the true values before it, exactly as seqtune's
forecast windows are: persistence (``y[t-1]``), seasonal naive (``y[t-period]``), seasonal
random walk (``y[t-1] + y[t-period] - y[t-period-1]``), Holt-Winters (additive trend,
additive or multiplicative season) and SARIMA(0,1,1)(0,1,1)period, the "airline model"
(on logs or on levels).
"""

from __future__ import annotations

import warnings

import numpy as np


def rmse(actual: np.ndarray, forecast: np.ndarray) -> float:
    d = np.asarray(actual, np.float64) - np.asarray(forecast, np.float64)
    return float(np.sqrt(np.mean(d * d)))


def mae(actual: np.ndarray, forecast: np.ndarray) -> float:
    d = np.asarray(actual, np.float64) - np.asarray(forecast, np.float64)
    return float(np.mean(np.abs(d)))


def naive_forecasts(y: np.ndarray, test: int, period: int) -> list[tuple[str, np.ndarray]]:
    """``(name, forecasts of the last `test` values)`` of the three naive references."""
    y = np.asarray(y, np.float64)
    t = np.arange(y.size - test, y.size)
    return [
        ("persistence", y[t - 1]),
        ("seasonal naive", y[t - period]),
        ("seasonal random walk", y[t - 1] + y[t - period] - y[t - period - 1]),
    ]


def holt_winters(y: np.ndarray, test: int, period: int, season: str) -> np.ndarray:
    """One-step-ahead Holt-Winters forecasts of the last ``test`` values (additive trend,
    ``season`` "add" or "mul"), parameters and initial states estimated on the rows before."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    y = np.asarray(y, np.float64)
    pre = y.size - test
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = ExponentialSmoothing(
            y[:pre],
            trend="add",
            seasonal=season,
            seasonal_periods=period,
            initialization_method="estimated",
        ).fit()
        p = fitted.params
        # the same parameters and initial states run over the whole series: its fitted
        # values past the pre-test rows are one-step-ahead forecasts from the true past
        full = ExponentialSmoothing(
            y,
            trend="add",
            seasonal=season,
            seasonal_periods=period,
            initialization_method="known",
            initial_level=p["initial_level"],
            initial_trend=p["initial_trend"],
            initial_seasonal=p["initial_seasons"],
        ).fit(
            smoothing_level=p["smoothing_level"],
            smoothing_trend=p["smoothing_trend"],
            smoothing_seasonal=p["smoothing_seasonal"],
            optimized=False,
        )
    return np.asarray(full.fittedvalues[pre:], np.float64)


def sarima(y: np.ndarray, test: int, period: int, logs: bool) -> np.ndarray:
    """One-step-ahead forecasts of the last ``test`` values by SARIMA(0,1,1)(0,1,1)period
    fitted on the rows before (on ``log(y)`` when ``logs``), then filtered over the test
    part with its parameters fixed."""
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    y = np.asarray(y, np.float64)
    pre = y.size - test
    z = np.log(y) if logs else y
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = SARIMAX(z[:pre], order=(0, 1, 1), seasonal_order=(0, 1, 1, period)).fit(disp=False)
        full = res.append(z[pre:])  # parameters fixed, filtered over the test part
        pred = np.asarray(full.predict(start=pre, end=y.size - 1), np.float64)
    return np.exp(pred) if logs else pred


def references(
    y: np.ndarray, test: int, period: int, *, sarima_on_logs: bool = True
) -> list[tuple[str, np.ndarray]]:
    """``(name, one-step-ahead forecasts of the last `test` values)`` of every reference."""
    rows = naive_forecasts(y, test, period)
    for season in ("add", "mul"):
        name = f"Holt-Winters (add. trend, {season}. season)"
        rows.append((name, holt_winters(y, test, period, season)))
    name = f"SARIMA(0,1,1)(0,1,1){period}" + (" on logs" if sarima_on_logs else "")
    rows.append((name, sarima(y, test, period, sarima_on_logs)))
    return rows
