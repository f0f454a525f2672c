"""Kill the study process with SIGKILL at random moments, resume each time, and check that
nothing finished was lost, nothing is left running and no file was left half-written."""

from __future__ import annotations

import csv
import io
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, run_cli, tiny_spec, write_spec

from seqtune.search.files import write_text

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
    out = run_cli("status", "--json", str(study))
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def check_trials_csv(study: Path, n_records: int) -> None:
    text = (study / "trials.csv").read_text()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert text.endswith("\n") and len(rows) == n_records  # never truncated
    for row in rows:
        json.loads(row["params"])


@pytest.mark.parametrize("backend", ["tpe", "hyperband"])
def test_random_sigkills_lose_nothing_that_finished(tmp_path: Path, backend: str) -> None:
    rng = random.Random(f"kills-{backend}")
    budget = 6
    search = {"backend": backend, "trials": budget, "max_epochs": 3, "patience": 2}
    spec = write_spec(tmp_path / "tiny.yaml", tiny_spec(search=search))
    results = tmp_path / "results"
    study = results / "tiny"
    kept: dict[int, float] = {}
    log = tmp_path / "stderr.log"
    proc = start("launch", str(spec), "--results", str(results), log=log)
    for _ in range(4):
        # a random moment: while TensorFlow loads, inside a trial, between trials, while
        # trials.csv or the backend state is being written
        time.sleep(rng.uniform(3.0, 12.0))
        if proc.poll() is not None:
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
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
    final = status(study)
    assert final["finished"] == budget
    assert final["trials"]["running"] == 0
    values = {r["number"]: r["value"] for r in final["trial_records"] if r["state"] == "complete"}
    for number, value in kept.items():  # every trial completed before a kill is still there
        assert values[number] == value
    check_trials_csv(study, len(final["trial_records"]))
    out = run_cli("export", str(study))
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
