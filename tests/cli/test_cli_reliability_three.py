"""Reliability, round three (issue 29): silent wrong results, secrets, storages that
cannot work, a worker started by hand, a stop that waits on stored epochs.

Each test fails on the code before the fix: predict used a changed study CSV or daily rows
for a monthly model, an edited objective resumed, ``?password=`` was kept verbatim,
``sqlite://`` printed a traceback, ``worker STUDY_DIR`` took no lock.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import optuna
import pytest
import yaml
from conftest import AIRLINE, ROOT, cli_here, launched_and_exported, run_cli, tiny_spec, write_spec

from seqtune.search.backends.optuna_backend import EpochReports
from seqtune.store.server import mask_url, normalize_storage


def one_line(proc: subprocess.CompletedProcess[str], *words: str) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def monthly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An exported H=1 airline study with a time index and month inputs, on its own copy
    of the CSV."""
    root = tmp_path_factory.mktemp("monthly")
    csv = root / "airline.csv"
    shutil.copy(AIRLINE, csv)
    spec = tiny_spec(data={"csv": str(csv), "time": "Date", "calendar": ["month"]})
    spec["data"].pop("period")
    spec["search"] = {"backend": "tpe", "trials": 2, "max_epochs": 2, "patience": None}
    return launched_and_exported(root, spec)


# ---- silent wrong results ------------------------------------------------------------


def test_predict_refuses_a_study_csv_changed_since_the_export(
    monthly: Path, tmp_path: Path
) -> None:
    """An export before 0.4.0 refits its scalers on the study's data file: a changed one
    is refused. A self-contained export keeps them: the changed file is only recent rows
    (an edit far before the window leaves the forecast as it was)."""
    best = yaml.safe_load((monthly / "best.yaml").read_text())
    assert isinstance(best["result"]["data_sha256"], str)
    csv = Path(best["data"]["csv"])
    if not csv.is_absolute():
        csv = monthly / csv
    before = cli_here("predict", str(monthly))
    assert before.returncode == 0, before.stderr
    old = tmp_path / "old"  # the same export as an earlier seqtune wrote it: no state file
    old.mkdir()
    for name in ("best.keras", "predictions.csv"):
        shutil.copy(monthly / name, old / name)
    best["data"]["csv"] = str(csv.resolve())
    del best["result"]["files"]["best.state.json"]
    (old / "best.yaml").write_text(yaml.safe_dump(best, sort_keys=False))
    assert cli_here("predict", str(old)).stdout == before.stdout
    original = csv.read_text()
    lines = original.splitlines()
    row = lines[5].split(",")
    lines[5] = ",".join([row[0], str(int(row[1]) + 50)])
    try:
        csv.write_text("\n".join(lines) + "\n")
        one_line(cli_here("predict", str(old)), "changed since the export", str(csv.name))
        now = cli_here("predict", str(monthly))
        assert now.returncode == 0 and now.stdout == before.stdout, now.stderr
    finally:
        csv.write_text(original)
    assert cli_here("predict", str(old)).returncode == 0


def test_predict_refuses_rows_of_another_frequency(monthly: Path, tmp_path: Path) -> None:
    daily = tmp_path / "daily.csv"
    stamps = [f"1961-01-{d:02d}" for d in range(1, 29)]
    daily.write_text(
        "Date,Passengers\n" + "".join(f"{s},{400 + i}\n" for i, s in enumerate(stamps))
    )
    one_line(cli_here("predict", str(monthly), "--csv", str(daily)), "frequency")


