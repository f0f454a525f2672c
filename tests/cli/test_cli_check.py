"""``seqtune check SPEC`` and the data checks ``launch`` makes before the study folder
exists (issue 10): exit 0 and the rows and windows of every part and fold, or exit 2 with
one line per problem; nothing written, TensorFlow never loaded. Fast: nothing trains."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from conftest import ROOT, cli_here, run_cli, tiny_spec, write_spec

from seqtune.cli import main

FOLDS = ROOT / "examples" / "airline_folds.yaml"


def seqtune(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``main(argv)`` in this process (refused before TensorFlow loads, as a fresh one)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def write_classify(folder: Path, labels: np.ndarray, split: dict[str, Any]) -> Path:
    """A classify CSV of one input column over ``labels`` and its spec; returns the spec."""
    rng = np.random.default_rng(0)
    rows = "".join(f"{rng.normal() + y:.4f},{y}\n" for y in labels)
    (folder / "c.csv").write_text("x,class\n" + rows)
    spec = {
        "study": "cls",
        "seed": 1,
        "data": {"csv": "c.csv", "target": "class", "task": "classify", "split": split},
        "model": {"kind": "lstm"},
        "space": {"look_back": {"int": [2, 4]}, "units": 4},
        "objective": "val_f1",
        "search": {"backend": "tpe", "trials": 1, "max_epochs": 1},
    }
    path = folder / "cls.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def one_class_training(folder: Path) -> Path:
    """Train rows 1-75 all class 0: the first trial used to fail on it, leaving a folder."""
    labels = np.zeros(100, dtype=int)
    labels[75:] = np.random.default_rng(0).integers(0, 2, 25)
    labels[80], labels[95] = 1, 1
    return write_classify(folder, labels, {"val": 0.15, "test": 0.1})


ONE_CLASS = (
    "data.split: every training window (labels at rows 3-75) has class 0: the model cannot "
    "learn to tell classes apart; change data.split"
)


def test_check_prints_every_fold_and_writes_nothing(tmp_path: Path) -> None:
    """A fresh process: exit 0, the folds, the refit and the test part, no TensorFlow."""
    code = (
        "import sys; from seqtune.cli import main; rc = main(sys.argv[1:]); "
        "print('tensorflow loaded' if 'tensorflow' in sys.modules else 'no tensorflow'); "
        "raise SystemExit(rc)"
    )
    run = subprocess.run(
        [sys.executable, "-c", code, "check", str(FOLDS)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"},
    )
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    lines = run.stdout.splitlines()
    assert lines[-1] == "no tensorflow" and lines[-2] == "ok: every check passed"
    assert lines[0] == "study airline-folds · forecast 'Passengers' · horizon 1"
    assert "4 rolling-origin fold(s) before the test part" in run.stdout
    header = next(line for line in lines if line.startswith("part"))
    assert header.split() == [
        "part",
        "rows",
        "CSV",
        "rows",
        "windows",
        "lb",
        "12",
        "windows",
        "lb",
        "24",
    ]
    table = {
        line[:13].strip(): line[13:].split()
        for line in lines
        if line.startswith(("fold", "refit", "test"))
    }
    assert table["fold 1 train"] == ["48", "1-48", "24", "12"]
    assert table["fold 1 val"] == ["12", "49-60", "12", "12"]
    assert table["fold 4 train"] == ["84", "1-84", "60", "48"]
    assert table["fold 4 val"] == ["12", "85-96", "12", "12"]
    assert table["refit"] == ["96", "1-96", "72", "60"]
    assert table["test"] == ["48", "97-144", "48", "48"]
    assert list(tmp_path.iterdir()) == []  # no results/ (nor anything else) where it ran


def test_check_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = seqtune(capsys, "check", str(FOLDS), "--json")
    assert (code, err) == (0, "")
    report = json.loads(out)
    assert report["ok"] is True and report["problems"] == []
    assert (report["rows"], report["split"], report["look_back"]) == (
        144,
        "folds",
        {"min": 12, "max": 24},
    )
    assert [(f["train"]["last_row"], f["val"]["first_row"]) for f in report["folds"]] == [
        (48, 49),
        (60, 61),
        (72, 73),
        (84, 85),
    ]
    assert report["parts"]["test"]["windows"] == {"12": 48, "24": 48}


def test_check_shows_the_time_index(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = seqtune(capsys, "check", str(ROOT / "examples" / "airline_h12.yaml"))
    assert code == 0
    assert "Date 1949-01 .. 1960-12 (frequency MS)" in out
    val = next(line for line in out.splitlines() if line.startswith("val"))
    assert val.split() == ["val", "12", "121-132", "1959-01", "..", "1959-12", "1", "1"]


@pytest.fixture(scope="module")
def deauth_spec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped drone stream (3000 rows, as the classify end-to-end test) and its TPE spec."""
    from seqtune.datasets import write_drone_deauth

    folder = tmp_path_factory.mktemp("deauth")
    write_drone_deauth(folder / "deauth.csv", n_rows=3000, seed=3)
    spec = yaml.safe_load((ROOT / "examples" / "deauth_lstm_tpe.yaml").read_text())
    spec["data"]["csv"] = "deauth.csv"
    path = folder / "deauth.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def test_check_classify(capsys: pytest.CaptureFixture[str], deauth_spec: Path) -> None:
    code, out, err = seqtune(capsys, "check", str(deauth_spec))
    assert (code, err) == (0, ""), err
    assert "classes (lb 20)" in out and out.rstrip().endswith("ok: every check passed")
    code, out, _ = seqtune(capsys, "check", str(deauth_spec), "--json")
    parts = json.loads(out)["parts"]
    # 3000 rows: test 600, val 450, train the rest; a window spans look_back + 1 rows
    assert [(p["first_row"], p["last_row"]) for p in parts.values()] == [
        (1, 1950),
        (1951, 2400),
        (2401, 3000),
    ]
    assert parts["train"]["windows"] == {"2": 1950 - 2, "20": 1950 - 20}
    for part in parts.values():
        assert sum(part["classes"].values()) == part["windows"]["20"]
        assert set(part["classes"]) == {"0", "1"}
    assert not (deauth_spec.parent / "results").exists()


