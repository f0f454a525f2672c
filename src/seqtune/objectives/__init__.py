"""Objectives: registry (name → computation, direction) and whole-set metrics.

The Keras callbacks live in ``seqtune.objectives.callbacks`` (imported on demand, so that
validating a spec never loads TensorFlow).
"""

from seqtune.objectives.registry import (
    BUILTINS,
    Objective,
    load_user_function,
    parse_objective,
    task_metrics,
    test_report,
)

__all__ = [
    "BUILTINS",
    "Objective",
    "load_user_function",
    "parse_objective",
    "task_metrics",
    "test_report",
]
