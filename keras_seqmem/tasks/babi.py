"""bAbI question answering (Weston et al. 2015): reader and tf.data pipelines.

Reads the 20 QA tasks of the standard ``tasks_1-20_v1-2`` folder (bAbI
v1.2) from a folder the user gives; nothing is ever downloaded. The folder
is either ``tasks_1-20_v1-2`` itself (holding ``en/``, ``en-10k/``, ...) or
one language folder such as ``en/``; task ``N`` of split ``S`` is the one
file matching ``qa{N}_*_{S}.txt`` (for example
``en/qa1_single-supporting-fact_train.txt``).

File format, one line per sentence::

    1 Mary moved to the bathroom.
    2 John went to the hallway.
    3 Where is Mary? <TAB>bathroom<TAB>1
    4 Daniel went back to the hallway.
    ...
    1 Sandra travelled to the office.

* A line is ``ID text``; ``ID`` starts again at 1 with each new story.
* A question line is ``ID question?<TAB>answer<TAB>supporting ids``; the
  supporting ids (space separated) are the ``ID`` s of the statements that
  answer it.
* An answer is kept as one token, lowercased, even when it is a list: the
  ``"s,e"`` of task 19 (path finding) or ``"apple,football"`` of task 8
  (lists/sets) are single answer words, as in every published MemN2N
  result.
* The story of a question is every statement line of its story before the
  question, question lines excluded (the MemN2N convention of Sukhbaatar et
  al. 2015). Several questions share one story as it grows.

Pipeline::

    examples = load_babi(data_dir, tasks=[1], split="train")   # BabiExample
    vocabulary = build_vocabulary(data_dir, tasks=[1])  # training files only
    arrays = vectorize(examples, vocabulary, memory_size=50)
    train, valid = split_validation(arrays, fraction=0.1, seed=0)
    test = vectorize(load_babi(data_dir, [1], "test"), vocabulary, 50,
                     *max_lengths(examples, memory_size=50), truncate=True)
    ds = make_dataset(train, batch_size=32, shuffle=True, seed=0)

:func:`vectorize` gives int32 numpy arrays (id 0 is padding everywhere):

* ``story`` ``(n, memory_size, sentence_length)``: the most recent
  ``memory_size`` statements in chronological order, left-aligned: slot 0
  holds the oldest kept statement, slot ``story_length - 1`` the newest,
  the slots after it are all padding; each sentence is right-padded with 0.
* ``query`` ``(n, query_length)``, right-padded with 0.
* ``answer`` ``(n,)``: the id of the answer word.
* ``supporting`` ``(n, supporting_length)``: the memory slots of the
  supporting statements, in the file's order; -1 for padding and for a
  statement cut off by the memory cap.
* ``task`` ``(n,)``: the task number, 1..20.
* ``story_length`` ``(n,)``: the number of statements kept,
  ``min(len(story), memory_size)``.

The v1.2 data has no validation files: :func:`split_validation` holds out a
random (per task stratified) fraction of a training set, 10% in the MemN2N
paper.

Nothing is taken from the test files but the test questions themselves: the
vocabulary (:func:`build_vocabulary`) holds the words of the *training*
files of the tasks trained on, and a word first seen in a test story,
question or answer maps to the unknown word ``<unk>`` (id 1), which no
training example contains (so a test answer never seen in training is always
counted wrong); the widths (:func:`max_lengths`) and the number of memory
slots come from the training stories, and a longer test sentence or question
is cut to that width (:func:`vectorize` with ``truncate=True``; its first
words are kept). :func:`coverage` counts what that cost on a test set. On
the 1k English data every test word and every test sentence and question
width is covered by the training files of its task; one test answer is not:
``football,apple,milk`` of task 8 (lists/sets), which no training story
answers, so that question counts as an error whatever the model does
(``tests/test_babi.py`` checks these counts on the shared copy).

Reference: J. Weston, A. Bordes, S. Chopra, A. M. Rush, B. van Merriënboer,
A. Joulin, T. Mikolov, "Towards AI-Complete Question Answering: A Set of
Prerequisite Toy Tasks", arXiv:1502.05698 (2015). Data licence CC BY 3.0.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import pathlib
import re
from typing import Iterable, Mapping, Sequence

import numpy as np

from .base import check_float, check_int

__all__ = [
    "TASK_NAMES",
    "SPLITS",
    "ENV_VAR",
    "BabiExample",
    "Vocabulary",
    "tokenize",
    "default_data_dir",
    "find_task_file",
    "read_task_file",
    "load_babi",
    "build_vocabulary",
    "max_lengths",
    "coverage",
    "vectorize",
    "split_validation",
    "make_dataset",
    "load_arrays",
]

NAME = "babi"

TASK_NAMES: dict[int, str] = {
    1: "single-supporting-fact",
    2: "two-supporting-facts",
    3: "three-supporting-facts",
    4: "two-arg-relations",
    5: "three-arg-relations",
    6: "yes-no-questions",
    7: "counting",
    8: "lists-sets",
    9: "simple-negation",
    10: "indefinite-knowledge",
    11: "basic-coreference",
    12: "conjunction",
    13: "compound-coreference",
    14: "time-reasoning",
    15: "basic-deduction",
    16: "basic-induction",
    17: "positional-reasoning",
    18: "size-reasoning",
    19: "path-finding",
    20: "agents-motivations",
}
"""Task number -> name, as in the file names (``qa1_single-supporting-fact``)."""

SPLITS = ("train", "test")
"""The splits of bAbI v1.2 (no validation files: see :func:`split_validation`)."""

ENV_VAR = "KERAS_SEQMEM_BABI_DIR"
"""Environment variable naming the default data folder (:func:`default_data_dir`)."""

PAD_WORD = "<pad>"
"""The word of id 0 (padding) when :meth:`Vocabulary.decode` shows it."""

UNKNOWN_WORD = "<unk>"
"""The word of id 1 in a vocabulary with ``unknown=True``: every word that is
not in the vocabulary (a word first seen in the test files)."""

_WORD = re.compile(r"[^\W_]+")


def tokenize(text: str) -> list[str]:
    """Splits a bAbI sentence into lowercase words.

    The text is lowercased and cut at every character that is not a letter
    or a digit; the pieces are the words. Punctuation (bAbI has only ``.``
    and ``?`` in sentences) is thus dropped, never kept as a token.

    Args:
        text: A statement or a question.

    Returns:
        The words, e.g. ``tokenize("Where is Mary? ")`` is
        ``["where", "is", "mary"]``.
    """
    return _WORD.findall(text.lower())


@dataclasses.dataclass(frozen=True)
class BabiExample:
    """One bAbI question with its story.

    Attributes:
        task: Task number, 1..20.
        story: The statements before the question, oldest first, each a
            tuple of words (:func:`tokenize`).
        story_ids: The line ``ID`` of each statement in the file.
        question: The question's words.
        answer: The answer, lowercased, as one token (``"s,e"`` stays one
            word).
        supporting_ids: The line ``ID`` s of the supporting statements, in
            the file's order.
        supporting: The same statements as indices into ``story`` (derived
            from ``story_ids``; not an argument).

    Raises:
        ValueError: If ``story`` and ``story_ids`` differ in length or a
            supporting id is not one of ``story_ids``.
    """

    task: int
    story: tuple[tuple[str, ...], ...]
    story_ids: tuple[int, ...]
    question: tuple[str, ...]
    answer: str
    supporting_ids: tuple[int, ...]
    supporting: tuple[int, ...] = dataclasses.field(init=False)

    def __post_init__(self):
        if len(self.story) != len(self.story_ids):
            raise ValueError(
                f"BabiExample: {len(self.story)} statements but "
                f"{len(self.story_ids)} story_ids"
            )
        position = {line_id: k for k, line_id in enumerate(self.story_ids)}
        missing = [i for i in self.supporting_ids if i not in position]
        if missing:
            raise ValueError(
                f"BabiExample: supporting id(s) {missing} are not statements "
                f"of the story (story ids {list(self.story_ids)})"
            )
        object.__setattr__(
            self, "supporting",
            tuple(position[i] for i in self.supporting_ids),
        )


# --------------------------------------------------------------------------
# Files.
# --------------------------------------------------------------------------


def default_data_dir() -> str | None:
    """The data folder named by ``$KERAS_SEQMEM_BABI_DIR``, if set.

    Returns:
        The variable's value, or ``None`` when it is unset or empty. Nothing
        is downloaded: without a folder the loaders raise.
    """
    return os.environ.get(ENV_VAR) or None


def _resolve_data_dir(data_dir) -> pathlib.Path:
    if data_dir is None:
        data_dir = default_data_dir()
        if data_dir is None:
            raise ValueError(
                f"No bAbI data folder given and ${ENV_VAR} is not set; pass "
                "the path of a tasks_1-20_v1-2 folder (or of its en/)"
            )
    return pathlib.Path(data_dir).expanduser()


def _check_task(task) -> int:
    if (
        isinstance(task, (bool, np.bool_))
        or not isinstance(task, (int, np.integer))
        or not 1 <= task <= 20
    ):
        raise ValueError(f"bAbI task must be an integer in 1..20, got {task!r}")
    return int(task)


def _check_tasks(tasks) -> tuple[int, ...]:
    """An int or an iterable of ints -> sorted tuple of distinct tasks."""
    if isinstance(tasks, (int, np.integer)) and not isinstance(tasks, bool):
        tasks = [tasks]
    tasks = [_check_task(t) for t in tasks]
    if not tasks:
        raise ValueError("bAbI: `tasks` is empty")
    if len(set(tasks)) != len(tasks):
        raise ValueError(f"bAbI: `tasks` has duplicates: {tasks}")
    return tuple(sorted(tasks))


def parse_tasks(text: str) -> list[int]:
    """A task list as written on a command line -> task numbers in order:
    ``"1"``, ``"1-20"``, ``"2,3"``, ``"1-3,7"``."""
    tasks = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        tasks.extend(range(int(lo), int(hi or lo) + 1))
    return tasks


def _check_split(split) -> str:
    if split not in SPLITS:
        raise ValueError(f"bAbI split must be one of {SPLITS}, got {split!r}")
    return split


def find_task_file(
    data_dir, task: int, split: str, language: str = "en"
) -> pathlib.Path:
    """Finds the file of one task and split.

    Args:
        data_dir: A ``tasks_1-20_v1-2`` folder (holding ``language/``) or the
            language folder itself (``en/``). ``None``: :func:`default_data_dir`.
        task: Task number, 1..20.
        split: ``"train"`` or ``"test"``.
        language: Subfolder used when ``data_dir`` holds one: ``"en"`` (1k
            questions per task), ``"en-10k"``, ...

    Returns:
        The path of the one file matching ``qa{task}_*_{split}.txt``.

    Raises:
        ValueError: If ``task`` or ``split`` is invalid, no folder is given,
            or several files match.
        FileNotFoundError: If the folder or the file does not exist; the
            message names the folder, the task and the split.
    """
    task = _check_task(task)
    split = _check_split(split)
    root = _resolve_data_dir(data_dir)
    if not root.is_dir():
        raise FileNotFoundError(
            f"bAbI data folder {str(root)!r} does not exist (looking for "
            f"task {task}, split {split!r})"
        )
    folder = root / language if (root / language).is_dir() else root
    pattern = f"qa{task}_*_{split}.txt"
    matches = sorted(folder.glob(pattern))
    if not matches:
        raise FileNotFoundError(
            f"No bAbI file for task {task}, split {split!r} in "
            f"{str(folder)!r} (looked for {pattern}; expected a "
            f"tasks_1-20_v1-2 folder or its {language}/ folder)"
        )
    if len(matches) > 1:
        raise ValueError(
            f"Several bAbI files for task {task}, split {split!r} in "
            f"{str(folder)!r}: {[m.name for m in matches]}"
        )
    return matches[0]


_FILE_TASK = re.compile(r"^qa(\d+)_")


def read_task_file(path, task: int | None = None) -> list[BabiExample]:
    """Parses one bAbI file into its questions.

    Args:
        path: A ``qa{N}_{name}_{split}.txt`` file.
        task: Task number stored in the examples; ``None`` reads it from the
            file name (``qa{N}_...``).

    Returns:
        One :class:`BabiExample` per question, in file order.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If the task cannot be inferred or a line is malformed
            (the message gives the file and line number): a line without an
            ``ID``, ids not increasing within a story, a question line
            without an answer, a supporting id that is not a statement of
            the story before the question.
    """
    path = pathlib.Path(path)
    if task is None:
        match = _FILE_TASK.match(path.name)
        if match is None:
            raise ValueError(
                f"Cannot infer the bAbI task from the file name {path.name!r} "
                "(expected qa{N}_...); pass `task`"
            )
        task = int(match.group(1))
    task = _check_task(task)
    if not path.is_file():
        raise FileNotFoundError(f"bAbI file {str(path)!r} does not exist")
    stat = path.stat()
    # Cached by (path, size, mtime): the examples are immutable.
    return list(
        _read_cached(str(path.resolve()), stat.st_size, stat.st_mtime_ns, task)
    )


@functools.lru_cache(maxsize=64)
def _read_cached(path: str, size: int, mtime_ns: int, task: int):
    del size, mtime_ns  # Only part of the cache key.
    with open(path, encoding="utf-8") as f:
        return tuple(_parse_lines(f, path, task))


def _parse_lines(lines: Iterable[str], path: str, task: int):
    story, story_ids, line_ids = [], [], set()
    previous = 0
    for number, line in enumerate(lines, start=1):
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        where = f"{path}:{number}"
        head, _, text = line.partition(" ")
        if not head.isdigit():
            raise ValueError(f"{where}: expected 'ID text', got {line!r}")
        line_id = int(head)
        if line_id == 1:
            story, story_ids, line_ids = [], [], set()
        elif line_id <= previous:
            raise ValueError(
                f"{where}: line id {line_id} after {previous} (ids restart "
                "at 1 with a new story and increase within one)"
            )
        previous = line_id
        line_ids.add(line_id)
        if "\t" not in text:
            story.append(tuple(tokenize(text)))
            story_ids.append(line_id)
            continue
        fields = text.split("\t")
        if len(fields) < 2 or not fields[1].strip():
            raise ValueError(f"{where}: question line without an answer")
        supporting_ids = tuple(
            int(s) for s in (fields[2].split() if len(fields) > 2 else ())
        )
        if not set(supporting_ids) <= set(story_ids):
            raise ValueError(
                f"{where}: supporting ids {list(supporting_ids)} are not all "
                f"statements before the question (statement ids "
                f"{story_ids})"
            )
        yield BabiExample(
            task=task,
            story=tuple(story),
            story_ids=tuple(story_ids),
            question=tuple(tokenize(fields[0])),
            answer=fields[1].strip().lower(),
            supporting_ids=supporting_ids,
        )


def load_babi(
    data_dir,
    tasks: int | Iterable[int] = range(1, 21),
    split: str = "train",
    language: str = "en",
) -> list[BabiExample]:
    """Reads the questions of several tasks.

    Args:
        data_dir: See :func:`find_task_file` (``None``: the environment
            variable of :func:`default_data_dir`).
        tasks: A task number or several, each in 1..20.
        split: ``"train"`` or ``"test"``.
        language: See :func:`find_task_file`.

    Returns:
        The examples in increasing task order, each task's in file order.

    Raises:
        ValueError, FileNotFoundError: See :func:`find_task_file`.
    """
    examples = []
    for task in _check_tasks(tasks):
        path = find_task_file(data_dir, task, split, language=language)
        examples.extend(read_task_file(path, task))
    return examples


# --------------------------------------------------------------------------
# Vocabulary.
# --------------------------------------------------------------------------


class Vocabulary:
    """Word <-> id map of bAbI; id 0 is padding.

    Ids ``1..len(words)`` are the words in sorted order; with
    ``unknown=True`` id 1 is :data:`UNKNOWN_WORD` and the words follow from
    id 2, and :meth:`index` maps any word not in the vocabulary to 1 instead
    of raising. Build one with :meth:`from_examples` or
    :func:`build_vocabulary` (the words of the training files, with the
    unknown word).

    Args:
        words: The words (without padding); sorted and deduplicated here.
        unknown: Whether id 1 is the unknown word that every word outside
            ``words`` maps to.

    Raises:
        ValueError: If a word is empty, not a string, ``"<pad>"`` or
            ``"<unk>"``.

    Example:
        >>> v = Vocabulary(["mary", "is", "where"])
        >>> v.encode(["where", "is", "mary"]).tolist()
        [3, 1, 2]
        >>> v.decode([3, 1, 2, 0])
        ['where', 'is', 'mary']
        >>> Vocabulary(["mary", "is"], unknown=True).encode(["is", "john"]).tolist()
        [2, 1]
    """

    def __init__(self, words: Iterable[str], unknown: bool = False):
        words = sorted(set(words))
        for word in words:
            if (not isinstance(word, str) or not word
                    or word in (PAD_WORD, UNKNOWN_WORD)):
                raise ValueError(f"Vocabulary: invalid word {word!r}")
        if not isinstance(unknown, (bool, np.bool_)):
            raise ValueError(
                f"Vocabulary: `unknown` must be True or False, got {unknown!r}")
        self._unknown = bool(unknown)
        self._words = ((PAD_WORD,) + ((UNKNOWN_WORD,) if unknown else ())
                       + tuple(words))
        self._index = {w: i for i, w in enumerate(self._words)}
        del self._index[PAD_WORD]

    @classmethod
    def from_examples(cls, examples: Iterable[BabiExample],
                      unknown: bool = False) -> "Vocabulary":
        """Every word of the stories, questions and answers of ``examples``."""
        words = set()
        for ex in examples:
            for sentence in ex.story:
                words.update(sentence)
            words.update(ex.question)
            words.add(ex.answer)
        return cls(words, unknown=unknown)

    @property
    def words(self) -> tuple[str, ...]:
        """The words in id order, without padding (id ``k`` is
        ``words[k - 1]``; with ``unknown``, ``words[0]`` is ``"<unk>"``)."""
        return self._words[1:]

    @property
    def unknown(self) -> bool:
        """Whether words outside the vocabulary map to ``<unk>`` (id 1)."""
        return self._unknown

    @property
    def size(self) -> int:
        """Number of ids, padding included (the ``input_dim`` of an embedding)."""
        return len(self._words)

    def __len__(self) -> int:
        return len(self._words)

    def __contains__(self, word) -> bool:
        return word in self._index and word != UNKNOWN_WORD

    def __eq__(self, other) -> bool:
        return isinstance(other, Vocabulary) and self._words == other._words

    def __hash__(self) -> int:
        return hash(self._words)

    def __repr__(self) -> str:
        return f"Vocabulary(size={self.size}, unknown={self._unknown})"

    def index(self, word: str) -> int:
        """The id of ``word`` (1 for an unknown word if ``unknown``).

        Raises:
            ValueError: If the word is not in a vocabulary without ``unknown``.
        """
        try:
            return self._index[word]
        except (KeyError, TypeError):
            if self._unknown and isinstance(word, str):
                return 1
            raise ValueError(
                f"Word {word!r} is not in the bAbI vocabulary "
                f"({len(self._index)} words); build it with unknown=True "
                "(build_vocabulary does) to map unseen words to <unk>"
            ) from None

    def encode(self, tokens: Iterable[str], length: int | None = None,
               truncate: bool = False) -> np.ndarray:
        """Words -> int32 ids, right-padded with 0 to ``length`` if given.

        Args:
            tokens: Words.
            length: Width to pad to.
            truncate: Keep the first ``length`` words of a longer sentence
                instead of raising.

        Raises:
            ValueError: If a word is unknown (without ``unknown``) or the
                words do not fit (without ``truncate``).
        """
        ids = [self.index(t) for t in tokens]
        if length is not None:
            if len(ids) > length:
                if not truncate:
                    raise ValueError(
                        f"{len(ids)} words do not fit in length={length}")
                ids = ids[:length]
            ids += [0] * (length - len(ids))
        return np.asarray(ids, dtype=np.int32)

    def decode(self, ids, strip: bool = True) -> list[str]:
        """Ids -> words; the inverse of :meth:`encode`.

        Args:
            ids: 1-D ints.
            strip: Drop padding ids (0); if False, they read ``"<pad>"``.

        Raises:
            ValueError: If an id is outside ``[0, size)``.
        """
        out = []
        for i in np.asarray(ids).reshape(-1).tolist():
            if not 0 <= i < len(self._words):
                raise ValueError(
                    f"Id {i} is outside the vocabulary of size {self.size}"
                )
            if i == 0 and strip:
                continue
            out.append(self._words[i])
        return out

    def get_config(self) -> dict:
        """JSON-able config: ``{"words": [...], "unknown": bool}`` (sorted,
        no padding, no ``<unk>``)."""
        words = self.words[1:] if self._unknown else self.words
        return {"words": list(words), "unknown": self._unknown}

    @classmethod
    def from_config(cls, config: Mapping) -> "Vocabulary":
        """Inverse of :meth:`get_config`."""
        return cls(config["words"], unknown=bool(config.get("unknown", False)))


def build_vocabulary(
    data_dir,
    tasks: int | Iterable[int] = range(1, 21),
    language: str = "en",
    splits: Iterable[str] = ("train",),
    unknown: bool = True,
) -> Vocabulary:
    """The vocabulary of the training files of ``tasks``, with ``<unk>``.

    Only the files of ``tasks`` are read (a folder missing another task's
    files is fine). A word first seen in a test file maps to ``<unk>``
    (id 1), so nothing about the test set shapes the model. Pass the tasks
    the model trains on: one task for a per-task model, all 20 for the
    joint one.

    Args:
        data_dir: See :func:`find_task_file`.
        tasks: Task numbers.
        language: See :func:`find_task_file`.
        splits: The splits whose words are read; ``("train",)`` (the
            default) is the only choice that keeps test data out of the
            model; ``("train", "test")`` gives the old (pre-2026-12-02)
            vocabulary, for loading a model trained with it.
        unknown: Whether id 1 is the unknown word (see :class:`Vocabulary`).

    Returns:
        A :class:`Vocabulary`.

    Raises:
        FileNotFoundError: If a task's file is missing (names the file).
    """
    examples = []
    for split in splits:
        examples.extend(load_babi(data_dir, tasks, _check_split(split),
                                  language=language))
    return Vocabulary.from_examples(examples, unknown=unknown)


# --------------------------------------------------------------------------
# Arrays.
# --------------------------------------------------------------------------


def _kept(example: BabiExample, memory_size: int | None):
    """The statements kept in memory: the ``memory_size`` most recent."""
    if memory_size is None or len(example.story) <= memory_size:
        return example.story
    return example.story[len(example.story) - memory_size:]


def max_lengths(
    *example_lists: Sequence[BabiExample], memory_size: int | None = None
) -> tuple[int, int]:
    """Common ``(sentence_length, query_length)`` of several example lists.

    Pass the training examples' result to :func:`vectorize` (or
    :func:`load_arrays`) for train and test, with ``truncate=True`` for the
    test set, so that their arrays have the same shapes and the widths come
    from training data only.

    Args:
        *example_lists: Lists of :class:`BabiExample`.
        memory_size: Only count the statements that a memory of this size
            keeps (the most recent ones); ``None``: every statement.

    Returns:
        The longest statement and the longest question, in words (at
        least 1).
    """
    sentence_length, query_length = 1, 1
    for examples in example_lists:
        for ex in examples:
            for sentence in _kept(ex, memory_size):
                sentence_length = max(sentence_length, len(sentence))
            query_length = max(query_length, len(ex.question))
    return sentence_length, query_length


def vectorize(
    examples: Sequence[BabiExample],
    vocabulary: Vocabulary,
    memory_size: int = 50,
    sentence_length: int | None = None,
    query_length: int | None = None,
    supporting_length: int | None = None,
    truncate: bool = False,
) -> dict[str, np.ndarray]:
    """Examples -> int32 arrays for a memory network.

    The ``memory_size`` most recent statements of each story are kept, in
    chronological order and left-aligned: slot ``j`` of ``story[i]`` holds
    statement ``len(story) - story_length + j`` for ``j < story_length``,
    padding after it (see the module docstring for every array).

    Args:
        examples: The questions (e.g. from :func:`load_babi`).
        vocabulary: A :class:`Vocabulary` holding every word used.
        memory_size: Number of memory slots (50 in the MemN2N paper).
        sentence_length: Width of a statement; default: the longest kept
            statement.
        query_length: Width of a question; default: the longest question.
        supporting_length: Width of ``supporting``; default: the most
            supporting statements of one question.
        truncate: Cut a statement or question longer than its width to its
            first words, and drop supporting ids beyond ``supporting_length``,
            instead of raising: for a test set vectorized with the training
            set's widths (:func:`coverage` counts the cuts).

    Returns:
        A dict of int32 arrays: ``story`` ``(n, memory_size,
        sentence_length)``, ``query`` ``(n, query_length)``, ``answer``
        ``(n,)``, ``supporting`` ``(n, supporting_length)`` (memory slots,
        -1 for padding or a statement cut off by the cap), ``task`` ``(n,)``,
        ``story_length`` ``(n,)``.

    Raises:
        ValueError: If there are no examples, a length is too small for the
            data or invalid, or a word is not in ``vocabulary``.
    """
    if not isinstance(vocabulary, Vocabulary):
        raise ValueError(
            f"vectorize expects a babi.Vocabulary, got {type(vocabulary)}"
        )
    examples = list(examples)
    if not examples:
        raise ValueError("vectorize: no examples")
    memory_size = check_int(NAME, "memory_size", memory_size, minimum=1)
    longest_sentence, longest_query = max_lengths(examples, memory_size=memory_size)
    longest_supporting = max(1, max(len(ex.supporting) for ex in examples))
    sentence_length = _check_length(
        "sentence_length", sentence_length, longest_sentence, truncate
    )
    query_length = _check_length(
        "query_length", query_length, longest_query, truncate)
    supporting_length = _check_length(
        "supporting_length", supporting_length, longest_supporting, truncate
    )

    n = len(examples)
    # Each distinct sentence is encoded once into `table` (row 0: padding);
    # `slots` indexes it, so story = table[slots].
    rows = {(): 0}
    table = [np.zeros(sentence_length, np.int32)]
    slots = np.zeros((n, memory_size), np.int32)
    query = np.zeros((n, query_length), np.int32)
    answer = np.zeros(n, np.int32)
    supporting = np.full((n, supporting_length), -1, np.int32)
    task = np.zeros(n, np.int32)
    story_length = np.zeros(n, np.int32)
    for i, ex in enumerate(examples):
        kept = _kept(ex, memory_size)
        offset = len(ex.story) - len(kept)  # Statements cut off by the cap.
        for j, sentence in enumerate(kept):
            row = rows.get(sentence)
            if row is None:
                row = rows[sentence] = len(table)
                table.append(vocabulary.encode(sentence, sentence_length,
                                               truncate=truncate))
            slots[i, j] = row
        story_length[i] = len(kept)
        query[i] = vocabulary.encode(ex.question, query_length,
                                     truncate=truncate)
        answer[i] = vocabulary.index(ex.answer)
        for k, position in enumerate(ex.supporting[:supporting_length]):
            supporting[i, k] = position - offset if position >= offset else -1
        task[i] = ex.task
    return {
        "story": np.stack(table)[slots],
        "query": query,
        "answer": answer,
        "supporting": supporting,
        "task": task,
        "story_length": story_length,
    }


def coverage(
    examples: Sequence[BabiExample],
    vocabulary: Vocabulary,
    memory_size: int,
    sentence_length: int,
    query_length: int,
) -> dict[str, int]:
    """What vectorizing ``examples`` with a training set's vocabulary and
    widths loses: counts of words mapped to ``<unk>`` (``unknown_words``,
    over stories and questions), answers not in the vocabulary
    (``unknown_answers``, always counted wrong), statements and questions
    cut (``cut_sentences``, ``cut_queries``), and questions whose story is
    longer than ``memory_size`` (``cut_stories``: its oldest statements are
    dropped, as in training). Also ``questions``: the number of examples.
    """
    counts = dict(questions=0, unknown_words=0, unknown_answers=0,
                  cut_sentences=0, cut_queries=0, cut_stories=0)
    for ex in examples:
        counts["questions"] += 1
        kept = _kept(ex, memory_size)
        counts["cut_stories"] += len(kept) < len(ex.story)
        for sentence in kept:
            counts["unknown_words"] += sum(w not in vocabulary for w in sentence)
            counts["cut_sentences"] += len(sentence) > sentence_length
        counts["unknown_words"] += sum(w not in vocabulary for w in ex.question)
        counts["cut_queries"] += len(ex.question) > query_length
        counts["unknown_answers"] += ex.answer not in vocabulary
    return counts


def _check_length(name: str, value, needed: int, truncate: bool = False) -> int:
    if value is None:
        return needed
    value = check_int(NAME, name, value, minimum=1)
    if value < needed and not truncate:
        raise ValueError(
            f"Task {NAME!r}: parameter `{name}`={value} is too small; the "
            f"data needs {needed}"
        )
    return value


def _num_examples(arrays: Mapping[str, np.ndarray]) -> int:
    if not arrays:
        raise ValueError("bAbI: empty dict of arrays")
    sizes = {key: len(value) for key, value in arrays.items()}
    if len(set(sizes.values())) != 1:
        raise ValueError(f"bAbI: arrays of different lengths {sizes}")
    return next(iter(sizes.values()))


def split_validation(
    arrays: Mapping[str, np.ndarray], fraction: float = 0.1, seed: int | None = 0
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Holds out a random fraction of the examples for validation.

    Per task (the ``task`` array, when present), ``round(fraction * n_task)``
    examples chosen at random go to validation, the others to training, so
    every task is held out in the same proportion. Both parts keep the
    original order. The MemN2N paper holds out 10% of the 1k training set.

    Args:
        arrays: A dict of arrays with the same first dimension (e.g. from
            :func:`vectorize`).
        fraction: Validation fraction, in (0, 1).
        seed: Seed of ``numpy.random.default_rng``.

    Returns:
        ``(train_arrays, validation_arrays)``, dicts with the keys of
        ``arrays``.

    Raises:
        ValueError: If ``fraction`` is not in (0, 1) or the arrays differ in
            length.
    """
    fraction = check_float(
        NAME, "fraction", fraction, 0.0, 1.0, low_inclusive=False,
        high_inclusive=False,
    )
    n = _num_examples(arrays)
    groups = np.asarray(arrays["task"]) if "task" in arrays else np.zeros(n)
    rng = np.random.default_rng(seed)
    held_out = np.zeros(n, bool)
    for group in np.unique(groups):
        members = np.flatnonzero(groups == group)
        count = int(round(fraction * len(members)))
        held_out[rng.choice(members, size=count, replace=False)] = True
    train = {key: np.asarray(value)[~held_out] for key, value in arrays.items()}
    valid = {key: np.asarray(value)[held_out] for key, value in arrays.items()}
    return train, valid


