"""Which class runs a spec's ``search.backend``."""

from __future__ import annotations

from seqtune.search.backends.base import Backend


def backend_class(name: str) -> type[Backend]:
    """The backend class of a spec's ``search.backend``, imported on demand (keras-tuner
    loads TensorFlow; asking what a backend supports must not)."""
    if name == "hyperband":
        from seqtune.search.backends.hyperband import HyperbandBackend

        return HyperbandBackend
    from seqtune.search.backends.optuna_backend import OptunaBackend

    return OptunaBackend
