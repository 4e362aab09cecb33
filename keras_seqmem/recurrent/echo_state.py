"""Echo-state networks (Jaeger, 2001) as a setup of `LeakyRNN`.

tfa's `ESNCell` computes

    h_t = (1 - α) h_tm1 + α act(x_t W + h_tm1 U + b)

with `α = leaky` and a fixed random reservoir `U`: sparse (each entry kept
with probability `connectivity`), rescaled so that its spectral radius (or,
with `use_norm2`, its Frobenius norm, an upper bound of the spectral radius)
is `spectral_radius`; no weight is trained. That is `LeakyRNNCell`'s
equation with `γ = 1/α`, so an echo-state network here is a `LeakyRNN`
with

* `gamma = 1 / leaky` (fixed),
* `recurrent_initializer = EchoStateInitializer(...)` (the sparse,
  rescaled reservoir, drawn once when the layer is built),
* `trainable=False` (every weight frozen, as tfa's),

which `LeakyRNNCell.echo_state(...)` and `LeakyRNN.echo_state(...)` build
from tfa's arguments. Nothing new runs at call time: the cell, its fused
fast path, masking, saving and export are `LeakyRNN`'s, and the result
saves and loads as a plain `LeakyRNN` whose config holds the initializer.
"""

import numbers

import keras
import numpy as np
from keras import initializers
from keras import ops

from keras_seqmem import _validation


def _check_fraction(value, arg, who):
    """A number in (0, 1]."""
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not 0.0 < float(value) <= 1.0):
        raise ValueError(
            f"Layer '{who}': argument `{arg}` must be a number in (0, 1], "
            f"got {arg}={value!r}."
        )
    return float(value)


def _check_radius(value, who):
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not 0.0 < float(value) < float("inf")):
        raise ValueError(
            f"Layer '{who}': argument `spectral_radius` must be a positive "
            f"finite number (below 1 for the echo state property), got "
            f"spectral_radius={value!r}."
        )
    return float(value)


@keras.saving.register_keras_serializable(package="keras_seqmem")
class EchoStateInitializer(keras.initializers.Initializer):
    """A sparse random reservoir with a given spectral radius (tfa `ESNCell`).

    For a square shape `(u, u)`:

        U0 = base_initializer((u, u))
        M  = (r < connectivity), r uniform in [0, 1) per entry
        U  = s (U0 ⊙ M),   s = spectral_radius / max|eig(U0 ⊙ M)|
                           (s = spectral_radius / ‖U0 ⊙ M‖_F with use_norm2)

    as tfa's `ESNCell` builds its `recurrent_kernel` (an all-zero masked
    matrix gives zeros, as tfa's). The eigenvalues are computed in float64
    NumPy, on the weights drawn by `base_initializer`.

    Args:
        connectivity: Probability in (0, 1] that an entry is kept.
            Default 0.1.
        spectral_radius: The spectral radius (or Frobenius norm) of the
            result, > 0. Default 0.9.
        use_norm2: Rescale by the Frobenius norm (tfa's "norm 2", an upper
            bound of the spectral radius that needs no eigenvalues) instead
            of the largest eigenvalue modulus. Default False.
        base_initializer: The initializer of the entries before masking.
            Default `"glorot_uniform"` (tfa's `recurrent_initializer`).
        seed: Seed of the connectivity mask (NumPy, so the same mask on
            every backend). None draws it from NumPy's global generator,
            which `keras.utils.set_random_seed` seeds. Seed the entries
            through `base_initializer` (e.g.
            `keras.initializers.GlorotUniform(seed=1)`).

    Example:

    ```python
    import numpy as np
    from keras_seqmem.recurrent import EchoStateInitializer

    init = EchoStateInitializer(spectral_radius=0.9, seed=0)
    w = np.asarray(init((50, 50)))
    rho = np.abs(np.linalg.eigvals(w)).max()  # 0.9
    ```
    """

    def __init__(self, connectivity=0.1, spectral_radius=0.9, use_norm2=False,
                 base_initializer="glorot_uniform", seed=None):
        who = type(self).__name__
        self.connectivity = _check_fraction(connectivity, "connectivity", who)
        self.spectral_radius = _check_radius(spectral_radius, who)
        self.use_norm2 = bool(use_norm2)
        self.base_initializer = initializers.get(base_initializer)
        if seed is not None and (isinstance(seed, bool)
                                 or not isinstance(seed, numbers.Integral)):
            raise ValueError(
                f"Layer '{who}': argument `seed` must be an integer or None, "
                f"got seed={seed!r}.")
        self.seed = None if seed is None else int(seed)

    def __call__(self, shape, dtype=None):
        shape = tuple(int(s) for s in shape)
        if len(shape) != 2 or shape[0] != shape[1]:
            raise ValueError(
                f"Layer '{type(self).__name__}': expected a square "
                f"(units, units) recurrent kernel shape, got {shape}.")
        dtype = keras.backend.standardize_dtype(
            dtype or keras.backend.floatx())
        weights = np.asarray(
            ops.convert_to_numpy(self.base_initializer(shape, dtype=dtype)),
            dtype="float64")
        rng = (np.random if self.seed is None
               else np.random.default_rng(self.seed))
        mask = rng.random(shape) < self.connectivity
        weights = weights * mask
        if self.use_norm2:
            norm = np.sqrt(np.sum(weights * weights))
            scale = self.spectral_radius / (norm if norm > 0 else 1.0)
        else:
            radius = np.max(np.abs(np.linalg.eigvals(weights)))
            scale = self.spectral_radius / radius if radius > 0 else 0.0
        return ops.convert_to_tensor((weights * scale).astype(dtype))

    def get_config(self):
        return {
            "connectivity": self.connectivity,
            "spectral_radius": self.spectral_radius,
            "use_norm2": self.use_norm2,
            "base_initializer": initializers.serialize(self.base_initializer),
            "seed": self.seed,
        }


