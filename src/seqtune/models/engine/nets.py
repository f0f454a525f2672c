"""The forward passes an engine trains: :class:`StackedNet` (every weight stacked along a
leading K axis, Dense layers as batched matmuls, the LSTM fused or unrolled) and
:class:`LoopNet` (the K Keras models called one after the other), with the per-sample
losses of the heads."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from seqtune.models.engine.plan import STEP_BUCKET, Op
from seqtune.models.initial import Initial, dropout_layers
from seqtune.models.training import UNROLL_MAX_STEPS


def per_sample_loss(head: str) -> Callable[[Any, Any], Any]:
    """The Keras loss of ``training.make_loss`` per sample (mean over the last axis),
    for any leading axes."""
    if head == "linear":
        return keras.losses.mean_squared_error
    if head == "sigmoid":
        return keras.losses.binary_crossentropy
    return keras.losses.sparse_categorical_crossentropy


def seed32(seed: Any) -> Any:
    """Keras' cast of a seed-generator state to the int32 seed of a stateless op."""
    return tf.cast(tf.math.floormod(seed, tf.int32.max - 1), tf.int32)


# --- the networks --------------------------------------------------------------------------


class StackedNet:
    """Every weight with a leading K axis; one batched kernel per layer for all members.
    The weights' other dims are open (units may differ from one trial to the next)."""

    def __init__(self, k: int, ops: list[Op], ranks: Sequence[int]) -> None:
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

    def load(self, initial: Sequence[Initial], ops: list[Op], lead: int = 0) -> None:
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

    def _lstm(self, x: Any, op: Op) -> Any:
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

    def _fused_lstm(self, x: Any, op: Op) -> Any:
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

    def _dropout(self, h: Any, op: Op, active: Any) -> Any:
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
            uniform = tf.random.stateless_uniform(tf.shape(hk), seed32(seeds[k]), dtype=tf.float32)
            out.append(tf.where(uniform >= rate, hk * scale, tf.zeros_like(hk)))
        return tf.stack(out)


class LoopNet:
    """The K Keras models, called one after the other inside the graph."""

    def __init__(self, models: list[keras.Model]) -> None:
        self.k = len(models)
        self.models = models  # the engine's own copies (see Engine)
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

    def load(self, initial: Sequence[Initial], ops: list[Op], lead: int = 0) -> None:
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
