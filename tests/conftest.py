"""Shared pytest fixtures, and the test groups (markers) of the suite.

Every test belongs to exactly one group (docs/pages/testing.md):

* ``slow``: long learning runs, not run by CI (``pytest -m slow``). A test
  is slow when its file marks it ``@pytest.mark.slow`` or when it matches
  ``SLOW`` below;
* ``integration``: whole programs and processes (the CLI, the examples, the
  benchmarks' quick runs, distributed training and tuning, the install and
  its extras, the JAX-backend subprocess suite, the SavedModel export
  round trips): tests matching ``INTEGRATION`` below;
* ``unit``: every other test.

The groups are assigned here, by file and test name, so that the test files
need not carry the markers. A pattern without ``::`` names test files
(``fnmatch`` on the file name); a pattern with ``::`` names tests
(``fnmatch`` on ``<file name>::<test function name>``, without parameters);
a pattern with ``[`` names one parametrization, exactly.
tests/test_project.py checks that every collected test gets exactly one
group and that every pattern here still names a test.
"""

import fnmatch
import json
import os
import pathlib
import resource
import time

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]

GROUPS = ("unit", "integration", "slow")

INTEGRATION = (
    # The tfa checkpoint converter under JAX (a subprocess).
    "test_convert.py::test_on_jax_in_a_subprocess",
    # The CLI (keras-seqmem ...), run in-process or as a command.
    "test_cli.py",
    "test_cli_callbacks.py",
    "test_project.py::test_cli_*",
    "test_sequence_training.py::test_cli_*",
    "test_tuning.py::test_cli_*",
    # The examples' quick runs.
    "test_examples.py",
    "test_examples_act.py",
    "test_examples_babi.py",
    "test_examples_seq2seq.py",
    "test_sequence_training.py::test_example_*",
    # The benchmarks' quick runs.
    "test_benchmark_*.py",
    "test_project.py::test_benchmark_quick_run",
    # Distributed training and tuning (worker processes).
    "test_distributed.py",
    "test_tuning.py::test_distributed_*",
    # The install and its extras (fresh Python processes).
    "test_install.py",
    # tests/test_backends.py under KERAS_BACKEND=jax, in a subprocess.
    "test_jax_backend.py",
    # SavedModel export round trips (a process without keras_seqmem).
    "test_serving.py::test_export_*",
    # tests/test_decoding.py's JAX subprocess and its benchmark quick run.
    "test_decoding.py::test_benchmark_quick_run",
    # Collects the whole suite in a pytest subprocess.
    "test_project.py::test_every_test_has_exactly_one_group",
    # Runs .ci/test (two pytest runs) on three tests.
    "test_project.py::test_ci_test_*",
)

