"""The objective callback writes whole-validation-set metrics in original units into the
epoch logs; KeepBest keeps and restores the best epoch."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
from conftest import AIRLINE
from sklearn.metrics import mean_absolute_error, mean_squared_error

from seqtune.data import DataSpec, load_table
from seqtune.models.builders import build_model
from seqtune.models.training import fit, predictor
from seqtune.objectives import task_metrics
from seqtune.objectives.callbacks import KeepBest, ObjectiveCallback


@pytest.mark.parametrize("transform", ["none", "log_diff", "seasonal_diff"])
def test_val_rmse_in_the_logs_equals_sklearn_on_inverse_scaled_predictions(transform: str) -> None:
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
    predict = predictor(model)
    x_val, _ = windows.part("val")
    callback = ObjectiveCallback(
        predict,
        x_val,
        windows.true_original("val"),
        lambda raw: windows.to_original("val", raw.reshape(-1)),
        task_metrics("forecast", 8),
    )
    x, y = windows.part("train")
    log = fit(
        model,
        x,
        y,
        head="linear",
        learning_rate=0.01,
        batch_size=8,
        epochs=2,
        seed=1,
        callbacks=[callback],
    )
    y_true = windows.true_original("val")
    y_pred = windows.to_original("val", predict(x_val).reshape(-1))
    assert len(y_true) == 19  # every validation month is predicted
    assert log.epochs[-1]["val_rmse"] == pytest.approx(
        np.sqrt(mean_squared_error(y_true, y_pred)), rel=1e-9
    )
    assert log.epochs[-1]["val_mae"] == pytest.approx(mean_absolute_error(y_true, y_pred), rel=1e-9)


class Scripted(keras.callbacks.Callback):
    """Writes a scripted objective per epoch and perturbs the weights each epoch."""

    def __init__(self, values: list[float]) -> None:
        super().__init__()
        self.values = values
        self.weights_at: dict[int, list[np.ndarray]] = {}

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        assert logs is not None
        logs["val_rmse"] = self.values[epoch]
        self.model.set_weights([w + 1.0 for w in self.model.get_weights()])
        self.weights_at[epoch] = self.model.get_weights()


def test_keep_best_restores_the_best_epoch_and_stops_after_patience() -> None:
    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    scripted = Scripted([5.0, 3.0, 4.0, 4.5, 2.0, 1.0])
    keep = KeepBest("val_rmse", "minimize", patience=2)
    x = np.zeros((4, 2), np.float32)
    log = fit(
        model,
        x,
        np.zeros(4, np.float32),
        head="linear",
        learning_rate=0.0,
        batch_size=4,
        epochs=6,
        seed=0,
        callbacks=[scripted, keep],
    )
    assert log.epochs_run == 4  # epochs 2 and 3 did not beat epoch 1
    assert keep.best_epoch == 1 and keep.best_value == 3.0
    for got, want in zip(model.get_weights(), scripted.weights_at[1], strict=True):
        np.testing.assert_array_equal(got, want)


def test_keep_best_ignores_nan_and_maximizes_when_asked() -> None:
    keep = KeepBest("val_f1", "maximize")
    inputs = keras.Input((1,))
    keep.set_model(keras.Model(inputs, keras.layers.Dense(1)(inputs)))
    for epoch, value in enumerate([0.5, float("nan"), 0.7, 0.6]):
        keep.on_epoch_end(epoch, {"val_f1": value})
    assert (keep.best_epoch, keep.best_value) == (2, 0.7)
