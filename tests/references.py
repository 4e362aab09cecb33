"""Float64 NumPy implementations of the equations in ../shared/DESIGN.md.

Written from the equations, not from the layers: each step takes the layer's
weights as plain arrays (split with `np.split` in the documented gate order)
and returns the new state. Tests compare the Keras layers against these, and
use them for finite-difference gradients.
"""

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


# --- recurrent cells ---------------------------------------------------------


def leaky_rnn_step(x, states, weights):
    """h_t = (1 - 1/γ) h_tm1 + (1/γ) tanh(x W + h_tm1 U + b)."""
    (h_tm1,) = states
    W, U, b, gamma = (weights[k] for k in ("kernel", "recurrent_kernel",
                                            "bias", "gamma"))
    candidate = np.tanh(x @ W + h_tm1 @ U + b)
    h = (1.0 - 1.0 / gamma) * h_tm1 + (1.0 / gamma) * candidate
    return h, (h,)


def peephole_lstm_step(x, states, weights):
    """Gers & Schmidhuber peephole LSTM, Keras gate order i, f, c, o."""
    h_tm1, c_tm1 = states
    W_i, W_f, W_c, W_o = np.split(weights["kernel"], 4, axis=1)
    U_i, U_f, U_c, U_o = np.split(weights["recurrent_kernel"], 4, axis=1)
    b_i, b_f, b_c, b_o = np.split(weights["bias"], 4)
    p_i = weights["input_gate_peephole_weights"]
    p_f = weights["forget_gate_peephole_weights"]
    p_o = weights["output_gate_peephole_weights"]
    i = sigmoid(x @ W_i + h_tm1 @ U_i + p_i * c_tm1 + b_i)
    f = sigmoid(x @ W_f + h_tm1 @ U_f + p_f * c_tm1 + b_f)
    c = f * c_tm1 + i * np.tanh(x @ W_c + h_tm1 @ U_c + b_c)
    o = sigmoid(x @ W_o + h_tm1 @ U_o + p_o * c + b_o)
    h = o * np.tanh(c)
    return h, (h, c)


def coupled_lstm_step(x, states, weights):
    """CIFG LSTM, gate order f, c, o; peepholes when their weights exist."""
    h_tm1, c_tm1 = states
    W_f, W_c, W_o = np.split(weights["kernel"], 3, axis=1)
    U_f, U_c, U_o = np.split(weights["recurrent_kernel"], 3, axis=1)
    b_f, b_c, b_o = np.split(weights["bias"], 3)
    p_f = weights.get("forget_gate_peephole_weights", 0.0)
    p_o = weights.get("output_gate_peephole_weights", 0.0)
    f = sigmoid(x @ W_f + h_tm1 @ U_f + p_f * c_tm1 + b_f)
    c = f * c_tm1 + (1.0 - f) * np.tanh(x @ W_c + h_tm1 @ U_c + b_c)
    o = sigmoid(x @ W_o + h_tm1 @ U_o + p_o * c + b_o)
    h = o * np.tanh(c)
    return h, (h, c)


def simple_rnn_step(x, states, weights):
    """keras.layers.SimpleRNNCell: h_t = tanh(x W + h_tm1 U + b)."""
    (h_tm1,) = states
    h = np.tanh(x @ weights["kernel"] + h_tm1 @ weights["recurrent_kernel"]
                + weights["bias"])
    return h, (h,)


def run_rnn(step, x, initial_states, weights, mask=None, go_backwards=False):
    """Runs `step` over `x` (batch, T, d) as keras.layers.RNN does.

    Masked steps (mask False) keep the previous state and repeat the
    previous output. Returns (outputs (batch, T, u), final states); with
    `go_backwards` the outputs are in processing (reversed) order, as Keras
    returns them.
    """
    x = np.asarray(x, dtype="float64")
    batch, steps = x.shape[:2]
    if mask is None:
        mask = np.ones((batch, steps), dtype=bool)
    order = range(steps - 1, -1, -1) if go_backwards else range(steps)
    states = tuple(np.asarray(s, dtype="float64") for s in initial_states)
    output = np.zeros_like(states[0])
    outputs = []
    for t in order:
        new_output, new_states = step(x[:, t], states, weights)
        keep = mask[:, t][:, None]
        output = np.where(keep, new_output, output)
        states = tuple(np.where(keep, n, s) for n, s in zip(new_states, states))
        outputs.append(output)
    return np.stack(outputs, axis=1), states


