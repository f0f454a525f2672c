"""The model kind: one name (``model: {kind: lstm}``) or searched among several
(``model: {kind: {choice: [linear, mlp, lstm]}}``).

A searched kind is the space's first parameter, ``kind``, and every space entry read by
only some of the chosen kinds is conditional on it (:class:`~seqtune.spaces.SearchSpace`'s
``when``): a trial draws the LSTM's ``units`` only when it drew ``lstm``. A trial's params
then hold its ``kind``; :func:`kind_of` is the one place that says which network a trial
(or an export, whose space fixes ``kind``) builds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from seqtune.errors import UserError
from seqtune.models.params import KINDS, readers
from seqtune.spaces import Choice, Domain, Fixed, SearchSpace
from seqtune.spaces.domains import show

if TYPE_CHECKING:
    from seqtune.spec import Spec

#: What :attr:`Spec.kind` holds when the kind is searched (the kinds are in the space).
SEARCHED = "choice"


def parse_kind(raw: Any, field: str = "model.kind") -> str | Choice:
    """``model.kind`` as given: a kind's name, or a ``{choice: [...]}`` of kinds (a
    :class:`~seqtune.spaces.Choice` named ``kind``); UserError in one line otherwise.

    Examples
    --------
    >>> parse_kind("mlp")
    'mlp'
    >>> parse_kind({"choice": ["linear", "lstm"]}).choices
    ('linear', 'lstm')
    """
    if isinstance(raw, dict):
        if set(raw) != {"choice"}:
            raise UserError(
                f"expected a kind or {{choice: [{', '.join(KINDS)}]}}, got {show(raw)}", field
            )
        choices = raw["choice"]
        if not isinstance(choices, list) or not choices:
            raise UserError(f"choice must be a non-empty list of kinds, got {show(choices)}", field)
        for value in choices:
            _check_kind(value, field)
        if len(set(choices)) != len(choices):
            raise UserError(f"a kind is listed twice in {show(choices)}", field)
        return Choice("kind", tuple(choices))
    _check_kind(raw, field)
    return str(raw)


def _check_kind(value: Any, field: str) -> None:
    if not isinstance(value, str) or value not in KINDS:
        raise UserError(f"{value!r} is not one of {', '.join(KINDS)}", field)


def kind_space(kind: str | Choice, space: SearchSpace) -> tuple[str, SearchSpace]:
    """``Spec.kind`` and the space trials draw from: ``(kind, space)`` unchanged for one
    kind; for a choice, :data:`SEARCHED` and the space with ``kind`` first and every entry
    that only some of the kinds read drawn only when one of those is chosen."""
    if "kind" in space:
        raise UserError(
            "the model kind is set in model.kind (a kind, or {choice: [...]}), not in the space",
            "space.kind",
        )
    if isinstance(kind, str):
        return kind, space
    when: dict[str, tuple[str, tuple[Any, ...]]] = {}
    for name in space.names:
        read_by = readers(name, kind.choices)
        if set(read_by) != set(kind.choices):
            when[name] = ("kind", read_by)
    domains: list[Domain] = [kind, *(space[name] for name in space.names)]
    return SEARCHED, SearchSpace(domains, when=when)


def kinds_of(spec: Spec) -> tuple[str, ...]:
    """Every kind a trial of ``spec`` can build: the choice, or the one kind.

    Examples
    --------
    >>> from seqtune.api import load_spec
    >>> spec = load_spec({"study": "s", "data": {"csv": "a.csv", "target": "y"},
    ...                   "model": {"kind": {"choice": ["linear", "mlp"]}},
    ...                   "objective": "val_rmse"})
    >>> kinds_of(spec)
    ('linear', 'mlp')
    """
    if "kind" not in spec.space:
        return (spec.kind,)
    domain = spec.space["kind"]
    if isinstance(domain, Fixed):
        return (str(domain.value),)
    assert isinstance(domain, Choice)
    return tuple(str(k) for k in domain.choices)


def kind_of(spec: Spec, values: dict[str, Any] | None = None) -> str:
    """The model kind of a trial of ``spec`` with params ``values``: the trial's own
    ``kind`` when the spec searches it (or the space fixes it, as an export's does), else
    the spec's one kind. Params of a study made before the kind could be searched hold no
    ``kind`` and get the spec's.

    Examples
    --------
    >>> from seqtune.api import load_spec
    >>> spec = load_spec({"study": "s", "data": {"csv": "a.csv", "target": "y"},
    ...                   "model": {"kind": {"choice": ["linear", "mlp"]}},
    ...                   "objective": "val_rmse"})
    >>> kind_of(spec, {"kind": "linear", "look_back": 3})
    'linear'
    """
    if "kind" not in spec.space:
        return spec.kind
    domain = spec.space["kind"]
    if isinstance(domain, Fixed):
        return str(domain.value)
    if values is None or "kind" not in values:
        raise ValueError("the spec searches the model kind: give the trial's params")
    return str(values["kind"])


def kind_text(spec: Spec) -> str:
    """The kind as a report shows it: ``lstm``, or ``choice of linear, mlp``."""
    kinds = kinds_of(spec)
    return kinds[0] if spec.kind != SEARCHED else f"choice of {', '.join(kinds)}"


def model_dict(spec: Spec) -> dict[str, Any]:
    """The spec's ``model:`` section: ``{kind, layout}``, the kind as the user wrote it (a
    fixed ``kind`` in the space — an export's — is written as its plain name)."""
    if "kind" in spec.space:
        return {"kind": spec.space["kind"].to_dict(), "layout": spec.layout}
    return {"kind": spec.kind, "layout": spec.layout}


def space_dict(spec: Spec) -> dict[str, Any]:
    """The spec's ``space:`` section: the space without the searched ``kind``."""
    return {k: v for k, v in spec.space.to_dict().items() if k != "kind"}
