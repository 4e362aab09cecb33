"""Every figure in a results table of the docs is in a results file.

The rule (issue 16): each number in `README.md`, `docs/pages/*.md`,
`examples/README.md` and `benchmarks/README.md` comes from a results file in the repo (JSON, CSV, TSV
or text, with the command, versions, seeds and date that produced it)
written by the script that measured it. This test walks every Markdown table
of those files, in the text and inside fenced blocks (the examples paste
their printed tables), and sorts them:

* A table with no number in its body holds no figure and is not checked.
* A table listed in `NOT_RESULTS` (keyed by file and header row) is a
  reference table -- weights and shapes, flags and their defaults, API
  mappings, search spaces -- whose numbers are definitions, not
  measurements; each entry says why.
* Every other table with a number is a results table. `SOURCES` names its
  results files (globs under `examples/results/`, `benchmarks/results/` or
  `examples/data/`), and each number of each body cell must be found in one
  of them. A results table missing from `SOURCES` fails: a new table names
  its file. (Matching against all the files at once could not fail: they
  hold some 30,000 numbers, and nine in ten three-decimal numbers between 0
  and 1 round from one of them.)

A displayed number is found when a stored number rounds to it at the
displayed precision (`0.9982` matches a stored 0.99816); a number shown
with `%` may also be a stored fraction (0.0212 shows as `2.12%`), and the
tables listed in `SCALES` show stored fractions as percentages without the
sign (`2.12`) or stored seconds in milliseconds (0.0331 s as `33`). Every
scale allowed makes a changed digit likelier to match some other stored
number by chance, so each is allowed only where a table needs it.
Thousands separators (`127,742`),
`x min y s` durations and a leading `+`/`−` are read as numbers, version
strings (`3.15.1`) must occur as written. Numbers inside code spans are
code, not figures, and are skipped. Stored numbers are every JSON number
and every number written in a string or a text/CSV cell, except the
elements of JSON lists of more than `RAW_LIST` numbers (per-example or
per-call samples, which a table summarises and never quotes one by one).

Tables whose figures have no results file yet are in `PENDING` (keyed by
file, section and the table's number in it): their missing figures are
printed, not failed, and a pending entry whose figures are now all found
fails the test, so that the list only shrinks. The test reports every missing figure with its file,
section, table and cell.
"""

import bisect
import json
import math
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ([ROOT / "README.md", ROOT / "examples" / "README.md",
         ROOT / "benchmarks" / "README.md"]
        + sorted((ROOT / "docs" / "pages").glob("*.md")))
RESULT_DIRS = [ROOT / "examples" / "results", ROOT / "benchmarks" / "results",
               ROOT / "examples" / "data"]
RESULT_SUFFIXES = {".json", ".csv", ".tsv", ".txt"}
RAW_LIST = 100

