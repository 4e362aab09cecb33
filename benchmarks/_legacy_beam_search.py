"""The greedy and beam search Seq2Seq used before keras_seqmem.decoding.

Kept as the "before" of benchmarks/decoding.py and as a reference of
tests/test_decoding.py: `keras_seqmem/attention/beam_search.py` as it was
(commit a73dd3a), and `legacy_decode`, `Seq2Seq.decode` as it was. Its
beam search gathers and rewrites the whole `(batch, beam, max_length)` ids
buffer (and the alignments buffer) at every step: O(L) per step, O(L^2)
per decode of length L.

Greedy and beam-search decoding with a static bound, for XLA.

Both searches drive a `step_fn(token_ids, states) -> (logits, states, aux)`
for at most `max_length` steps inside one `keras.ops.while_loop` whose
tensors all have static shapes: finished sequences are masked, not removed,
and the loop stops early once every sequence has emitted `end_id`. So the
whole decoding compiles with `jit_compile=True`, and exports to a SavedModel
built from standard TensorFlow ops only (no `XlaDynamicUpdateSlice`: the
per-step writes into the output buffers are `where`s against a one-hot
position).

Scores follow `tfa.seq2seq.BeamSearchDecoder`: the log-probability of a
sequence is the sum of its tokens' log-probabilities up to and including
`end_id`; a finished beam continues only with `end_id` at log-probability 0,
so its score is frozen; beams are ranked by

    score = log_prob / lp(length),   lp(l) = ((5 + l) / 6) ** length_penalty

(Wu et al. 2016, GNMT), with `length_penalty = 0` meaning no penalty.
"""

import collections

from keras import ops
from keras import tree

from keras_seqmem.attention.decoder import AttentionMemory

_NEG_INF = -1e9  # finite, so that -inf - -inf never makes a NaN

DecodeResult = collections.namedtuple(
    "DecodeResult", ["ids", "scores", "log_probs", "lengths", "alignments"]
)
DecodeResult.__doc__ = """What `greedy_search` and `beam_search` return.

Shapes are `(batch, [beam_width,] ...)`: greedy search has no beam axis.

Attributes:
    ids: int32 `(batch, [beam,] max_length)` token ids, `end_id` included,
        `pad_id` after it.
    scores: float32 `(batch, [beam])`: `log_probs / lp(lengths)`, the
        ranking score (equal to `log_probs` without a length penalty);
        beams are sorted best first.
    log_probs: float32 `(batch, [beam])`: sum of the token log-probabilities.
    lengths: int32 `(batch, [beam])`: number of tokens, `end_id` included
        (`max_length` if it was never emitted).
    alignments: float32 `(batch, [beam,] max_length, alignment_length)`: the
        step function's third output at each step (attention weights), or
        None when `alignment_length` was not given.
"""


def length_penalty_factor(lengths, length_penalty):
    """GNMT's `lp(l) = ((5 + l) / 6) ** α` (1 when `α = 0`)."""
    lengths = ops.cast(lengths, "float32")
    if length_penalty == 0:
        return ops.ones_like(lengths)
    return ops.power((5.0 + lengths) / 6.0, float(length_penalty))


def tile_batch(tensors, multiplier):
    """Repeats every tensor of a structure `multiplier` times on axis 0.

    `(batch, ...) -> (batch * multiplier, ...)`, the copies of one example
    next to each other, which is the layout `beam_search` expects for
    whatever `step_fn` closes over (encoder outputs, masks, ...).
    """
    return tree.map_structure(
        lambda t: None if t is None else ops.repeat(t, multiplier, axis=0),
        tensors,
    )


def _write(buffer, t, value, axis=1):
    """`buffer[:, ..., t, ...] = value`, position `t` on `axis`.

    `value` has `buffer`'s shape without `axis`. A `where` against a one-hot
    position, not a scatter, so no XLA-only op reaches the graph.
    """
    length = buffer.shape[axis]
    hit = ops.arange(length) == t
    shape = [1] * len(buffer.shape)
    shape[axis] = length
    return ops.where(
        ops.reshape(hit, shape), ops.expand_dims(value, axis), buffer
    )


