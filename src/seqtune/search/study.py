"""Study lifecycle: launch, resume, status, export, train.

A study folder holds ``spec.yaml`` (the spec as launched), ``study.json`` (backend,
storage, data checksum), the backend's state, ``trials.csv`` (rewritten atomically after
each trial), ``checkpoints/`` (the model of each trial that was best when it finished),
and after export ``best.yaml`` + ``best.keras``.
"""

from __future__ import annotations

import gc
import hashlib
import json
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from seqtune import __version__
from seqtune.data import Table, load_table
from seqtune.errors import UserError
from seqtune.search.backends.base import Backend
from seqtune.search.files import (
    META_FILE,
    SPEC_FILE,
    TRIALS_FILE,
    save_model,
    write_csv,
    write_text,
    write_yaml,
)
from seqtune.search.records import TrialRecord, best_of, counts, csv_rows
from seqtune.search.runner import Outcome, Runner
from seqtune.search.signals import signals_as_interrupt
from seqtune.spec import Overrides, Spec, check_spec_against_data, diff_fingerprints


def make_backend(study_dir: Path, spec: Spec, storage: str | None) -> Backend:
    if spec.search.backend == "hyperband":
        from seqtune.search.backends.hyperband import HyperbandBackend

        return HyperbandBackend(study_dir, spec, storage)
    from seqtune.search.backends.optuna_backend import OptunaBackend

    return OptunaBackend(study_dir, spec, storage)


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Study:
    """An open study folder."""

    def __init__(self, path: Path, spec: Spec, meta: dict[str, Any], backend: Backend) -> None:
        self.path, self.spec, self.meta, self.backend = path, spec, meta, backend

    # ---- opening -----------------------------------------------------------------
    @classmethod
    def launch(
        cls,
        spec: Spec,
        results: Path,
        storage: str | None = None,
        overrides: Overrides | None = None,
    ) -> tuple[Study, Runner]:
        """Validate everything, then create the study folder and backend state."""
        _, runner = prepare(spec)
        results = results.resolve()
        path = results / spec.study
        if (path / META_FILE).exists():
            raise UserError(
                f"already holds a study; continue it with `seqtune resume {path}` "
                "or launch under another name with --study NAME",
                str(path),
            )
        leftover = interrupted_launch(path)
        if path.exists() and any(path.iterdir()) and not leftover:
            raise UserError("exists and is not empty; choose another --study name", str(path))
        created = not path.exists()
        backend = make_backend(path, spec, storage)
        try:
            try:
                path.mkdir(parents=True, exist_ok=True)
                for entry in leftover:  # what a launch killed before it finished left behind
                    shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
            except OSError as exc:
                raise UserError(
                    f"cannot create the study folder: {exc.strerror}", str(path)
                ) from None
            # spec.yaml first, study.json last: study.json marks a study that exists
            write_yaml(path / SPEC_FILE, spec.to_dict(relative_to=path))
            backend.create(replace_empty=bool(leftover))
            meta = {
                "seqtune": __version__,
                "backend": spec.search.backend,
                "storage": _storable(storage),
                "source": str(spec.source) if spec.source else None,
                "overrides": {
                    k: v
                    for k, v in vars(overrides or Overrides()).items()
                    if v is not None and k != "trials"
                },
                "data_sha256": file_digest(spec.data.csv),
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            }
            write_text(path / META_FILE, json.dumps(meta, indent=2) + "\n")
        except BaseException:
            if created:
                shutil.rmtree(path, ignore_errors=True)
            raise
        return cls(path, spec, meta, backend), runner

    @classmethod
    def open(cls, path: Path, storage: str | None = None) -> Study:
        """Open an existing study folder for reading (status, export)."""
        path = Path(path)
        if not path.is_dir():
            raise UserError("no such study folder", str(path))
        if interrupted_launch(path):
            raise UserError(
                "its launch was stopped before the study was created; "
                "run `seqtune launch SPEC` again (it clears this folder)",
                str(path),
            )
        if not (path / SPEC_FILE).is_file() or not (path / META_FILE).is_file():
            raise UserError(
                f"not a study folder (no {SPEC_FILE} / {META_FILE}); "
                "launch one with `seqtune launch SPEC`",
                str(path),
            )
        try:
            meta = json.loads((path / META_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UserError(f"unreadable study metadata: {exc}", str(path / META_FILE)) from None
        spec = Spec.from_file(path / SPEC_FILE)
        stored = meta.get("storage")
        if storage is None and stored and "***" in stored:
            raise UserError(
                "this study's storage needs a password: pass it again with --storage URL",
                "--storage",
            )
        backend = make_backend(path, spec, storage or stored)
        backend.load()
        return cls(path, spec, meta, backend)

    def check_unchanged(self, current: Spec) -> None:
        """Refuse to resume if the spec or the data changed since launch, naming what."""
        changes = diff_fingerprints(self.spec.fingerprint(), current.fingerprint())
        digest = self.meta.get("data_sha256")
        if digest and current.data.csv.is_file() and file_digest(current.data.csv) != digest:
            changes.append(f"data.csv: the content of {current.data.csv} changed since launch")
        if changes:
            raise UserError(
                "the spec changed since this study was launched: "
                + "; ".join(changes)
                + ". Restore it, or launch a new study with --study NAME",
                str(current.source or self.path / SPEC_FILE),
            )

    # ---- running -------------------------------------------------------------------
    def run(self, runner: Runner, out: TextIO = sys.stderr) -> None:
        """Run until the budget is reached. Raises :class:`Interrupted` on SIGINT/SIGTERM."""
        budget = self.backend.budget()
        plan = self.backend.plan()
        if plan:
            print(plan, file=out)
        name, direction = self.spec.objective.name, self.spec.objective.direction

        def current_best() -> float | None:  # from the storage: other workers' trials count
            best = best_of(self.backend.records(), direction)
            return best.value if best else None

        def before_complete(number: int, outcome: Outcome) -> None:
            if outcome.model is not None and self.spec.objective.better(
                float(outcome.value),  # type: ignore[arg-type]
                current_best(),
            ):
                save_model(outcome.model, self.checkpoint(number))

        def after(record: TrialRecord) -> None:
            self.write_trials()
            done = self.backend.finished()
            value = f"{name}={record.value:.6g}" if record.value is not None else record.state
            why = f" ({record.reason})" if record.reason and record.state != "complete" else ""
            best = current_best()
            best_txt = f"{best:.6g}" if best is not None else "-"
            secs = f"{record.seconds:.1f}s" if record.seconds is not None else ""
            print(
                f"[{done}/{budget}] trial {record.number} {record.state}: {value}{why} · "
                f"{record.epochs or 0} epochs {secs} · best {best_txt}",
                file=out,
                flush=True,
            )

        if self.spec.search.isolation == "process":
            from seqtune.search.isolation import IsolatedRunner

            runner = IsolatedRunner(runner, self.path / "checkpoints")  # type: ignore[assignment]
        freeze_startup_objects()
        with signals_as_interrupt():
            try:
                self.backend.optimize(runner, budget, before_complete, after)
            finally:
                self.write_trials()

    def checkpoint(self, number: int) -> Path:
        return self.path / "checkpoints" / f"trial_{number}.keras"

    def write_trials(self) -> None:
        header, rows = csv_rows(self.backend.records())
        write_csv(self.path / TRIALS_FILE, header, rows)

    # ---- reporting -----------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        records = self.backend.records()
        best = best_of(records, self.spec.objective.direction)
        return {
            "study": self.spec.study,
            "path": str(self.path),
            "backend": self.spec.search.backend,
            "objective": {
                "name": self.spec.objective.name,
                "direction": self.spec.objective.direction,
            },
            "budget": self.backend.budget(),
            "finished": sum(1 for r in records if r.counts_toward_budget),
            "trials": counts(records),
            "best": None
            if best is None
            else {
                "number": best.number,
                "value": best.value,
                "params": best.params,
                "epochs": best.epochs,
                "best_epoch": best.best_epoch,
            },
            "trial_records": [r.to_dict() for r in records],
        }


def freeze_startup_objects() -> None:
    """Move every object alive now (TensorFlow's, Keras', Optuna's: about 350,000) out of
    the garbage collector's sight. ``keras.backend.clear_session()``, called before every
    trial, runs a full ``gc.collect()``: 0.25 s per trial over those objects, 0.01 s after
    this. Objects made later, trials' models included, are collected as before."""
    gc.collect()
    gc.freeze()


def interrupted_launch(path: Path) -> list[Path]:
    """The entries of a folder that a launch stopped before ``study.json`` was written
    left behind, or ``[]`` if the folder holds anything else (or a study)."""
    if not path.is_dir() or (path / META_FILE).exists():
        return []
    entries = list(path.iterdir())
    ours = {SPEC_FILE, "keras_tuner"}
    temporary = (f".{SPEC_FILE}.", f".{META_FILE}.", "optuna.db", "optuna.journal")
    if not entries or not all(e.name in ours or e.name.startswith(temporary) for e in entries):
        return []
    return entries


def prepare(spec: Spec) -> tuple[Table, Runner]:
    """Load the data and check the spec against it; nothing is written."""
    table = load_table(spec.data)
    check_spec_against_data(spec, table)
    return table, Runner(spec, table)


def _storable(storage: str | None) -> str | None:
    from seqtune.search.backends.optuna_backend import mask_url

    return None if storage is None else mask_url(storage)


def resume(path: Path, storage: str | None, trials: int | None) -> tuple[Study, Runner, list[int]]:
    """Reopen a study, refuse a changed spec, recover dead trials."""
    study = Study.open(path, storage)
    current = study.spec
    source = study.meta.get("source")
    if source and Path(source).is_file():
        # the file the study was launched from, with the launch's command-line overrides
        current = Overrides(**study.meta.get("overrides", {})).apply(Spec.from_file(source))
    study.check_unchanged(current)
    spec = study.spec
    if trials is not None:
        spec = replace(spec, search=replace(spec.search, trials=trials))
    if spec.search.trials != study.spec.search.trials:
        write_yaml(path / SPEC_FILE, spec.to_dict(relative_to=path))
    study.spec = study.backend.spec = spec
    _, runner = prepare(spec)
    recovered = study.backend.recover()
    if recovered:
        study.write_trials()
    return study, runner, recovered
