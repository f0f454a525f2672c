"""End to end, as a user runs it: launch → kill → resume → status → export → train."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, cli_here, optuna_trials, run_cli, tiny_spec, wait_until, write_spec

pytestmark = pytest.mark.slow


def complete_rows(study_dir: Path) -> list[dict[str, str]]:
    path = study_dir / "trials.csv"
    if not path.is_file():
        return []
    with path.open() as fh:
        return [r for r in csv.DictReader(fh) if r["state"] == "complete"]


def launch_and_kill(spec: Path, results: Path, study_dir: Path, after_complete: int) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "seqtune.cli", "launch", str(spec), "--results", str(results)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    deadline = time.time() + 300
    while len(complete_rows(study_dir)) < after_complete:
        assert proc.poll() is None, "the study ended before it could be killed"
        assert time.time() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


@pytest.mark.parametrize("backend", ["tpe", "hyperband"])
def test_launch_kill_resume_export_train(tmp_path: Path, backend: str) -> None:
    search = {"backend": backend, "trials": 5, "max_epochs": 4, "patience": 3}
    spec = write_spec(tmp_path / "tiny.yaml", tiny_spec(search=search))
    results = tmp_path / "results"
    study_dir = results / "tiny"

    launch_and_kill(spec, results, study_dir, after_complete=2)
    before = {r["number"]: r["value"] for r in complete_rows(study_dir)}
    assert len(before) >= 2

    status = json.loads(cli_here("status", "--json", str(study_dir)).stdout)
    assert status["budget"] == 5 and status["finished"] < 5

    resumed = cli_here("resume", str(study_dir))
    assert resumed.returncode == 0, resumed.stderr
    assert "best trial" in resumed.stdout

    done = cli_here("status", "--json", str(study_dir))
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert {"study", "backend", "objective", "trials", "best"} <= set(status)
    assert status["backend"] == backend
    assert status["objective"] == {"name": "val_rmse", "direction": "minimize"}
    assert status["trials"]["running"] == 0
    assert status["finished"] == 5
    assert {"number", "value", "params"} <= set(status["best"])
    after = {
        str(r["number"]): repr(float(r["value"]))
        for r in status["trial_records"]
        if r["state"] == "complete"
    }
    for number, value in before.items():  # trials completed before the kill are kept as they were
        assert after[number] == value

    table = cli_here("status", str(study_dir))
    assert "best: trial" in table.stdout and "val_rmse" in table.stdout

    out = tmp_path / "exported" / "best.yaml"
    exported = cli_here("export", str(study_dir), "-o", str(out))
    assert exported.returncode == 0, exported.stderr
    assert out.is_file() and out.with_suffix(".keras").is_file()
    best = yaml.safe_load(out.read_text())
    assert all(not isinstance(v, dict) for v in best["space"].values()), "every parameter fixed"
    assert best["result"]["objective"]["value"] == pytest.approx(status["best"]["value"])
    assert {"rmse", "mae"} <= set(best["result"]["test"])

    trained = cli_here("train", str(out), "--json")
    assert trained.returncode == 0, trained.stderr
    report = json.loads(trained.stdout)
    assert {"rmse", "mae"} <= set(report["test"])
    if backend == "tpe":
        # a TPE trial trains from scratch, so the refit reproduces it (REPRO_RTOL)
        assert report["reproduced"]["within_tolerance"], report["reproduced"]


def test_resume_refuses_a_changed_space(tmp_path: Path) -> None:
    spec_path = write_spec(tmp_path / "tiny.yaml", tiny_spec(search={"trials": 1, "max_epochs": 2}))
    results = tmp_path / "results"
    first = cli_here("launch", str(spec_path), "--results", str(results))
    assert first.returncode == 0, first.stderr
    changed = tiny_spec(search={"trials": 1, "max_epochs": 2})
    changed["space"]["units"] = {"int": [4, 16], "step": 4}
    write_spec(spec_path, changed)
    again = cli_here("resume", str(results / "tiny"), "--trials", "2")
    assert again.returncode == 2
    assert "space.units.int: was [4, 12], now [4, 16]" in again.stderr
    assert "Traceback" not in again.stderr


def test_resume_raises_the_budget_and_runs_only_the_difference(tmp_path: Path) -> None:
    spec_path = write_spec(tmp_path / "tiny.yaml", tiny_spec(search={"trials": 2, "max_epochs": 2}))
    results = tmp_path / "results"
    assert cli_here("launch", str(spec_path), "--results", str(results)).returncode == 0
    more = cli_here("resume", str(results / "tiny"), "--trials", "3")
    assert more.returncode == 0, more.stderr
    status = json.loads(cli_here("status", "--json", str(results / "tiny")).stdout)
    assert status["finished"] == 3 and status["trials"]["complete"] == 3


def test_launch_refuses_an_existing_study(tmp_path: Path) -> None:
    spec_path = write_spec(tmp_path / "tiny.yaml", tiny_spec(search={"trials": 1, "max_epochs": 1}))
    results = tmp_path / "results"
    assert cli_here("launch", str(spec_path), "--results", str(results)).returncode == 0
    again = cli_here("launch", str(spec_path), "--results", str(results))
    assert again.returncode == 2
    assert "already holds a study" in again.stderr and "seqtune resume" in again.stderr


def test_sigterm_stops_cleanly_and_marks_the_trial_interrupted(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path / "tiny.yaml", tiny_spec(search={"trials": 50, "max_epochs": 30, "patience": None})
    )
    results = tmp_path / "results"
    proc = subprocess.Popen(
        [sys.executable, "-m", "seqtune.cli", "launch", str(spec), "--results", str(results)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )

    def inside_a_later_trial() -> bool:  # trial 0 done, the next one a few epochs in
        return any(
            number >= 1 and state == "RUNNING" and 1 <= epochs <= 20
            for number, state, epochs in optuna_trials(results / "tiny")
        )

    wait_until(inside_a_later_trial, proc, what="a trial after the first one ran an epoch")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "seqtune resume" in err and "Traceback" not in err
    status = json.loads(cli_here("status", "--json", str(results / "tiny")).stdout)
    assert status["trials"]["running"] == 0
    assert status["trials"]["interrupted"] == 1


def test_two_workers_share_one_study_and_stop_at_the_budget(tmp_path: Path) -> None:
    spec = write_spec(tmp_path / "tiny.yaml", tiny_spec(search={"trials": 4, "max_epochs": 2}))
    results = tmp_path / "results"
    run = run_cli("launch", str(spec), "--results", str(results), "--workers", "2")
    assert run.returncode == 0, run.stderr
    assert "absl" not in run.stderr and "oneDNN" not in run.stderr  # workers stay quiet too
    meta = json.loads((results / "tiny" / "study.json").read_text())
    assert meta["storage"] == "journal:optuna.journal"  # SQLite does not take two writers
    status = json.loads(cli_here("status", "--json", str(results / "tiny")).stdout)
    # the budget is exact up to workers - 1 (docs/spec.md, search settings): two workers
    # that look at the same moment may both start the last trial
    assert 4 <= status["trials"]["complete"] <= 4 + (2 - 1)
    assert status["trials"]["running"] == 0
    assert len({r["number"] for r in status["trial_records"]}) == len(status["trial_records"])


def test_workers_started_early_leave_when_the_launch_is_refused(tmp_path: Path) -> None:
    spec = write_spec(tmp_path / "tiny.yaml", tiny_spec())
    study_dir = tmp_path / "results" / "tiny"
    study_dir.mkdir(parents=True)
    (study_dir / "notes.txt").write_text("mine\n")  # launch refuses this folder
    run = run_cli("launch", str(spec), "--results", str(tmp_path / "results"), "--workers", "2")
    assert run.returncode == 2 and run.stderr.strip().count("\n") == 0, run.stderr
    assert "not empty" in run.stderr
    assert [p.name for p in study_dir.iterdir()] == ["notes.txt"]


def test_workers_are_refused_for_hyperband(tmp_path: Path) -> None:
    spec = write_spec(tmp_path / "tiny.yaml", tiny_spec(search={"backend": "hyperband"}))
    run = run_cli("launch", str(spec), "--results", str(tmp_path / "r"), "--workers", "2")
    assert run.returncode == 2
    assert "--workers: parallel workers need an Optuna backend" in run.stderr
    assert not (tmp_path / "r").exists()


def test_hyperband_prints_its_budget_and_refuses_a_changed_factor_on_resume(tmp_path: Path) -> None:
    search = {"backend": "hyperband", "max_epochs": 3, "factor": 3, "trials": 2}
    spec_path = write_spec(tmp_path / "tiny.yaml", tiny_spec(search=search))
    results = tmp_path / "results"
    run = run_cli("launch", str(spec_path), "--results", str(results))
    assert run.returncode == 0, run.stderr
    # trials 2 fits bracket 0 alone (2 models of 3 epochs), not 2 of bracket 1's 1-epoch
    # models: the real schedule is printed
    assert (
        "hyperband: max_epochs 3, factor 3, 1 iteration(s); models×epochs bracket 0: 2×3 → "
        "2 models, about 6 epochs; search.trials 2 fits 1 of the 2 brackets"
    ) in run.stderr
    write_spec(spec_path, tiny_spec(search={**search, "factor": 2}))
    again = cli_here("resume", str(results / "tiny"))
    assert again.returncode == 2
    assert "search.factor: was 3, now 2" in again.stderr


def test_a_user_objective_from_the_spec_folder_drives_the_search(tmp_path: Path) -> None:
    (tmp_path / "my_objectives.py").write_text(
        "import numpy as np\n\n"
        "def smape(y_true, y_pred):\n"
        "    d = np.abs(y_true) + np.abs(y_pred)\n"
        "    return float(np.mean(2 * np.abs(y_pred - y_true) / d))\n"
    )
    raw = tiny_spec(search={"trials": 2, "max_epochs": 2})
    raw["objective"] = {"name": "my_objectives:smape", "direction": "minimize"}
    spec_path = write_spec(tmp_path / "tiny.yaml", raw)
    results = tmp_path / "results"
    run = run_cli("launch", str(spec_path), "--results", str(results), cwd=ROOT)
    assert run.returncode == 0, run.stderr
    status = json.loads(run_cli("status", "--json", str(results / "tiny")).stdout)
    assert status["objective"] == {"name": "smape", "direction": "minimize"}
    assert 0 < status["best"]["value"] < 2
    assert run_cli("export", str(results / "tiny"), cwd=ROOT).returncode == 0
    best = yaml.safe_load((results / "tiny" / "best.yaml").read_text())
    assert best["result"]["test"]["smape"] > 0
    assert best["objective"]["path"] == "../.."  # the module's folder, relative to best.yaml
    trained = run_cli("train", str(results / "tiny" / "best.yaml"), "--json", cwd=ROOT)
    assert trained.returncode == 0, trained.stderr


@pytest.mark.parametrize("backend", ["tpe", "hyperband"])
def test_a_user_objective_that_raises_stops_the_study_with_one_line(
    tmp_path: Path, backend: str
) -> None:
    (tmp_path / "buggy.py").write_text("def score(y, p):\n    return 1 / 0\n")
    raw = tiny_spec(search={"backend": backend, "trials": 3, "max_epochs": 2})
    raw["objective"] = {"name": "buggy:score", "direction": "minimize"}
    spec_path = write_spec(tmp_path / "tiny.yaml", raw)
    run = run_cli("launch", str(spec_path), "--results", str(tmp_path / "r"))
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert lines == [  # refused by launch's check of the objective, before the study
        "seqtune launch: objective: user objective buggy:score raised "
        "ZeroDivisionError: division by zero"
    ]
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "r").exists()


KILL_BEFORE_STUDY_JSON = """
import os, sys
import seqtune.study.lifecycle as study
from seqtune.cli import main

