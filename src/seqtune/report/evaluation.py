"""The exported model on the test part, evaluated the way ``seqtune export`` does.

The study's data is loaded and checked against the launch's checksum, windows are built by
seqtune's own runner for the exported parameters, ``best.keras`` predicts the test windows
through the same predictor, and predictions are mapped back to original units by the
windows (from the true past values): the model's RMSE and MAE here are the numbers in
``best.yaml``'s ``result.test`` (for a model refitted on every row before the test part,
the refit's windows and scalers, as export built them). Two baselines are scored on the
same test rows: persistence (the value one row earlier) and, when ``data.period`` is set,
the seasonal naive forecast (the value one period earlier). Over a horizon of H > 1 steps
every array is (windows, H): persistence repeats the last value before each origin, the
seasonal naive forecast the last observed season (:mod:`seqtune.models.baselines`), and
each step's errors are kept too, beside the exported trial's own validation errors per step
(its ``val_rmse_h1`` … metrics).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seqtune.errors import UserError
from seqtune.objectives import metrics as m
from seqtune.report.missing import Unavailable
from seqtune.report.source import StudyData

EXPORT_SPEC, EXPORT_MODEL = "best.yaml", "best.keras"


@dataclass
class ForecastEval:
    trial: int | None
    rows: np.ndarray  # 0-based CSV rows of the test targets
    actual: np.ndarray
    predictions: dict[str, np.ndarray]  # "model", "persistence", "seasonal naive"
    metrics: dict[str, dict[str, float]]  # name → {"rmse", "mae"}
    exported: dict[str, Any] = field(default_factory=dict)  # best.yaml's result.test
    period: int | None = None
    horizon: int = 1
    #: H > 1: name → {"rmse", "mae"} → one value per step h = 1..H, on the test part
    by_step: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    #: H > 1: the exported trial's validation errors per step ({"rmse", "mae"}), when kept
    val_by_step: dict[str, list[float]] = field(default_factory=dict)
    #: the model's prediction intervals on the test part, level name → (lower, upper), each
    #: the shape of the model's predictions (seqtune.exported.intervals); empty for an
    #: export before seqtune 0.4.0
    bands: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    #: what each level's interval covered of the test part (result.intervals.coverage)
    covered: dict[str, float] = field(default_factory=dict)
    #: every table row's time (``data.time``: datetime64 or int), None without a time index
    time_values: np.ndarray | None = None
    #: best.yaml's ``result.baselines``: {name: {"val", "test", ...}} in the objective
    baselines: dict[str, Any] = field(default_factory=dict)
    #: the combination the model's forecast is (``0.62 × network + 0.38 × AutoETS ...``),
    #: None for the network alone (seqtune.exported.combination)
    combination: str | None = None


@dataclass
class ClassifyEval:
    trial: int | None
    classes: list[str]
    confusion: np.ndarray  # rows true, columns predicted
    #: one (label, recall, precision, average precision) per curve: class 1 when binary,
    #: each class one-vs-rest otherwise
    pr_curves: list[tuple[str, np.ndarray, np.ndarray, float]]
    metrics: dict[str, float]
    exported: dict[str, Any] = field(default_factory=dict)


def export_paths(data: StudyData) -> tuple[Path, Path]:
    return data.path / EXPORT_SPEC, data.path / EXPORT_MODEL


def evaluate_export(data: StudyData) -> ForecastEval | ClassifyEval:
    """Raises :class:`Unavailable` (the sentence saying why) when there is no export beside
    the study, or its model or data cannot be read."""
    best_yaml, best_keras = export_paths(data)
    if not best_yaml.is_file():
        raise Unavailable(
            f"No export yet: run `seqtune export {data.path}` to add the test-set evaluation "
            "of the best model."
        )
    if not best_keras.is_file():
        raise Unavailable(f"{best_keras.name} is missing beside {best_yaml.name}: export again.")
    from seqtune.exported.predict import check_export_files, model_windows
    from seqtune.spec import Spec, fixed_values
    from seqtune.store.digest import check_digest
    from seqtune.study.lifecycle import locate_data, prepare

    try:
        exported = Spec.from_file(best_yaml)
        check_export_files(best_yaml, exported.result)
        values = fixed_values(exported)
        spec = locate_data(data.spec, data.meta, data.path)
        check_digest(spec.data.csv, data.meta.get("data_sha256"))
        _, runner = prepare(spec)
    except UserError as err:
        raise Unavailable(f"The test-set evaluation is left out: {err}.") from None
    result = exported.result or {}
    trial = result.get("trial")
    if "kind" in spec.space:  # best.yaml names the chosen kind in model.kind, not its space
        values = {"kind": exported.kind, **values}
    windows = model_windows(runner, values)  # the refit's, for a refit: as export read it
    model = _load(best_keras)

    y_pred = runner.predict(model, windows, "test")  # export's own mapping
    y_true = runner.task.truth(windows, "test")
    combined = None
    if runner.task.forecasts:  # the export's combined forecast, from its state
        y_pred, combined = _combined(best_yaml, exported, windows, y_pred)
    exported_test = dict(result.get("test") or {})
    if runner.task.forecasts:
        # the ridge baseline export compares with, on the same rows
        ridge = {"ridge": _ridge(windows)}
        ev = _forecast(windows, y_true, y_pred, trial, exported_test, windows.period, ridge)
        ev.val_by_step = _val_by_step(data, trial)
        ev.bands, ev.covered = _bands(best_yaml, exported, ev.predictions["model"], y_true)
        if runner.table.time is not None:
            ev.time_values = np.asarray(runner.table.time.values)
        found = result.get("baselines")
        ev.baselines = dict(found) if isinstance(found, dict) else {}
        ev.combination = combined
        return ev
    return _classify(windows, y_true, y_pred, trial, exported_test)


def _combined(
    best_yaml: Path, exported: Any, windows: Any, y_pred: np.ndarray
) -> tuple[np.ndarray, str | None]:
    """The export's forecast on the test part: the network's ``y_pred`` combined with the
    statistical members its state keeps (and the combination's text), else unchanged."""
    from seqtune.exported.combination import Combination, combined_forecast
    from seqtune.exported.predict import load_state

    state = load_state(best_yaml, exported)
    if state is None or state.combination is None:
        return y_pred, None
    combo = Combination.from_state(state.combination)
    return combined_forecast(combo, y_pred, windows, "test"), combo.describe()


def _bands(
    best_yaml: Path, exported: Any, prediction: np.ndarray, actual: np.ndarray
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], dict[str, float]]:
    """The default levels' intervals around the model's test predictions, from the
    validation errors the export kept, and what they covered; empty for an older export."""
    from seqtune.exported import intervals
    from seqtune.exported.predict import load_state

    try:
        state = load_state(best_yaml, exported)
    except UserError:
        return {}, {}
    if state is None or state.residuals is None:
        return {}, {}
    levels = intervals.calibrates(state.residuals, intervals.DEFAULT_LEVELS)
    found = intervals.bounds(prediction, state.residuals, levels, state.scale)
    bands = {
        intervals.level_name(a): (
            found[f"lower_{intervals.level_name(a)}"],
            found[f"upper_{intervals.level_name(a)}"],
        )
        for a in levels
    }
    return bands, intervals.coverage(actual, prediction, state.residuals, levels, state.scale)


