"""The domain of one hyperparameter: ``Int``, ``Float``, ``Choice`` or ``Fixed``.

Each domain is a small frozen dataclass that validates itself on construction (raising
:class:`seqtune.errors.UserError` with field ``space.<name>``) and writes itself back to
the spec form with :meth:`Domain.to_dict`, so a domain survives a JSON or YAML round trip.

Bounds
    * ``Int(low, high, step)`` takes the values ``low, low + step, ..., high``: both ends are
      INCLUSIVE, and ``step`` must divide ``high - low``.
    * ``Float(low, high, step)`` with a step takes the grid ``low, low + step, ..., high``:
      both ends INCLUSIVE, and ``(high - low) / step`` must be an integer (to a relative
      tolerance of 1e-9).  Values on the grid are canonicalised (``0.1 + 0.2`` -> ``0.3``),
      see :func:`canonical_float`.
    * ``Float(low, high)`` without a step is the continuous interval ``[low, high]``.
    * ``log: true`` samples on a log scale and needs ``low > 0``.  ``log`` combined with
      ``step`` is an error: the two backends disagree on what such a step means
      (keras-tuner multiplies by it, Optuna refuses it).

Per-expansion
    A domain with ``per: <parent>`` is a template, not a parameter.  The parent must be an
    int parameter (searched, with ``0 <= low`` and ``high <= 64``, or a fixed non-negative
    int).  The template ``units`` expands to the concrete parameters ``units_0 ...
    units_{k-1}`` where ``k`` is the value of the parent; ``units_i`` is active (drawn and
    present in the values) exactly when the parent's value is greater than ``i``.  A fixed
    parent gives a fixed-size expansion.  Chains (a template used as a parent) are refused.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from decimal import Decimal
from typing import Any, ClassVar

from seqtune.errors import UserError

#: The largest value a ``per`` parent may take (the number of expanded copies).
MAX_PER: int = 64

#: Relative tolerance used when checking that a float step divides its range.
STEP_TOLERANCE: float = 1e-9


def show(value: Any) -> str:
    """A value as written in messages: ``'relu'`` for strings, ``0.1`` for numbers."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_name(name: Any, field: str) -> None:
    """Refuse a parameter name that is not a Python identifier."""
    if not isinstance(name, str) or not name.isidentifier():
        raise UserError(
            f"{show(name)} is not a valid parameter name "
            "(use letters, digits and '_', not starting with a digit)",
            field,
        )


def is_int(value: Any) -> bool:
    """True for ints (numpy ints included), False for bools."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """True for ints and floats (numpy scalars included), False for bools."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def is_scalar(value: Any) -> bool:
    """True for the values a ``Choice`` or ``Fixed`` may hold: int, float, str, bool."""
    if isinstance(value, bool | str):
        return True
    return is_number(value) and math.isfinite(value)


def plain_scalar(value: Any) -> Any:
    """A scalar as a plain Python ``bool``, ``int``, ``float`` or ``str`` (numpy unwrapped)."""
    if isinstance(value, bool | str):
        return value
    return int(value) if is_int(value) else float(value)


def scalar_kind(value: Any) -> str:
    """``"bool"``, ``"number"`` or ``"str"``: values of different kinds do not mix."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "str"
    return "number"


def same_scalar(a: Any, b: Any) -> bool:
    """Equality that does not confuse ``True`` with ``1`` nor ``"1"`` with ``1``."""
    return scalar_kind(a) == scalar_kind(b) and a == b


def _decimals(x: float) -> int:
    """Digits after the point in the shortest repr of ``x`` (0 for whole numbers)."""
    exponent = Decimal(repr(float(x))).as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def canonical_float(value: float, low: float, step: float) -> float:
    """Snap ``value`` to the grid ``low + k * step`` and round away binary noise.

    The result is rounded to as many decimals as ``low`` and ``step`` are written with, so
    ``canonical_float(0.30000000000000004, 0.1, 0.1) == 0.3`` and the top of the grid
    ``0.1 + 4 * 0.1`` comes out as exactly ``0.5``.
    """
    k = round((float(value) - low) / step)
    return round(low + k * step, max(_decimals(low), _decimals(step)))


class Domain:
    """Base of the four domains.  Subclasses are frozen dataclasses.

    ``name`` is the parameter's name (a Python identifier); ``per`` names the int parameter
    this domain is expanded over (see the module docstring), or is ``None``.
    """

    kind: ClassVar[str] = ""
    name: str
    per: str | None

    @property
    def field(self) -> str:
        """Where errors about this domain point: ``space.<name>``."""
        return f"space.{self.name}"

    def to_dict(self) -> Any:
        """The spec form, defaults omitted: ``{"int": [lo, hi], "step": 2}``."""
        raise NotImplementedError

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is inside the bounds, on the step grid, or among the choices."""
        raise NotImplementedError

    def renamed(self, name: str) -> Domain:
        """A copy named ``name`` with ``per=None`` (a concrete copy of an expansion)."""
        return dataclasses.replace(self, name=name, per=None)  # type: ignore[type-var]

    def _check_common(self) -> None:
        check_name(self.name, self.field)
        if self.per is not None and (not isinstance(self.per, str) or not self.per):
            raise UserError(
                f"per must be the name of an int parameter, got {show(self.per)}", self.field
            )

    def _with_per(self, spec: dict[str, Any]) -> dict[str, Any]:
        if self.per is not None:
            spec["per"] = self.per
        return spec


