"""Monotonic attention (Raffel et al. 2017), as tfa.seq2seq's.

Raffel, Luong, Liu, Weiss & Eck, "Online and Linear-Time Attention by
Enforcing Monotonic Alignments", ICML 2017, eq. (3)-(9); the three modes,
the clipping and the initial alignment are those of
`tfa.seq2seq.monotonic_attention` / `safe_cumprod` / `_monotonic_probability_fn`
(tensorflow_addons 0.23, seq2seq/attention_wrapper.py).
"""

import keras
import numpy as np
from keras import ops

from keras_seqmem import _loop
from keras_seqmem import _validation
from keras_seqmem._ops import work_dtype
from keras_seqmem.attention.bahdanau import AdditiveScore
from keras_seqmem.attention.luong import MultiplicativeScore

MODES = ("parallel", "recursive", "hard")


def _exclusive(cumulative, first):
    """[first, c_0, ..., c_{T-2}]: an exclusive cumulative op along axis 1
    from the inclusive one."""
    return ops.concatenate(
        [ops.ones_like(cumulative[:, :1]) * first, cumulative[:, :-1]], axis=1
    )


def safe_cumprod(x):
    """Exclusive cumulative product along axis 1, in log space:
    `exp(exclusive_cumsum(log(clip(x, tiny, 1))))`, tiny the dtype's
    smallest normal number (tfa's `safe_cumprod(x, axis=1, exclusive=True)`)."""
    tiny = float(np.finfo(keras.backend.standardize_dtype(x.dtype)).tiny)
    logs = ops.log(ops.clip(x, tiny, 1.0))
    return ops.exp(_exclusive(ops.cumsum(logs, axis=1), 0.0))


def monotonic_attention(p_choose, previous_attention, mode):
    """The alignment `α_i` from the choosing probabilities `p_i` and the
    previous alignment `α'`, both `(batch, T_v)`:

        recursive   q_i = (1 − p_{i−1}) q_{i−1} + α'_i  (q_{−1} = 0, p_{−1} = 0),
                    α_i = p_i q_i                 (a loop over i: `_loop.rnn`)
        parallel    c_i = Π_{k<i} (1 − p_k)              (safe_cumprod)
                    α_i = p_i c_i Σ_{k≤i} α'_k / clip(c_k, 1e-10, 1)
        hard        p_i ← p_i Σ_{k≤i} α'_k,  α_i = p_i Π_{k<i} (1 − p_k)
                    (p ∈ {0, 1}: the first chosen position at or after the
                    previous one)

    as `tfa.seq2seq.monotonic_attention(p_choose_i, previous_attention,
    mode)`."""
    if mode == "recursive":
        shifted = _exclusive(1.0 - p_choose, 1.0)

        def step(inputs, states):
            # inputs: (batch, 2) = [1 − p_{j−1}, α'_j]; states: [q_{j−1}].
            q = inputs[:, 0] * states[0] + inputs[:, 1]
            return q, [q]

        # keras_seqmem's loop over the memory positions (XLA compiles it and
        # its gradient on TensorFlow, as every recurrent layer's).
        _, q, _ = _loop.rnn(
            step,
            ops.stack([shifted, previous_attention], axis=-1),
            [ops.zeros_like(p_choose[:, 0])],
        )
        return p_choose * q
    if mode == "parallel":
        cumprod_1mp = safe_cumprod(1.0 - p_choose)
        return (
            p_choose
            * cumprod_1mp
            * ops.cumsum(
                previous_attention / ops.clip(cumprod_1mp, 1e-10, 1.0), axis=1
            )
        )
    if mode == "hard":
        p_choose = p_choose * ops.cumsum(previous_attention, axis=1)
        return p_choose * _exclusive(ops.cumprod(1.0 - p_choose, axis=1), 1.0)
    raise ValueError(f"mode must be one of {MODES}, got mode={mode!r}.")