def _log_softmax(logits):
    return ops.log_softmax(ops.cast(logits, "float32"), axis=-1)


def _check(max_length, beam_width=1):
    if not isinstance(max_length, int) or max_length < 1:
        raise ValueError(
            f"Decoding expected `max_length` to be a positive int, got "
            f"max_length={max_length!r}."
        )
    if not isinstance(beam_width, int) or beam_width < 1:
        raise ValueError(
            f"Beam search expected `beam_width` to be a positive int, got "
            f"beam_width={beam_width!r}."
        )


def greedy_search(
    step_fn,
    initial_states,
    batch_size,
    max_length,
    start_id,
    end_id,
    pad_id=0,
    alignment_length=None,
):
    """Decodes by taking the most probable token at every step.

    Args:
        step_fn: `step_fn(token_ids, states) -> (logits, new_states, aux)`;
            `token_ids` int32 `(batch,)`, `logits` `(batch, vocab)`, `aux`
            `(batch, alignment_length)` or None.
        initial_states: Structure of `(batch, ...)` tensors.
        batch_size: Number of sequences (int or scalar tensor).
        max_length: Static bound on the output length (int).
        start_id: Token fed at the first step.
        end_id: Token that ends a sequence.
        pad_id: Token written after `end_id`.
        alignment_length: Size of `aux` to record, or None to record nothing.

    Returns:
        A `DecodeResult` without beam axis.
    """
    _check(max_length)
    record = alignment_length is not None
    tokens = ops.full((batch_size,), start_id, dtype="int32")
    ids = ops.full((batch_size, max_length), pad_id, dtype="int32")
    finished = ops.zeros((batch_size,), dtype="bool")
    log_probs = ops.zeros((batch_size,), dtype="float32")
    lengths = ops.zeros((batch_size,), dtype="int32")
    alignments = ops.zeros(
        (batch_size, max_length, alignment_length if record else 1),
        dtype="float32",
    )

    def cond(t, tokens, states, ids, finished, log_probs, lengths, align):
        return ops.logical_not(ops.all(finished))

    def body(t, tokens, states, ids, finished, log_probs, lengths, align):
        logits, new_states, aux = step_fn(tokens, states)
        step_log_probs = _log_softmax(logits)
        chosen = ops.cast(ops.argmax(step_log_probs, axis=-1), "int32")
        chosen_log_prob = ops.take_along_axis(
            step_log_probs, chosen[:, None], axis=-1
        )[:, 0]
        live = ops.logical_not(finished)
        tokens = ops.where(live, chosen, pad_id)
        ids = _write(ids, t, tokens)
        log_probs = log_probs + ops.where(live, chosen_log_prob, 0.0)
        lengths = lengths + ops.cast(live, "int32")
        if record:
            align = _write(
                align, t, ops.where(live[:, None], ops.cast(aux, "float32"), 0.0)
            )
        # Finished sequences keep their state (what `RNN` does on a mask).
        states = tree.map_structure(
            lambda new, old: ops.where(
                ops.reshape(live, (-1,) + (1,) * (len(old.shape) - 1)),
                ops.cast(new, old.dtype),
                old,
            ),
            new_states,
            states,
        )
        finished = ops.logical_or(finished, chosen == end_id)
        return t + 1, tokens, states, ids, finished, log_probs, lengths, align

    _, _, _, ids, _, log_probs, lengths, alignments = ops.while_loop(
        cond,
        body,
        (0, tokens, initial_states, ids, finished, log_probs, lengths,
         alignments),
        maximum_iterations=max_length,
    )
    return DecodeResult(
        ids=ids,
        scores=log_probs,
        log_probs=log_probs,
        lengths=lengths,
        alignments=alignments if record else None,
    )


