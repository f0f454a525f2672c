"""K independent models of one architecture trained side by side in one compiled call per
epoch.

On models this small much of an epoch is the kernels TensorFlow launches rather than
their arithmetic (``training.py``'s docstring). The k seeds × f folds of one configuration
have the same architecture, so one graph can train all of them: each member keeps its own
weights (its own seeded initialisation), its own Adam state, its own dropout masks, its
own batch order and its own training rows; the loss is the sum of the members' losses, so
every member's gradient is the gradient of its own loss alone.

Two designs (``design=``):

- ``"stacked"`` (``"auto"`` wherever it applies): every weight stacked along a leading K
  axis, Dense layers written out as batched matmuls, so a layer launches about as many
  kernels for K members as for one. Covers what ``build_model`` builds: one LSTM
  (tanh/sigmoid, no internal dropout, last output) or Flatten, Dense layers with any
  element-wise activation, Dropout, and the head. The LSTM (``lstm=``,
  :data:`LSTM_KERNELS`): ``"fused"`` (0.3.2 on), one ``BlockLSTM`` kernel per member that
  loops over the steps itself, any window length; or ``"unrolled"`` (0.3.1), every step
  written out as batched ops for all members, windows up to
  :data:`~seqtune.models.training.UNROLL_MAX_STEPS` steps. Dropout draws one kernel per
  member (Keras' own stateless draw from the member's seed state, so masks equal a solo
  run's).
- ``"loop"``: the K Keras models themselves called one after the other inside the graph
  (K× the kernels). The fallback for anything else (a longer window, another layer).

Chosen by measurement (``benchmarks/wide.py``, ``benchmarks/floor.py``, docs/benchmarks.md
§8): on airline LSTM(32), 12 steps, full batch, per model-epoch the unrolled stacked design
was 1.2-2.1x cheaper than separate ``fit`` runs (K = 2..16, 2026-12-03), the loop design a
little dearer than stacked per epoch with tracing that grows with K (2.4 s at K = 1, 19 s
at K = 8). The unrolled LSTM's ops are many (about 1,000 traced for 12 steps) because its
dims are open (see Reuse): every element-wise op's gradient keeps the shape computations of
a possible broadcast. The fused LSTM has a handful per member, so it traces in a fraction
of the time and its epochs cost less (figures in docs/benchmarks.md §8c). ``jit=True``
(XLA: the unrolled LSTM, without dropout only) compiles for seconds per shape and draws
other dropout bits, so it is opt-in, for benchmarks.

Padding: members may have different numbers of training rows (different folds). Rows are
padded to the largest member; a padded row has weight 0 and a member's batch loss is
divided by its own number of real rows, as Keras does, so its loss equals training it alone
on its rows. A member with fewer batches than the others simply makes no update (Adam
state, step count and dropout seeds untouched) in the batches it does not have.

Equivalence (``tests/models/test_models_wide.py``): each member's per-epoch losses,
validation predictions and final weights equal :func:`seqtune.models.training.fit` of that
member alone (same seed, so the same initial weights, batch order and dropout masks) within
``rtol=1e-4, atol=1e-5`` over 4 epochs, for LSTM (fused and unrolled) and MLP, full batch
and mini-batch, members on different row counts, with and without dropout, with sample
weights and a sigmoid head. Measured: losses within 5e-7 relative, weights within 3e-7 absolute. The
differences are float32 round-off: the batched matmuls sum in another order and, for
K > 1, Adam is written out per member instead of the fused kernel (same formula, ``1 -
beta`` formed in float32 like the kernel; one member uses the fused kernel itself).

Reuse: the traced epoch function, its variables and the data live in an engine that is
kept (a small cache, :data:`ENGINE_CACHE_SIZE`) and handed to the next :class:`Wide` of the
same layer structure (kinds, activations, whether a Dropout drops, an unrolled LSTM's
steps), K, head and batching (one batch or several): units, rows, features, batch size,
a fused LSTM's steps, dropout rates and the learning rate are values of its variables
(their dims are open), so they are re-assigned and nothing is re-traced (the earlier
:class:`Wide` then refuses to run or export). Members may start from replayed initial states
(:mod:`seqtune.models.initial`) and one template instead of K built models. Each traced
engine holds 2.5-6 MiB that TensorFlow does not give back (measured, see the README's
memory row): a search that keeps meeting new structures grows by that much per trace.
An unrolled LSTM's steps are part of its structure, so with ``pad_steps`` the windows are
padded at the front to a multiple of :data:`STEP_BUCKET` steps and the padding masked:
look_back 1-24 makes three structures instead of 24 (a fused LSTM makes one).
"""

from __future__ import annotations

import math
import random
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from seqtune.models.builders import build_model
from seqtune.models.initial import Initial, dropout_layers, initial_of
from seqtune.models.params import resolve
from seqtune.models.training import UNROLL_MAX_STEPS, Diverged, adam_powers, adam_update

# Keras' Adam defaults, as in training.py.
_BETA_1, _BETA_2, _EPSILON = 0.9, 0.999, 1e-7