def _check_bool(value: Any, key: str, field: str) -> None:
    if not isinstance(value, bool):
        raise UserError(f"{key} must be true or false, got {show(value)}", field)


def _check_log_low(low: float, log: bool, field: str) -> None:
    if log and low <= 0:
        raise UserError(f"log needs low > 0, got low {show(low)}", field)


@dataclasses.dataclass(frozen=True)
class Int(Domain):
    """Integers ``low, low + step, ..., high``: both ends INCLUSIVE.

    ``step >= 1`` must divide ``high - low``.  ``log=True`` samples on a log scale (needs
    ``low > 0``) and cannot be combined with a step other than 1.
    """

    kind: ClassVar[str] = "int"
    name: str
    low: int
    high: int
    step: int = 1
    log: bool = False
    per: str | None = None

    def __post_init__(self) -> None:
        self._check_common()
        field = self.field
        for key, bound in (("low", self.low), ("high", self.high)):
            if not is_int(bound):
                raise UserError(f"int bounds must be integers, got {key} {show(bound)}", field)
        if not is_int(self.step) or self.step < 1:
            raise UserError(f"int step must be an integer >= 1, got {show(self.step)}", field)
        _check_bool(self.log, "log", field)
        object.__setattr__(self, "low", int(self.low))
        object.__setattr__(self, "high", int(self.high))
        object.__setattr__(self, "step", int(self.step))
        if self.low > self.high:
            raise UserError(f"low {self.low} is greater than high {self.high}", field)
        if self.log and self.step != 1:
            raise UserError(
                f"log and step cannot be combined (got step {self.step} with log: true)", field
            )
        _check_log_low(self.low, self.log, field)
        span = self.high - self.low
        if span > 0 and self.step > span:
            raise UserError(
                f"step {self.step} is larger than the range {self.low}..{self.high}", field
            )
        if span % self.step:
            raise UserError(
                f"step {self.step} does not divide the range {self.low}..{self.high}", field
            )

    def to_dict(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"int": [self.low, self.high]}
        if self.step != 1:
            spec["step"] = self.step
        if self.log:
            spec["log"] = True
        return self._with_per(spec)

    def contains(self, value: Any) -> bool:
        if not is_int(value) or not self.low <= value <= self.high:
            return False
        return (int(value) - self.low) % self.step == 0

    @property
    def size(self) -> int:
        """How many values the domain has."""
        return (self.high - self.low) // self.step + 1

    def grid(self) -> list[int]:
        """Every value, in increasing order."""
        return list(range(self.low, self.high + 1, self.step))


