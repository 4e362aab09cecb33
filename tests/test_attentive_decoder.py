"""The open AttentiveDecoder: mechanism state (monotonic attention), Luong's
order (tfa's AttentionWrapper), Keras attention layers and a user's own
mechanism through the protocol, several mechanisms at once.

The NumPy references below run the whole decoder step loop in float64
(tfa's equations for the mechanisms, `AttentionWrapper.call` for Luong's
order); tfa itself is compared by benchmarks/tfa_parity_wrapper.py.
"""

import functools
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_seqmem
import layer_checks
import references
from keras_seqmem.attention.adapters import KerasAttentionAdapter
from keras_seqmem.attention.luong import LuongAttention
from keras_seqmem.attention.monotonic import BahdanauMonotonicAttention
from keras_seqmem.attention.monotonic import LuongMonotonicAttention

BACKEND = keras.backend.backend()
FLOAT64 = keras.ops.convert_to_numpy(
    keras.ops.ones((), "float64")).dtype == np.float64
# XLA's CPU tanh/sigmoid are accurate to ~3e-8 in float64 (JAX), so there
# the float64 references hold to 1e-6; float32 (JAX without x64) to 1e-4.
if not FLOAT64:
    TOL = dict(rtol=1e-4, atol=1e-5)
elif BACKEND == "jax":
    TOL = dict(rtol=1e-6, atol=1e-7)
else:
    TOL = dict(rtol=1e-10, atol=1e-12)

B, TT, TS = 3, 4, 5  # batch, target steps, source steps
DX, DV, U = 3, 4, 4  # target features, memory features, cell units
A = 3  # Bahdanau units


def _np(x):
    return keras.ops.convert_to_numpy(x)


# --- NumPy references ----------------------------------------------------------


def np_scores(kind, query, memory, w):
    """One query step `(batch, d_q)` -> `(batch, T_s)`: tfa's
    `_bahdanau_score` / `_luong_score` (our weight names)."""
    pk = memory @ w["key_kernel"]
    if kind == "bahdanau":
        hidden = (query @ w["query_kernel"])[:, None, :] + pk
        v = w["score_kernel"]
        if "score_gain" in w:
            v = w["score_gain"] * v / np.sqrt(np.sum(v * v))
            hidden = hidden + w["score_bias"]
        return np.sum(v * np.tanh(hidden), axis=-1)
    scores = np.einsum("bu,bju->bj", query, pk)
    return w["score_gain"] * scores if "score_gain" in w else scores


def np_monotonic(p, previous, mode):
    """`tfa.seq2seq.monotonic_attention(p, previous_attention, mode)`."""
    if mode == "recursive":
        shifted = np.concatenate([np.ones_like(p[:, :1]), 1 - p[:, :-1]], 1)
        q, out = np.zeros(p.shape[0]), np.zeros_like(p)
        for i in range(p.shape[1]):
            q = shifted[:, i] * q + previous[:, i]
            out[:, i] = p[:, i] * q
        return out
    if mode == "parallel":
        logs = np.log(np.clip(1 - p, np.finfo("float64").tiny, 1))
        c = np.exp(np.concatenate([np.zeros_like(logs[:, :1]),
                                   np.cumsum(logs, 1)[:, :-1]], 1))
        return p * c * np.cumsum(previous / np.clip(c, 1e-10, 1.0), axis=1)
    p = p * np.cumsum(previous, axis=1)
    cumprod = np.cumprod(1 - p, axis=1)
    return p * np.concatenate([np.ones_like(p[:, :1]), cumprod[:, :-1]], 1)


def np_mechanism(spec, query, memory, mask, state):
    """(context, α, new state) of one mechanism `spec` = dict(kind, mode,
    w) at one step (mode None: softmax over the real positions)."""
    scores = np_scores(spec["kind"], query, memory, spec["w"])
    lowest = np.finfo("float64").min
    if spec["mode"] is None:
        scores = np.where(mask, scores, lowest)
        e = np.exp(scores - scores.max(-1, keepdims=True)) * mask
        alpha = e / e.sum(-1, keepdims=True)
        new_state = None
    else:
        scores = np.where(mask, scores + spec["w"]["score_offset"], lowest)
        with np.errstate(over="ignore"):
            p = (scores > 0).astype("float64") if spec["mode"] == "hard" \
                else 1 / (1 + np.exp(-scores))
        alpha = np_monotonic(p, state, spec["mode"])
        new_state = alpha
    return np.einsum("bj,bjd->bd", alpha, memory), alpha, new_state


