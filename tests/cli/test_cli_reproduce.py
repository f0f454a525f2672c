"""`seqtune train best.yaml` reproduces a Hyperband export, as a user runs it.

A Hyperband trial trains only its bracket's epochs (``tuner/epochs``), and a trial of a
later round starts from an earlier trial's kept weights. An export that left out either was
refitted over the study's ``max_epochs`` from scratch and missed (|diff| 0.26–156 on
airline val_rmse ~36–207 before the fix).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import run_cli, tiny_spec, write_spec

pytestmark = pytest.mark.slow


def launch_and_export(tmp_path: Path, search: dict[str, Any]) -> tuple[Path, dict[str, Any]]:
    spec = write_spec(tmp_path / "tiny.yaml", tiny_spec(search=search))
    results = tmp_path / "results"
    launched = run_cli("launch", str(spec), "--results", str(results))
    assert launched.returncode == 0, launched.stderr
    out = tmp_path / "exported" / "best.yaml"
    exported = run_cli("export", str(results / "tiny"), "-o", str(out))
    assert exported.returncode == 0, exported.stderr
    return out, yaml.safe_load(out.read_text())


def train_json(best: Path) -> dict[str, Any]:
    trained = run_cli("train", str(best), "--json")
    assert trained.returncode == 0, trained.stderr
    return json.loads(trained.stdout)


#: max_epochs 3, factor 3, no cap: the whole schedule — bracket 1 trains 3 models 1 epoch
#: each and continues the best to epoch 3; bracket 0 trains 2 models 3 epochs from scratch
WHOLE = {"backend": "hyperband", "trials": None, "max_epochs": 3, "factor": 3, "patience": 5}


def test_every_hyperband_trial_replays_through_its_lineage(tmp_path: Path) -> None:
    """A first-round trial over its own epochs (1, not max_epochs), a continued trial from
    the weights of the trial it continues: each replay gives the value the search recorded."""
    from seqtune.exported.export import _refit, hyperband_lineage
    from seqtune.study.lifecycle import Study

    spec = write_spec(tmp_path / "tiny.yaml", tiny_spec(search=WHOLE))
    assert run_cli("launch", str(spec), "--results", str(tmp_path / "r")).returncode == 0
    study = Study.open(tmp_path / "r" / "tiny")
    records = study.backend.records()
    assert len(records) == 6
    _, runner = study.prepare()
    lengths = []
    for record in records:
        lineage = hyperband_lineage(study, record, records)
        assert lineage is not None and lineage[-1]["trial"] == record.number
        lengths.append(len(lineage))
        outcome = _refit(runner, record.params, int(record.seed), lineage)
        assert outcome.value == pytest.approx(record.value, rel=1e-6), (record, lineage)
    study.close()
    assert sorted(lengths) == [1, 1, 1, 1, 1, 2]  # one trial continued another
    first_round = hyperband_lineage(study, records[0], records)
    assert first_round == [{"trial": 0, "seed": records[0].seed, "initial_epoch": 0, "epochs": 1}]


def test_train_reproduces_a_hyperband_export_and_explains_an_old_one(tmp_path: Path) -> None:
    best, exported = launch_and_export(tmp_path, WHOLE)
    result = exported["result"]
    assert exported["search"]["max_epochs"] == 3  # the study's, as before
    assert result["lineage"][-1]["trial"] == result["trial"]
    assert result["lineage"][-1]["seed"] == exported["seed"]

    report = train_json(best)
    assert report["reproduced"]["within_tolerance"], report["reproduced"]
    assert report["epochs"] == result["epochs"]  # counted from epoch 0, as exported
    assert report["best_epoch"] == result["best_epoch"]
    assert report["test"] == pytest.approx(result["test"], rel=1e-6)

    # an export written before the lineage was recorded: refitted from scratch over the
    # study's max_epochs, and train says why it does not match — unless the trial did
    # exactly that (bracket 0: max_epochs from scratch), when it matches
    from_scratch = result["lineage"] == [
        {"trial": result["trial"], "seed": exported["seed"], "initial_epoch": 0, "epochs": 3}
    ]
    old = dict(exported, result={k: v for k, v in result.items() if k != "lineage"})
    old_file = best.with_name("old.yaml")
    old_file.write_text(yaml.safe_dump(old, sort_keys=False))
    shutil.copy(best.with_suffix(".keras"), old_file.with_suffix(".keras"))
    text = run_cli("train", str(old_file))
    assert text.returncode == 0, text.stderr
    verdict = text.stdout.splitlines()[-1]
    if from_scratch:
        assert verdict.startswith("reproduced"), text.stdout
    else:
        assert verdict.startswith("NOT reproduced") and "result.lineage" in verdict, text.stdout


def test_export_without_a_checkpoint_refits_the_lineage(tmp_path: Path) -> None:
    _, with_checkpoint = launch_and_export(tmp_path, WHOLE)
    shutil.rmtree(tmp_path / "results" / "tiny" / "checkpoints")
    out = tmp_path / "refit" / "best.yaml"
    exported = run_cli("export", str(tmp_path / "results" / "tiny"), "-o", str(out))
    assert exported.returncode == 0, exported.stderr
    refit = yaml.safe_load(out.read_text())["result"]
    assert refit["test"] == pytest.approx(with_checkpoint["result"]["test"], rel=1e-6)


def test_train_prints_the_best_epoch_counted_from_one_and_names_the_stored_value(
    tmp_path: Path,
) -> None:
    search = {"backend": "tpe", "trials": 2, "max_epochs": 4, "patience": 3}
    best, exported = launch_and_export(tmp_path, search)
    text = run_cli("train", str(best))
    assert text.returncode == 0, text.stderr
    first = text.stdout.splitlines()[0]
    stored = exported["result"]["best_epoch"]  # 0-based, as in --json and trials.csv
    found = re.search(r"at epoch (\d+) of (\d+) \(best_epoch: (\d+), counted from 0\)", first)
    assert found, first
    assert int(found[1]) == stored + 1 and int(found[3]) == stored
    assert int(found[2]) == exported["result"]["epochs"]
    assert text.stdout.splitlines()[-1].startswith("reproduced:"), text.stdout