# Reference tables: (file, header row as "a | b | c") -> why its numbers
# are not measurements.
NOT_RESULTS = {
    ("README.md", "layer | what it is | replaces"):
        "the layer list: equation symbols and class names",
    ("docs/pages/index.md", "layer | equations in one line | replaces"):
        "the layer list: equations and class names",
    ("docs/pages/act.md", "weight | shape | "):
        "weight shapes and initial values (definitions)",
    ("docs/pages/bahdanau_attention.md", "weight | shape | "):
        "weight shapes (definitions)",
    ("docs/pages/key_value_memory_network.md", "weight | shape | "):
        "weight shapes (definitions)",
    ("docs/pages/coupled_lstm.md", "weight | shape | layout"):
        "weight shapes (definitions)",
    ("docs/pages/peephole_lstm.md", "weight | shape | layout"):
        "weight shapes (definitions)",
    ("docs/pages/ntm.md", "weight | shape | layout"):
        "weight shapes (definitions)",
    ("docs/pages/leaky_rnn.md", "weight | shape | symbol"):
        "weight shapes (definitions)",
    ("docs/pages/memn2n.md", "weight | shape | adjacent | layerwise"):
        "weight shapes per tying (definitions)",
    ("docs/pages/act.md", "old | new"): "API mapping (old name -> new)",
    ("docs/pages/memn2n.md", "old | new"): "API mapping (old name -> new)",
    ("docs/pages/ntm.md", "old | new"): "API mapping (old name -> new)",
    ("docs/pages/peephole_lstm.md", "old | new"):
        "API mapping (old name -> new)",
    ("docs/pages/rnn.md", "old | new"): "API mapping (old name -> new)",
    ("docs/pages/attentive_decoder.md", "tfa | keras_seqmem | notes"):
        "API mapping (tfa -> keras_seqmem)",
    ("docs/pages/bahdanau_attention.md", "tfa / Keras | keras_seqmem | notes"):
        "API mapping (tfa/Keras -> keras_seqmem)",
    ("docs/pages/key_value_memory.md",
     "Keras / elsewhere | keras_seqmem | notes"):
        "API mapping (other libraries -> keras_seqmem)",
    ("docs/pages/seq2seq.md", "tfa | keras_seqmem"):
        "API mapping (tfa -> keras_seqmem)",
    ("docs/pages/migrating_from_tfa.md",
     "TensorFlow 2 / tfa | keras_seqmem (Keras 3) | notes"):
        "API mapping (TF2/tfa -> keras_seqmem)",
    ("docs/pages/seq2seq.md", "signature | inputs | outputs"):
        "serving signature: tensor shapes (definitions)",
    ("docs/pages/serving.md", "model | inputs | outputs"):
        "serving signatures: tensor shapes (definitions)",
    ("docs/pages/backends.md", "test | backend | what it checks"):
        "which test runs where (test names)",
    ("docs/pages/cli.md", "flag | meaning"):
        "CLI flags and their defaults (definitions)",
    ("docs/pages/cli.md", "argument | meaning"):
        "CLI arguments (definitions)",
    ("docs/pages/installation.md", "extra | installs | enables"):
        "pip extras and version floors (requirements, not measurements)",
    ("docs/pages/tasks.md", "task | input | target | chance | solved"):
        "task definitions: shapes, chance level and the solved threshold",
    ("docs/pages/tasks.md", "task | source | target | parameters"):
        "task definitions: shapes and default parameters",
    ("docs/pages/tasks.md", "format | source | format | source"):
        "the date formats, with an example date written in each",
    ("docs/pages/tasks.md", "function | returns"):
        "bAbI loader API: function signatures",
    ("docs/pages/tasks.md", "key | shape | content"):
        "bAbI loader output: array shapes (definitions)",
    ("docs/pages/tasks.md", "spec | episode | parameters | `T`"):
        "NTM task definitions: shapes and default parameters",
    ("docs/pages/tasks.md", "task | parameters | input | target"):
        "ACT task definitions: shapes and default parameters",
    ("docs/pages/testing.md", "check | what it proves"):
        "the shared layer checks (descriptions)",
    ("docs/pages/tuning.md", "name | values | default | only when | "
                             "what it sets"):
        "hyperparameter search spaces (definitions)",
    ("benchmarks/README.md", "file | what it is"):
        "the list of benchmark scripts (descriptions)",
    ("benchmarks/README.md", "ours | baseline | gates G"):
        "the layers compared and their gate counts (definitions)",
    ("benchmarks/README.md", "flag | default | meaning"):
        "benchmark flags and their defaults (definitions)",
    ("docs/pages/luong_attention.md", "weight | shape | "):
        "weight shapes (definitions)",
    ("docs/pages/luong_attention.md", "`probability_fn` | weights"):
        "probability functions' equations (definitions)",
    ("docs/pages/luong_attention.md", "tfa | keras_seqmem | notes"):
        "API and weight-name mapping from tfa",
    ("docs/pages/monotonic_attention.md", "weight | shape | "):
        "weight shapes (definitions)",
    ("docs/pages/monotonic_attention.md", "tfa | keras_seqmem | notes"):
        "API and weight-name mapping from tfa",
    ("docs/pages/cli.md", "status | meaning"):
        "exit statuses (definitions)",
    ("docs/pages/cli.md", "flag | meaning (default)"):
        "command-line flags and their defaults",
    ("benchmarks/README.md", " | model"):
        "the models compared (their definitions as code)",
}

