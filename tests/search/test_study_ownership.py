"""Who may write a study, and what survives: the folder lock, the SQLite file left whole,
data checked wherever it is read, moved and read-only copies, budget that cannot shrink.

Studies are made in-process with the formula runner of the shared backend suite (seconds);
commands run through the CLI's ``main`` in this process (TensorFlow loaded once), against
other processes that hold a study's lock.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import AIRLINE, ROOT, cli_here
from test_backends_shared import FormulaRunner, make_spec

from seqtune.errors import UserError
from seqtune.store.lock import StudyLock, holder
from seqtune.study.lifecycle import Study, resume


def finished_study(tmp_path: Path, backend: str = "tpe", trials: int = 4) -> Study:
    """A finished study on its own copy of the airline CSV, closed as a process leaves it."""
    data = tmp_path / "airline.csv"
    shutil.copy(AIRLINE, data)
    spec = make_spec(tmp_path, backend, trials)
    spec = type(spec).from_dict(
        {**spec.to_dict(), "data": {**spec.to_dict()["data"], "csv": str(data)}},
        tmp_path,
        tmp_path / "spec.yaml",
    )
    study, _ = Study.launch(spec, tmp_path / "results")
    study.run(FormulaRunner("minimize"))  # type: ignore[arg-type]
    study.close()
    return study


class Result:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> Result:
    """The CLI in this process (TensorFlow loaded once): for the many small refusals."""
    from seqtune.cli import main

    capsys.readouterr()
    code = main(list(args))
    out = capsys.readouterr()
    return Result(code, out.out, out.err)


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def hold_lock_in_child(
    folder: Path, command: str = "seqtune launch", name: str = ".lock"
) -> subprocess.Popen[str]:
    """Another process that owns the study (as a running launch does) until killed."""
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from seqtune.store.lock import StudyLock\n"
        f"lock = StudyLock.acquire(Path({str(folder)!r}), {command!r}, create=True, "
        f"name={name!r})\n"
        "print('held', flush=True)\n"
        "time.sleep(600)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


# ---- the lock ------------------------------------------------------------------------
def test_a_second_owner_is_refused_naming_the_first(tmp_path: Path) -> None:
    folder = tmp_path / "study"
    with StudyLock.acquire(folder, "seqtune launch", create=True):
        with pytest.raises(UserError, match=rf"in use by pid {os.getpid()} \(seqtune launch\)"):
            StudyLock.acquire(folder, "seqtune resume")
        assert holder(folder) == f"pid {os.getpid()} (seqtune launch)"
    assert holder(folder) is None
    StudyLock.acquire(folder, "seqtune resume").release()  # free again once released


def test_the_kernel_releases_the_lock_of_a_killed_owner(tmp_path: Path) -> None:
    folder = tmp_path / "study"
    child = hold_lock_in_child(folder)
    assert holder(folder) == f"pid {child.pid} (seqtune launch)"
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert holder(folder) is None
    StudyLock.acquire(folder, "seqtune resume").release()


def test_a_failed_launch_removes_only_the_folders_it_created(tmp_path: Path) -> None:
    root = tmp_path / "results"
    lock = StudyLock.acquire(root / "deep" / "study", "seqtune launch", create=True)
    assert [p.name for p in lock.created] == ["results", "deep", "study"]
    lock.remove_created()
    lock.release()
    assert not root.exists() and tmp_path.is_dir()
    kept = tmp_path / "kept"
    kept.mkdir()
    lock = StudyLock.acquire(kept, "seqtune launch", create=True)
    assert lock.created == []
    lock.remove_created()
    lock.release()
    assert kept.is_dir()


def test_launch_refuses_a_study_another_launch_is_creating(tmp_path: Path) -> None:
    """Two launches of one study at once: the second must not touch the folder (it used to
    delete the first one's optuna.db, spec.yaml and study.json)."""
    spec = tmp_path / "tiny.yaml"
    spec.write_text(yaml.safe_dump(make_spec(tmp_path, "tpe", 2).to_dict()))
    folder = tmp_path / "results" / "tiny"
    child = hold_lock_in_child(folder)  # the first launch, before it wrote anything
    (folder / "spec.yaml").write_text("written by the first launch\n")
    try:
        out = cli_here("launch", str(spec), "--results", str(tmp_path / "results"))
    finally:
        child.kill()
        child.wait()
    assert out.returncode == 2
    assert f"in use by pid {child.pid} (seqtune launch)" in one_line(out.stderr)
    assert (folder / "spec.yaml").read_text() == "written by the first launch\n"


def test_resume_refuses_a_study_that_is_running_and_disturbs_nothing(tmp_path: Path) -> None:
    study = finished_study(tmp_path)
    before = (study.path / "optuna.db").read_bytes()
    child = hold_lock_in_child(study.path)
    try:
        out = cli_here("resume", str(study.path), "--trials", "6")
    finally:
        child.kill()
        child.wait()
    assert out.returncode == 2
    assert f"in use by pid {child.pid}" in one_line(out.stderr)
    assert (study.path / "optuna.db").read_bytes() == before
    assert yaml.safe_load((study.path / "spec.yaml").read_text())["search"]["trials"] == 4


def test_status_says_who_runs_the_study(tmp_path: Path) -> None:
    study = finished_study(tmp_path)
    child = hold_lock_in_child(study.path)
    try:
        out = cli_here("status", "--json", str(study.path))
    finally:
        child.kill()
        child.wait()
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["running_by"] == f"pid {child.pid} (seqtune launch)"


def test_one_export_at_a_time(tmp_path: Path) -> None:
    study = finished_study(tmp_path)
    child = hold_lock_in_child(study.path, "seqtune export", name=".export.lock")
    try:
        out = cli_here("export", str(study.path))
    finally:
        child.kill()
        child.wait()
    assert out.returncode == 2
    assert f"in use by pid {child.pid} (seqtune export)" in one_line(out.stderr)
    assert not (study.path / "best.yaml").exists()


# ---- the SQLite file holds the study -----------------------------------------------
def test_a_closed_study_lives_in_optuna_db_alone(tmp_path: Path) -> None:
    study = finished_study(tmp_path, trials=5)
    assert not (study.path / "optuna.db-wal").exists()
    assert not (study.path / "optuna.db-shm").exists()
    alone = tmp_path / "archive" / "optuna.db"
    alone.parent.mkdir()
    shutil.copy(study.path / "optuna.db", alone)  # the file alone, as an archive would keep it
    conn = sqlite3.connect(alone)
    try:
        (count,) = conn.execute("SELECT COUNT(*) FROM trials WHERE state = 'COMPLETE'").fetchone()
    finally:
        conn.close()
    assert count == 5


# ---- data checked wherever it is read ----------------------------------------------
def test_export_refuses_data_that_changed_since_launch(tmp_path: Path) -> None:
    study = finished_study(tmp_path)
    csv = study.spec.data.csv
    csv.write_text(csv.read_text().replace("112", "113", 1))
    out = cli_here("export", str(study.path))
    assert out.returncode == 2
    line = one_line(out.stderr)
    assert str(csv) in line and "changed since the study was launched" in line
    assert not (study.path / "best.yaml").exists()


def test_a_worker_refuses_data_that_changed_since_launch(tmp_path: Path) -> None:
    study = finished_study(tmp_path)
    csv = study.spec.data.csv
    csv.write_text(csv.read_text() + "\n")
    again = Study.open(study.path)
    with pytest.raises(UserError, match="changed since the study was launched"):
        again.prepare()
    again.close()


# ---- damaged, moved and read-only studies -------------------------------------------
@pytest.mark.parametrize(
    "content",
    ["[]", "{}", '{"backend": "tpe", "storage": 5}', '"tpe"', '{"backend": "sgd"}'],
)
def test_a_study_json_of_the_wrong_shape_is_named(
    tmp_path: Path, content: str, capsys: pytest.CaptureFixture[str]
) -> None:
    study = finished_study(tmp_path)
    (study.path / "study.json").write_text(content)
    for verb in ("status", "resume", "export"):
        out = cli(capsys, verb, str(study.path))
        assert out.returncode == 2, (verb, out.stderr)
        line = one_line(out.stderr)
        assert "study.json" in line and "restore it" in line.lower()


@pytest.mark.parametrize("damage", ["missing", "empty", "garbage", "shape"])
@pytest.mark.parametrize("target", ["oracle.json", "trial.json"])
def test_damaged_keras_tuner_state_is_named(
    tmp_path: Path, damage: str, target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    study = finished_study(tmp_path, "hyperband", trials=3)
    project = study.path / "keras_tuner" / "hyperband"
    path = (
        project / "oracle.json"
        if target == "oracle.json"
        else next(project.glob("trial_*/trial.json"))
    )
    if damage == "missing":
        path.unlink()
    else:
        path.write_text({"empty": "", "garbage": "\x00{]", "shape": "[1, 2]"}[damage])
    for verb in ("status", "resume"):
        out = cli(capsys, verb, str(study.path))
        assert out.returncode == 2, (verb, out.stderr)
        line = one_line(out.stderr)
        assert str(path) in line and "restore" in line


def test_a_moved_study_folder_finds_its_data_and_resumes(tmp_path: Path) -> None:
    study = finished_study(tmp_path)
    moved = tmp_path / "elsewhere" / "tiny"
    moved.parent.mkdir()
    shutil.move(study.path, moved)
    status = cli_here("status", "--json", str(moved))
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["finished"] == 4
    out = cli_here("resume", str(moved))  # the budget is met: it checks and ends
    assert out.returncode == 0, out.stderr
    assert "changed" not in out.stderr


def test_a_moved_study_folder_without_its_data_says_so(tmp_path: Path) -> None:
    study = finished_study(tmp_path)
    moved = tmp_path / "elsewhere" / "tiny"
    moved.parent.mkdir()
    shutil.move(study.path, moved)
    study.spec.data.csv.unlink()
    out = cli_here("status", str(moved))
    assert out.returncode == 2
    line = one_line(out.stderr)
    assert f"moved from {study.path}" in line and "copy the CSV there" in line


def _read_only_mount(source: Path, target: Path) -> bool:
    """A read-only copy of ``source`` at ``target`` (a tmpfs remounted read-only: root
    ignores file modes, so a chmod would prove nothing). False where mounting is denied."""
    target.mkdir(parents=True)
    if (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(target)], capture_output=True
        ).returncode
        != 0
    ):
        return False
    shutil.copytree(source, target, dirs_exist_ok=True)
    subprocess.run(["mount", "-o", "remount,ro", str(target)], check=True)
    return True


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a read-only file system needs root")
def test_status_reads_a_read_only_copy(tmp_path: Path) -> None:
    study = finished_study(tmp_path)
    copy = tmp_path / "ro"
    if not _read_only_mount(study.path, copy):
        pytest.skip("mount is not permitted here")
    try:
        out = cli_here("status", "--json", str(copy))
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["finished"] == 4
        resumed = cli_here("resume", str(copy))
        assert resumed.returncode == 2
        assert "read-only" in one_line(resumed.stderr)
    finally:
        subprocess.run(["umount", str(copy)], check=False)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a read-only file system needs root")
