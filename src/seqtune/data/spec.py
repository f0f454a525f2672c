"""``DataSpec``: the validated ``data:`` section of a spec.

Only the spec's own values are checked here (keys, types, ranges, combinations). Whatever
needs the CSV (columns, values) is checked by :func:`seqtune.data.table.load_table`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqtune.errors import FAILED, Gather, UserError, check_keys, suggest_name

TASKS = ("forecast", "classify")
SPLIT_METHODS = ("chronological", "stratified")
SCALERS = ("minmax", "standard", "none")
LABEL_AT = ("next", "last")
CLASS_WEIGHTS = ("none", "balanced")
MISSING = ("error", "drop", "ffill")
CALENDAR = ("month", "day_of_week", "hour")

KEYS = (
    "csv",
    "target",
    "task",
    "features",
    "drop",
    "split",
    "scaler",
    "period",
    "label_at",
    "class_weight",
    "autoregressive",
    "missing",
    "horizon",
    "time",
    "calendar",
)
SPLIT_KEYS = ("val", "test", "method", "folds", "step", "gap")

DEFAULT_VAL = 0.15
DEFAULT_TEST = 0.2


#: the calendar value of a searched ``calendar`` parameter that adds no input
NO_CALENDAR = "none"


def parse_calendar(value: Any, field: str = "space.calendar") -> tuple[str, ...]:
    """The items of one value of the ``calendar`` parameter: ``none`` → (), ``month`` →
    (month,), ``day_of_week+hour`` → (day_of_week, hour); anything else is one line."""
    allowed = f"none, {', '.join(CALENDAR)}, or items joined by '+' (e.g. day_of_week+hour)"
    if not isinstance(value, str) or not value.strip():
        raise UserError(f"{value!r} is not a calendar; expected {allowed}", field)
    if value == NO_CALENDAR:
        return ()
    items: list[str] = []
    for item in value.split("+"):
        if item not in CALENDAR:
            hint = suggest_name(item, CALENDAR)
            what = repr(value) if item == value else f"{value!r}: {item!r}"
            raise UserError(f"{what} is not a calendar item{hint}; expected {allowed}", field)
        if item in items:
            raise UserError(f"{value!r} lists '{item}' twice", field)
        items.append(item)
    return tuple(items)


def _refuse(message: str, field: str) -> Any:
    raise UserError(message, field)


def _str(raw: Any, field: str) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise UserError(f"must be a non-empty string, got {raw!r}", field)
    return raw


def _choice(raw: Any, allowed: tuple[str, ...], field: str) -> str:
    if not isinstance(raw, str) or raw not in allowed:
        hint = suggest_name(raw, allowed) if isinstance(raw, str) else ""
        raise UserError(
            f"{raw!r} is not allowed{hint}; expected one of: {', '.join(allowed)}", field
        )
    return raw


def _names(raw: Any, field: str) -> tuple[str, ...]:
    """A list of column names (a single string is accepted as a one-element list)."""
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list | tuple):
        raise UserError(f"must be a list of column names, got {raw!r}", field)
    names: list[str] = []
    for i, name in enumerate(raw):
        if not isinstance(name, str) or not name:
            raise UserError(f"item {i} must be a column name (string), got {name!r}", field)
        if name in names:
            raise UserError(f"column '{name}' is listed twice", field)
        names.append(name)
    return tuple(names)


def _fraction(raw: Any, field: str) -> float | int:
    """A part size: a fraction of the rows in (0, 1), or a whole number of rows >= 1."""
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise UserError(
            f"must be a number between 0 and 1 (exclusive) or a whole number of rows, got {raw!r}",
            field,
        )
    if isinstance(raw, int):
        if raw < 1:
            raise UserError(
                f"must be between 0 and 1 (exclusive) or a whole number of rows >= 1, got {raw}",
                field,
            )
        return raw
    value = float(raw)
    if not math.isfinite(value) or not 0.0 < value < 1.0:
        raise UserError(
            f"must be between 0 and 1 (exclusive) or a whole number of rows, got {raw!r}", field
        )
    return value


def _whole(raw: Any, low: int, field: str, what: str) -> int:
    """A whole number ``>= low`` (booleans refused)."""
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise UserError(f"must be a whole number of {what}, got {raw!r}", field)
    if raw < low:
        raise UserError(f"must be at least {low}, got {raw}", field)
    return raw


def _fold_settings(
    split: dict[str, Any], method: str, field: str
) -> tuple[int, float | int | None, int]:
    """``(folds, step, gap)`` of ``data.split``; what needs the row count is checked by
    :func:`seqtune.data.folds.plan_folds`."""
    folds = _whole(split.get("folds", 1), 1, f"{field}.folds", "validation folds")
    step = split.get("step")
    if step is not None:
        step = _fraction(step, f"{field}.step")
        if folds == 1:
            raise UserError(
                "is the distance between fold origins: it needs folds >= 2", f"{field}.step"
            )
    gap = _whole(split.get("gap", 0), 0, f"{field}.gap", "rows")
    if method == "stratified" and (folds != 1 or gap != 0):
        key = "folds" if folds != 1 else "gap"
        raise UserError(
            "rolling-origin folds are chronological; a stratified split takes none",
            f"{field}.{key}",
        )
    return folds, step, gap


@dataclass(frozen=True)
class DataSpec:
    """What to read and how to frame it; built by :meth:`from_dict` from the ``data:`` mapping."""

    csv: Path
    csv_text: str
    target: str
    task: str = "forecast"
    features: tuple[str, ...] | None = None
    drop: tuple[str, ...] = ()
    val: float | int = DEFAULT_VAL  # a fraction of the rows, or an int: a number of rows
    test: float | int = DEFAULT_TEST
    split_method: str = "chronological"
    # rolling origins (seqtune.data.folds): ``folds`` validation parts of ``val`` rows each,
    # ``step`` rows apart (None: step = val), ``gap`` rows between training and validation
    folds: int = 1
    step: float | int | None = None
    gap: int = 0
    scaler: str = "minmax"
    period: int | None = None
    label_at: str = "next"
    class_weight: str = "none"
    autoregressive: bool = False
    missing: str = "error"
    horizon: int = 1
    time: str | None = None
    calendar: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, raw: Any, base_dir: Path, field: str = "data") -> DataSpec:
        """Validate the ``data:`` mapping; relative ``csv`` paths are relative to ``base_dir``.
        Each group of keys is checked by a helper, in the order a user reads them."""
        if not isinstance(raw, dict):
            raise UserError(f"must be a mapping with at least csv and target, got {raw!r}", field)
        # every key checked on its own, each mistake kept (``seqtune check`` lists them);
        # a check that needs a value that failed is skipped
        gather = Gather()
        for key in raw:
            gather(check_keys, {key: None}, KEYS, field)
        for key in ("csv", "target"):
            if key not in raw:
                gather(_refuse, "missing required key", f"{field}.{key}")
        csv_text = gather(_str, raw["csv"], f"{field}.csv") if "csv" in raw else FAILED
        target = gather(_str, raw["target"], f"{field}.target") if "target" in raw else FAILED
        task = gather(_choice, raw.get("task", "forecast"), TASKS, f"{field}.task")
        columns = FAILED if target is FAILED else gather(_columns, raw, target, field)
        features, drop = (FAILED, FAILED) if columns is FAILED else columns
        split = gather(_split_settings, raw, field)
        val, test, method, (folds, step, gap) = (
            (FAILED, FAILED, FAILED, (FAILED, FAILED, FAILED)) if split is FAILED else split
        )
        scaler = gather(_choice, raw.get("scaler", "minmax"), SCALERS, f"{field}.scaler")
        period = gather(_period, raw.get("period"), f"{field}.period")
        label_at = gather(_choice, raw.get("label_at", "next"), LABEL_AT, f"{field}.label_at")
        class_weight = gather(
            _choice, raw.get("class_weight", "none"), CLASS_WEIGHTS, f"{field}.class_weight"
        )
        autoregressive = raw.get("autoregressive", False)
        if not isinstance(autoregressive, bool):
            autoregressive = gather(
                _refuse,
                f"must be true or false, got {autoregressive!r}",
                f"{field}.autoregressive",
            )
        missing = gather(_choice, raw.get("missing", "error"), MISSING, f"{field}.missing")
        horizon = (
            FAILED
            if task is FAILED
            else gather(_horizon, raw.get("horizon", 1), task, f"{field}.horizon")
        )
        time = FAILED
        if FAILED not in (task, target, features):
            time = gather(_time, raw.get("time"), task, target, features, field)
        if time is not FAILED:
            calendar = gather(_calendar, raw.get("calendar", []) or [], time, f"{field}.calendar")
        if task == "forecast" and FAILED not in (method, label_at, class_weight, autoregressive):
            gather(_forecast_only, raw, method, label_at, class_weight, autoregressive, field)
        elif task == "classify" and FAILED not in (target, features, autoregressive, label_at):
            gather(_classify_inputs, target, features, autoregressive, label_at, field)
        path = FAILED if csv_text is FAILED else gather(_csv_path, csv_text, base_dir)
        gather.done()
        return cls(
            csv=path,
            csv_text=csv_text,
            target=target,
            task=task,
            features=features,
            drop=drop,
            val=val,
            test=test,
            split_method=method,
            folds=folds,
            step=step,
            gap=gap,
            scaler=scaler,
            period=period,
            label_at=label_at,
            class_weight=class_weight,
            autoregressive=autoregressive,
            missing=missing,
            horizon=horizon,
            time=time,
            calendar=calendar,
        )

    def to_dict(self) -> dict[str, Any]:
        """The spec form: ``csv`` as written; optional keys at their default are left out."""
        out: dict[str, Any] = {"csv": self.csv_text, "target": self.target, "task": self.task}
        if self.features is not None:
            out["features"] = list(self.features)
        if self.drop:
            out["drop"] = list(self.drop)
        split: dict[str, Any] = {"val": self.val, "test": self.test}
        if self.split_method != "chronological":
            split["method"] = self.split_method
        # rolling-origin keys only when set: an old spec keeps its dict and fingerprint
        if self.folds != 1:
            split["folds"] = self.folds
        if self.step is not None:
            split["step"] = self.step
        if self.gap != 0:
            split["gap"] = self.gap
        out["split"] = split
        out["scaler"] = self.scaler
        if self.period is not None:
            out["period"] = self.period
        if self.task == "classify":
            out["label_at"] = self.label_at
            if self.class_weight != "none":
                out["class_weight"] = self.class_weight
            if self.autoregressive:
                out["autoregressive"] = True
        if self.missing != "error":
            out["missing"] = self.missing
        # new keys only when set: a spec without them keeps its fingerprint (resume works)
        if self.horizon != 1:
            out["horizon"] = self.horizon
        if self.time is not None:
            out["time"] = self.time
        if self.calendar:
            out["calendar"] = list(self.calendar)
        return out


def _csv_path(text: str, base_dir: Path) -> Path:
    """``data.csv`` resolved: relative to the spec's folder, ``~`` expanded."""
    path = Path(text).expanduser()
    if not path.is_absolute():
        path = Path(base_dir) / path
    return path.resolve()


