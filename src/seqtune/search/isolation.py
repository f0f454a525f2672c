"""Each trial in a fresh process (``search: {isolation: process}``), for hard isolation.

The parent keeps the backend's bookkeeping; a spawned child loads the data, trains one
trial with the same runner, sends every epoch's objective to the parent (which asks the
backend whether to stop and answers), saves the best model to a scratch file, and sends
back a summary. A child that dies (out of memory,
a crash in native code) fails its trial with the exit code and the study goes on; a stop
request terminates the child. The price: each trial starts Python and TensorFlow again
(a few seconds).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import keras

from seqtune.errors import UserError
from seqtune.models.training import Diverged
from seqtune.search.runner import Outcome, Report, Runner, TrialFailed
from seqtune.search.signals import check_stop
from seqtune.search.versions import Training
from seqtune.spec import Spec


def _child(
    spec: Spec,
    values: dict[str, Any],
    seed: int,
    options: dict[str, Any],
    model_path: str,
    conn: Connection,
    data_sha256: str | None = None,
    training: Training | None = None,
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    from seqtune.data import load_table
    from seqtune.errors import UserError
    from seqtune.models.runtime import configure_from_env
    from seqtune.store.digest import check_digest

    configure_from_env()  # the parent's thread setting, so results match a plain run
    try:  # each child reads the CSV again: it must still be the study's data
        check_digest(spec.data.csv, data_sha256)
    except UserError as exc:
        conn.send({"data_changed": (exc.message, exc.field)})
        return

    def report(epoch: int, value: float) -> bool:  # the parent asks the backend
        conn.send({"epoch": (epoch, value)})
        return bool(conn.recv())

    try:
        runner = Runner(spec, load_table(spec.data), training)
        try:
            outcome = runner.run(values, seed, report=report, **options)
        except Diverged as exc:
            conn.send({"diverged": (exc.epoch, exc.loss)})
            return
        if outcome.model is not None and outcome.value is not None:
            outcome.model.save(model_path)
        conn.send(
            {
                "value": outcome.value,
                "best_epoch": outcome.best_epoch,
                "epochs_run": outcome.epochs_run,
                "seconds": outcome.seconds,
                "metrics": outcome.metrics,
                "pruned_at": outcome.pruned_at,
            }
        )
    except TrialFailed as exc:  # out of memory, ...: the trial fails alone
        conn.send({"failed": str(exc)})
    except UserError as exc:  # e.g. a broken user objective: the parent stops the study
        conn.send({"user_error": (exc.message, exc.field)})


def died(exitcode: int | None) -> str:
    """Why a trial's process ended without a result, in one line."""
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name if -exitcode in signal.valid_signals() else "?"
        hint = " (out of memory?)" if -exitcode == signal.SIGKILL else ""
        return f"the trial's process was killed by {name}{hint}"
    return f"the trial's process died (exit code {exitcode})"


class IsolatedRunner:
    """The runner's interface, each ``run`` in a spawned process."""

    def __init__(self, runner: Runner, scratch: Path, data_sha256: str | None = None) -> None:
        self.runner = runner
        self.scratch = scratch
        self.data_sha256 = data_sha256  # what each child checks its CSV against
        self.on_epoch: Callable[[int], None] | None = None

    def run(
        self,
        values: dict[str, Any],
        seed: int,
        *,
        report: Report | None = None,
        **options: Any,
    ) -> Outcome:
        self.scratch.mkdir(parents=True, exist_ok=True)
        model_path = self.scratch / f".isolated-{os.getpid()}.keras"
        ctx = multiprocessing.get_context("spawn")
        conn, child_end = ctx.Pipe(duplex=True)
        child = ctx.Process(
            target=_child,
            args=(
                self.runner.spec,
                values,
                seed,
                options,
                str(model_path),
                child_end,
                self.data_sha256,
                self.runner.training,
            ),
        )
        child.start()
        child_end.close()
        try:
            result = self._wait(conn, child, report)
            child.join()
        except BaseException:
            if child.is_alive():
                child.terminate()
                child.join()
            model_path.unlink(missing_ok=True)
            raise
        if "data_changed" in result:  # the study cannot go on on other data: stop it
            raise UserError(*result["data_changed"])
        if "diverged" in result:
            raise Diverged(*result["diverged"])
        if "failed" in result:
            raise TrialFailed(result["failed"])
        if "user_error" in result:
            raise UserError(*result["user_error"])
        model = None
        if model_path.is_file():
            model = keras.models.load_model(model_path, compile=False)
            model_path.unlink()
        return Outcome(
            value=result["value"],
            best_epoch=result["best_epoch"],
            epochs_run=result["epochs_run"],
            seconds=result["seconds"],
            metrics=result["metrics"],
            model=model,
            pruned_at=result["pruned_at"],
        )

    def _wait(self, conn: Connection, child: Any, report: Report | None) -> dict[str, Any]:
        """The child's final message; each epoch message on the way is answered with the
        backend's decision. Raises TrialFailed when the child dies first."""
        try:
            while True:
                while not conn.poll(0.2):  # True on data or on the child's end closing
                    check_stop()  # a stop request ends the wait (and the child)
                message: dict[str, Any] = conn.recv()
                if "epoch" not in message:
                    return message
                epoch, value = message["epoch"]
                stop = report(epoch, value) if report is not None else False
                if self.on_epoch is not None:
                    self.on_epoch(epoch)
                conn.send(stop)
        except (EOFError, BrokenPipeError):
            child.join()
            raise TrialFailed(died(child.exitcode)) from None
