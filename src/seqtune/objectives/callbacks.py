"""Keras callbacks: one writes the objective into the epoch logs, one keeps the best epoch.

Because the objective is in the logs, early stopping, Optuna pruning and keras-tuner all
read the same number, whichever training loop runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from seqtune.objectives.registry import MetricFn


class ObjectiveCallback(keras.callbacks.Callback):
    """At every epoch end, predict the whole validation set and write each metric into logs.

    ``predict`` maps inputs to raw model outputs; ``to_original`` maps those to the units
    the metrics expect (inverse scaling and transform for forecasts).
    """

    def __init__(
        self,
        predict: Callable[[np.ndarray], np.ndarray],
        x: np.ndarray,
        y_true: np.ndarray,
        to_original: Callable[[np.ndarray], np.ndarray],
        metrics: dict[str, MetricFn],
    ) -> None:
        super().__init__()
        self.predict, self.x, self.y_true = predict, x, y_true
        self.to_original, self.metrics = to_original, metrics

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if logs is None:
            return
        y_pred = self.to_original(self.predict(self.x))
        finite = bool(np.all(np.isfinite(y_pred)))
        for name, fn in self.metrics.items():
            logs[name] = float(fn(self.y_true, y_pred)) if finite else float("nan")


class KeepBest(keras.callbacks.Callback):
    """Track the best epoch of ``monitor``, stop after ``patience`` epochs without
    improvement (``None``: never), and restore the best epoch's weights at the end."""

    def __init__(self, monitor: str, direction: str, patience: int | None = None) -> None:
        super().__init__()
        self.monitor, self.direction, self.patience = monitor, direction, patience
        self.best_value: float | None = None
        self.best_epoch: int | None = None
        self.best_logs: dict[str, float] = {}
        self._weights: list[np.ndarray] | None = None
        self._variables: list[Any] = []

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        # the variables, listed once: model.get_weights() walks the layers every call
        # (1.2 ms against 0.3 ms for an LSTM(32), and it runs on every improving epoch)
        self._variables = list(self.model.weights)

    def _better(self, value: float) -> bool:
        if not np.isfinite(value):
            return False
        if self.best_value is None:
            return True
        return value < self.best_value if self.direction == "minimize" else value > self.best_value

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is not None and self._better(float(value)):
            self.best_value, self.best_epoch = float(value), epoch
            self.best_logs = {k: float(v) for k, v in logs.items()}
            variables = self._variables or self.model.weights
            self._weights = [v.numpy() for v in variables]
        elif (
            self.patience is not None
            and self.best_epoch is not None
            and epoch - self.best_epoch >= self.patience
        ):
            self.model.stop_training = True

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self._weights is not None:
            for variable, value in zip(
                self._variables or self.model.weights, self._weights, strict=True
            ):
                variable.assign(value)
