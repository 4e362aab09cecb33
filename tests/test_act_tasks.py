"""The tasks of Adaptive Computation Time (Graves 2016): parity and addition,
checked against independent plain-Python decoders, and their metrics."""

import numpy as np
import pytest

from keras_seqmem.tasks import TASKS, get_task, make_dataset
from keras_seqmem.tasks import addition, parity
from keras_seqmem.tasks.addition import digit_error_rate, sequence_error_rate


# --------------------------------------------------------------------------
# Independent reference decoders (plain Python loops).
# --------------------------------------------------------------------------


def _decode_number(step, num_digits):
    """One input step (10 * num_digits one-hot features) -> (int, #digits),
    block j being the digit of 10**j; None for an all-zero (padding) step."""
    value, used = 0, 0
    for j in range(num_digits):
        block = [float(v) for v in step[10 * j : 10 * j + 10]]
        if sum(block) == 0:
            continue
        assert sum(block) == 1.0 and max(block) == 1.0, "one-hot block"
        assert used == j, "blocks are used from the lowest one up"
        value += block.index(1.0) * 10 ** j
        used += 1
    return (value, used) if used else None


def _digit_classes(total, width):
    """Least significant digit first, 10 beyond the top digit."""
    text = str(total)[::-1]
    return [int(text[j]) if j < len(text) else 10 for j in range(width)]


# --------------------------------------------------------------------------
# Parity.
# --------------------------------------------------------------------------


def test_parity_spec_shapes_and_determinism():
    spec = get_task("parity")
    assert TASKS["parity"] is spec is parity.SPEC
    assert spec.kind == "classification" and spec.input == "features"
    assert spec.metric_name == "accuracy" and spec.baseline == 0.5
    assert spec.num_features == 64
    assert spec.input_shape() == (1, 64) and spec.target_shape() == (1,)
    assert spec.input_shape(size=10) == (1, 10)
    x, y = spec.generate(200, seed=3)
    assert x.dtype == np.float32 and x.shape == (200, 1, 64)
    assert y.dtype == np.float32 and y.shape == (200, 1)
    assert set(np.unique(x)) <= {-1.0, 0.0, 1.0}
    assert set(np.unique(y)) == {0.0, 1.0}
    x2, y2 = spec.generate(200, seed=3)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(x, spec.generate(200, seed=4)[0])
    x, _ = parity.generate(5, seed=0, size=7)
    assert x.shape == (5, 1, 7)


def test_parity_labels_are_the_parity_of_the_plus_ones():
    x, y = parity.generate(500, seed=1, size=16)
    for row, label in zip(x, y):
        ones = sum(1 for v in row[0].tolist() if v == 1.0)
        assert int(label[0]) == ones % 2
    # Labels do not just follow the total non-zero count.
    nonzero = parity.count_nonzero(x)
    assert not np.array_equal(nonzero % 2, y[:, 0].astype(int))


def test_parity_nonzero_count_covers_its_range():
    x, _ = parity.generate(4000, seed=2, size=12)
    counts = parity.count_nonzero(x)
    assert counts.shape == (4000,) and counts.dtype == np.int32
    independent = [sum(1 for v in row[0].tolist() if v != 0) for row in x]
    assert counts.tolist() == independent
    assert counts.min() == 1 and counts.max() == 12
    assert set(counts.tolist()) == set(range(1, 13))
    # Uniform in k: each of the 12 values about 4000 / 12 ~ 333 times.
    assert np.bincount(counts)[1:].min() > 250
    x, _ = parity.generate(3000, seed=5, size=20, min_nonzero=4,
                           max_nonzero=9)
    counts = parity.count_nonzero(x)
    assert counts.min() == 4 and counts.max() == 9
    assert set(counts.tolist()) == set(range(4, 10))
    # (n, size) inputs too.
    assert parity.count_nonzero(x[:, 0]).tolist() == counts.tolist()


def test_parity_signs_positions_and_labels_are_balanced():
    x, y = parity.generate(4000, seed=6)
    plus, minus = np.sum(x == 1.0), np.sum(x == -1.0)
    assert abs(plus / (plus + minus) - 0.5) < 0.02
    # Every position is used about equally often.
    per_position = np.sum(x[:, 0] != 0, axis=0)
    assert per_position.min() > 0.8 * per_position.mean()
    assert abs(y.mean() - 0.5) < 0.05