def make_dataset(
    arrays: Mapping[str, np.ndarray],
    batch_size: int = 32,
    shuffle: bool = False,
    seed: int | None = None,
):
    """Wraps vectorized bAbI arrays in a ``tf.data.Dataset``.

    Args:
        arrays: A dict from :func:`vectorize` (``story``, ``query`` and
            ``answer`` are used).
        batch_size: Batch size; the last batch may be smaller.
        shuffle: Whether to shuffle (whole-dataset buffer, reshuffled every
            epoch).
        seed: Shuffling seed.

    Returns:
        A dataset of ``((story, query), answer)`` batches: int32 ``(batch,
        memory_size, sentence_length)``, ``(batch, query_length)`` and
        ``(batch,)``, ready for ``model.fit`` with a sparse categorical loss.

    Raises:
        ValueError: If a key is missing or ``batch_size`` is invalid.
    """
    batch_size = check_int(NAME, "batch_size", batch_size, minimum=1)
    missing = [k for k in ("story", "query", "answer") if k not in arrays]
    if missing:
        raise ValueError(f"bAbI make_dataset: arrays lack {missing}")
    n = _num_examples({k: arrays[k] for k in ("story", "query", "answer")})

    from keras_seqmem._extras import require

    require("keras_seqmem.tasks.babi.make_dataset (tf.data)", ["tensorflow"])
    import tensorflow as tf  # Lazy: reading and vectorizing need numpy only.

    ds = tf.data.Dataset.from_tensor_slices(
        ((arrays["story"], arrays["query"]), arrays["answer"])
    )
    if shuffle:
        ds = ds.shuffle(buffer_size=max(n, 1), seed=seed,
                        reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=False)
    return ds.prefetch(tf.data.AUTOTUNE)


