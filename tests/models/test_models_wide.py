"""K members trained in one call (``seqtune.models.engine``) against each member trained alone
with ``seqtune.models.training.fit`` (same seed: same initial weights, batch order and
dropout masks; same rows).

Stated tolerance: over 4 epochs, each member's per-epoch losses, its validation predictions
after every epoch and its final weights equal its solo ``fit`` to ``rtol=1e-4, atol=1e-5``
(the tolerance of test_models_training.py). The differences are float32 round-off: batched
matmuls summing in another order, Adam written out instead of the fused kernel (same
formula). Measured here: losses within 5e-7 relative, weights within 3e-7 absolute.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import pytest

from seqtune.models.builders import build_model
from seqtune.models.engine import (
    Member,
    Wide,
    build_members,
    clear_engines,
    fit_wide,
    padded_steps,
)
from seqtune.models.training import Diverged, fit

RTOL, ATOL = 1e-4, 1e-5
LOOK_BACK, FEATURES, LR, EPOCHS = 4, 2, 0.01, 4
SHAPE: dict[str, Any] = {"look_back": LOOK_BACK, "n_features": FEATURES, "n_outputs": 1}
LSTM: dict[str, Any] = {"units": 6, "num_hidden_layers": 1, "dense_units": 5}
MLP: dict[str, Any] = {"num_hidden_layers": 2, "dense_units": 7, "dense_activation": "tanh"}


def data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.random((n, LOOK_BACK, FEATURES)).astype(np.float32)
    y = (x[:, -1, :1] * 0.8 + 0.1 * x[:, 0, 1:2]).astype(np.float32)
    return x, y


def members(rows: list[int], seeds: list[int], n_val: int = 6) -> list[Member]:
    out = []
    for i, (n, seed) in enumerate(zip(rows, seeds, strict=True)):
        x, y = data(n, 100 + i)
        xv = data(n_val + i, 200 + i)[0]  # each member its own validation inputs
        out.append(Member(seed, x, y, validation_x=xv))
    return out


def shape_of(ms: list[Member]) -> dict[str, Any]:
    """SHAPE with the members' window length."""
    return {**SHAPE, "look_back": int(ms[0].x.shape[1])}


def solo(
    kind: str, values: dict[str, Any], m: Member, batch_size: int, head: str = "linear"
) -> tuple[list[float], list[np.ndarray], keras.Model]:
    """``m`` trained alone as a trial trains it; its losses and validation predictions."""
    keras.utils.set_random_seed(m.seed)
    model = build_model(kind, "timesteps", values, head=head, **shape_of([m]))
    preds: list[np.ndarray] = []

    class Predict(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            preds.append(model(m.validation_x, training=False).numpy())

    log = fit(
        model,
        m.x,
        m.y,
        head=head,
        learning_rate=LR,
        batch_size=batch_size,
        epochs=EPOCHS,
        seed=m.seed,
        sample_weight=m.sample_weight,
        callbacks=[Predict()],
    )
    return [e["loss"] for e in log.epochs], preds, model


def wide(
    kind: str,
    values: dict[str, Any],
    ms: list[Member],
    batch_size: int,
    head: str = "linear",
    **kw: Any,
) -> tuple[Wide, list[Any]]:
    models = build_members(
        kind, "timesteps", values, [m.seed for m in ms], head=head, **shape_of(ms)
    )
    w = Wide(models, ms, head=head, learning_rate=LR, batch_size=batch_size, **kw)
    return w, list(w.run(EPOCHS))


def assert_each_equals_solo(
    kind: str, values: dict[str, Any], ms: list[Member], batch_size: int, **kw: Any
) -> Wide:
    w, epochs = wide(kind, values, ms, batch_size, **kw)
    for k, m in enumerate(ms):
        losses, preds, model = solo(kind, values, m, batch_size, kw.get("head", "linear"))
        np.testing.assert_allclose([e.loss[k] for e in epochs], losses, rtol=RTOL, atol=ATOL)
        for e, p in zip(epochs, preds, strict=True):
            np.testing.assert_allclose(e.validation[k], p, rtol=RTOL, atol=ATOL)
        for a, b in zip(w.weights(k), model.get_weights(), strict=True):
            np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)
    return w