DATES = "`dates.py`: date normalisation with attention, ≥ 99% exact match"
REVERSAL = ("`reversal_attention.py`: without attention, accuracy collapses "
            "with length")
BABI = "`babi_memn2n.py`: Table 1 of End-To-End Memory Networks, reproduced"
NTM = ("`ntm_tasks.py`: the Neural Turing Machine's copy and associative "
       "recall")
ACT = ("`act_parity.py`: Adaptive Computation Time makes parity solvable in "
       "one step")
EX = "examples/README.md"
LONG_MEMORY = ["examples/results/long_memory*/**/*"]

# Results tables: (file, section, number of the table in the section) ->
# globs of the results files its figures come from.
SOURCES = {
    (EX, "How the recipe is chosen: validation data only", 1): LONG_MEMORY,
    (EX, "How the recipe is chosen: validation data only", 2): LONG_MEMORY,
    (EX, "Results", 1): LONG_MEMORY,
    (EX, "Results", 2): LONG_MEMORY,
    (EX, "Results > Before: the 2026-11-22 tables (recipe chosen with test "
         "data)", 1): LONG_MEMORY,
    (EX, "Results > Before: the 2026-11-22 tables (recipe chosen with test "
         "data)", 2): LONG_MEMORY,
    (EX, "What was tried, and what did not work (chosen on test data: "
         "history)", 1): LONG_MEMORY,
    (EX, "What was tried, and what did not work (chosen on test data: "
         "history)", 2): LONG_MEMORY,
    (EX, f"{DATES} > Results", 1): ["examples/results/dates_*/seed0.json"],
    (EX, f"{DATES} > Results", 2): ["examples/results/dates_*/seed0.json"],
    (EX, f"{DATES} > Results", 3): ["examples/results/dates_*/seed*.json"],
    (EX, f"{DATES} > Attention mechanisms: Bahdanau, Luong, monotonic "
        "(2026-12-07)", 1): ["examples/results/dates_2026-12-07/summary.json"],
    (EX, f"{REVERSAL} > Results", 1):
        ["examples/results/reversal_attention_*/reversal_attention.json"],
    (EX, f"{REVERSAL} > Results", 2):
        ["examples/results/reversal_attention_*/reversal_attention.json"],
    (EX, f"{REVERSAL} > Results", 3): [
        "examples/results/reversal_attention_*/"
        "reversal_attention_seed1-2.json"],
    (EX, f"{REVERSAL} > Results", 4): [
        "examples/results/reversal_attention_*/"
        "reversal_attention_seed1-2.json"],
    (EX, f"{REVERSAL} > More budget or a bigger vector for the fixed "
         "context", 1):
        ["examples/results/reversal_attention_*/reversal_attention*.json"],
    (EX, f"{BABI} > How the recipe was chosen: validation accuracy only",
     1): ["examples/results/babi_memn2n_recipe_selection.json"],
    (EX, f"{BABI} > Results", 1):
        ["examples/results/babi_memn2n_trainvocab_*/report.json",
         "examples/results/babi_memn2n_2026-12-02/report.json"],
    (EX, f"{BABI} > Before: the first 2026-12-02 run (vocabulary and slots "
         "from test stories too)", 1):
        ["examples/results/babi_memn2n_2026-12-02/report.json",
         "examples/results/babi_memn2n_masked_2026-12-02/*.json"],
    (EX, f"{NTM} > Results", 1): ["examples/results/ntm_*/*.json"],
    (EX, f"{NTM} > Results", 2): ["examples/results/ntm_*/*.json"],
    (EX, ACT, 1): ["examples/results/act_parity*/results.json"],
    ("docs/pages/backends.md", "Per layer", 1):
        ["benchmarks/results/backend_parity_*.json"],
    ("docs/pages/backends.md", "PyTorch > Per layer", 1):
        ["benchmarks/results/torch_backend_*.json"],
    ("docs/pages/benchmarks.md", "Speed", 1):
        ["benchmarks/results/recurrent_cpu2_2026-11-22.json"],
    ("docs/pages/benchmarks.md", "The loop (2026-12-02)", 1):
        ["benchmarks/results/recurrent_cpu2_2026-12-02_*.json"],
    ("docs/pages/benchmarks.md", "Memory networks", 1):
        ["benchmarks/results/memory_cpu2_*.json"],
    ("docs/pages/installation.md", "Supported versions", 1):
        ["benchmarks/results/compat*.json"],
    ("docs/pages/installation.md", "Supported versions", 2):
        ["benchmarks/results/compat*.json"],
    ("docs/pages/installation.md", "Install size", 1):
        ["benchmarks/results/install_size_*.json"],
    ("docs/pages/memn2n.md", "Equations > Linear start", 1):
        ["examples/results/babi_memn2n*/**/*"],
    ("docs/pages/memn2n.md", "Equations > Empty slots", 1):
        ["examples/results/babi_memn2n*/**/*"],
    ("docs/pages/memn2n.md", "Figures", 1):
        ["examples/results/babi_memn2n_trainvocab_*/report.json",
         "examples/results/babi_memn2n_2026-12-02/report.json"],
    ("docs/pages/decoding.md", "Decode time", 1):
        ["benchmarks/results/decoding_cpu2_2026-12-07.json"],
    ("docs/pages/decoding.md", "Decode time", 2):
        ["benchmarks/results/decoding_cpu2_2026-12-07_small_model.json"],
    ("docs/pages/decoding.md", "Decode time", 3):
        ["benchmarks/results/decoding_cpu2_2026-12-07_table.json"],
    ("docs/pages/act.md", "Cost", 1):
        ["benchmarks/results/act_sweep_max_ponder_cpu2_2026-12-07_*.json"],
    ("docs/pages/attentive_decoder.md", "tfa parity", 1):
        ["benchmarks/results/tfa_parity_wrapper_2026-12-07.json"],
    ("docs/pages/decoding.md", "Decode time", 4):
        ["benchmarks/results/decoding_cpu2_2026-12-07_table_quiet.json"],
    ("docs/pages/layer_norm_rnn.md", "Figures", 1):
        ["benchmarks/results/tfa_parity_cells_*.json"],
    ("docs/pages/ntm.md", "Figures", 1): ["examples/results/ntm_*/*.json"],
    ("docs/pages/ntm.md", "Figures", 2): ["examples/results/ntm_*/*.json"],
    ("docs/pages/seq2seq.md", "Decode time", 1):
        ["benchmarks/results/decoding_cpu2_2026-12-07_seq2seq.json"],
    ("docs/pages/seq2seq.md", "Figures", 1):
        ["examples/results/dates_2026-12-07/summary.json"],
    ("docs/pages/serving.md", "Latency", 1):
        ["benchmarks/results/serving_cpu2_*.json"],
    ("benchmarks/README.md", "Results (2026-12-07): three shapes, the fused "
     "loop", 1):
        ["benchmarks/results/recurrent_cpu2_2026-12-07_before.json",
         "benchmarks/results/recurrent_cpu2_2026-12-07_after.json"],
    ("benchmarks/README.md", "Results (2026-12-07): three shapes, the fused "
     "loop", 2):
        ["benchmarks/results/recurrent_cpu2_2026-12-07_after.json"],
    ("benchmarks/README.md", "Where the time goes", 1):
        ["benchmarks/results/recurrent_profile_cpu2_2026-12-07_peephole.json"],
    ("benchmarks/README.md", "`ntm.py` > Results > Where the time goes "
     "(XLA, 128 slots)", 1):
        ["benchmarks/results/ntm_ablation_cpu2_*.json"],
    ("benchmarks/README.md", "`seq2seq.py` > Results", 1):
        ["benchmarks/results/seq2seq_cpu2_*.json"],
    ("benchmarks/README.md", "`memory.py` > Results", 1):
        ["benchmarks/results/memory_cpu2_*.json"],
    ("benchmarks/README.md", "`ntm.py` > Results", 1):
        ["benchmarks/results/ntm_cpu2_*.json"],
    ("benchmarks/README.md", "`act.py` > Results", 1):
        ["benchmarks/results/act_cpu2_*.json"],
    ("benchmarks/README.md", "`act.py` > The bound alone: "
                             "`--sweep-max-ponder`", 1):
        ["benchmarks/results/act_sweep_max_ponder_*.json"],
    ("benchmarks/README.md", "`serving.py` > Results", 1):
        ["benchmarks/results/serving_cpu2_*.json"],
}