# --------------------------------------------------------------------------
# Addition.
# --------------------------------------------------------------------------


def test_addition_spec_shapes_and_determinism():
    spec = get_task("addition")
    assert TASKS["addition"] is spec is addition.SPEC
    assert spec.kind == "sequence_classes" and spec.input == "features"
    assert spec.metric_name == "sequence_error" and spec.baseline == 1.0
    assert spec.num_features == 50
    assert spec.input_shape() == (5, 50) and spec.target_shape() == (5, 6)
    assert spec.input_shape(num_digits=3, max_length=7) == (7, 30)
    assert spec.target_shape(num_digits=3, max_length=7) == (7, 4)
    x, y, mask = spec.generate(100, seed=3)
    assert x.dtype == np.float32 and x.shape == (100, 5, 50)
    assert y.dtype == np.int32 and y.shape == (100, 5, 6)
    assert mask.dtype == np.float32 and mask.shape == (100, 5)
    assert y.min() >= 0 and y.max() == 10
    assert set(np.unique(x)) == {0.0, 1.0}
    for a, b in zip((x, y, mask), spec.generate(100, seed=3)):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(x, spec.generate(100, seed=4)[0])
    # Static T whatever the seed (and even when every sequence is short).
    assert spec.generate(1, seed=9)[0].shape == (1, 5, 50)


@pytest.mark.parametrize("num_digits, max_length", [(5, 5), (2, 10), (1, 11)])
def test_addition_targets_are_the_cumulative_sums(num_digits, max_length):
    x, y, mask = addition.generate(400, seed=7, num_digits=num_digits,
                                   max_length=max_length)
    width = num_digits + 1
    lengths, digit_counts = [], set()
    for n in range(len(x)):
        numbers = []
        for t in range(max_length):
            decoded = _decode_number(x[n, t], num_digits)
            if decoded is None:
                break
            numbers.append(decoded[0])
            digit_counts.add(decoded[1])
        length = len(numbers)
        lengths.append(length)
        # Padding: all-zero inputs after the end, targets NO_DIGIT, mask 0.
        assert not x[n, length:].any()
        assert np.all(y[n, length:] == addition.NO_DIGIT)
        expected_mask = [1.0 if 1 <= t < length else 0.0
                         for t in range(max_length)]
        assert mask[n].tolist() == expected_mask
        total = 0
        for t, number in enumerate(numbers):
            total += number
            assert y[n, t].tolist() == _digit_classes(total, width), (n, t)
    assert set(lengths) == set(range(1, max_length + 1))
    assert digit_counts == set(range(1, num_digits + 1))


def test_addition_sums_reach_the_extra_digit():
    # Five 5-digit numbers can sum to 6 digits: the last class is then used.
    _, y, mask = addition.generate(2000, seed=0)
    top = y[..., 5][mask == 1]
    assert np.any(top != addition.NO_DIGIT) and np.any(top == addition.NO_DIGIT)


def test_addition_min_length_and_lengths_uniform():
    _, _, mask = addition.generate(5000, seed=1)
    scored = mask.sum(axis=1).astype(int)  # length - 1
    counts = np.bincount(scored, minlength=5)
    assert counts.min() > 0.8 * 1000 and counts.max() < 1.2 * 1000
    _, _, mask = addition.generate(300, seed=1, min_length=3, max_length=4)
    assert set(mask.sum(axis=1).astype(int).tolist()) == {2, 3}


# --------------------------------------------------------------------------
# Metrics.
# --------------------------------------------------------------------------


def _one_hot_logits(class_ids):
    logits = np.full(class_ids.shape + (addition.NUM_CLASSES,), -3.0)
    np.put_along_axis(logits, class_ids[..., None], 5.0, axis=-1)
    return logits


