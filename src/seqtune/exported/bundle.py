"""What an export writes besides best.yaml and best.keras, and which files make it up.

- :func:`validation_forecasts`: the forecasts and actual values prediction intervals are
  calibrated on, from the trial the export chose (its folds' repeat-mean forecasts at the
  best epoch, or the holdout model on its validation part).
- :func:`forecast_state`: the :class:`~seqtune.exported.state.ForecastState` of the
  exported model (``best.state.json``).
- :func:`interval_summary`: ``result.intervals`` of best.yaml (the method, the half-widths
  per level and step, and what the intervals covered on the test part).
- :func:`export_files`: every file a copy of the export needs (best.yaml first), for
  moving it to another machine or logging it as an MLflow model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqtune.data import Windows
from seqtune.data.table import read_frame
from seqtune.exported import intervals
from seqtune.exported.state import ForecastState, column_kinds

#: How result.intervals names the method (see seqtune.exported.intervals).
METHOD = "split conformal on validation errors, per step"


def holdout_forecasts(runner: Any, model: Any, windows: Windows) -> tuple[np.ndarray, np.ndarray]:
    """``(actual, forecast)`` of ``model`` on the validation part of ``windows``, (n,
    horizon) each: the exported holdout model's calibration forecasts."""
    pred = np.asarray(runner.predict(model, windows, "val"), np.float64)
    true = np.asarray(windows.true_original("val"), np.float64)
    return true.reshape(len(true), -1), pred.reshape(len(pred), -1)


def validation_forecasts(runner: Any, outcome: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """``(actual, forecast)`` of a trial's ``outcome`` (a :class:`~seqtune.search.runner.
    Outcome`) on data it did not train on: its folds' own (kept by the runner at the best
    epoch), else its model's on its windows' validation part; None when it left neither."""
    if outcome.validation is not None:
        actual, forecast = (np.asarray(a, np.float64) for a in outcome.validation)
        return actual.reshape(len(actual), -1), forecast.reshape(len(forecast), -1)
    if outcome.model is None or outcome.windows is None:
        return None
    return holdout_forecasts(runner, outcome.model, outcome.windows)


def forecast_state(
    runner: Any,
    windows: Windows,
    validation: tuple[np.ndarray, np.ndarray] | None,
    calibrated_on: str,
) -> ForecastState:
    """The state of the model trained on ``windows`` (see :mod:`seqtune.exported.state`),
    its intervals' error scores made from ``validation`` (``(actual, forecast)``)."""
    table = runner.table
    time = None
    if table.time is not None:
        time = {"column": table.spec.time, "freq": table.time.freq, "step": table.time.step}
    columns = column_kinds(read_frame(table.spec.csv))
    scale = intervals.scale_for(str(windows.transform))
    errors = None
    if validation is not None:
        errors = intervals.as_steps(intervals.scores(*validation, scale))
    origin = first_time(table)
    return ForecastState.of(windows, columns, time, errors, calibrated_on, scale, origin)


def first_time(table: Any) -> str | int | None:
    """The time of ``table``'s first row (a date as ISO text, or an integer; None without
    ``data.time``): where a ``deseason`` framing counts positions in the period from."""
    if table.time is None:
        return None
    first = table.time.values[0]
    if table.time.freq is None:
        return int(first)
    return pd.Timestamp(first).isoformat()


def interval_summary(
    runner: Any, model: Any, windows: Windows, state: ForecastState
) -> dict[str, Any] | None:
    """``result.intervals``: the method, its error scale, where the errors come from and
    how many, each default level's half-width per step (in the scale's units: a log
    score's ``q`` means × exp(±q)), and the share of the test part each level covered."""
    if state.residuals is None or len(state.residuals) == 0:
        return None
    r = state.residuals
    levels = intervals.calibrates(r, intervals.DEFAULT_LEVELS)
    pred = np.asarray(runner.predict(model, windows, "test"), np.float64)
    true = np.asarray(windows.true_original("test"), np.float64)
    pred, true = pred.reshape(len(pred), -1), true.reshape(len(true), -1)
    return {
        "method": METHOD,
        "scale": state.scale,
        "calibrated_on": state.calibrated_on,
        "errors": len(r),
        "half_width": {
            intervals.level_name(a): [round(float(q), 6) for q in intervals.half_widths(r, a)]
            for a in levels
        },
        "coverage": {
            k: round(v, 4)
            for k, v in intervals.coverage(true, pred, r, levels, state.scale).items()
        },
    }


def export_files(spec_file: Path) -> list[Path]:
    """The files of the export whose spec is ``spec_file``: best.yaml, then every file its
    ``result.files`` lists (best.keras, predictions.csv, best.state.json). An export that
    lists none (before seqtune 0.3.3) gives best.yaml and its model.

    Examples
    --------
    >>> [p.name for p in export_files(Path("results/airline/best.yaml"))]  # doctest: +SKIP
    ['best.yaml', 'best.keras', 'predictions.csv', 'best.state.json']
    """
    import yaml

    spec_file = Path(spec_file)
    raw = yaml.safe_load(spec_file.read_text(encoding="utf-8")) or {}
    result = raw.get("result") if isinstance(raw, dict) else None
    result = result if isinstance(result, dict) else {}
    files = result.get("files")
    if isinstance(files, dict):
        names = [str(n) for n in files]
    else:
        names = [str(result.get("model") or spec_file.with_suffix(".keras").name)]
    return [spec_file, *(spec_file.parent / n for n in names)]
