"""Decoding for any step function: greedy, beam search, sampling.

Every decoder drives a user's step function

    step(tokens, state) -> (logits, state)
    step(tokens, state) -> (logits, state, alignments)

`tokens` int32 `(batch,)` (the previous output, `start_tokens` first),
`state` any nest of `(batch, ...)` tensors (an RNN decoder's states, a
Transformer's key/value cache, ...), `logits` `(batch, vocab)`, and the
optional `alignments` `(batch, source_length)` (attention weights, for the
coverage penalty and for `return_alignments`). It may be a plain function,
a Keras layer's method or a `keras.Model` call; anything it closes over with
a batch axis must be tiled with `tile_batch(x, beam_width)` for beam search
(or put in the state, which is reordered every step).

The decoders (keras-hub's samplers in spirit, tfa.seq2seq's roles):

    Greedy()                          argmax at every step
    BeamSearch(beam_width, length_penalty, coverage_penalty)
    Sampling(temperature, top_k, top_p, seed)

each called as `decoder(step, start_tokens, initial_state, end_token=...,
max_length=...)`. The first step runs before the loop (it fixes the
vocabulary and alignment sizes); the others run in one `keras.ops.while_loop`
whose tensors all have static shapes, which stops early once every sequence
has emitted `end_token`. So a whole decode compiles into one XLA function
(`tf.function(jit_compile=True)`, `jax.jit`). Per-step outputs are written
into preallocated `(max_length, batch, ...)` buffers with
`keras.ops.scatter_update` (one row per step; `TensorScatterUpdate` on
TensorFlow, a standard op that SavedModels keep), and beam search keeps
parent pointers and backtracks once at the end (`gather_tree`), so a step
costs O(beam x vocabulary) of decoder bookkeeping whatever the length (the
step function's own cost, e.g. attention over a cache, is the user's).

Beam search scores (Wu et al. 2016, GNMT; tfa's `BeamSearchDecoder`):

    score(y) = log P(y) / lp(|y|) + beta * cp(y) * [y finished]
    lp(l)    = ((5 + l) / 6) ** alpha
    cp(y)    = sum_j log(min(sum_t a_tj, 1))   (terms with sum_t a_tj = 0
                                                count as 0: padded sources)

`log P(y)` sums the tokens' log-softmax up to and including `end_token`,
`|y|` counts the tokens including `end_token`, `a_t` are the step's
alignments; a finished hypothesis continues only with `end_token` at
log-probability 0 and keeps its score. See docs/pages/decoding.md for the
differences from tfa.
"""

import collections
import numbers

import keras
from keras import ops
from keras import tree

_NEG_INF = -1e9  # finite, so that -inf - -inf never makes a NaN

DecodeResult = collections.namedtuple(
    "DecodeResult",
    ["ids", "scores", "log_probs", "lengths", "alignments", "state"],
)
DecodeResult.__doc__ = """What the decoders return.

Shapes are `(batch, [beam_width,] ...)`: greedy decoding and sampling have
no beam axis; beams are sorted best first.

Attributes:
    ids: int32 `(batch, [beam,] max_length)`: the tokens, `end_token`
        included, `pad_token` after it.
    scores: float32 `(batch, [beam])`: the ranking score (beam search:
        `log P / lp + beta * cp`); `log_probs` for greedy and sampling.
    log_probs: float32 `(batch, [beam])`: sum of the tokens' log-softmax of
        the step's logits (untempered, unfiltered for sampling), `end_token`
        included.
    lengths: int32 `(batch, [beam])`: number of tokens, `end_token` included
        (`max_length` where it never came).
    alignments: float32 `(batch, [beam,] max_length, source_length)`: the
        step's alignments at each step (zero after the end), or None unless
        `return_alignments=True`.
    state: the state after the last step run, rows (beams) in the order of
        `ids`. Rows that finished earlier kept running, fed `end_token`.
"""


# -- helpers ------------------------------------------------------------------


def tile_batch(tensors, multiplier):
    """Repeats every tensor of a nest `multiplier` times on axis 0.

    `(batch, ...) -> (batch * multiplier, ...)` with the copies of one
    example next to each other (`t[0], t[0], ..., t[1], ...`), the layout of
    `BeamSearch`'s rows; as `tfa.seq2seq.tile_batch`. None entries stay None.
    """
    if (
        isinstance(multiplier, bool)
        or not isinstance(multiplier, numbers.Integral)
        or multiplier < 1
    ):
        raise ValueError(
            f"tile_batch expected `multiplier` to be a positive int, got "
            f"multiplier={multiplier!r}."
        )
    return tree.map_structure(
        lambda t: None if t is None else ops.repeat(t, int(multiplier), axis=0),
        tensors,
    )


