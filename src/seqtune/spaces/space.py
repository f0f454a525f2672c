"""The search space: named domains, their ``per`` expansions, sampling and value checks.

A :class:`SearchSpace` is backend-neutral.  Backends plug in through :meth:`SearchSpace.sample`
(define-by-run: the backend is asked for one concrete parameter at a time, and only for the
parameters that are active), see ``optuna_adapter`` and ``kt_adapter``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from seqtune.errors import UserError, suggest_name
from seqtune.spaces.domains import (
    MAX_PER,
    Choice,
    Domain,
    Fixed,
    Float,
    Int,
    is_int,
    is_number,
    show,
)
from seqtune.spaces.parse import domain_from_spec, reroot

#: ``values_of`` lists at most this many values; larger domains give ``None``.
MAX_LISTED_VALUES: int = 1000


def expansion_name(base: str, index: int) -> str:
    """The concrete name of copy ``index`` of the per-parameter ``base``: ``base_index``."""
    return f"{base}_{index}"


class SearchSpace:
    """An ordered mapping of parameter names to :class:`Domain` s.

    Construction checks the rules that involve several parameters (``per`` parents exist,
    are int parameters with ``0 <= low`` and ``high <= 64`` or fixed ints in that range, are
    not themselves expanded; no declared name collides with an expansion ``<base>_<digits>``)
    and raises :class:`UserError` at ``<field>.<name>``.

    ``when`` makes entries conditional: ``when[name] = (parent, values)`` says ``name`` (a
    per-template: every copy) exists only when the parameter ``parent`` (declared, not
    itself conditional, visited first) takes one of ``values``, e.g. the LSTM's ``units``
    only when ``kind`` is ``lstm``. An inactive entry is not drawn, not listed by
    :meth:`active_names` and must be absent from validated values. The conditions are
    not part of :meth:`to_dict` (the spec derives them).

    Examples
    --------
    >>> space = SearchSpace(
    ...     [Choice("kind", ("linear", "lstm")), Int("units", 8, 64)],
    ...     when={"units": ("kind", ("lstm",))},
    ... )
    >>> space.sample(lambda d: "linear" if d.name == "kind" else 16)
    {'kind': 'linear'}
    >>> space.sample(lambda d: "lstm" if d.name == "kind" else 16)
    {'kind': 'lstm', 'units': 16}
    """

    __hash__ = None  # type: ignore[assignment]

    def __init__(
        self,
        domains: Iterable[Domain] = (),
        *,
        field: str = "space",
        when: Mapping[str, tuple[str, tuple[Any, ...]]] | None = None,
    ) -> None:
        self._domains: dict[str, Domain] = {}
        for domain in domains:
            if not isinstance(domain, Domain):
                raise TypeError(f"expected a Domain, got {domain!r}")
            if domain.name in self._domains:
                raise UserError("the parameter is declared twice", f"{field}.{domain.name}")
            self._domains[domain.name] = domain
        self._when = {name: (parent, tuple(vals)) for name, (parent, vals) in (when or {}).items()}
        for name, (parent, _) in self._when.items():
            if name not in self._domains or parent not in self._domains or parent in self._when:
                raise ValueError(f"condition of {name!r} on {parent!r}: not declared, or nested")
        try:
            self._check_per()
        except UserError as err:
            raise reroot(err, field) from None
        self._order = self._visiting_order()

    # -- construction -------------------------------------------------------------------

    @classmethod
    def from_dict(cls, raw: Any, field: str = "space") -> SearchSpace:
        """Read the ``space:`` mapping of the spec (plain YAML/JSON data)."""
        if not isinstance(raw, dict):
            raise UserError(
                "the space must be a mapping of parameter names to domains, "
                f"got {type(raw).__name__} {show(raw)}",
                field,
            )
        return cls((domain_from_spec(name, spec, field) for name, spec in raw.items()), field=field)

    def to_dict(self) -> dict[str, Any]:
        """The spec form; ``SearchSpace.from_dict(space.to_dict()) == space``."""
        return {name: domain.to_dict() for name, domain in self._domains.items()}

    def _check_per(self) -> None:
        bases = [name for name, domain in self._domains.items() if domain.per is not None]
        for base in bases:
            child = self._domains[base]
            parent_name = child.per
            assert parent_name is not None
            where = child.field
            if parent_name == base:
                raise UserError(f"per {show(parent_name)} names the parameter itself", where)
            if parent_name not in self._domains:
                hint = suggest_name(parent_name, list(self._domains))
                raise UserError(
                    f"per {show(parent_name)} is not a parameter of the space{hint}", where
                )
            parent = self._domains[parent_name]
            if parent.per is not None:
                raise UserError(
                    f"per parent {show(parent_name)} is itself expanded per "
                    f"{show(parent.per)}; chains of per are not allowed",
                    where,
                )
            if isinstance(parent, Int):
                if parent.low < 0:
                    raise UserError(
                        f"per parent {show(parent_name)} must have low >= 0, got {parent.low}",
                        where,
                    )
                if parent.high > MAX_PER:
                    raise UserError(
                        f"per parent {show(parent_name)} has high {parent.high}, "
                        f"more than the maximum of {MAX_PER}",
                        where,
                    )
            elif isinstance(parent, Fixed) and is_int(parent.value):
                if not 0 <= parent.value <= MAX_PER:
                    raise UserError(
                        f"per parent {show(parent_name)} is fixed at {parent.value}, "
                        f"outside 0..{MAX_PER}",
                        where,
                    )
            else:
                got = (
                    f"fixed value {show(parent.value)}"
                    if isinstance(parent, Fixed)
                    else f"a {parent.kind} parameter"
                )
                raise UserError(
                    f"per parent {show(parent_name)} must be an int parameter, got {got}", where
                )
        for base in bases:
            pattern = re.compile(re.escape(base) + r"_\d+")
            for name, domain in self._domains.items():
                if pattern.fullmatch(name):
                    raise UserError(
                        f"{show(name)} collides with the expansion {base}_0, {base}_1, ... "
                        f"of {show(base)} (per {self._domains[base].per})",
                        domain.field,
                    )

    def _visiting_order(self) -> list[str]:
        order: list[str] = [parent for parent, _ in self._when.values()]
        order = list(dict.fromkeys(order))  # condition parents first
        for name, domain in self._domains.items():
            if domain.per is not None and domain.per not in order:
                order.append(domain.per)
            if name not in order:
                order.append(name)
        return order

    # -- mapping protocol ---------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        """The declared names, in declaration order (per-templates by their base name)."""
        return list(self._domains)

    def __getitem__(self, name: str) -> Domain:
        return self._domains[name]

    def __contains__(self, name: object) -> bool:
        return name in self._domains

    def __iter__(self) -> Iterator[str]:
        return iter(self._domains)

    def __len__(self) -> int:
        return len(self._domains)

    def __eq__(self, other: object) -> bool:
        """Same parameters with the same domains and conditions; declaration order is
        ignored (YAML dumps sort keys), although it sets the order of ``names`` and of
        sampling."""
        if not isinstance(other, SearchSpace):
            return NotImplemented
        return self._domains == other._domains and self._when == other._when

    # -- conditions ---------------------------------------------------------------------

    def condition(self, name: str) -> tuple[str, tuple[Any, ...]] | None:
        """``(parent, values)`` when ``name`` (declared, or a per copy ``<base>_<i>``)
        exists only while ``parent`` takes one of ``values``; None when unconditional."""
        base, _ = self._split_expansion(name)
        return self._when.get(base if base is not None else name)

    def _active(self, name: str, values: dict[str, Any]) -> bool:
        cond = self._when.get(name)
        return cond is None or (cond[0] in values and values[cond[0]] in cond[1])

    def __repr__(self) -> str:
        return f"SearchSpace({self.to_dict()!r})"

    # -- sampling -----------------------------------------------------------------------

    def sample(self, draw: Callable[[Domain], Any]) -> dict[str, Any]:
        """Draw one configuration, define-by-run.

        Parameters are visited in declaration order, except that a ``per`` parent is visited
        before its first child.  ``draw(domain)`` is called for every active searched
        parameter (with the concrete name ``<base>_<i>`` for expansions, for ``i`` in
        ``range(parent value)``); fixed values are stored without calling ``draw``.  Returns
        the active concrete values in visiting order; ints come back as ``int``, floats as
        ``float``, snapped to their step grid when they have one.
        """
        values: dict[str, Any] = {}
        for name in self._order:
            domain = self._domains[name]
            if not self._active(name, values):
                continue
            if domain.per is None:
                values[name] = _draw(domain, draw)
                continue
            for index in range(values.get(domain.per, 0)):
                concrete = domain.renamed(expansion_name(name, index))
                values[concrete.name] = _draw(concrete, draw)
        return values

    def expanded(self) -> list[tuple[Domain, str | None, int]]:
        """Every concrete parameter that can ever exist, in visiting order.

        Each entry is ``(domain, parent, min_parent)``: the domain under its concrete name,
        the ``per`` parent (or ``None``), and the smallest parent value for which it is
        active (``i + 1`` for copy ``i``; ``0`` when there is no parent).
        """
        out: list[tuple[Domain, str | None, int]] = []
        for name in self._order:
            domain = self._domains[name]
            if domain.per is None:
                out.append((domain, None, 0))
                continue
            for index in range(self._parent_max(domain.per)):
                out.append((domain.renamed(expansion_name(name, index)), domain.per, index + 1))
        return out

    def active_names(self, values: dict[str, Any]) -> list[str]:
        """The concrete names active under ``values`` (which must hold the per parents)."""
        names: list[str] = []
        for name in self._order:
            domain = self._domains[name]
            if not self._active(name, values):
                continue
            if domain.per is None:
                names.append(name)
            else:
                names.extend(expansion_name(name, i) for i in range(values.get(domain.per, 0)))
        return names

    def _parent_max(self, parent: str) -> int:
        domain = self._domains[parent]
        if isinstance(domain, Int):
            return domain.high
        assert isinstance(domain, Fixed)
        return int(domain.value)

    # -- checks and queries -------------------------------------------------------------

    def validate_values(self, values: dict[str, Any], field: str = "params") -> None:
        """Refuse ``values`` unless it holds exactly the active parameters, each in its domain.

        Raises :class:`UserError` at ``<field>.<name>`` (or ``field`` when ``values`` is not a
        mapping).
        """
        if not isinstance(values, dict):
            raise UserError(f"expected a mapping of parameter values, got {show(values)}", field)
        checked: set[str] = set()
        for name in self._order:
            domain = self._domains[name]
            if not self._active(name, values):
                continue
            if domain.per is None:
                _check_value(domain, values, field)
                checked.add(name)
                continue
            for index in range(values.get(domain.per, 0)):
                concrete = domain.renamed(expansion_name(name, index))
                _check_value(concrete, values, field)
                checked.add(concrete.name)
        for name in values:
            if name not in checked:
                raise UserError(self._why_extra(str(name), values), f"{field}.{name}")

    def _why_extra(self, name: str, values: dict[str, Any]) -> str:
        base, index = self._split_expansion(name)
        cond = self.condition(name)
        if cond is not None and not self._active(base if base is not None else name, values):
            return f"{name} is not active: {cond[0]} is {show(values.get(cond[0]))}"
        if base is not None:
            parent = self._domains[base].per
            return f"{name} is not active: {parent} is {show(values.get(parent))}"
        if name in self._domains:  # a per template given by its base name
            parent = self._domains[name].per
            return f"{name} is expanded per {parent}: give {name}_0, {name}_1, ... instead"
        return f"unknown parameter {show(name)}{suggest_name(name, self.active_names(values))}"

    def _split_expansion(self, name: str) -> tuple[str | None, int]:
        match = re.fullmatch(r"(.+)_(\d+)", name)
        if match and match.group(1) in self._domains and self._domains[match.group(1)].per:
            return match.group(1), int(match.group(2))
        return None, -1

    def max_value(self, name: str) -> Any:
        """The largest value ``name`` can take, or ``None`` when it is not numeric.

        Int/Float: ``high``; Choice: the largest numeric choice; Fixed: the value.  Raises
        ``KeyError`` when ``name`` is not declared.
        """
        domain = self._domains[name]
        if isinstance(domain, Int | Float):
            return domain.high
        if isinstance(domain, Choice):
            return max(domain.choices) if domain.numeric else None
        assert isinstance(domain, Fixed)
        return domain.value if is_number(domain.value) else None

    def values_of(self, name: str) -> list[Any] | None:
        """Every value ``name`` can take, or ``None`` for continuous or huge domains.

        Choice: the choices; Fixed: ``[value]``; Int and stepped Float: the grid when it has
        at most 1000 values.  Raises ``KeyError`` when ``name`` is not declared.
        """
        domain = self._domains[name]
        if isinstance(domain, Choice):
            return list(domain.choices)
        if isinstance(domain, Fixed):
            return [domain.value]
        if isinstance(domain, Int):
            return domain.grid() if domain.size <= MAX_LISTED_VALUES else None
        assert isinstance(domain, Float)
        size = domain.size
        return domain.grid() if size is not None and size <= MAX_LISTED_VALUES else None

    # -- fixing -------------------------------------------------------------------------

    def fixed(self, values: dict[str, Any], field: str = "params") -> SearchSpace:
        """A copy of the space where every entry of ``values`` is a :class:`Fixed`.

        ``values`` may name declared parameters and concrete expansions.  Giving the
        expansions of a per-template (``dense_units_0``, ``dense_units_1`` — the export of a
        best trial) replaces the template by plain fixed parameters; its parent must then be
        fixed too, and exactly the active copies must be given.  Giving the template's base
        name (``dense_units: 64``) fixes every copy to that value.  A template whose parent
        is fixed at 0 is dropped.  Every value must lie in its domain.  Entries not named keep
        their domain.
        """
        if not isinstance(values, dict):
            raise UserError(f"expected a mapping of parameter values, got {show(values)}", field)
        copies: dict[str, dict[int, str]] = {}
        for name, value in values.items():
            key = str(name)
            if key in self._domains:
                domain = self._domains[key]
            else:
                base, index = self._split_expansion(key)
                if base is None:
                    hint = suggest_name(key, self.names)
                    raise UserError(f"unknown parameter {show(key)}{hint}", f"{field}.{key}")
                copies.setdefault(base, {})[index] = key
                domain = self._domains[base]
            if not domain.contains(value):
                raise UserError(
                    f"value {show(value)} is outside its domain {show(domain.to_dict())}",
                    f"{field}.{key}",
                )
        out: list[Domain] = []
        when: dict[str, tuple[str, tuple[Any, ...]]] = {}
        for name, domain in self._domains.items():
            cond = self._when.get(name)
            if cond is not None and cond[0] in values:
                if values[cond[0]] not in cond[1]:
                    if name in values or name in copies:
                        raise UserError(
                            f"{name} is not active: {cond[0]} is {show(values[cond[0]])}",
                            f"{field}.{name if name in values else min(copies[name].values())}",
                        )
                    continue  # the condition's parent is fixed where it does not exist
            elif cond is not None:
                when[name] = cond
            if name in copies:
                out.extend(self._fixed_copies(name, copies[name], values, field))
                if cond is not None and name in when:
                    when.pop(name)
                    when.update({copies[name][i]: cond for i in copies[name]})
            elif domain.per is not None and values.get(domain.per) == 0:
                when.pop(name, None)
                continue  # no copy can exist: the template goes
            elif name in values:
                out.append(Fixed(name, values[name], per=domain.per))
            else:
                out.append(domain)
        return SearchSpace(out, when=when)

    def _fixed_copies(
        self, base: str, copies: dict[int, str], values: dict[str, Any], field: str
    ) -> list[Domain]:
        parent = self._domains[base].per
        assert parent is not None
        first = copies[min(copies)]
        if base in values:
            raise UserError(f"give either {base} or {base}_<i>, not both", f"{field}.{first}")
        if parent not in values:
            raise UserError(
                f"{first} is fixed but its per parent {parent} is not", f"{field}.{first}"
            )
        count = values[parent]
        for index in range(count):
            if index not in copies:
                raise UserError(
                    f"missing value: {parent} is {count}", f"{field}.{expansion_name(base, index)}"
                )
        for index, name in copies.items():
            if index >= count:
                raise UserError(f"{name} is not active: {parent} is {count}", f"{field}.{name}")
        return [Fixed(copies[i], values[copies[i]]) for i in sorted(copies)]


def _draw(domain: Domain, draw: Callable[[Domain], Any]) -> Any:
    if isinstance(domain, Fixed):
        return domain.value
    value = draw(domain)
    if isinstance(domain, Int) and is_int(value):
        return int(value)
    if isinstance(domain, Float) and is_number(value):
        return domain.canonical(value)
    return value


def _check_value(domain: Domain, values: dict[str, Any], field: str) -> None:
    where = f"{field}.{domain.name}"
    if domain.name not in values:
        raise UserError("missing value for an active parameter", where)
    value = values[domain.name]
    if not domain.contains(value):
        raise UserError(
            f"value {show(value)} is outside its domain {show(domain.to_dict())}", where
        )
