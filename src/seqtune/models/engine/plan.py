"""What the engine computes for a model: the members (:class:`Member`), an epoch's record
(:class:`WideEpoch`), seeding and building the members' models, and the stacked plan
read from a built model (:func:`stacked_plan`: one :class:`Op` per layer and the engine key), with
the window-length bucketing of the unrolled LSTM (:func:`padded_steps`)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np

from seqtune.models.builders import build_model
from seqtune.models.feed import WindowFeed
from seqtune.models.training import UNROLL_MAX_STEPS

#: With ``pad_steps``, an LSTM's windows are padded at the front to a multiple of this many
#: steps (:func:`padded_steps`), so window lengths 1-8 share one engine, 9-16 the next, ...
STEP_BUCKET = 8


def padded_steps(steps: int) -> int:
    """The steps an LSTM window of ``steps`` is padded to with ``pad_steps``: the next
    multiple of :data:`STEP_BUCKET`, at most
    :data:`~seqtune.models.training.UNROLL_MAX_STEPS` (a longer window is not stacked and
    is left as it is)."""
    if steps > UNROLL_MAX_STEPS:
        return steps
    return min(-(-steps // STEP_BUCKET) * STEP_BUCKET, UNROLL_MAX_STEPS)


DESIGNS = ("auto", "stacked", "loop")
#: How the stacked design computes an LSTM: ``fused``, one ``BlockLSTM`` kernel per member
#: over every step (the window length is a dim of the data, not of the trace); ``unrolled``,
#: the steps written out as batched ops for all members at once (the window length, or its
#: bucket with ``pad_steps``, is part of the structure).
LSTM_KERNELS = ("fused", "unrolled")


@dataclass(frozen=True)
class Member:
    """One of the K models: its seed and its data.

    ``seed`` plays the role it plays in a solo trial: the caller builds the member's model
    after ``keras.utils.set_random_seed(seed)`` (:func:`build_members` does), and the batch
    order of every epoch is ``numpy.random.default_rng(seed).permutation`` as in ``fit``.
    ``x`` and ``validation_x`` are in the model's layout: arrays (``builders.reshape_x``)
    or feeds (:class:`~seqtune.models.feed.WindowFeed`: a study's windows, read from their
    scaled matrix by start row and never materialised).
    """

    seed: int
    x: np.ndarray | WindowFeed
    y: np.ndarray
    sample_weight: np.ndarray | None = None
    validation_x: np.ndarray | WindowFeed | None = None


@dataclass
class WideEpoch:
    """What one epoch did, per member (index = member number).

    ``trained[k]``: member k ran this epoch (not stopped, not diverged before it).
    ``loss[k]``: its training loss (mean over its samples of the batch losses, as ``fit``
    reports it); NaN for a member that did not train. ``validation[k]``: its predictions
    of its ``validation_x`` after this epoch's updates (inference mode), ``None`` when it did
    not train or has no validation inputs. ``diverged``: members whose loss stopped being
    finite in this epoch (they are stopped; the others go on).
    """

    epoch: int
    trained: np.ndarray
    loss: np.ndarray
    validation: list[np.ndarray | None]
    diverged: list[int] = field(default_factory=list)


def seed_keras(seed: int) -> None:
    """``keras.utils.set_random_seed(seed)`` without its ``tf.random.set_seed``: the same
    Python, NumPy and Keras seeds, so a model built next gets the same weights and dropout
    seeds. TensorFlow's seed call clears every compiled kernel of the process, which makes
    the next call of an already traced epoch function spend 0.6-1.2 s instantiating it
    again (measured, ``benchmarks/wide.py``); Keras 3 does not draw from that seed."""
    from keras.src.backend.common import global_state
    from keras.src.random import seed_generator
    from keras.src.utils import rng_utils

    global_state.set_global_attribute(rng_utils.GLOBAL_RANDOM_SEED, seed)
    global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, None)
    random.seed(seed)
    np.random.seed(seed)


def build_members(
    kind: str,
    layout: str,
    values: dict[str, Any],
    seeds: Sequence[int],
    *,
    look_back: int,
    n_features: int,
    n_outputs: int,
    head: str,
) -> list[keras.Model]:
    """One model per seed, each with the weights a solo trial's model gets
    (``keras.utils.set_random_seed(seed)`` then :func:`build_model`); seeded by
    :func:`seed_keras`, which keeps kept engines' compiled kernels."""
    models = []
    for seed in seeds:
        seed_keras(int(seed))
        models.append(
            build_model(
                kind,
                layout,
                values,
                look_back=look_back,
                n_features=n_features,
                n_outputs=n_outputs,
                head=head,
            )
        )
    return models


