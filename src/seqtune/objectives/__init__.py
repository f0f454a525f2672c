"""Objectives: registry (name → computation, direction) and whole-set metrics.

Scoring an epoch and keeping the best one live in ``seqtune.objectives.epochs``.
"""

from seqtune.objectives.registry import (
    BUILTINS,
    BY_STEP,
    Objective,
    by_step_name,
    by_step_values,
    load_user_function,
    parse_objective,
    task_metrics,
    test_report,
)

__all__ = [
    "BUILTINS",
    "BY_STEP",
    "Objective",
    "by_step_name",
    "by_step_values",
    "load_user_function",
    "parse_objective",
    "task_metrics",
    "test_report",
]
