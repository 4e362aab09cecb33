"""Tests of keras_seqmem.tasks: labels checked by independent plain-Python
reference implementations, balance, determinism, hard negatives, datasets and
parameter validation."""

import numpy as np
import pytest

from keras_seqmem import tasks
from keras_seqmem.tasks import TASKS, TaskSpec, get_task, make_dataset
from keras_seqmem.tasks import adding, brackets, halves


# --------------------------------------------------------------------------
# Independent reference checkers (plain Python loops).
# --------------------------------------------------------------------------


def _chars(ids):
    """Token ids -> list of characters, using only brackets.VOCAB."""
    out = []
    for i in ids:
        i = int(i)
        if i != 0:
            out.append(brackets.VOCAB[i])
    return out


def _depth_profile(ids, open_char="(", close_char=")"):
    """(min prefix depth, final depth) counting one bracket type."""
    depth, lowest = 0, 0
    for c in _chars(ids):
        if c == open_char:
            depth += 1
        elif c == close_char:
            depth -= 1
        lowest = min(lowest, depth)
    return lowest, depth


def _stack_balanced(ids, pairs):
    match = {pairs[k + 1]: pairs[k] for k in range(0, len(pairs), 2)}
    opens = set(pairs[0::2])
    stack = []
    for c in _chars(ids):
        if c in opens:
            stack.append(c)
        elif c in match:
            if not stack or stack[-1] != match[c]:
                return False
            stack.pop()
    return len(stack) == 0


def _max_depth(ids, pairs):
    opens, closes = set(pairs[0::2]), set(pairs[1::2])
    depth = best = 0
    for c in _chars(ids):
        if c in opens:
            depth += 1
        elif c in closes:
            depth -= 1
        best = max(best, depth)
    return best


def _true_length(ids):
    n = 0
    for k, i in enumerate(ids):
        if int(i) != 0:
            n = k + 1
    return n


# --------------------------------------------------------------------------
# Registry and TaskSpec.
# --------------------------------------------------------------------------


def test_registry_contents_and_specs():
    assert set(TASKS) == {"brackets", "halves", "adding", "dates", "reversal",
                          "copy", "repeat_copy", "associative_recall",
                          "parity", "addition"}
    assert get_task("brackets") is brackets.SPEC
    assert get_task("halves") is halves.SPEC
    assert get_task("adding") is adding.SPEC
    assert get_task(halves.SPEC) is halves.SPEC
    for name in ("brackets", "halves"):
        spec = get_task(name)
        assert spec.name == name
        assert spec.kind == "classification"
        assert spec.input == "tokens" and spec.input_kind == "tokens"
        assert spec.metric_name == "accuracy"
        assert spec.baseline == 0.5
        assert spec.num_features is None
    spec = get_task("adding")
    assert spec.kind == "regression" and spec.input == "features"
    assert spec.metric_name == "mse"
    assert spec.num_features == 2 and spec.vocab_size is None
    assert spec.baseline == pytest.approx(1 / 6)
    assert brackets.SPEC.vocab_size == len(brackets.VOCAB) == brackets.VOCAB_SIZE
    assert halves.SPEC.vocab_size == 9
    assert halves.SPEC.get_vocab_size(num_symbols=5) == 6
    assert adding.SPEC.input_shape(length=30) == (30, 2)
    assert brackets.SPEC.input_shape(length=30) == (30,)


def test_spec_is_frozen():
    spec = get_task("halves")
    with pytest.raises(Exception):
        spec.name = "other"
    with pytest.raises(TypeError):
        spec.defaults["length"] = 4


def test_unknown_task_lists_known_names():
    with pytest.raises(ValueError) as info:
        get_task("no_such_task")
    msg = str(info.value)
    assert "no_such_task" in msg
    for name in ("brackets", "halves", "adding"):
        assert name in msg
    with pytest.raises(ValueError):
        make_dataset("nope", 10)


