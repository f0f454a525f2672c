"""A trial's :class:`~seqtune.models.engine.Wide`, assembled: every member starts from the
weights its own solo build would get.

The models of one seed are built one after the other after seeding once, as a
single-model run of each fold would draw them in order (so a folds study from before
repeats existed gets the same weights). Those weights are replayed from the
architecture's recipe (:mod:`seqtune.models.initial`, kept per architecture) rather than
built K times; an architecture the recipe cannot replay builds the K models. The Keras
session is not cleared between trials: the kept compiled engines (keyed by layer
structure, not units or rows) would re-instantiate their kernels.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras

from seqtune.models.engine.plan import Member, seed_keras, stackable
from seqtune.models.engine.wide import Wide
from seqtune.models.initial import Initial, recipe_for

#: Resolved values the network's build does not read (engine variables instead).
NOT_BUILT = ("learning_rate", "batch_size")


def seeded_wide(
    members: Sequence[Member],
    build: Callable[[int], keras.Model],
    architecture: tuple[Any, ...],
    resolved: dict[str, Any],
    **common: Any,
) -> Wide:
    """A :class:`Wide` of ``members``, each starting from its seed's solo weights.

    Parameters
    ----------
    members
        The members, each with its seed (a seed may repeat: several folds of one seed).
    build
        ``build(i)``: the model of member ``i``, built after its seed was set (called only
        where the architecture's recipe cannot replay the weights, or once for the recipe).
    architecture
        What names the built model besides ``resolved`` (kind, layout, look_back,
        features, outputs, head): the recipe's cache key with the resolved values that
        the build reads.
    resolved
        The configuration's resolved values.
    **common
        :class:`Wide`'s options (head, learning_rate, batch_size, pad_steps, lstm).
    """
    built = tuple(sorted((k, repr(v)) for k, v in resolved.items() if k not in NOT_BUILT))
    key = (*architecture[:2], built, *architecture[2:])
    template, recipe = recipe_for(key, lambda: build(0))
    seeds = [mb.seed for mb in members]
    order = list(dict.fromkeys(seeds))  # seeds, first-seen order
    if recipe is not None and stackable(template, common.get("lstm", "fused")):
        states: dict[int, list[Initial]] = {}
        for seed in order:
            seed_keras(seed)
            states[seed] = recipe.initial(seed, seeds.count(seed))
        initial = [states[seed].pop(0) for seed in seeds]
        return Wide([template], members, initial=initial, **common)
    models: list[keras.Model | None] = [None] * len(members)
    for seed in order:
        seed_keras(seed)  # then one model per member of this seed, in order
        for i, s in enumerate(seeds):
            if s == seed:
                models[i] = build(i)
    return Wide([m for m in models if m is not None], members, **common)
