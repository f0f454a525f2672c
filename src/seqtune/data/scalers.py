"""Per-column scalers: ``scaled = (x - offset) / scale``, fitted on training rows only."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Scaler:
    """``kind`` is minmax (to [0, 1] on the fitted rows), standard (mean 0, sd 1) or none.

    ``offset`` and ``scale`` hold one value per column (a column that is constant on the
    fitted rows gets scale 1, so it maps to 0 instead of dividing by zero).
    """

    kind: str
    offset: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, kind: str, x: np.ndarray) -> Scaler:
        """Fit on ``x`` of shape (rows, columns): pass the training rows and nothing else."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2:
            raise ValueError(f"expected a 2-D array, got shape {x.shape}")
        n_cols = x.shape[1]
        if kind == "none" or x.shape[0] == 0:
            if kind != "none":
                raise ValueError("cannot fit a scaler on zero rows")
            return cls(kind, np.zeros(n_cols), np.ones(n_cols))
        if kind == "minmax":
            offset = x.min(axis=0)
            scale = x.max(axis=0) - offset
        elif kind == "standard":
            offset = x.mean(axis=0)
            scale = x.std(axis=0)
        else:
            raise ValueError(f"unknown scaler {kind!r}")
        scale = np.where(scale > 0, scale, 1.0)
        return cls(kind, offset, scale)

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Scale (float64); ``x`` has the fitted columns last."""
        return (np.asarray(x, dtype=np.float64) - self.offset) / self.scale

    def inverse(self, x: np.ndarray) -> np.ndarray:
        """Undo :meth:`transform` (float64)."""
        return np.asarray(x, dtype=np.float64) * self.scale + self.offset
