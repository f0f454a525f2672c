"""optuna-dashboard on a seqtune study: it lists the study with our parameter names, the
objective's name, every trial's per-epoch reports and seqtune's trial attributes (read
through the dashboard's own HTTP API, served in-process through its WSGI app)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults

import keras
import pytest
from test_backends_shared import FormulaRunner, make_spec

from seqtune.search.runner import Outcome
from seqtune.study.lifecycle import Study

dashboard = pytest.importorskip("optuna_dashboard")


class ReportingRunner(FormulaRunner):
    """The formula runner, also reporting three epochs to the backend (stored as the
    trial's intermediate values)."""

    def run(self, values: dict[str, Any], seed: int, **kwargs: Any) -> Outcome:
        outcome = super().run(values, seed, **kwargs)
        report = kwargs.get("report")
        if report is not None:
            for epoch in range(3):
                report(epoch, float(outcome.value) + 2 - epoch)
        return outcome


def get(app: Any, path: str) -> Any:
    environ: dict[str, Any] = {}
    setup_testing_defaults(environ)
    environ["PATH_INFO"], _, environ["QUERY_STRING"] = path.partition("?")
    status: list[str] = []
    body = b"".join(app(environ, lambda s, h, exc_info=None: status.append(s)))
    assert status[0].startswith("200"), (status, body[:200])
    return json.loads(body)


def test_the_dashboard_lists_our_study_with_its_trials(tmp_path: Path) -> None:
    import optuna

    spec = make_spec(tmp_path, "tpe", trials=4)
    study, _ = Study.launch(spec, tmp_path / "results")
    study.run(ReportingRunner("minimize"))  # type: ignore[arg-type]
    study.close()
    keras.backend.clear_session()

    # what docs/report.md's `optuna-dashboard sqlite:///results/<study>/optuna.db` opens
    storage = optuna.storages.RDBStorage(f"sqlite:///{study.path / 'optuna.db'}")
    app = dashboard.wsgi(storage)
    summaries = get(app, "/api/studies")["study_summaries"]
    assert [s["study_name"] for s in summaries] == ["tiny"]
    detail = get(app, f"/api/studies/{summaries[0]['study_id']}?after=0")
    assert detail["objective_names"] == ["val_rmse"]
    trials = detail["trials"]
    assert len(trials) == 4 and {t["state"] for t in trials} == {"Complete"}
    names = {p["name"] for t in trials for p in t["params"]}
    assert {"look_back", "dropout", "learning_rate", "batch_size"} <= names
    assert all(len(t["intermediate_values"]) == 3 for t in trials)
    attrs = {a["key"] for a in trials[0]["user_attrs"]}
    assert {"params", "seed", "epochs", "best_epoch"} <= attrs
    storage.engine.dispose()
