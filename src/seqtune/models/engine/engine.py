"""The engine: the traced epoch function, its variables and the members' data
(:class:`Engine`), and the small cache of engines kept for later trials of the same layer
structure (:data:`ENGINE_CACHE_SIZE`, :func:`take_engine`, :func:`keep_engine`)."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

from seqtune.models.engine.nets import LoopNet, StackedNet, per_sample_loss
from seqtune.models.engine.plan import Member, Op
from seqtune.models.feed import PREDICT_CHUNK, as_feed, compact, gather, joined
from seqtune.models.initial import Initial
from seqtune.models.training import adam_powers, adam_update

# Keras' Adam defaults, as in training.py.
BETA_1, BETA_2, EPSILON = 0.9, 0.999, 1e-7

#: Engines (traced epoch function + variables) kept for reuse by later trials. A kept
#: engine holds its graph and its last members' weights and Adam state (their data is
#: released); a dropped one gives little back (TensorFlow keeps most of a trace's memory),
#: and tracing its structure again costs 1-2 s. A 50-trial study of 6 structures
#: (``benchmarks/memory_rss.py``) ran in 0.68x the wall time with 16 kept as with 4, at
#: the same RSS.
ENGINE_CACHE_SIZE = 16

# --- the engine: data, optimizer state and the traced epoch -------------------------------


@dataclass(frozen=True)
class Shape:
    """What a traced epoch bakes in besides the architecture. Everything else (rows,
    batch size, validation rows, features, outputs, units, rates, learning rate) is a
    value of the engine's variables."""

    k: int
    head: str
    full_batch: bool  # one batch an epoch (no loop over batches)
    validation: bool
    x_dims: tuple[int | None, ...]  # a sample's dims; None: any (an LSTM's steps are fixed)
    y_rank: int


