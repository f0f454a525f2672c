"""Target transforms of a forecast (applied before scaling) and their exact inverses.

``z = forward(name, y, period)`` has the length of ``y``; its first ``lost_rows(name, period)``
entries are NaN (no earlier value to difference against). ``inverse`` rebuilds ``y_t`` from a
predicted ``z_t`` and the *true* past values of ``y`` (one-step-ahead); over a horizon of H
steps from an origin it uses the true values before the origin and, where a difference
reaches past the origin (step h >= lag), the forecast of step h - lag.
"""

from __future__ import annotations

import numpy as np

from seqtune.errors import UserError, suggest_name

TRANSFORMS = ("none", "log", "diff", "log_diff", "seasonal_diff", "log_seasonal_diff")
SEASONAL = ("seasonal_diff", "log_seasonal_diff")
LOGS = ("log", "log_diff", "log_seasonal_diff")


def lost_rows(name: str, period: int | None) -> int:
    """Rows lost at the start of the series: 0, 1 or ``period``."""
    if name in ("none", "log"):
        return 0
    if name in ("diff", "log_diff"):
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
    if name in LOGS:
        bad = np.flatnonzero(y <= 0)
        if bad.size:
            i = int(bad[0])
            raise UserError(
                f"'{name}' needs a positive target, but '{target}' is {y[i]:g} "
                f"at row {int(row_numbers[i])}",
                field,
            )


def forward(name: str, y: np.ndarray, period: int | None) -> np.ndarray:
    """``z`` (float64, same length as ``y``, NaN on the lost rows)."""
    y = np.asarray(y, dtype=np.float64)
    base = np.log(y) if name in LOGS else y
    lag = lost_rows(name, period)
    if lag == 0:
        return base.copy()
    z = np.full_like(base, np.nan)
    z[lag:] = base[lag:] - base[:-lag]
    return z


def inverse(
    name: str, z: np.ndarray, y: np.ndarray, rows: np.ndarray, period: int | None
) -> np.ndarray:
    """``y_t`` for predicted ``z`` at target rows ``rows``, from the true past values in ``y``.

    ``z`` of shape (n,): one step per row. ``z`` of shape (n, H): row ``k`` holds steps
    ``rows[k] .. rows[k] + H - 1`` forecast from the origin before ``rows[k]``; only values of
    ``y`` before ``rows[k]`` are read (``rows[k]`` may be ``len(y)``: a forecast past the data).
    """
    z = np.asarray(z, dtype=np.float64)
    if z.ndim == 2:
        return _inverse_horizon(name, z, y, np.asarray(rows), period)
    lag = lost_rows(name, period)
    if lag == 0:
        return np.exp(z) if name in LOGS else z.copy()
    past = np.asarray(y, dtype=np.float64)[np.asarray(rows) - lag]
    if name in LOGS:
        return np.exp(np.log(past) + z)
    return past + z


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
