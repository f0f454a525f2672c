"""Target transforms of a forecast (applied before scaling) and their exact inverses.

``z = forward(name, y, period)`` has the length of ``y``; its first ``lost_rows(name, period)``
entries are NaN (no earlier value to difference against). ``inverse`` rebuilds ``y_t`` from a
predicted ``z_t`` and the *true* past values of ``y`` (one-step-ahead); over a horizon of H
steps from an origin it uses the true values before the origin and, where a difference
reaches past the origin (step h >= lag), the forecast of step h - lag.

The ``deseason`` framings take out seasonal indices fitted on the training rows
(:mod:`seqtune.data.seasonal`; ``season`` below): ``deseason`` is ``y_t - s_t``,
``deseason_diff`` its first difference (the trend taken out too), ``log_deseason_diff`` the
same on ``log y`` (indices of the logs). The inverse adds ``s_t`` of the forecast row back.
(``log y_t - s_t`` undifferenced was measured and left out: docs/hybrid.md.)
"""

from __future__ import annotations

import numpy as np

from seqtune.data.seasonal import Season, fit_indices
from seqtune.errors import UserError, suggest_name

DESEASON = ("deseason", "deseason_diff", "log_deseason_diff")
TRANSFORMS = ("none", "log", "diff", "log_diff", "seasonal_diff", "log_seasonal_diff", *DESEASON)
SEASONAL = ("seasonal_diff", "log_seasonal_diff", *DESEASON)
LOGS = ("log", "log_diff", "log_seasonal_diff", "log_deseason_diff")


def lost_rows(name: str, period: int | None) -> int:
    """Rows lost at the start of the series: 0, 1 or ``period``."""
    if name in ("none", "log", "deseason"):
        return 0
    if name in ("diff", "log_diff", "deseason_diff", "log_deseason_diff"):
        return 1
    if name in SEASONAL:
        if period is None:
            raise ValueError(f"{name} needs a period")
        return period
    raise ValueError(f"unknown transform {name!r}")


def check(
    name: object,
    task: str,
    y: np.ndarray,
    period: int | None,
    target: str,
    row_numbers: np.ndarray,
) -> None:
    """Refuse a transform that does not apply to this target (UserError on ``space.transform``)."""
    field = "space.transform"
    if not isinstance(name, str) or name not in TRANSFORMS:
        hint = suggest_name(name, TRANSFORMS) if isinstance(name, str) else ""
        raise UserError(
            f"unknown transform {name!r}{hint}; expected one of: {', '.join(TRANSFORMS)}", field
        )
    if task == "classify":
        if name != "none":
            raise UserError(
                f"'{name}' transforms a forecast target; a classify target takes only 'none'",
                field,
            )
        return
    if name in SEASONAL and period is None:
        raise UserError(f"'{name}' needs the season length: set data.period (e.g. 12)", field)
    if name in DESEASON and period is not None and period < 2:
        raise UserError(
            f"'{name}' needs a season of at least 2 rows, data.period is {period}", field
        )
    if name in LOGS:
        bad = np.flatnonzero(y <= 0)
        if bad.size:
            i = int(bad[0])
            raise UserError(
                f"'{name}' needs a positive target, but '{target}' is {y[i]:g} "
                f"at row {int(row_numbers[i])}",
                field,
            )


def fit_season(name: str, y: np.ndarray, period: int | None, n_train: int) -> Season | None:
    """The seasonal indices a ``deseason`` framing takes out, fitted on ``y[:n_train]``
    (logs for a log framing); None for every other transform.

    Examples
    --------
    >>> y = np.tile([1.0, 3.0], 4) + np.arange(8.0)
    >>> fit_season("deseason", y, 2, 6).indices.tolist()
    [-1.0, 1.0]
    >>> fit_season("diff", y, 2, 6) is None
    True
    """
    if name not in DESEASON:
        return None
    if period is None:
        raise ValueError(f"{name} needs a period")
    base = np.asarray(y[:n_train], np.float64)
    return Season(fit_indices(np.log(base) if name in LOGS else base, period))


