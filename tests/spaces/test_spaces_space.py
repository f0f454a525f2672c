"""SearchSpace: round trips, per-expansion, sampling, value checks, queries, fixing."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

import seqtune.spaces
from seqtune.errors import UserError
from seqtune.spaces import (
    Choice,
    Domain,
    Fixed,
    Float,
    Int,
    SearchSpace,
    canonical_float,
)

RAW: dict[str, Any] = {
    "num_hidden_layers": {"int": [0, 3]},
    "dense_units": {"int": [32, 128], "step": 32, "per": "num_hidden_layers"},
    "dropout": {"float": [0.0, 0.5], "step": 0.1, "per": "num_hidden_layers"},
    "lr": {"float": [1.0e-5, 0.1], "log": True},
    "batch": {"int": [8, 256], "log": True},
    "momentum": {"float": [0.0, 1.0]},
    "activation": {"choice": ["relu", "tanh"]},
    "scale": {"choice": [1, 2.5]},
    "shuffle": {"choice": [True, False]},
    "window": 24,
    "loss": "mse",
    "tie": {"fixed": 0.5, "per": "num_hidden_layers"},
    "two": 2,
    "head": {"choice": ["a", "b"], "per": "two"},
}


def random_draw(rng: random.Random) -> Any:
    """A backend that draws uniformly, adding binary noise to stepped floats."""

    def draw(domain: Domain) -> Any:
        if isinstance(domain, Int):
            return rng.choice(domain.grid())
        if isinstance(domain, Float):
            if domain.step is None:
                return rng.uniform(domain.low, domain.high)
            return domain.low + rng.randrange(domain.size or 1) * domain.step
        assert isinstance(domain, Choice)
        return rng.choice(domain.choices)

    return draw


def test_round_trip_dict_json_yaml() -> None:
    space = SearchSpace.from_dict(RAW)
    assert SearchSpace.from_dict(space.to_dict()) == space
    assert SearchSpace.from_dict(json.loads(json.dumps(space.to_dict()))) == space
    assert SearchSpace.from_dict(yaml.safe_load(yaml.safe_dump(space.to_dict()))) == space
    unsorted = yaml.safe_dump(space.to_dict(), sort_keys=False)
    assert SearchSpace.from_dict(yaml.safe_load(unsorted)).names == space.names
    assert space.to_dict()["window"] == 24
    assert space.to_dict()["tie"] == {"fixed": 0.5, "per": "num_hidden_layers"}
    assert space.to_dict()["scale"] == {"choice": [1.0, 2.5]}
    assert space.to_dict()["num_hidden_layers"] == {"int": [0, 3]}  # defaults omitted


def test_round_trip_from_yaml_text() -> None:
    text = """
space:
  units: {int: [32, 128], step: 32, per: layers}
  layers: {int: [1, 3]}
  lr: {float: [1.0e-4, 1.0e-2], log: true}
  act: {choice: [relu, tanh]}
  rate: {fixed: 0.25}
