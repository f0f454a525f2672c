"""The Python API (``seqtune.launch`` / ``load_study`` / ``load``): the notebook example
runs end to end, its study is one the CLI reads, and bad input raises the CLI's one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import AIRLINE, ROOT, cli_here, tiny_spec

import seqtune
from seqtune.errors import UserError


def test_import_seqtune_names_the_api_and_stays_light() -> None:
    assert {"launch", "load", "load_spec", "load_study", "check", "resume"} <= set(dir(seqtune))
    code = "import sys, seqtune; print('tensorflow' in sys.modules, 'pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_a_bad_number_of_workers_is_refused_before_anything_runs(tmp_path: Path) -> None:
    for bad in (0, -1, 1.5, True):
        with pytest.raises(UserError, match="workers: expected a whole number"):
            seqtune.launch(tiny_spec(), results=tmp_path / "results", workers=bad)  # type: ignore[arg-type]
    assert not (tmp_path / "results").exists()


def test_a_bad_spec_raises_the_clis_one_line() -> None:
    raw = tiny_spec()
    raw["space"]["look_back"] = {"int": [0, 3]}
    with pytest.raises(UserError, match="space.look_back: must be at least 1"):
        seqtune.load_spec(raw)
    raw = tiny_spec(data={"csv": str(AIRLINE.parent / "nope.csv")})
    with pytest.raises(UserError, match="data.csv: file not found"):
        seqtune.check(raw)
    assert seqtune.check(tiny_spec())["problems"] == []


@pytest.mark.slow
def test_the_notebook_example_runs_and_its_study_is_the_clis(tmp_path: Path) -> None:
    results = tmp_path / "results"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "python_api.py"),
            "--trials",
            "2",
            "--max-epochs",
            "3",
            "--results",
            str(results),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    # nothing but seqtune's own output: no TensorFlow start-up lines, no warnings
    assert "oneDNN" not in done.stderr and "Warning" not in done.stderr, done.stderr
    study = results / "airline-python"
    assert (study / "python_api.png").is_file() and (study / "best.yaml").is_file()
    # the API's study is the CLI's: status reads it, predict agrees with Forecaster.predict
    status = cli_here("status", "--json", str(study))
    assert status.returncode == 0, status.stderr
    api_study = seqtune.load_study(study)
    frame = api_study.trials_dataframe()
    assert list(frame["number"]) == [0, 1] and "params_look_back" in frame.columns
    assert api_study.best_trial is not None
    forecaster = seqtune.load(study / "best.yaml")
    ours = forecaster.predict()
    theirs = cli_here("predict", str(study))
    assert theirs.returncode == 0, theirs.stderr
    last = theirs.stdout.strip().splitlines()[-1].split(",")
    assert ours["time"].iloc[-1] == last[0]
    assert ours["prediction"].iloc[-1] == pytest.approx(float(last[2]), rel=1e-9)
    with pytest.raises(UserError, match=r"^the recent rows \(DataFrame\): has 3 rows"):
        forecaster.predict(pd.read_csv(AIRLINE).iloc[:3])  # fewer rows than look_back
    banded = forecaster.predict(level=[80])
    assert list(banded.columns) == [*ours.columns, "lower_80", "upper_80"]
    assert (banded["lower_80"] < banded["prediction"]).all()
    with pytest.raises(UserError, match="level: 120"):
        forecaster.predict(level=[120])
    assert forecaster.self_contained and set(forecaster.intervals["coverage"]) == {"80", "95"}
