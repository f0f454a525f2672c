"""Each epoch record is scored on the whole validation set in original units; BestEpoch
keeps and restores the best epoch, honours patience, ignores NaN and follows the
objective's direction."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
from conftest import AIRLINE
from sklearn.metrics import mean_absolute_error, mean_squared_error

from seqtune.data import DataSpec, load_table
from seqtune.models.builders import build_model
from seqtune.models.training import predictor, train_epochs
from seqtune.objectives import Objective, task_metrics
from seqtune.objectives.epochs import BestEpoch, score


@pytest.mark.parametrize("transform", ["none", "log_diff", "seasonal_diff"])
def test_epoch_scores_equal_sklearn_on_inverse_scaled_predictions(transform: str) -> None:
    spec = DataSpec.from_dict(
        {
            "csv": str(AIRLINE),
            "target": "Passengers",
            "split": {"val": 0.13, "test": 0.33},
            "period": 12,
        },
        Path("."),
    )
    windows = load_table(spec).windows(3, transform)
    keras.utils.set_random_seed(1)
    model = build_model(
        "lstm", "timesteps", {"units": 4}, look_back=3, n_features=1, n_outputs=1, head="linear"
    )
    x_val, _ = windows.part("val")
    x, y = windows.part("train")
    y_true = windows.true_original("val")
    scores = []
    for epoch in train_epochs(
        model,
        x,
        y,
        head="linear",
        learning_rate=0.01,
        batch_size=8,
        epochs=2,
        seed=1,
        validation_x=x_val,
    ):
        assert epoch.predictions is not None
        y_pred = windows.to_original("val", epoch.predictions.reshape(-1))
        scores.append(score(y_true, y_pred, task_metrics("forecast", 8)))
    y_pred = windows.to_original("val", predictor(model)(x_val).reshape(-1))
    assert len(y_true) == 19  # every validation month is predicted
    assert scores[-1]["val_rmse"] == pytest.approx(
        np.sqrt(mean_squared_error(y_true, y_pred)), rel=1e-5
    )
    assert scores[-1]["val_mae"] == pytest.approx(mean_absolute_error(y_true, y_pred), rel=1e-5)


def test_a_prediction_that_is_not_finite_scores_nan() -> None:
    got = score(np.ones(3), np.array([1.0, np.inf, 1.0]), task_metrics("forecast", 8))
    assert all(np.isnan(v) for v in got.values())


def test_a_horizon_keeps_each_steps_rmse_and_mae_as_computed_by_hand() -> None:
    # 3 windows, 2 steps. Errors: step 1 (-1, 2, 0), step 2 (0, 0, -3).
    y_true = np.array([[1.0, 2.0], [3.0, 5.0], [4.0, 4.0]])
    y_pred = np.array([[2.0, 2.0], [1.0, 5.0], [4.0, 7.0]])
    got = score(y_true, y_pred, task_metrics("forecast", 8))
    assert got == {
        "val_rmse": pytest.approx(np.sqrt((1 + 4 + 0 + 0 + 0 + 9) / 6)),  # pooled, as before
        "val_mae": pytest.approx((1 + 2 + 0 + 0 + 0 + 3) / 6),
        "val_rmse_h1": pytest.approx(np.sqrt(5 / 3)),
        "val_rmse_h2": pytest.approx(np.sqrt(9 / 3)),
        "val_mae_h1": pytest.approx(1.0),
        "val_mae_h2": pytest.approx(1.0),
    }
    blown = score(y_true, np.where(y_pred == 7.0, np.nan, y_pred), task_metrics("forecast", 8))
    assert set(blown) == set(got) and all(np.isnan(v) for v in blown.values())


def test_one_step_forecasts_and_classes_get_no_per_step_metrics() -> None:
    one = score(np.array([1.0, 2.0]), np.array([1.5, 2.5]), task_metrics("forecast", 8))
    assert set(one) == {"val_rmse", "val_mae"}
    proba = np.array([[0.2, 0.5, 0.3], [0.6, 0.3, 0.1]])  # (n, K) probabilities: no steps
    assert not any("_h" in k for k in score(np.array([1, 0]), proba, task_metrics("classify", 8)))


def objective(name: str, direction: str) -> Objective:
    return Objective(name, direction, None)


def test_best_epoch_restores_the_best_weights_and_stops_after_patience() -> None:
    variables = [keras.Variable(np.zeros(2, np.float32))]
    best = BestEpoch(objective("val_rmse", "minimize"), patience=2)
    stopped_at = None
    for epoch, value in enumerate([5.0, 3.0, 4.0, 4.5, 2.0, 1.0]):
        variables[0].assign(np.full(2, float(epoch), np.float32))  # this epoch's weights
        best.offer(epoch, {"val_rmse": value}, variables)
        if best.exhausted(epoch):
            stopped_at = epoch
            break
    assert stopped_at == 3  # epochs 2 and 3 did not beat epoch 1
    assert (best.epoch, best.value) == (1, 3.0)
    best.restore(variables)
    np.testing.assert_array_equal(variables[0].numpy(), [1.0, 1.0])


def test_best_epoch_ignores_nan_and_maximizes_when_asked() -> None:
    variables = [keras.Variable(np.zeros(1, np.float32))]
    best = BestEpoch(objective("val_f1", "maximize"))
    for epoch, value in enumerate([0.5, float("nan"), 0.7, 0.6]):
        best.offer(epoch, {"val_f1": value, "loss": 1.0}, variables)
        assert not best.exhausted(epoch)  # no patience: never
    assert (best.epoch, best.value) == (2, 0.7)
    assert best.scores == {"val_f1": 0.7, "loss": 1.0}
