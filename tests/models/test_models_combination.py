"""Combination at export: the rules (chosen on left-out folds), the statistical models'
JSON state, the spec key, and the state file's schema."""

from __future__ import annotations

import json

import numpy as np
import pytest

from seqtune.errors import UserError
from seqtune.exported.combination import Combination, forecast_path, member_series, wanted
from seqtune.models import statistical
from seqtune.models.combination import AUTO_RULES, RULES, blocks, choose, combine, weights
from seqtune.spec import SearchSettings


def _rmse(a: np.ndarray, f: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a - f) ** 2)))


def _members(seed: int = 0, n: int = 48) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    y = np.sin(np.arange(n) / 3.0) * 10
    return y, {
        "network": y + rng.normal(0, 1.0, n),
        "auto_ets": y + rng.normal(0, 1.0, n),
        "auto_theta": y + 5.0,  # biased: stacking gives it nothing
    }


def test_every_rule_gives_weights_that_are_non_negative_and_sum_to_one() -> None:
    y, found = _members()
    for rule in RULES:
        w = weights(rule, found, y)
        assert w.shape == (3,) and np.all(w >= 0) and w.sum() == pytest.approx(1.0), rule
    assert weights("network", found, y).tolist() == [1.0, 0.0, 0.0]
    assert weights("average", found, y).tolist() == [0.5, 0.5, 0.0]  # the best other one


def test_stacking_finds_the_mixture_that_makes_the_truth() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=200), rng.normal(size=200)
    truth = 0.7 * a + 0.3 * b
    w = weights("stacking", {"network": a, "auto_ets": b, "auto_arima": a + 3}, truth)
    assert w.round(6).tolist() == [0.7, 0.3, 0.0]


def test_inverse_weights_follow_the_members_squared_errors() -> None:
    y = np.zeros(4)
    w = weights("inverse", {"network": y + 1.0, "auto_ets": y + 2.0}, y)
    assert w.tolist() == pytest.approx([0.8, 0.2])  # 1/1 and 1/4, normalised


def test_the_folds_choose_the_network_alone_when_nothing_helps() -> None:
    y = np.arange(40.0)
    found = {"network": y + 0.01 * np.sin(y), "auto_ets": y + 4.0, "auto_arima": y + 6.0}
    choice = choose(found, y, np.repeat(np.arange(4), 10), _rmse, "minimize", "auto")
    assert choice.rule == "network"
    assert choice.members == ("network",) and choice.weights == (1.0,)
    assert set(choice.scores) == set(AUTO_RULES)  # pooled is taken only when asked for
    assert choice.scores["network"] == min(choice.scores.values())


def test_pooled_halves_the_network_and_shares_the_rest_equally() -> None:
    y, found = _members()
    assert weights("pooled", found, y).tolist() == [0.5, 0.25, 0.25]  # the biased one too
    groups = np.repeat(np.arange(4), 12)
    choice = choose(found, y, groups, _rmse, "minimize", "pooled")
    assert choice.rule == "pooled" and choice.members == ("network", "auto_ets", "auto_theta")
    assert choice.weights == (0.5, 0.25, 0.25)
    assert set(choice.scores) == set(RULES)  # its left-out score beside the others'
    # auto never picks it, even where it would score best on the left-out folds
    even = {"network": y + 1.0, "auto_ets": y - 0.5, "auto_theta": y - 1.5}
    scored = choose(even, y, groups, _rmse, "minimize", "pooled").scores
    assert scored["pooled"] == pytest.approx(0.0, abs=1e-12)
    assert choose(even, y, groups, _rmse, "minimize", "auto").rule != "pooled"


def test_the_folds_choose_a_combination_when_it_helps_on_left_out_folds() -> None:
    y, found = _members(seed=3, n=80)
    choice = choose(found, y, np.repeat(np.arange(4), 20), _rmse, "minimize", "auto")
    assert choice.rule != "network"
    assert "auto_ets" in choice.members and sum(choice.weights) == pytest.approx(1.0)
    assert choice.scores[choice.rule] < choice.scores["network"]
    combined = choice.apply(found)
    assert _rmse(y, combined) < _rmse(y, found["network"])