def test_package_reexports():
    """`keras_seqmem.tasks` exports what `__all__` lists, the very objects
    of `tasks.base` and of each task module, and registers every task
    module's spec under its name."""
    import importlib

    from keras_seqmem.tasks import base

    for name in tasks.__all__:
        exported = getattr(tasks, name)
        if hasattr(base, name):
            assert exported is getattr(base, name), name
        else:
            assert exported is importlib.import_module(
                f"keras_seqmem.tasks.{name}"), name
    for name in ("adding", "brackets", "halves", "dates", "reversal",
                 "parity", "addition"):
        assert TASKS[name] is getattr(tasks, name).SPEC, name
        assert get_task(name) is TASKS[name]
    assert isinstance(TASKS["adding"], TaskSpec)
    assert sorted(TASKS) == sorted(
        ["adding", "addition", "associative_recall", "brackets", "copy",
         "dates", "halves", "parity", "repeat_copy", "reversal"])


# --------------------------------------------------------------------------
# Common properties of every task.
# --------------------------------------------------------------------------

_SMALL = {
    "brackets": dict(length=30, min_length=8),
    "halves": dict(length=16, num_symbols=4),
    "adding": dict(length=20),
}


@pytest.mark.parametrize("name", sorted(_SMALL))
def test_shapes_dtypes_and_determinism(name):
    spec = get_task(name)
    x, y = spec.generate(101, seed=7, **_SMALL[name])
    length = _SMALL[name]["length"]
    assert x.shape[:2] == (101, length)
    if spec.input == "tokens":
        assert x.dtype == np.int32 and x.ndim == 2
        assert x.min() >= 0 and x.max() < spec.get_vocab_size(**_SMALL[name])
    else:
        assert x.dtype == np.float32 and x.shape == (101, length, 2)
    assert y.dtype == np.float32 and y.shape == (101, 1)

    x2, y2 = spec.generate(101, seed=7, **_SMALL[name])
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    x3, y3 = spec.generate(101, seed=8, **_SMALL[name])
    assert not np.array_equal(x, x3)


@pytest.mark.parametrize("name", ["brackets", "halves"])
def test_classes_balanced(name):
    _, y = get_task(name).generate(1001, seed=3)
    assert set(np.unique(y).tolist()) == {0.0, 1.0}
    assert abs(int(y.sum()) - 500) <= 1
    # The order is shuffled, not sorted.
    assert 0.3 < y[:200].mean() < 0.7


# --------------------------------------------------------------------------
# Brackets.
# --------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1])
def test_brackets_labels_match_reference(seed):
    x, y = brackets.generate(400, seed=seed, length=40, min_length=4)
    for row, label in zip(x, y[:, 0]):
        lowest, final = _depth_profile(row)
        assert (lowest >= 0 and final == 0) == bool(label), brackets.decode(row)
        assert brackets.is_balanced(row) == bool(label)


def test_brackets_several_types_labels_match_stack_rule():
    pairs = "()[]{}"
    x, y = brackets.generate(400, seed=5, length=40, pairs=pairs)
    for row, label in zip(x, y[:, 0]):
        assert _stack_balanced(row, pairs) == bool(label), brackets.decode(row)
    chars = set("".join(brackets.decode(x)))
    assert set("()[]{}") <= chars
    # Some negatives count-balanced everywhere but with mismatched types.
    mism = 0
    for row, label in zip(x, y[:, 0]):
        if not label:
            ones = [c for c in _chars(row) if c in pairs]
            depth, ok = 0, True
            for c in ones:
                depth += 1 if c in "([{" else -1
                ok &= depth >= 0
            mism += ok and depth == 0
    assert mism > 20


def test_brackets_default_pairs_use_parentheses_only():
    x, _ = brackets.generate(200, seed=0)
    chars = set("".join(brackets.decode(x)))
    assert "(" in chars and ")" in chars
    assert not chars & set("[]{}")
    assert len(chars - set("()")) > 10  # filler characters present


