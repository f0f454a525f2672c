"""Forecasts out: ``predictions.csv`` of an export, and ``seqtune predict``.

``predictions.csv`` (beside best.yaml) has one row per validation and test forecast and
step: ``time`` (or ``step`` without ``data.time``) of the forecast row, ``part``, ``origin``
(the last row the inputs saw), ``h`` (1..horizon), ``actual`` and ``prediction`` in the
original units.

With ``levels`` (``predict --level 80 95``, and 80 and 95 in predictions.csv) each row also
has ``lower_<a>`` and ``upper_<a>``: split-conformal intervals from the validation errors the
export kept (:mod:`seqtune.exported.intervals`).

``predict`` loads the exported model (``best.keras`` beside the export; nothing is
retrained) and forecasts the ``horizon`` steps after the last row of the data, or of a newer
CSV with the same columns and dtypes. An export of seqtune 0.4.0 on carries its scalers,
transform and window in ``best.state.json`` (:mod:`seqtune.exported.state`): it forecasts
from recent rows alone, in a folder holding nothing else. An older export rebuilds them from
the study's data file, fitted on the rows the exported model trained on, as export did.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from seqtune.data import Table, Windows, load_table
from seqtune.data.seasonal import steps_between
from seqtune.data.table import read_frame
from seqtune.data.transforms import lost_rows
from seqtune.errors import UserError
from seqtune.exported import intervals
from seqtune.exported.bundle import first_time
from seqtune.exported.state import (
    ForecastState,
    column_kind,
    refuse_other_frequency,
    state_file,
)
from seqtune.spec import Spec, fixed_values
from seqtune.tasks import calendar_of, task_of


def model_windows(runner: Any, values: dict[str, Any]) -> Windows:
    """The windows the exported model of ``values`` was trained and tested on: the refit
    view (every row before the test part, scalers fitted on them) when the configuration
    was chosen on folds or repeats or exported as an ensemble, else the holdout's. Export,
    the report and an old export's ``predict`` all read the model through these, so all
    give the same test figure (``result.test``)."""
    if not runner.refits:
        return runner.windows(values)
    resolved = runner.resolved(values)
    return runner.table.refit_windows(
        int(resolved["look_back"]), str(resolved["transform"]), calendar_of(values)
    )


def prediction_rows(
    runner: Any,
    model: Any,
    windows: Any,
    residuals: np.ndarray | None = None,
    levels: tuple[float, ...] = (),
    scale: str = "absolute",
    members: Callable[[str], dict[str, np.ndarray]] | None = None,
) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of predictions.csv for the validation and test parts; with
    ``residuals`` (validation error scores on ``scale``, :mod:`seqtune.exported.intervals`)
    a lower and upper column per level in ``levels`` that they calibrate; with ``members``
    (a combined forecast's, ``part -> {member: forecasts}``) a trailing column per member."""
    table: Table = runner.table
    label = "time" if table.time is not None else "step"
    levels = intervals.calibrates(residuals, levels)
    out: list[list[Any]] = []
    member_names: list[str] = []
    for part in ("val", "test"):
        if len(windows.part(part)[0]) == 0:  # a refit has no validation part
            continue
        pred = np.asarray(runner.predict(model, windows, part), np.float64)
        true = np.asarray(windows.true_original(part), np.float64)
        pred, true = pred.reshape(len(pred), -1), true.reshape(len(true), -1)
        extra = intervals.bounds(pred, residuals, levels, scale) if residuals is not None else {}
        if members is not None:
            found = members(part)
            member_names = list(found)
            extra = {**extra, **found}
        first = windows.target_rows(part)
        origins = table.labels_of(first - 1)
        for h in range(pred.shape[1]):
            at = table.labels_of(first + h)
            for k in range(pred.shape[0]):
                row = [at[k], part, origins[k], h + 1, float(true[k, h]), float(pred[k, h])]
                out.append(row + [float(b[k, h]) for b in extra.values()])
    # by part, origin, step
    order = {"val": 0, "test": 1}
    out.sort(key=lambda r: (order[r[1]], r[2], r[3]))
    header = [label, "part", "origin", "h", "actual", "prediction", *intervals.columns(levels)]
    return header + member_names, out


