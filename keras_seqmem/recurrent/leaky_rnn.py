"""Leaky-integrator RNN: units with their own time constants."""

import numbers

import keras
import numpy as np
from keras import ops

from keras_seqmem import _validation
from keras_seqmem.recurrent import echo_state as _echo_state
from keras_seqmem.recurrent.base import FusedCell
from keras_seqmem.recurrent.base import SequenceRNN

# A trainable gamma is 1 + softplus(offset); a requested gamma of exactly 1
# starts at 1 + _MIN_TRAINABLE_EXCESS so that the offset is finite.
_MIN_TRAINABLE_EXCESS = 1e-3


@keras.saving.register_keras_serializable(package="keras_seqmem")
class LeakyRNNCell(FusedCell):
    """Simple RNN cell of leaky integrators with time constants `γ ≥ 1`.

    One step, with `act` the `activation` (tanh by default):

        h_t = (1 - 1/γ) ⊙ h_tm1 + (1/γ) ⊙ act(x_t W + h_tm1 U + b)

    A unit with time constant `γ` keeps a fraction `1 - 1/γ` of its state at
    each step, so its memory decays over about `γ` steps; `γ = 1` is the
    ordinary simple RNN, and with `γ = 1` this cell computes exactly what
    `keras.layers.SimpleRNNCell` computes with the same weights.

    `γ` is a scalar shared by all units or one value per unit, fixed or
    trainable. A trainable `γ` is parametrised as `γ = 1 + softplus(ρ)`, so
    gradient steps can never push it below one. `gamma_range=(γ_min, γ_max)`
    spreads the initial time constants geometrically over the range (unit `k`
    gets `γ_min (γ_max/γ_min)^(k/(u-1))`), giving the layer memories at many
    time scales at once (Jaeger et al. 2007; Bengio et al. 2013).

    Weights (`d` input features, `u = units`), named as in
    `keras.layers.SimpleRNNCell`:

        kernel            (d, u)           W
        recurrent_kernel  (u, u)           U
        bias              (u,)             b
        gamma             () or (u,)       γ, when `trainable_gamma=False`
                                           (a non-trainable weight)
        gamma_offset      () or (u,)       ρ with γ = 1 + softplus(ρ), when
                                           `trainable_gamma=True`

    `effective_gamma()` returns `γ` whichever way it is stored.

    Echo-state networks (tfa's `ESNCell`): `LeakyRNNCell.echo_state(units,
    connectivity=0.1, leaky=1.0, spectral_radius=0.9, use_norm2=False, ...)`
    (and `LeakyRNN.echo_state`) return this cell with `γ = 1/leaky`, a
    fixed sparse random reservoir `U` rescaled to the spectral radius
    (`EchoStateInitializer`) and `trainable=False`.

    State: `h`, `(batch, units)`; the output is `h`.

    Args:
        units: Positive integer, the number of units.
        gamma: Time constant(s) `γ ≥ 1`: a number, or `units` numbers (one
            per unit). Default 1.0 (no leak). Leave unset when giving
            `gamma_range`.
        gamma_range: Optional pair `(γ_min, γ_max)` with `1 ≤ γ_min ≤ γ_max`:
            per-unit time constants spread geometrically over the range.
        per_unit_gamma: With a scalar `gamma`, give each unit its own copy
            (useful when trainable). Default False.
        trainable_gamma: Whether `γ` is learned. Default False.
        activation: Activation function. Default `"tanh"`.
        use_bias, kernel_initializer, recurrent_initializer, bias_initializer,
        kernel_regularizer, recurrent_regularizer, bias_regularizer,
        kernel_constraint, recurrent_constraint, bias_constraint: As in
            `keras.layers.SimpleRNNCell`.
        dropout: Fraction in [0, 1) of the input features dropped.
        recurrent_dropout: Fraction in [0, 1) of `h_tm1` dropped before the
            recurrent product.
        seed: Seed of the dropout masks.

    Call arguments:
        inputs: `(batch, features)`, the input at one step.
        states: `[h_tm1]`, `(batch, units)`.
        training: Whether dropout applies.

    Example:

    ```python
    import numpy as np
    import keras
    import keras_seqmem

    cell = keras_seqmem.LeakyRNNCell(32, gamma_range=(1.0, 100.0),
                                     trainable_gamma=True)
    y = keras.layers.RNN(cell)(np.zeros((4, 50, 3), "float32"))  # (4, 32)
    ```

    Reference: Jaeger, Lukoševičius, Popovici & Siewert, "Optimization and
    applications of echo state networks with leaky-integrator neurons",
    Neural Networks 2007; Bengio, Boulanger-Lewandowski & Pascanu, "Advances
    in optimizing recurrent networks", ICASSP 2013.
    """

    gate_names = ("h",)

    # An echo-state network (tfa's ESNCell): `LeakyRNNCell.echo_state(units,
    # connectivity=0.1, leaky=1.0, spectral_radius=0.9, ...)` is this cell
    # with γ = 1/leaky, a fixed sparse reservoir and frozen weights
    # (keras_seqmem/recurrent/echo_state.py).
    echo_state = classmethod(_echo_state.echo_state)

    def __init__(
        self,
        units,
        gamma=None,
        gamma_range=None,
        per_unit_gamma=False,
        trainable_gamma=False,
        activation="tanh",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(
            units,
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
            **kwargs,
        )
        self._initial_gamma = _resolve_gamma(
            type(self).__name__, self.units, gamma, gamma_range, per_unit_gamma
        )
        if gamma is not None and not isinstance(gamma, numbers.Real):
            gamma = [float(g) for g in np.asarray(gamma).reshape(-1)]
        self.gamma = gamma
        self.gamma_range = (
            None if gamma_range is None else [float(g) for g in gamma_range]
        )
        self.per_unit_gamma = bool(per_unit_gamma)
        self.trainable_gamma = bool(trainable_gamma)

    @property
    def state_size(self):
        return self.units

    def build_extra_weights(self, input_shape):
        initial = self._initial_gamma
        if self.trainable_gamma:
            excess = np.maximum(initial - 1.0, _MIN_TRAINABLE_EXCESS)
            # softplus^-1(γ - 1) = log(expm1(x)), written so that it does
            # not overflow for large x: x + log(1 - exp(-x)).
            offset = excess + np.log(-np.expm1(-excess))
            self.gamma_offset = self.add_weight(
                shape=initial.shape,
                name="gamma_offset",
                initializer=keras.initializers.Constant(offset),
                trainable=True,
            )
        else:
            self.gamma_weight = self.add_weight(
                shape=initial.shape,
                name="gamma",
                initializer=keras.initializers.Constant(initial),
                trainable=False,
            )

    def effective_gamma(self):
        """The time constants `γ` (shape `()` or `(units,)`), all `≥ 1`."""
        if self.trainable_gamma:
            return 1.0 + ops.softplus(self.gamma_offset)
        return self.gamma_weight

    def gate_function(self):
        leak = 1.0 / self.effective_gamma()  # 1/γ, once per sequence
        keep = 1.0 - leak

        def gates(z, states):
            h_tm1 = states[0] if isinstance(states, (list, tuple)) else states
            # This form (not h_tm1 + leak * (z' - h_tm1)) is exactly the
            # candidate, i.e. SimpleRNNCell, when γ = 1.
            h = keep * h_tm1 + leak * self.activation(z)
            new_states = [h] if isinstance(states, (list, tuple)) else h
            return h, new_states

        return gates

    def get_config(self):
        config = {
            "gamma": self.gamma,
            "gamma_range": self.gamma_range,
            "per_unit_gamma": self.per_unit_gamma,
            "trainable_gamma": self.trainable_gamma,
        }
        return {**super().get_config(), **config}


def _resolve_gamma(who, units, gamma, gamma_range, per_unit_gamma):
    """The initial `γ` as a float64 array of shape `()` or `(units,)`."""
    if gamma is not None and gamma_range is not None:
        raise ValueError(
            f"{who}: arguments `gamma` and `gamma_range` must not both be "
            "given; give either one "
            f"(got gamma={gamma!r}, gamma_range={gamma_range!r})."
        )
    if gamma_range is not None:
        if np.ndim(gamma_range) != 1 or len(gamma_range) != 2:
            raise ValueError(
                f"{who}: argument `gamma_range` must be a pair "
                f"(gamma_min, gamma_max), got gamma_range={gamma_range!r}."
            )
        low, high = _validation.check_at_least(
            gamma_range, 1.0, "gamma_range", who
        )
        if high < low:
            raise ValueError(
                f"{who}: argument `gamma_range` must be (gamma_min, "
                f"gamma_max) with gamma_min <= gamma_max, got "
                f"gamma_range={gamma_range!r}."
            )
        return np.geomspace(low, high, units)
    if gamma is None:
        gamma = 1.0
    values = _validation.check_at_least(gamma, 1.0, "gamma", who)
    if values.ndim == 0:
        return np.full((units,), float(values)) if per_unit_gamma else values
    if values.shape != (units,):
        raise ValueError(
            f"{who}: argument `gamma` must be a number or a list of "
            f"`units`={units} numbers, got shape {values.shape}."
        )
    return values


@keras.saving.register_keras_serializable(package="keras_seqmem")
class LeakyRNN(SequenceRNN):
    """Leaky-integrator RNN layer: `keras.layers.RNN(LeakyRNNCell(...))`, faster.

    Takes every argument of `LeakyRNNCell` (see there for the equation, the
    `γ` options and the weights) and of `keras.layers.RNN`:
    `return_sequences`, `return_state`, `go_backwards`, `stateful`, `unroll`,
    `zero_output_for_mask`, plus `activity_regularizer` and `fast_path`
    (one matrix product per step against `[kernel; recurrent_kernel]`
    stacked once per call; default True, same result as the cell loop).

    Call arguments:
        sequences: `(batch, timesteps, features)`.
        initial_state: Optional `h_0`, `(batch, units)`.
        mask: Optional `(batch, timesteps)` boolean mask.
        training: Whether dropout applies.

    Example:

    ```python
    import numpy as np
    import keras_seqmem

    layer = keras_seqmem.LeakyRNN(64, gamma_range=(1.0, 50.0))
    y = layer(np.zeros((4, 200, 2), "float32"))  # (4, 64)
    ```
    """

    cell_class = LeakyRNNCell
    # The echo-state network layer (tfa's ESNCell in an RNN), see
    # LeakyRNNCell.echo_state.
    echo_state = classmethod(_echo_state.echo_state)

    def call(self, sequences, initial_state=None, mask=None, training=False):
        return super().call(
            sequences, initial_state=initial_state, mask=mask, training=training
        )