def test_brackets_hard_negatives_are_near_misses():
    x, y = brackets.generate(600, seed=11, length=60)
    kinds = {"negative_in_middle": 0, "ends_open": 0, "ends_negative": 0}
    for row, label in zip(x, y[:, 0]):
        if label:
            continue
        lowest, final = _depth_profile(row)
        assert -2 <= lowest and -2 <= final <= 2, brackets.decode(row)
        assert lowest in (-2, -1) or final in (1, 2), brackets.decode(row)
        if final == 0:
            kinds["negative_in_middle"] += 1
        elif final > 0:
            kinds["ends_open"] += 1
        else:
            kinds["ends_negative"] += 1
    # All kinds of near misses are present; counts cannot separate classes
    # for the "negative in the middle" ones.
    assert all(v >= 30 for v in kinds.values()), kinds


def test_brackets_swap_only_negatives_keep_counts_balanced():
    x, y = brackets.generate(
        300, seed=2, length=50, corruption_weights={"swap": 1.0}
    )
    for row, label in zip(x, y[:, 0]):
        lowest, final = _depth_profile(row)
        if label:
            assert lowest >= 0 and final == 0
        else:
            assert final == 0 and lowest in (-1, -2), brackets.decode(row)


def test_brackets_variable_length_padding_at_end():
    x, y = brackets.generate(300, seed=4, length=50, min_length=10)
    lengths = []
    for row in x:
        n = _true_length(row)
        lengths.append(n)
        assert all(int(t) == 0 for t in row[n:])
        assert all(int(t) != 0 for t in row[:n])  # no padding inside
    assert min(lengths) >= 10 and max(lengths) <= 50
    assert len(set(lengths)) > 20
    # Lengths do not give the label away.
    lengths = np.array(lengths)
    pos, neg = lengths[y[:, 0] == 1], lengths[y[:, 0] == 0]
    assert abs(pos.mean() - neg.mean()) < 5


def test_brackets_positives_are_diverse():
    x, y = brackets.generate(300, seed=6, length=40)
    shapes, returns_to_zero, n_pos = set(), 0, 0
    for row, label in zip(x, y[:, 0]):
        if not label:
            continue
        n_pos += 1
        only = "".join(c for c in _chars(row) if c in "()")
        shapes.add(only)
        depth, touched = 0, False
        for c in only[:-1]:
            depth += 1 if c == "(" else -1
            touched |= depth == 0
        returns_to_zero += touched
    assert len(shapes) > 0.9 * n_pos
    # Several top-level groups are common, nested-only strings too.
    assert 0.3 * n_pos < returns_to_zero < n_pos


def test_brackets_fixed_length_by_default():
    x, _ = brackets.generate(100, seed=0, length=25)
    assert (x != 0).all()


def test_brackets_max_depth_and_bracket_prob():
    x, y = brackets.generate(300, seed=9, length=80, max_depth=2)
    depths = [_max_depth(r, "()") for r, l in zip(x, y[:, 0]) if l]
    assert max(depths) == 2
    x2, y2 = brackets.generate(300, seed=9, length=80)
    depths2 = [_max_depth(r, "()") for r, l in zip(x2, y2[:, 0]) if l]
    assert max(depths2) > 4

    dense, _ = brackets.generate(200, seed=0, length=100, bracket_prob=0.8)
    sparse, _ = brackets.generate(200, seed=0, length=100, bracket_prob=0.2)
    frac = lambda a: np.isin(a, [brackets.VOCAB.index("("), brackets.VOCAB.index(")")]).mean()
    assert 0.7 < frac(dense) < 0.9 and 0.1 < frac(sparse) < 0.3


