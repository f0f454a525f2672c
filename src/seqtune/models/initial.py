"""Seeded initial weights of K models of one architecture without building K Keras models.

A trial trains K models side by side (folds × repeats, :mod:`seqtune.models.engine`), each
with the initial weights its own seeded build would get. Building a Keras model costs
0.03-0.05 s here (layer objects, variables, the functional graph), so K builds were most of
what a trial with new shapes paid before its first epoch. Only the *numbers* are needed.

How Keras 3 seeds a build: every random initializer and every ``SeedGenerator`` made
without a seed draws one ``random.randint(1, 10**9)`` from Python's ``random`` when it is
constructed, and later draws its weights with stateless ops from that integer. So the
initial weights of a build are a function of the n draws it consumes. A :class:`Recipe`
is read off one built model (the template): which draw seeded each random weight (and with
which initializer), which weights do not depend on the seed (biases), and which draw
seeded each Dropout layer. :meth:`Recipe.initial` then replays the draws for any seed and
calls the initializers alone.

Guards, each falling back to building the models (``recipe_of`` returns ``None``): the
build must use ``random`` only through such draws (they are recorded, and replaying them
from the build's start must end in the build's end state); every weight must be either
regenerated bit for bit by one of its layer's seeded initializers or hold only zeros and
ones (never a random draw); every Dropout seed must be one of the draws.
``tests/models/test_models_initial.py`` compares :meth:`Recipe.initial` with real builds
(``array_equal``) for every kind, layout, head and layer stack the builder makes, several
seeds and several builds per seed.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

#: What Keras' ``make_default_seed`` draws: ``random.randint(1, int(1e9))``.
_LOW, _HIGH = 1, int(1e9)
#: A build of seqtune's networks draws a few per layer; more means something else draws.
_MAX_DRAWS = 256
#: The seed the template is built with (any: only the positions of the draws are kept).
_TEMPLATE_SEED = 0x5EED


@dataclass(frozen=True)
class Initial:
    """One model's initial state: ``weights`` in ``model.get_weights()`` order, and the
    seed-generator state of each Dropout layer in layer order."""

    weights: list[np.ndarray]
    seed_states: list[np.ndarray]


@dataclass(frozen=True)
class _Random:
    """A weight drawn by ``cls(**config, seed=<draw number `draw`>)(shape)``."""

    cls: type
    config: dict[str, Any]
    draw: int


@dataclass(frozen=True)
class Recipe:
    """How a build of one architecture turns its Python-random draws into weights."""

    draws: int  # randint draws one build consumes
    shapes: tuple[tuple[int, ...], ...]
    weights: tuple[_Random | np.ndarray, ...]  # per weight: drawn, or the fixed array
    dropout_draws: tuple[int, ...]  # per Dropout layer: the draw that seeded it

    def initial(self, seed: int, builds: int = 1) -> list[Initial]:
        """What ``builds`` models built one after the other after seeding Python's
        ``random`` with ``seed`` would start with (what ``seed_keras(seed)`` then
        ``builds`` × ``build_model`` gives). Leaves ``random`` where those builds would."""
        random.seed(seed)
        numbers = [random.randint(_LOW, _HIGH) for _ in range(self.draws * builds)]
        out = []
        for b in range(builds):
            mine = numbers[b * self.draws : (b + 1) * self.draws]
            out.append(self._one(mine))
        return out

    def _one(self, numbers: Sequence[int]) -> Initial:
        weights = []
        for shape, how in zip(self.shapes, self.weights, strict=True):
            if isinstance(how, np.ndarray):
                weights.append(how.copy())
            else:
                init = how.cls.from_config({**how.config, "seed": numbers[how.draw]})
                weights.append(np.asarray(init(shape, dtype="float32")))
        states = [np.array([numbers[d], 0], np.int64) for d in self.dropout_draws]
        return Initial(weights, states)


def initial_of(model: keras.Model) -> Initial:
    """A built model's own initial state (weights and Dropout seed states)."""
    states = [layer.seed_generator.state.numpy() for layer in dropout_layers(model)]
    return Initial(model.get_weights(), states)


def dropout_layers(model: keras.Model) -> list[Any]:
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)]


