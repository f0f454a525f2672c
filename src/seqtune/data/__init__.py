"""Data: CSV loading and validation, target transforms, scalers fitted on the training part
only, chronological splits, rolling-origin folds and vectorised look-back windows.

This package never imports TensorFlow/Keras nor the search, models, objectives or spaces
packages.
"""

from seqtune.data.folds import Fold, FoldPlan, plan_folds
from seqtune.data.scalers import Scaler
from seqtune.data.spec import DataSpec
from seqtune.data.split import LeakWarning
from seqtune.data.table import Table, load_table
from seqtune.data.transforms import TRANSFORMS
from seqtune.data.windows import Windows

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
