"""Model builders from a plain dict of values, and the compiled training path.

Import ``seqtune.models.builders`` / ``seqtune.models.training`` for the Keras parts; this
package itself stays free of TensorFlow so that specs validate in a blink.
"""

from seqtune.models.params import KINDS, LAYOUTS, check_param_names, known_params, resolve

__all__ = ["KINDS", "LAYOUTS", "check_param_names", "known_params", "resolve"]
