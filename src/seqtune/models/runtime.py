"""TensorFlow thread settings, applied before the first operation runs.

seqtune runs every process (a study, each ``--workers`` process, ``train``, ``export``)
with one intra-op and one inter-op thread unless ``SEQTUNE_THREADS`` says otherwise. The
models it trains are small: each kernel is a few microseconds of work, and handing it to a
thread pool costs more than it saves. Measured on 2 cores (docs/benchmarks.md): the
tutorial's LSTM(4) at batch 1 trains 1.4x faster on one thread, a drone-sized LSTM(32)
1.3x, an LSTM(128) the same, at half the CPU. The other cores are for ``--workers``. One
setting everywhere also keeps float sums in the same order, so ``train`` reproduces a trial
that ran in a worker.
"""

from __future__ import annotations

import os

from seqtune.errors import UserError

ENV = "SEQTUNE_THREADS"


def threads_from_env() -> int | None:
    """Intra-op threads per process: ``SEQTUNE_THREADS`` (0 = TensorFlow's own choice),
    1 when unset. ``None`` means TensorFlow's default."""
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return 1
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise UserError(
            f"must be a whole number of threads (0 = TensorFlow's choice), not {raw!r}", ENV
        )
    return value or None


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


def configure_from_env() -> None:
    """The process-wide setting described in the module docstring."""
    intra = threads_from_env()
    configure_threads(intra, None if intra is None else 1)
