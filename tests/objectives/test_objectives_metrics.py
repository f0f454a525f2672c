"""Whole-set metrics against scikit-learn, and the batch-averaged F1 kept for comparison."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from seqtune.objectives import metrics as m


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def test_rmse_and_mae_equal_sklearn(rng: np.random.Generator) -> None:
    y, p = rng.normal(300, 50, 48), rng.normal(300, 50, 48)
    assert m.rmse(y, p) == pytest.approx(np.sqrt(skm.mean_squared_error(y, p)), rel=1e-12)
    assert m.mae(y, p) == pytest.approx(skm.mean_absolute_error(y, p), rel=1e-12)


def test_errors_by_step_are_each_columns_rmse_and_mae(rng: np.random.Generator) -> None:
    y, p = rng.normal(300, 50, (40, 12)), rng.normal(300, 50, (40, 12))
    np.testing.assert_allclose(m.rmse_by_step(y, p), [m.rmse(y[:, h], p[:, h]) for h in range(12)])
    np.testing.assert_allclose(m.mae_by_step(y, p), [m.mae(y[:, h], p[:, h]) for h in range(12)])
    with pytest.raises(ValueError, match="shape"):
        m.rmse_by_step(y[:, 0], p[:, 0])


def test_binary_metrics_equal_sklearn(rng: np.random.Generator) -> None:
    y = (rng.random(500) < 0.3).astype(int)
    proba = np.clip(y * 0.4 + rng.random(500) * 0.6, 0, 1)
    pred = (proba >= 0.5).astype(int)
    assert m.f1(y, proba) == pytest.approx(skm.f1_score(y, pred))
    assert m.precision(y, proba) == pytest.approx(skm.precision_score(y, pred))
    assert m.recall(y, proba) == pytest.approx(skm.recall_score(y, pred))
    assert m.accuracy(y, proba) == pytest.approx(skm.accuracy_score(y, pred))
    assert m.pr_auc(y, proba) == pytest.approx(skm.average_precision_score(y, proba))
    assert m.confusion(y, pred, 2).tolist() == skm.confusion_matrix(y, pred).tolist()


def test_multiclass_metrics_are_macro_as_sklearn(rng: np.random.Generator) -> None:
    y = rng.integers(0, 3, 400)
    proba = rng.dirichlet(np.ones(3), 400)
    proba[np.arange(400), y] += 0.3
    pred = proba.argmax(1)
    assert m.f1(y, proba) == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert m.precision(y, proba) == pytest.approx(skm.precision_score(y, pred, average="macro"))
    assert m.recall(y, proba) == pytest.approx(skm.recall_score(y, pred, average="macro"))
    onehot = np.eye(3)[y]
    assert m.pr_auc(y, proba) == pytest.approx(
        skm.average_precision_score(onehot, proba, average="macro")
    )


def test_batch_averaged_f1_differs_from_f1_on_an_imbalanced_set(rng: np.random.Generator) -> None:
    # 5 % positives: many batches of 32 have no positive at all and score 0 there
    y = (rng.random(3200) < 0.05).astype(int)
    proba = np.where(rng.random(3200) < 0.97, y, 1 - y).astype(float)
    whole = m.f1(y, proba)
    batched = m.batch_f1(y, proba, 32)
    assert whole == pytest.approx(skm.f1_score(y, (proba >= 0.5).astype(int)))
    assert abs(whole - batched) > 0.05
    # even a perfect classifier loses: a batch with no positive scores 0
    assert m.f1(y, y.astype(float)) == 1.0
    assert m.batch_f1(y, y.astype(float), 32) < 0.9


def test_f1_is_zero_not_nan_when_nothing_is_predicted_positive() -> None:
    y = np.array([1, 0, 1, 0])
    assert m.f1(y, np.zeros(4)) == 0.0
    assert m.precision(y, np.zeros(4)) == 0.0