CASES = [  # batch 64: full batch; batch 5: minibatches, short last ones
    ("stacked", "lstm", 64, "fused"),
    ("stacked", "lstm", 5, "fused"),
    ("stacked", "lstm", 64, "unrolled"),
    ("stacked", "lstm", 5, "unrolled"),
    ("stacked", "mlp", 64, "fused"),
    ("stacked", "mlp", 5, "fused"),
    ("loop", "lstm", 5, "fused"),
    ("loop", "mlp", 64, "fused"),
]


@pytest.mark.parametrize(("design", "kind", "batch_size", "lstm"), CASES)
def test_each_member_equals_its_solo_fit(
    design: str, kind: str, batch_size: int, lstm: str
) -> None:
    values = LSTM if kind == "lstm" else MLP
    # different row counts (folds): 23 rows make 5 batches of 5, 30 rows 6
    ms = members([30, 23, 30], [1, 2, 3])
    w = assert_each_equals_solo(kind, values, ms, batch_size, design=design, reuse=False, lstm=lstm)
    assert w.design == design


def test_dropout_masks_are_each_members_own() -> None:
    values = {**LSTM, "dropout": 0.3, "dense_dropout": 0.2}
    ms = members([24, 17], [5, 6])
    assert_each_equals_solo("lstm", values, ms, 5, reuse=False)


def test_a_member_of_one_batch_keeps_its_natural_order() -> None:
    """9 rows and batch 10: fit trains them as one batch in their natural order, and so
    must the Wide, though the 30-row member beside it needs three batches (with dropout
    a permuted order gives each row another mask)."""
    values = {**LSTM, "dropout": 0.3, "dense_dropout": 0.2}
    assert_each_equals_solo("lstm", values, members([30, 9], [3, 4]), 10, reuse=False)


def test_sample_weights_and_classification_head() -> None:
    ms = []
    for i, m in enumerate(members([20, 26], [8, 9])):
        y = (m.y > np.median(m.y)).astype(np.float32)
        w = np.where(np.arange(len(y)) % 3 == i, 0.0, 1.5).astype(np.float32)
        ms.append(Member(m.seed, m.x, y, sample_weight=w, validation_x=m.validation_x))
    assert_each_equals_solo("lstm", LSTM, ms, 6, head="sigmoid", reuse=False)


def test_a_diverging_member_fails_alone() -> None:
    ms = members([24, 24, 24], [1, 2, 3])
    bad = ms[1].y.copy()
    bad[3] = np.nan
    ms[1] = Member(ms[1].seed, ms[1].x, bad, validation_x=ms[1].validation_x)
    w, epochs = wide("lstm", LSTM, ms, 5, reuse=False)
    assert list(w.diverged) == [1]
    assert isinstance(w.diverged[1], Diverged) and w.diverged[1].epoch == 0
    assert epochs[0].diverged == [1]
    assert all(not e.trained[1] and np.isnan(e.loss[1]) for e in epochs[1:])
    assert all(e.validation[1] is None for e in epochs[1:])
    for k in (0, 2):  # the others are untouched by it
        losses, _, model = solo("lstm", LSTM, ms[k], 5)
        np.testing.assert_allclose([e.loss[k] for e in epochs], losses, rtol=RTOL, atol=ATOL)
        for a, b in zip(w.weights(k), model.get_weights(), strict=True):
            np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)


