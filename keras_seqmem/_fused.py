"""The recurrent layers' loop with its gradient written out.

The recurrent layers here (`PeepholeLSTM`, `CoupledLSTM`, `LeakyRNN`,
`LayerNormLSTM`, `LayerNormSimpleRNN`) all have a step of the form

    xz_t = project(x_t)                          (no dependence on the state)
    p_t  = h̃_{t-1} U        h̃ = h ⊙ recurrent dropout mask
    h_t, s_t = post(p_t, xz_t, s_{t-1})          (gates, norms: elementwise)

so `project` runs once for the whole sequence before the loop, as one
`(B·T, d) × (d, G·u)` product, and the loop does one `(B, u) × (u, G·u)`
product per step.

`rnn(...)` runs that loop; with `differentiable=True` it carries its own
backward pass (`keras.ops.custom_gradient`), truncated back-propagation
through time written out:

    forward:   keep p_t and s_{t-1} for every t (what `post` needs)
    backward:  for t = T-1 ... 0
                   ∂p_t, ∂xz_t, ∂s_{t-1}, ∂w += vjp of post at (p_t, xz_t, s_{t-1})
                   ∂h_{t-1} += (∂p_t U^T) ⊙ mask
    after:     ∂U = Σ_t h̃_{t-1}^T ∂p_t      one (u, B·T) × (B·T, G·u) product

Differentiating the loop instead (what TensorFlow and JAX do by themselves)
puts the weight gradient inside the backward loop, as T products of inner
dimension B and an accumulation, and keeps every intermediate of every
step; here the backward loop does one `(B, G·u) × (G·u, u)` product per step
and the weight gradients are one large product each after it (for `U`
here, for `project`'s weights by the ordinary gradient of `project`
outside). The vector-Jacobian product of `post` is taken by the backend
(`tf.GradientTape` / `jax.vjp`) on a fresh call, so any `post` (any
activation, any cell) gets its exact gradient; tests compare both paths and
a float64 NumPy reference.

TensorFlow: `tf.while_loop` over `tf.TensorArray`s; JAX: `jax.lax.scan`.
Other backends use the layers' step-by-step loop (`keras_seqmem._loop`).
"""

import keras
from keras import ops


# Off: the layers run their step-by-step fast path instead (for
# benchmarks/recurrent_profile.py, which measures both).
ENABLED = True


def supported():
    """Whether the fused loop is used: on TensorFlow and JAX."""
    return ENABLED and keras.backend.backend() in ("tensorflow", "jax")


