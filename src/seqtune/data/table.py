"""Reading and validating the CSV: ``load_table(spec) -> Table``.

A ``Table`` holds the used columns as float64, already checked (numeric, finite after the
``missing`` policy, a usable target), and builds windows on demand, cached per key.
"""

from __future__ import annotations

import csv
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from seqtune.data import transforms as target_transforms
from seqtune.data.folds import Bounds, FoldPlan, plan_folds
from seqtune.data.spec import DataSpec
from seqtune.data.split import (
    classify_counts,
    forecast_counts,
    part_bounds,
    stratified_counts,
)
from seqtune.data.timeindex import TimeIndex, calendar_columns, parse_time
from seqtune.data.windows import Windows, build_classify, build_forecast
from seqtune.errors import UserError, suggest_name

FIELD = "data.csv"
MAX_LINE_BYTES = 1 << 20  # 1 MiB: no line of a table of numbers comes close
MAX_COLUMNS = 10_000
CHUNK_BYTES = 1 << 20
#: Windows kept per table (look_back x transform x view), least recently used dropped first;
#: and at most this many bytes of their scaled matrices (the newest is always kept): a
#: small series keeps every look_back's windows, a stream of millions of rows a few.
WINDOWS_KEPT = 64
WINDOWS_KEPT_BYTES = 256 << 20


