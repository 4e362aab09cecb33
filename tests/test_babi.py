"""Tests of keras_seqmem.tasks.babi (the bAbI reader and its arrays) and of
the offline TFDS builder keras_seqmem.tasks.babi_tfds.

The real data (fixture ``babi_dir``, see conftest.py) is checked against an
independent plain-Python parse of every file; a tiny synthetic folder
written to ``tmp_path`` tests the reader without the shared data.
"""

import json
import pathlib

import numpy as np
import pytest

from keras_seqmem.tasks import babi
from keras_seqmem.tasks.babi import BabiExample, Vocabulary

# --------------------------------------------------------------------------
# A tiny synthetic bAbI folder (no shared data needed).
# --------------------------------------------------------------------------

TINY_QA1_TRAIN = """\
1 Mary moved to the bathroom.
2 John went to the hallway.
3 Where is Mary? \tbathroom\t1
4 Daniel went back to the hallway.
5 Sandra moved to the garden.
6 Where is Daniel? \thallway\t4
7 John moved to the office.
8 Where is John? \toffice\t7
1 Sandra travelled to the office.
2 Where is Sandra? \toffice\t1
"""

TINY_QA1_TEST = """\
1 John went to the kitchen.
2 Where is John? \tkitchen\t1
"""

TINY_QA19_TRAIN = """\
1 The office is east of the hallway.
2 The kitchen is north of the office.
3 How do you go from the kitchen to the hallway?\tS,W\t2 1
"""


def _write_tiny(root: pathlib.Path) -> pathlib.Path:
    """Writes ``root/en/...``: qa1 train/test and qa19 train."""
    en = root / "en"
    en.mkdir(parents=True)
    (en / "qa1_single-supporting-fact_train.txt").write_text(TINY_QA1_TRAIN)
    (en / "qa1_single-supporting-fact_test.txt").write_text(TINY_QA1_TEST)
    (en / "qa19_path-finding_train.txt").write_text(TINY_QA19_TRAIN)
    return root


def test_tokenize():
    assert babi.tokenize("Where is Mary? ") == ["where", "is", "mary"]
    assert babi.tokenize("Mary moved to the bathroom.") == [
        "mary", "moved", "to", "the", "bathroom"]
    assert babi.tokenize("  ") == []