def recipe_of(build: Callable[[], keras.Model]) -> tuple[keras.Model, Recipe | None]:
    """Build the template (``build()``) and read its recipe: ``(model, recipe)``, the
    recipe ``None`` when a guard fails (see the module docstring). Python's ``random`` is
    left as it was."""
    saved = random.getstate()
    original = random.randint
    calls: list[tuple[int, int, int]] = []

    def recording(a: int, b: int) -> int:
        value = original(a, b)
        calls.append((a, b, value))
        return value

    try:
        random.seed(_TEMPLATE_SEED)
        start = random.getstate()
        random.randint = recording  # Keras draws through the module's attribute
        try:
            model = build()
        finally:
            random.randint = original
        end = random.getstate()
        if len(calls) > _MAX_DRAWS or any((a, b) != (_LOW, _HIGH) for a, b, _ in calls):
            return model, None
        # replaying exactly those draws must end where the build ended: any other use of
        # ``random`` in the build (which would shift the draws of another seed) fails here
        random.setstate(start)
        numbers = [random.randint(_LOW, _HIGH) for _ in calls]
        if random.getstate() != end or numbers != [v for _, _, v in calls]:
            return model, None
        return model, _read(model, numbers)
    finally:
        random.setstate(saved)


def _read(model: keras.Model, numbers: list[int]) -> Recipe | None:
    where = {n: i for i, n in enumerate(numbers)}
    if len(where) != len(numbers):  # two equal draws: positions ambiguous
        return None
    shapes: list[tuple[int, ...]] = []
    how: list[_Random | np.ndarray] = []
    for layer in model.layers:
        candidates = _seeded_initializers(layer)
        for variable in layer.weights:
            value = np.asarray(variable.numpy())
            shapes.append(tuple(value.shape))
            found = _matching(value, candidates, where)
            if found is None:
                if not np.isin(value, (0.0, 1.0)).all():
                    return None  # random, but from no initializer we can replay
                how.append(value.copy())
            else:
                how.append(found)
    dropout_draws = []
    for layer in dropout_layers(model):
        state = layer.seed_generator.state.numpy()
        if int(state[1]) != 0 or int(state[0]) not in where:
            return None
        dropout_draws.append(where[int(state[0])])
    return Recipe(len(numbers), tuple(shapes), tuple(how), tuple(dropout_draws))


def _seeded_initializers(layer: Any) -> list[Any]:
    """The initializers of ``layer`` (and of its RNN cell) that were seeded by a draw."""
    owners = [layer, getattr(layer, "cell", None)]
    found = []
    for owner in owners:
        if owner is None:
            continue
        for value in vars(owner).values():
            if isinstance(value, keras.initializers.Initializer) and isinstance(
                getattr(value, "seed", None), int
            ):
                found.append(value)
    return found


def _matching(value: np.ndarray, candidates: list[Any], where: dict[int, int]) -> _Random | None:
    for init in candidates:
        if init.seed not in where:
            continue
        try:
            again = np.asarray(init(value.shape, dtype="float32"))
        except ValueError:  # e.g. Orthogonal offered a bias
            continue
        if again.shape == value.shape and np.array_equal(again, value):
            config = {k: v for k, v in init.get_config().items() if k != "seed"}
            return _Random(type(init), config, where[init.seed])
    return None


#: Templates and recipes kept per architecture (a search revisits architectures often).
RECIPE_CACHE_SIZE = 8
_RECIPES: OrderedDict[Hashable, tuple[keras.Model, Recipe | None]] = OrderedDict()


def recipe_for(
    key: Hashable, build: Callable[[], keras.Model]
) -> tuple[keras.Model, Recipe | None]:
    """:func:`recipe_of` kept under ``key`` (which must name everything ``build`` reads):
    a trial of an architecture seen before builds no model before its first epoch."""
    if key in _RECIPES:
        _RECIPES.move_to_end(key)
        return _RECIPES[key]
    got = recipe_of(build)
    _RECIPES[key] = got
    while len(_RECIPES) > RECIPE_CACHE_SIZE:
        _RECIPES.popitem(last=False)
    return got


def clear_recipes() -> None:
    _RECIPES.clear()