class MonotonicMixin:
    """The monotonic probability function and state: `p_i = σ(e_i + r +
    noise)` (hard mode: `p_i = [e_i + r + noise > 0]`), masked positions
    `p_i = 0`, then `monotonic_attention(p, previous alignment, mode)`."""

    stateful_attention = True

    def _init_monotonic(self, sigmoid_noise, score_bias_init, mode, seed):
        if mode not in MODES:
            raise ValueError(
                f"Layer '{self.name}': argument `mode` expected one of "
                f"{', '.join(repr(m) for m in MODES)}, got mode={mode!r}."
            )
        self.mode = mode
        self.sigmoid_noise = float(
            _validation.check_at_least(sigmoid_noise, 0.0, "sigmoid_noise",
                                       self.name)
        )
        self.score_bias_init = float(
            _validation.check_at_least(score_bias_init, -np.inf,
                                       "score_bias_init", self.name)
        )
        self.seed = seed
        if self.sigmoid_noise > 0:
            self.seed_generator = keras.random.SeedGenerator(seed)

    def _build_offset(self):
        self.score_offset = self.add_weight(
            name="score_offset",
            shape=(),
            initializer=keras.initializers.Constant(self.score_bias_init),
        )

    def get_initial_state(self, values):
        """The alignment before the first query: one-hot on the first memory
        position, `(batch, T_v)`, float32 (float64 for a float64 layer)."""
        position = ops.cumsum(ops.ones_like(values[:, :, 0], dtype="int32"),
                              axis=1)
        return ops.cast(ops.equal(position, 1), work_dtype(self.compute_dtype))

    def _alignments(self, scores, value_mask, state, query_mask, training):
        dtype = work_dtype(self.compute_dtype)
        if state is None:
            raise ValueError(
                f"Layer '{self.name}': expected a state (the previous "
                f"alignment, get_initial_state(values) at the first query), "
                f"got None."
            )
        scores = ops.cast(scores, dtype) + ops.cast(self.score_offset, dtype)
        if self.sigmoid_noise > 0 and training:
            scores = scores + self.sigmoid_noise * keras.random.normal(
                ops.shape(scores), dtype=dtype, seed=self.seed_generator
            )
        if self.mode == "hard":
            p_choose = ops.cast(scores > 0, dtype)
        else:
            p_choose = ops.sigmoid(scores)
        if value_mask is not None:
            p_choose = p_choose * ops.cast(value_mask, dtype)
        state = ops.cast(state, dtype)
        if len(p_choose.shape) == 2:
            alignment = monotonic_attention(p_choose, state, self.mode)
            return alignment, alignment
        # A query sequence: the recursion over its T_q steps; a masked query
        # step leaves the state as it was.
        if query_mask is None:
            query_mask = ops.ones_like(p_choose[:, :, 0], dtype="bool")

        def step(inputs, states):
            # inputs: (batch, T_v + 1), p_t then whether the step is real.
            p_t, keep = inputs[:, :-1], inputs[:, -1:] > 0.5
            alignment = monotonic_attention(p_t, states[0], self.mode)
            return alignment, [ops.where(keep, alignment, states[0])]

        steps = ops.concatenate(
            [p_choose, ops.cast(query_mask, dtype)[:, :, None]], axis=-1
        )
        _, alignments, (last,) = _loop.rnn(step, steps, [state])
        return alignments, last

    def _monotonic_config(self):
        return {
            "sigmoid_noise": self.sigmoid_noise,
            "score_bias_init": self.score_bias_init,
            "mode": self.mode,
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package="keras_seqmem")
class BahdanauMonotonicAttention(MonotonicMixin, AdditiveScore):
    """Monotonic attention with Bahdanau's score, as tfa's.

    For a query `q_t` (one output step), memory keys `k_j` / values `v_j`
    and the previous alignment `α_{t−1}` (the mechanism's state; before the
    first query, one-hot on the first memory position):

        e_j = score_kernelᵀ tanh(q_t · query_kernel + k_j · key_kernel)
              (normalize=True: as BahdanauAttention's weight-normalised score)
        p_j = σ(e_j + score_offset + N(0, sigmoid_noise²))   (hard: [· > 0])
              p_j = 0 at masked positions
        α_t = monotonic_attention(p, α_{t−1}, mode)   (see that function)
        context = Σ_j α_{t,j} v_j

    This is `tfa.seq2seq.BahdanauMonotonicAttention` (Raffel et al. 2017):
    the weights are `BahdanauAttention`'s plus the scalar `score_offset`
    (tfa's `attention_score_bias`, initialised to `score_bias_init`). A
    query sequence `(batch, T_q, d_q)` runs the recursion over its steps
    (a masked query step keeps the previous alignment). The alignments need
    not sum to 1: the rest is the probability of attending to nothing.

    Unlike tfa, the pre-sigmoid noise is added in training only (tfa added
    it whenever `sigmoid_noise > 0`, and asked users to set it to 0 at test
    time).

    Weights: `query_kernel (d_q, units)`, `key_kernel (d_k, units)`,
    `score_kernel (units,)`, `score_offset ()`; with `normalize`, also
    `score_gain ()` and `score_bias (units,)`.

    State (the attention protocol, `AttentionMechanism`):
    `get_initial_state(values)` is the one-hot alignment `(batch, T_v)`;
    `attend(query, processed_keys, values, value_mask, training,
    state=previous_alignment)` returns `(context, weights, alignment)`.

    Args:
        units: Size of the hidden layer of the score.
        normalize: Weight-normalise `score_kernel` (as `BahdanauAttention`).
        sigmoid_noise: Standard deviation of the pre-sigmoid noise, in
            training only (Raffel et al. use 1 to push `p` to 0 or 1).
        score_bias_init: Initial `score_offset` (negative for long memories,
            so that attention does not move on too soon).
        mode: `"parallel"` (closed form, default), `"recursive"` (exact, a
            scan over the memory) or `"hard"` (p in {0, 1}; no gradient
            reaches the score).
        seed: Seed of the noise.
        kernel_initializer, score_initializer, kernel_regularizer,
        score_regularizer, kernel_constraint, score_constraint: As
            `BahdanauAttention`'s.
        **kwargs: Base `Layer` arguments (`name`, `dtype`, ...).

    Call arguments, returns: as `BahdanauAttention`'s (from the initial
    state).
    """

    def __init__(
        self,
        units,
        normalize=False,
        sigmoid_noise=0.0,
        score_bias_init=0.0,
        mode="parallel",
        seed=None,
        kernel_initializer="glorot_uniform",
        score_initializer="glorot_uniform",
        kernel_regularizer=None,
        score_regularizer=None,
        kernel_constraint=None,
        score_constraint=None,
        **kwargs,
    ):
        super().__init__(
            units,
            normalize=normalize,
            kernel_initializer=kernel_initializer,
            score_initializer=score_initializer,
            kernel_regularizer=kernel_regularizer,
            score_regularizer=score_regularizer,
            kernel_constraint=kernel_constraint,
            score_constraint=score_constraint,
            **kwargs,
        )
        self._init_monotonic(sigmoid_noise, score_bias_init, mode, seed)

    def build(self, input_shape):
        super().build(input_shape)
        self._build_offset()

    def get_config(self):
        return {**super().get_config(), **self._monotonic_config()}