def rnn(make_post, xz, recurrent_kernel, variables, initial_states,
        recurrent_mask=None, additive=True, return_all_outputs=True,
        differentiable=True):
    """Runs the loop over axis 1 of `xz`.

    Args:
        make_post: `make_post() -> post`, called where the weights in
            `variables` read as the loop's own tensors (a
            `keras.StatelessScope`): with `additive`, `post(z_t, states)`
            with `z_t = xz_t + p_t`; otherwise `post(p_t, xz_t, states)`.
            Returns `(output, new_states)`; `output` has the shape of
            `states[0]`.
        xz: `(batch, timesteps, width)`, the projected inputs.
        recurrent_kernel: `(units, width)`, `U`.
        variables: The weights `post` reads (their gradients are returned
            for them).
        initial_states: List of `(batch, ...)` tensors; `states[0]` is the
            `h` that multiplies `U`.
        recurrent_mask: Optional `(batch, units)` recurrent dropout mask.
        additive: See `make_post`.
        return_all_outputs: Return every step's output.
        differentiable: Attach the written-out gradient. Without it the
            loop is still differentiable by the backend (slower).

    Returns:
        `(last_output, outputs, final_states)`, `outputs` `(batch,
        timesteps, units)` (None unless `return_all_outputs`).
    """
    variables = list(variables)
    weights = [_tensor(v) for v in variables]
    recurrent_kernel = ops.cast(_tensor(recurrent_kernel), xz.dtype)
    states = list(initial_states)
    n_states, n_weights = len(states), len(weights)
    xz_tm = ops.transpose(xz, (1, 0, 2))
    backend = keras.backend.backend()
    forward = _tf_forward if backend == "tensorflow" else _jax_forward

    def bound_post(weight_values):
        # The weights read as `weight_values` when `post` is made and each
        # time it runs (a cell may read them either way).
        mapping = list(zip(variables, weight_values))
        with keras.StatelessScope(state_mapping=mapping):
            post = make_post()

        def scoped(*args):
            with keras.StatelessScope(state_mapping=mapping):
                return post(*args)

        return scoped

    def step(post, p, xz_t, prev):
        if additive:
            output, new = post(xz_t + p, prev)
        else:
            output, new = post(p, xz_t, prev)
        if not isinstance(new, (list, tuple)):
            new = [new]
        return output, list(new)

    if not differentiable:
        post = bound_post(weights)
        last, outs, final, _ = forward(
            lambda p, xz_t, prev: step(post, p, xz_t, prev), xz_tm,
            recurrent_kernel, states, recurrent_mask, return_all_outputs,
            keep=False)
        return last, _batch_major(outs), final

    mask = recurrent_mask

    @ops.custom_gradient
    def run(xz_tm, recurrent_kernel, *args):
        states = list(args[:n_states])
        weights = list(args[n_states:n_states + n_weights])
        post = bound_post(weights)
        last, outs, final, kept = forward(
            lambda p, xz_t, prev: step(post, p, xz_t, prev), xz_tm,
            recurrent_kernel, states, mask, return_all_outputs, keep=True)

        def grad(*upstream, **_):
            if len(upstream) == 1 and isinstance(upstream[0], (tuple, list)):
                upstream = tuple(upstream[0])  # JAX: one tuple
            return _backward(
                bound_post, step, xz_tm, recurrent_kernel, states, weights,
                mask, kept, upstream, return_all_outputs, backend)

        result = (outs if return_all_outputs else last, *final)
        return result, grad

    result = run(xz_tm, recurrent_kernel, *states, *weights)
    final = list(result[1:])
    if return_all_outputs:
        outs = result[0]
        return outs[-1], _batch_major(outs), final
    return result[0], None, final


def _tensor(x):
    """A tensor of a (Keras) variable's value (autocast where Keras casts);
    `ops.convert_to_tensor` returns a Keras variable as it is on
    TensorFlow."""
    if isinstance(x, keras.Variable):
        x = x.value
    return ops.cast(x, keras.backend.standardize_dtype(x.dtype))


def _batch_major(outs):
    return None if outs is None else ops.transpose(outs, (1, 0, 2))


def _mask_h(h, mask):
    return h if mask is None else h * mask


# Forward -------------------------------------------------------------------