def resolve_export(path: Path) -> tuple[Spec, dict[str, Any], Path]:
    """The exported spec (or a study folder's best.yaml), its values and model file."""
    path = Path(path)
    if path.is_dir():
        path = path / "best.yaml"
        if not path.is_file():
            raise UserError("holds no best.yaml: run `seqtune export` first", str(path.parent))
    spec = Spec.from_file(path)
    values = fixed_values(spec)
    if not task_of(spec.data.task).forecasts:
        raise UserError("predict forecasts; this spec classifies", "data.task")
    name = (spec.result or {}).get("model")
    model = path.parent / name if isinstance(name, str) else path.with_suffix(".keras")
    if not model.is_file():
        raise UserError(
            f"no model {model.name} beside it: predict loads an exported model "
            "(run `seqtune export`, or `seqtune train SPEC -o " + model.name + "`)",
            str(path),
        )
    check_export_files(path, spec.result)
    return spec, values, model


#: Files an export writes that no forecast reads: a copy of the export may leave them out.
NOT_READ = ("predictions.csv",)


def check_export_files(path: Path, result: dict[str, Any] | None) -> None:
    """UserError, in one line saying to export again, when a file an export wrote beside
    ``path`` (its best.yaml) is missing or is not the one the export wrote: a model or
    forecast table from another export, an export killed half-way, a damaged file.
    ``result.files`` (seqtune 0.3.3 on) holds their SHA-256; older exports are not checked.
    A file no forecast reads (:data:`NOT_READ`: predictions.csv) may be left behind when
    the export is copied elsewhere; when it is there, it is checked like the others."""
    from seqtune.store.digest import file_digest

    files = (result or {}).get("files")
    if files is None:
        return
    if not isinstance(files, dict):
        raise UserError("expected a mapping of file names to checksums", "result.files")
    for name, digest in files.items():
        file = path.parent / str(name)
        if str(name) in NOT_READ and not file.exists():
            continue
        if "/" in str(name) or not file.is_file():
            raise UserError(
                f"{name} of this export is missing beside it: run `seqtune export` again",
                str(path),
            )
        if file_digest(file) != digest:
            raise UserError(
                f"{name} is not the file this export wrote (changed, damaged, or from an "
                "interrupted or other export): run `seqtune export` again",
                str(path),
            )


def check_same_columns(old: Path, new: Path) -> None:
    """UserError naming the first column whose presence or dtype differs."""
    a, b = read_frame(old), read_frame(new)
    for name in a.columns:
        if name not in b.columns:
            raise UserError(f"column '{name}' of {old.name} is missing", str(new))
    for name in b.columns:
        if name not in a.columns:
            raise UserError(f"column '{name}' is not in {old.name}", str(new))
    for name in a.columns:
        ka, kb = column_kind(a[name]), column_kind(b[name])
        if ka != kb:
            raise UserError(f"column '{name}' is {kb} here but {ka} in {old.name}", str(new))


def load_state(path: Path, spec: Spec) -> ForecastState | None:
    """The forecaster state of the export whose spec file is ``path`` (checked against its
    checksum by :func:`check_export_files`), or None for an export written before seqtune
    0.4.0 (it forecasts from the study's data file)."""
    files = (spec.result or {}).get("files")
    state = state_file(path)
    if not isinstance(files, dict) or state.name not in files:
        return None
    return ForecastState.read(state)


def rows_needed(windows: Windows) -> int:
    """Recent rows a forecast reads: look_back plus what the transform differences away."""
    return int(windows.look_back) + lost_rows(windows.transform, windows.period)