def test_stopped_member_keeps_its_weights_and_others_go_on() -> None:
    ms = members([20, 20], [4, 5])
    models = build_members("mlp", "timesteps", MLP, [4, 5], head="linear", **SHAPE)
    w = Wide(models, ms, head="linear", learning_rate=LR, batch_size=6, reuse=False)
    run = w.run(EPOCHS)
    next(run)
    w.stop(0)
    frozen = w.weights(0)
    rest = list(run)
    assert all(not e.trained[0] and e.trained[1] for e in rest)
    for a, b in zip(w.weights(0), frozen, strict=True):
        np.testing.assert_array_equal(a, b)
    losses, _, _ = solo("mlp", MLP, ms[1], 6)
    np.testing.assert_allclose([rest[-1].loss[1]], [losses[-1]], rtol=RTOL, atol=ATOL)


def test_seeded_runs_are_reproducible_and_reuse_the_engine() -> None:
    clear_engines()
    ms = members([22, 18], [11, 12])
    a, ea = wide("lstm", LSTM, ms, 5)
    first = [a.weights(k) for k in range(2)]
    b, eb = wide("lstm", LSTM, ms, 5)  # same shapes: the kept engine, re-initialised
    assert not a.reused and b.reused
    assert b._engine.run_epoch.experimental_get_tracing_count() == 1
    with pytest.raises(RuntimeError, match="export members before"):
        a.weights(0)  # a's engine now holds b's members
    for x, y in zip(ea, eb, strict=True):
        np.testing.assert_array_equal(x.loss, y.loss)
    for k in range(2):
        for p, q in zip(first[k], b.weights(k), strict=True):
            np.testing.assert_array_equal(p, q)
    other = members([22, 18], [13, 12])
    c, ec = wide("lstm", LSTM, other, 5)
    assert c.reused and ec[-1].loss[0] != eb[-1].loss[0]
    np.testing.assert_array_equal(ec[-1].loss[1], eb[-1].loss[1])


def test_export_is_an_ordinary_model_that_saves_and_loads(tmp_path: Any) -> None:
    ms = members([20, 25], [3, 4])
    w, _ = wide("lstm", {**LSTM, "dropout": 0.2}, ms, 8, reuse=False)
    model = w.export(1)
    path = tmp_path / "member.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    xv = ms[1].validation_x
    np.testing.assert_allclose(loaded.predict(xv, verbose=0), w.export(1)(xv), rtol=1e-6)
    for a, b in zip(loaded.get_weights(), w.weights(1), strict=True):
        np.testing.assert_array_equal(a, b)


def test_fit_wide_reads_the_values_and_calls_back() -> None:
    seen: list[int] = []

    def on_epoch(w: Wide, e: Any) -> None:
        seen.append(e.epoch)
        if e.epoch == 1:
            w.stop(0)
            w.stop(1)

    values = {**MLP, "learning_rate": LR, "batch_size": 6}
    w = fit_wide(
        "mlp",
        "timesteps",
        values,
        members([18, 18], [1, 2]),
        head="linear",
        epochs=EPOCHS,
        on_epoch=on_epoch,
        **SHAPE,
    )
    assert seen == [0, 1] and w.stopped.all()


def test_refusals() -> None:
    ms = members([10, 10], [1, 2])
    models = build_members(
        "lstm", "timesteps", {**LSTM, "dropout": 0.2}, [1, 2], **SHAPE, head="linear"
    )
    with pytest.raises(ValueError, match="one model per member"):
        Wide(models[:1], ms, head="linear", learning_rate=LR, batch_size=4)
    with pytest.raises(ValueError, match="jit"):
        Wide(models, ms, head="linear", learning_rate=LR, batch_size=4, jit=True)
    plain = build_members("lstm", "timesteps", LSTM, [1, 2], **SHAPE, head="linear")
    with pytest.raises(ValueError, match="XLA has no BlockLSTM"):
        Wide(plain, ms, head="linear", learning_rate=LR, batch_size=4, jit=True)
    with pytest.raises(ValueError, match="lstm must be one of fused, unrolled, not 'cudnn'"):
        Wide(plain, ms, head="linear", learning_rate=LR, batch_size=4, lstm="cudnn")
    with pytest.raises(ValueError, match="pad_steps is for the unrolled LSTM"):
        Wide(plain, ms, head="linear", learning_rate=LR, batch_size=4, pad_steps=True)


