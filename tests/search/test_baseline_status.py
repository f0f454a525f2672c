"""``seqtune status`` shows the validation-side baselines beside the trials: on the rows the
trials are scored on, with the best trial's framing, a warning when they win, and never a
look at the test part."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import AIRLINE, cli_here, tiny_spec, write_spec
from test_backends_shared import FormulaRunner

import seqtune.models.baselines as baselines_module
from seqtune.cli import format_status
from seqtune.spec import Spec
from seqtune.study.baselines import (
    format_baselines,
    not_beaten,
    status_baselines,
    validation_baselines,
)
from seqtune.study.lifecycle import Study, prepare

HOLDOUT = {"val": 0.13, "test": 0.33}
FOLDS = {"val": 12, "test": 48, "folds": 3}
SPACE = {
    "transform": {"choice": ["none", "seasonal_diff"]},
    "look_back": {"int": [2, 13]},
    "batch_size": {"choice": [16, 32]},
}
#: the fields `status --json` had before the baselines: scripts rely on them
STATUS_FIELDS = {
    "study",
    "path",
    "backend",
    "objective",
    "budget",
    "finished",
    "trials",
    "best",
    "trial_records",
    "running_by",
}


def poisoned_copy(table: Any, folder: Path) -> Path:
    """A copy of the airline CSV whose every test row (of ``table``'s split) holds a wild
    value: what nothing fitted during the search may see."""
    frame = pd.read_csv(AIRLINE)
    start = table.bounds["test"][0]
    frame.loc[start:, "Passengers"] = np.linspace(1e5, 1e6, len(frame) - start).round()
    poisoned = folder / "poisoned.csv"
    frame.to_csv(poisoned, index=False)
    return poisoned


def spec_on(csv: Path, split: dict[str, Any], folder: Path, trials: int = 3) -> Spec:
    raw = tiny_spec(space=SPACE, search={"backend": "tpe", "trials": trials, "max_epochs": 2})
    raw["data"] = {**raw["data"], "csv": str(csv), "split": dict(split)}
    return Spec.from_dict(raw, folder, folder / "spec.yaml")


class ValueRunner(FormulaRunner):
    """The shared suite's stand-in runner, every trial scoring ``value``."""

    def __init__(self, value: float) -> None:
        super().__init__("minimize")
        self.value = value

    def value_of(self, values: dict[str, Any]) -> float:
        return self.value


def finished(tmp_path: Path, split: dict[str, Any], value: float) -> Path:
    """A finished study (trials scored ``value``, no training) on its own copy of the CSV."""
    data = tmp_path / "airline.csv"
    shutil.copy(AIRLINE, data)
    study, _ = Study.launch(spec_on(data, split, tmp_path), tmp_path / "results")
    study.run(ValueRunner(value))  # type: ignore[arg-type]
    study.close()
    assert study.path is not None
    return study.path


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, list[str]]]:
    """Every (windows, parts) the baselines are scored on."""
    seen: list[tuple[Any, list[str]]] = []
    original = baselines_module.score_baselines

    def recording(windows: Any, metric: Any, parts: Any = ("val", "test"), **kw: Any) -> Any:
        seen.append((windows, list(parts)))
        return original(windows, metric, parts, **kw)

    monkeypatch.setattr(baselines_module, "score_baselines", recording)
    return seen


# -- the rows they are scored on ---------------------------------------------------------------


@pytest.mark.parametrize("split", [HOLDOUT, FOLDS], ids=["holdout", "folds"])
def test_only_training_and_validation_windows_reach_the_baselines(
    split: dict[str, Any], spy: list[tuple[Any, list[str]]]
) -> None:
    table, runner = prepare(spec_on(AIRLINE, split, Path(".")))
    found = validation_baselines(runner, {"look_back": 12, "transform": "seasonal_diff"})
    assert {"persistence", "seasonal_naive", "mean", "ridge"} == set(found)
    assert all(set(parts) == {"val"} for parts in found.values())
    first_test_row = table.bounds["test"][0]
    assert len(spy) == (3 if split is FOLDS else 1)
    for windows, parts in spy:
        assert parts == ["val"]
        assert len(windows.part("test")[0]) == 0 and windows.target_rows("test").size == 0
        assert len(windows.part("val")[0]) > 0
        # the series itself stops after the last validation target: no test row to read
        assert windows.target_values.size == int(windows.target_rows("val")[-1]) + 1
        assert windows.target_values.size <= first_test_row


