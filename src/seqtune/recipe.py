"""``seqtune init``: a first spec for a CSV (or Parquet file) of one's own, sized from the data.

The recipe is the one the shipped examples found to work on monthly series (a small MLP on
differenced framings with one or two seasons of inputs, chosen on rolling-origin folds with
two seeds per fold and a seed ensemble refit at export; docs/benchmarks.md §7 and §9), with
every size read from the data instead of fixed:

- the **period** from the time column's frequency (monthly 12, quarterly 4, weekly 52,
  daily 7, hourly 24; none for yearly or integer steps), kept only when the series holds
  enough seasons for seasonal framings;
- the **test part** about a fifth of the rows (whole seasons, at least two horizons), each
  **validation fold** one season (or about 5 % of the rows, at least two horizons), and as
  many **folds** (at most 4) as leave the first fold a training part of 40 % of the rows;
- **look_back** one to two seasons (2 to a tenth of the rows without a period), never more
  than a third of the first fold's training rows;
- the **transforms** the data allows: logs only for a positive target, seasonal differences
  only with a period;
- a search of 30 TPE trials of at most 100 epochs (2 seeds per fold), minutes on 2 cores,
  scored by the RMSE over the folds in the target's own units.

:func:`make_recipe` decides and says why (:attr:`Recipe.reasons`); :meth:`Recipe.spec_text`
is the commented YAML; :func:`write_recipe` writes it, never over an existing file unless
``force``. Every decision is a plain function of the row count, period and horizon
(:func:`size_split`, :func:`look_back_range`, :func:`allowed_transforms`) so that the recipe
can be read, tested and extended in one place (:data:`FORECAST_SPACE`).
"""

from __future__ import annotations

import math
import os
import re
import textwrap
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqtune.errors import UserError

#: the fewest rows a forecast recipe accepts (training, validation and test parts)
MIN_ROWS = 30
#: the framings the recipe searches, in order, before the data's rules
#: (:func:`allowed_transforms`) leave out those it does not allow
TRANSFORMS = ("none", "diff", "log_diff", "seasonal_diff", "log_seasonal_diff")
#: at most this many rolling-origin folds
MAX_FOLDS = 4
#: the first fold's training part keeps at least this share of the rows
MIN_TRAIN_SHARE = 0.4
#: the test part: about this share of the rows
TEST_SHARE = 0.2
#: names that mark a time column when ``--time`` is not given (lower case)
TIME_NAMES = ("date", "time", "datetime", "timestamp", "ds", "year", "month", "week", "day")
#: a season is only used when the rows before the test part hold at least this many
MIN_SEASONS = 4

#: the searched network for a forecast, beside ``transform`` and ``look_back`` (sized from
#: the data): the quick start's space (examples/airline.yaml)
FORECAST_SPACE: dict[str, dict[str, Any]] = {
    "num_hidden_layers": {"int": [1, 2]},
    "dense_units": {"int": [8, 32], "step": 8, "per": "num_hidden_layers"},
    "learning_rate": {"float": [0.001, 0.01], "log": True},
}
#: the search settings of every recipe; ``trials`` shrinks for long series
SEARCH: dict[str, Any] = {
    "backend": "tpe",
    "trials": 30,
    "max_epochs": 100,
    "patience": 15,
    "pruner": "median",
    "repeats": 2,
    "ensemble": 3,
}
#: above this many rows a trial costs more: fewer trials, larger batches
LONG_ROWS = 2000


@dataclass(frozen=True)
class Split:
    """The sizes :func:`size_split` chose, in rows."""

    test: int
    val: int
    folds: int


@dataclass
class Recipe:
    """What ``seqtune init`` decided for one data file, and why.

    ``spec`` is the spec as a mapping (what :meth:`spec_text` writes, comments aside);
    ``reasons`` one line per decision.
    """

    study: str
    csv: str
    target: str
    task: str
    time: str | None
    rows: int
    period: int | None
    horizon: int
    split: Split | None
    look_back: tuple[int, int]
    transforms: tuple[str, ...]
    objective: str
    spec: dict[str, Any]
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The decisions as plain values (``init --json``); the spec's mapping as
        ``content``."""
        out = asdict(self)
        out["content"] = out.pop("spec")
        out["look_back"] = list(self.look_back)
        out["transforms"] = list(self.transforms)
        return out

    def spec_text(self) -> str:
        """The spec as commented YAML, each decision's reason beside it."""
        return _yaml(self)


