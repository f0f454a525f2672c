"""``status`` of a study folder read straight from its files: the trials from the folder's
own ``optuna.db`` through Python's ``sqlite3`` (read-only), the baselines from the
folder's :data:`STATUS_CACHE_FILE`. Neither Optuna, SQLAlchemy, pandas nor TensorFlow is
imported, so ``status`` starts about as fast as ``python -c "import optuna"``.

:func:`quick_status` gives the same dictionary as the full path (``Study.open`` then
``status()`` and :func:`~seqtune.study.baselines.status_baselines`) or None whenever it
cannot vouch for it — a study on a server or in a journal, a hyperband study, a folder it
cannot read as seqtune writes it, a changed data file, an objective edited since launch,
baselines not kept yet — and the caller then takes the full path, which says what is
wrong or computes the baselines (and keeps them, :func:`keep_status_baselines`).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import os
import sqlite3
import urllib.parse
from pathlib import Path
from typing import Any

from seqtune.errors import UserError
from seqtune.search.records import TrialRecord, stored_record
from seqtune.spec import Spec
from seqtune.store import kept as kept_file
from seqtune.store.digest import file_digest
from seqtune.study.lifecycle import read_folder, status_of

#: The baselines ``status`` printed for the best trial, kept beside the study's own files
#: (a dot file no script reads; rewritten atomically, ignored when stale or damaged)
STATUS_CACHE_FILE = ".status_baselines.json"

#: Optuna's trial states as seqtune names them (as the Optuna backend does)
_STATE = {
    "COMPLETE": "complete",
    "PRUNED": "pruned",
    "FAIL": "failed",
    "RUNNING": "running",
    "WAITING": "running",
}
_VALUE = {"FINITE": None, "INF_POS": math.inf, "INF_NEG": -math.inf}


def quick_status(study_dir: Path, baselines: bool = True) -> dict[str, Any] | None:
    """The study's status with its baselines (unless ``baselines`` is False), as ``status
    --json`` prints it (without ``running_by``), read from its files alone; None when the
    full path must read it. A folder that is not a study raises the UserError the full
    path would.

    Examples
    --------
    >>> from seqtune.study.reading import quick_status
    >>> quick_status(Path("results/airline"))["finished"]  # doctest: +SKIP
    4
    """
    path, spec, meta = read_folder(study_dir)
    if meta.get("storage") is not None or spec.search.backend not in ("tpe", "random"):
        return None
    database = path / "optuna.db"
    if not os.access(path, os.W_OK) or not database.is_file():
        return None  # a read-only copy, a missing file: the full path says what to do
    try:
        records = _records(database, spec)
    except (sqlite3.Error, ValueError, TypeError, KeyError, OSError):
        return None
    if records is None:
        return None
    budget = spec.search.trials if spec.search.trials is not None else 20  # Backend.budget
    status = status_of(spec, path, records, budget)
    if not baselines:
        return status
    if status["best"] is None:
        status["baselines"] = None
        return status
    try:
        if file_digest(spec.data.csv) != meta.get("data_sha256"):
            return None  # the full path names the change
        key = status_key(spec, meta, status["best"])
    except (UserError, OSError):
        return None
    kept = kept_file.read(path / STATUS_CACHE_FILE, key)
    if not isinstance(kept, dict):
        return None
    status["baselines"] = kept
    return status


def keep_status_baselines(study: Any, best: dict[str, Any] | None, info: Any) -> None:
    """Keep what the full path computed for :func:`quick_status`: the baselines of a study
    folder's best trial, when they were computed whole (no ``reason``, no ``note``)."""
    if study.path is None or best is None or not isinstance(info, dict):
        return
    if info.get("reason") or (info.get("statistical") or {}).get("note"):
        return
    try:
        key = status_key(study.spec, study.meta, best)
    except UserError:
        return
    kept_file.keep(study.path / STATUS_CACHE_FILE, key, info)


