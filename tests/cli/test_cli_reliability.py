"""Real processes against one study: two launches at once, resume during a launch, the
data rewritten mid-study, the disk filling up. Each of these once lost a study or ended
in a traceback."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import AIRLINE, ROOT, cli_here, optuna_trials, tiny_spec, write_spec

pytestmark = pytest.mark.slow

ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src")}


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "seqtune.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )


def rows(study_dir: Path, state: str = "complete") -> list[dict[str, str]]:
    path = study_dir / "trials.csv"
    if not path.is_file():
        return []
    with path.open() as fh:
        return [r for r in csv.DictReader(fh) if r["state"] == state]


def wait_for(predicate, proc: subprocess.Popen[str], seconds: float = 300) -> None:  # type: ignore[no-untyped-def]
    deadline = time.time() + seconds
    while not predicate():
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline, "timed out"
        time.sleep(0.05)


def no_traceback(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr


def test_two_launches_at_once_leave_one_whole_study(tmp_path: Path) -> None:
    search = {"backend": "tpe", "trials": 4, "max_epochs": 3, "patience": 2}
    spec = write_spec(tmp_path / "tiny.yaml", tiny_spec(search=search))
    results = tmp_path / "results"
    first, second = (start("launch", str(spec), "--results", str(results)) for _ in range(2))
    outs = [p.communicate(timeout=600) for p in (first, second)]
    codes = sorted(p.returncode for p in (first, second))
    assert codes == [0, 2], outs
    loser = next(err for p, (_, err) in zip((first, second), outs, strict=True) if p.returncode)
    no_traceback(loser)
    assert "in use by pid" in loser or "already holds a study" in loser
    status = cli_here("status", "--json", str(results / "tiny"))
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["finished"] == 4
    # the finished study lives in optuna.db alone: no write-ahead log left to carry along
    assert not (results / "tiny" / "optuna.db-wal").exists()
    conn = sqlite3.connect(results / "tiny" / "optuna.db")
    try:
        assert conn.execute("SELECT COUNT(*) FROM trials").fetchone() == (4,)
    finally:
        conn.close()


def test_resume_during_a_launch_is_refused_and_disturbs_nothing(tmp_path: Path) -> None:
    search = {"backend": "tpe", "trials": 50, "max_epochs": 5000, "patience": None}
    spec = write_spec(tmp_path / "tiny.yaml", tiny_spec(search=search))
    results = tmp_path / "results"
    study_dir = results / "tiny"
    launch = start("launch", str(spec), "--results", str(results))

    def training() -> bool:  # trial 0 has run an epoch (its 5000 never end)
        trials = optuna_trials(study_dir)
        return any(state == "RUNNING" and epochs >= 1 for _, state, epochs in trials)

    wait_for(training, launch)
    resumed = cli_here("resume", str(study_dir))
    assert resumed.returncode == 2
    no_traceback(resumed.stderr)
    assert f"in use by pid {launch.pid} (seqtune launch)" in resumed.stderr
    status = cli_here("status", "--json", str(study_dir))  # reading a running study is fine
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["running_by"] == f"pid {launch.pid} (seqtune launch)"
    assert launch.poll() is None  # the launch goes on, its trial untouched
    launch.send_signal(signal.SIGTERM)
    _, err = launch.communicate(timeout=300)
    assert launch.returncode == 143, err
    no_traceback(err)
    status = json.loads(cli_here("status", "--json", str(study_dir)).stdout)
    # the trial was stopped by its own launch, not by the resume that was refused
    assert status["trials"]["interrupted"] == 1 and status["trials"]["running"] == 0


def test_data_rewritten_under_an_isolated_study_stops_it(tmp_path: Path) -> None:
    data = tmp_path / "airline.csv"
    shutil.copy(AIRLINE, data)
    search = {"backend": "tpe", "trials": 6, "max_epochs": 2, "patience": 2, "isolation": "process"}
    raw = tiny_spec(search=search)
    raw["data"]["csv"] = str(data)
    spec = write_spec(tmp_path / "tiny.yaml", raw)
    study_dir = tmp_path / "results" / "tiny"
    launch = start("launch", str(spec), "--results", str(tmp_path / "results"))
    wait_for(lambda: len(rows(study_dir)) >= 1, launch, seconds=600)
    data.write_text(data.read_text().replace("\n1", "\n9"))  # another data set now
    _, err = launch.communicate(timeout=600)
    assert launch.returncode == 2, err
    no_traceback(err)
    last = err.strip().splitlines()[-1]
    assert str(data) in last and "changed since the study was launched" in last
    assert len(rows(study_dir)) >= 1  # what finished is kept
    export = cli_here("export", str(study_dir))
    assert export.returncode == 2 and "changed since" in export.stderr


def _fill(folder: Path) -> Path:
    """Take every free byte of the file system of ``folder``."""
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as fh:
        for size in (1 << 16, 512, 1):  # down to the last byte
            try:
                while fh.write(b"\0" * size):
                    pass
            except OSError:
                pass
    return filler


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small file system needs root")
def test_a_full_disk_stops_the_study_in_one_line_and_resume_continues(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(disk)], capture_output=True
    ).returncode:
        pytest.skip("mount is not permitted here")
    try:
        search = {"backend": "tpe", "trials": 8, "max_epochs": 3, "patience": 2}
        spec = write_spec(tmp_path / "tiny.yaml", tiny_spec(search=search))
        results = disk / "results"
        study_dir = results / "tiny"
        launch = start("launch", str(spec), "--results", str(results))
        wait_for(lambda: len(rows(study_dir)) >= 2, launch)
        filler = _fill(disk)
        _, err = launch.communicate(timeout=600)
        kept = {r["number"]: r["value"] for r in rows(study_dir)}
        assert launch.returncode == 1, err
        no_traceback(err)
        assert "no space left" in err.strip().splitlines()[-1]
        filler.unlink()
        resumed = cli_here("resume", str(study_dir))
        assert resumed.returncode == 0, resumed.stderr
        status = json.loads(cli_here("status", "--json", str(study_dir)).stdout)
        assert status["finished"] == 8 and status["trials"]["running"] == 0
        after = {
            str(r["number"]): repr(float(r["value"]))
            for r in status["trial_records"]
            if r["state"] == "complete"
        }
        for number, value in kept.items():
            assert after[number] == value
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_sigterm_to_a_launch_with_workers_releases_the_study(tmp_path: Path) -> None:
    """The workers inherit the launch's lock: the study is free once all of them ended."""
    search = {"backend": "tpe", "trials": 500, "max_epochs": 10, "patience": None}
    spec = write_spec(tmp_path / "tiny.yaml", tiny_spec(search=search))
    results = tmp_path / "results"
    study_dir = results / "tiny"
    launch = start("launch", str(spec), "--results", str(results), "--workers", "2")
    wait_for(lambda: len(rows(study_dir)) >= 1, launch, seconds=600)
    busy = cli_here("resume", str(study_dir))
    assert busy.returncode == 2 and "in use by" in busy.stderr
    export = cli_here("export", str(study_dir))  # the best trial so far; the study goes on
    assert export.returncode == 0, export.stderr
    assert "the study is still running" in export.stdout
    assert launch.poll() is None
    launch.send_signal(signal.SIGTERM)
    _, err = launch.communicate(timeout=300)
    assert launch.returncode == 143, err
    finished = json.loads(cli_here("status", "--json", str(study_dir)).stdout)["finished"]
    resumed = cli_here("resume", str(study_dir), "--trials", str(finished + 1))
    assert resumed.returncode == 0, resumed.stderr