# --- attention ----------------------------------------------------------------


def softmax_masked(scores, mask=None):
    """Softmax over the last axis restricted to `mask`; all-masked rows -> 0."""
    scores = np.asarray(scores, dtype="float64")
    if mask is None:
        mask = np.ones(scores.shape, dtype=bool)
    mask = np.broadcast_to(mask, scores.shape)
    shifted = np.where(mask, scores, -np.inf)
    top = np.max(shifted, axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    exp = np.where(mask, np.exp(scores - top), 0.0)
    total = exp.sum(axis=-1, keepdims=True)
    return exp / np.where(total > 0, total, 1.0)


def bahdanau_attention(query, keys, values, weights, mask=None):
    """Bahdanau et al. (2015), eq. (6): one loop over memory positions j.

        e_j = vᵀ tanh(W_q q + W_k k_j [+ b]),  v = g v / ‖v‖ if normalised
        α = softmax(e) over unmasked j,  context = Σ_j α_j v_j

    `query` is (batch, d_q) or (batch, T_q, d_q); `weights` holds
    query_kernel, key_kernel, score_kernel and, when normalised, score_gain
    and score_bias. Returns (context, α).
    """
    query, keys, values = (np.asarray(a, dtype="float64")
                           for a in (query, keys, values))
    single = query.ndim == 2
    if single:
        query = query[:, None, :]
    W_q, W_k, v = (weights[k] for k in ("query_kernel", "key_kernel",
                                        "score_kernel"))
    b = weights.get("score_bias", 0.0)
    if "score_gain" in weights:
        v = weights["score_gain"] * v / np.sqrt(np.sum(v * v))
    batch, steps_q, _ = query.shape
    steps_v = keys.shape[1]
    scores = np.zeros((batch, steps_q, steps_v))
    for i in range(steps_q):
        for j in range(steps_v):
            hidden = np.tanh(query[:, i] @ W_q + keys[:, j] @ W_k + b)
            scores[:, i, j] = hidden @ v
    alpha = softmax_masked(scores, None if mask is None else mask[:, None, :])
    context = np.einsum("bij,bjd->bid", alpha, values)
    if single:
        return context[:, 0], alpha[:, 0]
    return context, alpha


def attentive_decoder(step, targets, memory, initial_states, cell_weights,
                      attention_weights, target_mask=None, memory_mask=None,
                      output_context=True):
    """RNNsearch decoding loop (teacher forced), Bahdanau et al. (2015):

        c_t, α_t = attention(s_{t-1}[0], memory)
        o_t, s_t = step([x_t; c_t], s_{t-1})
        y_t = [o_t; c_t]

    Masked target steps keep the state and output zeros (and zero α).
    Without `attention_weights` (None), c_t = memory, a fixed context.
    Returns (outputs (batch, T_t, ·), alignments (batch, T_t, T_s) or None,
    final states).
    """
    targets = np.asarray(targets, dtype="float64")
    memory = np.asarray(memory, dtype="float64")
    batch, steps = targets.shape[:2]
    if target_mask is None:
        target_mask = np.ones((batch, steps), dtype=bool)
    states = tuple(np.asarray(s, dtype="float64") for s in initial_states)
    outputs, alignments = [], []
    for t in range(steps):
        if attention_weights is None:
            context, alpha = memory, None
        else:
            context, alpha = bahdanau_attention(
                states[0], memory, memory, attention_weights, memory_mask)
        output, new_states = step(
            np.concatenate([targets[:, t], context], axis=-1), states,
            cell_weights)
        if output_context:
            output = np.concatenate([output, context], axis=-1)
        keep = target_mask[:, t][:, None]
        outputs.append(np.where(keep, output, 0.0))
        if alpha is not None:
            alignments.append(np.where(keep, alpha, 0.0))
        states = tuple(np.where(keep, n, s) for n, s in zip(new_states, states))
    return (np.stack(outputs, axis=1),
            np.stack(alignments, axis=1) if alignments else None, states)


def lstm_step(x, states, weights):
    """keras.layers.LSTMCell (gate order i, f, c, o, no peepholes)."""
    zero = np.zeros(weights["recurrent_kernel"].shape[0])
    return peephole_lstm_step(x, states, {
        **weights,
        "input_gate_peephole_weights": zero,
        "forget_gate_peephole_weights": zero,
        "output_gate_peephole_weights": zero,
    })
