"""A study launched by an earlier seqtune (tests/fixtures/studies_c27898a, made before the
single trial loop) still reports the same trials and resumes to a larger budget, on both
kinds of backend state (Optuna's SQLite file; keras-tuner's oracle and trial files)."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from conftest import AIRLINE, ROOT, run_cli

FIXTURES = ROOT / "tests" / "fixtures" / "studies_c27898a"

pytestmark = pytest.mark.slow


def old_study(tmp_path: Path, name: str) -> Path:
    shutil.copy(AIRLINE, tmp_path / "data.csv")  # the specs name ../../data.csv
    folder = tmp_path / "studies" / name
    shutil.copytree(FIXTURES / name, folder)
    return folder


def rows(folder: Path) -> list[dict[str, str]]:
    with (folder / "trials.csv").open() as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("name", ["old-tpe", "old-hyperband"])
def test_an_old_study_reports_and_resumes(tmp_path: Path, name: str) -> None:
    folder = old_study(tmp_path, name)
    before = rows(folder)
    assert len(before) == 3

    status = run_cli("status", str(folder), "--json")
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert data["finished"] == 3
    assert [r["value"] for r in data["trial_records"]] == [float(r["value"]) for r in before]

    resumed = run_cli("resume", str(folder), "--trials", "5")
    assert resumed.returncode == 0, resumed.stderr
    after = rows(folder)
    # the old trials untouched: every column they had (the metrics column is appended)
    assert [{k: r[k] for k in before[0]} for r in after[:3]] == before
    assert "metrics" in after[0]
    assert len(after) == 5 and all(r["state"] == "complete" for r in after)
    if name == "old-hyperband":
        # the old schedule goes on: round 1 of bracket 1 continues the best of round 0
        continues = json.loads(
            (folder / "keras_tuner/hyperband/trial_0003/seqtune.json").read_text()
        )["continues"]
        assert continues == "0002"  # the best (lowest val_rmse) of trials 0-2
        assert after[3]["epochs"] == "3"

    exported = run_cli("export", str(folder))
    assert exported.returncode == 0, exported.stderr
    assert (folder / "best.yaml").is_file() and (folder / "best.keras").is_file()