def load_arrays(
    data_dir,
    tasks: int | Iterable[int] = range(1, 21),
    split: str = "train",
    vocabulary: Vocabulary | None = None,
    memory_size: int = 50,
    sentence_length: int | None = None,
    query_length: int | None = None,
    supporting_length: int | None = None,
    language: str = "en",
    truncate: bool = False,
) -> tuple[dict[str, np.ndarray], Vocabulary]:
    """Reads and vectorizes tasks in one call.

    To give train and test arrays the same shapes, pass both calls the
    lengths of :func:`max_lengths` over the training examples, and
    ``truncate=True`` to the test call.

    Args:
        data_dir: See :func:`find_task_file`.
        tasks: Task numbers.
        split: ``"train"`` or ``"test"``.
        vocabulary: The vocabulary; ``None``: :func:`build_vocabulary` over
            the training files of ``tasks``.
        memory_size, sentence_length, query_length, supporting_length,
            truncate: See :func:`vectorize`.
        language: See :func:`find_task_file`.

    Returns:
        ``(arrays, vocabulary)``: the dict of :func:`vectorize` and the
        vocabulary used.

    Example:
        >>> train_ex = load_babi(data_dir, [1, 2], "train")
        >>> test_ex = load_babi(data_dir, [1, 2], "test")
        >>> s, q = max_lengths(train_ex, memory_size=50)
        >>> train, vocab = load_arrays(data_dir, [1, 2], "train",
        ...                            sentence_length=s, query_length=q)
        >>> test, _ = load_arrays(data_dir, [1, 2], "test", vocab,
        ...                       sentence_length=s, query_length=q,
        ...                       truncate=True)
    """
    if vocabulary is None:
        vocabulary = build_vocabulary(data_dir, tasks, language=language)
    examples = load_babi(data_dir, tasks, split, language=language)
    arrays = vectorize(
        examples, vocabulary, memory_size=memory_size,
        sentence_length=sentence_length, query_length=query_length,
        supporting_length=supporting_length, truncate=truncate,
    )
    return arrays, vocabulary
