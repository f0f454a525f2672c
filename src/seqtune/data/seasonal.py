"""Seasonal indices of a classical decomposition, fitted on training rows only.

The ``deseason`` framings (:mod:`seqtune.data.transforms`) show the network the series with
its season taken out: ``y_t - s_t`` (or ``log y_t - s_t``), ``s_t`` the seasonal index of
row ``t``'s position in the period. The indices are those of a classical decomposition of
the fitted rows (a fold's training rows, or every row before the test part for the refit):
the trend is the centred moving average over one period (``2 x p`` for an even period),
the index of a position the mean of ``base - trend`` over the rows at that position, the
indices centred to sum to zero. Nothing after the fitted rows is read; any later row —
validation, test, or a forecast's recent rows — is deseasonalised and re-seasonalised with
the same indices, so the inversion is exact.

The position of a row in the period is ``(row + phase) % period``: ``phase`` is 0 for the
model's own table (row 0 at position 0) and, for the recent rows of a forecast, the number
of steps from the model's first row to the first recent row (:func:`steps_between`, from
the time index; without ``data.time`` the recent rows are taken to start at the same
position in the season as the model's data, as the data file itself does).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class Season:
    """Seasonal indices by position in the period, and the position of row 0.

    Examples
    --------
    >>> s = Season(np.array([-1.0, 1.0]), phase=1)
    >>> s.at(np.arange(3)).tolist()
    [1.0, -1.0, 1.0]
    """

    indices: np.ndarray
    phase: int = 0

    @property
    def period(self) -> int:
        return int(self.indices.size)

    def at(self, rows: np.ndarray) -> np.ndarray:
        """The index of each row in ``rows`` (any shape, any integer, past the data too)."""
        return self.indices[(np.asarray(rows, np.int64) + self.phase) % self.period]

    def shifted(self, steps: int) -> Season:
        """The same indices for rows whose row 0 is ``steps`` rows after this one's."""
        return replace(self, phase=int((self.phase + steps) % self.period))


def fit_indices(base: np.ndarray, period: int) -> np.ndarray:
    """Classical seasonal indices (additive, summing to 0) of ``base``, whose row 0 is at
    position 0; needs two full periods.

    Examples
    --------
    >>> t = np.arange(48.0)
    >>> np.round(fit_indices(0.5 * t + np.tile([3.0, -1.0, -2.0, 0.0], 12), 4), 6).tolist()
    [3.0, -1.0, -2.0, 0.0]
    """
    base = np.asarray(base, np.float64)
    if period < 2 or base.size < 2 * period:
        raise ValueError(f"seasonal indices need two periods of {period} rows, got {base.size}")
    if period % 2:
        weights = np.full(period, 1.0 / period)
    else:  # 2 x p moving average: centred on a row
        weights = np.full(period + 1, 1.0 / period)
        weights[[0, -1]] = 0.5 / period
    half = weights.size // 2
    trend = np.convolve(base, weights, mode="valid")
    rows = np.arange(half, half + trend.size)
    detrended = base[rows] - trend
    position = rows % period
    indices = np.bincount(position, detrended, period) / np.bincount(position, None, period)
    return indices - indices.mean()


def steps_between(first: object, later: object, freq: str | None, step: int | None) -> int:
    """Steps of a regular time index from ``first`` to ``later`` (negative when before):
    integers by ``step``, dates at pandas frequency ``freq``.

    Examples
    --------
    >>> steps_between("1949-01-01", "1950-03-01", "MS", None)
    14
    >>> steps_between(10, 4, None, 2)
    -3
    """
    if freq is None:
        return (int(later) - int(first)) // int(step or 1)  # type: ignore[call-overload]
    import pandas as pd  # here: `status` imports this module and never counts steps

    a, b = pd.Timestamp(first), pd.Timestamp(later)  # type: ignore[arg-type]
    if b >= a:
        return len(pd.date_range(a, b, freq=freq)) - 1
    return 1 - len(pd.date_range(b, a, freq=freq))