def _columns(raw: dict[str, Any], target: str, field: str) -> tuple[list[str] | None, list[str]]:
    """``data.features`` (None: every column but the target) and ``data.drop``."""
    features = raw.get("features")
    if features is not None:
        features = _names(features, f"{field}.features")
        if not features:
            raise UserError("must list at least one column (or be omitted)", f"{field}.features")
    drop = _names(raw.get("drop", []) or [], f"{field}.drop")
    if target in drop:
        raise UserError(f"the target '{target}' cannot be dropped", f"{field}.drop")
    if features is not None:
        both = [name for name in features if name in drop]
        if both:
            raise UserError(
                f"column '{both[0]}' is both in data.features and data.drop", f"{field}.drop"
            )
    return features, drop


def _split_settings(
    raw: dict[str, Any], field: str
) -> tuple[float | int, float | int, str, tuple[Any, Any, Any]]:
    """``data.split``: validation and test sizes, the method, and the fold settings."""
    split = raw.get("split", {})
    if split is None:
        split = {}
    if not isinstance(split, dict):
        raise UserError(
            f"must be a mapping like {{val: 0.15, test: 0.2}}, got {split!r}", f"{field}.split"
        )
    check_keys(split, SPLIT_KEYS, f"{field}.split")
    val = _fraction(split.get("val", DEFAULT_VAL), f"{field}.split.val")
    test = _fraction(split.get("test", DEFAULT_TEST), f"{field}.split.test")
    if isinstance(val, float) and isinstance(test, float) and val + test >= 1.0:
        raise UserError(
            f"val + test must leave rows for training: {val} + {test} >= 1", f"{field}.split"
        )
    method = _choice(split.get("method", "chronological"), SPLIT_METHODS, f"{field}.split.method")
    return val, test, method, _fold_settings(split, method, f"{field}.split")