@pytest.mark.parametrize("split", [HOLDOUT, FOLDS], ids=["holdout", "folds"])
def test_the_test_rows_do_not_change_them(split: dict[str, Any], tmp_path: Path) -> None:
    """The same baselines when every test row of the CSV is replaced by a wild value."""
    table, runner = prepare(spec_on(AIRLINE, split, Path(".")))
    values = {"look_back": 13, "transform": "seasonal_diff"}
    clean = validation_baselines(runner, values)
    poisoned = poisoned_copy(table, tmp_path)
    _, runner2 = prepare(spec_on(poisoned, split, Path(".")))
    assert validation_baselines(runner2, values) == clean


def test_the_holdout_view_scores_what_the_trials_windows_score() -> None:
    """Dropping the test part changes no number: the view scores the trial's own windows."""
    _, runner = prepare(spec_on(AIRLINE, HOLDOUT, Path(".")))
    values = {"look_back": 12, "transform": "seasonal_diff", "batch_size": 16}
    metric = runner.metrics(16)["val_rmse"]
    full = baselines_module.score_baselines(runner.windows(values), metric, ["val"])
    assert validation_baselines(runner, values) == full


# -- the warning and the lines ------------------------------------------------------------------


def test_the_warning_names_the_best_baseline_on_the_validation_part() -> None:
    spec = spec_on(AIRLINE, HOLDOUT, Path("."))
    found = {"persistence": {"val": 30.0}, "ridge": {"val": 14.3}}
    assert not_beaten(spec.objective, "val_rmse", 13.0, found, "val", "the best trial") is None
    assert not_beaten(spec.objective, "val_rmse", 15.0, found, "val", "the best trial") == (
        "the best trial does not beat the ridge baseline on the validation part "
        "(val_rmse 15 vs 14.3)"
    )
    assert not_beaten(spec.objective, "val_rmse", 15.0, {}, "val") is None


def test_the_lines_say_none_without_a_complete_trial_and_why_when_not_computed() -> None:
    assert format_baselines(None) == ["baselines: none (no complete trial yet)"]
    assert format_baselines({"reason": "data.csv: changed"}) == [
        "baselines: not computed (data.csv: changed)"
    ]
    info = {
        "trial": 3,
        "look_back": 12,
        "transform": "seasonal_diff",
        "folds": 4,
        "scores": {"seasonal_naive": {"val": 41.85}, "ridge": {"val": 14.3}},
        "warning": "the best trial does not beat the ridge baseline on the validation part",
    }
    assert format_baselines(info) == [
        "baselines on the validation part (trial 3's framing: look_back 12, transform "
        "seasonal_diff, mean over 4 folds): seasonal naive 41.85, ridge 14.3",
        "warning: the best trial does not beat the ridge baseline on the validation part",
    ]


def test_a_study_without_a_complete_trial_has_none(tmp_path: Path) -> None:
    data = tmp_path / "airline.csv"
    shutil.copy(AIRLINE, data)
    study, _ = Study.launch(spec_on(data, HOLDOUT, tmp_path), tmp_path / "results")
    try:
        status = study.status()
        assert status_baselines(study, status["best"]) is None
        status["baselines"] = None
        assert format_status(status).endswith(
            "best: none yet\nbaselines: none (no complete trial yet)"
        )
    finally:
        study.close()


# -- through the command ------------------------------------------------------------------------


@pytest.mark.parametrize("split", [HOLDOUT, FOLDS], ids=["holdout", "folds"])
def test_status_prints_them_and_json_adds_the_field(
    split: dict[str, Any], tmp_path: Path, spy: list[tuple[Any, list[str]]]
) -> None:
    path = finished(tmp_path, split, value=1e4)  # every trial worse than any baseline
    out = cli_here("status", str(path))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    line = next(x for x in lines if x.startswith("baselines on the validation part (trial "))
    assert "persistence " in line and "seasonal naive " in line and "ridge " in line
    assert ("mean over 3 folds" in line) == (split is FOLDS)
    assert lines[-1].startswith("warning: the best trial does not beat the ")
    assert "baseline on the validation part (val_rmse 10000 vs " in lines[-1], lines[-1]
    # the command, too, gave the baselines nothing but training and validation windows
    assert spy and all(p == ["val"] and len(w.part("test")[0]) == 0 for w, p in spy)

    data = json.loads(cli_here("status", "--json", str(path)).stdout)
    assert set(data) >= STATUS_FIELDS  # nothing renamed
    found = data["baselines"]
    best = data["best"]
    assert found["part"] == "val" and found["trial"] == best["number"]
    assert found["look_back"] == best["params"]["look_back"]
    assert found["transform"] == best["params"]["transform"]
    assert found["folds"] == (3 if split is FOLDS else 1)
    assert set(found["scores"]) == {"persistence", "seasonal_naive", "mean", "ridge"}
    assert found["best"] == min(found["scores"], key=lambda b: found["scores"][b]["val"])
    assert found["warning"] == lines[-1].removeprefix("warning: ")
    assert found["reason"] is None


