"""keras_seqmem.decoding: greedy, beam search, sampling, scheduled sampling.

The decoders run over a tiny fixed "model": a second-order Markov chain
whose next-token logits depend on the example, the step, the previous two
tokens (the state carries them), with attention-like alignments over a
3-position source (the last position padded for example 1). Its float64
NumPy twin gives the references: brute-force enumeration of every sequence
(the exact best sequences and scores, length and coverage penalties), a
list-based beam search, greedy decoding, tfa's gather_tree kernel
transcribed. A small Keras Transformer decoder with a key/value cache is
decoded with beam search and checked against the same model without cache.

Runs on the session's backend; `test_this_file_on_jax` runs the file again
under KERAS_BACKEND=jax in a subprocess.
"""

import importlib.util
import itertools
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
from keras import ops

from keras_seqmem import decoding

BACKEND = keras.backend.backend()
ROOT = pathlib.Path(__file__).resolve().parents[1]

START, END, PAD = 0, 3, 7  # PAD is outside the vocabulary: visible


# -- the Markov model and its NumPy twin ---------------------------------------


class Markov:
    """`logits = W[example, t, prev, token]`, alignments `A[example, t, token]`."""

    def __init__(self, batch=2, max_length=4, vocab=4, source=3, seed=0,
                 scale=2.0):
        rng = np.random.default_rng(seed)
        self.batch, self.max_length, self.vocab = batch, max_length, vocab
        self.W = rng.normal(
            0, scale, (batch, max_length, vocab, vocab, vocab))
        scores = rng.normal(0, 1, (batch, max_length, vocab, source))
        mask = np.ones((batch, source))
        mask[1 % batch, -1] = 0.0  # example 1's last source position: padding
        a = np.exp(scores) * mask[:, None, None, :]
        self.A = a / a.sum(-1, keepdims=True)
        self.table = ops.convert_to_tensor(
            self.W.reshape(-1, vocab).astype("float32"))
        self.align_table = ops.convert_to_tensor(
            self.A.reshape(-1, source).astype("float32"))

    def initial_state(self):
        b = self.batch
        return {"prev": np.full((b,), START, "int32"),
                "t": np.zeros((b,), "int32"),
                "example": np.arange(b, dtype="int32")}

    def start_tokens(self):
        return np.full((self.batch,), START, "int32")

    def step(self, tokens, state, alignments=True):
        L, V = self.max_length, self.vocab
        t = ops.minimum(state["t"], L - 1)
        row = (state["example"] * L + t) * V
        logits = ops.take(self.table, (row + state["prev"]) * V + tokens,
                          axis=0)
        new_state = {"prev": tokens, "t": state["t"] + 1,
                     "example": state["example"]}
        if not alignments:
            return logits, new_state
        return logits, new_state, ops.take(self.align_table, row + tokens,
                                           axis=0)

    # NumPy twin (float64)
    def np_step(self, b, t, prev, token):
        z = self.W[b, t, prev, token]
        z = z - z.max()
        return z - np.log(np.exp(z).sum()), self.A[b, t, token]


def np_lp(length, alpha):
    return ((5.0 + length) / 6.0) ** alpha


def np_cp(acc):
    acc = np.where(acc == 0.0, 1.0, acc)
    return np.log(np.minimum(acc, 1.0)).sum()


def brute_force(model, b, alpha, beta, max_length):
    """Every sequence (ended by END or by max_length), best first."""
    out = []

    def extend(tokens, prev, inp, logp, acc):
        t = len(tokens)
        logps, a = model.np_step(b, t, prev, inp)
        for v in range(model.vocab):
            seq = tokens + [v]
            lp_, acc_ = logp + logps[v], acc + a
            finished = v == END
            if finished or len(seq) == max_length:
                score = lp_ / np_lp(len(seq), alpha) + (
                    beta * np_cp(acc_) if finished else 0.0)
                out.append((score, seq, lp_))
            else:
                extend(seq, inp, v, lp_, acc_)

    extend([], START, START, 0.0, np.zeros(model.A.shape[-1]))
    out.sort(key=lambda x: -x[0])
    return out


def np_beam(model, b, k, alpha, beta, max_length):
    """List-based beam search with the documented rule (V >= k)."""
    hyps = [([], 0.0, False, np.zeros(model.A.shape[-1]), START, START)]
    scores = [0.0]
    for t in range(max_length):
        cands = []
        for tokens, logp, fin, acc, prev, inp in hyps:
            if fin:
                cands.append((scores_of(tokens, logp, acc, alpha, beta, True),
                              (tokens, logp, True, acc, prev, inp)))
                continue
            logps, a = model.np_step(b, t, prev, inp)
            for v in range(model.vocab):
                seq, lp_, acc_ = tokens + [v], logp + logps[v], acc + a
                s = scores_of(seq, lp_, acc_, alpha, beta, v == END)
                cands.append((s, (seq, lp_, v == END, acc_, inp, v)))
        order = sorted(range(len(cands)), key=lambda i: -cands[i][0])[:k]
        hyps = [cands[i][1] for i in order]
        scores = [cands[i][0] for i in order]
        if all(h[2] for h in hyps):
            break
    return hyps, scores


