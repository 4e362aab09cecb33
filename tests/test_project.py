"""The project around the layers: README commands, CI, CLI, public API."""

import pathlib
import re

import keras_seqmem
from keras_seqmem import cli

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _readme_commands():
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def test_readme_starts_with_the_two_commands():
    text = (ROOT / "README.md").read_text()
    first_block = text.index("```bash")
    assert first_block < 40, "the commands must be the README's first lines"
    install_and_run, install_and_test = _readme_commands()[:2]
    assert "pip install" in install_and_run
    assert "keras-seqmem train" in install_and_run
    assert "pip install" in install_and_test and "pytest" in install_and_test


def test_ci_runs_exactly_the_readme_test_command():
    _, install_and_test = _readme_commands()[:2]
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert install_and_test in ci_lines


def test_cli_train_prints_a_result(capsys):
    code = cli.main([
        "train", "--task", "adding", "--length", "8", "--units", "8",
        "--epochs", "1", "--train-size", "256", "--test-size", "64",
        "--model", "leaky_rnn", "--layer-arg", "gamma_range=(1, 4)",
    ])
    out = capsys.readouterr().out
    assert code == 0
    match = re.search(r"RESULT task=adding model=leaky_rnn test_mse=(\S+)",
                      out)
    assert match, out
    assert float(match.group(1)) >= 0.0


def test_cli_lists_tasks(capsys):
    assert cli.main(["tasks"]) == 0
    out = capsys.readouterr().out
    for name in ("adding", "brackets", "halves"):
        assert name in out


def test_public_api_is_explicit():
    for name in keras_seqmem.__all__:
        assert hasattr(keras_seqmem, name), name


def test_benchmark_quick_run(tmp_path):
    """benchmarks/recurrent.py runs end to end (tiny shapes) and reports
    every layer against its Keras baseline, XLA really on for jit rows."""
    import json
    import subprocess
    import sys

    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "recurrent.py"), "--quick",
         "--json", str(out)],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    seen = {(r["layer"], r["baseline"], r["jit"], r["mode"]) for r in rows}
    for layer, baseline in (("PeepholeLSTM", "LSTM"), ("CoupledLSTM", "LSTM"),
                            ("LeakyRNN", "SimpleRNN")):
        for jit in (False, True):
            for mode in ("train", "infer"):
                assert (layer, baseline, jit, mode) in seen
    assert all(r["ratio"] > 0 for r in rows)
    assert all(r["xla"] == "yes" for r in rows if r["jit"])
