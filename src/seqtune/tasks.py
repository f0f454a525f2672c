"""What a study predicts — a forecast or a class — and everything that depends on it.

A :class:`Task` owns the windows a trial trains on (through the table), the model's output
head (activation and width; the loss follows from the head), the mapping of raw model
outputs into the units the metrics read, the truth they compare against, the objectives
it allows and the test report. Code that must act differently per task asks the task
object (``task_of(spec.data.task)``) instead of comparing its name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from seqtune.data import Table, Windows
from seqtune.data.spec import parse_calendar
from seqtune.models.params import CATALOGUE
from seqtune.objectives.registry import BUILTINS, test_report

ToUnits = Callable[[np.ndarray], np.ndarray]


class Task(ABC):
    name: ClassVar[str]
    #: predictions can be written out as a time series (predictions.csv, the forecast plot)
    forecasts: ClassVar[bool] = False

    def windows(self, table: Table, values: dict[str, Any], seed: int) -> Windows:
        """The windows of one configuration (its look-back, transform and calendar inputs;
        the catalogue's defaults, and ``data.calendar``, where the space leaves them out)."""
        look_back = values.get("look_back", CATALOGUE["look_back"].defaults["lstm"])
        transform = values.get("transform", CATALOGUE["transform"].defaults["lstm"])
        return table.windows(
            int(look_back), str(transform), seed=seed, calendar=calendar_of(values)
        )

    @abstractmethod
    def head(self, windows: Windows) -> tuple[str, int]:
        """The output layer: (activation, width)."""

    @abstractmethod
    def truth(self, windows: Windows, part: str) -> np.ndarray:
        """What the metrics compare predictions of ``part`` against."""

    @abstractmethod
    def to_units(self, windows: Windows, part: str) -> ToUnits:
        """Raw model outputs on ``part`` → the units the metrics read."""

    def objectives(self) -> tuple[str, ...]:
        """The built-in objectives of this task."""
        return tuple(name for name, (_, task, _) in BUILTINS.items() if task == self.name)

    def report(self, y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
        """The metrics of one part (test) for export and train."""
        return test_report(self.name, y_true, y_pred)


class Forecast(Task):
    """Forecast ``horizon`` values of the target from each window, in original units."""

    name = "forecast"
    forecasts = True

    def head(self, windows: Windows) -> tuple[str, int]:
        return "linear", windows.horizon  # direct multi-output: one head of H values

    def truth(self, windows: Windows, part: str) -> np.ndarray:
        return windows.truth(part)

    def to_units(self, windows: Windows, part: str) -> ToUnits:
        if windows.horizon > 1:  # (n, H): inverted over the whole horizon
            return lambda raw: windows.to_original(part, raw.reshape(raw.shape[0], -1))
        return lambda raw: windows.to_original(part, raw.reshape(-1))


class Classify(Task):
    """The class of each window: probabilities out, class indices as truth."""

    name = "classify"

    def head(self, windows: Windows) -> tuple[str, int]:
        k = len(windows.classes) if windows.classes is not None else 2
        return ("sigmoid", 1) if k <= 2 else ("softmax", k)

    def truth(self, windows: Windows, part: str) -> np.ndarray:
        return windows.truth(part)

    def to_units(self, windows: Windows, part: str) -> ToUnits:
        return lambda raw: raw.reshape(-1) if raw.ndim == 2 and raw.shape[1] == 1 else raw


TASKS: dict[str, Task] = {t.name: t for t in (Forecast(), Classify())}


def calendar_of(values: dict[str, Any]) -> tuple[str, ...] | None:
    """The calendar inputs a configuration chose (``calendar`` in the space: ``none``,
    ``month``, ``day_of_week+hour``, ...), or None when the space leaves the calendar to
    ``data.calendar``."""
    if "calendar" not in values:
        return None
    return parse_calendar(values["calendar"])


def task_of(name: str) -> Task:
    return TASKS[name]
