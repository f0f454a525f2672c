"""The spec's JSON Schema, generated from the parameter catalogue and the spec's key lists.

The schema ships in the package as ``spec.schema.json`` (a test checks that it equals what
:func:`build_schema` makes, so a key added to the parser without a schema entry fails
there). An editor with a YAML language server completes and checks a spec's keys with it:
``# yaml-language-server: $schema=./spec.schema.json`` on the spec's first line. It checks
keys, types and fixed lists of values; what depends on several keys or on the data is
``seqtune check``'s. Nothing here imports TensorFlow.

Regenerate the shipped file after changing a key list or the catalogue::

    python -m seqtune.schema --write
"""

from __future__ import annotations

import json
import sys
from dataclasses import fields
from importlib import resources
from pathlib import Path
from typing import Any

from seqtune import spec as spec_module
from seqtune.data import spec as data_module
from seqtune.data.transforms import TRANSFORMS
from seqtune.models.params import CATALOGUE, KINDS, LAYOUTS, PER_LAYER, Param
from seqtune.objectives.guard import DEFAULT_TIMEOUT
from seqtune.objectives.registry import BUILTINS, DIRECTIONS, OBJECTIVE_KEYS
from seqtune.spaces.parse import KIND_KEYS

#: the shipped file's name inside the ``seqtune`` package
SCHEMA_FILE = "spec.schema.json"
DRAFT = "http://json-schema.org/draft-07/schema#"

Schema = dict[str, Any]


def _enum(values: tuple[str, ...] | list[str], *, null: bool = False) -> Schema:
    return {"enum": [*values, None] if null else list(values)}


def _whole(low: int, *, null: bool = False) -> Schema:
    kind: Any = ["integer", "null"] if null else "integer"
    return {"type": kind, "minimum": low}


def _names() -> Schema:
    item = {"type": "string", "minLength": 1}
    many = {"type": "array", "items": item, "uniqueItems": True}
    return {"anyOf": [item, many, {"type": "null"}]}


#: a part size: a fraction in (0, 1) or a whole number of rows
_PART: Schema = {"type": "number", "exclusiveMinimum": 0}

#: data.split.<key> -> its schema; a key of SPLIT_KEYS missing here fails build_schema
SPLIT_TYPES: dict[str, Schema] = {
    "val": {**_PART, "default": data_module.DEFAULT_VAL},
    "test": {**_PART, "default": data_module.DEFAULT_TEST},
    "method": {**_enum(data_module.SPLIT_METHODS), "default": "chronological"},
    "folds": {**_whole(1), "default": 1},
    "step": {"type": ["number", "null"], "exclusiveMinimum": 0},
    "gap": {**_whole(0), "default": 0},
}

_CALENDAR_ITEM = _enum(data_module.CALENDAR)

#: data.<key> -> its schema (defaults are added from DataSpec's fields)
DATA_TYPES: dict[str, Schema] = {
    "csv": {"type": "string", "minLength": 1},
    "target": {"type": "string", "minLength": 1},
    "task": _enum(data_module.TASKS),
    "features": _names(),
    "drop": _names(),
    "split": {"type": ["object", "null"]},  # filled by build_schema from SPLIT_KEYS
    "scaler": _enum(data_module.SCALERS),
    "period": {"type": ["integer", "null"], "minimum": 2},
    "label_at": _enum(data_module.LABEL_AT),
    "class_weight": _enum(data_module.CLASS_WEIGHTS),
    "autoregressive": {"type": "boolean"},
    "missing": _enum(data_module.MISSING),
    "horizon": _whole(1),
    "time": {"type": ["string", "null"], "minLength": 1},
    "calendar": {
        "anyOf": [
            _CALENDAR_ITEM,
            {"type": "array", "items": _CALENDAR_ITEM, "uniqueItems": True},
            {"type": "null"},
        ]
    },
}

#: model.<key> -> its schema
MODEL_TYPES: dict[str, Schema] = {
    "kind": {
        "anyOf": [
            _enum(KINDS),
            {
                "type": "object",
                "description": "the kind searched: the parameters of each kind are drawn "
                "only in the trials that chose it",
                "properties": {
                    "choice": {
                        "type": "array",
                        "items": _enum(KINDS),
                        "minItems": 1,
                        "uniqueItems": True,
                    }
                },
                "required": ["choice"],
                "additionalProperties": False,
            },
        ]
    },
    "layout": {**_enum(LAYOUTS), "default": "timesteps"},
}