def _ridge(windows: Any) -> np.ndarray | None:
    """The ridge baseline's test forecasts (fitted on ``windows``' training part, as
    export fits it), or None when it cannot be fitted."""
    from seqtune.models.baselines import baseline_predictions

    try:
        found = baseline_predictions(windows, ["test"]).get("ridge", {}).get("test")
    except (ValueError, ArithmeticError, np.linalg.LinAlgError):
        return None
    return None if found is None else np.asarray(found, np.float64)


def _val_by_step(data: StudyData, trial: Any) -> dict[str, list[float]]:
    """The exported trial's validation errors per step, as the search kept them (its
    ``val_rmse_h1`` … and ``val_mae_h1`` … metrics); empty when it kept none."""
    from seqtune.objectives import by_step_values

    record = next((r for r in data.records if r.number == trial), None)
    metrics = record.metrics if record is not None else {}
    found = {k: by_step_values(metrics, f"val_{k}") for k in ("rmse", "mae")}
    return {k: v for k, v in found.items() if len(v) > 1}


def _load(path: Path) -> Any:
    import keras

    try:
        return keras.models.load_model(path, compile=False)
    except Exception as exc:
        raise Unavailable(
            f"{path.name} cannot be read ({type(exc).__name__}): export again."
        ) from None


def _forecast(
    windows: Any,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    trial: int | None,
    exported: dict[str, Any],
    period: int | None,
    extra: dict[str, np.ndarray | None] | None = None,
) -> ForecastEval:
    rows = windows.target_rows("test")
    series = np.asarray(windows.target_values, np.float64)
    horizon = int(windows.horizon)
    predictions = {"model": np.asarray(y_pred, np.float64)}
    if horizon > 1:  # (windows, H): the baselines over the same horizon from each origin
        from seqtune.models import baselines

        if rows.min() >= 1:
            predictions["persistence"] = baselines.persistence(series, rows, horizon)
        if period and rows.min() >= period:
            predictions["seasonal naive"] = baselines.seasonal_naive(series, rows, period, horizon)
    else:
        if rows.min() >= 1:
            predictions["persistence"] = series[rows - 1]
        if period and rows.min() >= period:
            predictions["seasonal naive"] = series[rows - period]
    predictions.update({k: v for k, v in (extra or {}).items() if v is not None})
    scores = {
        name: {"rmse": m.rmse(y_true, p), "mae": m.mae(y_true, p)}
        for name, p in predictions.items()
    }
    by_step = (
        {
            name: {"rmse": m.rmse_by_step(y_true, p), "mae": m.mae_by_step(y_true, p)}
            for name, p in predictions.items()
        }
        if horizon > 1
        else {}
    )
    return ForecastEval(
        trial,
        rows,
        np.asarray(y_true, np.float64),
        predictions,
        scores,
        exported,
        period,
        horizon=horizon,
        by_step=by_step,
    )


