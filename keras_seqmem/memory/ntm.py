"""The Neural Turing Machine (Graves, Wayne & Danihelka, 2014).

`NTMCell` is one step of the machine as a Keras 3 RNN cell (so that
`keras.layers.RNN` takes it); `NTM` runs it over a sequence and can return
the read and write weightings over time for plotting. The addressing
equations live in `keras_seqmem.memory.addressing`.
"""

import collections

import keras
from keras import initializers
from keras import ops
from keras.layers import InputSpec

from keras_seqmem import _validation
from keras_seqmem._ops import call_cell
from keras_seqmem._ops import check_stateful_build
from keras_seqmem._ops import keep_states
from keras_seqmem._ops import mirror_cell_arguments
from keras_seqmem._ops import reset_to_initial_state
from keras_seqmem._ops import run_layer_rnn
from keras_seqmem._ops import sequence_output_mask
from keras_seqmem._ops import stateful_states
from keras_seqmem._ops import work_dtype
from keras_seqmem._dropout import prepare_dropout_masks
from keras_seqmem._dropout import reset_dropout_masks
from keras_seqmem.memory import addressing

INIT_MODES = ("constant", "learned", "random")
MEMORY_CONSTANT = 1e-6
"""Every cell of the memory at `t = 0` in `memory_init="constant"` (Collier &
Beel 2018)."""

NTMState = collections.namedtuple(
    "NTMState",
    ["controller", "memory", "read_vectors", "read_weightings",
     "write_weightings"],
)
NTMState.__doc__ = """The state of an `NTMCell`, unpacked (`cell.unpack_state`).

    controller        list of the controller's states (empty if feed-forward)
    memory            [batch, memory_size, word_size]         M_t
    read_vectors      [batch, num_read_heads, word_size]      r_t
    read_weightings   [batch, num_read_heads, memory_size]    w^r_t
    write_weightings  [batch, num_write_heads, memory_size]   w^w_t
"""


def _clip_gradient(x, value):
    """Identity forward; the gradient flowing back is clipped to ±value."""

    @ops.custom_gradient
    def identity(x):
        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            return ops.clip(upstream, -value, value)

        return x, grad

    return identity(x)