def test_launch_refuses_a_training_part_of_one_class_before_the_study_exists(
    tmp_path: Path,
) -> None:
    """In a fresh process, as a user: exit 2, one line, no traceback, no results/cls."""
    spec = one_class_training(tmp_path)
    results = tmp_path / "results"
    run = run_cli("launch", str(spec), "--results", str(results), timeout=120)
    assert run.returncode == 2
    assert run.stderr.splitlines() == [f"seqtune launch: {ONE_CLASS}"]
    assert run.stdout == ""
    assert not (results / "cls").exists() and not results.exists()
    again = run_cli("launch", str(spec), "--results", str(results), timeout=120)
    assert again.stderr.splitlines() == [f"seqtune launch: {ONE_CLASS}"]  # not "already holds"


def test_check_names_the_problem_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = one_class_training(tmp_path)
    code, out, err = seqtune(capsys, "check", str(spec))
    assert code == 2
    assert err.splitlines() == [f"seqtune check: {ONE_CLASS}"]
    assert "train    75  1-75" in out and "0:71 1:0" in out  # what the split gives, to fix it
    assert "ok:" not in out
    code, out, err = seqtune(capsys, "check", str(spec), "--json")
    assert code == 2 and json.loads(out)["problems"] == [ONE_CLASS]
    assert err.splitlines() == [f"seqtune check: {ONE_CLASS}"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.csv", "cls.yaml"]


@pytest.mark.parametrize(
    ("split", "change", "line"),
    [
        (
            {"val": 20, "test": 40, "folds": 4},
            {90: 2, 91: 2},  # class 2 after fold 1's training rows (1-80)
            "data.split.folds: no training window of fold 1 of 4 (labels at rows 3-80) has "
            "class 2 (first at row 91)",
        ),
        (
            {"val": 0.15, "test": 0.2},
            {150: 2, 160: 2},  # class 2 in val and test only
            "data.split: no training window (labels at rows 3-130) has class 2 (first at row 151)",
        ),
        (
            {"val": 0.15, "test": 0.2},
            {i: 0 for i in range(3, 130)} | {2: 1},  # class 1 at row 3 only: look_back <= 2
            "space.look_back: look_back 4 leaves no training window of class 1 (labels at rows "
            "5-130); the largest look_back whose training windows hold every class is 2",
        ),
    ],
    ids=["fold_missing_a_class", "class_only_after_training", "look_back_drops_a_class"],
)
def test_launch_and_check_refuse_a_class_missing_from_training(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    split: dict[str, Any],
    change: dict[int, int],
    line: str,
) -> None:
    labels = np.random.default_rng(1).integers(0, 2, 200)
    for row, label in change.items():
        labels[row] = label
    spec = write_classify(tmp_path, labels, split)
    results = tmp_path / "results"
    for verb, argv in (("launch", ["--results", str(results)]), ("check", [])):
        code, _, err = seqtune(capsys, verb, str(spec), *argv)
        assert code == 2
        (only,) = err.splitlines()
        assert only.startswith(f"seqtune {verb}: {line}")
    assert not results.exists()


@pytest.mark.parametrize(
    ("space", "field", "needle"),
    [
        ({"transform": {"choice": ["none", "log_seasonal_diff"]}}, "space.transform", "positive"),
        ({"transform": "seasonal_diff"}, "space.transform", "set data.period"),
        ({"look_back": {"int": [1, 60]}}, "space.look_back", "largest look_back that fits"),
    ],
    ids=["log_on_a_zero", "seasonal_without_period", "look_back_too_large_for_fold_1"],
)
def test_check_reports_what_launch_refuses(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    space: dict[str, Any],
    field: str,
    needle: str,
) -> None:
    """The checks that existed before issue 10, through both verbs: the same one line."""
    rows = (ROOT / "data" / "airline.csv").read_text().splitlines()
    if needle == "positive":
        rows[3] = rows[3].split(",")[0] + ",0"  # row 3 of the data: 0 passengers
    (tmp_path / "a.csv").write_text("\n".join(rows) + "\n")
    spec = yaml.safe_load(FOLDS.read_text())
    spec["data"]["csv"] = "a.csv"
    spec["space"].update(space)
    if "period" in needle:
        del spec["data"]["period"]
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    results = tmp_path / "results"
    lines = {}
    for verb, argv in (("launch", ["--results", str(results)]), ("check", [])):
        code, _, err = seqtune(capsys, verb, str(path), *argv)
        assert code == 2
        (only,) = err.splitlines()
        assert only.startswith(f"seqtune {verb}: {field}: ") and needle in only
        lines[verb] = only.split(": ", 1)[1]
    assert lines["launch"] == lines["check"]
    assert not results.exists()


def test_check_of_a_missing_csv_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = yaml.safe_load(FOLDS.read_text())
    spec["data"]["csv"] = "nowhere.csv"
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(spec))
    code, out, err = seqtune(capsys, "check", str(path))
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        f"seqtune check: data.csv: file not found: {tmp_path / 'nowhere.csv'}"
    ]