@keras.saving.register_keras_serializable(package="keras_seqmem")
class LuongMonotonicAttention(MonotonicMixin, MultiplicativeScore):
    """Monotonic attention with Luong's score, as tfa's.

    As `BahdanauMonotonicAttention`, with `LuongAttention`'s score:

        e_j = q_t · (k_j · key_kernel)        (scale=True: times score_gain)
        p_j = σ(e_j + score_offset + N(0, sigmoid_noise²))   (hard: [· > 0])
        α_t = monotonic_attention(p, α_{t−1}, mode)
        context = Σ_j α_{t,j} v_j

    This is `tfa.seq2seq.LuongMonotonicAttention`. The query must have
    `units` features.

    Weights: `key_kernel (d_k, units)`, `score_offset ()`; with `scale`,
    `score_gain ()` (starts at 1).

    Args:
        units: Depth of the projected keys, which must equal the query's.
        scale: Multiply the score by a learned scalar (initialised to 1).
        sigmoid_noise, score_bias_init, mode, seed: As
            `BahdanauMonotonicAttention`'s.
        kernel_initializer, kernel_regularizer, kernel_constraint: Of
            `key_kernel`.
        **kwargs: Base `Layer` arguments (`name`, `dtype`, ...).
    """

    def __init__(
        self,
        units,
        scale=False,
        sigmoid_noise=0.0,
        score_bias_init=0.0,
        mode="parallel",
        seed=None,
        kernel_initializer="glorot_uniform",
        kernel_regularizer=None,
        kernel_constraint=None,
        **kwargs,
    ):
        super().__init__(
            units,
            scale=scale,
            kernel_initializer=kernel_initializer,
            kernel_regularizer=kernel_regularizer,
            kernel_constraint=kernel_constraint,
            **kwargs,
        )
        self._init_monotonic(sigmoid_noise, score_bias_init, mode, seed)

    def build(self, input_shape):
        super().build(input_shape)
        self._build_offset()

    def get_config(self):
        return {**super().get_config(), **self._monotonic_config()}
