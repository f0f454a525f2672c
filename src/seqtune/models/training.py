"""The training path: a compiled loop that runs a whole epoch, and the validation forward
pass, in one call.

Keras' ``fit`` spends 60–80 ms of per-epoch machinery even when an epoch is one step; on
airline-sized data that, not the arithmetic, is what a trial costs. This loop keeps the data
as tensors, runs every batch of an epoch inside one ``tf.function`` and yields one record
per epoch (:func:`train_epochs`): the caller scores it, keeps the best, asks the pruner and
stops by leaving the loop. :func:`fit` puts the Keras callback protocol on top, for code
written against ``model.fit``.

What makes an epoch cheap (measured in ``benchmarks/``, see ``docs/benchmarks.md``): on models
this small a step costs the number of TensorFlow kernels it launches, not their arithmetic.

- one call per epoch: every batch runs in an in-graph loop (no loop at all for a full batch);
- ``validation_x``: the same call also predicts the validation inputs after the epoch's
  updates, handed out in the epoch's record instead of making a second call (and tracing a
  second function) per trial;
- Adam as one fused kernel per variable (``ResourceApplyAdam``) instead of about twenty
  small ones; same formula and defaults as ``keras.optimizers.Adam``;
- recurrent layers over short windows are unrolled while training (``unroll``): a symbolic
  loop over 3 time steps costs more than the steps.

Results equal a plain ``model.fit`` with Adam and the same batch order within the tolerance
stated and tested in ``tests/models/test_models_training.py`` (rtol 1e-4 over 4 epochs).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from seqtune.models.feed import PREDICT_CHUNK, WindowFeed, as_feed, compact, gather, joined

#: ``fit(unroll=None)`` always unrolls recurrent layers over windows of at most this many
#: steps: unrolled, they trace as fast as the symbolic loop and run 1.4–2.5x faster.
UNROLL_ALWAYS_STEPS = 6
#: Longer windows, up to :data:`UNROLL_MAX_STEPS`, are unrolled when the fit is long enough
#: to repay the longer tracing: ``batches × epochs ≥ UNROLL_BATCH_EPOCHS × (steps − 6)``.
#: Measured (docs/benchmarks.md): each step beyond 6 adds 0.06–0.15 s of tracing; unrolling
#: saves 1.5–3 ms per batch and epoch; 100 batch-epochs per extra step is about the
#: break-even point of the least favourable case measured (up to 24 steps).
UNROLL_MAX_STEPS = 32
UNROLL_BATCH_EPOCHS = 100

# Keras' Adam defaults (keras.optimizers.Adam).
_BETA_1, _BETA_2, _EPSILON = 0.9, 0.999, 1e-7


class Diverged(RuntimeError):
    """The training loss became NaN or infinite."""

    def __init__(self, epoch: int, loss: float) -> None:
        super().__init__(f"training loss became {loss} at epoch {epoch + 1}")
        self.epoch = epoch
        self.loss = loss


@dataclass
class FitLog:
    """What a fit did: the per-epoch logs (losses and whatever callbacks wrote)."""

    epochs: list[dict[str, float]] = field(default_factory=list)

    @property
    def epochs_run(self) -> int:
        return len(self.epochs)


def make_loss(head: str) -> keras.losses.Loss:
    if head == "linear":
        return keras.losses.MeanSquaredError()
    if head == "sigmoid":
        return keras.losses.BinaryCrossentropy()
    return keras.losses.SparseCategoricalCrossentropy()


def adam_powers(step: Any) -> tuple[Any, Any]:
    """``beta_1 ** step`` and ``beta_2 ** step`` at Adam step ``step`` (a float32 scalar,
    counted from 1): formed once per step, shared by every variable's update."""
    beta_1, beta_2 = tf.constant(_BETA_1, tf.float32), tf.constant(_BETA_2, tf.float32)
    return tf.pow(beta_1, step), tf.pow(beta_2, step)