@pytest.mark.parametrize("edit", ["val_mae", "direction"])
def test_an_objective_edited_after_launch_is_refused(
    monthly: Path, tmp_path: Path, edit: str
) -> None:
    study = tmp_path / "tiny"
    shutil.copytree(monthly, study)
    spec = yaml.safe_load((study / "spec.yaml").read_text())
    spec["objective"] = "val_mae" if edit == "val_mae" else "val_accuracy"
    (study / "spec.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    meta = json.loads((study / "study.json").read_text())
    meta["source"] = None  # the source spec "edited alike": only spec.yaml is compared
    (study / "study.json").write_text(json.dumps(meta))
    for verb in (("status",), ("resume", "--trials", "3")):
        done = cli_here(*verb, str(study))
        assert done.returncode == 2, done.stderr
        assert "launched with objective val_rmse" in done.stderr or "objective" in done.stderr


# ---- secrets --------------------------------------------------------------------------

SECRET = "S3cretPw9"


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://seq:{SECRET}@127.0.0.1:1/db",
        f"postgresql://:{SECRET}@127.0.0.1:1/db",
        f"postgresql+psycopg://127.0.0.1:1/db?user=seq&password={SECRET}",
        f"postgresql://seq@127.0.0.1:1/db?sslmode=disable&PASSWORD={SECRET}",
        f"postgresql://seq:{SECRET[:4]}%40{SECRET[4:]}@127.0.0.1:1/db",
    ],
)
def test_every_form_of_a_password_is_masked(url: str, tmp_path: Path) -> None:
    masked = mask_url(url)
    assert SECRET not in masked and SECRET[4:] not in masked and "***" in masked
    assert mask_url(f"could not connect: {url} (password={SECRET})").count(SECRET) == 0
    done = cli_here("status", "--storage", url, "--study", "tiny")
    assert done.returncode == 2 and SECRET not in done.stderr + done.stdout
    assert SECRET[4:] not in done.stderr


# ---- storages that cannot work ----------------------------------------------------------


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_an_in_memory_sqlite_storage_is_refused_before_anything_is_written(
    url: str, tmp_path: Path
) -> None:
    spec = write_spec(tmp_path / "tiny.yaml", tiny_spec())
    done = cli_here("launch", str(spec), "--results", str(tmp_path / "r"), "--storage", url)
    one_line(done, "--storage", "in-memory")
    assert not (tmp_path / "r").exists()


def test_a_relative_sqlite_path_is_made_absolute(tmp_path: Path) -> None:
    got = normalize_storage("sqlite:///rel/study.db")
    assert got == f"sqlite:///{Path.cwd() / 'rel' / 'study.db'}"
    assert normalize_storage("sqlite:////abs/x.db") == "sqlite:////abs/x.db"


# ---- one owner ------------------------------------------------------------------------


@pytest.mark.slow
def test_a_worker_started_by_hand_owns_the_study(monthly: Path, tmp_path: Path) -> None:
    study = tmp_path / "tiny"
    shutil.copytree(monthly, study)
    spec = yaml.safe_load((study / "spec.yaml").read_text())
    spec["search"].update(trials=100, max_epochs=1000, patience=None)
    (study / "spec.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    (study / "study.json").write_text(
        json.dumps({**json.loads((study / "study.json").read_text()), "source": None})
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "seqtune.cli", "worker", str(study)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**__import__("os").environ, "PYTHONPATH": str(ROOT / "src")},
    )
    try:
        deadline = time.monotonic() + 120
        while "seqtune worker" not in (study / ".lock").read_text(errors="replace"):
            assert worker.poll() is None, worker.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        resumed = run_cli("resume", str(study))
        line = one_line(resumed, "is in use by")
        assert "seqtune worker" in line
    finally:
        worker.send_signal(signal.SIGINT)
        out, err = worker.communicate(timeout=120)
    assert "Traceback" not in err and "UpdateFinishedTrialError" not in err


# ---- a stop does not wait for every stored epoch ------------------------------------------


def test_a_slow_storage_never_queues_more_than_a_bounded_number_of_epochs() -> None:
    study = optuna.create_study(pruner=optuna.pruners.NopPruner())
    trial = study.ask()
    stored: list[int] = []
    gate = threading.Event()

    def slow_report(value: float, step: int) -> None:
        gate.wait(5)
        time.sleep(0.001)
        stored.append(step)

    trial.report = slow_report  # type: ignore[method-assign]
    reports = EpochReports(trial, trial._trial_id)
    for epoch in range(5000):
        reports.report(epoch, float(epoch))
    assert len(reports._pending) <= EpochReports.MAX_PENDING + 1
    gate.set()
    start = time.monotonic()
    reports.close(interrupted=True)
    assert time.monotonic() - start < 2.0
    # the latest value is stored; of the rest, at most what was waiting (bounded)
    assert stored[-1] == 4999 and len(stored) <= EpochReports.MAX_PENDING + 2
