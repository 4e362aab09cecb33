"""Luong, monotonic and probability functions of the attention mechanisms.

Every mechanism against a float64 NumPy transcription of tfa 0.23's
equations (tensorflow_addons/seq2seq/attention_wrapper.py: `_luong_score`,
`_bahdanau_score`, `hardmax`, `safe_cumprod`, `monotonic_attention`,
`_monotonic_probability_fn`, and activations/sparsemax.py), outputs to
1e-10 and gradients against finite differences; masks, the three monotonic
modes, every probability function, the attention protocol (`attend` with a
state), and the shared layer checks. Backend-neutral: runs under
`KERAS_BACKEND=jax` too (the gradients through `jax.grad` there).
"""

import functools

import keras
import numpy as np
import pytest

import keras_seqmem
import layer_checks
import references
from keras_seqmem.attention import probability
from keras_seqmem.attention.bahdanau import NO_STATE
from keras_seqmem.attention.luong import LuongAttention
from keras_seqmem.attention.monotonic import BahdanauMonotonicAttention
from keras_seqmem.attention.monotonic import LuongMonotonicAttention

BACKEND = keras.backend.backend()
# float64 where the backend computes it (JAX does only with jax_enable_x64):
# then the tolerances of float64, else those of float32.
FLOAT64 = keras.ops.convert_to_numpy(
    keras.ops.ones((), "float64")).dtype == np.float64
TOL = dict(rtol=1e-10, atol=1e-13) if FLOAT64 else dict(rtol=1e-4, atol=1e-5)
GRAD_TOL = dict(rtol=1e-5, atol=1e-8) if FLOAT64 else dict(rtol=2e-2, atol=1e-3)
DQ, DK, DV, A = 3, 4, 5, 6  # query, key, value features; Bahdanau units
PROBABILITY_FNS = ("softmax", "hardmax", "sparsemax")
MODES = ("parallel", "recursive", "hard")


def _np(x):
    return keras.ops.convert_to_numpy(x)


# --- NumPy transcriptions of tfa ----------------------------------------------


def np_masked(fn, scores, mask):
    """tfa's masking (`_maybe_mask_score`: masked scores become the dtype's
    lowest value) around `fn`; then, as ours, zero at masked positions (tfa
    needs every memory length > 0, so its rows are never fully masked)."""
    scores = np.asarray(scores, "float64")
    if mask is None:
        return fn(scores)
    mask = np.broadcast_to(mask, scores.shape)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        out = fn(np.where(mask, scores, np.finfo("float64").min))
    return np.where(mask, out, 0.0)


