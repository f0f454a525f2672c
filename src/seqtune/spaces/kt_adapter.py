"""Declare a search space in a keras-tuner ``HyperParameters`` and read the active values.

``keras_tuner`` is never imported here at run time (importing it loads TensorFlow): the
adapter only calls the methods of the ``hp`` object it is given.

Mapping (bounds inclusive on both ends, as in :mod:`seqtune.spaces.domains`):

* ``Int(low, high, step)`` -> ``hp.Int(name, low, high, step=step)`` (keras-tuner includes
  ``max_value``).  ``Int(log=True)`` -> ``hp.Int(..., step=None, sampling="log")``: with log,
  keras-tuner's step would be a multiplier, so none is passed.
* ``Float(low, high)`` -> ``hp.Float(name, low, high)``; ``log`` -> ``sampling="log"``.
* ``Float(low, high, step)`` -> ``hp.Float(name, low, high + step * 1e-6, step=step)``.
  keras-tuner counts the grid with ``(max - min) // step + 1``, which in binary floating
  point drops the top of ``0.0..0.3 step 0.1`` (``0.3 // 0.1 == 2.0``); the tiny nudge makes
  ``high`` reachable without adding a grid point.  The values returned by
  :func:`declare_keras_tuner` are canonicalised (exactly ``0.3``), while ``hp.values`` keeps
  keras-tuner's own float.
* ``Choice`` -> ``hp.Choice(name, choices)`` (keras-tuner turns bools into 0/1; the returned
  values are mapped back to the declared choices).
* ``Fixed`` -> ``hp.Fixed(name, value)``: fixed values are registered, so keras-tuner's
  trial summaries show the whole configuration.
* per-expansions: copy ``units_i`` of a template whose parent ``n`` is searched is declared
  inside ``hp.conditional_scope(n, [parent values > i])``, so keras-tuner knows it exists
  only when ``n > i``.  Copies under a fixed parent are declared unconditionally.
* conditional entries (:meth:`SearchSpace.condition`, e.g. ``units`` only when ``kind`` is
  ``lstm``) are declared inside ``hp.conditional_scope(parent, values)``, around the
  per-expansion's scope when both apply: keras-tuner then draws them only when active.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

from seqtune.spaces.domains import Choice, Domain, Fixed, Float, Int
from seqtune.spaces.space import SearchSpace

if TYPE_CHECKING:
    import keras_tuner

#: Fraction of a step added to ``max_value`` of a stepped Float, see the module docstring.
FLOAT_STEP_NUDGE: float = 1e-6


def declare_keras_tuner(hp: keras_tuner.HyperParameters, space: SearchSpace) -> dict[str, Any]:
    """Register every concrete parameter of ``space`` in ``hp``; return OUR active values.

    Safe to call on every model build: keras-tuner returns the existing entries.  The
    returned dict has the same form as :meth:`SearchSpace.sample`: active concrete names
    only, in visiting order, ints as ``int``, stepped floats canonicalised.
    """
    for domain, parent, min_parent in space.expanded():
        with ExitStack() as scopes:
            condition = space.condition(domain.name)
            if condition is not None and not isinstance(space[condition[0]], Fixed):
                scopes.enter_context(hp.conditional_scope(condition[0], list(condition[1])))
            if parent is not None and not isinstance(space[parent], Fixed):
                parent_values = space.values_of(parent) or []
                allowed = [v for v in parent_values if v >= min_parent]
                scopes.enter_context(hp.conditional_scope(parent, allowed))
            _register(hp, domain)
    return space.sample(lambda domain: _our_value(domain, hp.values[domain.name]))


def _register(hp: keras_tuner.HyperParameters, domain: Domain) -> None:
    if isinstance(domain, Int):
        if domain.log:
            hp.Int(domain.name, domain.low, domain.high, step=None, sampling="log")
        else:
            hp.Int(domain.name, domain.low, domain.high, step=domain.step)
    elif isinstance(domain, Float):
        if domain.step is None:
            sampling = "log" if domain.log else "linear"
            hp.Float(domain.name, domain.low, domain.high, sampling=sampling)
        else:
            top = domain.high + domain.step * FLOAT_STEP_NUDGE
            hp.Float(domain.name, domain.low, top, step=domain.step)
    elif isinstance(domain, Choice):
        hp.Choice(domain.name, list(domain.choices))
    elif isinstance(domain, Fixed):
        hp.Fixed(domain.name, domain.value)
    else:
        raise TypeError(f"cannot declare a {type(domain).__name__} domain")


def _our_value(domain: Domain, value: Any) -> Any:
    """keras-tuner's value as the space's value (bool choices come back as 0/1)."""
    if isinstance(domain, Choice):
        for choice in domain.choices:
            if choice == value:
                return choice
    return value