def scores_of(seq, logp, acc, alpha, beta, finished):
    return logp / np_lp(len(seq), alpha) + (
        beta * np_cp(acc) if finished else 0.0)


def np_greedy(model, b, max_length):
    tokens, logp, prev, inp = [], 0.0, START, START
    for t in range(max_length):
        logps, _ = model.np_step(b, t, prev, inp)
        v = int(np.argmax(logps))
        tokens.append(v)
        logp += logps[v]
        prev, inp = inp, v
        if v == END:
            break
    return tokens, logp


def padded(seq, length):
    return list(seq) + [PAD] * (length - len(seq))


def np_(x):
    return ops.convert_to_numpy(x)


def decode(decoder, model, max_length=None, **kwargs):
    return decoder(model.step, model.start_tokens(), model.initial_state(),
                   end_token=END, max_length=max_length or model.max_length,
                   pad_token=PAD, **kwargs)


# -- beam search ---------------------------------------------------------------


@pytest.mark.parametrize("alpha,beta", [(0.0, 0.0), (0.8, 0.0), (0.6, 0.4)])
def test_full_width_beam_search_equals_brute_force(alpha, beta):
    # V = 4, L = 4: 1 + 3 + 9 + 27 sequences end with END, 81 reach L
    # without it; 121 beams hold them all, so beam search returns exactly
    # the brute-force ranking: sequences, scores, log-probs, lengths.
    model = Markov()
    k = 121
    result = decode(decoding.BeamSearch(k, alpha, beta), model)
    for b in range(model.batch):
        expected = brute_force(model, b, alpha, beta, model.max_length)
        assert len(expected) == k
        np.testing.assert_array_equal(
            np_(result.ids)[b],
            [padded(seq, model.max_length) for _, seq, _ in expected])
        np.testing.assert_allclose(np_(result.scores)[b],
                                   [s for s, _, _ in expected], atol=2e-5)
        np.testing.assert_allclose(np_(result.log_probs)[b],
                                   [lp for _, _, lp in expected], atol=2e-5)
        np.testing.assert_array_equal(np_(result.lengths)[b],
                                      [len(seq) for _, seq, _ in expected])


@pytest.mark.parametrize("alpha,beta", [(0.0, 0.0), (0.7, 0.3)])
def test_narrow_beam_search_equals_numpy_beam_search(alpha, beta):
    model = Markov(batch=3, max_length=7, vocab=5, seed=1, scale=1.5)
    k = 3
    result = decode(decoding.BeamSearch(k, alpha, beta), model)
    for b in range(model.batch):
        hyps, scores = np_beam(model, b, k, alpha, beta, model.max_length)
        np.testing.assert_array_equal(
            np_(result.ids)[b], [padded(h[0], model.max_length) for h in hyps])
        np.testing.assert_allclose(np_(result.scores)[b], scores, atol=2e-5)
        np.testing.assert_allclose(np_(result.log_probs)[b],
                                   [h[1] for h in hyps], atol=2e-5)


def test_length_penalty_changes_the_winner():
    # A model (the first seed) whose brute-force winner changes with the
    # penalty, so that a wrong or missing penalty would be seen; beam search
    # follows each winner.
    for seed in range(50):
        model = Markov(seed=seed)
        best = [brute_force(model, 0, alpha, 0.0, model.max_length)[0][1]
                for alpha in (0.0, 2.0)]
        if best[0] != best[1]:
            break
    assert best[0] != best[1]
    for alpha, expected in zip((0.0, 2.0), best):
        result = decode(decoding.BeamSearch(121, alpha), model)
        np.testing.assert_array_equal(np_(result.ids)[0, 0],
                                      padded(expected, model.max_length))


def test_beam_width_one_is_greedy():
    model = Markov(batch=3, max_length=6, vocab=5, seed=2)
    beam = decode(decoding.BeamSearch(1), model)
    greedy = decode(decoding.Greedy(), model)
    np.testing.assert_array_equal(np_(beam.ids)[:, 0], np_(greedy.ids))
    np.testing.assert_allclose(np_(beam.log_probs)[:, 0],
                               np_(greedy.log_probs), atol=1e-6)