def _tf_forward(step, xz_tm, kernel, states, mask, return_all, keep):
    """TensorFlow forward loop. Returns `(last, outputs (T, B, u) or None,
    final_states, kept)`; `kept` = `(p (T, B, G u), prev_states [(T, B,
    ...)])` when `keep`."""
    import tensorflow as tf

    n = tf.shape(xz_tm)[0]
    static_n = xz_tm.shape[0]
    xz_ta = tf.TensorArray(xz_tm.dtype, size=n,
                           element_shape=xz_tm.shape[1:]).unstack(xz_tm)
    h_shape = states[0].shape
    out_ta = (tf.TensorArray(states[0].dtype, size=n, element_shape=h_shape)
              if return_all else None)
    p_ta = prev_tas = None
    if keep:
        p_ta = tf.TensorArray(xz_tm.dtype, size=n,
                              element_shape=xz_tm.shape[1:])
        prev_tas = [tf.TensorArray(s.dtype, size=n, element_shape=s.shape)
                    for s in states]
    tas = [ta for ta in [out_ta, p_ta] if ta is not None] + (prev_tas or [])
    n_tas = len(tas)

    def cond(t, *_):
        return t < n

    def body(t, last, *loop):
        tas = list(loop[:n_tas])
        prev = list(loop[n_tas:])
        p = tf.matmul(_mask_h(prev[0], mask), kernel)
        output, new = step(p, xz_ta.read(t), prev)
        new = list(new)
        output.set_shape(h_shape)
        for a, b in zip(new, prev):
            a.set_shape(b.shape)
        i = 0
        if return_all:
            tas[i] = tas[i].write(t, output)
            i += 1
        if keep:
            tas[i] = tas[i].write(t, p)
            i += 1
            for j, s in enumerate(prev):
                tas[i + j] = tas[i + j].write(t, s)
        return (t + 1, output, *tas, *new)

    last0 = tf.zeros_like(states[0])
    loop = tf.while_loop(
        cond, body, (tf.constant(0, "int32"), last0, *tas, *states),
        parallel_iterations=32,
        maximum_iterations=static_n)
    last = loop[1]
    tas = list(loop[2:2 + n_tas])
    final = list(loop[2 + n_tas:])

    def stacked(ta, like):
        x = ta.stack()
        x.set_shape([static_n] + list(like.shape))
        return x

    outs = kept = None
    i = 0
    if return_all:
        outs = stacked(tas[0], states[0])
        i += 1
    if keep:
        kept = (stacked(tas[i], xz_tm[0]),
                [stacked(ta, s) for ta, s in zip(tas[i + 1:], states)])
    return last, outs, final, kept


def _jax_forward(step, xz_tm, kernel, states, mask, return_all, keep):
    import jax

    def body(carry, xz_t):
        prev, _ = carry
        p = ops.matmul(_mask_h(prev[0], mask), kernel)
        output, new = step(p, xz_t, prev)
        ys = (output if return_all else None,
              (p, list(prev)) if keep else None)
        return (list(new), output), ys

    (final, last), (outs, kept) = jax.lax.scan(
        body, (list(states), ops.zeros_like(states[0])), xz_tm)
    return last, outs, final, kept


# Backward ------------------------------------------------------------------


def _backward(bound_post, step, xz_tm, kernel, states, weights, mask, kept,
              upstream, return_all, backend):
    n_states = len(states)
    g_first = upstream[0]
    g_states = [ops.zeros_like(s) if g is None else g
                for g, s in zip(upstream[1:1 + n_states], states)]
    if g_first is None:
        g_first = (ops.zeros_like(xz_tm[..., :states[0].shape[-1]])
                   if return_all else ops.zeros_like(states[0]))
    p_all, prev_all = kept

    def post_w(p, xz_t, prev, weight_values):
        return step(bound_post(weight_values), p, xz_t, prev)

    loop = _tf_backward if backend == "tensorflow" else _jax_backward
    d_xz, d_p, d_states, d_w = loop(
        post_w, xz_tm, p_all, prev_all, kernel, weights, mask, g_first,
        g_states, return_all)
    # ∂U = Σ_t h̃_{t-1}^T ∂p_t, one product over B·T.
    h_prev = prev_all[0]
    if mask is not None:
        h_prev = h_prev * mask[None]
    units, width = kernel.shape[0], kernel.shape[1]
    d_kernel = ops.matmul(
        ops.transpose(ops.reshape(h_prev, (-1, units))),
        ops.reshape(d_p, (-1, width)))
    return (d_xz, d_kernel, *d_states, *d_w)


def _vjp_tf(post_w, p, xz_t, prev, weights, g_out, g_new):
    import tensorflow as tf

    with tf.GradientTape() as tape:
        tape.watch([p, xz_t, *prev, *weights])
        output, new = post_w(p, xz_t, prev, weights)
        new = list(new)
    grads = tape.gradient(
        [output, *new], [p, xz_t, *prev, *weights],
        output_gradients=[g_out, *g_new],
        unconnected_gradients=tf.UnconnectedGradients.ZERO)
    n = len(prev)
    return grads[0], grads[1], grads[2:2 + n], grads[2 + n:]


