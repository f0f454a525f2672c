"""Models built from a plain dict: layouts, per-layer values, heads, parameter checks."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from seqtune.errors import UserError
from seqtune.models.builders import build_model, input_shape, reshape_x
from seqtune.models.params import check_param_names, check_param_values, resolve
from seqtune.spaces import SearchSpace


def dense_units(model: keras.Model) -> list[int]:
    return [layer.units for layer in model.layers if isinstance(layer, keras.layers.Dense)]


def test_lstm_with_per_layer_units_and_dropout() -> None:
    values = {
        "units": 16,
        "dropout": 0.2,
        "num_hidden_layers": 2,
        "dense_units_0": 32,
        "dense_units_1": 8,
        "dense_dropout_1": 0.3,
    }
    model = build_model(
        "lstm", "timesteps", values, look_back=5, n_features=3, n_outputs=1, head="linear"
    )
    assert model.input_shape == (None, 5, 3)
    assert [la.units for la in model.layers if isinstance(la, keras.layers.LSTM)] == [16]
    assert dense_units(model) == [32, 8, 1]
    rates = [la.rate for la in model.layers if isinstance(la, keras.layers.Dropout)]
    assert rates == pytest.approx([0.2, 0.3])


def test_window_layout_feeds_the_window_as_one_step() -> None:
    assert input_shape("window", 3, 2) == (1, 6)
    x = np.arange(24, dtype=np.float32).reshape(4, 3, 2)
    assert reshape_x(x, "window").shape == (4, 1, 6)
    assert reshape_x(x, "timesteps") is x
    model = build_model(
        "lstm", "window", {"units": 4}, look_back=3, n_features=2, n_outputs=1, head="linear"
    )
    assert model.input_shape == (None, 1, 6)


def test_tutorial_mlp_and_classification_heads() -> None:
    mlp = build_model(
        "mlp",
        "timesteps",
        {"num_hidden_layers": 1, "dense_units": 8},
        look_back=1,
        n_features=1,
        n_outputs=1,
        head="linear",
    )
    assert dense_units(mlp) == [8, 1]
    binary = build_model(
        "lstm", "timesteps", {}, look_back=5, n_features=4, n_outputs=1, head="sigmoid"
    )
    assert binary.layers[-1].activation.__name__ == "sigmoid"
    multi = build_model(
        "lstm", "timesteps", {}, look_back=5, n_features=4, n_outputs=3, head="softmax"
    )
    out = multi.predict(np.zeros((2, 5, 4), np.float32), verbose=0)
    assert out.shape == (2, 3) and np.allclose(out.sum(1), 1.0, atol=1e-5)


def test_resolve_fills_defaults_and_shared_layer_values() -> None:
    p = resolve("lstm", {"num_hidden_layers": 3, "dense_units": 64, "dense_units_1": 16})
    assert p["layers"] == [(64, 0.0), (16, 0.0), (64, 0.0)]
    assert p["learning_rate"] == 1e-3 and p["look_back"] == 1


def test_unknown_parameter_names_are_refused_with_a_suggestion() -> None:
    check_param_names("lstm", ["units", "dense_units_3", "look_back", "transform"])
    with pytest.raises(UserError, match="did you mean 'units'") as err:
        check_param_names("lstm", ["unitz"])
    assert err.value.field == "space.unitz"
    with pytest.raises(UserError, match="not a parameter of model 'mlp'"):
        check_param_names("mlp", ["units"])


@pytest.mark.parametrize(
    ("space", "field", "phrase"),
    [
        ({"dropout": 1.0}, "space.dropout", "[0, 1)"),
        ({"dropout": {"float": [0.0, 1.0]}}, "space.dropout", "[0, 1)"),
        ({"units": 0}, "space.units", "at least 1"),
        ({"look_back": {"int": [0, 5]}}, "space.look_back", "at least 1"),
        ({"learning_rate": {"choice": [0.01, 0.0]}}, "space.learning_rate", "greater than 0"),
        ({"dense_activation": "rleu"}, "space.dense_activation", "not one of"),
        ({"batch_size": 2.5}, "space.batch_size", "whole number"),
    ],
)
def test_values_a_model_cannot_take_are_refused(space: dict, field: str, phrase: str) -> None:
    with pytest.raises(UserError) as err:
        check_param_values(SearchSpace.from_dict(space))
    assert err.value.field == field and phrase in err.value.message


def test_the_catalogue_is_the_one_list_of_parameters() -> None:
    from seqtune.models.params import CATALOGUE, base_name, known_params

    assert base_name("dense_units_3") == "dense_units" and base_name("units") == "units"
    assert base_name("look_back_2") == "look_back_2"  # not a per-layer parameter
    assert known_params("mlp")["num_hidden_layers"] == 1
    assert known_params("lstm")["num_hidden_layers"] == 0
    assert "units" not in known_params("mlp") and "dropout" not in known_params("mlp")
    assert {p.part for p in CATALOGUE.values()} == {"data", "model", "optimizer"}
    # what the windows read is exactly the data part
    data = {"look_back", "transform", "calendar"}
    assert {n for n, p in CATALOGUE.items() if p.part == "data"} == data
    assert resolve("lstm", {})["layers"] == []
