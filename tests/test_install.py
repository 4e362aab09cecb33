"""The install: a slim core and one-line errors naming the missing extra.

`pip install keras-seqmem` installs Keras and NumPy only; the tools come
from extras (pyproject.toml). Each check runs in a fresh Python process:

* `import keras_seqmem` and building every public layer import none of the
  tools (KerasTuner, TensorFlow Datasets, matplotlib, TensorBoard).
  Keras itself imports matplotlib when it is installed, and TensorFlow
  imports SciPy and scikit-learn, so the checks hide the tools with an
  import hook (as if they were not installed): the layers must still
  build, and no import of a tool may come from a keras_seqmem file.
* With a tool hidden, the feature that needs it raises one line naming the
  `pip install` that provides it, and the `keras-seqmem` command prints
  that line and exits with status 2, without a traceback.
"""

import importlib.util
import json
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = str(ROOT / "keras_seqmem")
TOOLS = ("keras_tuner", "tensorflow_datasets", "matplotlib", "tensorboard")

# An import hook that makes `hidden` look uninstalled, and records who
# asked: the innermost frame outside importlib of every attempt.
HIDE = '''
import importlib.abc, json, sys, traceback
HIDDEN = set({hidden!r})
ATTEMPTS = []

class _Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] not in HIDDEN:
            return None
        frames = [f for f in traceback.extract_stack()[:-1]
                  if "importlib" not in f.filename]
        ATTEMPTS.append([name, frames[-1].filename if frames else "?"])
        raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)

sys.meta_path.insert(0, _Hide())
'''

# Builds and calls every public layer of keras_seqmem on small inputs.
BUILD = '''
import numpy as np
import keras
import keras_seqmem as k

rng = np.random.default_rng(0)
x = rng.random((2, 5, 3)).astype("float32")
story = rng.integers(1, 10, (2, 4, 3))
question = rng.integers(1, 10, (2, 3))
built = {}

def use(name, layer, *args, **kwargs):
    built[name] = layer
    out = layer(*args, **kwargs) if args else layer
    for t in keras.tree.flatten(out) if args else []:
        assert np.all(np.isfinite(keras.ops.convert_to_numpy(t))), name

use("LeakyRNN", k.LeakyRNN(4), x)
use("PeepholeLSTM", k.PeepholeLSTM(4), x)
use("CoupledLSTM", k.CoupledLSTM(4), x)
use("LeakyRNNCell", keras.layers.RNN(k.LeakyRNNCell(4)), x)
use("PeepholeLSTMCell", keras.layers.RNN(k.PeepholeLSTMCell(4)), x)
use("CoupledLSTMCell", keras.layers.RNN(k.CoupledLSTMCell(4)), x)
use("RNN", k.RNN(k.LeakyRNNCell(4), return_sequences=True), x)
use("BahdanauAttention", k.BahdanauAttention(4), [x[:, 0], x])
use("LuongAttention", k.LuongAttention(3), [x[:, 0], x])  # units = query depth
use("BahdanauMonotonicAttention", k.BahdanauMonotonicAttention(4),
    [x[:, 0], x])
use("LuongMonotonicAttention", k.LuongMonotonicAttention(3), [x[:, 0], x])
use("KerasAttentionAdapter", k.KerasAttentionAdapter(keras.layers.Attention()), [x[:, 0], x])
use("LayerNormLSTM", k.LayerNormLSTM(4), x)
use("LayerNormSimpleRNN", k.LayerNormSimpleRNN(4), x)
use("LayerNormLSTMCell", keras.layers.RNN(k.LayerNormLSTMCell(4)), x)
use("LayerNormSimpleRNNCell",
    keras.layers.RNN(k.LayerNormSimpleRNNCell(4)), x)
use("AttentiveDecoder",
    k.AttentiveDecoder(keras.layers.LSTMCell(4), attention=4), [x, x])
use("KeyValueMemory", k.KeyValueMemory(), [x[:, 0], x, x])
use("MemN2N", k.MemN2N(vocab_size=10, embedding_dim=4, hops=2,
                       memory_size=5), [story, question])
use("KeyValueMemoryNetwork",
    k.KeyValueMemoryNetwork(vocab_size=10, embedding_dim=4, hops=1,
                            memory_size=5), [story, story[..., :1], question])
use("LinearStart", k.LinearStart(patience=1, max_epochs=2))
use("NTM", k.NTM(controller=8, memory_size=6, word_size=4, units=4), x)
use("NTMCell", keras.layers.RNN(k.NTMCell(keras.layers.LSTMCell(8),
                                          memory_size=6, word_size=4,
                                          units=4)), x)
use("ACT", keras.layers.RNN(k.ACT(keras.layers.SimpleRNNCell(4),
                                  max_ponder_steps=3, time_penalty=0.0)), x)
use("ACTRNN", k.ACTRNN(k.ACT(keras.layers.SimpleRNNCell(4),
                             max_ponder_steps=3)), x)
use("Seq2Seq", k.Seq2Seq(source_vocab_size=10, target_vocab_size=10,
                         embedding_dim=4, units=4, max_decode_length=3),
    [question, question])
missing = sorted(set(k.__all__) - set(built))
assert not missing, f"tests/test_install.py builds no {missing}"

# The parts of the package that need no tool: tasks, training, the CLI.
from keras_seqmem import cli, sequence_training, tasks, training  # noqa
cli.build_parser()
tasks.get_task("adding").generate(4, seed=0)
'''