def np_softmax(scores):
    e = np.exp(scores - scores.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def np_hardmax(scores):
    """`tfa.seq2seq.hardmax`: one_hot(argmax(logits, -1))."""
    return np.eye(scores.shape[-1])[np.argmax(scores, -1)]


def np_sparsemax(logits):
    """`tfa.activations.sparsemax` (`_compute_2d_sparsemax`), line by line."""
    shape = logits.shape
    z = logits.reshape(-1, shape[-1])
    z_sorted = -np.sort(-z, axis=-1)
    z_cumsum = np.cumsum(z_sorted, axis=-1)
    k = np.arange(1, shape[-1] + 1, dtype=z.dtype)
    z_check = 1 + k * z_sorted > z_cumsum
    k_z = np.sum(z_check, axis=-1)
    k_z_safe = np.maximum(k_z, 1)
    tau_sum = z_cumsum[np.arange(len(z)), k_z_safe - 1]
    tau_z = (tau_sum - 1) / k_z
    p = np.maximum(0.0, z - tau_z[:, None])
    return p.reshape(shape)


NP_PROBABILITY = {"softmax": np_softmax, "hardmax": np_hardmax,
                  "sparsemax": np_sparsemax}


def np_safe_cumprod(x):
    """tfa's `safe_cumprod(x, axis=1, exclusive=True)`."""
    tiny = np.finfo(x.dtype).tiny
    logs = np.log(np.clip(x, tiny, 1))
    exclusive = np.concatenate([np.zeros_like(logs[:, :1]),
                                np.cumsum(logs, axis=1)[:, :-1]], axis=1)
    return np.exp(exclusive)


def np_monotonic_attention(p, previous, mode):
    """`tfa.seq2seq.monotonic_attention(p_choose_i, previous_attention,
    mode)`; the recursive mode as its scan, one memory position at a time."""
    if mode == "recursive":
        shifted = np.concatenate([np.ones_like(p[:, :1]), 1 - p[:, :-1]], 1)
        q = np.zeros(p.shape[0])
        out = np.zeros_like(p)
        for i in range(p.shape[1]):
            q = shifted[:, i] * q + previous[:, i]
            out[:, i] = p[:, i] * q
        return out
    if mode == "parallel":
        c = np_safe_cumprod(1 - p)
        return p * c * np.cumsum(previous / np.clip(c, 1e-10, 1.0), axis=1)
    assert mode == "hard"
    p = p * np.cumsum(previous, axis=1)
    cumprod = np.cumprod(1 - p, axis=1)
    exclusive = np.concatenate([np.ones_like(p[:, :1]), cumprod[:, :-1]], 1)
    return p * exclusive


def np_bahdanau_scores(query, keys, w):
    """`_bahdanau_score`: (batch, T_q, d_q) queries -> (batch, T_q, T_v)."""
    pq = query @ w["query_kernel"]
    pk = keys @ w["key_kernel"]
    v = w["score_kernel"]
    hidden = pq[:, :, None, :] + pk[:, None, :, :]
    if "score_gain" in w:
        v = w["score_gain"] * v / np.sqrt(np.sum(v * v))
        hidden = hidden + w["score_bias"]
    return np.sum(v * np.tanh(hidden), axis=-1)


def np_luong_scores(query, keys, w):
    """`_luong_score`: q · (k W), times attention_g when scaled."""
    scores = np.einsum("biu,bju->bij", query, keys @ w["key_kernel"])
    if "score_gain" in w:
        scores = w["score_gain"] * scores
    return scores


def np_attention(kind, query, keys, values, w, mask=None,
                 probability_fn="softmax", mode=None, query_mask=None):
    """Context and weights of a mechanism, tfa's equations in float64.

    kind: "bahdanau" | "luong" (mode None) or with a monotonic `mode`. A
    query sequence runs the monotonic recursion from the one-hot initial
    alignment (`_BaseMonotonicAttentionMechanism.initial_alignments`); a
    masked query step keeps the previous alignment. Returns (context,
    weights)."""
    query, keys, values = (np.asarray(a, "float64")
                           for a in (query, keys, values))
    single = query.ndim == 2
    if single:
        query = query[:, None]
    score_fn = np_bahdanau_scores if kind == "bahdanau" else np_luong_scores
    scores = score_fn(query, keys, w)
    batch, steps_q, steps_v = scores.shape
    value_mask = None if mask is None else np.asarray(mask, bool)[:, None, :]
    if mode is None:
        alpha = np_masked(NP_PROBABILITY[probability_fn], scores, value_mask)
    else:
        scores = scores + w["score_offset"]
        if value_mask is not None:  # σ(lowest) = 0, [lowest > 0] = 0
            scores = np.where(value_mask, scores, np.finfo("float64").min)
        with np.errstate(over="ignore"):
            p = (scores > 0).astype("float64") if mode == "hard" else (
                1 / (1 + np.exp(-scores)))
        previous = np.eye(steps_v)[np.zeros(batch, int)]
        alpha = np.zeros_like(scores)
        for t in range(steps_q):
            alpha[:, t] = np_monotonic_attention(p[:, t], previous, mode)
            keep = np.ones(batch, bool) if query_mask is None else (
                np.asarray(query_mask, bool)[:, t])
            previous = np.where(keep[:, None], alpha[:, t], previous)
    context = np.einsum("bij,bjd->bid", alpha, values)
    if single:
        return context[:, 0], alpha[:, 0]
    return context, alpha


# --- helpers -------------------------------------------------------------------


def _weights(layer):
    return {w.name: _np(w).astype("float64")
            for w in layer.trainable_weights}


def _randomise(layer, seed=0, scale=0.7):
    """Random weights; gains near 1, the monotonic offset small."""
    rng = np.random.default_rng(seed)
    for w in layer.trainable_weights:
        value = scale * rng.standard_normal(tuple(w.shape))
        if w.name == "score_gain":
            value = 1.0 + 0.3 * value
        w.assign(value.astype(w.dtype))


def _make(kind, mode=None, units=None, dtype="float64", **kwargs):
    if kind == "bahdanau":
        cls = (keras_seqmem.BahdanauAttention if mode is None
               else BahdanauMonotonicAttention)
        units = units or A
    else:
        cls = LuongAttention if mode is None else LuongMonotonicAttention
        units = units or DQ
    if mode is not None:
        kwargs["mode"] = mode
    return cls(units, dtype=dtype, **kwargs)


def _problem(seed, query_steps=None, batch=3, steps=6, masked=True):
    rng = np.random.default_rng(seed)
    qshape = (batch, DQ) if query_steps is None else (batch, query_steps, DQ)
    query = rng.standard_normal(qshape)
    keys = rng.standard_normal((batch, steps, DK))
    values = rng.standard_normal((batch, steps, DV))
    mask = None
    if masked:
        mask = np.arange(steps)[None, :] < np.array([[6], [2], [4]])[:batch]
    return query, keys, values, mask


def _flag(kind):
    return {"normalize": True} if kind == "bahdanau" else {"scale": True}


# --- probability functions ---------------------------------------------------------


@pytest.mark.parametrize("name", PROBABILITY_FNS)
def test_probability_functions_match_tfa_transcription(name):
    rng = np.random.default_rng(0)
    scores = 2.0 * rng.standard_normal((4, 3, 7))
    scores[0, 0, :3] = 9.0  # ties: the first maximum wins (hardmax)
    mask = rng.random((4, 1, 7)) < 0.7
    mask[:, :, 0] = True
    mask[3] = False  # a fully masked memory: zero weights
    fn = probability.get(name)
    got = _np(fn(keras.ops.convert_to_tensor(scores), mask))
    want = np_masked(NP_PROBABILITY[name], scores, mask)
    want[3] = 0.0
    np.testing.assert_allclose(got, want, **TOL)
    assert got.dtype == (np.float64 if FLOAT64 else np.float32)
    np.testing.assert_array_equal(got[~np.broadcast_to(mask, got.shape)], 0)
    np.testing.assert_allclose(got[:3].sum(-1), 1.0, **TOL)
    unmasked = _np(fn(keras.ops.convert_to_tensor(scores)))
    np.testing.assert_allclose(unmasked, NP_PROBABILITY[name](scores),
                               **TOL)
    if name == "hardmax":
        assert set(np.unique(got)) <= {0.0, 1.0}
        np.testing.assert_array_equal(got[0, 0], np.eye(7)[0])
    if name == "sparsemax":  # sparse: some unmasked weights are exactly 0
        assert np.any((got == 0) & np.broadcast_to(mask, got.shape))
    # float32 / float16 scores compute in float32.
    half = fn(keras.ops.convert_to_tensor(scores.astype("float16")), mask)
    assert keras.backend.standardize_dtype(half.dtype) == "float32"


def test_sparsemax_of_the_paper_example():
    """tfa's docstring example: sparsemax([[-1, 0, 1], [-5, 1, 2]])."""
    got = _np(probability.masked_sparsemax(
        keras.ops.convert_to_tensor([[-1.0, 0.0, 1.0], [-5.0, 1.0, 2.0]])))
    np.testing.assert_array_equal(got, [[0, 0, 1], [0, 0, 1]])
    got = _np(probability.masked_sparsemax(
        keras.ops.convert_to_tensor([[0.0, 1.0, 0.5]], "float64")))
    np.testing.assert_allclose(got, [[0.0, 0.75, 0.25]], **TOL)  # τ = 0.25


def test_callable_probability_fn_gets_masked_scores_and_is_masked():
    seen = {}

    def doubled_softmax(scores):
        seen["scores"] = _np(scores)
        return 2.0 * keras.ops.softmax(scores, axis=-1)

    scores = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 4.0]])
    mask = np.array([[True, True, False], [True, False, True]])
    got = _np(probability.get(doubled_softmax)(
        keras.ops.convert_to_tensor(scores), mask))
    np.testing.assert_allclose(got, 2 * np_masked(np_softmax, scores, mask),
                               **TOL)
    assert seen["scores"][0, 2] == np.finfo(seen["scores"].dtype).min