def test_finished_beams_stay_finished_and_decoding_stops_early():
    # END is likely from the start: every beam ends within a few steps, the
    # loop stops long before max_length (the state's step counter says how
    # many steps ran), every sequence is padded after its END.
    model = Markov(batch=2, max_length=40, vocab=5, seed=4)
    model.W[..., END] += 3.0
    model.table = ops.convert_to_tensor(
        model.W.reshape(-1, model.vocab).astype("float32"))
    result = decode(decoding.BeamSearch(4), model, max_length=40)
    ids, lengths = np_(result.ids), np_(result.lengths)
    steps = int(np_(result.state["t"]).max())
    assert steps < 40
    for b, j in itertools.product(range(2), range(4)):
        seq = list(ids[b, j])
        n = lengths[b, j]
        assert seq[n - 1] == END and END not in seq[:n - 1]
        assert seq[n:] == [PAD] * (40 - n)
    assert np.all(np.diff(np_(result.scores), axis=1) <= 1e-6)  # best first


def test_coverage_penalty_needs_alignments():
    model = Markov()
    step = lambda tokens, state: model.step(tokens, state, alignments=False)
    with pytest.raises(ValueError, match="coverage_penalty"):
        decoding.BeamSearch(2, coverage_penalty=0.2)(
            step, model.start_tokens(), model.initial_state(),
            end_token=END, max_length=3)


def test_beam_alignments_follow_the_final_beams():
    model = Markov(batch=2, max_length=5, vocab=4, seed=5)
    result = decode(decoding.BeamSearch(3), model, return_alignments=True)
    ids, align = np_(result.ids), np_(result.alignments)
    for b, j in itertools.product(range(2), range(3)):
        prev, inp = START, START
        for t in range(model.max_length):
            if ids[b, j, t] == PAD:
                np.testing.assert_array_equal(align[b, j, t], 0.0)
                continue
            np.testing.assert_allclose(align[b, j, t],
                                       model.A[b, t, inp], atol=1e-6)
            prev, inp = inp, ids[b, j, t]


# -- gather_tree ---------------------------------------------------------------


def np_gather_tree(step_ids, parent_ids, max_lengths, end_token):
    """tfa's GatherTree CPU kernel, transcribed."""
    T, B, K = step_ids.shape
    beams = np.full_like(step_ids, end_token)
    for b, k in itertools.product(range(B), range(K)):
        n = min(T, max_lengths[b])
        if n <= 0:
            continue
        beams[n - 1, b, k] = step_ids[n - 1, b, k]
        parent = parent_ids[n - 1, b, k]
        for level in range(n - 2, -1, -1):
            beams[level, b, k] = step_ids[level, b, parent]
            parent = parent_ids[level, b, parent]
        finished = False
        for t in range(n):
            if finished:
                beams[t, b, k] = end_token
            elif beams[t, b, k] == end_token:
                finished = True
    return beams


def test_gather_tree_equals_tfa_kernel():
    rng = np.random.default_rng(0)
    T, B, K, end = 9, 5, 4, 2
    step_ids = rng.integers(0, 6, (T, B, K)).astype("int32")
    parent_ids = rng.integers(0, K, (T, B, K)).astype("int32")
    lengths = np.array([0, 1, 5, T, T + 3], "int32")
    got = np_(decoding.gather_tree(step_ids, parent_ids, lengths, end))
    expected = np_gather_tree(step_ids, parent_ids, lengths, end)
    assert (expected == end).any() and (expected != end).any()
    np.testing.assert_array_equal(got, expected)


# -- greedy --------------------------------------------------------------------


def test_greedy_equals_numpy_greedy():
    model = Markov(batch=4, max_length=8, vocab=5, seed=6)
    result = decode(decoding.Greedy(), model)
    for b in range(model.batch):
        tokens, logp = np_greedy(model, b, model.max_length)
        np.testing.assert_array_equal(np_(result.ids)[b],
                                      padded(tokens, model.max_length))
        np.testing.assert_allclose(np_(result.log_probs)[b], logp, atol=2e-5)
        assert np_(result.lengths)[b] == len(tokens)
    assert (np_(result.lengths) < model.max_length).any()  # some ended


def test_greedy_without_end_token_runs_max_length():
    model = Markov(batch=2, max_length=6, vocab=4, seed=7)
    result = decoding.Greedy()(
        model.step, model.start_tokens(), model.initial_state(),
        end_token=None, max_length=6)
    assert np_(result.lengths).tolist() == [6, 6]
    assert np_(result.state["t"]).tolist() == [6, 6]


# -- sampling ------------------------------------------------------------------


class Fixed:
    """A step whose logits are one fixed row per sequence."""

    def __init__(self, logits):
        self.logits = ops.convert_to_tensor(np.asarray(logits, "float32"))

    def step(self, tokens, state):
        return self.logits, state


