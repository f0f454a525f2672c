"""The code MLflow runs to load a seqtune forecaster logged by
:func:`seqtune.integrations.mlflow.log_forecaster` (MLflow's "models from code": the model
is this file and its artifacts, not a pickle). Not imported by seqtune itself."""

import mlflow

from seqtune.integrations.mlflow_pyfunc import ForecasterModel

mlflow.models.set_model(ForecasterModel())
