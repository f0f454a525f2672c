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
engine holds 2.5-6 MiB that TensorFlow does not give back (measured, see docs/speed.md's
memory row): a search that keeps meeting new structures grows by that much per trace.
An unrolled LSTM's steps are part of its structure, so with ``pad_steps`` the windows are
padded at the front to a multiple of :data:`STEP_BUCKET` steps and the padding masked:
look_back 1-24 makes three structures instead of 24 (a fused LSTM makes one).
"""

from __future__ import annotations

import math
import random
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from seqtune.models.engine.engine import Engine, engine_shape, keep_engine, take_engine
from seqtune.models.engine.nets import LoopNet, StackedNet
from seqtune.models.engine.plan import (
    DESIGNS,
    LSTM_KERNELS,
    Member,
    WideEpoch,
    build_members,
    loop_key,
    stacked_plan,
)
from seqtune.models.initial import Initial, dropout_layers, initial_of
from seqtune.models.params import resolve
from seqtune.models.training import Diverged


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
        plan = stacked_plan(self.models[0], pad=pad_steps, lstm=lstm)
        if design == "stacked" and plan is None:
            raise ValueError("the stacked design does not cover this architecture")
        self.design = "stacked" if design != "loop" and plan is not None else "loop"
        if self._template and self.design != "stacked":
            raise ValueError("initial states need the stacked design (loop trains K models)")
        ops = plan[0] if plan is not None and self.design == "stacked" else []
        arch = plan[1] if self.design == "stacked" and plan is not None else loop_key(models[0])
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
        shape = engine_shape(members, head, batch_size, steps + lead if fixed else None)
        key = (arch, self.design, shape, jit)
        engine = take_engine(key) if reuse else None
        self.reused = engine is not None
        if engine is None:
            net: StackedNet | LoopNet
            if self.design == "stacked":
                ranks = [len(w.shape) for w in self.models[0].weights]
                net = StackedNet(len(members), ops, ranks)
            else:
                net = LoopNet([keras.models.clone_model(m) for m in self.models])
            engine = Engine(net, self.design, shape, jit)
        self._engine = engine
        engine.owner = weakref.ref(self)
        if reuse:
            keep_engine(key, engine)
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
    def _live(self) -> Engine:
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
