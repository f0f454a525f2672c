"""A study's trials and its exported forecaster logged to MLflow (``pip install
'seqtune[mlflow]'``).

:func:`log_study` logs a study as one parent run (its backend, objective, best value and
trial counts) with one nested run per finished trial (its parameters, its objective value as
``value``, its validation metrics with each fold's, ``epochs``, ``best_epoch``, ``seconds``,
and its state and seed as tags). Runs are tagged with the study's name, its launch time
(``created`` in study.json) and the trial number; logging the study again, after a resume
say, adds only the trials not logged yet.

:func:`log_forecaster` logs an export as an MLflow model: a pyfunc whose ``predict`` takes
recent rows (a DataFrame with the study data's columns) and returns the forecast DataFrame
of ``seqtune.load(export).predict(rows)``; the export's files travel in the model's
artifacts, so the model predicts after the export and the study folder are gone, and
``mlflow models serve -m URI --env-manager local`` serves it.

Importing this module does not import MLflow; calling either function without it installed
raises :class:`~seqtune.errors.UserError` saying what to install.

Examples
--------
>>> from seqtune.integrations.mlflow import log_study, log_forecaster
>>> log_study("results/airline", tracking_uri="sqlite:///mlflow.db")  # doctest: +SKIP
'5f0c…'
>>> uri = log_forecaster("results/airline/best.yaml", tracking_uri="sqlite:///mlflow.db")
... # doctest: +SKIP
>>> import mlflow  # doctest: +SKIP
>>> mlflow.pyfunc.load_model(uri).predict(recent_rows)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from seqtune.errors import UserError

if TYPE_CHECKING:
    from seqtune.api import Forecaster, Study

__all__ = ["check_tracking_uri", "log_forecaster", "log_study"]

INSTALL = "MLflow is not installed: pip install 'seqtune[mlflow]'"
TAG = "seqtune."  # every tag seqtune sets starts with this
PARENT = "mlflow.parentRunId"
#: seqtune trial state -> MLflow run status (pruning is an ordinary outcome of a search)
STATUS = {"complete": "FINISHED", "pruned": "FINISHED", "failed": "FAILED"}
FINAL = ("FINISHED", "FAILED", "KILLED")
PROGRESS_BAR = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"


def require_mlflow() -> None:
    """UserError (one line: what to install) when MLflow cannot be imported."""
    try:
        import mlflow  # noqa: F401
    except ImportError:
        raise UserError(INSTALL) from None


def check_tracking_uri(tracking_uri: str | None) -> None:
    """UserError (one line) when MLflow is missing or refuses the store ``tracking_uri``
    (a SQLite store is made here when missing).

    Examples
    --------
    >>> check_tracking_uri("sqlite:///mlflow.db")  # doctest: +SKIP
    """
    require_mlflow()
    with _quiet():
        _client(tracking_uri)


def log_study(
    study_or_path: Study | str | Path,
    *,
    tracking_uri: str | None = None,
    experiment: str | None = None,
) -> str:
    """Log a study's trials to MLflow: a parent run, one nested run per finished trial.

    Trials already logged (same study name, launch time and trial number under the parent
    run) are skipped, so this can run again after ``resume``; running trials are left for
    the next call. The parent run's metrics (``best_value``, ``finished`` and the count of
    each state) are updated when they changed, and the study's spec.yaml is its artifact.

    Parameters
    ----------
    study_or_path
        A study folder, or a :class:`seqtune.api.Study` (``seqtune.load_study``).
    tracking_uri
        Where to log (``sqlite:///mlflow.db``, ``http://host:5000``, …); default: MLflow's
        own (``MLFLOW_TRACKING_URI``, else its default store).
    experiment
        The MLflow experiment (made when missing); default: the study's name.

    Returns
    -------
    str
        The parent run's id.

    Examples
    --------
    >>> run_id = log_study("results/airline", tracking_uri="sqlite:///mlflow.db")
    ... # doctest: +SKIP
    >>> import mlflow  # doctest: +SKIP
    >>> mlflow.search_runs(experiment_names=["airline"])  # doctest: +SKIP
    """
    require_mlflow()
    from seqtune.api import Study, load_study

    study = study_or_path if isinstance(study_or_path, Study) else load_study(study_or_path)
    status = study.status()
    name = str(status["study"])
    created = _created(study.path)
    with _quiet():
        client = _client(tracking_uri)
        experiment_id = _experiment(client, experiment or name)
        parent = _parent_run(client, experiment_id, name, created, status)
        logged = _logged_trials(client, experiment_id, parent)
        for record in status["trial_records"]:
            if record["state"] != "running" and record["number"] not in logged:
                _log_trial(client, experiment_id, parent, name, created, record)
        _update_parent(client, parent, status, study.path)
    return parent


def log_forecaster(
    export_path: str | Path,
    *,
    tracking_uri: str | None = None,
    experiment: str | None = None,
    name: str = "forecaster",
) -> str:
    """Log an export as an MLflow pyfunc model that forecasts from recent rows.

    The model's ``predict(model_input, params=None)`` takes a DataFrame with the study
    data's columns (at least the model's look_back rows, a season more for seasonal
    transforms) and returns ``seqtune.load(export_path).predict(model_input)``;
    ``params={"level": [80, 95]}`` asks for prediction intervals where this seqtune gives
    them. The export's files are the model's artifacts. The model is logged in a run tagged
    ``seqtune.role = forecaster`` with the export's parameters and test metrics, nested in
    the study's run when :func:`log_study` logged the study in the same experiment. Logging
    the same export again returns the model logged the first time.

    Parameters
    ----------
    export_path
        A best.yaml written by ``seqtune export`` (or its study folder).
    tracking_uri
        As in :func:`log_study`.
    experiment
        The MLflow experiment; default: the study's name.
    name
        The model's name in its run.

    Returns
    -------
    str
        The model's URI (``runs:/<run id>/<name>``), for ``mlflow.pyfunc.load_model`` and
        ``mlflow models serve -m``.

    Examples
    --------
    >>> uri = log_forecaster("results/airline", tracking_uri="sqlite:///mlflow.db")
    ... # doctest: +SKIP
    >>> import mlflow  # doctest: +SKIP
    >>> mlflow.pyfunc.load_model(uri).predict(recent_rows)  # doctest: +SKIP
    """
    require_mlflow()
    from seqtune.api import load
    from seqtune.store.digest import file_digest

    best_yaml = Path(export_path)
    if best_yaml.is_dir():
        best_yaml = best_yaml / "best.yaml"
    forecaster = load(best_yaml)  # checked: the model and files beside it are the export's
    study = str(forecaster.spec.study)
    created = _created(best_yaml.parent)
    digest = file_digest(best_yaml)
    example, output = _example(forecaster)  # predicts once: the export works before it is logged
    with _quiet():
        client = _client(tracking_uri)
        experiment_id = _experiment(client, experiment or study)
        for run in _search(client, experiment_id, _where(_tags(role="forecaster", export=digest))):
            uri = run.data.tags.get(TAG + "model_uri")
            if run.info.status == "FINISHED" and uri:
                return str(uri)
        tags = _tags(study=study, created=created, role="forecaster", export=digest)
        parents = _search(
            client, experiment_id, _where(_tags(study=study, created=created, role="study"))
        )
        if parents:
            tags[PARENT] = parents[0].info.run_id
        run = client.create_run(experiment_id, tags=tags, run_name=f"{study} {name}")
        run_id = run.info.run_id
        try:
            _log_export_run(client, run_id, forecaster)
            uri = _log_model(client, run_id, best_yaml, name, example, output)
        except BaseException:
            client.set_terminated(run_id, "FAILED")
            raise
        client.set_tag(run_id, TAG + "model_uri", uri)
        client.set_terminated(run_id, "FINISHED")
    return uri


def _export_files(best_yaml: Path) -> list[Path]:
    """Every file the export ``best_yaml`` needs to predict: its own files
    (:func:`seqtune.exported.bundle.export_files`), and for an export written before
    seqtune 0.4.0, which has no ``best.state.json``, the study's data CSV (its scalers are
    refitted on that file's training rows)."""
    from seqtune.exported.bundle import export_files
    from seqtune.exported.state import state_file
    from seqtune.spec import Spec

    found = export_files(best_yaml)
    if state_file(best_yaml) not in found:
        found.append(Spec.from_file(best_yaml).data.csv)
    return list(dict.fromkeys(path.resolve() for path in found))


