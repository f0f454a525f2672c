"""TPE and random search on Optuna: ask/tell, a pruner fed every epoch, SQLite by default."""

from __future__ import annotations

import contextlib
import copy
import datetime
import math
import os
import socket
import sqlite3
import sys
import threading
import time
import urllib.parse
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy

from seqtune.errors import UserError, exception_chain
from seqtune.search.backends.base import (
    Backend,
    TrialPlan,
    TrialResult,
    derive_seed,
    refuse_changed_objective,
)
from seqtune.search.records import TrialRecord, stored_record
from seqtune.search.signals import check_stop
from seqtune.spaces import suggest_optuna
from seqtune.spec import Spec
from seqtune.store.server import (
    database_name,
    is_server,
    mask_url,
    server_problem,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)  # seqtune prints its own progress

_STATE = {
    optuna.trial.TrialState.COMPLETE: "complete",
    optuna.trial.TrialState.PRUNED: "pruned",
    optuna.trial.TrialState.FAIL: "failed",
    optuna.trial.TrialState.RUNNING: "running",
    optuna.trial.TrialState.WAITING: "running",
}


def heartbeat_settings() -> tuple[int, int]:
    """(interval, grace period) in seconds for trials on a server storage.

    A running trial writes a heartbeat every 20 s; one whose last heartbeat is older than
    120 s is failed by the next worker that looks and run again once. 120 s is six missed
    beats: a server restart, a network hiccup or a long garbage collection do not fail a
    live trial, while a killed worker's trial is taken over within about two minutes,
    short beside the trials this is for. ``SEQTUNE_HEARTBEAT=INTERVAL:GRACE`` changes
    both (the tests use seconds)."""
    raw = os.environ.get("SEQTUNE_HEARTBEAT", "")
    if raw:
        try:
            interval, grace = (int(x) for x in raw.split(":"))
            if 1 <= interval < grace:
                return interval, grace
        except ValueError:
            pass
        raise UserError("expected INTERVAL:GRACE in seconds, interval < grace", "SEQTUNE_HEARTBEAT")
    return 20, 120


def storage_wait() -> float:
    """How long a storage call on a server is retried while the server is unreachable."""
    try:
        return max(0.0, float(os.environ.get("SEQTUNE_STORAGE_WAIT", "120")))
    except ValueError:
        raise UserError("expected seconds", "SEQTUNE_STORAGE_WAIT") from None


_RETRYABLE_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock detected


def transient(exc: BaseException) -> bool:
    """A failure worth retrying on a server: a lost or refused connection, a
    serialization failure or a deadlock (the server rolled the transaction back)."""
    for cause in exception_chain(exc):
        if getattr(cause, "sqlstate", None) in _RETRYABLE_SQLSTATES:
            return True
        if getattr(cause, "pgcode", None) in _RETRYABLE_SQLSTATES:
            return True
        if isinstance(cause, sqlalchemy.exc.DBAPIError) and cause.connection_invalidated:
            return True
        if isinstance(cause, sqlalchemy.exc.OperationalError | sqlalchemy.exc.InterfaceError):
            text = str(cause).lower()
            return not ("password" in text or "does not exist" in text)
        if isinstance(cause, ConnectionError | TimeoutError):
            return True
    return False


class StorageLost(Exception):
    """The server stayed unreachable longer than :func:`storage_wait`."""


def retrying(fn: Any, *args: Any, wait: float | None = None, **kwargs: Any) -> Any:
    """Call ``fn``; on a transient server failure try again with growing pauses, for up
    to ``wait`` seconds (default :func:`storage_wait`), saying so once on stderr."""
    import sys

    deadline = time.monotonic() + (storage_wait() if wait is None else wait)
    pause, said = 0.25, False
    while True:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if not transient(exc):
                raise
            if time.monotonic() + pause > deadline:
                raise StorageLost(
                    f"the storage server stayed unreachable ({type(exc).__name__}); what "
                    "finished is kept in it"
                ) from None
            if not said:
                print(
                    "seqtune: the storage server does not answer; retrying "
                    f"for up to {deadline - time.monotonic():.0f} s",
                    file=sys.stderr,
                    flush=True,
                )
                said = True
            time.sleep(pause)
            pause = min(pause * 2, 5.0)