REPORT = '''
print("REPORT " + json.dumps({
    "backend": keras.backend.backend(),
    "attempts": ATTEMPTS,
    "tools": sorted({m.partition(".")[0] for m in sys.modules}
                    & set(%r)),
}))
''' % (TOOLS,)


def _python(code, backend="tensorflow", timeout=600):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _report(result):
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (line,) = [x for x in result.stdout.splitlines()
               if x.startswith("REPORT ")]
    return json.loads(line[len("REPORT "):])


def _ours(attempts):
    return [(name, where) for name, where in attempts
            if where.startswith(PACKAGE)]


BACKENDS = [
    "tensorflow",
    pytest.param("jax", marks=pytest.mark.skipif(
        importlib.util.find_spec("jax") is None,
        reason="JAX is not installed (the `jax` extra)")),
]


@pytest.mark.parametrize("backend", BACKENDS)
def test_layers_build_with_every_tool_uninstalled(backend):
    """With KerasTuner, TFDS, matplotlib and TensorBoard hidden, the
    package imports and every public layer builds and runs; no import of a
    tool came from keras_seqmem (Keras' own attempt at matplotlib is
    Keras')."""
    report = _report(_python(HIDE.format(hidden=TOOLS) + BUILD + REPORT,
                             backend))
    assert report["backend"] == backend
    assert report["tools"] == []
    assert _ours(report["attempts"]) == []


def test_import_adds_no_tool_to_what_keras_imports():
    """Installed and not hidden, the tools that `import keras_seqmem` and
    the layers bring in are those that Keras and TensorFlow bring in on
    their own (Keras imports matplotlib when it is installed)."""
    ours = _report(_python(HIDE.format(hidden=()) + BUILD + REPORT))
    baseline = _report(_python(HIDE.format(hidden=()) + textwrap.dedent('''
        import numpy as np
        import keras
        import tensorflow
        keras.layers.LSTM(4)(np.zeros((2, 5, 3), "float32"))
        ''') + REPORT))
    assert set(ours["tools"]) <= set(baseline["tools"]), (ours, baseline)
    assert "keras_tuner" not in ours["tools"]
    assert "tensorflow_datasets" not in ours["tools"]


# --- the one-line messages --------------------------------------------------

TUNE = 'keras_seqmem.tuning needs KerasTuner: pip install "keras-seqmem[tune]"'
DATA = ('keras_seqmem.tasks.babi_tfds needs TensorFlow Datasets: '
        'pip install "keras-seqmem[data]"')
