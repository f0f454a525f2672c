"""Several trained models of one configuration as one Keras model: their mean.

Export and ``train`` refit the chosen configuration with ``search.ensemble`` seeds; a user
loads one ``best.keras`` whose output is the members' mean output (in the model's own
units: scaled and transformed targets for a forecast, class probabilities for a
classifier, both averaged before seqtune maps them into metric units). The members stay
inside it as sub-models (``member_0`` …), so a member can be read back with
:func:`members_of`.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras


def mean_model(models: Sequence[keras.Model]) -> keras.Model:
    """One model computing the mean of ``models``' outputs on the same input; a single
    model is returned as it is (today's export, unchanged)."""
    if not models:
        raise ValueError("an ensemble needs at least one model")
    if len(models) == 1:
        return models[0]
    inputs = keras.Input(shape=tuple(models[0].inputs[0].shape[1:]), name="window")
    outputs = []
    for i, model in enumerate(models):
        # a fresh wrapper named member_i around each member's own layers and weights
        member = keras.Model(model.inputs[0], model.outputs[0], name=f"member_{i}")
        outputs.append(member(inputs))
    mean = keras.layers.Average(name="mean")(outputs)
    return keras.Model(inputs, mean, name=f"ensemble_of_{len(models)}")


def members_of(model: keras.Model) -> list[keras.Model]:
    """The members of a model made by :func:`mean_model` (the model itself otherwise)."""
    found = [layer for layer in model.layers if layer.name.startswith("member_")]
    return found if found else [model]