def recent_rows(spec: Spec, state: ForecastState, newer: Path | None) -> Table:
    """The rows to forecast from with a self-contained export: ``newer`` (a CSV or Parquet
    file of recent rows), else the study's own data file if it is still where the spec
    says. Checked against the state: the same columns and kinds, the same frequency."""
    path = Path(newer) if newer is not None else spec.data.csv
    need = rows_needed(state.windows())
    if not path.is_file():
        if newer is not None:
            raise UserError("file not found", str(path))
        raise UserError(
            "the model's data file is not here: give recent rows (`seqtune predict EXPORT "
            f"--csv RECENT.csv`, or predict(df) in Python) with its columns and at least the "
            f"last {need} rows",
            str(path),
        )
    state.check_columns(read_frame(path), path)
    # the recent rows are inputs only: no validation or test part is cut from them
    data = load_table(replace(spec.data, csv=path.resolve(), val=0, test=0, folds=1))
    if data.time is not None:
        state.check_frequency(data.time.freq, data.time.step, path)
    return data


@dataclass(frozen=True)
class Exported:
    """An export opened for forecasting: its fixed spec and values, the model file, and
    its state (None for an export written before seqtune 0.4.0)."""

    path: Path
    spec: Spec
    values: dict[str, Any]
    model: Path
    state: ForecastState | None

    def files_read(self) -> list[Path]:
        """The files a forecast reads (an output may be none of them)."""
        out = [self.path, self.model]
        if self.state is not None:
            out.append(state_file(self.path))
        else:
            out.append(self.spec.data.csv)
        return out


def open_export(path: Path) -> Exported:
    """The export at ``path`` (a best.yaml or its study folder), every file checked."""
    spec, values, model = resolve_export(path)
    spec_file = Path(path) / "best.yaml" if Path(path).is_dir() else Path(path)
    return Exported(spec_file, spec, values, model, load_state(spec_file, spec))


def rows_for(exported: Exported, newer: Path | None) -> tuple[Table | None, Table]:
    """The study's table (an old export's scalers come from it; None for a self-contained
    export) and the rows to forecast from (``newer``, else the study's data), checked."""
    if exported.state is not None:
        return None, recent_rows(exported.spec, exported.state, newer)
    return check_predict(exported.spec, newer)


def check_predict(spec: Spec, newer: Path | None) -> tuple[Table, Table]:
    """The study's table (for the scalers) and the one to forecast from; all checked."""
    from seqtune.spec import validate_with_data

    table = validate_with_data(spec)
    check_study_data(spec)
    if newer is None:
        return table, table
    newer = Path(newer)
    if not newer.is_file():
        raise UserError("file not found", str(newer))
    check_same_columns(spec.data.csv, newer)
    other = load_table(replace(spec.data, csv=newer.resolve()))
    check_same_frequency(table, other)
    return table, other


def check_study_data(spec: Spec) -> None:
    """UserError when the study's data file is not the one the export was made from: the
    model's scalers and transforms are fitted on that file's training rows, so another
    file's would move every forecast. The checksum is ``result.data_sha256`` (seqtune 0.3.3
    on), else the one in ``study.json`` beside an export in its study folder."""
    import json

    from seqtune.store.digest import file_digest
    from seqtune.store.files import META_FILE

    digest = (spec.result or {}).get("data_sha256")
    meta = spec.source.parent / META_FILE if spec.source is not None else None
    if not isinstance(digest, str) and meta is not None and meta.is_file():
        try:
            digest = json.loads(meta.read_text(encoding="utf-8")).get("data_sha256")
        except (OSError, ValueError, AttributeError):
            digest = None
    if not isinstance(digest, str):
        return  # an export made before checksums were kept, away from its study
    if file_digest(spec.data.csv) != digest:
        raise UserError(
            "changed since the export: the model's scalers and transforms were fitted on "
            "this file's training rows as they were then; restore it (newer rows go in "
            "--csv NEWER.csv)",
            str(spec.data.csv),
        )


def check_same_frequency(table: Table, other: Table) -> None:
    """UserError when the newer rows' time index steps otherwise than the study's: the
    forecasts would be labelled with the wrong dates and the calendar inputs misread."""
    a, b = table.time, other.time
    if a is not None and b is not None:
        refuse_other_frequency((a.freq, a.step), (b.freq, b.step), other.spec.csv)


