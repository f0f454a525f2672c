"""Issue 28: windows are read from the scaled matrix by start row, never materialised, and
a trial sees exactly the windows (values and order) it saw when they were dense arrays;
the linear baselines fit on a bounded, deterministic sample and predict in chunks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from seqtune.data import DataSpec, Windows, load_table
from seqtune.models import baselines as bl
from seqtune.models import feed as feed_module
from seqtune.models.builders import build_model, reshape_x
from seqtune.models.engine import Member, Wide
from seqtune.models.feed import WindowFeed, as_feed, gather, window_of
from seqtune.models.training import predictor, train_epochs

AIRLINE = Path(__file__).resolve().parents[2] / "data" / "airline.csv"


def airline_windows(look_back: int = 5, transform: str = "log_diff") -> Windows:
    raw = {"csv": str(AIRLINE), "target": "Passengers", "split": {"val": 24, "test": 24}}
    raw["period"] = 12
    return load_table(DataSpec.from_dict(raw, AIRLINE.parent)).windows(look_back, transform)


def classify_windows(tmp_path: Path, method: str = "chronological") -> Windows:
    rng = np.random.default_rng(3)
    n = 400
    frame = pd.DataFrame(
        {"a": rng.normal(size=n), "b": rng.normal(size=n).cumsum(), "c": rng.integers(0, 2, n)}
    )
    frame.to_csv(tmp_path / "s.csv", index=False)
    split: dict[str, Any] = {"val": 0.2, "test": 0.2}
    if method == "stratified":
        split["method"] = "stratified"
    raw = {"csv": "s.csv", "target": "c", "task": "classify", "split": split}
    table = load_table(DataSpec.from_dict(raw, tmp_path))
    with pytest.warns(Warning) if method == "stratified" else _nothing():
        return table.windows(7, seed=5)


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


@pytest.mark.parametrize("layout", ["timesteps", "window"])
@pytest.mark.parametrize("kind", ["forecast", "classify", "stratified"])
def test_the_feed_reads_exactly_the_arrays_of_today(tmp_path: Path, layout: str, kind: str) -> None:
    """Every part's feed, gathered in numpy and in graph, equals the dense array the
    trial used to be given (``reshape_x`` of the part's x), window for window."""
    if kind == "forecast":
        windows = airline_windows()
    else:
        windows = classify_windows(tmp_path, "stratified" if kind == "stratified" else "c")
    for part in ("train", "val", "test"):
        dense = np.array(reshape_x(np.array(windows.part(part)[0]), layout))
        feed = window_of(windows, part, layout)
        assert feed.shape == dense.shape
        np.testing.assert_array_equal(feed.take(np.arange(len(feed))), dense)
        np.testing.assert_array_equal(np.asarray(feed), dense)
        order = np.random.default_rng(0).permutation(len(feed))
        got = gather(
            tf.constant(feed.matrix),
            tf.constant(feed.starts[order], tf.int32),
            feed.steps,
            feed.sample,
        ).numpy()
        np.testing.assert_array_equal(got, dense[order])
        # a view passed as an array is read from its matrix too, without a copy
        if kind != "stratified" and len(dense):
            viewed = as_feed(reshape_x(windows.part(part)[0], "timesteps"), layout)
            assert np.shares_memory(viewed.matrix, windows.matrix)
            np.testing.assert_array_equal(np.asarray(viewed), dense)


def test_window_starts_name_the_rows_of_each_window(tmp_path: Path) -> None:
    windows = classify_windows(tmp_path)
    matrix, starts = windows.window_starts("val")
    x = windows.part("val")[0]
    for k in (0, len(starts) // 2, len(starts) - 1):
        np.testing.assert_array_equal(x[k], matrix[starts[k] : starts[k] + windows.look_back])
    # a window never straddles a split boundary: every val window's rows lie in the val part
    first = windows.target_rows("val")[0] - windows.look_back  # label_at next
    assert starts.min() >= first


def _model(look_back: int, features: int, head: str, seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    values = {"units": 8, "dropout": 0.1, "num_hidden_layers": 1, "dense_units": 4}
    return build_model(
        "lstm",
        "timesteps",
        values,
        look_back=look_back,
        n_features=features,
        n_outputs=1,
        head=head,
    )


@pytest.mark.parametrize("validation", [True, False])
def test_fit_on_the_feed_equals_fit_on_dense_arrays(tmp_path: Path, validation: bool) -> None:
    """The compiled fit trained on the feed gives exactly the losses and validation
    predictions it gives on the materialised arrays (same batches, same order)."""
    windows = classify_windows(tmp_path)
    x, y = windows.part("train")
    xv = windows.part("val")[0]
    runs = []
    for source in ("dense", "feed"):
        model = _model(7, windows.n_features, "sigmoid", 1)
        if source == "dense":
            tx, vx = np.array(x) + 0.0, np.array(xv) + 0.0  # plain copies, not views
        else:
            tx, vx = (
                window_of(windows, "train", "timesteps"),
                window_of(windows, "val", "timesteps"),
            )
        records = list(
            train_epochs(
                model,
                tx,
                y,
                head="sigmoid",
                learning_rate=0.01,
                batch_size=32,
                epochs=3,
                seed=4,
                sample_weight=windows.sample_weight_train,
                validation_x=vx if validation else None,
            )
        )
        runs.append(records)
    for a, b in zip(*runs, strict=True):
        assert a.loss == b.loss
        if validation:
            np.testing.assert_array_equal(a.predictions, b.predictions)


def test_chunked_validation_and_predict_equal_one_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parts larger than PREDICT_CHUNK are predicted in chunks: same values (to float32
    round-off of the batched matmul) and same order as one call."""
    windows = classify_windows(tmp_path)
    x, y = windows.part("train")
    vx = window_of(windows, "val", "timesteps")
    outs = []
    for chunk in (100_000, 13):
        monkeypatch.setattr(feed_module, "PREDICT_CHUNK", chunk)
        monkeypatch.setattr("seqtune.models.training.PREDICT_CHUNK", chunk)
        model = _model(7, windows.n_features, "sigmoid", 1)
        epoch = next(
            train_epochs(
                model,
                window_of(windows, "train", "timesteps"),
                y,
                head="sigmoid",
                learning_rate=0.01,
                batch_size=32,
                epochs=1,
                seed=4,
                validation_x=vx,
            )
        )
        outs.append((epoch.predictions, predictor(model)(vx)))
    np.testing.assert_allclose(outs[0][0], outs[1][0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(outs[0][1], outs[1][1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(outs[0][0], outs[0][1], rtol=1e-5, atol=1e-6)


def test_wide_on_feeds_equals_wide_on_dense_arrays(tmp_path: Path) -> None:
    """The side-by-side engine (two members, one validation chunk smaller than the part)
    trains the feeds exactly as it trains the dense arrays."""
    windows = classify_windows(tmp_path)
    y = windows.part("train")[1]
    results = []
    for source in ("dense", "feed"):
        if source == "dense":
            x = np.array(windows.part("train")[0]) + 0.0
            xv = np.array(windows.part("val")[0]) + 0.0
        else:
            x, xv = window_of(windows, "train", "timesteps"), window_of(windows, "val", "timesteps")
        members = [Member(s, x, y, validation_x=xv) for s in (1, 2)]
        models = [_model(7, windows.n_features, "sigmoid", s) for s in (1, 2)]
        with Wide(
            models, members, head="sigmoid", learning_rate=0.01, batch_size=32, reuse=False
        ) as wide:
            results.append([(e.loss.copy(), [v.copy() for v in e.validation]) for e in wide.run(2)])
    for (la, va), (lb, vb) in zip(*results, strict=True):
        np.testing.assert_array_equal(la, lb)
        for a, b in zip(va, vb, strict=True):
            np.testing.assert_array_equal(a, b)


def test_feed_of_a_plain_array_keeps_any_sample_shape() -> None:
    x = np.arange(24, dtype=np.float32).reshape(4, 3, 2) * 1.5
    feed = as_feed(x[::-1])  # not a view of consecutive windows
    assert feed.steps == 1 and feed.shape == (4, 3, 2)
    np.testing.assert_array_equal(np.asarray(feed), x[::-1])
    assert isinstance(as_feed(feed), WindowFeed)


# -- the linear baselines -------------------------------------------------------------------


def test_fit_sample_is_every_window_up_to_the_limit_then_spread_evenly() -> None:
    np.testing.assert_array_equal(bl.fit_sample(100, limit=100), np.arange(100))
    picked = bl.fit_sample(1_000_000, limit=20_000)
    assert picked.size == 20_000 and picked[0] == 0 and picked[-1] == 999_999
    assert np.all(np.diff(picked) >= 49)
    np.testing.assert_array_equal(picked, bl.fit_sample(1_000_000, limit=20_000))


def test_logistic_fits_the_sample_and_predicts_in_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    windows = classify_windows(tmp_path)
    x, y = windows.part("train")
    xs = [windows.part("val")[0], windows.part("test")[0]]
    w = windows.sample_weight_train
    full = bl.logistic(x, y, xs, 2, w)
    monkeypatch.setattr(bl, "PREDICT_CHUNK", 7)
    for a, b in zip(full, bl.logistic(x, y, xs, 2, w), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    monkeypatch.setattr(bl, "FIT_MAX_WINDOWS", 50)
    pick = bl.fit_sample(len(x), 50)
    sampled = bl.logistic(x, y, xs, 2, w)
    monkeypatch.setattr(bl, "FIT_MAX_WINDOWS", 10**9)
    by_hand = bl.logistic(np.array(x)[pick], y[pick], xs, 2, None if w is None else w[pick])
    for a, b in zip(sampled, by_hand, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9)


def test_ridge_fits_the_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    windows = airline_windows()
    x = windows.part("train")[0]
    y = windows.target_scaled("train")
    xs = [windows.part("val")[0]]
    monkeypatch.setattr(bl, "FIT_MAX_WINDOWS", 40)
    pick = bl.fit_sample(len(x), 40)
    sampled = bl.ridge(x, y, xs)
    monkeypatch.setattr(bl, "FIT_MAX_WINDOWS", 10**9)
    np.testing.assert_allclose(sampled[0], bl.ridge(np.array(x)[pick], y[pick], xs)[0])
