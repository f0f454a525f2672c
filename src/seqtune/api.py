"""seqtune from Python: the same studies, exports and forecasts as the ``seqtune`` command.

A spec is a YAML file or a plain dict with the same keys; a study runs to its budget and
gives its trials as a pandas DataFrame (as Optuna's ``trials_dataframe``); an export is
loaded as a :class:`Forecaster` whose ``predict`` takes recent rows and returns a
DataFrame (as Darts' and neuralforecast's ``predict``). Every function goes through the
same code the CLI runs (spec checks, ``Study.launch``/``resume``, the trial loop, export,
predict's checks), so a study made here is a study the CLI can resume, report and export.
TensorFlow's and Optuna's log lines stay out of a notebook's output; a user's own warning
format is left alone. Bad input raises :class:`~seqtune.errors.UserError` with the same
one-line message the CLI prints.

Examples
--------
>>> import seqtune
>>> spec = seqtune.load_spec({  # doctest: +SKIP
...     "study": "airline", "data": {"csv": "data/airline.csv", "target": "Passengers"},
...     "model": {"kind": "mlp", "layout": "window"},
...     "space": {"look_back": {"int": [12, 24]}, "learning_rate": 0.003},
...     "objective": "val_rmse", "search": {"trials": 10, "max_epochs": 50}})
>>> study = seqtune.launch(spec, results="results")  # doctest: +SKIP
>>> study.trials_dataframe().sort_values("value").head()  # doctest: +SKIP
>>> forecaster = seqtune.load(study.export())  # doctest: +SKIP
>>> forecaster.predict()  # the horizon after the study data's last row  # doctest: +SKIP
"""

from __future__ import annotations

import io
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from seqtune.errors import UserError
from seqtune.quiet import load_tensorflow, quiet_libraries
from seqtune.spec import Overrides, Spec

__all__ = ["Forecaster", "Study", "check", "launch", "load", "load_spec", "load_study", "resume"]


def load_spec(source: str | Path | Mapping[str, Any], base_dir: str | Path | None = None) -> Spec:
    """A validated spec from a YAML file or a dict with the same keys.

    Parameters
    ----------
    source
        A spec file's path, or a mapping (``study``, ``data``, ``model``, ``space``, …).
    base_dir
        For a mapping: the folder a relative ``data.csv`` is relative to (default: the
        current folder). A file's paths are relative to the file, as on the CLI.

    Returns
    -------
    Spec
        The parsed spec; its data is not read yet (see :func:`check`).

    Examples
    --------
    >>> spec = load_spec({"study": "s", "data": {"csv": "a.csv", "target": "y"},
    ...                   "model": {"kind": "mlp", "layout": "window"},
    ...                   "space": {"look_back": 3}, "objective": "val_rmse"})
    >>> spec.study, spec.kind, spec.objective.name
    ('s', 'mlp', 'val_rmse')
    """
    if isinstance(source, Spec):
        return source
    if isinstance(source, Mapping):
        base = Path(base_dir) if base_dir is not None else Path.cwd()
        return Spec.from_dict(dict(source), base.resolve())
    return Spec.from_file(Path(source))


def check(spec: str | Path | Mapping[str, Any] | Spec) -> dict[str, Any]:
    """Every check ``launch`` makes, against the data, as ``seqtune check --json`` reports
    them: the rows and windows of every part and fold, and ``problems`` (empty when the
    spec would launch). Loads no TensorFlow."""
    from seqtune.checks import check_spec

    return check_spec(load_spec(spec))