def beam_search(
    step_fn,
    initial_states,
    batch_size,
    beam_width,
    max_length,
    start_id,
    end_id,
    pad_id=0,
    length_penalty=0.0,
    alignment_length=None,
):
    """Decodes with a beam of `beam_width` hypotheses per example.

    At each step every live beam is extended by every token; the
    `beam_width` best `(beam, token)` pairs of each example by
    `score = log_prob / lp(length)` survive (at the first step, only the
    copies of beam 0, so the beams start distinct). A beam that has emitted
    `end_id` is extended only by `end_id` at log-probability 0 and its length
    stops growing, so it keeps its score and competes with the live beams
    until the end. Decoding stops when every beam of every example has
    finished, or after `max_length` steps.

    Args:
        step_fn: `step_fn(token_ids, states) -> (logits, new_states, aux)` on
            `batch * beam_width` rows: `token_ids` int32 `(batch * beam,)`,
            `logits` `(batch * beam, vocab)`, `aux`
            `(batch * beam, alignment_length)` or None. Whatever it closes
            over must be tiled with `tile_batch(·, beam_width)`.
        initial_states: Structure of `(batch, ...)` tensors (tiled here).
        batch_size: Number of examples (int or scalar tensor).
        beam_width: Number of hypotheses kept per example (static int).
        max_length: Static bound on the output length (int).
        start_id: Token fed at the first step.
        end_id: Token that ends a sequence.
        pad_id: Token written after `end_id`.
        length_penalty: GNMT `α`; 0 ranks by log-probability.
        alignment_length: Size of `aux` to record, or None to record nothing.

    Returns:
        A `DecodeResult` with a beam axis, beams sorted best first.
    """
    _check(max_length, beam_width)
    k = beam_width
    record = alignment_length is not None
    rows = batch_size * k
    states = tile_batch(initial_states, k)
    tokens = ops.full((rows,), start_id, dtype="int32")
    ids = ops.full((batch_size, k, max_length), pad_id, dtype="int32")
    finished = ops.zeros((batch_size, k), dtype="bool")
    # Only beam 0 is live at the start: the others are copies of it.
    log_probs = ops.tile(
        ops.convert_to_tensor([[0.0] + [_NEG_INF] * (k - 1)], "float32"),
        (batch_size, 1),
    )
    lengths = ops.zeros((batch_size, k), dtype="int32")
    alignments = ops.zeros(
        (batch_size, k, max_length, alignment_length if record else 1),
        dtype="float32",
    )
    # Row offsets of each example's beams in the flat (batch * beam) layout.
    offsets = ops.arange(batch_size, dtype="int32")[:, None] * k

    def cond(t, tokens, states, ids, finished, log_probs, lengths, align):
        return ops.logical_not(ops.all(finished))

    def body(t, tokens, states, ids, finished, log_probs, lengths, align):
        logits, new_states, aux = step_fn(tokens, states)
        step_log_probs = _log_softmax(logits)
        vocab = ops.shape(step_log_probs)[-1]
        step_log_probs = ops.reshape(step_log_probs, (batch_size, k, vocab))
        # A finished beam may only continue with end_id, for free.
        only_end = ops.where(
            ops.arange(vocab) == end_id, 0.0, _NEG_INF
        )[None, None, :]
        step_log_probs = ops.where(
            finished[:, :, None], only_end, step_log_probs
        )
        total = log_probs[:, :, None] + step_log_probs  # (batch, k, vocab)
        new_lengths = lengths + ops.cast(ops.logical_not(finished), "int32")
        scores = total / length_penalty_factor(new_lengths, length_penalty)[
            :, :, None
        ]
        flat_scores = ops.reshape(scores, (batch_size, k * vocab))
        _, best = ops.top_k(flat_scores, k)  # (batch, k), sorted
        best = ops.cast(best, "int32")
        parent = best // vocab
        token = best % vocab

        log_probs = ops.take_along_axis(
            ops.reshape(total, (batch_size, k * vocab)), best, axis=1
        )
        lengths = ops.take_along_axis(new_lengths, parent, axis=1)
        was_finished = ops.take_along_axis(finished, parent, axis=1)
        token = ops.where(was_finished, pad_id, token)
        ids = _write(_gather_rows(ids, parent), t, token, axis=2)
        finished = ops.logical_or(was_finished, token == end_id)
        flat_parent = ops.reshape(offsets + parent, (-1,))
        if record:
            aux = ops.reshape(
                ops.take(ops.cast(aux, "float32"), flat_parent, axis=0),
                (batch_size, k, -1),
            )
            aux = ops.where(was_finished[:, :, None], 0.0, aux)
            align = ops.reshape(
                _write(
                    ops.reshape(
                        _gather_rows(align, parent),
                        (rows, max_length, alignment_length),
                    ),
                    t,
                    ops.reshape(aux, (rows, alignment_length)),
                ),
                (batch_size, k, max_length, alignment_length),
            )
        states = tree.map_structure(
            lambda s: ops.take(s, flat_parent, axis=0), new_states
        )
        tokens = ops.reshape(ops.where(finished, end_id, token), (-1,))
        return t + 1, tokens, states, ids, finished, log_probs, lengths, align

    _, _, _, ids, _, log_probs, lengths, alignments = ops.while_loop(
        cond,
        body,
        (0, tokens, states, ids, finished, log_probs, lengths, alignments),
        maximum_iterations=max_length,
    )
    scores = log_probs / length_penalty_factor(lengths, length_penalty)
    # top_k kept the beams sorted at every step, but an early stop leaves
    # them sorted already; sort once more to be independent of that detail.
    order = ops.cast(ops.argsort(-scores, axis=1), "int32")
    return DecodeResult(
        ids=_gather_rows(ids, order),
        scores=ops.take_along_axis(scores, order, axis=1),
        log_probs=ops.take_along_axis(log_probs, order, axis=1),
        lengths=ops.take_along_axis(lengths, order, axis=1),
        alignments=_gather_rows(alignments, order) if record else None,
    )