def test_synthetic_folder(tmp_path):
    root = _write_tiny(tmp_path / "tasks_1-20_v1-2")
    # The folder holding en/ and en/ itself both work.
    path = babi.find_task_file(root, 1, "train")
    assert path == babi.find_task_file(root / "en", 1, "train")
    assert path.name == "qa1_single-supporting-fact_train.txt"

    examples = babi.read_task_file(path)
    assert len(examples) == 4
    first, second, third, fourth = examples
    assert first == BabiExample(
        task=1,
        story=(("mary", "moved", "to", "the", "bathroom"),
               ("john", "went", "to", "the", "hallway")),
        story_ids=(1, 2),
        question=("where", "is", "mary"),
        answer="bathroom",
        supporting_ids=(1,),
    )
    assert first.supporting == (0,)
    # Question lines are not statements; the story keeps growing.
    assert second.story_ids == (1, 2, 4, 5) and second.supporting == (2,)
    assert third.story_ids == (1, 2, 4, 5, 7) and third.supporting == (4,)
    # A new story starts at id 1.
    assert fourth.story == (("sandra", "travelled", "to", "the", "office"),)
    assert fourth.supporting == (0,)

    # A list answer stays one lowercased token; supporting in file order.
    (path_ex,) = babi.load_babi(root, 19, "train")
    assert path_ex.task == 19 and path_ex.answer == "s,w"
    assert path_ex.supporting_ids == (2, 1) and path_ex.supporting == (1, 0)

    vocab = babi.build_vocabulary(root, tasks=[1])  # training file only
    # "kitchen" is only in the test file: not in the vocabulary, read as
    # <unk> (id 1); task 19's words are not read at all.
    assert "bathroom" in vocab and "kitchen" not in vocab and "s,w" not in vocab
    assert vocab.unknown and vocab.words[0] == babi.UNKNOWN_WORD
    assert vocab.words[1:] == tuple(sorted(vocab.words[1:]))
    assert vocab.index("kitchen") == 1 and vocab.index("bathroom") > 1
    with_test = babi.build_vocabulary(root, tasks=[1], splits=("train", "test"))
    assert "kitchen" in with_test and len(with_test) == len(vocab) + 1
    # A vocabulary without <unk> still refuses an unknown word.
    with pytest.raises(ValueError, match="unknown=True"):
        Vocabulary(["mary"]).index("kitchen")

    # Memory cap 2: the 2 most recent statements, left-aligned; a supporting
    # statement that was cut off is -1.
    arrays = babi.vectorize(examples, vocab, memory_size=2)
    assert arrays["story"].shape == (4, 2, 6)
    np.testing.assert_array_equal(arrays["story_length"], [2, 2, 2, 1])
    np.testing.assert_array_equal(arrays["supporting"][:, 0], [0, 0, 1, 0])
    assert vocab.decode(arrays["story"][1, 0]) == list(second.story[2])
    assert not arrays["story"][3, 1].any()  # Padding slot.
    arrays = babi.vectorize(examples, vocab, memory_size=1)
    np.testing.assert_array_equal(arrays["supporting"][:, 0], [-1, -1, 0, 0])

    # The test set with the training set's vocabulary and widths: its unseen
    # word and answer become <unk>, and coverage counts them.
    (test_ex,) = babi.load_babi(root, 1, "test")
    width, query_width = babi.max_lengths(examples, memory_size=2)
    test = babi.vectorize([test_ex], vocab, 2, width, query_width,
                          truncate=True)
    assert vocab.decode(test["story"][0, 0]) == [
        "john", "went", "to", "the", "<unk>"]
    assert test["answer"][0] == 1
    assert babi.coverage([test_ex], vocab, 2, width, query_width) == dict(
        questions=1, unknown_words=1, unknown_answers=1, cut_sentences=0,
        cut_queries=0, cut_stories=0)
    # Narrower widths cut a test sentence (first words kept) and are counted;
    # without truncate=True they are refused.
    cut = babi.vectorize([test_ex], vocab, 2, 3, 2, truncate=True)
    assert vocab.decode(cut["story"][0, 0]) == ["john", "went", "to"]
    assert vocab.decode(cut["query"][0]) == ["where", "is"]
    counts = babi.coverage([test_ex], vocab, 2, 3, 2)
    assert (counts["cut_sentences"], counts["cut_queries"]) == (1, 1)
    with pytest.raises(ValueError, match="sentence_length.*too small"):
        babi.vectorize([test_ex], vocab, 2, 3, 2)
    # The unknown flag survives get_config/from_config.
    assert Vocabulary.from_config(vocab.get_config()) == vocab


@pytest.mark.parametrize(
    "text, message",
    [
        ("1 A b.\n2 Where? \tx\t3\n", "not all statements before"),
        ("1 A b.\n2 Where? \tx\t2\n", "not all statements before"),
        ("1 A b.\n3 C d.\n2 Where? \tx\t1\n", "line id 2 after 3"),
        ("A b.\n", "expected 'ID text'"),
        ("1 A b.\n2 Where? \t\t1\n", "without an answer"),
    ],
)
def test_malformed_file(tmp_path, text, message):
    path = tmp_path / "qa1_x_train.txt"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as info:
        babi.read_task_file(path)
    assert "qa1_x_train.txt:" in str(info.value)  # File and line number.


def test_file_errors(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match="nowhere.*task 3.*'test'"):
        babi.find_task_file(missing, 3, "test")
    _write_tiny(tmp_path / "data")
    with pytest.raises(FileNotFoundError, match=r"task 2, split 'train'.*en"):
        babi.find_task_file(tmp_path / "data", 2, "train")
    for task in (0, 21, "1", 1.0, True):
        with pytest.raises(ValueError, match="1..20"):
            babi.find_task_file(tmp_path / "data", task, "train")
    with pytest.raises(ValueError, match="'valid'"):
        babi.find_task_file(tmp_path / "data", 1, "valid")
    with pytest.raises(ValueError, match="duplicates"):
        babi.load_babi(tmp_path / "data", [1, 1])
    with pytest.raises(ValueError, match="infer the bAbI task"):
        babi.read_task_file(tmp_path / "stories.txt")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        babi.read_task_file(tmp_path / "qa1_x_train.txt")


def test_default_data_dir(monkeypatch, tmp_path):
    monkeypatch.delenv(babi.ENV_VAR, raising=False)
    assert babi.default_data_dir() is None
    with pytest.raises(ValueError, match=babi.ENV_VAR):
        babi.load_babi(None, 1)
    _write_tiny(tmp_path)
    monkeypatch.setenv(babi.ENV_VAR, str(tmp_path))
    assert babi.default_data_dir() == str(tmp_path)
    assert len(babi.load_babi(None, 1, "test")) == 1