def _period(period: Any, field: str) -> int | None:
    """``data.period``: a season length of at least 2, or None."""
    if period is not None and (isinstance(period, bool) or not isinstance(period, int)):
        raise UserError(f"must be an integer season length like 12, got {period!r}", field)
    if period is not None and period < 2:
        raise UserError(f"must be at least 2, got {period}", field)
    return period


def _horizon(horizon: Any, task: str, field: str) -> int:
    """``data.horizon``: whole steps, at least 1; more than 1 only for a forecast."""
    if isinstance(horizon, bool) or not isinstance(horizon, int):
        raise UserError(f"must be a whole number of steps to forecast, got {horizon!r}", field)
    if horizon < 1:
        raise UserError(f"must be at least 1, got {horizon}", field)
    if horizon != 1 and task != "forecast":
        raise UserError("applies only to task: forecast (classify takes 1)", field)
    return horizon


def _time(time: Any, task: str, target: str, features: list[str] | None, field: str) -> str | None:
    """``data.time``: a forecast's time index column, never the target nor an input."""
    if time is None:
        return None
    time = _str(time, f"{field}.time")
    if task != "forecast":
        raise UserError("applies only to task: forecast", f"{field}.time")
    if time == target:
        raise UserError(f"'{time}' is the target, not a time index", f"{field}.time")
    if features is not None and time in features:
        raise UserError(
            f"'{time}' is the time index; it is never a model input (remove it from "
            "data.features; use data.calendar for month or day-of-week inputs)",
            f"{field}.features",
        )
    return time


