"""Study lifecycle: launch, open, resume, run (through the trial loop of
:mod:`seqtune.search.loop`), status. Exports are :mod:`seqtune.exported`'s.

A study folder holds ``spec.yaml`` (the spec as launched), ``study.json`` (backend,
storage, data checksum), the backend's state, ``trials.csv`` (rewritten atomically after
each trial), ``checkpoints/`` (the model of each trial that was best when it finished),
and after export ``best.yaml`` + ``best.keras``.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from seqtune import __version__
from seqtune.errors import UserError
from seqtune.search.backends.base import Backend
from seqtune.search.backends.registry import backend_class
from seqtune.search.records import TrialRecord, best_of, counts, csv_rows
from seqtune.spec import Overrides, Spec, check_spec_against_data, diff_fingerprints
from seqtune.store.digest import check_digest, file_digest
from seqtune.store.files import (
    LOCK_FILES,
    META_FILE,
    SPEC_FILE,
    TRIALS_FILE,
    refuse_existing_study,
    refuse_links,
    save_model,
    write_csv,
    write_text,
    write_yaml,
)
from seqtune.store.lock import StudyLock

if TYPE_CHECKING:  # the trial loop, the runner and its versions import TensorFlow: reading
    # a study (status) never does, so they are imported where a study trains
    from seqtune.data import Table
    from seqtune.search.framing import Framing
    from seqtune.search.runner import Runner
    from seqtune.search.versions import Training


def make_backend(study_dir: Path, spec: Spec, storage: str | None) -> Backend:
    return backend_class(spec.search.backend)(study_dir, spec, storage)


class Study:
    """An open study: a study folder, or (``path`` None) a study on a database server
    joined by URL and name from a machine that has only its data (see :func:`open_remote`).
    """

    def __init__(
        self,
        path: Path | None,
        spec: Spec,
        meta: dict[str, Any],
        backend: Backend,
        artifacts: Path | None = None,
    ) -> None:
        self.path, self.spec, self.meta, self.backend = path, spec, meta, backend
        self.lock: StudyLock | None = None  # held by launch/resume (the study's writer)
        # an Optuna artifact store for checkpoints (workers without a study folder)
        self.artifacts = artifacts
        self._scratch: Path | None = None

    @property
    def where(self) -> str:
        """The study folder, or the study's name on its server, for messages."""
        if self.path is not None:
            return str(self.path)
        return f"study '{self.spec.study}' on {self.meta.get('storage')}"

    # ---- opening -----------------------------------------------------------------
    @classmethod
    def launch(
        cls,
        spec: Spec,
        results: Path,
        storage: str | None = None,
        overrides: Overrides | None = None,
        lock: StudyLock | None = None,
    ) -> tuple[Study, Runner]:
        """Validate everything, then create the study folder and backend state.

        The folder's lock is taken (or ``lock``, already taken by the caller, is used)
        before anything in it is checked, created or cleared, so two launches of one
        study cannot both proceed: the second is refused, naming the first."""
        digest = file_digest(spec.data.csv)
        _, runner = prepare(spec)
        results = results.resolve()
        path = results / spec.study
        if lock is None:
            lock = StudyLock.acquire(path, "seqtune launch", create=True)
        try:
            study = cls._create(spec, path, storage, overrides, lock, digest)
        except BaseException:
            if not (path / META_FILE).exists():  # refused or failed: leave nothing of ours
                lock.remove_created()
            lock.release()
            raise
        return study, runner

    @classmethod
    def _create(
        cls,
        spec: Spec,
        path: Path,
        storage: str | None,
        overrides: Overrides | None,
        lock: StudyLock,
        digest: str,
    ) -> Study:
        refuse_existing_study(path)
        leftover = interrupted_launch(path)
        if _entries(path) and not leftover:
            raise UserError("exists and is not empty; choose another --study name", str(path))
        backend = make_backend(path, spec, storage)
        try:
            try:
                for entry in leftover:  # what a launch killed before it finished left behind
                    shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
            except OSError as exc:
                raise UserError(
                    f"cannot clear the study folder: {exc.strerror}", str(path)
                ) from None
            # spec.yaml first, study.json last: study.json marks a study that exists
            write_yaml(path / SPEC_FILE, spec.to_dict(relative_to=path))
            backend.create(replace_empty=bool(leftover))
            publish = getattr(backend, "publish", None)
            if publish is not None:  # a server: what a worker on another machine needs
                publish(
                    {
                        "spec": spec.to_dict(),
                        "data_sha256": digest,
                        "data_file": spec.data.csv.name,
                        "seqtune": __version__,
                    }
                )
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
                "data_sha256": digest,
                # the objective launched with: it wins over an edited spec.yaml (hyperband;
                # Optuna keeps it in its storage too)
                "objective": {"name": spec.objective.name, "direction": spec.objective.direction},
                "data_path": str(spec.data.csv),
                "path": str(path),
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            }
            write_text(path / META_FILE, json.dumps(meta, indent=2) + "\n")
        except BaseException:
            backend.close()
            # nothing of a study that does not exist is kept; the lock file goes last
            # (a process that opened it meanwhile sees it gone and starts over)
            for entry in _entries(path):
                shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(
                    missing_ok=True
                )
            lock.remove_created()
            raise
        study = cls(path, spec, meta, backend)
        study.lock = lock
        return study

    @classmethod
    def open(cls, path: Path, storage: str | None = None) -> Study:
        """Open an existing study folder for reading (status, export); see :func:`resume`
        for writing. Takes no lock: reading a study that runs is safe."""
        path, spec, meta = read_folder(path)
        stored = meta.get("storage")
        if storage is None and stored and "***" in stored:
            raise UserError(
                "this study's storage needs a password: pass it again with --storage URL",
                "--storage",
            )
        backend = make_backend(path, spec, storage or stored)
        try:
            backend.load()
        except BaseException:
            backend.close()  # nothing left open (or half-written) by a study that failed
            raise
        return cls(path, spec, meta, backend)

    def check_unchanged(self, current: Spec) -> None:
        """Refuse to resume if the spec or the data changed since launch, naming what.
        The data is compared by content: a CSV (or study folder) moved elsewhere with the
        same content is the same data."""
        old, new = self.spec.fingerprint(), current.fingerprint()
        old["data"].pop("csv", None)
        new["data"].pop("csv", None)
        changes = diff_fingerprints(old, new)
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

    def check_data(self) -> None:
        """Refuse to read data other than the launch's: every trial of a study is scored on
        the same rows, and an export's test metrics are those of the data it searched on."""
        check_digest(self.spec.data.csv, self.meta.get("data_sha256"))

    def prepare(self) -> tuple[Table, Runner]:
        """The study's data, checked against the launch's checksum, and a runner on it."""
        self.check_data()
        return _prepare_as_made(self.spec, self.meta.get("seqtune"))

    def framing(self) -> Framing:
        """The study's data, checked against the launch's checksum, framed as its trials
        frame it (windows and metrics, no training): what ``status`` scores its baselines
        with, without loading TensorFlow."""
        from seqtune.data import load_table
        from seqtune.search.framing import Framing

        self.check_data()
        table = load_table(self.spec.data)
        check_spec_against_data(self.spec, table)
        return Framing(self.spec, table)

    def save_checkpoint(self, number: int, model: Any) -> None:
        """The model of a trial that is the best so far: into the artifact store when the
        process was given one, else into the study folder, else (a worker without either)
        nowhere: export refits such a trial from its seed."""
        if self.artifacts is not None:
            import tempfile

            with tempfile.TemporaryDirectory(prefix="seqtune-ckpt-") as tmp:
                file = Path(tmp) / f"trial_{number}.keras"
                save_model(model, file)
                self.backend.upload_checkpoint(  # type: ignore[attr-defined]
                    number, file, artifact_store(self.artifacts)
                )
        elif self.path is not None:
            save_model(model, self.checkpoint(number))

    def checkpoint_file(self, number: int) -> Path | None:
        """A readable copy of the trial's checkpoint, from the folder or the artifact store."""
        if self.path is not None and self.checkpoint(number).is_file():
            return self.checkpoint(number)
        download = getattr(self.backend, "download_checkpoint", None)
        if self.artifacts is None or download is None:
            return None
        import tempfile

        if self._scratch is None:
            self._scratch = Path(tempfile.mkdtemp(prefix="seqtune-ckpt-"))
        file = self._scratch / f"trial_{number}.keras"
        return file if download(number, file, artifact_store(self.artifacts)) else None

    def close(self) -> None:
        """Close the storage (a SQLite study is left whole in ``optuna.db``, its
        write-ahead log merged) and release the folder's lock. Idempotent."""
        try:
            self.backend.close()
        finally:
            if self.lock is not None:
                self.lock.release()
            if self._scratch is not None:
                shutil.rmtree(self._scratch, ignore_errors=True)
                self._scratch = None

    # ---- running -------------------------------------------------------------------
    def run(self, runner: Runner, out: TextIO | None = None) -> None:
        """Run the study's trials through the one trial loop
        (:class:`~seqtune.search.loop.TrialLoop`): each trial in this process, or in a
        fresh one (``search.isolation: process``); the best model so far kept as a
        checkpoint, trials.csv rewritten after every trial. Raises :class:`Interrupted` on
        SIGINT/SIGTERM (the running trial is told interrupted first)."""
        from seqtune.search.loop import TrialLoop

        out = sys.stderr if out is None else out  # looked up now: it may be redirected
        if self.spec.search.isolation == "process":
            from seqtune.search.isolation import IsolatedRunner

            if self.path is None:
                import tempfile

                self._scratch = self._scratch or Path(tempfile.mkdtemp(prefix="seqtune-"))
            scratch = (self.path or self._scratch) / "checkpoints"  # type: ignore[operator]
            runner = IsolatedRunner(  # type: ignore[assignment]
                runner, scratch, self.meta.get("data_sha256")
            )
        TrialLoop(self.backend, self.spec, self.save_checkpoint, self.write_trials).run(runner, out)

    def checkpoint(self, number: int) -> Path:
        assert self.path is not None
        return self.path / "checkpoints" / f"trial_{number}.keras"

    def write_trials(self) -> None:
        if self.path is None:  # a worker without a folder: the storage holds everything
            return
        header, rows = csv_rows(self.backend.records())
        write_csv(self.path / TRIALS_FILE, header, rows)

    # ---- reporting -----------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        return status_of(self.spec, self.path, self.backend.records(), self.backend.budget())