def test_vocabulary():
    vocab = Vocabulary(["where", "is", "mary", "is"])
    assert vocab.words == ("is", "mary", "where") and len(vocab) == 4
    assert vocab.size == 4
    np.testing.assert_array_equal(vocab.encode(["where", "is"], 4), [3, 1, 0, 0])
    assert vocab.decode([3, 1, 0, 0]) == ["where", "is"]
    assert vocab.decode([3, 0], strip=False) == ["where", "<pad>"]
    config = json.loads(json.dumps(vocab.get_config()))
    assert Vocabulary.from_config(config) == vocab
    with pytest.raises(ValueError, match="'john' is not in the bAbI"):
        vocab.index("john")
    with pytest.raises(ValueError, match="do not fit"):
        vocab.encode(["is", "is"], 1)
    with pytest.raises(ValueError, match="outside"):
        vocab.decode([4])
    with pytest.raises(ValueError, match="invalid word"):
        Vocabulary(["<pad>"])


# --------------------------------------------------------------------------
# The shared bAbI v1.2 data.
# --------------------------------------------------------------------------


def _reference_parse(path):
    """Independent parse: per question (question id, statement ids so far,
    supporting ids, raw answer)."""
    out, statements = [], []
    for line in path.read_text().splitlines():
        line_id, text = line.split(" ", 1)
        if line_id == "1":
            statements = []
        if "\t" in text:
            _, answer, support = text.split("\t")
            out.append((int(line_id), list(statements),
                        [int(s) for s in support.split()], answer))
        else:
            statements.append(int(line_id))
    return out


@pytest.fixture(scope="module")
def vocabulary(babi_dir):
    return babi.build_vocabulary(babi_dir)


@pytest.mark.parametrize("task", range(1, 21))
def test_every_file_parses(babi_dir, vocabulary, task):
    for split in babi.SPLITS:
        path = babi.find_task_file(babi_dir, task, split)
        assert path.name == f"qa{task}_{babi.TASK_NAMES[task]}_{split}.txt"
        examples = babi.read_task_file(path)
        reference = _reference_parse(path)
        assert len(examples) == len(reference) == 1000
        for ex, (question_id, statement_ids, support, answer) in zip(
            examples, reference
        ):
            assert ex.task == task
            assert list(ex.story_ids) == statement_ids
            assert list(ex.supporting_ids) == support and support
            assert all(s < question_id for s in support)
            assert [ex.story_ids[k] for k in ex.supporting] == support
            assert ex.answer == answer.lower()
            # The vocabulary holds the training files' words only: the one
            # test answer no training story has is test_training_covers_test's.
            if (split, task, ex.answer) != ("test", 8, "football,apple,milk"):
                assert ex.answer in vocabulary
            assert all(w in vocabulary for s in ex.story for w in s)
            assert all(w in vocabulary for w in ex.question)


def test_first_qa1_example_by_hand(babi_dir):
    ex = babi.load_babi(babi_dir, 1, "train")[0]
    assert ex.story == (("mary", "moved", "to", "the", "bathroom"),
                        ("john", "went", "to", "the", "hallway"))
    assert ex.question == ("where", "is", "mary")
    assert ex.answer == "bathroom"
    assert ex.supporting == (0,) and ex.supporting_ids == (1,)


def test_vocabulary_of_all_tasks(babi_dir, vocabulary):
    # 173 words + <unk> + padding over the training files of the 20 tasks of
    # v1.2 (en), counted by build_vocabulary; list answers ("s,e") are words.
    # With the test files: 174 words (the test-only "football,apple,milk").
    assert len(vocabulary) == 175 and vocabulary.unknown
    assert len(babi.build_vocabulary(babi_dir, splits=("train", "test"),
                                     unknown=False)) == 175
    assert {"s,e", "apple,football", "nothing", "yes"} <= set(vocabulary.words)
    # Task 19's answers are the 12 two-step paths without a U-turn.
    paths = {ex.answer for ex in babi.load_babi(babi_dir, 19, "train")}
    assert len(paths) == 12 and "n,s" not in paths
    assert babi.build_vocabulary(babi_dir, [1]) != vocabulary


