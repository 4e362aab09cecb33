"""Argument checks shared by every keras_seqmem layer.

Each check raises a `ValueError` that names the layer, the argument and what
was expected, at construction or build time, so that a bad hyperparameter
never surfaces later as a NaN or a shape error deep inside a `while_loop`.
"""

import numbers

import numpy as np


def _where(layer_name):
    return f"Layer '{layer_name}'" if layer_name else "keras_seqmem layer"


def check_positive_int(value, arg, layer_name=None):
    """`value` must be an integer > 0 (`units`, `memory_size`, ...)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or value <= 0
    ):
        raise ValueError(
            f"{_where(layer_name)}: argument `{arg}` must be a positive "
            f"integer, got {arg}={value!r}."
        )
    return int(value)


def check_rate(value, arg, layer_name=None):
    """A dropout rate must lie in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(
            f"{_where(layer_name)}: argument `{arg}` must be a float in "
            f"[0, 1), got {arg}={value!r}."
        )
    if not 0.0 <= float(value) < 1.0:
        raise ValueError(
            f"{_where(layer_name)}: argument `{arg}` must be in [0, 1), "
            f"got {arg}={value!r}."
        )
    return float(value)


def check_at_least(values, minimum, arg, layer_name=None):
    """Every entry of `values` (scalar or array-like) must be >= `minimum`."""
    array = np.asarray(values, dtype="float64")
    if array.size == 0 or not np.all(np.isfinite(array)):
        raise ValueError(
            f"{_where(layer_name)}: argument `{arg}` must be finite numbers "
            f">= {minimum}, got {arg}={values!r}."
        )
    if np.any(array < minimum):
        raise ValueError(
            f"{_where(layer_name)}: argument `{arg}` must be >= {minimum} "
            f"everywhere, got {arg}={values!r} (minimum {array.min()})."
        )
    return array


def check_sequence_shape(shape, layer_name, expected_features=None):
    """A recurrent layer's input must be `(batch, timesteps, features)`."""
    if len(shape) != 3:
        raise ValueError(
            f"{_where(layer_name)}: expected a 3D input of shape "
            f"(batch, timesteps, features), got shape {tuple(shape)}."
        )
    check_feature_size(shape, layer_name, expected_features)


def check_feature_size(shape, layer_name, expected_features=None):
    features = shape[-1]
    if features is None:
        raise ValueError(
            f"{_where(layer_name)}: the last (feature) dimension of the input "
            f"must be known when the layer is built, got shape {tuple(shape)}."
        )
    if expected_features is not None and features != expected_features:
        raise ValueError(
            f"{_where(layer_name)}: expected inputs with {expected_features} "
            f"features (the size it was built with), got shape "
            f"{tuple(shape)}."
        )