#: search.<key> -> its schema (defaults are added from SearchSettings' fields)
SEARCH_TYPES: dict[str, Schema] = {
    "backend": _enum(spec_module.BACKENDS),
    "trials": _whole(1, null=True),
    "max_epochs": _whole(1),
    "patience": _whole(0, null=True),
    "pruner": _enum(spec_module.PRUNERS, null=True),
    "factor": _whole(2),
    "hyperband_iterations": _whole(1),
    "isolation": _enum(spec_module.ISOLATIONS),
    "repeats": _whole(1),
    "ensemble": _whole(1, null=True),
    "aggregate": _enum(spec_module.AGGREGATES),
    "combine": {
        "anyOf": [{"type": "boolean"}, _enum(spec_module.COMBINE_RULES)],
        "description": "export combines the network with statistical models: true (the "
        "average rule), false, a rule, or auto (the rule the left-out folds choose)",
    },
}

#: objective.<key> -> its schema
OBJECTIVE_TYPES: dict[str, Schema] = {
    "name": {"type": "string", "minLength": 1},
    "direction": _enum(DIRECTIONS),
    "path": {"type": "string", "minLength": 1},
    "timeout": {"type": ["number", "null"], "exclusiveMinimum": 0, "default": DEFAULT_TIMEOUT},
}

#: what each top-level key is, shown by an editor on hover (every key's default and domain:
#: the docs' spec reference, docs/spec.md)
SECTIONS: dict[str, str] = {
    "study": "the folder under results/ and the study's name (letters, digits, . _ -)",
    "seed": "seeds the sampler and, per trial, the weights and the batch order",
    "data": "what to read (csv, target) and how to frame it (split, scaler, horizon, time)",
    "model": "the model family: {kind, layout}",
    "space": "the parameters a trial reads: a plain value (fixed) or a domain "
    "({int: [low, high]}, {float: ...}, {choice: [...]})",
    "objective": "the number the study optimises: a built-in name or "
    "{name: module:function, direction: minimize|maximize}",
    "search": "how the search runs: backend, trials, max_epochs, patience, pruner, ...",
}

#: text parameters whose values the catalogue leaves to another module
_TEXT_VALUES: dict[str, Schema] = {
    "transform": _enum(TRANSFORMS),
    "calendar": {
        "type": "string",
        "pattern": "^(none|({0})(\\+({0}))*)$".format("|".join(data_module.CALENDAR)),
    },
}


def _section(
    keys: tuple[str, ...], types: dict[str, Schema], where: str, defaults: dict[str, Any]
) -> Schema:
    """An object schema of exactly ``keys``; a key without a schema entry is a KeyError
    naming where to add it."""
    missing = [key for key in keys if key not in types]
    if missing:
        raise KeyError(
            f"{where}.{missing[0]} has no JSON Schema entry: add it to seqtune/schema.py"
        )
    properties: dict[str, Schema] = {}
    for key in keys:
        entry = dict(types[key])
        if "default" not in entry and defaults.get(key) is not None:
            entry["default"] = defaults[key]
        properties[key] = entry
    return {"type": "object", "properties": properties, "additionalProperties": False}


def _defaults(cls: type) -> dict[str, Any]:
    """A dataclass's plain defaults (tuples as lists), by field name."""
    out: dict[str, Any] = {}
    for f in fields(cls):
        value = f.default
        if isinstance(value, str | int | float | bool):
            out[f.name] = value
        elif isinstance(value, tuple) and not value and f.name != "given":
            out[f.name] = []
    return out


def value_schema(param: Param) -> Schema:
    """The schema of one fixed value of a catalogue parameter.

    Examples
    --------
    >>> from seqtune.models.params import CATALOGUE
    >>> value_schema(CATALOGUE["look_back"])
    {'type': 'integer', 'minimum': 1}
    """
    if param.type == "text":
        if param.choices is not None:
            return _enum(param.choices)
        return dict(_TEXT_VALUES.get(param.name, {"type": "string"}))
    if param.type == "int":
        out: Schema = {"type": "integer"}
        if param.low is not None:
            out["minimum"] = param.low
        if param.high is not None:
            out["maximum"] = param.high
        return out
    if param.type == "rate":
        return {"type": "number", "minimum": 0, "exclusiveMaximum": 1}
    return {"type": "number", "exclusiveMinimum": 0}