def _stage_export(best_yaml: Path, into: Path) -> Path:
    """Copy the export's files into the folder ``into``: best.yaml's own folder's files
    beside it, any other (the data CSV) under ``data/``, with best.yaml's ``data.csv``
    rewritten to that copy (and a user objective's ``path`` to its own folder: predicting
    imports no objective, but the spec's check wants the folder to exist)."""
    best_yaml = best_yaml.resolve()
    into.mkdir(parents=True)
    moved: dict[Path, str] = {}
    for path in _export_files(best_yaml):
        if path == best_yaml:
            continue
        if path.parent == best_yaml.parent:
            relative = path.name
        else:
            relative = f"data/{path.name}"
            (into / "data").mkdir(exist_ok=True)
        if (into / relative).exists():
            raise UserError(f"two files of the export are named {relative}", str(best_yaml))
        shutil.copy2(path, into / relative)
        moved[path] = relative
    raw = yaml.safe_load(best_yaml.read_text(encoding="utf-8"))
    data = raw.get("data")
    if isinstance(data, dict) and isinstance(data.get("csv"), str):
        csv = (best_yaml.parent / data["csv"]).resolve()
        if csv in moved:
            data["csv"] = moved[csv]
    objective = raw.get("objective")
    if isinstance(objective, dict) and "path" in objective:
        objective["path"] = "."
    (into / "best.yaml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return into / "best.yaml"


def _example(forecaster: Forecaster) -> tuple[Any, Any]:
    """The study data's last rows the model needs and the forecast made from them; (None,
    None) for an export that travels without its study's data."""
    import pandas as pd

    from seqtune.data.transforms import lost_rows
    from seqtune.spec import fixed_values

    values = fixed_values(forecaster.spec)
    need = int(values.get("look_back", 1))
    need += lost_rows(str(values.get("transform", "none")), forecaster.spec.data.period)
    if not Path(forecaster.spec.data.csv).is_file():
        return None, None
    frame = pd.read_csv(forecaster.spec.data.csv)
    recent = frame.tail(max(need, 1)).reset_index(drop=True)
    return recent, forecaster.predict(recent)


def _log_model(client: Any, run_id: str, best_yaml: Path, name: str, example: Any, out: Any) -> str:
    import mlflow
    from mlflow.models import ModelSignature, infer_signature
    from mlflow.types.schema import ParamSchema, ParamSpec

    from seqtune import __version__
    from seqtune.integrations.mlflow_pyfunc import EXPORT_ARTIFACT

    # no input schema: MLflow would refuse an integer column where the example had floats
    # (or the reverse); seqtune's own checks name a missing column, too few rows or
    # another frequency in one line
    signature = ModelSignature(
        inputs=None,
        outputs=None if out is None else infer_signature(example, out).outputs,
        params=ParamSchema([ParamSpec("level", "double", [], (-1,))]),
    )
    code = Path(__file__).with_name("_mlflow_model.py")
    # saved, then logged to the run by the client: MLflow's fluent run (start_run) would
    # clash with a run or experiment a notebook has open, and its tracking URI is global
    with tempfile.TemporaryDirectory(prefix="seqtune-mlflow-") as tmp:
        staged = _stage_export(best_yaml, Path(tmp) / EXPORT_ARTIFACT)
        mlflow.pyfunc.save_model(
            Path(tmp) / name,
            python_model=str(code),
            artifacts={EXPORT_ARTIFACT: str(staged.parent)},
            signature=signature,
            input_example=example,
            # an export predicts with its own seqtune version or a later one
            pip_requirements=[f"seqtune>={__version__}", f"mlflow-skinny=={mlflow.__version__}"],
        )
        client.log_artifacts(run_id, str(Path(tmp) / name), artifact_path=name)
    return f"runs:/{run_id}/{name}"


def _log_export_run(client: Any, run_id: str, forecaster: Forecaster) -> None:
    from mlflow.entities import Metric, Param

    from seqtune.spec import fixed_values

    result = forecaster.spec.result or {}
    now = int(time.time() * 1000)
    metrics = {f"test_{k}": v for k, v in (result.get("test") or {}).items()}
    metrics.update({k: v for k, v in (result.get("val") or {}).items()})
    value = (result.get("objective") or {}).get("value")
    if value is not None:
        metrics["value"] = value
    params = dict(fixed_values(forecaster.spec))
    params.update(trial=result.get("trial"), horizon=forecaster.horizon)
    # which network (a searched kind's choice is in model.kind, not in the space) and what
    # the exported forecast combines, as best.yaml says them
    params["kind"] = forecaster.spec.kind
    combination = result.get("combination")
    if isinstance(combination, dict) and combination.get("text"):
        params["forecast"] = combination["text"]
    client.log_batch(
        run_id,
        metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items() if _number(v)],
        params=[Param(k, _text(v)) for k, v in params.items()],
    )


