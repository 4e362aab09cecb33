"""The `keras-seqmem` command line: quick help, a quiet start, defaults in
the help, one-line errors with exit status 2, bAbI folders holding only
some tasks, and every listed task trained through its command.

The console script is run as a process where that is what is checked (what
it imports, what it prints on stderr, its exit status); the rest calls
`keras_seqmem.cli.main` in this process (TensorFlow imported once).
"""

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

from keras_seqmem import cli
from keras_seqmem import training
from keras_seqmem.tasks import TASKS
import keras_seqmem_cli

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = pathlib.Path(sys.executable).with_name("keras-seqmem")
SUBCOMMANDS = ("train", "babi", "ntm", "tune", "tasks", "export")
HEAVY = ("tensorflow", "keras", "jax", "keras_seqmem")
# What TensorFlow wrote to stderr at the start of every command before the
# launcher (cpu_feature_guard.cc, port.cc's oneDNN notice and absl's
# pre-initialisation warning at import, XLA's service.cc at the first
# compilation, tf2xla's assert_op.cc for the sparse cross-entropy).
NOISE = ("cpu_feature_guard", "port.cc", "oneDNN", "absl::InitializeLog",
         "service.cc", "XLA service", "Ignoring Assert operator",
         "assert_op.cc", "device_compiler", "dump_mlir_util")


def _script_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k != "TF_CPP_MIN_LOG_LEVEL"}
    env.update(extra)
    return env


def _run_script(*argv, timeout=600, **env):
    assert SCRIPT.exists(), (
        f"no console script at {SCRIPT}: install the package "
        f"(pip install -e .)")
    return subprocess.run([sys.executable, *env.pop("python_flags", []),
                           str(SCRIPT), *argv],
                          capture_output=True, text=True, timeout=timeout,
                          env=_script_env(**env), cwd=ROOT)


# --- 1. help without Keras --------------------------------------------------


def test_console_script_points_at_the_launcher():
    tomllib = pytest.importorskip("tomllib")
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())[
        "project"]["scripts"]
    assert scripts == {"keras-seqmem": "keras_seqmem_cli:main"}
    assert "from keras_seqmem_cli import main" in SCRIPT.read_text(), (
        "the installed keras-seqmem script predates pyproject's entry: "
        "reinstall (pip install -e .)")


@pytest.mark.parametrize("argv", [["--help"]] + [[c, "--help"]
                                                  for c in SUBCOMMANDS])
def test_help_imports_no_keras(argv):
    """`keras-seqmem [COMMAND] --help` through the console script imports
    none of Keras, TensorFlow, JAX or keras_seqmem (`-X importtime` lists
    every module the process imported)."""
    result = _run_script(*argv, python_flags=["-X", "importtime"])
    assert result.returncode == 0, result.stderr[-3000:]
    prog = " ".join(["keras-seqmem"] + argv[:-1])
    assert result.stdout.startswith(f"usage: {prog} "), result.stdout[:300]
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0]
                for line in result.stderr.splitlines()
                if line.startswith("import time:")}
    assert "argparse" in imported  # the listing works
    assert not imported & set(HEAVY), sorted(imported & set(HEAVY))


def test_argument_errors_need_no_keras():
    """An argument error is reported by the launcher alone: one line,
    status 2, nothing heavy imported."""
    result = _run_script("babi", "--tasks", "21",
                         python_flags=["-X", "importtime"])
    assert result.returncode == 2, result.stderr[-3000:]
    lines = [x for x in result.stderr.splitlines()
             if not x.startswith("import time:")]
    assert lines == ["keras-seqmem babi: argument --tasks: bAbI tasks are "
                     "numbered 1 to 20, got 21 (in '21') (see `keras-seqmem "
                     "babi --help`)"], lines
    assert "Traceback" not in result.stderr
    assert not [x for x in result.stderr.splitlines()
                if x.startswith("import time:")
                and x.rsplit("|", 1)[-1].strip().split(".")[0] in HEAVY]


# --- 2. no TensorFlow start-up log ------------------------------------------


def test_a_real_command_prints_no_tensorflow_start_up_log(tmp_path):
    """`keras-seqmem train --task addition` XLA-compiled, through the
    console script, with TF_CPP_MIN_LOG_LEVEL unset: before the launcher it
    printed absl's warning, port.cc's oneDNN notice (twice),
    cpu_feature_guard.cc, XLA's service.cc lines and assert_op.cc's
    "Ignoring Assert operator"; now stdout and stderr hold none of them."""
    result = _run_script(
        "train", "--task", "addition", "--param", "num_digits=2",
        "--param", "max_length=3", "--model", "simple_rnn", "--units", "4",
        "--train-size", "64", "--test-size", "32", "--batch-size", "32",
        "--epochs", "1")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "RESULT task=addition" in result.stdout, output[-3000:]
    assert "jit_compile=True" in result.stdout
    found = [n for n in NOISE if n in output]
    assert not found, (found, result.stderr[-3000:])