PLOTS = ('keras_seqmem.plots needs matplotlib: '
         'pip install "keras-seqmem[plots]"')
TUNE_TB = ('KerasTuner on the TensorFlow backend needs TensorBoard: '
           'pip install "keras-seqmem[tune]"')


# (statement, hidden modules, message), run in this order in one process:
# the tuning package is imported for real only after its own check.
LIBRARY = [
    ("import keras_seqmem.tuning", ["keras_tuner"], TUNE),
    ("from keras_seqmem.tuning import make_tuner", ["keras_tuner"], TUNE),
    ("import keras_seqmem.tasks.babi_tfds", ["tensorflow_datasets"], DATA),
    ("from keras_seqmem import plots; plots.plot_ponder_time("
     "[1.0, 2.0], os.path.join(tmp, 'p.png'))", ["matplotlib"], PLOTS),
    ("from keras_seqmem import tuning; tuning.make_tuner('random', "
     "tuning.RecurrentHyperModel('adding'), directory=tmp)",
     ["tensorboard"], TUNE_TB),
]

CLI = [
    (["train", "--task", "adding", "--length", "4", "--units", "4",
      "--train-size", "32", "--test-size", "32", "--epochs", "1",
      "--tensorboard", "{tmp}"], ["tensorboard"],
     '--tensorboard needs TensorBoard: '
     'pip install "keras-seqmem[tensorboard]"'),
    (["train", "--task", "reversal", "--alignment-plot", "{tmp}/a.png"],
     ["matplotlib"],
     '--alignment-plot needs matplotlib: pip install "keras-seqmem[plots]"'),
    (["babi", "--data-dir", "{tmp}", "--attention-plot", "{tmp}/h.png"],
     ["matplotlib"],
     '--attention-plot needs matplotlib: pip install "keras-seqmem[plots]"'),
    (["ntm", "--weightings-plot", "{tmp}/w.png"], ["matplotlib"],
     '--weightings-plot needs matplotlib: pip install "keras-seqmem[plots]"'),
    # Last, as the process itself: its exit status and stderr.
    (["tune", "--task", "adding", "--directory", "{tmp}"],
     ["keras_tuner"], TUNE),
]


def _run_hidden(code, tmp):
    """Runs `code` after the import hook and returns (REPORT value,
    process). `hide(modules)` hides modules from then on; matplotlib is
    hidden throughout, as Keras imports it at once when it can."""
    prelude = HIDE.format(hidden=("matplotlib",)) + textwrap.dedent(f"""
        import contextlib, io, os, traceback
        tmp = {str(tmp)!r}

        def hide(modules):
            HIDDEN.clear()
            HIDDEN.update(["matplotlib", *modules])
        """)
    result = _python(prelude + textwrap.dedent(code))
    lines = [x for x in result.stdout.splitlines() if x.startswith("REPORT ")]
    assert len(lines) == 1, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads(lines[0][len("REPORT "):]), result


def test_a_missing_extra_is_one_line_naming_the_pip_install(tmp_path):
    """With the package of an extra hidden, the feature raises a
    `MissingExtraError` (an ImportError) whose message is exactly the one
    line naming the `pip install`."""
    errors, _ = _run_hidden(f"""
        errors = []
        for statement, hidden in {[(s, h) for s, h, _ in LIBRARY]!r}:
            hide(hidden)
            try:
                exec(statement)
            except Exception as error:
                errors.append([type(error).__name__, str(error),
                               isinstance(error, ImportError)])
            else:
                errors.append(None)
        print("REPORT " + json.dumps(errors))
        """, tmp_path)
    expected = [["MissingExtraError", m, True] for _, _, m in LIBRARY]
    assert errors == expected


