"""What the recurrent cells of keras_seqmem share.

`FusedCell` owns the fused weights every cell here has,

    kernel            (input_dim, num_gates * units)   W, all gates side by side
    recurrent_kernel  (units, num_gates * units)       U, same gate order
    bias              (num_gates * units,)             b

and splits one step into the fused pre-activations and the gate arithmetic:

    z = x_t W + h_tm1 U + b          # FusedCell, with dropout on x_t, h_tm1
    h_t, states_t = gates(z, states)  # the cell's equations, one per subclass

`call()` (the Keras RNN cell contract) does both with two matrix products.
`SequenceRNN` (the base of `LeakyRNN`, `PeepholeLSTM`, `CoupledLSTM`) runs
the same `gates` in its fast path, but stacks `[W; U]` into one
`(d + u, G * u)` matrix once per call and computes `z` with one product per
step, `[x_t, h_tm1] [W; U] + b` (for cells with several gates), and computes
whatever in the gates depends only on the weights once per call
(`gate_function`). Both paths share the gate code, so they compute the same
function (tests prove it).

Unmasked, on TensorFlow and JAX, the fast path is the fused loop
(`keras_seqmem._fused`): the same per-step product and gates, and in
training a backward pass written out (one `dz U^T` product per step, the
weight gradients as single products after the backward loop), which trains
faster than the backend's gradient of the loop without XLA and about as
fast with it (benchmarks/README.md). `fast_path="stepwise"` keeps the
step-by-step path.

Projecting the whole input sequence up front (`(B*T, d) x (d, G*u)`) was
measured slower on CPU (2026-11 and again 2026-12-07, with the fused loop):
under XLA the per-step read of the `(B, T, G*u)` projection, fused into the
gate arithmetic, costs more than the smaller product saves
(benchmarks/README.md). LayerNormLSTM, whose input half has its own
normalisation, is the exception.
"""

import re

import keras
from keras import activations
from keras import constraints
from keras import initializers
from keras import ops
from keras import regularizers
from keras.layers import InputSpec

from keras_seqmem import _fused
from keras_seqmem import _ops
from keras_seqmem import _validation
from keras_seqmem._dropout import DropoutMasks
from keras_seqmem.recurrent.rnn import RNN


class FusedCell(keras.layers.Layer, DropoutMasks):
    """Base class of the cells with fused `kernel`/`recurrent_kernel`/`bias`.

    Subclasses set `gate_names` (the order of the fused blocks) and
    implement `gates(z, states)` or `gate_function()`.
    """

    gate_names = ()

    def __init__(
        self,
        units,
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
        who = type(self).__name__
        units = _validation.check_positive_int(units, "units", who)
        dropout = _validation.check_rate(dropout, "dropout", who)
        recurrent_dropout = _validation.check_rate(
            recurrent_dropout, "recurrent_dropout", who
        )
        super().__init__(**kwargs)
        self.units = units
        self.activation = activations.get(activation)
        self.use_bias = use_bias

        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)

        self.dropout = dropout
        self.recurrent_dropout = recurrent_dropout
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed=seed)
        self.input_spec = InputSpec(min_ndim=2)

    # Keras' RNN cell contract ------------------------------------------

    @property
    def num_gates(self):
        return len(self.gate_names)

    @property
    def state_size(self):
        raise NotImplementedError

    @property
    def output_size(self):
        return self.units

    def get_initial_state(self, batch_size=None):
        sizes = self.state_size
        if isinstance(sizes, int):
            return ops.zeros((batch_size, sizes), dtype=self.compute_dtype)
        return [
            ops.zeros((batch_size, size), dtype=self.compute_dtype)
            for size in sizes
        ]

    def build(self, input_shape):
        _validation.check_feature_size(input_shape, self.name)
        input_dim = input_shape[-1]
        width = self.num_gates * self.units
        self.kernel = self.add_weight(
            shape=(input_dim, width),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, width),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(width,),
                name="bias",
                initializer=self._fused_bias_initializer(),
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        else:
            self.bias = None
        self.build_extra_weights(input_shape)
        self.input_spec = InputSpec(min_ndim=2, axes={-1: input_dim})
        self.built = True

    def build_extra_weights(self, input_shape):
        """Hook for weights beyond the fused three (peepholes, gamma)."""

    def _fused_bias_initializer(self):
        """The initializer of the fused `bias` (GatedCell adds forget-gate
        ones)."""
        return self.bias_initializer

    # The step: fused pre-activations, then the cell's gates ---------

    def gates(self, z, states):
        """The cell's equations given `z = x_t W + h_tm1 U + b`.

        Returns `(output, new_states)`. A cell implements either this or
        `gate_function` (when part of the arithmetic is the same at every
        step and should be computed once per sequence).
        """
        return self.gate_function()(z, states)

    def gate_function(self):
        """`gates` as a function of `(z, states)`, with whatever does not
        depend on the step (functions of the weights) computed once, here.
        The fast path calls this once per sequence, outside the loop."""
        return self.gates

    def call(self, inputs, states, training=False):
        h_tm1 = states[0] if isinstance(states, (list, tuple)) else states
        if training and self.dropout > 0.0:
            inputs = inputs * self.step_dropout_mask(inputs)
        if training and self.recurrent_dropout > 0.0:
            h_tm1 = h_tm1 * self.step_recurrent_dropout_mask(h_tm1)
        z = ops.matmul(inputs, self.kernel)
        z = z + ops.matmul(h_tm1, self.recurrent_kernel)
        if self.use_bias:
            z = z + self.bias
        return self.gates(z, states)

    def get_config(self):
        config = {
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(
                self.kernel_initializer
            ),
            "recurrent_initializer": initializers.serialize(
                self.recurrent_initializer
            ),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(
                self.kernel_regularizer
            ),
            "recurrent_regularizer": regularizers.serialize(
                self.recurrent_regularizer
            ),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints.serialize(
                self.recurrent_constraint
            ),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }
        return {**super().get_config(), **config}