def status_key(spec: Spec, meta: dict[str, Any], best: dict[str, Any]) -> str:
    """What the baselines ``status`` shows depend on: seqtune's version, the data (its
    checksum at launch and where it is), the spec, the best trial (its number, which the
    lines name, its value, which the warning compares, and its values) and the statistical
    baselines' limits."""
    from seqtune import __version__
    from seqtune.models import statistical

    limits = [statistical.time_limit(), *statistical.bounds()]
    what = [
        __version__,
        meta.get("data_sha256"),
        str(spec.data.csv),
        spec.fingerprint(),
        [best["number"], best["value"], best["params"]],
        limits,
    ]
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()


def _records(database: Path, spec: Spec) -> list[TrialRecord] | None:
    """The study's trials as the Optuna backend reads them, or None when the database is
    not laid out as expected (another study name, objective or direction, a trial whose
    parameters seqtune did not keep)."""
    uri = "file:" + urllib.parse.quote(str(database)) + "?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=5)
    try:
        found = conn.execute(
            "SELECT study_id FROM studies WHERE study_name = ?", (spec.study,)
        ).fetchall()
        if len(found) != 1:
            return None
        study_id = found[0][0]
        directions = conn.execute(
            "SELECT direction FROM study_directions WHERE study_id = ? ORDER BY objective",
            (study_id,),
        ).fetchall()
        if [d for (d,) in directions] != [spec.objective.direction.upper()]:
            return None
        names = conn.execute(
            "SELECT value_json FROM study_system_attributes WHERE study_id = ? AND key = ?",
            (study_id, "study:metric_names"),
        ).fetchall()
        if names and json.loads(names[0][0]) != [spec.objective.name]:
            return None
        trials = conn.execute(
            "SELECT trial_id, number, state, datetime_start, datetime_complete FROM trials "
            "WHERE study_id = ? ORDER BY trial_id",
            (study_id,),
        ).fetchall()
        ids = [t[0] for t in trials]
        user = _attrs(conn, "trial_user_attributes", study_id)
        system = _attrs(conn, "trial_system_attributes", study_id)
        values = {
            trial_id: (value, kind)
            for trial_id, value, kind in conn.execute(
                "SELECT v.trial_id, v.value, v.value_type FROM trial_values v "
                "JOIN trials t ON t.trial_id = v.trial_id "
                "WHERE t.study_id = ? AND v.objective = 0",
                (study_id,),
            )
        }
    finally:
        conn.close()
    number_of = {t[0]: t[1] for t in trials}
    retried = {
        system[i]["failed_trial"]: number_of[i] for i in ids if "failed_trial" in system.get(i, {})
    }
    out = []
    for trial_id, number, state_name, start, complete in trials:
        attrs = user.get(trial_id, {})
        if "params" not in attrs or state_name not in _STATE:
            return None  # Optuna's own parameter records: the full path decodes them
        value = None
        if trial_id in values:
            raw, kind = values[trial_id]
            value = raw if _VALUE.get(kind) is None else _VALUE[kind]
        out.append(
            _record(
                number,
                state_name,
                attrs,
                system.get(trial_id, {}),
                value,
                start,
                complete,
                retried.get(number),
            )
        )
    return out


def _attrs(conn: sqlite3.Connection, table: str, study_id: int) -> dict[int, dict[str, Any]]:
    """``{trial_id: {key: value}}`` of one of the trial attribute tables."""
    out: dict[int, dict[str, Any]] = {}
    rows = conn.execute(
        f"SELECT a.trial_id, a.key, a.value_json FROM {table} a "  # noqa: S608 - fixed names
        "JOIN trials t ON t.trial_id = a.trial_id WHERE t.study_id = ? "
        f"ORDER BY a.{table.rstrip('s')}_id",
        (study_id,),
    )
    for trial_id, key, value in rows:
        out.setdefault(trial_id, {})[key] = json.loads(value)
    return out


def _record(
    number: int,
    state_name: str,
    attrs: dict[str, Any],
    system: dict[str, Any],
    value: float | None,
    start: str | None,
    complete: str | None,
    retried_as: int | None,
) -> TrialRecord:
    """One trial as :func:`seqtune.search.backends.optuna_backend.to_record` makes it."""
    took = None
    if start and complete:
        took = datetime.datetime.fromisoformat(complete) - datetime.datetime.fromisoformat(start)
    return stored_record(
        number,
        _STATE[state_name],
        attrs,
        value,
        None if took is None else took.total_seconds(),
        retried_as,
        system.get("failed_trial"),
    )
