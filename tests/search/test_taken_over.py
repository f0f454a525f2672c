"""A trial taken over by another process (issue 29): a resume beside a live worker took it
for a dead process's, or a server's heartbeat check failed it as stale while its worker was
paused. The process that trained it drops its result in one line and goes on; the study's
other trials are untouched. Also: an edited objective on Hyperband, and ``train -o`` onto a
read-only file system refused before the refit."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import optuna
import pytest
import yaml
from conftest import cli_here, tiny_spec
from test_backends_shared import FormulaRunner, make_spec

from seqtune.search.backends.base import TrialResult
from seqtune.study.lifecycle import Study


def test_a_trial_finished_by_another_process_is_dropped_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = make_spec(tmp_path, "tpe", trials=3)
    study, _ = Study.launch(spec, tmp_path / "results")
    try:
        backend: Any = study.backend
        plan = backend.ask(3)
        assert plan is not None
        for epoch in range(3):
            backend.report(plan.number, epoch, 1.0 + epoch)
        # another process (a resume, a stale-trial check) fails it meanwhile
        storage = backend.study._storage
        storage.set_trial_state_values(backend.trial_id(plan.number), optuna.trial.TrialState.FAIL)
        record = backend.tell(
            plan.number, TrialResult("complete", value=0.5, epochs=3, best_epoch=0, seconds=1.0)
        )
        assert record.state != "complete"  # the other process's verdict stands
        err = capsys.readouterr().err
        assert f"trial {plan.number} was finished by another process" in err
        assert err.count("\n") == 1 and "Traceback" not in err
        study.run(FormulaRunner("minimize"))  # type: ignore[arg-type]  # the loop goes on
        assert study.backend.finished() >= 3
    finally:
        study.close()


@pytest.mark.slow
def test_an_objective_edited_after_a_hyperband_launch_is_refused(tmp_path: Path) -> None:
    raw = tiny_spec(search={"backend": "hyperband", "trials": 2, "max_epochs": 2})
    raw["search"].pop("patience", None)
    path = tmp_path / "hb.yaml"
    path.write_text(yaml.safe_dump(raw))
    done = cli_here("launch", str(path), "--results", str(tmp_path / "r"))
    assert done.returncode == 0, done.stderr
    study = tmp_path / "r" / "tiny"
    spec = yaml.safe_load((study / "spec.yaml").read_text())
    spec["objective"] = "val_mae"
    (study / "spec.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    meta = json.loads((study / "study.json").read_text())
    (study / "study.json").write_text(json.dumps({**meta, "source": None}))
    for verb in (("status",), ("resume", "--trials", "3")):
        done = cli_here(*verb, str(study))
        assert done.returncode == 2
        assert "launched with objective val_rmse (minimize)" in done.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a read-only file system needs root")
def test_train_o_on_a_read_only_file_system_is_refused_before_the_refit(tmp_path: Path) -> None:
    target = tmp_path / "ro"
    target.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,ro", "tmpfs", str(target)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip("mount is not permitted here")
    try:
        raw = tiny_spec()
        raw["space"] = {"look_back": 2, "units": 4, "learning_rate": 0.01, "batch_size": 16}
        path = tmp_path / "fixed.yaml"
        path.write_text(yaml.safe_dump(raw))
        done = cli_here("train", str(path), "-o", str(target / "model.keras"))
        assert done.returncode == 2
        assert "read-only" in done.stderr and "Traceback" not in done.stderr
        assert "val" not in done.stdout  # refused before anything trained
    finally:
        subprocess.run(["umount", str(target)], check=False)
        shutil.rmtree(target, ignore_errors=True)
