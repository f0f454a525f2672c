"""Initial weights replayed from a recipe (``seqtune.models.initial``) equal, bit for bit,
the weights of real seeded builds; a build the recipe cannot replay is refused (``None``),
never replayed wrongly."""

from __future__ import annotations

import random
from typing import Any

import keras
import numpy as np
import pytest

from seqtune.models.builders import build_model
from seqtune.models.engine import seed_keras
from seqtune.models.initial import initial_of, recipe_for, recipe_of

SHAPES = {"look_back": 5, "n_features": 3}
CASES = [  # every kind, layout and head the builder makes, with and without dropout
    ("lstm", "timesteps", {"units": 7, "dropout": 0.2, "num_hidden_layers": 2}, "linear", 1),
    ("lstm", "window", {"units": 4, "num_hidden_layers": 0}, "linear", 6),
    ("lstm", "timesteps", {"units": 5, "num_hidden_layers": 1, "dense_dropout": 0.3}, "sigmoid", 1),
    ("mlp", "timesteps", {"num_hidden_layers": 2, "dense_units": 9, "dropout": 0.1}, "softmax", 4),
    ("mlp", "window", {"num_hidden_layers": 1, "dense_activation": "tanh"}, "linear", 1),
    ("mlp", "timesteps", {"num_hidden_layers": 0}, "linear", 2),
]


def builder(kind: str, layout: str, values: dict[str, Any], head: str, n_out: int) -> Any:
    return lambda: build_model(kind, layout, values, head=head, n_outputs=n_out, **SHAPES)


@pytest.mark.parametrize(("kind", "layout", "values", "head", "n_out"), CASES)
def test_replayed_weights_equal_seeded_builds(
    kind: str, layout: str, values: dict[str, Any], head: str, n_out: int
) -> None:
    build = builder(kind, layout, values, head, n_out)
    _, recipe = recipe_of(build)
    assert recipe is not None
    for seed in (0, 3, 2**31 - 2):
        for builds in (1, 3):  # the folds of one seed are built one after the other
            replayed = recipe.initial(seed, builds)
            after_replay = random.getstate()
            seed_keras(seed)
            models = [build() for _ in range(builds)]
            assert random.getstate() == after_replay  # leaves random where builds would
            for got, model in zip(replayed, models, strict=True):
                want = initial_of(model)
                assert len(got.weights) == len(want.weights)
                for a, b in zip(got.weights, want.weights, strict=True):
                    assert a.dtype == b.dtype
                    np.testing.assert_array_equal(a, b)
                assert len(got.seed_states) == len(want.seed_states)
                for a, b in zip(got.seed_states, want.seed_states, strict=True):
                    np.testing.assert_array_equal(a, b)


def test_reading_a_recipe_leaves_random_as_it_was() -> None:
    random.seed(42)
    before = random.getstate()
    recipe_of(builder(*CASES[0]))
    assert random.getstate() == before


def test_a_build_drawing_other_numbers_is_not_replayed() -> None:
    def draws_more() -> keras.Model:
        random.random()  # not one of Keras' seed draws
        return builder(*CASES[0])()

    assert recipe_of(draws_more)[1] is None


def test_weights_from_elsewhere_are_not_replayed() -> None:
    def numpy_weights() -> keras.Model:
        model = builder(*CASES[4])()
        rng = np.random.default_rng(0)
        model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.weights])
        return model

    assert recipe_of(numpy_weights)[1] is None


def test_recipes_are_kept_per_key() -> None:
    calls = []

    def build() -> keras.Model:
        calls.append(1)
        return builder(*CASES[4])()

    first = recipe_for(("test-key",), build)
    again = recipe_for(("test-key",), build)
    assert again is first and len(calls) == 1