def test_a_rule_is_scored_on_the_groups_it_was_not_fitted_on() -> None:
    # the statistical model is perfect on group 0 and useless on group 1: weights fitted on
    # the one group are scored on the other, so the left-out score is worse than in-sample
    y = np.zeros(20)
    stat = np.r_[np.zeros(10), np.full(10, 10.0)]
    found = {"network": np.ones(20), "auto_ets": stat}
    groups = np.repeat([0, 1], 10)
    choice = choose(found, y, groups, _rmse, "minimize", "auto")
    in_sample = _rmse(y, combine(found, ["network", "auto_ets"], weights("stacking", found, y)))
    assert choice.scores["stacking"] > in_sample
    assert choice.rule == "network"


def test_a_rule_asked_for_is_taken_whatever_the_folds_say() -> None:
    y = np.arange(40.0)
    found = {"network": y + 0.01 * np.sin(y), "auto_ets": y + 4.0, "auto_arima": y + 6.0}
    groups = np.repeat(np.arange(4), 10)
    choice = choose(found, y, groups, _rmse, "minimize", "average")
    assert choice.rule == "average" and choice.weights == (0.5, 0.5)
    assert choice.members == ("network", "auto_ets")  # the better one on the folds
    assert choice.scores["average"] > choice.scores["network"]  # recorded all the same
    with pytest.raises(ValueError, match="median"):
        choose(found, y, groups, _rmse, "minimize", "median")


def test_maximised_objectives_pick_the_largest_score() -> None:
    y, found = _members(seed=3, n=80)
    neg = lambda a, f: -_rmse(a, f)  # noqa: E731
    up = choose(found, y, np.repeat(np.arange(4), 20), neg, "maximize", "auto")
    down = choose(found, y, np.repeat(np.arange(4), 20), _rmse, "minimize", "auto")
    assert up.rule == down.rule


def test_blocks_cut_a_holdout_into_contiguous_groups() -> None:
    assert blocks(8).tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert blocks(3).tolist() == [0, 0, 0]  # too few rows for more than one block


# -- the statistical models' state ------------------------------------------------------------


def _seasonal(n: int = 72) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(n, dtype=np.float64)
    return 50 + 0.5 * t + 5 * np.sin(2 * np.pi * t / 6) + rng.normal(0, 0.3, n)


@pytest.mark.parametrize("name", statistical.STATISTICAL)
def test_a_fitted_model_is_rebuilt_from_its_json_state(name: str) -> None:
    y = _seasonal()
    fitted = statistical.fit(name, y[:48], period=6, seconds=30)
    state = json.loads(json.dumps(fitted.state))  # plain JSON types only
    again = statistical.Fitted.from_state(state)
    assert again.name == name and again.describe == fitted.describe
    rows = np.arange(48, 70)
    for horizon in (1, 3):
        np.testing.assert_allclose(
            again.forecasts(y, rows, horizon), fitted.forecasts(y, rows, horizon), rtol=1e-9
        )


@pytest.mark.parametrize("name", statistical.STATISTICAL)
def test_a_forecast_past_the_series_end_is_the_filtered_one(name: str) -> None:
    """predict forecasts the rows after the recent ones: from y[:t] alone, it must equal
    the forecast of row t that reads a longer series."""
    y = _seasonal()
    fitted = statistical.Fitted.from_state(statistical.fit(name, y[:48], 6, seconds=30).state)
    for horizon in (1, 3):
        past_end = fitted.forecasts(y[:60], np.array([60]), horizon)
        inside = fitted.forecasts(y, np.array([60]), horizon)
        np.testing.assert_allclose(past_end, inside, rtol=1e-7)


def test_a_damaged_state_is_refused_saying_what() -> None:
    with pytest.raises(ValueError, match="model"):
        statistical.Fitted.from_state({"model": "prophet"})
    with pytest.raises(ValueError, match="auto_theta"):
        statistical.Fitted.from_state({"model": "auto_theta", "alpha": 0.5})