def status_of(
    spec: Spec, path: Path | None, records: list[TrialRecord], budget: int
) -> dict[str, Any]:
    """What ``status --json`` says of a study's trials (without its baselines)."""
    best = best_of(records, spec.objective.direction)
    return {
        "study": spec.study,
        "path": None if path is None else str(path),
        "backend": spec.search.backend,
        "objective": {
            "name": spec.objective.name,
            "direction": spec.objective.direction,
        },
        "budget": budget,
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


def interrupted_launch(path: Path) -> list[Path]:
    """The entries of a folder that a launch stopped before ``study.json`` was written
    left behind, or ``[]`` if the folder holds anything else (or a study)."""
    if not path.is_dir() or (path / META_FILE).exists():
        return []
    entries = _entries(path)
    ours = {SPEC_FILE, "keras_tuner"}
    temporary = (f".{SPEC_FILE}.", f".{META_FILE}.", "optuna.db", "optuna.journal")
    if not entries or not all(e.name in ours or e.name.startswith(temporary) for e in entries):
        return []
    return entries


def artifact_store(folder: Path) -> Any:
    import optuna

    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(
            f"cannot create the artifacts folder: {exc.strerror}", str(folder)
        ) from None
    return optuna.artifacts.FileSystemArtifactStore(str(folder))


def open_remote(
    url: str, name: str, data: Path | None = None, artifacts: Path | None = None
) -> Study:
    """A study on a database server, by URL and name, from any machine that has its data:
    the spec, the data's checksum and the seqtune version are in the study's attributes
    (written by ``launch --storage``). Refuses, in one line, data with another checksum."""
    import optuna

    from seqtune.search.backends.optuna_backend import OptunaBackend, open_storage
    from seqtune.store.server import is_server, mask_url

    if not is_server(url):
        raise UserError(
            "a study without a folder lives on a database server (postgresql://...); "
            "for a study folder give its path instead",
            "--storage",
        )
    storage = open_storage(url)
    try:
        try:
            attrs = optuna.load_study(study_name=name, storage=storage).user_attrs
        except KeyError:
            names = optuna.get_all_study_names(storage)
            known = f" (it holds: {', '.join(names[:8])})" if names else " (it holds none)"
            raise UserError(
                f"storage {mask_url(url)} holds no study named '{name}'{known}", "--study"
            ) from None
        info = attrs.get("seqtune")
        if not isinstance(info, dict) or not isinstance(info.get("spec"), dict):
            raise UserError(
                f"study '{name}' was not launched by `seqtune launch --storage`: its "
                "attributes hold no seqtune spec",
                "--study",
            )
        raw = json.loads(json.dumps(info["spec"]))
        csv = Path(data) if data is not None else Path(raw["data"]["csv"])
        if not csv.is_file():
            raise UserError(
                "no such data file on this machine: give the study's data "
                f"({info.get('data_file')}) with --data PATH",
                str(csv),
            )
        csv = csv.resolve()
        raw["data"]["csv"] = str(csv)
        now, digest = file_digest(csv), info.get("data_sha256")
        if digest and now != digest:
            raise UserError(
                f"is not the study's data (sha256 {now[:12]}…, the launch's {digest[:12]}…): "
                "give a copy of the launch's data file with --data",
                str(csv),
            )
        spec = Spec.from_dict(raw, csv.parent)
        if not backend_class(spec.search.backend).server_storage:
            raise UserError(f"{spec.search.backend} studies run in one study folder", "--study")
        backend = OptunaBackend(Path.cwd(), spec, url)
        backend._opened = storage
        backend.load()
    except BaseException:
        if isinstance(storage, optuna.storages.RDBStorage):
            storage.engine.dispose()
        raise
    meta = {
        "seqtune": info.get("seqtune"),
        "backend": spec.search.backend,
        "storage": mask_url(url),
        "data_sha256": digest,
        "data_path": str(csv),
    }
    return Study(None, spec, meta, backend, artifacts)


def prepare(spec: Spec, training: Training | None = None, **how: Any) -> tuple[Table, Runner]:
    """Load the data and check the spec against it; nothing is written. ``training``: how
    the runner trains (:class:`~seqtune.search.versions.Training`; a new study's by
    default), with ``how``'s fields (``holdout``, ``pad``, ``lstm``) replaced."""
    from seqtune.data import load_table
    from seqtune.search.runner import Runner
    from seqtune.search.versions import Training

    table = load_table(spec.data)
    check_spec_against_data(spec, table)
    return table, Runner(spec, table, replace(training or Training(), **how))


def _prepare_as_made(spec: Spec, version: str | None) -> tuple[Table, Runner]:
    """:func:`prepare` for a study launched by seqtune ``version``: it trains as that
    version did (:meth:`Training.of_study`), so its later trials train as its first."""
    from seqtune.search.versions import Training

    return prepare(spec, Training.of_study(version))


def _storable(storage: str | None) -> str | None:
    from seqtune.store.server import mask_url

    return None if storage is None else mask_url(storage)


def resume(path: Path, storage: str | None, trials: int | None) -> tuple[Study, Runner, list[int]]:
    """Take the study's lock, reopen it, refuse a changed spec or data, recover dead
    trials. With the lock held no other process runs this study, so every trial left
    running is a dead process's."""
    path = Path(path)
    if not path.is_dir():
        raise UserError("no such study folder", str(path))
    # the one-line reason a folder is not a study (or a damaged one) comes first, from a
    # read-only look: nothing, not even the lock file, is written into such a folder
    Study.open(path, storage).close()
    lock = StudyLock.acquire(path, "seqtune resume")
    study: Study | None = None
    try:
        study = Study.open(path, storage)
        study.lock = lock
        return _resume_open(study, trials)
    except BaseException:
        if study is not None:
            study.close()  # a refused resume leaves the storage as it found it
        lock.release()
        raise


def _resume_open(study: Study, trials: int | None) -> tuple[Study, Runner, list[int]]:
    path = study.path
    current = study.spec
    source = study.meta.get("source")
    if source and Path(source).is_file():
        # the file the study was launched from, with the launch's command-line overrides
        current = Overrides(**study.meta.get("overrides", {})).apply(Spec.from_file(source))
    study.check_unchanged(current)
    study.check_data()
    spec = study.spec
    if trials is not None:
        finished = study.backend.finished()
        if trials < finished:
            raise UserError(
                f"the study has {finished} finished trials already; the budget cannot go "
                f"below that (give --trials {finished} or more)",
                "--trials",
            )
        spec = replace(spec, search=replace(spec.search, trials=trials))
    # the last check: nothing is written before it passed; trials train as the study's first
    _, runner = _prepare_as_made(spec, study.meta.get("seqtune"))
    changed = spec.search.trials != study.spec.search.trials
    study.spec = study.backend.spec = spec
    # the backend's state first: a kill in between leaves the old budget in spec.yaml (the
    # grown schedule only capped by it), never a budget the schedule stops short of
    if trials is not None:
        study.backend.set_budget(trials)
    if changed:
        write_yaml(path / SPEC_FILE, spec.to_dict(relative_to=path))
    recovered = study.backend.recover()
    if recovered:
        study.write_trials()
    return study, runner, recovered


def read_folder(path: Path, need_data: bool = True) -> tuple[Path, Spec, dict[str, Any]]:
    """A study folder's resolved path, spec (with its CSV found, unless ``need_data`` is
    False) and ``study.json``; UserError, naming the folder or file, if it is not a whole
    study. Reads only."""
    path = Path(path)
    if not path.exists():
        raise UserError("no such study folder", str(path))
    if not path.is_dir():
        raise UserError("is a file, expected a study folder", str(path))
    path = path.resolve()
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
    # every command opens the storage, and SQLite or keras-tuner would write through a link
    refuse_links(path)
    meta = read_meta(path / META_FILE)
    spec = Spec.from_file(path / SPEC_FILE)
    if need_data:
        spec = locate_data(spec, meta, path)
    if meta["backend"] != spec.search.backend:
        raise UserError(
            f"says backend {meta['backend']} but {SPEC_FILE} says {spec.search.backend}: "
            "one of the two was edited; restore it",
            str(path / META_FILE),
        )
    return path, spec, meta


def read_meta(path: Path) -> dict[str, Any]:
    """``study.json``, checked for the shape seqtune writes; UserError names the file."""
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(
            f"unreadable study metadata ({type(exc).__name__}: {str(exc)[:120]}); restore it "
            "from a copy of the study (the trials themselves are in the backend's files)",
            str(path),
        ) from None
    problems = []
    if not isinstance(meta, dict):
        problems.append(f"expected a JSON object, got {type(meta).__name__}")
    else:
        if meta.get("backend") not in ("tpe", "random", "hyperband"):
            problems.append(f"backend {meta.get('backend')!r} is not tpe, random or hyperband")
        for key in ("storage", "source", "data_sha256", "data_path", "path"):
            if meta.get(key) is not None and not isinstance(meta[key], str):
                problems.append(f"{key} should be text, got {type(meta[key]).__name__}")
        if not isinstance(meta.get("overrides", {}), dict):
            problems.append("overrides should be an object")
        elif set(meta.get("overrides", {})) - {"backend", "max_epochs", "study"}:
            problems.append("overrides has unknown keys")
    if problems:
        raise UserError(
            "not a seqtune study.json: " + "; ".join(problems) + ". Restore it from a copy "
            "of the study (the trials themselves are in the backend's files)",
            str(path),
        )
    return meta


def locate_data(spec: Spec, meta: dict[str, Any], path: Path) -> Spec:
    """The spec with its CSV found: spec.yaml names it relative to the study folder; a
    folder moved without its data still finds the CSV where it was at launch."""
    if spec.data.csv.is_file():
        return spec
    launched_at = meta.get("data_path")
    if launched_at and Path(launched_at).is_file():
        return replace(spec, data=replace(spec.data, csv=Path(launched_at)))
    moved_from = meta.get("path")
    if moved_from and Path(moved_from) != path:
        raise UserError(
            f"the study folder was moved from {moved_from}; its data file, named relative to "
            f"the folder, is not at {spec.data.csv}"
            + (f" nor at {launched_at}" if launched_at else "")
            + ": copy the CSV there",
            str(path / SPEC_FILE),
        )
    raise UserError(
        "the study's data file is missing: restore it (spec.yaml names it relative to the "
        "study folder)",
        str(spec.data.csv),
    )


def _entries(path: Path) -> list[Path]:
    """What a folder holds besides its lock files."""
    if not path.is_dir():
        return []
    return [e for e in path.iterdir() if e.name not in LOCK_FILES]
