"""Keep a seqtune command's (or a notebook cell's) output seqtune's own: TensorFlow's C++
start-up lines, its and Optuna's log records and warnings are silenced; seqtune's own
warnings print as one plain line. Used by the CLI and the Python API alike."""

from __future__ import annotations

import os
import sys


def quiet_libraries(own_warnings: bool = True) -> None:
    """TensorFlow's and Optuna's chatter would drown seqtune's own progress lines.
    ``own_warnings``: print every warning as ``seqtune: warning: …`` (the CLI's process;
    the Python API leaves a user's warning format alone)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import logging
    import warnings

    logging.getLogger("optuna").setLevel(logging.WARNING)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="optuna")
    warnings.filterwarnings("ignore", message=".*[Rr]etracing.*")
    if not own_warnings:
        return
    # seqtune's own warnings (e.g. the stratified-split leak) as one plain line
    warnings.formatwarning = lambda message, *rest, **kw: f"seqtune: warning: {message}\n"


#: Set by ``seqtune -v``: TensorFlow's and Optuna's own lines are left alone.
VERBOSE = False


def load_tensorflow() -> None:
    """Import TensorFlow with its C++ start-up chatter (absl and oneDNN lines, which no
    environment variable silences) sent to /dev/null, so that stderr stays seqtune's
    (unless :data:`VERBOSE`). Import errors still surface: they are Python exceptions."""
    if "tensorflow" in sys.modules:
        return
    from seqtune.models.runtime import configure_from_env, threads_from_env

    threads_from_env()  # a bad SEQTUNE_THREADS is refused before the slow import
    if VERBOSE:
        import tensorflow  # noqa: F401

        configure_from_env()
        return
    saved = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)
    configure_from_env()
