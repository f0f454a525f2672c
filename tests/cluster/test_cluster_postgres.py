"""Studies on a real PostgreSQL server (a throwaway cluster on 127.0.0.1, see conftest_pg):
workers that join by URL and name from folders that share nothing else, workers killed
mid-trial, the server going away, and the one line for each server that cannot be used."""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import optuna
import pytest
from conftest import AIRLINE, ROOT, cli_here, tiny_spec, write_spec
from conftest_pg import PgServer, free_port, pg  # noqa: F401

ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src")}


class Proc:
    """A seqtune process whose stderr lines are collected as they come."""

    def __init__(self, *args: str, cwd: Path, env: dict[str, str] | None = None) -> None:
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "seqtune.cli", *args],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**ENV, **(env or {})},
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stderr is not None
        for line in self.popen.stderr:
            self.lines.append(line.rstrip("\n"))

    def trials_done(self) -> int:
        return sum(1 for line in self.lines if line.startswith("[") and " trial " in line)

    def finish(self, timeout: float = 400) -> int:
        self.popen.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return self.popen.returncode

    @property
    def stderr(self) -> str:
        return "\n".join(self.lines)


def wait_until(predicate, seconds: float, *procs: Proc) -> None:  # type: ignore[no-untyped-def]
    deadline = time.time() + seconds
    while not predicate():
        for p in procs:
            assert p.popen.poll() is None, p.stderr
        assert time.time() < deadline, [p.stderr for p in procs]
        time.sleep(0.1)


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def machine(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """A folder standing for another machine: nothing in it but a copy of the CSV."""
    folder = tmp_path / name
    folder.mkdir()
    data = folder / "airline.csv"
    shutil.copy(AIRLINE, data)
    return folder, data


def load(url: str, name: str) -> optuna.study.Study:
    return optuna.load_study(study_name=name, storage=url)


def dispose(study: optuna.study.Study) -> None:
    storage = study._storage
    inner = getattr(storage, "_backend", storage)
    if isinstance(inner, optuna.storages.RDBStorage):
        inner.engine.dispose()


def running_in(study: optuna.study.Study, pid: int) -> bool:
    """Whether the process ``pid`` runs a trial of the study now."""
    running = study.get_trials(states=(optuna.trial.TrialState.RUNNING,))
    return any(str(t.user_attrs.get("worker", "")).endswith(f":{pid}") for t in running)


# ---- one line for every server that cannot be used (fast) --------------------------------


def test_a_wrong_password_is_one_line_that_never_shows_it(
    pg: PgServer,  # noqa: F811
    tmp_path: Path,
    spec_file: Path,
) -> None:
    url = pg.url(password="Wr0ngSecret")
    out = cli_here("launch", str(spec_file), "--results", str(tmp_path / "r"), "--storage", url)
    assert out.returncode == 2
    line = one_line(out.stderr)
    assert "wrong password" in line and "'seqtune'" in line
    assert "Wr0ngSecret" not in out.stderr + out.stdout
    assert pg.password not in out.stderr + out.stdout
    assert not (tmp_path / "r").exists()  # nothing written


def test_an_unreachable_server_is_one_line(pg: PgServer, tmp_path: Path) -> None:  # noqa: F811
    out = cli_here("status", "--storage", pg.url(port=free_port()), "--study", "tiny")
    assert out.returncode == 2
    assert "is unreachable" in one_line(out.stderr)
    assert pg.password not in out.stderr


def test_a_missing_database_is_one_line(pg: PgServer, spec_file: Path, tmp_path: Path) -> None:  # noqa: F811
    url = pg.url(database="no_such_db")
    out = cli_here("launch", str(spec_file), "--results", str(tmp_path / "r"), "--storage", url)
    assert out.returncode == 2
    line = one_line(out.stderr)
    assert "'no_such_db' does not exist" in line and pg.password not in line


def test_a_study_name_that_does_not_exist_is_one_line(pg: PgServer) -> None:  # noqa: F811
    url = pg.create_database("names")
    dispose(optuna.create_study(study_name="other", storage=url))
    out = cli_here("worker", "--storage", url, "--study", "nope")
    assert out.returncode == 2
    line = one_line(out.stderr)
    assert "holds no study named 'nope' (it holds: other)" in line and pg.password not in line
    # a password given through the environment keeps it out of the command line
    out = cli_here("status", "--study", "nope", env_extra={"SEQTUNE_STORAGE": url})
    assert out.returncode == 2 and "holds no study named 'nope'" in one_line(out.stderr)


def test_tables_of_another_optuna_version_say_to_upgrade(pg: PgServer) -> None:  # noqa: F811
    url = pg.create_database("old_schema")
    dispose(optuna.create_study(study_name="old", storage=url))
    pg.sql("UPDATE alembic_version SET version_num = 'v3.0.0.a'", database="old_schema")
    out = cli_here("status", "--storage", url, "--study", "old")
    assert out.returncode == 2
    line = one_line(out.stderr)
    assert "optuna storage upgrade" in line and pg.password not in line


def test_a_worker_with_other_data_is_refused(pg: PgServer, tmp_path: Path) -> None:  # noqa: F811
    url = pg.create_database("checksum")
    study = optuna.create_study(study_name="tiny", storage=url)
    study.set_user_attr(
        "seqtune",
        {
            "spec": tiny_spec(),
            "data_sha256": hashlib.sha256(AIRLINE.read_bytes()).hexdigest(),
            "data_file": "airline.csv",
            "seqtune": "0.1.0",
        },
    )
    dispose(study)
    folder, data = machine(tmp_path, "elsewhere")
    data.write_text(data.read_text().replace("\n1", "\n9"))
    out = cli_here("worker", "--storage", url, "--study", "tiny", "--data", str(data))
    assert out.returncode == 2
    line = one_line(out.stderr)
    assert "is not the study's data" in line and str(data) in line


def test_hyperband_on_a_server_points_to_the_hyperband_pruner(
    pg: PgServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    spec = write_spec(tmp_path / "hb.yaml", tiny_spec(search={"backend": "hyperband"}))
    out = cli_here("launch", str(spec), "--results", str(tmp_path / "r"), "--storage", pg.url())
    assert out.returncode == 2
    assert "`backend: tpe` with `pruner: hyperband`" in one_line(out.stderr)


# ---- real studies (slow) ---------------------------------------------------------------


def launch_into(tmp_path: Path, spec: Path, url: str, env: dict[str, str]) -> Proc:
    """``seqtune launch`` of ``spec`` into tmp_path/results on the server ``url``."""
    results = str(tmp_path / "results")
    return Proc("launch", str(spec), "--results", results, "--storage", url, cwd=tmp_path, env=env)


@pytest.mark.slow
def test_four_workers_two_killed_mid_trial_lose_nothing(pg: PgServer, tmp_path: Path) -> None:  # noqa: F811
    """A launch and three workers in folders that share nothing but the URL and a copy
    of the CSV; two workers are SIGKILLed during a trial. Their trials are failed once
    their heartbeat is stale and run again by a live worker; the budget is met."""
    url = pg.create_database("killed")
    budget = 12
    # trials long enough (~1-2 s) that both victims are caught inside one on a quiet machine:
    # 400 epochs of ~5 batches (the fused LSTM trains 100 of them in ~0.3 s)
    search = {"backend": "tpe", "trials": budget, "max_epochs": 400, "patience": None}
    spec = write_spec(tmp_path / "tiny.yaml", tiny_spec(search=search))
    env = {"SEQTUNE_HEARTBEAT": "1:4"}
    launch = launch_into(tmp_path, spec, url, env)
    wait_until(lambda: "study tiny" in launch.stderr, 240, launch)
    workers = []
    for k in range(3):
        folder, data = machine(tmp_path, f"machine{k}")
        workers.append(
            Proc(
                "worker",
                "--storage",
                url,
                "--study",
                "tiny",
                "--data",
                str(data),
                cwd=folder,
                env=env,
            )
        )
    rng = random.Random()
    study = load(url, "tiny")
    for victim in workers[:2]:  # killed during a trial, at a random moment of it
        wait_until(lambda v=victim: running_in(study, v.popen.pid), 240, victim)
        time.sleep(rng.uniform(0.0, 0.3))
        victim.popen.send_signal(signal.SIGKILL)
    kept = {t.number: t.value for t in study.get_trials() if t.state.is_finished()}
    assert launch.finish() == 0, launch.stderr
    assert workers[2].finish() == 0, workers[2].stderr
    for victim in workers[:2]:
        assert victim.finish() == -signal.SIGKILL

    trials = load(url, "tiny").get_trials()
    states = [t.state for t in trials]
    assert optuna.trial.TrialState.RUNNING not in states
    assert optuna.trial.TrialState.WAITING not in states
    for number, value in kept.items():  # every finished trial kept as it was
        assert trials[number].value == value
    status = cli_here("status", "--json", "--storage", url, "--study", "tiny", "--data", str(data))
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert budget <= report["finished"] <= budget + 3  # at most workers - 1 over
    lost = [r for r in report["trial_records"] if r["state"] == "interrupted"]
    retried = [r for r in report["trial_records"] if r["retry_of"] is not None]
    assert lost and retried, report["trial_records"]
    finished = ("complete", "pruned", "failed")
    # the second victim may be killed while it runs a retry of the first's trial: that
    # retry is lost too and run again (Optuna's retries all name the first trial); every
    # lost trial's chain of retries ends in a finished one
    for r in lost:
        if r["retry_of"] is None:
            runs = [x["state"] for x in retried if x["retry_of"] == r["number"]]
            assert any(state in finished for state in runs), report["trial_records"]
    assert all(r["state"] in (*finished, "interrupted") for r in retried)
    assert any("run again as trial" in (r["reason"] or "") for r in lost)


@pytest.mark.slow
def test_the_server_going_away_for_a_few_seconds(pg: PgServer, tmp_path: Path) -> None:  # noqa: F811
    """The server stops mid-study; a worker on another machine is started while it is
    down and waits for it; both finish the study; export runs on that other machine."""
    url = pg.create_database("outage")
    search = {"backend": "tpe", "trials": 8, "max_epochs": 12, "patience": None}
    spec = write_spec(tmp_path / "tiny.yaml", tiny_spec(search=search))
    env = {"SEQTUNE_HEARTBEAT": "2:30"}
    launch = launch_into(tmp_path, spec, url, env)
    wait_until(lambda: launch.trials_done() >= 1, 240, launch)
    pg.stop()
    try:
        other, data = machine(tmp_path, "other")
        # the study on the server, the machine's own copy of the CSV and artifact store
        remote = ["--storage", url, "--study", "tiny", "--data", str(data)]
        remote += ["--artifacts", str(other / "artifacts")]
        worker = Proc("worker", *remote, "--wait", "120", cwd=other, env=env)
        wait_until(lambda: "waiting up to" in worker.stderr, 60, worker)
        time.sleep(3)
    finally:
        pg.start()
    code = launch.finish()
    assert worker.finish() == 0, worker.stderr
    assert "is unreachable" in worker.stderr and pg.password not in worker.stderr
    assert "Traceback" not in launch.stderr + worker.stderr
    if code != 0:  # the launch may give up in one line; resume continues the study
        assert code == 1 and "storage server" in launch.stderr.splitlines()[-1]
        resumed = cli_here("resume", str(tmp_path / "results" / "tiny"), "--storage", url)
        assert resumed.returncode == 0, resumed.stderr
    trials = load(url, "tiny").get_trials()
    assert sum(t.state.is_finished() for t in trials) >= 8
    assert all(t.state.is_finished() for t in trials)
    out = cli_here("export", *remote, "-o", str(other / "best.yaml"), cwd=other)
    assert out.returncode == 0, out.stderr
    assert (other / "best.yaml").is_file() and (other / "best.keras").is_file()
    assert pg.password not in (other / "best.yaml").read_text()


def test_resume_on_a_server_recovers_only_trials_without_a_heartbeat(
    pg: PgServer,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A worker elsewhere is alive while its heartbeat is fresh: recover (what resume
    runs) leaves its trial running and fails only the stale one, which is queued again."""
    from seqtune.search.backends.optuna_backend import OptunaBackend, open_storage
    from seqtune.spec import Spec

    monkeypatch.setenv("SEQTUNE_HEARTBEAT", "1:3")
    url = pg.create_database("recover")
    spec = Spec.from_dict(tiny_spec(), AIRLINE.parent)
    backend = OptunaBackend(tmp_path, spec, url)
    backend.create()
    storage = open_storage(url)
    alive, dead = backend.study.ask(), backend.study.ask()
    storage.record_heartbeat(dead._trial_id)  # type: ignore[attr-defined]
    for _ in range(8):  # the live worker keeps beating; the dead one stopped
        storage.record_heartbeat(alive._trial_id)  # type: ignore[attr-defined]
        time.sleep(0.5)
    assert backend.recover() == [dead.number]
    states = {t.number: t.state for t in backend.study.get_trials()}
    assert states[alive.number] == optuna.trial.TrialState.RUNNING
    assert optuna.trial.TrialState.WAITING in states.values()  # the lost trial, queued again
    records = {r.number: r for r in backend.records()}
    assert records[dead.number].state == "interrupted"
    backend.close()
    storage.engine.dispose()  # type: ignore[attr-defined]
