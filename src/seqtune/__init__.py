"""seqtune: hyperparameter search for Keras sequence models on time series.

The Python API (:mod:`seqtune.api`) is importable from here: ``seqtune.load_spec``,
``seqtune.check``, ``seqtune.launch``, ``seqtune.resume``, ``seqtune.load_study`` (a
:class:`~seqtune.api.Study` with ``trials_dataframe``, ``best_trial``, ``status``,
``export``, ``report``) and ``seqtune.load`` (a :class:`~seqtune.api.Forecaster`). They are
imported on first use, so ``import seqtune`` stays instant.
"""

from typing import Any

__version__ = "0.5.2"

__all__ = [
    "Forecaster",
    "Study",
    "check",
    "launch",
    "load",
    "load_spec",
    "load_study",
    "resume",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from seqtune import api

        return getattr(api, name)
    raise AttributeError(f"module 'seqtune' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*__all__, "__version__"])
