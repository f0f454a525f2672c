"""The time index of a forecast (``data.time``): parsing, regularity, frequency, calendar.

A time column holds dates (anything pandas parses: ``1949-01``, ``2024-03-01 13:00``) or
integers. It must be sorted, without duplicates and without gaps (one row per period of a
frequency pandas can infer, or a constant integer step): every refusal is one line naming
the rows. The frequency sets the default season length (``data.period``): monthly 12,
quarterly 4, weekly 52, daily 7, hourly 24.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqtune.errors import UserError

FIELD = "data.time"

#: offset name (pandas' frequency without its anchor, e.g. ``QS`` of ``QS-OCT``) -> period
PERIODS = {
    "MS": 12, "ME": 12, "M": 12, "BMS": 12, "BME": 12, "BM": 12, "SMS": None,
    "QS": 4, "QE": 4, "Q": 4, "BQS": 4, "BQE": 4, "BQ": 4,
    "W": 52,
    "D": 7,
    "h": 24, "H": 24,
}  # fmt: skip

#: calendar input -> its cycle length
CALENDAR_CYCLES = {"month": 12, "day_of_week": 7, "hour": 24}
#: calendar input -> the longest step of the index it tells anything on, and its words
CALENDAR_STEP = {
    "month": (np.timedelta64(31, "D"), "a month"),
    "day_of_week": (np.timedelta64(1, "D"), "a day"),
    "hour": (np.timedelta64(1, "h"), "an hour"),
}

#: formats tried to write continued dates the way the CSV wrote them
FORMATS = ("%Y-%m", "%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S")


def frequency_text(freq: str | None, step: int | None) -> str:
    """How messages name a time index's spacing: ``frequency MS`` or ``integer step 1``."""
    return f"frequency {freq}" if freq else f"integer step {step}"


@dataclass(frozen=True)
class TimeIndex:
    """A parsed, regular time index: datetimes with a pandas frequency, or integers."""

    values: np.ndarray  # datetime64[ns] or int64, one per table row
    freq: str | None  # pandas frequency string (datetimes)
    step: int | None  # integer step (integers)
    fmt: str | None  # strftime format reproducing the CSV's text, if one does

    @property
    def is_datetime(self) -> bool:
        return self.freq is not None

    @property
    def period(self) -> int | None:
        """The default season length of this frequency (None: none implied)."""
        if self.freq is None:
            return None
        name = self.freq.split("-")[0]
        return PERIODS.get(name)

    @property
    def freq_text(self) -> str:
        return frequency_text(self.freq, self.step)

    def _text(self, stamps: pd.DatetimeIndex) -> list[str]:
        if self.fmt is not None:
            return [str(s) for s in stamps.strftime(self.fmt)]
        return [s.isoformat() for s in stamps]

    def labels(self, rows: np.ndarray) -> list[Any]:
        if self.freq is None:
            return [int(v) for v in self.values[rows]]
        return self._text(pd.DatetimeIndex(self.values[rows]))

    def labels_after(self, count: int) -> list[Any]:
        if self.freq is None:
            assert self.step is not None
            last = int(self.values[-1])
            return [last + self.step * (k + 1) for k in range(count)]
        stamps = pd.date_range(pd.Timestamp(self.values[-1]), periods=count + 1, freq=self.freq)
        return self._text(stamps[1:])


def _at(row_numbers: np.ndarray, i: int) -> int:
    return int(row_numbers[i])


