"""The recurrent layers' loop, in training with its backward pass written out.

The recurrent layers here (`PeepholeLSTM`, `CoupledLSTM`, `LeakyRNN`,
`LayerNormLSTM`, `LayerNormSimpleRNN`; which call runs it:
`SequenceRNN.uses_fused_loop`) have a step made of products and of
elementwise arithmetic `post` (gates, norms), in one of two forms:

    additive:   z_t = x_t W + h̃_{t-1} U + b          h̃ = h ⊙ recurrent mask
                h_t, s_t = post(z_t, s_{t-1})
    projected:  xz_t given (computed for the whole sequence outside, e.g.
                LayerNormLSTM's LN(x W) + b),  p_t = h̃_{t-1} U
                h_t, s_t = post(p_t, xz_t, s_{t-1})

`rnn(...)` runs the loop (additive: `[x_t, h̃] [W; U]`, one product per
step) and carries its own backward pass (`keras.ops.custom_gradient`),
back-propagation through time written out:

    forward:   keep z_t (or p_t) and s_{t-1} of every step
    backward:  for t = T-1 ... 0:
                   ∂z_t, ∂s_{t-1}, ∂w += vjp of post at (z_t, s_{t-1})
                   ∂h_{t-1} += (∂z_t U^T) ⊙ mask
    after:     ∂U = Σ_t h̃_{t-1}^T ∂z_t,  ∂W = Σ_t x_t^T ∂z_t,
               ∂x = ∂z W^T,  ∂b = Σ ∂z       (one large product each)

The backend's own gradient of the loop (what TensorFlow and JAX do without
this) computes `∂[x_t, h̃] = ∂z_t [W; U]^T` and accumulates
`[x_t, h̃]^T ∂z_t` inside the backward loop, two products per step with
inner dimensions `d + u` and `B`; here the backward loop has one
`(B, G·u) × (G·u, u)` product per step and the weight gradients are single
`(·, B·T) × (B·T, ·)` products after it. The vector-Jacobian product of
`post` is taken by the backend (`tf.GradientTape` / `jax.vjp`) on a fresh
call, so any `post` (any activation, any cell) gets its exact gradient;
tests compare it with the backend's gradient of the cell loop and with a
float64 NumPy reference.

Without `differentiable` (inference) nothing is kept and the backend can
still differentiate the loop itself.

On TensorFlow the loops are `tf.while_loop`s over `tf.TensorArray`s, and
the reads of a step's stored `(B, width)` tensors (the backward pass's, the
projected form's `xz_t`) are made one iteration ahead and carried, so that
under XLA on CPU no such read is fused into the gate arithmetic (in a first
version that read a projected input in place, the XLA forward took 75.7 ms
against 50.0 for the step-by-step loop: benchmarks/README.md); on JAX,
`jax.lax.scan`. Other backends run the
layers' step-by-step loop (`keras_seqmem._loop`).
"""

import keras
from keras import ops

from keras_seqmem import _ops


def supported():
    """Whether this backend has the fused loop: TensorFlow and JAX."""
    return keras.backend.backend() in ("tensorflow", "jax")