# Learning runs or duplicate coverage moved out of CI here (besides the
# tests their files mark @pytest.mark.slow), to keep CI under 20 minutes:
SLOW = (
    # Learning checks: a model reaches a score within a few epochs.
    "test_seq2seq.py::test_learns_to_copy_quickly",
    "test_memory.py::test_memn2n_learns_babi_task_1_within_a_few_epochs",
    "test_act.py::test_fit_minimises_the_ponder_cost",
    # The SavedModel export of a second configuration of the same layer
    # class (CI exports each class once; the op check reads the same loop).
    "test_act.py::test_shared_layer_checks[ACTRNN-lstm-seq-saved_model_export]",
    "test_memory.py::test_shared_layer_checks[MemN2N-adjacent-PE-TE-RN-attend-"
    "check_saved_model_export]",
    "test_recurrent.py::test_shared_layer_checks[LeakyRNN-trainable-"
    "saved_model_export]",
    "test_recurrent.py::test_shared_layer_checks[PeepholeLSTM-seq-"
    "saved_model_export]",
    "test_recurrent.py::test_shared_layer_checks[CoupledLSTM-peepholes-seq-"
    "saved_model_export]",
    "test_attention.py::test_shared_layer_checks[AttentiveDecoder-"
    "PeepholeLSTMCell-normalize-check_saved_model_export]",
    # The echo-state setup is a LeakyRNN, which test_recurrent.py runs
    # through every shared check (its own tests stay: the reservoir, the
    # frozen weights, tfa's construction); CI's JAX suite runs the checks
    # on it too.
    "test_esn.py::test_shared_layer_checks",
    # The layer-norm cells in keras.layers.RNN: their export and XLA step
    # repeat those of the LayerNormLSTM / LayerNormSimpleRNN layers (the
    # cells' other shared checks stay).
    "test_layernorm_rnn.py::test_shared_layer_checks[RNN(LayerNormLSTMCell)-"
    "saved_model_export]",
    "test_layernorm_rnn.py::test_shared_layer_checks[RNN(LayerNormLSTMCell)-"
    "xla_training_step]",
    "test_layernorm_rnn.py::test_shared_layer_checks[RNN("
    "LayerNormSimpleRNNCell)-seq-saved_model_export]",
    "test_layernorm_rnn.py::test_shared_layer_checks[RNN("
    "LayerNormSimpleRNNCell)-seq-xla_training_step]",
    # Seq2Seq with every named cell: two stay in CI (lstm, peephole_lstm);
    # the cell-instance tests (GRUCell, LayerNormLSTMCell, StackedRNNCells)
    # and the JAX suite's Seq2Seq case cover the rest of the encoder/bridge
    # code the other names go through.
    "test_seq2seq.py::test_every_cell_kind_trains_and_decodes[coupled_lstm]",
    "test_seq2seq.py::test_every_cell_kind_trains_and_decodes[peephole_lstm]",
    "test_seq2seq.py::test_every_cell_kind_trains_and_decodes[gru]",
    "test_seq2seq.py::test_every_cell_kind_trains_and_decodes[leaky_rnn]",
    "test_seq2seq.py::test_every_cell_kind_trains_and_decodes[simple_rnn]",
    # The Bahdanau-order decoder's export: Seq2Seq's export test serves the
    # same decoder loop (and decodes in-graph); the Luong-order decoder's
    # export (test_attentive_decoder.py) stays.
    "test_attention.py::test_shared_layer_checks[AttentiveDecoder-"
    "LSTMCell-check_saved_model_export]",
    # Seq2Seq's decode under XLA against graph mode: test_decoding.py
    # compiles every decoder into one XLA function and checks Seq2Seq's
    # step through them; the tuning of the attention family: the other
    # families' hypermodels run the same tuner code.
    "test_seq2seq.py::test_decoding_compiles_with_xla_and_matches_graph_mode",
    "test_tuning.py::test_hypermodel_builds_sampled_sets_and_trains_an_epoch"
    "[attention]",
    # ACT around an NTM cell (a composition check): ACT's own tests run it
    # around LSTM, GRU and peephole cells, the NTM's run the NTM cell.
    "test_act.py::test_works_around_an_ntm_cell",
    # tests/test_decoding.py under JAX (a subprocess, about 2 minutes of both
    # cores): in CI the JAX parity run decodes Seq2Seq greedily and with
    # beam search through keras_seqmem.decoding on JAX and compares the ids
    # with TensorFlow's (test_jax_backend.py::test_parity[Seq2Seq]).
    "test_decoding.py::test_this_file_on_jax",
    # The backend-neutral suite under TensorFlow duplicates the family
    # files (test_recurrent.py, test_attention.py, ...), which run every
    # configuration on TensorFlow; CI runs it under JAX
    # (test_jax_backend.py's subprocess runs the whole file, markers aside).
    "test_backends.py",
)

# Started first (in this order), so that under pytest-xdist the longest
# runs do not end up as the run's tail: the JAX suite (about 3 minutes of
# both cores), the JAX parity runs, the examples' and benchmarks' quick runs.
LONG_FIRST = (
    "test_jax_backend.py::test_backend_suite_on_jax",
    "test_jax_backend.py::test_parity",
    "test_install.py::test_layers_build_with_every_tool_uninstalled",
    "test_examples_seq2seq.py",
    "test_distributed.py",
    "test_benchmark_*.py",
    "test_project.py::test_benchmark_quick_run",
)

