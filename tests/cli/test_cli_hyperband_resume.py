"""``seqtune resume --trials N`` on a Hyperband study, as a user runs it: a budget past the
launched schedule adds iterations (said in the schedule line, kept in schedule.json, run
to the end), a plain resume afterwards adds nothing, and a budget below the finished
trials is refused in one line with the study left as it was."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import AIRLINE, ROOT, cli_here, tiny_spec, write_spec

pytestmark = pytest.mark.slow


def launch(tmp_path: Path, **search: object) -> Path:
    """A tiny Hyperband study (max_epochs 3, factor 3: brackets 1 and 0), run to its end."""
    raw = tiny_spec(search={"backend": "hyperband", "max_epochs": 3, "factor": 3, **search})
    spec = write_spec(tmp_path / "tiny.yaml", raw)
    run = cli_here("launch", str(spec), "--results", str(tmp_path / "results"))
    assert run.returncode == 0, run.stderr
    return tmp_path / "results" / "tiny"


def status(study: Path) -> dict:
    out = cli_here("status", "--json", str(study))
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def schedule_of(study: Path) -> dict:
    return json.loads((study / "keras_tuner" / "schedule.json").read_text())


def schedule_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("hyperband:")]
    assert len(lines) == 1, stderr
    return lines[0]


def snapshot(study: Path) -> dict[str, bytes]:
    """Every file of the study but its lock files (a resume takes the lock)."""
    return {
        str(p.relative_to(study)): p.read_bytes()
        for p in sorted(study.rglob("*"))
        if p.is_file() and not p.name.startswith((".lock", ".export.lock"))
    }


def test_more_trials_add_iterations_then_a_plain_resume_adds_nothing(tmp_path: Path) -> None:
    study = launch(tmp_path, trials=2)  # 2 fits bracket 0 alone: 2 models of 3 epochs
    assert schedule_of(study) == {"brackets": 1, "iterations": 1}
    assert status(study)["finished"] == 2

    more = cli_here("resume", str(study), "--trials", "5")
    assert more.returncode == 0, more.stderr
    assert "resuming tiny: 2/5 trials finished" in more.stderr
    line = schedule_line(more.stderr)
    assert line.startswith("hyperband: max_epochs 3, factor 3, 3 iteration(s);")
    assert "bracket 0: 2×3 → 6 models" in line
    assert "--trials 5 added 2 iteration(s) to the 1 the schedule held (2 models)" in line
    assert "capped at 5 trials by --trials" in line
    assert schedule_of(study) == {"brackets": 1, "iterations": 3}
    after = status(study)
    assert after["budget"] == 5 and after["finished"] == 5
    assert after["trials"]["complete"] == 5
    assert len((study / "trials.csv").read_text().splitlines()) == 1 + 5

    before = snapshot(study)
    plain = cli_here("resume", str(study))
    assert plain.returncode == 0, plain.stderr
    assert "resuming tiny: 5/5 trials finished" in plain.stderr
    assert "added" not in schedule_line(plain.stderr)
    assert schedule_of(study) == {"brackets": 1, "iterations": 3}
    assert status(study)["finished"] == 5
    assert snapshot(study)["trials.csv"] == before["trials.csv"]


def test_added_iterations_run_new_brackets(tmp_path: Path) -> None:
    study = launch(tmp_path, trials=None)  # no trials: both brackets, 3×1 → 1×3 and 2×3: 6 models
    assert schedule_of(study) == {"brackets": 2, "iterations": 1}
    more = cli_here("resume", str(study), "--trials", "8")
    assert more.returncode == 0, more.stderr
    assert "added 1 iteration(s) to the 1 the schedule held (6 models)" in more.stderr
    assert schedule_of(study) == {"brackets": 2, "iterations": 2}
    records = status(study)["trial_records"]
    assert [r["state"] for r in records] == ["complete"] * 8
    # trials 6 and 7 start the second iteration's bracket 1: new models of 1 epoch
    assert [r["epochs"] for r in records[6:]] == [1, 1]
    for trial in ("0006", "0007"):
        hp = json.loads(
            (study / "keras_tuner" / "hyperband" / f"trial_{trial}" / "trial.json").read_text()
        )["hyperparameters"]["values"]
        assert (hp["tuner/bracket"], hp["tuner/round"]) == (1, 0)


def test_trials_below_the_finished_ones_are_refused_and_nothing_changes(tmp_path: Path) -> None:
    study = launch(tmp_path, trials=3)
    before = snapshot(study)
    refused = cli_here("resume", str(study), "--trials", "2")
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        "seqtune resume: --trials: the study has 3 finished trials already; the budget "
        "cannot go below that (give --trials 3 or more)"
    ]
    assert snapshot(study) == before


def test_an_old_study_resumes_as_before_and_grows_on_request(tmp_path: Path) -> None:
    """A study of seqtune 0.1.0 (no schedule.json): a plain resume runs its old schedule
    and writes none; --trials past it writes one holding every bracket."""
    shutil.copy(AIRLINE, tmp_path / "data.csv")  # the fixture's spec names ../../data.csv
    study = tmp_path / "studies" / "old-hyperband"
    shutil.copytree(ROOT / "tests" / "fixtures" / "studies_c27898a" / "old-hyperband", study)
    plain = cli_here("resume", str(study))  # its budget, 3, is finished
    assert plain.returncode == 0, plain.stderr
    assert "resuming old-hyperband: 3/3 trials finished" in plain.stderr
    assert not (study / "keras_tuner" / "schedule.json").exists()

    more = cli_here("resume", str(study), "--trials", "7")  # 6 models an iteration
    assert more.returncode == 0, more.stderr
    assert schedule_of(study) == {"brackets": 2, "iterations": 2}
    assert status(study)["finished"] == 7