# --- mechanisms against the transcription ----------------------------------


@pytest.mark.parametrize("probability_fn", PROBABILITY_FNS)
@pytest.mark.parametrize("query_steps", [None, 3])
@pytest.mark.parametrize("flag", [False, True])
@pytest.mark.parametrize("kind", ["bahdanau", "luong"])
def test_mechanism_matches_tfa_transcription(kind, flag, query_steps,
                                             probability_fn):
    query, keys, values, mask = _problem(1, query_steps)
    layer = _make(kind, probability_fn=probability_fn,
                  **(_flag(kind) if flag else {}))
    layer([query, values, keys])
    _randomise(layer)
    context, alpha = layer([query, values, keys], mask=[None, mask],
                           return_attention_scores=True)
    want_context, want_alpha = np_attention(
        kind, query, keys, values, _weights(layer), mask, probability_fn)
    np.testing.assert_allclose(alpha, want_alpha, **TOL)
    np.testing.assert_allclose(context, want_context, **TOL)
    assert np.all(_np(alpha)[1, ..., 2:] == 0.0)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("query_steps", [None, 4])
@pytest.mark.parametrize("flag", [False, True])
@pytest.mark.parametrize("kind", ["bahdanau", "luong"])
def test_monotonic_matches_tfa_transcription(kind, flag, query_steps, mode):
    query, keys, values, mask = _problem(2, query_steps)
    query_mask = None
    if query_steps:
        query_mask = np.arange(query_steps)[None] < np.array([[4], [3], [1]])
    layer = _make(kind, mode=mode, score_bias_init=0.5,
                  **(_flag(kind) if flag else {}))
    layer([query, values, keys])
    _randomise(layer, seed=3)
    context, alpha = layer([query, values, keys], mask=[query_mask, mask],
                           return_attention_scores=True)
    want_context, want_alpha = np_attention(
        kind, query, keys, values, _weights(layer), mask, mode=mode,
        query_mask=query_mask)
    if query_mask is not None:
        want_context = want_context * query_mask[..., None]
    # The parallel closed form divides by Π_{k<j} (1 − p_k), which amplifies
    # the last-bit differences of log/exp/cumsum between TensorFlow and
    # NumPy (relative 1e-9 here; tfa calls the mode "non-exact").
    # (In float32 it loses up to 1e-4 against the float64 reference.)
    tol = TOL
    if mode == "parallel":
        tol = (dict(rtol=1e-8, atol=1e-11) if FLOAT64
               else dict(rtol=1e-3, atol=2e-4))
    np.testing.assert_allclose(alpha, want_alpha, **tol)
    np.testing.assert_allclose(context, want_context, **tol)
    alpha = _np(alpha)
    assert np.all(alpha[1, ..., 2:] == 0.0)
    assert np.all(alpha >= 0) and np.all(alpha.sum(-1) <= 1 + 1e-6)
    if mode == "hard":
        assert set(np.unique(alpha)) <= {0.0, 1.0}
    else:
        assert np.any((alpha > 1e-3) & (alpha < 0.999))


