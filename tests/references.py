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