def sample(sampler, logits, max_length=4, batch=None):
    logits = np.asarray(logits, "float32")
    if batch is not None:
        logits = np.tile(logits[None], (batch, 1))
    fixed = Fixed(logits)
    start = np.zeros((logits.shape[0],), "int32")
    return np_(sampler(fixed.step, start, (), end_token=None,
                       max_length=max_length).ids)


def test_top_k_never_emits_outside_the_top_k():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 1, (500, 10))
    ids = sample(decoding.Sampling(top_k=3, seed=1), logits)
    top3 = np.argsort(-logits, axis=1)[:, :3]
    assert all(set(row) <= set(top) for row, top in zip(ids, top3))
    assert len(np.unique(ids - top3[:, :1])) > 1  # not argmax alone


def test_top_p_support_and_frequencies():
    probs = np.array([0.5, 0.3, 0.1, 0.06, 0.04])
    logits = np.log(probs)
    n = 2000
    for p, support in [(0.75, [0, 1]), (0.85, [0, 1, 2]), (0.3, [0])]:
        ids = sample(decoding.Sampling(top_p=p, seed=2), logits,
                     max_length=2, batch=n).ravel()
        assert set(ids) == set(support), (p, set(ids))
        q = probs[support] / probs[support].sum()
        freq = np.bincount(ids, minlength=5)[support] / ids.size
        sigma = np.sqrt(q * (1 - q) / ids.size)
        assert np.all(np.abs(freq - q) <= 5 * sigma), (p, freq, q)


@pytest.mark.parametrize("temperature", [1.0, 2.0])
def test_sampling_frequencies_follow_the_tempered_softmax(temperature):
    logits = np.array([1.0, 0.0, -0.5, 0.5])
    ids = sample(decoding.Sampling(temperature, seed=3), logits,
                 max_length=2, batch=3000).ravel()
    q = np.exp(logits / temperature)
    q /= q.sum()
    freq = np.bincount(ids, minlength=4) / ids.size
    assert np.all(np.abs(freq - q) < 5 * np.sqrt(q * (1 - q) / ids.size))


def test_temperature_to_zero_is_greedy():
    model = Markov(batch=4, max_length=8, vocab=5, seed=8)
    greedy = np_(decode(decoding.Greedy(), model).ids)
    for temperature in (0.0, 1e-4):
        got = decode(decoding.Sampling(temperature, seed=4), model)
        np.testing.assert_array_equal(np_(got.ids), greedy)


def test_a_fixed_seed_repeats():
    model = Markov(batch=8, max_length=8, vocab=5, seed=9, scale=0.5)
    first = np_(decode(decoding.Sampling(seed=11), model).ids)
    again = np_(decode(decoding.Sampling(seed=11), model).ids)
    other = np_(decode(decoding.Sampling(seed=12), model).ids)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    sampler = decoding.Sampling(seed=11)
    one, two = (np_(decode(sampler, model).ids) for _ in range(2))
    np.testing.assert_array_equal(one, first)
    assert not np.array_equal(one, two)  # the generator advanced


def test_sampling_pads_after_the_end_token():
    model = Markov(batch=64, max_length=10, vocab=5, seed=10, scale=0.3)
    result = decode(decoding.Sampling(seed=5), model)
    ids, lengths = np_(result.ids), np_(result.lengths)
    assert (lengths < 10).any()
    for seq, n in zip(ids, lengths):
        assert END not in seq[:n - 1]
        assert list(seq[n:]) == [PAD] * (10 - n)
        if n < 10:
            assert seq[n - 1] == END


# -- XLA -----------------------------------------------------------------------


DECODERS = {
    "greedy": lambda: decoding.Greedy(),
    "beam": lambda: decoding.BeamSearch(3, 0.6, 0.3),
    "sampling": lambda: decoding.Sampling(0.8, top_k=3, top_p=0.9, seed=6),
}


@pytest.mark.parametrize("name", list(DECODERS))
def test_decoder_compiles_into_one_xla_function(name):
    model = Markov(batch=2, max_length=6, vocab=5, seed=11)
    start, state = model.start_tokens(), model.initial_state()
    decoder = DECODERS[name]()

    def run(start, state):
        result = decoder(model.step, start, state, end_token=END,
                                  max_length=6, pad_token=PAD)
        return result.ids, result.scores

    if BACKEND == "tensorflow":
        import tensorflow as tf

        compiled = tf.function(run, jit_compile=True)
        hlo = compiled.experimental_get_compiler_ir(start, state)(stage="hlo")
        assert "while" in hlo
    elif BACKEND == "jax":
        import jax

        compiled = jax.jit(run)
        hlo = compiled.lower(start, state).as_text()
        assert "while" in hlo
    else:
        pytest.skip(f"no XLA check on {BACKEND}")
    ids, scores = (np_(x) for x in compiled(start, state))
    eager_ids, eager_scores = (np_(x) for x in run(start, state))
    if name == "sampling":  # another draw: check the support only
        assert set(np.unique(ids)) <= set(range(5)) | {PAD}
    else:
        np.testing.assert_array_equal(ids, eager_ids)
        np.testing.assert_allclose(scores, eager_scores, atol=1e-5)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="SavedModel export")