def length_penalty(lengths, alpha):
    """GNMT's `lp(l) = ((5 + l) / 6) ** alpha`, float32 (1 when alpha = 0)."""
    lengths = ops.cast(lengths, "float32")
    if float(alpha) == 0.0:
        return ops.ones_like(lengths)
    return ops.power((5.0 + lengths) / 6.0, float(alpha))


def coverage_penalty(accumulated_alignments):
    """`cp = sum_j log(min(A_j, 1))` over the last axis, `A_j = sum_t a_tj`.

    Positions never attended (`A_j = 0`, e.g. padding) count as 0, as tfa's
    `BeamSearchDecoder` does. Always <= 0.
    """
    acc = ops.cast(accumulated_alignments, "float32")
    acc = ops.where(acc == 0.0, 1.0, acc)
    return ops.sum(ops.log(ops.minimum(acc, 1.0)), axis=-1)


def backtrack(parent_ids, lengths):
    """The beam each final hypothesis occupied at every step.

    Args:
        parent_ids: int `(max_time, batch, beam)`: the beam (at step t - 1)
            each beam of step t extends.
        lengths: int `(batch,)`: steps to follow back per example; at
            `t >= lengths[b]` the result is the beam itself.

    Returns:
        int32 `(max_time, batch, beam)` `ancestors` with
        `ancestors[t, b, k]` the beam at step t of the hypothesis that is
        beam k at step `lengths[b] - 1`: gathering any per-step
        `(max_time, batch, beam, ...)` record with it (`take_along_axis` on
        axis 2) lines it up with the final beams (tfa's
        `gather_tree_from_array`).
    """
    parent_ids = ops.cast(parent_ids, "int32")
    lengths = ops.cast(lengths, "int32")
    beam = parent_ids.shape[2]
    max_time = parent_ids.shape[0]
    batch = ops.shape(parent_ids)[1]
    beams = ops.broadcast_to(
        ops.arange(beam, dtype="int32")[None, :], (batch, beam)
    )

    def back(current, inputs):
        parents_t, t = inputs
        valid = (t < lengths)[:, None]
        previous = ops.where(
            valid, ops.take_along_axis(parents_t, current, axis=1), current
        )
        return previous, current

    _, ancestors = ops.scan(
        back,
        beams,
        (parent_ids, ops.arange(max_time, dtype="int32")),
        reverse=True,
    )
    return ancestors


def gather_tree(step_ids, parent_ids, max_sequence_lengths, end_token):
    """Follows parent pointers back to whole sequences, as tfa's `gather_tree`.

    Args:
        step_ids: int `(max_time, batch, beam)`: the token each beam chose.
        parent_ids: int `(max_time, batch, beam)`: the beam it extended.
        max_sequence_lengths: int `(batch,)`: steps that were run per example.
        end_token: int.

    Returns:
        int32 `(max_time, batch, beam)`: `out[t, b, k]` is the t-th token of
        final beam k; `end_token` at `t >= max_sequence_lengths[b]` and after
        the first `end_token` of each sequence. Unlike tfa's kernel, which
        raises on a parent id outside `[0, beam)`, such ids are not checked
        (the backends clamp or fail in their own way).
    """
    step_ids = ops.cast(step_ids, "int32")
    lengths = ops.cast(max_sequence_lengths, "int32")
    ancestors = backtrack(parent_ids, lengths)
    out = ops.take_along_axis(step_ids, ancestors, axis=2)
    times = ops.arange(step_ids.shape[0], dtype="int32")[:, None, None]
    out = ops.where(times < lengths[None, :, None], out, end_token)
    return _after_end(out, end_token, axis=0)


def _after_end(ids, end_token, axis, fill=None):
    """`fill` (default `end_token`) after the first `end_token` on `axis`."""
    is_end = ops.cast(ids == end_token, "int32")
    ended_before = (ops.cumsum(is_end, axis=axis) - is_end) > 0
    return ops.where(ended_before, end_token if fill is None else fill, ids)


def _write(buffer, t, value):
    """`buffer[t] = value`: one row of a `(max_length, ...)` buffer."""
    index = ops.reshape(ops.cast(t, "int32"), (1, 1))
    return ops.scatter_update(
        buffer, index, ops.expand_dims(ops.cast(value, buffer.dtype), 0)
    )


