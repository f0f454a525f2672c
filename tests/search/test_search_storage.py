"""The study folder's storage and launch bookkeeping: WAL SQLite, the epoch reports
that feed the pruner, and what a launch killed half-way leaves behind."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import optuna
import pytest

from seqtune.search.backends.optuna_backend import EpochReports, open_storage
from seqtune.study.lifecycle import interrupted_launch


def test_the_sqlite_storage_is_opened_in_wal_mode(tmp_path: Path) -> None:
    db = tmp_path / "optuna.db"
    storage = open_storage(f"sqlite:///{db}", create_tables=True)  # as launch opens it
    study = optuna.create_study(study_name="s", storage=storage)
    study.add_trial(optuna.trial.create_trial(value=1.0, params={}, distributions={}))
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # a second process reading the same study sees the committed trial
    again = optuna.load_study(study_name="s", storage=open_storage(f"sqlite:///{db}"))
    assert [t.value for t in again.trials] == [1.0]


def reports_of(study: optuna.Study, trial: optuna.trial.Trial) -> EpochReports:
    storage = study._storage  # a test may look inside
    trial_id = storage.get_trial_id_from_study_id_trial_number(study._study_id, trial.number)
    return EpochReports(trial, trial_id)


@pytest.mark.parametrize(
    ("pruner", "asks"),
    [(optuna.pruners.NopPruner(), False), (optuna.pruners.MedianPruner(), True)],
)
def test_the_pruner_is_fed_every_epoch_and_asked_unless_it_is_none(
    pruner: optuna.pruners.BasePruner, asks: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    study = optuna.create_study(pruner=pruner)
    trial = study.ask()
    asked: list[int] = []
    reports = reports_of(study, trial)
    monkeypatch.setattr(reports, "should_prune", lambda: asked.append(1) or False)
    for epoch in range(3):
        assert reports.report(epoch, 3.0 - epoch) is False
    reports.close()  # waits for the reports being written
    frozen = study._storage.get_trial(reports.trial_id)
    assert frozen.intermediate_values == {0: 3.0, 1: 2.0, 2: 1.0}
    assert len(asked) == (3 if asks else 0)


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
@pytest.mark.parametrize(
    "pruner",
    [
        optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=5),
        optuna.pruners.PercentilePruner(25.0, n_startup_trials=5, n_warmup_steps=5),
        optuna.pruners.PercentilePruner(60.0, n_startup_trials=2, interval_steps=3),
    ],
)
def test_the_local_decision_is_exactly_optunas(
    pruner: optuna.pruners.BasePruner, direction: str
) -> None:
    rng = np.random.default_rng(3)
    study = optuna.create_study(direction=direction, pruner=pruner)
    decisions = []
    for k in range(12):  # complete trials with curves of 20 epochs (some shorter)
        curve = np.cumsum(rng.normal(0, 1, 20 - (k % 4) * 3)) + rng.normal(0, 2)
        study.add_trial(
            optuna.trial.create_trial(
                value=float(curve.min()),
                intermediate_values={i: float(v) for i, v in enumerate(curve)},
                params={},
                distributions={},
            )
        )
        trial = study.ask()
        reports = reports_of(study, trial)
        for epoch, value in enumerate(np.cumsum(rng.normal(0, 1, 20)) + rng.normal(0, 4)):
            mine = reports.report(epoch, float(value))
            reports.close()  # the report is in the storage, where Optuna reads it
            decisions.append((mine, trial.should_prune()))
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
    assert [mine for mine, _ in decisions] == [theirs for _, theirs in decisions]
    assert {mine for mine, _ in decisions} == {True, False}  # both answers were exercised


def test_a_report_the_storage_refuses_is_raised_after_the_writer_stops() -> None:
    study = optuna.create_study()
    trial = study.ask()
    reports = EpochReports(trial, 0)
    study.tell(trial, 1.0)  # finished: Optuna refuses further reports
    reports.report(0, 2.0)
    reports.close()
    with pytest.raises(RuntimeError):
        reports.raise_if_failed()


def test_what_an_interrupted_launch_left_is_recognised(tmp_path: Path) -> None:
    folder = tmp_path / "study"
    assert interrupted_launch(folder) == []  # no folder
    folder.mkdir()
    assert interrupted_launch(folder) == []  # empty: nothing to clear
    (folder / ".spec.yaml.abc.tmp").write_text("half")
    assert [p.name for p in interrupted_launch(folder)] == [".spec.yaml.abc.tmp"]
    for name in ("spec.yaml", "optuna.db", "optuna.db-wal", "optuna.db-shm"):
        (folder / name).write_text("")
    (folder / "keras_tuner").mkdir()
    assert len(interrupted_launch(folder)) == 6
    (folder / "study.json").write_text("{}")
    assert interrupted_launch(folder) == []  # a study: never cleared
    (folder / "study.json").unlink()
    (folder / "notes.txt").write_text("the user's")
    assert interrupted_launch(folder) == []  # something seqtune did not write: never cleared
