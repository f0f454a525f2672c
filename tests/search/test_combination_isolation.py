"""The combination's weights are chosen on the folds only: every statistical member's fold
forecasts, and the rule and weights chosen from them, are the same when every test row of
the data file holds a wild value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import AIRLINE
from test_baseline_status import FOLDS, HOLDOUT, poisoned_copy, spec_on

from seqtune.exported.combination import fold_forecasts
from seqtune.models import statistical
from seqtune.models.combination import choose
from seqtune.study.baselines import validation_windows
from seqtune.study.lifecycle import prepare

VALUES = {"look_back": 13, "transform": "seasonal_diff", "batch_size": 16}


@pytest.fixture(autouse=True)
def on(monkeypatch: pytest.MonkeyPatch) -> None:
    """On (the suite turns them off), the searches kept small and deterministic."""
    monkeypatch.setenv(statistical.ENV, "120")
    monkeypatch.setattr(statistical, "ETS_MAX_PERIOD", 0)
    monkeypatch.setattr(statistical, "ARIMA_MAX_PERIOD", 0)
    monkeypatch.setattr(statistical, "ARIMA_MAX_ORDER", 1)


def _network(runner: Any) -> tuple[np.ndarray, np.ndarray]:
    """Stand-in fold validation forecasts of a network: the truth, shifted."""
    actual = np.concatenate(
        [w.true_original("val").reshape(-1, 1) for w in validation_windows(runner, VALUES)]
    )
    return actual, actual + 7.0 * np.sin(np.arange(len(actual)))[:, None]


@pytest.mark.parametrize("split", [HOLDOUT, FOLDS], ids=["holdout", "folds"])
def test_the_test_rows_do_not_change_the_choice(split: dict[str, Any], tmp_path: Path) -> None:
    table, runner = prepare(spec_on(AIRLINE, split, Path(".")))
    clean = fold_forecasts(runner, VALUES, _network(runner))
    assert clean is not None
    actual, members, groups = clean
    assert set(members) == {"network", *statistical.STATISTICAL}
    assert len(set(groups.tolist())) == (3 if split is FOLDS else 4)  # folds, or 4 blocks

    _, runner2 = prepare(spec_on(poisoned_copy(table, tmp_path), split, Path(".")))
    wild = fold_forecasts(runner2, VALUES, _network(runner2))
    assert wild is not None
    np.testing.assert_array_equal(wild[0], actual)
    for name, forecasts in members.items():
        np.testing.assert_array_equal(wild[1][name], forecasts)

    def rmse(a: np.ndarray, f: np.ndarray) -> float:
        return float(np.sqrt(np.mean((a - f) ** 2)))

    for rule in ("auto", "stacking"):
        again = choose(wild[1], wild[0], wild[2], rmse, "minimize", rule)
        assert again == choose(members, actual, groups, rmse, "minimize", rule)


def test_network_rows_that_do_not_line_up_give_no_combination() -> None:
    _, runner = prepare(spec_on(AIRLINE, FOLDS, Path(".")))
    actual, network = _network(runner)
    assert fold_forecasts(runner, VALUES, (actual[1:], network[1:])) is None
