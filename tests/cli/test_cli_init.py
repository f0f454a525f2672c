"""``seqtune init``: the spec file it writes (and that ``check`` accepts), what it prints,
its refusals in one line, and one tiny study from init to export."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import AIRLINE, cli_here, run_cli


def test_init_writes_a_spec_that_check_accepts(tmp_path: Path) -> None:
    csv = tmp_path / "airline.csv"
    shutil.copy(AIRLINE, csv)
    done = cli_here("init", str(csv), "--target", "Passengers", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "  period: 12 (frequency MS)" in lines
    assert lines[-2] == "wrote airline.yaml (study airline, forecast of 'Passengers')"
    assert lines[-1] == "next: seqtune check airline.yaml   (then: seqtune launch airline.yaml)"
    spec = yaml.safe_load((tmp_path / "airline.yaml").read_text())
    assert spec["data"] == {
        "csv": "airline.csv",
        "target": "Passengers",
        "task": "forecast",
        "time": "Date",
        "split": {"val": 12, "test": 24, "folds": 4},
        "scaler": "minmax",
    }
    assert spec["objective"] == "val_rmse"
    checked = cli_here("check", "airline.yaml", "--json", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout)["ok"]


def test_init_never_overwrites_without_force(tmp_path: Path) -> None:
    out = tmp_path / "mine.yaml"
    out.write_text("keep me\n")
    args = ["init", str(AIRLINE), "--target", "Passengers", "-o", str(out)]
    refused = cli_here(*args)
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1 and "--force" in refused.stderr
    assert out.read_text() == "keep me\n"
    forced = cli_here(*args, "--force", "-q")
    assert forced.returncode == 0, forced.stderr
    assert forced.stdout.startswith(f"wrote {out} ") and "next:" not in forced.stdout
    assert yaml.safe_load(out.read_text())["data"]["csv"] == str(AIRLINE)  # two folders up
    # a study's data file is never the output, even with --force
    data = tmp_path / "data.yaml"
    data.write_text("x\n")
    assert cli_here("init", str(data), "--target", "x", "-o", str(data), "--force").returncode == 2


def test_init_json_lists_every_decision(tmp_path: Path) -> None:
    done = cli_here(
        "init", str(AIRLINE), "--target", "Passengers", "--horizon", "12", "--json", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["spec"] == "airline.yaml"
    assert out["period"] == 12 and out["horizon"] == 12
    assert out["split"] == {"test": 24, "val": 24, "folds": 2}
    assert out["look_back"] == [12, 24]
    assert yaml.safe_load((tmp_path / "airline.yaml").read_text())["data"]["horizon"] == 12


@pytest.mark.parametrize(
    ("frame", "args", "message"),
    [
        (None, ["--target", "Passenger"], "--target: column 'Passenger' not found"),
        ("text", ["--target", "y"], "non-numeric value 'abc'"),
        ("short", ["--target", "y"], "only 12 rows"),
        ("constant", ["--target", "y"], "is constant"),
        (None, ["--target", "Passengers", "--time", "Nope"], "--time: column 'Nope' not found"),
        (None, ["--target", "Passengers", "--horizon", "0"], "must be at least 1"),
        (None, ["--target", "Passengers", "--horizon", "60"], "shorter --horizon"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    tmp_path: Path, frame: str | None, args: list[str], message: str
) -> None:
    if frame is None:
        csv = AIRLINE
    else:
        csv = tmp_path / "bad.csv"
        y: list[object] = list(np.arange(40.0))
        if frame == "text":
            y[5] = "abc"
        elif frame == "short":
            y = y[:12]
        elif frame == "constant":
            y = [1.0] * 40
        pd.DataFrame({"y": y}).to_csv(csv, index=False)
    done = cli_here("init", str(csv), *args, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and message in done.stderr, done.stderr
    assert not list(tmp_path.glob("*.yaml"))


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    done = cli_here("init", str(tmp_path / "nope.csv"), "--target", "y", cwd=tmp_path)
    assert done.returncode == 2 and "seqtune init: CSV: file not found" in done.stderr
    assert done.stderr.count("\n") == 1, done.stderr


@pytest.mark.slow
def test_init_launch_export_end_to_end(tmp_path: Path) -> None:
    """The path docs/your-own-series.md shows, with a tiny budget: init, launch, export."""
    csv = tmp_path / "airline.csv"
    shutil.copy(AIRLINE, csv)
    done = run_cli("init", "airline.csv", "--target", "Passengers", "-q", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    spec = yaml.safe_load((tmp_path / "airline.yaml").read_text())
    spec["search"].update(repeats=1, ensemble=1)  # tiny: one seed per fold
    spec["space"]["look_back"] = {"int": [12, 13]}
    (tmp_path / "airline.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    launched = run_cli(
        "launch", "airline.yaml", "--trials", "2", "--max-epochs", "3", "-q", cwd=tmp_path
    )
    assert launched.returncode == 0, launched.stderr
    exported = run_cli("export", "results/airline", "--json", "-q", cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    result = json.loads(exported.stdout)["result"]
    assert result["test"]["rmse"] > 0
    assert {"persistence", "seasonal_naive", "mean", "ridge"} <= set(result["baselines"])
    assert (tmp_path / "results" / "airline" / "best.keras").exists()
