"""Addressing of the Neural Turing Machine, one small function per equation.

Graves, Wayne & Danihelka, "Neural Turing Machines", arXiv:1410.5401 (2014),
section 3.3. A head turns its previous weighting `w_{t−1}` and the memory
`M_t` into a new weighting `w_t` in four steps, read top-down in the paper's
order by `address`:

    w^c_t = content_weights(M_t, k_t, β_t)                 eqs. (5), (6)
    w^g_t = interpolate(w^c_t, w_{t−1}, g_t)                eq. (7)
    w̃_t   = circular_shift(w^g_t, s_t)                      eq. (8)
    w_t   = sharpen(w̃_t, γ_t)                               eq. (9)

Reads and writes with a weighting, eqs. (2)-(4), are `read` and `write`.

Shapes, with the paper's symbols: `batch`; `heads` (one weighting per head);
`memory_size` = N, the number of memory locations; `word_size` = M in the
paper (W here, the width of a location); `2 * shift_range + 1` allowed
shifts. Every function is written in `keras.ops`; callers run it in float32
(float64 for float64 inputs), whatever the layer's compute dtype.

Numerical safety (tested): an all-zero memory, a zero key, `β = 0`, one-hot
weightings and `γ = 1e4` give finite weightings and finite gradients.
"""

from keras import ops

from keras_seqmem._ops import masked_softmax

NORM_EPSILON = 1e-8
"""ε of the smoothed norm `‖u‖_ε = sqrt(Σ u² + ε)` in the cosine similarity."""
SHARPEN_FLOOR = 1e-30
"""Smallest weight whose logarithm `sharpen` takes (smaller ones count as
this value): `log 0` would be `−inf`, and `0 · (−inf)` a NaN gradient."""


def cosine_similarity(memory, keys, epsilon=NORM_EPSILON):
    """`K[k, M(i)] = k · M(i) / (‖k‖_ε ‖M(i)‖_ε)`, eq. (6).

    The norms are smoothed, `‖u‖_ε = sqrt(Σ u² + ε)`, so that a zero key or a
    zero location gives similarity 0 and a finite gradient (the plain norm's
    gradient `u / ‖u‖` is `0/0` at zero).

    Args:
        memory: `[batch, memory_size, word_size]`, `M_t`.
        keys: `[batch, heads, word_size]`, `k_t`, one key per head.
        epsilon: The `ε` of the smoothed norms.

    Returns:
        `[batch, heads, memory_size]` similarities in (−1, 1).
    """
    dots = ops.einsum("bhw,bnw->bhn", keys, memory)
    key_norms = ops.sqrt(ops.sum(keys * keys, axis=-1) + epsilon)
    memory_norms = ops.sqrt(ops.sum(memory * memory, axis=-1) + epsilon)
    return dots / (key_norms[:, :, None] * memory_norms[:, None, :])


def content_weights(memory, keys, strengths, epsilon=NORM_EPSILON):
    """Content addressing, eq. (5):

        w^c_t(i) = exp(β_t K[k_t, M_t(i)]) / Σ_j exp(β_t K[k_t, M_t(j)])

    Args:
        memory: `[batch, memory_size, word_size]`, `M_t`.
        keys: `[batch, heads, word_size]`, `k_t`.
        strengths: `[batch, heads]`, the key strengths `β_t ≥ 0`; `β = 0`
            gives the uniform weighting.
        epsilon: The `ε` of `cosine_similarity`.

    Returns:
        `[batch, heads, memory_size]` weightings, each summing to one.
    """
    similarity = cosine_similarity(memory, keys, epsilon)
    return masked_softmax(strengths[:, :, None] * similarity, axis=-1)


def interpolate(content, previous, gates):
    """Interpolation gate, eq. (7): `w^g_t = g_t w^c_t + (1 − g_t) w_{t−1}`.

    Args:
        content: `[batch, heads, memory_size]`, `w^c_t`.
        previous: `[batch, heads, memory_size]`, `w_{t−1}`.
        gates: `[batch, heads]`, `g_t ∈ [0, 1]`.

    Returns:
        `[batch, heads, memory_size]`, `w^g_t`.
    """
    gates = gates[:, :, None]
    return gates * content + (1.0 - gates) * previous


