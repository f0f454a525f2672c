"""The MLflow integration (``seqtune[mlflow]``), against a local SQLite tracking store: a
study's trials logged once each (again after a resume), the exported forecaster logged as a
pyfunc model that predicts as the export does after the export, its study and its data are
gone, and ``export --mlflow``. Without MLflow: one line saying what to install."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from conftest import AIRLINE, ROOT, cli_here, launched_and_exported, tiny_spec

import seqtune

INSTALL = "pip install 'seqtune[mlflow]'"


def _python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, env=env
    )


def test_importing_seqtune_its_cli_and_the_integration_imports_no_mlflow(tmp_path: Path) -> None:
    done = _python(
        "import sys, seqtune, seqtune.api, seqtune.cli, seqtune.integrations.mlflow\n"
        "print('mlflow' in sys.modules)",
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False"]


def test_without_mlflow_one_line_says_what_to_install_and_nothing_is_written(
    tmp_path: Path,
) -> None:
    hide = "import sys; sys.modules['mlflow'] = None  # as if not installed\n"
    done = _python(
        hide + "from seqtune.integrations.mlflow import log_study\n"
        "try:\n    log_study('results/x')\n"
        "except Exception as err:\n    print(type(err).__name__, err)",
        tmp_path,
    )
    assert done.stdout.strip() == f"UserError MLflow is not installed: {INSTALL}"
    study = tmp_path / "results" / "tiny"
    study.mkdir(parents=True)
    done = _python(
        hide + "from seqtune.cli import main\n"
        f"sys.exit(main(['export', {str(study)!r}, '--mlflow', 'sqlite:///mlflow.db']))",
        tmp_path,
    )
    assert done.returncode == 2
    assert done.stderr == f"seqtune export: MLflow is not installed: {INSTALL}\n"
    assert not (tmp_path / "mlflow.db").exists() and list(study.iterdir()) == []


# -- with MLflow (mlflow-skinny is in the test extra) ------------------------------------


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with data/airline.csv and results/tiny: a two-trial study over two folds,
    exported; tests copy the folder before changing it."""
    pytest.importorskip("mlflow")
    root = tmp_path_factory.mktemp("mlflow-study")
    (root / "data").mkdir()
    shutil.copy(AIRLINE, root / "data" / "airline.csv")
    spec = tiny_spec(
        data={"csv": "data/airline.csv", "split": {"val": 12, "test": 24, "folds": 2}},
        search={"trials": 2, "max_epochs": 2},
    )
    launched_and_exported(root, spec)
    return root


def _copy(made: Path, to: Path) -> Path:
    """A copy of the study and its data; its study folder."""
    shutil.copytree(made, to)
    return to / "results" / "tiny"


def _runs(tracking: str, experiment: str, where: str = "") -> list[Any]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking)
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no experiment {experiment}"
    return list(client.search_runs([found.experiment_id], filter_string=where, max_results=1000))


def _trial_runs(tracking: str, experiment: str, parent: str) -> dict[int, Any]:
    runs = _runs(tracking, experiment, f"tags.`mlflow.parentRunId` = '{parent}'")
    trials = [run for run in runs if run.data.tags["seqtune.role"] == "trial"]
    numbers = [int(run.data.tags["seqtune.trial"]) for run in trials]
    assert len(numbers) == len(set(numbers)), f"a trial logged twice: {sorted(numbers)}"
    return {int(run.data.tags["seqtune.trial"]): run for run in trials}


def _assert_run_is_trial(run: Any, row: pd.Series) -> None:
    tags, params, metrics = run.data.tags, run.data.params, run.data.metrics
    assert tags["seqtune.state"] == row["state"] and tags["seqtune.seed"] == str(row["seed"])
    for column, value in row.items():
        name = str(column)
        if name.startswith("params_") and not pd.isna(value):
            logged = params[name.removeprefix("params_")]
            if isinstance(value, str):
                assert logged == value, name
            else:  # a number (an int column with gaps reads as floats)
                assert json.loads(logged) == pytest.approx(value, rel=1e-12), name
        if name.startswith("metrics_") and not pd.isna(value):
            assert metrics[name.removeprefix("metrics_")] == pytest.approx(value, rel=1e-12)
    assert metrics["value"] == pytest.approx(row["value"], rel=1e-12)
    assert metrics["epochs"] == row["epochs"] and metrics["best_epoch"] == row["best_epoch"]
    assert {"val_rmse_fold0", "val_rmse_fold1"} <= set(metrics)  # each fold's value


