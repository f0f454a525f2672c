"""Each trial in a fresh process (``search: {isolation: process}``), for hard isolation.

The parent keeps the backend's bookkeeping; a spawned child loads the data, trains one
trial with the same runner, reports every epoch to the Optuna pruner itself, saves the
best model to a scratch file, and sends back a summary. A child that dies (out of memory,
a crash in native code) fails its trial with the exit code and the study goes on; a stop
request terminates the child. The price: each trial starts Python and TensorFlow again
(a few seconds).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import keras

from seqtune.errors import UserError
from seqtune.models.training import Diverged
from seqtune.search.runner import Outcome, Runner, TrialFailed
from seqtune.search.signals import check_stop
from seqtune.spec import Spec


def _child(
    spec: Spec,
    values: dict[str, Any],
    seed: int,
    options: dict[str, Any],
    pruning: dict[str, Any] | None,
    model_path: str,
    conn: Connection,
    data_sha256: str | None = None,
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    from seqtune.data import load_table
    from seqtune.errors import UserError
    from seqtune.models.runtime import configure_from_env
    from seqtune.search.study import check_digest

    configure_from_env()  # the parent's thread setting, so results match a plain run
    try:  # each child reads the CSV again: it must still be the study's data
        check_digest(spec.data.csv, data_sha256)
    except UserError as exc:
        conn.send({"data_changed": (exc.message, exc.field)})
        return

    try:
        _train(spec, values, seed, options, pruning, model_path, conn, load_table)
    except TrialFailed as exc:  # out of memory, ...: the trial fails alone
        conn.send({"failed": str(exc)})
    except UserError as exc:  # e.g. a broken user objective: the parent stops the study
        conn.send({"user_error": (exc.message, exc.field)})


def _train(
    spec: Spec,
    values: dict[str, Any],
    seed: int,
    options: dict[str, Any],
    pruning: dict[str, Any] | None,
    model_path: str,
    conn: Connection,
    load_table: Any,
) -> None:
    runner = Runner(spec, load_table(spec.data))
    callbacks: list[Any] = []
    if pruning is not None:
        import optuna

        from seqtune.search.backends.optuna_backend import (
            PruningCallback,
            make_pruner,
            open_storage,
        )

        study = optuna.load_study(  # the spec's pruner, not Optuna's default
            study_name=pruning["study_name"],
            storage=open_storage(pruning["storage"]),
            pruner=make_pruner(spec.search.pruner, spec),
        )
        trial = optuna.trial.Trial(study, pruning["trial_id"])
        callbacks.append(PruningCallback(trial, pruning["monitor"]))
    try:
        try:
            outcome = runner.run(values, seed, extra_callbacks=callbacks, **options)
        finally:
            for callback in callbacks:
                callback.close()  # the epoch reports stored before the parent tells the trial
        for callback in callbacks:
            callback.raise_if_failed()
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
            "pruned_at": callbacks[0].pruned_at if callbacks else None,
        }
    )


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
        self.spec = runner.spec
        self.scratch = scratch
        self.data_sha256 = data_sha256  # what each child checks its CSV against

    def windows(self, values: dict[str, Any]) -> Any:
        return self.runner.windows(values)

    def run(
        self,
        values: dict[str, Any],
        seed: int,
        *,
        extra_callbacks: list[keras.callbacks.Callback] | None = None,
        **options: Any,
    ) -> Outcome:
        pruner = next((c for c in extra_callbacks or [] if hasattr(c, "study_name")), None)
        pruning = None
        if pruner is not None:
            pruning = {
                "storage": pruner.storage,  # journal paths are absolute here (see url)
                "study_name": pruner.study_name,
                "trial_id": pruner.trial._trial_id,
                "monitor": pruner.monitor,
            }
        self.scratch.mkdir(parents=True, exist_ok=True)
        model_path = self.scratch / f".isolated-{os.getpid()}.keras"
        ctx = multiprocessing.get_context("spawn")
        receive, send = ctx.Pipe(duplex=False)
        child = ctx.Process(
            target=_child,
            args=(
                self.spec, values, seed, options, pruning, str(model_path), send, self.data_sha256
            ),
        )
        child.start()
        send.close()
        try:
            try:
                while not receive.poll(0.2):  # True on data or on the child's end closing
                    check_stop()  # a stop request ends the wait (and the child, below)
                result = receive.recv()
            except EOFError:
                child.join()
                raise TrialFailed(died(child.exitcode)) from None
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
        if pruner is not None:
            pruner.pruned_at = result["pruned_at"]
        return Outcome(
            value=result["value"],
            best_epoch=result["best_epoch"],
            epochs_run=result["epochs_run"],
            seconds=result["seconds"],
            metrics=result["metrics"],
            model=model,
        )
