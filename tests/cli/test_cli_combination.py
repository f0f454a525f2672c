"""End to end (slow): a tiny airline study exported as a combination of its network and
statistical models — printed, recorded in best.yaml, written to predictions.csv — predicted
from a folder holding only the export's files (the CLI and ``seqtune.load``), refit
by ``train`` to the same combined test score; and one line when the baselines are off."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import AIRLINE, cli_here, tiny_spec, write_spec

import seqtune
from seqtune.models import statistical

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def cheap_statistics(monkeypatch: pytest.MonkeyPatch) -> None:
    """The statistical models on (the suite turns them off), their searches kept small."""
    monkeypatch.setenv(statistical.ENV, "60")
    monkeypatch.setattr(statistical, "ARIMA_MAX_PERIOD", 0)
    monkeypatch.setattr(statistical, "ARIMA_MAX_ORDER", 1)


def rows_of(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def _exported(tmp_path: Path, search: dict[str, Any]) -> tuple[Path, Any]:
    """A tiny airline study on 3 folds, launched with ``search`` and exported: its folder
    and the export's process."""
    spec = tiny_spec(
        data={"split": {"val": 12, "test": 24, "folds": 3}},
        search={"backend": "tpe", "max_epochs": 3, **search},
    )
    path = write_spec(tmp_path / "tiny.yaml", spec)
    results = tmp_path / "results"
    assert cli_here("launch", str(path), "--results", str(results)).returncode == 0
    proc = cli_here("export", str(results / "tiny"))
    assert proc.returncode == 0, proc.stderr
    return results / "tiny", proc


