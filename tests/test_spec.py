"""The whole spec: sections, search settings, overrides, and the resume fingerprint."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import tiny_spec, write_spec

from seqtune.errors import UserError
from seqtune.spec import Overrides, SearchSettings, Spec, diff_fingerprints


def test_a_spec_round_trips_through_yaml(tmp_path: Path) -> None:
    spec = Spec.from_file(write_spec(tmp_path / "s.yaml", tiny_spec()))
    again = Spec.from_dict(yaml.safe_load(yaml.safe_dump(spec.to_dict())), tmp_path)
    assert again.fingerprint() == spec.fingerprint()
    assert again.study == "tiny" and again.objective.name == "val_rmse"


def test_the_csv_path_is_written_relative_to_the_output_folder(tmp_path: Path) -> None:
    spec = Spec.from_file(write_spec(tmp_path / "s.yaml", tiny_spec()))
    out = tmp_path / "deep" / "er"
    out.mkdir(parents=True)
    rel = spec.to_dict(relative_to=out)["data"]["csv"]
    assert not Path(rel).is_absolute()
    assert (out / rel).resolve() == spec.data.csv


def test_search_defaults_and_validation() -> None:
    s = SearchSettings.from_dict(None)
    assert (s.backend, s.trials, s.patience, s.pruner) == ("tpe", None, 10, "median")
    assert SearchSettings.from_dict({"patience": None}).patience is None
    for raw, field in [
        ({"backend": "bayes"}, "search.backend"),
        ({"trials": 0}, "search.trials"),
        ({"max_epochs": "10"}, "search.max_epochs"),
        ({"factor": 1}, "search.factor"),
        ({"pruner": "early"}, "search.pruner"),
        ({"max_epoch": 3}, "search.max_epoch"),
    ]:
        with pytest.raises(UserError) as err:
            SearchSettings.from_dict(raw)
        assert err.value.field == field


def test_unknown_top_level_key_suggests_the_close_name(tmp_path: Path) -> None:
    raw = tiny_spec()
    raw["serach"] = raw.pop("search")
    with pytest.raises(UserError, match="did you mean 'search'") as err:
        Spec.from_dict(raw, tmp_path)
    assert err.value.field == "serach"


@pytest.mark.parametrize("name", ["../escape", "a/b", "", ".hidden", "x" * 101])
def test_study_names_cannot_escape_the_results_folder(tmp_path: Path, name: str) -> None:
    with pytest.raises(UserError) as err:
        Spec.from_dict(tiny_spec(study=name), tmp_path)
    assert err.value.field == "study"


def test_transform_is_refused_for_classification(tmp_path: Path) -> None:
    csv = tmp_path / "c.csv"
    csv.write_text("a,class\n" + "".join(f"{i},{i % 2}\n" for i in range(50)))
    raw = tiny_spec(
        data={"csv": str(csv), "target": "class", "task": "classify"}, objective="val_f1"
    )
    with pytest.raises(UserError) as err:
        Spec.from_dict(raw, tmp_path)
    assert err.value.field == "space.transform"


def test_overrides_apply_and_revalidate(tmp_path: Path) -> None:
    spec = Spec.from_file(write_spec(tmp_path / "s.yaml", tiny_spec()))
    out = Overrides(backend="random", trials=9, max_epochs=4, study="other").apply(spec)
    assert (out.search.backend, out.search.trials, out.search.max_epochs, out.study) == (
        "random",
        9,
        4,
        "other",
    )
    with pytest.raises(UserError):
        Overrides(study="../x").apply(spec)


def test_fingerprint_ignores_the_budget_and_names_what_changed(tmp_path: Path) -> None:
    a = Spec.from_file(write_spec(tmp_path / "a.yaml", tiny_spec()))
    more = tiny_spec(search={"trials": 99})
    assert diff_fingerprints(a.fingerprint(), Spec.from_dict(more, tmp_path).fingerprint()) == []
    changed = tiny_spec(objective="val_mae")
    changed["space"]["dropout"] = {"float": [0.0, 0.3], "step": 0.1}
    diffs = diff_fingerprints(a.fingerprint(), Spec.from_dict(changed, tmp_path).fingerprint())
    assert "objective: was val_rmse, now val_mae" in diffs
    assert "space.dropout.float: was [0.0, 0.2], now [0.0, 0.3]" in diffs