def _classify(
    windows: Any, y_true: np.ndarray, proba: np.ndarray, trial: int | None, exported: dict[str, Any]
) -> ClassifyEval:
    classes = [str(c) for c in (windows.classes if windows.classes is not None else [0, 1])]
    y = np.asarray(y_true, np.int64)
    p = np.asarray(proba, np.float64)
    k = m.n_classes_of(y, p)
    cm = m.confusion(y, m.predicted_classes(p), k)
    if p.ndim == 2 and p.shape[1] > 1:
        curves = [(classes[c], *pr_curve((y == c).astype(np.float64), p[:, c])) for c in range(k)]
    else:
        curves = [
            (
                classes[1] if len(classes) > 1 else "1",
                *pr_curve((y == 1).astype(np.float64), p.ravel()),
            )
        ]
    scores = {
        "f1": m.f1(y, p),
        "precision": m.precision(y, p),
        "recall": m.recall(y, p),
        "accuracy": m.accuracy(y, p),
        "pr_auc": m.pr_auc(y, p),
    }
    return ClassifyEval(trial, classes, cm, curves, scores, exported)


def pr_curve(truth: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Recall and precision at every distinct score threshold (highest first), and the
    average precision (as ``seqtune.objectives.metrics.pr_auc`` computes it)."""
    positives = truth.sum()
    if positives == 0 or truth.size == 0:
        return np.zeros(1), np.ones(1), 0.0
    order = np.argsort(-score, kind="mergesort")
    s, t = score[order], truth[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tp = np.cumsum(t)[last]
    precision = tp / (last + 1)
    recall = tp / positives
    ap = float(np.sum((recall - np.r_[0.0, recall[:-1]]) * precision))
    return np.r_[0.0, recall], np.r_[1.0, precision], ap
