"""Copy, repeat copy, associative recall and the bits-per-sequence metric."""

import numpy as np
import pytest

from keras_seqmem.tasks import TASKS, make_dataset
from keras_seqmem.tasks import algorithmic
from keras_seqmem.tasks.algorithmic import bits_per_sequence

BITS = 8


def _episode_length(mask_row):
    return int(mask_row.sum())


@pytest.mark.parametrize("name", sorted(algorithmic.SPECS))
def test_shapes_determinism_and_dataset(name):
    spec = algorithmic.SPECS[name]
    assert spec.kind == "sequence" and spec.input == "features"
    assert spec.metric_name == "bits_per_sequence"
    x, y, mask = spec.generate(50, seed=3)
    assert x.dtype == y.dtype == mask.dtype == np.float32
    assert x.shape[:2] == y.shape[:2] == mask.shape
    assert x.shape[1:] == spec.input_shape() and y.shape[1:] == spec.target_shape()
    assert x.shape[-1] == spec.num_features == BITS + 2
    assert set(np.unique(x[..., :BITS])) <= {0.0, 1.0}
    assert set(np.unique(y)) <= {0.0, 1.0} and set(np.unique(mask)) <= {0, 1}
    # Same seed, same data; another seed, other data.
    for a, b in zip((x, y, mask), spec.generate(50, seed=3)):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(x, spec.generate(50, seed=4)[0])
    # Targets only where scored; no input during the answer phase.
    assert np.all(y[mask == 0] == 0)
    assert np.all(x[mask == 1] == 0)
    # The static length does not depend on the seed.
    assert spec.generate(1, seed=11)[0].shape == x[:1].shape
    batch = next(iter(make_dataset(spec, 10, batch_size=4, seed=0)))
    assert len(batch) == 3
    assert [tuple(t.shape) for t in batch] == [
        (4,) + x.shape[1:], (4,) + y.shape[1:], (4, x.shape[1])]
    # In the shared registry, by name.
    assert TASKS[name] is spec


def test_copy_layout():
    x, y, mask = algorithmic.COPY.generate(200, seed=0, min_length=2,
                                           max_length=7)
    assert x.shape == (200, 15, BITS + 2)
    lengths = set()
    for n in range(200):
        L = _episode_length(mask[n])
        lengths.add(L)
        # L vectors, then the delimiter on channel BITS, then L answers.
        assert np.all(x[n, :L, BITS:] == 0)
        np.testing.assert_array_equal(x[n, L, BITS:], [1, 0])
        assert np.all(x[n, L, :BITS] == 0)
        assert np.all(x[n, L + 1:] == 0)
        np.testing.assert_array_equal(mask[n, L + 1:2 * L + 1], 1)
        np.testing.assert_array_equal(y[n, L + 1:2 * L + 1], x[n, :L, :BITS])
    assert lengths == set(range(2, 8))
    # Bits are fair coins.
    scored = y[mask == 1]
    assert 0.45 < scored.mean() < 0.55


def test_repeat_copy_layout():
    x, y, mask = algorithmic.REPEAT_COPY.generate(
        100, seed=1, max_length=4, max_repeats=3, num_bits=5)
    assert x.shape == (100, 4 * 4 + 2, 7) and y.shape == (100, 18, 6)
    repeats = set()
    for n in range(100):
        L = int(x[n, :, 5].argmax())  # the delimiter step
        assert x[n, L, 5] == 1 and np.all(x[n, :L, 5:] == 0)
        r = int(round(x[n, L, 6] * 3))
        repeats.add(r)
        assert _episode_length(mask[n]) == r * L + 1
        start, end = L + 1, L + 1 + r * L
        np.testing.assert_array_equal(y[n, start:end, :5],
                                      np.tile(x[n, :L, :5], (r, 1)))
        assert np.all(y[n, start:end, 5] == 0)
        np.testing.assert_array_equal(y[n, end], [0] * 5 + [1])  # end mark
        assert mask[n, end] == 1 and np.all(mask[n, end + 1:] == 0)
    assert repeats == {1, 2, 3}


