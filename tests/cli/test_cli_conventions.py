"""CLI conventions a script or a new user relies on: --json on launch, export and predict,
help that lists every command in plain text and no internal flag, tables to significant
digits, launch and export saying what comes next."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import cli_here, tiny_spec, write_spec

from seqtune.cli import build_parser, format_status

COMMANDS = [
    "launch",
    "resume",
    "worker",
    "status",
    "export",
    "check",
    "train",
    "predict",
    "report",
    "plot",
    "datasets",
    "init",
]


def test_top_level_help_names_every_command_in_plain_text() -> None:
    text = build_parser().format_help()
    assert "``" not in text
    for verb in COMMANDS:
        assert f"    {verb} " in text, verb


def test_no_internal_flag_in_help() -> None:
    done = cli_here("worker", "--help")
    assert done.returncode == 0
    assert "--launched-by" not in done.stdout


def test_the_trial_table_prints_floats_to_significant_digits() -> None:
    record = {
        "number": 0,
        "state": "complete",
        "value": 1.0,
        "epochs": 3,
        "seconds": 1.0,
        "params": {"learning_rate": 0.00047753092634556573, "units": 8},
        "reason": None,
        "metrics": {},
    }
    status = {
        "study": "s",
        "backend": "tpe",
        "objective": {"name": "val_rmse", "direction": "minimize"},
        "trials": {"complete": 1, "pruned": 0, "failed": 0, "running": 0, "interrupted": 0},
        "finished": 1,
        "budget": 1,
        "trial_records": [record],
        "best": {**record, "metrics": {}},
    }
    try:
        text = format_status(status)
    except KeyError as missing:  # the table reads a key this sketch lacks: name it
        pytest.fail(f"format_status needs {missing}")
    assert "learning_rate=0.0004775" in text and "0.00047753092634556573" not in text


@pytest.mark.slow
def test_json_on_launch_export_and_predict_and_what_comes_next(tmp_path: Path) -> None:
    spec = tiny_spec(search={"trials": 2, "max_epochs": 2})
    path = write_spec(tmp_path / "tiny.yaml", spec)
    results = tmp_path / "results"
    done = cli_here("launch", str(path), "--results", str(results), "--json")
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert status["trials"]["complete"] + status["trials"]["pruned"] == 2
    study = results / "tiny"

    done = cli_here("export", str(study))
    assert done.returncode == 0, done.stderr
    assert "beside them: predictions.csv, best.state.json" in done.stdout
    assert done.stdout.splitlines()[-1].startswith("next: seqtune predict ")

    done = cli_here("export", str(study), "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert [Path(f).name for f in out["files"]] == [
        "best.yaml",
        "best.keras",
        "predictions.csv",
        "best.state.json",
    ]
    assert all(Path(f).is_file() for f in out["files"])
    assert set(out["result"]["test"]) >= {"rmse", "mae"}

    done = cli_here("predict", str(study), "--json", "--level", "80")
    assert done.returncode == 0, done.stderr
    forecast = json.loads(done.stdout)
    assert forecast["levels"] == [80.0] and len(forecast["forecast"]) == 1
    row = forecast["forecast"][0]
    assert row["lower_80"] <= row["prediction"] <= row["upper_80"]


def test_every_command_takes_quiet_and_verbose() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "verb")  # argparse's subparsers
    for verb, command in sub.choices.items():  # type: ignore[union-attr]
        text = command.format_help()
        assert "-q, --quiet" in text and "-v, --verbose" in text, verb


@pytest.mark.slow
def test_quiet_launch_prints_only_its_result_and_verbose_lets_tensorflow_speak(
    tmp_path: Path,
) -> None:
    from conftest import run_cli

    spec = write_spec(tmp_path / "tiny.yaml", tiny_spec(search={"trials": 1, "max_epochs": 1}))
    done = run_cli("launch", str(spec), "--results", str(tmp_path / "results"), "-q")
    assert done.returncode == 0, done.stderr
    assert done.stderr == "" and done.stdout.startswith("best trial 0")
    assert "next:" not in done.stdout
    done = run_cli("export", str(tmp_path / "results" / "tiny"), "-v")
    assert done.returncode == 0, done.stderr
    assert "oneDNN" in done.stderr or "tensorflow" in done.stderr.lower()
