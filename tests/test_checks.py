"""seqtune.checks: what the data cannot serve, refused before a study exists, and the split
``seqtune check`` describes (issue 10). No model is trained: every test here is fast."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, tiny_spec, write_spec

from seqtune.checks import (
    all_problems,
    check_spec,
    class_problems,
    describe,
    format_report,
    refuse_data_problems,
    searched_look_backs,
    searched_transforms,
)
from seqtune.data import DataSpec, Table, load_table
from seqtune.data.split import stratified_class_counts, stratified_split
from seqtune.errors import UserError
from seqtune.spec import Spec


def stream(tmp_path: Path, labels: np.ndarray, **data: Any) -> Table:
    """A classify table of one input column over ``labels`` (row i of the CSV: labels[i])."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(0, 1, labels.size) + labels})
    frame["class"] = labels
    frame.to_csv(tmp_path / "s.csv", index=False)
    raw = {"csv": "s.csv", "target": "class", "task": "classify", **data}
    return load_table(DataSpec.from_dict(raw, tmp_path))


def classify_spec(tmp_path: Path, labels: np.ndarray, split: dict[str, Any] | None = None) -> Spec:
    """A classify spec over :func:`stream`'s CSV, look_back 2..4."""
    stream(tmp_path, labels)
    raw = {
        "study": "cls",
        "data": {"csv": "s.csv", "target": "class", "task": "classify", "split": split or SPLIT},
        "model": {"kind": "lstm"},
        "space": {"look_back": {"int": [2, 4]}, "units": 4},
        "objective": "val_f1",
        "search": {"trials": 1, "max_epochs": 1},
    }
    return Spec.from_file(write_spec(tmp_path / "c.yaml", raw))


SPLIT = {"val": 0.15, "test": 0.2}  # of 200 rows: train 0-129, val 130-159, test 160-199


def one_line(err: UserError) -> str:
    text = str(err)
    assert "\n" not in text
    return text


# -- classes missing from a training part ----------------------------------------------------


def test_a_holdout_training_part_of_one_class_is_refused_as_the_first_trial_did(
    tmp_path: Path,
) -> None:
    labels = np.zeros(200, dtype=int)
    labels[135:] = np.random.default_rng(1).integers(0, 2, 65)
    table = stream(tmp_path, labels, split=SPLIT)
    (err,) = class_problems(table, [2, 3, 4])
    assert err.field == "data.split"
    assert "every training window (labels at rows 3-130) has class 0" in one_line(err)
    # the same line the window builder raises inside a trial (windows.py), now before one
    with pytest.raises(UserError) as built:
        table.windows(2)
    assert str(built.value) == str(err)


def test_a_class_seen_only_in_val_and_test_is_refused(tmp_path: Path) -> None:
    labels = np.random.default_rng(1).integers(0, 2, 200)
    labels[150:165] = 2  # rows 151-165: validation and test only
    table = stream(tmp_path, labels, split=SPLIT)
    table.check_capacity(4)  # the existing checks let it through
    (err,) = class_problems(table, [2, 4])
    assert err.field == "data.split"
    assert "no training window (labels at rows 3-130) has class 2 (first at row 151)" in str(err)
    assert "never predict it" in str(err)


@pytest.mark.parametrize(("label_at", "largest"), [("next", 2), ("last", 3)])
def test_a_class_only_in_the_first_rows_names_the_largest_look_back(
    tmp_path: Path, label_at: str, largest: int
) -> None:
    labels = np.zeros(200, dtype=int)
    labels[2] = 1  # row 3: the label of a window only while look_back <= 2 (next) or 3 (last)
    labels[150:] = np.random.default_rng(2).integers(0, 2, 50)
    table = stream(tmp_path, labels, split=SPLIT, label_at=label_at)
    (err,) = class_problems(table, range(1, 6))
    assert err.field == "space.look_back"
    assert "look_back 5 leaves no training window of class 1" in str(err)
    assert f"the largest look_back whose training windows hold every class is {largest}" in str(err)
    assert class_problems(table, range(1, largest + 1)) == []
    # no searched look_back keeps it: the split is what to change
    (err,) = class_problems(table, [largest + 1])
    assert err.field == "data.split" and "class 0" in str(err)


def test_a_fold_training_part_missing_a_class_is_refused(tmp_path: Path) -> None:
    labels = np.random.default_rng(1).integers(0, 2, 200)
    labels[90:95] = 2  # after fold 1's training rows (1-80), before the test part
    table = stream(tmp_path, labels, split={"val": 20, "test": 40, "folds": 4})
    table.check_capacity(3)  # the fold check refuses a single class, not a missing one
    (err,) = class_problems(table, [3])
    assert err.field == "data.split.folds"
    assert "no training window of fold 1 of 4 (labels at rows 4-80) has class 2" in str(err)
    assert "first at row 91" in str(err)
    # the holdout's training part has it; with folds only the folds' are read
    assert class_problems(stream(tmp_path, labels, split={"val": 20, "test": 40}), [3]) == []