def _log_trial(
    client: Any, experiment_id: str, parent: str, study: str, created: str, record: dict[str, Any]
) -> None:
    """One nested run for a trial record (see seqtune.search.records.TrialRecord)."""
    from mlflow.entities import Metric, Param, RunTag

    number, state = int(record["number"]), str(record["state"])
    tags = _tags(study=study, created=created, role="trial", trial=number, state=state)
    tags[PARENT] = parent
    for key in ("seed", "reason", "retry_of"):
        if record.get(key) is not None:
            tags[TAG + key] = _text(record[key])[:5000]
    run = client.create_run(experiment_id, tags=tags, run_name=f"{study} trial {number}")
    now = int(time.time() * 1000)
    metrics = dict(record.get("metrics") or {})
    for key in ("value", "epochs", "best_epoch", "seconds"):
        metrics[key] = record.get(key)
    client.log_batch(
        run.info.run_id,
        metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items() if _number(v)],
        params=[Param(k, _text(v)) for k, v in (record.get("params") or {}).items()],
        tags=[RunTag(TAG + "logged", "1")],
    )
    client.set_terminated(run.info.run_id, STATUS.get(state, "KILLED"))


def _parent_run(
    client: Any, experiment_id: str, study: str, created: str, status: dict[str, Any]
) -> str:
    """The study's run in the experiment, made (with its fixed params) when missing."""
    from mlflow.entities import Param

    found = _search(
        client, experiment_id, _where(_tags(study=study, created=created, role="study"))
    )
    if found:
        return str(found[0].info.run_id)
    objective = status.get("objective") or {}
    tags = _tags(study=study, created=created, role="study")
    run = client.create_run(experiment_id, tags=tags, run_name=study)
    params = {
        "backend": status.get("backend"),
        "objective": objective.get("name"),
        "direction": objective.get("direction"),
    }
    client.log_batch(
        run.info.run_id,
        params=[Param(k, _text(v)) for k, v in params.items() if v is not None],
    )
    return str(run.info.run_id)