def np_decoder(order, cell_step, cell_w, specs, targets, memory, initial,
               target_mask, memory_mask, kernels=None, output_attention=True,
               output_context=True):
    """The whole decoder loop in float64.

    Bahdanau order: c_t = attend(s_{t-1}[0]); o_t = cell([x_t; c_t]);
    y_t = [o_t; c_t]. Luong order (tfa AttentionWrapper.call): o_t =
    cell([x_t; a_{t-1}]); c_t = attend(o_t); a_t = [o_t; c_t] W_a (or c_t);
    y_t = a_t or o_t. Every mechanism's state is carried; a masked target
    step keeps all states and outputs zeros (α too). Returns (y, α of every
    mechanism, final cell states, final mechanism states, final a)."""
    targets, memory = (np.asarray(a, "float64") for a in (targets, memory))
    mask = np.asarray(memory_mask, bool)
    states = [np.asarray(s, "float64") for s in initial]
    mstates = [np.eye(memory.shape[1])[np.zeros(len(memory), int)]
               if s["mode"] else None for s in specs]
    size = (sum(k.shape[1] for k in kernels) if kernels
            else memory.shape[-1] * len(specs))
    previous = np.zeros((len(memory), size))
    ys, alphas = [], [[] for _ in specs]
    for t in range(targets.shape[1]):
        keep = np.asarray(target_mask, bool)[:, t][:, None]

        def attend_all(query):
            out = [np_mechanism(s, query, memory, mask, m)
                   for s, m in zip(specs, mstates)]
            return [o[0] for o in out], [o[1] for o in out], [o[2] for o in out]

        if order == "bahdanau":
            contexts, step_alphas, new_m = attend_all(states[0])
            context = np.concatenate(contexts, -1)
            out, new_states = cell_step(
                np.concatenate([targets[:, t], context], -1), states, cell_w)
            y = np.concatenate([out, context], -1) if output_context else out
            new_a = previous
        else:
            out, new_states = cell_step(
                np.concatenate([targets[:, t], previous], -1), states, cell_w)
            contexts, step_alphas, new_m = attend_all(out)
            if kernels:
                parts = [np.concatenate([out, c], -1) @ k
                         for c, k in zip(contexts, kernels)]
            else:
                parts = contexts
            new_a = np.concatenate(parts, -1)
            y = new_a if output_attention else out
        ys.append(np.where(keep, y, 0.0))
        for i, a in enumerate(step_alphas):
            alphas[i].append(np.where(keep, a, 0.0))
        states = [np.where(keep, n, s) for n, s in zip(new_states, states)]
        mstates = [None if m is None else np.where(keep, n, m)
                   for n, m in zip(new_m, mstates)]
        previous = np.where(keep, new_a, previous)
    return (np.stack(ys, 1), [np.stack(a, 1) for a in alphas], states,
            mstates, previous)


# --- helpers --------------------------------------------------------------------


def _weights(layer):
    return {w.name: _np(w).astype("float64") for w in layer.trainable_weights}


def _randomise(layer, seed, scale=0.7):
    rng = np.random.default_rng(seed)
    for w in layer.trainable_weights:
        value = scale * rng.standard_normal(tuple(w.shape))
        if w.name == "score_gain":
            value = 1.0 + 0.3 * value
        if w.name == "score_offset":
            value = 0.5 + 0.3 * value
        w.assign(value.astype(w.dtype))


def _data(seed=1):
    rng = np.random.default_rng(seed)
    targets = rng.standard_normal((B, TT, DX))
    memory = rng.standard_normal((B, TS, DV))
    target_mask = np.arange(TT)[None, :] < np.array([[4], [2], [3]])
    memory_mask = np.arange(TS)[None, :] < np.array([[5], [2], [4]])
    return rng, targets, memory, target_mask, memory_mask


MECHANISMS = {
    # name: (make(dtype), kind, mode)
    "BahdanauMonotonic-parallel": (
        lambda d: BahdanauMonotonicAttention(A, dtype=d), "bahdanau",
        "parallel"),
    "LuongMonotonic-recursive": (
        lambda d: LuongMonotonicAttention(U, scale=True, mode="recursive",
                                          dtype=d), "luong", "recursive"),
    "LuongMonotonic-hard": (
        lambda d: LuongMonotonicAttention(U, mode="hard", dtype=d), "luong",
        "hard"),
    "Bahdanau-normalize": (
        lambda d: keras_seqmem.BahdanauAttention(A, normalize=True, dtype=d),
        "bahdanau", None),
    "Luong": (lambda d: LuongAttention(U, dtype=d), "luong", None),
}