def test_brackets_encode_decode_roundtrip():
    text = "f(a[1], {b: 2}) + g(x)"
    ids = brackets.encode(text, length=30)
    assert ids.dtype == np.int32 and ids.shape == (30,)
    assert (ids[len(text):] == 0).all()
    assert brackets.decode(ids) == text
    assert brackets.is_balanced(text, "()[]{}")
    assert not brackets.is_balanced("f(a[1)]", "()[]")
    assert brackets.decode(np.stack([ids, ids])) == [text, text]


# --------------------------------------------------------------------------
# Two identical halves.
# --------------------------------------------------------------------------


@pytest.mark.parametrize("num_differences", [1, 3])
def test_halves_labels_and_hamming_distance(num_differences):
    length, half = 24, 12
    x, y = halves.generate(
        400, seed=1, length=length, num_symbols=5, num_differences=num_differences
    )
    assert x.min() >= 1 and x.max() <= 5
    positions_changed = set()
    for row, label in zip(x, y[:, 0]):
        diffs = [k for k in range(half) if int(row[k]) != int(row[half + k])]
        if label:
            assert diffs == []
        else:
            assert len(diffs) == num_differences
            positions_changed.update(diffs)
    # Differences can be anywhere in the halves.
    assert len(positions_changed) == half


def test_halves_all_positions_differ():
    x, y = halves.generate(50, seed=0, length=6, num_symbols=2, num_differences=3)
    for row, label in zip(x, y[:, 0]):
        same = sum(int(row[k]) == int(row[3 + k]) for k in range(3))
        assert same == (3 if label else 0)


def test_halves_symbol_usage():
    x, _ = halves.generate(300, seed=0, length=20, num_symbols=8)
    assert sorted(np.unique(x).tolist()) == list(range(1, 9))


# --------------------------------------------------------------------------
# Adding problem.
# --------------------------------------------------------------------------


def test_adding_targets_match_reference():
    x, y = adding.generate(300, seed=2, length=31)
    half = 31 // 2
    for row, target in zip(x, y[:, 0]):
        marks = [k for k in range(31) if row[k, 1] != 0.0]
        assert len(marks) == 2
        assert marks[0] < half <= marks[1]
        assert all(row[k, 1] == 1.0 for k in marks)
        total = sum(float(row[k, 0]) for k in marks)
        assert abs(total - float(target)) < 1e-6
    assert x[:, :, 0].min() >= 0.0 and x[:, :, 0].max() < 1.0


def test_adding_baseline_mse_of_constant_one():
    _, y = adding.generate(20000, seed=0, length=10)
    mse = float(np.mean((y - 1.0) ** 2))
    assert abs(mse - adding.BASELINE_MSE) < 0.01
    assert abs(adding.SPEC.baseline - 1 / 6) < 1e-12
    assert adding.SOLVED_MSE == 0.01


def test_adding_marker_positions_spread():
    x, _ = adding.generate(2000, seed=0, length=20)
    first = x[:, :10, 1].argmax(axis=1)
    second = x[:, 10:, 1].argmax(axis=1)
    assert len(np.unique(first)) == 10 and len(np.unique(second)) == 10


# --------------------------------------------------------------------------
# tf.data.
# --------------------------------------------------------------------------


def test_make_dataset_batches():
    ds = make_dataset("brackets", 100, batch_size=32, seed=1, length=20)
    batches = list(ds)
    assert [int(b[0].shape[0]) for b in batches] == [32, 32, 32, 4]
    xb, yb = batches[0]
    assert xb.dtype.name == "int32" and tuple(xb.shape) == (32, 20)
    assert yb.dtype.name == "float32" and tuple(yb.shape) == (32, 1)

    # Same examples as generate(), shuffled deterministically with the seed.
    x, y = brackets.generate(100, seed=1, length=20)
    xs = np.concatenate([b[0].numpy() for b in batches])
    assert sorted(map(tuple, xs.tolist())) == sorted(map(tuple, x.tolist()))
    assert not np.array_equal(xs, x)
    again = np.concatenate([b[0].numpy() for b in make_dataset(
        "brackets", 100, batch_size=32, seed=1, length=20)])
    np.testing.assert_array_equal(xs, again)

    plain = make_dataset("brackets", 100, batch_size=32, seed=1, shuffle=False, length=20)
    np.testing.assert_array_equal(
        np.concatenate([b[0].numpy() for b in plain]), x
    )