def _gather_rows(x, index):
    """`x[b, index[b, j], ...]` for `x` `(batch, k, ...)`, `index` `(batch, k)`."""
    batch, k = ops.shape(index)[0], ops.shape(index)[1]
    flat = ops.reshape(
        ops.arange(batch, dtype="int32")[:, None] * ops.shape(x)[1] + index,
        (-1,),
    )
    tail = _tail_shape(x, 2)
    picked = ops.take(ops.reshape(x, [-1] + tail), flat, axis=0)
    return ops.reshape(picked, [batch, k] + tail)


def _tail_shape(x, start):
    """`x.shape[start:]`, static where known, dynamic elsewhere."""
    dynamic = ops.shape(x)
    return [
        dynamic[i] if d is None else d
        for i, d in enumerate(x.shape) if i >= start
    ]


def legacy_decode(model, source, method="greedy", beam_width=4,
                  length_penalty=0.0, max_length=None,
                  return_alignments=False):
    """`Seq2Seq.decode` before keras_seqmem.decoding: the model's step
    through `greedy_search` / `beam_search` above (the decoder's whole
    initial state, mechanism states included, as the model builds it)."""
    if max_length is None:
        max_length = model.max_decode_length
    source = ops.cast(source, "int32")
    memory, memory_mask, summary, states = model.encode(source)
    if model.use_attention:
        memory_state = model.decoder.prepare_memory(memory, memory_mask)
    else:
        memory_state = AttentionMemory(summary, None, None)
    states = model.initial_decoder_states(memory_state, states)
    batch_size = ops.shape(source)[0]
    if method == "beam":
        memory_state = tile_batch(memory_state, beam_width)
    vocab = ops.arange(model.target_vocab_size)
    never = ops.logical_or(vocab == model.pad_id, vocab == model.start_id)

    def step_fn(tokens, states):
        outputs, states, alignment = model.decoder.step(
            model.target_embedding(tokens), states, memory_state
        )
        logits = model.output_layer(outputs)
        return ops.where(never, -1e9, logits), states, alignment

    common = dict(
        max_length=max_length,
        start_id=model.start_id,
        end_id=model.end_id,
        pad_id=model.pad_id,
        alignment_length=ops.shape(source)[1] if return_alignments else None,
    )
    if method == "greedy":
        return greedy_search(step_fn, states, batch_size, **common)
    return beam_search(
        step_fn, states, batch_size, beam_width,
        length_penalty=length_penalty, **common,
    )
