"""Every bad ``space:`` input raises UserError at the right field with a clear message."""

from __future__ import annotations

from typing import Any

import pytest

from seqtune.errors import UserError
from seqtune.spaces import Choice, Fixed, Float, Int, SearchSpace

CASES: list[tuple[str, dict[str, Any], str, str]] = [
    # (id, raw space, field, phrase in message)
    (
        "unknown key",
        {"u": {"int": [1, 3], "stepp": 2}},
        "space.u",
        "'stepp' (did you mean 'step'?)",
    ),
    (
        "unknown key for kind",
        {"u": {"choice": [1, 2], "log": True}},
        "space.u",
        "unknown key 'log'",
    ),
    ("typo kind", {"u": {"flaot": [1, 3]}}, "space.u", "did you mean 'float'?"),
    ("no kind", {"u": {"step": 2}}, "space.u", "exactly one of int, float, choice, fixed"),
    ("two kinds", {"u": {"int": [1, 3], "float": [1, 3]}}, "space.u", "got int, float"),
    ("bounds not list", {"u": {"int": 5}}, "space.u", "exactly 2 numbers [low, high], got 5"),
    ("bounds three", {"u": {"float": [1, 2, 3]}}, "space.u", "got [1, 2, 3]"),
    ("bounds str", {"u": {"float": ["a", 1.0]}}, "space.u", "must be numbers, got low 'a'"),
    ("bounds yaml 1e-5", {"u": {"float": ["1e-5", 1.0]}}, "space.u", "'1e-5' is a string"),
    ("bounds bool", {"u": {"float": [True, 2.0]}}, "space.u", "got low True"),
    (
        "int bound float",
        {"u": {"int": [1.5, 3]}},
        "space.u",
        "int bounds must be integers, got low 1.5",
    ),
    ("int bound bool", {"u": {"int": [0, True]}}, "space.u", "got high True"),
    ("int low > high", {"u": {"int": [5, 1]}}, "space.u", "low 5 is greater than high 1"),
    (
        "float low > high",
        {"u": {"float": [0.5, 0.1]}},
        "space.u",
        "low 0.5 is greater than high 0.1",
    ),
    ("int step str", {"u": {"int": [1, 3], "step": "2"}}, "space.u", "integer >= 1, got '2'"),
    ("int step zero", {"u": {"int": [1, 3], "step": 0}}, "space.u", "got 0"),
    ("int step float", {"u": {"int": [1, 3], "step": 1.0}}, "space.u", "got 1.0"),
    (
        "int step divide",
        {"u": {"int": [32, 130], "step": 32}},
        "space.u",
        "step 32 does not divide the range 32..130",
    ),
    (
        "int step > range",
        {"u": {"int": [1, 3], "step": 4}},
        "space.u",
        "step 4 is larger than the range 1..3",
    ),
    (
        "float step neg",
        {"u": {"float": [0.0, 1.0], "step": -0.1}},
        "space.u",
        "number > 0, got -0.1",
    ),
    (
        "float step bool",
        {"u": {"float": [0.0, 1.0], "step": True}},
        "space.u",
        "number > 0, got True",
    ),
    (
        "float step divide",
        {"u": {"float": [0.1, 0.5], "step": 0.3}},
        "space.u",
        "step 0.3 does not divide the range 0.1..0.5",
    ),
    (
        "float step > range",
        {"u": {"float": [0.1, 0.5], "step": 0.5}},
        "space.u",
        "step 0.5 is larger than the range 0.1..0.5",
    ),
    (
        "int log step",
        {"u": {"int": [1, 64], "step": 2, "log": True}},
        "space.u",
        "log and step cannot be combined",
    ),
    (
        "int log step 1",
        {"u": {"int": [1, 64], "step": 1, "log": True}},
        "space.u",
        "log and step cannot be combined",
    ),
    (
        "float log step",
        {"u": {"float": [0.1, 0.5], "step": 0.1, "log": True}},
        "space.u",
        "log and step cannot be combined",
    ),
    (
        "int log zero",
        {"u": {"int": [0, 8], "log": True}},
        "space.u",
        "log needs low > 0, got low 0",
    ),
    ("float log neg", {"u": {"float": [-1.0, 1.0], "log": True}}, "space.u", "got low -1.0"),
    (
        "log not bool",
        {"u": {"float": [1.0, 2.0], "log": "yes"}},
        "space.u",
        "log must be true or false, got 'yes'",
    ),
    ("empty choice", {"u": {"choice": []}}, "space.u", "at least one value"),
    ("choice not list", {"u": {"choice": "relu"}}, "space.u", "list of values, got 'relu'"),
    ("duplicate choice", {"u": {"choice": ["a", "b", "a"]}}, "space.u", "duplicate choice 'a'"),
    ("duplicate promoted", {"u": {"choice": [1, 1.0]}}, "space.u", "duplicate choice 1.0"),
    ("choice None", {"u": {"choice": ["a", None]}}, "space.u", "int, float, str or bool, got None"),
    ("choice list", {"u": {"choice": [[1, 2], [3]]}}, "space.u", "got [1, 2]"),
    ("choice dict", {"u": {"choice": [{"a": 1}]}}, "space.u", "got {'a': 1}"),
    (
        "choice mix str",
        {"u": {"choice": [1, "a"]}},
        "space.u",
        "choices mix types: 1 (int) and 'a'",
    ),
    ("choice mix bool", {"u": {"choice": [True, 1]}}, "space.u", "True (bool) and 1 (int)"),
    ("fixed None", {"u": None}, "space.u", "got None"),
    ("fixed list", {"u": [1, 2]}, "space.u", "{choice: [1, 2]}"),
    ("fixed mapping list", {"u": {"fixed": [1]}}, "space.u", "got [1]"),
    (
        "per missing",
        {"u": {"int": [1, 3], "per": "layers"}, "layer": 2},
        "space.u",
        "per 'layers' is not a parameter of the space (did you mean 'layer'?)",
    ),
    ("per self", {"u": {"int": [1, 3], "per": "u"}}, "space.u", "names the parameter itself"),
    (
        "per float parent",
        {"n": {"float": [0.0, 3.0]}, "u": {"int": [1, 3], "per": "n"}},
        "space.u",
        "per parent 'n' must be an int parameter, got a float parameter",
    ),
    (
        "per choice parent",
        {"n": {"choice": [1, 2]}, "u": {"int": [1, 3], "per": "n"}},
        "space.u",
        "got a choice parameter",
    ),
    (
        "per fixed str parent",
        {"n": "two", "u": {"int": [1, 3], "per": "n"}},
        "space.u",
        "got fixed value 'two'",
    ),
    (
        "per fixed neg parent",
        {"n": -1, "u": {"int": [1, 3], "per": "n"}},
        "space.u",
        "fixed at -1, outside 0..64",
    ),
    (
        "per parent low < 0",
        {"n": {"int": [-1, 3]}, "u": {"int": [1, 3], "per": "n"}},
        "space.u",
        "must have low >= 0, got -1",
    ),
    (
        "per parent high > 64",
        {"n": {"int": [0, 65]}, "u": {"int": [1, 3], "per": "n"}},
        "space.u",
        "has high 65, more than the maximum of 64",
    ),
    (
        "per chain",
        {"n": 2, "m": {"int": [0, 3], "per": "n"}, "u": {"int": [1, 3], "per": "m"}},
        "space.u",
        "per parent 'm' is itself expanded per 'n'; chains of per are not allowed",
    ),
    ("per not str", {"n": 2, "u": {"int": [1, 3], "per": 3}}, "space.u", "got 3"),
    ("bad name", {"1abc": 3}, "space.1abc", "'1abc' is not a valid parameter name"),
    ("bad name dash", {"my-units": {"int": [1, 3]}}, "space.my-units", "'my-units'"),
    ("name not str", {3: 4}, "space.3", "3 is not a valid parameter name"),
    (
        "expansion collision",
        {"n": 2, "dense_units": {"int": [1, 3], "per": "n"}, "dense_units_0": 5},
        "space.dense_units_0",
        "'dense_units_0' collides with the expansion",
    ),
]