def test_a_read_only_copy_with_a_pending_log_says_what_to_do(tmp_path: Path) -> None:
    study = finished_study(tmp_path)
    (study.path / "optuna.db-wal").write_bytes(b"\x37\x7f\x06\x82" + b"\x00" * 60)
    copy = tmp_path / "ro"
    if not _read_only_mount(study.path, copy):
        pytest.skip("mount is not permitted here")
    try:
        out = cli_here("status", str(copy))
        assert out.returncode == 2
        line = one_line(out.stderr)
        assert "optuna.db-wal" in line and "copy the study folder somewhere writable" in line
    finally:
        subprocess.run(["umount", str(copy)], check=False)


# ---- the budget --------------------------------------------------------------------
def test_resume_refuses_a_budget_below_the_finished_trials(tmp_path: Path) -> None:
    study = finished_study(tmp_path, trials=4)
    out = cli_here("resume", str(study.path), "--trials", "2")
    assert out.returncode == 2
    assert "4 finished trials" in one_line(out.stderr)
    assert yaml.safe_load((study.path / "spec.yaml").read_text())["search"]["trials"] == 4


def test_resume_in_process_takes_and_releases_the_lock(tmp_path: Path) -> None:
    study = finished_study(tmp_path)
    again, _, _ = resume(study.path, None, trials=None)
    assert holder(study.path) == f"pid {os.getpid()} (seqtune resume)"
    again.close()
    assert holder(study.path) is None
