"""What happens to one epoch's validation predictions: scored, and kept if best.

Plain functions and a small tracker, applied by the trial loop to each epoch record of
the compiled fit (``seqtune.models.training.train_epochs``). Whatever asks about an epoch
— the objective, keep-best, patience, the pruner, the progress line — reads the one
``scores`` dict computed here, so every backend sees the same number.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from seqtune.objectives.registry import BY_STEP, MetricFn, Objective, by_step_names


def score(y_true: np.ndarray, y_pred: np.ndarray, metrics: dict[str, MetricFn]) -> dict[str, float]:
    """Every metric of one set of predictions; all NaN when a prediction is not finite
    (a model that blew up is never scored as good). Forecasts of a horizon H > 1 (truth of
    shape (n, H)) add each step's value of the built-ins that have one (:func:`by_step`)."""
    finite = bool(np.all(np.isfinite(y_pred)))
    out = {
        name: float(fn(y_true, y_pred)) if finite else float("nan") for name, fn in metrics.items()
    }
    out.update(by_step(y_true, y_pred, metrics, finite))
    return out


def by_step(
    y_true: np.ndarray, y_pred: np.ndarray, metrics: dict[str, MetricFn], finite: bool = True
) -> dict[str, float]:
    """``val_rmse_h1`` … ``val_rmse_hH`` and ``val_mae_h1`` … for forecasts of H > 1 steps
    (in original units, over the windows; one vectorised pass per metric, so an epoch pays
    microseconds for them); nothing for H = 1 or a classification."""
    t = np.asarray(y_true)
    if t.ndim != 2 or t.shape[1] < 2:
        return {}
    out: dict[str, float] = {}
    for name, fn in BY_STEP.items():
        if name not in metrics:
            continue
        values = fn(t, y_pred).tolist() if finite else [float("nan")] * t.shape[1]
        out.update(zip(by_step_names(name, t.shape[1]), values, strict=True))
    return out


class BestEpoch:
    """The best epoch so far of one objective, with a copy of its weights.

    ``patience``: epochs without improvement after which :meth:`exhausted` is true
    (``None``: never). Non-finite values never improve.
    """

    def __init__(self, objective: Objective, patience: int | None = None) -> None:
        self.objective, self.patience = objective, patience
        self.value: float | None = None
        self.epoch: int | None = None  # 0-based
        self.scores: dict[str, float] = {}
        self._weights: list[np.ndarray] | None = None

    def offer(self, epoch: int, scores: dict[str, float], variables: Sequence[Any]) -> bool:
        """Record ``epoch`` if its objective beats the best so far (copying the values of
        ``variables``, the model's weights); True when it did."""
        value = scores.get(self.objective.name)
        if value is None or not self.objective.better(float(value), self.value):
            return False
        self.value, self.epoch, self.scores = float(value), epoch, dict(scores)
        self._weights = [np.array(v.numpy(), copy=True) for v in variables]
        return True

    def exhausted(self, epoch: int) -> bool:
        """Whether ``patience`` epochs passed since the best one (early stopping)."""
        return (
            self.patience is not None
            and self.epoch is not None
            and epoch - self.epoch >= self.patience
        )

    def restore(self, variables: Sequence[Any]) -> None:
        """Put the best epoch's weights back into ``variables`` (nothing if none was best)."""
        if self._weights is not None:
            for variable, value in zip(variables, self._weights, strict=True):
                variable.assign(value)