def _update_parent(client: Any, run_id: str, status: dict[str, Any], path: Path) -> None:
    """The study run's counts and best value (a new point only when one changed), its
    spec.yaml, its folder; FINISHED."""
    from mlflow.entities import Metric, RunTag

    from seqtune.store.files import SPEC_FILE

    best = status.get("best") or {}
    wanted = {
        "best_value": best.get("value"),
        "best_trial": best.get("number"),
        "finished": status.get("finished"),
        "budget": status.get("budget"),
        **{f"trials_{k}": v for k, v in (status.get("trials") or {}).items()},
    }
    have = client.get_run(run_id).data.metrics
    now, step = int(time.time() * 1000), int(status.get("finished") or 0)
    metrics = [
        Metric(k, float(v), now, step)
        for k, v in wanted.items()
        if _number(v) and have.get(k) != float(v)
    ]
    client.log_batch(run_id, metrics=metrics, tags=[RunTag(TAG + "path", str(path.resolve()))])
    spec = path / SPEC_FILE
    if spec.is_file():
        client.log_artifact(run_id, str(spec))
    client.set_terminated(run_id, "FINISHED")


def _logged_trials(client: Any, experiment_id: str, parent: str) -> set[int]:
    """Trial numbers logged under ``parent``; a run left half-logged (a crash between its
    creation and its end) is deleted, to be logged again."""
    numbers: set[int] = set()
    for run in _search(client, experiment_id, f"tags.`{PARENT}` = '{parent}'"):
        tags = run.data.tags
        if tags.get(TAG + "role") != "trial":
            continue
        if run.info.status not in FINAL or TAG + "logged" not in tags:
            client.delete_run(run.info.run_id)
            continue
        numbers.add(int(tags[TAG + "trial"]))
    return numbers