def domain_schema(param: Param) -> Schema:
    """The schema of a ``space`` entry for ``param``: a plain value, or a domain mapping
    (``int``, ``float``, ``choice``, ``fixed`` with the options each takes).

    Examples
    --------
    >>> from seqtune.models.params import CATALOGUE
    >>> [list(s.get("required", ["value"])) for s in domain_schema(CATALOGUE["units"])["anyOf"]]
    [['value'], ['int'], ['float'], ['choice'], ['fixed']]
    """
    value = value_schema(param)
    per = {"enum": sorted(set(PER_LAYER.values()))}
    options: dict[str, Schema] = {
        "step": {"type": "number", "exclusiveMinimum": 0},
        "log": {"type": "boolean", "default": False},
        "per": per,
    }
    mappings: list[Schema] = []
    for kind, keys in KIND_KEYS.items():
        if kind in ("int", "float"):
            if param.type == "text":
                continue
            bound = {k: v for k, v in value.items() if k != "type"}
            item = {"type": "integer" if kind == "int" else "number", **bound}
            head: Schema = {"type": "array", "items": item, "minItems": 2, "maxItems": 2}
        elif kind == "choice":
            head = {"type": "array", "items": value, "minItems": 1}
        else:
            head = value
        props = {key: (head if key == kind else options[key]) for key in keys}
        mappings.append(
            {
                "type": "object",
                "properties": props,
                "required": [kind],
                "additionalProperties": False,
            }
        )
    default = next(iter(param.defaults.values()))
    described = f"default {default}" + (
        "" if len(set(map(str, param.defaults.values()))) == 1 else f" ({param.defaults})"
    )
    return {"description": f"{param.name}: {described}", "anyOf": [value, *mappings]}


def build_schema() -> Schema:
    """The spec's JSON Schema (draft-07), from the catalogue and the parser's key lists.

    Raises
    ------
    KeyError
        When a key the parser accepts has no schema entry here (the message names it).

    Examples
    --------
    >>> schema = build_schema()
    >>> sorted(schema["properties"]["search"]["properties"])[:3]
    ['aggregate', 'backend', 'ensemble']
    """
    data = _section(data_module.KEYS, DATA_TYPES, "data", _defaults(data_module.DataSpec))
    split_defaults = {"val": data_module.DEFAULT_VAL, "test": data_module.DEFAULT_TEST}
    split = _section(data_module.SPLIT_KEYS, SPLIT_TYPES, "data.split", split_defaults)
    data["properties"]["split"] = {**split, "type": ["object", "null"]}
    data["required"] = ["csv", "target"]
    model_object = _section(spec_module.MODEL_KEYS, MODEL_TYPES, "model", {})
    model_object["required"] = ["kind"]
    search = _section(
        spec_module.SEARCH_KEYS,
        SEARCH_TYPES,
        "search",
        _defaults(spec_module.SearchSettings),
    )
    search["type"] = ["object", "null"]
    objective_object = _section(OBJECTIVE_KEYS, OBJECTIVE_TYPES, "objective", {})
    objective_object["required"] = ["name"]
    user_function = {"type": "string", "pattern": "^[^:]+:[A-Za-z_][A-Za-z0-9_]*$"}
    per_layer = "^({})_[0-9]+$".format("|".join(sorted(PER_LAYER)))
    space = {
        "type": ["object", "null"],
        "properties": {name: domain_schema(p) for name, p in CATALOGUE.items()},
        "patternProperties": {
            per_layer: {"description": "one layer's copy of a per-layer parameter"}
        },
        "additionalProperties": False,
    }
    top: dict[str, Schema] = {
        "study": {"type": "string", "pattern": f"^{spec_module.STUDY_NAME.pattern}$"},
        "seed": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1, "default": 0},
        "data": data,
        "model": {"anyOf": [_enum(KINDS), model_object]},
        "space": space,
        "objective": {"anyOf": [_enum(list(BUILTINS)), user_function, objective_object]},
        "search": search,
        "result": {"type": "object", "description": "written by seqtune export"},
    }
    for key, what in SECTIONS.items():
        top[key] = {"description": what, **top[key]}
    missing = [key for key in spec_module.TOP_KEYS if key not in top]
    if missing:
        raise KeyError(f"{missing[0]} has no JSON Schema entry: add it to seqtune/schema.py")
    return {
        "$schema": DRAFT,
        "title": "seqtune study spec",
        "description": "A seqtune study: data, model, search space, objective and search "
        "settings. `seqtune check SPEC` checks what the schema cannot (the data).",
        "type": "object",
        "properties": {key: top[key] for key in spec_module.TOP_KEYS},
        "required": ["data", "model", "objective"],
        "additionalProperties": False,
    }


def schema_text(schema: Schema | None = None) -> str:
    """The schema as the shipped file holds it: indented JSON and a final newline.

    Examples
    --------
    >>> schema_text().startswith('{')
    True
    """
    return json.dumps(build_schema() if schema is None else schema, indent=2) + "\n"


def shipped_schema_text() -> str:
    """The text of the schema file shipped in the package.

    Examples
    --------
    >>> '"$schema"' in shipped_schema_text()
    True
    """
    return resources.files("seqtune").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Print the generated schema; ``--write`` rewrites the shipped file instead."""
    args = sys.argv[1:] if argv is None else argv
    if args == ["--write"]:
        path = Path(__file__).with_name(SCHEMA_FILE)
        path.write_text(schema_text(), encoding="utf-8")
        print(f"wrote {path}")
        return 0
    sys.stdout.write(schema_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
