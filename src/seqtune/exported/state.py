"""What a forecast needs besides the network: ``best.state.json`` beside best.yaml.

An exported forecaster is self-contained (seqtune 0.4.0 on): best.yaml (the fixed spec),
best.keras (the network, or the ensemble's mean, loadable by plain Keras) and this file,
which holds what the network's inputs and outputs are made with — the scalers fitted on the
rows the exported model trained on (every row before the test part for a refit), the target
transform, the window (look_back, horizon, period), the input columns (features, then the
calendar's sin/cos pairs), the data file's columns and their kinds, the time index's
frequency, and the validation errors prediction intervals are calibrated on
(:mod:`seqtune.exported.intervals`). ``predict`` needs these three files and at least the
last ``look_back`` (+ what the transform differences away) rows of recent data — not the
study's data file.

An export written before this file existed forecasts as before, from the study's data file
(its scalers refitted on its training rows, as the search fitted them).

The format is plain JSON, versioned by ``format``; a file of an unknown format or a damaged
one is refused in one line saying to export again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqtune.data.scalers import Scaler
from seqtune.data.seasonal import Season, steps_between
from seqtune.data.timeindex import frequency_text
from seqtune.data.windows import Windows
from seqtune.errors import UserError

#: The state file's name beside an export's spec: ``best.yaml`` → ``best.state.json``.
STATE_SUFFIX = ".state.json"
FORMAT = 1
#: The format of a state whose forecast combines the network with statistical models
#: (``combination``) or adds back seasonal indices (``season``): an earlier seqtune refuses
#: it rather than forecast without them.
COMBINED_FORMAT = 2


def state_file(spec_file: Path) -> Path:
    """The state file of the export whose spec is ``spec_file``.

    Examples
    --------
    >>> state_file(Path("results/airline/best.yaml")).name
    'best.state.json'
    """
    return Path(spec_file).with_suffix(STATE_SUFFIX)


def column_kind(column: pd.Series) -> str:
    """``bool``, ``numeric`` or ``text``: what a data file's column holds."""
    if pd.api.types.is_bool_dtype(column):
        return "bool"
    if pd.api.types.is_numeric_dtype(column):
        return "numeric"
    return "text"


def column_kinds(frame: pd.DataFrame) -> dict[str, str]:
    """Every column of ``frame`` with its :func:`column_kind`, in order."""
    return {str(name): column_kind(frame[name]) for name in frame.columns}


def _scaler_dict(scaler: Scaler) -> dict[str, Any]:
    return {
        "kind": scaler.kind,
        "offset": [float(v) for v in scaler.offset],
        "scale": [float(v) for v in scaler.scale],
    }


def _scaler_of(raw: Any, n: int, where: str) -> Scaler:
    if not isinstance(raw, dict) or set(raw) != {"kind", "offset", "scale"}:
        raise ValueError(f"{where}: expected kind, offset and scale")
    offset = np.asarray(raw["offset"], np.float64)
    scale = np.asarray(raw["scale"], np.float64)
    if offset.shape != (n,) or scale.shape != (n,) or not np.all(np.isfinite(scale)):
        raise ValueError(f"{where}: expected {n} finite values each")
    return Scaler(str(raw["kind"]), offset, scale)