def test_a_fold_of_one_class_is_refused_once(tmp_path: Path) -> None:
    """The existing fold check names it; ``check`` does not repeat it in other words."""
    labels = np.random.default_rng(1).integers(0, 2, 200)
    labels[:80] = 0
    spec = classify_spec(tmp_path, labels, {"val": 20, "test": 40, "folds": 4})
    table = load_table(spec.data)
    found = all_problems(spec, table)
    assert [e.field for e in found] == ["data.split.folds"]
    assert "fold 1 of 4" in str(found[0])


def test_a_stratified_split_that_takes_every_window_of_a_class_is_refused(
    tmp_path: Path,
) -> None:
    # windows at look_back 1 (label_at next) have the labels of rows 2..: 20 x 0, 21 x 1, 1 x 2
    labels = np.array([0] + [0] * 20 + [1] * 21 + [2])
    split = {"val": 0.3, "test": 0.3, "method": "stratified"}
    assert stratified_class_counts(np.array([20, 21, 1]), 0.3, 0.3)["train"].tolist() == [8, 8, 0]
    with pytest.warns(UserWarning):  # the stratified leak warning
        table = stream(tmp_path, labels, split=split)
        windows = table.windows(1, seed=5)
    assert 2 not in set(windows.y_train.tolist())  # what the check predicts, for any seed
    (err,) = class_problems(table, [1, 2])
    assert err.field == "data.split"
    assert "at look_back 1 the stratified split leaves class 2 (1 window(s))" in str(err)


def test_stratified_class_counts_is_what_the_split_draws() -> None:
    rng = np.random.default_rng(3)
    labels = rng.choice(3, size=157, p=[0.7, 0.25, 0.05])
    counts = np.bincount(labels, minlength=3)
    expected = stratified_class_counts(counts, 0.15, 0.2)
    for seed in (0, 1, 2):
        drawn = stratified_split(labels, 0.15, 0.2, seed)
        for part, index in drawn.items():
            assert np.bincount(labels[index], minlength=3).tolist() == expected[part].tolist()


def test_forecast_has_no_class_problem() -> None:
    table = load_table(
        DataSpec.from_dict(
            {"csv": str(ROOT / "data" / "airline.csv"), "target": "Passengers"}, Path(".")
        )
    )
    assert class_problems(table, [1, 24]) == []


def test_refuse_raises_the_first_problem(tmp_path: Path) -> None:
    labels = np.zeros(200, dtype=int)
    labels[135:] = 1
    spec = classify_spec(tmp_path, labels)
    with pytest.raises(UserError) as err:
        refuse_data_problems(spec, load_table(spec.data))
    assert err.value.field == "data.split"
    labels[5] = 1
    spec = classify_spec(tmp_path, labels)
    refuse_data_problems(spec, load_table(spec.data))  # class 1 at row 6: look_back <= 4 keeps it


# -- the checks that already existed: found, not repeated -----------------------------------


@pytest.mark.parametrize(
    ("edits", "field", "needle"),
    [
        ({"space": {"transform": {"choice": ["none", "log_diff"]}}}, "space.transform", "positive"),
        ({"data": {"period": None}}, "space.transform", "data.period"),
        ({"space": {"look_back": {"int": [1, 120]}}}, "space.look_back", "largest look_back"),
    ],
)
def test_every_check_of_launch_is_run_once(
    tmp_path: Path, edits: dict[str, Any], field: str, needle: str
) -> None:
    frame = pd.read_csv(ROOT / "data" / "airline.csv")
    frame.loc[2, "Passengers"] = 0  # row 3: refused by the log family only
    frame.to_csv(tmp_path / "a.csv", index=False)
    raw = tiny_spec(**edits)
    raw["data"]["csv"] = "a.csv"
    raw["data"] = {k: v for k, v in raw["data"].items() if v is not None}
    if "transform" not in edits.get("space", {}):
        raw["space"]["transform"] = {"choice": ["none", "seasonal_diff"]}
    report = check_spec(Spec.from_file(write_spec(tmp_path / "s.yaml", raw)))
    assert report["ok"] is False
    assert len(report["problems"]) == 1
    assert report["problems"][0].startswith(f"{field}: ") and needle in report["problems"][0]