def _run_both(decoder, mechanisms, order, seed, cell_step, kernels=False,
              output_attention=True, output_context=True):
    """Builds, randomises, runs `decoder` and the NumPy loop; returns both."""
    rng, targets, memory, target_mask, memory_mask = _data(seed)
    decoder([targets, memory])
    _randomise(decoder.cell, seed + 1)
    specs = []
    for i, (layer, (_, kind, mode)) in enumerate(mechanisms):
        _randomise(layer, seed + 2 + i)
        specs.append(dict(kind=kind, mode=mode, w=_weights(layer)))
    for i, layer in enumerate(decoder.attention_layers):
        _randomise(layer, seed + 10 + i)
    initial = [0.5 * rng.standard_normal((B, U))
               for _ in range(decoder.cell_state_count)]
    got = decoder([targets, memory], mask=[target_mask, memory_mask],
                  initial_state=initial)
    want = np_decoder(
        order, cell_step, _weights(decoder.cell), specs, targets, memory,
        initial, target_mask, memory_mask,
        kernels=[_np(l.kernel).astype("float64")
                 for l in decoder.attention_layers] if kernels else None,
        output_attention=output_attention, output_context=output_context)
    _run_both.initial = initial
    return got, want, target_mask


# --- 1. mechanism state -----------------------------------------------------------


@pytest.mark.parametrize("order", ["bahdanau", "luong"])
@pytest.mark.parametrize("name", ["BahdanauMonotonic-parallel",
                                  "LuongMonotonic-recursive",
                                  "LuongMonotonic-hard"])
def test_monotonic_decoder_matches_numpy(order, name):
    """The whole decoder loop with a monotonic mechanism: its previous
    alignment is carried from step to step, kept at finished target steps,
    and returned with the cell's states."""
    make, kind, mode = MECHANISMS[name]
    mechanism = make("float64")
    decoder = keras_seqmem.AttentiveDecoder(
        keras.layers.LSTMCell(U, dtype="float64"), attention=mechanism,
        order=order, return_alignments=True, return_state=True,
        dtype="float64")
    (outputs, alignments, *states), want, target_mask = _run_both(
        decoder, [(mechanism, MECHANISMS[name])], order, 3,
        references.lstm_step)
    want_y, (want_alpha,), want_cell, (want_m,), want_a = want
    np.testing.assert_allclose(outputs, want_y, **TOL)
    np.testing.assert_allclose(alignments, want_alpha, **TOL)
    expected_states = want_cell + [want_m] + (
        [want_a] if order == "luong" else [])
    assert len(states) == len(expected_states) == (
        decoder.cell_state_count + 1 + (order == "luong"))
    for got, expected in zip(states, expected_states):
        np.testing.assert_allclose(got, expected, **TOL)
    # The final monotonic state is the alignment of each sequence's last
    # real step (a finished step keeps it).
    last = target_mask.sum(1) - 1
    np.testing.assert_allclose(
        states[2], _np(alignments)[np.arange(B), last], **TOL)


def test_monotonic_step_by_step_equals_call():
    """`get_initial_state(batch, memory)` + `step` (what decoding uses) give
    `call`'s outputs, alignments and states, with the mechanism state."""
    _, targets, memory, _, memory_mask = _data(4)
    targets, memory = targets.astype("float32"), memory.astype("float32")
    decoder = keras_seqmem.AttentiveDecoder(
        keras.layers.GRUCell(U),
        attention=BahdanauMonotonicAttention(A, mode="recursive"),
        order="luong", attention_layer_size=5, return_alignments=True,
        return_state=True)
    outputs, alignments, *final = decoder([targets, memory],
                                          mask=[None, memory_mask])
    prepared = decoder.prepare_memory(memory, memory_mask)
    states = decoder.get_initial_state(B, prepared)
    assert decoder.cell_state_count == 1 and len(states) == 3
    np.testing.assert_array_equal(_np(states[1]), np.eye(TS)[[0, 0, 0]])
    for t in range(TT):
        output, states, alignment = decoder.step(targets[:, t], states,
                                                 prepared)
        np.testing.assert_allclose(output, outputs[:, t], atol=1e-6)
        np.testing.assert_allclose(alignment, alignments[:, t], atol=1e-6)
    for got, want in zip(states, final):
        np.testing.assert_allclose(got, want, atol=1e-6)
    # The final states continue a decode: as a full initial state.
    again = decoder([targets, memory], mask=[None, memory_mask],
                    initial_state=final)
    assert len(again) == 2 + len(final)
    with pytest.raises(ValueError, match="memory=prepare_memory"):
        decoder.get_initial_state(B)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="tf.GradientTape")