def test_train_refuses_a_class_missing_from_training_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``train`` of a fixed spec makes the checks ``launch`` makes, before TensorFlow."""
    spec = one_class_training(tmp_path)
    raw = yaml.safe_load(spec.read_text())
    raw["space"] = {"look_back": 2, "units": 4}
    spec.write_text(yaml.safe_dump(raw, sort_keys=False))
    code, out, err = seqtune(capsys, "train", str(spec))
    assert code == 2 and out == ""
    assert err.splitlines() == [f"seqtune train: {ONE_CLASS}"]


def test_a_reader_that_leaves_early_is_not_a_failure() -> None:
    """``seqtune check SPEC | head -1``: the pipe closes before seqtune writes; it ends as
    Unix tools do (SIGPIPE's 141), with nothing on stderr."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "seqtune.cli", "check", str(FOLDS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141 and err == ""


def test_check_json_prints_json_when_the_spec_cannot_be_read(tmp_path: Path) -> None:
    """A script reading ``check --json`` gets JSON whatever went wrong (exit 2, the same
    one line on stderr)."""
    spec = tmp_path / "bad.yaml"
    spec.write_text("study: s\ndata: {csv: nope.csv, target: y}\nmodel: {kind: mlp}\n")
    done = cli_here("check", str(spec), "--json")
    assert done.returncode == 2
    report = json.loads(done.stdout)
    assert report["ok"] is False and len(report["problems"]) == 1
    assert done.stderr.strip() == f"seqtune check: {report['problems'][0]}"


@pytest.mark.parametrize(
    ("split", "transform", "horizon"),
    [
        ({"val": 12, "test": 24, "folds": 3}, "none", 1),
        ({"val": 12, "test": 24, "folds": 4, "gap": 2}, "seasonal_diff", 1),
        ({"val": 12, "test": 24, "folds": 3}, "log_diff", 3),
        ({"val": 12, "test": 24}, "log_diff", 1),
        ({"val": 0.13, "test": 0.33}, "seasonal_diff", 1),
        ({"val": 12, "test": 24}, "seasonal_diff", 4),
    ],
)
def test_every_largest_look_back_check_advises_fits(
    tmp_path: Path, split: dict[str, Any], transform: str, horizon: int
) -> None:
    """The look_back check advises passes check, and one more does not (folds included:
    the advice once ignored them and named a look_back that left a fold no windows; a
    horizon of several steps, whose last targets need rows too)."""
    import re

    def check_with(high: int) -> subprocess.CompletedProcess[str]:
        spec = tiny_spec(data={"split": split, "horizon": horizon}, search={"trials": 1})
        spec["space"] = {**spec["space"], "look_back": {"int": [1, high]}, "transform": transform}
        return cli_here("check", str(write_spec(tmp_path / "lb.yaml", spec)))

    done = check_with(400)
    assert done.returncode == 2
    found = re.search(r"the largest look_back that fits is (\d+)", done.stderr)
    assert found, done.stderr
    best = int(found.group(1))
    assert check_with(best).returncode == 0
    assert check_with(best + 1).returncode == 2


THREE_MISTAKES = """\
study: three
data: {csv: %s, target: Passengers, scaler: zscore, split: {val: 12, test: 48}}
model: {kind: mlp, layout: window}
space:
  look_back: {int: [12, 24]}
  unitz: 8
  learning_rate: {float: [0.01, 0.001]}
objective: val_rmse
search: {backend: tpe, trials: 0, colour: red}
"""


def test_check_lists_every_problem_in_one_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Mistakes in several sections (and several in one) are all named by one ``check``:
    one line each, exit 2; ``launch`` still refuses at once, naming the first."""
    from conftest import AIRLINE

    spec = tmp_path / "three.yaml"
    spec.write_text(THREE_MISTAKES % AIRLINE)
    code, out, err = seqtune(capsys, "check", str(spec))
    assert (code, out) == (2, "")
    assert [line.split(": ")[1] for line in err.splitlines()] == [
        "data.scaler",
        "space.learning_rate",
        "space.unitz",
        "search.colour",
        "search.trials",
    ]
    assert all(line.startswith("seqtune check: ") for line in err.splitlines())
    code, out, err_json = seqtune(capsys, "check", str(spec), "--json")
    report = json.loads(out)
    assert code == 2 and report["ok"] is False
    assert [f"seqtune check: {p}" for p in report["problems"]] == err.splitlines()
    assert [p["field"] for p in report["problem_fields"]][:2] == [
        "data.scaler",
        "space.learning_rate",
    ]
    assert report["problem_fields"][-1]["message"] == "must be at least 1, got 0"
    code, out, err = seqtune(capsys, "launch", str(spec), "--results", str(tmp_path / "r"))
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        "seqtune launch: data.scaler: 'zscore' is not allowed; expected one of: minmax, "
        "standard, none"
    ]
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("name", "text", "needle"),
    [
        ("missing.yaml", None, "no such file"),
        ("broken.yaml", "a: [1\n", "not valid YAML"),
        ("list.yaml", "- 1\n- 2\n", "must be a YAML mapping"),
    ],
)
def test_check_json_is_json_whatever_cannot_be_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str | None, needle: str
) -> None:
    spec = tmp_path / name
    if text is not None:
        spec.write_text(text)
    code, out, err = seqtune(capsys, "check", str(spec), "--json")
    report = json.loads(out)
    assert code == 2 and report["ok"] is False and report["spec"] == str(spec)
    assert len(report["problems"]) == 1 and needle in report["problems"][0]
    assert report["problem_fields"] == [
        {"field": str(spec), "message": report["problems"][0].split(": ", 1)[1]}
    ]
    assert err == f"seqtune check: {report['problems'][0]}\n"


def test_check_names_every_transform_the_data_cannot_take(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The checks against the data go on past the first transform refused."""
    rows = "".join(f"{v}\n" for v in [0.0, -1.0, 2.0] * 40)
    (tmp_path / "z.csv").write_text("y\n" + rows)
    spec = tiny_spec(search={"trials": 1})
    spec["data"] = {**spec["data"], "csv": str(tmp_path / "z.csv"), "target": "y"}
    spec["data"].pop("period")
    spec["space"] = {**spec["space"], "transform": {"choice": ["log", "log_diff", "seasonal_diff"]}}
    code, out, err = seqtune(capsys, "check", str(write_spec(tmp_path / "t.yaml", spec)))
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 3 and all(line.startswith("seqtune check: ") for line in lines)
    assert "'log'" in lines[0] and "'log_diff'" in lines[1] and "seasonal_diff" in lines[2]