def circular_shift(weights, shifts):
    """Rotation by a shift distribution, the circular convolution of eq. (8):

        w̃_t(i) = Σ_j w^g_t(j) s_t(i − j)  =  Σ_{k=−R..R} s_t(k) w^g_t((i − k) mod N)

    Entry `k + R` of `s_t` is the probability of shifting by `k`, R =
    `shift_range`: a positive `k` moves the focus to higher locations. With
    `2R + 1 > N` several shifts land on the same location and add up, as
    the convolution does.

    Args:
        weights: `[batch, heads, memory_size]`, `w^g_t`.
        shifts: `[batch, heads, 2 * shift_range + 1]`, `s_t`.

    Returns:
        `[batch, heads, memory_size]`, `w̃_t`.
    """
    width = shifts.shape[-1]
    if width is None or width % 2 != 1:
        raise ValueError(
            f"circular_shift expected shifts of shape (batch, heads, "
            f"2 * shift_range + 1), got shape {tuple(shifts.shape)}."
        )
    shift_range = width // 2
    result = None
    for k in range(-shift_range, shift_range + 1):
        # roll(w, k)[i] = w[(i − k) mod N]
        term = shifts[:, :, k + shift_range, None] * ops.roll(
            weights, shift=k, axis=-1
        )
        result = term if result is None else result + term
    return result


def sharpen(weights, gammas, floor=SHARPEN_FLOOR):
    """Sharpening, eq. (9): `w_t(i) = w̃_t(i)^γ_t / Σ_j w̃_t(j)^γ_t`.

    Computed in log space as `softmax(γ_t log max(w̃_t, floor))`, which is
    the same number for weights above `floor` but never overflows or
    underflows to `0/0`: `γ = 1e4` on a one-hot or a nearly uniform
    weighting gives a finite weighting (one-hot on the largest entries) and
    finite gradients. An all-zero `w̃` becomes the uniform weighting.

    Args:
        weights: `[batch, heads, memory_size]`, `w̃_t`, non-negative.
        gammas: `[batch, heads]`, `γ_t ≥ 1`.
        floor: The smallest weight whose logarithm is taken.

    Returns:
        `[batch, heads, memory_size]`, `w_t`, each summing to one.
    """
    logs = ops.log(ops.maximum(weights, ops.cast(floor, weights.dtype)))
    return masked_softmax(gammas[:, :, None] * logs, axis=-1)


def address(memory, previous, keys, strengths, gates, shifts, gammas,
            epsilon=NORM_EPSILON):
    """A head's new weighting, eqs. (5)-(9) in order.

    Args:
        memory: `[batch, memory_size, word_size]`, `M_t`.
        previous: `[batch, heads, memory_size]`, `w_{t−1}`.
        keys: `[batch, heads, word_size]`, `k_t`.
        strengths: `[batch, heads]`, `β_t ≥ 0`.
        gates: `[batch, heads]`, `g_t ∈ [0, 1]`.
        shifts: `[batch, heads, 2 * shift_range + 1]`, `s_t`, each a
            distribution.
        gammas: `[batch, heads]`, `γ_t ≥ 1`.
        epsilon: The `ε` of `cosine_similarity`.

    Returns:
        `[batch, heads, memory_size]`, `w_t`.
    """
    content = content_weights(memory, keys, strengths, epsilon)
    gated = interpolate(content, previous, gates)
    shifted = circular_shift(gated, shifts)
    return sharpen(shifted, gammas)


def read(memory, weights):
    """Reading, eq. (2): `r_t = Σ_i w_t(i) M_t(i)`.

    Args:
        memory: `[batch, memory_size, word_size]`, `M_t`.
        weights: `[batch, heads, memory_size]`, one read weighting per head.

    Returns:
        `[batch, heads, word_size]`, one read vector per head.
    """
    return ops.einsum("bhn,bnw->bhw", weights, memory)


def write(memory, weights, erase, add):
    """Erase then add, eqs. (3) and (4), for one or several write heads:

        M'_t(i) = M_{t−1}(i) ⊙ Π_h (1 − w^h_t(i) e^h_t)
        M_t(i)  = M'_t(i) + Σ_h w^h_t(i) a^h_t

    With several heads the erasures multiply (their order does not matter)
    and the additions add, as section 3.2 of the paper says.

    Args:
        memory: `[batch, memory_size, word_size]`, `M_{t−1}`.
        weights: `[batch, heads, memory_size]`, the write weightings `w_t`.
        erase: `[batch, heads, word_size]`, `e_t ∈ [0, 1]`.
        add: `[batch, heads, word_size]`, `a_t`.

    Returns:
        `[batch, memory_size, word_size]`, `M_t`.
    """
    if weights.shape[1] == 1:
        # One head (the usual case): the same numbers without the product
        # over heads, whose gradient (two cumulative products over the
        # [2, batch * N * W] stack of `keep`) cost as much as the write
        # itself in the XLA training step (benchmarks/README.md, `ntm.py`).
        w = weights[:, 0, :, None]
        return memory * (1.0 - w * erase[:, 0, None, :]) + w * add[:, 0, None, :]
    keep = 1.0 - weights[:, :, :, None] * erase[:, :, None, :]  # b h n w
    erased = memory * ops.prod(keep, axis=1)
    return erased + ops.einsum("bhn,bhw->bnw", weights, add)