def test_one_engine_serves_other_units_rates_rows_and_learning_rates() -> None:
    """The kept engine is keyed by layer structure: members with other units, dropout
    rates, rows and learning rate are re-loaded into it, nothing traced, and still equal
    their solo fits."""
    clear_engines()
    first = {**LSTM, "dropout": 0.3}
    a = assert_each_equals_solo("lstm", first, members([24, 17], [5, 6]), 5)
    tracing = a._engine.run_epoch.experimental_get_tracing_count()
    other = {"units": 9, "num_hidden_layers": 1, "dense_units": 3, "dropout": 0.1}
    b = assert_each_equals_solo("lstm", other, members([31, 12], [7, 8]), 5)
    assert not a.reused and b.reused and b._engine is a._engine
    assert b._engine.run_epoch.experimental_get_tracing_count() == tracing


def lengthened(ms: list[Member], reps: int) -> list[Member]:
    """The members with their windows (and validation windows) repeated ``reps`` times
    along the steps."""
    return [
        Member(m.seed, np.tile(m.x, (1, reps, 1)), m.y, None, np.tile(m.validation_x, (1, reps, 1)))
        for m in ms
    ]


def test_a_new_structure_or_unrolled_window_length_gets_its_own_engine() -> None:
    clear_engines()
    ms = members([20, 20], [1, 2])
    a, _ = wide("lstm", LSTM, ms, 5)
    b, _ = wide("lstm", {**LSTM, "num_hidden_layers": 2}, ms, 5)  # one more Dense
    assert not b.reused
    longer = lengthened(ms, 2)
    models = build_members(
        "lstm", "timesteps", LSTM, [1, 2], head="linear", **{**SHAPE, "look_back": 8}
    )
    kw: dict[str, Any] = {"head": "linear", "learning_rate": LR, "batch_size": 5}
    c = Wide(models, longer, **kw, lstm="unrolled")
    assert not c.reused  # the LSTM's unrolled steps are part of the trace
    d = Wide(models, longer, **kw)
    assert d.reused and d._engine is a._engine  # a fused LSTM's steps are not