def test_monotonic_modes_agree_where_they_should():
    """recursive and parallel are two forms of one recurrence; with scores
    far from 0 (p near 0 or 1) the recursive mode gives the hard mode's
    one-hot alignment, and the parallel form breaks down (its division by
    Π (1 − p) ≈ 0, clipped at 1e-10: tfa's "non-exact", kept as tfa has it)."""
    query, keys, values, mask = _problem(4, query_steps=5)

    def alignments(mode, gain):
        layer = _make("luong", mode=mode)
        layer([query, values, keys])
        _randomise(layer, seed=5)
        layer.key_kernel.assign(gain * layer.key_kernel)
        return _np(layer([query, values, keys], mask=[None, mask],
                         return_attention_scores=True)[1])

    np.testing.assert_allclose(alignments("parallel", 1.0),
                               alignments("recursive", 1.0),
                               rtol=1e-8 if FLOAT64 else 1e-4, atol=1e-9)
    hard = alignments("hard", 200.0)
    np.testing.assert_allclose(alignments("recursive", 200.0), hard,
                               atol=1e-6)
    assert set(np.unique(hard)) == {0.0, 1.0}
    assert np.max(np.abs(alignments("parallel", 200.0) - hard)) > 0.5


# --- gradients -------------------------------------------------------------