@pytest.mark.parametrize(
    ("raw", "field", "phrase"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_space_raises_user_error(raw: dict[str, Any], field: str, phrase: str) -> None:
    with pytest.raises(UserError) as info:
        SearchSpace.from_dict(raw)
    assert info.value.field == field
    assert phrase in info.value.message
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("raw", [[1, 2], "x", 3, None])
def test_space_must_be_a_mapping(raw: Any) -> None:
    with pytest.raises(UserError) as info:
        SearchSpace.from_dict(raw)
    assert info.value.field == "space"
    assert "must be a mapping" in info.value.message


def test_field_prefix_is_used_everywhere() -> None:
    with pytest.raises(UserError) as info:
        SearchSpace.from_dict({"u": {"int": [5, 1]}}, field="study.space")
    assert info.value.field == "study.space.u"
    with pytest.raises(UserError) as info:
        SearchSpace.from_dict({"u": {"int": [1, 3], "per": "x"}}, field="study.space")
    assert info.value.field == "study.space.u"
    with pytest.raises(UserError) as info:
        SearchSpace.from_dict([], field="study.space")
    assert info.value.field == "study.space"


def test_empty_space_is_allowed() -> None:
    space = SearchSpace.from_dict({})
    assert space.names == []
    assert space.sample(lambda d: pytest.fail("nothing to draw")) == {}
    assert space.expanded() == []


def test_constructors_validate_too() -> None:
    with pytest.raises(UserError, match="step 32 does not divide"):
        Int("u", 32, 130, step=32)
    with pytest.raises(UserError, match="log and step"):
        Float("lr", 0.1, 1.0, step=0.1, log=True)
    with pytest.raises(UserError, match="duplicate"):
        Choice("a", ("x", "x"))
    with pytest.raises(UserError, match="not a valid parameter name"):
        Fixed("a b", 1)
    with pytest.raises(UserError) as info:
        SearchSpace([Int("u", 1, 3), Int("u", 1, 4)])
    assert info.value.field == "space.u"
    assert "declared twice" in info.value.message


def test_float_step_tolerance() -> None:
    # (1.0 - 0.0) / 0.1 is 10.000000000000002 in binary; accepted within 1e-9.
    assert Float("x", 0.0, 1.0, step=0.1).size == 11
    assert Float("x", 0.0, 0.3, step=0.1).size == 4
    with pytest.raises(UserError, match="does not divide"):
        Float("x", 0.0, 1.0, step=0.1 + 1e-6)


def test_a_stepped_range_of_one_point_is_fine() -> None:
    assert Int("x", 4, 4, step=8).grid() == [4]
    assert Float("x", 0.5, 0.5, step=0.25).grid() == [0.5]