"""
    space = SearchSpace.from_dict(yaml.safe_load(text)["space"])
    assert space.names == ["units", "layers", "lr", "act", "rate"]
    assert space["rate"] == Fixed("rate", 0.25)
    assert space.to_dict()["rate"] == 0.25
    assert SearchSpace.from_dict(yaml.safe_load(yaml.safe_dump(space.to_dict()))) == space


def test_equality_ignores_order_but_not_domains() -> None:
    a = SearchSpace.from_dict({"x": 1, "y": 2})
    assert a == SearchSpace.from_dict({"x": 1, "y": 2})
    assert a == SearchSpace.from_dict({"y": 2, "x": 1})
    assert SearchSpace.from_dict({"y": 2, "x": 1}).names == ["y", "x"]
    assert a != SearchSpace.from_dict({"x": 1, "y": 3})
    assert "x" in a and "z" not in a
    assert isinstance(a["x"], Fixed)


def test_float_bounds_given_as_ints_round_trip() -> None:
    space = SearchSpace.from_dict({"x": {"float": [0, 1], "step": 1}})
    assert space["x"] == Float("x", 0.0, 1.0, step=1.0)
    assert space.to_dict() == {"x": {"float": [0.0, 1.0], "step": 1.0}}
    assert SearchSpace.from_dict(space.to_dict()) == space


def test_renamed_drops_per() -> None:
    domain = Int("units", 32, 128, step=32, per="layers")
    assert domain.renamed("units_0") == Int("units_0", 32, 128, step=32)


def test_sample_visits_parent_before_children_and_only_active() -> None:
    space = SearchSpace.from_dict(
        {"units": {"int": [1, 4], "per": "layers"}, "layers": {"int": [0, 3]}, "lr": 0.1}
    )
    for layers in range(4):
        seen: list[str] = []

        def draw(domain: Domain, layers: int = layers, seen: list[str] = seen) -> Any:
            seen.append(domain.name)
            return layers if domain.name == "layers" else 2

        values = space.sample(draw)
        expected = ["layers"] + [f"units_{i}" for i in range(layers)]
        assert seen == expected
        assert list(values) == [*expected, "lr"]
        assert values["lr"] == 0.1
        space.validate_values(values)


def test_sample_with_fixed_parent_is_fixed_size() -> None:
    space = SearchSpace.from_dict({"layers": 2, "units": {"int": [1, 4], "per": "layers"}})
    values = space.sample(lambda d: 3)
    assert values == {"layers": 2, "units_0": 3, "units_1": 3}
    assert [(d.name, p, m) for d, p, m in space.expanded()] == [
        ("layers", None, 0),
        ("units_0", "layers", 1),
        ("units_1", "layers", 2),
    ]


def test_sample_parent_zero_gives_no_children() -> None:
    space = SearchSpace.from_dict({"layers": 0, "units": {"int": [1, 4], "per": "layers"}})
    assert space.sample(lambda d: pytest.fail("nothing to draw")) == {"layers": 0}
    assert [d.name for d, _, _ in space.expanded()] == ["layers"]


def test_per_presence_matches_parent_value() -> None:
    space = SearchSpace.from_dict(RAW)
    rng = random.Random(0)
    counts = set()
    for _ in range(200):
        values = space.sample(random_draw(rng))
        k = values["num_hidden_layers"]
        counts.add(k)
        for i in range(4):
            assert (f"dense_units_{i}" in values) == (i < k)
            assert (f"dropout_{i}" in values) == (i < k)
            assert (f"tie_{i}" in values) == (i < k)
        assert values["head_0"] in ("a", "b") and values["head_1"] in ("a", "b")
        assert "head_2" not in values
        assert "dense_units" not in values
        space.validate_values(values)
    assert counts == {0, 1, 2, 3}


def test_expanded_lists_every_concrete_parameter() -> None:
    space = SearchSpace.from_dict(RAW)
    rows = {d.name: (p, m) for d, p, m in space.expanded()}
    assert rows["num_hidden_layers"] == (None, 0)
    assert rows["dense_units_0"] == ("num_hidden_layers", 1)
    assert rows["dense_units_2"] == ("num_hidden_layers", 3)
    assert "dense_units_3" not in rows
    assert rows["head_1"] == ("two", 2)
    assert all(d.per is None for d, _, _ in space.expanded())


def test_stepped_floats_are_canonical() -> None:
    space = SearchSpace.from_dict({"x": {"float": [0.1, 0.5], "step": 0.1}})
    assert space.sample(lambda d: 0.1 + 0.2) == {"x": 0.3}
    assert space.sample(lambda d: 0.1 + 4 * 0.1) == {"x": 0.5}
    assert space.values_of("x") == [0.1, 0.2, 0.3, 0.4, 0.5]
    assert canonical_float(0.30000000000000004, 0.1, 0.1) == 0.3
    assert canonical_float(2e-05 + 1e-05, 1e-05, 1e-05) == 3e-05
    assert canonical_float(7.5, 0.0, 2.5) == 7.5


def test_contains() -> None:
    assert Int("x", 32, 128, step=32).contains(96)
    assert not Int("x", 32, 128, step=32).contains(100)
    assert not Int("x", 32, 128, step=32).contains(160)
    assert not Int("x", 0, 3).contains(True)
    assert not Int("x", 0, 3).contains(1.0)
    stepped = Float("x", 0.1, 0.5, step=0.1)
    assert stepped.contains(0.1) and stepped.contains(0.5) and stepped.contains(0.1 + 0.2)
    assert not stepped.contains(0.25) and not stepped.contains(0.6)
    assert Float("x", 0.0, 1.0).contains(1) and not Float("x", 0.0, 1.0).contains(1.01)
    assert not Float("x", 0.0, 1.0).contains(False)
    assert Choice("x", (True, False)).contains(True) and not Choice("x", (True,)).contains(1)
    assert Choice("x", (1, 2.5)).contains(1) and not Choice("x", ("1",)).contains(1)
    assert Fixed("x", 3).contains(3) and not Fixed("x", 3).contains("3")


def test_validate_values_errors() -> None:
    space = SearchSpace.from_dict(RAW)
    good = space.sample(random_draw(random.Random(1)))
    space.validate_values(good)

    def error(values: Any) -> UserError:
        with pytest.raises(UserError) as info:
            space.validate_values(values, field="trial")
        return info.value

    bad = dict(good, lr=1.0)
    assert error(bad).field == "trial.lr" and "value 1.0 is outside" in error(bad).message
    missing = {k: v for k, v in good.items() if k != "activation"}
    assert error(missing).field == "trial.activation" and "missing" in error(missing).message
    extra = dict(good, lrr=0.1)
    assert error(extra).field == "trial.lrr" and "did you mean 'lr'" in error(extra).message
    k = good["num_hidden_layers"]
    inactive = dict(good, **{f"dense_units_{k}": 32})
    err = error(inactive)
    assert err.field == f"trial.dense_units_{k}" and "is not active" in err.message
    template = dict(good, dense_units=32)
    assert "give dense_units_0" in error(template).message
    assert error(dict(good, window=25)).field == "trial.window"
    assert error([1]).field == "trial"


def test_validate_values_parent_zero_and_off_grid() -> None:
    space = SearchSpace.from_dict(
        {"n": {"int": [0, 2]}, "u": {"int": [32, 64], "step": 32, "per": "n"}}
    )
    space.validate_values({"n": 0})
    space.validate_values({"n": 1, "u_0": 64})
    with pytest.raises(UserError, match="value 48 is outside"):
        space.validate_values({"n": 1, "u_0": 48})
    with pytest.raises(UserError) as info:
        space.validate_values({"n": 2, "u_0": 32})
    assert info.value.field == "params.u_1"


def test_max_value_and_values_of() -> None:
    space = SearchSpace.from_dict(RAW)
    assert space.max_value("num_hidden_layers") == 3
    assert space.max_value("dense_units") == 128
    assert space.max_value("lr") == 0.1
    assert space.max_value("scale") == 2.5
    assert space.max_value("activation") is None
    assert space.max_value("shuffle") is None
    assert space.max_value("window") == 24
    assert space.max_value("loss") is None
    with pytest.raises(KeyError):
        space.max_value("dense_units_0")
    assert space.values_of("dense_units") == [32, 64, 96, 128]
    assert space.values_of("batch") == list(range(8, 257))
    assert space.values_of("dropout") == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
    assert space.values_of("lr") is None
    assert space.values_of("momentum") is None
    assert space.values_of("activation") == ["relu", "tanh"]
    assert space.values_of("loss") == ["mse"]
    big = SearchSpace.from_dict({"x": {"int": [0, 1000]}, "y": {"int": [0, 999]}})
    assert big.values_of("x") is None
    assert big.values_of("y") == list(range(1000))
    with pytest.raises(KeyError):
        space.values_of("nope")


def test_fixed_exports_a_best_trial() -> None:
    space = SearchSpace.from_dict(RAW)
    rng = random.Random(3)
    for _ in range(20):
        values = space.sample(random_draw(rng))
        best = space.fixed(values)
        assert all(isinstance(best[name], Fixed) for name in best.names)
        assert best.sample(lambda d: pytest.fail("all fixed")) == values
        again = SearchSpace.from_dict(yaml.safe_load(yaml.safe_dump(best.to_dict())))
        assert again == best
        assert set(best.names) == set(values)


def test_fixed_partially() -> None:
    space = SearchSpace.from_dict(RAW)
    part = space.fixed({"num_hidden_layers": 2, "lr": 0.01, "dropout": 0.2})
    assert part["num_hidden_layers"] == Fixed("num_hidden_layers", 2)
    assert part["dense_units"] == space["dense_units"]  # still searched, now 2 copies
    assert part["dropout"] == Fixed("dropout", 0.2, per="num_hidden_layers")
    values = part.sample(random_draw(random.Random(0)))
    assert values["dropout_0"] == values["dropout_1"] == 0.2
    assert "dense_units_1" in values and "dense_units_2" not in values


def test_fixed_errors() -> None:
    space = SearchSpace.from_dict(RAW)

    def error(values: dict[str, Any]) -> UserError:
        with pytest.raises(UserError) as info:
            space.fixed(values)
        return info.value

    assert error({"lrr": 0.1}).field == "params.lrr"
    assert "did you mean 'lr'" in error({"lrr": 0.1}).message
    assert "outside" in error({"lr": 5.0}).message
    assert "outside" in error({"dense_units_0": 33}).message
    err = error({"dense_units_0": 32})
    assert err.field == "params.dense_units_0" and "parent num_hidden_layers is not" in err.message
    err = error({"num_hidden_layers": 2, "dense_units_0": 32})
    assert err.field == "params.dense_units_1" and "missing" in err.message
    err = error({"num_hidden_layers": 1, "dense_units_0": 32, "dense_units_1": 64})
    assert err.field == "params.dense_units_1" and "not active" in err.message
    err = error({"num_hidden_layers": 1, "dense_units_0": 32, "dense_units": 64})
    assert "not both" in err.message


def test_import_is_light() -> None:
    code = (
        "import sys, seqtune.spaces; "
        "heavy = {'optuna', 'keras_tuner', 'tensorflow', 'keras'} & set(sys.modules); "
        "assert not heavy, heavy"
    )
    src = str(Path(seqtune.spaces.__file__).parents[2])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]))
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