def test_luong_order_monotonic_gradients_match_finite_differences():
    import tensorflow as tf

    rng, targets, memory, target_mask, memory_mask = _data(5)
    mechanism = BahdanauMonotonicAttention(2, dtype="float64")
    decoder = keras_seqmem.AttentiveDecoder(
        keras.layers.SimpleRNNCell(3, dtype="float64"), attention=mechanism,
        order="luong", attention_layer_size=2, dtype="float64")
    decoder([targets, memory])
    for i, layer in enumerate([decoder.cell, mechanism,
                               decoder.attention_layers[0]]):
        _randomise(layer, 6 + i)
    probe = rng.standard_normal((B, TT, 2))
    inputs = [tf.Variable(targets), tf.Variable(memory)]
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(
            decoder(inputs, mask=[target_mask, memory_mask]) * probe)
    variables = decoder.trainable_weights
    grads = tape.gradient(loss, [v.value for v in variables] + inputs)
    cell_w, mech_w = _weights(decoder.cell), _weights(mechanism)
    kernel = _np(decoder.attention_layers[0].kernel).astype("float64")
    arrays = {"targets": targets.copy(), "memory": memory.copy(),
              "kernel": kernel}
    spec = dict(kind="bahdanau", mode="parallel", w=mech_w)

    def reference_loss():
        y = np_decoder("luong", references.simple_rnn_step, cell_w, [spec],
                       arrays["targets"], arrays["memory"],
                       [np.zeros((B, 3))], target_mask, memory_mask,
                       kernels=[arrays["kernel"]])[0]
        return np.sum(y * probe)

    owners = {id(v): o for o, layer in (
        (cell_w, decoder.cell), (mech_w, mechanism),
        ({"kernel": arrays["kernel"]}, decoder.attention_layers[0]))
        for v in layer.trainable_weights}
    for variable, grad in zip(variables, grads):
        owner = owners[id(variable)]
        np.testing.assert_allclose(
            grad, references.numeric_grad(reference_loss,
                                          owner[variable.name]),
            rtol=1e-5, atol=1e-8, err_msg=variable.path)
    for name, grad in zip(("targets", "memory"), grads[len(variables):]):
        np.testing.assert_allclose(
            grad, references.numeric_grad(reference_loss, arrays[name]),
            rtol=1e-5, atol=1e-8, err_msg=name)


@pytest.mark.parametrize("order", ["bahdanau", "luong"])
def test_stacked_cells_match_numpy(order):
    """A StackedRNNCells: its nested states are flattened into the flat
    state list (cell_state_count = 4 for two LSTM cells) and packed again
    for the cell; the query of Bahdanau's order is the first cell's h."""
    rng, targets, memory, target_mask, memory_mask = _data(15)
    cells = [keras.layers.LSTMCell(U, dtype="float64") for _ in range(2)]
    mechanism = LuongMonotonicAttention(U, dtype="float64")
    decoder = keras_seqmem.AttentiveDecoder(
        keras.layers.StackedRNNCells(cells, dtype="float64"),
        attention=mechanism, order=order, return_alignments=True,
        return_state=True, dtype="float64")
    decoder([targets, memory])
    assert decoder.cell_state_count == 4
    for i, layer in enumerate(cells + [mechanism]):
        _randomise(layer, 16 + i)
    ws = [_weights(c) for c in cells]

    def stacked_step(x, states, _):
        out, (h1, c1) = references.lstm_step(x, states[:2], ws[0])
        out, (h2, c2) = references.lstm_step(out, states[2:], ws[1])
        return out, (h1, c1, h2, c2)

    initial = [0.5 * rng.standard_normal((B, U)) for _ in range(4)]
    outputs, alignments, *states = decoder(
        [targets, memory], mask=[target_mask, memory_mask],
        initial_state=[initial[:2], initial[2:]])  # nested, as the cell's
    spec = dict(kind="luong", mode="parallel", w=_weights(mechanism))
    want_y, (want_alpha,), want_cell, (want_m,), want_a = np_decoder(
        order, stacked_step, None, [spec], targets, memory, initial,
        target_mask, memory_mask)
    np.testing.assert_allclose(outputs, want_y, **TOL)
    np.testing.assert_allclose(alignments, want_alpha, **TOL)
    expected = want_cell + [want_m] + ([want_a] if order == "luong" else [])
    assert len(states) == len(expected)
    for got, e in zip(states, expected):
        np.testing.assert_allclose(got, e, **TOL)


