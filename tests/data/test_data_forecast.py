"""Forecast windows: split sizes, windowing vs a plain loop, train-only scalers, inverses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from seqtune.data import TRANSFORMS, DataSpec, Table, Windows, load_table
from seqtune.data.transforms import DESEASON, lost_rows

AIRLINE = Path(__file__).resolve().parents[2] / "data" / "airline.csv"
PARTS = ("train", "val", "test")


def airline(**data: Any) -> Table:
    raw = {"csv": str(AIRLINE), "target": "Passengers", "split": {"val": 0.13, "test": 0.33}}
    return load_table(DataSpec.from_dict({**raw, **data}, Path(".")))


def frame_table(tmp_path: Path, frame: pd.DataFrame, **data: Any) -> Table:
    frame.to_csv(tmp_path / "f.csv", index=False)
    raw = {"csv": "f.csv", "target": "y", **data}
    return load_table(DataSpec.from_dict(raw, tmp_path))


def synthetic(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    y = 100 + 2 * t + 10 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1, n)
    return pd.DataFrame({"Date": [f"d{i}" for i in t], "y": y, "u": rng.normal(5, 2, n)})


def season_loop(base: np.ndarray, period: int) -> np.ndarray:
    """Reference: classical seasonal indices, the centred moving average row by row."""
    half = period // 2
    sums, counts = np.zeros(period), np.zeros(period)
    for t in range(half, len(base) - half):
        if period % 2:
            trend = base[t - half : t + half + 1].mean()
        else:
            inner = base[t - half + 1 : t + half].sum()
            trend = (inner + 0.5 * base[t - half] + 0.5 * base[t + half]) / period
        sums[t % period] += base[t] - trend
        counts[t % period] += 1
    indices = sums / counts
    return indices - indices.mean()


def loop_windows(table: Table, look_back: int, transform: str) -> dict[str, Any]:
    """Reference: the windows built row by row, with the scaler fitted by hand."""
    spec = table.spec
    y = table.y
    d = lost_rows(transform, spec.period)
    logy = np.log(y) if "log" in transform else y
    if transform in DESEASON:  # classical indices of the training rows, by hand
        logy = (
            logy
            - season_loop(logy[: table.bounds["train"][1]], spec.period)[
                np.arange(len(y)) % spec.period
            ]
        )
    z = np.full(len(y), np.nan)
    for t in range(d, len(y)):
        z[t] = logy[t] - (logy[t - d] if d else 0.0)
    n_train = table.bounds["train"][1]
    raw = table.feature_values().copy()
    cols = []
    for j, name in enumerate(table.features):
        col = z if name == table.target else raw[:, j]
        fit = col[d:n_train] if name == table.target else col[:n_train]
        cols.append((col - fit.min()) / (fit.max() - fit.min()))
    m = np.stack(cols, axis=1)
    zfit = z[d:n_train]
    zs = (z - zfit.min()) / (zfit.max() - zfit.min())
    out: dict[str, Any] = {p: ([], [], []) for p in PARTS}
    for t in range(len(y)):
        if t - look_back < d:
            continue
        part = next(p for p, (a, b) in table.bounds.items() if a <= t < b)
        xs, ys, rows = out[part]
        xs.append([m[r] for r in range(t - look_back, t)])
        ys.append(zs[t])
        rows.append(t)
    return {
        p: (np.array(xs, dtype=np.float32), np.array(ys, dtype=np.float32), rows)
        for p, (xs, ys, rows) in out.items()
    }


def test_airline_split_sizes_and_first_test_window() -> None:
    t = airline()
    assert t.n_rows == 144
    sizes = {p: b - a for p, (a, b) in t.bounds.items()}
    assert sizes == {"train": 77, "val": 19, "test": 48}
    w = t.windows(3)
    assert w.x_train.shape == (74, 3, 1) and w.x_val.shape == (19, 3, 1)
    assert w.x_test.shape == (48, 3, 1)
    assert w.x_train.dtype == np.float32 and w.y_train.dtype == np.float32
    assert w.target_rows("test")[0] == 96
    raw = pd.read_csv(AIRLINE)["Passengers"].to_numpy(dtype=float)
    inputs = w.feature_scaler.inverse(w.x_test[0].astype(np.float64))[:, 0]
    np.testing.assert_allclose(inputs, raw[93:96], rtol=1e-6)
    np.testing.assert_allclose(w.true_original("test")[0], raw[96])
    # val windows reach back across the boundary into training rows (true past values).
    np.testing.assert_allclose(w.feature_scaler.inverse(w.x_val[0])[:, 0], raw[74:77], rtol=1e-6)


@pytest.mark.parametrize("transform", TRANSFORMS)
@pytest.mark.parametrize("look_back", [1, 3, 7])
def test_windows_match_plain_loop(tmp_path: Path, transform: str, look_back: int) -> None:
    t = frame_table(tmp_path, synthetic(), features=["u", "y"], period=12)
    w = t.windows(look_back, transform)
    ref = loop_windows(t, look_back, transform)
    assert w.n_features == 2 and w.feature_names == ("u", "y")
    for p in PARTS:
        x, y = w.part(p)
        rx, ry, rows = ref[p]
        assert x.shape == rx.shape and x.shape[1:] == (look_back, 2)
        np.testing.assert_allclose(x, rx, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(y, ry, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(w.target_rows(p), rows)


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_inverse_exact(transform: str) -> None:
    w = airline(period=12).windows(5, transform)
    for p in PARTS:
        truth = w.true_original(p)
        np.testing.assert_allclose(w.to_original(p, w.target_scaled(p)), truth, rtol=1e-9, atol=0)
        # the float32 targets fed to Keras come back to within float32 rounding
        np.testing.assert_allclose(w.to_original(p, w.part(p)[1]), truth, rtol=1e-5)
        assert w.to_original(p, w.part(p)[1][:, None]).shape == truth.shape


def test_inverse_uses_true_past_values() -> None:
    w = airline().windows(2, "diff")
    rows = w.target_rows("test")
    raw = pd.read_csv(AIRLINE)["Passengers"].to_numpy(dtype=float)
    zero = w.target_scaler.transform(np.zeros(rows.size))  # predict "no change"
    np.testing.assert_allclose(w.to_original("test", zero), raw[rows - 1])


@pytest.mark.parametrize("scaler", ["minmax", "standard"])
@pytest.mark.parametrize("transform", ["none", "log", "diff"])
def test_scaler_never_sees_val_test(tmp_path: Path, scaler: str, transform: str) -> None:
    frame = synthetic()
    spec: dict[str, Any] = {"features": ["y", "u"], "scaler": scaler}
    clean = frame_table(tmp_path, frame, **spec).windows(3, transform)
    n_train = 60 - 9 - 12
    spiked = frame.copy()
    spiked.loc[n_train:, "y"] = 1e9
    spiked.loc[n_train:, "u"] = -1e9
    (tmp_path / "g").mkdir()
    dirty = frame_table(tmp_path / "g", spiked, **spec).windows(3, transform)
    for a, b in (
        (clean.feature_scaler, dirty.feature_scaler),
        (clean.target_scaler, dirty.target_scaler),
    ):
        np.testing.assert_array_equal(a.offset, b.offset)
        np.testing.assert_array_equal(a.scale, b.scale)
    np.testing.assert_array_equal(clean.x_train, dirty.x_train)
    np.testing.assert_array_equal(clean.y_train, dirty.y_train)


def test_minmax_maps_training_rows_to_unit_interval() -> None:
    w = airline().windows(1)
    y = w.feature_scaler.transform(airline().y[:77, None])
    assert y.min() == 0.0 and y.max() == 1.0
    assert w.y_test.max() > 1.0  # the test part goes beyond the training maximum


def test_scaler_none_keeps_values(tmp_path: Path) -> None:
    t = frame_table(tmp_path, synthetic(), scaler="none")
    w = t.windows(2, "diff")
    # train targets t = 3 .. 38 (n_train = 60 - 9 - 12 = 39), z_t = y_t - y_{t-1}
    np.testing.assert_array_equal(w.target_rows("train"), np.arange(3, 39))
    np.testing.assert_allclose(w.y_train, t.y[3:39] - t.y[2:38], rtol=1e-6)
    assert w.feature_scaler.kind == "none"


def test_exogenous_only_features(tmp_path: Path) -> None:
    t = frame_table(tmp_path, synthetic(), features=["u"])
    w = t.windows(4, "log_diff")
    assert w.n_features == 1
    for p in PARTS:
        np.testing.assert_allclose(
            w.to_original(p, w.target_scaled(p)), w.true_original(p), rtol=1e-9
        )


def test_windows_cached_and_read_only() -> None:
    t = airline()
    w = t.windows(3, "log")
    assert t.windows(3, "log") is w
    assert t.windows(3, "log", seed=5) is w  # the seed is irrelevant for a chronological split
    assert t.windows(4, "log") is not w
    with pytest.raises(ValueError):
        w.x_train[0, 0, 0] = 1.0


def test_part_accessors(tmp_path: Path) -> None:
    w = airline().windows(2)
    assert isinstance(w, Windows)
    x, y = w.part("val")
    assert x is w.x_val and y is w.y_val
    with pytest.raises(ValueError):
        w.part("holdout")
    with pytest.raises(ValueError):
        w.to_original("val", np.zeros(3))
    assert w.classes is None and w.n_classes is None and w.sample_weight_train is None


def test_vectorised_is_fast(tmp_path: Path) -> None:
    import time

    rng = np.random.default_rng(1)
    n, f = 22_000, 30
    names = tuple(f"c{i}" for i in range(f)) + ("y",)
    data = rng.normal(size=(n, f + 1))
    data[:, -1] = data[:, -1].cumsum() + 1000
    spec = DataSpec.from_dict({"csv": "big.csv", "target": "y", "features": list(names)}, tmp_path)
    t = Table(spec, names, data, np.arange(1, n + 1))  # skip the CSV: time the windowing only
    start = time.perf_counter()
    w = t.windows(20, "diff")
    elapsed = time.perf_counter() - start
    assert w.x_train.shape == (n - 3300 - 4400 - 21, 20, 31)
    assert elapsed < 0.5, elapsed