def test_decoders_export_to_a_savedmodel_of_standard_ops(tmp_path):
    # Greedy and beam search with a dynamic batch in a SavedModel: only ops
    # a TensorFlow server runs (TensorScatterUpdate, While, TopKV2, ...;
    # no XLA-only op), same ids after reloading.
    import tensorflow as tf

    from keras_seqmem.serving import nonstandard_ops

    model = Markov(batch=2, max_length=5, vocab=5, seed=14)
    module = tf.Module()
    spec = [tf.TensorSpec((None,), tf.int32)] * 2

    def decoder_fn(decoder):
        def fn(start, example):
            state = {"prev": start, "t": tf.zeros_like(start),
                     "example": example}
            return decoder(model.step, start, state, end_token=END,
                           max_length=5, pad_token=PAD).ids
        return tf.function(fn, input_signature=spec, autograph=False)

    module.greedy = decoder_fn(decoding.Greedy())
    module.beam = decoder_fn(decoding.BeamSearch(3, 0.5, 0.2))
    path = str(tmp_path / "decoders")
    tf.saved_model.save(module, path)
    assert nonstandard_ops(path) == []
    loaded = tf.saved_model.load(path)
    start, example = model.start_tokens(), np.arange(2, dtype="int32")
    for name in ("greedy", "beam"):
        expected = np_(getattr(module, name)(start, example))
        np.testing.assert_array_equal(
            getattr(loaded, name)(start, example).numpy(), expected)


