"""Keras models built from a plain dict of values.

``lstm``: LSTM(units) → Dropout → k × [Dense(units_i, activation) → Dropout_i] → head.
``mlp``:  Flatten → k × [Dense(units_i, activation) → Dropout_i] → head (the tutorial's
Dense(8, relu) → Dense(1) is ``num_hidden_layers: 1, dense_units: 8``).
``linear``: Flatten → head: a linear autoregression on the window (logistic regression
for classify).

``layout: timesteps`` feeds a window as look_back steps of n_features;
``layout: window`` feeds it as one step of look_back × n_features (the original tutorial's
"window method"). ``mlp`` and ``linear`` flatten either layout into the same vector, so the
layout changes only an ``lstm``. The head is linear for forecasting, sigmoid for two classes
and softmax for more.
"""

from __future__ import annotations

from typing import Any

import keras

from seqtune.models.params import resolve


def input_shape(layout: str, look_back: int, n_features: int) -> tuple[int, int]:
    """Shape of one sample as the model sees it."""
    if layout == "window":
        return (1, look_back * n_features)
    return (look_back, n_features)


def reshape_x(x: Any, layout: str) -> Any:
    """Bring windows of shape (n, look_back, features) into the layout's shape."""
    if layout == "window":
        return x.reshape(x.shape[0], 1, x.shape[1] * x.shape[2])
    return x


def build_model(
    kind: str,
    layout: str,
    values: dict[str, Any],
    *,
    look_back: int,
    n_features: int,
    n_outputs: int,
    head: str,
) -> keras.Model:
    """Build (not compile) the network for one trial.

    ``head`` is ``linear`` (forecast), ``sigmoid`` (binary) or ``softmax`` (multi-class);
    ``n_outputs`` is 1 for the first two.
    """
    p = resolve(kind, values)
    inputs = keras.Input(shape=input_shape(layout, look_back, n_features))
    h = inputs
    if kind == "lstm":
        h = keras.layers.LSTM(int(p["units"]))(h)
        if float(p["dropout"]) > 0:
            h = keras.layers.Dropout(float(p["dropout"]))(h)
    else:
        h = keras.layers.Flatten()(h)
    for units, drop in p["layers"]:
        h = keras.layers.Dense(units, activation=p["dense_activation"])(h)
        if drop > 0:
            h = keras.layers.Dropout(drop)(h)
    outputs = keras.layers.Dense(n_outputs, activation=None if head == "linear" else head)(h)
    return keras.Model(inputs, outputs)
