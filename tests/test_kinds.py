"""The model kind: ``linear``, and a kind searched among several (issue 24).

Unit tests of the spec, the conditional space, both adapters and the networks; the
backends' shared suite has a kind-choice case, and the slow end-to-end tests at the end run
the CLI as a user does (launch with a kind choice → export → predict → train).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import keras
import numpy as np
import optuna
import pytest
import yaml
from conftest import run_cli, tiny_spec, write_spec

from seqtune.errors import UserError
from seqtune.kinds import kind_of, kind_text
from seqtune.models.builders import build_model
from seqtune.models.params import resolve
from seqtune.spaces import suggest_optuna
from seqtune.spec import Spec

CHOICE = {"kind": {"choice": ["linear", "mlp", "lstm"]}, "layout": "timesteps"}


def spec_of(tmp_path: Path, **changes: Any) -> Spec:
    return Spec.from_dict(tiny_spec(**changes), tmp_path, tmp_path / "spec.yaml")


# ---- the spec ---------------------------------------------------------------------------


def test_a_kind_choice_puts_kind_first_and_makes_each_kinds_parameters_conditional(
    tmp_path: Path,
) -> None:
    spec = spec_of(tmp_path, model=CHOICE)
    assert spec.kind == "choice" and spec.kinds == ("linear", "mlp", "lstm")
    assert spec.space.names[0] == "kind"
    assert spec.space.condition("units") == ("kind", ("lstm",))
    assert spec.space.condition("dropout") == ("kind", ("lstm",))
    assert spec.space.condition("num_hidden_layers") == ("kind", ("mlp", "lstm"))
    assert spec.space.condition("dense_units_1") == ("kind", ("mlp", "lstm"))
    for shared in ("look_back", "transform", "learning_rate", "batch_size"):
        assert spec.space.condition(shared) is None
    assert kind_text(spec) == "choice of linear, mlp, lstm"


def test_the_spec_writes_the_choice_back_where_the_user_wrote_it(tmp_path: Path) -> None:
    spec = spec_of(tmp_path, model=CHOICE)
    out = spec.to_dict()
    assert out["model"] == {"kind": {"choice": ["linear", "mlp", "lstm"]}, "layout": "timesteps"}
    assert "kind" not in out["space"]
    assert spec.fingerprint()["model"] == out["model"]
    assert Spec.from_dict(out, tmp_path, tmp_path / "spec.yaml") == spec


def test_an_old_spec_keeps_its_fingerprint_and_form(tmp_path: Path) -> None:
    """A plain kind: ``model`` and ``space`` exactly as before, so an old study resumes."""
    raw = tiny_spec()
    spec = Spec.from_dict(raw, tmp_path, tmp_path / "spec.yaml")
    assert spec.kind == "lstm" and spec.kinds == ("lstm",)
    assert "kind" not in spec.space
    assert spec.fingerprint()["model"] == {"kind": "lstm", "layout": "timesteps"}
    assert spec.fingerprint()["space"] == raw["space"]
    assert kind_of(spec, {"look_back": 2}) == "lstm"


def test_an_old_studys_spec_reads_back_as_it_was_written() -> None:
    """The studies made by an earlier seqtune (tests/fixtures): their spec's model and space
    come back exactly as written, so the fingerprint a resume compares is unchanged."""
    fixtures = Path(__file__).parent / "fixtures" / "studies_c27898a"
    files = sorted(fixtures.glob("*/spec.yaml"))
    assert len(files) == 2
    for file in files:
        raw = yaml.safe_load(file.read_text())
        spec = Spec.from_file(file)
        assert "kind" not in spec.space
        assert spec.fingerprint()["model"] == raw["model"]
        assert spec.fingerprint()["space"] == raw["space"]


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("rnn", "model.kind: 'rnn' is not one of linear, mlp, lstm"),
        ({"choice": ["mlp", "rnn"]}, "model.kind: 'rnn' is not one of linear, mlp, lstm"),
        ({"choice": []}, "model.kind: choice must be a non-empty list of kinds"),
        ({"choice": ["mlp", "mlp"]}, "model.kind: a kind is listed twice"),
        ({"int": [1, 2]}, "model.kind: expected a kind or {choice: [linear, mlp, lstm]}"),
    ],
)
def test_a_bad_kind_is_refused_in_one_line(tmp_path: Path, kind: Any, message: str) -> None:
    with pytest.raises(UserError) as err:
        spec_of(tmp_path, model={"kind": kind})
    assert str(err.value).startswith(message)
    assert "\n" not in str(err.value)


def test_an_entry_no_chosen_kind_reads_is_refused_and_one_some_read_is_fine(
    tmp_path: Path,
) -> None:
    space = {"look_back": {"int": [1, 3]}, "units": {"int": [4, 8]}}
    with pytest.raises(UserError, match=r"^space\.units: not a parameter of any of the models"):
        spec_of(tmp_path, model={"kind": {"choice": ["linear", "mlp"]}}, space=space)
    spec = spec_of(tmp_path, model={"kind": {"choice": ["linear", "lstm"]}}, space=space)
    assert spec.space.condition("units") == ("kind", ("lstm",))
    with pytest.raises(UserError, match=r"^space\.units: not a parameter of model 'linear'"):
        spec_of(tmp_path, model={"kind": "linear"}, space=space)


def test_train_refuses_a_searched_kind_naming_model_kind(tmp_path: Path) -> None:
    from seqtune.spec import fixed_values

    raw = tiny_spec(model={"kind": {"choice": ["linear", "mlp"]}})
    raw["space"] = {"look_back": 2, "num_hidden_layers": 0}
    with pytest.raises(UserError, match=r"^model\.kind: is searched; `seqtune train` needs"):
        fixed_values(Spec.from_dict(raw, tmp_path, tmp_path / "spec.yaml"))


def test_the_kind_in_the_space_is_refused_naming_model_kind(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"^space\.kind: the model kind is set in model\.kind"):
        spec_of(tmp_path, space={"kind": {"choice": ["mlp", "lstm"]}})


# ---- the conditional space --------------------------------------------------------------


def test_sampling_draws_a_kinds_parameters_only_when_it_is_chosen(tmp_path: Path) -> None:
    space = spec_of(tmp_path, model=CHOICE).space
    rng = np.random.default_rng(0)

    def draw(domain: Any) -> Any:
        if hasattr(domain, "choices"):
            return domain.choices[rng.integers(len(domain.choices))]
        return domain.low if rng.random() < 0.5 else domain.high

    seen = set()
    for _ in range(60):
        values = space.sample(draw)
        kind = values["kind"]
        seen.add(kind)
        assert ("units" in values) == (kind == "lstm")
        assert ("num_hidden_layers" in values) == (kind != "linear")
        if kind == "linear":
            assert not any(n.startswith("dense_") for n in values)
        space.validate_values(values)  # exactly the active parameters
    assert seen == {"linear", "mlp", "lstm"}
    with pytest.raises(UserError, match=r"^params\.units: units is not active: kind is 'linear'"):
        space.validate_values(
            {
                "kind": "linear",
                "transform": "none",
                "look_back": 2,
                "learning_rate": 0.01,
                "batch_size": 16,
                "units": 4,
            }
        )


def test_fixing_a_kind_drops_the_other_kinds_entries(tmp_path: Path) -> None:
    space = spec_of(tmp_path, model=CHOICE).space
    fixed = space.fixed({"kind": "mlp", "look_back": 2, "num_hidden_layers": 1, "dense_units_0": 4})
    assert fixed.to_dict() == {
        "kind": "mlp",
        "transform": {"choice": ["none", "log_diff", "seasonal_diff"]},
        "look_back": 2,
        "num_hidden_layers": 1,
        "dense_units_0": 4,
        "learning_rate": {"choice": [0.01, 0.003]},
        "batch_size": {"choice": [16, 32]},
    }
    assert fixed.condition("num_hidden_layers") is None
    with pytest.raises(UserError, match=r"^params\.units: units is not active: kind is 'mlp'"):
        space.fixed({"kind": "mlp", "units": 4})


def test_optuna_suggests_a_kinds_parameters_only_under_it(tmp_path: Path) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = spec_of(tmp_path, model=CHOICE).space
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    kinds = set()
    for _ in range(30):
        trial = study.ask()
        values = suggest_optuna(trial, space)
        assert set(trial.params) == set(values) - {"look_back"} | {"look_back"}
        kinds.add(values["kind"])
        assert ("units" in trial.params) == (values["kind"] == "lstm")
        study.tell(trial, float(values["look_back"]))
    assert kinds == {"linear", "mlp", "lstm"}


def test_keras_tuner_declares_a_kinds_parameters_in_its_conditional_scope(
    tmp_path: Path,
) -> None:
    kt = pytest.importorskip("keras_tuner")
    from seqtune.spaces import declare_keras_tuner

    space = spec_of(tmp_path, model=CHOICE).space
    base = kt.HyperParameters()
    declare_keras_tuner(base, space)
    oracle = kt.oracles.RandomSearchOracle(
        objective=kt.Objective("loss", "min"), max_trials=200, seed=3, hyperparameters=base
    )
    kinds = set()
    for i in range(40):
        populated = oracle.populate_space(str(i))
        hp = base.copy()
        hp.values = dict(populated["values"])
        values = declare_keras_tuner(hp, space)
        kinds.add(values["kind"])
        assert hp.is_active("units") == (values["kind"] == "lstm")
        assert hp.is_active("num_hidden_layers") == (values["kind"] != "linear")
        space.validate_values(values)
    assert kinds == {"linear", "mlp", "lstm"}


# ---- the networks -----------------------------------------------------------------------


def test_linear_is_one_dense_layer_on_the_flattened_window() -> None:
    model = build_model(
        "linear",
        "timesteps",
        {"look_back": 3},
        look_back=3,
        n_features=2,
        n_outputs=4,
        head="linear",
    )
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["InputLayer", "Flatten", "Dense"]
    assert model.layers[-1].kernel.shape == (6, 4)
    assert resolve("linear", {})["layers"] == []
    x = np.random.default_rng(0).normal(size=(5, 3, 2)).astype("float32")
    w, b = model.layers[-1].get_weights()
    np.testing.assert_allclose(model.predict(x, verbose=0), x.reshape(5, 6) @ w + b, rtol=1e-5)


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_the_layout_does_not_change_a_flattening_kind(kind: str) -> None:
    """mlp and linear flatten (look_back, features) and (1, look_back × features) into the
    same vector: the same weights and the same predictions under either layout."""
    values = {"num_hidden_layers": 1, "dense_units": 5}
    x = np.random.default_rng(1).normal(size=(4, 3, 2)).astype("float32")
    out = []
    for layout in ("timesteps", "window"):
        keras.utils.set_random_seed(5)
        model = build_model(
            kind, layout, values, look_back=3, n_features=2, n_outputs=1, head="linear"
        )
        shaped = x if layout == "timesteps" else x.reshape(4, 1, 6)
        out.append(model.predict(shaped, verbose=0))
    np.testing.assert_allclose(out[0], out[1], rtol=1e-6)


# ---- the report ---------------------------------------------------------------------------


def test_the_history_marks_each_kind_and_the_slices_show_the_kind(tmp_path: Path) -> None:
    from seqtune.report import figures
    from seqtune.report.source import StudyData
    from seqtune.search.records import TrialRecord

    spec = spec_of(tmp_path, model=CHOICE)
    records = [
        TrialRecord(0, "complete", {"kind": "linear", "look_back": 2}, 3.0),
        TrialRecord(1, "complete", {"kind": "lstm", "look_back": 3, "units": 4}, 2.0),
        TrialRecord(2, "pruned", {"kind": "mlp", "look_back": 1}, None),
    ]
    data = StudyData(tmp_path, spec, {}, records)
    labels = figures.history(data).axes[0].get_legend_handles_labels()[1]
    assert labels[:2] == ["complete · linear", "complete · lstm"]
    titles = [ax.get_title() for ax in figures.slices(data).axes if ax.get_visible()]
    assert titles[0] == "kind"
    single = StudyData(tmp_path, spec_of(tmp_path), {}, records[:1])
    assert "complete" in figures.history(single).axes[0].get_legend_handles_labels()[1]


# ---- end to end, as a user runs it ------------------------------------------------------

KIND_SPACE = {
    "look_back": {"int": [2, 4]},
    "units": {"int": [2, 4]},
    "num_hidden_layers": {"int": [0, 1]},
    "dense_units": {"int": [2, 4], "per": "num_hidden_layers"},
    "learning_rate": 0.01,
}


@pytest.mark.slow
@pytest.mark.parametrize(
    "search",
    [
        {"backend": "tpe", "trials": 5, "max_epochs": 2, "patience": 2},
        {"backend": "hyperband", "max_epochs": 2, "factor": 2, "patience": 2},
    ],
    ids=["tpe", "hyperband"],
)
def test_a_kind_choice_launches_exports_predicts_and_trains_back(
    tmp_path: Path, search: dict[str, Any]
) -> None:
    raw = tiny_spec(model=CHOICE, space=KIND_SPACE, search=search)
    spec = write_spec(tmp_path / "tiny.yaml", raw)
    results = tmp_path / "results"
    launched = run_cli("launch", str(spec), "--results", str(results), "--json")
    assert launched.returncode == 0, launched.stderr
    status = json.loads(launched.stdout)
    kinds = {r["params"]["kind"] for r in status["trial_records"]}
    assert kinds and kinds <= {"linear", "mlp", "lstm"}
    for record in status["trial_records"]:  # only the chosen kind's parameters
        params = record["params"]
        assert ("units" in params) == (params["kind"] == "lstm")
    shown = run_cli("status", str(results / "tiny"))
    assert shown.returncode == 0 and "kind=" in shown.stdout
    from seqtune.api import load_study

    frame = load_study(results / "tiny").trials_dataframe()
    assert set(frame["params_kind"]) == kinds

    exported = run_cli("export", str(results / "tiny"))
    assert exported.returncode == 0, exported.stderr
    best = results / "tiny" / "best.yaml"
    written = yaml.safe_load(best.read_text())
    chosen = written["model"]["kind"]
    assert chosen == status["best"]["params"]["kind"]
    assert "kind" not in written["space"]
    if chosen != "lstm":
        assert "units" not in written["space"]
    network = keras.models.load_model(best.with_suffix(".keras"), compile=False)
    has_lstm = any(isinstance(layer, keras.layers.LSTM) for layer in network.layers)
    assert has_lstm == (chosen == "lstm")

    reported = run_cli("report", str(results / "tiny"))
    assert reported.returncode == 0, reported.stderr
    page = (results / "tiny" / "report.html").read_text()
    assert "choice of linear, mlp, lstm" in page
    assert "test-set evaluation is left out" not in page

    predicted = run_cli("predict", str(best))
    assert predicted.returncode == 0, predicted.stderr
    assert predicted.stdout.startswith("step,h,prediction")

    trained = run_cli("train", str(best), "--json")
    assert trained.returncode == 0, trained.stderr
    assert json.loads(trained.stdout)["reproduced"]["within_tolerance"] is True