def echo_state(cls, units, connectivity=0.1, leaky=1.0, spectral_radius=0.9,
               use_norm2=False, use_bias=True, activation="tanh",
               kernel_initializer="glorot_uniform",
               recurrent_initializer="glorot_uniform",
               bias_initializer="zeros", seed=None, **kwargs):
    """An echo-state network cell or layer (`cls`: `LeakyRNNCell` or
    `LeakyRNN`) from the arguments of tfa's `ESNCell`.

        h_t = (1 - leaky) h_tm1 + leaky act(x_t W + h_tm1 U + b)

    i.e. `cls(units, gamma=1/leaky, recurrent_initializer=
    EchoStateInitializer(connectivity, spectral_radius, use_norm2,
    recurrent_initializer, seed), trainable=False, ...)`: a fixed sparse
    reservoir `U` with spectral radius `spectral_radius`, and every weight
    frozen (pass `trainable=True` to train them). Other keyword arguments
    (`return_sequences`, `dropout`, `name`, ...) go to `cls`.

    Args:
        units: Size of the reservoir.
        connectivity: Probability in (0, 1] that a reservoir connection
            exists. Default 0.1.
        leaky: Leaking rate `α` in (0, 1]; 1 (default) is no leak.
        spectral_radius: Spectral radius of `U`, > 0 (below 1 for the echo
            state property). Default 0.9.
        use_norm2: Rescale `U` by its Frobenius norm instead. Default False.
        use_bias, activation, kernel_initializer, bias_initializer: As
            tfa's (defaults True, `"tanh"`, `"glorot_uniform"`, `"zeros"`).
        recurrent_initializer: The reservoir entries before masking and
            rescaling. Default `"glorot_uniform"` (tfa's).
        seed: Seed of the connectivity mask.
    """
    who = f"{cls.__name__}.echo_state"
    _validation.check_positive_int(units, "units", who)
    leaky = _check_fraction(leaky, "leaky", who)
    connectivity = _check_fraction(connectivity, "connectivity", who)
    spectral_radius = _check_radius(spectral_radius, who)
    for key in ("gamma", "gamma_range", "trainable_gamma"):
        if key in kwargs:
            raise ValueError(
                f"Layer '{who}': argument `{key}` is set by `leaky` "
                f"(gamma = 1/leaky, fixed); give `leaky` instead.")
    kwargs.setdefault("trainable", False)
    reservoir = EchoStateInitializer(
        connectivity=connectivity, spectral_radius=spectral_radius,
        use_norm2=use_norm2, base_initializer=recurrent_initializer,
        seed=seed)
    return cls(units, gamma=1.0 / leaky, activation=activation,
               use_bias=use_bias, kernel_initializer=kernel_initializer,
               recurrent_initializer=reservoir,
               bias_initializer=bias_initializer, **kwargs)
