"""Repeats and ensembles: a trial trains ``search.repeats`` seeds per fold side by side and
scores each fold on their mean prediction; export and ``train`` refit ``search.ensemble``
seeds and save one model whose output is their mean."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest
import yaml
from conftest import run_cli, tiny_spec, write_spec

from seqtune.errors import UserError
from seqtune.models.ensemble import mean_model, members_of
from seqtune.search.runner import member_seeds
from seqtune.spec import Spec
from seqtune.study.lifecycle import prepare

VALUES = {"look_back": 2, "transform": "seasonal_diff", "units": 4, "learning_rate": 0.01}


def spec_with(split: dict | None = None, **search: object) -> Spec:
    raw = tiny_spec(search={"max_epochs": 3, "patience": 2, **search})
    if split is not None:
        raw["data"]["split"] = split
    return Spec.from_dict(raw, Path("."), Path("spec.yaml"))


def test_member_seeds_start_with_the_trials_own_seed_and_are_stable() -> None:
    seeds = member_seeds(3, 4)
    assert seeds[0] == 3 and len(set(seeds)) == 4
    assert member_seeds(3, 4) == seeds and member_seeds(3, 2) == seeds[:2]
    assert member_seeds(3, 1) == [3]


@pytest.mark.parametrize(
    ("search", "field", "words"),
    [
        ({"repeats": 0}, "search.repeats", "at least 1"),
        ({"repeats": 1.5}, "search.repeats", "whole number"),
        ({"ensemble": 0}, "search.ensemble", "at least 1"),
        ({"aggregate": "max"}, "search.aggregate", "mean, median"),
        ({"backend": "hyperband", "repeats": 2}, "search.repeats", "Hyperband"),
        ({"backend": "hyperband", "ensemble": 3}, "search.ensemble", "Hyperband"),
    ],
)
def test_bad_repeat_settings_are_one_line_errors(search: dict, field: str, words: str) -> None:
    raw = tiny_spec(search=search)
    if search.get("backend") == "hyperband":
        raw["search"].pop("patience", None)
    with pytest.raises(UserError) as caught:
        Spec.from_dict(raw, Path("."), Path("spec.yaml"))
    assert caught.value.field == field
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_the_ensemble_defaults_to_the_repeats_and_defaults_are_not_written() -> None:
    assert spec_with(repeats=3).search.members == 3
    assert spec_with(repeats=3, ensemble=1).search.members == 1
    plain = spec_with().search.to_dict()
    # a study launched before these keys existed keeps its fingerprint
    assert not {"repeats", "ensemble", "aggregate"} & set(plain)
    assert spec_with(repeats=2, aggregate="median").search.to_dict()["aggregate"] == "median"


def test_a_repeated_trial_scores_the_mean_prediction_of_its_seeds() -> None:
    # one epoch, so every run's best epoch is that epoch and the models can be compared
    _, single = prepare(spec_with())
    seeds = member_seeds(5, 2)
    preds = []
    for s in seeds:
        outcome = single.run(VALUES, s, epochs=1)
        preds.append(single.predict(outcome.model, outcome.windows, "val"))
    truth = single.task.truth(outcome.windows, "val")
    expected = float(np.sqrt(np.mean((np.mean(preds, axis=0) - truth) ** 2)))
    _, repeated = prepare(spec_with(repeats=2))
    assert repeated.trains_members and repeated.refits
    got = repeated.run(VALUES, 5, epochs=1)
    assert got.value == pytest.approx(expected, rel=1e-4)
    assert got.value != pytest.approx(single.run(VALUES, 5, epochs=1).value, rel=1e-3)


def test_the_median_over_folds_when_asked() -> None:
    split = {"val": 12, "test": 0.33, "folds": 3}
    _, runner = prepare(spec_with(split, aggregate="median", repeats=2))
    outcome = runner.run(VALUES, 3)
    per = [outcome.metrics[f"val_rmse_fold{i}"] for i in range(3)]
    assert outcome.value == pytest.approx(float(np.median(per)))
    assert runner.run(VALUES, 3).value == outcome.value  # seeded: the same trial twice


def test_the_refit_is_one_model_whose_output_is_its_members_mean() -> None:
    _, runner = prepare(spec_with(repeats=2, ensemble=3))
    outcome = runner.refit(VALUES, 3, epochs=2)
    members = members_of(outcome.model)
    assert len(members) == 3
    x, _ = outcome.windows.part("test")
    x = x.astype("float32")
    mean = np.mean([m.predict(x, verbose=0) for m in members], axis=0)
    np.testing.assert_allclose(outcome.model.predict(x, verbose=0), mean, rtol=1e-5, atol=1e-6)
    weights = [m.get_weights()[0] for m in members]
    assert not np.allclose(weights[0], weights[1])  # their own seeds


def test_one_model_is_not_wrapped() -> None:
    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    assert mean_model([model]) is model and members_of(model) == [model]
    with pytest.raises(ValueError):
        mean_model([])


@pytest.mark.slow
def test_a_repeated_folds_study_exports_one_averaged_model_that_train_reproduces(
    tmp_path: Path,
) -> None:
    raw = tiny_spec(
        search={"trials": 2, "max_epochs": 3, "patience": 2, "repeats": 2, "ensemble": 3}
    )
    raw["data"]["split"] = {"val": 12, "test": 0.33, "folds": 2}
    spec = write_spec(tmp_path / "s.yaml", raw)
    results = tmp_path / "r"
    assert run_cli("launch", str(spec), "--results", str(results)).returncode == 0
    exported = run_cli("export", str(results / "tiny"))
    assert exported.returncode == 0, exported.stderr
    best = yaml.safe_load((results / "tiny" / "best.yaml").read_text())
    assert best["search"]["repeats"] == 2 and best["search"]["ensemble"] == 3
    assert best["result"]["ensemble"] == 3
    model = keras.models.load_model(results / "tiny" / "best.keras", compile=False)
    assert len(members_of(model)) == 3
    trained = run_cli("train", str(results / "tiny" / "best.yaml"), "--json")
    assert trained.returncode == 0, trained.stderr
    report = json.loads(trained.stdout)
    assert report["reproduced"]["within_tolerance"]
    assert report["test"] == pytest.approx(best["result"]["test"], rel=1e-5)


def _diverging(monkeypatch: pytest.MonkeyPatch, members: set[int], at: int = 1) -> None:
    """Make ``members`` of every side-by-side run diverge at epoch ``at``, as Wide.run
    reports a non-finite loss: stopped, recorded, no validation predictions."""
    from seqtune.models.engine import wide as wide_module
    from seqtune.models.training import Diverged

    original = wide_module.Wide.run

    def run(self, epochs: int, initial_epoch: int = 0):  # type: ignore[no-untyped-def]
        for epoch in original(self, epochs, initial_epoch):
            if epoch.epoch == at:
                for k in members:
                    self.diverged[k] = Diverged(at, float("nan"))
                    self.stopped[k] = True
                    epoch.validation[k] = None
                    epoch.diverged.append(k)
            yield epoch

    monkeypatch.setattr(wide_module.Wide, "run", run)


def test_a_diverged_repeat_stops_alone_and_the_trial_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, runner = prepare(spec_with(repeats=2, patience=None))
    _diverging(monkeypatch, {1})
    outcome = runner.run(VALUES, 5, epochs=3)
    assert outcome.epochs_run == 3 and np.isfinite(outcome.value)


def test_a_fold_with_every_repeat_diverged_fails_the_trial(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from seqtune.models.training import Diverged

    _, runner = prepare(spec_with({"val": 12, "test": 0.33, "folds": 2}, repeats=2))
    _diverging(monkeypatch, {2, 3})  # both repeats of the second fold
    with pytest.raises(Diverged):
        runner.run(VALUES, 5, epochs=3)


def test_a_searched_calendar_reaches_every_fold_and_the_refit() -> None:
    raw = tiny_spec(search={"max_epochs": 2, "patience": None, "repeats": 2})
    raw["data"].update(time="Date", split={"val": 12, "test": 0.33, "folds": 2})
    raw["space"]["calendar"] = {"choice": ["none", "month"]}
    _, runner = prepare(Spec.from_dict(raw, Path("."), Path("spec.yaml")))
    plain = runner.member_windows({**VALUES, "calendar": "none"})
    month = runner.member_windows({**VALUES, "calendar": "month"})
    assert [w.n_features for w in plain] == [1, 1] and [w.n_features for w in month] == [3, 3]
    outcome = runner.run({**VALUES, "calendar": "month"}, 3)
    assert np.isfinite(outcome.value)
    refit = runner.refit({**VALUES, "calendar": "month"}, 3, epochs=1)
    assert refit.windows.n_features == 3
