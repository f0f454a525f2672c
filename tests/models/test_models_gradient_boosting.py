"""The gradient-boosting window baseline of classification: what it learns, its cost caps,
early stopping on training windows only, and the test part never read before export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from seqtune.data import DataSpec, Table, load_table
from seqtune.models import baselines as bl
from seqtune.objectives import metrics
from seqtune.study.baselines import validation_view


def xor_windows(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Windows (n, 3, 2) whose class is the sign of a product: no linear model separates it."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3, 2))
    return x, (x[:, -1, 0] * x[:, -1, 1] > 0).astype(np.int64)


@pytest.fixture
def fits(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every HistGradientBoostingClassifier.fit call: its arrays and the fitted model."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    seen: list[dict[str, Any]] = []
    original = HistGradientBoostingClassifier.fit

    def recording(
        self: Any,
        X: Any,  # noqa: N803 (scikit-learn's names: the baseline looks for X_val)
        y: Any,
        sample_weight: Any = None,
        *,
        X_val: Any = None,  # noqa: N803
        y_val: Any = None,
        sample_weight_val: Any = None,
    ) -> Any:
        held = {"X_val": X_val, "y_val": y_val, "sample_weight_val": sample_weight_val}
        held = {k: v for k, v in held.items() if v is not None}
        seen.append({"x": np.array(X), "y": np.array(y), "w": sample_weight, **held})
        out = original(self, X, y, sample_weight=sample_weight, **held)
        seen[-1]["model"] = self
        return out

    monkeypatch.setattr(HistGradientBoostingClassifier, "fit", recording)
    return seen


def table_of(folder: Path, frame: pd.DataFrame) -> Table:
    folder.mkdir(exist_ok=True)
    frame.to_csv(folder / "s.csv", index=False)
    raw = {
        "csv": "s.csv",
        "target": "c",
        "task": "classify",
        "split": {"val": 0.2, "test": 0.2},
        "class_weight": "balanced",
    }
    return load_table(DataSpec.from_dict(raw, folder))


def two_class_frame(n: int = 4000, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(size=n)
    c = ((a * np.roll(b, 1)) > 0).astype(int)  # the row's a times the previous row's b
    return pd.DataFrame({"a": a, "b": b, "c": np.roll(c, 1)})  # label_at window end


# -- what it learns --------------------------------------------------------------------------


def test_it_learns_what_the_logistic_baseline_cannot_and_is_deterministic() -> None:
    x, y = xor_windows(1200)
    (boosted,) = bl.gradient_boosting(x[:1000], y[:1000], [x[1000:]], 2)
    (linear,) = bl.logistic(x[:1000], y[:1000], [x[1000:]], 2)
    assert boosted.shape == (200,) and np.all((boosted >= 0) & (boosted <= 1))
    assert metrics.accuracy(y[1000:], boosted) > 0.9
    assert metrics.accuracy(y[1000:], linear) < 0.7
    (again,) = bl.gradient_boosting(x[:1000], y[:1000], [x[1000:]], 2)
    np.testing.assert_array_equal(boosted, again)


def test_three_classes_and_a_class_absent_from_training() -> None:
    x, y = xor_windows(600, seed=2)
    y3 = y + (x[:, 0, 0] > 1.0)  # classes 0, 1, 2
    (proba,) = bl.gradient_boosting(x[:500], y3[:500], [x[500:]], 3)
    assert proba.shape == (100, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    (four,) = bl.gradient_boosting(x[:500], y3[:500], [x[500:]], 4)  # class 3 never seen
    assert four.shape == (100, 4) and np.all(four[:, 3] == 0.0)
    np.testing.assert_allclose(four[:, :3], proba)


def test_one_training_class_gives_that_class_and_empty_parts_give_nothing() -> None:
    x, _ = xor_windows(50)
    got, empty = bl.gradient_boosting(x[:40], np.ones(40, np.int64), [x[40:], x[:0]], 2)
    np.testing.assert_array_equal(got, np.ones(10))
    assert empty.shape == (0,)


# -- cost: the fitted sample, the iterations, the held-out training windows --------------------


def test_fitted_on_the_sample_with_at_most_the_iterations(
    monkeypatch: pytest.MonkeyPatch, fits: list[dict[str, Any]]
) -> None:
    x, y = xor_windows(3000)
    weights = np.linspace(0.5, 1.5, 2500)
    monkeypatch.setattr(bl, "FIT_MAX_WINDOWS", 2400)
    monkeypatch.setattr(bl, "GBM_MAX_ITER", 7)
    monkeypatch.setattr(bl, "PREDICT_CHUNK", 64)
    (proba,) = bl.gradient_boosting(x[:2500], y[:2500], [x[2500:]], 2, weights)
    (call,) = fits
    pick = bl.fit_sample(2500, 2400)
    fit, stop = bl._stop_split(pick.size, 3)
    assert stop.size == 240 and fit[-1] + 3 < stop[0]  # a window length between the two
    flat = x[:2500][pick].reshape(len(pick), -1)
    np.testing.assert_array_equal(call["x"], flat[fit])  # the sample, time order kept
    np.testing.assert_array_equal(call["X_val"], flat[stop])  # its last windows
    np.testing.assert_array_equal(call["y_val"], y[:2500][pick][stop])
    np.testing.assert_array_equal(call["w"], weights[pick][fit])
    np.testing.assert_array_equal(call["sample_weight_val"], weights[pick][stop])
    assert call["model"].n_iter_ <= 7
    assert proba.shape == (500,)  # predicted 64 windows at a time, all of them


def test_too_few_windows_to_hold_out_fit_every_one_without_stopping(
    fits: list[dict[str, Any]],
) -> None:
    x, y = xor_windows(300)
    bl.gradient_boosting(x[:250], y[:250], [x[250:]], 2)
    (call,) = fits
    assert "X_val" not in call and len(call["x"]) == 250
    assert call["model"].get_params()["early_stopping"] is False


def test_it_runs_on_one_openmp_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_info

    seen: list[list[int]] = []
    original = HistGradientBoostingClassifier.fit

    def recording(self: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append([p["num_threads"] for p in threadpool_info() if p["user_api"] == "openmp"])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(HistGradientBoostingClassifier, "fit", recording)
    x, y = xor_windows(300)
    bl.gradient_boosting(x[:250], y[:250], [x[250:]], 2)
    assert seen and all(n == 1 for n in seen[0])


# -- on a study's windows ----------------------------------------------------------------------


def test_it_is_a_classify_baseline_beside_the_logistic_one(tmp_path: Path) -> None:
    windows = table_of(tmp_path, two_class_frame()).windows(4)
    found = bl.score_baselines(windows, metrics.f1, ["val", "test"])
    assert set(found) == {"majority", "always_positive", "logistic", "gradient_boosting"}
    assert set(found["gradient_boosting"]) == {"val", "test"}
    # the product of two inputs: the trees find it, the linear model does not
    assert found["gradient_boosting"]["val"] > found["logistic"]["val"] + 0.1
    assert found["gradient_boosting"]["test"] > 0.85


def test_the_test_rows_never_reach_it_before_export(
    tmp_path: Path, fits: list[dict[str, Any]]
) -> None:
    """The validation scores are the same when every test row holds wild values, and the
    rows it fits and stops on are training windows only."""
    frame = two_class_frame()
    table = table_of(tmp_path / "clean", frame)
    clean = table.windows(4)
    wild = frame.copy()
    start = table.bounds["test"][0]
    wild.loc[start:, ["a", "b"]] = 1e6
    wild.loc[start:, "c"] = 1
    poisoned = table_of(tmp_path / "wild", wild).windows(4)
    assert not np.array_equal(clean.part("test")[0], poisoned.part("test")[0])
    scores = [
        bl.score_baselines(validation_view(w), metrics.f1, ["val"])["gradient_boosting"]
        for w in (clean, poisoned)
    ]
    assert scores[0] == scores[1]
    n_train = len(clean.part("train")[0])
    train_flat = np.asarray(clean.part("train")[0], np.float64).reshape(n_train, -1)
    rows = {r.tobytes() for r in train_flat}
    assert len(fits) == 2  # the clean and the poisoned view, each stopped on held-out windows
    for call in fits:
        held = np.concatenate([call["x"], call["X_val"]]).astype(np.float64)
        assert len(held) <= n_train
        assert all(r.tobytes() in rows for r in held)