def test_cli_prints_the_line_and_exits_2(tmp_path):
    """`keras-seqmem ...` with the extra's package hidden: status 2, stderr
    exactly `keras-seqmem: <message>`, no traceback, no training. The last
    command runs as the process's own exit (TensorFlow may log to stderr
    before the line)."""
    commands = [([a.format(tmp=tmp_path) for a in argv], hidden)
                for argv, hidden, _ in CLI]
    outcomes, process = _run_hidden(f"""
        from keras_seqmem.cli import main
        outcomes = []
        for argv, hidden in {commands[:-1]!r}:
            hide(hidden)
            out, err = io.StringIO(), io.StringIO()
            try:
                with contextlib.redirect_stdout(out), \\
                        contextlib.redirect_stderr(err):
                    status = main(argv)
            except BaseException:
                status = traceback.format_exc()
            outcomes.append([status, err.getvalue(),
                             "RESULT" in out.getvalue()])
        print("REPORT " + json.dumps(outcomes), flush=True)
        hide({commands[-1][1]!r})
        sys.exit(main({commands[-1][0]!r}))
        """, tmp_path)
    expected = [[2, f"keras-seqmem: {m}\n", False] for _, _, m in CLI[:-1]]
    assert outcomes == expected
    stderr = process.stderr
    assert process.returncode == 2, process.stdout[-2000:] + stderr[-3000:]
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1] == f"keras-seqmem: {CLI[-1][2]}"
    assert [x for x in stderr.splitlines() if x.startswith("keras-seqmem:")
            ] == [f"keras-seqmem: {CLI[-1][2]}"]


def test_kerastuner_distributed_mode_is_read_from_its_environment(
        monkeypatch):
    """KerasTuner's documented variables decide chief and worker; an oracle
    address without the rest is a one-line error."""
    from keras_seqmem import cli

    for name in cli.KERASTUNER_ENV:
        monkeypatch.delenv(name, raising=False)
    assert cli._kerastuner_role() is None
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    with pytest.raises(SystemExit, match="KERASTUNER_TUNER_ID and "
                       "KERASTUNER_ORACLE_PORT$"):
        cli._kerastuner_role()
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", "8000")
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "chief")
    assert cli._kerastuner_role() == "chief"
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "tuner0")
    assert cli._kerastuner_role() == "worker"


def test_pyproject_core_is_keras_and_numpy():
    """The core dependencies are Keras and NumPy; every tool is an extra,
    and `all`/`test` hold every tool."""
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert sorted(d.split(">")[0].split("<")[0].split("=")[0]
                  for d in project["dependencies"]) == ["keras", "numpy"]
    extras = project["optional-dependencies"]
    for name in ("tensorflow", "tensorflow-cpu", "cpu", "gpu", "jax", "tune",
                 "data", "plots", "tensorboard", "all", "test"):
        assert name in extras, name
    assert extras["all"] == ["keras-seqmem[tune,data,plots,tensorboard]"]
    assert "keras-seqmem[all,jax]" in extras["test"]
    assert any(d.startswith("tensorboard") for d in extras["tune"])


def test_ci_compat_tests_the_declared_floors():
    """.ci/compat's oldest pair is pyproject's floors: keras, tensorflow-cpu
    (the same in every TensorFlow extra) and jax."""
    import re

    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + [
        r for extra in ("tensorflow", "tensorflow-cpu", "cpu", "gpu", "jax")
        for r in project["optional-dependencies"][extra]]
    floors = {}
    for requirement in requirements:
        name, floor = re.match(r"([\w-]+)(?:\[[\w-]+\])?>=([\d.]+)",
                               requirement).groups()
        floors.setdefault(name.replace("tensorflow-cpu", "tensorflow"),
                          set()).add(floor)
    assert all(len(v) == 1 for v in floors.values()), floors
    script = (ROOT / ".ci" / "compat").read_text()
    pins = dict(re.findall(r'"([\w-]+)==([\d.]+)"',
                           re.search(r"OLDEST_PINS=\((.*?)\)", script,
                                     re.S).group(1)))
    assert pins["keras"] == floors["keras"].pop()
    assert pins["tensorflow-cpu"] == floors["tensorflow"].pop()
    assert pins["jax"] == pins["jaxlib"] == floors["jax"].pop()
