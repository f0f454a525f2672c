"""Run a study to its budget: launch or resume, with worker processes — the one code path
of ``seqtune launch`` / ``seqtune resume`` and of ``seqtune.launch`` / ``seqtune.resume``.

:func:`check_launch` refuses every launch mistake before anything is written or TensorFlow
loads; :func:`launch` takes the study folder's lock, starts the workers (each a
``seqtune worker`` process inheriting the locked descriptor, so the study stays owned while
any runs), creates the study and runs it; :func:`resume` reopens one. Both return the exit
code the CLI gives (0, 1 when a worker failed, 128 + signal when stopped); messages go to
``say`` (the CLI: stderr; the Python API: nowhere unless asked).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from seqtune.errors import UserError
from seqtune.quiet import load_tensorflow
from seqtune.store.files import META_FILE

if TYPE_CHECKING:
    from seqtune.spec import Overrides, Spec
    from seqtune.study.lifecycle import Study

#: The environment variable naming the study lock's descriptor a worker inherited.
INHERITED_LOCK = "SEQTUNE_LOCK_FD"

Say = Callable[[str], None]


def check_launch(spec: Spec, results: Path, storage: str | None, workers: int) -> str | None:
    """Every launch mistake the spec's own checks do not see, refused in one line before
    anything is written: results that is a file, a storage the backend cannot use, a
    server that does not answer, workers without a storage that takes them, a bad
    SEQTUNE_THREADS, a study that already exists. Returns the storage the study will use
    (with workers and none given: Optuna's journal file in the study folder)."""
    if results.exists() and not results.is_dir():
        raise UserError("is a file, not a folder for study results", str(results))
    from seqtune.search.backends.registry import backend_class

    if storage and not backend_class(spec.search.backend).server_storage:
        raise UserError(
            "keras-tuner's Hyperband runs in one study folder; for many workers or machines "
            "use `backend: tpe` with `pruner: hyperband` (Optuna's Hyperband pruner)",
            "--storage",
        )
    if storage:
        from seqtune.store.server import is_server, probe_server

        if is_server(storage):  # a wrong URL, password or database: refused here, at once
            probe_server(storage)
    if workers > 1:
        # SQLite does not take concurrent writers well; Optuna's journal file does
        storage = storage or "journal:optuna.journal"
        check_workers(spec.search.backend, storage)
    from seqtune.models.runtime import threads_from_env

    threads_from_env()  # a bad SEQTUNE_THREADS is refused before anything is written
    from seqtune.store.files import refuse_existing_study

    refuse_existing_study(results.resolve() / spec.study)  # at once, without its lock
    return storage


def check_workers(backend: str, storage: str | None) -> None:
    """UserError (``--workers``) unless ``backend`` runs trials in parallel processes on
    ``storage``."""
    from seqtune.search.backends.registry import backend_class

    if not backend_class(backend).parallel_workers:
        raise UserError("parallel workers need an Optuna backend (tpe or random)", "--workers")
    if storage is None or storage.startswith("sqlite"):
        raise UserError(
            "SQLite does not take concurrent writers: launch with --workers (a journal file "
            "is used then) or give a server database with --storage",
            "--workers",
        )


def spawn_workers(
    study_dir: Path,
    count: int,
    storage: str | None,
    launched_by: int | None = None,
    lock: Any = None,
) -> list[Any]:
    """Worker processes; each inherits the study's locked descriptor, so the study stays
    owned (a launch or resume of it refused) while any of them runs."""
    import subprocess

    cmd = [sys.executable, "-m", "seqtune.cli", "worker", str(study_dir)]
    env = dict(os.environ)
    env.pop("SEQTUNE_STORAGE", None)  # the study folder's own storage unless given
    if storage:  # in the environment, not the command line: a password stays out of `ps`
        env["SEQTUNE_STORAGE"] = storage
    if launched_by is not None:
        cmd += ["--launched-by", str(launched_by)]
    fds = (lock.inheritable(),) if lock is not None else ()
    env.pop(INHERITED_LOCK, None)
    if fds:  # the worker knows it runs under this lock (a worker started by hand takes it)
        env[INHERITED_LOCK] = str(fds[0])
    # SEQTUNE_THREADS is inherited
    return [subprocess.Popen(cmd, pass_fds=fds, env=env) for _ in range(count)]


def stop_workers(children: list[Any]) -> None:
    """SIGTERM to every worker, then wait for each (each records its trial as interrupted)."""
    import signal

    for child in children:
        child.send_signal(signal.SIGTERM)
    for child in children:
        child.wait()


def launch(
    spec: Spec,
    overrides: Overrides,
    results: Path,
    storage: str | None,
    *,
    workers: int = 1,
    worker_storage: str | None = None,
    say: Say,
    out: TextIO | None = None,
    done: Callable[[Study], None] | None = None,
) -> tuple[int, Path]:
    """Create the study of ``spec`` under ``results`` and run it to its budget with
    ``workers`` processes in all; ``storage`` as :func:`check_launch` returned it,
    ``worker_storage`` the one the user gave (the workers' own default is the folder's).
    ``done`` is called with the open study when it finished. Returns the exit code and
    the study's folder."""
    from seqtune.search.signals import check_stop
    from seqtune.store.lock import StudyLock

    study_dir = results.resolve() / spec.study
    # the study's owner from here on: a second launch (or a resume) of it is refused
    lock = StudyLock.acquire(study_dir, "seqtune launch", create=True)
    early: list[Any] = []
    try:
        if workers > 1 and not (study_dir / META_FILE).exists():
            # the workers load TensorFlow while this process does, so that all start together
            early = spawn_workers(study_dir, workers - 1, worker_storage, os.getpid(), lock)
        load_tensorflow()  # first: what imports TensorFlow after it would print its chatter
        from seqtune.study.lifecycle import Study as Lifecycle

        check_stop()  # stopped while TensorFlow loaded: nothing created yet
        study, runner = Lifecycle.launch(spec, results, storage, overrides, lock=lock)
    except BaseException:
        stop_workers(early)
        if not (study_dir / META_FILE).exists():
            lock.remove_created()  # nothing of a study that was never created is left
        lock.release()
        raise
    try:
        say(
            f"study {spec.study} ({spec.search.backend}, {spec.objective.name} "
            f"{spec.objective.direction}) in {study.path}"
        )
        code = run(study, runner, workers, worker_storage, early or None, say=say, out=out)
        if code == 0 and done is not None:
            done(study)
        return code, study_dir
    finally:
        study.close()


def resume(
    path: Path,
    storage: str | None,
    trials: int | None,
    *,
    workers: int = 1,
    say: Say,
    out: TextIO | None = None,
    done: Callable[[Study], None] | None = None,
) -> int:
    """Reopen the study in ``path`` (refusing a changed spec or data), record trials a dead
    process left running as interrupted, and run it to its budget (``trials`` raises it)."""
    load_tensorflow()
    from seqtune.study.lifecycle import resume as reopen

    study, runner, recovered = reopen(path, storage, trials)
    try:
        if workers > 1:
            check_workers(study.spec.search.backend, study.backend.storage)
        if recovered:
            say(
                f"trials {', '.join(map(str, recovered))} were left running by a stopped "
                "process: recorded as interrupted, replacements will run"
            )
        say(
            f"resuming {study.spec.study}: {study.backend.finished()}/"
            f"{study.backend.budget()} trials finished"
        )
        code = run(study, runner, workers, storage, say=say, out=out)
        if code == 0 and done is not None:
            done(study)
        return code
    finally:
        study.close()


def run(
    study: Study,
    runner: Any,
    workers: int = 1,
    storage: str | None = None,
    children: list[Any] | None = None,
    *,
    say: Say,
    out: TextIO | None = None,
) -> int:
    """Run ``study`` here beside ``workers - 1`` worker processes (``children``: already
    started); the exit code. A stop request ends every worker and gives 128 + signal."""
    from seqtune.search.signals import Interrupted

    if children is None:
        children = (
            spawn_workers(study.path, workers - 1, storage, lock=study.lock)  # type: ignore[arg-type]
            if workers > 1
            else []
        )
    try:
        study.run(runner, out=out)
    except Interrupted as stop:
        stop_workers(children)
        say(
            f"stopped by {stop}: the running trial is recorded as interrupted; "
            f"continue with `seqtune resume {study.path}`"
        )
        return 128 + stop.signum
    except BaseException:  # e.g. a notebook's KeyboardInterrupt: no worker is left behind
        stop_workers(children)
        raise
    codes = [child.wait() for child in children]
    if any(codes):
        say(f"a worker ended with exit code {max(codes)}")
        return 1
    return 0