def rnn(make_post, sequence, recurrent_kernel, variables, initial_states,
        kernel=None, bias=None, recurrent_mask=None,
        return_all_outputs=True, differentiable=True):
    """Runs the loop over axis 1 of `sequence`.

    Args:
        make_post: `make_post() -> post`, called where the weights in
            `variables` read as the loop's own tensors (a
            `keras.StatelessScope`, also while `post` runs): additive form
            (`kernel` given) `post(z_t, states)`, projected form
            `post(p_t, xz_t, states)`. Returns `(output, new_states)`;
            `output` has the shape of `states[0]`.
        sequence: `(batch, timesteps, d)` inputs `x` (additive form) or
            `(batch, timesteps, width)` projected inputs `xz`.
        recurrent_kernel: `(units, width)`, `U`.
        variables: The weights `post` reads (their gradients are returned
            for them).
        initial_states: List of `(batch, ...)` tensors; `states[0]` is the
            `h` that multiplies `U`.
        kernel: `(d, width)` `W` of the additive form, None for the
            projected form.
        bias: Optional `(width,)` added to `z_t` (additive form).
        recurrent_mask: Optional `(batch, units)` recurrent dropout mask.
        return_all_outputs: Return every step's output.
        differentiable: Attach the written-out backward pass (keeping what
            it needs). Without it the loop keeps nothing (inference); the
            backend can still differentiate it, by its own gradient of the
            loop.

    Returns:
        `(last_output, outputs, final_states)`, `outputs` `(batch,
        timesteps, units)` (None unless `return_all_outputs`).
    """
    additive = kernel is not None
    variables = list(variables)
    dtype = sequence.dtype
    weights = [_tensor(v) for v in variables]
    matrices = [ops.cast(_tensor(recurrent_kernel), dtype)]
    if additive:
        matrices.append(ops.cast(_tensor(kernel), dtype))
        if bias is not None:
            matrices.append(ops.cast(_tensor(bias), dtype))
    states = list(initial_states)
    n_mat, n_states = len(matrices), len(states)
    seq_tm = ops.transpose(sequence, (1, 0, 2))
    backend = keras.backend.backend()
    mask = recurrent_mask
    stack = additive and recurrent_kernel.shape[-1] > recurrent_kernel.shape[0]

    def bound_post(weight_values):
        # The weights read as `weight_values` when `post` is made and each
        # time it runs (a cell may read them either way).
        mapping = list(zip(variables, weight_values))
        with keras.StatelessScope(state_mapping=mapping):
            post = make_post()

        def scoped(*args):
            with keras.StatelessScope(state_mapping=mapping):
                output, new = post(*args)
            if not isinstance(new, (list, tuple)):
                new = [new]
            return output, list(new)

        return scoped

    def forward_pass(seq_tm, args, keep):
        mats = list(args[:n_mat])
        states = list(args[n_mat:n_mat + n_states])
        weights = list(args[n_mat + n_states:])
        u_mat = mats[0]
        post = bound_post(weights)
        if additive:
            w_mat = mats[1]
            b = mats[2] if len(mats) > 2 else None
            stacked = ops.concatenate([w_mat, u_mat], axis=0) if stack \
                else None

            def compute(x_t, prev):
                h = _mask_h(prev[0], mask)
                if stack:
                    z = ops.matmul(ops.concatenate([x_t, h], axis=-1),
                                   stacked)
                else:
                    z = ops.matmul(x_t, w_mat) + ops.matmul(h, u_mat)
                if b is not None:
                    z = z + b
                output, new = post(z, prev)
                return output, new, z
        else:
            def compute(xz_t, prev):
                p = ops.matmul(_mask_h(prev[0], mask), u_mat)
                output, new = post(p, xz_t, prev)
                return output, new, p

        forward = _tf_forward if backend == "tensorflow" else _jax_forward
        return mats, states, weights, forward(
            compute, seq_tm, states, return_all_outputs, u_mat.shape[-1],
            keep, ahead=not additive)

    if not differentiable:
        _, _, _, (last, outs, final, _, _) = forward_pass(
            seq_tm, [*matrices, *states, *weights], keep=False)
        if return_all_outputs:
            return last, ops.transpose(outs, (1, 0, 2)), final
        return last, None, final

    @ops.custom_gradient
    def run(seq_tm, *args):
        mats, states, weights, (last, outs, final, kept, prev_all) = \
            forward_pass(seq_tm, args, keep=True)

        def grad(*upstream, **_):
            if len(upstream) == 1 and isinstance(upstream[0], (tuple, list)):
                upstream = tuple(upstream[0])  # JAX: one tuple
            return _backward(bound_post, additive, seq_tm, mats, states,
                             weights, mask, kept, prev_all, upstream,
                             return_all_outputs, backend)

        return (outs if return_all_outputs else last, *final), grad

    result = run(seq_tm, *matrices, *states, *weights)
    final = list(result[1:])
    if return_all_outputs:
        outs = result[0]
        return outs[-1], ops.transpose(outs, (1, 0, 2)), final
    return result[0], None, final


def _tensor(x):
    """A tensor of a (Keras) variable's value (autocast where Keras casts);
    `ops.convert_to_tensor` returns a Keras variable as it is on
    TensorFlow."""
    if isinstance(x, keras.Variable):
        x = x.value
    return ops.cast(x, keras.backend.standardize_dtype(x.dtype))


def _mask_h(h, mask):
    return h if mask is None else h * mask


# Forward -------------------------------------------------------------------