def placed(windows: Windows, table: Table, data: Table) -> Windows:
    """``windows`` of ``table`` made to read ``data``'s rows: a ``deseason`` framing's
    indices shifted to where ``data``'s first row lies in the period (by the time index;
    without one, ``data`` starts where ``table`` does)."""
    first, later = first_time(table), first_time(data)
    if windows.season is None or table.time is None or first is None or later is None:
        return windows
    steps = steps_between(first, later, table.time.freq, table.time.step)
    return replace(windows, season=windows.season.shifted(steps))


def forecast(
    spec: Spec,
    values: dict[str, Any],
    model_path: Path,
    table: Table | None,
    data: Table,
    *,
    state: ForecastState | None = None,
    levels: tuple[float, ...] = (),
) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of the forecast past the last row of ``data``: ``time`` (or
    ``step``), ``h``, ``prediction``, then ``lower_<a>``, ``upper_<a>`` per level.

    With ``state`` (a self-contained export) the inputs are made by it; without (an export
    written before seqtune 0.4.0), by the study's ``table``, as the export fitted them."""
    import keras

    from seqtune.models.builders import reshape_x
    from seqtune.models.training import predictor

    if state is not None:
        # a deseason framing's indices, from where the recent rows start in the period
        windows = state.windows(state.phase_of(first_time(data)))
        residuals = state.residuals
    else:
        from seqtune.search.runner import Runner

        assert table is not None
        windows = placed(model_windows(Runner(spec, table), values), table, data)
        residuals = None
    if levels and residuals is None:
        raise UserError(
            "this export keeps no validation errors to calibrate intervals (it was written "
            "before seqtune 0.4.0): run `seqtune export` again",
            "--level",
        )
    lost = rows_needed(windows)
    if data.n_rows < lost:
        raise UserError(
            f"has {data.n_rows} rows; the model needs the last {lost} (look_back "
            f"{windows.look_back} and transform {windows.transform})",
            str(data.spec.csv),
        )
    if windows.transform != "none" and "log" in windows.transform and np.any(data.y <= 0):
        raise UserError(
            f"'{windows.transform}' needs a positive target '{data.target}'", str(data.spec.csv)
        )
    scale = state.scale if state is not None else "absolute"
    if residuals is not None:
        for a in levels:  # a level its errors cannot calibrate: refused before loading
            intervals.half_widths(residuals, a)
    try:
        model = keras.models.load_model(model_path, compile=False)
    except Exception as exc:  # Keras says "File not found" of a damaged zip
        raise UserError(
            f"cannot be read as a Keras model ({type(exc).__name__}): it is damaged; run "
            "`seqtune export` again",
            str(model_path),
        ) from None
    x = windows.input_after(data.feature_values(calendar_of(values)), data.y)
    if x.shape[-1] != windows.n_features:
        raise UserError(
            f"gives {x.shape[-1]} input columns, the model reads {windows.n_features}: "
            "it is from another export; run `seqtune export` again",
            str(model_path),
        )
    try:
        raw = predictor(model)(reshape_x(x, spec.layout))
    except ValueError:  # a model of another export: its input shape differs
        want = tuple(getattr(model, "input_shape", ()) or ())
        raise UserError(
            f"does not fit its spec (the model takes inputs of shape {want}, the spec "
            f"gives {tuple(reshape_x(x, spec.layout).shape)}): it is from another export; "
            "run `seqtune export` again",
            str(model_path),
        ) from None
    y = windows.forecast_after(raw, data.y)
    label = "time" if data.time is not None else "step"
    at = data.labels_after(windows.horizon)
    path = np.asarray(y, np.float64).reshape(1, windows.horizon)
    if state is not None and state.combination is not None:
        from seqtune.exported.combination import Combination, forecast_path

        combo = Combination.from_state(state.combination)
        recent = data.labels_of(np.arange(data.n_rows))
        path = forecast_path(combo, path, np.asarray(data.y), recent, str(data.spec.csv))
    extra = intervals.bounds(path, residuals, levels, scale) if residuals is not None else {}
    rows = [
        [at[h], h + 1, float(path[0, h]), *(float(b[0, h]) for b in extra.values())]
        for h in range(windows.horizon)
    ]
    return [label, "h", "prediction", *intervals.columns(levels)], rows
