"""Every key the spec parser accepts, read from the parser itself: each section is given an
unknown key and the one-line refusal's "expected one of: ..." list is what it accepts. The
docs' reference and the JSON Schema are checked against this, so a key added to the parser
(whatever list it keeps it in) is a failing test until both name it."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from seqtune.errors import UserError

UNKNOWN = "zz_not_a_key"
_DATA = {"csv": "data.csv", "target": "y"}


def _refusal_keys(parse: Callable[[], Any], section: str) -> list[str]:
    """The keys listed by the refusal of an unknown key in ``section``."""
    try:
        parse()
    except UserError as err:
        found = re.search(r"expected one of: (.+?)(?: \(for \w+\))?$", err.message)
        if found and UNKNOWN in str(err):
            return [key.strip() for key in found.group(1).split(",")]
        raise AssertionError(
            f"cannot read the keys of {section or 'the top level'} from the parser's refusal "
            f"of an unknown key: {err}"
        ) from None
    raise AssertionError(f"the parser accepted an unknown key in {section or 'the top level'}")


def accepted_keys() -> dict[str, list[str]]:
    """Section (``""`` for the top level, ``data``, ``data.split``, ``model``, ``search``,
    ``objective``, ``space.<parameter>``) -> the keys the parser accepts there."""
    from seqtune.data import DataSpec
    from seqtune.objectives import parse_objective
    from seqtune.spaces.parse import domain_from_spec
    from seqtune.spec import SearchSettings, Spec

    base = Path.cwd()
    spec = {"study": "s", "data": dict(_DATA), "model": {"kind": "mlp"}, "objective": "val_rmse"}
    return {
        "": _refusal_keys(lambda: Spec.from_dict({UNKNOWN: 1}, base), ""),
        "data": _refusal_keys(lambda: DataSpec.from_dict({**_DATA, UNKNOWN: 1}, base), "data"),
        "data.split": _refusal_keys(
            lambda: DataSpec.from_dict({**_DATA, "split": {UNKNOWN: 1}}, base), "data.split"
        ),
        "model": _refusal_keys(
            lambda: Spec.from_dict({**spec, "model": {"kind": "mlp", UNKNOWN: 1}}, base),
            "model",
        ),
        "search": _refusal_keys(lambda: SearchSettings.from_dict({UNKNOWN: 1}), "search"),
        "objective": _refusal_keys(
            lambda: parse_objective({"name": "val_rmse", UNKNOWN: 1}, "forecast"), "objective"
        ),
        "space.<parameter>": _refusal_keys(
            lambda: domain_from_spec("units", {UNKNOWN: 1}), "space"
        ),
    }


def dotted_keys() -> list[str]:
    """Every accepted key as the docs write it: ``data.split.folds``, ``search.backend``;
    the top level's and a domain's keys bare (``seed``, ``step``)."""
    out: list[str] = []
    for section, keys in accepted_keys().items():
        prefix = "" if section in ("", "space.<parameter>") else f"{section}."
        out += [f"{prefix}{key}" for key in keys]
    return out
