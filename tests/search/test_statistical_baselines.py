"""AutoETS, AutoTheta and AutoARIMA beside the naive baselines: on the validation rows the
trials are scored on (never the test part), cached in the study folder for ``status``, shown
with their seconds, and on the test part in ``best.yaml``'s ``result.baselines``."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import AIRLINE, cli_here, tiny_spec, write_spec
from test_baseline_status import FOLDS, HOLDOUT, finished, poisoned_copy, spec_on

import seqtune.study.baselines as study_baselines
from seqtune.exported.export import baseline_warning
from seqtune.models import statistical
from seqtune.study.baselines import (
    CACHE_FILE,
    FITS_FILE,
    cached_statistical,
    format_baselines,
    statistical_validation,
)
from seqtune.study.lifecycle import Study, prepare

NAMES = set(statistical.STATISTICAL)
VALUES = {"look_back": 13, "transform": "seasonal_diff", "batch_size": 16}


@pytest.fixture(autouse=True)
def on(monkeypatch: pytest.MonkeyPatch) -> None:
    """On (the suite turns them off), without seasonal ETS and ARIMA models and with ARIMA
    orders up to 1 (the dear ones: tests/models/test_models_statistical.py fits those), and
    a time limit no search reaches, so that every fit is the same; no process cache."""
    monkeypatch.setenv(statistical.ENV, "120")
    monkeypatch.setattr(statistical, "ETS_MAX_PERIOD", 0)
    monkeypatch.setattr(statistical, "ARIMA_MAX_PERIOD", 0)
    monkeypatch.setattr(statistical, "ARIMA_MAX_ORDER", 1)
    monkeypatch.setattr(study_baselines, "_STAT_CACHE", {})


@pytest.mark.parametrize("split", [HOLDOUT, FOLDS], ids=["holdout", "folds"])
def test_the_test_rows_do_not_change_them(split: dict[str, Any], tmp_path: Path) -> None:
    """The same validation scores when every test row of the CSV is replaced by a wild
    value: the models are fitted and filtered on rows before the test part only."""
    table, runner = prepare(spec_on(AIRLINE, split, Path(".")))
    clean = statistical_validation(runner, VALUES)
    assert set(clean.scores) == NAMES
    assert all(set(p) == {"val", "seconds"} for p in clean.scores.values())
    assert {len(m) for m in clean.models.values()} == {3 if split is FOLDS else 1}
    poisoned = poisoned_copy(table, tmp_path)
    _, runner2 = prepare(spec_on(poisoned, split, Path(".")))
    wild = statistical_validation(runner2, VALUES)
    assert {n: p["val"] for n, p in wild.scores.items()} == {
        n: p["val"] for n, p in clean.scores.items()
    }
    assert wild.models == clean.models


def test_over_a_horizon_each_origin_forecasts_its_steps(tmp_path: Path) -> None:
    """data.horizon 3: the score is the objective of (n, 3) forecasts from each validation
    origin, the same as scoring the filtered forecasts by hand; the test rows still unread."""
    spec = spec_on(AIRLINE, FOLDS, Path("."))
    raw = spec.to_dict()
    raw["data"]["horizon"] = 3
    horizon_spec = type(spec).from_dict(raw, Path("."), Path("spec.yaml"))
    _, runner = prepare(horizon_spec)
    got = statistical_validation(runner, VALUES)
    assert set(got.scores) == NAMES
    from seqtune.study.baselines import objective_metric, validation_windows

    metric = objective_metric(runner, VALUES)
    by_hand = []
    for w in validation_windows(runner, VALUES):
        rows = w.target_rows("val")
        stop = int(w.target_rows("train")[-1]) + 3
        fitted = statistical.fit("auto_theta", w.target_values[:stop], 12)
        pred = fitted.forecasts(w.target_values, rows, 3)
        assert pred.shape == (rows.size, 3) == w.truth("val").shape
        by_hand.append(metric(w.truth("val"), pred))
    assert got.scores["auto_theta"]["val"] == pytest.approx(float(np.mean(by_hand)))
    frame = pd.read_csv(AIRLINE)
    frame.loc[runner.table.bounds["test"][0] :, "Passengers"] = 1e6
    frame.to_csv(tmp_path / "poisoned.csv", index=False)
    raw["data"]["csv"] = str(tmp_path / "poisoned.csv")
    _, poisoned = prepare(type(spec).from_dict(raw, Path("."), Path("spec.yaml")))
    wild = statistical_validation(poisoned, VALUES)
    assert {n: p["val"] for n, p in wild.scores.items()} == {
        n: p["val"] for n, p in got.scores.items()
    }


def test_they_do_not_depend_on_the_trials_framing() -> None:
    """Fitted on the target in original units, not on the trial's windows."""
    _, runner = prepare(spec_on(AIRLINE, FOLDS, Path(".")))
    a = statistical_validation(runner, VALUES)
    b = statistical_validation(runner, {**VALUES, "look_back": 2, "transform": "none"})
    assert {n: p["val"] for n, p in a.scores.items()} == {n: p["val"] for n, p in b.scores.items()}


