"""search.isolation: process — each trial in a fresh process; a dying one fails alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ROOT, cli_here, run_cli, tiny_spec, write_spec

pytestmark = pytest.mark.slow

# Kills its own process the first time it is called (a marker file remembers), as an
# out-of-memory kill or a crash in native code would.
DYING_OBJECTIVE = """
import multiprocessing
import os
import signal
from pathlib import Path

import numpy as np

MARK = Path(__file__).with_name("died-once")


def my_rmse(y_true, y_pred):
    # once, inside a trial's own process: killed as the kernel's OOM killer kills
    if multiprocessing.parent_process() is not None and not MARK.exists():
        MARK.write_text("x")
        os.kill(os.getpid(), signal.SIGKILL)
    return float(np.sqrt(np.mean((y_true - y_pred) ** 2)))
"""


@pytest.mark.parametrize("backend", ["tpe", "hyperband"])
def test_a_trial_whose_process_dies_fails_alone(tmp_path: Path, backend: str) -> None:
    (tmp_path / "dying.py").write_text(DYING_OBJECTIVE)
    search = {"backend": backend, "trials": 3, "max_epochs": 2, "isolation": "process"}
    raw = tiny_spec(search=search)
    raw["objective"] = {"name": "dying:my_rmse", "direction": "minimize"}
    spec = write_spec(tmp_path / "tiny.yaml", raw)
    results = tmp_path / "results"
    run = run_cli("launch", str(spec), "--results", str(results), cwd=ROOT)
    assert run.returncode == 0, run.stderr
    status = json.loads(cli_here("status", "--json", str(results / "tiny")).stdout)
    failed = [r for r in status["trial_records"] if r["state"] == "failed"]
    assert len(failed) == 1
    assert "the trial's process was killed by SIGKILL" in failed[0]["reason"]
    assert status["trials"]["complete"] >= 1 and status["best"] is not None
    exported = run_cli("export", str(results / "tiny"), cwd=ROOT)
    assert exported.returncode == 0, exported.stderr