def launch(
    spec: str | Path | Mapping[str, Any] | Spec,
    *,
    results: str | Path = "results",
    study: str | None = None,
    backend: str | None = None,
    trials: int | None = None,
    max_epochs: int | None = None,
    storage: str | None = None,
    workers: int = 1,
    progress: bool = False,
) -> Study:
    """Create a study and run it to its budget; the CLI's ``seqtune launch`` (the same
    code: :mod:`seqtune.study.running`).

    Parameters
    ----------
    spec
        A spec (path, mapping or :class:`~seqtune.spec.Spec`).
    results
        The results root; the study's folder is ``results/<study>``.
    study, backend, trials, max_epochs
        Override the spec's study name, ``search.backend``, ``search.trials`` and
        ``search.max_epochs`` (as the CLI's flags do; recorded for ``resume``).
    storage
        An Optuna storage URL (default: SQLite in the study folder; with ``workers``,
        Optuna's journal file there).
    workers
        Processes running trials at once, this one included (tpe and random backends).
    progress
        Print the trial table's progress lines and the study's messages on stderr.

    Returns
    -------
    Study
        The finished (or budget-reached) study, open for reading.

    Raises
    ------
    UserError
        Bad input, in the CLI's one line (nothing is written).
    RuntimeError
        A worker process failed (what finished is kept; :func:`resume` continues).

    Examples
    --------
    >>> study = seqtune.launch("examples/airline.yaml", trials=10, workers=2)  # doctest: +SKIP
    """
    from seqtune.checks import refuse_data_problems
    from seqtune.spec import validate_with_data
    from seqtune.store.server import normalize_storage
    from seqtune.study import running

    overrides = Overrides(backend, trials, max_epochs, study)
    parsed = overrides.apply(load_spec(spec))
    refuse_data_problems(parsed, validate_with_data(parsed))
    storage = normalize_storage(storage, "storage") if storage else None
    workers = _workers(workers)
    chosen = running.check_launch(parsed, Path(results), storage, workers)
    _ready()
    code, path = running.launch(
        parsed,
        overrides,
        Path(results),
        chosen,
        workers=workers,
        worker_storage=storage,
        say=_say(progress),
        out=sys.stderr if progress else io.StringIO(),
    )
    _finished(code)
    return load_study(path, storage=storage)


def resume(
    path: str | Path,
    *,
    trials: int | None = None,
    storage: str | None = None,
    workers: int = 1,
    progress: bool = False,
) -> Study:
    """Continue a stopped study to its budget (``trials`` raises it); ``seqtune resume``,
    with ``workers`` processes in all. Refuses, naming what changed, a study whose spec or
    data changed since its launch.

    Examples
    --------
    >>> study = seqtune.resume("results/airline", trials=40)  # doctest: +SKIP
    """
    from seqtune.store.server import normalize_storage
    from seqtune.study import running

    storage = normalize_storage(storage, "storage") if storage else None
    workers = _workers(workers)
    _ready()
    code = running.resume(
        Path(path),
        storage,
        trials,
        workers=workers,
        say=_say(progress),
        out=sys.stderr if progress else io.StringIO(),
    )
    _finished(code)
    return load_study(path, storage=storage)


def _workers(workers: int) -> int:
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise UserError(f"expected a whole number of processes >= 1, got {workers!r}", "workers")
    return workers


def _say(progress: bool) -> Callable[[str], None]:
    if not progress:
        return lambda _: None
    return lambda text: print(text, file=sys.stderr)


def _finished(code: int) -> None:
    """A run's exit code as Python sees it: a stop request is KeyboardInterrupt, a failed
    worker RuntimeError."""
    if code == 0:
        return
    if code >= 128:
        raise KeyboardInterrupt(f"stopped by signal {code - 128}; continue with seqtune.resume")
    raise RuntimeError("a worker process failed; what finished is kept (seqtune.resume)")


def load_study(path: str | Path, *, storage: str | None = None) -> Study:
    """A study folder, open for reading (a running study too): trials, best trial,
    status, export, report."""
    from seqtune.study.lifecycle import read_folder

    folder, _, _ = read_folder(Path(path), need_data=False)  # a wrong path: one line, now
    return Study(folder, storage)


