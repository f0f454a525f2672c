"""Classify windows: vs a plain loop, no window across parts, no target input, stratified
leak warning, balanced weights, train-only scaler, predictions back to labels."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from seqtune.data import DataSpec, LeakWarning, Table, load_table
from seqtune.errors import UserError

PARTS = ("train", "val", "test")


def stream(n: int = 80, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.66).astype(int)
    return pd.DataFrame(
        {
            "frame.time": [f"t{i}" for i in range(n)],
            "x": rng.normal(0, 1, n) + labels,
            "wlan.duration": rng.integers(0, 300, n),
            "noise": rng.normal(10, 3, n),
            "class": labels,
        }
    )


def make(tmp_path: Path, frame: pd.DataFrame, **data: Any) -> Table:
    frame.to_csv(tmp_path / "s.csv", index=False)
    raw = {"csv": "s.csv", "target": "class", "task": "classify", **data}
    return load_table(DataSpec.from_dict(raw, tmp_path))


def loop_windows(table: Table, look_back: int, label_at: str) -> dict[str, Any]:
    """Reference: every window lying in one part, row by row, scaler fitted by hand."""
    raw = table.feature_values()
    a, b = table.bounds["train"]
    lo, hi = raw[a:b].min(axis=0), raw[a:b].max(axis=0)
    m = (raw - lo) / np.where(hi > lo, hi - lo, 1.0)
    off = 1 if label_at == "next" else 0
    out: dict[str, Any] = {}
    for part, (start, stop) in table.bounds.items():
        xs, ys, rows = [], [], []
        for s in range(start, stop):
            label_row = s + look_back - 1 + off
            if label_row >= stop:
                break
            xs.append(m[s : s + look_back])
            ys.append(table.labels[label_row])
            rows.append(label_row)
        out[part] = (np.array(xs, dtype=np.float32), np.array(ys), rows)
    return out


@pytest.mark.parametrize("label_at", ["next", "last"])
@pytest.mark.parametrize("look_back", [1, 2, 5])
def test_windows_match_plain_loop(tmp_path: Path, label_at: str, look_back: int) -> None:
    t = make(tmp_path, stream(), label_at=label_at)
    assert t.features == ("x", "wlan.duration", "noise")
    w = t.windows(look_back)
    ref = loop_windows(t, look_back, label_at)
    assert w.task == "classify" and w.n_features == 3 and w.n_classes == 2
    for p in PARTS:
        x, y = w.part(p)
        rx, ry, rows = ref[p]
        assert x.shape == rx.shape and x.dtype == np.float32
        assert y.dtype == np.int32
        np.testing.assert_allclose(x, rx, rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(y, ry)
        np.testing.assert_array_equal(w.target_rows(p), rows)


def test_label_at_next_is_row_after_window_last_is_last_row(tmp_path: Path) -> None:
    frame = stream(40)
    frame["x"] = np.arange(40, dtype=float)  # the scaled x identifies the row
    nxt = make(tmp_path, frame, features=["x"], scaler="none").windows(3)
    last = make(tmp_path, frame, features=["x"], scaler="none", label_at="last").windows(3)
    np.testing.assert_array_equal(nxt.x_train[0, :, 0], [0, 1, 2])
    assert nxt.target_rows("train")[0] == 3
    np.testing.assert_array_equal(last.x_train[0, :, 0], [0, 1, 2])
    assert last.target_rows("train")[0] == 2


@pytest.mark.parametrize("label_at", ["next", "last"])
def test_chronological_windows_never_cross_a_part_boundary(tmp_path: Path, label_at: str) -> None:
    frame = stream(100)
    frame["x"] = np.arange(100, dtype=float)
    t = make(tmp_path, frame, features=["x"], scaler="none", label_at=label_at)
    for look_back in (1, 4, 9):
        w = t.windows(look_back)
        for p in PARTS:
            start, stop = t.bounds[p]
            x = w.part(p)[0][:, :, 0]
            rows = w.target_rows(p)
            assert x.min() >= start and x.max() < stop
            assert rows.min() >= start and rows.max() < stop


def test_target_never_an_input_feature(tmp_path: Path) -> None:
    t = make(tmp_path, stream())
    assert "class" not in t.features
    w = t.windows(3)
    assert "class" not in w.feature_names and w.n_features == 3
    with pytest.raises(UserError) as info:
        make(tmp_path, stream(), features=["x", "class"])
    assert info.value.field == "data.features"


def test_autoregressive_allows_target_input(tmp_path: Path) -> None:
    t = make(tmp_path, stream(), features=["x", "class"], autoregressive=True)
    w = t.windows(2)
    assert w.feature_names == ("x", "class")
    # label_at next: the label row is never inside its own window
    inputs = w.feature_scaler.inverse(w.x_train)[:, :, 1]
    np.testing.assert_array_equal(inputs[:, -1], t.labels[w.target_rows("train") - 1])


def test_scaler_fitted_on_training_rows_only(tmp_path: Path) -> None:
    frame = stream(80)
    clean = make(tmp_path, frame).windows(3)
    spiked = frame.copy()
    n_train = 80 - 12 - 16
    spiked.loc[n_train:, "x"] = 1e9
    spiked.loc[n_train:, "noise"] = -1e9
    (tmp_path / "g").mkdir()
    dirty = make(tmp_path / "g", spiked).windows(3)
    np.testing.assert_array_equal(clean.feature_scaler.offset, dirty.feature_scaler.offset)
    np.testing.assert_array_equal(clean.feature_scaler.scale, dirty.feature_scaler.scale)
    np.testing.assert_array_equal(clean.x_train, dirty.x_train)
    assert dirty.x_val.max() > 1e6


def test_stratified_warns_and_splits_by_label(tmp_path: Path) -> None:
    t = make(tmp_path, stream(400), split={"val": 0.15, "test": 0.2, "method": "stratified"})
    with pytest.warns(LeakWarning, match="stratified splits overlapping windows"):
        w = t.windows(5, seed=1)
    assert issubclass(LeakWarning, UserWarning)
    n_windows = 400 - 5
    sizes = {p: w.part(p)[0].shape[0] for p in PARTS}
    assert sizes == {"train": n_windows - 59 - 79, "val": 59, "test": 79}
    rows = np.concatenate([w.target_rows(p) for p in PARTS])
    assert np.unique(rows).size == n_windows  # every window in exactly one part
    share = [w.part(p)[1].mean() for p in PARTS]
    assert max(share) - min(share) < 0.03
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert t.windows(5, seed=1) is w  # cached: no second warning, same windows
    with pytest.warns(LeakWarning):
        other = t.windows(5, seed=2)
    assert not np.array_equal(other.target_rows("test"), w.target_rows("test"))


def test_stratified_scaler_only_sees_rows_of_training_windows(tmp_path: Path) -> None:
    frame = stream(200)
    frame["x"] = np.arange(200, dtype=float)
    t = make(tmp_path, frame, features=["x"], split={"method": "stratified"})
    with pytest.warns(LeakWarning):
        w = t.windows(1, seed=0)
    train_inputs = w.target_rows("train") - 1  # look_back 1, label next: input row = label - 1
    assert w.feature_scaler.offset[0] == train_inputs.min()
    assert w.feature_scaler.scale[0] == train_inputs.max() - train_inputs.min()


def test_chronological_does_not_warn(tmp_path: Path) -> None:
    t = make(tmp_path, stream())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t.windows(3)


def test_balanced_sample_weights(tmp_path: Path) -> None:
    t = make(tmp_path, stream(200), class_weight="balanced")
    w = t.windows(4)
    y = w.y_train
    assert w.sample_weight_train is not None and w.sample_weight_train.shape == y.shape
    counts = np.bincount(y)
    expected = y.size / (2 * counts[y])
    np.testing.assert_allclose(w.sample_weight_train, expected, rtol=1e-6)
    assert abs(w.sample_weight_train.mean() - 1.0) < 1e-6
    # each class carries the same total weight
    totals = [w.sample_weight_train[y == k].sum() for k in (0, 1)]
    np.testing.assert_allclose(totals[0], totals[1], rtol=1e-5)
    assert make(tmp_path, stream(200)).windows(4).sample_weight_train is None


def test_to_original_and_true_original(tmp_path: Path) -> None:
    frame = stream(90)
    frame["class"] = frame["class"].map({0: 3, 1: 8})
    t = make(tmp_path, frame)
    w = t.windows(2)
    np.testing.assert_array_equal(w.classes, [3, 8])
    truth = w.true_original("val")
    np.testing.assert_array_equal(truth, frame["class"].to_numpy()[w.target_rows("val")])
    y = w.y_val
    np.testing.assert_array_equal(w.to_original("val", y), truth)
    np.testing.assert_array_equal(w.to_original("val", y.astype(np.float32) * 0.8 + 0.1), truth)
    np.testing.assert_array_equal(w.to_original("val", np.eye(2)[y]), truth)
    np.testing.assert_array_equal(w.to_original("val", (y * 0.9)[:, None]), truth)
    with pytest.raises(ValueError):
        w.to_original("val", np.zeros((y.size, 3)))


def test_multiclass_probabilities(tmp_path: Path) -> None:
    frame = stream(90)
    frame["class"] = np.arange(90) % 3
    w = make(tmp_path, frame).windows(2)
    assert w.n_classes == 3
    probs = np.eye(3)[w.y_test] * 0.7 + 0.1
    np.testing.assert_array_equal(w.to_original("test", probs), w.true_original("test"))
    with pytest.raises(ValueError):
        w.to_original("test", np.full(w.y_test.size, 0.3))


def test_training_part_with_one_class_is_refused(tmp_path: Path) -> None:
    frame = stream(60)
    frame["class"] = (np.arange(60) >= 40).astype(int)  # all attacks after the train part
    t = make(tmp_path, frame)
    with pytest.raises(UserError) as info:
        t.windows(2)
    assert info.value.field == "data.split" and "has class 0" in info.value.message


def test_classify_transform_refused(tmp_path: Path) -> None:
    t = make(tmp_path, stream())
    with pytest.raises(UserError) as info:
        t.windows(2, "diff")
    assert info.value.field == "space.transform"