def _gradients(layer, arrays, probe):
    """d sum(context * probe) / d (each trainable weight, each input) on the
    active backend, through `stateless_call`."""
    trainable = [keras.ops.convert_to_tensor(_np(v))
                 for v in layer.trainable_variables]
    non_trainable = [v.value for v in layer.non_trainable_variables]
    query, values, keys, mask = arrays

    def loss_fn(weights, inputs):
        out, _ = layer.stateless_call(weights, non_trainable, list(inputs),
                                      mask=[None, mask])
        return keras.ops.sum(out * probe)

    inputs = [keras.ops.convert_to_tensor(a) for a in (query, values, keys)]
    if BACKEND == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(trainable)
            tape.watch(inputs)
            loss = loss_fn(trainable, inputs)
        grads = tape.gradient(loss, (trainable, inputs))
    elif BACKEND == "jax":
        import jax

        grads = jax.grad(loss_fn, argnums=(0, 1))(trainable, inputs)
    else:
        pytest.skip(f"no gradient helper for {BACKEND}")
    return [_np(g) for g in grads[0]], [_np(g) for g in grads[1]]


GRADIENT_CASES = [
    ("bahdanau", None, "sparsemax", True),
    ("luong", None, "softmax", True),
    ("luong", None, "sparsemax", False),
    ("bahdanau", "parallel", None, True),
    ("bahdanau", "recursive", None, False),
    ("luong", "parallel", None, True),
    ("luong", "recursive", None, True),
]


@pytest.mark.parametrize("kind, mode, probability_fn, flag", GRADIENT_CASES,
                         ids=lambda v: str(v))
def test_gradients_match_finite_differences(kind, mode, probability_fn,
                                            flag):
    query, keys, values, mask = _problem(6, query_steps=3, batch=2, steps=5)
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], bool)
    probe = np.random.default_rng(7).standard_normal((2, 3, DV))
    kwargs = _flag(kind) if flag else {}
    if mode is None:
        kwargs["probability_fn"] = probability_fn
    layer = _make(kind, mode=mode, **kwargs)
    layer([query, values, keys])
    # (Small sparsemax scores: a support of one position has no gradient.)
    _randomise(layer, seed=8, scale=0.25 if probability_fn == "sparsemax"
               else 0.7)
    weight_grads, input_grads = _gradients(
        layer, (query, values, keys, mask), probe)
    raw = _weights(layer)
    arrays = {"query": query.copy(), "values": values.copy(),
              "keys": keys.copy()}

    def reference_loss():
        context, _ = np_attention(kind, arrays["query"], arrays["keys"],
                                  arrays["values"], raw, mask,
                                  probability_fn or "softmax", mode=mode)
        return np.sum(context * probe)

    for variable, grad in zip(layer.trainable_variables, weight_grads):
        np.testing.assert_allclose(
            grad, references.numeric_grad(reference_loss, raw[variable.name]),
            **GRAD_TOL, err_msg=variable.name)
    for name, grad in zip(("query", "values", "keys"), input_grads):
        np.testing.assert_allclose(
            grad, references.numeric_grad(reference_loss, arrays[name]),
            **GRAD_TOL, err_msg=name)
    assert any(np.any(g != 0) for g in weight_grads)