def _call_step(step, tokens, state, who):
    outputs = step(tokens, state)
    if not isinstance(outputs, (tuple, list)) or len(outputs) not in (2, 3):
        raise ValueError(
            f"{who}: `step(tokens, state)` must return `(logits, state)` or "
            f"`(logits, state, alignments)`, got {type(outputs).__name__}"
            + (f" of length {len(outputs)}"
               if isinstance(outputs, (tuple, list)) else "")
            + "."
        )
    logits, new_state = outputs[0], outputs[1]
    alignments = outputs[2] if len(outputs) == 3 else None
    if len(logits.shape) != 2 or logits.shape[-1] is None:
        raise ValueError(
            f"{who}: `step` must return logits of shape (batch, vocab) with a "
            f"known vocab size, got shape {tuple(logits.shape)}."
        )
    if alignments is not None and len(alignments.shape) != 2:
        raise ValueError(
            f"{who}: `step`'s alignments must have shape (batch, "
            f"source_length), got shape {tuple(alignments.shape)}."
        )
    new_state = _like(new_state, state, who)
    return ops.log_softmax(ops.cast(logits, "float32"), axis=-1), new_state, (
        None if alignments is None else ops.cast(alignments, "float32")
    )


def _like(new_state, state, who):
    """`new_state` in `state`'s structure and dtypes (lists vs tuples as
    the loop needs them)."""
    new_flat, old_flat = tree.flatten(new_state), tree.flatten(state)
    if len(new_flat) != len(old_flat):
        raise ValueError(
            f"{who}: `step` must return a state with the structure of the "
            f"state it was given ({len(old_flat)} tensors), got "
            f"{len(new_flat)} tensors."
        )
    return tree.pack_sequence_as(
        state,
        [ops.cast(new, old.dtype) for new, old in zip(new_flat, old_flat)],
    )


def _gather_beams(x, flat_parent, batch, k):
    """`x[b, parent[b, j], ...]` for `x` `(batch, k, ...)` via flat rows."""
    tail = list(x.shape[2:])
    rows = ops.take(ops.reshape(x, [-1] + tail), flat_parent, axis=0)
    return ops.reshape(rows, [batch, k] + tail)


def _check_int(value, arg, who, minimum=1):
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or value < minimum
    ):
        raise ValueError(
            f"{who}: `{arg}` must be an int >= {minimum}, got "
            f"{arg}={value!r}."
        )
    return int(value)


def _check_float(value, arg, who, low, high=None, low_open=False):
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok:
        value = float(value)
        ok = (value > low if low_open else value >= low) and (
            high is None or value <= high
        )
    if not ok:
        bounds = f"{'>' if low_open else '>='} {low}" + (
            f" and <= {high}" if high is not None else ""
        )
        raise ValueError(
            f"{who}: `{arg}` must be a float {bounds}, got {arg}={value!r}."
        )
    return value


def _prepare(start_tokens, initial_state, end_token, max_length, who):
    start_tokens = ops.convert_to_tensor(start_tokens)
    if len(start_tokens.shape) != 1:
        raise ValueError(
            f"{who}: `start_tokens` must have shape (batch,), got shape "
            f"{tuple(start_tokens.shape)}."
        )
    max_length = _check_int(max_length, "max_length", who)
    if end_token is not None:
        end_token = _check_int(end_token, "end_token", who, minimum=0)
    state = tree.map_structure(ops.convert_to_tensor, initial_state)
    return ops.cast(start_tokens, "int32"), state, end_token, max_length


def _loop(cond, body, carry, iterations):
    """`while_loop` over steps 1 .. max_length - 1 (none if max_length = 1)."""
    if iterations <= 0:
        return carry
    return ops.while_loop(cond, body, carry, maximum_iterations=iterations)


# -- greedy and sampling ------------------------------------------------------