# Tables that show stored numbers scaled: x100 (fractions as percentages
# without a % sign), x1000 (seconds as milliseconds).
SCALES = {
    (EX, f"{BABI} > Before: the first 2026-12-02 run (vocabulary and slots "
         "from test stories too)", 1): (100.0,),
    ("docs/pages/memn2n.md", "Equations > Linear start", 1): (100.0,),
    ("docs/pages/memn2n.md", "Equations > Empty slots", 1): (100.0,),
    ("docs/pages/backends.md", "Per layer", 1): (1000.0,),
}

# Results tables whose figures have no results file yet: (file, section,
# table number) -> why. Their missing figures are printed, not failed.
PENDING = {
    (EX, "Results > Before: the 2026-11-22 tables (recipe chosen with test "
         "data)", 1): "no results file — pending: long_memory's 2026-11-22 history "
        "(recipe chosen with test data), kept beside the new tables; "
        "runs before results files were written",
    (EX, "Results > Before: the 2026-11-22 tables (recipe chosen with test "
         "data)", 2): "no results file — pending: long_memory's 2026-11-22 history "
        "(recipe chosen with test data), kept beside the new tables; "
        "runs before results files were written",
    (EX, "What was tried, and what did not work (chosen on test data: "
         "history)", 1): "no results file — pending: long_memory's 2026-11-22 history "
        "(recipe chosen with test data), kept beside the new tables; "
        "runs before results files were written",
    (EX, "What was tried, and what did not work (chosen on test data: "
         "history)", 2): "no results file — pending: long_memory's 2026-11-22 history "
        "(recipe chosen with test data), kept beside the new tables; "
        "runs before results files were written",
    (EX, f"{REVERSAL} > Results", 3):
        "no results file — pending: seeds 1 and 2 (2026-11-22 run, 15 min "
        "on 2 free cores); rerun `python examples/reversal_attention.py "
        "--seeds 1 2 --out docs/pages/figures`",
    (EX, f"{REVERSAL} > Results", 4):
        "no results file — pending: seeds 1 and 2 (as the table above)",
    ("docs/pages/memn2n.md", "Equations > Linear start", 1):
        "no results file — pending: the linear-start trials of 2026-12-02 "
        "on task 16 (judged on test error; history) ran before results "
        "files were kept for single trials: 55.5% ('patience 8, at most 80 "
        "epochs, at 0.005') is in none",
    (EX, f"{REVERSAL} > More budget or a bigger vector for the fixed "
         "context", 1):
        "no results file — pending: the `--models without --epochs 30` and "
        "`--models without --units 128` runs (2026-11-22, 14 min together, "
        "figures not kept)",
}