# --- 2. Luong's order ---------------------------------------------------------------


@pytest.mark.parametrize("layer_size, output_attention", [
    (5, True), (5, False), (None, True)])
@pytest.mark.parametrize("name", ["Luong", "Bahdanau-normalize"])
def test_luong_order_matches_numpy(name, layer_size, output_attention):
    """tfa AttentionWrapper's step: cell([x; a_{t-1}]), attend on its
    output, a_t = [o_t; c_t] W_a (no bias) or c_t, output a_t or o_t."""
    make, kind, mode = MECHANISMS[name]
    mechanism = make("float64")
    decoder = keras_seqmem.AttentiveDecoder(
        keras.layers.LSTMCell(U, dtype="float64"), attention=mechanism,
        order="luong", attention_layer_size=layer_size,
        output_attention=output_attention, return_alignments=True,
        return_state=True, dtype="float64")
    (outputs, alignments, *states), want, _ = _run_both(
        decoder, [(mechanism, MECHANISMS[name])], "luong", 7,
        references.lstm_step, kernels=layer_size is not None,
        output_attention=output_attention)
    want_y, (want_alpha,), want_cell, _, want_a = want
    np.testing.assert_allclose(outputs, want_y, **TOL)
    np.testing.assert_allclose(alignments, want_alpha, **TOL)
    for got, expected in zip(states, want_cell + [want_a]):
        np.testing.assert_allclose(got, expected, **TOL)
    assert decoder.output_size == outputs.shape[-1] == (
        (layer_size or DV) if output_attention else U)
    if layer_size:
        assert [w.path for w in decoder.attention_layers[0].weights] == [
            f"{decoder.name}/attention_layer/kernel"]


def test_tfa_wrapper_parity_results():
    """benchmarks/tfa_parity_wrapper.py's recorded run: every configuration
    equals tfa's AttentionWrapper to float precision (tfa's recursive
    monotonic mode fails in float64 in tfa itself: a float32 concat)."""
    import json
    import pathlib

    path = (pathlib.Path(__file__).resolve().parents[1] / "benchmarks"
            / "results" / "tfa_parity_wrapper_2026-12-07.json")
    rows = json.loads(path.read_text())["rows"]
    assert len(rows) == 40
    for row in rows:
        if row["tfa"] != "ok":
            assert "recursive" in row["configuration"]
            assert row["dtype"] == "float64"
            continue
        diffs = [v for k, v in row.items() if k.endswith("_diff")]
        assert len(diffs) >= 10
        limit = 1e-6 if row["dtype"] == "float32" else 1e-13
        assert max(diffs) < limit, row
        assert row["tfa_outputs_max_abs"] > 0.5
    assert sum(row["tfa"] == "ok" for row in rows) == 37


# --- 3. Keras attention layers and a user's mechanism ---------------------------