class _TokenByToken:
    """One token per sequence per step: greedy decoding and sampling."""

    def choose(self, log_probs):
        """The next token `(batch,)` from the step's log-softmax."""
        raise NotImplementedError

    def _decode(self, step, start_tokens, initial_state, end_token,
                max_length, pad_token, return_alignments):
        who = type(self).__name__
        tokens, state, end_token, max_length = _prepare(
            start_tokens, initial_state, end_token, max_length, who
        )
        pad_token = _check_int(pad_token, "pad_token", who, minimum=0)
        batch = ops.shape(tokens)[0]

        step_log_probs, state, alignments = _call_step(
            step, tokens, state, who
        )
        if return_alignments and alignments is None:
            raise ValueError(
                f"{who}: return_alignments=True needs a step that returns "
                f"`(logits, state, alignments)`."
            )
        record = return_alignments
        source = alignments.shape[-1] if record else 1

        ids = ops.full((max_length, batch), pad_token, dtype="int32")
        align = ops.zeros(
            (max_length if record else 1, batch, source), dtype="float32"
        )
        finished = ops.zeros((batch,), dtype="bool")
        log_probs = ops.zeros((batch,), dtype="float32")
        lengths = ops.zeros((batch,), dtype="int32")

        def update(t, step_log_probs, new_state, alignments, carry):
            _, ids, finished, log_probs, lengths, align = carry
            chosen = ops.cast(self.choose(step_log_probs), "int32")
            live = ops.logical_not(finished)
            chosen_log_prob = ops.take_along_axis(
                step_log_probs, chosen[:, None], axis=1
            )[:, 0]
            ids = _write(ids, t, ops.where(live, chosen, pad_token))
            log_probs = log_probs + ops.where(live, chosen_log_prob, 0.0)
            lengths = lengths + ops.cast(live, "int32")
            if record:
                align = _write(
                    align, t, ops.where(live[:, None], alignments, 0.0)
                )
            if end_token is not None:
                finished = ops.logical_or(finished, chosen == end_token)
                tokens = ops.where(finished, end_token, chosen)
            else:
                tokens = chosen
            return (tokens, ids, finished, log_probs, lengths, align), new_state

        carry, state = update(
            0, step_log_probs, state, alignments,
            (tokens, ids, finished, log_probs, lengths, align),
        )

        def cond(t, state, carry):
            return ops.logical_not(ops.all(carry[2]))

        def body(t, state, carry):
            step_log_probs, new_state, alignments = _call_step(
                step, carry[0], state, who
            )
            carry, new_state = update(
                t, step_log_probs, new_state, alignments, carry
            )
            return t + 1, new_state, carry

        _, state, carry = self._run_loop(
            cond, body, (ops.convert_to_tensor(1, "int32"), state, carry),
            max_length - 1,
        )
        _, ids, _, log_probs, lengths, align = carry
        return DecodeResult(
            ids=ops.transpose(ids, (1, 0)),
            scores=log_probs,
            log_probs=log_probs,
            lengths=lengths,
            alignments=ops.transpose(align, (1, 0, 2)) if record else None,
            state=state,
        )

    def _run_loop(self, cond, body, carry, iterations):
        return _loop(cond, body, carry, iterations)

    def __call__(
        self,
        step,
        start_tokens,
        initial_state=(),
        end_token=None,
        max_length=None,
        pad_token=0,
        return_alignments=False,
    ):
        """Decodes one sequence per row of `start_tokens`.

        Args:
            step: `step(tokens, state) -> (logits, state[, alignments])`.
            start_tokens: int `(batch,)`: the first input of each sequence.
            initial_state: Nest of `(batch, ...)` tensors (may be empty).
            end_token: int token that ends a sequence, or None (run
                `max_length` steps).
            max_length: Static int bound on the output length.
            pad_token: Written after `end_token`.
            return_alignments: Record the step's alignments.

        Returns:
            A `DecodeResult` without beam axis.
        """
        return self._decode(step, start_tokens, initial_state, end_token,
                            max_length, pad_token, return_alignments)


class Greedy(_TokenByToken):
    """Greedy decoding: the most probable token at every step.

    `y_t = argmax_v log softmax(logits_t)_v`, fed back as the next input
    (tfa's `GreedyEmbeddingSampler` + `BasicDecoder` + `dynamic_decode`).

    Example:

    ```python
    result = keras_seqmem.decoding.Greedy()(
        step, start_tokens, initial_state, end_token=2, max_length=20)
    result.ids  # (batch, 20)
    ```
    """

    def choose(self, log_probs):
        return ops.argmax(log_probs, axis=-1)

    def get_config(self):
        return {}


