"""A trial on rolling-origin folds: one model per fold, the value is the folds' mean, each
fold's value is kept; export and train refit on every row before the test part."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import run_cli, tiny_spec, write_spec

from seqtune.errors import UserError
from seqtune.spec import Spec
from seqtune.study.lifecycle import prepare

FOLDS = {"val": 12, "test": 0.33, "folds": 3}


def folds_spec(**search: object) -> Spec:
    raw = tiny_spec(search={"max_epochs": 3, "patience": 2, **search})
    raw["data"]["split"] = dict(FOLDS)
    return Spec.from_dict(raw, Path("."), Path("spec.yaml"))


def test_the_trial_value_is_the_mean_of_the_folds_and_each_is_kept() -> None:
    _, runner = prepare(folds_spec())
    reported: list[tuple[int, float]] = []
    values = {"look_back": 2, "transform": "seasonal_diff", "units": 4}
    outcome = runner.run(values, 3, report=lambda e, v: reported.append((e, v)) or False)
    per = [outcome.metrics[f"val_rmse_fold{i}"] for i in range(3)]
    assert outcome.value == pytest.approx(np.mean(per))
    assert outcome.metrics["val_rmse_sd"] == pytest.approx(np.std(per))
    assert [e for e, _ in reported] == list(range(outcome.epochs_run))
    assert reported[outcome.best_epoch][1] == pytest.approx(outcome.value)  # the mean is told
    again = runner.run(values, 3)
    assert again.value == outcome.value  # seeded: the same trial twice


def test_the_refit_trains_on_every_row_before_the_test_part() -> None:
    table, runner = prepare(folds_spec())
    outcome = runner.refit({"look_back": 2}, 3, epochs=2)
    assert outcome.epochs_run == 2
    plan = table.fold_plan
    x_train, _ = outcome.windows.part("train")
    x_last, _ = table.fold_windows(len(plan) - 1, 2).part("train")
    assert len(x_train) > len(x_last)  # more rows than any fold trained on
    assert len(outcome.windows.part("val")[0]) == 0
    assert len(outcome.windows.part("test")[0]) > 0


def test_folds_are_refused_under_hyperband() -> None:
    with pytest.raises(UserError) as caught:
        folds_spec(backend="hyperband")
    assert caught.value.field == "data.split.folds"


@pytest.mark.slow
def test_a_folds_study_exports_a_refit_that_train_reproduces(tmp_path: Path) -> None:
    raw = tiny_spec(search={"backend": "tpe", "trials": 2, "max_epochs": 3, "patience": 2})
    raw["data"]["split"] = dict(FOLDS)
    spec = write_spec(tmp_path / "s.yaml", raw)
    results = tmp_path / "r"
    assert run_cli("launch", str(spec), "--results", str(results)).returncode == 0
    status = run_cli("status", str(results / "tiny"))
    assert " over 3 folds (" in status.stdout, status.stdout
    exported = run_cli("export", str(results / "tiny"))
    assert exported.returncode == 0, exported.stderr
    assert "baselines (val / test): persistence " in exported.stdout
    best = yaml.safe_load((results / "tiny" / "best.yaml").read_text())
    assert {"val_rmse_fold0", "val_rmse_fold2", "val_rmse_sd"} <= set(best["result"]["val"])
    trained = run_cli("train", str(results / "tiny" / "best.yaml"), "--json")
    assert trained.returncode == 0, trained.stderr
    import json

    report = json.loads(trained.stdout)
    assert report["reproduced"]["within_tolerance"]
    assert report["test"] == pytest.approx(best["result"]["test"], rel=1e-6)
    assert report["baselines"] == best["result"]["baselines"]


def test_export_and_train_carry_the_baselines_and_warn_when_they_win(tmp_path: Path) -> None:
    from seqtune.exported.export import baseline_warning

    spec = folds_spec()
    found = {"persistence": {"val": 30.0, "test": 48.0}, "ridge": {"val": 20.0, "test": 14.3}}
    assert baseline_warning(spec, {"rmse": 13.0}, found) is None
    line = baseline_warning(spec, {"rmse": 18.15}, found)
    assert line == (
        "the model does not beat the ridge baseline on the test part (rmse 18.15 vs 14.3)"
    )
    # a maximised objective: the larger wins
    raw = tiny_spec()
    raw["objective"] = {"name": "userobj:score", "direction": "maximize"}
    (tmp_path / "userobj.py").write_text("def score(y, p):\n    return 0.0\n")
    maxi = Spec.from_dict(raw, tmp_path, tmp_path / "s.yaml")
    assert baseline_warning(maxi, {"score": 0.9}, {"mean": {"test": 0.5}}) is None
    assert baseline_warning(maxi, {"score": 0.4}, {"mean": {"test": 0.5}}) is not None


def test_baselines_are_scored_on_the_same_rows_as_the_model() -> None:
    from seqtune.exported.export import baselines

    table, runner = prepare(folds_spec())
    refit = runner.refit({"look_back": 12}, 1, epochs=1)
    found = baselines(runner, {"look_back": 12}, refit.windows)
    assert {"persistence", "seasonal_naive", "mean", "ridge"} <= set(found)
    # on the airline series the seasonal naive forecast beats the training mean
    assert found["seasonal_naive"]["test"] < found["mean"]["test"]
    assert all({"val", "test"} <= set(parts) for parts in found.values())


def test_export_says_in_one_line_when_no_model_beats_persistence_or_the_mean() -> None:
    from seqtune.exported.export import baseline_warning

    spec = folds_spec()
    found = {
        "persistence": {"val": 30.0, "test": 10.0},
        "mean": {"val": 40.0, "test": 50.0},
        "ridge": {"val": 20.0, "test": 11.0},
        "auto_ets": {"val": 25.0, "test": 10.5, "seconds": 1.0},
    }
    line = baseline_warning(spec, {"rmse": 12.0}, found)
    assert line == (
        "no model beats repeating the last value on the test part (rmse: the model 12, "
        "persistence 10): this series gave nothing more to forecast"
    )
    found["mean"]["test"] = 9.0
    line = baseline_warning(spec, {"rmse": 12.0}, found)
    assert line is not None and line.startswith("no model beats the training mean ")
    # the model beats them: no line; another model beats them: the usual warning
    assert baseline_warning(spec, {"rmse": 8.0}, found) is None
    found["auto_ets"]["test"] = 7.0
    assert baseline_warning(spec, {"rmse": 8.0}, found) == (
        "the model does not beat the auto ets baseline on the test part (rmse 8 vs 7)"
    )
