"""Draw a configuration from an Optuna trial (define-by-run).

``optuna`` is never imported here at run time: the adapter only calls the trial's methods.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from seqtune.spaces.domains import Choice, Domain, Float, Int
from seqtune.spaces.space import SearchSpace

if TYPE_CHECKING:
    import optuna


def suggest_optuna(trial: optuna.trial.BaseTrial, space: SearchSpace) -> dict[str, Any]:
    """Suggest every active parameter of ``space`` on ``trial``; return the active values.

    Int -> ``suggest_int(name, low, high, step=, log=)``, Float -> ``suggest_float(name, low,
    high, step=, log=)``, Choice -> ``suggest_categorical(name, choices)``.  Fixed values are
    not suggested (Optuna never sees them) but are in the returned dict.  Per-expansions are
    suggested under their concrete names (``units_0``, ...) only when active.
    """

    def draw(domain: Domain) -> Any:
        if isinstance(domain, Int):
            return trial.suggest_int(
                domain.name, domain.low, domain.high, step=domain.step, log=domain.log
            )
        if isinstance(domain, Float):
            return trial.suggest_float(
                domain.name, domain.low, domain.high, step=domain.step, log=domain.log
            )
        if isinstance(domain, Choice):
            return trial.suggest_categorical(domain.name, list(domain.choices))
        raise TypeError(f"cannot suggest a {type(domain).__name__} domain")

    return space.sample(draw)