class Study:
    """A study folder, read through the CLI's own code.

    Attributes
    ----------
    path : Path
        The study folder.
    """

    def __init__(self, path: Path, storage: str | None = None) -> None:
        self.path = Path(path)
        self._storage = storage

    def __repr__(self) -> str:
        return f"seqtune.Study({str(self.path)!r})"

    def _status(self) -> dict[str, Any]:
        _ready()
        from seqtune.study.lifecycle import Study as Lifecycle

        opened = Lifecycle.open(self.path, self._storage)
        try:
            return opened.status()
        finally:
            opened.close()

    def status(self) -> dict[str, Any]:
        """What ``seqtune status --json`` reports of the trials: budget, finished, counts
        by state, the best trial, every trial's record."""
        return self._status()

    @property
    def best_trial(self) -> dict[str, Any] | None:
        """The best complete trial (number, value, params, epochs, best_epoch), or None."""
        return self._status()["best"]

    def trials_dataframe(self) -> pd.DataFrame:
        """One row per trial: ``number``, ``state``, ``value``, ``epochs``, ``best_epoch``
        (0-based), ``seconds``, ``seed``, ``reason``, a ``params_<name>`` column per
        parameter and a ``metrics_<name>`` column per validation metric (Optuna's
        ``trials_dataframe`` naming).

        Examples
        --------
        >>> seqtune.load_study("results/airline").trials_dataframe()  # doctest: +SKIP
        """
        rows = []
        for record in self._status()["trial_records"]:
            row = {
                key: record.get(key)
                for key in ("number", "state", "value", "epochs", "best_epoch", "seconds")
            }
            row.update(seed=record.get("seed"), reason=record.get("reason"))
            row.update({f"params_{k}": v for k, v in (record.get("params") or {}).items()})
            row.update({f"metrics_{k}": v for k, v in (record.get("metrics") or {}).items()})
            rows.append(row)
        return pd.DataFrame(rows)

    def export(self, output: str | Path | None = None, *, force: bool = False) -> Path:
        """Write best.yaml, best.keras (and predictions.csv) for the best trial, as
        ``seqtune export`` does (the test part is read here, once); return best.yaml's
        path, which :func:`load` takes."""
        _ready()
        from seqtune.exported.export import check_exportable, export
        from seqtune.store.files import EXPORT_LOCK_FILE
        from seqtune.store.lock import StudyLock
        from seqtune.study.lifecycle import Study as Lifecycle

        opened = Lifecycle.open(self.path, self._storage)
        try:
            target = Path(output) if output is not None else None
            check_exportable(opened, target, force)
            with StudyLock.acquire(self.path, "seqtune export (Python)", name=EXPORT_LOCK_FILE):
                out_yaml, _, _ = export(opened, target, force)
        finally:
            opened.close()
        return out_yaml

    def report(self, output: str | Path | None = None, *, force: bool = False) -> Path:
        """Write the study's HTML report (default ``<study>/report.html``); its path."""
        _ready()
        from seqtune.report.commands import report

        return report(self.path, Path(output) if output else None, self._storage, force)


def load(export: str | Path) -> Forecaster:
    """An exported forecaster: a best.yaml written by ``seqtune export`` (or its study
    folder). Checked now: the files beside it are the export's. An export of seqtune 0.4.0
    on is self-contained (best.yaml, best.keras, best.state.json): it forecasts from recent
    rows alone, anywhere; an older one needs the study's data file where it was.

    Examples
    --------
    >>> forecaster = seqtune.load("results/airline")  # doctest: +SKIP
    >>> forecaster.predict(recent_rows, level=[80, 95])  # doctest: +SKIP
    """
    from seqtune.exported.predict import open_export

    return Forecaster(open_export(Path(export)))