# Set by tests/test_project.py: the file that receives {node id: groups}.
GROUPS_REPORT_ENV = "KERAS_SEQMEM_TEST_GROUPS_REPORT"
# Set by .ci/run: tests that need the bAbI data fail instead of skipping.
REQUIRE_DATA_ENV = "KERAS_SEQMEM_REQUIRE_DATA"
# Set by .ci/test: the file that receives one JSON line per test run (wall
# and CPU seconds, its own and its subprocesses').
TIMES_ENV = "KERAS_SEQMEM_TEST_TIMES"


def _matches(pattern, item):
    if "[" in pattern:  # one parametrization: "[" is literal here
        file_test, _, params = pattern.partition("[")
        return (f"{item.path.name}::{item.name}"
                == f"{file_test}[{params}")
    if "::" in pattern:
        return fnmatch.fnmatch(f"{item.path.name}::{item.originalname}",
                               pattern)
    return fnmatch.fnmatch(item.path.name, pattern)


def _marked_groups(item):
    return sorted({m.name for m in item.iter_markers() if m.name in GROUPS})


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by these markers
def pytest_collection_modifyitems(config, items):
    used = {pattern: 0 for pattern in INTEGRATION + SLOW}
    for item in items:
        slow = [p for p in SLOW if _matches(p, item)]
        integration = [p for p in INTEGRATION if _matches(p, item)]
        for pattern in slow + integration:
            used[pattern] += 1
        if _marked_groups(item):
            continue  # marked in its file (@pytest.mark.slow)
        if slow:
            item.add_marker(pytest.mark.slow)
        elif integration:
            item.add_marker(pytest.mark.integration)
        else:
            item.add_marker(pytest.mark.unit)
    def rank(item):
        for i, pattern in enumerate(LONG_FIRST):
            if _matches(pattern, item):
                return i
        return len(LONG_FIRST)

    items.sort(key=rank)  # stable: the rest keep their order
    report = os.environ.get(GROUPS_REPORT_ENV)
    if report:
        pathlib.Path(report).write_text(json.dumps({
            "groups": {item.nodeid: _marked_groups(item) for item in items},
            "pattern_matches": used,
        }, indent=1))


def _cpu_seconds():
    """CPU time of this process (all threads) and of its waited-for
    subprocesses (the examples, the JAX suite, worker processes)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    # Not inherited by the pytest runs a test starts (the JAX suite, the
    # collection check): their time is in this test's already.
    path = os.environ.pop(TIMES_ENV, None)
    start_wall, start_cpu = time.monotonic(), _cpu_seconds()
    try:
        yield
    finally:
        if path:
            os.environ[TIMES_ENV] = path
    if path:
        line = json.dumps({
            "test": item.nodeid, "groups": _marked_groups(item),
            "wall_seconds": round(time.monotonic() - start_wall, 3),
            "cpu_seconds": round(_cpu_seconds() - start_cpu, 3)})
        with open(path, "a") as f:  # one write per line: xdist workers share it
            f.write(line + "\n")


def _require_data():
    return os.environ.get(REQUIRE_DATA_ENV, "") not in ("", "0")


@pytest.fixture(scope="session")
def babi_dir() -> pathlib.Path:
    """The bAbI v1.2 data folder (holding ``en/``), or skip the test.

    ``$KERAS_SEQMEM_BABI_DIR`` if set, else ``<repo root>/../shared/data/babi``
    (the team's copy, which CI's clone has next to it). Tests that use it are
    skipped when the folder or its ``en/`` is absent, and fail instead when
    ``$KERAS_SEQMEM_REQUIRE_DATA`` is set (``.ci/run`` sets it).
    """
    env = os.environ.get("KERAS_SEQMEM_BABI_DIR")
    path = pathlib.Path(env) if env else REPO_ROOT.parent / "shared" / "data" / "babi"
    if not (path / "en").is_dir():
        message = (
            f"bAbI data not found: {path} has no en/ folder "
            f"({'from $KERAS_SEQMEM_BABI_DIR' if env else 'the default'}); "
            "put the tasks_1-20_v1-2 folder (holding en/) at "
            f"{REPO_ROOT.parent / 'shared' / 'data' / 'babi'} or set "
            "KERAS_SEQMEM_BABI_DIR to it")
        if _require_data():
            pytest.fail(f"{message} ({REQUIRE_DATA_ENV} is set: the bAbI "
                        "tests must run)", pytrace=False)
        pytest.skip(message)
    return path