def test_quiet_tensorflow_drops_only_the_start_up_lines():
    """The filter on file descriptor 2 during the heavy import: TensorFlow's
    unfiltered start-up lines go, any other line written meanwhile is kept
    (in order), and TF_CPP_MIN_LOG_LEVEL is set before the import unless
    the caller set it (=0: nothing filtered)."""
    code = r"""
import os, sys
from keras_seqmem_cli import quiet_tensorflow
with quiet_tensorflow():
    os.write(2, b"WARNING: All log messages before absl::InitializeLog() is "
                b"called are written to STDERR\n"
                b"I0000 00:00:1796237146.395701   16072 port.cc:153] oneDNN "
                b"custom operations are on. You may see slightly different "
                b"numerical results.\n"
                b"a real warning\n")
    print("python line", file=sys.stderr)
print("level", os.environ["TF_CPP_MIN_LOG_LEVEL"])
"""
    quiet = subprocess.run([sys.executable, "-c", code], capture_output=True,
                           text=True, env=_script_env(), cwd=ROOT)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == "a real warning\npython line\n"
    assert quiet.stdout == "level 2\n"
    loud = subprocess.run([sys.executable, "-c", code], capture_output=True,
                          text=True, env=_script_env(TF_CPP_MIN_LOG_LEVEL="0"),
                          cwd=ROOT)
    assert "port.cc:153] oneDNN" in loud.stderr
    assert loud.stdout == "level 0\n"


# --- 3. defaults in the help ------------------------------------------------


def _option_blocks(help_text):
    """`--flag`, and the text of its entry, of each option of a help."""
    blocks, current = [], None
    for line in help_text.split("options:", 1)[1].splitlines():
        if re.match(r"^  -", line):
            flags = [t.rstrip(",") for t in line.split()
                     if t.startswith("--")]
            current = [flags[0], line]
            blocks.append(current)
        elif current and line.startswith("    "):
            current[1] += " " + line.strip()
    return [(flag, " ".join(text.split())) for flag, text in blocks]


def test_help_shows_every_default():
    """Every option but the switches says its default in its help: the
    value itself where there is one; no literal %% anywhere."""
    parser = keras_seqmem_cli.build_parser()
    assert sorted(parser.subcommands) == sorted(SUBCOMMANDS)
    checked = 0
    for name, sub in parser.subcommands.items():
        text = sub.format_help()
        assert "%%" not in text and "%(" not in text, name
        for flag, entry in _option_blocks(text):
            if flag == "--help":
                continue
            default = sub.get_default(flag[2:].replace("-", "_"))
            if default is False:  # a switch: off unless given
                continue
            assert "default" in entry, (name, entry)
            if default is not None:
                value = (",".join(map(str, default))
                         if isinstance(default, list) else default)
                assert f"(default: {value})" in entry, (name, entry)
            checked += 1
    assert checked > 60, checked
    babi = " ".join(parser.subcommands["babi"].format_help().split())
    assert "best restart on a 10% validation split" in babi
    assert "(default: $KERAS_SEQMEM_BABI_DIR)" in babi
    train = " ".join(parser.subcommands["train"].format_help().split())
    assert "--units UNITS units of the recurrent layer (default: 64)" in train


def test_launcher_choices_match_the_library():
    """The launcher spells out the names it offers without importing Keras:
    they are the library's."""
    from keras_seqmem.attention.seq2seq import CELLS
    from keras_seqmem.tasks.babi import parse_tasks

    assert sorted(keras_seqmem_cli.MODELS) == sorted(
        training.RECURRENT_LAYERS) == sorted(CELLS)
    parse = keras_seqmem_cli.parse_babi_tasks
    for text in ("1", "1-20", "2,3", "1-3,7", "20"):
        assert parse(text) == parse_tasks(text), text


# --- 4. one line and status 2 for every user error --------------------------


def _fails(capsys, argv, *needles):
    """`keras-seqmem ARGV` in-process: SystemExit status 2 and stderr one
    line holding every needle; no training started."""
    with pytest.raises(SystemExit) as raised:
        cli.main(argv)
    captured = capsys.readouterr()
    assert raised.value.code == 2, (argv, raised.value.code, captured.err)
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("keras-seqmem"), (
        argv, captured.err)
    for needle in needles:
        assert needle in lines[0], (argv, needle, lines[0])
    assert "RESULT" not in captured.out and "training" not in captured.out
    return lines[0]


