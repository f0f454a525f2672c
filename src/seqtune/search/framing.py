"""What a trial reads, without what it trains: the windows of a configuration on a loaded
table and the study's metrics. :class:`~seqtune.search.runner.Runner` builds on it to
train; ``status`` scores its baselines with it alone, so that reading a study never loads
TensorFlow (nothing here imports it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from seqtune.data import Table, Windows
from seqtune.kinds import kind_of
from seqtune.models.params import resolve
from seqtune.objectives import load_user_function, task_metrics
from seqtune.objectives.guard import guarded
from seqtune.spec import Spec
from seqtune.tasks import calendar_of, task_of


class Framing:
    """The windows and metrics of one spec on one loaded table.

    Examples
    --------
    >>> from seqtune.search.framing import Framing
    >>> framing = Framing(spec, table)  # doctest: +SKIP
    >>> [w.look_back for w in framing.member_windows({"look_back": 12})]  # doctest: +SKIP
    [12, 12, 12, 12]
    """

    def __init__(self, spec: Spec, table: Table) -> None:
        self.spec = spec
        self.table = table
        self.task = task_of(spec.data.task)
        self._user_fn = None
        if spec.objective.function is not None:
            # raises, exits, hangs, returns a non-number: one UserError naming it (a bug
            # in it would fail every trial alike, so the study stops)
            self._user_fn = guarded(
                load_user_function(spec.objective.function, spec.objective.path),
                spec.objective.function,
                spec.objective.timeout,
            )

    def windows(self, values: dict[str, Any]) -> Windows:
        """The holdout windows a trial of ``values`` reads."""
        return self.task.windows(self.table, values, self.spec.seed)

    def metrics(self, batch_size: int) -> dict[str, Callable[[np.ndarray, np.ndarray], float]]:
        """Every metric of the study's task, the study's own objective function included."""
        out = task_metrics(self.spec.data.task, batch_size)
        if self._user_fn is not None:
            out[self.spec.objective.name] = self._user_fn
        return out

    def resolved(self, values: dict[str, Any]) -> dict[str, Any]:
        """A trial's ``values`` completed with the defaults of the kind it builds
        (:func:`seqtune.kinds.kind_of`, :func:`seqtune.models.params.resolve`)."""
        return resolve(kind_of(self.spec, values), values)

    def member_windows(self, values: dict[str, Any]) -> list[Windows]:
        """The windows a trial of ``values`` trains its models on, one per rolling-origin
        fold (``folds: 1``: the holdout's train and val), with its framing and calendar."""
        resolved = self.resolved(values)
        look_back, transform = int(resolved["look_back"]), str(resolved["transform"])
        calendar = calendar_of(values)
        return [
            self.table.fold_windows(f, look_back, transform, calendar)
            for f in range(len(self.table.fold_plan))
        ]
