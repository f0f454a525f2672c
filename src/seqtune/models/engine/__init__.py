"""K models of one architecture trained side by side in one compiled call per epoch.

``plan`` (what is computed: members, the stacked plan read from a built model), ``nets``
(the forward passes), ``engine`` (the traced epoch, its variables, the cache of kept
engines) and ``wide`` (:class:`Wide`, the public face, whose docstring says how and why).
"""

from seqtune.models.engine.engine import ENGINE_CACHE_SIZE, clear_engines
from seqtune.models.engine.plan import (
    DESIGNS,
    LSTM_KERNELS,
    STEP_BUCKET,
    Member,
    WideEpoch,
    build_members,
    padded_steps,
    seed_keras,
    stackable,
)
from seqtune.models.engine.wide import Wide, fit_wide

__all__ = [
    "DESIGNS",
    "ENGINE_CACHE_SIZE",
    "LSTM_KERNELS",
    "STEP_BUCKET",
    "Member",
    "Wide",
    "WideEpoch",
    "build_members",
    "clear_engines",
    "fit_wide",
    "padded_steps",
    "seed_keras",
    "stackable",
]
