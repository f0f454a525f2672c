"""Parameter importances with Optuna's ``get_param_importances``.

Evaluator: PED-ANOVA (``PedAnovaImportanceEvaluator``), not Optuna's default fANOVA.
fANOVA fits a random forest with scikit-learn, which is not a seqtune dependency (only the
tests use it), and on the tens of trials a seqtune study has the forest fits noise: on a
formula study whose objective depends on two parameters only, fANOVA gave a third,
ignored one a quarter of the importance, PED-ANOVA ranked the two first. PED-ANOVA asks
what sets the best 10% of trials apart from all of them, which is what a tuner wants to
know, and takes about 10 ms.
"""

from __future__ import annotations

import warnings

import optuna

from seqtune.report.missing import Unavailable
from seqtune.report.source import StudyData

MIN_COMPLETE = 2


def evaluator() -> optuna.importance.BaseImportanceEvaluator:
    return optuna.importance.PedAnovaImportanceEvaluator()


def importances(data: StudyData) -> dict[str, float]:
    """Importance of each searched parameter (summing to 1), most important first."""
    if data.optuna_trials is None:
        raise Unavailable(
            "Parameter importances are left out: they are Optuna's, and this is a Hyperband "
            "(keras-tuner) study."
        )
    n = len(data.complete)
    if n < MIN_COMPLETE:
        raise Unavailable(
            f"Parameter importances are left out: they need at least {MIN_COMPLETE} complete "
            f"trials, this study has {n}."
        )
    study = data.optuna_study()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PED-ANOVA is marked experimental
        try:
            values = optuna.importance.get_param_importances(study, evaluator=evaluator())
        except (ValueError, RuntimeError) as exc:
            raise Unavailable(
                f"Parameter importances are left out: Optuna could not compute them ({exc})."
            ) from None
    if not values:
        raise Unavailable(
            "Parameter importances are left out: no searched parameter varies across the "
            "complete trials."
        )
    return {k: float(v) for k, v in values.items()}
