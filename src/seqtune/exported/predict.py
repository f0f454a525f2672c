"""Forecasts out: ``predictions.csv`` of an export, and ``seqtune predict``.

``predictions.csv`` (beside best.yaml) has one row per validation and test forecast and
step: ``time`` (or ``step`` without ``data.time``) of the forecast row, ``part``, ``origin``
(the last row the inputs saw), ``h`` (1..horizon), ``actual`` and ``prediction`` in the
original units.

``predict`` loads the exported model (``best.keras`` beside the export; nothing is
retrained) and forecasts the ``horizon`` steps after the last row of the data, or of a newer
CSV with the same columns and dtypes. The inputs are scaled with the scalers of the study's
own training rows, exactly as during the search.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqtune.data import Table, load_table
from seqtune.data.table import read_frame
from seqtune.data.transforms import lost_rows
from seqtune.errors import UserError
from seqtune.spec import Spec, fixed_values
from seqtune.tasks import calendar_of, task_of


def prediction_rows(runner: Any, model: Any, windows: Any) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of predictions.csv for the validation and test parts."""
    table: Table = runner.table
    label = "time" if table.time is not None else "step"
    out: list[list[Any]] = []
    for part in ("val", "test"):
        if len(windows.part(part)[0]) == 0:  # a refit has no validation part
            continue
        pred = np.asarray(runner.predict(model, windows, part), np.float64)
        true = np.asarray(windows.true_original(part), np.float64)
        pred, true = pred.reshape(len(pred), -1), true.reshape(len(true), -1)
        first = windows.target_rows(part)
        origins = table.labels_of(first - 1)
        for h in range(pred.shape[1]):
            at = table.labels_of(first + h)
            for k in range(pred.shape[0]):
                out.append([at[k], part, origins[k], h + 1, true[k, h], pred[k, h]])
    # by part, origin, step
    order = {"val": 0, "test": 1}
    out.sort(key=lambda r: (order[r[1]], r[2], r[3]))
    return [label, "part", "origin", "h", "actual", "prediction"], [
        [*r[:4], float(r[4]), float(r[5])] for r in out
    ]


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


def check_export_files(path: Path, result: dict[str, Any] | None) -> None:
    """UserError, in one line saying to export again, when a file an export wrote beside
    ``path`` (its best.yaml) is missing or is not the one the export wrote: a model or
    forecast table from another export, an export killed half-way, a damaged file.
    ``result.files`` (seqtune 0.3.3 on) holds their SHA-256; older exports are not checked."""
    from seqtune.store.digest import file_digest

    files = (result or {}).get("files")
    if files is None:
        return
    if not isinstance(files, dict):
        raise UserError("expected a mapping of file names to checksums", "result.files")
    for name, digest in files.items():
        file = path.parent / str(name)
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


def _kind(column: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(column):
        return "bool"
    if pd.api.types.is_numeric_dtype(column):
        return "numeric"
    return "text"


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
        ka, kb = _kind(a[name]), _kind(b[name])
        if ka != kb:
            raise UserError(f"column '{name}' is {kb} here but {ka} in {old.name}", str(new))


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
    if a is None or b is None or (a.freq, a.step) == (b.freq, b.step):
        return
    raise UserError(
        f"its time index has {b.freq_text}, the model's data {a.freq_text}: forecast from "
        "rows of the model's frequency",
        str(other.spec.csv),
    )


def forecast(
    spec: Spec, values: dict[str, Any], model_path: Path, table: Table, data: Table
) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of the forecast past the last row of ``data``."""
    import keras

    from seqtune.models.builders import reshape_x
    from seqtune.models.training import predictor
    from seqtune.search.runner import Runner

    runner = Runner(spec, table)
    windows = runner.windows(values)
    lost = windows.look_back + lost_rows(windows.transform, windows.period)
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
    try:
        model = keras.models.load_model(model_path, compile=False)
    except Exception as exc:  # Keras says "File not found" of a damaged zip
        raise UserError(
            f"cannot be read as a Keras model ({type(exc).__name__}): it is damaged; run "
            "`seqtune export` again",
            str(model_path),
        ) from None
    x = windows.input_after(data.feature_values(calendar_of(values)), data.y)
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
    return [label, "h", "prediction"], [[at[h], h + 1, float(y[h])] for h in range(windows.horizon)]