@dataclasses.dataclass(frozen=True)
class Float(Domain):
    """Floats in ``[low, high]``: both ends INCLUSIVE.

    Without ``step`` the interval is continuous.  With ``step > 0`` the values are the grid
    ``low, low + step, ..., high`` (``(high - low) / step`` must be an integer to a relative
    tolerance of 1e-9); values on the grid are canonicalised by :func:`canonical_float`.
    ``log=True`` samples on a log scale (needs ``low > 0``) and cannot have a step.
    """

    kind: ClassVar[str] = "float"
    name: str
    low: float
    high: float
    step: float | None = None
    log: bool = False
    per: str | None = None

    def __post_init__(self) -> None:
        self._check_common()
        field = self.field
        for key, bound in (("low", self.low), ("high", self.high)):
            if not is_number(bound) or not math.isfinite(bound):
                raise UserError(f"float bounds must be numbers, got {key} {show(bound)}", field)
        step = self.step
        if step is not None and (not is_number(step) or not math.isfinite(step) or step <= 0):
            raise UserError(f"float step must be a number > 0, got {show(step)}", field)
        _check_bool(self.log, "log", field)
        low, high = float(self.low), float(self.high)
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)
        if step is not None:
            step = float(step)
            object.__setattr__(self, "step", step)
        if low > high:
            raise UserError(f"low {show(low)} is greater than high {show(high)}", field)
        if self.log and step is not None:
            raise UserError(
                f"log and step cannot be combined (got step {show(step)} with log: true)", field
            )
        _check_log_low(low, self.log, field)
        if step is None:
            return
        span = high - low
        if span > 0 and step > span:
            raise UserError(
                f"step {show(step)} is larger than the range {show(low)}..{show(high)}", field
            )
        count = span / step
        if not math.isclose(count, round(count), rel_tol=STEP_TOLERANCE, abs_tol=STEP_TOLERANCE):
            raise UserError(
                f"step {show(step)} does not divide the range {show(low)}..{show(high)}", field
            )

    def to_dict(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"float": [self.low, self.high]}
        if self.step is not None:
            spec["step"] = self.step
        if self.log:
            spec["log"] = True
        return self._with_per(spec)

    def contains(self, value: Any) -> bool:
        if not is_number(value) or not math.isfinite(value):
            return False
        value = float(value)
        if self.step is None:
            return self.low <= value <= self.high
        slack = self.step * STEP_TOLERANCE
        if not self.low - slack <= value <= self.high + slack:
            return False
        k = (value - self.low) / self.step
        return math.isclose(k, round(k), rel_tol=STEP_TOLERANCE, abs_tol=STEP_TOLERANCE)

    def canonical(self, value: float) -> float:
        """``value`` as a float; on a step grid, snapped and rounded (see canonical_float)."""
        if self.step is None:
            return float(value)
        return min(self.high, max(self.low, canonical_float(value, self.low, self.step)))

    @property
    def size(self) -> int | None:
        """How many values the step grid has, or ``None`` when continuous."""
        if self.step is None:
            return None
        return round((self.high - self.low) / self.step) + 1

    def grid(self) -> list[float] | None:
        """Every grid value in increasing order, or ``None`` when continuous."""
        if self.step is None:
            return None
        step = self.step
        return [self.canonical(self.low + i * step) for i in range(self.size or 0)]


@dataclasses.dataclass(frozen=True)
class Choice(Domain):
    """One of ``choices`` (a non-empty tuple of distinct int, float, str or bool values).

    Values must be of one kind: all numbers, all strings or all bools.  Ints mixed with
    floats are promoted to floats.
    """

    kind: ClassVar[str] = "choice"
    name: str
    choices: tuple[Any, ...]
    per: str | None = None

    def __post_init__(self) -> None:
        self._check_common()
        field = self.field
        if not isinstance(self.choices, list | tuple):
            raise UserError(f"choice must be a list of values, got {show(self.choices)}", field)
        if not self.choices:
            raise UserError("choice needs at least one value, got []", field)
        for value in self.choices:
            if not is_scalar(value):
                raise UserError(
                    f"choice values must be int, float, str or bool, got {show(value)}", field
                )
        first = self.choices[0]
        for value in self.choices[1:]:
            if scalar_kind(value) != scalar_kind(first):
                raise UserError(
                    f"choices mix types: {show(first)} ({type(first).__name__}) and "
                    f"{show(value)} ({type(value).__name__})",
                    field,
                )
        choices = tuple(plain_scalar(v) for v in self.choices)
        if scalar_kind(first) == "number" and any(isinstance(v, float) for v in choices):
            choices = tuple(float(v) for v in choices)
        seen: list[Any] = []
        for value in choices:
            if value in seen:
                raise UserError(f"duplicate choice {show(value)}", field)
            seen.append(value)
        object.__setattr__(self, "choices", choices)

    def to_dict(self) -> dict[str, Any]:
        return self._with_per({"choice": list(self.choices)})

    def contains(self, value: Any) -> bool:
        return any(same_scalar(value, choice) for choice in self.choices)

    @property
    def numeric(self) -> bool:
        """Whether the choices are numbers (not bools, not strings)."""
        return scalar_kind(self.choices[0]) == "number"


@dataclasses.dataclass(frozen=True)
class Fixed(Domain):
    """A fixed value (int, float, str or bool); never searched.

    Written in the spec as the plain scalar, or as ``{fixed: value}`` (needed with ``per``).
    """

    kind: ClassVar[str] = "fixed"
    name: str
    value: Any
    per: str | None = None

    def __post_init__(self) -> None:
        self._check_common()
        if not is_scalar(self.value):
            raise UserError(
                "a fixed value must be an int, float, str or bool, got "
                f"{show(self.value)}; write a search domain as a mapping such as "
                "{choice: [...]}, {int: [low, high]} or {float: [low, high]}",
                self.field,
            )
        object.__setattr__(self, "value", plain_scalar(self.value))

    def to_dict(self) -> Any:
        if self.per is not None:
            return {"fixed": self.value, "per": self.per}
        return self.value

    def contains(self, value: Any) -> bool:
        return same_scalar(value, self.value)