class Heartbeat:
    """Writes the running trial's heartbeat every interval from a thread (Optuna does
    this only inside ``study.optimize``; seqtune asks and tells itself). A failed write
    is skipped: the grace period covers a few."""

    def __init__(self, storage: optuna.storages.BaseStorage, interval: int) -> None:
        self.storage, self.interval = storage, interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, trial_id: int) -> None:
        self.stop()
        self._stop = threading.Event()
        self._beat(trial_id)  # at once: a trial without a heartbeat is never found stale
        self._thread = threading.Thread(
            target=self._run, args=(trial_id, self._stop), name="seqtune-heartbeat", daemon=True
        )
        self._thread.start()

    def _beat(self, trial_id: int) -> None:
        with contextlib.suppress(Exception):
            self.storage.record_heartbeat(trial_id)  # type: ignore[attr-defined]

    def _run(self, trial_id: int, stop: threading.Event) -> None:
        while not stop.wait(self.interval):
            self._beat(trial_id)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None


class EpochReports:
    """One running trial's epoch values: stored in the storage, and the pruner asked.

    Asking Optuna (``trial.should_prune()``) re-reads the running trial and the study from
    the storage: about 14 ms per epoch on SQLite, longer than an epoch of a small model. For
    the median and percentile pruners, which only read, the pruner is asked here with the
    values reported and the study's complete trials, re-read when they are older than
    ``refresh_seconds`` (a trial another worker completes meanwhile counts from then on).
    Other pruners (successive halving, hyperband) keep state in the storage and are asked
    through Optuna. ``pruner: none`` is never asked.

    When the decision does not read the storage (those pruners, or none), the values are
    written by a background thread (1–2 ms each on SQLite, while the model trains on its
    one TensorFlow thread); :meth:`close` waits for them and runs before the trial is told.
    """

    refresh_seconds = 5.0

    def __init__(self, trial: optuna.trial.Trial, trial_id: int, server: bool = False) -> None:
        self.trial, self.trial_id, self.server = trial, trial_id, server
        pruner = trial.study.pruner
        self.asks = not isinstance(pruner, optuna.pruners.NopPruner)
        self._local = isinstance(pruner, optuna.pruners.PercentilePruner)  # median included
        self._reported: dict[int, float] = {}
        self._complete: list[optuna.trial.FrozenTrial] = []
        self._read_at = -math.inf
        # epoch values not stored yet, by epoch: bounded (see _store), so that a stop never
        # waits for more than MAX_PENDING writes
        self._pending: dict[int, float] = {}
        self._wake = threading.Condition()
        self._closing = False
        self._writer: threading.Thread | None = None
        self.error: BaseException | None = None  # a value the writer could not store

    def report(self, epoch: int, value: float) -> bool:
        """Store ``value`` as the trial's value after ``epoch``; True to prune it."""
        self._store(float(value), epoch)
        self._reported.setdefault(epoch, float(value))  # Optuna keeps the first report too
        return self.asks and bool(self.should_prune())

    #: Epoch values waiting for the writer at most: past that, every other waiting one is
    #: dropped (the first and the latest kept). Only the stored curve loses points, and only
    #: when epochs come faster than the storage takes them; the pruner decides on every
    #: value (it is asked with the values reported here, not the stored ones).
    MAX_PENDING = 128

    def _store(self, value: float, step: int) -> None:
        if self.asks and not self._local:  # the pruner reads this trial from the storage
            self.trial.report(value, step)
            return
        if self._writer is None:
            self._closing = False  # a report after close() starts a writer again
            self._writer = threading.Thread(target=self._write, name="seqtune-report")
            self._writer.daemon = True  # a killed trial is recovered by resume anyway
            self._writer.start()
        with self._wake:
            self._pending.setdefault(step, value)  # Optuna keeps a step's first value
            if len(self._pending) > self.MAX_PENDING:
                steps = sorted(self._pending)
                keep = {*steps[::2], steps[-1]}
                self._pending = {k: v for k, v in self._pending.items() if k in keep}
            self._wake.notify()

    def _write(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._closing:
                    self._wake.wait()
                batch, self._pending = self._pending, {}
                if not batch and self._closing:
                    return
            for step in sorted(batch):
                if self.error is not None:
                    break
                try:
                    item = (batch[step], step)
                    retrying(self.trial.report, *item) if self.server else self.trial.report(*item)
                except BaseException as exc:  # surfaced by raise_if_failed
                    self.error = exc

    def close(self, interrupted: bool = False) -> None:
        """Wait until every value is stored (``interrupted``: only the latest, so that a
        stop is quick). Never raises: see :meth:`raise_if_failed`."""
        if self._writer is not None:
            with self._wake:
                if interrupted and self._pending:
                    last = max(self._pending)
                    self._pending = {last: self._pending[last]}
                self._closing = True
                self._wake.notify()
            self._writer.join()
            self._writer = None

    def raise_if_failed(self) -> None:
        if self.error is not None:
            raise self.error

    def should_prune(self) -> bool:
        call = retrying if self.server else (lambda fn, *a, **k: fn(*a, **k))
        if not self._local:
            return bool(call(self.trial.should_prune))
        study = self.trial.study
        if time.monotonic() - self._read_at > self.refresh_seconds:
            complete = (optuna.trial.TrialState.COMPLETE,)
            self._complete = call(study.get_trials, deepcopy=False, states=complete)
            self._read_at = time.monotonic()
        now = optuna.trial.FrozenTrial(
            number=self.trial.number,
            state=optuna.trial.TrialState.RUNNING,
            value=None,
            datetime_start=None,
            datetime_complete=None,
            params={},
            distributions={},
            user_attrs={},
            system_attrs={},
            intermediate_values=dict(self._reported),
            trial_id=self.trial_id,
        )
        return study.pruner.prune(_CompleteTrials(study.direction, self._complete), now)


class _CompleteTrials:
    """The part of a study the percentile pruner reads: its direction and complete trials."""

    def __init__(
        self, direction: optuna.study.StudyDirection, complete: list[optuna.trial.FrozenTrial]
    ) -> None:
        self.direction, self._complete = direction, complete

    def get_trials(
        self, deepcopy: bool = True, states: Any = None
    ) -> list[optuna.trial.FrozenTrial]:
        assert states == (optuna.trial.TrialState.COMPLETE,), states
        return self._complete


def make_pruner(name: str, spec: Spec) -> optuna.pruners.BasePruner:
    if name == "none":
        return optuna.pruners.NopPruner()
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=5)
    if name == "percentile":
        return optuna.pruners.PercentilePruner(25.0, n_startup_trials=5, n_warmup_steps=5)
    if name == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner()
    return optuna.pruners.HyperbandPruner(max_resource=spec.search.max_epochs)