def killed(path, text):  # the process dies just before the launch would finish
    if path.name == "study.json":
        os._exit(9)
    return real(path, text)

real, study.write_text = study.write_text, killed
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("backend", ["tpe", "hyperband"])
def test_a_launch_killed_before_it_finished_is_launched_again(tmp_path: Path, backend: str) -> None:
    spec = write_spec(
        tmp_path / "tiny.yaml", tiny_spec(search={"backend": backend, "trials": 2, "max_epochs": 2})
    )
    results = tmp_path / "results"
    study_dir = results / "tiny"
    killed = subprocess.run(
        [
            sys.executable,
            "-c",
            KILL_BEFORE_STUDY_JSON,
            "launch",
            str(spec),
            "--results",
            str(results),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert killed.returncode == 9, killed.stderr
    assert (study_dir / "spec.yaml").is_file() and not (study_dir / "study.json").exists()

    resumed = cli_here("resume", str(study_dir))  # not a study yet: say what to do
    assert resumed.returncode == 2
    assert "launch was stopped before the study was created" in resumed.stderr
    assert "Traceback" not in resumed.stderr

    again = cli_here("launch", str(spec), "--results", str(results))
    assert again.returncode == 0, again.stderr
    status = json.loads(cli_here("status", "--json", str(study_dir)).stdout)
    assert status["finished"] == 2 and status["trials"]["complete"] >= 1


def test_launch_still_refuses_a_folder_it_did_not_write(tmp_path: Path, spec_file: Path) -> None:
    study_dir = tmp_path / "results" / "tiny"
    study_dir.mkdir(parents=True)
    (study_dir / "spec.yaml").write_text("mine\n")
    (study_dir / "notes.txt").write_text("mine\n")
    out = run_cli("launch", str(spec_file), "--results", str(tmp_path / "results"))
    assert out.returncode == 2 and "not empty" in out.stderr
    assert (study_dir / "notes.txt").read_text() == "mine\n"


def test_two_workers_run_a_folds_and_repeats_study(tmp_path: Path) -> None:
    """Workers share one study whose trials train folds x repeats side by side; every
    complete trial keeps its folds' values, and the export refits the ensemble."""
    raw = tiny_spec(search={"trials": 4, "max_epochs": 2, "repeats": 2, "ensemble": 2})
    raw["data"]["split"] = {"val": 12, "test": 0.33, "folds": 2}
    spec = write_spec(tmp_path / "tiny.yaml", raw)
    results = tmp_path / "results"
    run = run_cli("launch", str(spec), "--results", str(results), "--workers", "2")
    assert run.returncode == 0, run.stderr
    status = json.loads(cli_here("status", "--json", str(results / "tiny")).stdout)
    assert 4 <= status["trials"]["complete"] <= 5 and status["trials"]["running"] == 0
    done = [r for r in status["trial_records"] if r["state"] == "complete"]
    assert all({"val_rmse_fold0", "val_rmse_fold1"} <= set(r["metrics"]) for r in done)
    exported = cli_here("export", str(results / "tiny"))
    assert exported.returncode == 0, exported.stderr