class Engine:
    """Variables for the weights, Adam state and data of K members, and the compiled epoch.
    Reusable by any later set of members with the same key (built in :class:`Wide`)."""

    def __init__(self, net: StackedNet | LoopNet, design: str, shape: Shape, jit: bool) -> None:
        self.k = shape.k
        self.design = design
        self.net = net
        self.head = shape.head
        self._data_variables(shape)
        self._adam_slots()
        self._loss_fn = per_sample_loss(shape.head)
        # one member (a holdout trial, a refit of one): the fused Adam kernel itself
        self._fused = self.k == 1 and design == "stacked"
        self.run_epoch = self._epoch_function(shape, jit)
        self.owner: Callable[[], Any] = lambda: None  # the Wide whose members it holds

    # -- variables -----------------------------------------------------------------------
    def _data_variables(self, shape: Shape) -> None:
        """The members' data, row counts, batch size, liveness and learning rate: values
        of variables whose open dims take any size on assignment (nothing re-traced)."""
        k = self.k

        def data(dims: Sequence[int | None], dtype: Any = tf.float32) -> tf.Variable:
            """(K, rows, *dims): rows and the None dims take any size on assignment."""
            zeros = tf.zeros((k, 0, *(d or 1 for d in dims)), dtype)
            return tf.Variable(zeros, shape=tf.TensorShape([k, None, *dims]), trainable=False)

        # windows as one matrix per member (K, rows, features) and each window's start row
        # (training and validation), gathered per batch inside the call (models.feed)
        self.x = data([None])
        self.starts = data([], tf.int32)
        self.vstarts = data([], tf.int32)
        self.span = tf.Variable(1, dtype=tf.int32, trainable=False)  # matrix rows a window
        self.lead = tf.Variable(0, dtype=tf.int32, trainable=False)  # zero steps in front
        self.sample = tf.Variable(
            tf.ones((len(shape.x_dims),), tf.int32), trainable=False
        )  # one window's shape as the model reads it (before the lead)
        self.x_dims = shape.x_dims
        self.y = data([None] * (shape.y_rank - 1))
        self.w = data([])
        self.n = tf.Variable(tf.zeros((k,), tf.int32), trainable=False)
        self.bs = tf.Variable(1, dtype=tf.int32, trainable=False)
        self.alive = tf.Variable(tf.zeros((k,), tf.bool), trainable=False)
        self.learning_rate = tf.Variable(0.0, dtype=tf.float32, trainable=False)

    def _adam_slots(self) -> None:
        """Adam's moments (one per weight variable) and each member's step count."""

        def slot(var: tf.Variable) -> tf.Variable:
            return tf.Variable(tf.zeros_like(var), shape=var.shape, trainable=False)

        self.m = [slot(v) for v in self.net.variables]
        self.v = [slot(v) for v in self.net.variables]
        self.t = tf.Variable(tf.zeros((self.k,), tf.float32), trainable=False)

    # -- the traced epoch: Adam, one batch, the batches of an epoch ---------------------------
    def _fused_adam(self, grads: list[Any], active: Any) -> None:
        """One member: training.py's fused ResourceApplyAdam itself, one kernel per variable
        instead of about a dozen (1.5x the epoch on the drone stream's 482 batches). A lone
        member's step only runs while it is active (run() ends when it stops); guarded
        anyway."""
        variables = self.net.variables

        def apply() -> Any:
            powers = adam_powers(self.t.assign_add(tf.ones((1,), tf.float32))[0])
            for var, m, v, g in zip(variables, self.m, self.v, grads, strict=True):
                if g is not None:
                    adam_update(var, m, v, g, powers, self.learning_rate)
            return tf.constant(0)

        tf.cond(active[0], apply, lambda: tf.constant(0))

    def _adam(self, grads: list[Any], active: Any) -> None:
        """training.py's fused ResourceApplyAdam, written out per member: each member has
        its own step count; a member that is not active changes nothing."""
        if self._fused:
            return self._fused_adam(grads, active)
        b1, b2 = tf.constant(BETA_1, tf.float32), tf.constant(BETA_2, tf.float32)
        one = tf.constant(1.0, tf.float32)
        eps = tf.constant(EPSILON, tf.float32)
        t = self.t.assign_add(tf.cast(active, tf.float32))
        b1p, b2p = tf.pow(b1, t), tf.pow(b2, t)
        safe = tf.where(active, one - b1p, one)
        alpha = self.learning_rate * tf.sqrt(one - b2p) / safe
        variables, axes = self.net.variables, self.net.axes()
        for var, m, v, g, axis in zip(variables, self.m, self.v, grads, axes, strict=True):
            if g is None:
                continue
            rank = len(var.shape)
            on = _per_member(active, axis, rank)
            m_new = m + (g - m) * (one - b1)
            v_new = v + (tf.square(g) - v) * (one - b2)
            step = m_new * _per_member(alpha, axis, rank) / (tf.sqrt(v_new) + eps)
            m.assign(tf.where(on, m_new, m))
            v.assign(tf.where(on, v_new, v))
            var.assign(tf.where(on, var - step, var))
        return None

    def _step(self, xb: Any, yb: Any, wb: Any, count: Any, active: Any) -> Any:
        """One batch of every member: ``wb`` is 0 on padded rows, ``count`` the member's
        real rows. Returns the members' batch losses (K,)."""
        one = tf.constant(1.0, tf.float32)
        variables = self.net.variables
        with tf.GradientTape() as tape:
            pred = self.net.forward(xb, True, active)
            per_sample = self._loss_fn(yb, pred)  # (K, B)
            losses = tf.reduce_sum(per_sample * wb, axis=1) / tf.maximum(count, one)
            total = tf.reduce_sum(tf.where(active, losses, tf.zeros_like(losses)))
        self._adam(tape.gradient(total, variables), active)
        return losses

    def _gather(self, idx: Any, positions: Any) -> tuple[Any, Any, Any, Any, Any]:
        """Rows ``idx`` (K, B) of each member's data; ``positions`` (B,) their places in
        the epoch's order, real where below the member's row count."""
        xb = self._windows(tf.gather(self.starts, idx, batch_dims=1))
        yb = tf.gather(self.y, idx, batch_dims=1)
        valid = tf.cast(positions[None, :] < self.n[:, None], tf.float32)
        wb = tf.gather(self.w, idx, batch_dims=1) * valid
        count = tf.reduce_sum(valid, axis=1)
        return xb, yb, wb, count, tf.logical_and(self.alive, count > 0)

    def _windows(self, rows: Any) -> Any:
        """The windows starting at ``rows`` (K, B) of each member's matrix, (K, B, *sample),
        with ``lead`` zero steps in front (a padded LSTM's)."""
        xb = gather(self.x, rows, self.span, self.sample)
        rank = len(self.x_dims)
        pad = tf.stack([tf.one_hot(2, 2 + rank, dtype=tf.int32), tf.zeros((2 + rank,), tf.int32)])
        xb = tf.pad(xb, tf.transpose(pad) * self.lead)
        return tf.ensure_shape(xb, [self.k, None, *self.x_dims])

    def _validation(self) -> Any:
        """Each member's predictions of its validation windows (inference mode), forward
        passes of :data:`~seqtune.models.feed.PREDICT_CHUNK` windows at a time."""
        chunk = PREDICT_CHUNK
        starts = self.vstarts.read_value()
        count = (tf.shape(starts)[1] + chunk - 1) // chunk

        def body(c: Any, out: Any) -> tuple[Any, Any]:
            rows = starts[:, c * chunk : (c + 1) * chunk]
            pred = self.net.forward(self._windows(rows), False, self.alive)  # (K, B, ..)
            return c + 1, out.write(c, tf.experimental.numpy.swapaxes(pred, 0, 1))

        array = tf.TensorArray(tf.float32, size=count, infer_shape=False)
        _, array = tf.while_loop(lambda c, out: c < count, body, (tf.constant(0), array))
        return tf.experimental.numpy.swapaxes(array.concat(), 0, 1)

    def _train(self, order: Any, full_batch: bool) -> Any:
        """Every batch of one epoch (``order``: each member's rows in its epoch order);
        the members' epoch losses."""
        k = self.k
        one = tf.constant(1.0, tf.float32)
        if full_batch:  # every member one full batch, in its natural order
            rows = tf.range(tf.shape(self.starts)[1])
            idx = tf.tile(rows[None, :], [k, 1])
            return self._step(*self._gather(idx, rows))
        bs = self.bs.read_value()
        n_batches = tf.shape(order)[1] // bs

        def body(b: Any, total: Any) -> tuple[Any, Any]:
            positions = tf.range(bs) + b * bs
            xb, yb, wb, count, active = self._gather(
                tf.slice(order, [0, b * bs], [k, bs]), positions
            )
            losses = self._step(xb, yb, wb, count, active)
            return b + 1, total + tf.where(active, losses * count, tf.zeros_like(losses))

        _, total = tf.while_loop(
            lambda b, total: b < n_batches,
            body,
            (tf.constant(0), tf.zeros((k,), tf.float32)),
            maximum_iterations=n_batches,
        )
        return total / tf.maximum(tf.cast(self.n, tf.float32), one)

    def _epoch_function(self, shape: Shape, jit: bool) -> Any:
        """The compiled epoch: every batch, then (with validation) the members'
        predictions of their validation inputs."""
        k = self.k

        # the order's length (rows padded to whole batches) changes from trial to trial
        @tf.function(
            autograph=False,
            jit_compile=jit,
            input_signature=[tf.TensorSpec((k, None), tf.int32)],
        )
        def run_epoch(order: tf.Tensor) -> tuple[Any, Any]:
            loss = self._train(order, shape.full_batch)
            if not shape.validation:
                return loss, tf.zeros((k, 0))
            with tf.control_dependencies([loss]):
                return loss, self._validation()

        run_epoch._omit_frequent_tracing_warning = True
        return run_epoch

    def load(
        self,
        initial: Sequence[Initial],
        ops: list[Op],
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
        feeds = [member_feed(mb) for mb in members]
        first = feeds[0][0]
        y_dims = targets(members[0].y, self.head).shape[1:]
        r_max = max(matrix.shape[0] for matrix, _, _ in feeds)
        x = np.zeros((self.k, r_max, first.shape[1]), np.float32)
        starts = np.zeros((self.k, n_max), np.int32)
        vstarts = np.zeros((self.k, nv_max), np.int32)
        y = np.zeros((self.k, n_max, *y_dims), np.float32)
        w = np.zeros((self.k, n_max), np.float32)
        for k, (mb, (matrix, train, val)) in enumerate(zip(members, feeds, strict=True)):
            n = len(mb.x)
            x[k, : matrix.shape[0]] = matrix
            starts[k, :n] = train
            vstarts[k, : len(val)] = val
            y[k, :n] = targets(mb.y, self.head).reshape(y[k, :n].shape)
            w[k, :n] = 1.0 if mb.sample_weight is None else mb.sample_weight
        self.x.assign(x)
        del x
        self.starts.assign(starts)
        self.vstarts.assign(vstarts)
        self.y.assign(y)
        self.w.assign(w)
        feed = as_feed(members[0].x)
        self.span.assign(feed.steps)
        self.sample.assign(np.array(feed.sample, np.int32))
        self.lead.assign(lead)
        self.n.assign(np.array([len(mb.x) for mb in members], np.int32))
        self.alive.assign(np.ones(self.k, bool))
        bs = max(1, min(batch_size, n_max))
        self.bs.assign(bs)
        return math.ceil(n_max / bs) * bs

    def release(self) -> None:
        """Drop the members' data (kept engines would otherwise hold the last trial's)."""
        for var in (self.x, self.starts, self.vstarts, self.y, self.w):
            var.assign(tf.zeros((self.k, 0, *(d or 1 for d in var.shape[2:])), var.dtype))


def member_feed(member: Member) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A member's windows as one matrix (rows, features), only the rows its training and
    validation windows read, and their start rows in it."""
    feed = as_feed(member.x)
    if member.validation_x is None or not len(member.validation_x):
        matrix, train, val = feed.matrix, feed.starts, np.zeros((0,), np.int64)
    else:
        matrix, train, val = joined(feed, as_feed(member.validation_x))
    return compact(matrix, train, val, feed.steps)


def targets(y: np.ndarray, head: str) -> np.ndarray:
    n = len(y)
    return (y.reshape(n) if head == "softmax" else y.reshape(n, -1)).astype(np.float32)


_ENGINES: OrderedDict[tuple[Any, ...], Engine] = OrderedDict()


def take_engine(key: tuple[Any, ...]) -> Engine | None:
    """The kept engine of ``key``, taken out of the cache (None: none kept)."""
    return _ENGINES.pop(key, None)


def keep_engine(key: tuple[Any, ...], engine: Engine) -> None:
    """Keep ``engine`` as the most recent of ``key``'s, dropping the least recently used
    beyond :data:`ENGINE_CACHE_SIZE`."""
    _ENGINES[key] = engine
    while len(_ENGINES) > ENGINE_CACHE_SIZE:
        _ENGINES.popitem(last=False)


def clear_engines() -> None:
    """Forget every kept engine (their variables and traced functions)."""
    _ENGINES.clear()


def engine_shape(members: Sequence[Member], head: str, batch_size: int, steps: int | None) -> Shape:
    """``steps``: the windows' steps as the engine holds them (an LSTM's, padded or not);
    None: any (no LSTM unrolls them)."""
    n_max = max(len(mb.x) for mb in members)
    validation = any(mb.validation_x is not None and len(mb.validation_x) for mb in members)
    sample = tuple(int(d) for d in members[0].x.shape[1:])
    x_dims: tuple[int | None, ...] = tuple(None for _ in sample)
    if steps is not None:
        x_dims = (steps, *x_dims[1:])
    y_rank = targets(members[0].y, head).ndim
    return Shape(len(members), head, batch_size >= n_max, validation, x_dims, y_rank)


def _per_member(vec: Any, axis: int | None, rank: int) -> Any:
    """A (K,) vector as the factor of one variable: broadcast along the leading axis of a
    stacked variable, or member ``axis``'s scalar."""
    if axis is None:
        return tf.reshape(vec, [-1] + [1] * (rank - 1))
    return vec[axis]