@dataclass
class _Running:
    """A trial this process asked for and has not told yet."""

    trial: optuna.trial.Trial
    trial_id: int
    reports: EpochReports


class OptunaBackend(Backend):
    """``tpe`` (TPESampler) or ``random`` (RandomSampler), both seeded from the study seed,
    through Optuna's public ask/tell interface."""

    server_storage = True
    parallel_workers = True
    ignored_settings = ("factor", "hyperband_iterations")

    def __init__(self, study_dir: Path, spec: Spec, storage: str | None = None) -> None:
        super().__init__(study_dir, spec, storage)
        self.name = spec.search.backend
        self._study: optuna.study.Study | None = None
        self._opened: optuna.storages.BaseStorage | None = None
        self._study_id: int | None = None
        self._running: dict[int, _Running] = {}
        self._beat: Heartbeat | None = None
        self.server = is_server(storage)

    @property
    def url(self) -> str:
        """The storage URL, with a relative journal path made absolute."""
        if self.storage is None:
            return f"sqlite:///{(self.study_dir / 'optuna.db').resolve()}"
        if self.storage.startswith("journal:"):
            path = Path(self.storage.removeprefix("journal:"))
            return f"journal:{(self.study_dir / path).resolve()}"
        return self.storage

    def _sampler(self, n_existing: int) -> optuna.samplers.BaseSampler:
        # Re-seed with the trial count so a resumed study does not redraw the first
        # random configurations it already tried.
        seed = derive_seed(self.spec.seed, 10_000 + n_existing)
        if self.spec.search.backend == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        # on a server many workers ask at once: each pretends the others' running trials
        # scored badly, so that they do not all draw the same promising point
        return optuna.samplers.TPESampler(
            seed=seed, multivariate=True, group=True, constant_liar=self.server
        )

    def _storage(self, create_tables: bool = False) -> optuna.storages.BaseStorage:
        if self._opened is None:
            self._opened = open_storage(self.url, self.study_dir, create_tables)
        return self._opened

    def trial_id(self, number: int) -> int:
        """The storage's id of trial ``number`` of this study."""
        storage = self._storage()
        if self._study_id is None:
            self._study_id = storage.get_study_id_from_name(self.spec.study)
        return storage.get_trial_id_from_study_id_trial_number(self._study_id, number)

    def close(self) -> None:
        """Close the storage's connections. On SQLite, merge the write-ahead log into
        ``optuna.db`` first, so that the file alone holds the whole study (a copy or an
        archive of it carries every trial) and ``-wal``/``-shm`` disappear."""
        if self._beat is not None:
            self._beat.stop()
        storage, self._opened, self._study = self._opened, None, None
        self._study_id = None
        if isinstance(storage, optuna.storages.RDBStorage):
            storage.remove_session()
            storage.engine.dispose()
        if self.url.startswith("sqlite:///"):
            checkpoint_sqlite(Path(self.url.removeprefix("sqlite:///")))

    def create(self, replace_empty: bool = False) -> None:
        storage = self._storage(create_tables=True)
        direction = self.spec.objective.direction
        if replace_empty:
            self._delete_if_empty(storage)
        try:
            self._study = optuna.create_study(
                study_name=self.spec.study,
                storage=storage,
                direction=direction,
                sampler=self._sampler(0),
                pruner=make_pruner(self.spec.search.pruner, self.spec),
            )
        except optuna.exceptions.DuplicatedStudyError:
            raise UserError(
                f"storage {mask_url(self.url)} already holds a study named '{self.spec.study}'",
                "--storage",
            ) from None
        # the objective's name where tools (optuna-dashboard) show the study's values
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            self._study.set_metric_names([self.spec.objective.name])

    def publish(self, info: dict[str, Any]) -> None:
        """On a server, keep in the study's attributes what a worker on another machine
        needs to join it (the spec, the data's checksum, the seqtune version). Never the
        storage URL: it may hold a password."""
        if self.server:
            self.study.set_user_attr("seqtune", info)

    def _delete_if_empty(self, storage: optuna.storages.BaseStorage) -> None:
        try:
            left = optuna.load_study(study_name=self.spec.study, storage=storage)
        except KeyError:
            return
        if not left.get_trials(deepcopy=False):
            optuna.delete_study(study_name=self.spec.study, storage=storage)

    def load(self) -> None:
        own = self.storage is None  # the study folder's own file, not a server or journal
        if own:  # opening a missing or empty file would write a new database in its place
            check_sqlite_file(self.study_dir / "optuna.db")
        storage = self._storage()
        try:
            study = optuna.load_study(study_name=self.spec.study, storage=storage)
        except KeyError:
            if own:
                raise UserError(
                    f"holds no study named '{self.spec.study}': it is not this study's "
                    "database; restore it from a copy of the study",
                    str(self.study_dir / "optuna.db"),
                ) from None
            raise UserError(
                f"storage {mask_url(self.url)} holds no study named '{self.spec.study}'",
                "--storage",
            ) from None
        stored = study.metric_names  # set at launch (create), with the direction
        refuse_changed_objective(
            self.spec,
            stored[0] if stored else None,
            study.direction.name.lower(),
            "its storage",
            self.study_dir,
        )
        n = len(study.get_trials(deepcopy=False))
        self._study = optuna.load_study(
            study_name=self.spec.study,
            storage=storage,
            sampler=self._sampler(n),
            pruner=make_pruner(self.spec.search.pruner, self.spec),
        )

    @property
    def study(self) -> optuna.study.Study:
        assert self._study is not None, "create() or load() first"
        return self._study

    def recover(self) -> list[int]:
        if self.server:  # workers elsewhere may be alive: only trials without a heartbeat
            return self.fail_stale()
        out = []
        storage = self._storage()
        for t in self.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            storage.set_trial_user_attr(
                self.trial_id(t.number), "interrupted", "the process running it died"
            )
            self.study.tell(t.number, state=optuna.trial.TrialState.FAIL)
            out.append(t.number)
        return out

    def fail_stale(self) -> list[int]:
        """Fail the running trials whose worker stopped sending heartbeats (each is run
        again once, see open_storage); return their numbers."""
        running = (optuna.trial.TrialState.RUNNING,)
        before = {t.number for t in self.study.get_trials(deepcopy=False, states=running)}
        if not before:
            return []
        optuna.storages.fail_stale_trials(self.study)
        self._fail_never_beaten()
        still = {t.number for t in self.study.get_trials(deepcopy=False, states=running)}
        return sorted(before - still)

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """A storage call, retried through a server's short outages."""
        return retrying(fn, *args, **kwargs) if self.server else fn(*args, **kwargs)

    def _fail_never_beaten(self) -> None:
        """A worker killed between asking for a trial and its first heartbeat (a few
        milliseconds) leaves a trial that Optuna never finds stale. Such a trial has no
        `worker` attribute, which every live trial gets at once: fail it (and queue it
        again) once it is older than two grace periods (a margin for clocks that differ)."""
        storage = self._storage()
        grace = heartbeat_settings()[1]
        cutoff = datetime.datetime.now() - datetime.timedelta(seconds=2 * grace)
        running = (optuna.trial.TrialState.RUNNING,)
        for t in self.study.get_trials(deepcopy=False, states=running):
            if "worker" in t.user_attrs or t.datetime_start is None or t.datetime_start > cutoff:
                continue
            trial_id = self.trial_id(t.number)
            try:
                if not storage.set_trial_state_values(trial_id, optuna.trial.TrialState.FAIL):
                    continue
            except optuna.exceptions.UpdateFinishedTrialError:
                continue
            callback = storage.get_heartbeat_stale_trial_callback()  # type: ignore[attr-defined]
            if callback is not None:
                callback(self.study, copy.deepcopy(storage.get_trial(trial_id)))

    def records(self) -> list[TrialRecord]:
        trials = self._call(self.study.get_trials, deepcopy=False)
        retried = {
            t.system_attrs["failed_trial"]: t.number
            for t in trials
            if "failed_trial" in t.system_attrs
        }
        return [to_record(t, retried.get(t.number)) for t in trials]

    def running(self) -> int:
        states = (optuna.trial.TrialState.RUNNING,)
        return len(self._call(self.study.get_trials, deepcopy=False, states=states))

    def _progress(self) -> tuple[int, int, int]:
        """(finished, running, waiting) in one read; a waiting trial is a lost trial queued
        again (heartbeats), run once whatever the budget says (it replaces the lost one)."""
        records = self.records()
        done = sum(1 for r in records if r.counts_toward_budget)
        states = [t.state for t in self.study.get_trials(deepcopy=False)]
        running = states.count(optuna.trial.TrialState.RUNNING)
        return done, running, states.count(optuna.trial.TrialState.WAITING)

    def upload_checkpoint(self, number: int, path: Path, store: Any) -> None:
        """Keep a trial's model in an Optuna artifact store (a worker without a folder)."""
        storage = self._storage()
        trial_id = retrying(self.trial_id, number)
        artifact = retrying(
            optuna.artifacts.upload_artifact,
            artifact_store=store,
            file_path=str(path),
            study_or_trial=storage.get_trial(trial_id),
            storage=storage,
        )
        retrying(storage.set_trial_user_attr, trial_id, "checkpoint", artifact)

    def download_checkpoint(self, number: int, path: Path, store: Any) -> bool:
        """Fetch a trial's model from the artifact store; False when it is not there."""
        trial = self.study.get_trials(deepcopy=False)[number]
        artifact = trial.user_attrs.get("checkpoint")
        if not artifact:
            return False
        try:
            optuna.artifacts.download_artifact(
                artifact_store=store, file_path=str(path), artifact_id=artifact
            )
        except Exception:  # another machine's unshared folder: refit from the seed
            return False
        return path.is_file()

    # ---- ask / report / tell ---------------------------------------------------------
    def ask(self, budget: int) -> TrialPlan | None:
        study, call = self.study, self._call
        while True:
            check_stop()
            if self.server:
                call(self.fail_stale)
            done, running, waiting = call(self._progress)
            # in-flight trials of other workers count, so N workers stop at the budget
            # together (two that look at once may both start one: at most N - 1 over);
            # a queued retry is always run (ask() hands out waiting trials first)
            if waiting or done + running < budget:
                break
            if not (self.server and done < budget):
                return None
            # a running trial may belong to a worker that died: wait for it to finish or
            # to be found stale (then it is run again)
            _sleep(min(5.0, heartbeat_settings()[0]))
        trial = call(study.ask)
        trial_id = call(self.trial_id, trial.number)
        if self.server:
            self._beat = self._beat or Heartbeat(self._storage(), heartbeat_settings()[0])
            self._beat.start(trial_id)
        try:
            # a trial run again after its worker was lost keeps its parameters and seed
            asked = call(self._storage().get_trial, trial_id)
            seed = asked.user_attrs.get("seed") if "failed_trial" in asked.system_attrs else None
            if seed is None:
                seed = derive_seed(self.spec.seed, trial.number)
            values = call(suggest_optuna, trial, self.spec.space)
            call(trial.set_user_attr, "params", values)
            call(trial.set_user_attr, "seed", seed)
            if self.server:  # which machine and process runs it, for a look at a shared study
                call(trial.set_user_attr, "worker", f"{socket.gethostname()}:{os.getpid()}")
        except BaseException:
            self._tell_state(
                trial,
                trial_id,
                optuna.trial.TrialState.FAIL,
                "interrupted",
                "interrupted while it was being asked",
            )
            raise
        self._running[trial.number] = _Running(
            trial, trial_id, EpochReports(trial, trial_id, self.server)
        )
        return TrialPlan(number=trial.number, values=values, seed=seed)

    def report(self, number: int, epoch: int, value: float) -> bool:
        return self._running[number].reports.report(epoch, value)

    def tell(self, number: int, result: TrialResult) -> TrialRecord:
        run = self._running.pop(number)
        try:
            # every epoch's value stored before the trial is told (a stopped one: the last)
            run.reports.close(interrupted=result.state == "interrupted")
            if result.state != "interrupted" and run.reports.error is not None:
                error = run.reports.error
                if not self._taken_over(run, error):
                    self._tell_state(
                        run.trial,
                        run.trial_id,
                        optuna.trial.TrialState.FAIL,
                        "reason",
                        f"error: {type(error).__name__}: {error}"[:300],
                    )
                raise error
            self._tell(run, result)
        except Exception as exc:
            if not self._taken_over(run, exc):
                raise
            # another process finished this trial meanwhile (a resume took it for a dead
            # process's, or a server's heartbeat check failed it as stale after a pause):
            # its result belongs to nobody now; the trial loop goes on with the next one
            print(
                f"seqtune: trial {number} was finished by another process meanwhile (taken "
                "for a dead one's); its result is dropped",
                file=sys.stderr,
            )
        finally:
            if self._beat is not None:
                self._beat.stop()
        frozen = self._call(self._storage().get_trial, run.trial_id)
        return to_record(frozen, None, frozen.system_attrs.get("failed_trial"))

    def _tell(self, run: _Running, result: TrialResult) -> None:
        trial, call = run.trial, self._call
        if result.state == "interrupted":
            # resume runs it again; on a server a lost answer is covered by the heartbeat
            self._tell_state(
                trial,
                run.trial_id,
                optuna.trial.TrialState.FAIL,
                "interrupted",
                result.reason or "interrupted",
            )
            return
        if result.epochs is not None:
            call(_set_result, trial, result)
        if result.state == "complete":
            self._told(run, lambda: call(self.study.tell, trial, result.value))
            return
        if result.state == "pruned":
            state = optuna.trial.TrialState.PRUNED
        else:
            call(trial.set_user_attr, "reason", result.reason or "failed")
            state = optuna.trial.TrialState.FAIL
        self._told(run, lambda: call(self.study.tell, trial, state=state))

    def _taken_over(self, run: _Running, exc: BaseException) -> bool:
        """Whether ``exc`` says the trial was finished by someone else (Optuna refuses to
        update a finished trial) and the storage agrees."""
        if not any(
            isinstance(c, optuna.exceptions.UpdateFinishedTrialError) for c in exception_chain(exc)
        ):
            return False
        try:
            return bool(self._call(self._storage().get_trial, run.trial_id).state.is_finished())
        except Exception:
            return False

    def _told(self, run: _Running, tell: Any) -> None:
        try:
            tell()
        except (RuntimeError, ValueError, optuna.exceptions.UpdateFinishedTrialError):
            # told already (an answer lost with a connection), or failed as stale by
            # another worker meanwhile (then it runs again): nothing to add
            if self._call(self._storage().get_trial, run.trial_id).state.is_finished():
                return
            raise

    def _tell_state(
        self, trial: optuna.trial.Trial, trial_id: int, state: Any, key: str, reason: str
    ) -> None:
        """Fail a trial with a reason, without retrying on a server (the process is
        stopping; a trial whose answer is lost is found stale by its heartbeat)."""
        try:
            trial.set_user_attr(key, reason[:300])
            self.study.tell(trial, state=state)
        except Exception:
            if not self.server:
                raise