# -- the export's combination: its state and how predict places recent rows ------------------


def _combination(time: bool) -> tuple[Combination, np.ndarray]:
    from seqtune.models.combination import Choice

    y = _seasonal()
    fitted = statistical.fit("auto_ets", y[:48], 6, seconds=30)
    labels: list[object] = (
        [f"2000-{1 + i // 28:02d}-{1 + i % 28:02d}" for i in range(49)] if time else list(range(49))
    )
    choice = Choice("average", ("network", "auto_ets"), (0.5, 0.5), {})
    combo = Combination(choice, {"auto_ets": fitted}, y[:48].copy(), labels[:48], labels[48])
    return Combination.from_state(json.loads(json.dumps(combo.to_state()))), y


def test_recent_rows_are_placed_after_the_rows_the_members_were_fitted_on() -> None:
    combo, y = _combination(time=False)
    # the whole series, or its last rows (by value), give the same series
    np.testing.assert_array_equal(member_series(combo, y[:60], list(range(60)), "f"), y[:60])
    np.testing.assert_array_equal(member_series(combo, y[20:60], list(range(40)), "f"), y[:60])
    with pytest.raises(UserError, match="statistical member"):
        member_series(combo, y[50:60] + 1000, list(range(10)), "recent.csv")


def test_recent_rows_are_placed_by_their_time_labels() -> None:
    combo, y = _combination(time=True)
    texts = [str(v) for v in combo.labels]
    got = member_series(combo, y[30:48], texts[30:48], "f")
    np.testing.assert_array_equal(got, y[:48])
    after = member_series(combo, y[48:52], [str(combo.next_label), "x", "y", "z"], "f")
    np.testing.assert_array_equal(after, y[:52])
    with pytest.raises(UserError, match="recent.csv"):
        member_series(combo, y[55:60], ["2001-01-01"] * 5, "recent.csv")


def test_members_fitted_on_the_last_rows_read_recent_rows_from_there() -> None:
    from seqtune.models.combination import Choice

    y = _seasonal()
    start = 20  # fitted on rows 20..47 of the study's data (a long series' last rows)
    fitted = statistical.fit("auto_ets", y[start:48], 6, seconds=30)
    for time in (False, True):
        labels: list[object] = (
            [f"2000-{1 + i // 28:02d}-{1 + i % 28:02d}" for i in range(60)]
            if time
            else list(range(60))
        )
        choice = Choice("average", ("network", "auto_ets"), (0.5, 0.5), {})
        made = Combination(
            choice,
            {"auto_ets": fitted},
            y[start:48].copy(),
            labels[start:48],
            labels[48],
            start=start,
        )
        combo = Combination.from_state(json.loads(json.dumps(made.to_state())))
        assert combo.start == start
        recent = [str(v) for v in labels] if time else list(range(60))
        # the whole series, from its first row: read from the first fitted row on
        np.testing.assert_array_equal(member_series(combo, y[:60], recent, "f"), y[start:60])
        # at export the members filter the study's series from the row they start at
        rows = np.array([50, 51])
        ours = combo.members_forecasts(y, rows, 1, combo.start)["auto_ets"]
        np.testing.assert_allclose(ours, fitted.forecasts(y[start:], rows - start, 1))
    with pytest.raises(ValueError, match="start"):
        Combination.from_state({**made.to_state(), "start": -1})


def test_the_combined_forecast_is_the_weighted_sum_of_its_members() -> None:
    combo, y = _combination(time=False)
    network = np.array([[100.0]])
    path = forecast_path(combo, network, y[:60], list(range(60)), "f")
    ets = combo.fitted["auto_ets"].forecasts(y, np.array([60]), 1)
    assert path[0, 0] == pytest.approx(0.5 * 100.0 + 0.5 * float(ets[0]))


def test_the_text_names_weights_and_models() -> None:
    combo, _ = _combination(time=False)
    assert combo.describe().startswith("0.50 × network + 0.50 × AutoETS ETS(")


# -- the spec key and the version rule -------------------------------------------------------