def _search(client: Any, experiment_id: str, where: str) -> list[Any]:
    """Every run of the experiment matching ``where`` (all pages), oldest first."""
    runs: list[Any] = []
    token = None
    while True:
        page = client.search_runs(
            [experiment_id],
            filter_string=where,
            max_results=1000,
            order_by=["attributes.start_time ASC"],
            page_token=token,
        )
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def _tags(**values: Any) -> dict[str, str]:
    """``{"seqtune.<key>": str(value)}``: the tags seqtune sets on its runs."""
    return {TAG + k: str(v) for k, v in values.items()}


def _where(tags: dict[str, str]) -> str:
    """An MLflow filter string: runs with every one of ``tags``."""
    return " AND ".join(f"tags.`{k}` = '{_quote(v)}'" for k, v in tags.items())


def _quote(value: str) -> str:
    if "'" in value:  # names are letters, digits, . _ - and times are ISO: never seen
        raise UserError(f"cannot look up a tag value with a quote: {value!r}")
    return value


def _created(folder: Path) -> str:
    """The study's launch time from study.json in ``folder`` ('' when there is none)."""
    from seqtune.store.files import META_FILE

    try:
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    return str(meta.get("created") or "") if isinstance(meta, dict) else ""


def _client(tracking_uri: str | None) -> Any:
    """An MlflowClient on ``tracking_uri``; a store MLflow refuses: one line."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    try:
        client = MlflowClient(tracking_uri=tracking_uri)
        client.search_experiments(max_results=1)  # opens the store now
    except MlflowException as exc:
        text = str(exc.message)
        if "MLFLOW_ALLOW_FILE_STORE" in text:
            text = (
                "MLflow refuses a file store: use a database (sqlite:///mlflow.db) or set "
                "MLFLOW_ALLOW_FILE_STORE=true"
            )
        else:
            first = (text.strip().splitlines() or [""])[0].split(". ")[0]
            text = "MLflow refused it: " + first[:300]
        raise UserError(text, tracking_uri or "tracking URI") from None
    return client


def _experiment(client: Any, name: str) -> str:
    found = client.get_experiment_by_name(name)
    if found is not None:
        if found.lifecycle_stage == "deleted":
            raise UserError(
                "is a deleted MLflow experiment: restore it, or choose another name", name
            )
        return str(found.experiment_id)
    return str(client.create_experiment(name))


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """MLflow's and Alembic's INFO lines and MLflow's advice warnings kept out of a user's
    output (errors still raise)."""
    loggers = [logging.getLogger(name) for name in ("mlflow", "alembic")]
    levels = [logger.level for logger in loggers]
    bar = os.environ.get(PROGRESS_BAR)
    os.environ[PROGRESS_BAR] = "false"  # "Downloading artifacts" when the model is checked
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
        if bar is None:
            os.environ.pop(PROGRESS_BAR, None)
        else:
            os.environ[PROGRESS_BAR] = bar


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)
