"""TensorFlow thread settings, applied before the first operation runs."""

from __future__ import annotations

import os


def threads_per_worker(workers: int) -> int:
    """Intra-op threads for each of ``workers`` processes sharing this machine's cores."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def configure_threads(intra: int | None, inter: int | None = None) -> None:
    """Set TensorFlow's thread pools (``None`` keeps TensorFlow's default). Must run before
    TensorFlow executes its first operation; later calls are ignored."""
    import tensorflow as tf

    try:
        if intra is not None:
            tf.config.threading.set_intra_op_parallelism_threads(intra)
        if inter is not None:
            tf.config.threading.set_inter_op_parallelism_threads(inter)
    except RuntimeError:  # already initialised: keep what is in force
        pass