# -- the decisions ----------------------------------------------------------------------------


def study_name(path: Path) -> str:
    """A study name from a file name: its stem with anything but letters, digits, ``.``,
    ``_`` and ``-`` replaced by ``-``.

    Examples
    --------
    >>> study_name(Path("data/My Sales (2024).csv"))
    'My-Sales-2024'
    """
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", path.stem).strip("-._")[:100]
    return name or "study"


def detect_time(frame: pd.DataFrame, target: str) -> str | None:
    """The column that looks like a time index when none is given: the first one (not the
    target) named like one (``date``, ``time``, ``ds``...) or holding dates; else None.

    Examples
    --------
    >>> frame = pd.DataFrame({"Date": ["2024-01", "2024-02", "2024-03"], "y": [1, 2, 3]})
    >>> detect_time(frame, "y")
    'Date'
    """
    for name in frame.columns:
        if name == target:
            continue
        if str(name).strip().lower() in TIME_NAMES:
            return str(name)
        column = frame[name]
        if pd.api.types.is_datetime64_any_dtype(column):
            return str(name)
        if column.dtype == object or pd.api.types.is_string_dtype(column):
            head = column.dropna().astype(str).head(5)
            parsed = pd.to_datetime(head, errors="coerce", format="mixed")
            if len(head) and parsed.notna().all():
                return str(name)
    return None


def usable_period(period: int | None, rows: int, horizon: int) -> int | None:
    """The frequency's season, kept when the series holds :data:`MIN_SEASONS` seasons
    besides a test part (a weekly series of 3 years has too few 52-week seasons).

    Examples
    --------
    >>> usable_period(12, 144, 1), usable_period(52, 150, 1), usable_period(None, 100, 1)
    (12, None, None)
    """
    if period is None or period < 2:
        return None
    test = max(2 * horizon, round(TEST_SHARE * rows))
    return period if rows - test >= MIN_SEASONS * period else None


