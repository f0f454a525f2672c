"""Scores a study folder keeps for the next process: one small JSON file per kind of score
(``{"key": ..., "scores": ...}``), read only when its key matches.

The key says what the scores were computed from (seqtune's version, the data's checksum,
the spec, the best trial...); any other key, a missing file or a damaged one reads as
nothing, and the caller computes the scores again. Used by the baselines' kept scores
(:mod:`seqtune.study.baselines`) and by ``status``'s read-only path
(:mod:`seqtune.study.reading`), which must not import more than this to read them.

Examples
--------
>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> keep(folder / ".kept.json", "v1", {"ridge": 1.5})
>>> read(folder / ".kept.json", "v1"), read(folder / ".kept.json", "v2")
({'ridge': 1.5}, None)
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any


def read(path: Path | None, key: str) -> Any:
    """The ``scores`` kept under ``key`` in the file at ``path``; None when there is no
    path, no file, another key, or a damaged file."""
    if path is None:
        return None
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return raw.get("scores") if isinstance(raw, dict) and raw.get("key") == key else None


def keep(path: Path | None, key: str, scores: Any) -> None:
    """Write ``scores`` under ``key`` to the file at ``path``, atomically; a missing or
    read-only folder keeps nothing (the scores live in this process only)."""
    if path is None or not path.parent.is_dir():
        return
    from seqtune.store.files import write_text

    with contextlib.suppress(OSError):
        write_text(path, json.dumps({"key": key, "scores": scores}, indent=1) + "\n")