@pytest.mark.slow
def test_log_study_logs_each_trial_once_and_the_new_ones_after_a_resume(
    made: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from seqtune.integrations.mlflow import log_study

    monkeypatch.chdir(tmp_path)  # MLflow's default artifact folder is ./mlruns
    study = _copy(made, tmp_path / "copy")
    tracking = f"sqlite:///{tmp_path}/mlflow.db"
    parent = log_study(study, tracking_uri=tracking)
    frame = seqtune.load_study(study).trials_dataframe()
    runs = _trial_runs(tracking, "tiny", parent)
    assert sorted(runs) == sorted(frame["number"]) == [0, 1]
    for number, run in runs.items():
        _assert_run_is_trial(run, frame[frame["number"] == number].iloc[0])
    (study_run,) = _runs(tracking, "tiny", "tags.`seqtune.role` = 'study'")
    assert study_run.info.run_id == parent
    best = seqtune.load_study(study).best_trial
    assert best is not None
    assert study_run.data.metrics["best_value"] == pytest.approx(best["value"], rel=1e-12)
    assert study_run.data.params["objective"] == "val_rmse"

    assert log_study(seqtune.load_study(study), tracking_uri=tracking) == parent
    again = _trial_runs(tracking, "tiny", parent)
    assert {n: r.info.run_id for n, r in again.items()} == {
        n: r.info.run_id for n, r in runs.items()
    }

    seqtune.resume(study, trials=3)
    assert log_study(study, tracking_uri=tracking) == parent
    after = _trial_runs(tracking, "tiny", parent)
    assert sorted(after) == [0, 1, 2]
    assert {n: after[n].info.run_id for n in runs} == {n: r.info.run_id for n, r in runs.items()}
    frame = seqtune.load_study(study).trials_dataframe()
    _assert_run_is_trial(after[2], frame[frame["number"] == 2].iloc[0])
    (study_run,) = _runs(tracking, "tiny", "tags.`seqtune.role` = 'study'")
    assert study_run.data.metrics["finished"] == 3


@pytest.mark.slow
def test_the_logged_forecaster_predicts_as_the_export_with_the_study_and_data_gone(
    made: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow

    from seqtune.integrations.mlflow import _export_files, log_forecaster

    monkeypatch.chdir(tmp_path)
    copy = tmp_path / "copy"
    study = _copy(made, copy)
    tracking = f"sqlite:///{tmp_path}/mlflow.db"
    recent = pd.read_csv(copy / "data" / "airline.csv").tail(30).reset_index(drop=True)
    want = seqtune.load(study / "best.yaml").predict(recent)
    # a self-contained export: its own files, not the study's data CSV
    assert _export_files(study / "best.yaml") == [
        (study / name).resolve()
        for name in ("best.yaml", "best.keras", "predictions.csv", "best.state.json")
    ]
    uri = log_forecaster(study / "best.yaml", tracking_uri=tracking, experiment="models")
    assert uri.startswith("runs:/") and uri.endswith("/forecaster")
    assert log_forecaster(study, tracking_uri=tracking, experiment="models") == uri  # once
    (run,) = _runs(tracking, "models", "tags.`seqtune.role` = 'forecaster'")
    test = seqtune.load(study).test
    assert run.data.metrics["test_rmse"] == pytest.approx(test["rmse"], rel=1e-12)
    exported = yaml.safe_load((study / "best.yaml").read_text())
    assert run.data.params["kind"] == exported["model"]["kind"]
    combined = (exported["result"].get("combination") or {}).get("text")
    assert run.data.params.get("forecast") == combined
    shutil.rmtree(copy)  # the export, its study folder and the study's data CSV

    mlflow.set_tracking_uri(tracking)
    try:
        model = mlflow.pyfunc.load_model(uri)
    finally:
        mlflow.set_tracking_uri(None)
    got = model.predict(recent)
    pd.testing.assert_frame_equal(got, want)
    assert len(got) == seqtune.load(made / "results" / "tiny").horizon
    older = pd.read_csv(AIRLINE).head(100)  # other rows: another forecast, the same as load's
    pd.testing.assert_frame_equal(
        model.predict(older), seqtune.load(made / "results" / "tiny").predict(older)
    )
    ranged = model.predict(recent, params={"level": [80]})
    assert list(ranged.columns) == [*want.columns, "lower_80", "upper_80"]
    pd.testing.assert_series_equal(ranged["prediction"], want["prediction"])
    assert (ranged["lower_80"] < ranged["prediction"]).all()


@pytest.mark.slow
def test_export_with_mlflow_logs_the_trials_and_the_model_once(made: Path, tmp_path: Path) -> None:
    study = _copy(made, tmp_path / "copy")
    tracking = f"sqlite:///{tmp_path}/mlflow.db"
    done = cli_here(
        "export", str(study), "--mlflow", tracking, "--mlflow-experiment", "cli", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    line = done.stdout.strip().splitlines()[-1]
    assert line.startswith("mlflow: study run ") and ", model runs:/" in line
    parent = line.split()[3].rstrip(",")
    assert sorted(_trial_runs(tracking, "cli", parent)) == [0, 1]
    (model_run,) = _runs(tracking, "cli", "tags.`seqtune.role` = 'forecaster'")
    assert model_run.data.tags["mlflow.parentRunId"] == parent
    assert model_run.data.tags["seqtune.model_uri"] == line.split()[-1]

    again = ("export", str(study), "--mlflow", tracking, "--mlflow-experiment", "cli")
    done = cli_here(*again, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(_trial_runs(tracking, "cli", parent)) == [0, 1]  # not logged twice

    before = (study / "best.yaml").read_bytes()
    done = cli_here("export", str(study), "--mlflow", "nosuch://x", cwd=tmp_path)
    assert done.returncode == 2  # refused before the export is written
    assert done.stderr.startswith("seqtune export: nosuch://x: MLflow refused it: ")
    assert len(done.stderr.splitlines()) == 1
    assert (study / "best.yaml").read_bytes() == before
