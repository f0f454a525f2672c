"""Read one ``space:`` entry of the spec (plain YAML/JSON data) into a :class:`Domain`.

The entry is a plain scalar (a fixed value) or a mapping with exactly one of the keys
``int``, ``float``, ``choice``, ``fixed``, plus the options that kind accepts.
"""

from __future__ import annotations

from typing import Any

from seqtune.errors import UserError, suggest_name
from seqtune.spaces.domains import (
    Choice,
    Domain,
    Fixed,
    Float,
    Int,
    check_name,
    is_number,
    show,
)

#: The keys each kind of domain mapping accepts; the first one names the kind.
KIND_KEYS: dict[str, tuple[str, ...]] = {
    "int": ("int", "step", "log", "per"),
    "float": ("float", "step", "log", "per"),
    "choice": ("choice", "per"),
    "fixed": ("fixed", "per"),
}
_ALL_KEYS: tuple[str, ...] = ("int", "float", "choice", "fixed", "step", "log", "per")


def reroot(err: UserError, field: str) -> UserError:
    """``err`` with its ``space...`` field moved under ``field`` (e.g. ``study.space``)."""
    if field == "space" or err.field is None:
        return err
    if err.field == "space" or err.field.startswith("space."):
        return UserError(err.message, field + err.field[len("space") :])
    return err


def domain_from_spec(name: Any, raw: Any, field: str = "space") -> Domain:
    """The domain for the spec entry ``name: raw``; UserError at ``<field>.<name>``."""
    where = f"{field}.{name}"
    try:
        check_name(name, where)
        if not isinstance(raw, dict):
            if isinstance(raw, list):
                raise UserError(
                    f"a list {show(raw)} is not a domain; write {{choice: {show(raw)}}} "
                    "to search among these values",
                    where,
                )
            return Fixed(name, raw)
        return _from_mapping(name, raw, where)
    except UserError as err:
        raise reroot(err, field) from None


def _from_mapping(name: Any, raw: dict[Any, Any], where: str) -> Domain:
    for key in raw:
        if key not in _ALL_KEYS:
            raise UserError(_unknown_key(key, _ALL_KEYS), where)
    kinds = [key for key in raw if key in KIND_KEYS]
    if len(kinds) != 1:
        found = f"got {', '.join(kinds)}" if kinds else f"got keys {', '.join(map(str, raw))}"
        raise UserError(f"a domain needs exactly one of int, float, choice, fixed; {found}", where)
    kind = kinds[0]
    known = KIND_KEYS[kind]
    for key in raw:
        if key not in known:
            raise UserError(_unknown_key(key, known) + f" (for {kind})", where)
    per = raw.get("per")
    if kind == "fixed":
        return Fixed(name, raw["fixed"], per=per)
    if kind == "choice":
        choices = raw["choice"]
        if not isinstance(choices, list | tuple):
            raise UserError(f"choice must be a list of values, got {show(choices)}", where)
        return Choice(name, tuple(choices), per=per)
    low, high = _bounds(raw[kind], kind, where)
    log = raw.get("log", False)
    if log is True and "step" in raw:
        raise UserError(
            f"log and step cannot be combined (got step {show(raw['step'])} with log: true)",
            where,
        )
    if kind == "int":
        return Int(name, low, high, step=raw.get("step", 1), log=log, per=per)
    return Float(name, low, high, step=raw.get("step"), log=log, per=per)


def _unknown_key(key: Any, known: tuple[str, ...]) -> str:
    return (
        f"unknown key {show(key)}{suggest_name(str(key), known)}; "
        f"expected one of: {', '.join(known)}"
    )


def _bounds(raw: Any, kind: str, where: str) -> tuple[Any, Any]:
    if not isinstance(raw, list | tuple) or len(raw) != 2:
        raise UserError(
            f"{kind} bounds must be a list of exactly 2 numbers [low, high], got {show(raw)}",
            where,
        )
    for key, bound in zip(("low", "high"), raw, strict=True):
        if isinstance(bound, str) and _parses_as_number(bound):
            raise UserError(
                f"{kind} {key} {show(bound)} is a string, not a number "
                "(YAML reads 1e-5 as text: write 1.0e-5)",
                where,
            )
        if not is_number(bound):
            raise UserError(f"{kind} bounds must be numbers, got {key} {show(bound)}", where)
    return raw[0], raw[1]


def _parses_as_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
