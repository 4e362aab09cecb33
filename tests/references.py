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


# --- memory networks ----------------------------------------------------------


def memory_read(query, keys, values, slot_mask=None, softmax_weight=1.0):
    """α_i = k_iᵀ x, c = softmax(α) over real slots, s = Σ_i c_i v_i.

    `softmax_weight` λ < 1 mixes in the raw scores (linear start):
    c = λ softmax(α) + (1 − λ) α on real slots. One query per example,
    `(B, d)`, or a sequence `(B, Tq, d)`.
    """
    single = query.ndim == 2
    if single:
        query = query[:, None, :]
    batch, steps, _ = query.shape
    slots = keys.shape[1]
    if slot_mask is None:
        slot_mask = np.ones((batch, slots), bool)
    read = np.zeros((batch, steps, values.shape[-1]))
    weights = np.zeros((batch, steps, slots))
    for b in range(batch):
        real = np.flatnonzero(slot_mask[b])
        for q in range(steps):
            alpha = keys[b, real] @ query[b, q]
            c = np.zeros(slots)
            if real.size:
                soft = np.exp(alpha - alpha.max())
                soft /= soft.sum()
                c[real] = softmax_weight * soft + (1 - softmax_weight) * alpha
            weights[b, q] = c
            read[b, q] = c @ values[b]
    if single:
        return read[:, 0], weights[:, 0]
    return read, weights


def memory_read_with_empty_slots(query, keys, values, slot_mask, memory_size,
                                 softmax_weight=1.0):
    """`memory_read` over a memory of `memory_size` slots in which the slots
    the story leaves empty, padding gaps included, are zero vectors: the
    reference code's memory block. Built literally: the real slots' vectors,
    zeros elsewhere, `memory_size − N'` more zero rows, a softmax over all.
    Returns the read and the weights of the N' given slots, with 0 on the
    empty ones (their read is zero whatever their weight)."""
    batch, slots, _ = keys.shape
    extra = memory_size - slots
    assert extra >= 0
    real = np.asarray(slot_mask, bool)[..., None]
    k = np.concatenate([np.where(real, keys, 0.0),
                        np.zeros((batch, extra, keys.shape[-1]))], axis=1)
    v = np.concatenate([np.where(real, values, 0.0),
                        np.zeros((batch, extra, values.shape[-1]))], axis=1)
    read, weights = memory_read(query, k, v, None, softmax_weight)
    return read, np.where(slot_mask, weights[:, :slots], 0.0)


def position_encoding(J, d):
    """l_kj = (1 − j/J) − (k/d)(1 − 2j/J), as a (J, d) array (row j − 1)."""
    l = np.zeros((J, d))
    for j in range(1, J + 1):
        for k in range(1, d + 1):
            l[j - 1, k - 1] = (1 - j / J) - (k / d) * (1 - 2 * j / J)
    return l


def encode_sentence(ids, table, encoding):
    """Σ_j l_j ⊙ A x_j over the real (non-zero) words of one sentence."""
    words = [w for w in ids if w != 0]
    if not words:
        return np.zeros(table.shape[1])
    vectors = table[words]
    if encoding == "position":
        vectors = vectors * position_encoding(len(words), table.shape[1])
    return vectors.sum(axis=0)


def _read(u, m, c, real, lam, empty_slots_of):
    if empty_slots_of is None:
        return memory_read(u[None], m[None], c[None], real[None], lam)
    return memory_read_with_empty_slots(u[None], m[None], c[None], real[None],
                                        empty_slots_of, lam)


