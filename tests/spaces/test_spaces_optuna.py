"""The Optuna adapter: inclusive bounds, step grids, conditional per-expansions."""

from __future__ import annotations

import math
from typing import Any

import optuna
import pytest

from seqtune.spaces import SearchSpace, suggest_optuna

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
    "window": 12,
    "drop": {"float": [0.0, 0.2], "step": 0.05, "per": "layers"},
}


@pytest.fixture(autouse=True)
def _quiet() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)


def run(space: SearchSpace, n_trials: int = 300) -> list[dict[str, Any]]:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    draws = []
    for _ in range(n_trials):
        trial = study.ask()
        values = suggest_optuna(trial, space)
        study.tell(trial, float(len(values)))
        draws.append(values)
    return draws


def test_random_sampler_covers_the_space_exactly() -> None:
    space = SearchSpace.from_dict(RAW)
    draws = run(space)
    seen: dict[str, set[Any]] = {}
    for values in draws:
        space.validate_values(values)
        k = values["layers"]
        for i in range(4):
            assert (f"units_{i}" in values) == (i < k)
            assert (f"drop_{i}" in values) == (i < k)
        assert values["window"] == 12
        for name, value in values.items():
            seen.setdefault(name, set()).add(value)
    assert seen["small"] == {1, 2, 3}
    assert seen["layers"] == {0, 1, 2, 3}
    assert seen["units_0"] == {32, 64, 96, 128}
    assert seen["rate"] == {0.1, 0.2, 0.3, 0.4, 0.5}  # exactly, not 0.30000000000000004
    assert seen["tenth"] == {0.0, 0.1, 0.2, 0.3}
    assert seen["drop_0"] == {0.0, 0.05, 0.1, 0.15, 0.2}
    assert seen["batch"] == {2, 3, 4, 5}
    assert seen["act"] == {"relu", "tanh", "elu"}
    assert seen["flag"] == {True, False}
    assert all(type(v) is bool for v in seen["flag"])
    assert all(1.0e-4 <= v <= 1.0e-1 for v in seen["lr"])
    logs = sorted(math.log10(v) for v in seen["lr"])
    assert logs[0] < -3.5 and logs[-1] > -1.5  # spread on the log scale
    assert all(type(v) is int for v in seen["small"] | seen["units_0"] | seen["batch"])
    assert all(type(v) is float for v in seen["rate"] | seen["lr"])


def test_optuna_sees_concrete_conditional_names() -> None:
    space = SearchSpace.from_dict(RAW)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(30):
        trial = study.ask()
        values = suggest_optuna(trial, space)
        study.tell(trial, 0.0)
        params = study.trials[-1].params
        assert set(params) == set(values) - {"window"}
        assert "units" not in params
        for name, value in params.items():
            if name in ("rate",) or name.startswith("drop_"):
                assert math.isclose(value, values[name], abs_tol=1e-12)
            else:
                assert value == values[name]


def test_fixed_parent_and_fixed_space() -> None:
    space = SearchSpace.from_dict({"layers": 2, "units": {"int": [1, 2], "per": "layers"}})
    for values in run(space, 20):
        assert set(values) == {"layers", "units_0", "units_1"}
    best = space.fixed({"layers": 2, "units_0": 1, "units_1": 2})
    study = optuna.create_study()
    trial = study.ask()
    assert suggest_optuna(trial, best) == {"layers": 2, "units_0": 1, "units_1": 2}
    assert trial.params == {}
