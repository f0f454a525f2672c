"""The parameter catalogue: every parameter a trial reads, in one table.

Each :class:`Param` says its type and bounds, its default per model kind, and which part of
a trial consumes it (``data``: the windows; ``model``: the network; ``optimizer``: the
training loop). Name checks, value checks, defaults and the values a trial reads
(:func:`resolve`) all derive from :data:`CATALOGUE`; nothing else lists parameters.

``linear`` reads the data and optimizer parameters only: a linear autoregression on the
flattened window (one Dense layer to the outputs), trained by the same loop.

A parameter missing from the spec's ``space`` takes its default. ``dense_units`` and
``dense_dropout`` are per-layer: layer ``i`` reads ``dense_units_i`` when the space expanded
them with ``per: num_hidden_layers``, else the shared ``dense_units`` value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from seqtune.data.spec import parse_calendar
from seqtune.errors import UserError, suggest_name

#: The model kinds, in the order of increasing capacity (how a choice among them is shown).
KINDS = ("linear", "mlp", "lstm")
LAYOUTS = ("timesteps", "window")
ACTIVATIONS = ("relu", "tanh", "sigmoid", "elu", "selu", "gelu", "swish", "linear")


@dataclass(frozen=True)
class Param:
    """One parameter. Bounds are inclusive (``rate``: ``0 <= v < 1``; ``positive``:
    ``v > 0``); ``choices`` lists the allowed strings of a text parameter (``None``: any
    string, checked elsewhere — the transforms, against the data); ``form`` checks the
    form of a text value that is not a fixed list (calendar items joined by ``+``)."""

    name: str
    type: str  # "int", "rate", "positive", "text"
    part: str  # "data", "model", "optimizer"
    defaults: dict[str, Any]  # kind -> default; a kind absent does not read it
    low: int | None = None
    high: int | None = None
    choices: tuple[str, ...] | None = None
    per: str | None = None  # repeated per layer over this count parameter
    form: Callable[[Any, str], object] | None = None
    kinds: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kinds", tuple(self.defaults))

    def check(self, value: Any, where: str) -> None:
        """Refuse a value this parameter cannot take, naming ``where``."""
        if self.type == "text":
            if self.choices is not None and value not in self.choices:
                raise UserError(f"{value!r} is not one of {', '.join(self.choices)}", where)
            if not isinstance(value, str):
                what = self.name.replace("_", " ")
                raise UserError(f"expected a {what} name, got {value!r}", where)
            if self.form is not None:
                self.form(value, where)
            return
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise UserError(f"expected a number, got {value!r}", where)
        if self.type == "int" and int(value) != value:
            raise UserError(f"expected a whole number, got {value!r}", where)
        if self.type == "rate" and not 0.0 <= value < 1.0:
            raise UserError(f"a dropout rate must be in [0, 1), got {value!r}", where)
        if self.type == "positive" and not value > 0:
            raise UserError(f"must be greater than 0, got {value!r}", where)
        if self.low is not None and value < self.low:
            raise UserError(f"must be at least {self.low}, got {value!r}", where)
        if self.high is not None and value > self.high:
            raise UserError(f"must be at most {self.high}, got {value!r}", where)


def _all(value: Any) -> dict[str, Any]:
    return dict.fromkeys(KINDS, value)


CATALOGUE: dict[str, Param] = {
    p.name: p
    for p in (
        Param("look_back", "int", "data", _all(1), low=1),
        Param("transform", "text", "data", _all("none")),
        Param("calendar", "text", "data", _all("none"), form=parse_calendar),
        Param("batch_size", "int", "optimizer", _all(32), low=1),
        Param("learning_rate", "positive", "optimizer", _all(1e-3)),
        Param("units", "int", "model", {"lstm": 32}, low=1),
        Param("dropout", "rate", "model", {"lstm": 0.0}),
        Param("num_hidden_layers", "int", "model", {"lstm": 0, "mlp": 1}, low=0, high=64),
        Param(
            "dense_units", "int", "model", {"lstm": 32, "mlp": 8}, low=1, per="num_hidden_layers"
        ),
        Param(
            "dense_dropout",
            "rate",
            "model",
            {"lstm": 0.0, "mlp": 0.0},
            per="num_hidden_layers",
        ),
        Param(
            "dense_activation",
            "text",
            "model",
            {"lstm": "relu", "mlp": "relu"},
            choices=ACTIVATIONS,
        ),
    )
}

#: Per-layer parameters and the count they repeat over.
PER_LAYER = {p.name: p.per for p in CATALOGUE.values() if p.per is not None}


def base_name(name: str) -> str:
    """The catalogue name of a space entry: ``dense_units_3`` → ``dense_units``."""
    head, _, tail = name.rpartition("_")
    return head if tail.isdigit() and head in PER_LAYER else name


def layer_name(name: str, layer: int) -> str:
    """The space name of layer ``layer``'s copy of a per-layer parameter."""
    return f"{name}_{layer}"


def known_params(kind: str) -> dict[str, Any]:
    """Every parameter name ``kind`` reads, with its default."""
    return {p.name: p.defaults[kind] for p in CATALOGUE.values() if kind in p.defaults}


def readers(name: str, kinds: Iterable[str]) -> tuple[str, ...]:
    """The kinds among ``kinds`` that read the space entry ``name`` (per-layer copies by
    their base name), in the order of ``kinds``.

    Examples
    --------
    >>> readers("units", ("linear", "mlp", "lstm"))
    ('lstm',)
    >>> readers("dense_units_2", ("linear", "mlp"))
    ('mlp',)
    """
    param = CATALOGUE.get(base_name(name))
    return tuple(k for k in kinds if param is not None and k in param.defaults)


def check_param_names(kind: str | tuple[str, ...], names: Iterable[str]) -> None:
    """Refuse a space entry the model would silently ignore: with a choice of kinds, an
    entry none of them reads (one read by some of them is drawn when one of those is)."""
    kinds = (kind,) if isinstance(kind, str) else tuple(kind)
    known: dict[str, Any] = {}
    for k in kinds:
        known.update(known_params(k))
    what = f"model '{kinds[0]}'" if len(kinds) == 1 else f"any of the models {', '.join(kinds)}"
    for name in names:
        if base_name(name) not in known:
            raise UserError(
                f"not a parameter of {what}{suggest_name(name, list(known))}; "
                f"known: {', '.join(known)}",
                f"space.{name}",
            )


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
        param = CATALOGUE.get(base_name(name))
        if param is None:
            continue
        for value in _extremes(space[name]):
            param.check(value, f"space.{name}")


def resolve(kind: str, values: dict[str, Any]) -> dict[str, Any]:
    """A trial's values completed with the defaults of ``kind``, and the per-layer lists
    spelled out: every known parameter plus ``layers``, a list of ``(units, dropout)``
    tuples, one per hidden Dense layer (none for ``linear``)."""
    known = known_params(kind)
    out = {**known, **values}
    layers = []
    for i in range(int(out["num_hidden_layers"]) if "num_hidden_layers" in known else 0):
        units = values.get(layer_name("dense_units", i), out["dense_units"])
        drop = values.get(layer_name("dense_dropout", i), out["dense_dropout"])
        layers.append((int(units), float(drop)))
    out["layers"] = layers
    return out