def test_status_fits_them_once_and_keeps_them_in_the_study_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = finished(tmp_path, FOLDS, value=1e4)
    study = Study.open(path)
    try:
        _, runner = study.prepare()
        first = cached_statistical(runner, VALUES, path)
        cache = path / CACHE_FILE
        assert cache.is_file() and not list(path.glob(f".{CACHE_FILE}.*"))  # no stage left
        assert json.loads(cache.read_text())["scores"]["scores"].keys() == NAMES

        def refit(*_: Any, **__: Any) -> Any:
            raise AssertionError("refitted instead of read from the cache")

        monkeypatch.setattr(study_baselines, "statistical_scores", refit)
        monkeypatch.setattr(study_baselines, "_STAT_CACHE", {})  # a new process: the file
        again = cached_statistical(runner, VALUES, path)
        assert again.scores == study_baselines.rounded(first.scores)
        assert again.models == first.models
        # other target values (a fold's rows changed), another time limit, split,
        # objective or seqtune version: another key
        changed = study_baselines.validation_windows(runner, VALUES)
        other = changed[0].target_values.copy()  # a view of the table's own series
        other[5] += 1.0
        changed[0] = dataclasses.replace(changed[0], target_values=other)
        monkeypatch.setattr(study_baselines, "validation_windows", lambda *_: changed)
        with pytest.raises(AssertionError, match="refitted"):
            cached_statistical(runner, VALUES, path)
        monkeypatch.undo()
        monkeypatch.setenv(statistical.ENV, "120")
        monkeypatch.setattr(statistical, "ETS_MAX_PERIOD", 0)
        monkeypatch.setattr(statistical, "ARIMA_MAX_PERIOD", 0)
        monkeypatch.setattr(statistical, "ARIMA_MAX_ORDER", 1)
        monkeypatch.setattr(study_baselines, "statistical_scores", refit)
        monkeypatch.setattr(study_baselines, "_STAT_CACHE", {})
        assert cached_statistical(runner, VALUES, path).scores == again.scores
        monkeypatch.setenv(statistical.ENV, "100")
        with pytest.raises(AssertionError, match="refitted"):
            cached_statistical(runner, VALUES, path)
        monkeypatch.setenv(statistical.ENV, "120")
        monkeypatch.setattr(study_baselines, "_STAT_CACHE", {})
        cache.write_text("{not json")  # damaged: computed again, never an error
        with pytest.raises(AssertionError, match="refitted"):
            cached_statistical(runner, VALUES, path)
    finally:
        study.close()


