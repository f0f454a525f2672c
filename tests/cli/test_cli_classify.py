"""Sequence classification end to end on the shipped drone de-authentication generator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, cli_here

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def deauth_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "deauth.csv"
    made = cli_here("datasets", "drone-deauth", "-o", str(path), "--rows", "3000", "--seed", "3")
    assert made.returncode == 0, made.stderr
    return path


def deauth_spec(tmp_path: Path, csv: Path, backend: str) -> Path:
    spec = yaml.safe_load((ROOT / "examples" / "deauth_lstm_tpe.yaml").read_text())
    spec["data"]["csv"] = str(csv)
    spec["space"].update(
        look_back={"int": [2, 6]},
        units={"int": [8, 16], "step": 8},
        num_hidden_layers={"int": [1, 2]},
        dense_units={"int": [8, 16], "step": 8, "per": "num_hidden_layers"},
        learning_rate=0.003,
    )
    spec["search"] = {"backend": backend, "trials": 2, "max_epochs": 3, "patience": 2}
    path = tmp_path / "deauth.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


@pytest.mark.parametrize("backend", ["tpe", "hyperband"])
def test_classify_study_reports_whole_set_f1_and_the_confusion_matrix(
    tmp_path: Path, deauth_csv: Path, backend: str
) -> None:
    spec = deauth_spec(tmp_path, deauth_csv, backend)
    results = tmp_path / "results"
    run = cli_here("launch", str(spec), "--results", str(results))
    assert run.returncode == 0, run.stderr
    study = results / "deauth-lstm-tpe"
    status = json.loads(cli_here("status", "--json", str(study)).stdout)
    assert status["objective"] == {"name": "val_f1", "direction": "maximize"}
    best = status["best"]
    assert 0.0 <= best["value"] <= 1.0
    record = next(r for r in status["trial_records"] if r["number"] == best["number"])
    # every classification metric is logged beside the objective, batch F1 included
    assert {"val_f1", "val_batch_f1", "val_precision", "val_recall", "val_pr_auc"} <= set(
        record["metrics"]
    )
    # the window baselines beside the trials: logistic and gradient boosting, validation only
    scores = status["baselines"]["scores"]
    assert {"logistic", "gradient_boosting"} <= set(scores)
    assert set(scores["gradient_boosting"]) == {"val"}
    exported = cli_here("export", str(study))
    assert exported.returncode == 0, exported.stderr
    assert "gradient boosting" in exported.stdout
    result = yaml.safe_load((study / "best.yaml").read_text())["result"]
    boosted = result["baselines"]["gradient_boosting"]
    assert boosted["val"] == scores["gradient_boosting"]["val"] and 0.0 <= boosted["test"] <= 1.0
    test = result["test"]
    assert {"f1", "precision", "recall", "accuracy", "confusion_matrix"} <= set(test)
    cm = test["confusion_matrix"]
    assert len(cm) == 2 and all(len(row) == 2 for row in cm)
    tp, fp, fn = cm[1][1], cm[0][1], cm[1][0]
    assert test["f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn), abs=1e-9)
    trained = cli_here("train", str(study / "best.yaml"), "--json")
    assert trained.returncode == 0, trained.stderr
    assert "f1" in json.loads(trained.stdout)["test"]


def test_classify_on_folds_with_repeats_and_an_ensemble(tmp_path: Path, deauth_csv: Path) -> None:
    """Folds × repeats on classification: a fold scores the repeats' mean probabilities,
    export saves one averaged model (probabilities, so it still sums to one), train
    reproduces it."""
    spec_path = deauth_spec(tmp_path, deauth_csv, "tpe")
    spec = yaml.safe_load(spec_path.read_text())
    spec["data"]["split"] = {"val": 300, "test": 600, "folds": 2}
    spec["search"].update(repeats=2, ensemble=2)
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))
    results = tmp_path / "results"
    run = cli_here("launch", str(spec_path), "--results", str(results))
    assert run.returncode == 0, run.stderr
    study = results / "deauth-lstm-tpe"
    status = json.loads(cli_here("status", "--json", str(study)).stdout)
    best = next(r for r in status["trial_records"] if r["number"] == status["best"]["number"])
    assert {"val_f1_fold0", "val_f1_fold1", "val_f1_sd"} <= set(best["metrics"])
    exported = cli_here("export", str(study))
    assert exported.returncode == 0, exported.stderr
    result = yaml.safe_load((study / "best.yaml").read_text())["result"]
    assert result["ensemble"] == 2 and 0.0 <= result["test"]["f1"] <= 1.0
    trained = json.loads(cli_here("train", str(study / "best.yaml"), "--json").stdout)
    assert trained["reproduced"]["within_tolerance"]
    assert trained["test"]["f1"] == pytest.approx(result["test"]["f1"], abs=1e-6)