def adam_update(
    var: Any, m: Any, v: Any, grad: Any, powers: tuple[Any, Any], learning_rate: Any
) -> None:
    """One ``ResourceApplyAdam`` of ``var`` and its moments ``m``, ``v`` (plain
    ``tf.Variable`` objects) with the step's :func:`adam_powers` and Keras' Adam defaults."""
    tf.raw_ops.ResourceApplyAdam(
        var=var.handle,
        m=m.handle,
        v=v.handle,
        beta1_power=powers[0],
        beta2_power=powers[1],
        lr=learning_rate,
        beta1=tf.constant(_BETA_1, tf.float32),
        beta2=tf.constant(_BETA_2, tf.float32),
        epsilon=tf.constant(_EPSILON, tf.float32),
        grad=tf.convert_to_tensor(grad),
    )


class _Adam:
    """``keras.optimizers.Adam`` (defaults, no amsgrad) as one ``ResourceApplyAdam`` kernel
    per variable. The only numerical difference is that the kernel forms ``1 - beta`` in
    float32 (Keras forms it in float64, then rounds): relative 1e-5 on ``1 - beta_2``."""

    def __init__(self, variables: list[Any], learning_rate: float) -> None:
        self.variables = [_tf_variable(v) for v in variables]
        self.m = [tf.Variable(tf.zeros_like(v), trainable=False) for v in self.variables]
        self.v = [tf.Variable(tf.zeros_like(v), trainable=False) for v in self.variables]
        self.step = tf.Variable(0.0, dtype=tf.float32, trainable=False)
        self.learning_rate = tf.constant(learning_rate, tf.float32)

    @staticmethod
    def supports(variables: list[Any]) -> bool:
        return all(
            isinstance(_tf_variable(v), tf.Variable) and v.dtype == "float32" for v in variables
        )

    def apply(self, grads: list[Any]) -> None:
        powers = adam_powers(self.step.assign_add(1.0))
        for var, m, v, g in zip(self.variables, self.m, self.v, grads, strict=True):
            if g is not None:
                adam_update(var, m, v, g, powers, self.learning_rate)


class _KerasAdam:
    """The fallback (variables that are not plain float32 ``tf.Variable``\\ s)."""

    def __init__(self, variables: list[Any], learning_rate: float) -> None:
        self.variables = variables
        self.optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
        self.optimizer.build(variables)

    def apply(self, grads: list[Any]) -> None:
        pairs = [(g, v) for g, v in zip(grads, self.variables, strict=True) if g is not None]
        self.optimizer.apply([g for g, _ in pairs], [v for _, v in pairs])


def _tf_variable(v: Any) -> Any:
    """The ``tf.Variable`` behind a Keras variable (the TensorFlow backend wraps one)."""
    return getattr(v, "value", v)


def _recurrent_layers(layer: Any) -> Iterator[Any]:
    if isinstance(layer, keras.layers.RNN):
        yield layer
    if isinstance(layer, keras.layers.Bidirectional):
        yield from (layer.forward_layer, layer.backward_layer)
    for sub in getattr(layer, "layers", ()):
        yield from _recurrent_layers(sub)


def _time_steps(layer: Any) -> int | None:
    try:
        steps = layer.input.shape[1]
    except (AttributeError, ValueError, IndexError):
        return None
    return int(steps) if steps is not None else None


def should_unroll(steps: int | None, batches: int, epochs: int) -> bool:
    """Whether ``fit(unroll=None)`` unrolls a recurrent layer over ``steps`` time steps."""
    if steps is None or steps > UNROLL_MAX_STEPS:
        return False
    if steps <= UNROLL_ALWAYS_STEPS:
        return True
    return batches * epochs >= UNROLL_BATCH_EPOCHS * (steps - UNROLL_ALWAYS_STEPS)


@contextmanager
def _unrolled(model: keras.Model, unroll: bool | None, batches: int, epochs: int) -> Iterator[None]:
    """Unroll the recurrent layers while training; restore the model's setting after."""
    changed = []
    try:
        for layer in _recurrent_layers(model):
            steps = _time_steps(layer)
            want = should_unroll(steps, batches, epochs) if unroll is None else unroll
            if want and steps is not None and not layer.unroll:
                changed.append(layer)
                layer.unroll = True
        yield
    finally:
        for layer in changed:
            layer.unroll = False