class Sampling(_TokenByToken):
    """Random sampling with temperature, top-k and top-p (nucleus) filters.

    At every step, from the step's logits `z`:

        z' = z / temperature
        top-k: keep the k largest z' (the others get probability 0)
        top-p: of those, in decreasing order, keep the smallest prefix whose
               probability (softmax over the kept z') reaches p, i.e. token i
               is kept when the mass strictly before it is < p
        y_t ~ softmax(z' over the kept tokens)

    (keras-hub's `TopKSampler` / `TopPSampler` / `RandomSampler`, tfa's
    `SampleEmbeddingSampler` with `softmax_temperature`). `temperature=0`
    is greedy decoding. `log_probs` reports the model's own log-probability
    of the sampled tokens (log-softmax of the unscaled logits).

    Args:
        temperature: float >= 0 (1: the model's distribution).
        top_k: int >= 1 or None (no top-k filter).
        top_p: float in (0, 1] (1: no top-p filter).
        seed: int, a `keras.random.SeedGenerator`, or None. An int seeds a
            generator owned by this object: two objects with the same seed
            draw the same sequences; successive calls of one object differ
            (its generator advances, also inside a `tf.function`). On JAX the
            generator's state is threaded through the loop
            (`keras.StatelessScope`) and written back after an eager call;
            inside `jax.jit` it is read when the function is traced, so a
            jitted decode repeats its draws until it is traced again.
    """

    def __init__(self, temperature=1.0, top_k=None, top_p=1.0, seed=None):
        who = "Sampling"
        self.temperature = _check_float(temperature, "temperature", who, 0.0)
        self.top_k = None if top_k is None else _check_int(top_k, "top_k", who)
        self.top_p = _check_float(top_p, "top_p", who, 0.0, 1.0, low_open=True)
        if isinstance(seed, keras.random.SeedGenerator):
            self.seed = None
            self.seed_generator = seed
        elif seed is None or (
            isinstance(seed, numbers.Integral) and not isinstance(seed, bool)
        ):
            self.seed = seed
            self.seed_generator = keras.random.SeedGenerator(seed)
        else:
            raise ValueError(
                f"Sampling: `seed` must be an int, a "
                f"keras.random.SeedGenerator or None, got seed={seed!r}."
            )

    def filter_logits(self, logits):
        """The sampling distribution's logits: `(values, token_ids)`.

        `values` `(batch, n)` float32 with the filtered-out tokens at -inf,
        `token_ids` int32 `(batch, n)` the vocabulary id of each column
        (None when no filter reordered them: column = token id).
        """
        scaled = ops.cast(logits, "float32") / self.temperature
        if self.top_k is None and self.top_p >= 1.0:
            return scaled, None
        vocab = scaled.shape[-1]
        k = vocab if self.top_k is None else min(self.top_k, vocab)
        values, token_ids = ops.top_k(scaled, k, sorted=True)
        if self.top_p < 1.0:
            probs = ops.softmax(values, axis=-1)
            before = ops.cumsum(probs, axis=-1) - probs
            values = ops.where(before < self.top_p, values, float("-inf"))
        return values, ops.cast(token_ids, "int32")

    def choose(self, log_probs):
        if self.temperature == 0.0:
            return ops.argmax(log_probs, axis=-1)
        values, token_ids = self.filter_logits(log_probs)
        column = keras.random.categorical(
            values, 1, dtype="int32", seed=self.seed_generator
        )
        if token_ids is None:
            return column[:, 0]
        return ops.take_along_axis(token_ids, column, axis=1)[:, 0]

    def _threads_seed(self):
        return keras.backend.backend() == "jax" and self.temperature > 0.0

    def __call__(self, step, start_tokens, initial_state=(), end_token=None,
                 max_length=None, pad_token=0, return_alignments=False):
        if not self._threads_seed():
            return super().__call__(step, start_tokens, initial_state,
                                    end_token, max_length, pad_token,
                                    return_alignments)
        # JAX: a variable cannot be assigned inside a traced loop. The
        # generator's state is mapped in a StatelessScope for the whole
        # decode, threaded through the while_loop as a loop variable
        # (`_run_loop`), and written back at the end unless traced (as
        # keras-hub's samplers do).
        import jax

        generator_state = self.seed_generator.state
        with keras.StatelessScope(
            state_mapping=[
                (generator_state, ops.convert_to_tensor(generator_state.value))
            ]
        ) as scope:
            result = self._decode(step, start_tokens, initial_state,
                                  end_token, max_length, pad_token,
                                  return_alignments)
            final = scope.get_current_value(generator_state)
        if final is not None and not isinstance(final, jax.core.Tracer):
            generator_state.assign(final)
        return result

    def _run_loop(self, cond, body, carry, iterations):
        if not self._threads_seed() or iterations <= 0:
            return _loop(cond, body, carry, iterations)
        generator_state = self.seed_generator.state

        def stateless(fn, is_body):
            def wrapped(seed_value, *loop_vars):
                with keras.StatelessScope(
                    state_mapping=[(generator_state, seed_value)]
                ) as scope:
                    out = fn(*loop_vars)
                    if not is_body:
                        return out
                    new_seed = scope.get_current_value(generator_state)
                new_seed = seed_value if new_seed is None else new_seed
                return (new_seed,) + tuple(out)

            return wrapped

        out = _loop(
            stateless(cond, False), stateless(body, True),
            (ops.convert_to_tensor(generator_state.value),) + tuple(carry),
            iterations,
        )
        generator_state.assign(out[0])  # recorded by __call__'s scope
        return out[1:]

    def get_config(self):
        return {
            "temperature": self.temperature,
            "top_k": self.top_k,
            "top_p": self.top_p,
            "seed": self.seed,
        }


# -- beam search --------------------------------------------------------------