def parse_time(
    column: pd.Series, name: str, row_numbers: np.ndarray, path: Path, dropped: bool = False
) -> TimeIndex:
    """Parse and check the time column (the rows kept by ``data.missing``)."""
    column = column.reset_index(drop=True)
    missing = np.flatnonzero(column.isna().to_numpy())
    if missing.size:
        raise UserError(
            f"column '{name}' has no time at row {_at(row_numbers, int(missing[0]))} of {path}",
            FIELD,
        )
    if pd.api.types.is_integer_dtype(column):
        values = column.to_numpy(dtype=np.int64)
        _check_order(values, name, row_numbers, lambda i: str(values[i]))
        diffs = np.diff(values)
        step = int(diffs[0]) if diffs.size else 1
        bad = np.flatnonzero(diffs != step)
        if bad.size:
            i = int(bad[0]) + 1
            _gap(name, row_numbers, i, str(values[i]), str(values[i - 1] + step), dropped)
        return TimeIndex(values, None, step, None)
    if pd.api.types.is_datetime64_any_dtype(column):
        parsed = pd.to_datetime(column)
    else:
        text = column.astype(str)
        try:
            parsed = pd.to_datetime(text, errors="coerce", format="mixed")
        except (ValueError, TypeError, OverflowError):
            parsed = pd.Series(pd.NaT, index=text.index)
        bad = np.flatnonzero(parsed.isna().to_numpy())
        if bad.size:
            i = int(bad[0])
            shown = text.iloc[i][:40]
            raise UserError(
                f"column '{name}' has {shown!r} at row {_at(row_numbers, i)} of {path}: not a "
                "date or time (or give integers)",
                FIELD,
            )
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    stamps = pd.DatetimeIndex(parsed)
    values = stamps.to_numpy(dtype="datetime64[ns]")
    _check_order(values, name, row_numbers, lambda i: str(stamps[i]))
    if values.size < 3:
        raise UserError(f"column '{name}' needs at least 3 rows to infer a frequency", FIELD)
    freq = pd.infer_freq(stamps)
    if freq is None:
        # the frequency most runs of 3 rows agree on (only on this error path, at most 50)
        runs = [pd.infer_freq(stamps[i : i + 3]) for i in range(min(50, len(stamps) - 2))]
        found = [g for g in runs if g is not None]
        guess = max(set(found), key=found.count) if found else None
        if guess is None:
            raise UserError(
                f"cannot infer a regular frequency from column '{name}' (rows "
                f"{_at(row_numbers, 0)}-{_at(row_numbers, 2)}: {stamps[0]}, {stamps[1]}, "
                f"{stamps[2]})",
                FIELD,
            )
        expected = pd.date_range(stamps[0], periods=len(stamps), freq=guess)
        i = int(np.flatnonzero(expected != stamps)[0])
        _gap(name, row_numbers, i, str(stamps[i]), str(expected[i]), dropped, guess)
        raise AssertionError("unreachable")
    fmt = None
    if not pd.api.types.is_datetime64_any_dtype(column):
        first = str(column.iloc[0])
        fmt = next((f for f in FORMATS if stamps[0].strftime(f) == first), None)
    return TimeIndex(values, freq, None, fmt)


def _check_order(values: np.ndarray, name: str, row_numbers: np.ndarray, show: Any) -> None:
    diffs = np.diff(values)
    zero = diffs == np.zeros((), diffs.dtype)
    back = diffs < np.zeros((), diffs.dtype)
    for bad, what in ((back, "is not sorted"), (zero, "has a duplicate")):
        where = np.flatnonzero(bad)
        if where.size:
            i = int(where[0]) + 1
            raise UserError(
                f"column '{name}' {what}: row {_at(row_numbers, i)} ({show(i)}) follows row "
                f"{_at(row_numbers, i - 1)} ({show(i - 1)}); sort the rows and remove repeats",
                FIELD,
            )


def _gap(
    name: str,
    row_numbers: np.ndarray,
    i: int,
    got: str,
    expected: str,
    dropped: bool,
    freq: str | None = None,
) -> None:
    how = f" at frequency {freq}" if freq else ""
    cause = (
        "; data.missing: drop removed rows (use ffill to keep every row)"
        if dropped
        else "; add the missing rows (data.missing: ffill fills empty values)"
    )
    raise UserError(
        f"column '{name}' has a gap: row {_at(row_numbers, i)} is {got}, expected {expected}"
        f"{how}{cause}",
        FIELD,
    )


def calendar_columns(
    time: TimeIndex, names: tuple[str, ...], field: str = "data.calendar"
) -> np.ndarray:
    """The sin/cos pair of each calendar input per row, shape (rows, 2 * len(names));
    a calendar the index cannot give is refused in one line naming ``field``."""
    if not names:
        return np.zeros((time.values.size, 0))
    if not time.is_datetime:
        raise UserError("calendar inputs need dates in data.time, not integers", field)
    stamps = pd.DatetimeIndex(time.values)
    step = np.median(np.diff(time.values)) if time.values.size > 1 else None
    columns = []
    for name in names:
        longest, words = CALENDAR_STEP[name]
        if step is not None and step > longest:
            raise UserError(
                f"'{name}' needs an index of one row {words} or finer; '{time.freq}' is coarser",
                field,
            )
        if name == "month":
            phase = stamps.month.to_numpy() - 1
        elif name == "day_of_week":
            phase = stamps.dayofweek.to_numpy()
        else:
            phase = stamps.hour.to_numpy()
        if np.ptp(phase) == 0:
            raise UserError(
                f"'{name}' is the same on every row at {time.freq_text}: it tells the model "
                "nothing",
                field,
            )
        angle = 2 * np.pi * phase / CALENDAR_CYCLES[name]
        columns += [np.sin(angle), np.cos(angle)]
    return np.stack(columns, axis=1)
