"""Atomic file writes: a reader (or a crash) never sees half a file.

Every file is written under a new, unpredictable name beside its target and renamed over
it: ``os.replace`` replaces a symbolic link at the target instead of writing through it,
and the temporary name cannot have been prepared by anyone. Files get the mode the user's
umask allows (0666 less the umask), as a plain ``open`` would, not ``mkstemp``'s 0600.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from seqtune.errors import UserError

# The files of a study folder; study.json is written last and marks a study that exists.
SPEC_FILE, META_FILE, TRIALS_FILE = "spec.yaml", "study.json", "trials.csv"
# Locks (see store/lock.py): the study's owner (launch, resume and their workers), and
# export's own (one export at a time; an export reads a running study without stopping it).
LOCK_FILE, EXPORT_LOCK_FILE = ".lock", ".export.lock"
# beside an export's best.yaml: its validation and test forecasts (seqtune.exported)
PREDICTIONS_FILE = "predictions.csv"
LOCK_FILES = (LOCK_FILE, EXPORT_LOCK_FILE)
# What belongs to the study itself: no command writes over these (``-o`` included), and
# none of them may be a symbolic link (see refuse_links).
STUDY_OWN = frozenset(
    {
        SPEC_FILE,
        META_FILE,
        TRIALS_FILE,
        *LOCK_FILES,
        "optuna.db",
        "optuna.db-wal",
        "optuna.db-shm",
        "optuna.db-journal",
        "optuna.journal",
        "keras_tuner",
        "checkpoints",
    }
)


def file_mode() -> int:
    """The mode a new file gets from the user's umask (``0o666 & ~umask``; the umask can
    only be read by setting it, so it is set back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def refuse_links(folder: Path) -> None:
    """UserError naming the first symbolic link inside a study folder.

    seqtune writes into a study folder (its lock, storage, trials, checkpoints, exports),
    and some of those writes go through libraries (SQLite, keras-tuner) that would follow a
    link: a link planted in a shared folder or a study archive could make the next user's
    command write over any file that user owns. So a study folder holds no links at all.
    The folder itself may be a link (results kept on another disk). One kind of link is
    Optuna's own and allowed: its journal storage takes its lock by linking ``X.lock`` to
    the journal file ``X`` beside it (nothing is ever written through that link)."""
    for root, dirs, files in os.walk(folder):
        for name in (*dirs, *files):
            entry = Path(root) / name
            if entry.is_symlink() and not _journal_lock(entry):
                raise UserError(
                    "is a symbolic link inside a study folder; seqtune writes there and "
                    "never follows links: remove it (or put the file itself in its place)",
                    str(entry),
                )


def _journal_lock(entry: Path) -> bool:
    """Whether the link ``entry`` is an Optuna journal's lock: ``X.lock`` pointing at the
    file ``X`` in the same folder (``optuna.storages.journal.JournalFileSymlinkLock``)."""
    if entry.suffix != ".lock":
        return False
    try:
        target = Path(os.readlink(entry))
    except OSError:
        return False
    target = target if target.is_absolute() else entry.parent / target
    return os.path.normpath(target) == os.path.normpath(entry.with_suffix(""))


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
    _write_atomically(path, text, "w")


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` as :func:`write_text` does."""
    _write_atomically(path, data, "wb")


def _write_atomically(path: Path, data: Any, mode: str) -> None:
    """A new file beside ``path`` (a link at ``path`` is replaced, never followed), with
    the umask's mode, renamed over it once whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, file_mode())
        text = {"encoding": "utf-8", "newline": ""} if mode == "w" else {}
        with os.fdopen(fd, mode, **text) as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def yaml_text(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=100)


def write_yaml(path: Path, data: Any) -> None:
    write_text(path, yaml_text(data))


def csv_text(header: list[str], rows: list[list[Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    write_text(path, csv_text(header, rows))


def save_model(model: Any, path: Path) -> None:
    """Save a Keras model atomically: into a new private folder beside ``path`` (Keras needs
    the .keras suffix, so the name inside is fixed, but the folder is new and ours), then
    ``os.replace`` into place."""
    write_together([(path, model.save)])


def write_together(files: list[tuple[Path, Callable[[Path], None]]]) -> None:
    """Write several files that belong together: each ``write(path)`` writes one into a
    new private folder beside its target, and only when all are written are they renamed
    into place, in the order given (put the file that vouches for the others last). A
    failure or kill before the renames leaves the old files as they were; the folder of
    a killed process (``.seqtune-<pid>-*``) is removed by the next writer there."""
    if not files:
        return
    parent = files[0][0].parent
    if any(target.parent.resolve() != parent.resolve() for target, _ in files):
        raise ValueError("write_together writes into one folder")
    parent.mkdir(parents=True, exist_ok=True)
    remove_stale_stages(parent)
    mode = file_mode()
    stage = Path(tempfile.mkdtemp(prefix=f".seqtune-{os.getpid()}-", dir=parent))
    try:
        staged = []
        for target, write in files:
            tmp = stage / target.name
            write(tmp)
            os.chmod(tmp, mode)
            staged.append((tmp, target))
        for tmp, target in staged:
            os.replace(tmp, target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def remove_stale_stages(folder: Path) -> None:
    """Remove the staging folders (and temporary files) that killed processes left here."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        name = entry.name
        if not name.startswith((".seqtune-", f".{PREDICTIONS_FILE}.")):
            continue
        if name.startswith(".seqtune-"):
            pid = name.split("-")[1]
            if not pid.isdigit() or _alive(int(pid)):
                continue
            shutil.rmtree(entry.path, ignore_errors=True)
        elif name.endswith(".tmp"):  # an older seqtune's temporary predictions.csv
            Path(entry.path).unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True