class BeamSearch:
    """Beam search with GNMT's length and coverage penalties.

    At step t each of the `beam_width` hypotheses of an example is extended
    by every token; the `beam_width` best `(beam, token)` pairs by

        score = log P / lp(length) + beta * cp(A) * [finished]

    survive (`lp`, `cp`: module docstring; at the first step only beam 0 is
    live, the others start at log-probability -1e9). A hypothesis that has
    emitted `end_token` continues only with `end_token` at log-probability
    0, and neither its length nor its accumulated alignments `A` grow, so
    its score is frozen; it competes with the live ones until the end. The
    state nest is reordered by the chosen parents every step; tokens and
    parents go into `(max_length, batch, beam)` buffers, and the sequences
    are read back once at the end (`backtrack` / `gather_tree`).

    The coverage penalty needs the step's alignments: the step returns
    `(logits, state, alignments)` with `alignments` `(batch * beam,
    source_length)` (the attention weights it used; zero on padded source
    positions, which then count as covered).

    Args:
        beam_width: int >= 1.
        length_penalty: GNMT alpha >= 0 (0: rank by log-probability).
        coverage_penalty: GNMT beta >= 0 (0: none).

    Call arguments: as `Greedy`'s. `start_tokens` and `initial_state` have
    one row per example (`(batch, ...)`); they are tiled here. The step sees
    `batch * beam_width` rows, example-major (`tile_batch`'s layout).
    """

    def __init__(self, beam_width=4, length_penalty=0.0, coverage_penalty=0.0):
        who = "BeamSearch"
        self.beam_width = _check_int(beam_width, "beam_width", who)
        self.length_penalty = _check_float(
            length_penalty, "length_penalty", who, 0.0
        )
        self.coverage_penalty = _check_float(
            coverage_penalty, "coverage_penalty", who, 0.0
        )

    def get_config(self):
        return {
            "beam_width": self.beam_width,
            "length_penalty": self.length_penalty,
            "coverage_penalty": self.coverage_penalty,
        }

    def __call__(
        self,
        step,
        start_tokens,
        initial_state=(),
        end_token=None,
        max_length=None,
        pad_token=0,
        return_alignments=False,
    ):
        """Decodes `beam_width` hypotheses per example: a `DecodeResult`
        with a beam axis, best first (see `Greedy.__call__` for the args)."""
        who = "BeamSearch"
        tokens, state, end_token, max_length = _prepare(
            start_tokens, initial_state, end_token, max_length, who
        )
        pad_token = _check_int(pad_token, "pad_token", who, minimum=0)
        k = self.beam_width
        alpha, beta = self.length_penalty, self.coverage_penalty
        batch = ops.shape(tokens)[0]
        state = tile_batch(state, k)
        tokens = ops.repeat(tokens, k, axis=0)

        step_log_probs, new_state, alignments = _call_step(
            step, tokens, state, who
        )
        if (beta > 0.0 or return_alignments) and alignments is None:
            raise ValueError(
                f"{who}: "
                + ("coverage_penalty > 0" if beta > 0.0 else
                   "return_alignments=True")
                + " needs a step that returns `(logits, state, alignments)`; "
                "set coverage_penalty=0.0 or return the attention weights."
            )
        vocab = step_log_probs.shape[-1]
        use_align = alignments is not None and (beta > 0 or return_alignments)
        source = alignments.shape[-1] if use_align else 1
        record = return_alignments

        step_ids = ops.zeros((max_length, batch, k), dtype="int32")
        parent_ids = ops.zeros((max_length, batch, k), dtype="int32")
        align = ops.zeros(
            (max_length if record else 1, batch, k, source), dtype="float32"
        )
        finished = ops.zeros((batch, k), dtype="bool")
        log_probs = ops.tile(
            ops.convert_to_tensor([[0.0] + [_NEG_INF] * (k - 1)], "float32"),
            (batch, 1),
        )
        lengths = ops.zeros((batch, k), dtype="int32")
        coverage = ops.zeros((batch, k, source), dtype="float32")
        scores = ops.zeros((batch, k), dtype="float32")
        # Row of each example's beam 0 in the flat (batch * beam) layout.
        offsets = ops.arange(batch, dtype="int32")[:, None] * k
        is_end = (
            ops.zeros((vocab,), "bool") if end_token is None
            else ops.arange(vocab) == end_token
        )
        only_end = ops.where(is_end, 0.0, _NEG_INF)[None, None, :]

        def update(t, step_log_probs, new_state, alignments, carry):
            (_, step_ids, parent_ids, finished, log_probs, lengths, coverage,
             scores, align) = carry
            step_log_probs = ops.reshape(step_log_probs, (batch, k, vocab))
            step_log_probs = ops.where(
                finished[:, :, None], only_end, step_log_probs
            )
            total = log_probs[:, :, None] + step_log_probs  # (batch, k, V)
            live = ops.logical_not(finished)
            new_lengths = lengths + ops.cast(live, "int32")  # (batch, k)
            candidate = total / length_penalty(new_lengths, alpha)[:, :, None]
            if use_align:
                alignments = ops.where(
                    live[:, :, None],
                    ops.reshape(alignments, (batch, k, source)),
                    0.0,
                )
                new_coverage = coverage + alignments
            if beta > 0.0:
                ends = ops.logical_or(finished[:, :, None], is_end[None, None])
                candidate = candidate + ops.where(
                    ends, beta * coverage_penalty(new_coverage)[:, :, None], 0.0
                )
            top_scores, best = ops.top_k(
                ops.reshape(candidate, (batch, k * vocab)), k, sorted=True
            )
            best = ops.cast(best, "int32")
            parent = best // vocab
            token = best % vocab
            log_probs = ops.take_along_axis(
                ops.reshape(total, (batch, k * vocab)), best, axis=1
            )
            was_finished = ops.take_along_axis(finished, parent, axis=1)
            lengths = ops.take_along_axis(new_lengths, parent, axis=1)
            if end_token is not None:
                token = ops.where(was_finished, end_token, token)
                finished = ops.logical_or(was_finished, token == end_token)
            step_ids = _write(step_ids, t, token)
            parent_ids = _write(parent_ids, t, parent)
            flat_parent = ops.reshape(offsets + parent, (-1,))
            if use_align:
                coverage = _gather_beams(new_coverage, flat_parent, batch, k)
                if record:
                    align = _write(
                        align, t,
                        _gather_beams(alignments, flat_parent, batch, k),
                    )
            new_state = tree.map_structure(
                lambda s: ops.take(s, flat_parent, axis=0), new_state
            )
            tokens = ops.reshape(token, (-1,))
            return (tokens, step_ids, parent_ids, finished, log_probs,
                    lengths, coverage, top_scores, align), new_state

        carry, state = update(
            0, step_log_probs, new_state, alignments,
            (tokens, step_ids, parent_ids, finished, log_probs, lengths,
             coverage, scores, align),
        )

        def cond(t, state, carry):
            return ops.logical_not(ops.all(carry[3]))

        def body(t, state, carry):
            step_log_probs, new_state, alignments = _call_step(
                step, carry[0], state, who
            )
            carry, new_state = update(
                t, step_log_probs, new_state, alignments, carry
            )
            return t + 1, new_state, carry

        steps, state, carry = _loop(
            cond, body, (ops.convert_to_tensor(1, "int32"), state, carry),
            max_length - 1,
        )
        (_, step_ids, parent_ids, _, log_probs, lengths, _, scores,
         align) = carry
        # Steps run: every example ran as many (the loop stops for all).
        steps = ops.broadcast_to(ops.cast(steps, "int32"), (batch,))
        ancestors = backtrack(parent_ids, steps)
        ids = ops.take_along_axis(step_ids, ancestors, axis=2)
        ids = ops.transpose(ids, (1, 2, 0))  # (batch, k, max_length)
        positions = ops.arange(max_length, dtype="int32")[None, None, :]
        ids = ops.where(positions < lengths[:, :, None], ids, pad_token)
        if record:
            align = ops.take_along_axis(
                align, ops.repeat(ancestors[..., None], source, axis=-1),
                axis=2,
            )
            align = ops.transpose(align, (1, 2, 0, 3))
            align = ops.where(
                (positions < lengths[:, :, None])[..., None], align, 0.0
            )
        return DecodeResult(
            ids=ids,
            scores=scores,
            log_probs=log_probs,
            lengths=lengths,
            alignments=align if record else None,
            state=state,
        )