def _legacy():
    """benchmarks/_legacy_beam_search.py: Seq2Seq's decoding before this
    module (the "before" of benchmarks/decoding.py)."""
    spec = importlib.util.spec_from_file_location(
        "_legacy_beam_search", ROOT / "benchmarks" / "_legacy_beam_search.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("method", ["greedy", "beam"])
@pytest.mark.parametrize("attention", ["bahdanau", "luong_monotonic"])
def test_seq2seq_step_decodes_as_seq2seq_does(method, attention):
    # Seq2Seq.decode (its step through Greedy/BeamSearch) gives what its
    # decode gave before (attention/beam_search.py, now
    # benchmarks/_legacy_beam_search.py): ids, scores, lengths and
    # alignments, with early ends (random weights); Bahdanau order, and
    # Luong order with a monotonic mechanism (its state in the decoder's).
    import keras_seqmem

    keras.utils.set_random_seed(3)
    order = "luong" if attention == "luong_monotonic" else "bahdanau"
    model = keras_seqmem.Seq2Seq(9, 9, embedding_dim=6, units=8,
                                 cell="lstm", max_decode_length=7,
                                 attention=attention, attention_order=order)
    model.build()
    bias = model.output_layer.bias  # END likelier: some sequences end early
    bias.assign(np.where(np.arange(9) == model.end_id, 1.5, np_(bias)))
    source = np.random.default_rng(3).integers(3, 9, (3, 5)).astype("int32")
    source[1, 3:] = 0  # padded
    k = 3 if method == "beam" else 1
    old = _legacy().legacy_decode(model, source, method, beam_width=k,
                                  length_penalty=0.6, max_length=7,
                                  return_alignments=True)
    new = model.decode(source, method, beam_width=k, length_penalty=0.6,
                       max_length=7, return_alignments=True)
    assert (np_(old.lengths) < 7).any()
    np.testing.assert_array_equal(np_(new.ids), np_(old.ids))
    np.testing.assert_array_equal(np_(new.lengths), np_(old.lengths))
    np.testing.assert_allclose(np_(new.scores), np_(old.scores), atol=1e-5)
    np.testing.assert_allclose(np_(new.alignments), np_(old.alignments),
                               atol=1e-6)


# -- a Transformer decoder with a key/value cache ------------------------------


class TinyTransformer:
    """Causal Transformer decoder (pre-norm), random weights.

    `full(tokens)` runs `keras.layers.MultiHeadAttention(use_causal_mask)`
    over the whole sequence; `step(tokens, cache)` computes one position
    from the same layers' public sublayers (`query_dense`, `key_dense`,
    `value_dense`, `output_dense`) and a key/value cache in the state.
    """

    def __init__(self, vocab=7, dim=8, heads=2, layers=2, max_length=6,
                 seed=0):
        keras.utils.set_random_seed(seed)
        L = keras.layers
        self.vocab, self.dim, self.heads = vocab, dim, heads
        self.key_dim, self.max_length = dim // heads, max_length
        self.embed = L.Embedding(vocab, dim)
        self.position = L.Embedding(max_length, dim)
        self.blocks = [
            dict(norm1=L.LayerNormalization(), norm2=L.LayerNormalization(),
                 attention=L.MultiHeadAttention(heads, dim // heads),
                 ff1=L.Dense(2 * dim, activation="relu"), ff2=L.Dense(dim))
            for _ in range(layers)
        ]
        self.norm = L.LayerNormalization()
        self.out = L.Dense(vocab)
        self.full(np.zeros((1, max_length), "int32"))  # build

    def full(self, tokens):
        T = tokens.shape[1]
        x = self.embed(tokens) + self.position(ops.arange(T))[None]
        for blk in self.blocks:
            h = blk["norm1"](x)
            x = x + blk["attention"](h, h, use_causal_mask=True)
            x = x + blk["ff2"](blk["ff1"](blk["norm2"](x)))
        return self.out(self.norm(x))

    def initial_state(self, batch):
        shape = (batch, self.max_length, self.heads, self.key_dim)
        state = {"t": np.zeros((batch,), "int32")}
        for i in range(len(self.blocks)):
            state[f"k{i}"] = np.zeros(shape, "float32")
            state[f"v{i}"] = np.zeros(shape, "float32")
        return state

    def step(self, tokens, state):
        t = state["t"]
        here = ops.one_hot(t, self.max_length)  # (batch, L)
        x = self.embed(tokens) + self.position(t)  # (batch, dim)
        new = {"t": t + 1}
        visible = ops.arange(self.max_length)[None, :] <= t[:, None]
        for i, blk in enumerate(self.blocks):
            mha = blk["attention"]
            h = blk["norm1"](x)[:, None, :]
            q = mha.query_dense(h)[:, 0]  # (batch, heads, key_dim)
            k = state[f"k{i}"] + here[:, :, None, None] * mha.key_dense(h)
            v = state[f"v{i}"] + here[:, :, None, None] * mha.value_dense(h)
            new[f"k{i}"], new[f"v{i}"] = k, v
            scores = ops.einsum("bhd,bshd->bhs", q, k) / np.sqrt(self.key_dim)
            scores = ops.where(visible[:, None, :], scores, -1e9)
            context = ops.einsum("bhs,bshd->bhd", ops.softmax(scores, -1), v)
            x = x + mha.output_dense(context[:, None])[:, 0]
            x = x + blk["ff2"](blk["ff1"](blk["norm2"](x)))
        return self.out(self.norm(x)), new

    def step_without_cache(self, tokens, state):
        """The same step recomputing the whole prefix with `full`."""
        t = state["t"]
        here = ops.one_hot(t, self.max_length, dtype="int32")
        history = ops.where(here > 0, tokens[:, None], state["history"])
        logits = self.full(history)  # (batch, L, vocab)
        logits = ops.sum(logits * ops.cast(here, logits.dtype)[:, :, None],
                         axis=1)
        return logits, {"t": t + 1, "history": history}


def test_transformer_with_cache_beam_search_equals_the_uncached_model():
    if not hasattr(keras.layers.MultiHeadAttention, "query_dense"):
        pytest.skip("this Keras has no MultiHeadAttention.query_dense")
    model = TinyTransformer()
    batch, k, L = 3, 3, model.max_length
    rng = np.random.default_rng(0)
    # The cached step, teacher-forced, equals the full causal model.
    tokens = rng.integers(0, model.vocab, (batch, L)).astype("int32")
    full = np_(model.full(tokens))
    state = model.initial_state(batch)
    for t in range(L):
        logits, state = model.step(tokens[:, t], state)
        np.testing.assert_allclose(np_(logits), full[:, t], atol=1e-5)
    # Beam search over the cache equals beam search over the uncached model.
    start = np.ones((batch,), "int32")
    search = decoding.BeamSearch(k, length_penalty=0.5)
    cached = search(model.step, start, model.initial_state(batch),
                    end_token=2, max_length=L, pad_token=0)
    plain = search(model.step_without_cache, start,
                   {"t": np.zeros((batch,), "int32"),
                    "history": np.zeros((batch, L), "int32")},
                   end_token=2, max_length=L, pad_token=0)
    np.testing.assert_array_equal(np_(cached.ids), np_(plain.ids))
    np.testing.assert_allclose(np_(cached.scores), np_(plain.scores),
                               atol=1e-5)
    # Each returned log-probability is the full model's score of its tokens.
    ids = np_(cached.ids).reshape(batch * k, L)
    lengths = np_(cached.lengths).reshape(-1)
    inputs = np.concatenate([np.ones((batch * k, 1)), ids[:, :-1]], 1)
    logp = np_(ops.log_softmax(model.full(inputs.astype("int32")), axis=-1))
    expected = [logp[i, np.arange(n), ids[i, :n]].sum()
                for i, n in enumerate(lengths)]
    np.testing.assert_allclose(np_(cached.log_probs).reshape(-1), expected,
                               atol=1e-4)


# -- scheduled sampling ----------------------------------------------------------


def test_scheduled_sampling_at_zero_is_teacher_forcing():
    model = Markov(batch=3, max_length=6, vocab=5, seed=12)
    inputs = np.random.default_rng(1).integers(0, 5, (3, 6)).astype("int32")
    result = decoding.scheduled_sampling(
        model.step, inputs, model.initial_state(), 0.0, seed=1)
    state, expected = model.initial_state(), []
    for t in range(6):
        logits, state, _ = model.step(inputs[:, t], state)
        expected.append(np_(logits))
    np.testing.assert_allclose(np_(result.logits), np.stack(expected, 1),
                               atol=1e-6)
    np.testing.assert_array_equal(np_(result.inputs), inputs)
    assert not np_(result.sampled).any()


def test_scheduled_sampling_at_one_feeds_back_samples():
    # A step whose logits put all the mass (a margin of 60) on 2 v + 1 mod 5
    # after token v: fed its own samples, the inputs follow that chain.
    def step(tokens, state):
        return 60.0 * ops.one_hot((2 * tokens + 1) % 5, 5), state

    inputs = np.tile(np.arange(4, dtype="int32")[:, None], (1, 6))
    result = decoding.scheduled_sampling(step, inputs, (), 1.0, seed=2)
    fed = np_(result.inputs)
    sampled = np_(result.sampled)
    assert sampled[:, 1:].all() and not sampled[:, 0].any()
    np.testing.assert_array_equal(fed[:, 0], inputs[:, 0])
    np.testing.assert_array_equal(fed[:, 1:], (2 * fed[:, :-1] + 1) % 5)
    np.testing.assert_array_equal(np_(result.logits).argmax(-1),
                                  (2 * fed + 1) % 5)


def test_scheduled_sampling_mixes_with_probability_p_and_samples_softmax():
    probs = np.array([0.6, 0.25, 0.1, 0.05])
    fixed = Fixed(np.tile(np.log(probs)[None], (500, 1)))
    inputs = np.full((500, 9), 3, "int32")  # ground truth: always 3
    result = decoding.scheduled_sampling(fixed.step, inputs, (), 0.5, seed=3)
    sampled, fed = np_(result.sampled)[:, 1:], np_(result.inputs)[:, 1:]
    n = sampled.size
    assert abs(sampled.mean() - 0.5) < 5 * np.sqrt(0.25 / n)
    assert (fed[~sampled] == 3).all()
    freq = np.bincount(fed[sampled], minlength=4) / sampled.sum()
    sigma = np.sqrt(probs * (1 - probs) / sampled.sum())
    assert np.all(np.abs(freq - probs) < 5 * sigma), freq


class ScheduledModel(keras.Model):
    """Embedding + GRU cell decoder trained with scheduled sampling."""

    def __init__(self, vocab=6, units=8, p=0.5, **kwargs):
        super().__init__(**kwargs)
        self.embed = keras.layers.Embedding(vocab, units)
        self.cell = keras.layers.GRUCell(units)
        self.out = keras.layers.Dense(vocab)
        self.p = p
        self.units = units
        self.seed_generator = keras.random.SeedGenerator(0)

    def step(self, tokens, state):
        h, new = self.cell(self.embed(tokens), state)
        return self.out(h), new

    def call(self, decoder_inputs):
        batch = ops.shape(decoder_inputs)[0]
        state = [ops.zeros((batch, self.units))]
        return decoding.scheduled_sampling(
            self.step, decoder_inputs, state, self.p,
            seed=self.seed_generator).logits


def test_scheduled_sampling_trains_in_a_model_under_jit():
    rng = np.random.default_rng(0)
    targets = rng.integers(1, 6, (32, 5)).astype("int32")
    inputs = np.concatenate([np.zeros((32, 1), "int32"), targets[:, :-1]], 1)
    model = ScheduledModel()
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(
        from_logits=True), jit_compile=BACKEND != "torch")
    model(inputs[:2])
    before = [np_(w).copy() for w in model.trainable_weights]
    history = model.fit(inputs, targets, epochs=2, batch_size=16, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    after = [np_(w) for w in model.trainable_weights]
    assert all(not np.array_equal(a, b) for a, b in zip(before, after))


# -- argument errors -------------------------------------------------------------


@pytest.mark.parametrize("make,match", [
    (lambda: decoding.BeamSearch(0), "beam_width"),
    (lambda: decoding.BeamSearch(2, length_penalty=-1), "length_penalty"),
    (lambda: decoding.BeamSearch(2, coverage_penalty=-0.1), "coverage"),
    (lambda: decoding.Sampling(temperature=-1.0), "temperature"),
    (lambda: decoding.Sampling(top_k=0), "top_k"),
    (lambda: decoding.Sampling(top_p=0.0), "top_p"),
    (lambda: decoding.Sampling(top_p=1.5), "top_p"),
    (lambda: decoding.Sampling(seed="x"), "seed"),
    (lambda: decoding.tile_batch(np.zeros((2, 1)), 0), "multiplier"),
])
def test_bad_arguments_raise_value_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_calls_raise_value_errors():
    model = Markov()
    greedy = decoding.Greedy()
    with pytest.raises(ValueError, match="max_length"):
        greedy(model.step, model.start_tokens(), model.initial_state(),
               end_token=END, max_length=0)
    with pytest.raises(ValueError, match="start_tokens"):
        greedy(model.step, np.zeros((2, 1), "int32"), model.initial_state(),
               end_token=END, max_length=3)
    with pytest.raises(ValueError, match=r"\(logits, state\)"):
        greedy(lambda tokens, state: tokens, model.start_tokens(),
               model.initial_state(), end_token=END, max_length=3)
    with pytest.raises(ValueError, match="structure"):
        greedy(lambda tokens, state: (model.step(tokens, state)[0], ()),
               model.start_tokens(), model.initial_state(), end_token=END,
               max_length=3)
    with pytest.raises(ValueError, match="sampling_probability"):
        decoding.scheduled_sampling(model.step, np.zeros((2, 3), "int32"),
                                    model.initial_state(), 1.5)


# -- JAX ---------------------------------------------------------------------


_ON_JAX = [
    pytest.mark.skipif(BACKEND != "tensorflow",
                       reason="runs this file under JAX from a TensorFlow "
                              "session"),
    pytest.mark.skipif(importlib.util.find_spec("jax") is None,
                       reason="jax is not installed"),
]

# On JAX in CI: the decoders under jax.jit, Seq2Seq's step, the cached
# Transformer and the seeded sampler (the rest of the file, the
# backend-neutral search maths included, runs on JAX under `pytest -m
# slow`: test_this_file_on_jax_in_full).
JAX_IN_CI = ("compiles_into_one_xla_function or seq2seq_step_decodes or "
             "transformer or a_fixed_seed")


def _this_file_on_jax(*pytest_args):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_", "KERAS_BACKEND"))}
    env.update(KERAS_BACKEND="jax", JAX_PLATFORMS="cpu",
               TF_CPP_MIN_LOG_LEVEL="3")
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               "tests/test_decoding.py", *pytest_args]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=900)
    tail = (result.stdout + result.stderr)[-5000:]
    assert result.returncode == 0, tail
    assert " passed" in result.stdout and "failed" not in result.stdout, tail
    return result.stdout