@keras.saving.register_keras_serializable(package="keras_seqmem")
class NTMCell(keras.layers.Layer):
    """Neural Turing Machine cell: a controller with an `N × W` memory.

    One step, with `x_t` the input, `C` the controller (any Keras RNN cell,
    or a feed-forward layer), R read heads and H write heads:

        h_t, c_t = C([x_t, r^1_{t−1}, ..., r^R_{t−1}], c_{t−1})
        p_t      = clip(h_t P + b_P)                  head parameters
        per head (read heads first, then write heads):
            k = tanh(p_k),  β = softplus(p_β),  g = σ(p_g),
            s = softmax(p_s) over shifts −R_s..R_s,  γ = 1 + softplus(p_γ)
            w_t = address(M_{t−1}, w_{t−1}, k, β, g, s, γ)      eqs. (5)-(9)
        r^i_t    = Σ_j w^{r,i}_t(j) M_{t−1}(j)                  eq. (2)
        per write head: e = σ(p_e), a = tanh(p_a)
        M_t(j)   = M_{t−1}(j) ⊙ Π_h (1 − w^{w,h}_t(j) e^h)
                   + Σ_h w^{w,h}_t(j) a^h                       eqs. (3), (4)
        y_t      = clip([h_t, r^1_t, ..., r^R_t] O + b_O)        the output

    Heads address and read the memory as it was before this step's write
    (as the reference implementation of Collier & Beel 2018 does); the
    output is a learned projection of the controller output and the new
    read vectors; `clip` is `clip_value` (None: no clipping). Keys and add
    vectors go through `tanh`, as in Collier & Beel's code.

    Weights (`C_out` the controller's output size, `W = word_size`,
    `N = memory_size`, `S = 2 * shift_range + 1`):

        head_kernel    (C_out, P)   P above, blocks laid out as
                       [head 0 | head 1 | ... | head R+H−1 | erase/add],
                       head j = [k (W) | β (1) | g (1) | s (S) | γ (1)],
                       erase/add = [e_0 (W) | a_0 (W) | e_1 (W) | a_1 (W) ...]
        head_bias      (P,)
        output_kernel  (C_out + R W, units)   O, rows [h_t | r^1_t | ...]
        output_bias    (units,)
        initial_memory            (N, W)     memory_init "learned"/"random"
        initial_weighting_logits  (R+H, N)   weighting_init "learned"/"random"

    Initial state (`memory_init`, `weighting_init`):
        memory "constant" (default): every cell `1e-6`, not trained —
            Collier & Beel (2018) found it converges fastest;
            "learned": a trained `(N, W)` weight starting at `1e-6`;
            "random": a fixed draw from a truncated normal (mean 0, std 0.5)
            made when the layer is built, not trained.
        weightings "learned" (default, as Collier & Beel): softmax of trained
            logits, initialised Glorot-uniform (random, so that the heads
            can tell the locations of a constant memory apart: a uniform
            weighting on a constant memory stays uniform for ever);
            "constant": one-hot on location 0;
            "random": softmax of fixed standard-normal logits.
        The initial read vectors are the reads of the initial memory with
        the initial read weightings, `r_0 = Σ_j w^r_0(j) M_0(j)`.

    State (all flat 2D tensors, so `keras.layers.RNN` takes it; see
    `unpack_state` and `NTMState`):

        [*controller states,
         memory            (batch, N * W)    M_t, row-major [N, W]
         read_vectors      (batch, R * W)    [R, W]
         read_weightings   (batch, R * N)    [R, N]
         write_weightings  (batch, H * N)    [H, N]]

    Mixed precision: the controller and the two projections run in the
    compute dtype; the head parameters' activations, the addressing, reads
    and writes run in float32.

    Args:
        controller: A Keras RNN cell (with `state_size`), a feed-forward
            layer (e.g. `keras.layers.Dense(100, "relu")`), an integer
            `u` (`keras.layers.LSTMCell(u)`), or None (`LSTMCell(100)`).
        memory_size: `N`, the number of memory locations (≥ 1).
        word_size: `W`, the size of each location (≥ 1).
        num_read_heads: `R ≥ 1`.
        num_write_heads: `H ≥ 1`.
        shift_range: Allowed shifts `−shift_range..shift_range`, in
            `[0, memory_size)`. Default 1 (the paper's copy setting).
        units: Size of the output `y_t`; default the controller's output
            size.
        memory_init: "constant" (default), "learned" or "random".
        weighting_init: "learned" (default), "constant" or "random".
        clip_value: Head parameters and outputs are clipped to
            `[−clip_value, clip_value]` (Collier & Beel use 20; the
            default). None: no clipping.
        gradient_clip_value: If set, the gradient flowing back into the
            controller output at each step is clipped to ±this value. Clip
            the parameters' gradients with the optimizer as the reference
            implementations do (`global_clipnorm=50`, Collier & Beel;
            `clipvalue=10`, pytorch-ntm).
        kernel_initializer, bias_initializer: Of the head and output
            projections.
        seed: Seed of the "random" initial memory and weightings.

    Call arguments:
        inputs: `(batch, features)`, the input at one step.
        states: The flat state list above.
        training: Passed to the controller.

    Example:

    ```python
    import numpy as np
    import keras
    import keras_seqmem

    cell = keras_seqmem.NTMCell(keras.layers.LSTMCell(32), memory_size=16,
                                word_size=8, units=4)
    y = keras.layers.RNN(cell, return_sequences=True)(np.zeros((2, 5, 3)))
    print(y.shape)  # (2, 5, 4)
    ```

    Reference: Graves, Wayne & Danihelka, "Neural Turing Machines",
    arXiv:1410.5401, 2014; Collier & Beel, "Implementing Neural Turing
    Machines", ICANN 2018.
    """

    def __init__(
        self,
        controller,
        memory_size,
        word_size,
        num_read_heads=1,
        num_write_heads=1,
        shift_range=1,
        units=None,
        memory_init="constant",
        weighting_init="learned",
        clip_value=20.0,
        gradient_clip_value=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        seed=None,
        **kwargs,
    ):
        who = kwargs.get("name") or "NTMCell"
        memory_size = _validation.check_positive_int(
            memory_size, "memory_size", who)
        word_size = _validation.check_positive_int(word_size, "word_size", who)
        num_read_heads = _validation.check_positive_int(
            num_read_heads, "num_read_heads", who)
        num_write_heads = _validation.check_positive_int(
            num_write_heads, "num_write_heads", who)
        if (
            isinstance(shift_range, bool)
            or not isinstance(shift_range, int)
            or not 0 <= shift_range < memory_size
        ):
            raise ValueError(
                f"Layer '{who}': argument `shift_range` must be an integer in "
                f"[0, memory_size) = [0, {memory_size}), got "
                f"shift_range={shift_range!r}."
            )
        if units is not None:
            units = _validation.check_positive_int(units, "units", who)
        for arg, value in (("memory_init", memory_init),
                           ("weighting_init", weighting_init)):
            if value not in INIT_MODES:
                raise ValueError(
                    f"Layer '{who}': argument `{arg}` must be one of "
                    f"{INIT_MODES}, got {arg}={value!r}."
                )
        for arg, value in (("clip_value", clip_value),
                           ("gradient_clip_value", gradient_clip_value)):
            if value is not None:
                _validation.check_at_least(value, 0.0, arg, who)
                if float(value) <= 0:
                    raise ValueError(
                        f"Layer '{who}': argument `{arg}` must be > 0 or "
                        f"None, got {arg}={value!r}."
                    )
        # autocast=False (public Layer argument): the states are not cast to
        # the compute dtype on the way in, so the NTM layer carries memory
        # and weightings in float32 under mixed precision; `call` casts the
        # inputs and its own weights itself.
        kwargs["autocast"] = False
        super().__init__(**kwargs)
        self.controller = self._make_controller(controller)
        self.memory_size = memory_size
        self.word_size = word_size
        self.num_read_heads = num_read_heads
        self.num_write_heads = num_write_heads
        self.shift_range = shift_range
        self.units = units
        self.memory_init = memory_init
        self.weighting_init = weighting_init
        self.clip_value = None if clip_value is None else float(clip_value)
        self.gradient_clip_value = (
            None if gradient_clip_value is None
            else float(gradient_clip_value)
        )
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.seed = seed
        self.input_spec = InputSpec(min_ndim=2)

    def _make_controller(self, controller):
        if controller is None:
            controller = 100
        if isinstance(controller, dict):
            controller = keras.saving.deserialize_keras_object(controller)
        if isinstance(controller, int) and not isinstance(controller, bool):
            return keras.layers.LSTMCell(
                controller, name="controller", dtype=self.dtype_policy)
        if not isinstance(controller, keras.layers.Layer):
            raise ValueError(
                f"Layer '{self.name}': argument `controller` must be a Keras "
                f"RNN cell, a Keras layer, a number of LSTM units or None, "
                f"got controller={controller!r}."
            )
        return controller

    # Sizes -------------------------------------------------------------

    @property
    def recurrent_controller(self):
        """Whether the controller has states (an RNN cell)."""
        return hasattr(self.controller, "state_size")

    @property
    def controller_state_size(self):
        if not self.recurrent_controller:
            return []
        size = self.controller.state_size
        return [size] if isinstance(size, int) else list(size)

    @property
    def num_heads(self):
        return self.num_read_heads + self.num_write_heads

    @property
    def head_size(self):
        """Parameters of one head: k (W), β, g, s (2 shift_range + 1), γ."""
        return self.word_size + 2 * self.shift_range + 4

    @property
    def num_head_parameters(self):
        """Width `P` of `head_kernel`."""
        return (self.num_heads * self.head_size
                + 2 * self.num_write_heads * self.word_size)

    @property
    def state_size(self):
        N, W = self.memory_size, self.word_size
        return self.controller_state_size + [
            N * W,
            self.num_read_heads * W,
            self.num_read_heads * N,
            self.num_write_heads * N,
        ]

    @property
    def output_size(self):
        if self.units is not None:
            return self.units
        return self._controller_output_size()

    def _controller_output_size(self):
        size = getattr(self.controller, "output_size", None)
        if isinstance(size, int):
            return size
        if hasattr(self.controller, "units"):
            return int(self.controller.units)
        shape = self.controller.compute_output_shape((None, 1))
        return int(shape[-1])

    # Weights -------------------------------------------------------------

    def build(self, input_shape):
        _validation.check_feature_size(input_shape, self.name)
        input_dim = input_shape[-1]
        controller_input = (input_shape[0],
                            input_dim + self.num_read_heads * self.word_size)
        if not self.controller.built:
            self.controller.build(controller_input)
        c_out = self._controller_output_size()
        self.head_kernel = self.add_weight(
            shape=(c_out, self.num_head_parameters), name="head_kernel",
            initializer=self.kernel_initializer)
        self.head_bias = self.add_weight(
            shape=(self.num_head_parameters,), name="head_bias",
            initializer=self.bias_initializer)
        self.output_kernel = self.add_weight(
            shape=(c_out + self.num_read_heads * self.word_size,
                   self.output_size),
            name="output_kernel", initializer=self.kernel_initializer)
        self.output_bias = self.add_weight(
            shape=(self.output_size,), name="output_bias",
            initializer=self.bias_initializer)
        N, W = self.memory_size, self.word_size
        if self.memory_init == "learned":
            self.initial_memory = self.add_weight(
                shape=(N, W), name="initial_memory",
                initializer=initializers.Constant(MEMORY_CONSTANT))
        elif self.memory_init == "random":
            self.initial_memory = self.add_weight(
                shape=(N, W), name="initial_memory", trainable=False,
                initializer=initializers.TruncatedNormal(
                    mean=0.0, stddev=0.5, seed=self.seed))
        if self.weighting_init == "learned":
            # Random, not zero: with a constant memory every location looks
            # the same, and uniform initial weightings would then stay
            # uniform for ever (content, interpolation, shift and sharpening
            # all keep a uniform weighting uniform, and the gradients are
            # symmetric too). Collier & Beel's learned init is random too.
            self.initial_weighting_logits = self.add_weight(
                shape=(self.num_heads, N), name="initial_weighting_logits",
                initializer=initializers.GlorotUniform(seed=self.seed))
        elif self.weighting_init == "random":
            self.initial_weighting_logits = self.add_weight(
                shape=(self.num_heads, N), name="initial_weighting_logits",
                trainable=False,
                initializer=initializers.RandomNormal(
                    stddev=1.0, seed=None if self.seed is None
                    else self.seed + 1))
        self.input_spec = InputSpec(min_ndim=2, axes={-1: input_dim})
        self.built = True

    # State -----------------------------------------------------------------

    def unpack_state(self, states):
        """The flat state list as an `NTMState` with the documented shapes."""
        states = list(states)
        n = len(self.controller_state_size)
        memory, reads, read_w, write_w = states[n:]
        N, W = self.memory_size, self.word_size
        return NTMState(
            controller=states[:n],
            memory=ops.reshape(memory, (-1, N, W)),
            read_vectors=ops.reshape(reads, (-1, self.num_read_heads, W)),
            read_weightings=ops.reshape(
                read_w, (-1, self.num_read_heads, N)),
            write_weightings=ops.reshape(
                write_w, (-1, self.num_write_heads, N)),
        )

    def initial_memory_and_weightings(self):
        """`(M_0 [N, W], w_0 [R + H, N])` in the working dtype (float32)."""
        dtype = work_dtype(self.compute_dtype)
        N, W = self.memory_size, self.word_size
        if self.memory_init == "constant":
            memory = ops.full((N, W), MEMORY_CONSTANT, dtype=dtype)
        else:
            memory = ops.cast(self.initial_memory, dtype)
        if self.weighting_init == "constant":
            weights = ops.one_hot(
                ops.zeros((self.num_heads,), "int32"), N, dtype=dtype)
        else:
            logits = ops.cast(self.initial_weighting_logits, dtype)
            weights = ops.softmax(logits, axis=-1)
        return memory, weights

    def get_initial_state(self, batch_size=None):
        if self.recurrent_controller:
            controller_states = self.controller.get_initial_state(
                batch_size=batch_size)
            if not isinstance(controller_states, (list, tuple)):
                controller_states = [controller_states]
            controller_states = list(controller_states)
        else:
            controller_states = []
        memory, weights = self.initial_memory_and_weightings()
        R = self.num_read_heads
        reads = ops.matmul(weights[:R], memory)  # r_0 = Σ_j w^r_0(j) M_0(j)
        flat = [ops.reshape(memory, (1, -1)), ops.reshape(reads, (1, -1)),
                ops.reshape(weights[:R], (1, -1)),
                ops.reshape(weights[R:], (1, -1))]
        flat = [
            ops.cast(ops.tile(f, (batch_size, 1)), self.compute_dtype)
            for f in flat
        ]
        return controller_states + flat

    # The step ----------------------------------------------------------------

    def call(self, inputs, states, training=False):
        inputs = ops.cast(inputs, self.compute_dtype)
        states = list(states)
        n = len(self.controller_state_size)
        state_dtypes = [s.dtype for s in states[n:]]
        prev = self.unpack_state(states)
        dtype = work_dtype(self.compute_dtype)
        R, H, W = self.num_read_heads, self.num_write_heads, self.word_size

        # Controller, fed the input and the previous reads.
        reads_tm1 = ops.reshape(
            ops.cast(prev.read_vectors, inputs.dtype), (-1, R * W))
        controller_input = ops.concatenate([inputs, reads_tm1], axis=-1)
        if self.recurrent_controller:
            h, controller_states = call_cell(
                self.controller, controller_input, prev.controller,
                training=training)
            if not isinstance(controller_states, (list, tuple)):
                controller_states = [controller_states]
            controller_states = list(controller_states)
        else:
            h = self.controller(controller_input, training=training)
            controller_states = []
        if self.gradient_clip_value is not None:
            h = _clip_gradient(h, self.gradient_clip_value)

        # Head parameters from one projection, then in float32.
        params = (ops.matmul(h, ops.cast(self.head_kernel, h.dtype))
                  + ops.cast(self.head_bias, h.dtype))
        params = self._clip(ops.cast(params, dtype))
        head_params = ops.reshape(
            params[:, : self.num_heads * self.head_size],
            (-1, self.num_heads, self.head_size))
        S = 2 * self.shift_range + 1
        keys = ops.tanh(head_params[:, :, :W])
        strengths = ops.softplus(head_params[:, :, W])
        gates = ops.sigmoid(head_params[:, :, W + 1])
        shifts = ops.softmax(head_params[:, :, W + 2 : W + 2 + S], axis=-1)
        gammas = 1.0 + ops.softplus(head_params[:, :, W + 2 + S])
        erase_add = ops.reshape(
            params[:, self.num_heads * self.head_size :], (-1, H, 2, W))
        erase = ops.sigmoid(erase_add[:, :, 0])
        add = ops.tanh(erase_add[:, :, 1])

        # Addressing, reading and writing (eqs. 2-9), on M_{t−1}.
        memory_tm1 = ops.cast(prev.memory, dtype)
        weights_tm1 = ops.cast(ops.concatenate(
            [prev.read_weightings, prev.write_weightings], axis=1), dtype)
        weights = addressing.address(
            memory_tm1, weights_tm1, keys, strengths, gates, shifts, gammas)
        read_weights, write_weights = weights[:, :R], weights[:, R:]
        reads = addressing.read(memory_tm1, read_weights)
        memory = addressing.write(memory_tm1, write_weights, erase, add)

        # Output: a learned projection of [h_t, r_t].
        reads_flat = ops.reshape(reads, (-1, R * W))
        output = ops.matmul(
            ops.concatenate([h, ops.cast(reads_flat, h.dtype)], axis=-1),
            ops.cast(self.output_kernel, h.dtype)) + ops.cast(
                self.output_bias, h.dtype)
        output = self._clip(output)

        N = self.memory_size
        new = [ops.reshape(memory, (-1, N * W)), reads_flat,
               ops.reshape(read_weights, (-1, R * N)),
               ops.reshape(write_weights, (-1, H * N))]
        new = [ops.cast(s, d) for s, d in zip(new, state_dtypes)]
        return output, controller_states + new

    def _clip(self, x):
        if self.clip_value is None:
            return x
        return ops.clip(x, -self.clip_value, self.clip_value)

    def get_config(self):
        config = {
            "controller": keras.saving.serialize_keras_object(self.controller),
            "memory_size": self.memory_size,
            "word_size": self.word_size,
            "num_read_heads": self.num_read_heads,
            "num_write_heads": self.num_write_heads,
            "shift_range": self.shift_range,
            "units": self.units,
            "memory_init": self.memory_init,
            "weighting_init": self.weighting_init,
            "clip_value": self.clip_value,
            "gradient_clip_value": self.gradient_clip_value,
            "kernel_initializer": initializers.serialize(
                self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "seed": self.seed,
        }
        return {**super().get_config(), **config}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["controller"] = keras.saving.deserialize_keras_object(
            config["controller"])
        return cls(**config)


class _WeightsReadOnce(keras.StatelessScope):
    """Inside, the variables of `state_mapping` read as the given tensors
    (values read once, outside a loop); every other variable reads as
    usual, and assignments happen (a dropout seed, a moving average), or
    go to an enclosing stateless scope, as they would without this one.
    Losses are collected only if an enclosing scope collects them."""

    def __init__(self, state_mapping):
        super().__init__(state_mapping=state_mapping)
        self.mapped = set(self.state_mapping)

    def __enter__(self):
        result = super().__enter__()
        outer = self.original_scope
        self.collect_losses = bool(outer is not None and outer.collect_losses)
        return result

    def get_current_value(self, variable):
        value = super().get_current_value(variable)
        if value is None and self.original_scope is not None:
            value = self.original_scope.get_current_value(variable)
        return value

    def add_loss(self, loss):
        self.original_scope.add_loss(loss)

    def add_update(self, update):
        variable, value = update
        if id(variable) in self.mapped:
            super().add_update(update)
        if self.original_scope is not None:
            self.original_scope.add_update(update)
            return
        # No enclosing stateless scope: assign the variable for real.
        self.__exit__()
        try:
            variable.assign(value)
        finally:
            self.__enter__()


_CELL_ARGS = (
    "num_read_heads", "num_write_heads", "shift_range", "units",
    "memory_init", "weighting_init", "clip_value", "gradient_clip_value",
    "kernel_initializer", "bias_initializer", "seed",
)


@keras.saving.register_keras_serializable(package="keras_seqmem")
class NTM(keras.layers.RNN):
    """Neural Turing Machine layer: `keras.layers.RNN(NTMCell(...))`, plus
    the read and write weightings over time.

    Takes every argument of `NTMCell` (see there for the equations, weights,
    state layout and initialisation modes) and of `keras.layers.RNN`:
    `return_sequences`, `return_state`, `go_backwards`, `stateful`,
    `unroll`, `zero_output_for_mask`. Between steps the memory, read vectors
    and weightings are carried in float32 (float64 in a float64 layer)
    whatever the compute dtype; otherwise it computes what
    `keras.layers.RNN(NTMCell(...))` computes with the same weights. The
    cell's arguments are readable on the layer (`ntm.memory_size`,
    `ntm.controller`, ...), as `keras.layers.LSTM` has `units`.

    With `return_sequences=False` and `return_weightings=False` only the
    last output is kept through the loop (memory O(1) in the sequence
    length, not O(T)).

    With `stateful=True` (as `keras.layers.RNN`): the final states of a
    batch (controller states, memory, reads, weightings) are the initial
    states of the next; the batch size must be fixed
    (`keras.Input(batch_shape=(batch, timesteps, features))`) and every
    batch must have it; `reset_states()` goes back to the initial state
    (the initial memory and weightings, not zeros). The states are not
    saved with the model (as in Keras); a loaded model starts from the
    initial state.

    Args:
        return_weightings: If True, also return the read weightings
            `(batch, timesteps, num_read_heads, memory_size)` and the write
            weightings `(batch, timesteps, num_write_heads, memory_size)` of
            every step (float32), after the outputs and states. Masked steps
            repeat the previous step's weightings (masked steps before the
            first valid one give zeros, as Keras' outputs do); with
            `go_backwards` the steps are in processing (reversed) order, as
            the outputs.

    Call arguments:
        sequences: `(batch, timesteps, features)`.
        initial_state: Optional flat state list (`cell.get_initial_state`).
        mask: Optional `(batch, timesteps)` boolean mask; masked steps keep
            the previous state and output.
        training: Passed to the controller.

    Returns `output` (`(batch, units)`, or `(batch, timesteps, units)` with
    `return_sequences=True`), then the final states with
    `return_state=True`, then `read_weightings, write_weightings` with
    `return_weightings=True`.

    Example:

    ```python
    import numpy as np
    import keras_seqmem

    ntm = keras_seqmem.NTM(controller=32, memory_size=16, word_size=8,
                           units=4, return_sequences=True,
                           return_weightings=True)
    y, read_w, write_w = ntm(np.zeros((2, 5, 3), "float32"))
    print(y.shape, read_w.shape, write_w.shape)
    # (2, 5, 4) (2, 5, 1, 16) (2, 5, 1, 16)
    ```
    """

    def __init__(
        self,
        controller=None,
        memory_size=128,
        word_size=20,
        return_weightings=False,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        zero_output_for_mask=False,
        **kwargs,
    ):
        cell_kwargs = {k: kwargs.pop(k) for k in _CELL_ARGS if k in kwargs}
        if "dtype" in kwargs:
            cell_kwargs["dtype"] = kwargs["dtype"]
        if "name" in kwargs:
            cell_kwargs["name"] = f"{kwargs['name']}_cell"
        else:
            cell_kwargs["name"] = "ntm_cell"
        cell = NTMCell(controller, memory_size, word_size, **cell_kwargs)
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            zero_output_for_mask=zero_output_for_mask,
            **kwargs,
        )
        self.return_weightings = bool(return_weightings)
        self.input_spec = InputSpec(ndim=3)

    def build(self, sequences_shape, initial_state_shape=None):
        _validation.check_sequence_shape(sequences_shape, self.name)
        check_stateful_build(self, sequences_shape)
        super().build(sequences_shape, initial_state_shape)
        self.input_spec = InputSpec(ndim=3, axes={-1: sequences_shape[-1]})

    def reset_state(self):
        """Sets the states of a stateful NTM back to the initial state
        (`cell.get_initial_state`: the initial memory, weightings and reads,
        from the current values of learned ones), not to zeros."""
        reset_to_initial_state(self)

    def reset_states(self):
        """Alias of `reset_state`, as in Keras."""
        self.reset_state()

    def call(self, sequences, initial_state=None, mask=None, training=False):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        cell = self.cell
        if initial_state is None:
            if self.stateful:
                initial_state = stateful_states(self, sequences)
            else:
                initial_state = cell.get_initial_state(
                    batch_size=ops.shape(sequences)[0])
        if not isinstance(initial_state, (list, tuple)):
            initial_state = [initial_state]
        n = len(cell.controller_state_size)
        work = work_dtype(cell.compute_dtype)
        initial_state = [
            ops.cast(s, cell.compute_dtype if i < n else work)
            for i, s in enumerate(initial_state)
        ]
        R, H, N = cell.num_read_heads, cell.num_write_heads, cell.memory_size
        units = cell.output_size
        kwargs = {"training": training}
        # TensorFlow: the cell's trainable weights are read once, here,
        # outside the loop, and the step reads these values (a
        # `_WeightsReadOnce` scope). A weight read inside the loop body is a
        # new tensor at every step, which TensorFlow's gradient of the while
        # loop keeps per step (the controller's and projections' kernels
        # copied 41 times into stacks and back, for T = 41); read outside,
        # it is a loop constant and its gradient is summed over the steps.
        # (JAX's scan already treats the weights as constants.)
        weight_values = None
        if keras.backend.backend() == "tensorflow":
            weight_values = [(v, ops.copy(v)) for v in cell.trainable_weights]

        def step(inputs, states):
            if weight_values is None:
                output, new_states = cell(inputs, states, **kwargs)
            else:
                with _WeightsReadOnce(weight_values):
                    output, new_states = cell(inputs, states, **kwargs)
            if self.return_weightings:
                output = ops.concatenate(
                    [ops.cast(output, work)] + [
                        ops.cast(s, work) for s in new_states[-2:]], axis=-1)
            return output, new_states

        if training and cell.recurrent_controller:
            # The controller's dropout masks, once per sequence; its input
            # is [x_t, r_{t-1}].
            prepare_dropout_masks(
                cell.controller,
                ops.zeros((ops.shape(sequences)[0],
                           sequences.shape[-1] + R * cell.word_size),
                          cell.compute_dtype),
                initial_state[:n])
        try:
            last, outputs, states = run_layer_rnn(
                self, step, sequences, initial_state, mask,
                return_all_outputs=(self.return_sequences
                                    or self.return_weightings))
        finally:
            if cell.recurrent_controller:
                reset_dropout_masks(cell.controller)
        if self.stateful:
            keep_states(self, states)
        extra = []
        if self.return_weightings:
            read_w = ops.reshape(outputs[..., units : units + R * N],
                                 (ops.shape(outputs)[0], -1, R, N))
            write_w = ops.reshape(outputs[..., units + R * N :],
                                  (ops.shape(outputs)[0], -1, H, N))
            extra = [read_w, write_w]
            outputs = outputs[..., :units]
            last = last[..., :units]
        output = outputs if self.return_sequences else last
        output = ops.cast(output, self.compute_dtype)
        result = [output]
        if self.return_state:
            result += [ops.cast(s, self.compute_dtype) for s in states]
        result += extra
        if len(result) == 1:
            return output
        return tuple(result)

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        batch, steps = sequences_shape[0], sequences_shape[1]
        units = self.cell.output_size
        if self.return_sequences:
            output = (batch, steps, units)
        else:
            output = (batch, units)
        result = [output]
        if self.return_state:
            result += [(batch, s) for s in self.cell.state_size]
        if self.return_weightings:
            cell = self.cell
            result += [
                (batch, steps, cell.num_read_heads, cell.memory_size),
                (batch, steps, cell.num_write_heads, cell.memory_size),
            ]
        return output if len(result) == 1 else tuple(result)

    def compute_mask(self, _, mask):
        extra = (len(self.cell.state_size) if self.return_state else 0) + (
            2 if self.return_weightings else 0)
        return sequence_output_mask(mask, self.return_sequences, extra)

    def get_config(self):
        config = super().get_config()
        cell_config = config.pop("cell")["config"]
        for key in ("name", "dtype", "trainable"):
            cell_config.pop(key, None)
        return {**config, **cell_config,
                "return_weightings": self.return_weightings}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        controller = config.pop("controller")
        if isinstance(controller, dict):
            controller = keras.saving.deserialize_keras_object(controller)
        return cls(controller=controller, **config)


# `ntm.memory_size`, `ntm.controller`, ...: the cell's arguments, read-only.
mirror_cell_arguments(NTM, NTMCell)
