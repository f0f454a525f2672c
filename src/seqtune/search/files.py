"""Atomic file writes: a reader (or a crash) never sees half a file."""

from __future__ import annotations

import csv
import io
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from seqtune.errors import UserError

# The files of a study folder; study.json is written last and marks a study that exists.
SPEC_FILE, META_FILE, TRIALS_FILE = "spec.yaml", "study.json", "trials.csv"
# Locks (see search/lock.py): the study's owner (launch, resume and their workers), and
# export's own (one export at a time; an export reads a running study without stopping it).
LOCK_FILE, EXPORT_LOCK_FILE = ".lock", ".export.lock"
LOCK_FILES = (LOCK_FILE, EXPORT_LOCK_FILE)


def refuse_existing_study(path: Path) -> None:
    """A launch into a folder that already holds a study is refused, naming what to do."""
    if (path / META_FILE).exists():
        raise UserError(
            f"already holds a study; continue it with `seqtune resume {path}` "
            "or launch under another name with --study NAME",
            str(path),
        )


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_yaml(path: Path, data: Any) -> None:
    write_text(path, yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=100))


def write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    write_text(path, buf.getvalue())


def save_model(model: Any, path: Path) -> None:
    """Save a Keras model atomically (Keras needs the .keras suffix on the temporary name)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.keras")
    try:
        model.save(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