@_ON_JAX[0]
@_ON_JAX[1]
def test_this_file_on_jax():
    out = _this_file_on_jax("-k", JAX_IN_CI)
    assert "deselected" in out, out[-2000:]


@_ON_JAX[0]
@_ON_JAX[1]
@pytest.mark.slow
def test_this_file_on_jax_in_full():
    _this_file_on_jax()


# -- the benchmark's quick run -------------------------------------------------


@pytest.mark.skipif(BACKEND != "tensorflow",
                    reason="benchmarks/decoding.py times tf.functions")
def test_benchmark_quick_run(tmp_path):
    """benchmarks/decoding.py --quick: both searches run to every length,
    return the same ids, and each figure is the one of its timed samples."""
    out = tmp_path / "decoding.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "decoding.py"), "--quick",
         "--json", str(out)],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    import json

    report = json.loads(out.read_text())
    rows = report["rows"]
    assert [r["length"] for r in rows] == report["args"]["lengths"]
    for r in rows:
        old = np.median(r["old_timing"]["samples_s"])
        new = np.median(r["new_timing"]["samples_s"])
        assert r["same_ids"] and r["new_xla_must_compile"]
        assert r["old_ms"] == pytest.approx(1e3 * old)
        assert r["new_ms"] == pytest.approx(1e3 * new)
        assert r["ratio_old_over_new"] == pytest.approx(old / new)
        assert r["new_ms_per_step"] == pytest.approx(1e3 * new / r["length"])
    for previous, r in zip(rows, rows[1:]):
        for name in ("old", "new"):
            assert r[f"{name}_marginal_ms_per_step"] == pytest.approx(
                (r[f"{name}_ms"] - previous[f"{name}_ms"])
                / (r["length"] - previous["length"]))
    growth = report["ms_per_step_growth_longest_over_shortest"]
    assert growth["new"] == pytest.approx(
        rows[-1]["new_ms_per_step"] / rows[0]["new_ms_per_step"])
    assert report["environment"]["date"] and report["seeds"]