def size_split(rows: int, period: int | None, horizon: int = 1) -> Split:
    """Test, validation and fold sizes for a forecast of ``horizon`` steps.

    The test part is about a fifth of the rows, whole seasons when a period is known and
    at least two horizons; each fold's validation part one season (several for long series,
    about 5 % of the rows; without a period about 8 %) and at least two horizons, so that a
    fold scores ``horizon + 1`` origins or more; as many folds (at most 4) as leave the
    first fold :data:`MIN_TRAIN_SHARE` of the rows for training. Raises a UserError when
    the rows cannot hold it.

    Examples
    --------
    >>> size_split(144, 12)
    Split(test=24, val=12, folds=4)
    >>> size_split(100, None)
    Split(test=20, val=8, folds=4)
    """
    if rows < MIN_ROWS:
        raise UserError(f"only {rows} rows: a forecast recipe needs at least {MIN_ROWS}", "data")
    test = max(2 * horizon, round(TEST_SHARE * rows))
    if period:
        val = period * max(1, round(0.05 * rows / period))
        if test >= period:
            test = max(test // period * period, 2 * horizon)
    else:
        val = max(5, round(0.08 * rows))
    val = max(val, 2 * horizon)
    if period and val % period:
        val = math.ceil(val / period) * period
    train = max(math.ceil(MIN_TRAIN_SHARE * rows), 3 * horizon, 10)
    folds = min(MAX_FOLDS, (rows - test - train) // val)
    if folds < 1:
        raise UserError(
            f"only {rows} rows: too few for a test part of {test}, a validation part of {val} "
            f"and training rows before them (horizon {horizon}); give more rows or a shorter "
            "--horizon",
            "data",
        )
    return Split(test, val, folds)


def look_back_range(period: int | None, rows: int, split: Split) -> tuple[int, int]:
    """The searched ``look_back``: one to two seasons (at least 8 steps), else 2 to a tenth
    of the rows (at most 24); never more than a third of the first fold's training rows.

    Examples
    --------
    >>> look_back_range(12, 144, Split(24, 12, 4))
    (12, 24)
    >>> look_back_range(4, 203, Split(40, 8, 4))
    (4, 12)
    >>> look_back_range(None, 100, Split(20, 8, 4))
    (2, 10)
    """
    if period:
        low, high = period, max(2 * period, 3 * period if period < 12 else 0, 8)
    else:
        low, high = 2, min(24, max(4, rows // 10))
    first_train = rows - split.test - split.folds * split.val
    cap = max(1, first_train // 3)
    high = min(high, cap)
    return min(low, high), high


def allowed_transforms(y: np.ndarray, period: int | None) -> tuple[str, ...]:
    """The framings the data allows: the level and first differences always; their logs
    when every value is positive; seasonal differences (and their logs) with a period.

    Examples
    --------
    >>> allowed_transforms(np.array([1.0, 2.0, 3.0]), 12)
    ('none', 'diff', 'log_diff', 'seasonal_diff', 'log_seasonal_diff')
    >>> allowed_transforms(np.array([-1.0, 2.0]), None)
    ('none', 'diff')
    """
    from seqtune.data.transforms import LOGS, SEASONAL

    positive = bool(np.all(np.isfinite(y)) and np.min(y) > 0)
    return tuple(
        name
        for name in TRANSFORMS
        if (positive or name not in LOGS) and (period or name not in SEASONAL)
    )


# -- the whole recipe --------------------------------------------------------------------------


def make_recipe(
    csv: Path,
    target: str,
    *,
    time: str | None = None,
    horizon: int | None = None,
    task: str = "forecast",
    spec_dir: Path | None = None,
) -> Recipe:
    """Read ``csv`` (CSV or Parquet) and decide the spec for ``target``: every input mistake
    (file, column, values, rows) is a UserError naming it.

    ``spec_dir`` is the folder the spec will be written to: ``data.csv`` is written
    relative to it.

    Examples
    --------
    >>> recipe = make_recipe(Path("data/airline.csv"), "Passengers")  # doctest: +SKIP
    >>> recipe.period, recipe.split                                     # doctest: +SKIP
    (12, Split(test=24, val=12, folds=4))
    """
    from seqtune.data.spec import DataSpec
    from seqtune.data.table import load_table, read_frame

    if task not in ("forecast", "classify"):
        raise UserError(f"'{task}' is not one of forecast, classify", "--task")
    if horizon is not None and horizon < 1:
        raise UserError(f"must be at least 1, got {horizon}", "--horizon")
    if task == "classify" and horizon not in (None, 1):
        raise UserError("applies only to --task forecast", "--horizon")
    csv = Path(csv)
    frame = read_frame(csv)
    columns = [str(c) for c in frame.columns]
    reasons: list[str] = []
    if time is None and task == "forecast":
        time = detect_time(frame, target) if target in columns else None
        if time is not None:
            reasons.append(f"time index: column '{time}' (looks like one; --time to choose)")
    elif time is not None and task == "classify":
        raise UserError("applies only to --task forecast", "--time")
    raw: dict[str, Any] = {"csv": str(csv.resolve()), "target": target, "task": task}
    if time is not None:
        raw["time"] = time
    if task == "classify":
        skip = [c for c in columns if c != target and c == detect_time(frame, target)]
        if skip:
            raw["drop"] = skip
    data_spec = DataSpec.from_dict(raw, Path.cwd())
    try:
        table = load_table(data_spec)  # column, numbers, constant target, time regularity
    except UserError as err:
        if err.field != "data.time" or not reasons:  # a --time the user gave: refused
            raise
        reasons[-1] = f"no time index: column '{time}' is not a regular one ({err.message})"
        time = None
        del raw["time"]
        data_spec = DataSpec.from_dict(raw, Path.cwd())
        table = load_table(data_spec)
    rows = table.n_rows
    where = _written_path(csv, spec_dir or Path.cwd())
    name = study_name(csv)
    if task == "classify":
        return _classify_recipe(name, where, data_spec, table, reasons)
    h = horizon or 1
    freq_period = table.time.period if table.time is not None else None
    period = usable_period(freq_period, rows, h)
    if table.time is None:
        reasons.append("period: none (no time column: rows are steps; --time names one)")
    elif freq_period is None:
        reasons.append(f"period: none ({table.time.freq_text} implies no season)")
    elif period is None:
        reasons.append(
            f"period: none ({table.time.freq_text} implies {freq_period}, but {rows} rows "
            f"hold fewer than {MIN_SEASONS} seasons before the test part)"
        )
    else:
        reasons.append(f"period: {period} ({table.time.freq_text})")
    split = size_split(rows, period, h)
    first_train = rows - split.test - split.folds * split.val
    reasons.append(
        f"split: test {split.test} rows (about {TEST_SHARE:.0%}), {split.folds} rolling "
        f"folds of {split.val} validation rows, {first_train} training rows before the "
        f"first (of {rows} rows, horizon {h})"
    )
    look_back = look_back_range(period, rows, split)
    reasons.append(
        f"look_back: {look_back[0]}-{look_back[1]} steps "
        + ("(one to two seasons)" if period else "(no season: short to a tenth of the rows)")
    )
    transforms = allowed_transforms(np.asarray(table.y, dtype=float), period)
    why = [] if "log_diff" in transforms else ["no logs: the target is not always positive"]
    if not period:
        why.append("no seasonal differences: no period")
    reasons.append(f"transforms: {', '.join(transforms)}" + (f" ({'; '.join(why)})" if why else ""))
    search = dict(SEARCH)
    batch = [16, 32]
    if rows > LONG_ROWS:
        search["trials"] = 20
        batch = [64, 256]
    reasons.append(
        f"search: {search['trials']} TPE trials of at most {search['max_epochs']} epochs, "
        f"{search['repeats']} seeds per fold, median pruner; objective val_rmse in "
        f"'{target}' units (mean over the folds)"
    )
    data: dict[str, Any] = {"csv": str(where), "target": target, "task": "forecast"}
    if time is not None:
        data["time"] = time
    if h != 1:
        data["horizon"] = h
    data["split"] = {"val": split.val, "test": split.test, "folds": split.folds}
    data["scaler"] = "minmax"
    space: dict[str, Any] = {
        "transform": {"choice": list(transforms)},
        "look_back": {"int": list(look_back)},
        **FORECAST_SPACE,
        "batch_size": {"choice": batch},
    }
    spec = {
        "study": name,
        "seed": 123,
        "data": data,
        "model": {"kind": "mlp", "layout": "window"},
        "space": space,
        "objective": "val_rmse",
        "search": search,
    }
    return Recipe(
        study=name,
        csv=str(where),
        target=target,
        task="forecast",
        time=time,
        rows=rows,
        period=period,
        horizon=h,
        split=split,
        look_back=look_back,
        transforms=transforms,
        objective="val_rmse",
        spec=spec,
        reasons=reasons,
    )


def _classify_recipe(
    name: str, where: Path, data_spec: Any, table: Any, reasons: list[str]
) -> Recipe:
    """A first spec to classify each row from the rows before it: every numeric column an
    input, a chronological split, a small MLP on windows of 1 to 10 rows."""
    rows = table.n_rows
    if rows < MIN_ROWS:
        raise UserError(f"only {rows} rows: a classify recipe needs at least {MIN_ROWS}", "data")
    assert table.labels is not None and table.classes is not None
    counts = np.bincount(table.labels)
    n_classes = int(counts.size)
    objective = "val_f1" if n_classes == 2 else "val_accuracy"
    balanced = bool(counts.max() > 1.5 * counts.min())
    inputs = [c for c in table.features if c != data_spec.target]
    reasons.append(
        f"inputs: {len(inputs)} numeric column(s) besides '{data_spec.target}'"
        + (f" (dropped: {', '.join(data_spec.drop)})" if data_spec.drop else "")
    )
    reasons.append(
        f"classes: {n_classes} ({', '.join(str(int(c)) for c in table.classes[:10])}); "
        + ("class_weight balanced (counts differ by more than 1.5x); " if balanced else "")
        + f"objective {objective}"
    )
    look_back = (1, max(1, min(10, rows // 20)))
    reasons.append(
        f"split: chronological, validation 15 %, test 15 % of {rows} rows; "
        f"look_back {look_back[0]}-{look_back[1]} rows"
    )
    search = dict(SEARCH, repeats=1, ensemble=1, trials=20)
    reasons.append(
        f"search: {search['trials']} TPE trials of at most {search['max_epochs']} epochs"
    )
    data: dict[str, Any] = {"csv": str(where), "target": data_spec.target, "task": "classify"}
    if data_spec.drop:
        data["drop"] = list(data_spec.drop)
    data["split"] = {"val": 0.15, "test": 0.15}
    data["scaler"] = "standard"
    data["label_at"] = "next"
    if balanced:
        data["class_weight"] = "balanced"
    spec = {
        "study": name,
        "seed": 123,
        "data": data,
        "model": {"kind": "mlp", "layout": "window"},
        "space": {
            "look_back": {"int": list(look_back)},
            **FORECAST_SPACE,
            "batch_size": {"choice": [32, 64] if rows <= LONG_ROWS else [64, 256]},
        },
        "objective": objective,
        "search": search,
    }
    return Recipe(
        study=name,
        csv=str(where),
        target=data_spec.target,
        task="classify",
        time=None,
        rows=rows,
        period=None,
        horizon=1,
        split=None,
        look_back=look_back,
        transforms=(),
        objective=objective,
        spec=spec,
        reasons=reasons,
    )


def _written_path(csv: Path, spec_dir: Path) -> Path:
    """``data.csv`` as written: relative to the spec's folder when the data is in it or
    one folder up (a project's layout), else absolute."""
    absolute = csv.resolve()
    relative = Path(os.path.relpath(absolute, spec_dir.resolve()))
    return relative if relative.parts[:2].count("..") <= 1 else absolute


# -- the file ---------------------------------------------------------------------------------


def _flow(value: Any) -> str:
    """One value in YAML flow style (``{int: [1, 2]}``, ``[a, b]``)."""
    import yaml

    text = str(yaml.safe_dump(value, default_flow_style=True, width=1000, sort_keys=False))
    return text.removesuffix("\n...\n").strip()


def _yaml(recipe: Recipe) -> str:
    """The spec as YAML with a header and a comment on each sized line."""
    spec = recipe.spec
    data = spec["data"]
    lines = [
        f"# Made by `seqtune init` from {recipe.csv} ({recipe.rows} rows): a first spec to",
        "# start from, sized from the data. What it decided and why:",
        *(
            line
            for r in recipe.reasons
            for line in textwrap.wrap(r, 96, initial_indent="#   ", subsequent_indent="#     ")
        ),
        "# Check it with `seqtune check`, run it with `seqtune launch`; docs/your-own-series.md",
        "# says what to change first.",
        f"study: {_flow(spec['study'])}",
        f"seed: {spec['seed']}",
        "data:",
    ]
    notes = {
        "csv": "" if Path(recipe.csv).is_absolute() else "relative to this file",
        "time": f"period {recipe.period}" if recipe.period else "no season used",
        "split": "rolling-origin folds before the test part"
        if recipe.task == "forecast"
        else "chronological",
        "scaler": "fitted on each fold's training rows only",
        "horizon": "steps forecast at once from each origin",
    }
    for key, value in data.items():
        text = f"  {key}: {_flow(value)}"
        note = notes.get(key)
        lines.append(f"{text:<50}# {note}" if note else text)
    lines.append(f"model: {_flow(spec['model'])}")
    lines.append("space:")
    width = max(len(k) for k in spec["space"]) + 2
    for key, value in spec["space"].items():
        lines.append(f"  {key + ':':<{width}} {_flow(value)}")
    unit = "in the target's units, mean over the folds" if recipe.task == "forecast" else ""
    objective = f"objective: {spec['objective']}"
    lines.append(f"{objective:<50}# {unit}" if unit else objective)
    lines.append(f"search: {_flow(spec['search'])}")
    return "\n".join(lines) + "\n"


def write_recipe(
    recipe: Recipe, out: Path, force: bool = False, reads: tuple[Path, ...] = ()
) -> Path:
    """Write the recipe's spec to ``out`` (atomically); an existing file is refused unless
    ``force``, a study's own file or a file in ``reads`` (the data) always.

    Examples
    --------
    >>> write_recipe(make_recipe(Path("sales.csv"), "units"), Path("sales.yaml"))  # doctest: +SKIP
    PosixPath('sales.yaml')
    """
    from seqtune.store.files import write_text
    from seqtune.store.outputs import check_output

    check_output(out, force=force, suffixes=(".yaml", ".yml"), reads=reads, flag="--out")
    write_text(out, recipe.spec_text())
    return out