@dataclass(frozen=True)
class ForecastState:
    """The inputs' and outputs' recipe of an exported forecaster.

    Attributes
    ----------
    look_back, horizon : int
        Rows a window reads; steps forecast at once.
    transform : str
        The target transform (``none``, ``diff``, ``log_diff`` ...), inverted exactly.
    period : int or None
        The season length the transform uses.
    target_col : int or None
        The target's column among the inputs (None: the target is not an input).
    input_names : tuple of str
        The network's input columns, in order.
    feature_scaler, target_scaler : Scaler
        Fitted on the rows the exported model trained on.
    columns : dict
        The data file's columns and their kinds: recent rows must have the same.
    time : dict or None
        ``{"column", "freq", "step"}`` of the time index (None without ``data.time``).
    residuals : ndarray or None
        Validation error scores on ``scale``, shape (windows, horizon): what the
        intervals are calibrated on (:mod:`seqtune.exported.intervals`).
    calibrated_on : str
        Where the errors come from (``folds`` or ``validation``).
    scale : str
        ``absolute`` (actual − forecast) or ``log`` (log actual − log forecast).
    combination : dict or None
        The statistical members, their weights and the rows they were fitted on, when the
        forecast combines them with the network (:mod:`seqtune.exported.combination`).
    season : ndarray or None
        A ``deseason`` framing's seasonal indices by position in the period (the model's
        first row at position 0), fitted on the rows the model trained on; None otherwise.
    season_origin : str, int or None
        The time of the model's first row (a date as ISO text, or an integer): recent
        rows' position in the period is counted from it (None without ``data.time``: the
        recent rows start at the same position as the model's data).
    """

    look_back: int
    transform: str
    period: int | None
    horizon: int
    target_col: int | None
    input_names: tuple[str, ...]
    feature_scaler: Scaler
    target_scaler: Scaler
    columns: dict[str, str]
    time: dict[str, Any] | None
    residuals: np.ndarray | None = None
    calibrated_on: str = ""
    scale: str = "absolute"
    combination: dict[str, Any] | None = None
    season: np.ndarray | None = None
    season_origin: str | int | None = None

    @classmethod
    def of(
        cls,
        windows: Windows,
        columns: dict[str, str],
        time: dict[str, Any] | None,
        residuals: np.ndarray | None,
        calibrated_on: str,
        scale: str = "absolute",
        origin: str | int | None = None,
    ) -> ForecastState:
        """The state of a model trained on ``windows`` (a forecast's); ``origin``: the time
        of the table's first row (kept with a ``deseason`` framing's indices)."""
        assert windows.feature_scaler is not None and windows.target_scaler is not None
        errors = None
        if residuals is not None:
            errors = np.asarray(residuals, np.float64).reshape(len(residuals), -1)
        return cls(
            look_back=int(windows.look_back),
            transform=str(windows.transform),
            period=None if windows.period is None else int(windows.period),
            horizon=int(windows.horizon),
            target_col=None if windows.target_col is None else int(windows.target_col),
            input_names=tuple(str(n) for n in windows.feature_names),
            feature_scaler=windows.feature_scaler,
            target_scaler=windows.target_scaler,
            columns=dict(columns),
            time=time,
            residuals=errors,
            calibrated_on=calibrated_on,
            scale=scale,
            season=None if windows.season is None else windows.season.indices,
            season_origin=None if windows.season is None else origin,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only (``combination`` with a combined forecast, ``season`` with a
        ``deseason`` framing; either makes the file format 2, which an older seqtune refuses
        instead of forecasting without it)."""
        newer = self.combination is not None or self.season is not None
        out = {
            "format": COMBINED_FORMAT if newer else FORMAT,
            "task": "forecast",
            "look_back": self.look_back,
            "transform": self.transform,
            "period": self.period,
            "horizon": self.horizon,
            "target_col": self.target_col,
            "input_names": list(self.input_names),
            "feature_scaler": _scaler_dict(self.feature_scaler),
            "target_scaler": _scaler_dict(self.target_scaler),
            "columns": self.columns,
            "time": self.time,
            "residuals": None
            if self.residuals is None
            else [[float(v) for v in row] for row in self.residuals],
            "calibrated_on": self.calibrated_on,
            "scale": self.scale,
        }
        if self.combination is not None:
            out["combination"] = self.combination
        if self.season is not None:
            out["season"] = {
                "indices": [float(v) for v in self.season],
                "origin": self.season_origin,
            }
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1) + "\n"

    @classmethod
    def from_dict(cls, raw: Any) -> ForecastState:
        """ValueError (saying what) for anything but a state this version wrote."""
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
        if raw.get("format") not in (FORMAT, COMBINED_FORMAT):
            raise ValueError(
                f"format {raw.get('format')!r}, this seqtune reads {FORMAT} and {COMBINED_FORMAT}"
            )
        combination = raw.get("combination")
        if combination is not None:
            from seqtune.exported.combination import Combination

            Combination.from_state(combination)  # checked here: refused in one line
        names = raw.get("input_names")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ValueError("input_names: expected a list of names")
        columns = raw.get("columns")
        if not isinstance(columns, dict):
            raise ValueError("columns: expected a mapping")
        residuals = raw.get("residuals")
        horizon = int(raw["horizon"])
        errors = None
        if residuals is not None:
            errors = np.asarray(residuals, np.float64)
            if errors.ndim != 2 or errors.shape[1] != horizon:
                raise ValueError(f"residuals: expected rows of {horizon} step(s)")
        time = raw.get("time")
        if time is not None and not isinstance(time, dict):
            raise ValueError("time: expected a mapping or null")
        period, target_col = raw.get("period"), raw.get("target_col")
        scale = raw.get("scale", "absolute")
        if scale not in ("absolute", "log"):
            raise ValueError(f"scale: {scale!r} is not absolute or log")
        season, origin = _season_of(raw.get("season"), period)
        return cls(
            look_back=int(raw["look_back"]),
            transform=str(raw["transform"]),
            period=None if period is None else int(period),
            horizon=horizon,
            target_col=None if target_col is None else int(target_col),
            input_names=tuple(names),
            feature_scaler=_scaler_of(raw.get("feature_scaler"), len(names), "feature_scaler"),
            target_scaler=_scaler_of(raw.get("target_scaler"), 1, "target_scaler"),
            columns={str(k): str(v) for k, v in columns.items()},
            time=time,
            residuals=errors,
            calibrated_on=str(raw.get("calibrated_on", "")),
            scale=str(scale),
            combination=combination,
            season=season,
            season_origin=origin,
        )

    @classmethod
    def read(cls, path: Path) -> ForecastState:
        """The state in ``path``; UserError in one line saying to export again."""
        try:
            return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UserError(
                f"cannot be read as a seqtune forecaster state ({exc}): run `seqtune export` again",
                str(path),
            ) from None

    def phase_of(self, first: object) -> int:
        """Steps from the model's first row to a recent rows' first row at time ``first``
        (None: no time index): where those rows start in a ``deseason`` framing's period."""
        if self.season is None or self.season_origin is None or first is None:
            return 0
        time = self.time or {}
        return steps_between(self.season_origin, first, time.get("freq"), time.get("step"))

    def windows(self, phase: int = 0) -> Windows:
        """Windows without rows that map recent rows to the network's input and its output
        back to original units (:meth:`Windows.input_after`, :meth:`Windows.forecast_after`);
        ``phase``: the recent rows' first row's steps from the model's first row
        (:meth:`phase_of`)."""
        f = len(self.input_names)
        x = np.zeros((0, self.look_back, f), np.float32)
        y = np.zeros((0,), np.float32)
        return Windows(
            task="forecast",
            look_back=self.look_back,
            transform=self.transform,
            n_features=f,
            x_train=x,
            y_train=y,
            x_val=x,
            y_val=y,
            x_test=x,
            y_test=y,
            feature_names=self.input_names,
            feature_scaler=self.feature_scaler,
            target_scaler=self.target_scaler,
            period=self.period,
            horizon=self.horizon,
            target_col=self.target_col,
            season=None if self.season is None else Season(self.season).shifted(phase),
        )

    def check_columns(self, frame: pd.DataFrame, path: Path) -> None:
        """UserError naming the first column of the recent rows ``frame`` (read from
        ``path``) that is missing, extra, or of another kind than the model's data had."""
        found = column_kinds(frame)
        for name in self.columns:
            if name not in found:
                raise UserError(
                    f"column '{name}' is missing (the model's data had the columns "
                    f"{', '.join(self.columns)})",
                    str(path),
                )
        for name in found:
            if name not in self.columns:
                raise UserError(
                    f"column '{name}' was not in the model's data (it had "
                    f"{', '.join(self.columns)})",
                    str(path),
                )
        for name, kind in self.columns.items():
            if found[name] != kind:
                raise UserError(
                    f"column '{name}' is {found[name]} here but {kind} in the model's data",
                    str(path),
                )

    def check_frequency(self, freq: str | None, step: int | None, path: Path) -> None:
        """UserError when recent rows' time index steps otherwise than the model's data."""
        if self.time is not None:
            want = (self.time.get("freq"), self.time.get("step"))
            refuse_other_frequency(want, (freq, step), path)


def _season_of(raw: Any, period: Any) -> tuple[np.ndarray | None, str | int | None]:
    """``(indices, origin)`` of a state's ``season`` (absent before the deseason framings)."""
    if raw is None:
        return None, None
    if not isinstance(raw, dict) or set(raw) != {"indices", "origin"}:
        raise ValueError("season: expected indices and origin")
    indices = np.asarray(raw["indices"], np.float64)
    if indices.shape != (period,) or not np.all(np.isfinite(indices)):
        raise ValueError(f"season: expected {period} finite indices")
    origin = raw["origin"]
    if origin is not None and (isinstance(origin, bool) or not isinstance(origin, str | int)):
        raise ValueError("season: origin is not a time")
    return indices, origin


def refuse_other_frequency(
    want: tuple[str | None, int | None], got: tuple[str | None, int | None], path: Path | str
) -> None:
    """UserError naming ``path`` when the rows' time index spacing ``got`` (frequency,
    integer step) is not the model's data's ``want``: the forecasts would be labelled with
    the wrong dates and the calendar inputs misread."""
    if tuple(want) == tuple(got):
        return
    raise UserError(
        f"its time index has {frequency_text(*got)}, the model's data {frequency_text(*want)}: "
        "forecast from rows of the model's frequency",
        str(path),
    )