# --------------------------------------------------------------------------
# Reading the documents.

_RULE = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")


def _cells(line):
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|"):
        line = line[:-1]
    return [c.strip() for c in line.split("|")]


def tables(path):
    """Yields (section, index in section, header, body rows, line number)
    of every Markdown table in `path`; `section` is "h2 > h3" (or the
    single heading above it), fenced blocks included."""
    lines = path.read_text(encoding="utf-8").splitlines()
    headings = {}
    fence = False
    counts = {}
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith("```"):
            fence = not fence
        elif not fence and re.match(r"^#{1,6} ", line):
            level = len(line) - len(line.lstrip("#"))
            headings = {k: v for k, v in headings.items() if k < level}
            headings[level] = line[level:].strip()
        if (line.lstrip().startswith("|") and i + 1 < len(lines)
                and _RULE.match(lines[i + 1]) and "-" in lines[i + 1]):
            start = i
            header = _cells(line)
            body = []
            i += 2
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                body.append(_cells(lines[i]))
                i += 1
            levels = sorted(headings)
            section = " > ".join(headings[k] for k in levels
                                 if k >= 2) or " > ".join(
                headings[k] for k in levels)
            counts[section] = counts.get(section, 0) + 1
            yield section, counts[section], header, body, start + 1
            continue
        i += 1


