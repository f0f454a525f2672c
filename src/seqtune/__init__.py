"""seqtune: hyperparameter search for Keras sequence models on time series."""

__version__ = "0.3.3"