def _softmax(scores, mask):
    scores = np.where(mask, scores, -np.inf)
    e = np.exp(scores - scores.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


@pytest.mark.parametrize("kind", ["Attention", "AdditiveAttention",
                                  "MultiHeadAttention"])
def test_keras_attention_layers_plug_in(kind):
    """Wrapped automatically; Attention/AdditiveAttention against their
    equations, MultiHeadAttention against its own call on the query step
    (α = the heads' mean)."""
    rng, targets, memory, target_mask, memory_mask = _data(8)
    targets, memory = targets.astype("float32"), memory.astype("float32")
    if kind == "Attention":
        layer = keras.layers.Attention(use_scale=True)
    elif kind == "AdditiveAttention":
        layer = keras.layers.AdditiveAttention()
    else:
        layer = keras.layers.MultiHeadAttention(num_heads=2, key_dim=3)
    decoder = keras_seqmem.AttentiveDecoder(
        keras.layers.SimpleRNNCell(DV), attention=layer, order="luong",
        return_alignments=True, return_state=True)
    assert isinstance(decoder.attention, KerasAttentionAdapter)
    assert decoder.attention.layer is layer
    outputs, alignments, h, a = decoder([targets, memory],
                                        mask=[None, memory_mask])
    assert {id(w) for w in decoder.attention.weights} == {
        id(w) for w in layer.weights}
    # Replay the loop with the layer's equations.
    cell_w = _weights(decoder.cell)
    h_np, a_np = np.zeros((B, DV)), np.zeros((B, DV))
    for t in range(TT):
        _, (h_np,) = references.simple_rnn_step(
            np.concatenate([targets[:, t], a_np], -1), (h_np,), cell_w)
        if kind == "MultiHeadAttention":
            c, scores = layer(h_np[:, None].astype("float32"), memory,
                              attention_mask=memory_mask[:, None],
                              return_attention_scores=True)
            c, alpha = _np(c)[:, 0], _np(scores).mean(1)[:, 0]
        else:
            if kind == "Attention":
                scores = _np(layer.scale) * np.einsum("bd,bjd->bj", h_np,
                                                      memory)
            else:
                scores = np.sum(_np(layer.scale) * np.tanh(
                    h_np[:, None] + memory), -1)
            alpha = _softmax(scores, memory_mask)
            c = np.einsum("bj,bjd->bd", alpha, memory)
        np.testing.assert_allclose(outputs[:, t], c, atol=2e-5)
        np.testing.assert_allclose(alignments[:, t], alpha, atol=2e-5)
        np.testing.assert_array_equal(_np(alignments)[:, t][~memory_mask], 0)
        h_np, a_np = h_np, c.astype("float64")
    np.testing.assert_allclose(a, a_np, atol=2e-5)


@keras.saving.register_keras_serializable(package="test_attentive_decoder")
class CoverageDotAttention(keras.layers.Layer):
    """A user's mechanism written against the protocol only: dot-product
    scores minus a penalty on the attention paid so far (its state, the
    coverage Σ_{τ<t} α_τ)."""

    def __init__(self, penalty=1.0, **kwargs):
        super().__init__(**kwargs)
        self.penalty = penalty

    def build(self, input_shape):
        query_shape, memory_shape = input_shape
        self.kernel = self.add_weight(
            name="kernel", shape=(memory_shape[-1], query_shape[-1]))

    def project_keys(self, keys):
        return keras.ops.matmul(keys, self.kernel)

    def get_initial_state(self, values):
        return keras.ops.zeros_like(values[:, :, 0])

    def attend(self, query, processed_keys, values, value_mask=None,
               training=None, state=None):
        scores = keras.ops.einsum("bd,bjd->bj", query, processed_keys)
        scores = scores - self.penalty * state
        if value_mask is not None:
            scores = keras.ops.where(value_mask, scores, -1e9)
        weights = keras.ops.softmax(scores, axis=-1)
        context = keras.ops.einsum("bj,bjd->bd", weights, values)
        return context, weights, state + weights

    def get_config(self):
        return {**super().get_config(), "penalty": self.penalty}


def test_user_mechanism_plugs_in(tmp_path):
    """A mechanism written against the documented protocol, with a state:
    against its equations in NumPy, and saved and loaded in a model."""
    _, targets, memory, target_mask, memory_mask = _data(9)
    targets, memory = targets.astype("float32"), memory.astype("float32")
    mechanism = CoverageDotAttention(0.7)
    decoder = keras_seqmem.AttentiveDecoder(
        keras.layers.SimpleRNNCell(U), attention=mechanism,
        return_alignments=True, return_state=True)
    outputs, alignments, h, coverage = decoder(
        [targets, memory], mask=[target_mask, memory_mask])
    cell_w, kernel = _weights(decoder.cell), _np(mechanism.kernel)
    h_np, cov = np.zeros((B, U)), np.zeros((B, TS))
    for t in range(TT):
        keep = target_mask[:, t][:, None]
        scores = np.einsum("bd,bjd->bj", h_np, memory @ kernel) - 0.7 * cov
        alpha = _softmax(scores, memory_mask)
        c = np.einsum("bj,bjd->bd", alpha, memory)
        out, (new_h,) = references.simple_rnn_step(
            np.concatenate([targets[:, t], c], -1), (h_np,), cell_w)
        np.testing.assert_allclose(
            outputs[:, t], np.where(keep, np.concatenate([out, c], -1), 0),
            atol=2e-5)
        np.testing.assert_allclose(alignments[:, t],
                                   np.where(keep, alpha, 0), atol=2e-5)
        h_np = np.where(keep, new_h, h_np)
        cov = np.where(keep, cov + alpha, cov)
    np.testing.assert_allclose(coverage, cov, atol=2e-5)
    t_in, m_in = keras.Input((None, DX)), keras.Input((None, DV))
    model = keras.Model([t_in, m_in], decoder([t_in, m_in])[0])
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded([targets, memory]),
                               model([targets, memory]), atol=1e-6)