def test_no_warning_when_the_best_trial_wins(tmp_path: Path) -> None:
    path = finished(tmp_path, HOLDOUT, value=0.5)
    out = cli_here("status", str(path))
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1].startswith("baselines on the validation part")
    assert "warning" not in out.stdout


def test_status_still_shows_the_trials_when_the_data_changed(tmp_path: Path) -> None:
    path = finished(tmp_path, HOLDOUT, value=1e4)
    with (tmp_path / "airline.csv").open("a") as csv:
        csv.write("1961-01,500\n")
    out = cli_here("status", str(path))
    assert out.returncode == 0, out.stderr
    assert "best: trial " in out.stdout
    assert out.stdout.splitlines()[-1].startswith("baselines: not computed (")
    assert "changed since the study was launched" in out.stdout
    data = json.loads(cli_here("status", "--json", str(path)).stdout)
    assert data["baselines"]["scores"] == {} and "changed" in data["baselines"]["reason"]


@pytest.mark.slow
def test_status_shows_the_validation_baselines_export_writes(tmp_path: Path) -> None:
    """A real folds study: status's baselines are best.yaml's validation column."""
    raw = tiny_spec(search={"backend": "tpe", "trials": 2, "max_epochs": 2, "patience": 2})
    raw["data"]["split"] = dict(FOLDS)
    spec = write_spec(tmp_path / "s.yaml", raw)
    results = tmp_path / "r"
    assert cli_here("launch", str(spec), "--results", str(results)).returncode == 0
    status = cli_here("status", "--json", str(results / "tiny"))
    assert status.returncode == 0, status.stderr
    found = json.loads(status.stdout)["baselines"]
    exported = cli_here("export", str(results / "tiny"))
    assert exported.returncode == 0, exported.stderr
    best = yaml.safe_load((results / "tiny" / "best.yaml").read_text())["result"]
    assert {name: {"val": p["val"]} for name, p in best["baselines"].items()} == found["scores"]


@pytest.mark.parametrize("method", ["chronological", "stratified"])
def test_classify_views_score_what_the_trials_windows_score(
    method: str, tmp_path: Path, spy: list[tuple[Any, list[str]]]
) -> None:
    import warnings

    from seqtune.datasets import write_drone_deauth

    csv = write_drone_deauth(tmp_path / "deauth.csv", n_rows=1500, seed=3)
    raw = yaml.safe_load((AIRLINE.parents[1] / "examples" / "deauth_lstm_tpe.yaml").read_text())
    raw["data"]["csv"] = str(csv)
    raw["data"]["split"]["method"] = method
    spec = Spec.from_dict(raw, tmp_path, tmp_path / "spec.yaml")
    values = {"look_back": 3, "batch_size": 32}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the stratified split's leak warning
        _, runner = prepare(spec)
        found = validation_baselines(runner, values)
        full = runner.windows(values)
    assert set(found) == {"majority", "always_positive", "logistic", "gradient_boosting"}
    (view, parts), *_ = spy
    assert parts == ["val"] and len(view.part("test")[0]) == 0 and len(full.part("test")[0]) > 0
    metric = runner.metrics(32)[spec.objective.name]
    assert found == baselines_module.score_baselines(full, metric, ["val"])


def test_a_new_status_process_reads_the_kept_scores_instead_of_fitting_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import seqtune.study.baselines as kept

    path = finished(tmp_path, HOLDOUT, value=1e4)
    first = json.loads(cli_here("status", "--json", str(path)).stdout)["baselines"]["scores"]
    assert (path / kept.NAIVE_CACHE_FILE).is_file()
    kept._CACHE.clear()  # as a new process starts

    def no_fit(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("fitted again")

    monkeypatch.setattr(kept, "validation_baselines", no_fit)
    again = json.loads(cli_here("status", "--json", str(path)).stdout)["baselines"]
    assert again["reason"] is None and again["scores"] == first