def test_the_spec_key_is_read_and_does_not_change_the_fingerprint() -> None:
    assert SearchSettings.from_dict({}).combine is None
    assert "combine" not in SearchSettings.from_dict({}).to_dict()
    assert SearchSettings.from_dict({"combine": True}).to_dict()["combine"] is True
    assert SearchSettings.from_dict({"combine": "auto"}).combine == "auto"
    assert SearchSettings.from_dict({"combine": False}).to_dict()["combine"] is False
    assert SearchSettings.from_dict({"combine": "stacking"}).to_dict()["combine"] == "stacking"
    with pytest.raises(UserError, match="search.combine"):
        SearchSettings.from_dict({"combine": "median"})


def test_old_studies_combine_only_when_their_spec_asks() -> None:
    assert wanted(None, "0.4.0") is None and wanted(None, "0") is None
    # each version's default: 0.5.0's average, pooled from 0.5.1 (an old study exports as
    # its version did)
    assert wanted(None, "0.5.0") == "average" and wanted(True, "0.5.0") == "average"
    assert wanted(None, "0.5.1") == "pooled" and wanted(None, "1.0.0") == "pooled"
    assert wanted(True, "0.1.0") == "average" and wanted("inverse", "0.1.0") == "inverse"
    assert wanted("auto", "0.1.0") == "auto" and wanted(False, "9.9.9") is None
    assert wanted("average", "0.5.1") == "average"  # named: that rule
    assert wanted(None, None) == "pooled"  # a fixed spec without a study: train combines


def test_train_combines_as_the_export_recorded() -> None:
    from dataclasses import replace
    from pathlib import Path

    from conftest import tiny_spec

    from seqtune.exported.export import _train_rule
    from seqtune.spec import Spec

    raw = tiny_spec(space={"look_back": 3, "units": 4, "learning_rate": 0.01, "batch_size": 16})
    spec = Spec.from_dict(raw, Path("."), Path("spec.yaml"))
    assert _train_rule(spec) == "pooled"  # a fixed spec of its own: the default
    assert _train_rule(replace(spec, result={"trial": 0})) is None  # an older export
    assert _train_rule(replace(spec, result={"combination": {"note": "off"}})) is None
    assert _train_rule(replace(spec, result={"combination": {"rule": "inverse"}})) == "inverse"
    auto = replace(spec, search=replace(spec.search, combine="auto"))
    assert _train_rule(replace(auto, result={"combination": {"rule": "stacking"}})) == "auto"


def test_a_member_that_cannot_be_refitted_gives_no_combination_and_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pathlib import Path

    from conftest import AIRLINE, tiny_spec

    from seqtune.exported import combination as exported
    from seqtune.spec import Spec
    from seqtune.study.baselines import validation_windows
    from seqtune.study.lifecycle import prepare

    raw = tiny_spec(data={"split": {"val": 12, "test": 24, "folds": 2}})
    raw["data"]["csv"] = str(AIRLINE)
    _, runner = prepare(Spec.from_dict(raw, Path("."), Path("spec.yaml")))
    values = {"look_back": 3, "transform": "none", "batch_size": 16}
    windows = runner.table.refit_windows(3, "none", ())
    actual = np.concatenate(
        [w.true_original("val").reshape(-1, 1) for w in validation_windows(runner, values)]
    )
    monkeypatch.setenv(statistical.ENV, "30")
    fits = {"n": 0}
    original = statistical.fit

    def failing(
        name: str, y: np.ndarray, period: int | None, seconds: float | None = None
    ) -> statistical.Fitted:
        fits["n"] += 1
        if y.size == windows.target_rows("test").min():  # the rows before the test part
            raise ValueError("no ARIMA model could be fitted")
        return original("auto_theta", y, period, seconds)

    monkeypatch.setattr(statistical, "fit", failing)
    combo, note = exported.build(runner, values, (actual, actual + 5.0), windows, "average")
    assert combo is None and fits["n"] > 0
    assert note is not None and note.startswith("no combination: Auto")
    assert "could not be fitted on the rows before the test part" in note