def _tf_forward(compute, seq_tm, states, return_all, kept_width, keep,
                ahead):
    """Returns `(last, outputs (T, B, u) or None, final_states, kept
    (T, B, width), prev_states [(T, B, ...)])`."""
    import tensorflow as tf

    n = tf.shape(seq_tm)[0]
    static_n = seq_tm.shape[0]
    seq_ta = _tf_unstack(seq_tm, n)
    h_shape = states[0].shape
    out_tas = [tf.TensorArray(states[0].dtype, size=n, element_shape=h_shape)
               ] if return_all else []
    n_out = len(out_tas)
    n_states = len(states)

    def cond(t, *_):
        return t < n

    def body(t, x_t, last, *loop):
        tas = list(loop[:-n_states])
        prev = list(loop[-n_states:])
        # The next step's input, read now and carried.
        if ahead:
            x_next = seq_ta.read(tf.minimum(t + 1, n - 1))
        else:
            x_t = seq_ta.read(t)
            x_next = x_t
        output, new, kept = compute(x_t, prev)
        output.set_shape(h_shape)
        for a, b in zip(new, prev):
            a.set_shape(b.shape)
        if return_all:
            tas[0] = tas[0].write(t, output)
        if keep:
            tas[n_out] = tas[n_out].write(t, kept)
            for j, s in enumerate(prev):
                tas[n_out + 1 + j] = tas[n_out + 1 + j].write(t, s)
        return (t + 1, x_next, output, *tas, *new)

    kept_shape = tf.TensorShape([states[0].shape[0], kept_width])
    kept_ta = tf.TensorArray(seq_tm.dtype, size=n, element_shape=kept_shape)
    prev_tas = [tf.TensorArray(s.dtype, size=n, element_shape=s.shape)
                for s in states]
    tas = out_tas + ([kept_ta] + prev_tas if keep else [])
    loop = tf.while_loop(
        cond, body,
        (tf.constant(0, "int32"), seq_ta.read(0), tf.zeros_like(states[0]),
         *tas, *states),
        parallel_iterations=32,
        maximum_iterations=static_n)
    last = loop[2]
    tas = list(loop[3:3 + len(tas)])
    final = list(loop[3 + len(tas):])
    outs = _tf_stack(tas[0], static_n) if return_all else None
    if not keep:
        return last, outs, final, None, None
    kept = _tf_stack(tas[n_out], static_n)
    prev_all = [_tf_stack(ta, static_n) for ta in tas[n_out + 1:]]
    return last, outs, final, kept, prev_all


def _tf_unstack(x, n):
    import tensorflow as tf

    # (Read ahead, the last step is read twice.)
    return tf.TensorArray(x.dtype, size=n, element_shape=x.shape[1:],
                          clear_after_read=False).unstack(x)


def _tf_stack(ta, static_n):
    x = ta.stack()
    shape = x.shape.as_list()
    x.set_shape([static_n] + shape[1:])
    return x


def _jax_forward(compute, seq_tm, states, return_all, kept_width, keep,
                 ahead):
    import jax

    def body(carry, x_t):
        prev, _ = carry
        output, new, kept = compute(x_t, prev)
        return (list(new), output), (output if return_all else None,
                                     kept if keep else None,
                                     list(prev) if keep else None)

    (final, last), (outs, kept, prev_all) = jax.lax.scan(
        body, (list(states), ops.zeros_like(states[0])), seq_tm)
    return last, outs, final, kept, prev_all


# Backward ------------------------------------------------------------------


def _backward(bound_post, additive, seq_tm, mats, states, weights, mask,
              kept, prev_all, upstream, return_all, backend):
    n_states = len(states)
    g_first = upstream[0]
    g_states = [ops.zeros_like(s) if g is None else g
                for g, s in zip(upstream[1:1 + n_states], states)]
    if g_first is None:
        g_first = (ops.zeros_like(prev_all[0]) if return_all
                   else ops.zeros_like(states[0]))
    u_mat = mats[0]
    u_t = ops.transpose(u_mat)

    def back(xz_t, kept_t, prev, g_out, d_new):
        """One step back: `(writes, d_prev, d_weights)`."""
        if additive:
            def f(z, prev, w):
                return bound_post(w)(z, prev)

            (d_z, d_prev, d_w), _ = _ops.vjp(
                f, (kept_t, prev, weights), lambda _: ((g_out, d_new), None))
            writes = [d_z]
        else:
            def f(p, xz, prev, w):
                return bound_post(w)(p, xz, prev)

            (d_z, d_xz, d_prev, d_w), _ = _ops.vjp(
                f, (kept_t, xz_t, prev, weights),
                lambda _: ((g_out, d_new), None))
            writes = [d_xz, d_z]
        d_prev = list(d_prev)
        d_prev[0] = d_prev[0] + _mask_h(ops.matmul(d_z, u_t), mask)
        return writes, d_prev, list(d_w)

    loop = _tf_backward if backend == "tensorflow" else _jax_backward
    written, d_states, d_w = loop(
        back, None if additive else seq_tm, kept, prev_all, weights,
        g_first, g_states, return_all, n_writes=1 if additive else 2)
    d_z = written[-1]  # (T, B, width)
    width = u_mat.shape[-1]
    flat_dz = ops.reshape(d_z, (-1, width))
    h_prev = prev_all[0]
    if mask is not None:
        h_prev = h_prev * mask[None]
    d_u = ops.matmul(ops.transpose(ops.reshape(h_prev, (-1, u_mat.shape[0]))),
                     flat_dz)
    if not additive:
        return (written[0], d_u, *d_states, *d_w)
    w_mat = mats[1]
    d_in = w_mat.shape[0]
    d_w_mat = ops.matmul(ops.transpose(ops.reshape(seq_tm, (-1, d_in))),
                         flat_dz)
    d_seq = ops.matmul(d_z, ops.transpose(w_mat))
    d_mats = [d_u, d_w_mat]
    if len(mats) > 2:
        d_mats.append(ops.sum(flat_dz, axis=0))
    return (d_seq, *d_mats, *d_states, *d_w)