def test_export_predict_and_train_use_the_combination(tmp_path: Path) -> None:
    # average: one statistical partner, the one the folds chose (pooled: the test below)
    study, proc = _exported(tmp_path, {"trials": 2, "patience": None, "combine": "average"})
    best = yaml.safe_load((study / "best.yaml").read_text())
    combo = best["result"]["combination"]
    assert combo["rule"] == "average", combo
    names = [m["name"] for m in combo["members"]]
    assert names[0] == "network" and names[1] in statistical.STATISTICAL
    assert [m["weight"] for m in combo["members"]] == [0.5, 0.5]
    assert set(combo["fold_scores"]) == {"network", "average", "inverse", "stacking"}
    assert combo["text"].startswith("0.50 × network + 0.50 × Auto")
    assert f"forecast: {combo['text']} (rule average;" in proc.stdout
    assert "the network alone on the test part: rmse" in proc.stdout
    assert best["search"]["combine"] == "average"

    # predictions.csv: the combined forecast, then the members alone
    table = rows_of(study / "predictions.csv")
    assert list(table[0])[-2:] == ["network", names[1]]
    test_rows = [r for r in table if r["part"] == "test"]
    for r in test_rows:
        both = 0.5 * float(r["network"]) + 0.5 * float(r[names[1]])
        assert float(r["prediction"]) == pytest.approx(both, rel=1e-9)
    actual = np.array([float(r["actual"]) for r in test_rows])
    combined = np.array([float(r["prediction"]) for r in test_rows])
    network = np.array([float(r["network"]) for r in test_rows])
    rmse = float(np.sqrt(np.mean((actual - combined) ** 2)))
    assert best["result"]["test"]["rmse"] == pytest.approx(rmse, rel=1e-6)
    alone = float(np.sqrt(np.mean((actual - network) ** 2)))
    assert combo["network_test"]["rmse"] == pytest.approx(alone, rel=1e-6)
    state = json.loads((study / "best.state.json").read_text())
    assert state["format"] == 2 and state["combination"]["members"] == names

    # predict from a folder holding only the export's files (the study and its data
    # elsewhere), from rows up to a test origin
    from seqtune.exported.bundle import export_files

    alone_dir = tmp_path / "elsewhere"
    alone_dir.mkdir()
    for file in export_files(study / "best.yaml"):
        shutil.copy(file, alone_dir / file.name)
    assert sorted(p.name for p in alone_dir.iterdir()) == [
        "best.keras",
        "best.state.json",
        "best.yaml",
        "predictions.csv",
    ]
    origin = int(test_rows[5]["origin"])
    recent = tmp_path / "recent.csv"
    pd.read_csv(AIRLINE).iloc[: origin + 1].to_csv(recent, index=False)
    proc = cli_here("predict", str(alone_dir), "--csv", str(recent))
    assert proc.returncode == 0, proc.stderr
    (row,) = list(csv.DictReader(proc.stdout.splitlines()))
    assert float(row["prediction"]) == pytest.approx(float(test_rows[5]["prediction"]), rel=1e-5)
    # the last 40 rows only: the members are placed after the rows they were fitted on
    frame = pd.read_csv(AIRLINE).iloc[origin - 39 : origin + 1]
    forecaster = seqtune.load(alone_dir / "best.yaml")
    assert forecaster.combination == combo
    got = forecaster.predict(frame)
    assert got["prediction"].iloc[0] == pytest.approx(float(row["prediction"]), rel=1e-5)

    # the report shows the combined forecast and names the combination
    proc = cli_here("report", str(study))
    assert proc.returncode == 0, proc.stderr
    page = (study / "report.html").read_text()
    assert "forecast is a combination" in page and combo["text"] in page
    assert f"<tr><td>model</td><td class=num>{rmse:.4f}</td>" in page

    # train reproduces the export, combination included
    proc = cli_here("train", str(study / "best.yaml"), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["combination"]["members"] == combo["members"]
    assert report["test"]["rmse"] == pytest.approx(best["result"]["test"]["rmse"], rel=1e-4)


def test_a_pooled_combination_is_one_artifact_for_export_predict_and_train(
    tmp_path: Path,
) -> None:
    """The default of a study made by 0.5.1 on, ``pooled``: ½ network + ½ the mean of the
    three statistical models, in best.yaml, predictions.csv, predict and train alike."""
    study, _ = _exported(tmp_path, {"trials": 1})  # a 0.5.1 study's default
    best = yaml.safe_load((study / "best.yaml").read_text())
    combo = best["result"]["combination"]
    assert combo["rule"] == "pooled"
    names = [m["name"] for m in combo["members"]]
    assert names[0] == "network" and sorted(names[1:]) == sorted(statistical.STATISTICAL)
    weights = [m["weight"] for m in combo["members"]]
    assert weights == pytest.approx([0.5, 1 / 6, 1 / 6, 1 / 6], abs=1e-6)  # written to 6 places
    assert "pooled" in combo["fold_scores"]
    test_rows = [r for r in rows_of(study / "predictions.csv") if r["part"] == "test"]
    for r in test_rows:
        mean = np.mean([float(r[n]) for n in names[1:]])
        assert float(r["prediction"]) == pytest.approx(0.5 * float(r["network"]) + 0.5 * mean)
    origin = int(test_rows[3]["origin"])
    got = seqtune.load(study / "best.yaml").predict(pd.read_csv(AIRLINE).iloc[: origin + 1])
    assert got["prediction"].iloc[0] == pytest.approx(float(test_rows[3]["prediction"]), 1e-5)
    proc = cli_here("train", str(study / "best.yaml"), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["combination"]["rule"] == "pooled"
    assert report["test"]["rmse"] == pytest.approx(best["result"]["test"]["rmse"], rel=1e-4)


def test_no_combination_when_the_statistical_baselines_are_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(statistical.ENV, "0")
    spec = tiny_spec(
        data={"split": {"val": 12, "test": 24, "folds": 2}},
        search={"backend": "tpe", "trials": 1, "max_epochs": 2, "patience": None, "combine": True},
    )
    path = write_spec(tmp_path / "tiny.yaml", spec)
    assert cli_here("launch", str(path), "--results", str(tmp_path / "r")).returncode == 0
    proc = cli_here("export", str(tmp_path / "r" / "tiny"))
    assert proc.returncode == 0, proc.stderr
    line = "note: no combination: the statistical baselines are off (SEQTUNE_BASELINE_SECONDS=0)"
    assert line in proc.stdout.splitlines()
    best = yaml.safe_load((tmp_path / "r" / "tiny" / "best.yaml").read_text())
    assert best["result"]["combination"] == {"note": line.removeprefix("note: ")}
    state = json.loads((tmp_path / "r" / "tiny" / "best.state.json").read_text())
    assert state["format"] == 1 and "combination" not in state
    assert "network" not in rows_of(tmp_path / "r" / "tiny" / "predictions.csv")[0]


def test_a_study_of_an_earlier_version_exports_without_a_combination(tmp_path: Path) -> None:
    """A study launched before combinations existed exports as it did, statistical
    baselines on and the spec silent; its spec's search.combine: true asks for one."""
    spec = tiny_spec(
        data={"split": {"val": 12, "test": 24, "folds": 2}},
        search={"backend": "tpe", "trials": 1, "max_epochs": 2, "patience": None},
    )
    path = write_spec(tmp_path / "tiny.yaml", spec)
    assert cli_here("launch", str(path), "--results", str(tmp_path / "r")).returncode == 0
    study = tmp_path / "r" / "tiny"
    meta = json.loads((study / "study.json").read_text())
    (study / "study.json").write_text(json.dumps({**meta, "seqtune": "0.4.0"}))
    proc = cli_here("export", str(study))
    assert proc.returncode == 0, proc.stderr
    best = yaml.safe_load((study / "best.yaml").read_text())
    assert "combination" not in best["result"] and "forecast:" not in proc.stdout
    assert "auto_ets" in best["result"]["baselines"]  # the baselines were on
    assert json.loads((study / "best.state.json").read_text())["format"] == 1
    # made by 0.5.0: combined with that version's default, average, not 0.5.1's pooled
    (study / "study.json").write_text(json.dumps({**meta, "seqtune": "0.5.0"}))
    proc = cli_here("export", str(study))
    assert proc.returncode == 0, proc.stderr
    combo = yaml.safe_load((study / "best.yaml").read_text())["result"]["combination"]
    assert combo["rule"] == "average" and len(combo["members"]) == 2


def test_members_of_a_long_series_are_fitted_on_its_last_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past :data:`statistical.FIT_MAX_ROWS` rows the members are fitted on the last ones
    (here 60 of the 120 before the test part): best.state.json keeps those rows and where
    they start, and predict from the whole file reads them from the first fitted row on,
    giving predictions.csv's forecast (in process: the cap is lowered for this test)."""
    monkeypatch.setattr(statistical, "FIT_MAX_ROWS", 60)
    spec = tiny_spec(
        data={"split": {"val": 12, "test": 24, "folds": 3}},
        search={"backend": "tpe", "max_epochs": 2, "trials": 1, "combine": "pooled"},
    )
    path = write_spec(tmp_path / "tiny.yaml", spec)
    seqtune.launch(path, results=tmp_path / "results")
    study = seqtune.load_study(tmp_path / "results" / "tiny")
    best_yaml = study.export()
    state = json.loads((best_yaml.parent / "best.state.json").read_text())["combination"]
    assert state["start"] == 60 and len(state["history"]) == len(state["labels"]) == 60
    test_rows = [r for r in rows_of(best_yaml.parent / "predictions.csv") if r["part"] == "test"]
    origin = int(test_rows[4]["origin"])
    frame = pd.read_csv(AIRLINE).iloc[: origin + 1]  # from row 0: before the fitted rows
    got = seqtune.load(best_yaml).predict(frame)
    assert got["prediction"].iloc[0] == pytest.approx(float(test_rows[4]["prediction"]), 1e-5)