def _sleep(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        check_stop()
        time.sleep(min(0.2, max(0.0, end - time.monotonic())))


def _set_result(trial: optuna.trial.Trial, result: TrialResult) -> None:
    trial.set_user_attr("epochs", result.epochs)
    trial.set_user_attr("best_epoch", result.best_epoch)
    trial.set_user_attr("seconds", None if result.seconds is None else round(result.seconds, 3))
    trial.set_user_attr("metrics", result.metrics)


def to_record(
    t: optuna.trial.FrozenTrial, retried_as: int | None = None, retry_of: int | None = None
) -> TrialRecord:
    if retry_of is None:
        retry_of = t.system_attrs.get("failed_trial")
    took = None
    if t.datetime_start and t.datetime_complete:
        took = (t.datetime_complete - t.datetime_start).total_seconds()
    return stored_record(
        t.number,
        _STATE.get(t.state, "failed"),
        t.user_attrs,
        t.value,
        took,
        retried_as,
        retry_of,
        dict(t.params),
    )


def check_sqlite_file(path: Path) -> None:
    """Refuse, naming it, a study database that is missing, empty or not SQLite at all."""
    restore = "it holds the study's trials; restore it from a copy of the study"
    try:
        with path.open("rb") as fh:
            head = fh.read(100)
    except FileNotFoundError:
        raise UserError(f"is missing: {restore}", str(path)) from None
    except OSError as exc:
        raise UserError(f"cannot be read ({exc.strerror}): {restore}", str(path)) from None
    if len(head) < 100 or not head.startswith(b"SQLite format 3\x00"):
        what = "is empty" if not head else "is not a SQLite database (damaged)"
        raise UserError(f"{what}: {restore}", str(path))


def open_storage(
    url: str, study_dir: Path | None = None, create_tables: bool = False
) -> optuna.storages.BaseStorage:
    """An Optuna storage for a URL: ``journal:PATH`` (relative to the study folder) or any
    database URL. Raises UserError, without the password, when it cannot be opened.
    ``create_tables``: a new study (launch); otherwise nothing is written on opening."""
    try:
        if url.startswith("journal:"):
            path = Path(url.removeprefix("journal:"))
            if not path.is_absolute() and study_dir is not None:
                path = study_dir / path
            if not path.parent.is_dir():
                raise FileNotFoundError(f"no folder {path.parent}")
            return optuna.storages.JournalStorage(
                optuna.storages.journal.JournalFileBackend(str(path))
            )
        if is_server(url):
            return _server_storage(url, create_tables)
        return optuna.storages.RDBStorage(
            url, engine_kwargs=_engine_kwargs(url), skip_table_creation=not create_tables
        )
    except UserError:
        raise
    except Exception as exc:  # driver, network, permissions: one line, no password
        first = (mask_url(str(exc)).splitlines() or [""])[0][:200]
        own = study_dir is not None and url == f"sqlite:///{(study_dir / 'optuna.db').resolve()}"
        if own:  # the study's own file, damaged or unreadable
            raise UserError(
                f"cannot read the study's SQLite storage ({type(exc).__name__}: {first}); "
                "restore it from a copy of the study",
                url.removeprefix("sqlite:///"),
            ) from None
        raise UserError(
            f"cannot open storage {mask_url(url)}: {type(exc).__name__}: {first}",
            "--storage",
        ) from None


def _server_storage(url: str, create_tables: bool) -> optuna.storages.RDBStorage:
    interval, grace = heartbeat_settings()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1)
        storage = optuna.storages.RDBStorage(
            url,
            engine_kwargs=_engine_kwargs(url),
            skip_table_creation=not create_tables,
            heartbeat_interval=interval,
            grace_period=grace,
            heartbeat_stale_trial_callback=retry,
        )
        if not create_tables:  # status, export, a worker: the tables must be there
            with storage.engine.connect() as conn:
                if not sqlalchemy.inspect(conn).has_table("studies"):
                    raise UserError(
                        f"database {database_name(url)!r} holds no Optuna study: launch one with "
                        "`seqtune launch SPEC --storage URL`",
                        "--storage",
                    )
        return storage
    except UserError:
        raise
    except Exception as exc:
        raise UserError(server_problem(exc, url), "--storage") from None


