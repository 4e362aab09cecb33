"""End-to-end memory networks and key-value memory networks.

Sukhbaatar, Szlam, Weston & Fergus, "End-To-End Memory Networks", NIPS 2015
(MemN2N); Miller, Fisch, Dodge, Karimi, Bordes & Weston, "Key-Value Memory
Networks for Directly Reading Documents", EMNLP 2016 (KV-MemNN).

Both read a story of sentences `x_1..x_N` (word ids, 0 = padding) with a
question `q` (word ids) and return logits over the vocabulary for a one-word
answer. The pieces they share live here once: the sentence encodings (bag of
words, position encoding), the temporal indices with their random noise, and
the read of `KeyValueMemory`.
"""

import math

import keras
import numpy as np
from keras import initializers
from keras import ops
from keras import regularizers

from keras_seqmem import _validation
from keras_seqmem._layers import iter_layers
from keras_seqmem.memory.key_value import memory_weights

ENCODINGS = ("bow", "position")
WEIGHT_TYING = ("adjacent", "layerwise")
EMPTY_SLOTS = ("masked", "attend")


def position_encoding(sentence_length, embedding_dim):
    """The position-encoding matrix `l` of Sukhbaatar et al. (2015), sec. 4.1.

        l_kj = (1 − j/J) − (k/d)(1 − 2j/J),   j = 1..J (word), k = 1..d

    where `J` is the number of words in the sentence and `d` the embedding
    dimension; a sentence is encoded as `m_i = Σ_j l_j ⊙ A x_ij`.

    Returns:
        float64 array of shape `(J, d)`, row `j − 1` holding `l_j`.
    """
    J = _validation.check_positive_int(sentence_length, "sentence_length")
    d = _validation.check_positive_int(embedding_dim, "embedding_dim")
    j = np.arange(1, J + 1, dtype="float64")[:, None]
    k = np.arange(1, d + 1, dtype="float64")[None, :]
    return (1 - j / J) - (k / d) * (1 - 2 * j / J)


def encode_sentences(embedded, token_mask, encoding):
    """Sentence vectors from word embeddings: `Σ_j l_j ⊙ A x_j` over words.

    Args:
        embedded: `(..., L, d)` word embeddings `A x_j`.
        token_mask: Boolean `(..., L)`, true at real words. The words of a
            sentence come first and padding after it, so the position `j` of
            a word is its index + 1 and `J` is the sentence's word count.
        encoding: "bow" (`l_j = 1`) or "position" (`position_encoding` with
            each sentence's own `J`).

    Returns:
        `(..., d)`; an empty sentence (all padding) encodes to zero.
    """
    weights = ops.cast(token_mask, embedded.dtype)[..., None]
    if encoding == "position":
        length, dim = embedded.shape[-2], embedded.shape[-1]
        dtype = "float32" if embedded.dtype != "float64" else "float64"
        J = ops.sum(ops.cast(token_mask, dtype), axis=-1, keepdims=True)
        J = ops.maximum(J, 1.0)[..., None]  # (..., 1, 1)
        if length is None:
            length = ops.shape(embedded)[-2]
        j = ops.cast(ops.arange(1, length + 1), dtype)[:, None]  # (L, 1)
        k = ops.cast(ops.arange(1, dim + 1), dtype)[None, :] / dim  # (1, d)
        l = (1.0 - j / J) - k * (1.0 - 2.0 * j / J)  # (..., L, d)
        weights = weights * ops.cast(l, embedded.dtype)
    return ops.sum(embedded * weights, axis=-2)


def recency(slot_mask):
    """Temporal index of each slot: 0 for the most recent real sentence.

    `t_i = Σ_{j > i} mask_j`, the number of real sentences after slot `i`
    (the paper indexes memories in reverse order, so `T_A(1)` belongs to the
    latest sentence), whatever the padding.
    """
    counts = ops.cast(slot_mask, "int32")
    after = ops.flip(ops.cumsum(ops.flip(counts, axis=-1), axis=-1), axis=-1)
    return after - counts