# -- what the space draws --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("look_back", "expected"),
    [
        ({"int": [2, 8], "step": 3}, [2, 5, 8]),
        ({"choice": [6, 3, 12]}, [3, 6, 12]),
        (5, [5]),
        (None, [1]),
    ],
)
def test_searched_look_backs(tmp_path: Path, look_back: Any, expected: list[int]) -> None:
    raw = tiny_spec()
    if look_back is None:
        del raw["space"]["look_back"]
    else:
        raw["space"]["look_back"] = look_back
    spec = Spec.from_file(write_spec(tmp_path / "s.yaml", raw))
    assert list(searched_look_backs(spec)) == expected


def test_searched_transforms(tmp_path: Path) -> None:
    spec = Spec.from_file(write_spec(tmp_path / "s.yaml", tiny_spec()))
    assert searched_transforms(spec) == ["none", "log_diff", "seasonal_diff"]
    raw = tiny_spec()
    del raw["space"]["transform"]
    assert searched_transforms(Spec.from_file(write_spec(tmp_path / "s.yaml", raw))) == ["none"]


# -- the description -------------------------------------------------------------------------


def test_describe_a_holdout(tmp_path: Path) -> None:
    raw = tiny_spec(data={**tiny_spec()["data"], "time": "Date"})
    report = describe(
        spec := Spec.from_file(write_spec(tmp_path / "s.yaml", raw)), load_table(spec.data)
    )
    assert report["split"] == "holdout" and report["folds"] == []
    assert report["look_back"] == {"min": 1, "max": 4}
    assert (report["lost_rows"], report["lost_by"]) == (12, "seasonal_diff")
    train, val, test = (report["parts"][p] for p in ("train", "val", "test"))
    assert (train["rows"], train["first_row"], train["last_row"]) == (77, 1, 77)
    assert (val["first_time"], val["last_time"]) == ("1955-06", "1956-12")
    assert (test["rows"], test["first_row"], test["last_row"]) == (48, 97, 144)
    # windows after the 12 rows seasonal_diff loses: origins from row 12 + look_back on
    assert train["windows"] == {"1": 77 - 13, "4": 77 - 16}
    assert val["windows"] == {"1": 19, "4": 19} and test["windows"] == {"1": 48, "4": 48}
    built = load_table(spec.data).windows(4, "seasonal_diff")  # what a trial gets
    assert [len(getattr(built, f"y_{p}")) for p in ("train", "val", "test")] == [61, 19, 48]
    assert report["time"]["first"] == "1949-01" and report["time"]["frequency"] == "MS"


def test_describe_folds() -> None:
    spec = Spec.from_file(ROOT / "examples" / "airline_folds.yaml")
    report = check_spec(spec)
    assert report["ok"] is True and report["problems"] == []
    assert report["split"] == "folds" and len(report["folds"]) == 4
    first, last = report["folds"][0], report["folds"][-1]
    assert (first["train"]["first_row"], first["train"]["last_row"]) == (1, 48)
    assert (first["val"]["first_row"], first["val"]["last_row"]) == (49, 60)
    assert first["train"]["windows"] == {"12": 48 - 24, "24": 48 - 36}
    assert (last["val"]["first_row"], last["val"]["last_row"]) == (85, 96)
    refit, test = report["parts"]["refit"], report["parts"]["test"]
    assert (refit["rows"], refit["last_row"]) == (96, 96)
    assert (test["first_row"], test["last_row"], test["windows"]) == (97, 144, {"12": 48, "24": 48})
    text = format_report(report)
    assert "fold 1 train    48  1-48" in text and text.endswith("ok: every check passed")


def test_describe_classify_counts_windows_per_class(tmp_path: Path) -> None:
    labels = np.random.default_rng(1).integers(0, 2, 200)
    spec = classify_spec(tmp_path, labels)
    report = check_spec(spec)
    assert report["ok"], report["problems"]
    train = report["parts"]["train"]
    # 130 training rows; a window spans look_back + 1 rows (its label is the next row)
    assert train["windows"] == {"2": 130 - 2, "4": 130 - 4}
    built = load_table(spec.data).windows(4)  # what a trial gets
    for part in ("train", "val", "test"):
        y = getattr(built, f"y_{part}")
        assert report["parts"][part]["windows"]["4"] == y.size
        assert (
            list(report["parts"][part]["classes"].values()) == np.bincount(y, minlength=2).tolist()
        )
    assert "classes (lb 4)" in format_report(report)


def test_describe_survives_a_split_that_does_not_fit(tmp_path: Path) -> None:
    raw = tiny_spec()
    raw["data"]["split"] = {"val": 12, "test": 48, "folds": 9}
    report = check_spec(Spec.from_file(write_spec(tmp_path / "s.yaml", raw)))
    assert report["ok"] is False and report["folds"] == []
    assert report["problems"][0].startswith("data.split.folds: ")
    format_report(report)  # prints what it can