# --- 4. several mechanisms --------------------------------------------------------------


@pytest.mark.parametrize("order, layer_size", [
    ("luong", [5, 3]), ("luong", None), ("bahdanau", None)])
def test_several_mechanisms_match_numpy(order, layer_size):
    """tfa's list of mechanisms: each attends with the same query, its
    state carried; the contexts (or a_t's parts) concatenated; the first
    mechanism's alignments returned (step_all gives every one)."""
    names = ["LuongMonotonic-recursive", "Bahdanau-normalize"]
    mechanisms = [MECHANISMS[n][0]("float64") for n in names]
    decoder = keras_seqmem.AttentiveDecoder(
        keras.layers.LSTMCell(U, dtype="float64"), attention=mechanisms,
        order=order, attention_layer_size=layer_size,
        return_alignments=True, return_state=True, dtype="float64")
    (outputs, alignments, *states), want, _ = _run_both(
        decoder, list(zip(mechanisms, (MECHANISMS[n] for n in names))),
        order, 11, references.lstm_step, kernels=layer_size is not None)
    want_y, want_alphas, want_cell, want_m, want_a = want
    np.testing.assert_allclose(outputs, want_y, **TOL)
    np.testing.assert_allclose(alignments, want_alphas[0], **TOL)
    expected = want_cell + [want_m[0]] + ([want_a] if order == "luong"
                                          else [])
    assert len(states) == len(expected)
    for got, e in zip(states, expected):
        np.testing.assert_allclose(got, e, **TOL)
    # step_all: the alignments of every mechanism.
    _, targets, memory, _, memory_mask = _data(11)
    prepared = decoder.prepare_memory(memory, memory_mask)
    assert len(prepared.processed_keys) == 2
    _, _, every = decoder.step_all(
        targets[:, 0], decoder.get_initial_state(
            B, prepared, cell_states=_run_both.initial), prepared)
    np.testing.assert_allclose(every[1], want_alphas[1][:, 0], **TOL)


def test_luong_order_dropout_only_in_training():
    """Cell dropout masks on [x_t; a_(t-1)] (drawn once per sequence) and a
    Keras layer's dropout: random in training, deterministic otherwise."""
    _, targets, memory, target_mask, memory_mask = _data(14)
    targets, memory = targets.astype("float32"), memory.astype("float32")
    decoder = keras_seqmem.AttentiveDecoder(
        keras.layers.LSTMCell(DV, dropout=0.3, recurrent_dropout=0.3),
        attention=[keras.layers.Attention(dropout=0.3),
                   BahdanauMonotonicAttention(A, sigmoid_noise=1.0, seed=1)],
        order="luong", attention_layer_size=[3, 2])
    inputs, mask = [targets, memory], [target_mask, memory_mask]
    first = _np(decoder(inputs, mask=mask, training=True))
    second = _np(decoder(inputs, mask=mask, training=True))
    assert first.shape == (B, TT, 5) and np.all(np.isfinite(first))
    assert not np.allclose(first, second)
    np.testing.assert_array_equal(_np(decoder(inputs, mask=mask)),
                                  _np(decoder(inputs, mask=mask)))


# --- arguments, errors, config -------------------------------------------------------


