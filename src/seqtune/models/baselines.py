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
  sample weights, e.g. ``class_weight: balanced``, are used);
- ``gradient_boosting``: scikit-learn's histogram gradient boosting on the same flattened
  windows and sample weights (:func:`gradient_boosting`: at most :data:`GBM_MAX_ITER` trees,
  stopped early on the last training windows, never on the validation or test part).

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
on every training window, as before. The gradient-boosting baseline fits the same
sample, on one thread and for at most :data:`GBM_MAX_ITER` iterations: on the drone
stream 56 iterations, 24-205 s on this (shared, busy) machine, about 3-4 times the
logistic fit.

This module never imports ``seqtune.search`` nor TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sklearn.ensemble import HistGradientBoostingClassifier

    from seqtune.data import Windows

FORECAST = ("persistence", "seasonal_naive", "mean", "ridge")
CLASSIFY = ("majority", "always_positive", "logistic", "gradient_boosting")
#: Penalties the ridge chooses from by efficient leave-one-out (inputs are scaled).
RIDGE_ALPHAS = tuple(float(a) for a in np.logspace(-4, 2, 13))
#: The linear baselines are fitted on at most this many training windows (:func:`fit_sample`).
FIT_MAX_WINDOWS = 20_000
#: Windows flattened at a time when the linear baselines predict a part.
PREDICT_CHUNK = 8192
#: Boosting iterations (trees, one per class beyond two) the gradient-boosting baseline grows
#: at most; early stopping usually ends it sooner.
GBM_MAX_ITER = 100
#: Share of the sampled training windows (the last ones, in time order) the gradient-boosting
#: baseline holds out to stop early; none when that leaves fewer than :data:`GBM_MIN_STOP`.
GBM_STOP_FRACTION = 0.1
#: Fewest held-out training windows early stopping is worth (below it: all iterations).
GBM_MIN_STOP = 200
#: Iterations without improvement of the held-out loss before the boosting stops.
GBM_PATIENCE = 10
#: OpenMP threads the gradient-boosting baseline uses: one, so that it never competes with
#: the trials training beside it (measured on the drone stream with the machine busy: 24 s
#: on one thread, 116 s on two cores that other processes also used).
GBM_THREADS = 1


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
    return _class_probabilities(model, scale, x_parts, n_classes)


def _class_probabilities(
    model: Any,
    inputs: Callable[[np.ndarray], np.ndarray],
    x_parts: Iterable[np.ndarray],
    n_classes: int,
) -> list[np.ndarray]:
    """A fitted scikit-learn classifier's probabilities of each array of ``x_parts`` (its
    windows made inputs by ``inputs``), in the metrics' shape: P(class 1) for two classes,
    else one column per class; a class absent from training gets probability 0."""
    out = []
    for x in x_parts:
        proba = np.zeros((len(x), n_classes))
        if len(x):
            proba[:, model.classes_] = _in_chunks(lambda c: model.predict_proba(inputs(c)), x)
        out.append(proba[:, 1] if n_classes == 2 else proba)
    return out


def gradient_boosting(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_parts: Iterable[np.ndarray],
    n_classes: int,
    sample_weight: np.ndarray | None = None,
) -> list[np.ndarray]:
    """Histogram gradient boosting (scikit-learn's ``HistGradientBoostingClassifier``) on
    flattened windows; class probabilities of each array of ``x_parts`` in the metrics'
    shape. Classes absent from training get probability 0.

    Fitted on the windows :func:`fit_sample` picks (with their sample weights), as the
    logistic baseline. Trees need no scaling. At most :data:`GBM_MAX_ITER` iterations,
    255 bins per input, learning rate 0.1 and 31 leaves per tree (scikit-learn's defaults);
    when the sample is large enough, its last :data:`GBM_STOP_FRACTION` (in time order,
    after a gap of one window length so no held-out window shares a row with a fitted one)
    is held out and the boosting stops once the held-out log-loss has not improved for
    :data:`GBM_PATIENCE` iterations. Only training windows are ever held out: the study's
    validation and test parts are never read. One OpenMP thread (:data:`GBM_THREADS`);
    deterministic (no subsampling).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(300, 3, 2))
    >>> y = (x[:, -1, 0] * x[:, -1, 1] > 0).astype(int)  # not linearly separable
    >>> (proba,) = gradient_boosting(x[:250], y[:250], [x[250:]], 2)
    >>> proba.shape
    (50,)
    >>> bool(((proba > 0.5) == y[250:]).mean() > 0.8)
    True
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    pick = fit_sample(len(x_train))
    flat = _flat(np.asarray(x_train)[pick])
    y = np.asarray(y_train, np.int64)[pick]
    w = None if sample_weight is None else np.asarray(sample_weight, np.float64)[pick]
    parts = list(x_parts)
    present = np.unique(y)
    if present.size < 2:  # one class: nothing to learn, that class with probability 1
        return [_probabilities(np.full(len(x), present[0]), n_classes) for x in parts]
    fit, stop = _stop_split(len(y), int(np.asarray(x_train).shape[1]))
    early = stop.size >= GBM_MIN_STOP and np.array_equal(np.unique(y[fit]), present)
    model = HistGradientBoostingClassifier(
        max_iter=GBM_MAX_ITER,
        early_stopping=early,
        n_iter_no_change=GBM_PATIENCE,
        random_state=0,
    )
    with threadpool_limits(limits=GBM_THREADS, user_api="openmp"):
        _fit_boosting(model, flat, y, w, fit, stop if early else None)
        return _class_probabilities(model, _flat, parts, n_classes)


def _fit_boosting(
    model: HistGradientBoostingClassifier,
    flat: np.ndarray,
    y: np.ndarray,
    w: np.ndarray | None,
    fit: np.ndarray,
    stop: np.ndarray | None,
) -> None:
    """Fit on every sampled window (``stop`` None), or on ``fit`` stopping on ``stop``
    (scikit-learn before 1.6 takes no held-out set: it then holds out its own random
    :data:`GBM_STOP_FRACTION` of the training windows)."""
    import inspect

    if stop is not None and "X_val" not in inspect.signature(model.fit).parameters:
        model.set_params(validation_fraction=GBM_STOP_FRACTION)
        model.fit(flat, y, sample_weight=w)
    elif stop is not None:  # every class of the held-out windows is among the fitted ones
        model.fit(
            flat[fit],
            y[fit],
            sample_weight=None if w is None else w[fit],
            X_val=flat[stop],
            y_val=y[stop],
            sample_weight_val=None if w is None else w[stop],
        )
    else:
        model.fit(flat, y, sample_weight=w)


def _stop_split(n: int, gap: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the sampled training windows the boosting fits on and the last ones it
    stops on (:data:`GBM_STOP_FRACTION` of ``n``), with ``gap`` windows dropped between."""
    n_stop = int(n * GBM_STOP_FRACTION)
    if n_stop < GBM_MIN_STOP:
        return np.arange(n), np.zeros(0, np.int64)
    return np.arange(n - n_stop - gap), np.arange(n - n_stop, n)


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
    boosted = gradient_boosting(x_train, y_train, xs, k, windows.sample_weight_train)
    out["gradient_boosting"] = dict(zip(parts, boosted, strict=True))
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