def test_make_dataset_adding_and_repeat():
    ds = make_dataset(adding.SPEC, 10, batch_size=4, repeat=True, length=12)
    batches = list(ds.take(5))
    assert len(batches) == 5
    xb, yb = batches[0]
    assert tuple(xb.shape) == (4, 12, 2) and xb.dtype.name == "float32"
    assert tuple(yb.shape) == (4, 1) and yb.dtype.name == "float32"


# --------------------------------------------------------------------------
# Parameter validation.
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, params, bad",
    [
        ("brackets", dict(length=1), "length"),
        ("brackets", dict(length=10, min_length=11), "min_length"),
        ("brackets", dict(length=10, min_length=1), "min_length"),
        ("brackets", dict(max_depth=0), "max_depth"),
        ("brackets", dict(bracket_prob=0.0), "bracket_prob"),
        ("brackets", dict(bracket_prob=1.5), "bracket_prob"),
        ("brackets", dict(pairs="(]"), "pairs"),
        ("brackets", dict(pairs="()("), "pairs"),
        ("brackets", dict(pairs="()()"), "pairs"),
        ("brackets", dict(corruption_weights={"mismatch": 1.0}), "corruption_weights"),
        ("brackets", dict(corruption_weights={"bogus": 1.0}), "corruption_weights"),
        ("brackets", dict(length=2.5), "length"),
        ("halves", dict(length=11), "length"),
        ("halves", dict(length=0), "length"),
        ("halves", dict(num_symbols=1), "num_symbols"),
        ("halves", dict(length=10, num_differences=6), "num_differences"),
        ("halves", dict(num_differences=0), "num_differences"),
        ("adding", dict(length=1), "length"),
        ("adding", dict(width=3), "width"),
    ],
)
def test_invalid_params_raise_value_error(name, params, bad):
    with pytest.raises(ValueError) as info:
        get_task(name).generate(10, seed=0, **params)
    msg = str(info.value)
    assert bad in msg and name in msg


def test_invalid_num_examples_and_batch_size():
    with pytest.raises(ValueError, match="num_examples"):
        get_task("halves").generate(0)
    with pytest.raises(ValueError, match="batch_size"):
        make_dataset("halves", 10, batch_size=0)


def _python_calls(function):
    """How many Python function calls (profiler "call" events: functions,
    generator resumptions; not NumPy's C loops) `function()` makes: a
    measure of per-example Python work that, unlike a wall-clock time,
    does not depend on the machine or its load."""
    import sys

    count = [0]

    def profile(frame, event, arg):
        if event == "call":
            count[0] += 1

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        function()
    finally:
        sys.setprofile(previous)
    return count[0]


@pytest.mark.parametrize("name", ["brackets", "halves", "adding"])
def test_generation_is_vectorised(name):
    """Generating 10x the examples makes (nearly) no more Python calls:
    the work is in NumPy's array operations, not a Python loop over the
    examples (brackets runs one pass per chunk of rows). Measured: brackets
    743 -> 1462 calls for 2,000 -> 20,000 sequences of length 200, halves
    37 -> 37, adding 17 -> 17; a loop over the examples makes >= 10x."""
    generate = {"brackets": brackets, "halves": halves,
                "adding": adding}[name].generate
    _python_calls(lambda: generate(200, seed=0, length=200))  # (caches)
    small = _python_calls(lambda: generate(2000, seed=0, length=200))
    large = _python_calls(lambda: generate(20000, seed=0, length=200))
    assert small > 0
    assert large <= 2.5 * small, (name, small, large)