#: Engines (traced epoch function + variables) kept for reuse by later trials. A kept
#: engine holds its graph and its last members' weights and Adam state (their data is
#: released); a dropped one gives little back (TensorFlow keeps most of a trace's memory),
#: and tracing its structure again costs 1-2 s. A 50-trial study of 6 structures
#: (``benchmarks/memory_rss.py``) ran in 0.68x the wall time with 16 kept as with 4, at
#: the same RSS.
ENGINE_CACHE_SIZE = 16

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
    ``x`` is already in the model's layout (``builders.reshape_x``).
    """

    seed: int
    x: np.ndarray
    y: np.ndarray
    sample_weight: np.ndarray | None = None
    validation_x: np.ndarray | None = None


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
class _Op:
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


def _plan(
    model: keras.Model, pad: bool = False, lstm: str = "fused"
) -> tuple[list[_Op], tuple[Any, ...]] | None:
    """The stacked plan of ``model`` and its engine key, or None when the stacked design
    does not cover it. The key is the layer structure only (kinds, activations, whether a
    Dropout drops, and an unrolled LSTM's number of steps, which its loop bakes in): units,
    features, rows, rates, the learning rate and a fused LSTM's steps are values the engine's
    variables take, so models differing only in them share one traced epoch. ``lstm``: one of
    :data:`LSTM_KERNELS`. ``pad`` (unrolled only): an LSTM that reads the input is unrolled
    over :func:`padded_steps` steps, the leading ones masked, so window lengths of one bucket
    share the engine too."""
    ops: list[_Op] = []
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
                ops.append(_Op("lstm", weights, int(cell.units), act, rec, fused=True))
                key.append(("lstm", "fused"))
                position += n
                continue
            if steps is None or steps > UNROLL_MAX_STEPS:
                return None
            padded = pad and not ops  # only the first layer reads the (padded) windows
            unrolled = padded_steps(int(steps)) if padded else int(steps)
            ops.append(_Op("lstm", weights, int(cell.units), act, rec, steps=unrolled, pad=padded))
            key.append(("lstm", unrolled, "padded") if padded else ("lstm", unrolled))
        elif type(layer) is keras.layers.Dense:
            if not layer.use_bias or n != 2:
                return None
            act = layer.activation
            ops.append(_Op("dense", (position, position + 1), int(layer.units), act))
            key.append(("dense", getattr(act, "__name__", repr(act))))
        elif type(layer) is keras.layers.Dropout:
            if layer.noise_shape is not None:
                return None
            ops.append(_Op("dropout", rate=float(layer.rate), index=dropouts))
            dropouts += 1
            key.append(("dropout", float(layer.rate) > 0))
        elif type(layer) is keras.layers.Flatten:
            ops.append(_Op("flatten"))
            key.append(("flatten",))
        else:
            return None
        position += n
    return ops, tuple(key)


def stackable(model: keras.Model, lstm: str = "fused") -> bool:
    """Whether the stacked design covers ``model`` with that LSTM kernel (members may then
    start from :class:`~seqtune.models.initial.Initial` states and a template)."""
    return _plan(model, lstm=lstm) is not None


def _loop_key(model: keras.Model) -> tuple[Any, ...]:
    """The architecture of any model, without the layer names (which differ per build)."""
    layers = []
    for layer in model.layers:
        config = {k: v for k, v in layer.get_config().items() if k != "name"}
        layers.append((type(layer).__name__, repr(sorted(config.items()))))
    return (tuple(model.inputs[0].shape[1:]), tuple(layers))


def _per_sample_loss(head: str) -> Callable[[Any, Any], Any]:
    """The Keras loss of ``training.make_loss`` per sample (mean over the last axis),
    for any leading axes."""
    if head == "linear":
        return keras.losses.mean_squared_error
    if head == "sigmoid":
        return keras.losses.binary_crossentropy
    return keras.losses.sparse_categorical_crossentropy


def _seed32(seed: Any) -> Any:
    """Keras' cast of a seed-generator state to the int32 seed of a stateless op."""
    return tf.cast(tf.math.floormod(seed, tf.int32.max - 1), tf.int32)


# --- the networks --------------------------------------------------------------------------


class _StackedNet:
    """Every weight with a leading K axis; one batched kernel per layer for all members.
    The weights' other dims are open (units may differ from one trial to the next)."""

    def __init__(self, k: int, ops: list[_Op], ranks: Sequence[int]) -> None:
        self.k = k
        self.ops = ops
        self.variables = [
            tf.Variable(
                tf.zeros((k, *([1] * r)), tf.float32),
                shape=tf.TensorShape([k, *([None] * r)]),
                trainable=True,
            )
            for r in ranks
        ]
        drops = [op for op in ops if op.kind == "dropout"]
        self.seeds = [tf.Variable(tf.zeros((k, 2), tf.int64)) for _ in drops]
        # Keras' rate as the float32 the kernel compares with, and its 1 / (1 - rate)
        # formed in double precision then rounded, as stateless_dropout forms it
        self.rates = [tf.Variable(0.0, dtype=tf.float32, trainable=False) for _ in drops]
        self.scales = [tf.Variable(1.0, dtype=tf.float32, trainable=False) for _ in drops]
        # a padded LSTM's leading padding steps (its window is shorter than its unrolling)
        self.lead = tf.Variable(0, dtype=tf.int32, trainable=False)

    def axes(self) -> list[int | None]:
        return [None] * len(self.variables)  # None: the member is the leading axis

    def load(self, initial: Sequence[Initial], ops: list[_Op], lead: int = 0) -> None:
        self.lead.assign(lead)
        for i, var in enumerate(self.variables):
            var.assign(np.stack([m.weights[i] for m in initial]).astype(np.float32))
        for j, var in enumerate(self.seeds):
            var.assign(np.stack([m.seed_states[j] for m in initial]).astype(np.int64))
        rates = [op.rate for op in ops if op.kind == "dropout"]
        for rate, r_var, s_var in zip(rates, self.rates, self.scales, strict=True):
            r_var.assign(rate)
            s_var.assign(1.0 / (1.0 - rate))

    def weights(self, k: int) -> list[np.ndarray]:
        return [var[k].numpy() for var in self.variables]

    def seed_states(self, k: int) -> list[np.ndarray]:
        return [var[k].numpy() for var in self.seeds]

    def forward(self, x: Any, training: bool, active: Any) -> Any:
        """``x``: (K, B, steps, features) → (K, B, outputs)."""
        v = self.variables
        h = x
        for op in self.ops:
            if op.kind == "lstm":
                h = self._lstm(h, op)
            elif op.kind == "flatten":
                shape = tf.shape(h)
                h = tf.reshape(h, tf.stack([shape[0], shape[1], -1]))
            elif op.kind == "dense":
                kernel, bias = (v[i] for i in op.weights)
                h = tf.linalg.matmul(h, kernel) + bias[:, None, :]
                if op.activation is not None:
                    h = op.activation(h)
            elif op.kind == "dropout" and training and op.rate > 0:
                h = self._dropout(h, op, active)
        return h

    def _lstm(self, x: Any, op: _Op) -> Any:
        if op.fused:
            return self._fused_lstm(x, op)
        kernel, recurrent, bias = (self.variables[i] for i in op.weights)
        steps = int(x.shape[2])
        # padded: the first `lead` steps are padding and leave the state at zero, so the
        # real steps compute exactly what the unpadded window would (and padding steps get
        # no gradient); a bucket's padding is below STEP_BUCKET steps. Zeroing the cell
        # state is enough (h = o * tanh(0) = 0), one multiply by 1.0 or 0.0 a step.
        masked = min(STEP_BUCKET - 1, steps) if op.pad else 0
        # the input projection of every step at once, time first: unstacking it costs one
        # stack in the gradient (slicing each step would add a full-size zero tensor per step)
        xw = tf.unstack(tf.einsum("kbtf,kfg->tkbg", x, kernel), num=steps)
        b = bias[:, None, :]
        shape = tf.stack([tf.shape(x)[0], tf.shape(x)[1], tf.shape(recurrent)[1]])
        h = tf.zeros(shape, tf.float32)
        c = tf.zeros(shape, tf.float32)
        act, rec = op.activation, op.recurrent_activation
        for t in range(steps):
            z = xw[t] + tf.linalg.matmul(h, recurrent)
            z = z + b
            z0, z1, z2, z3 = tf.split(z, 4, axis=-1)
            i, f = rec(z0), rec(z1)
            c = f * c + i * act(z2)
            if t < masked:
                c = c * tf.cast(tf.greater_equal(t, self.lead), tf.float32)
            h = rec(z3) * act(c)
        return h

    def _fused_lstm(self, x: Any, op: _Op) -> Any:
        """Keras' LSTM (tanh, sigmoid, no peepholes, last output) as one ``BlockLSTM`` per
        member: the kernel loops over the steps itself, so the window's length is a dim of
        the data (any length shares the trace) and a step launches no ops of its own. Its
        forward and gradient equal the unrolled cell to float32 round-off (tested). The op
        wants the gates in i, c, f, o order over ``[x, h]`` (Keras: i, f, c, o, separate
        kernels), so the weights are joined and their gate blocks swapped in the graph.
        (``BlockLSTMV2`` takes Keras' order but its registered gradient is the V1 one,
        which reads the gates in V1's order: wrong for V2.)"""
        kernel, recurrent, bias = (self.variables[i] for i in op.weights)

        def icfo(w: Any) -> Any:
            i, f, c, o = tf.split(w, 4, axis=-1)
            return tf.concat([i, c, f, o], axis=-1)

        steps = tf.cast(tf.shape(x)[2], tf.int64)
        xs = tf.unstack(tf.transpose(x, [0, 2, 1, 3]), num=self.k)  # K × (steps, B, features)
        ws = tf.unstack(icfo(tf.concat([kernel, recurrent], axis=1)), num=self.k)
        bs = tf.unstack(icfo(bias), num=self.k)
        units = tf.shape(recurrent)[1]
        zeros = tf.zeros(tf.stack([tf.shape(x)[1], units]), tf.float32)
        no_peephole = tf.zeros(tf.reshape(units, [1]), tf.float32)
        out = []
        for xk, wk, bk in zip(xs, ws, bs, strict=True):
            h = tf.raw_ops.BlockLSTM(
                seq_len_max=steps,
                x=xk,
                cs_prev=zeros,
                h_prev=zeros,
                w=wk,
                wci=no_peephole,
                wcf=no_peephole,
                wco=no_peephole,
                b=bk,
                forget_bias=0.0,
                cell_clip=-1.0,  # no clipping
                use_peephole=False,
            )[6]
            out.append(h[-1])
        return tf.stack(out)

    def _dropout(self, h: Any, op: _Op, active: Any) -> Any:
        # Keras' Dropout: stateless_dropout seeded by the layer's generator state, which
        # then advances by [0, 1]; a member that makes no update does not advance it.
        # Written out as stateless_dropout computes it (same uniform draw, same compare,
        # same scale), with the rate from a variable so that any rate shares the trace.
        state = self.seeds[op.index]
        rate, scale = self.rates[op.index], self.scales[op.index]
        seeds = tf.identity(state)
        step = tf.stack([tf.zeros_like(active, tf.int64), tf.cast(active, tf.int64)], axis=1)
        with tf.control_dependencies([seeds]):
            state.assign_add(step)
        out = []
        for k in range(self.k):
            hk = h[k]
            uniform = tf.random.stateless_uniform(tf.shape(hk), _seed32(seeds[k]), dtype=tf.float32)
            out.append(tf.where(uniform >= rate, hk * scale, tf.zeros_like(hk)))
        return tf.stack(out)


class _LoopNet:
    """The K Keras models, called one after the other inside the graph."""

    def __init__(self, models: list[keras.Model]) -> None:
        self.k = len(models)
        self.models = models  # the engine's own copies (see _Engine)
        for m in models:
            for layer in m.layers:
                if isinstance(layer, keras.layers.RNN):
                    steps = m.inputs[0].shape[1]
                    layer.unroll = steps is not None and steps <= UNROLL_MAX_STEPS
        self.variables = [v for m in models for v in m.trainable_variables]
        self._axes = [k for k, m in enumerate(models) for _ in m.trainable_variables]
        self.seeds = [layer.seed_generator.state for m in models for layer in dropout_layers(m)]
        self._seed_member = [k for k, m in enumerate(models) for _ in dropout_layers(m)]

    def axes(self) -> list[int | None]:
        return list(self._axes)

    def load(self, initial: Sequence[Initial], ops: list[_Op], lead: int = 0) -> None:
        for mine, theirs in zip(self.models, initial, strict=True):
            mine.set_weights(theirs.weights)
            for layer, state in zip(dropout_layers(mine), theirs.seed_states, strict=True):
                layer.seed_generator.state.assign(state)

    def weights(self, k: int) -> list[np.ndarray]:
        return self.models[k].get_weights()

    def seed_states(self, k: int) -> list[np.ndarray]:
        return [layer.seed_generator.state.numpy() for layer in dropout_layers(self.models[k])]

    def forward(self, x: Any, training: bool, active: Any) -> Any:
        if not training or not self.seeds:
            return tf.stack([m(x[k], training=training) for k, m in enumerate(self.models)])
        before = [tf.identity(s) for s in self.seeds]
        with tf.control_dependencies(before):
            out = tf.stack([m(x[k], training=True) for k, m in enumerate(self.models)])
        # a member that makes no update keeps its dropout seeds where they were
        with tf.control_dependencies([out]):
            for s, old, k in zip(self.seeds, before, self._seed_member, strict=True):
                s.assign(tf.where(active[k], s, old))
        return tf.identity(out)


# --- the engine: data, optimizer state and the traced epoch -------------------------------


@dataclass(frozen=True)
class _Shape:
    """What a traced epoch bakes in besides the architecture. Everything else (rows,
    batch size, validation rows, features, outputs, units, rates, learning rate) is a
    value of the engine's variables."""

    k: int
    head: str
    full_batch: bool  # one batch an epoch (no loop over batches)
    validation: bool
    x_dims: tuple[int | None, ...]  # a sample's dims; None: any (an LSTM's steps are fixed)
    y_rank: int


class _Engine:
    """Variables for the weights, Adam state and data of K members, and the compiled epoch.
    Reusable by any later set of members with the same key (built in :class:`Wide`)."""

    def __init__(self, net: _StackedNet | _LoopNet, design: str, shape: _Shape, jit: bool) -> None:
        k = shape.k
        self.k = k
        self.design = design
        self.net = net
        self.head = head = shape.head

        def data(dims: Sequence[int | None], dtype: Any = tf.float32) -> tf.Variable:
            """(K, rows, *dims): rows and the None dims take any size on assignment."""
            zeros = tf.zeros((k, 0, *(d or 1 for d in dims)), dtype)
            return tf.Variable(zeros, shape=tf.TensorShape([k, None, *dims]), trainable=False)

        self.x = data(shape.x_dims)
        self.y = data([None] * (shape.y_rank - 1))
        self.w = data([])
        self.xv = data(shape.x_dims)
        self.n = tf.Variable(tf.zeros((k,), tf.int32), trainable=False)
        self.bs = tf.Variable(1, dtype=tf.int32, trainable=False)
        self.alive = tf.Variable(tf.zeros((k,), tf.bool), trainable=False)
        self.learning_rate = tf.Variable(0.0, dtype=tf.float32, trainable=False)
        variables = net.variables
        axes = net.axes()

        def slot(var: tf.Variable) -> tf.Variable:
            return tf.Variable(tf.zeros_like(var), shape=var.shape, trainable=False)

        self.m = [slot(v) for v in variables]
        self.v = [slot(v) for v in variables]
        self.t = tf.Variable(tf.zeros((k,), tf.float32), trainable=False)
        loss_fn = _per_sample_loss(head)
        b1, b2 = tf.constant(_BETA_1, tf.float32), tf.constant(_BETA_2, tf.float32)
        one = tf.constant(1.0, tf.float32)
        eps = tf.constant(_EPSILON, tf.float32)

        def per_member(vec: Any, axis: int | None, rank: int) -> Any:
            """A (K,) vector as the factor of one variable: broadcast along the leading
            axis of a stacked variable, or member ``axis``'s scalar."""
            if axis is None:
                return tf.reshape(vec, [-1] + [1] * (rank - 1))
            return vec[axis]

        fused = k == 1 and design == "stacked"

        def fused_adam(grads: list[Any], active: Any) -> None:
            # one member (a holdout trial, a refit of one): training.py's fused
            # ResourceApplyAdam itself, one kernel per variable instead of about a dozen
            # (1.5x the epoch on the drone stream's 482 batches). A lone member's step
            # only runs while it is active (run() ends when it stops); guarded anyway.
            def apply() -> Any:
                powers = adam_powers(self.t.assign_add(tf.ones((1,), tf.float32))[0])
                for var, m, v, g in zip(variables, self.m, self.v, grads, strict=True):
                    if g is not None:
                        adam_update(var, m, v, g, powers, self.learning_rate)
                return tf.constant(0)

            tf.cond(active[0], apply, lambda: tf.constant(0))

        def adam(grads: list[Any], active: Any) -> None:
            # training.py's fused ResourceApplyAdam, written out per member: each member
            # has its own step count; a member that is not active changes nothing.
            if fused:
                return fused_adam(grads, active)
            t = self.t.assign_add(tf.cast(active, tf.float32))
            b1p, b2p = tf.pow(b1, t), tf.pow(b2, t)
            safe = tf.where(active, one - b1p, one)
            alpha = self.learning_rate * tf.sqrt(one - b2p) / safe
            for var, m, v, g, axis in zip(variables, self.m, self.v, grads, axes, strict=True):
                if g is None:
                    continue
                rank = len(var.shape)
                on = per_member(active, axis, rank)
                m_new = m + (g - m) * (one - b1)
                v_new = v + (tf.square(g) - v) * (one - b2)
                step = m_new * per_member(alpha, axis, rank) / (tf.sqrt(v_new) + eps)
                m.assign(tf.where(on, m_new, m))
                v.assign(tf.where(on, v_new, v))
                var.assign(tf.where(on, var - step, var))

        def step(xb: Any, yb: Any, wb: Any, count: Any, active: Any) -> Any:
            """One batch of every member: ``wb`` is 0 on padded rows, ``count`` the member's
            real rows. Returns the members' batch losses (K,)."""
            with tf.GradientTape() as tape:
                pred = net.forward(xb, True, active)
                per_sample = loss_fn(yb, pred)  # (K, B)
                losses = tf.reduce_sum(per_sample * wb, axis=1) / tf.maximum(count, one)
                total = tf.reduce_sum(tf.where(active, losses, tf.zeros_like(losses)))
            adam(tape.gradient(total, variables), active)
            return losses

        def gather(idx: Any, positions: Any) -> tuple[Any, Any, Any, Any, Any]:
            """Rows ``idx`` (K, B) of each member's data; ``positions`` (B,) their places in
            the epoch's order, real where below the member's row count."""
            xb = tf.gather(self.x, idx, batch_dims=1)
            yb = tf.gather(self.y, idx, batch_dims=1)
            valid = tf.cast(positions[None, :] < self.n[:, None], tf.float32)
            wb = tf.gather(self.w, idx, batch_dims=1) * valid
            count = tf.reduce_sum(valid, axis=1)
            return xb, yb, wb, count, tf.logical_and(self.alive, count > 0)

        def train(order: Any) -> Any:
            if shape.full_batch:  # every member one full batch, in its natural order
                rows = tf.range(tf.shape(self.x)[1])
                idx = tf.tile(rows[None, :], [k, 1])
                return step(*gather(idx, rows))
            bs = self.bs.read_value()
            n_batches = tf.shape(order)[1] // bs

            def body(b: Any, total: Any) -> tuple[Any, Any]:
                positions = tf.range(bs) + b * bs
                xb, yb, wb, count, active = gather(tf.slice(order, [0, b * bs], [k, bs]), positions)
                losses = step(xb, yb, wb, count, active)
                return b + 1, total + tf.where(active, losses * count, tf.zeros_like(losses))

            _, total = tf.while_loop(
                lambda b, total: b < n_batches,
                body,
                (tf.constant(0), tf.zeros((k,), tf.float32)),
                maximum_iterations=n_batches,
            )
            return total / tf.maximum(tf.cast(self.n, tf.float32), one)

        # the order's length (rows padded to whole batches) changes from trial to trial
        @tf.function(
            autograph=False,
            jit_compile=jit,
            input_signature=[tf.TensorSpec((k, None), tf.int32)],
        )
        def run_epoch(order: tf.Tensor) -> tuple[Any, Any]:
            loss = train(order)
            if not shape.validation:
                return loss, tf.zeros((k, 0))
            with tf.control_dependencies([loss]):
                return loss, net.forward(self.xv.read_value(), False, self.alive)

        run_epoch._omit_frequent_tracing_warning = True
        self.run_epoch = run_epoch
        self.owner: Callable[[], Any] = lambda: None  # the Wide whose members it holds

    def load(
        self,
        initial: Sequence[Initial],
        ops: list[_Op],
        members: Sequence[Member],
        learning_rate: float,
        batch_size: int,
        lead: int = 0,
    ) -> int:
        """New members: weights, dropout seeds and rates, data; Adam state zeroed. Returns
        the length of an epoch's batch order (the rows padded to whole batches). ``lead``:
        zero steps put before each window (a padded LSTM's)."""
        self.net.load(initial, ops, lead)
        for var, m, v in zip(self.net.variables, self.m, self.v, strict=True):
            m.assign(tf.zeros_like(var))  # of the new members' shapes
            v.assign(tf.zeros_like(var))
        self.t.assign(tf.zeros_like(self.t))
        self.learning_rate.assign(learning_rate)
        n_max = max(len(mb.x) for mb in members)
        nv_max = max(0 if mb.validation_x is None else len(mb.validation_x) for mb in members)
        sample = members[0].x.shape[1:]
        sample = (sample[0] + lead, *sample[1:])
        y_dims = _targets(members[0].y, self.head).shape[1:]
        x = np.zeros((self.k, n_max, *sample), np.float32)
        y = np.zeros((self.k, n_max, *y_dims), np.float32)
        w = np.zeros((self.k, n_max), np.float32)
        xv = np.zeros((self.k, nv_max, *sample), np.float32)
        for k, mb in enumerate(members):
            n = len(mb.x)
            x[k, :n, lead:] = mb.x
            y[k, :n] = _targets(mb.y, self.head).reshape(y[k, :n].shape)
            w[k, :n] = 1.0 if mb.sample_weight is None else mb.sample_weight
            if mb.validation_x is not None and len(mb.validation_x):
                xv[k, : len(mb.validation_x), lead:] = mb.validation_x
        self.x.assign(x)
        self.y.assign(y)
        self.w.assign(w)
        self.xv.assign(xv)
        self.n.assign(np.array([len(mb.x) for mb in members], np.int32))
        self.alive.assign(np.ones(self.k, bool))
        bs = max(1, min(batch_size, n_max))
        self.bs.assign(bs)
        return math.ceil(n_max / bs) * bs

    def release(self) -> None:
        """Drop the members' data (kept engines would otherwise hold the last trial's)."""
        for var in (self.x, self.y, self.w, self.xv):
            var.assign(tf.zeros((self.k, 0, *(d or 1 for d in var.shape[2:])), var.dtype))


def _targets(y: np.ndarray, head: str) -> np.ndarray:
    n = len(y)
    return (y.reshape(n) if head == "softmax" else y.reshape(n, -1)).astype(np.float32)


_ENGINES: OrderedDict[tuple[Any, ...], _Engine] = OrderedDict()


def clear_engines() -> None:
    """Forget every kept engine (their variables and traced functions)."""
    _ENGINES.clear()


def _engine_shape(
    members: Sequence[Member], head: str, batch_size: int, steps: int | None
) -> _Shape:
    """``steps``: the windows' steps as the engine holds them (an LSTM's, padded or not);
    None: any (no LSTM unrolls them)."""
    n_max = max(len(mb.x) for mb in members)
    validation = any(mb.validation_x is not None and len(mb.validation_x) for mb in members)
    sample = tuple(int(d) for d in members[0].x.shape[1:])
    x_dims: tuple[int | None, ...] = tuple(None for _ in sample)
    if steps is not None:
        x_dims = (steps, *x_dims[1:])
    y_rank = _targets(members[0].y, head).ndim
    return _Shape(len(members), head, batch_size >= n_max, validation, x_dims, y_rank)


class Wide:
    """K members trained together; one compiled call per epoch.

    ``models``: the K members' models (same architecture, e.g. from :func:`build_members`),
    holding their initial weights; they receive the trained ones through :meth:`export`.
    Or, with ``initial`` (the K members' :class:`~seqtune.models.initial.Initial`, e.g.
    from a :class:`~seqtune.models.initial.Recipe`), ``models`` is one template of the
    architecture: no K models are built, and :meth:`export` builds each member's model
    from the template's config when asked.
    ``design``: ``"auto"`` (stacked where it applies, else loop), ``"stacked"``, ``"loop"``.
    ``reuse``: take a kept engine of the same key instead of tracing a new one.
    ``pad_steps``: an LSTM reading windows of ``s`` steps is unrolled over
    :func:`padded_steps` ``(s)`` steps, the windows padded with zeros in front and those
    steps masked (the state stays zero through them), so every window length of one
    bucket shares one engine. Each member still equals its unpadded solo ``fit`` (to
    round-off: the input projection sums over more rows); the padding steps cost time.
    ``lstm``: how the stacked design computes an LSTM (:data:`LSTM_KERNELS`): ``fused``
    (the default) needs no padding, every window length shares one engine; ``pad_steps``
    is for ``unrolled`` only.
    """

    def __init__(
        self,
        models: Sequence[keras.Model],
        members: Sequence[Member],
        *,
        head: str,
        learning_rate: float,
        batch_size: int,
        design: str = "auto",
        reuse: bool = True,
        jit: bool = False,
        initial: Sequence[Initial] | None = None,
        pad_steps: bool = False,
        lstm: str = "fused",
    ) -> None:
        if design not in DESIGNS:
            raise ValueError(f"design must be one of {', '.join(DESIGNS)}")
        if lstm not in LSTM_KERNELS:
            raise ValueError(f"lstm must be one of {', '.join(LSTM_KERNELS)}, not {lstm!r}")
        if pad_steps and lstm == "fused":
            raise ValueError("pad_steps is for the unrolled LSTM (a fused one takes any length)")
        if not members or not models:
            raise ValueError("one model per member, at least one")
        if initial is None and len(models) != len(members):
            raise ValueError("one model per member, at least one")
        if initial is not None and (len(initial) != len(members) or len(models) != 1):
            raise ValueError("with initial states: one template model and one state per member")
        shapes = {tuple(mb.x.shape[1:]) for mb in members}
        if len(shapes) != 1 or any(len(mb.x) == 0 for mb in members):
            raise ValueError("members need non-empty inputs of one shape")
        self.models = list(models)
        self.members = list(members)
        self.head = head
        self._template = initial is not None
        plan = _plan(self.models[0], pad=pad_steps, lstm=lstm)
        if design == "stacked" and plan is None:
            raise ValueError("the stacked design does not cover this architecture")
        self.design = "stacked" if design != "loop" and plan is not None else "loop"
        if self._template and self.design != "stacked":
            raise ValueError("initial states need the stacked design (loop trains K models)")
        ops = plan[0] if plan is not None and self.design == "stacked" else []
        arch = plan[1] if self.design == "stacked" and plan is not None else _loop_key(models[0])
        dropout = any(op.kind == "dropout" and op.rate > 0 for op in plan[0]) if plan else True
        if jit and (dropout or self.design != "stacked"):
            raise ValueError("jit needs the stacked design without dropout (XLA's random bits)")
        cell = next((op for op in ops if op.kind == "lstm"), None)
        if jit and cell is not None and cell.fused:
            raise ValueError("jit needs the unrolled LSTM (XLA has no BlockLSTM kernel)")
        self.jit = jit
        steps = int(members[0].x.shape[1])
        lead = cell.steps - steps if cell is not None and cell.pad else 0
        # an unrolled LSTM (and a Keras model in the loop design) fixes the windows' steps
        fixed = (cell is not None and not cell.fused) or self.design == "loop"
        shape = _engine_shape(members, head, batch_size, steps + lead if fixed else None)
        key = (arch, self.design, shape, jit)
        engine = _ENGINES.pop(key, None) if reuse else None
        self.reused = engine is not None
        if engine is None:
            net: _StackedNet | _LoopNet
            if self.design == "stacked":
                ranks = [len(w.shape) for w in self.models[0].weights]
                net = _StackedNet(len(members), ops, ranks)
            else:
                net = _LoopNet([keras.models.clone_model(m) for m in self.models])
            engine = _Engine(net, self.design, shape, jit)
        self._engine = engine
        engine.owner = weakref.ref(self)
        if reuse:
            _ENGINES[key] = engine
            while len(_ENGINES) > ENGINE_CACHE_SIZE:
                _ENGINES.popitem(last=False)
        if initial is None:
            initial = [initial_of(m) for m in self.models]
        self._padded = engine.load(
            initial, ops, self.members, float(learning_rate), batch_size, lead
        )
        self._batch_size = int(batch_size)
        self._rngs = [np.random.default_rng(mb.seed) for mb in members]
        self.stopped = np.zeros(len(members), bool)
        self.diverged: dict[int, Diverged] = {}

    @property
    def k(self) -> int:
        return len(self.members)

    @property
    def _live(self) -> _Engine:
        """The engine, if it still holds this Wide's members (a later Wide of the same
        layer structure takes it over: export what you need before starting the next one)."""
        if self._engine.owner() is not self:
            raise RuntimeError(
                "this Wide's engine now trains a later Wide of the same layer structure; "
                "export members before starting the next one (or pass reuse=False)"
            )
        return self._engine

    @property
    def variables(self) -> list[Any]:
        """Every member's weights as the engine holds them (stacked or one per member):
        what a best-epoch tracker copies and later assigns back."""
        return list(self._live.net.variables)

    def stop(self, k: int) -> None:
        """Member ``k`` makes no more updates (early stop, pruned); the others go on."""
        self.stopped[k] = True
        self._live.alive.assign(~self.stopped)

    def run(self, epochs: int, initial_epoch: int = 0) -> Iterator[WideEpoch]:
        """Train epochs ``initial_epoch .. epochs-1``, yielding each epoch's results.

        Between two epochs the caller may :meth:`stop` members (the run ends when none is
        left) and read :meth:`weights`. A member whose loss is not finite is stopped and
        recorded in :attr:`diverged` (the same :class:`Diverged` ``fit`` would raise).
        """
        for epoch in range(initial_epoch, epochs):
            if self.stopped.all():
                return
            eng = self._live
            trained = ~self.stopped
            order = np.zeros((self.k, self._padded), np.int32)
            for k, (rng, mb) in enumerate(zip(self._rngs, self.members, strict=True)):
                n = len(mb.x)
                drawn = rng.permutation(n)  # drawn every epoch, as fit draws it
                # fit trains a member of one batch in its natural order (so do its dropout
                # masks, row by row), even when the other members need several batches
                order[k, :n] = drawn if n > self._batch_size else np.arange(n)
            loss_t, pred_t = eng.run_epoch(tf.constant(order))
            loss = loss_t.numpy().astype(np.float64)
            loss[~trained] = np.nan
            preds = pred_t.numpy()
            validation: list[np.ndarray | None] = []
            diverged = []
            for k, mb in enumerate(self.members):
                if trained[k] and not math.isfinite(loss[k]):
                    self.diverged[k] = Diverged(epoch, float(loss[k]))
                    diverged.append(k)
                    self.stopped[k] = True
                if not trained[k] or mb.validation_x is None or not len(mb.validation_x):
                    validation.append(None)
                else:
                    validation.append(preds[k, : len(mb.validation_x)])
            if diverged:
                eng.alive.assign(~self.stopped)
            yield WideEpoch(epoch, trained, loss, validation, diverged)

    def weights(self, k: int) -> list[np.ndarray]:
        """Member ``k``'s current weights, in ``model.get_weights()`` order."""
        return self._live.net.weights(k)

    def export(self, k: int, weights: list[np.ndarray] | None = None) -> keras.Model:
        """Member ``k`` as an ordinary Keras model holding ``weights`` (default: the current
        ones); save and load it as any trial's model. Its own model, or (built from initial
        states) a new one of the template's architecture, built without touching Python's
        ``random`` (what a seeded search draws next)."""
        if self._template:
            saved = random.getstate()
            try:
                model = keras.models.clone_model(self.models[0])
            finally:
                random.setstate(saved)
        else:
            model = self.models[k]
        model.set_weights(self.weights(k) if weights is None else weights)
        states = self._live.net.seed_states(k)
        for layer, state in zip(dropout_layers(model), states, strict=True):
            layer.seed_generator.state.assign(state)
        return model

    def close(self) -> None:
        """Done with this Wide: its kept engine lets go of the members' data."""
        if self._engine.owner() is self:
            self._engine.release()

    def __enter__(self) -> Wide:
        return self

    def __exit__(self, *exc: object) -> None:
        """Closed however the block ends: a trial that fails does not leave its data held
        by the kept engine until the next trial of its structure."""
        self.close()


def fit_wide(
    kind: str,
    layout: str,
    values: dict[str, Any],
    members: Sequence[Member],
    *,
    look_back: int,
    n_features: int,
    n_outputs: int,
    head: str,
    epochs: int,
    on_epoch: Callable[[Wide, WideEpoch], None] | None = None,
    design: str = "auto",
    reuse: bool = True,
    pad_steps: bool = False,
    lstm: str = "fused",
) -> Wide:
    """Build the members' models (each as its solo trial would) and train them ``epochs``
    epochs with the values' learning rate and batch size; ``on_epoch(wide, epoch)`` after
    every epoch may read weights and stop members. Returns the :class:`Wide` (export,
    diverged)."""
    models = build_members(
        kind,
        layout,
        values,
        [mb.seed for mb in members],
        look_back=look_back,
        n_features=n_features,
        n_outputs=n_outputs,
        head=head,
    )
    p = resolve(kind, values)
    wide = Wide(
        models,
        members,
        head=head,
        learning_rate=float(p["learning_rate"]),
        batch_size=int(p["batch_size"]),
        design=design,
        reuse=reuse,
        pad_steps=pad_steps,
        lstm=lstm,
    )
    for result in wide.run(epochs):
        if on_epoch is not None:
            on_epoch(wide, result)
    return wide
