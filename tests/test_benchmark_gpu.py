"""benchmarks/gpu.py: the --quick run, the CPU refusal and the budget guard.

The quick run is a subprocess, started first; the other tests run in this
process meanwhile (the CPU refusal and the planted budget call `main`,
which stops before measuring anything). Not a timing assertion: every printed ratio is
checked against the ratio recomputed from the timed samples of the results
file, and the goal check against the rule applied to those ratios.
"""

import importlib
import json
import os
import pathlib
import re
import subprocess
import sys

import keras
import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu.py"
LAYERS = ("PeepholeLSTM", "CoupledLSTM", "LeakyRNN", "LayerNormLSTM",
          "LayerNormSimpleRNN")
TIMEOUT = 300

# The script compares with cuDNN, which Keras's LSTM uses under TensorFlow
# only; under another backend it refuses (exit status 2) before measuring.
pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="benchmarks/gpu.py runs under the TensorFlow backend only")


def _start(args, **env):
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), *args], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env={**os.environ, **env})


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gpu")
    procs = {
        "quick": (_start(["--quick", "--json", str(tmp / "quick.json")]),
                  tmp / "quick.json"),
    }
    yield procs
    for proc, _ in procs.values():
        if proc.poll() is None:
            proc.kill()


def _wait(runs, name):
    proc, path = runs[name]
    out, err = proc.communicate(timeout=TIMEOUT)
    return proc.returncode, out, err, path


def _ratio(timing, ours, base):
    """(ours / base throughput, paired) from the timed samples."""
    a = np.asarray(timing[base]["samples_s"])
    b = np.asarray(timing[ours]["samples_s"])
    return np.median(a) / np.median(b), np.median(a / b)


def _same(printed, value):
    """A printed 2-decimal figure is the value rounded."""
    return abs(float(printed) - value) <= 0.005 + 1e-9


def _gpu_module():
    """benchmarks/gpu.py imported here (its folder on sys.path only while
    importing)."""
    folder = str(ROOT / "benchmarks")
    sys.path.insert(0, folder)
    try:
        return importlib.import_module("gpu")
    finally:
        sys.path.remove(folder)


def test_budget_guard_uses_the_last_case_of_a_kind(runs):
    # Fake clock: a case starts only while spent + its estimate fits: the
    # last case of its kind, or for a new kind the longest case so far (0
    # before any). (Takes `runs` so that the subprocesses start first and
    # overlap this import.)
    gpu = _gpu_module()
    now = [0.0]
    budget = gpu.Budget(10.0, clock=lambda: now[0])
    assert budget.allows("a1", "a")  # 0 + 0
    now[0] = 3.0
    budget.done("a", 3.0)
    assert budget.allows("b1", "b")  # 3 + 3 (longest so far)
    now[0] = 4.0
    budget.done("b", 1.0)
    assert budget.allows("b2", "b")  # 4 + 1
    assert budget.allows("a2", "a")  # 4 + 3
    now[0] = 7.5
    assert not budget.allows("a3", "a")  # 7.5 + 3 > 10
    assert budget.allows("b3", "b")  # 7.5 + 1
    assert not budget.allows("c1", "c")  # 7.5 + 3 (longest) > 10
    now[0] = 10.5
    assert not budget.allows("b4", "b")
    assert [s["case"] for s in budget.skipped] == ["a3", "c1", "b4"]
    assert [s["estimate_s"] for s in budget.skipped] == [3.0, 3.0, 1.0]


def test_budget_guard_stops_adding_cases(tmp_path, capsys):
    # A planted budget of 0 s: the run says so for every case and measures
    # nothing (the quick run, in this process, stops before its first case).
    path = tmp_path / "budget.json"
    rc = _gpu_module().main(["--quick", "--budget", "0", "--json", str(path)])
    out = capsys.readouterr().out
    assert rc == 0, out
    report = json.loads(path.read_text())
    cases = [f"recurrent tiny {layer}" for layer in LAYERS]
    cases += ["ntm", "memn2n", "seq2seq"]
    assert [s["case"] for s in report["budget"]["skipped"]] == cases
    assert report["recurrent"] == [] and report["ntm"] is None
    assert report["memn2n"] is None and report["seq2seq"] is None
    for case in cases:
        assert f": skipping {case}\n" in out
    assert f"{len(cases)} case(s) skipped" in out
    assert all(report["goal"]["layers"][l]["met"] is None for l in LAYERS)
    assert out.count("not measured (budget)") == len(LAYERS)


def test_goal_check_follows_the_ratios(capsys):
    # "within 1.5x of cuDNN LSTM": met when every ratio against cuDNN is
    # >= 1 / 1.5, from the rows given (the quick run's ratios are all near
    # 1 on a CPU, so the verdict "not met" is checked here).
    gpu = _gpu_module()

    def row(layer, shape, mode, ratio, cudnn=True):
        return {"layer": layer, "shape": shape, "mode": mode,
                "ratio_cudnn": ratio, "cudnn": cudnn}

    rows = [row("A", "reference", "train", 0.90),
            row("A", "large", "infer", 0.67),  # 1 / 0.67 = 1.49x slower
            row("B", "reference", "train", 1.20),
            row("B", "large", "train", 0.66),  # 1.52x slower
            row("C", "reference", "infer", 2.0, cudnn=False)]
    goal = gpu.goal_check(rows, ["A", "B", "C", "D"])
    assert [goal[k]["met"] for k in "ABCD"] == [True, False, True, None]
    assert goal["B"]["worst"] == "large train"
    assert goal["B"]["worst_ratio_cudnn"] == 0.66
    gpu.print_goal(goal)
    out = capsys.readouterr().out
    assert "  A                   met (worst 0.67, large infer;" in out
    assert "  B                   not met (worst 0.66, large train;" in out
    assert "not a GPU figure" in out.split("  C ")[1]
    assert "not a GPU figure" not in out.split("  A ")[1].split("\n")[0]
    assert "  D                   not measured (budget)" in out


