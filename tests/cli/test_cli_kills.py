"""Kill the study process with SIGKILL at chosen moments, resume each time, and check that
nothing finished was lost, nothing is left running and no file was left half-written.

The moments are states of the study, seen from outside as another process sees them (the
folder, trials.csv, the storage), not times: a kill lands at the same point of the study
however fast the machine is."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, cli_here, optuna_trials, tiny_spec, wait_until, write_spec

from seqtune.store.files import write_text

pytestmark = pytest.mark.slow


def start(*args: str, log: Path) -> subprocess.Popen[bytes]:
    """Start ``seqtune`` with its stderr appended to ``log`` (shown if the test fails)."""
    with log.open("ab") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "seqtune.cli", *args],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        )


def status(study: Path) -> dict:
    out = cli_here("status", "--json", str(study))
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def check_trials_csv(study: Path, n_records: int) -> None:
    text = (study / "trials.csv").read_text()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert text.endswith("\n") and len(rows) == n_records  # never truncated
    for row in rows:
        json.loads(row["params"])


def complete_in_csv(study: Path) -> int:
    try:
        text = (study / "trials.csv").read_text()
    except FileNotFoundError:
        return 0
    return sum(r.get("state") == "complete" for r in csv.DictReader(io.StringIO(text)))


class Moments:
    """The states a kill aims at, for one study. A trial counts as started only if it
    started after the last kill (a killed trial stays "running" on disk until a resume
    recovers it)."""

    def __init__(self, study: Path, backend: str) -> None:
        self.study, self.backend = study, backend
        self.stale: set[int] = set()  # Optuna trials left running by a killed process
        self.killed_at = 0.0  # st_mtime of the last kill, for keras-tuner's trial files

    def killed(self) -> None:
        self.stale = {n for n, state, _ in optuna_trials(self.study) if state == "RUNNING"}
        self.killed_at = time.time()

    def loading(self) -> bool:
        """The launch owns the new folder and loads TensorFlow: no study written yet."""
        return (self.study / ".lock").exists() and not (self.study / "spec.yaml").exists()

    def training(self, after_complete: int) -> Callable[[], bool]:
        """A trial started after the last kill is training, ``after_complete`` trials done."""

        def holds() -> bool:
            if complete_in_csv(self.study) < after_complete:
                return False
            if self.backend == "hyperband":  # seqtune's file of the trial says running
                for side in self.study.glob("keras_tuner/hyperband/trial_*/seqtune.json"):
                    try:
                        newer = side.stat().st_mtime > self.killed_at
                        if newer and json.loads(side.read_text())["state"] == "running":
                            return True
                    except (OSError, ValueError, KeyError):
                        continue  # being replaced this instant
                return False
            return any(  # Optuna: an epoch of the trial is reported in the storage
                state == "RUNNING" and epochs >= 1 and number not in self.stale
                for number, state, epochs in optuna_trials(self.study)
            )

        return holds

    def recorded(self, complete: int) -> Callable[[], bool]:
        """trials.csv shows ``complete`` finished trials: the next trial and its storage
        writes are just starting."""
        return lambda: complete_in_csv(self.study) >= complete


@pytest.mark.parametrize(
    ("backend", "selection"),
    [("tpe", False), ("hyperband", False), ("tpe", True)],
    ids=["tpe", "hyperband", "tpe-folds-repeats"],
)
def test_sigkills_at_chosen_moments_lose_nothing_that_finished(
    tmp_path: Path, backend: str, selection: bool
) -> None:
    budget = 6
    search = {"backend": backend, "trials": budget, "max_epochs": 3, "patience": 2}
    if backend != "hyperband":
        # Optuna's moment "inside a trial" is an epoch reported and the trial not over: with
        # 3 epochs of a tiny model that lasts a few ms on a quiet machine, and the resume
        # could end before the poll saw it; 100 epochs without early stop leave ~0.3 s (the
        # fused LSTM of 0.3.2 trains an epoch of these in ~3 ms)
        search.update(max_epochs=100, patience=None)
    raw = tiny_spec(search=search)
    if selection:  # rolling folds x repeats, trained side by side, ensemble at export
        raw["data"]["split"] = {"val": 12, "test": 0.33, "folds": 2}
        raw["search"].update(repeats=2, ensemble=2)
    spec = write_spec(tmp_path / "tiny.yaml", raw)
    results = tmp_path / "results"
    study = results / "tiny"
    moments = Moments(study, backend)
    kills = [  # (what, the state to kill in)
        ("while TensorFlow loads, before the study exists", moments.loading),
        ("inside the first trial", moments.training(after_complete=0)),
        ("as a trial's record is written and the next one starts", moments.recorded(2)),
        ("inside a trial run by a resume", moments.training(after_complete=3)),
    ]
    kept: dict[int, float] = {}
    log = tmp_path / "stderr.log"
    proc = start("launch", str(spec), "--results", str(results), log=log)
    for what, state in kills:
        wait_until(state, proc, seconds=300, what=f"the kill {what}")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        moments.killed()
        if not (study / "study.json").exists():  # killed before the study existed
            proc = start("launch", str(spec), "--results", str(results), log=log)
            continue
        now = status(study)
        for r in now["trial_records"]:
            if r["state"] == "complete" and r["number"] in kept:
                assert r["value"] == kept[r["number"]]
        kept.update(
            {r["number"]: r["value"] for r in now["trial_records"] if r["state"] == "complete"}
        )
        proc = start("resume", str(study), log=log)
    assert proc.wait(timeout=600) == 0, log.read_text()[-2000:]
    assert len(kept) >= 2  # the kills came after trials had finished, too
    final = status(study)
    assert final["finished"] == budget
    assert final["trials"]["running"] == 0
    values = {r["number"]: r["value"] for r in final["trial_records"] if r["state"] == "complete"}
    for number, value in kept.items():  # every trial completed before a kill is still there
        assert values[number] == value
    check_trials_csv(study, len(final["trial_records"]))
    out = cli_here("export", str(study))
    assert out.returncode == 0, out.stderr
    assert (
        yaml.safe_load((study / "best.yaml").read_text())["result"]["trial"]
        == (final["best"]["number"])
    )


def test_an_interrupted_write_leaves_the_old_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "trials.csv"
    write_text(path, "number,state\n0,complete\n")

    with pytest.raises(TypeError):
        write_text(path, None)  # type: ignore[arg-type]  # fails mid-write
    assert path.read_text() == "number,state\n0,complete\n"
    assert [p.name for p in tmp_path.iterdir()] == ["trials.csv"]  # no temporary left
