"""Which parameters each model kind reads, and their defaults.

A parameter missing from the spec's ``space`` takes the default here. ``dense_units`` and
``dense_dropout`` are per-layer: layer ``i`` reads ``dense_units_i`` when the space expanded
them with ``per: num_hidden_layers``, else the shared ``dense_units`` value.
"""

from __future__ import annotations

from typing import Any

from seqtune.errors import UserError, suggest_name

KINDS = ("lstm", "mlp")
LAYOUTS = ("timesteps", "window")

#: Parameters that shape the data rather than the network; every model kind reads them.
DATA_DEFAULTS: dict[str, Any] = {"look_back": 1, "batch_size": 32, "transform": "none"}

MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    "lstm": {
        "units": 32,
        "dropout": 0.0,
        "num_hidden_layers": 0,
        "dense_units": 32,
        "dense_dropout": 0.0,
        "dense_activation": "relu",
        "learning_rate": 1e-3,
    },
    "mlp": {
        "num_hidden_layers": 1,
        "dense_units": 8,
        "dense_dropout": 0.0,
        "dense_activation": "relu",
        "learning_rate": 1e-3,
    },
}

#: Per-layer parameters and the count they repeat over.
PER_LAYER = {"dense_units": "num_hidden_layers", "dense_dropout": "num_hidden_layers"}
ACTIVATIONS = ("relu", "tanh", "sigmoid", "elu", "selu", "gelu", "swish", "linear")


def known_params(kind: str) -> dict[str, Any]:
    """Every parameter name ``kind`` reads, with its default."""
    return {**DATA_DEFAULTS, **MODEL_DEFAULTS[kind]}


def check_param_names(kind: str, names: list[str]) -> None:
    """Refuse a space entry the model would silently ignore."""
    known = known_params(kind)
    for name in names:
        base = name
        head, _, tail = name.rpartition("_")
        if tail.isdigit() and head in PER_LAYER:
            base = head
        if base not in known:
            raise UserError(
                f"not a parameter of model '{kind}'{suggest_name(name, list(known))}; "
                f"known: {', '.join(known)}",
                f"space.{name}",
            )


def resolve(kind: str, values: dict[str, Any]) -> dict[str, Any]:
    """Complete a trial's values with defaults, and spell out the per-layer lists.

    Returns a dict with every known parameter plus ``layers``: a list of
    ``(units, dropout)`` tuples, one per hidden Dense layer.
    """
    out = {**known_params(kind), **values}
    k = int(out["num_hidden_layers"])
    layers = []
    for i in range(k):
        units = values.get(f"dense_units_{i}", out["dense_units"])
        drop = values.get(f"dense_dropout_{i}", out["dense_dropout"])
        layers.append((int(units), float(drop)))
    out["layers"] = layers
    return out


# name -> (kind of value, lowest allowed, highest allowed (inclusive unless noted), allowed strings)
_RULES: dict[str, tuple[str, float | None, float | None]] = {
    "look_back": ("int", 1, None),
    "batch_size": ("int", 1, None),
    "units": ("int", 1, None),
    "dense_units": ("int", 1, None),
    "num_hidden_layers": ("int", 0, 64),
    "dropout": ("rate", 0.0, 1.0),
    "dense_dropout": ("rate", 0.0, 1.0),
    "learning_rate": ("positive", 0.0, None),
}


def _extremes(domain: Any) -> list[Any]:
    """The values that decide whether a domain fits a rule: its ends, choices or value."""
    if hasattr(domain, "low"):
        return [domain.low, domain.high]
    if hasattr(domain, "choices"):
        return list(domain.choices)
    return [domain.value]


def check_param_values(space: Any) -> None:
    """Refuse values a model cannot take (dropout 1.0, zero units, an unknown activation)."""
    for name in space.names:
        base = name
        head, _, tail = name.rpartition("_")
        if tail.isdigit() and head in PER_LAYER:
            base = head
        field = f"space.{name}"
        values = _extremes(space[name])
        if base == "dense_activation":
            for v in values:
                if v not in ACTIVATIONS:
                    raise UserError(f"{v!r} is not one of {', '.join(ACTIVATIONS)}", field)
            continue
        if base == "transform":
            for v in values:
                if not isinstance(v, str):
                    raise UserError(f"expected a transform name, got {v!r}", field)
            continue
        rule = _RULES.get(base)
        if rule is None:
            continue
        kind, low, high = rule
        for v in values:
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise UserError(f"expected a number, got {v!r}", field)
            if kind == "int" and int(v) != v:
                raise UserError(f"expected a whole number, got {v!r}", field)
            if kind == "rate" and not 0.0 <= v < 1.0:
                raise UserError(f"a dropout rate must be in [0, 1), got {v!r}", field)
            if kind == "positive" and not v > 0:
                raise UserError(f"must be greater than 0, got {v!r}", field)
            if kind == "int" and low is not None and v < low:
                raise UserError(f"must be at least {int(low)}, got {v!r}", field)
            if kind == "int" and high is not None and v > high:
                raise UserError(f"must be at most {int(high)}, got {v!r}", field)
