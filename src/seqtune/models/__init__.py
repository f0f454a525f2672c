"""Model builders from a plain dict of values, the compiled training path, and the naive and
linear baselines (``seqtune.models.baselines``, numpy and scikit-learn only).

Import ``seqtune.models.builders`` / ``seqtune.models.training`` for the Keras parts; this
package itself stays free of TensorFlow so that specs validate in a blink.
"""

from seqtune.models.baselines import baseline_predictions, score_baselines
from seqtune.models.params import KINDS, LAYOUTS, check_param_names, known_params, resolve

__all__ = [
    "KINDS",
    "LAYOUTS",
    "baseline_predictions",
    "check_param_names",
    "known_params",
    "resolve",
    "score_baselines",
]