def test_training_covers_test(babi_dir):
    """What the training files' vocabulary and widths lose on each task's
    test set (the per-task models of examples/babi_memn2n.py): nothing but
    one answer of task 8 and, as in training, the oldest statements of
    stories longer than the 50-slot memory."""
    cut_by_cap = {2: 6, 3: 387, 5: 41, 8: 3}
    for task in range(1, 21):
        vocab = babi.build_vocabulary(babi_dir, [task])
        train = babi.load_babi(babi_dir, task, "train")
        slots = min(50, max(len(ex.story) for ex in train))
        widths = babi.max_lengths(train, memory_size=slots)
        counts = babi.coverage(babi.load_babi(babi_dir, task, "test"), vocab,
                               slots, *widths)
        assert counts == dict(
            questions=1000, unknown_words=0,
            unknown_answers=int(task == 8), cut_sentences=0, cut_queries=0,
            cut_stories=cut_by_cap.get(task, 0)), task


def test_load_babi_order(babi_dir):
    examples = babi.load_babi(babi_dir, [3, 1], "test")
    assert len(examples) == 2000
    assert [ex.task for ex in examples[::1000]] == [1, 3]


def test_vectorize_decodes_back(babi_dir, vocabulary):
    examples = babi.load_babi(babi_dir, [1, 19], "train")
    arrays = babi.vectorize(examples, vocabulary, memory_size=50)
    n = 2000
    assert {k: v.shape for k, v in arrays.items()} == {
        "story": (n, 50, 7), "query": (n, 10), "answer": (n,),
        "supporting": (n, 2), "task": (n,), "story_length": (n,)}
    assert all(v.dtype == np.int32 for v in arrays.values())
    for i in range(0, n, 97):
        ex = examples[i]
        length = arrays["story_length"][i]
        assert length == len(ex.story)
        decoded = [tuple(vocabulary.decode(s)) for s in arrays["story"][i]]
        assert decoded[:length] == list(ex.story)
        assert vocabulary.decode(arrays["query"][i]) == list(ex.question)
        assert vocabulary.decode([arrays["answer"][i]]) == [ex.answer]
        assert arrays["task"][i] == ex.task
        slots = arrays["supporting"][i]
        assert list(slots[slots >= 0]) == list(ex.supporting)


def test_vectorize_left_aligned_and_padded(babi_dir, vocabulary):
    examples = babi.load_babi(babi_dir, 1, "train")
    arrays = babi.vectorize(examples, vocabulary, memory_size=12,
                            sentence_length=9, query_length=5)
    story, length = arrays["story"], arrays["story_length"]
    assert story.shape == (1000, 12, 9) and arrays["query"].shape == (1000, 5)
    slot = np.arange(12)[None, :]
    used = story.any(axis=-1)
    # Slots 0..length-1 hold a statement, the others are all padding.
    np.testing.assert_array_equal(used, slot < length[:, None])
    # Each sentence is its words then zeros (no zero inside a sentence).
    words = (story != 0).sum(axis=-1)
    np.testing.assert_array_equal(story[..., :1] != 0, used[..., None])
    for k in range(9):
        np.testing.assert_array_equal(story[..., k] != 0, words > k)
    assert (arrays["query"][:, 3:] == 0).all()


def test_memory_cap_keeps_the_most_recent(babi_dir, vocabulary):
    examples = babi.load_babi(babi_dir, 3, "train")
    long = [ex for ex in examples if len(ex.story) > 50]
    assert len(long) > 300 and max(len(ex.story) for ex in long) > 200
    for memory_size in (50, 20):
        arrays = babi.vectorize(long, vocabulary, memory_size=memory_size)
        assert (arrays["story_length"] == memory_size).all()
        for i in range(0, len(long), 37):
            ex = long[i]
            offset = len(ex.story) - memory_size
            kept = [tuple(vocabulary.decode(s)) for s in arrays["story"][i]]
            assert kept == list(ex.story[offset:])
            expected = [k - offset if k >= offset else -1
                        for k in ex.supporting]
            assert list(arrays["supporting"][i]) == expected
        cut = (arrays["supporting"] == -1).mean()
        # With 50 slots no supporting fact of task 3 is cut; with 20, some.
        assert (cut == 0) if memory_size == 50 else (0 < cut < 0.5)