# --- the attention protocol ------------------------------------------------------


@pytest.mark.parametrize("mode", [None, "parallel", "recursive", "hard"])
@pytest.mark.parametrize("kind", ["bahdanau", "luong"])
def test_attend_with_state_step_by_step_equals_the_call(kind, mode):
    """`attend(..., state=)` one query step at a time, carrying the state,
    gives what one call on the query sequence gives; a stateless mechanism
    has state None throughout."""
    query, keys, values, mask = _problem(9, query_steps=4)
    layer = _make(kind, mode=mode)
    layer([query, values, keys])
    _randomise(layer, seed=10)
    full, alpha = layer([query, values, keys], mask=[None, mask],
                        return_attention_scores=True)
    processed = layer.project_keys(keys)
    state = layer.get_initial_state(values)
    if mode is None:
        assert state is None
    else:
        np.testing.assert_array_equal(
            _np(state), np.eye(6)[np.zeros(3, int)])
        assert _np(state).dtype == (np.float64 if FLOAT64 else np.float32)
    for t in range(4):
        context, weights, state = layer.attend(
            query[:, t], processed, values, mask, state=state)
        np.testing.assert_allclose(context, full[:, t], **TOL)
        np.testing.assert_allclose(weights, alpha[:, t], **TOL)
        if mode is None:
            assert state is None
        else:
            np.testing.assert_allclose(state, weights, rtol=0, atol=0)
    # The whole sequence through attend: the state after its last step.
    context, weights, last = layer.attend(
        query, processed, values, mask, state=layer.get_initial_state(values))
    np.testing.assert_allclose(context, full, **TOL)
    if mode is not None:
        np.testing.assert_allclose(last, _np(alpha)[:, -1], **TOL)


def test_attend_without_state():
    """Stateless mechanisms keep the two-value `attend` (what
    AttentiveDecoder calls); a monotonic one refuses it, naming the fix."""
    query, keys, values, mask = _problem(11)
    luong = _make("luong")
    luong([query, values, keys])
    context, weights = luong.attend(query, luong.project_keys(keys), values,
                                    mask)
    np.testing.assert_allclose(context, luong([query, values, keys],
                                              mask=[None, mask]))
    monotonic = _make("luong", mode="parallel", name="mono")
    monotonic([query, values, keys])
    with pytest.raises(ValueError, match="'mono'.*state=get_initial_state"):
        monotonic.attend(query, monotonic.project_keys(keys), values, mask)
    assert NO_STATE is not None


def test_luong_in_attentive_decoder():
    """A stateless mechanism plugs into today's AttentiveDecoder."""
    rng = np.random.default_rng(12)
    targets = rng.standard_normal((2, 4, 3)).astype("float32")
    memory = rng.standard_normal((2, 5, DV)).astype("float32")
    decoder = keras_seqmem.AttentiveDecoder(
        keras.layers.GRUCell(4), attention=LuongAttention(4, scale=True),
        return_alignments=True)
    outputs, alignments = decoder([targets, memory])
    assert tuple(outputs.shape) == (2, 4, 4 + DV)
    np.testing.assert_allclose(_np(alignments).sum(-1), 1.0, rtol=1e-5)


# --- monotonic specifics ---------------------------------------------------


