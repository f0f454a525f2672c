"""Baselines a tuned model must beat, on the same windows and in the same units as the study.

Forecast (predictions in the original units of the target, shape (n,) for horizon 1 and
(n, H) otherwise, exactly what :meth:`Windows.to_original` gives for a model):

- ``persistence``: the last value before the origin, for every step;
- ``seasonal_naive``: the value one ``period`` before each target step (when a period is
  known; steps beyond one period repeat the last observed season);
- ``mean``: the mean of the target over the training rows;
- ``ridge``: a ridge regression from the flattened look-back window (scaled, transformed:
  the model's own inputs) to the scaled transformed target, mapped back like a model's.

Classify (class probabilities, as the metrics in :mod:`seqtune.objectives.metrics` take them:
shape (n,) = P(class index 1) for two classes, (n, K) otherwise):

- ``majority``: the most frequent class of the training windows, with probability 1;
- ``always_positive``: class index 1 (two classes only);
- ``logistic``: a logistic regression on the flattened windows (the training windows'
  sample weights, e.g. ``class_weight: balanced``, are used).

Each function is numpy in, numpy out; :func:`baseline_predictions` runs every baseline that
applies on one :class:`~seqtune.data.Windows` (a fold's, or the refit view's for the test
part), and :func:`score_baselines` scores them with any metric function of the study.

Linear models come from scikit-learn (imported when first used): its solvers are exact and
tested (the ridge's leave-one-out choice of the penalty, a multinomial logistic regression with
sample weights), which a few lines of numpy would not be for the logistic case; keeping both
linear baselines on one library keeps their behaviour documented in one place.

Cost (issue 28): the linear baselines are fitted on at most :data:`FIT_MAX_WINDOWS`
training windows (:func:`fit_sample`: every window when there are no more, else that many
spread evenly over the training part, first and last included, the same for every run)
and predict :data:`PREDICT_CHUNK` windows at a time, so their memory is at most that many
flattened windows (float64) whatever the length of the series, and their time grows with
the rows only through prediction (linear). On the drone stream (look_back 19, 29
features) a fit on 20,000 windows is one L-BFGS run over 551 inputs: 10-30 s on this
machine, as at 22,000 rows; series of up to about 30,000 rows (every shipped example) fit
on every training window, as before.

This module never imports ``seqtune.search`` nor TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from seqtune.data import Windows

FORECAST = ("persistence", "seasonal_naive", "mean", "ridge")
CLASSIFY = ("majority", "always_positive", "logistic")
#: Penalties the ridge chooses from by efficient leave-one-out (inputs are scaled).
RIDGE_ALPHAS = tuple(float(a) for a in np.logspace(-4, 2, 13))
#: The linear baselines are fitted on at most this many training windows (:func:`fit_sample`).
FIT_MAX_WINDOWS = 20_000
#: Windows flattened at a time when the linear baselines predict a part.
PREDICT_CHUNK = 8192


# -- forecast: naive -------------------------------------------------------------------------


def _shape(values: np.ndarray, horizon: int) -> np.ndarray:
    return values[:, 0] if horizon == 1 else values


def persistence(y: np.ndarray, rows: np.ndarray, horizon: int = 1) -> np.ndarray:
    """``y[t - 1]`` for every step ``t .. t + H - 1`` of each window with first target row
    ``t`` in ``rows``."""
    y = np.asarray(y, np.float64)
    rows = np.asarray(rows, np.int64)
    last = y[rows - 1]
    return _shape(np.repeat(last[:, None], horizon, axis=1), horizon)


def seasonal_naive(y: np.ndarray, rows: np.ndarray, period: int, horizon: int = 1) -> np.ndarray:
    """Step ``h`` (0-based) of the window with first target row ``t``: the value of the last
    observed season at the same phase, ``y[t + h - period * (h // period + 1)]`` (never a
    row at or after ``t``)."""
    if period < 1:
        raise ValueError(f"period must be at least 1, got {period}")
    y = np.asarray(y, np.float64)
    rows = np.asarray(rows, np.int64)
    h = np.arange(horizon)
    source = rows[:, None] + h - period * (h // period + 1)
    if source.size and source.min() < 0:
        raise ValueError("seasonal naive needs a full period before the first target row")
    return _shape(y[source], horizon)


def mean_forecast(y_train: np.ndarray, n: int, horizon: int = 1) -> np.ndarray:
    """The mean of the training target ``y_train`` for each of ``n`` windows and H steps."""
    value = float(np.mean(np.asarray(y_train, np.float64)))
    return _shape(np.full((n, horizon), value), horizon)


# -- linear models on the windows ------------------------------------------------------------


def _flat(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return x.reshape(x.shape[0], -1)


def fit_sample(n: int, limit: int | None = None) -> np.ndarray:
    """Indices of the training windows a linear baseline is fitted on: all ``n`` when
    ``n <= limit``, else ``limit`` of them spread evenly from the first to the last
    (deterministic: the same windows on every run). ``limit`` None:
    :data:`FIT_MAX_WINDOWS`.

    Examples
    --------
    >>> fit_sample(5).tolist()
    [0, 1, 2, 3, 4]
    >>> fit_sample(10, limit=4).tolist()
    [0, 3, 6, 9]
    """
    limit = FIT_MAX_WINDOWS if limit is None else limit
    if n <= limit:
        return np.arange(n)
    return np.unique(np.round(np.linspace(0, n - 1, limit)).astype(np.int64))


def _in_chunks(predict: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> np.ndarray:
    """``predict`` on ``x`` :data:`PREDICT_CHUNK` windows at a time, concatenated."""
    parts = [predict(x[i : i + PREDICT_CHUNK]) for i in range(0, len(x), PREDICT_CHUNK)]
    return np.concatenate(parts) if len(parts) > 1 else parts[0]


def _standardise(x_train: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Flatten windows and standardise each input with the training windows' mean and sd,
    so that the penalty means the same whatever ``data.scaler`` is (constant inputs: sd 1)."""
    flat = _flat(x_train)
    mean = flat.mean(axis=0)
    sd = flat.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    return lambda x: (_flat(x) - mean) / sd


def ridge(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_parts: Iterable[np.ndarray],
    alpha: float | None = None,
) -> list[np.ndarray]:
    """Ridge regression from flattened windows (n, look_back, F), each input standardised on
    the training windows, to ``y_train`` ((n,) or (n, H)), with an intercept; predictions
    for each array of ``x_parts`` (same shape as ``y_train`` per row). ``alpha`` None:
    chosen among :data:`RIDGE_ALPHAS` by efficient leave-one-out on the training windows.
    Fitted on the windows :func:`fit_sample` picks."""
    from sklearn.linear_model import Ridge, RidgeCV

    pick = fit_sample(len(x_train))
    x_train = np.asarray(x_train)[pick] if pick.size < len(x_train) else x_train
    y = np.asarray(y_train, np.float64)[pick]
    scale = _standardise(x_train)
    model = Ridge(alpha=alpha) if alpha is not None else RidgeCV(alphas=RIDGE_ALPHAS)
    model.fit(scale(x_train), y)
    out = []
    for x in x_parts:
        if len(x) == 0:
            out.append(np.zeros((0, *y.shape[1:])))
        else:
            raw = _in_chunks(lambda chunk: model.predict(scale(chunk)), x)
            out.append(np.asarray(raw, np.float64).reshape(-1, *y.shape[1:]))
    return out


def _probabilities(index: np.ndarray, n_classes: int) -> np.ndarray:
    """One-hot probabilities of class indices, in the metrics' shape ((n,) for 2 classes)."""
    onehot = np.eye(n_classes)[np.asarray(index, np.int64)]
    return onehot[:, 1] if n_classes == 2 else onehot


def majority(y_train: np.ndarray, n: int, n_classes: int) -> np.ndarray:
    """The most frequent training class index (the smaller index on a tie), probability 1."""
    counts = np.bincount(np.asarray(y_train, np.int64), minlength=n_classes)
    return _probabilities(np.full(n, int(np.argmax(counts))), n_classes)


def always_positive(n: int) -> np.ndarray:
    """P(class index 1) = 1 for ``n`` windows (two classes)."""
    return np.ones(n)


def logistic(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_parts: Iterable[np.ndarray],
    n_classes: int,
    sample_weight: np.ndarray | None = None,
    c: float = 1.0,
) -> list[np.ndarray]:
    """L2 logistic regression (inverse penalty ``c``) on flattened windows, each input
    standardised on the training windows; class probabilities of each array of
    ``x_parts`` in the metrics' shape. Classes absent from training get probability 0.
    Fitted on the windows :func:`fit_sample` picks (with their sample weights)."""
    from sklearn.linear_model import LogisticRegression

    pick = fit_sample(len(x_train))
    if pick.size < len(x_train):
        x_train = np.asarray(x_train)[pick]
        sample_weight = None if sample_weight is None else np.asarray(sample_weight)[pick]
    y = np.asarray(y_train, np.int64)[pick]
    scale = _standardise(x_train)
    model = LogisticRegression(C=c, max_iter=2000)
    model.fit(scale(x_train), y, sample_weight=sample_weight)
    out = []
    for x in x_parts:
        proba = np.zeros((len(x), n_classes))
        if len(x):
            proba[:, model.classes_] = _in_chunks(lambda c: model.predict_proba(scale(c)), x)
        out.append(proba[:, 1] if n_classes == 2 else proba)
    return out


# -- on a study's windows --------------------------------------------------------------------


def _train_stop(windows: Windows) -> int:
    """Rows ``[0, stop)`` a forecast's training part covers (its last target included)."""
    rows = windows.target_rows("train")
    return int(rows[-1]) + windows.horizon if rows.size else 0


def baseline_predictions(
    windows: Windows, parts: Iterable[str] = ("val", "test"), *, alpha: float | None = None
) -> dict[str, dict[str, np.ndarray]]:
    """``{baseline: {part: predictions}}`` for every baseline that applies to ``windows``
    (seasonal naive needs ``windows.period``; always-positive two classes), in the units the
    study's metrics take. Parts without windows are left out. Fitted on ``windows``'
    training part only: pass a fold's windows for its validation part, the refit view's for
    the test part."""
    parts = [p for p in parts if len(windows.target_rows(p))]
    if windows.task == "forecast":
        return _forecast(windows, parts, alpha)
    return _classify(windows, parts)


def _forecast(
    windows: Windows, parts: list[str], alpha: float | None
) -> dict[str, dict[str, np.ndarray]]:
    assert windows.target_values is not None
    y, horizon, period = windows.target_values, windows.horizon, windows.period
    out: dict[str, dict[str, np.ndarray]] = {name: {} for name in FORECAST}
    if period is None:
        del out["seasonal_naive"]
    train_y = y[: _train_stop(windows)]
    x_train, _ = windows.part("train")
    xs = [windows.part(p)[0] for p in parts]
    fitted = ridge(x_train, windows.target_scaled("train"), xs, alpha)
    for part, raw in zip(parts, fitted, strict=True):
        rows = windows.target_rows(part)
        out["persistence"][part] = persistence(y, rows, horizon)
        if period is not None:
            out["seasonal_naive"][part] = seasonal_naive(y, rows, period, horizon)
        out["mean"][part] = mean_forecast(train_y, rows.size, horizon)
        out["ridge"][part] = windows.to_original(part, raw)
    return out


def _classify(windows: Windows, parts: list[str]) -> dict[str, dict[str, np.ndarray]]:
    k = windows.n_classes or 2
    x_train, y_train = windows.part("train")
    out: dict[str, dict[str, np.ndarray]] = {"majority": {}}
    if k == 2:
        out["always_positive"] = {}
    xs = [windows.part(p)[0] for p in parts]
    fitted = logistic(x_train, y_train, xs, k, windows.sample_weight_train)
    out["logistic"] = dict(zip(parts, fitted, strict=True))
    for part, x in zip(parts, xs, strict=True):
        out["majority"][part] = majority(y_train, len(x), k)
        if k == 2:
            out["always_positive"][part] = always_positive(len(x))
    return out


def score_baselines(
    windows: Windows,
    metric: Callable[[np.ndarray, np.ndarray], float],
    parts: Iterable[str] = ("val", "test"),
    *,
    alpha: float | None = None,
) -> dict[str, dict[str, float]]:
    """``{baseline: {part: metric(truth, predictions)}}`` (see :func:`baseline_predictions`)."""
    predictions = baseline_predictions(windows, parts, alpha=alpha)
    return {
        name: {part: float(metric(windows.truth(part), pred)) for part, pred in by_part.items()}
        for name, by_part in predictions.items()
    }