class Forecaster:
    """An exported model with everything ``seqtune predict`` uses to forecast.

    Attributes
    ----------
    spec : Spec
        The exported spec (every parameter fixed; ``result`` holds its test metrics).
    horizon : int
        Steps forecast at once.
    look_back : int or None
        Rows the network reads; with the transform's lost rows, :attr:`rows_needed` is
        the fewest recent rows a forecast takes (None for an export before seqtune 0.4.0).
    self_contained : bool
        Whether it forecasts without the study's data file.
    """

    def __init__(self, exported: Any) -> None:
        self._exported = exported
        self.spec: Spec = exported.spec
        self.values: dict[str, Any] = exported.values
        self.model_path: Path = exported.model
        self.horizon = self.spec.data.horizon
        state = exported.state
        self.self_contained = state is not None
        self.look_back: int | None = state.look_back if state is not None else None

    def __repr__(self) -> str:
        return f"seqtune.Forecaster({self.spec.study!r}, horizon={self.horizon})"

    @property
    def rows_needed(self) -> int | None:
        """The fewest recent rows :meth:`predict` takes (None: not known before loading
        an export written before seqtune 0.4.0)."""
        from seqtune.exported.predict import rows_needed

        state = self._exported.state
        return rows_needed(state.windows()) if state is not None else None

    @property
    def test(self) -> dict[str, Any]:
        """The exported model's metrics on the test part (``result.test``): the same
        figures predictions.csv, the report and ``seqtune export`` give."""
        return dict((self.spec.result or {}).get("test") or {})

    @property
    def intervals(self) -> dict[str, Any]:
        """How the prediction intervals are made and what they covered on the test part
        (``result.intervals``; empty for an export before seqtune 0.4.0)."""
        return dict((self.spec.result or {}).get("intervals") or {})

    @property
    def combination(self) -> dict[str, Any]:
        """The combination the forecast is (``result.combination``: ``rule``, ``members``
        with their weights, ``text``, the folds' scores, the network alone's test score;
        or ``note`` saying why there is none); empty for an export that recorded none.

        Examples
        --------
        >>> seqtune.load("results/airline/best.yaml").combination["text"]  # doctest: +SKIP
        '0.35 × network + 0.19 × AutoETS ETS(M,A,M) + ...'
        """
        return dict((self.spec.result or {}).get("combination") or {})

    def predict(
        self,
        recent: pd.DataFrame | str | Path | None = None,
        level: Sequence[float] = (),
    ) -> pd.DataFrame:
        """Forecast the ``horizon`` steps after the last row of ``recent``: rows with the
        study data's columns (a DataFrame, or a CSV's path), at least :attr:`rows_needed`
        of them; None: after the study data's own last row. Returns ``time`` (or
        ``step``), ``h`` and ``prediction``, then ``lower_<a>`` and ``upper_<a>`` for each
        level ``a`` (percent) in ``level``: split-conformal intervals from the validation
        errors the export kept.

        Examples
        --------
        >>> seqtune.load("results/airline/best.yaml").predict(level=[80])  # doctest: +SKIP
           step  h  prediction    lower_80    upper_80
        0   144  1  452.6...
        """
        from seqtune.exported.intervals import check_levels
        from seqtune.exported.predict import forecast, rows_for

        levels = check_levels(level, "level")
        with tempfile.TemporaryDirectory(prefix="seqtune-recent-") as tmp:
            newer: Path | None = None
            if isinstance(recent, pd.DataFrame):
                newer = Path(tmp) / "recent.csv"
                recent.to_csv(newer, index=False)
            elif recent is not None:
                newer = Path(recent)
            try:
                table, data = rows_for(self._exported, newer)
                _ready()
                header, rows = forecast(
                    self.spec,
                    self.values,
                    self.model_path,
                    table,
                    data,
                    state=self._exported.state,
                    levels=levels,
                )
            except UserError as err:
                if not isinstance(recent, pd.DataFrame) or newer is None:
                    raise
                # name what the user gave, not the temporary file it went through
                given = "the recent rows (DataFrame)"
                field = given if err.field == str(newer) else err.field
                raise UserError(err.message.replace(str(newer), given), field) from None
        return pd.DataFrame(rows, columns=header)


def _ready() -> None:
    """TensorFlow loaded quietly, Optuna's and TensorFlow's log lines off."""
    quiet_libraries(own_warnings=False)
    load_tensorflow()