def test_sigmoid_noise_only_in_training_and_seeded():
    query, keys, values, _ = _problem(13, query_steps=3, masked=False)
    make = functools.partial(_make, "bahdanau", mode="parallel",
                             sigmoid_noise=1.0, seed=4)
    layer, twin, quiet = make(), make(), _make("bahdanau", mode="parallel")
    for each in (layer, twin, quiet):
        each([query, values, keys])
        _randomise(each, seed=1)
    # Inference: no noise, so the noiseless layer's output.
    np.testing.assert_array_equal(layer([query, values, keys]),
                                  quiet([query, values, keys]))
    noisy = _np(layer([query, values, keys], training=True))
    assert np.all(np.isfinite(noisy))
    assert not np.allclose(noisy, _np(quiet([query, values, keys])))
    # The same seed, the same noise.
    np.testing.assert_array_equal(
        noisy, _np(twin([query, values, keys], training=True)))


def test_monotonic_weight_names_and_initial_values():
    query, keys, values, _ = _problem(14, masked=False)
    layer = _make("bahdanau", mode="hard", normalize=True, score_bias_init=-2.0,
                  dtype="float32")
    layer([query, values, keys])
    shapes = {w.name: tuple(w.shape) for w in layer.weights}
    assert shapes == {"query_kernel": (DQ, A), "key_kernel": (DK, A),
                      "score_kernel": (A,), "score_gain": (),
                      "score_bias": (A,), "score_offset": ()}
    np.testing.assert_allclose(_np(layer.score_offset), -2.0)
    luong = _make("luong", mode="recursive", scale=True, dtype="float32")
    luong([query, values, keys])
    assert {w.name: tuple(w.shape) for w in luong.weights} == {
        "key_kernel": (DK, DQ), "score_gain": (), "score_offset": ()}
    np.testing.assert_allclose(_np(luong.score_gain), 1.0)
    plain = LuongAttention(DQ)
    plain([query, values, keys])
    assert [w.name for w in plain.weights] == ["key_kernel"]


# --- errors and configs ---------------------------------------------------------


def test_luong_query_depth_must_equal_units():
    query, keys, values, _ = _problem(15, masked=False)
    for layer in (LuongAttention(DQ + 1, name="lu"),
                  LuongMonotonicAttention(DQ + 1, name="lu")):
        with pytest.raises(ValueError, match="'lu'.*units=4.*set units=3"):
            layer([query, values, keys])


@pytest.mark.parametrize("make, argument", [
    (lambda: LuongAttention(0), "units"),
    (lambda: LuongAttention(3, scale=1), "scale"),
    (lambda: LuongAttention(3, probability_fn="max"), "probability_fn"),
    (lambda: keras_seqmem.BahdanauAttention(3, probability_fn="sigmoid"),
     "probability_fn"),
    (lambda: LuongAttention(3, dropout=1.5), "dropout"),
    (lambda: BahdanauMonotonicAttention(3, mode="soft"), "mode"),
    (lambda: LuongMonotonicAttention(3, sigmoid_noise=-1.0),
     "sigmoid_noise"),
    (lambda: LuongMonotonicAttention(3, score_bias_init=float("nan")),
     "score_bias_init"),
    (lambda: BahdanauMonotonicAttention(3, normalize="no"), "normalize"),
])
def test_bad_hyperparameters(make, argument):
    with pytest.raises(ValueError, match=f"`{argument}`"):
        make()


@keras.saving.register_keras_serializable(package="test_attention_mechanisms")
def halved_softmax(scores):
    return 0.5 * keras.ops.softmax(scores, axis=-1)