def memn2n(story, question, weights, hops, weight_tying, encoding,
           temporal_encoding, time_index=None, empty_slots_of=None):
    """End-to-end memory network, one example at a time (Sukhbaatar et al.).

    `weights` are the layer's arrays by name. `time_index[b, i]` is the
    temporal index of slot i (default: the number of real sentences after
    it). `empty_slots_of=N`: the read is over a memory of N slots whose
    empty ones are zero vectors (`memory_read_with_empty_slots`).
    Returns (logits (B, V), attention (B, K, N)).
    """
    E = weights["embeddings"]
    lam = float(weights.get("softmax_weight", 1.0))
    batch, slots, _ = story.shape
    logits, attention = [], []
    for b in range(batch):
        real = np.array([np.any(story[b, i] != 0) for i in range(slots)])
        if time_index is None:
            t = np.array([real[i + 1:].sum() for i in range(slots)])
        else:
            t = time_index[b]

        def memory(table_index):
            vectors = np.stack([
                encode_sentence(story[b, i], E[table_index], encoding)
                for i in range(slots)])
            if temporal_encoding:
                vectors = vectors + weights["temporal"][table_index][t]
            return vectors

        if weight_tying == "adjacent":
            u = encode_sentence(question[b], E[0], encoding)
        else:
            u = encode_sentence(question[b], weights["query_embedding"],
                                encoding)
        hops_attention = []
        for k in range(hops):
            if weight_tying == "adjacent":
                m, c = memory(k), memory(k + 1)
            else:
                m, c = memory(0), memory(1)
            o, p = _read(u, m, c, real, lam, empty_slots_of)
            hops_attention.append(p[0])
            if weight_tying == "adjacent":
                u = u + o[0]
            else:
                u = weights["hop_kernel"].T @ u + o[0]
        if weight_tying == "adjacent":
            logits.append(E[hops] @ u)
        else:
            logits.append(weights["output_kernel"].T @ u)
        attention.append(np.stack(hops_attention))
    return np.stack(logits), np.stack(attention)


def kv_memory_network(keys, values, question, weights, hops, encoding,
                      temporal_encoding, empty_slots_of=None):
    """Key-value memory network (Miller et al. 2016), one example at a time:
    q^{h+1} = R_h (q^h + Σ_i softmax(A k_i · q^h)_i A_V v_i); logits B q."""
    A, A_V = weights["key_embedding"], weights["value_embedding"]
    batch, slots, _ = keys.shape
    logits, attention = [], []
    for b in range(batch):
        real = np.array([np.any(keys[b, i] != 0) or np.any(values[b, i] != 0)
                         for i in range(slots)])
        t = np.array([real[i + 1:].sum() for i in range(slots)])
        k = np.stack([encode_sentence(keys[b, i], A, encoding)
                      for i in range(slots)])
        v = np.stack([encode_sentence(values[b, i], A_V, encoding)
                      for i in range(slots)])
        if temporal_encoding:
            k = k + weights["temporal"][0][t]
            v = v + weights["temporal"][1][t]
        q = encode_sentence(question[b], A, encoding)
        hops_attention = []
        for h in range(hops):
            o, p = _read(q, k, v, real, 1.0, empty_slots_of)
            hops_attention.append(p[0])
            q = weights["hop_kernels"][h].T @ (q + o[0])
        logits.append(weights["answer_embedding"] @ q)
        attention.append(np.stack(hops_attention))
    return np.stack(logits), np.stack(attention)


# --- Neural Turing Machine (Graves, Wayne & Danihelka 2014) -----------------


def softplus(z):
    return np.logaddexp(0.0, z)


def ntm_content_weights(memory, keys, strengths, epsilon=1e-8):
    """Eqs. (5)-(6), one head and one location at a time:
    K = k·M(i) / (sqrt(|k|² + ε) sqrt(|M(i)|² + ε)), w = softmax(β K)."""
    batch, heads, _ = keys.shape
    slots = memory.shape[1]
    weights = np.zeros((batch, heads, slots))
    for b in range(batch):
        for h in range(heads):
            k = keys[b, h]
            sim = np.array([
                k @ memory[b, i] / (np.sqrt(k @ k + epsilon)
                                    * np.sqrt(memory[b, i] @ memory[b, i]
                                              + epsilon))
                for i in range(slots)])
            weights[b, h] = softmax_masked(strengths[b, h] * sim)
    return weights


def ntm_interpolate(content, previous, gates):
    """Eq. (7): w^g = g w^c + (1 − g) w_{t−1}."""
    return gates[..., None] * content + (1.0 - gates[..., None]) * previous