class GatedCell(FusedCell):
    """A `FusedCell` of the LSTM family: sigmoid-like gates, a cell state
    `c` beside `h`, and optional diagonal peephole vectors `(units,)`.

    Subclasses set `forget_gate` (the index of the block that
    `unit_forget_bias` initialises to one) and `peephole_names`, the peephole
    weights they create (or override `peephole_weight_names()` when that
    depends on the config).
    """

    forget_gate = None
    peephole_names = ()

    def __init__(
        self,
        units,
        recurrent_activation="sigmoid",
        unit_forget_bias=True,
        peephole_initializer="glorot_uniform",
        peephole_regularizer=None,
        peephole_constraint=None,
        **kwargs,
    ):
        super().__init__(units, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.unit_forget_bias = unit_forget_bias
        self.peephole_initializer = initializers.get(peephole_initializer)
        self.peephole_regularizer = regularizers.get(peephole_regularizer)
        self.peephole_constraint = constraints.get(peephole_constraint)

    @property
    def state_size(self):
        return [self.units, self.units]  # [h, c]

    def _fused_bias_initializer(self):
        """`bias_initializer`, with the forget-gate block set to one when
        `unit_forget_bias` (Jozefowicz et al., 2015)."""
        if self.forget_gate is None or not self.unit_forget_bias:
            return self.bias_initializer
        units, gate = self.units, self.forget_gate
        before, after = gate * units, (self.num_gates - gate - 1) * units
        base = self.bias_initializer

        def initializer(_, dtype=None):
            parts = []
            if before:
                parts.append(base((before,), dtype=dtype))
            parts.append(ops.ones((units,), dtype=dtype))
            if after:
                parts.append(base((after,), dtype=dtype))
            return ops.concatenate(parts)

        return initializer

    def peephole_weight_names(self):
        return self.peephole_names

    def build_extra_weights(self, input_shape):
        for name in self.peephole_weight_names():
            weight = self.add_weight(
                shape=(self.units,),
                name=name,
                initializer=self.peephole_initializer,
                regularizer=self.peephole_regularizer,
                constraint=self.peephole_constraint,
            )
            setattr(self, name, weight)

    def get_config(self):
        config = {
            "recurrent_activation": activations.serialize(
                self.recurrent_activation
            ),
            "unit_forget_bias": self.unit_forget_bias,
            "peephole_initializer": initializers.serialize(
                self.peephole_initializer
            ),
            "peephole_regularizer": regularizers.serialize(
                self.peephole_regularizer
            ),
            "peephole_constraint": constraints.serialize(
                self.peephole_constraint
            ),
        }
        return {**super().get_config(), **config}


# Arguments that belong to the RNN layer, not to its cell.
_LAYER_ARGS = (
    "return_sequences",
    "return_state",
    "go_backwards",
    "stateful",
    "unroll",
    "zero_output_for_mask",
    "activity_regularizer",
)
# Base-layer arguments the cell shares with its layer.
_SHARED_ARGS = ("dtype", "trainable")


class SequenceRNN(RNN):
    """A `keras_seqmem.RNN` over a `FusedCell`, with a fused fast path.

    Subclasses set `cell_class`. Every argument of the cell is accepted by the
    layer and forwarded to the cell; the layer's own arguments are those of
    `keras.layers.RNN` plus `fast_path`. The loop is keras_seqmem's own
    (`keras_seqmem.RNN`). Every argument of the cell is readable on the
    layer as on `keras.layers.LSTM` (`layer.units`, `layer.dropout`,
    `layer.activation`, ...: read-only properties returning the cell's
    attribute).

    Args:
        fast_path: `True` (default): the fused loop
            (`keras_seqmem._fused`), one matrix product `[x_t, h_tm1]
            [W; U] + b` per step against the kernels stacked once per call,
            and in training a backward pass written out (the weight
            gradients as single products after the backward loop), where
            the call is unmasked, not unrolled, on TensorFlow or JAX and not
            under mixed precision; otherwise the step-by-step path.
            `"stepwise"`: always the step-by-step path, the same per-step
            product in keras_seqmem's loop with the backend's own gradient
            of the loop (measured faster in training under XLA on CPU:
            docs/pages/benchmarks.md). `False`: the cell at every step, as
            `keras_seqmem.RNN(cell)` runs it. All compute the same
            function.
    """

    cell_class = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # Every constructor argument of the cell readable on the layer, as
        # keras.layers.LSTM has them (`layer.dropout`, `layer.activation`).
        if cls.__dict__.get("cell_class") is not None:
            _ops.mirror_cell_arguments(cls, cls.cell_class)

    def __init__(self, units, fast_path=True, **kwargs):
        layer_kwargs = {k: kwargs.pop(k) for k in _LAYER_ARGS if k in kwargs}
        for k in _SHARED_ARGS:
            if k in kwargs:
                layer_kwargs[k] = kwargs[k]
        for k in ("name", "input_shape", "batch_size", "input_dim"):
            if k in kwargs:
                layer_kwargs[k] = kwargs.pop(k)
        if not any(fast_path is v for v in (True, False)) and (
                fast_path != "stepwise"):
            raise ValueError(
                f"{type(self).__name__}: fast_path must be True (the fused "
                f"loop), 'stepwise' (the step-by-step path) or False (the "
                f"cell at every step); got {fast_path!r}."
            )
        cell = self.cell_class(units, name=self._cell_name(), **kwargs)
        super().__init__(cell, **layer_kwargs)
        self.fast_path = fast_path
        self.input_spec = InputSpec(ndim=3)

    @classmethod
    def _cell_name(cls):
        # PeepholeLSTMCell -> peephole_lstm_cell
        name = cls.cell_class.__name__
        return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()

    @property
    def units(self):
        return self.cell.units

    def build(self, sequences_shape, initial_state_shape=None):
        _validation.check_sequence_shape(sequences_shape, self.name)
        super().build(sequences_shape, initial_state_shape)
        self.input_spec = InputSpec(ndim=3, axes={-1: sequences_shape[-1]})

    # The fused loop (keras_seqmem._fused) ---------------------------------

    def fused_arguments(self, x):
        """What `keras_seqmem._fused.rnn` runs for the inputs `x` (already
        dropped out): the additive form `z_t = x_t W + h U + b` and the
        cell's gates."""
        cell = self.cell
        return dict(make_post=cell.gate_function, sequence=x,
                    kernel=cell.kernel,
                    bias=cell.bias if cell.use_bias else None,
                    variables=self.fused_variables())

    def fused_variables(self):
        """The weights the gates read: all of the cell's but `W`, `U`,
        `b`."""
        cell = self.cell
        skip = [cell.kernel, cell.recurrent_kernel, cell.bias]
        return [w for w in cell.weights
                if not any(w is s for s in skip if s is not None)]

    def uses_fused_loop(self, mask, training):
        """Whether this call runs the fused loop (keras_seqmem._fused):
        unmasked, not unrolled, on TensorFlow or JAX (in training with its
        written-out backward pass, for cells of several gates), and not
        under a mixed-precision policy (the fused loop maps the weights to
        tensors, which Keras' public API cannot autocast)."""
        cell = self.cell
        if training and cell.num_gates == 1:
            # A one-gate cell (LeakyRNN, LayerNormSimpleRNN) trains faster
            # on the step-by-step path without XLA (LeakyRNN's gradient,
            # reference shape: 36.9 ms vs 43.6 fused; with XLA 51.0 vs
            # 41.2; benchmarks/README.md): the default that does not lose
            # where XLA is off, Keras's default on CPU.
            return False
        return (self.fast_path is True and mask is None and not self.unroll
                and cell.compute_dtype == cell.variable_dtype
                and _fused.supported())

    def inner_loop_outputs(self, sequences, initial_state, mask, training):
        if not self.uses_fused_loop(mask, training):
            return super().inner_loop_outputs(
                sequences, initial_state, mask, training)
        cell = self.cell
        x = sequences
        if self.go_backwards:
            x = ops.flip(x, axis=1)
        if training and cell.dropout > 0.0:
            # The per-sequence mask (batch, d), drawn before the loop by
            # keras_seqmem.RNN.call: the same at every step.
            x = x * ops.expand_dims(cell.step_dropout_mask(x[:, 0, :]), 1)
        recurrent_mask = None
        if training and cell.recurrent_dropout > 0.0:
            recurrent_mask = cell.step_recurrent_dropout_mask(
                initial_state[0])
        return _fused.rnn(
            recurrent_kernel=cell.recurrent_kernel,
            initial_states=initial_state, recurrent_mask=recurrent_mask,
            return_all_outputs=self.return_sequences,
            differentiable=bool(training), **self.fused_arguments(x))

    def step_function(self, training):
        if not self.fast_path:
            return super().step_function(training)
        cell = self.cell
        # The masks were drawn before the loop (keras_seqmem.RNN.call): one
        # per sequence, as in the cell path.
        dropout = training and cell.dropout > 0.0
        recurrent_dropout = training and cell.recurrent_dropout > 0.0
        # With several gates, [W; U] (d + u, G * u) is stacked once per call
        # and each step is one product [x_t, h_tm1] [W; U]. With one gate
        # (LeakyRNN) the per-step concatenation costs more than the second
        # product saves (measured: 18.6 vs 15.5 ms per batch under XLA at
        # the benchmark's default shapes), so it keeps two products.
        stack = cell.num_gates > 1
        if stack:
            stacked_kernel = ops.concatenate(
                [cell.kernel, cell.recurrent_kernel], axis=0
            )
        kernel, recurrent_kernel = cell.kernel, cell.recurrent_kernel
        bias = cell.bias if cell.use_bias else None
        gates = cell.gate_function()

        def step(x_t, states):
            h_tm1 = states[0]
            if dropout:
                x_t = x_t * cell.step_dropout_mask(x_t)
            if recurrent_dropout:
                h_tm1 = h_tm1 * cell.step_recurrent_dropout_mask(h_tm1)
            if stack:
                xh = ops.concatenate([x_t, h_tm1], axis=-1)
                z = ops.matmul(xh, stacked_kernel)
            else:
                z = ops.matmul(x_t, kernel)
                z = z + ops.matmul(h_tm1, recurrent_kernel)
            if bias is not None:
                z = z + bias
            output, new_states = gates(z, states)
            if not isinstance(new_states, (list, tuple)):
                new_states = [new_states]
            return output, new_states

        return step

    def get_config(self):
        config = super().get_config()
        cell_config = config.pop("cell")["config"]
        for key in ("name", "dtype", "trainable"):
            cell_config.pop(key, None)
        return {
            **config,
            **cell_config,
            "activity_regularizer": regularizers.serialize(
                self.activity_regularizer
            ),
            "fast_path": self.fast_path,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(**config)