def test_refuses_gpu_figures_on_a_cpu(tmp_path, capsys, monkeypatch):
    # No GPU (device_info says CPU, whatever the machine has) and no
    # --quick / --allow-cpu: exit status 2, one line, no results file.
    gpu = _gpu_module()
    monkeypatch.setattr(gpu, "device_info", lambda: {
        "kind": "cpu", "name": "CPU", "gpus": [], "slug": "cpu"})
    path = tmp_path / "refuse.json"
    assert gpu.main(["--json", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1 and err.startswith("gpu.py: no GPU"), err
    assert "--quick" in err and "--allow-cpu" in err
    assert not path.exists()
    # --allow-cpu passes (a planted 0 s budget: nothing measured) and the
    # results file says it is a CPU run.
    assert gpu.main(["--allow-cpu", "--budget", "0", "--json",
                     str(path)]) == 0
    report = json.loads(path.read_text())
    assert report["cpu_run"] is True and report["quick"] is False
    assert "not GPU ones" in capsys.readouterr().out


def test_quick_run_prints_the_ratios_of_its_samples(runs):
    rc, out, err, path = _wait(runs, "quick")
    assert rc == 0, out[-3000:] + err[-3000:]
    report = json.loads(path.read_text())
    assert report["quick"] is True
    env = report["environment"]
    for key in ("command", "date", "tensorflow", "keras", "numpy", "python"):
        assert env[key]
    assert "--quick" in env["command"]
    assert report["device"]["name"]
    assert report["seeds"]["weights"] == 0
    assert report["budget"]["skipped"] == [] and report["xla_dropped"] == []
    assert report["errors"] == [] and report["complete"] is True
    repeats = report["args"]["repeats"]

    # Recurrent rows: every layer x mode, both ratios as printed.
    rows = report["recurrent"]
    assert {(r["layer"], r["mode"]) for r in rows} == {
        (l, m) for l in LAYERS for m in ("train", "infer")}
    printed = {}
    for line in out.splitlines():
        parts = line.split()
        if parts[:2] and parts[0] in LAYERS and parts[1] == "tiny":
            printed[parts[0], parts[2]] = parts
    assert len(printed) == len(rows)
    worst = {}
    for r in rows:
        timing = r["timing"]
        assert all(len(timing[m]["samples_s"]) == repeats
                   for m in ("ours", "cudnn", "lstm_xla"))
        p = printed[r["layer"], r["mode"]]
        batch = r["batch"]
        for col, model in ((3, "ours"), (4, "cudnn"), (5, "lstm_xla")):
            assert float(p[col]) == pytest.approx(
                batch / np.median(timing[model]["samples_s"]), abs=0.051)
        r_c, p_c = _ratio(timing, "ours", "cudnn")
        r_x, p_x = _ratio(timing, "ours", "lstm_xla")
        for col, value in ((6, r_c), (7, p_c), (8, r_x), (9, p_x)):
            assert _same(p[col], value), (p, col, value)
        assert p[11] == "yes"  # XLA really used by ours and LSTM+XLA
        assert r["cudnn"] is False  # no GPU: no cuDNN
        worst[r["layer"]] = min(worst.get(r["layer"], np.inf), r_c)

    # The goal check follows from the recomputed ratios.
    for layer in LAYERS:
        line = next(l for l in out.splitlines()
                    if l.startswith(f"  {layer} "))
        met = worst[layer] >= 1 / 1.5
        verdict = re.match(rf"  {layer} +(met|not met) \(worst (\S+),", line)
        assert verdict, line
        assert verdict.group(1) == ("met" if met else "not met"), line
        assert _same(verdict.group(2), worst[layer]), line
        assert report["goal"]["layers"][layer]["met"] == met
        assert "not a GPU figure" in line

    # NTM and MemN2N: ratio = baseline time / ours.
    for section, ours, base, title in (
            ("ntm", "ntm", "lstm", "ntm seq/s"),
            ("memn2n", "memn2n", "keras", "memn2n q/s")):
        line = next(l for l in out.splitlines() if l.startswith(title))
        ratio, paired = re.search(r"ratio (\S+) paired (\S+);", line).groups()
        r, p = _ratio(report[section]["timing"], ours, base)
        assert _same(ratio, r) and _same(paired, p), line
    assert report["memn2n"]["equivalence"]["logits"] <= 1e-4

    # Seq2Seq: beam / greedy time.
    s2s = report["seq2seq"]
    samples = {row["method"]: np.asarray(row["timing"]["samples_s"])
               for row in s2s["rows"]}
    line = next(l for l in out.splitlines() if "/ greedy time:" in l)
    ratio, paired = re.search(r"ratio (\S+) paired (\S+)", line).groups()
    assert _same(ratio, np.median(samples["beam"])
                 / np.median(samples["greedy"]))
    assert _same(paired, np.median(samples["beam"] / samples["greedy"]))
    assert all(row["xla"] == "yes" for row in s2s["rows"])