def test_error_rates_of_true_and_corrupted_predictions():
    _, y, mask = addition.generate(300, seed=2)
    for predictions in (y, _one_hot_logits(y)):
        assert sequence_error_rate(y, predictions, mask) == 0.0
        assert digit_error_rate(y, predictions, mask) == 0.0

    has_scored = mask.sum(axis=1) > 0
    num_scored = int(has_scored.sum())
    assert 0 < num_scored < len(y)  # some sequences have length 1

    # Every digit wrong: every sequence with a scored step is wrong.
    wrong = (y + 1) % addition.NUM_CLASSES
    assert sequence_error_rate(y, wrong, mask) == 1.0
    assert digit_error_rate(y, _one_hot_logits(wrong), mask) == 1.0

    # One wrong digit at the last scored step of the first 40 scored
    # sequences: 40 sequences and 40 digits wrong.
    corrupted = y.copy()
    rows = np.nonzero(has_scored)[0][:40]
    for n in rows:
        t = int(np.nonzero(mask[n])[0][-1])
        corrupted[n, t, 2] = (corrupted[n, t, 2] + 3) % addition.NUM_CLASSES
    expected_sequences = 40 / num_scored
    expected_digits = 40 / (mask.sum() * y.shape[-1])
    for predictions in (corrupted, _one_hot_logits(corrupted)):
        assert sequence_error_rate(y, predictions, mask) == pytest.approx(
            expected_sequences)
        assert digit_error_rate(y, predictions, mask) == pytest.approx(
            expected_digits)

    # Errors at unscored steps (step 0, padding) do not count.
    unscored = y.copy()
    unscored[mask == 0] = (unscored[mask == 0] + 1) % addition.NUM_CLASSES
    assert sequence_error_rate(y, unscored, mask) == 0.0
    assert digit_error_rate(y, unscored, mask) == 0.0


def test_error_rates_reject_bad_shapes():
    _, y, mask = addition.generate(10, seed=0)
    with pytest.raises(ValueError, match="logits"):
        sequence_error_rate(y, y[:, :, :-1], mask)
    with pytest.raises(ValueError, match="mask"):
        digit_error_rate(y, y, mask[:, :-1])
    with pytest.raises(ValueError, match="targets"):
        sequence_error_rate(y[..., 0], y[..., 0], mask)


# --------------------------------------------------------------------------
# Datasets and validation.
# --------------------------------------------------------------------------


def test_make_dataset_batches():
    batch = next(iter(make_dataset("addition", 20, batch_size=8, seed=0)))
    assert len(batch) == 3
    xb, yb, mb = batch
    assert tuple(xb.shape) == (8, 5, 50) and xb.dtype.name == "float32"
    assert tuple(yb.shape) == (8, 5, 6) and yb.dtype.name == "int32"
    assert tuple(mb.shape) == (8, 5) and mb.dtype.name == "float32"

    batch = next(iter(make_dataset("parity", 20, batch_size=8, seed=0,
                                   size=16)))
    assert len(batch) == 2
    xb, yb = batch
    assert tuple(xb.shape) == (8, 1, 16) and xb.dtype.name == "float32"
    assert tuple(yb.shape) == (8, 1) and yb.dtype.name == "float32"


@pytest.mark.parametrize(
    "name, params, bad",
    [
        ("parity", dict(size=0), "size"),
        ("parity", dict(size=8, max_nonzero=9), "max_nonzero"),
        ("parity", dict(min_nonzero=0), "min_nonzero"),
        ("parity", dict(min_nonzero=5, max_nonzero=4), "max_nonzero"),
        ("parity", dict(size=2.0), "size"),
        ("parity", dict(length=2), "length"),
        ("addition", dict(num_digits=0), "num_digits"),
        ("addition", dict(min_length=4, max_length=3), "max_length"),
        ("addition", dict(min_length=0), "min_length"),
        ("addition", dict(max_length=11), "max_length"),
        ("addition", dict(num_digits=1, max_length=12), "max_length"),
    ],
)
def test_invalid_params_raise_value_error(name, params, bad):
    with pytest.raises(ValueError) as info:
        get_task(name).generate(10, seed=0, **params)
    msg = str(info.value)
    assert bad in msg and name in msg


def test_addition_dataset_trains_with_a_per_step_loss():
    """The (batch, T) mask weighs a per-step loss in model.fit."""
    import keras

    def per_step_loss(targets, logits):
        return keras.ops.mean(keras.losses.sparse_categorical_crossentropy(
            targets, logits, from_logits=True), axis=-1)

    inputs = keras.Input((3, 20))
    hidden = keras.layers.SimpleRNN(8, return_sequences=True)(inputs)
    logits = keras.layers.Reshape((3, 3, 11))(keras.layers.Dense(33)(hidden))
    model = keras.Model(inputs, logits)
    model.compile("adam", per_step_loss)
    ds = make_dataset("addition", 16, batch_size=8, num_digits=2,
                      max_length=3)
    history = model.fit(ds, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