# A number as written in a table: sign, digits with optional thousands
# separators, decimals, exponent, percent. Not part of a word (`act_16`,
# `beam-4`, `M4`); dates (`2026-12-02`) are provenance, not figures; both
# ends of a range (`26–38`) are figures.
_NUMBER = re.compile(
    r"(?<![\w.\-/])([-+−]?)((?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)*)"
    r"((?:[eE][-+−]?\d+)?)(%?)(?![\w]|\.\d)")
_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
_DURATION = re.compile(r"(\d+) min (\d+) s")


def _clean(cell):
    """The cell without code spans, link targets, images and emphasis."""
    cell = re.sub(r"`[^`]*`", " ", cell)
    cell = re.sub(r"!\[[^\]]*\]\([^)]*\)", " ", cell)
    cell = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", cell)
    return cell.replace("**", " ").replace("__", " ")


class Figure:
    """One number displayed in a cell."""

    def __init__(self, text, value=None, tolerance=None, version=None,
                 percent=False):
        self.text = text
        self.value = value
        self.tolerance = tolerance
        self.version = version
        self.percent = percent


def figures(cell):
    """The numbers displayed in one table cell."""
    cell = _clean(cell)
    found = []
    for m in _DURATION.finditer(cell):
        found.append(Figure(m.group(0), 60 * int(m.group(1))
                            + int(m.group(2)), 0.5))
    cell = _DURATION.sub(" ", _DATE.sub(" ", cell))
    for m in _NUMBER.finditer(cell):
        sign, digits, exponent, percent = m.groups()
        if digits.count(".") > 1:  # a version, 3.15.1
            found.append(Figure(m.group(0), version=digits))
            continue
        plain = digits.replace(",", "")
        decimals = len(plain.split(".")[1]) if "." in plain else 0
        scale = 1.0
        if exponent:
            scale = 10.0 ** int(exponent[1:].replace("−", "-"))
        value = float(plain) * scale
        if sign in ("-", "−"):
            value = -value
        tolerance = 0.5 * 10.0 ** -decimals * scale
        found.append(Figure(m.group(0), value, tolerance,
                            percent=bool(percent)))
    return found


# --------------------------------------------------------------------------
# Reading the results files.

_STORED_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_STORED_VERSION = re.compile(r"\d+(?:\.\d+){2,}")