def test_the_fits_status_made_are_rebuilt_not_searched_again_by_a_new_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """export and train (other processes) rebuild the fold fits status kept in the study
    folder instead of searching again: the same models, scores and seconds."""
    monkeypatch.setattr(statistical, "_FITS", {})
    elsewhere = statistical.fit("auto_theta", np.arange(1.0, 50.0), None)  # another study's
    path = finished(tmp_path, FOLDS, value=1e4)
    study = Study.open(path)
    try:
        _, runner = study.prepare()
        first = cached_statistical(runner, VALUES, path)
        kept = json.loads((path / FITS_FILE).read_text())["scores"]
        assert len(kept) == 3 * len(NAMES)  # three folds x three models, nothing else
        assert not any(f["state"] == elsewhere.state for f in kept.values())

        def search(*_: Any) -> Any:
            raise AssertionError("searched again instead of rebuilt from the kept fits")

        # a new process: no memory of fits or scores; the scores' file gone too
        monkeypatch.setattr(statistical, "_FITS", {})
        monkeypatch.setattr(study_baselines, "_STAT_CACHE", {})
        (path / CACHE_FILE).unlink()
        for fitter in ("_fit_ets", "_fit_theta", "_fit_arima"):
            monkeypatch.setattr(statistical, fitter, search)
        again = cached_statistical(runner, VALUES, path)
        assert again.models == first.models
        for name in NAMES:
            assert again.scores[name]["val"] == pytest.approx(first.scores[name]["val"], 1e-9)
            # the fits' own seconds, as kept (what they cost a user), plus this filtering's:
            # not the near-zero of a rebuild (how long the filtering takes is the machine's)
            searched = sum(f["seconds"] for k, f in kept.items() if k.split()[0] == name)
            assert searched > 0
            assert again.scores[name]["seconds"] >= round(searched, 3) - 0.0015
        # a damaged file, or another version's: searched again, never an error
        monkeypatch.setattr(statistical, "_FITS", {})
        monkeypatch.setattr(study_baselines, "_STAT_CACHE", {})
        (path / FITS_FILE).write_text("{not json")
        (path / CACHE_FILE).unlink()
        with pytest.raises(AssertionError, match="searched again"):
            cached_statistical(runner, VALUES, path)
    finally:
        study.close()


def test_status_json_shows_them_with_their_seconds(tmp_path: Path) -> None:
    path = finished(tmp_path, FOLDS, value=1e4)
    out = cli_here("status", str(path))
    assert out.returncode == 0, out.stderr
    line = next(x for x in out.stdout.splitlines() if x.startswith("baselines on the validation"))
    for name in ("auto ets ", "auto theta ", "auto arima "):
        assert name in line, line
    assert line.count(" s)") == 3
    data = json.loads(cli_here("status", "--json", str(path)).stdout)["baselines"]
    assert set(data["scores"]) >= NAMES
    for name in NAMES:
        assert data["scores"][name]["val"] > 0 and data["scores"][name]["seconds"] >= 0
        assert len(data["statistical"]["models"][name]) == 3  # one model per fold
    assert data["statistical"]["note"] is None and data["statistical"]["off"] is False
    assert data["best"] == min(data["scores"], key=lambda b: data["scores"][b]["val"])
    assert data["warning"].startswith("the best trial does not beat the ")
    assert (path / CACHE_FILE).is_file()


def test_off_shows_the_naive_ones_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(statistical.ENV, "0")
    path = finished(tmp_path, HOLDOUT, value=1e4)
    data = json.loads(cli_here("status", "--json", str(path)).stdout)["baselines"]
    assert set(data["scores"]) == {"persistence", "seasonal_naive", "mean", "ridge"}
    assert data["statistical"]["off"] is True
    assert not (path / CACHE_FILE).exists()


def test_a_bad_time_limit_is_one_line_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = finished(tmp_path, HOLDOUT, value=1e4)
    monkeypatch.setenv(statistical.ENV, "soon")
    out = cli_here("status", str(path))
    assert out.returncode == 0 and "Traceback" not in out.stderr + out.stdout
    assert statistical.ENV in out.stdout