def noisy_recency(slot_mask, noise, seed):
    """`recency` with random empty memories inserted (random noise, "RN").

    Sukhbaatar et al. (2015), sec. 4.1: "we add dummy memories to regularize
    T_A. That is, at training time we can randomly add 10% of empty memories
    to the stories." For a story of `n` sentences, `B ~ U{0..⌈n·noise⌉}`
    blanks are inserted at uniform positions among the sentences; each
    sentence's temporal index grows by the number of blanks inserted after
    it (nearer the present), keeping the order of the sentences.
    """
    slots = slot_mask.shape[-1]
    max_blanks = max(1, int(math.ceil(slots * noise)))
    t = recency(slot_mask)  # (batch, S)
    n = ops.sum(ops.cast(slot_mask, "float32"), axis=-1, keepdims=True)
    batch = ops.shape(slot_mask)[0]
    u = keras.random.uniform((batch, 1), seed=seed)
    blanks = ops.floor(u * (ops.ceil(n * noise) + 1.0))  # (batch, 1)
    # Positions in recency order: a blank at p sits before recency rank p.
    pos = ops.floor(
        keras.random.uniform((batch, max_blanks), seed=seed) * (n + 1.0)
    )
    active = ops.arange(max_blanks, dtype="float32")[None, :] < blanks
    before = ops.logical_and(
        active[:, None, :],
        pos[:, None, :] <= ops.cast(t, "float32")[:, :, None],
    )
    return t + ops.sum(ops.cast(before, "int32"), axis=-1)


