"""A study folder read for a report: read-only, no lock, nothing written.

``Study.open`` opens an Optuna SQLite study with the writer's connection settings and
``Study.close`` merges the write-ahead log into ``optuna.db``; a report must not write to a
study that may still be running, so the Optuna storage is opened here read-only instead
(SQLite ``mode=ro`` while a write-ahead log exists, ``immutable=1`` when none does, which
creates no ``-wal``/``-shm`` file at all). Hyperband's keras-tuner state is read through
the backend's own loader, which writes nothing (checked by a test). The trials are copied
into memory and the storage closed before anything is drawn.
"""

from __future__ import annotations

import os
import sqlite3
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna

from seqtune.errors import UserError
from seqtune.search.records import TrialRecord, best_of
from seqtune.spaces.domains import Domain, Fixed
from seqtune.spec import Spec
from seqtune.store.files import LOCK_FILE
from seqtune.study.lifecycle import read_folder


@dataclass
class StudyData:
    """Everything a report reads from a study folder, in memory."""

    path: Path
    spec: Spec
    meta: dict[str, Any]
    records: list[TrialRecord]
    #: Optuna's trials (params with distributions, per-epoch intermediate values); None
    #: for Hyperband, whose keras-tuner state keeps one value per trial
    optuna_trials: list[optuna.trial.FrozenTrial] | None = None
    running_by: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def backend(self) -> str:
        return self.spec.search.backend

    @property
    def direction(self) -> str:
        return self.spec.objective.direction

    @property
    def complete(self) -> list[TrialRecord]:
        return [r for r in self.records if r.state == "complete" and r.value is not None]

    @property
    def best(self) -> TrialRecord | None:
        return best_of(self.records, self.direction)

    def searched(self) -> list[Domain]:
        """The searched parameters under their concrete names (``dense_units_0`` …)."""
        return [d for d, _, _ in self.spec.space.expanded() if not isinstance(d, Fixed)]

    def curves(self) -> dict[int, dict[int, float]] | None:
        """Per-epoch objective (0-based epoch → value) of each trial; None if not stored."""
        if self.optuna_trials is None:
            return None
        return {t.number: dict(sorted(t.intermediate_values.items())) for t in self.optuna_trials}

    def optuna_study(self) -> optuna.study.Study:
        """An in-memory Optuna study holding a copy of the trials (for importances)."""
        assert self.optuna_trials is not None
        study = optuna.create_study(direction=self.direction)
        study.add_trials(self.optuna_trials)
        return study


def read_study(path: Path, storage: str | None = None) -> StudyData:
    """Read the study in ``path``; UserError (one line, naming the path) if it is not one."""
    path, spec, meta = read_folder(path, need_data=False)  # the report draws what it can
    if spec.search.backend == "hyperband":
        records = _hyperband_records(path, spec)
        data = StudyData(path, spec, meta, records)
    else:
        trials = _optuna_trials(path, spec, storage or meta.get("storage"))
        from seqtune.search.backends.optuna_backend import to_record

        data = StudyData(path, spec, meta, [to_record(t) for t in trials], trials)
    data.running_by = running_by(path)
    return data


def running_by(path: Path) -> str | None:
    """``"pid N (seqtune launch)"`` if the process named in the study's lock file is alive
    and has that file open (the owner keeps it open while it runs; a pid reused by another
    program does not). No lock is taken, not even the shared probe of
    ``seqtune.store.lock.holder``, which could make a launch starting at that instant fail."""
    lock = path / LOCK_FILE
    try:
        pid_text, _, command = lock.read_text(encoding="utf-8").strip().partition(" ")
        pid = int(pid_text)
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    fds = Path(f"/proc/{pid}/fd")
    try:
        if not any(os.readlink(fd) == str(lock) for fd in fds.iterdir()):
            return None
    except OSError:  # no /proc, or another user's process: the pid alone says it
        pass
    return f"pid {pid} ({command or 'seqtune'})"


def _hyperband_records(path: Path, spec: Spec) -> list[TrialRecord]:
    from seqtune.search.backends.hyperband import HyperbandBackend

    backend = HyperbandBackend(path, spec)
    try:
        backend.load()  # reads oracle.json and trial files; writes nothing
        return backend.records()
    finally:
        backend.close()


def _optuna_trials(path: Path, spec: Spec, url: str | None) -> list[optuna.trial.FrozenTrial]:
    storage = _read_only_storage(path, url)
    try:
        try:
            study = optuna.load_study(study_name=spec.study, storage=storage)
        except KeyError:
            raise UserError(f"the storage holds no study named '{spec.study}'", str(path)) from None
        return study.get_trials(deepcopy=True)
    except UserError:
        raise
    except Exception as exc:
        first = (str(exc).splitlines() or [""])[0][:160]
        where = path / "optuna.db" if url is None else path
        raise UserError(
            f"cannot read the study's storage ({type(exc).__name__}: {first}); it is damaged "
            "or not this study's: restore it from a copy of the study",
            str(where),
        ) from None
    finally:
        if isinstance(storage, optuna.storages.RDBStorage):
            storage.remove_session()
            storage.engine.dispose()


def _read_only_storage(path: Path, url: str | None) -> optuna.storages.BaseStorage:
    if url is None:
        db = path / "optuna.db"
        if not db.is_file():
            raise UserError("the study's storage optuna.db is missing", str(db))
        from seqtune.search.backends.optuna_backend import check_sqlite_file

        check_sqlite_file(db)  # empty or not SQLite: the same line as status
        return optuna.storages.RDBStorage(
            f"sqlite:///{db}",
            engine_kwargs={"creator": lambda: _sqlite_read_only(db)},
            skip_table_creation=True,
        )
    if url.startswith("journal:"):
        journal = Path(url.removeprefix("journal:"))
        journal = journal if journal.is_absolute() else path / journal
        if not journal.is_file():
            raise UserError("the study's journal file is missing", str(journal))
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(str(journal)))  # reads: no lock
    if "***" in url:
        raise UserError(
            "this study's storage needs a password: pass it with --storage URL", "--storage"
        )
    return optuna.storages.RDBStorage(url, skip_table_creation=True)


def _sqlite_read_only(db: Path) -> sqlite3.Connection:
    wal = db.with_name(db.name + "-wal")
    # a log exists while a process has the study open: read it through SQLite's shared
    # index, read-only; without one nothing is being written and the file is read as is
    mode = "mode=ro" if wal.exists() else "immutable=1"
    uri = f"file:{urllib.parse.quote(str(db))}?{mode}"
    return sqlite3.connect(uri, uri=True, check_same_thread=False)