def _tf_backward(back, xz_tm, kept, prev_all, weights, g_first, g_states,
                 return_all, n_writes):
    import tensorflow as tf

    n = tf.shape(kept)[0]
    static_n = kept.shape[0]
    # What each step reads, read one iteration ahead and carried.
    sources = [kept, *prev_all]
    if xz_tm is not None:
        sources.append(xz_tm)
    if return_all:
        sources.append(g_first)
    source_tas = [_tf_unstack(x, n) for x in sources]
    n_src, n_states = len(source_tas), len(prev_all)
    write_tas = [tf.TensorArray(kept.dtype, size=n,
                                element_shape=kept.shape[1:])
                 for _ in range(n_writes)]
    if xz_tm is not None:
        write_tas[0] = tf.TensorArray(xz_tm.dtype, size=n,
                                      element_shape=xz_tm.shape[1:])

    def cond(t, *_):
        return t >= 0

    def body(t, pending, *loop):
        reads = list(loop[:n_src])
        tas = list(loop[n_src:n_src + n_writes])
        d_new = list(loop[n_src + n_writes:n_src + n_writes + n_states])
        d_w = list(loop[n_src + n_writes + n_states:])
        upcoming = [ta.read(tf.maximum(t - 1, 0)) for ta in source_tas]
        kept_t, prev = reads[0], reads[1:1 + n_states]
        i = 1 + n_states
        xz_t = None
        if xz_tm is not None:
            xz_t, i = reads[i], i + 1
        g_out = reads[i] if return_all else pending
        writes, d_prev, d_wt = back(xz_t, kept_t, prev, g_out, d_new)
        for a, b in zip(d_prev, prev):
            a.set_shape(b.shape)
        tas = [ta.write(t, w) for ta, w in zip(tas, writes)]
        d_w = [a + b for a, b in zip(d_w, d_wt)]
        return (t - 1, tf.zeros_like(pending), *upcoming, *tas, *d_prev,
                *d_w)

    pending = g_states[0] * 0 if return_all else g_first
    first_reads = [ta.read(n - 1) for ta in source_tas]
    loop = tf.while_loop(
        cond, body,
        (n - 1, pending, *first_reads, *write_tas, *g_states,
         *[tf.zeros_like(w) for w in weights]),
        parallel_iterations=32,
        maximum_iterations=static_n)
    base = 2 + n_src
    written = [_tf_stack(ta, static_n) for ta in loop[base:base + n_writes]]
    d_states = list(loop[base + n_writes:base + n_writes + n_states])
    d_w = list(loop[base + n_writes + n_states:])
    return written, d_states, d_w


def _jax_backward(back, xz_tm, kept, prev_all, weights, g_first, g_states,
                  return_all, n_writes):
    import jax

    def body(carry, xs):
        d_new, pending, d_w = carry
        kept_t, prev, xz_t, g_t = xs
        g_out = g_t if return_all else pending
        writes, d_prev, d_wt = back(xz_t, kept_t, list(prev), g_out,
                                    list(d_new))
        d_w = [a + b for a, b in zip(d_w, d_wt)]
        return (d_prev, ops.zeros_like(pending), d_w), writes

    pending = ops.zeros_like(g_states[0]) if return_all else g_first
    xs = (kept, list(prev_all), xz_tm, g_first if return_all else None)
    (d_states, _, d_w), written = jax.lax.scan(
        body, (list(g_states), pending, [ops.zeros_like(w) for w in weights]),
        xs, reverse=True)
    return list(written), d_states, d_w