def test_lengths(babi_dir, vocabulary):
    train = babi.load_babi(babi_dir, [1, 2], "train")
    test = babi.load_babi(babi_dir, [1, 2], "test")
    sentence_length, query_length = babi.max_lengths(train, test)
    assert (sentence_length, query_length) == (6, 4)
    with pytest.raises(ValueError, match="sentence_length.*too small"):
        babi.vectorize(train, vocabulary, sentence_length=5)
    with pytest.raises(ValueError, match="query_length.*too small"):
        babi.vectorize(train, vocabulary, query_length=3)
    with pytest.raises(ValueError, match="memory_size"):
        babi.vectorize(train, vocabulary, memory_size=0)
    with pytest.raises(ValueError, match="no examples"):
        babi.vectorize([], vocabulary)
    a, vocab = babi.load_arrays(babi_dir, [1, 2], "train", vocabulary,
                                sentence_length=8, query_length=query_length)
    b, _ = babi.load_arrays(babi_dir, [1, 2], "test", vocab,
                            sentence_length=8, query_length=query_length)
    assert vocab is vocabulary
    for key in a:
        assert a[key].shape[1:] == b[key].shape[1:]
    assert a["story"].shape == (2000, 50, 8)


def test_split_validation(babi_dir, vocabulary):
    arrays, _ = babi.load_arrays(babi_dir, [1, 2, 3], "train", vocabulary)
    arrays["row"] = np.arange(3000)
    train, valid = babi.split_validation(arrays, fraction=0.1, seed=0)
    assert set(train) == set(valid) == set(arrays)
    assert len(train["row"]) == 2700 and len(valid["row"]) == 300
    assert not set(train["row"]) & set(valid["row"])
    np.testing.assert_array_equal(np.bincount(valid["task"]), [0, 100, 100, 100])
    for key in arrays:  # Rows stay whole and in order.
        np.testing.assert_array_equal(valid[key], arrays[key][valid["row"]])
    assert (np.diff(train["row"]) > 0).all()
    again, _ = babi.split_validation(arrays, fraction=0.1, seed=0)
    np.testing.assert_array_equal(again["row"], train["row"])
    other, _ = babi.split_validation(arrays, fraction=0.1, seed=1)
    assert not np.array_equal(other["row"], train["row"])
    with pytest.raises(ValueError, match="fraction"):
        babi.split_validation(arrays, fraction=1.0)
    with pytest.raises(ValueError, match="different lengths"):
        babi.split_validation({"a": np.zeros(3), "b": np.zeros(4)})


def test_make_dataset(babi_dir, vocabulary):
    arrays, _ = babi.load_arrays(babi_dir, 1, "test", vocabulary,
                                 memory_size=10)
    ds = babi.make_dataset(arrays, batch_size=300)
    batches = list(ds)
    assert [len(answer) for _, answer in batches] == [300, 300, 300, 100]
    (story, query), answer = batches[0]
    assert story.shape == (300, 10, 6) and story.dtype.name == "int32"
    np.testing.assert_array_equal(query, arrays["query"][:300])
    np.testing.assert_array_equal(answer, arrays["answer"][:300])
    shuffled = babi.make_dataset(arrays, batch_size=1000, shuffle=True, seed=0)
    (_, _), answer = next(iter(shuffled))
    assert not np.array_equal(answer, arrays["answer"])
    np.testing.assert_array_equal(np.sort(answer), np.sort(arrays["answer"]))
    with pytest.raises(ValueError, match="lack"):
        babi.make_dataset({"story": arrays["story"]})


# --------------------------------------------------------------------------
# The TFDS builder, built offline from a manual folder.
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tfds():
    tfds = pytest.importorskip("tensorflow_datasets")
    import keras_seqmem.tasks.babi_tfds  # noqa: F401  (registers "babi")

    tfds.disable_progress_bar()
    return tfds


def _as_examples(dataset):
    for record in dataset.as_numpy_iterator():
        yield {
            "story": tuple(tuple(s.decode().split()) for s in record["story"]),
            "question": tuple(record["question"].decode().split()),
            "answer": record["answer"].decode(),
            "supporting": tuple(record["supporting"].tolist()),
            "task": int(record["task"]),
        }


def _reader_view(ex):
    return {"story": ex.story, "question": ex.question, "answer": ex.answer,
            "supporting": ex.supporting, "task": ex.task}