def _cell():
    return keras.layers.LSTMCell(2)


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(order="tfa"), "`order` expected 'bahdanau'"),
    (dict(order="luong"), "order='luong'.*expected an attention"),
    (dict(attention=3, attention_layer_size=4),
     "set order='luong'"),
    (dict(attention=3, output_attention=False), "set order='luong'"),
    (dict(attention=3, order="luong", output_context=False),
     "output_attention"),
    (dict(attention=[3, 3], order="luong", attention_layer_size=4),
     "a list of 2 ints"),
    (dict(attention=[3, 3], order="luong", attention_layer_size=[4]),
     "a list of 2 ints"),
    (dict(attention=3, order="luong", attention_layer_size=0),
     "attention_layer_size"),
    (dict(attention=[]), "empty list"),
    (dict(attention=keras.layers.Dense(2)), "project_keys.*attend"),
])
def test_bad_arguments(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        keras_seqmem.AttentiveDecoder(_cell(), **kwargs)


def test_keras_attention_with_a_query_of_another_size_says_how_to_fix():
    decoder = keras_seqmem.AttentiveDecoder(
        _cell(), attention=keras.layers.Attention(), order="luong")
    with pytest.raises(ValueError, match="cell with 4 units"):
        decoder([np.zeros((1, 2, 3)), np.zeros((1, 3, 4))])


def test_step_needs_the_flat_state():
    _, targets, memory, _, _ = _data(12)
    decoder = keras_seqmem.AttentiveDecoder(
        keras.layers.GRUCell(U), attention=LuongMonotonicAttention(U),
        order="luong")
    decoder([targets, memory])
    prepared = decoder.prepare_memory(memory)
    with pytest.raises(ValueError, match="expected 3 state tensors"):
        decoder.step(targets[:, 0], decoder.get_initial_state(B, prepared)[:1],
                     prepared)


@pytest.mark.parametrize("attention", [
    lambda: [LuongMonotonicAttention(U, mode="hard"),
             keras.layers.MultiHeadAttention(2, 2)],
    lambda: keras.layers.AdditiveAttention(),
], ids=["list", "adapter"])
def test_config_round_trip_with_every_argument(attention):
    decoder = keras_seqmem.AttentiveDecoder(
        keras.layers.GRUCell(DV), attention=attention(), order="luong",
        attention_layer_size=[3, 2] if isinstance(attention(), list) else 3,
        output_attention=False, return_alignments=True)
    _, targets, memory, _, _ = _data(13)
    targets, memory = targets.astype("float32"), memory.astype("float32")
    outputs, alignments = decoder([targets, memory])
    config = decoder.get_config()
    for key in ("order", "attention_layer_size", "output_attention"):
        assert key in config
    clone = keras_seqmem.AttentiveDecoder.from_config(config)
    clone([targets, memory])
    clone.set_weights(decoder.get_weights())
    got, got_alignments = clone([targets, memory])
    np.testing.assert_allclose(got, outputs, atol=1e-6)
    np.testing.assert_allclose(got_alignments, alignments, atol=1e-6)
    assert clone.get_config() == config


# --- the shared checks: Luong order with a monotonic mechanism --------------------


def _check_masking(case):
    """Padded source positions and padded target steps change nothing."""
    layer = case.make_layer()
    targets, memory = case.sample(batch=3, time=6, seed=7)
    target_lengths, memory_lengths = np.array([6, 3, 1]), np.array([6, 2, 4])
    target_mask = np.arange(6)[None, :] < target_lengths[:, None]
    memory_mask = np.arange(6)[None, :] < memory_lengths[:, None]
    out = _np(layer([targets, memory], mask=[target_mask, memory_mask]))
    for b in range(3):
        n, m = target_lengths[b], memory_lengths[b]
        alone = _np(layer([targets[b:b + 1, :n], memory[b:b + 1, :m]]))[0]
        np.testing.assert_allclose(out[b, :n], alone, atol=1e-5)
        np.testing.assert_array_equal(out[b, n:], 0.0)


def _bad_rank(case):
    targets, memory = case.sample()
    return [targets[:, 0], memory]


def _bad_feature(case):
    targets, memory = case.sample()
    return [targets, np.concatenate([memory, memory[..., :1]], -1)]


def _make_luong_monotonic(**overrides):
    return keras_seqmem.AttentiveDecoder(
        keras.layers.LSTMCell(U, **overrides),
        attention=LuongMonotonicAttention(U, scale=True, score_bias_init=0.5,
                                          sigmoid_noise=0.5, seed=3,
                                          **overrides),
        order="luong", attention_layer_size=3, **overrides)


CASES = [
    layer_checks.LayerCase(
        name="AttentiveDecoder-luong-LuongMonotonic",
        make_layer=_make_luong_monotonic,
        input_shapes=[(None, DX), (None, DV)],
        check_masking=_check_masking,
        bad_rank_input=_bad_rank,
        bad_feature_input=_bad_feature,
    ),
]


@pytest.mark.parametrize("check", layer_checks.SHARED_CHECKS,
                         ids=lambda f: f.__name__)
@pytest.mark.parametrize("case", CASES, ids=str)
def test_shared_layer_checks(case, check, tmp_path):
    check(case, tmp_path)


# --- the JAX backend ---------------------------------------------------------------


@pytest.mark.slow  # about 60 s of both cores: CI's JAX suite could run it
@pytest.mark.skipif(BACKEND != "tensorflow", reason="starts the JAX run")
def test_this_file_on_jax():
    """This file under KERAS_BACKEND=jax (float64: JAX_ENABLE_X64=1)."""
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_ENABLE_X64": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "-x", __file__, "-k", "not shared_layer_checks"],
        env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