# --- the architecture, read from a built model -------------------------------------------


@dataclass(frozen=True)
class Op:
    """One layer of the stacked forward pass: ``kind`` in lstm / dense / dropout / flatten;
    ``weights``: indices into ``model.get_weights()``."""

    kind: str
    weights: tuple[int, ...] = ()
    units: int = 0
    activation: Any = None
    recurrent_activation: Any = None
    rate: float = 0.0
    index: int = 0  # position among the model's Dropout layers
    steps: int = 0  # an LSTM's unrolled steps (the padded ones with pad); 0 when fused
    pad: bool = False  # an LSTM whose leading steps may be padding (masked)
    fused: bool = False  # an LSTM computed by one BlockLSTM kernel per member


def stacked_plan(
    model: keras.Model, pad: bool = False, lstm: str = "fused"
) -> tuple[list[Op], tuple[Any, ...]] | None:
    """The stacked plan of ``model`` and its engine key, or None when the stacked design
    does not cover it. The key is the layer structure only (kinds, activations, whether a
    Dropout drops, and an unrolled LSTM's number of steps, which its loop bakes in): units,
    features, rows, rates, the learning rate and a fused LSTM's steps are values the engine's
    variables take, so models differing only in them share one traced epoch. ``lstm``: one of
    :data:`LSTM_KERNELS`. ``pad`` (unrolled only): an LSTM that reads the input is unrolled
    over :func:`padded_steps` steps, the leading ones masked, so window lengths of one bucket
    share the engine too."""
    ops: list[Op] = []
    steps = model.inputs[0].shape[1]
    key: list[Any] = [len(model.inputs[0].shape)]
    position = 0
    dropouts = 0
    for layer in model.layers:
        n = len(layer.weights)
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if type(layer) is keras.layers.LSTM:
            cell = layer.cell
            if (
                layer.return_sequences
                or layer.return_state
                or layer.go_backwards
                or layer.stateful
                or not cell.use_bias
                or cell.dropout
                or cell.recurrent_dropout
                or cell.activation is not keras.activations.tanh
                or cell.recurrent_activation is not keras.activations.sigmoid
                or n != 3
            ):
                return None
            weights = (position, position + 1, position + 2)
            act, rec = cell.activation, cell.recurrent_activation
            if lstm == "fused":
                ops.append(Op("lstm", weights, int(cell.units), act, rec, fused=True))
                key.append(("lstm", "fused"))
                position += n
                continue
            if steps is None or steps > UNROLL_MAX_STEPS:
                return None
            padded = pad and not ops  # only the first layer reads the (padded) windows
            unrolled = padded_steps(int(steps)) if padded else int(steps)
            ops.append(Op("lstm", weights, int(cell.units), act, rec, steps=unrolled, pad=padded))
            key.append(("lstm", unrolled, "padded") if padded else ("lstm", unrolled))
        elif type(layer) is keras.layers.Dense:
            if not layer.use_bias or n != 2:
                return None
            act = layer.activation
            ops.append(Op("dense", (position, position + 1), int(layer.units), act))
            key.append(("dense", getattr(act, "__name__", repr(act))))
        elif type(layer) is keras.layers.Dropout:
            if layer.noise_shape is not None:
                return None
            ops.append(Op("dropout", rate=float(layer.rate), index=dropouts))
            dropouts += 1
            key.append(("dropout", float(layer.rate) > 0))
        elif type(layer) is keras.layers.Flatten:
            ops.append(Op("flatten"))
            key.append(("flatten",))
        else:
            return None
        position += n
    return ops, tuple(key)


def stackable(model: keras.Model, lstm: str = "fused") -> bool:
    """Whether the stacked design covers ``model`` with that LSTM kernel (members may then
    start from :class:`~seqtune.models.initial.Initial` states and a template)."""
    return stacked_plan(model, lstm=lstm) is not None


def loop_key(model: keras.Model) -> tuple[Any, ...]:
    """The architecture of any model, without the layer names (which differ per build)."""
    layers = []
    for layer in model.layers:
        config = {k: v for k, v in layer.get_config().items() if k != "name"}
        layers.append((type(layer).__name__, repr(sorted(config.items()))))
    return (tuple(model.inputs[0].shape[1:]), tuple(layers))