class _StoryMemoryModel(keras.layers.Layer):
    """What MemN2N and KeyValueMemoryNetwork share: arguments, checks, the
    temporal indices and the softmax gate of linear start."""

    def __init__(
        self,
        vocab_size,
        embedding_dim,
        hops,
        memory_size,
        encoding,
        temporal_encoding,
        random_noise,
        embeddings_initializer,
        embeddings_regularizer,
        seed,
        empty_slots="masked",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocab_size = _validation.check_positive_int(
            vocab_size, "vocab_size", self.name
        )
        self.embedding_dim = _validation.check_positive_int(
            embedding_dim, "embedding_dim", self.name
        )
        self.hops = _validation.check_positive_int(hops, "hops", self.name)
        self.memory_size = _validation.check_positive_int(
            memory_size, "memory_size", self.name
        )
        self.encoding = _check_choice(encoding, ENCODINGS, "encoding", self.name)
        if not isinstance(temporal_encoding, bool):
            raise ValueError(
                f"Layer '{self.name}': argument `temporal_encoding` expected "
                f"a bool, got temporal_encoding={temporal_encoding!r}."
            )
        self.temporal_encoding = temporal_encoding
        self.random_noise = _validation.check_rate(
            random_noise, "random_noise", self.name
        )
        if self.random_noise > 0 and not temporal_encoding:
            raise ValueError(
                f"Layer '{self.name}': random_noise={random_noise} perturbs "
                "the temporal encoding; expected temporal_encoding=True with "
                "it (or random_noise=0)."
            )
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.empty_slots = _check_choice(
            empty_slots, EMPTY_SLOTS, "empty_slots", self.name
        )
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def _add_softmax_weight(self):
        # λ of linear start (`LinearStart`): 1 = softmax on (the default), 0
        # = removed. A variable, so a compiled train step sees its changes.
        self.softmax_weight = self.add_weight(
            name="softmax_weight",
            shape=(),
            initializer="ones",
            trainable=False,
        )

    def _embedding(self, name, shape):
        return self.add_weight(
            name=name,
            shape=shape,
            initializer=self.embeddings_initializer,
            regularizer=self.embeddings_regularizer,
        )

    def _check_tokens(self, shape, rank, what, layout):
        if len(shape) != rank:
            raise ValueError(
                f"Layer '{self.name}': expected {what} of shape {layout} (word "
                f"ids, 0 = padding), got shape {tuple(shape)}."
            )

    def _check_story_shape(self, shape, what="story"):
        self._check_tokens(shape, 3, what, "(batch, sentences, words)")
        if shape[1] is not None and self.temporal_encoding and (
            shape[1] > self.memory_size
        ):
            raise ValueError(
                f"Layer '{self.name}': expected at most memory_size="
                f"{self.memory_size} sentences in the {what} (the rows of the "
                f"temporal encoding), got shape {tuple(shape)}; keep the most "
                "recent sentences (keras_seqmem.tasks.babi.vectorize does)."
            )

    def _check_integer(self, tensors):
        for x in tensors:
            dtype = keras.backend.standardize_dtype(x.dtype)
            if "int" not in dtype:
                raise ValueError(
                    f"Layer '{self.name}': expected integer word ids, got a "
                    f"tensor of dtype {dtype}."
                )

    def _embed(self, table, ids):
        return ops.cast(ops.take(table, ids, axis=-2), self.compute_dtype)

    def _temporal_index(self, slot_mask, training):
        if self.random_noise > 0 and training:
            t = noisy_recency(slot_mask, self.random_noise, self.seed_generator)
        else:
            t = recency(slot_mask)
        return ops.minimum(t, self.memory_size - 1)

    def _read(self, u, m, c, slot_mask):
        # α_i = m_iᵀ u;  p = softmax(α) (mixed with α by linear start);
        # o = Σ_i p_i c_i
        scores = ops.einsum("bd,bnd->bn", u, m)
        if self.empty_slots == "masked":
            p = memory_weights(scores, slot_mask, self.softmax_weight)
        else:
            p = self._weights_with_empty_slots(scores, slot_mask)
        p = ops.cast(p, self.compute_dtype)
        return ops.einsum("bn,bnd->bd", p, c), p

    def _weights_with_empty_slots(self, scores, slot_mask):
        # empty_slots="attend": the memory has `memory_size` slots, and the
        # `memory_size − n` a story of n sentences leaves empty are zero
        # vectors (score 0, output 0) inside the softmax. They are one extra
        # score log(memory_size − n) (e^0 counted memory_size − n times),
        # whose weight is dropped since its output vector is zero.
        dtype = keras.backend.standardize_dtype(scores.dtype)
        dtype = "float64" if dtype == "float64" else "float32"
        scores = ops.cast(scores, dtype)
        n = ops.sum(ops.cast(slot_mask, dtype), axis=-1, keepdims=True)
        empty = ops.maximum(float(self.memory_size) - n, 0.0)  # (batch, 1)
        has_empty = empty > 0.5
        null = ops.log(ops.maximum(empty, 1.0))
        p = memory_weights(
            ops.concatenate([scores, null], axis=-1),
            ops.concatenate([slot_mask, has_empty], axis=-1),
            self.softmax_weight,
        )
        return p[..., :-1]

    def _common_config(self):
        return {
            "vocab_size": self.vocab_size,
            "embedding_dim": self.embedding_dim,
            "hops": self.hops,
            "memory_size": self.memory_size,
            "encoding": self.encoding,
            "temporal_encoding": self.temporal_encoding,
            "random_noise": self.random_noise,
            "embeddings_initializer": initializers.serialize(
                self.embeddings_initializer
            ),
            "embeddings_regularizer": regularizers.serialize(
                self.embeddings_regularizer
            ),
            "seed": self.seed,
            "empty_slots": self.empty_slots,
        }


def _shapes(inputs):
    if isinstance(inputs, (list, tuple)):
        return [tuple(x.shape) for x in inputs]
    return tuple(inputs.shape)  # not a list: _split_shapes says what is


def _check_choice(value, choices, arg, layer_name):
    if value not in choices:
        raise ValueError(
            f"Layer '{layer_name}': argument `{arg}` expected one of "
            f"{list(choices)}, got {arg}={value!r}."
        )
    return value


@keras.saving.register_keras_serializable(package="keras_seqmem")
class MemN2N(_StoryMemoryModel):
    """End-to-end memory network (Sukhbaatar et al. 2015), story + question
    -> answer logits.

    For the sentences `x_i` of a story (the memory, `N` slots) and a
    question `q`, with embedding matrices `A^k, C^k` (`V × d`) per hop
    k = 1..K, question embedding `B` and answer matrix `W`:

        u^1   = Σ_j l_j ⊙ B q_j
        m_i^k = Σ_j l_j ⊙ A^k x_ij + T_A^k(t_i)     (input memories)
        c_i^k = Σ_j l_j ⊙ C^k x_ij + T_C^k(t_i)     (output memories)
        p^k   = softmax(m^kᵀ u^k) over the real slots
        o^k   = Σ_i p_i^k c_i^k
        u^k+1 = u^k + o^k             (adjacent)  |  H u^k + o^k  (layerwise)
        logits = W u^K+1

    `l_j = 1` for bag of words (`encoding="bow"`), `position_encoding` for
    `"position"` (PE); `T_A, T_C` are the temporal encoding (TE), indexed by
    `t_i`, the number of real sentences after sentence `i` (`recency`), with
    random empty memories inserted during training when `random_noise > 0`
    (RN). Linear start (LS) is the `LinearStart` callback.

    Weight tying and weights:
    - `"adjacent"`: `A^k+1 = C^k`, `B = A^1`, `W = (C^K)ᵀ`. Weights
      `embeddings (K + 1, V, d)` holding `A^1, A^2 = C^1, ..., C^K`, and
      `temporal (K + 1, N, d)` likewise.
    - `"layerwise"`: `A^1 = ... = A^K`, `C^1 = ... = C^K`, with the linear
      map `H` between hops. Weights `embeddings (2, V, d)` = `[A, C]`,
      `temporal (2, N, d)` = `[T_A, T_C]`, `query_embedding (V, d)` = `B`,
      `hop_kernel (d, d)` = `Hᵀ` (`u · hop_kernel = H u`), `output_kernel
      (d, V)` = `Wᵀ`.
    Word id 0 is padding and contributes nothing (its embedding row is
    ignored). Both also hold `softmax_weight ()`, non-trainable, the `λ` of
    linear start (1 = softmax on).

    Args:
        vocab_size: `V`, including the padding id 0; the logits are over it.
        embedding_dim: `d` (the paper: 20 per task, 50 jointly).
        hops: `K` (the paper: 3).
        memory_size: `N`, the number of most recent sentences kept (50), the
            rows of the temporal encoding; stories must have at most `N`
            sentences.
        weight_tying: "adjacent" or "layerwise".
        encoding: "position" (PE) or "bow".
        temporal_encoding: Add `T_A`, `T_C` (TE).
        random_noise: Rate of empty memories added to the temporal indices in
            training (RN; the paper: 0.1). 0 turns it off.
        embeddings_initializer: Initializer of every matrix except `H`
            (the paper: `N(0, 0.1)`).
        hop_initializer: Initializer of `H` (layerwise only).
        embeddings_regularizer: Optional regularizer of the embeddings.
        seed: Seed of the random noise.
        empty_slots: "masked" (default): `p` is a softmax over the story's
            real sentences only, as the equations above. "attend": the
            memory has `memory_size` slots and the `N − n` a story of `n`
            sentences leaves empty hold the zero vector, which takes part in
            the softmax (score 0, read 0), so `p` sums to
            `Σ e^α / (Σ e^α + N − n)` < 1 over the sentences. This is what
            the reference code (facebook/MemNN, MemN2N-babi-matlab) computes,
            its memory being a fixed block padded with the empty word; the
            empty slots give the read a way to take in little of the story.
            On bAbI (1k, PE LS RN, 3 restarts each, 2026-12-02) it took the
            test error of task 6 from 19-22% to 8.1-8.9%, task 9 from 17.6-
            22.2% to 9.0-10.6% and task 10 from 27.1-34.2% to 13.5-14.6%;
            the bAbI training (`train_memory_network_on_babi`) uses it, with
            `memory_size` set to the longest story (at most 50), as there.
        **kwargs: Base `Layer` arguments.

    Call arguments:
        inputs: `[story, question]`: int `(batch, N', L)` with `N' ≤ N`
            sentences of `L` words, sentences in order (the oldest first),
            and int `(batch, L_q)`. Padding is id 0: padded words, empty
            padding sentences anywhere.
        return_attention_scores: Also return the attention of every hop.
        training: Whether random noise is active.

    Returns:
        Logits `(batch, V)`; with `return_attention_scores=True` also the
        hop-by-hop attention `p`, `(batch, K, N')`.

    Example:

    ```python
    import numpy as np
    import keras
    import keras_seqmem

    story = keras.Input((None, None), dtype="int32")   # (sentences, words)
    question = keras.Input((None,), dtype="int32")
    logits = keras_seqmem.MemN2N(vocab_size=40, embedding_dim=20, hops=3)(
        [story, question])
    model = keras.Model([story, question], logits)
    ids = np.random.default_rng(0).integers(1, 40, (2, 10, 6))
    print(model.predict([ids, ids[:, 0]], verbose=0).shape)  # (2, 40)
    ```
    """

    def __init__(
        self,
        vocab_size,
        embedding_dim=20,
        hops=3,
        memory_size=50,
        weight_tying="adjacent",
        encoding="position",
        temporal_encoding=True,
        random_noise=0.0,
        embeddings_initializer=None,
        hop_initializer="identity",
        embeddings_regularizer=None,
        seed=None,
        empty_slots="masked",
        **kwargs,
    ):
        if embeddings_initializer is None:
            embeddings_initializer = initializers.RandomNormal(stddev=0.1)
        super().__init__(
            vocab_size, embedding_dim, hops, memory_size, encoding,
            temporal_encoding, random_noise, embeddings_initializer,
            embeddings_regularizer, seed, empty_slots=empty_slots, **kwargs,
        )
        self.weight_tying = _check_choice(
            weight_tying, WEIGHT_TYING, "weight_tying", self.name
        )
        self.hop_initializer = initializers.get(hop_initializer)

    def _split_shapes(self, input_shape):
        if (
            not isinstance(input_shape, (list, tuple))
            or len(input_shape) != 2
            or not all(isinstance(s, (list, tuple)) for s in input_shape)
        ):
            raise ValueError(
                f"Layer '{self.name}': expected inputs [story, question], got "
                f"input shape {input_shape}."
            )
        story_shape, query_shape = map(tuple, input_shape)
        self._check_story_shape(story_shape)
        self._check_tokens(query_shape, 2, "a question", "(batch, words)")
        return story_shape, query_shape

    def build(self, input_shape):
        self._split_shapes(input_shape)
        V, d, K, N = (
            self.vocab_size, self.embedding_dim, self.hops, self.memory_size
        )
        tables = K + 1 if self.weight_tying == "adjacent" else 2
        self.embeddings = self._embedding("embeddings", (tables, V, d))
        if self.temporal_encoding:
            self.temporal = self._embedding("temporal", (tables, N, d))
        if self.weight_tying == "layerwise":
            self.query_embedding = self._embedding("query_embedding", (V, d))
            self.hop_kernel = self.add_weight(
                name="hop_kernel", shape=(d, d),
                initializer=self.hop_initializer,
            )
            self.output_kernel = self._embedding("output_kernel", (d, V))
        self._add_softmax_weight()

    def call(self, inputs, training=None, return_attention_scores=False):
        self._split_shapes(_shapes(inputs))
        story, question = inputs
        self._check_integer([story, question])
        token_mask = ops.not_equal(story, 0)  # (batch, N, L)
        slot_mask = ops.any(token_mask, axis=-1)  # (batch, N)
        # Every memory table encoded at once: (tables, batch, N, d).
        memories = encode_sentences(
            self._embed(self.embeddings, story),
            token_mask,
            self.encoding,
        )
        if self.temporal_encoding:
            t = self._temporal_index(slot_mask, training)  # (batch, N)
            temporal = ops.cast(self.temporal, self.compute_dtype)
            memories = memories + ops.take(temporal, t, axis=1)
        if self.weight_tying == "adjacent":
            query_table = self.embeddings[0]  # B = A^1
        else:
            query_table = self.query_embedding
        u = encode_sentences(
            self._embed(query_table, question),
            ops.not_equal(question, 0),
            self.encoding,
        )
        attention = []
        for k in range(self.hops):
            if self.weight_tying == "adjacent":
                m, c = memories[k], memories[k + 1]  # A^k, C^k = A^k+1
            else:
                m, c = memories[0], memories[1]
            o, p = self._read(u, m, c, slot_mask)
            attention.append(p)
            if self.weight_tying == "adjacent":
                u = u + o
            else:
                hop_kernel = ops.cast(self.hop_kernel, self.compute_dtype)
                u = ops.matmul(u, hop_kernel) + o
        if self.weight_tying == "adjacent":
            output = ops.transpose(
                ops.cast(self.embeddings[self.hops], self.compute_dtype)
            )  # W = (C^K)ᵀ
        else:
            output = ops.cast(self.output_kernel, self.compute_dtype)
        logits = ops.matmul(u, output)
        if return_attention_scores:
            return logits, ops.stack(attention, axis=1)
        return logits

    def compute_output_shape(self, input_shape):
        story_shape, _ = self._split_shapes(input_shape)
        return (story_shape[0], self.vocab_size)

    def get_config(self):
        config = {
            **self._common_config(),
            "weight_tying": self.weight_tying,
            "hop_initializer": initializers.serialize(self.hop_initializer),
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="keras_seqmem")
class KeyValueMemoryNetwork(_StoryMemoryModel):
    """Key-value memory network (Miller et al. 2016): separate key and value
    encodings of the memory slots, a linear map per hop.

    For slots with key words `k_i` and value words `v_i`, i = 1..N, and a
    question `q`:

        q^1    = Σ_j l_j ⊙ A q_j
        key_i  = Σ_j l_j ⊙ A k_ij + T_K(t_i)       (addressing)
        val_i  = Σ_j l_j ⊙ A_V v_ij + T_V(t_i)     (reading)
        p^h    = softmax(key · q^h) over the real slots
        o^h    = Σ_i p_i^h val_i
        q^h+1  = R_h (q^h + o^h)
        logits = B q^H+1

    The question and the keys share `A`, so they are compared in one space,
    while the values have their own embedding `A_V`: a slot can be found by
    what it is about and return something else (Miller et al.: key = a
    window of words, value = its centre word or the whole sentence). With
    `[story, question]` inputs the keys and values are the same words,
    embedded twice. Encodings, temporal encoding, random noise and linear
    start work as in `MemN2N`.

    Weights: `key_embedding (V, d)` = `A`, `value_embedding (V, d)` = `A_V`,
    `hop_kernels (H, d, d)` with `q · hop_kernels[h] = R_h q`,
    `answer_embedding (V, d)` = `B`, `temporal (2, N, d)` = `[T_K, T_V]`,
    `softmax_weight ()` (non-trainable, linear start).

    Args:
        vocab_size, embedding_dim, hops, memory_size, encoding,
        temporal_encoding, random_noise, embeddings_initializer,
        embeddings_regularizer, seed: As in `MemN2N`.
        hop_initializer: Initializer of each `R_h` ("identity": the first
            steps read as an adjacent MemN2N).
        empty_slots: "masked" or "attend", as in `MemN2N`.

    Call arguments:
        inputs: `[keys, values, question]` with int keys `(batch, N', L_k)`,
            values `(batch, N', L_v)` and question `(batch, L_q)`; or
            `[story, question]`, where the story is both keys and values.
        return_attention_scores: Also return the attention of every hop,
            `(batch, H, N')`.
        training: Whether random noise is active.

    Returns:
        Logits `(batch, V)` (and the attention).

    Example:

    ```python
    import numpy as np
    import keras_seqmem

    layer = keras_seqmem.KeyValueMemoryNetwork(vocab_size=40, hops=2)
    rng = np.random.default_rng(0)
    keys, values = rng.integers(1, 40, (2, 8, 5)), rng.integers(1, 40, (2, 8, 1))
    logits = layer([keys, values, rng.integers(1, 40, (2, 4))])
    print(logits.shape)  # (2, 40)
    ```
    """

    def __init__(
        self,
        vocab_size,
        embedding_dim=20,
        hops=2,
        memory_size=50,
        encoding="position",
        temporal_encoding=True,
        random_noise=0.0,
        embeddings_initializer=None,
        hop_initializer="identity",
        embeddings_regularizer=None,
        seed=None,
        empty_slots="masked",
        **kwargs,
    ):
        if embeddings_initializer is None:
            embeddings_initializer = initializers.RandomNormal(stddev=0.1)
        super().__init__(
            vocab_size, embedding_dim, hops, memory_size, encoding,
            temporal_encoding, random_noise, embeddings_initializer,
            embeddings_regularizer, seed, empty_slots=empty_slots, **kwargs,
        )
        self.hop_initializer = initializers.get(hop_initializer)

    def _split_shapes(self, input_shape):
        if (
            not isinstance(input_shape, (list, tuple))
            or len(input_shape) not in (2, 3)
            or not all(isinstance(s, (list, tuple)) for s in input_shape)
        ):
            raise ValueError(
                f"Layer '{self.name}': expected inputs [keys, values, "
                f"question] or [story, question], got input shape "
                f"{input_shape}."
            )
        shapes = [tuple(s) for s in input_shape]
        keys_shape, query_shape = shapes[0], shapes[-1]
        values_shape = shapes[1] if len(shapes) == 3 else keys_shape
        self._check_story_shape(keys_shape, "keys")
        self._check_story_shape(values_shape, "values")
        if (
            keys_shape[1] is not None
            and values_shape[1] is not None
            and keys_shape[1] != values_shape[1]
        ):
            raise ValueError(
                f"Layer '{self.name}': expected keys and values with the same "
                f"number of slots, got shapes {keys_shape} and {values_shape}."
            )
        self._check_tokens(query_shape, 2, "a question", "(batch, words)")
        return keys_shape, values_shape, query_shape

    def build(self, input_shape):
        self._split_shapes(input_shape)
        V, d, N = self.vocab_size, self.embedding_dim, self.memory_size
        self.key_embedding = self._embedding("key_embedding", (V, d))
        self.value_embedding = self._embedding("value_embedding", (V, d))
        if self.temporal_encoding:
            self.temporal = self._embedding("temporal", (2, N, d))
        self.hop_kernels = self.add_weight(
            name="hop_kernels",
            shape=(self.hops, d, d),
            initializer=_PerHop(self.hop_initializer),
        )
        self.answer_embedding = self._embedding("answer_embedding", (V, d))
        self._add_softmax_weight()

    def call(self, inputs, training=None, return_attention_scores=False):
        self._split_shapes(_shapes(inputs))
        self._check_integer(inputs)
        keys, question = inputs[0], inputs[-1]
        values = inputs[1] if len(inputs) == 3 else keys
        key_mask, value_mask = ops.not_equal(keys, 0), ops.not_equal(values, 0)
        slot_mask = ops.logical_or(
            ops.any(key_mask, axis=-1), ops.any(value_mask, axis=-1)
        )
        key_vectors = encode_sentences(
            self._embed(self.key_embedding, keys), key_mask, self.encoding
        )
        value_vectors = encode_sentences(
            self._embed(self.value_embedding, values), value_mask,
            self.encoding,
        )
        if self.temporal_encoding:
            t = self._temporal_index(slot_mask, training)
            temporal = ops.cast(self.temporal, self.compute_dtype)
            key_vectors = key_vectors + ops.take(temporal[0], t, axis=0)
            value_vectors = value_vectors + ops.take(temporal[1], t, axis=0)
        q = encode_sentences(
            self._embed(self.key_embedding, question),
            ops.not_equal(question, 0),
            self.encoding,
        )
        hop_kernels = ops.cast(self.hop_kernels, self.compute_dtype)
        attention = []
        for h in range(self.hops):
            o, p = self._read(q, key_vectors, value_vectors, slot_mask)
            attention.append(p)
            q = ops.matmul(q + o, hop_kernels[h])
        answers = ops.cast(self.answer_embedding, self.compute_dtype)
        logits = ops.matmul(q, ops.transpose(answers))
        if return_attention_scores:
            return logits, ops.stack(attention, axis=1)
        return logits

    def compute_output_shape(self, input_shape):
        keys_shape, _, _ = self._split_shapes(input_shape)
        return (keys_shape[0], self.vocab_size)

    def get_config(self):
        config = {
            **self._common_config(),
            "hop_initializer": initializers.serialize(self.hop_initializer),
        }
        return {**super().get_config(), **config}


class _PerHop(initializers.Initializer):
    """Applies a 2D initializer to each `(d, d)` matrix of a `(H, d, d)`
    stack (Keras' `Identity` takes 2D shapes only)."""

    def __init__(self, initializer):
        self.initializer = initializers.get(initializer)

    def __call__(self, shape, dtype=None):
        return ops.stack(
            [self.initializer(shape[1:], dtype=dtype) for _ in range(shape[0])]
        )


class LinearStart(keras.callbacks.Callback):
    """Linear start (LS) of Sukhbaatar et al. (2015), section 4.2.

    "Training begins with the softmax in each memory layer removed, making
    the model entirely linear except for the final softmax for answer
    prediction. When the validation loss stopped decreasing, the softmax
    layers were re-inserted and training recommenced."

    Sets `softmax_weight = 0` on every `MemN2N` / `KeyValueMemoryNetwork`
    of the model when its first training begins, watches `monitor` at the
    end of each epoch, and sets it back to 1 once the monitored value has
    not improved for `patience + 1` epochs, or after `max_epochs` epochs
    at the latest.

    Linear start happens once per model, not once per `fit`: the callback
    keeps its state across `fit` calls on the same model. A later `fit`
    with the same callback goes on with linear start where the previous one
    left it (the epochs without improvement and the `max_epochs` budget
    count on) if it had not ended, and leaves the softmax in if it had. A
    `fit` on another model starts linear start afresh, and so does a `fit`
    after `reset()` (e.g. after the model was given new initial weights).

    Args:
        monitor: The quantity to watch ("val_loss" as the paper).
        patience: Epochs without improvement tolerated before the softmax
            goes back in (0: at the first epoch that does not improve).
        min_delta: Smallest decrease that counts as an improvement.
        max_epochs: Re-insert the softmax after this many epochs of linear
            start (over all `fit` calls) whatever happens (None: no limit).
        learning_rate: If given, the optimizer's learning rate is set to it
            when the softmax goes back in.
        verbose: Print a line when the softmax goes back in.

    Attributes:
        started: Whether linear start has begun (the softmax was removed).
        ended: Whether the softmax went back in (at the end of an epoch, or
            by `end()`).
        ended_at_epoch: The (0-based) epoch of the `fit` call after which
            the softmax went back in (Keras' epoch index, which counts from
            `initial_epoch`), or None while linear start is on or when
            `end()` was called without an epoch.
        linear_epochs: The epochs trained with the softmax removed, over
            all `fit` calls.
    """

    def __init__(
        self, monitor="val_loss", patience=0, min_delta=0.0, max_epochs=None,
        learning_rate=None, verbose=0,
    ):
        super().__init__()
        self.monitor = monitor
        self.patience = patience
        self.min_delta = min_delta
        self.max_epochs = max_epochs
        self.learning_rate = learning_rate
        self.verbose = verbose
        self._trained = None
        self.reset()

    def reset(self):
        """Forget the state: the next `fit` starts linear start afresh."""
        self.started = False
        self.ended = False
        self.ended_at_epoch = None
        self.linear_epochs = 0
        self._best = np.inf
        self._wait = 0
        self._trained = None

    def _gates(self):
        if self.model is None:
            raise ValueError(
                "LinearStart has no model: pass it to fit(callbacks=[...]) "
                "or call set_model(model) before end()."
            )
        gates = [
            layer.softmax_weight
            for layer in iter_layers(self.model)
            if isinstance(layer, _StoryMemoryModel) and layer.built
        ]
        if not gates:
            raise ValueError(
                "LinearStart expected a model holding a built MemN2N or "
                "KeyValueMemoryNetwork layer, found none."
            )
        return gates

    def on_train_begin(self, logs=None):
        if self._trained is not None and self._trained is not self.model:
            self.reset()  # another model: its own linear start
        self._trained = self.model
        if self.ended:
            return  # it ended in an earlier fit: the softmax stays in
        self.started = True
        for gate in self._gates():
            gate.assign(0.0)

    def on_epoch_end(self, epoch, logs=None):
        if self.ended or not self.started:
            return
        self.linear_epochs += 1
        value = (logs or {}).get(self.monitor)
        if value is None:
            raise ValueError(
                f"LinearStart expected `{self.monitor}` in the epoch logs, "
                f"got {sorted(logs or {})}; pass validation data to fit."
            )
        if value < self._best - self.min_delta:
            self._best, self._wait = value, 0
        else:
            self._wait += 1
        limit = (self.max_epochs is not None
                 and self.linear_epochs >= self.max_epochs)
        if self._wait > self.patience or limit:
            self.end(epoch)

    def end(self, epoch=None):
        """Put the softmax back in now (`epoch`: the epoch it ends after,
        for `ended_at_epoch` and the message)."""
        for gate in self._gates():
            gate.assign(1.0)
        if self.learning_rate is not None:
            self.model.optimizer.learning_rate.assign(self.learning_rate)
        self.started = True
        self.ended = True
        self.ended_at_epoch = epoch
        if self._trained is None:
            self._trained = self.model
        if self.verbose:
            when = "" if epoch is None else f" after epoch {epoch + 1}"
            print(f"LinearStart: softmax re-inserted{when}")