@pytest.fixture(scope="module")
def babi_task_1(babi_dir, tmp_path_factory):
    """A bAbI folder holding task 1's files only."""
    folder = tmp_path_factory.mktemp("babi_task_1")
    (folder / "en").mkdir()
    files = sorted((babi_dir / "en").glob("qa1_*.txt"))
    assert [f.name.rsplit("_", 1)[1] for f in files] == ["test.txt",
                                                         "train.txt"]
    for path in files:
        shutil.copy(path, folder / "en" / path.name)
    return folder


def test_missing_folder_and_file(capsys, tmp_path, babi_task_1):
    missing = tmp_path / "nowhere"
    _fails(capsys, ["babi", "--data-dir", str(missing)], str(missing),
           "does not exist")
    _fails(capsys, ["babi", "--data-dir", str(babi_task_1), "--tasks", "1,2"],
           "task 2", "qa2_*_train.txt", str(babi_task_1))
    _fails(capsys, ["export", str(tmp_path / "none.keras"),
                    str(tmp_path / "out")], "no file", "none.keras")
    (tmp_path / "text.keras").write_text("not a model")
    _fails(capsys, ["export", str(tmp_path / "text.keras"),
                    str(tmp_path / "out")], "not a loadable .keras model")


def test_unknown_task_model_and_babi_task_number(capsys):
    _fails(capsys, ["train", "--task", "nope"], "unknown task 'nope'",
           "keras-seqmem tasks", "adding")
    _fails(capsys, ["train", "--model", "nope"], "--model",
           "invalid choice: 'nope'", "peephole_lstm")
    _fails(capsys, ["babi", "--model", "nope"], "--model", "memn2n")
    _fails(capsys, ["ntm", "--task", "adding"], "--task", "copy")
    _fails(capsys, ["babi", "--tasks", "21"], "--tasks", "1 to 20", "21")
    _fails(capsys, ["babi", "--tasks", "0-3"], "1 to 20", "got 0")
    _fails(capsys, ["babi", "--tasks", "one"], "--tasks", "'one'")
    _fails(capsys, ["babi", "--tasks", "1,1"], "repeated")
    _fails(capsys, ["train", "--units", "0"], "--units", "positive")
    _fails(capsys, [], "required: COMMAND")
    _fails(capsys, ["nope"], "invalid choice: 'nope'")


TINY = ["--units", "4", "--train-size", "32", "--test-size", "32",
        "--epochs", "1", "--no-jit"]


def test_bad_task_layer_and_model_arguments(capsys):
    # --param / --length: a parameter the task does not take, a bad value.
    _fails(capsys, ["train", "--task", "adding", "--param", "nope=1"] + TINY,
           "--param", "'nope'", "adding")
    _fails(capsys, ["train", "--task", "adding", "--param", "length=-3"]
           + TINY, "--param", "length")
    _fails(capsys, ["train", "--task", "parity", "--length", "8"] + TINY,
           "--param/--length", "parity", "'size'")
    _fails(capsys, ["train", "--param", "novalue"], "--param", "KEY=VALUE")
    # --layer-arg: a key the layer does not take, a value it rejects.
    _fails(capsys, ["train", "--task", "adding", "--layer-arg", "nope=1"]
           + TINY, "--layer-arg", "nope", "peephole_lstm")
    _fails(capsys, ["train", "--task", "adding", "--model", "leaky_rnn",
                    "--layer-arg", "gamma_range=(5,1)"] + TINY,
           "--layer-arg", "gamma_range")
    _fails(capsys, ["train", "--task", "reversal", "--model", "gru",
                    "--layer-arg", "nope=1"] + TINY,
           "--layer-arg", "the gru cell", "nope")
    # --model-arg: a key or a value Seq2Seq rejects, or not a seq2seq task.
    _fails(capsys, ["train", "--task", "reversal", "--model-arg", "nope=1"]
           + TINY, "--model-arg", "Seq2Seq", "nope")
    _fails(capsys, ["train", "--task", "reversal", "--model-arg",
                    "attention_units=0"] + TINY,
           "--model-arg", "attention_units")
    _fails(capsys, ["train", "--task", "adding", "--model-arg",
                    "use_attention=False"] + TINY,
           "--model-arg", "seq2seq", "--layer-arg")
    _fails(capsys, ["train", "--task", "adding", "--beam-width", "2"] + TINY,
           "--beam-width", "seq2seq")
    # ntm: its task parameters and test lengths.
    _fails(capsys, ["ntm", "--param", "nope=1", "--steps", "1"],
           "keras-seqmem ntm", "--param", "'nope'")
    _fails(capsys, ["ntm", "--param", "num_bits=0", "--steps", "1"],
           "--param", "num_bits")


# --- 5. bAbI reads only the tasks asked for ---------------------------------


