"""DataSpec.from_dict: validation of the data: section, and the round trip."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from seqtune.data import DataSpec
from seqtune.errors import UserError

BASE = {"csv": "data.csv", "target": "y"}


def spec(**extra: Any) -> DataSpec:
    return DataSpec.from_dict({**BASE, **extra}, Path("/base"))


def refused(raw: Any, field: str, phrase: str) -> None:
    with pytest.raises(UserError) as info:
        DataSpec.from_dict(raw, Path("/base"))
    assert info.value.field == field
    assert phrase in info.value.message
    assert "\n" not in str(info.value)


def test_defaults_and_relative_path() -> None:
    s = spec()
    assert s.csv == Path("/base/data.csv")
    assert s.csv_text == "data.csv"
    assert (s.task, s.features, s.drop, s.val, s.test) == ("forecast", None, (), 0.15, 0.2)
    assert (s.split_method, s.scaler, s.period, s.missing) == (
        "chronological",
        "minmax",
        None,
        "error",
    )


def test_relative_path_with_parent_is_resolved(tmp_path: Path) -> None:
    s = DataSpec.from_dict({"csv": "../d/a.csv", "target": "y"}, tmp_path / "examples")
    assert s.csv == (tmp_path / "d" / "a.csv").resolve()
    assert s.csv_text == "../d/a.csv"


def test_absolute_path_kept() -> None:
    assert spec(csv="/x/y.csv").csv == Path("/x/y.csv")


@pytest.mark.parametrize(
    "raw",
    [
        {**BASE},
        {**BASE, "split": {"val": 0.13, "test": 0.33}, "period": 12, "scaler": "standard"},
        {**BASE, "features": ["y", "x"], "drop": ["Date"], "missing": "ffill"},
        {
            **BASE,
            "task": "classify",
            "features": ["a", "b"],
            "split": {"val": 0.1, "test": 0.1, "method": "stratified"},
            "label_at": "last",
            "class_weight": "balanced",
        },
        {**BASE, "task": "classify", "features": ["a", "y"], "autoregressive": True},
    ],
)
def test_round_trip(raw: dict[str, Any]) -> None:
    s = DataSpec.from_dict(raw, Path("/base"))
    again = DataSpec.from_dict(s.to_dict(), Path("/base"))
    assert again == s
    assert s.to_dict()["csv"] == raw["csv"]


def test_to_dict_omits_classify_keys_for_forecast() -> None:
    out = spec().to_dict()
    assert "label_at" not in out and "class_weight" not in out and "autoregressive" not in out


def test_single_feature_string_is_accepted() -> None:
    assert spec(features="y").features == ("y",)


@pytest.mark.parametrize(
    ("raw", "field", "phrase"),
    [
        (["csv"], "data", "must be a mapping"),
        ({"target": "y"}, "data.csv", "missing required key"),
        ({"csv": "a.csv"}, "data.target", "missing required key"),
        ({**BASE, "targte": "y"}, "data.targte", "did you mean 'target'"),
        ({**BASE, "csv": ""}, "data.csv", "non-empty string"),
        ({**BASE, "csv": 3}, "data.csv", "non-empty string"),
        ({**BASE, "target": None}, "data.target", "non-empty string"),
        ({**BASE, "task": "forcast"}, "data.task", "did you mean 'forecast'"),
        ({**BASE, "features": 3}, "data.features", "list of column names"),
        ({**BASE, "features": []}, "data.features", "at least one column"),
        ({**BASE, "features": ["a", 1]}, "data.features", "item 1"),
        ({**BASE, "features": ["a", "a"]}, "data.features", "listed twice"),
        ({**BASE, "drop": ["y"]}, "data.drop", "cannot be dropped"),
        ({**BASE, "features": ["y", "x"], "drop": ["x"]}, "data.drop", "both"),
        ({**BASE, "split": 0.2}, "data.split", "must be a mapping"),
        ({**BASE, "split": {"vall": 0.1}}, "data.split.vall", "did you mean 'val'"),
        ({**BASE, "split": {"val": 0}}, "data.split.val", "between 0 and 1"),
        ({**BASE, "split": {"val": 1.2}}, "data.split.val", "between 0 and 1"),
        ({**BASE, "split": {"val": "0.1"}}, "data.split.val", "number"),
        ({**BASE, "split": {"val": True}}, "data.split.val", "number"),
        ({**BASE, "split": {"test": -0.1}}, "data.split.test", "between 0 and 1"),
        ({**BASE, "split": {"val": 0.5, "test": 0.5}}, "data.split", "0.5 + 0.5 >= 1"),
        ({**BASE, "split": {"method": "random"}}, "data.split.method", "expected one of"),
        (
            {**BASE, "split": {"method": "stratified"}},
            "data.split.method",
            "only to task: classify",
        ),
        ({**BASE, "scaler": "min-max"}, "data.scaler", "did you mean 'minmax'"),
        ({**BASE, "period": 1}, "data.period", "at least 2"),
        ({**BASE, "period": 12.0}, "data.period", "integer"),
        ({**BASE, "period": True}, "data.period", "integer"),
        ({**BASE, "label_at": "last"}, "data.label_at", "only to task: classify"),
        ({**BASE, "class_weight": "balanced"}, "data.class_weight", "only to task: classify"),
        ({**BASE, "autoregressive": True}, "data.autoregressive", "only to task: classify"),
        ({**BASE, "task": "classify", "label_at": "first"}, "data.label_at", "expected one of"),
        ({**BASE, "task": "classify", "class_weight": "auto"}, "data.class_weight", "expected"),
        ({**BASE, "task": "classify", "autoregressive": "yes"}, "data.autoregressive", "true or"),
        ({**BASE, "missing": "fill"}, "data.missing", "did you mean 'ffill'"),
        (
            {**BASE, "task": "classify", "features": ["a", "y"]},
            "data.features",
            "the target 'y' is an input feature",
        ),
        (
            {**BASE, "task": "classify", "autoregressive": True, "label_at": "last"},
            "data.autoregressive",
            "holds the label itself",
        ),
    ],
)
def test_refused(raw: Any, field: str, phrase: str) -> None:
    refused(raw, field, phrase)


def test_custom_field_prefix() -> None:
    with pytest.raises(UserError) as info:
        DataSpec.from_dict({"csv": "a.csv", "target": "y", "scaler": "x"}, Path("."), "spec.data")
    assert info.value.field == "spec.data.scaler"
