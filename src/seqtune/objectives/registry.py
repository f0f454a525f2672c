"""Objectives by name: how each is computed and which direction is better.

Built-ins are computed on the whole validation set every epoch. A user objective is
``module:function`` with an explicit direction; the function receives the same arrays as
the built-ins of its task (forecast: true values and predictions in original units;
classify: class indices and probabilities) and returns a float.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seqtune.errors import UserError, check_keys, suggest_name
from seqtune.objectives import metrics as m
from seqtune.objectives.guard import DEFAULT_TIMEOUT

MetricFn = Callable[[np.ndarray, np.ndarray], float]
DIRECTIONS = ("minimize", "maximize")
TASKS = ("forecast", "classify")
#: the keys of an objective given as a mapping
OBJECTIVE_KEYS = ("name", "direction", "path", "timeout")

#: name -> (direction, task, function). ``val_batch_f1`` is bound to the trial's batch size.
BUILTINS: dict[str, tuple[str, str, Any]] = {
    "val_rmse": ("minimize", "forecast", m.rmse),
    "val_mae": ("minimize", "forecast", m.mae),
    "val_f1": ("maximize", "classify", m.f1),
    "val_batch_f1": ("maximize", "classify", m.batch_f1),
    "val_accuracy": ("maximize", "classify", m.accuracy),
    "val_precision": ("maximize", "classify", m.precision),
    "val_recall": ("maximize", "classify", m.recall),
    "val_pr_auc": ("maximize", "classify", m.pr_auc),
}


#: built-ins that also have a value per step of a horizon H > 1, kept as trial metrics
#: ``<name>_h1`` … ``<name>_h<H>`` (see :func:`by_step_name`)
BY_STEP: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "val_rmse": m.rmse_by_step,
    "val_mae": m.mae_by_step,
}


def by_step_name(name: str, step: int) -> str:
    """The metric name of step ``step`` (1-based) of the built-in ``name``: ``val_rmse_h3``."""
    return f"{name}_h{step}"


@functools.cache
def by_step_names(name: str, horizon: int) -> tuple[str, ...]:
    """``<name>_h1`` … ``<name>_h<horizon>``, made once per study (every epoch asks)."""
    return tuple(by_step_name(name, h) for h in range(1, horizon + 1))


def by_step_values(metrics: dict[str, Any], name: str) -> list[float]:
    """The per-step values of ``name`` (``<name>_h1``, ``<name>_h2``, … while present) in a
    trial's metrics; empty for a horizon of 1 or a trial recorded before they existed."""
    out: list[float] = []
    while (value := metrics.get(by_step_name(name, len(out) + 1))) is not None:
        out.append(float(value))
    return out


@dataclass(frozen=True)
class Objective:
    """The number a study optimises: its log key, direction and how to compute it."""

    name: str
    direction: str
    task: str | None
    function: str | None = None  # "module:function" for a user objective
    path: Path | None = None  # the folder its module is imported from (default: the spec's)
    timeout: float | None = DEFAULT_TIMEOUT  # seconds per call of a user objective (None: none)

    def better(self, a: float, b: float | None) -> bool:
        """Whether value ``a`` beats ``b`` (``None`` is beaten by any finite value)."""
        if not np.isfinite(a):
            return False
        if b is None:
            return True
        return a < b if self.direction == "minimize" else a > b

    def to_spec(self, relative_to: Path | None = None) -> Any:
        """The spec form; a user objective's folder relative to ``relative_to`` when given."""
        if self.function is None:
            return self.name
        out: dict[str, Any] = {"name": self.function, "direction": self.direction}
        if self.path is not None:
            out["path"] = (
                str(self.path) if relative_to is None else os.path.relpath(self.path, relative_to)
            )
        if self.timeout != DEFAULT_TIMEOUT:
            out["timeout"] = self.timeout
        return out