def _needs(name: str, season: Season | None) -> Season:
    if season is None:
        raise ValueError(f"{name} needs the seasonal indices of its training rows")
    return season


def _base(name: str, y: np.ndarray, season: Season | None) -> np.ndarray:
    """The series the differences are taken of: ``y``, ``log y``, minus ``s_t`` if deseason."""
    base = np.log(y) if name in LOGS else y
    if name in DESEASON:
        base = base - _needs(name, season).at(np.arange(base.size))
    return base


def forward(
    name: str, y: np.ndarray, period: int | None, season: Season | None = None
) -> np.ndarray:
    """``z`` (float64, same length as ``y``, NaN on the lost rows); ``season`` (row 0 of
    ``y`` at its ``phase``) for a ``deseason`` framing."""
    y = np.asarray(y, dtype=np.float64)
    base = _base(name, y, season)
    lag = lost_rows(name, period)
    if lag == 0:
        return base.copy()
    z = np.full_like(base, np.nan)
    z[lag:] = base[lag:] - base[:-lag]
    return z


def inverse(
    name: str,
    z: np.ndarray,
    y: np.ndarray,
    rows: np.ndarray,
    period: int | None,
    season: Season | None = None,
) -> np.ndarray:
    """``y_t`` for predicted ``z`` at target rows ``rows``, from the true past values in ``y``.

    ``z`` of shape (n,): one step per row. ``z`` of shape (n, H): row ``k`` holds steps
    ``rows[k] .. rows[k] + H - 1`` forecast from the origin before ``rows[k]``; only values of
    ``y`` before ``rows[k]`` are read (``rows[k]`` may be ``len(y)``: a forecast past the data).
    """
    z = np.asarray(z, dtype=np.float64)
    rows = np.asarray(rows)
    if name in DESEASON:
        return _inverse_deseason(name, z, np.asarray(y, np.float64), rows, _needs(name, season))
    if z.ndim == 2:
        return _inverse_horizon(name, z, y, rows, period)
    lag = lost_rows(name, period)
    if lag == 0:
        return np.exp(z) if name in LOGS else z.copy()
    past = np.asarray(y, dtype=np.float64)[rows - lag]
    if name in LOGS:
        return np.exp(np.log(past) + z)
    return past + z


def _inverse_deseason(
    name: str, z: np.ndarray, y: np.ndarray, rows: np.ndarray, season: Season
) -> np.ndarray:
    """The inverse of a ``deseason`` framing: undo the difference (if any) on the
    deseasonalised series, add the season of each forecast row back, undo the log."""
    at = rows if z.ndim == 1 else rows[:, None] + np.arange(z.shape[1])
    if lost_rows(name, None) == 0:
        out = z
    else:
        # the deseasonalised value before the origin is the true one; past it, the forecast
        past = y[rows - 1]
        prev = (np.log(past) if name in LOGS else past) - season.at(rows - 1)
        out = np.cumsum(z, axis=1) + prev[:, None] if z.ndim == 2 else prev + z
    out = out + season.at(at)
    return np.exp(out) if name in LOGS else out


def _inverse_horizon(
    name: str, z: np.ndarray, y: np.ndarray, rows: np.ndarray, period: int | None
) -> np.ndarray:
    """Multi-step inverse: a loop over the H steps, vectorised over the windows."""
    lag = lost_rows(name, period)
    if lag == 0:
        return np.exp(z) if name in LOGS else z.copy()
    y = np.asarray(y, dtype=np.float64)
    base = np.log(y) if name in LOGS else y
    out = np.empty_like(z)
    for h in range(z.shape[1]):
        # the value one lag earlier: true while it is before the origin, else forecast
        prev = base[rows + h - lag] if h < lag else out[:, h - lag]
        out[:, h] = prev + z[:, h]
    return np.exp(out) if name in LOGS else out