def test_tfds_synthetic_manual_dir(tfds, tmp_path):
    manual = tmp_path / "manual"
    _write_tiny(manual / "tasks_1-20_v1-2")  # The nested layout.
    config = tfds.download.DownloadConfig(manual_dir=str(manual))
    builder = tfds.builder("babi/qa1", data_dir=str(tmp_path / "tfds"))
    assert builder.info.version == "1.2.0"
    builder.download_and_prepare(download_config=config)
    assert builder.info.splits["train"].num_examples == 4
    train = list(_as_examples(builder.as_dataset(split="train")))
    expected = babi.read_task_file(
        manual / "tasks_1-20_v1-2" / "en" / "qa1_single-supporting-fact_train.txt")
    assert train == [_reader_view(ex) for ex in expected]
    with pytest.raises(AssertionError, match="tasks_1-20_v1-2"):
        tfds.builder("babi/qa1", data_dir=str(tmp_path / "empty")
                     ).download_and_prepare(
            download_config=tfds.download.DownloadConfig(
                manual_dir=str(tmp_path / "no_manual_dir")))


def test_tfds_qa1(tfds, babi_dir, tmp_path):
    config = tfds.download.DownloadConfig(manual_dir=str(babi_dir))
    builder = tfds.builder("babi/qa1", data_dir=str(tmp_path))
    builder.download_and_prepare(download_config=config)
    assert builder.info.splits["train"].num_examples == 1000
    assert builder.info.splits["test"].num_examples == 1000
    train, test = tfds.load("babi/qa1", split=["train", "test"],
                            data_dir=str(tmp_path))
    for split, dataset in (("train", train), ("test", test)):
        expected = babi.load_babi(babi_dir, 1, split)
        got = list(_as_examples(dataset))
        assert got[0] == _reader_view(expected[0])
        assert got == [_reader_view(ex) for ex in expected]
    first = next(iter(_as_examples(train)))
    assert first["story"][0] == ("mary", "moved", "to", "the", "bathroom")


def test_tfds_all_tasks(tfds, babi_dir, tmp_path):
    config = tfds.download.DownloadConfig(manual_dir=str(babi_dir / "en"))
    test = tfds.load("babi/all", split="test", data_dir=str(tmp_path),
                     download_and_prepare_kwargs={"download_config": config})
    got = list(_as_examples(test))
    expected = babi.load_babi(babi_dir, range(1, 21), "test")
    assert len(got) == 20000
    np.testing.assert_array_equal(
        np.bincount([g["task"] for g in got]), [0] + [1000] * 20)
    for k in range(0, 20000, 499):
        assert got[k] == _reader_view(expected[k])


def test_parse_tasks():
    assert babi.parse_tasks("1") == [1]
    assert babi.parse_tasks("1-20") == list(range(1, 21))
    assert babi.parse_tasks("2,3") == [2, 3]
    assert babi.parse_tasks("20,1-3") == [20, 1, 2, 3]


def test_training_sizes_come_from_training_data(tmp_path):
    """train_memory_network_on_babi: a test story longer than any training
    story, a longer test sentence and a test-only word change nothing about
    the model (its vocabulary, memory slots and widths); the test arrays are
    cut to the training ones and the cuts are reported."""
    from keras_seqmem import training

    root = _write_tiny(tmp_path / "babi")
    longer_test = "".join(
        f"{i} Mary journeyed far away to the distant green kitchen.\n"
        for i in range(1, 13)) + "13 Where is Mary? \tkitchen\t12\n"
    (root / "en" / "qa1_single-supporting-fact_test.txt").write_text(
        longer_test)
    best, restarts, model = training.train_memory_network_on_babi(
        root, [1], seeds=[0], embedding_dim=4, hops=1, epochs=1,
        linear_start=False, jit_compile=False, validation_fraction=0.25)
    train = babi.load_babi(root, 1, "train")
    # Training stories: at most 5 statements of at most 6 words.
    assert best.memory_size == max(len(ex.story) for ex in train) == 5
    assert best.vocabulary_size == len(babi.build_vocabulary(root, [1]))
    (layer,) = [x for x in model.layers if hasattr(x, "hops")]
    assert layer.memory_size == 5
    assert layer.vocab_size == len(babi.build_vocabulary(root, [1]))
    # 6 unknown words in each of the 5 kept statements of 9 words
    # ("journeyed", "far", "away", "distant", "green", "kitchen"), the unknown
    # answer, each kept sentence cut, the 12-statement story cut.
    assert best.test_coverage == dict(
        questions=1, unknown_words=5 * 6, unknown_answers=1, cut_sentences=5,
        cut_queries=0, cut_stories=1)
    assert best.test_error == 1.0
