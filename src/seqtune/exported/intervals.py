"""Prediction intervals: split-conformal, per horizon step, from validation errors.

An exported forecaster keeps the forecasts its configuration made on data it did not train
on, with the actual values: every rolling-origin fold's validation part (the repeats' mean
forecast at the trial's best epoch, as the search scored it) when the configuration was
chosen on folds or repeats, else the holdout model's own validation part. Each gives an
error score per step: ``actual − forecast`` (``absolute``), or, when the exported transform
takes logs (``log``, ``log_diff``, ``log_seasonal_diff``: the search found the series
multiplicative), ``log(actual) − log(forecast)`` (``log``). For a level of ``a`` %, ``q_h``
is the ``ceil((n + 1) a / 100)``-th smallest absolute score of step ``h`` over the ``n``
validation windows, and the interval is the forecast ± ``q_h`` (absolute) or the forecast
× exp(± ``q_h``) (log) — split conformal prediction: with exchangeable scores it covers a
new value with probability at least ``a`` %, whatever the model.

Why this one: it needs no distributional assumption and no extra training (the errors are
the ones the search already measured), it is exact in finite samples under
exchangeability, and it widens with the step ``h``, as errors do. The log score makes a
multiplicative series' intervals grow with its level: on the airline quick start the
validation folds (1953–1956) are lower than the test years (1957–1960), and absolute
errors calibrated there covered 65 % of the test part at 80 % and 85 % at 95 %; log scores
covered 81 % and 100 %. What it does not promise: time-series errors are not exchangeable —
a regime change after the validation months makes the intervals too narrow; the folds'
models trained on fewer rows than the exported refit. ``seqtune export`` prints and
records what they covered on the test part (``result.intervals.coverage``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from seqtune.errors import UserError

#: The levels written to predictions.csv and drawn in the report.
DEFAULT_LEVELS: tuple[float, ...] = (80.0, 95.0)
#: How an error is scored: ``actual − forecast``, or the difference of their logs.
SCALES = ("absolute", "log")


def scale_for(transform: str) -> str:
    """``log`` for a transform that takes logs (the target is positive and multiplicative),
    else ``absolute``.

    Examples
    --------
    >>> scale_for("log_seasonal_diff"), scale_for("seasonal_diff")
    ('log', 'absolute')
    """
    return "log" if "log" in transform else "absolute"


def scores(actual: np.ndarray, forecast: np.ndarray, scale: str) -> np.ndarray:
    """Error scores of ``forecast`` against ``actual`` (same shapes), (windows, horizon).

    Examples
    --------
    >>> scores(np.array([110.0]), np.array([100.0]), "absolute")
    array([[10.]])
    """
    a = np.asarray(actual, np.float64)
    f = np.asarray(forecast, np.float64)
    a, f = a.reshape(len(a), -1), f.reshape(len(f), -1)
    if scale == "log":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(a) - np.log(f)
    return a - f


def calibrates(residuals: np.ndarray | None, levels: Sequence[float]) -> tuple[float, ...]:
    """The ``levels`` that ``residuals`` (scores) have enough windows to calibrate."""
    if residuals is None:
        return ()
    n = len(as_steps(residuals))
    return tuple(a for a in levels if n > 0 and math.ceil((n + 1) * a / 100.0) <= n)


def check_levels(levels: Iterable[float], field: str = "--level") -> tuple[float, ...]:
    """The levels as floats, each strictly between 0 and 100 (percent), in the order given
    without repeats; UserError naming ``field`` and the value otherwise.

    Examples
    --------
    >>> check_levels([80, 95])
    (80.0, 95.0)
    """
    out: list[float] = []
    for level in levels:
        try:
            value = float(level)
        except (TypeError, ValueError):
            raise UserError(f"{level!r} is not a number (a level in percent)", field) from None
        if not 0.0 < value < 100.0 or not math.isfinite(value):
            raise UserError(
                f"{level!r} is not a level: give a percentage strictly between 0 and 100, "
                "e.g. 80 95",
                field,
            )
        if value not in out:
            out.append(value)
    return tuple(out)


def level_name(level: float) -> str:
    """``80`` for 80.0, ``97.5`` for 97.5: how a level is written in column names.

    Examples
    --------
    >>> level_name(80.0), level_name(97.5)
    ('80', '97.5')
    """
    return f"{level:g}"


def columns(levels: Sequence[float]) -> list[str]:
    """``lower_<level>, upper_<level>`` per level.

    Examples
    --------
    >>> columns([80.0])
    ['lower_80', 'upper_80']
    """
    return [f"{side}_{level_name(a)}" for a in levels for side in ("lower", "upper")]


def as_steps(residuals: np.ndarray) -> np.ndarray:
    """Errors as (windows, horizon), float64, non-finite rows dropped."""
    r = np.asarray(residuals, np.float64)
    r = r.reshape(len(r), -1)
    return r[np.isfinite(r).all(axis=1)]


def half_widths(residuals: np.ndarray, level: float) -> np.ndarray:
    """The conformal half-width ``q_h`` of every step (shape (horizon,)) at ``level`` %.

    UserError (``--level``) when there are too few validation errors for that level: with
    ``n`` errors the highest level that has a finite interval is ``100 n / (n + 1)`` %.

    Examples
    --------
    >>> half_widths(np.array([1.0, -2.0, 3.0, -4.0]), 60.0)
    array([3.])
    """
    r = np.abs(as_steps(residuals))
    n = r.shape[0]
    k = math.ceil((n + 1) * level / 100.0)
    if n == 0 or k > n:
        top = 100.0 * n / (n + 1)
        raise UserError(
            f"{level_name(level)} %: the export kept {n} validation error(s) per step, which "
            f"calibrate levels up to {top:.1f} % (more validation windows: more folds or "
            "a longer data.split.val)",
            "--level",
        )
    return np.sort(r, axis=0)[k - 1]


def bounds(
    prediction: np.ndarray,
    residuals: np.ndarray,
    levels: Sequence[float],
    scale: str = "absolute",
) -> dict[str, np.ndarray]:
    """``{lower_<a>: ..., upper_<a>: ...}`` around ``prediction`` of shape (n, horizon) (or
    (n,) for one step), each of the prediction's shape; ``residuals`` are error scores on
    ``scale`` (:func:`scores`).

    Examples
    --------
    >>> b = bounds(np.array([10.0, 20.0]), np.array([1.0, -1.0, 2.0, -2.0]), [50.0])
    >>> b["lower_50"], b["upper_50"]
    (array([ 8., 18.]), array([12., 22.]))
    """
    p = np.asarray(prediction, np.float64)
    steps = p.reshape(len(p), -1) if p.ndim > 0 else p.reshape(1, 1)
    out: dict[str, np.ndarray] = {}
    for a in levels:
        q = half_widths(residuals, a)
        if q.shape[0] != steps.shape[1]:
            raise ValueError(f"errors of {q.shape[0]} steps for a forecast of {steps.shape[1]}")
        name = level_name(a)
        if scale == "log":
            low, high = steps * np.exp(-q), steps * np.exp(q)
        else:
            low, high = steps - q, steps + q
        out[f"lower_{name}"] = low.reshape(p.shape)
        out[f"upper_{name}"] = high.reshape(p.shape)
    return out


def coverage(
    actual: np.ndarray,
    prediction: np.ndarray,
    residuals: np.ndarray,
    levels: Sequence[float],
    scale: str = "absolute",
) -> dict[str, float]:
    """The share of ``actual`` values (every window and step) inside each level's
    interval: ``{"80": 0.79, ...}``. Levels too high for the errors kept are left out.

    Examples
    --------
    >>> coverage(np.array([10.0, 30.0]), np.array([10.0, 20.0]), np.array([1.0, 2.0]), [50])
    {'50': 0.5}
    """
    y = np.asarray(actual, np.float64)
    out: dict[str, float] = {}
    for a in calibrates(residuals, levels):
        b = bounds(prediction, residuals, [a], scale)
        name = level_name(a)
        inside = (y >= b[f"lower_{name}"]) & (y <= b[f"upper_{name}"])
        out[name] = float(np.mean(inside)) if inside.size else float("nan")
    return out