@dataclass(frozen=True)
class Epoch:
    """One epoch of :func:`train_epochs`: its 0-based index, the mean training loss, and the
    raw model outputs on ``validation_x`` after this epoch's updates (``None`` without
    validation inputs). While the record is being handled the model holds this epoch's
    weights."""

    index: int
    loss: float
    predictions: np.ndarray | None


def train_epochs(
    model: keras.Model,
    x: np.ndarray | WindowFeed,
    y: np.ndarray,
    *,
    head: str,
    learning_rate: float,
    batch_size: int,
    epochs: int,
    seed: int,
    sample_weight: np.ndarray | None = None,
    initial_epoch: int = 0,
    validation_x: np.ndarray | WindowFeed | None = None,
    unroll: bool | None = None,
) -> Iterator[Epoch]:
    """Train ``model`` with Adam for epochs ``initial_epoch .. epochs-1``, yielding one
    :class:`Epoch` record after each; stop early by leaving the loop (``break``).

    Batches are drawn from a seeded shuffle of the training windows each epoch, so the
    same seed gives the same run. The epoch's ``loss`` is the mean over samples of the batch
    losses (as Keras reports it). Raises :class:`Diverged` when the loss stops being finite.

    ``x`` and ``validation_x``: arrays of samples or feeds
    (:class:`~seqtune.models.feed.WindowFeed`); either way the compiled call holds one
    matrix and the windows' start rows, and gathers each batch (and the validation
    windows, :data:`~seqtune.models.feed.PREDICT_CHUNK` at a time) by index, so a study's
    windows are never materialised.
    ``validation_x``: inputs predicted (inference mode) in the same compiled call as each
    epoch, handed out as :attr:`Epoch.predictions`.
    ``unroll``: unroll recurrent layers while training — ``None`` (default) when their
    windows are short, see :func:`should_unroll`. The model's own setting is restored when
    the iteration ends, however it ends.
    """
    feed = as_feed(x)
    n = len(feed)
    bs = max(1, min(int(batch_size), n))
    n_batches = math.ceil(n / bs)
    if validation_x is not None and len(validation_x) == 0:
        validation_x = None
    # the windows stay one matrix (rows x features) and start rows: every batch (and the
    # validation part, in chunks) is gathered inside the compiled call, never the whole part
    if validation_x is None:
        matrix, train_starts, _ = compact(feed.matrix, feed.starts, feed.starts[:0], feed.steps)
        val_starts = None
    else:
        matrix, train_starts, val_starts = compact(*joined(feed, as_feed(validation_x)), feed.steps)
    steps, sample = feed.steps, feed.sample
    mt = tf.constant(matrix, dtype=tf.float32)
    st = tf.constant(train_starts, dtype=tf.int32)
    yt = tf.constant(y.reshape(n, -1) if head != "softmax" else y.reshape(n), dtype=tf.float32)
    wt = None if sample_weight is None else tf.constant(sample_weight, dtype=tf.float32)
    vt = None if val_starts is None else tf.constant(val_starts, dtype=tf.int32)
    variables = model.trainable_variables
    optimizer: _Adam | _KerasAdam = (
        _Adam(variables, float(learning_rate))
        if _Adam.supports(variables)
        else _KerasAdam(variables, float(learning_rate))
    )
    loss_fn = make_loss(head)

    def step(xb: Any, yb: Any, wb: Any) -> Any:
        with tf.GradientTape() as tape:
            loss = loss_fn(yb, model(xb, training=True), sample_weight=wb)
        optimizer.apply(tape.gradient(loss, variables))
        return loss

    def batch(b: Any, total: Any, order: Any) -> tuple[Any, Any, Any]:
        start = b * bs
        stop = tf.minimum(start + bs, n)
        idx = order[start:stop]
        wb = None if wt is None else tf.gather(wt, idx)
        xb = gather(mt, tf.gather(st, idx), steps, sample)
        loss = step(xb, tf.gather(yt, idx), wb)
        return b + 1, total + loss * tf.cast(stop - start, tf.float32), order

    def train(order: tf.Tensor) -> tf.Tensor:
        if n_batches == 1:  # the order of a full batch changes nothing but round-off
            return step(gather(mt, st, steps, sample), yt, wt)
        _, total, _ = tf.while_loop(
            lambda b, total, order: b < n_batches,
            batch,
            (tf.constant(0), tf.constant(0.0), order),
            maximum_iterations=n_batches,
        )
        return total / n

    @tf.function(autograph=False)
    def run_epoch(order: tf.Tensor) -> Any:
        loss = train(order)
        if vt is None:
            return loss, tf.zeros((0,))
        with tf.control_dependencies([loss]):
            return loss, predict_chunked(model, mt, vt, steps, sample)

    # One trace per fit is the design; short fits (Hyperband's first rounds) would make
    # TensorFlow warn about "frequent retracing" of this code.
    run_epoch._omit_frequent_tracing_warning = True

    rng = np.random.default_rng(seed)
    with _unrolled(model, unroll, n_batches, epochs - initial_epoch):
        for epoch in range(initial_epoch, epochs):
            order = rng.permutation(n).astype(np.int32)
            loss_t, pred_t = run_epoch(tf.constant(order))
            loss = float(loss_t)
            if not math.isfinite(loss):
                raise Diverged(epoch, loss)
            yield Epoch(epoch, loss, None if vt is None else pred_t.numpy())


def fit(
    model: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    *,
    callbacks: list[keras.callbacks.Callback] | None = None,
    **options: Any,
) -> FitLog:
    """:func:`train_epochs` behind the Keras callback protocol (``on_epoch_end(epoch,
    logs)`` with ``logs["loss"]``, ``model.stop_training``), for code written against
    ``model.fit`` — the benchmarks and the tests that compare the two loops. The trial loop
    reads the epoch records directly."""
    callbacks = callbacks or []
    for cb in callbacks:
        cb.set_model(model)
    model.stop_training = False
    log = FitLog()
    for cb in callbacks:
        cb.on_train_begin({})
    epochs = train_epochs(model, x, y, **options)
    try:
        for record in epochs:
            for cb in callbacks:
                cb.on_epoch_begin(record.index, {})
            logs: dict[str, Any] = {"loss": record.loss}
            for cb in callbacks:
                cb.on_epoch_end(record.index, logs)
            log.epochs.append({k: float(v) for k, v in logs.items()})
            if model.stop_training:
                break
    finally:
        epochs.close()
    for cb in callbacks:
        cb.on_train_end({})
    return log


def predict_chunked(
    model: Any, matrix: Any, starts: Any, steps: int, sample: tuple[int, ...]
) -> Any:
    """In graph: ``model`` (inference mode) on the windows starting at ``starts`` of
    ``matrix``, gathered :data:`~seqtune.models.feed.PREDICT_CHUNK` windows at a time (one
    call when they are fewer), so a forward pass never holds a whole large part."""
    n = int(starts.shape[0])
    if n <= PREDICT_CHUNK:
        return model(gather(matrix, starts, steps, sample), training=False)
    count = math.ceil(n / PREDICT_CHUNK)

    def body(c: Any, out: Any) -> tuple[Any, Any]:
        part = starts[c * PREDICT_CHUNK : (c + 1) * PREDICT_CHUNK]
        return c + 1, out.write(c, model(gather(matrix, part, steps, sample), training=False))

    array = tf.TensorArray(tf.float32, size=count, infer_shape=False)
    _, array = tf.while_loop(
        lambda c, out: c < count, body, (tf.constant(0), array), maximum_iterations=count
    )
    return array.concat()


def predictor(model: keras.Model) -> Callable[[np.ndarray | WindowFeed], np.ndarray]:
    """A compiled forward pass (inference mode) returning numpy. Its input: an array of
    samples or a :class:`~seqtune.models.feed.WindowFeed`, predicted
    :data:`~seqtune.models.feed.PREDICT_CHUNK` windows at a time (one call when fewer)."""

    @tf.function(reduce_retracing=True)
    def forward(x: tf.Tensor) -> tf.Tensor:
        return model(x, training=False)

    def predict(x: np.ndarray | WindowFeed) -> np.ndarray:
        feed = as_feed(x)
        out = [forward(tf.constant(chunk.take(np.arange(len(chunk))))) for chunk in feed.chunks()]
        return np.concatenate([o.numpy() for o in out]) if len(out) > 1 else out[0].numpy()

    return predict
