"""The private members of keras-tuner that seqtune's Hyperband backend needs, one function
each, because keras-tuner has no public seam for them when its Oracle is driven without a
``Tuner``. Checked against keras-tuner 1.4.8; ``tests/search/test_kt_seams.py`` fails if
one disappears or changes shape.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from seqtune.store.files import write_text


def set_project_dir(oracle: Any, directory: Path, project: str) -> None:
    """Where the oracle keeps its files (a ``Tuner`` sets this in its constructor)."""
    oracle._set_project_dir(str(directory), project)


def save_trials_atomically(oracle: Any, trial_dir: Callable[[str], Path]) -> None:
    """Write each ``trial.json`` through a temporary file and a rename, so that a kill
    never leaves half a file (keras-tuner writes it in place from ``_save_trial``)."""

    def save(trial: Any) -> None:
        write_text(trial_dir(trial.trial_id) / "trial.json", json.dumps(trial.get_state()))

    oracle._save_trial = save


def retry_queue(oracle: Any) -> list[str]:
    """The oracle's queue of trial ids to run again (the ones a dead process left
    ongoing; ``create_trial`` hands them out first). The list itself: appending queues."""
    queue: list[str] = oracle._retry_queue
    return queue


def limited_brackets(cls: type, brackets: int) -> type:
    """``cls`` (a HyperbandOracle) running only its ``brackets`` least aggressive
    brackets: keras-tuner counts them in ``_get_num_brackets`` and runs from the highest
    down, so capping the count drops the most aggressive ones."""

    def _get_num_brackets(self: Any) -> int:
        return min(super(limited, self)._get_num_brackets(), brackets)

    limited = type(cls.__name__, (cls,), {"_get_num_brackets": _get_num_brackets})
    return limited