def _calendar(raw: Any, time: str | None, field: str) -> tuple[str, ...]:
    """``data.calendar``: distinct calendar inputs, which need ``data.time``."""
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list):
        raise UserError(f"must be a list like [month], got {raw!r}", field)
    calendar: list[str] = []
    for item in raw:
        name = _choice(item, CALENDAR, field)
        if name in calendar:
            raise UserError(f"'{name}' is listed twice", field)
        calendar.append(name)
    if calendar and time is None:
        raise UserError("calendar inputs are derived from the time index: set data.time", field)
    return tuple(calendar)


def _forecast_only(
    raw: dict[str, Any],
    method: str,
    label_at: str,
    class_weight: str,
    autoregressive: bool,
    field: str,
) -> None:
    """The classify-only keys, refused on a forecast when set to anything but their
    default, and a stratified split (a forecast's is chronological)."""
    for key, value, default in (
        ("label_at", label_at, "next"),
        ("class_weight", class_weight, "none"),
        ("autoregressive", autoregressive, False),
    ):
        if key in raw and value != default:
            raise UserError("applies only to task: classify", f"{field}.{key}")
    if method == "stratified":
        raise UserError(
            "stratified applies only to task: classify; a forecast split is chronological",
            f"{field}.split.method",
        )


def _classify_inputs(
    target: str, features: list[str] | None, autoregressive: bool, label_at: str, field: str
) -> None:
    """A classify spec never feeds its class back as an input unless it says so, and an
    autoregressive one labels the next row."""
    if features is not None and target in features and not autoregressive:
        raise UserError(
            f"the target '{target}' is an input feature: that feeds the class back into "
            "the model; remove it, or set data.autoregressive: true if that is intended",
            f"{field}.features",
        )
    if autoregressive and label_at == "last":
        raise UserError(
            "with label_at: last the window's last row holds the label itself; use label_at: next",
            f"{field}.autoregressive",
        )
