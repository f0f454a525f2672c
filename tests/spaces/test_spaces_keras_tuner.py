"""The keras-tuner adapter: registration, conditions, inclusive bounds under random sampling.

Importing keras_tuner loads TensorFlow (a few seconds), so all keras-tuner tests live here.
Sampling goes through ``RandomSearchOracle.populate_space``, the path RandomSearch and
Hyperband use, and the values are read back as a tuner's model build would: on a copy of
the oracle's ``HyperParameters`` holding the populated values.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from seqtune.spaces import SearchSpace, declare_keras_tuner

kt = pytest.importorskip("keras_tuner")

RAW: dict[str, Any] = {
    "small": {"int": [1, 3]},
    "units": {"int": [32, 128], "step": 32, "per": "layers"},
    "layers": {"int": [0, 3]},
    "rate": {"float": [0.1, 0.5], "step": 0.1},
    "tenth": {"float": [0.0, 0.3], "step": 0.1},  # 0.3 // 0.1 == 2.0 in binary floats
    "lr": {"float": [1.0e-4, 1.0e-1], "log": True},
    "batch": {"int": [2, 5], "log": True},
    "act": {"choice": ["relu", "tanh", "elu"]},
    "flag": {"choice": [True, False]},
    "scale": {"choice": [1, 2.5]},
    "window": 12,
    "drop": {"float": [0.0, 0.2], "step": 0.05, "per": "layers"},
    "two": 2,
    "head": {"choice": ["a", "b"], "per": "two"},
}


def sample_many(space: SearchSpace, rounds: int, seed: int = 0) -> list[dict[str, Any]]:
    base = kt.HyperParameters()
    declare_keras_tuner(base, space)
    oracle = kt.oracles.RandomSearchOracle(
        objective=kt.Objective("loss", "min"),
        max_trials=10 * rounds,
        seed=seed,
        hyperparameters=base,
    )
    draws = []
    for i in range(rounds):
        populated = oracle.populate_space(str(i))
        assert populated["values"] is not None
        hp = base.copy()
        hp.values = dict(populated["values"])
        draws.append(declare_keras_tuner(hp, space))
        assert len(hp.space) == len(base.space)  # nothing registered twice
    return draws


def test_registration_and_conditions() -> None:
    space = SearchSpace.from_dict(RAW)
    hp = kt.HyperParameters()
    values = declare_keras_tuner(hp, space)
    registered = {p.name: p for p in hp.space}
    assert set(registered) == {d.name for d, _, _ in space.expanded()}
    assert set(registered) >= {"units_0", "units_2", "drop_2", "window", "head_1"}
    assert "units_3" not in registered and "units" not in registered
    conditions = registered["units_2"].conditions
    assert len(conditions) == 1
    assert conditions[0].name == "layers" and conditions[0].values == [3]
    assert registered["units_0"].conditions[0].values == [1, 2, 3]
    assert registered["head_1"].conditions == []  # fixed parent: fixed-size expansion
    assert isinstance(registered["window"], kt.engine.hyperparameters.Fixed)
    assert registered["batch"].sampling == "log" and registered["batch"].step is None
    # defaults: every searched int starts at low, layers = 0 so no copies are active
    assert values["layers"] == 0 and "units_0" not in values
    assert values["head_0"] == "a" and values["window"] == 12
    space.validate_values(values)


def test_declaring_twice_is_idempotent() -> None:
    space = SearchSpace.from_dict(RAW)
    hp = kt.HyperParameters()
    first = declare_keras_tuner(hp, space)
    count = len(hp.space)
    assert declare_keras_tuner(hp, space) == first
    assert len(hp.space) == count


def test_random_sampling_covers_the_space_exactly() -> None:
    space = SearchSpace.from_dict(RAW)
    draws = sample_many(space, 400)
    seen: dict[str, set[Any]] = {}
    for values in draws:
        space.validate_values(values)  # on the grid, in bounds, exactly the active names
        k = values["layers"]
        for i in range(4):
            assert (f"units_{i}" in values) == (i < k)
            assert (f"drop_{i}" in values) == (i < k)
        assert values["window"] == 12 and "head_1" in values
        for name, value in values.items():
            seen.setdefault(name, set()).add(value)
    assert seen["small"] == {1, 2, 3}
    assert seen["layers"] == {0, 1, 2, 3}
    assert seen["units_0"] == {32, 64, 96, 128}
    assert seen["units_2"] == {32, 64, 96, 128}
    assert seen["rate"] == {0.1, 0.2, 0.3, 0.4, 0.5}  # both ends, exactly
    assert seen["tenth"] == {0.0, 0.1, 0.2, 0.3}
    assert seen["drop_0"] == {0.0, 0.05, 0.1, 0.15, 0.2}
    assert seen["batch"] == {2, 3, 4, 5}
    assert seen["act"] == {"relu", "tanh", "elu"}
    assert seen["flag"] == {True, False}
    assert all(type(v) is bool for v in seen["flag"])
    assert seen["scale"] == {1.0, 2.5}
    assert all(1.0e-4 <= v <= 1.0e-1 for v in seen["lr"])
    logs = sorted(math.log10(v) for v in seen["lr"])
    assert logs[0] < -3.5 and logs[-1] > -1.5
    assert all(type(v) is int for v in seen["small"] | seen["units_0"] | seen["batch"])


def test_fixed_space_registers_fixed_values() -> None:
    space = SearchSpace.from_dict({"layers": 2, "units": {"int": [1, 2], "per": "layers"}})
    best = space.fixed({"layers": 2, "units_0": 1, "units_1": 2})
    hp = kt.HyperParameters()
    assert declare_keras_tuner(hp, best) == {"layers": 2, "units_0": 1, "units_1": 2}
    assert hp.values == {"layers": 2, "units_0": 1, "units_1": 2}


@pytest.mark.parametrize(
    ("low", "high", "step"),
    [(0.0, 0.3, 0.1), (0.0, 0.15, 0.05), (0.0, 1.0, 0.2), (0.1, 0.5, 0.1), (0.0, 0.03, 0.01)],
)
def test_stepped_float_grid_keeps_its_top(low: float, high: float, step: float) -> None:
    space = SearchSpace.from_dict({"x": {"float": [low, high], "step": step}})
    hp = kt.HyperParameters()
    declare_keras_tuner(hp, space)
    grid = space.values_of("x")
    assert grid is not None
    kt_values = list(hp.space[0].values)
    assert len(kt_values) == len(grid)
    assert [space.sample(lambda d, v=v: v)["x"] for v in kt_values] == grid