# -- scheduled sampling (training) --------------------------------------------

ScheduledSamplingResult = collections.namedtuple(
    "ScheduledSamplingResult", ["logits", "inputs", "sampled", "state"]
)
ScheduledSamplingResult.__doc__ = """What `scheduled_sampling` returns.

Attributes:
    logits: `(batch, time, vocab)`: the step's logits at every step (train
        on these against the targets).
    inputs: int32 `(batch, time)`: the token fed at every step.
    sampled: bool `(batch, time)`: where `inputs` is the model's own sample
        instead of `decoder_inputs` (never at step 0).
    state: the state after the last step.
"""


def scheduled_sampling(step, decoder_inputs, initial_state=(),
                       sampling_probability=0.0, seed=None):
    """Teacher forcing where some inputs are the model's own samples.

    tfa's `ScheduledEmbeddingTrainingSampler` (Bengio et al. 2015) over
    `step(tokens, state) -> (logits, state[, alignments])`. With `x_t` the
    teacher-forced input (`decoder_inputs[:, t]`, the target shifted right)
    and `z_{t-1}` the step's logits at the previous step:

        input_0 = x_0
        input_t = s_t  if u_t < p  else x_t           (t >= 1)
        s_t ~ softmax(z_{t-1})   (a categorical sample, temperature 1)
        u_t ~ U[0, 1)            (one per sequence and step)

    `p = sampling_probability` (0: plain teacher forcing, 1: always feed
    back the model's samples). Samples are drawn by the Gumbel-max trick
    `s_t = argmax(z_{t-1} + g_t)`, `g = -log(-log(U))`, with the noise for
    all steps drawn before the loop (`keras.random` with `seed`), so the
    step loop holds no random op and the whole function is differentiable
    through the logits and the state like teacher forcing is (the sampled
    token ids themselves carry no gradient, as in tfa). Runs as a
    `keras.ops.fori_loop` with static bounds on JAX (a scan: reverse-mode
    differentiable) and a bounded `keras.ops.while_loop` elsewhere; `fit`
    and `jit_compile` work.

    Args:
        step: The decoder step function.
        decoder_inputs: int `(batch, time)`: the teacher-forced inputs.
        initial_state: Nest of `(batch, ...)` tensors.
        sampling_probability: float in [0, 1], or a scalar tensor/variable
            (so a callback can anneal it during training).
        seed: int, `keras.random.SeedGenerator` (the usual choice inside a
            layer or model: it then advances every training step), or None.

    Returns:
        A `ScheduledSamplingResult`.
    """
    who = "scheduled_sampling"
    if isinstance(sampling_probability, numbers.Real):
        _check_float(sampling_probability, "sampling_probability", who,
                     0.0, 1.0)
    decoder_inputs = ops.cast(ops.convert_to_tensor(decoder_inputs), "int32")
    if len(decoder_inputs.shape) != 2 or decoder_inputs.shape[1] is None:
        raise ValueError(
            f"{who}: `decoder_inputs` must have shape (batch, time) with a "
            f"known time, got shape {tuple(decoder_inputs.shape)}."
        )
    time = decoder_inputs.shape[1]
    batch = ops.shape(decoder_inputs)[0]
    state = tree.map_structure(ops.convert_to_tensor, initial_state)
    outputs = step(decoder_inputs[:, 0], state)
    logits0, state = outputs[0], outputs[1]
    vocab = logits0.shape[-1]
    if time == 1:
        return ScheduledSamplingResult(
            logits=logits0[:, None, :],
            inputs=decoder_inputs,
            sampled=ops.zeros((batch, 1), "bool"),
            state=state,
        )
    p = ops.cast(sampling_probability, "float32")
    uniform = keras.random.uniform((time - 1, batch), seed=seed)
    gumbel = -ops.log(-ops.log(
        keras.random.uniform(
            (time - 1, batch, vocab), minval=1e-20, maxval=1.0, seed=seed
        )
    ))
    teacher = ops.transpose(decoder_inputs, (1, 0))  # (time, batch)
    logits_buffer = _write(
        ops.zeros((time, batch, vocab), logits0.dtype), 0, logits0
    )
    sampled = ops.zeros((time, batch), "int32")

    def one_step(t, carry):
        state, logits_buffer, inputs, sampled = carry
        previous = ops.stop_gradient(
            ops.cast(ops.take(logits_buffer, t - 1, axis=0), "float32")
        )
        sample = ops.cast(
            ops.argmax(previous + ops.take(gumbel, t - 1, axis=0), axis=-1),
            "int32",
        )
        use_sample = ops.take(uniform, t - 1, axis=0) < p
        token = ops.where(use_sample, sample, ops.take(inputs, t, axis=0))
        outputs = step(token, state)
        state = _like(outputs[1], state, who)
        return (
            state,
            _write(logits_buffer, t, outputs[0]),
            _write(inputs, t, token),
            _write(sampled, t, ops.cast(use_sample, "int32")),
        )

    carry = (state, logits_buffer, teacher, sampled)
    if keras.backend.backend() == "jax":
        # Static bounds: a scan, which reverse-mode differentiates (a
        # while_loop does not).
        carry = ops.fori_loop(1, time, one_step, carry)
    else:
        # TensorFlow: XLA differentiates a while loop only with a bound.
        carry = ops.while_loop(
            lambda t, *_: t < time,
            lambda t, *carry: (t + 1,) + tuple(one_step(t, carry)),
            (ops.convert_to_tensor(1, "int32"),) + carry,
            maximum_iterations=time - 1,
        )[1:]
    state, logits_buffer, inputs, sampled = carry
    return ScheduledSamplingResult(
        logits=ops.transpose(logits_buffer, (1, 0, 2)),
        inputs=ops.transpose(inputs, (1, 0)),
        sampled=ops.transpose(sampled, (1, 0)) > 0,
        state=state,
    )


__all__ = [
    "BeamSearch",
    "DecodeResult",
    "Greedy",
    "Sampling",
    "ScheduledSamplingResult",
    "backtrack",
    "coverage_penalty",
    "gather_tree",
    "length_penalty",
    "scheduled_sampling",
    "tile_batch",
]