def test_associative_recall_layout():
    size = 3
    x, y, mask = algorithmic.ASSOCIATIVE_RECALL.generate(
        100, seed=2, min_items=2, max_items=5)
    assert x.shape == (100, 5 * 4 + 2 * 3 + 2, BITS + 2)
    counts = set()
    for n in range(100):
        item_marks = np.flatnonzero(x[n, :, BITS])
        query_marks = np.flatnonzero(x[n, :, BITS + 1])
        k = len(item_marks)
        counts.add(k)
        np.testing.assert_array_equal(item_marks, np.arange(k) * (size + 1))
        t = k * (size + 1)
        np.testing.assert_array_equal(query_marks, [t, t + size + 1])
        items = [x[n, i * 4 + 1:i * 4 + 1 + size, :BITS] for i in range(k)]
        query = x[n, t + 1:t + 1 + size, :BITS]
        matches = [i for i in range(k - 1)
                   if np.array_equal(items[i], query)]
        assert matches, "the query is one of the first k - 1 items"
        answer = t + size + 2
        np.testing.assert_array_equal(mask[n].nonzero()[0],
                                      np.arange(answer, answer + size))
        assert any(np.array_equal(y[n, answer:answer + size], items[i + 1])
                   for i in matches)
    assert counts == {2, 3, 4, 5}


@pytest.mark.parametrize("kwargs,fragment", [
    (dict(min_length=0), "min_length"),
    (dict(min_length=5, max_length=4), "max_length"),
    (dict(num_bits=0), "num_bits"),
])
def test_bad_parameters(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        algorithmic.COPY.generate(2, **kwargs)
    with pytest.raises(ValueError, match="min_items"):
        algorithmic.ASSOCIATIVE_RECALL.generate(2, min_items=1)
    with pytest.raises(ValueError, match="unknown parameter"):
        algorithmic.REPEAT_COPY.generate(2, length=3)


def test_bits_per_sequence_hand_made():
    targets = np.zeros((2, 3, 2))
    targets[0, 0] = [1, 0]
    targets[1, 2] = [1, 1]
    mask = np.array([[1, 1, 0], [0, 1, 1]], "float32")
    # Perfect logits: 0 bits.
    logits = np.where(targets > 0, 5.0, -5.0)
    assert bits_per_sequence(targets, logits, mask) == 0.0
    # Sequence 0: one wrong bit at a scored step, one at an unscored step;
    # sequence 1: both bits wrong at step 2 -> (1 + 2) / 2.
    wrong = logits.copy()
    wrong[0, 0, 1] = 3.0
    wrong[0, 2, 0] = 3.0  # masked
    wrong[1, 2] = [-1.0, -0.1]
    assert bits_per_sequence(targets, wrong, mask) == 1.5
    assert bits_per_sequence(targets, wrong) == 2.0  # unmasked: (2 + 2) / 2
    # Probabilities: 0.5 rounds to 0 (σ(0) = 1/2 too: logit 0 predicts 0).
    probs = np.where(targets > 0, 0.9, 0.5)
    assert bits_per_sequence(targets, probs, mask, from_logits=False) == 0.0
    assert bits_per_sequence(targets, np.zeros_like(targets), mask) == 1.5
    with pytest.raises(ValueError, match="same shape"):
        bits_per_sequence(targets, logits[:, :2], mask)
    with pytest.raises(ValueError, match="mask"):
        bits_per_sequence(targets, logits, mask[:, :2])


def test_chance_baseline_of_copy():
    """Random guessing makes about `baseline` errors per sequence."""
    spec = algorithmic.COPY
    x, y, mask = spec.generate(2000, seed=5)
    guesses = np.random.default_rng(0).standard_normal(y.shape)
    assert abs(bits_per_sequence(y, guesses, mask) - spec.baseline) < 2.0
