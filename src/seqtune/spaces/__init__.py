"""Search spaces: the ``space:`` section of the spec, and its Optuna / keras-tuner adapters.

Importing this package is cheap: neither optuna nor keras_tuner (TensorFlow) is imported.
"""

from seqtune.spaces.domains import (
    MAX_PER,
    Choice,
    Domain,
    Fixed,
    Float,
    Int,
    canonical_float,
)
from seqtune.spaces.kt_adapter import declare_keras_tuner
from seqtune.spaces.optuna_adapter import suggest_optuna
from seqtune.spaces.space import SearchSpace, expansion_name

__all__ = [
    "MAX_PER",
    "Choice",
    "Domain",
    "Fixed",
    "Float",
    "Int",
    "SearchSpace",
    "canonical_float",
    "declare_keras_tuner",
    "expansion_name",
    "suggest_optuna",
]