def test_babi_trains_from_a_folder_holding_only_its_task(capsys, babi_task_1):
    """A folder with task 1's files only: task 1 trains (one tiny epoch);
    task 2 there is one line naming the file it lacks."""
    argv = ["babi", "--data-dir", str(babi_task_1), "--epochs", "1",
            "--no-linear-start", "--hops", "1", "--embedding-dim", "8",
            "--no-jit"]
    assert cli.main(argv + ["--tasks", "1"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^RESULT babi tasks=1 model=memn2n test_error=[\d.]+ ",
                     out, re.M), out
    line = _fails(capsys, argv + ["--tasks", "2"], "qa2_*_train.txt",
                  "task 2")
    assert line.startswith("keras-seqmem babi: No bAbI file for task 2"), line


# --- 6. every listed task trains through its command ------------------------

# Tiny settings of each task for `train` (the NTM tasks: for `ntm`).
TINY_TASKS = {
    "adding": ["--length", "4"],
    "brackets": ["--length", "8"],
    "halves": ["--length", "8"],
    "parity": ["--param", "size=8"],
    "addition": ["--param", "num_digits=2", "--param", "max_length=3"],
    "dates": ["--embedding-dim", "4"],
    "reversal": ["--param", "max_length=4", "--param", "num_symbols=5",
                 "--embedding-dim", "4"],
    "copy": ["--param", "max_length=2"],
    "repeat_copy": ["--param", "max_length=2", "--param", "max_repeats=2"],
    "associative_recall": ["--param", "max_items=2"],
}


@pytest.fixture(scope="module")
def listed():
    """`keras-seqmem tasks`: {task: the command it names}."""
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["tasks"]) == 0
    rows = {}
    for line in out.getvalue().splitlines():
        match = re.match(r"^(\w+)\s.*\skeras-seqmem (\w+)\s", line)
        assert match, line
        rows[match.group(1)] = match.group(2)
    return rows


def test_tasks_lists_every_task_with_its_command(listed):
    assert sorted(listed) == sorted(TASKS) == sorted(TINY_TASKS)
    for name, command in listed.items():
        expected = "ntm" if TASKS[name].kind == "sequence" else "train"
        assert command == expected, name


@pytest.mark.parametrize("task", sorted(TINY_TASKS))
def test_every_listed_task_trains_through_its_command(task, listed, capsys):
    """One tiny epoch (or two steps) of each task of `keras-seqmem tasks`
    through the command it names; `train` refuses the others in one line
    naming that command."""
    spec = TASKS[task]
    if listed[task] == "train":
        argv = ["train", "--task", task, "--model", "gru", "--units", "8",
                "--epochs", "1",
                "--train-size", "64", "--test-size", "32", "--batch-size",
                "32", "--no-jit"] + TINY_TASKS[task]
        assert cli.main(argv) == 0
        out = capsys.readouterr().out
        match = re.search(rf"^RESULT task={task} model=gru "
                          rf"test_{spec.metric_name}=(\S+) \(chance baseline "
                          rf"[\d.]+, (lower|higher) is better\)", out, re.M)
        assert match, out[-3000:]
        value = float(match.group(1))
        assert value >= 0.0 and (spec.metric_name == "mse" or value <= 1.0)
        assert (match.group(2) == "lower") == (
            spec.metric_name in ("mse", "sequence_error"))
        return
    _fails(capsys, ["train", "--task", task],
           f"`keras-seqmem {listed[task]} --task {task}`")
    # The LSTM baseline: the command's plumbing at a fraction of the NTM's
    # cost (tests/test_sequence_training.py runs `ntm` with the NTM).
    argv = [listed[task], "--task", task, "--model", "lstm", "--units", "4",
            "--steps", "2", "--eval-every", "2", "--batch-size", "2",
            "--no-jit"] + TINY_TASKS[task]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert re.search(rf"^RESULT task={task} model=lstm bits_per_sequence="
                     rf"[\d.]+ .* steps=2 ", out, re.M), out[-3000:]


def test_train_result_of_addition_is_its_sequence_error():
    """`train_on_task` on addition: per-step digit logits, and the test
    metric is addition's sequence error of the model's own predictions."""
    from keras_seqmem.tasks import addition

    result = training.train_on_task(
        "addition", "gru", units=4, train_size=32, test_size=16,
        batch_size=16, epochs=1, jit_compile=False, verbose=0,
        num_digits=2, max_length=3)
    x, y, mask = addition.generate(16, seed=20_000, num_digits=2,
                                   max_length=3)
    logits = result.model.predict(x, verbose=0)
    assert logits.shape == (16, 3, 3, addition.NUM_CLASSES)
    assert result.metric_name == "sequence_error"
    assert result.test_metric == addition.sequence_error_rate(y, logits, mask)
    assert set(result.history) >= {"loss", "digit_accuracy", "val_loss"}
    assert json.dumps(result.history)  # plain floats
