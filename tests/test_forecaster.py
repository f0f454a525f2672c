"""One exported model, one test figure, everywhere; and a forecaster that travels alone.

For a holdout model, an ensemble on the holdout, folds, and folds with repeats and an
ensemble: best.yaml's ``result.test``, predictions.csv, the report's evaluation and the
Python API give the same RMSE; copied to a folder holding nothing else, the export
forecasts from recent rows what predictions.csv says it forecast from the same origin, on
the CLI and in Python, with the intervals ``result.intervals`` describes.
"""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import AIRLINE, cli_here

import seqtune

CONFIGS: dict[str, dict[str, Any]] = {
    "holdout": {"split": {"val": 12, "test": 24}, "search": {}},
    "holdout-ensemble": {"split": {"val": 12, "test": 24}, "search": {"ensemble": 2}},
    "folds": {"split": {"val": 12, "test": 24, "folds": 2}, "search": {}},
    "folds-repeats-ensemble": {
        "split": {"val": 12, "test": 24, "folds": 2},
        "search": {"repeats": 2, "ensemble": 2},
    },
}


def spec_of(name: str, csv_path: Path) -> dict[str, Any]:
    config = CONFIGS[name]
    return {
        "study": name,
        "seed": 3,
        "data": {
            "csv": str(csv_path),
            "target": "Passengers",
            "time": "Date",
            "split": config["split"],
            "scaler": "minmax",
            "period": 12,
        },
        "model": {"kind": "mlp", "layout": "window"},
        "space": {
            "transform": "log_diff",
            "look_back": 6,
            "dense_units": 8,
            "learning_rate": 0.01,
            "batch_size": 16,
        },
        "objective": "val_rmse",
        "search": {"backend": "tpe", "trials": 1, "max_epochs": 4, "patience": None}
        | config["search"],
    }


def rmse(rows: list[dict[str, str]]) -> float:
    errors = [float(r["actual"]) - float(r["prediction"]) for r in rows]
    return float(np.sqrt(np.mean(np.square(errors))))


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CONFIGS))
def test_one_model_one_test_figure_and_a_forecaster_that_travels(tmp_path: Path, name: str) -> None:
    data = tmp_path / "airline.csv"
    shutil.copy(AIRLINE, data)
    study = seqtune.launch(spec_of(name, data), results=tmp_path / "results")
    best_yaml = study.export()
    result = yaml.safe_load(best_yaml.read_text())["result"]
    test = result["test"]

    # predictions.csv
    with (best_yaml.parent / "predictions.csv").open() as f:
        preds = list(csv.DictReader(f))
    tested = [r for r in preds if r["part"] == "test"]
    assert len(tested) == 24
    assert rmse(tested) == pytest.approx(test["rmse"], rel=1e-6)

    # the report's evaluation of best.keras
    from seqtune.report.evaluation import evaluate_export
    from seqtune.report.source import read_study

    ev = evaluate_export(read_study(best_yaml.parent))
    assert ev.metrics["model"]["rmse"] == pytest.approx(test["rmse"], rel=1e-5)  # type: ignore[union-attr]
    # the intervals it draws cover what export said they did
    assert ev.covered == pytest.approx(result["intervals"]["coverage"], abs=1e-4)  # type: ignore[union-attr]
    assert set(ev.bands) == set(result["intervals"]["half_width"])  # type: ignore[union-attr]
    # the ridge baseline export compares with is drawn too, with export's figure, on dates
    ridge = ev.metrics["ridge"]["rmse"]  # type: ignore[union-attr]
    assert ridge == pytest.approx(result["baselines"]["ridge"]["test"], rel=1e-6)
    assert ev.time_values is not None  # type: ignore[union-attr]

    # the Python API
    forecaster = seqtune.load(best_yaml)
    assert forecaster.test == test and forecaster.self_contained

    # the export alone, in a folder holding nothing else: the study and its data gone
    away = tmp_path / "away"
    away.mkdir()
    from seqtune.exported.bundle import export_files

    for path in export_files(best_yaml):
        if path.name != "predictions.csv":  # an output no forecast reads: left behind
            shutil.copy(path, away / path.name)
    assert sorted(p.name for p in away.iterdir()) == ["best.keras", "best.state.json", "best.yaml"]
    frame = pd.read_csv(AIRLINE)
    shutil.rmtree(tmp_path / "results")
    data.unlink()

    intervals = result["intervals"]
    assert intervals["scale"] == "log"
    assert intervals["calibrated_on"] == ("validation" if name == "holdout" else "folds")
    width = intervals["half_width"]["80"][0]
    assert 0.0 <= intervals["coverage"]["80"] <= 1.0
    for row in (tested[0], tested[-1]):
        upto = frame.index[frame["Date"] == row["origin"]][0]
        recent = frame.iloc[upto - 11 : upto + 1]  # 12 rows: more than look_back + 1
        recent.to_csv(away / "recent.csv", index=False)
        done = cli_here("predict", "best.yaml", "--csv", "recent.csv", "--level", "80", cwd=away)
        assert done.returncode == 0, done.stderr
        (got,) = list(csv.DictReader(io.StringIO(done.stdout)))
        assert got["time"] == row["time"]
        assert float(got["prediction"]) == pytest.approx(float(row["prediction"]), rel=1e-5)
        assert float(got["lower_80"]) == pytest.approx(float(row["lower_80"]), rel=1e-5)
        # log_diff: multiplicative intervals, prediction × exp(± q)
        ratio = float(got["upper_80"]) / float(got["prediction"])
        assert np.log(ratio) == pytest.approx(width, rel=1e-4)
        api = seqtune.load(away / "best.yaml").predict(recent, level=[80])
        assert float(api["prediction"][0]) == pytest.approx(float(row["prediction"]), rel=1e-5)

    # too few rows, or none given now that the study's data is gone: one line each
    frame.tail(5).to_csv(away / "few.csv", index=False)
    done = cli_here("predict", "best.yaml", "--csv", "few.csv", cwd=away)
    assert done.returncode == 2 and "needs the last 7" in done.stderr, done.stderr
    done = cli_here("predict", str(away / "best.yaml"))
    assert done.returncode == 2 and "--csv RECENT.csv" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