def _shown(text: str, limit: int = 60) -> str:
    """A value or name from the file, cut to ``limit`` characters for a message."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _scan(path: Path) -> None:
    """Refuse, reading the bytes once in chunks, what pandas would take silently or slowly: a
    NUL byte (a binary or UTF-16 file) and a line longer than MAX_LINE_BYTES."""
    line = 1  # the line number where the current chunk starts
    run = 0  # bytes of that line before the chunk
    try:
        with path.open("rb") as stream:
            while chunk := stream.read(CHUNK_BYTES):
                nul = chunk.find(b"\0")
                if nul >= 0:
                    at = line + chunk.count(b"\n", 0, nul)
                    raise UserError(
                        f"{path} has a NUL byte at line {at}: "
                        "a binary file (or UTF-16), not UTF-8 text",
                        FIELD,
                    )
                lengths = [len(piece) for piece in chunk.split(b"\n")]
                lengths[0] += run
                if max(lengths) > MAX_LINE_BYTES:
                    at = line + next(i for i, n in enumerate(lengths) if n > MAX_LINE_BYTES)
                    raise UserError(
                        f"line {at} of {path} is longer than {MAX_LINE_BYTES >> 20} MiB: "
                        "not a CSV table of numbers",
                        FIELD,
                    )
                line += len(lengths) - 1
                run = lengths[-1]
    except OSError as err:
        raise UserError(
            f"cannot read {path}: {err.strerror or type(err).__name__}", FIELD
        ) from None


def _check_names(names: list[str], path: Path, where: str) -> None:
    """UserError for more columns than seqtune reads, or a name that appears twice (in
    ``where``: a CSV's header, a Parquet file)."""
    if len(names) > MAX_COLUMNS:
        raise UserError(
            f"{path} has {len(names):,} columns, more than the {MAX_COLUMNS:,} seqtune reads",
            FIELD,
        )
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise UserError(f"column '{_shown(name)}' appears more than once in {where}", FIELD)
        seen.add(name)


def _check_header(path: Path) -> None:
    """Refuse a header with more than MAX_COLUMNS columns, or a column name given twice
    (pandas would rename the second 'x' to 'x.1' and go on with the first)."""
    with path.open("rb") as stream:
        raw = stream.readline(MAX_LINE_BYTES + 1)
        while raw and not raw.strip(b"\r\n"):  # pandas skips blank lines before the header
            raw = stream.readline(MAX_LINE_BYTES + 1)
    try:
        text = raw.decode("utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError as err:
        raise UserError(f"cannot read {path}: not UTF-8 text ({err.reason})", FIELD) from None
    if text.count('"') % 2:  # a quoted name runs over several lines: leave it to pandas
        return
    try:
        names = next(csv.reader([text]), [])
    except csv.Error:  # a name longer than the csv module takes: pandas says what is wrong
        return
    _check_names(names, path, f"the header of {path}")


#: Extensions read as Parquet (``data.csv: capture.parquet``); anything else is CSV.
PARQUET_SUFFIXES = (".parquet", ".pq")


def is_parquet(path: Path) -> bool:
    """Whether ``path`` is read as Parquet (by its extension, any case)."""
    return path.suffix.lower() in PARQUET_SUFFIXES


def read_frame(path: Path) -> pd.DataFrame:
    """The CSV (or Parquet, by extension) as a DataFrame, or a UserError saying why it
    cannot be read."""
    if not path.exists():
        raise UserError(f"file not found: {path}", FIELD)
    if not path.is_file():
        raise UserError(f"not a file: {path}", FIELD)
    if is_parquet(path):
        frame = _read_parquet(path)
    else:
        _scan(path)
        _check_header(path)
        frame = _read_csv(path)
    if frame.shape[0] == 0:
        raise UserError(f"{path} has a header but no data rows", FIELD)
    return frame


def _read_csv(path: Path) -> pd.DataFrame:
    """The CSV through pandas' C parser. Its pyarrow engine was measured and left out: on
    a 1,000,000-row drone stream (115 MB) it took 6.7 s and peaked at 945 MiB, the C
    parser 3.7 s and 710 MiB (this 2-core machine, issue 28)."""
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise UserError(f"file is empty: {path}", FIELD) from None
    except UnicodeDecodeError as err:
        raise UserError(f"cannot read {path}: not UTF-8 text ({err.reason})", FIELD) from None
    except (pd.errors.ParserError, OSError, ValueError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"cannot read {path}: {reason}", FIELD) from None


def _read_parquet(path: Path) -> pd.DataFrame:
    """A Parquet file, with the checks a CSV header gets (column count, repeated names)."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise UserError(
            f"reading Parquet needs pyarrow (pip install pyarrow): {path}", FIELD
        ) from None

    def unreadable(err: Exception) -> UserError:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return UserError(f"cannot read {path} as Parquet: {_shown(reason, 200)}", FIELD)

    try:
        names = [str(name) for name in pq.read_schema(path).names]
    except Exception as err:  # pyarrow's errors have no common base worth naming
        raise unreadable(err) from None
    _check_names(names, path, str(path))
    try:
        table = pq.read_table(path)
    except Exception as err:
        raise unreadable(err) from None
    try:
        return table.to_pandas()
    except Exception as err:
        raise unreadable(err) from None


def _missing_column(name: str, frame: pd.DataFrame, path: Path, field: str) -> UserError:
    columns = [str(c) for c in frame.columns]
    same_case = [c for c in columns if c.lower() == name.lower() or c.strip() == name]
    hint = (
        f" (did you mean '{_shown(same_case[0])}'?)" if same_case else suggest_name(name, columns)
    )
    shown = ", ".join(_shown(c) for c in columns[:20]) + (", ..." if len(columns) > 20 else "")
    sep = ""
    if len(columns) == 1:
        for char, label in ((";", "';'"), ("\t", "a tab")):
            if char in columns[0]:
                sep = f"; the file seems to use {label} as separator, not ','"
                hint = ""  # the one "column" is the whole header line: no name to suggest
    return UserError(
        f"column '{name}' not found in {path.name}{hint}; columns: {shown}{sep}", field
    )


def _numeric(frame: pd.DataFrame, name: str, path: Path) -> np.ndarray:
    """Column ``name`` as float64 (NaN where missing), refusing non-numeric values."""
    column = frame[name]
    if pd.api.types.is_numeric_dtype(column):
        return column.to_numpy(dtype=np.float64, na_value=np.nan)
    parsed = pd.to_numeric(column, errors="coerce")
    bad = np.flatnonzero(parsed.isna().to_numpy() & column.notna().to_numpy())
    if bad.size:
        i = int(bad[0])
        value = _shown(str(column.iloc[i]))
        raise UserError(
            f"column '{name}' has a non-numeric value {value!r} at row {i + 1} of {path}",
            FIELD,
        )
    return parsed.to_numpy(dtype=np.float64, na_value=np.nan)


def _looks_numeric(column: pd.Series) -> bool:
    """Whether a column is meant as numbers: numeric dtype, or mostly numeric strings."""
    if pd.api.types.is_numeric_dtype(column):
        return True
    present = column.dropna()
    if present.empty:
        return False
    parsed = pd.to_numeric(present, errors="coerce")
    return bool(parsed.notna().mean() >= 0.5)


def _default_features(spec: DataSpec, frame: pd.DataFrame) -> tuple[str, ...]:
    if spec.task == "forecast":
        return (spec.target,)
    skip = {spec.target, *spec.drop}
    names = tuple(str(c) for c in frame.columns if str(c) not in skip and _looks_numeric(frame[c]))
    if spec.autoregressive:
        names = (*names, spec.target)
    if not names:
        raise UserError(
            f"{spec.csv.name} has no numeric column besides the target '{spec.target}' "
            "to use as input",
            "data.features",
        )
    return names


def _apply_missing(
    policy: str, names: list[str], data: np.ndarray, row_numbers: np.ndarray, path: Path
) -> tuple[np.ndarray, np.ndarray]:
    """NaN/inf handling on the used columns ``data`` (rows, columns)."""
    bad = ~np.isfinite(data)
    if not bad.any():
        return data, row_numbers
    hint = "; set data.missing: drop or ffill to accept it"
    if policy == "error":
        j = int(np.flatnonzero(bad.any(axis=0))[0])
        i = int(np.flatnonzero(bad[:, j])[0])
        what = (
            "a missing value (NaN)" if np.isnan(data[i, j]) else f"an infinite value ({data[i, j]})"
        )
        raise UserError(
            f"column '{names[j]}' has {what} at row {int(row_numbers[i])} of {path}{hint}", FIELD
        )
    if policy == "drop":
        keep = ~bad.any(axis=1)
        if not keep.any():
            raise UserError(f"every row of {path} has a missing value in a used column", FIELD)
        return data[keep], row_numbers[keep]
    # ffill: carry the last finite value forward, per column.
    lead = bad[0]
    if lead.any():
        j = int(np.flatnonzero(lead)[0])
        raise UserError(
            f"column '{names[j]}' is missing at row {int(row_numbers[0])} of {path}, "
            "with no earlier value to forward-fill; set data.missing: drop",
            FIELD,
        )
    n = data.shape[0]
    source = np.where(bad, 0, np.arange(n)[:, None])
    np.maximum.accumulate(source, axis=0, out=source)
    return np.take_along_axis(data, source, axis=0), row_numbers


class Table:
    """The validated, used columns of the CSV; windows are built here and cached."""

    def __init__(
        self,
        spec: DataSpec,
        features: tuple[str, ...],
        data: np.ndarray,
        row_numbers: np.ndarray,
        time: TimeIndex | None = None,
    ) -> None:
        self.spec = spec
        self.features = features
        self.time = time
        # the season length: data.period, else the one the time index's frequency implies
        self.period: int | None = (
            spec.period if spec.period is not None else (time.period if time is not None else None)
        )
        self.horizon = spec.horizon
        self._calendars: dict[tuple[str, ...], np.ndarray] = {}
        if time is not None and spec.calendar:  # one the index cannot give: refused at load
            self.calendar_values(spec.calendar)
        #: the model's input columns: the features, then sin/cos pairs of the calendar
        self.input_names: tuple[str, ...] = self.input_names_of(spec.calendar)
        self.target = spec.target
        self.columns: tuple[str, ...] = (
            features if spec.target in features else (*features, spec.target)
        )
        self.row_numbers = row_numbers
        self._data = data
        self.n_rows = int(data.shape[0])
        self.y = data[:, self.columns.index(spec.target)]
        self.bounds = part_bounds(self.n_rows, spec.val, spec.test)
        self.classes: np.ndarray | None = None
        self.labels: np.ndarray | None = None
        if spec.task == "classify":
            classes, labels = np.unique(self.y, return_inverse=True)
            self.classes = classes.astype(np.int64)
            self.labels = labels.astype(np.int64)
        # key: (look_back, transform, seed, view, calendar); view "holdout", "fold<i>" or
        # "refit"; calendar the items of the inputs (a searched parameter changes them)
        self._cache: OrderedDict[tuple[int, str, int, str, tuple[str, ...]], Windows]
        self._cache = OrderedDict()
        self._plan: FoldPlan | None = None

    @property
    def task(self) -> str:
        return self.spec.task

    def _cached(self, key: tuple[int, str, int, str, tuple[str, ...]]) -> Windows | None:
        """The windows of ``key`` if kept (now the most recently used)."""
        found = self._cache.get(key)
        if found is not None:
            self._cache.move_to_end(key)
        return found

    def _keep(self, key: tuple[int, str, int, str, tuple[str, ...]], built: Windows) -> None:
        """Keep ``built``, dropping the least recently used beyond :data:`WINDOWS_KEPT`
        entries or :data:`WINDOWS_KEPT_BYTES`: each holds a scaled copy of the series (rows
        x features), so a search over many look_backs would otherwise hold one per value
        (issue 28)."""
        self._cache[key] = built

        def held() -> int:
            return sum(0 if w.matrix is None else w.matrix.nbytes for w in self._cache.values())

        while len(self._cache) > 1 and (
            len(self._cache) > WINDOWS_KEPT or held() > WINDOWS_KEPT_BYTES
        ):
            self._cache.popitem(last=False)

    @property
    def n_features(self) -> int:
        return len(self.features)

    def calendar_values(
        self, calendar: tuple[str, ...], field: str = "data.calendar"
    ) -> np.ndarray:
        """The sin/cos columns of ``calendar`` per row, computed once per calendar; a
        calendar the time index cannot give is refused in one line naming ``field``."""
        found = self._calendars.get(calendar)
        if found is None:
            if self.time is None:
                raise UserError(
                    "calendar inputs are derived from the time index: set data.time", field
                )
            found = calendar_columns(self.time, calendar, field)
            self._calendars[calendar] = found
        return found

    def _calendar(self, calendar: tuple[str, ...] | None) -> tuple[str, ...]:
        """The calendar a window asks for: its own, or ``data.calendar``'s (None)."""
        return self.spec.calendar if calendar is None else tuple(calendar)

    def input_names_of(self, calendar: tuple[str, ...] | None = None) -> tuple[str, ...]:
        """The input columns with ``calendar`` (default ``data.calendar``): the features,
        then a sin/cos pair per calendar item."""
        items = self._calendar(calendar)
        return self.features + tuple(f"{name}_{f}" for name in items for f in ("sin", "cos"))

    def feature_values(self, calendar: tuple[str, ...] | None = None) -> np.ndarray:
        """Raw (unscaled) input columns, in :meth:`input_names_of` order, shape (rows,
        inputs): the features, then the columns of ``calendar`` (default ``data.calendar``)
        derived from the time index."""
        values = self._data[:, [self.columns.index(name) for name in self.features]]
        items = self._calendar(calendar)
        if items:
            values = np.concatenate([values, self.calendar_values(items)], axis=1)
        return values

    def labels_of(self, rows: npt.ArrayLike) -> list[Any]:
        """What names table rows in files: the time index as written, or the row's step
        number (0-based position in the series) without ``data.time``. ``rows``: any
        array-like of row positions (callers pass lists as well as arrays)."""
        index = np.asarray(rows)
        if self.time is None:
            return [int(r) for r in index]
        return self.time.labels(index)

    def labels_after(self, count: int) -> list[Any]:
        """Labels of the ``count`` rows after the last one (the time index continued)."""
        if self.time is None:
            return list(range(self.n_rows, self.n_rows + count))
        return self.time.labels_after(count)

    def check_transform(self, transform: str) -> None:
        """UserError (``space.transform``) unless ``transform`` applies to this target."""
        if (
            transform in target_transforms.SEASONAL
            and self.period is None
            and self.time is not None
        ):
            raise UserError(
                f"'{transform}' needs the season length, and the frequency of "
                f"'{self.spec.time}' ({self.time.freq_text}) implies none: set data.period",
                "space.transform",
            )
        target_transforms.check(
            transform, self.task, self.y, self.period, self.target, self.row_numbers
        )
        if transform in target_transforms.DESEASON and self.period is not None:
            self._check_two_seasons(transform, self.period)

    def _check_two_seasons(self, transform: str, period: int) -> None:
        """UserError unless the fewest training rows (the first fold's, or the holdout's)
        hold two full seasons: what the seasonal indices are estimated on."""
        fewest, where = self.bounds["train"][1], "the training part has"
        if self.uses_folds and self.fold_plan[0].train_stop < fewest:
            fewest, where = self.fold_plan[0].train_stop, "the first fold trains on"
        if fewest < 2 * period:
            raise UserError(
                f"'{transform}' estimates the season on the training rows and needs two full "
                f"seasons ({2 * period} rows); {where} {fewest}",
                "space.transform",
            )

    def label_offset(self) -> int:
        """Rows a classify window spans beyond its look_back (1 for label_at next)."""
        return 1 if self.spec.label_at == "next" else 0

    def window_counts(self, look_back: int, transform: str = "none") -> dict[str, int]:
        """Number of windows per part for this look_back and transform."""
        if self.task == "forecast":
            lost = target_transforms.lost_rows(transform, self.period)
            return forecast_counts(self.bounds, lost + look_back, self.horizon)
        span = look_back + self.label_offset()
        if self.spec.split_method == "stratified":
            return stratified_counts(self.n_rows - span + 1, self.spec.val, self.spec.test)
        return classify_counts(self.bounds, span)

    def _largest_look_back(self, lost: int, below: int | None = None) -> int:
        """The largest look_back (under ``below``, if given) leaving 2 training windows and
        1 in val and test, and with rolling-origin folds 2 training and 1 validation window
        in every fold: one that passes every capacity check (0: none does)."""
        top = self.n_rows if below is None else min(self.n_rows, below - 1)
        for look_back in range(top, 0, -1):
            counts = self._counts_lost(look_back, lost)
            holdout = counts["train"] >= 2 and counts["val"] >= 1 and counts["test"] >= 1
            if holdout and self._folds_fit(look_back, lost):
                return look_back
        return 0

    def _folds_fit(self, look_back: int, lost: int) -> bool:
        """Whether every rolling-origin fold keeps 2 training and 1 validation window (True
        without folds, or when the folds cannot be planned: that has its own message)."""
        if not self.uses_folds:
            return True
        try:
            folds = self.fold_plan.folds
        except UserError:
            return True
        fold_lost = lost if self.task == "forecast" else 0
        for fold in folds:
            counts = self._counts_in(fold.bounds(), look_back, fold_lost)
            if counts["train"] < 2 or counts["val"] < 1:
                return False
        return True

    def _counts_lost(self, look_back: int, lost: int) -> dict[str, int]:
        if self.task == "forecast":
            return forecast_counts(self.bounds, lost + look_back, self.horizon)
        return self.window_counts(look_back)

    def check_capacity(self, max_look_back: int, transforms: Iterable[str] = ("none",)) -> None:
        """UserError unless the largest look_back, plus the rows the transforms lose, leaves
        at least 1 window in val and test and 2 in train; with rolling-origin keys in
        ``data.split``, also every fold (:meth:`check_folds`)."""
        names = list(transforms) or ["none"]
        self._check_holdout(max_look_back, names)
        if self.uses_folds:
            self.check_folds(max_look_back, names)

    def _check_holdout(self, max_look_back: int, names: list[str]) -> None:
        """The checks of the single holdout split (train, val, test)."""
        for name in names:
            self.check_transform(name)
        lost = max(target_transforms.lost_rows(name, self.period) for name in names)
        worst = max(names, key=lambda name: target_transforms.lost_rows(name, self.period))
        sizes = {name: stop - start for name, (start, stop) in self.bounds.items()}
        if sizes["train"] < 1:
            raise UserError(
                f"val {sizes['val']} + test {sizes['test']} rows leave no rows for training "
                f"out of {self.n_rows}",
                "data.split",
            )
        for part, word in (("val", "validation"), ("test", "test")):
            if self.horizon > sizes[part] >= 1:
                raise UserError(
                    f"{self.horizon} steps are longer than the {word} part ({sizes[part]} "
                    f"rows): every {word} target must lie inside it; lower data.horizon or "
                    f"raise data.split.{part}",
                    "data.horizon",
                )
        for part in ("val", "test"):
            if sizes[part] < 1:
                fraction = getattr(self.spec, part)
                raise UserError(
                    f"{part} fraction {fraction} of {self.n_rows} rows gives 0 rows; "
                    f"raise data.split.{part} or use a longer series",
                    "data.split",
                )
        counts = self._counts_lost(max_look_back, lost)
        short = [p for p, need in (("train", 2), ("val", 1), ("test", 1)) if counts[p] < need]
        if not short:
            return
        part = short[0]
        need = 2 if part == "train" else 1
        rows = ", ".join(f"{p} {sizes[p]}" for p in ("train", "val", "test"))
        lost_text = f" plus {lost} rows lost to '{worst}'" if lost else ""
        best = self._largest_look_back(lost)
        if best == 0:
            raise UserError(
                f"{self.n_rows} rows split as {rows} leave {counts[part]} {part} window(s)"
                f"{lost_text} even with look_back 1 (need at least {need}); "
                "change data.split or use a longer series",
                "data.split",
            )
        raise UserError(
            f"look_back {max_look_back}{lost_text} leaves {counts[part]} {part} window(s) "
            f"(need at least {need}; rows: {rows}); the largest look_back that fits is {best}",
            "space.look_back",
        )

    def windows(
        self,
        look_back: int,
        transform: str = "none",
        seed: int = 0,
        calendar: tuple[str, ...] | None = None,
    ) -> Windows:
        """Windows for this look_back, transform and calendar inputs (None:
        ``data.calendar``), built once and cached.

        ``seed`` only matters for a stratified split (classify).
        """
        look_back = self._look_back(look_back)
        if self.spec.split_method != "stratified":
            seed = 0
        items = self._calendar(calendar)
        key = (look_back, transform, int(seed), "holdout", items)
        cached = self._cached(key)
        if cached is not None:
            return cached
        self.check_capacity(look_back, [transform])
        built = self._build(self.bounds, look_back, transform, int(seed), items)
        self._keep(key, built)
        return built

    # -- rolling origins (seqtune.data.folds) -------------------------------------------------

    @property
    def fold_plan(self) -> FoldPlan:
        """The rolling-origin folds of ``data.split`` (``folds: 1``: the holdout alone).
        Raises a one-line UserError when the split settings do not fit the rows."""
        if self._plan is None:
            spec = self.spec
            self._plan = plan_folds(
                self.n_rows,
                val=spec.val,
                test=spec.test,
                folds=spec.folds,
                step=spec.step,
                gap=spec.gap,
            )
        return self._plan

    @property
    def uses_folds(self) -> bool:
        """Whether the spec sets any rolling-origin key (folds, step, gap)."""
        return self.spec.folds != 1 or self.spec.step is not None or self.spec.gap != 0

    def fold_windows(
        self,
        fold: int,
        look_back: int,
        transform: str = "none",
        calendar: tuple[str, ...] | None = None,
    ) -> Windows:
        """Windows of fold ``fold`` (0 = oldest origin): training windows whose targets (and
        inputs) lie in the fold's training rows, validation windows whose targets lie in its
        validation rows (forecast inputs may reach back before the validation start, classify
        windows never straddle a boundary), and an empty test part. Scalers and the target
        transform's scaler are fitted on the fold's training rows only. Cached.

        With ``folds: 1`` and no gap, fold 0 equals :meth:`windows` on train and val."""
        look_back = self._look_back(look_back)
        plan = self.fold_plan
        if isinstance(fold, bool) or not isinstance(fold, int | np.integer):
            raise TypeError(f"fold must be an integer, got {fold!r}")
        if not 0 <= int(fold) < len(plan):
            raise IndexError(f"fold {fold} out of range: the plan has {len(plan)} fold(s)")
        items = self._calendar(calendar)
        key = (look_back, transform, 0, f"fold{int(fold)}", items)
        cached = self._cached(key)
        if cached is not None:
            return cached
        self.check_folds(look_back, [transform])
        built = self._build(plan[int(fold)].bounds(), look_back, transform, 0, items)
        self._keep(key, built)
        return built

    def refit_windows(
        self, look_back: int, transform: str = "none", calendar: tuple[str, ...] | None = None
    ) -> Windows:
        """The refit view: every row before the test part as training (scalers fitted on
        them), no validation windows, and the test part. What export and ``train`` fit the
        chosen configuration on before reading the test part once. Cached."""
        look_back = self._look_back(look_back)
        items = self._calendar(calendar)
        key = (look_back, transform, 0, "refit", items)
        cached = self._cached(key)
        if cached is not None:
            return cached
        self.check_capacity(look_back, [transform])
        built = self._build(self.fold_plan.refit_bounds(), look_back, transform, 0, items)
        self._keep(key, built)
        return built

    def fold_counts(self, look_back: int, transform: str = "none") -> list[dict[str, int]]:
        """Windows per part (train, val) of every fold, oldest first (for ``seqtune check``)."""
        counts = [self.counts_in(f.bounds(), look_back, transform) for f in self.fold_plan.folds]
        return [{p: c for p, c in fold.items() if p != "test"} for fold in counts]

    def counts_in(self, bounds: Bounds, look_back: int, transform: str = "none") -> dict[str, int]:
        """Windows per part of chronological ``bounds`` (e.g. the refit view's) for this
        look_back and transform (for ``seqtune check``)."""
        lost = target_transforms.lost_rows(transform, self.period) if self.task == "forecast" else 0
        return self._counts_in(bounds, look_back, lost)

    def _counts_in(self, bounds: Bounds, look_back: int, lost: int) -> dict[str, int]:
        if self.task == "forecast":
            return forecast_counts(bounds, lost + look_back, self.horizon)
        return classify_counts(bounds, look_back + self.label_offset())

    def check_folds(self, max_look_back: int, transforms: Iterable[str] = ("none",)) -> None:
        """UserError unless every fold leaves at least 2 training windows and 1 validation
        window for the largest look_back and the rows the transforms lose, and (classify)
        both parts of every fold hold at least two classes."""
        names = list(transforms) or ["none"]
        for name in names:
            self.check_transform(name)
        plan = self.fold_plan
        if self.horizon > plan[0].val_rows:
            raise UserError(
                f"{self.horizon} steps are longer than a fold's validation part "
                f"({plan[0].val_rows} rows); lower data.horizon or raise data.split.val",
                "data.horizon",
            )
        lost = 0
        if self.task == "forecast":
            lost = max(target_transforms.lost_rows(name, self.period) for name in names)
        for fold in plan.folds:
            counts = self._counts_in(fold.bounds(), max_look_back, lost)
            for part, need in (("train", 2), ("val", 1)):
                if counts[part] >= need:
                    continue
                # one that fits every fold and the holdout's parts, not this one alone
                holdout_lost = max(target_transforms.lost_rows(n, self.period) for n in names)
                best = self._largest_look_back(
                    holdout_lost if self.task == "forecast" else 0, max_look_back
                )
                lost_text = f" plus {lost} rows lost to the transform" if lost else ""
                rows = self.row_numbers  # 1-based data rows of the CSV, as in every message
                where = (
                    f"fold {fold.index + 1} of {len(plan)} (train rows {int(rows[0])}-"
                    f"{int(rows[fold.train_stop - 1])}, val rows {int(rows[fold.val_start])}-"
                    f"{int(rows[fold.val_stop - 1])})"
                )
                if best > 0:
                    raise UserError(
                        f"look_back {max_look_back}{lost_text} leaves {counts[part]} {part} "
                        f"window(s) in {where} (need at least {need}); the largest look_back "
                        f"that fits is {best}",
                        "space.look_back",
                    )
                raise UserError(
                    f"{where} has {counts[part]} {part} window(s){lost_text} even with "
                    f"look_back 1 (need at least {need}); use fewer folds or a longer series",
                    "data.split.folds",
                )
        if self.task == "classify":
            self._check_fold_classes(max_look_back)

    def _check_fold_classes(self, look_back: int) -> None:
        """Refuse a fold whose training or validation windows hold a single class."""
        assert self.labels is not None and self.classes is not None
        span = look_back + self.label_offset()
        plan = self.fold_plan
        for fold in plan.folds:
            for part, (start, stop) in fold.bounds().items():
                if part == "test":
                    continue
                labels = self.labels[start + span - 1 : stop]  # the label rows of its windows
                if labels.size and np.unique(labels).size < 2:
                    first, last = self.row_numbers[start + span - 1], self.row_numbers[stop - 1]
                    raise UserError(
                        f"every {part} window of fold {fold.index + 1} of {len(plan)} (labels "
                        f"at rows {int(first)}-{int(last)}) has class "
                        f"{self.classes[labels[0]]}: use fewer folds or a larger data.split.val",
                        "data.split.folds",
                    )

    @staticmethod
    def _look_back(look_back: int) -> int:
        if isinstance(look_back, bool) or not isinstance(look_back, int | np.integer):
            raise UserError(f"must be an integer, got {look_back!r}", "space.look_back")
        if int(look_back) < 1:
            raise UserError(f"must be at least 1, got {look_back}", "space.look_back")
        return int(look_back)

    def _build(
        self,
        bounds: Bounds,
        look_back: int,
        transform: str,
        seed: int,
        calendar: tuple[str, ...] = (),
    ) -> Windows:
        """Windows of the parts ``bounds`` (train must start at row 0) with the inputs of
        ``calendar``: scalers fitted on ``bounds["train"]`` only."""
        if self.task == "forecast":
            target_col = self.features.index(self.target) if self.target in self.features else None
            return build_forecast(
                self.feature_values(calendar),
                self.input_names_of(calendar),
                target_col,
                self.y,
                transform=transform,
                period=self.period,
                look_back=look_back,
                bounds=bounds,
                scaler=self.spec.scaler,
                horizon=self.horizon,
            )
        assert self.labels is not None and self.classes is not None
        return build_classify(
            self.feature_values(),
            self.features,
            self.labels,
            self.classes,
            look_back=look_back,
            label_at=self.spec.label_at,
            bounds=bounds,
            method=self.spec.split_method,
            val=self.spec.val,
            test=self.spec.test,
            seed=seed,
            scaler=self.spec.scaler,
            class_weight=self.spec.class_weight,
            first_row=self.row_numbers,
        )


def _check_target(spec: DataSpec, y: np.ndarray, row_numbers: np.ndarray) -> None:
    field = "data.target"
    if spec.task == "forecast":
        if np.ptp(y) == 0:
            raise UserError(
                f"column '{spec.target}' is constant ({y[0]:g}): nothing to forecast", field
            )
        return
    fractional = np.flatnonzero(y != np.round(y))
    if fractional.size:
        i = int(fractional[0])
        raise UserError(
            f"a classify target holds integer class labels, but '{spec.target}' is {y[i]:g} "
            f"at row {int(row_numbers[i])}",
            field,
        )
    if np.unique(y).size < 2:
        raise UserError(
            f"column '{spec.target}' has a single class ({y[0]:g}): nothing to classify", field
        )


def load_table(spec: DataSpec) -> Table:
    """Read ``spec.csv`` and validate what the spec uses; every problem is a UserError."""
    path = spec.csv
    frame = read_frame(path)
    columns = {str(c): c for c in frame.columns}
    frame.columns = list(columns)
    if spec.target not in columns:
        raise _missing_column(spec.target, frame, path, "data.target")
    for name in spec.features or ():
        if name not in columns:
            raise _missing_column(name, frame, path, "data.features")
    for name in spec.drop:
        if name not in columns:
            raise _missing_column(name, frame, path, "data.drop")

    if spec.time is not None and spec.time not in columns:
        raise _missing_column(spec.time, frame, path, "data.time")

    features = spec.features if spec.features is not None else _default_features(spec, frame)
    used = list(features) if spec.target in features else [*features, spec.target]
    data = np.column_stack([_numeric(frame, name, path) for name in used])
    row_numbers = np.arange(1, data.shape[0] + 1)
    data, row_numbers = _apply_missing(spec.missing, used, data, row_numbers, path)
    _check_target(spec, data[:, used.index(spec.target)], row_numbers)
    time = None
    if spec.time is not None:
        # after the missing policy: rows it dropped leave a gap, which is refused
        time = parse_time(
            frame[spec.time].iloc[row_numbers - 1],
            spec.time,
            row_numbers,
            path,
            dropped=spec.missing == "drop" and row_numbers.size < frame.shape[0],
        )
        if spec.calendar:
            calendar_columns(time, spec.calendar)  # refuses a calendar the index cannot give
    return Table(spec, tuple(features), data, row_numbers, time)
