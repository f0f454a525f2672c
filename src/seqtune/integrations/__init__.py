"""Optional bridges to other tools (each needs its own extra, imported only when used).

- :mod:`seqtune.integrations.mlflow`: a study's trials and an exported forecaster logged
  to MLflow (``pip install 'seqtune[mlflow]'``).
"""