def test_a_fused_lstm_serves_every_window_length_with_one_trace() -> None:
    """Windows of 3, 4 and 40 steps (beyond the unrolled LSTM's 32) train on one engine,
    traced once, each member equal to its solo fit."""
    clear_engines()
    values = {**LSTM, "dropout": 0.25}
    runs = []
    for steps in (3, 4, 40):
        ms = lengthened(members([30, 23], [1, 2]), -(-steps // LOOK_BACK))
        runs.append(assert_each_equals_solo("lstm", values, windows_of(ms, steps), 5))
    assert not runs[0].reused and all(r.reused for r in runs[1:])
    assert all(r._engine is runs[0]._engine for r in runs)
    assert runs[0]._engine.run_epoch.experimental_get_tracing_count() == 1


def test_members_from_initial_states_train_as_their_built_models() -> None:
    """A template and replayed initial states (no K builds) train exactly as the K built
    models do; export builds each member's own model from the template."""
    from seqtune.models.builders import build_model as build
    from seqtune.models.initial import recipe_of

    values = {**LSTM, "dropout": 0.2}
    ms = members([20, 25, 20], [3, 3, 4])  # two builds of seed 3 (two folds), one of 4
    template, recipe = recipe_of(lambda: build("lstm", "timesteps", values, head="linear", **SHAPE))
    assert recipe is not None
    initial = [*recipe.initial(3, 2), *recipe.initial(4, 1)]
    a = Wide(
        [template], ms, head="linear", learning_rate=LR, batch_size=8, initial=initial, reuse=False
    )
    ea = list(a.run(EPOCHS))
    keras.utils.set_random_seed(3)
    built = [build("lstm", "timesteps", values, head="linear", **SHAPE) for _ in range(2)]
    keras.utils.set_random_seed(4)
    built.append(build("lstm", "timesteps", values, head="linear", **SHAPE))
    b = Wide(built, ms, head="linear", learning_rate=LR, batch_size=8, reuse=False)
    eb = list(b.run(EPOCHS))
    for x, y in zip(ea, eb, strict=True):
        np.testing.assert_array_equal(x.loss, y.loss)
    for k in range(3):
        exported = a.export(k)
        assert exported is not template
        for p, q in zip(exported.get_weights(), b.export(k).get_weights(), strict=True):
            np.testing.assert_array_equal(p, q)


def test_close_lets_go_of_the_members_data() -> None:
    clear_engines()
    w, _ = wide("mlp", MLP, members([30, 30], [1, 2]), 5)
    assert w._engine.starts.numpy().shape[1] == 30  # 30 training windows a member
    assert w._engine.x.numpy().shape[1] > 0  # their matrix (and the validation windows')
    w.close()
    assert w._engine.starts.numpy().shape[1] == 0
    assert w._engine.x.numpy().shape[1] == 0


def windows_of(ms: list[Member], steps: int) -> list[Member]:
    """The members with their windows cut to the last ``steps`` steps."""
    return [
        Member(m.seed, m.x[:, -steps:], m.y, m.sample_weight, m.validation_x[:, -steps:])
        for m in ms
    ]


def test_padded_windows_of_one_bucket_share_an_engine_and_equal_their_solo_fits() -> None:
    """With pad_steps, windows of 2 and 4 steps are unrolled over 8 (the leading steps
    masked): one engine serves both, nothing is traced for the second, and each member
    still equals its unpadded solo fit."""
    clear_engines()
    values = {**LSTM, "dropout": 0.25}
    runs = []
    for steps, batch in ((2, 5), (4, 5), (4, 64)):
        ms = windows_of(members([30, 23], [1, 2]), steps)
        runs.append(
            assert_each_equals_solo("lstm", values, ms, batch, pad_steps=True, lstm="unrolled")
        )
    two, four, full = runs
    assert padded_steps(2) == padded_steps(4) == 8
    assert not two.reused and four.reused and four._engine is two._engine
    assert two._engine.run_epoch.experimental_get_tracing_count() == 1
    assert not full.reused  # one batch an epoch is another engine (no batch loop)


def test_padded_steps_buckets() -> None:
    assert [padded_steps(s) for s in (1, 7, 8, 9, 16, 17, 24, 25, 32, 33, 60)] == [
        8,
        8,
        8,
        16,
        16,
        24,
        24,
        32,
        32,
        33,
        60,
    ]


def test_unrolled_without_pad_steps_each_window_length_is_its_own_engine() -> None:
    clear_engines()
    a, _ = wide("lstm", LSTM, windows_of(members([20, 20], [1, 2]), 3), 5, lstm="unrolled")
    b, _ = wide("lstm", LSTM, members([20, 20], [1, 2]), 5, lstm="unrolled")
    assert not a.reused and not b.reused


def test_the_least_recently_used_engine_is_dropped_beyond_the_cache_size(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from seqtune.models.engine import engine as wide_module

    clear_engines()
    monkeypatch.setattr(wide_module, "ENGINE_CACHE_SIZE", 1)
    ms = members([20, 20], [1, 2])
    a, _ = wide("lstm", LSTM, ms, 5)
    b, _ = wide("lstm", {**LSTM, "num_hidden_layers": 2}, ms, 5)  # evicts a's engine
    c, _ = wide("lstm", LSTM, ms, 5)
    assert not a.reused and not b.reused and not c.reused
    d, _ = wide("lstm", LSTM, ms, 5)
    assert d.reused and d._engine is c._engine