def parse_objective(
    raw: Any, task: str, base_dir: Path | None = None, field: str = "objective"
) -> Objective:
    """Validate the spec's ``objective`` entry for a task (nothing is imported yet).

    A user objective's module is looked up in ``path`` (relative to ``base_dir``, the spec's
    folder; default the spec's folder itself), then on the ordinary import path."""
    direction: str | None = None
    folder: Path | None = base_dir
    timeout: float | None = DEFAULT_TIMEOUT
    given_timeout = isinstance(raw, dict) and "timeout" in raw
    if isinstance(raw, dict):
        check_keys(raw, OBJECTIVE_KEYS, field)
        if "timeout" in raw:
            timeout = _parse_timeout(raw["timeout"], f"{field}.timeout")
        if "path" in raw:
            if not isinstance(raw["path"], str) or not raw["path"]:
                raise UserError(f"expected a folder path, got {raw['path']!r}", f"{field}.path")
            folder = (base_dir or Path.cwd()) / raw["path"]
            if not folder.is_dir():
                raise UserError(f"no such folder: {folder}", f"{field}.path")
        if "name" not in raw:
            raise UserError("missing 'name'", field)
        direction = raw.get("direction")
        if direction is not None and direction not in DIRECTIONS:
            raise UserError(
                f"'{direction}' is not one of {', '.join(DIRECTIONS)}", f"{field}.direction"
            )
        raw = raw["name"]
    if not isinstance(raw, str) or not raw:
        raise UserError(f"expected an objective name, got {raw!r}", field)
    if ":" in raw:
        module, _, func = raw.partition(":")
        if not module or not func.isidentifier():
            raise UserError(f"'{raw}' is not of the form module:function", field)
        if direction is None:
            raise UserError(
                f"user objective '{raw}' needs a direction: "
                f"objective: {{name: {raw}, direction: minimize|maximize}}",
                field,
            )
        if func in BUILTINS or f"val_{func}" in BUILTINS:
            raise UserError(
                f"user objective name '{func}' clashes with a built-in objective", field
            )
        return Objective(
            name=func,
            direction=direction,
            task=None,
            function=raw,
            path=folder.resolve() if folder is not None else None,
            timeout=timeout,
        )
    if raw not in BUILTINS:
        raise UserError(
            f"unknown objective '{raw}'{suggest_name(raw, list(BUILTINS))}; "
            f"known: {', '.join(BUILTINS)} or module:function",
            field,
        )
    if given_timeout:
        raise UserError(
            "only a user objective (module:function) takes a timeout", f"{field}.timeout"
        )
    builtin_dir, builtin_task, _ = BUILTINS[raw]
    if builtin_task != task:
        raise UserError(f"'{raw}' is a {builtin_task} objective but data.task is '{task}'", field)
    if direction is not None and direction != builtin_dir:
        raise UserError(
            f"'{raw}' is always {builtin_dir}d; got direction {direction}", f"{field}.direction"
        )
    return Objective(name=raw, direction=builtin_dir, task=builtin_task)


def _parse_timeout(raw: Any, field: str) -> float | None:
    """A user objective's time limit per call: positive seconds, or null for none."""
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0 < raw < 10**6:
        raise UserError(
            f"expected seconds, a number above 0 (or null for no limit), got {raw!r}", field
        )
    return float(raw)


def load_user_function(
    spec: str, search_dir: Path | None = None, field: str = "objective"
) -> MetricFn:
    """Import ``module:function``, looking first in ``search_dir`` (the spec's folder)."""
    module, _, func = spec.partition(":")
    added = False
    if search_dir is not None and str(search_dir) not in sys.path:
        sys.path.insert(0, str(search_dir))
        added = True
    try:
        mod = importlib.import_module(module)
    except Exception as exc:  # any import failure is the user's module, reported in one line
        first = (str(exc).strip().splitlines() or [""])[0]
        raise UserError(
            f"cannot import module '{module}': {type(exc).__name__}: {first}", field
        ) from None
    finally:
        if added:
            sys.path.remove(str(search_dir))
    fn = getattr(mod, func, None)
    if not callable(fn):
        raise UserError(f"module '{module}' has no function '{func}'", field)
    return fn  # type: ignore[no-any-return]


def task_metrics(task: str, batch_size: int) -> dict[str, MetricFn]:
    """Every built-in metric of a task, keyed by log name, ready to call."""
    out: dict[str, MetricFn] = {}
    for name, (_, t, fn) in BUILTINS.items():
        if t != task:
            continue
        if fn is m.batch_f1:
            out[name] = lambda y, p, _bs=batch_size: m.batch_f1(y, p, _bs)
        else:
            out[name] = fn
    return out


def test_report(task: str, y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
    """Metrics of one set (e.g. test) for export and train: plain floats, and for
    classification the confusion matrix (rows true, columns predicted)."""
    if task == "forecast":
        out: dict[str, Any] = {"rmse": m.rmse(y_true, y_pred), "mae": m.mae(y_true, y_pred)}
        t, p = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
        if t.ndim == 2:  # a horizon of H steps: the errors of each step h = 1..H too
            out["rmse_by_step"] = [float(v) for v in m.rmse_by_step(t, p)]
            out["mae_by_step"] = [float(v) for v in m.mae_by_step(t, p)]
        return out
    k = m.n_classes_of(y_true, y_pred)
    cm = m.confusion(y_true, m.predicted_classes(y_pred), k)
    return {
        "f1": m.f1(y_true, y_pred),
        "precision": m.precision(y_true, y_pred),
        "recall": m.recall(y_true, y_pred),
        "accuracy": m.accuracy(y_true, y_pred),
        "pr_auc": m.pr_auc(y_true, y_pred),
        "confusion_matrix": cm.tolist(),
    }