def ntm_shift(weights, shifts):
    """Eq. (8) as written: w̃(i) = Σ_j w^g(j) s(i − j), the index of s taken
    modulo N over the offsets −R..R (entry k + R of `shifts` is offset k)."""
    batch, heads, slots = weights.shape
    R = shifts.shape[-1] // 2
    out = np.zeros_like(weights)
    for b in range(batch):
        for h in range(heads):
            for i in range(slots):
                for j in range(slots):
                    for k in range(-R, R + 1):
                        if (i - j - k) % slots == 0:
                            out[b, h, i] += (weights[b, h, j]
                                             * shifts[b, h, k + R])
    return out


def ntm_sharpen(weights, gammas, floor=1e-30):
    """Eq. (9): w^γ / Σ w^γ (weights below `floor` count as `floor`)."""
    powered = np.maximum(weights, floor) ** gammas[..., None]
    return powered / powered.sum(axis=-1, keepdims=True)


def ntm_step(x, state, weights, config, controller_step=None):
    """One NTM step from the cell's weights (see NTMCell's docstring).

    `state` is (controller_states, memory [B, N, W], reads [B, R, W],
    read_weightings [B, R, N], write_weightings [B, H, N]); `weights` holds
    head_kernel, head_bias, output_kernel, output_bias and the controller's
    weights under "controller/<name>". `config` has memory_size, word_size,
    num_read_heads, num_write_heads, shift_range, clip_value.
    `controller_step(x, states, weights) -> (h, states)`; None for a
    feed-forward tanh Dense controller (kernel, bias).
    Returns (output, new_state).
    """
    controller_states, memory, reads, read_w, write_w = state
    R, H = config["num_read_heads"], config["num_write_heads"]
    W, S = config["word_size"], 2 * config["shift_range"] + 1
    clip = config["clip_value"]
    controller_weights = {k.split("/", 1)[1]: v for k, v in weights.items()
                          if k.startswith("controller/")}
    batch = x.shape[0]
    inputs = np.concatenate([x, reads.reshape(batch, R * W)], axis=-1)
    if controller_step is None:
        h = np.tanh(inputs @ controller_weights["kernel"]
                    + controller_weights["bias"])
        new_controller = ()
    else:
        h, new_controller = controller_step(inputs, controller_states,
                                            controller_weights)
    params = h @ weights["head_kernel"] + weights["head_bias"]
    if clip is not None:
        params = np.clip(params, -clip, clip)
    size = W + S + 3
    previous = np.concatenate([read_w, write_w], axis=1)
    new_w = np.zeros_like(previous)
    for j in range(R + H):
        p = params[:, j * size:(j + 1) * size]
        k = np.tanh(p[:, :W])
        beta = softplus(p[:, W])
        g = sigmoid(p[:, W + 1])
        logits = p[:, W + 2:W + 2 + S]
        s = np.exp(logits - logits.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        gamma = 1.0 + softplus(p[:, W + 2 + S])
        wc = ntm_content_weights(memory, k[:, None], beta[:, None])
        wg = ntm_interpolate(wc, previous[:, j:j + 1], g[:, None])
        ws = ntm_shift(wg, s[:, None])
        new_w[:, j:j + 1] = ntm_sharpen(ws, gamma[:, None])
    new_read_w, new_write_w = new_w[:, :R], new_w[:, R:]
    new_reads = np.einsum("bhn,bnw->bhw", new_read_w, memory)  # from M_{t−1}
    erase_add = params[:, (R + H) * size:]
    new_memory = memory.copy()
    for b in range(batch):
        for i in range(memory.shape[1]):
            keep = np.ones(W)
            added = np.zeros(W)
            for j in range(H):
                e = sigmoid(erase_add[b, 2 * j * W:(2 * j + 1) * W])
                a = np.tanh(erase_add[b, (2 * j + 1) * W:(2 * j + 2) * W])
                keep = keep * (1.0 - new_write_w[b, j, i] * e)
                added = added + new_write_w[b, j, i] * a
            new_memory[b, i] = memory[b, i] * keep + added
    output = (np.concatenate([h, new_reads.reshape(batch, R * W)], axis=-1)
              @ weights["output_kernel"] + weights["output_bias"])
    if clip is not None:
        output = np.clip(output, -clip, clip)
    return output, (new_controller, new_memory, new_reads, new_read_w,
                    new_write_w)


def numeric_grad(f, array, eps=1e-6):
    """Central finite differences of the scalar `f()` with respect to every
    entry of the float64 `array`, which `f` reads and which is perturbed in
    place (and restored): the gradient every layer is checked against."""
    grad = np.zeros_like(array)
    for idx in np.ndindex(array.shape):
        orig = array[idx]
        array[idx] = orig + eps
        plus = f()
        array[idx] = orig - eps
        minus = f()
        array[idx] = orig
        grad[idx] = (plus - minus) / (2 * eps)
    return grad


# --- adaptive computation time ---------------------------------------------


def act_step(x, states, inner_step, inner_weights, halting_kernel,
             halting_bias, max_steps, epsilon, halting_input="output"):
    """One ACT input step (Graves 2016, eqs. 1-13), example by example.

    Returns (output, states, N, R, halting probabilities p per example, the
    smallest distance of a running sum to the threshold `1 − ε`).
    """
    x = np.asarray(x, dtype="float64")
    outputs, new_states, steps, remainders, probabilities = [], [], [], [], []
    margin = np.inf
    for b in range(x.shape[0]):
        s = tuple(np.asarray(st[b : b + 1], dtype="float64") for st in states)
        cumulative, ys, ss, ps = 0.0, [], [], []
        for n in range(1, max_steps + 1):
            flag = np.array([[1.0 if n == 1 else 0.0]])
            y, s = inner_step(np.concatenate([x[b : b + 1], flag], axis=1),
                              s, inner_weights)
            u = y if halting_input == "output" else np.concatenate(s, axis=1)
            h = float(sigmoid(u @ halting_kernel + halting_bias)[0, 0])
            ys.append(y)
            ss.append(s)
            if n < max_steps:
                margin = min(margin, abs(cumulative + h - (1.0 - epsilon)))
            if cumulative + h >= 1.0 - epsilon or n == max_steps:
                ps.append(1.0 - cumulative)
                break
            ps.append(h)
            cumulative += h
        outputs.append(sum(p * y for p, y in zip(ps, ys)))
        new_states.append(tuple(sum(p * st[i] for p, st in zip(ps, ss))
                                for i in range(len(states))))
        steps.append(len(ps))
        remainders.append(ps[-1])
        probabilities.append(ps)
    output = np.concatenate(outputs, axis=0)
    states = tuple(np.concatenate([ns[i] for ns in new_states], axis=0)
                   for i in range(len(states)))
    return (output, states, np.array(steps, "float64"),
            np.array(remainders), probabilities, margin)


def run_act(x, initial_states, mask=None, **act_kwargs):
    """`act_step` over a sequence as keras.layers.RNN runs a cell: masked
    steps keep the state, repeat the output and count N = R = 0.

    Returns (outputs (batch, T, u), final states, N (batch, T), R (batch,
    T), smallest threshold margin).
    """
    x = np.asarray(x, dtype="float64")
    batch, steps = x.shape[:2]
    if mask is None:
        mask = np.ones((batch, steps), dtype=bool)
    states = tuple(np.asarray(s, dtype="float64") for s in initial_states)
    output = None
    outputs, ns, rs = [], [], []
    margin = np.inf
    for t in range(steps):
        y, new_states, n, r, _, m = act_step(x[:, t], states, **act_kwargs)
        margin = min(margin, m)
        keep = mask[:, t][:, None]
        output = np.where(keep, y, 0.0 if output is None else output)
        states = tuple(np.where(keep, a, b) for a, b in zip(new_states,
                                                            states))
        outputs.append(output)
        ns.append(np.where(mask[:, t], n, 0.0))
        rs.append(np.where(mask[:, t], r, 0.0))
    return (np.stack(outputs, axis=1), states, np.stack(ns, axis=1),
            np.stack(rs, axis=1), margin)
