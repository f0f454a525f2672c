"""Data: CSV loading and validation, target transforms, scalers fitted on the training part
only, chronological splits, rolling-origin folds and vectorised look-back windows.

This package never imports TensorFlow/Keras nor the search, models, objectives or spaces
packages.
"""

from typing import TYPE_CHECKING, Any

from seqtune.data.folds import Fold, FoldPlan, plan_folds
from seqtune.data.scalers import Scaler
from seqtune.data.spec import DataSpec
from seqtune.data.split import LeakWarning
from seqtune.data.transforms import TRANSFORMS
from seqtune.data.windows import Windows

if TYPE_CHECKING:
    from seqtune.data.table import Table, load_table


def __getattr__(name: str) -> Any:
    """``Table`` and ``load_table`` on first use: reading a CSV needs pandas, which a
    command that reads a spec but no data (``status`` with its caches) never imports."""
    if name in ("Table", "load_table"):
        from seqtune.data import table

        return getattr(table, name)
    raise AttributeError(f"module 'seqtune.data' has no attribute {name!r}")


__all__ = [
    "TRANSFORMS",
    "DataSpec",
    "Fold",
    "FoldPlan",
    "LeakWarning",
    "Scaler",
    "Table",
    "Windows",
    "load_table",
    "plan_folds",
]
