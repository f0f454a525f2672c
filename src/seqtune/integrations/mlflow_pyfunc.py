"""The MLflow pyfunc wrapper of an exported forecaster (imports mlflow: only imported when
an MLflow model is logged or loaded).

Examples
--------
>>> import mlflow  # doctest: +SKIP
>>> model = mlflow.pyfunc.load_model("runs:/5f0c…/forecaster")  # doctest: +SKIP
>>> model.predict(recent_rows)  # the DataFrame seqtune.load(export).predict gives  # doctest: +SKIP
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pandas as pd

from seqtune.errors import UserError

#: the folder, among the model's artifacts, that holds the export (best.yaml beside its files)
EXPORT_ARTIFACT = "export"


class ForecasterModel(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
    """An exported seqtune forecaster as an MLflow pyfunc model.

    ``predict(context, model_input, params=None)`` takes recent rows with the study data's
    columns (at least the model's look_back rows, and a season more for seasonal
    transforms) and returns what :meth:`seqtune.api.Forecaster.predict` returns for them:
    ``time`` (or ``step``), ``h``, ``prediction`` (and interval columns when ``params``
    asks for ``level`` and this seqtune's forecaster gives intervals).

    Examples
    --------
    >>> model = mlflow.pyfunc.load_model(uri)  # doctest: +SKIP
    >>> model.predict(recent, params={"level": [80, 95]})  # doctest: +SKIP
    """

    def load_context(self, context: Any) -> None:
        from seqtune.api import load

        self._forecaster = load(Path(context.artifacts[EXPORT_ARTIFACT]) / "best.yaml")

    def predict(  # a DataFrame annotation: MLflow passes the input on as it is
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        options: dict[str, Any] = {}
        level = (params or {}).get("level")
        if level is not None and len(level) > 0:
            if "level" not in inspect.signature(self._forecaster.predict).parameters:
                raise UserError(
                    "this seqtune's forecaster gives no prediction intervals", "params.level"
                )
            options["level"] = [int(v) if float(v).is_integer() else float(v) for v in level]
        return self._forecaster.predict(frame, **options)