def test_the_lines_show_seconds_and_a_cut_search() -> None:
    info = {
        "trial": 1,
        "look_back": 12,
        "transform": "none",
        "folds": 1,
        "scores": {"ridge": {"val": 14.3}, "auto_arima": {"val": 12.0, "seconds": 9.25}},
        "statistical": {"models": {}, "cut": ["auto_arima"], "note": None, "off": False},
    }
    assert format_baselines(info) == [
        "baselines on the validation part (trial 1's framing: look_back 12): ridge 14.3, "
        "auto arima 12 (9.2 s)",
        "note: auto arima: search stopped at its time limit (best model so far)",
    ]


def test_the_export_warning_compares_with_them(tmp_path: Path) -> None:
    spec = spec_on(AIRLINE, HOLDOUT, tmp_path)
    found = {
        "ridge": {"val": 15.0, "test": 20.0},
        "auto_arima": {"val": 11.0, "test": 14.6, "seconds": 9.0, "model": "ARIMA(1,1,0)"},
    }
    assert baseline_warning(spec, {"rmse": 14.0}, found) is None
    assert baseline_warning(spec, {"rmse": 15.0}, found) == (
        "the model does not beat the auto arima baseline on the test part (rmse 15 vs 14.6)"
    )


@pytest.mark.slow
def test_export_writes_them_with_their_test_scores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = tiny_spec(search={"backend": "tpe", "trials": 1, "max_epochs": 2, "patience": 2})
    raw["data"]["split"] = dict(FOLDS)
    shutil.copy(AIRLINE, tmp_path / "airline.csv")
    raw["data"]["csv"] = str(tmp_path / "airline.csv")
    spec = write_spec(tmp_path / "s.yaml", raw)
    results = tmp_path / "r"
    assert cli_here("launch", str(spec), "--results", str(results)).returncode == 0
    status = json.loads(cli_here("status", "--json", str(results / "tiny")).stdout)["baselines"]
    searched: list[str] = []
    monkeypatch.setattr(study_baselines, "_STAT_CACHE", {})  # the folder's files, not memory

    def counted(fitter: str) -> Any:
        original = getattr(statistical, fitter)

        def search(*args: Any) -> Any:
            searched.append(fitter)
            return original(*args)

        return search

    for fitter in ("_fit_ets", "_fit_theta", "_fit_arima"):
        monkeypatch.setattr(statistical, fitter, counted(fitter))
    monkeypatch.setattr(statistical, "_FITS", {})  # a new process
    out = cli_here("export", str(results / "tiny"))
    assert out.returncode == 0, out.stderr
    # searched: each model once, on the rows before the test part; the combination's fold
    # fits are rebuilt from those status kept in the folder (FITS_FILE), not searched again
    assert sorted(searched) == ["_fit_arima", "_fit_ets", "_fit_theta"]
    fitted = {key.split()[0] for key in statistical._FITS}
    assert len(statistical._FITS) == len(NAMES) * (1 + FOLDS["folds"]) and fitted == NAMES
    assert "forecast: 0.50 × network + 0.17 × " in out.stdout  # pooled: a sixth each
    assert "auto arima " in next(x for x in out.stdout.splitlines() if x.startswith("baselines"))
    best = yaml.safe_load((results / "tiny" / "best.yaml").read_text())["result"]
    for name in NAMES:
        found = best["baselines"][name]
        assert set(found) == {"val", "test", "seconds", "model"}
        assert found["test"] > 0 and found["seconds"] > 0
        # the validation column is status's (the fits are deterministic)
        assert found["val"] == pytest.approx(status["scores"][name]["val"], rel=1e-9)
    # the report's baseline table: best.yaml's result.baselines with seconds and models
    assert cli_here("report", str(results / "tiny")).returncode == 0
    page = (results / "tiny" / "report.html").read_text()
    assert "<th>seconds</th><th>model</th>" in page
    for name in NAMES:
        row = page.split(f"<tr><td>{name.replace('_', ' ')}</td>")[1].split("</tr>")[0]
        assert f"{best['baselines'][name]['test']:.4f}" in row
        assert best["baselines"][name]["model"].split("(")[0] in row