def _walk_json(value, numbers, strings):
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, (int, float)):
        if math.isfinite(value):
            numbers.append(float(value))
    elif isinstance(value, str):
        strings.append(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            strings.append(str(key))
            _walk_json(item, numbers, strings)
    elif isinstance(value, (list, tuple)):
        if sum(isinstance(item, (int, float)) for item in value) > RAW_LIST:
            return  # raw samples, summarised by the tables
        for item in value:
            _walk_json(item, numbers, strings)


def results_files(globs=None):
    """The results files matching `globs` (relative to the repo; None: all
    of them)."""
    if globs is None:
        candidates = (p for d in RESULT_DIRS if d.is_dir()
                      for p in d.rglob("*"))
    else:
        candidates = (p for g in globs for p in ROOT.glob(g))
    dirs = [d.resolve() for d in RESULT_DIRS]
    return sorted({p for p in candidates if p.is_file()
                   and p.suffix.lower() in RESULT_SUFFIXES
                   and any(d in p.resolve().parents for d in dirs)})


def stored(paths):
    """(sorted stored numbers, set of version strings) of `paths`."""
    numbers, strings = [], []
    for path in paths:
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix.lower() == ".json":
            try:
                _walk_json(json.loads(text), numbers, strings)
                continue
            except ValueError:
                pass  # not one JSON document (JSON lines): read as text
        strings.append(text)
    versions = set()
    for text in strings:
        versions.update(_STORED_VERSION.findall(text))
        for token in _STORED_NUMBER.findall(text.replace(",", "")):
            try:
                value = float(token)
            except ValueError:
                continue
            if math.isfinite(value):
                numbers.append(value)
    return sorted(set(numbers)), versions


def is_stored(figure, numbers, versions, scales=()):
    """Whether a stored number rounds to `figure`, as stored, times 100 if
    it is shown with `%`, or times one of `scales`."""
    if figure.version is not None:
        return figure.version in versions
    factors = {1.0, *scales}
    if figure.percent:
        factors.add(100.0)
    for factor in sorted(factors):
        low = (figure.value - figure.tolerance) / factor
        high = (figure.value + figure.tolerance) / factor
        low, high = low - 1e-12 * abs(low), high + 1e-12 * abs(high)
        i = bisect.bisect_left(numbers, low)
        if i < len(numbers) and numbers[i] <= high:
            return True
    return False


# --------------------------------------------------------------------------
# The check.

def result_tables():
    """(file, section, index, header, body, line) of every table with a
    number in its body that is not in NOT_RESULTS."""
    found = []
    for path in DOCS:
        name = path.relative_to(ROOT).as_posix()
        for section, index, header, body, line in tables(path):
            if not any(figures(cell) for row in body for cell in row):
                continue
            if (name, " | ".join(header)) in NOT_RESULTS:
                continue
            found.append((name, section, index, header, body, line))
    return found


def missing_figures():
    """{(file, section, table): [message, ...]} of every figure not in the
    table's results files, and the list of results tables without a
    `SOURCES` entry."""
    missing, unsourced = {}, []
    cache = {}
    for name, section, index, header, body, line in result_tables():
        key = (name, section, index)
        if key not in SOURCES:
            unsourced.append(f"{name}:{line} [{section}] table {index} "
                             f"({' | '.join(header)})")
            continue
        files = tuple(results_files(SOURCES[key]))
        if files not in cache:
            cache[files] = stored(files)
        numbers, versions = cache[files]
        if not files:
            missing.setdefault(key, []).append(
                f"{name}:{line} [{section}] table {index}: no results file "
                f"matches {SOURCES[key]}")
            continue
        for r, row in enumerate(body):
            for c, cell in enumerate(row):
                column = header[c] if c < len(header) else f"column {c + 1}"
                for figure in figures(cell):
                    if not is_stored(figure, numbers, versions,
                                     SCALES.get(key, ())):
                        missing.setdefault(key, []).append(
                            f"{name}:{line + 2 + r} [{section}] table "
                            f"{index}, row {r + 1} ({row[0]!r}), column "
                            f"{column!r}: {figure.text!r} in cell {cell!r}")
    return missing, unsourced


def test_every_results_table_names_its_results_files():
    _, unsourced = missing_figures()
    assert not unsourced, (
        "results tables (a number in the body, not in NOT_RESULTS) without "
        "a SOURCES entry in tests/test_figures.py naming their results "
        "files:\n" + "\n".join(unsourced))


def test_every_figure_of_a_results_table_is_in_a_results_file():
    missing, _ = missing_figures()
    pending = PENDING
    for key, lines in missing.items():
        if key in pending:
            print(f"\n{pending[key]}: {key[0]} [{key[1]}] table {key[2]}, "
                  f"{len(lines)} figures without a results file")
    failures = [line for key, lines in missing.items() if key not in pending
                for line in lines]
    assert not failures, (
        f"{len(failures)} figures of results tables are in no results file "
        "named for their table in tests/test_figures.py's SOURCES (store "
        "them from the script that measured them, or list the table in "
        "PENDING):\n" + "\n".join(failures))
    stale = sorted(key for key in pending if key not in missing)
    assert not stale, (
        "listed as pending but every figure is now in a results file (or "
        f"the section is gone); remove from PENDING: {stale}")


def test_lists_name_existing_tables():
    """Every NOT_RESULTS entry names a table that exists, with a reason."""
    headers = {(path.relative_to(ROOT).as_posix(), " | ".join(header))
               for path in DOCS for _, _, header, _, _ in tables(path)}
    unknown = sorted(key for key in NOT_RESULTS if key not in headers)
    assert not unknown, f"NOT_RESULTS names no table: {unknown}"
    tables_ = {(path.relative_to(ROOT).as_posix(), section, index)
               for path in DOCS for section, index, _, _, _ in tables(path)}
    for name, entries in (("SOURCES", SOURCES), ("SCALES", SCALES),
                          ("PENDING", PENDING)):
        unknown = sorted(key for key in entries if key not in tables_)
        assert not unknown, f"{name} names no table: {unknown}"
    assert all(reason.strip() for reason in NOT_RESULTS.values())
    assert all(reason.startswith("no results file — pending")
               for reason in PENDING.values())


# --------------------------------------------------------------------------
# The checker itself.

def test_figures_read_as_displayed():
    def read(cell):
        return [(f.value, f.tolerance) if f.version is None else f.version
                for f in figures(cell)]

    assert read("0.9982") == [(0.9982, 0.00005)]
    assert read("4991 / 5000") == [(4991.0, 0.5), (5000.0, 0.5)]
    assert read("127,742") == [(127742.0, 0.5)]
    assert read("2.12%") == [(2.12, 0.005)]
    assert read("1 min 31 s") == [(91, 0.5)]
    assert read("−0.5") == [(-0.5, 0.05)]
    assert read("3.15.1") == ["3.15.1"]
    # Words, dates and code are not figures.
    assert read("act_16 beam-4 `LSTMCell(128)`") == []
    assert read("2026-12-02") == []
    assert read("26–38 ms") == [(26.0, 0.5), (38.0, 0.5)]


def test_match_at_displayed_precision():
    numbers, versions = sorted([0.99816, 0.0212, 0.0331, 127742.0]), {"3.15.1"}

    def found(cell):
        return all(is_stored(f, numbers, versions) for f in figures(cell))

    assert found("0.9982") and found("2.12%") and found("127,742")
    assert found("3.15.1")
    assert not found("2.12") and not found("33")  # no scale declared
    assert all(is_stored(f, numbers, versions, (100.0, 1000.0))
               for f in figures("2.12 33"))
    assert found("0.998")        # 0.99816 at three decimals
    assert not found("0.9983")   # a digit changed
    assert not found("0.99")     # 0.99816 rounds to 1.00 at two decimals
    assert not found("34") and not found("3.15.2") and not found("127,743")