def test_configs_round_trip_and_old_bahdanau_configs_load():
    old = {"name": "att", "trainable": True, "dtype": "float32",
           "units": 4, "normalize": True, "dropout": 0.0,
           "kernel_initializer": "glorot_uniform",
           "score_initializer": "glorot_uniform",
           "kernel_regularizer": None, "score_regularizer": None,
           "kernel_constraint": None, "score_constraint": None}
    layer = keras_seqmem.BahdanauAttention.from_config(old)
    assert layer.probability_fn == "softmax" and layer.normalize
    for layer in (keras_seqmem.BahdanauAttention(4, probability_fn="hardmax"),
                  LuongAttention(3, probability_fn=halved_softmax),
                  LuongMonotonicAttention(3, mode="hard", sigmoid_noise=0.5,
                                          seed=3),
                  BahdanauMonotonicAttention(4, normalize=True,
                                             score_bias_init=-1.0,
                                             mode="recursive")):
        config = keras.saving.serialize_keras_object(layer)
        clone = keras.saving.deserialize_keras_object(config)
        assert type(clone) is type(layer)
        assert clone.get_config() == layer.get_config()
    assert clone.mode == "recursive" and clone.score_bias_init == -1.0


# --- the shared checks ---------------------------------------------------------


def _check_weight_masking(case):
    """Padded memory positions change nothing (alone == masked), get zero
    weight, and the mask matters: unmasked, padding filled with ±3 changes
    the context (for one of the signs: sparsemax may leave a position with
    a low score at weight 0, masked or not)."""
    layer = case.make_layer()
    query, values = case.sample(batch=3, time=7, seed=6)
    lengths = np.array([7, 4, 1])
    mask = np.arange(7)[None, :] < lengths[:, None]
    padded = np.where(mask[..., None], values, 0.0).astype("float32")
    masked, weights = (_np(x) for x in layer([query, padded], mask=[None, mask],
                                             return_attention_scores=True))
    via_masking = _np(layer([query, keras.layers.Masking(0.0)(padded)]))
    np.testing.assert_allclose(via_masking, masked, atol=1e-6)
    weight_mask = mask[:, None] if weights.ndim == 3 else mask
    np.testing.assert_array_equal(
        weights[~np.broadcast_to(weight_mask, weights.shape)], 0.0)
    for b, n in enumerate(lengths):
        alone = _np(layer([query[b:b + 1], values[b:b + 1, :n]]))[0]
        np.testing.assert_allclose(masked[b], alone, atol=1e-5)
    changed = []
    for fill in (3.0, -3.0):
        filled = np.where(mask[..., None], values, fill).astype("float32")
        unmasked = _np(layer([query, filled]))
        changed.append(not np.allclose(unmasked[1:], masked[1:], atol=1e-4))
    assert any(changed)


def _bad_rank(case):
    query, values = case.sample()
    return [query, values[:, 0]]


def _bad_feature(case):
    query, values = case.sample()
    return [np.concatenate([query, query[..., :1]], -1), values]


def _case(name, make_layer, query_shape, check_masking, **kwargs):
    return layer_checks.LayerCase(
        name=name, make_layer=make_layer, input_shapes=[query_shape, (None, DV)],
        check_masking=check_masking, bad_rank_input=_bad_rank,
        bad_feature_input=_bad_feature, **kwargs)


CASES = [
    _case("Luong-step-scale-sparsemax",
          lambda **o: LuongAttention(DQ, scale=True, probability_fn="sparsemax",
                                     **o),
          (DQ,), _check_weight_masking),
    _case("LuongMonotonic-seq-parallel",
          lambda **o: LuongMonotonicAttention(DQ, scale=True,
                                              score_bias_init=-0.5, **o),
          (None, DQ), _check_weight_masking),
    _case("BahdanauMonotonic-seq-normalize-recursive",
          lambda **o: BahdanauMonotonicAttention(A, normalize=True,
                                                 mode="recursive", **o),
          (None, DQ), _check_weight_masking),
]


@pytest.mark.parametrize("check", layer_checks.SHARED_CHECKS,
                         ids=lambda f: f.__name__)
@pytest.mark.parametrize("case", CASES, ids=str)
def test_shared_layer_checks(case, check, tmp_path):
    check(case, tmp_path)