def _engine_kwargs(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        database = sqlalchemy.engine.make_url(url).database
        if database and database != ":memory:":
            if _sqlite_read_only(database):
                _sqlite_immutable(database).close()  # refuse here if it cannot be read
                return {"creator": lambda: _sqlite_immutable(database)}
            return {"creator": lambda: _sqlite_connect(database)}
        return {"connect_args": {"timeout": 30}}
    # many workers, one server: each keeps a small pool (the trial loop and the heartbeat
    # and report threads), checks a connection before use (a server restarted meanwhile),
    # and gives up connecting after 10 s (then seqtune's retries take over)
    kwargs: dict[str, Any] = {
        "pool_pre_ping": True,
        "pool_size": 2,
        "max_overflow": 2,
        "pool_recycle": 1800,
    }
    if url.startswith("postgresql"):
        kwargs["connect_args"] = {"connect_timeout": 10}
    return kwargs


def checkpoint_sqlite(database: Path) -> None:
    """Merge the write-ahead log into the database file; SQLite removes ``-wal`` and
    ``-shm`` when this closes the last connection. Never raises: a study still in use by
    another process (a worker, a ``status``) keeps its log, which is then merged by the
    last process to close it."""
    wal = database.with_name(database.name + "-wal")
    if not wal.exists() or not os.access(database.parent, os.W_OK):
        return
    try:
        conn = sqlite3.connect(str(database), timeout=5)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
    except sqlite3.Error:
        pass


def _sqlite_read_only(database: str) -> bool:
    folder = os.path.dirname(os.path.abspath(database))
    if not os.path.exists(database):
        return not os.access(folder, os.W_OK)
    return not os.access(folder, os.W_OK) or not os.access(database, os.W_OK)


def _sqlite_immutable(database: str) -> sqlite3.Connection:
    """A read-only connection that writes nothing, not even ``-shm``: for a study folder
    that cannot be written (a read-only copy, an archive mounted read-only)."""
    wal = database + "-wal"
    if os.path.exists(wal) and os.path.getsize(wal) > 0:
        raise UserError(
            "the study folder is read-only and its latest trials are still in "
            f"{os.path.basename(wal)}, which SQLite reads only from a writable folder: "
            "copy the study folder somewhere writable and read it there",
            os.path.dirname(os.path.abspath(database)),
        )
    uri = "file:" + urllib.parse.quote(os.path.abspath(database)) + "?immutable=1"
    return sqlite3.connect(uri, uri=True, check_same_thread=False)


def _sqlite_connect(database: str) -> sqlite3.Connection:
    """A SQLite connection in write-ahead-log mode with ``synchronous=NORMAL``.

    A trial reports its objective every epoch, one commit each: in the default rollback
    journal every commit waits for an fsync (about 7 ms here, as long as an epoch). In WAL
    mode a commit survives a killed process (what the kill tests check); only a power cut
    can lose the last commits. Readers (``status`` during a run) no longer block writers.
    WAL needs a local file system, which is where a study folder lives.
    """
    conn = sqlite3.connect(database, timeout=30, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn
