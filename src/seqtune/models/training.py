"""The training path: a compiled loop that runs a whole epoch in one call.

Keras' ``fit`` spends 60–80 ms of per-epoch machinery even when an epoch is one step; on
airline-sized data that, not the arithmetic, is what a trial costs. This loop keeps the
data as tensors, runs every batch of an epoch inside one ``tf.function`` and speaks the
ordinary Keras callback protocol (``on_epoch_end(epoch, logs)``, ``model.stop_training``),
so objective, early-stopping and pruning callbacks work here and under ``model.fit`` alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import tensorflow as tf


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


def fit(
    model: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    *,
    head: str,
    learning_rate: float,
    batch_size: int,
    epochs: int,
    seed: int,
    sample_weight: np.ndarray | None = None,
    callbacks: list[keras.callbacks.Callback] | None = None,
    initial_epoch: int = 0,
) -> FitLog:
    """Train ``model`` with Adam for epochs ``initial_epoch .. epochs-1``.

    Batches are drawn from a seeded shuffle of the training windows each epoch, so the
    same seed gives the same run. Raises :class:`Diverged` when the loss stops being finite.
    """
    n = int(x.shape[0])
    bs = max(1, min(int(batch_size), n))
    n_batches = math.ceil(n / bs)
    xt = tf.constant(x, dtype=tf.float32)
    yt = tf.constant(y.reshape(n, -1) if head != "softmax" else y.reshape(n), dtype=tf.float32)
    wt = tf.constant(
        np.ones(n, np.float32) if sample_weight is None else sample_weight.astype(np.float32)
    )
    optimizer = keras.optimizers.Adam(learning_rate=float(learning_rate))
    optimizer.build(model.trainable_variables)
    loss_fn = make_loss(head)
    variables = model.trainable_variables

    @tf.function(reduce_retracing=True)
    def run_epoch(order: tf.Tensor) -> tf.Tensor:
        total = tf.constant(0.0)
        for b in tf.range(n_batches):
            idx = order[b * bs : tf.minimum((b + 1) * bs, n)]
            xb, yb, wb = tf.gather(xt, idx), tf.gather(yt, idx), tf.gather(wt, idx)
            with tf.GradientTape() as tape:
                pred = model(xb, training=True)
                loss = loss_fn(yb, pred, sample_weight=wb)
            grads = tape.gradient(loss, variables)
            optimizer.apply(grads, variables)
            total += loss
        return total / tf.cast(n_batches, tf.float32)

    callbacks = callbacks or []
    for cb in callbacks:
        cb.set_model(model)
    model.stop_training = False
    rng = np.random.default_rng(seed)
    log = FitLog()
    for cb in callbacks:
        cb.on_train_begin({})
    for epoch in range(initial_epoch, epochs):
        order = rng.permutation(n).astype(np.int32)
        for cb in callbacks:
            cb.on_epoch_begin(epoch, {})
        loss = float(run_epoch(tf.constant(order)))
        if not math.isfinite(loss):
            raise Diverged(epoch, loss)
        logs: dict[str, Any] = {"loss": loss}
        for cb in callbacks:
            cb.on_epoch_end(epoch, logs)
        log.epochs.append({k: float(v) for k, v in logs.items()})
        if model.stop_training:
            break
    for cb in callbacks:
        cb.on_train_end({})
    return log


def predictor(model: keras.Model) -> Any:
    """A compiled forward pass (inference mode) returning numpy."""

    @tf.function(reduce_retracing=True)
    def forward(x: tf.Tensor) -> tf.Tensor:
        return model(x, training=False)

    def predict(x: np.ndarray) -> np.ndarray:
        return forward(tf.constant(x, dtype=tf.float32)).numpy()

    return predict
