"""End to end (slow): a tiny H=3 airline study with a time index launched, exported,
predicted from and refit; and predict with step numbers on a study without a time index."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
import yaml
from conftest import AIRLINE, cli_here, run_cli, tiny_spec, write_spec

pytestmark = pytest.mark.slow


def rows_of(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def h3_spec(**data: object) -> dict:
    spec = tiny_spec(
        data={"time": "Date", "horizon": 3, "calendar": ["month"], "split": {"val": 12, "test": 12}}
    )
    spec["data"].pop("period")  # inferred from the monthly index
    spec["data"].update(data)
    spec["space"] = {
        "transform": {"choice": ["log_diff", "log_seasonal_diff"]},
        "look_back": {"int": [2, 4]},
        "units": 4,
        "learning_rate": 0.01,
        "batch_size": 16,
    }
    spec["search"] = {"backend": "tpe", "trials": 2, "max_epochs": 3, "patience": None}
    return spec


def test_launch_export_predict_train_over_a_horizon(tmp_path: Path) -> None:
    spec = write_spec(tmp_path / "h3.yaml", h3_spec())
    results = tmp_path / "results"
    proc = cli_here("launch", str(spec), "--results", str(results))
    assert proc.returncode == 0, proc.stderr
    study = results / "tiny"
    proc = cli_here("export", str(study))
    assert proc.returncode == 0, proc.stderr

    best = yaml.safe_load((study / "best.yaml").read_text())
    assert best["data"]["horizon"] == 3 and best["data"]["time"] == "Date"
    test = best["result"]["test"]
    assert len(test["rmse_by_step"]) == 3 and len(test["mae_by_step"]) == 3

    preds = rows_of(study / "predictions.csv")
    assert list(preds[0])[:6] == ["time", "part", "origin", "h", "actual", "prediction"]
    # 10 validation windows calibrate an 80 % interval per step, not a 95 % one
    assert list(preds[0])[6:] == ["lower_80", "upper_80"]
    assert all(
        float(r["lower_80"]) <= float(r["prediction"]) <= float(r["upper_80"]) for r in preds
    )
    val = [r for r in preds if r["part"] == "val"]
    tst = [r for r in preds if r["part"] == "test"]
    assert len(val) == len(tst) == (12 - 3 + 1) * 3
    assert tst[0]["origin"] == "1959-12" and tst[0]["time"] == "1960-01"
    assert tst[-1]["time"] == "1960-12" and tst[-1]["h"] == "3"
    assert all(r["time"] >= "1959-01" and r["time"] <= "1959-12" for r in val)
    airline = {r["Date"]: float(r["Passengers"]) for r in rows_of(AIRLINE)}
    assert all(float(r["actual"]) == airline[r["time"]] for r in preds)
    mae = sum(abs(float(r["actual"]) - float(r["prediction"])) for r in tst) / len(tst)
    assert mae == pytest.approx(test["mae"], rel=1e-6)

    out = tmp_path / "forecast.csv"
    proc = cli_here("predict", str(study / "best.yaml"), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    forecast = rows_of(out)
    assert [r["time"] for r in forecast] == ["1961-01", "1961-02", "1961-03"]
    assert [r["h"] for r in forecast] == ["1", "2", "3"]
    proc = cli_here("predict", str(study / "best.yaml"), "--level", "80")
    assert proc.returncode == 0, proc.stderr
    banded = list(csv.DictReader(proc.stdout.splitlines()))
    found = best["result"]["intervals"]
    assert found["scale"] == "log"  # a log transform: multiplicative intervals
    for r, w in zip(banded, found["half_width"]["80"], strict=True):
        ratio = float(r["upper_80"]) / float(r["prediction"])
        assert math.log(ratio) == pytest.approx(w, rel=1e-4)
        assert float(r["prediction"]) / float(r["lower_80"]) == pytest.approx(ratio, rel=1e-9)
    proc = cli_here("predict", str(study / "best.yaml"), "--level", "95")
    assert proc.returncode == 2
    assert "calibrate levels up to 90.9 %" in proc.stderr and "Traceback" not in proc.stderr

    # a newer CSV: the first 132 months only, so the forecast is the test window's
    newer = tmp_path / "newer.csv"
    newer.write_text("\n".join(AIRLINE.read_text().splitlines()[:133]) + "\n")
    proc = cli_here("predict", str(study), "--csv", str(newer))
    assert proc.returncode == 0, proc.stderr
    again = list(csv.DictReader(proc.stdout.splitlines()))
    assert [r["time"] for r in again] == ["1960-01", "1960-02", "1960-03"]
    first = {r["h"]: float(r["prediction"]) for r in tst if r["origin"] == "1959-12"}
    for r in again:
        assert float(r["prediction"]) == pytest.approx(first[r["h"]], rel=1e-5)

    # the refit in a fresh process, as a user runs it, reproduces the exported trial
    proc = run_cli("train", str(study / "best.yaml"), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["reproduced"]["within_tolerance"], report
    assert report["test"]["mae_by_step"] == pytest.approx(test["mae_by_step"], rel=1e-4)


def test_predict_without_time_gives_step_numbers(tmp_path: Path) -> None:
    spec = {**tiny_spec(), "space": {"look_back": 3, "units": 4, "transform": "diff"}}
    spec["data"] = {**spec["data"], "horizon": 2}
    spec["search"] = {"backend": "tpe", "trials": 1, "max_epochs": 2, "patience": None}
    path = write_spec(tmp_path / "plain.yaml", spec)
    model = tmp_path / "plain.keras"
    proc = cli_here("train", str(path), "-o", str(model))
    assert proc.returncode == 0, proc.stderr
    proc = cli_here("predict", str(path))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "step,h,prediction"
    assert [line.split(",")[:2] for line in lines[1:]] == [["144", "1"], ["145", "2"]]


def test_errors_by_step_in_status_export_and_report_with_the_calendar_searched(
    tmp_path: Path,
) -> None:
    raw = h3_spec()
    raw["data"].pop("calendar")
    raw["space"]["calendar"] = {"choice": ["none", "month"]}
    raw["search"] = {"backend": "tpe", "trials": 2, "max_epochs": 2, "patience": None}
    spec = write_spec(tmp_path / "h3.yaml", raw)
    results = tmp_path / "results"
    proc = cli_here("launch", str(spec), "--results", str(results))
    assert proc.returncode == 0, proc.stderr
    study = results / "tiny"

    proc = cli_here("status", str(study), "--json")
    assert proc.returncode == 0, proc.stderr
    status = json.loads(proc.stdout)
    # both calendars trained in one study (1 input column, and 3 with the month's sin/cos)
    assert {r["params"]["calendar"] for r in status["trial_records"]} == {"none", "month"}
    best = next(r for r in status["trial_records"] if r["number"] == status["best"]["number"])
    metrics = best["metrics"]
    rmse = [metrics[f"val_rmse_h{h}"] for h in (1, 2, 3)]
    mae = [metrics[f"val_mae_h{h}"] for h in (1, 2, 3)]
    assert "val_rmse_h4" not in metrics
    # every step has as many windows: the pooled values are the steps' means
    assert metrics["val_rmse"] ** 2 == pytest.approx(sum(v * v for v in rmse) / 3, rel=1e-9)
    assert metrics["val_mae"] == pytest.approx(sum(mae) / 3, rel=1e-9)

    proc = cli_here("status", str(study))
    assert proc.returncode == 0, proc.stderr
    (line,) = [x for x in proc.stdout.splitlines() if x.startswith("val_rmse by step")]
    assert line == "val_rmse by step (h = 1..3): " + " ".join(f"{v:.4g}" for v in rmse)

    proc = cli_here("export", str(study))
    assert proc.returncode == 0, proc.stderr
    result = yaml.safe_load((study / "best.yaml").read_text())["result"]
    assert result["val"]["rmse_by_step"] == pytest.approx(rmse, rel=1e-5)
    assert result["val"]["mae_by_step"] == pytest.approx(mae, rel=1e-5)
    assert len(result["test"]["rmse_by_step"]) == 3
    proc = cli_here("predict", str(study))  # the chosen calendar's inputs rebuilt
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[1].startswith("1961-01,1,")

    proc = cli_here("report", str(study))
    assert proc.returncode == 0, proc.stderr
    page = (study / "report.html").read_text()
    assert 'alt="exported model on the test part"' in page
    assert 'alt="errors by forecast step"' in page
    assert "<th>model val RMSE</th>" in page and "<th>seasonal naive test MAE</th>" in page