def _tf_backward(post_w, xz_tm, p_all, prev_all, kernel, weights, mask,
                 g_first, g_states, return_all):
    import tensorflow as tf

    n = tf.shape(xz_tm)[0]
    static_n = xz_tm.shape[0]

    def unstack(x):
        return tf.TensorArray(x.dtype, size=n,
                              element_shape=x.shape[1:]).unstack(x)

    xz_ta, p_ta = unstack(xz_tm), unstack(p_all)
    prev_tas = [unstack(s) for s in prev_all]
    g_out_ta = unstack(g_first) if return_all else None
    d_xz_ta = tf.TensorArray(xz_tm.dtype, size=n,
                             element_shape=xz_tm.shape[1:])
    d_p_ta = tf.TensorArray(xz_tm.dtype, size=n,
                            element_shape=xz_tm.shape[1:])
    n_states = len(prev_all)
    kernel_t = tf.transpose(kernel)

    def cond(t, *_):
        return t >= 0

    def body(t, pending, d_xz_ta, d_p_ta, *loop):
        d_new = list(loop[:n_states])
        d_w = list(loop[n_states:])
        prev = [ta.read(t) for ta in prev_tas]
        g_out = g_out_ta.read(t) if return_all else pending
        d_p, d_xz, d_prev, d_wt = _vjp_tf(
            post_w, p_ta.read(t), xz_ta.read(t), prev, weights, g_out, d_new)
        d_prev = list(d_prev)
        d_prev[0] = d_prev[0] + _mask_h(tf.matmul(d_p, kernel_t), mask)
        for a, b in zip(d_prev, prev):
            a.set_shape(b.shape)
        d_w = [a + b for a, b in zip(d_w, d_wt)]
        return (t - 1, tf.zeros_like(pending), d_xz_ta.write(t, d_xz),
                d_p_ta.write(t, d_p), *d_prev, *d_w)

    pending = g_first if not return_all else tf.zeros_like(g_states[0])
    loop = tf.while_loop(
        cond, body,
        (n - 1, pending, d_xz_ta, d_p_ta, *g_states,
         *[tf.zeros_like(w) for w in weights]),
        parallel_iterations=32,
        maximum_iterations=static_n)
    d_xz = loop[2].stack()
    d_p = loop[3].stack()
    d_xz.set_shape(xz_tm.shape)
    d_p.set_shape(xz_tm.shape)
    d_states = list(loop[4:4 + n_states])
    d_w = list(loop[4 + n_states:])
    return d_xz, d_p, d_states, d_w


def _jax_backward(post_w, xz_tm, p_all, prev_all, kernel, weights, mask,
                  g_first, g_states, return_all):
    import jax

    def body(carry, xs):
        d_new, pending, d_w = carry
        xz_t, p_t, prev, g_t = xs
        g_out = g_t if return_all else pending
        output, pullback = jax.vjp(
            lambda p, xz_t, prev, w: post_w(p, xz_t, prev, w),
            p_t, xz_t, list(prev), list(weights))
        d_p, d_xz, d_prev, d_wt = pullback((g_out, list(d_new)))
        d_prev = list(d_prev)
        d_prev[0] = d_prev[0] + _mask_h(ops.matmul(d_p, ops.transpose(kernel)),
                                        mask)
        d_w = [a + b for a, b in zip(d_w, d_wt)]
        return (d_prev, ops.zeros_like(pending), d_w), (d_xz, d_p)

    pending = g_first if not return_all else ops.zeros_like(g_states[0])
    xs = (xz_tm, p_all, list(prev_all), g_first if return_all else None)
    (d_states, _, d_w), (d_xz, d_p) = jax.lax.scan(
        body, (list(g_states), pending, [ops.zeros_like(w) for w in weights]),
        xs, reverse=True)
    return d_xz, d_p, d_states, d_w
