"""benchmarks/act.py: a smoke run on tiny shapes."""

import json
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_benchmark_act_quick_run(tmp_path):
    """benchmarks/act.py runs end to end (tiny shapes): Keras' LSTM, the bare
    cell, ACT forced to ponder M = 1 and 3 times, and ACT with the default
    halting, XLA off and on, XLA really used in the jit rows; ratios
    consistent with the step times. Not a timing assertion."""
    out = tmp_path / "act.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "act.py"), "--quick",
         "--json", str(out)],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["xla_dropped"] == []
    rows = report["rows"]
    names = ("keras_lstm", "bare_cell", "act_1", "act_3", "act_typical")
    assert sorted((r["model"], r["jit"]) for r in rows) == sorted(
        (m, j) for m in names for j in (False, True))
    step = {(r["model"], r["jit"]): r["step_s"] for r in rows}
    for r in rows:
        assert r["ratio_to_bare_cell"] == pytest.approx(
            r["step_s"] / step["bare_cell", r["jit"]])
        assert r["ratio_to_keras_lstm"] == pytest.approx(
            r["step_s"] / step["keras_lstm", r["jit"]])
        if r["max_ponder_steps"]:
            # Forced to ponder M times: N = M and R = 1 at every step.
            assert r["mean_ponder_time"] == pytest.approx(
                r["max_ponder_steps"] + 1, abs=1e-3)
            assert r["ratio_per_ponder_step"] == pytest.approx(
                r["ratio_to_bare_cell"] / r["max_ponder_steps"])
    typical = [r for r in rows if r["model"] == "act_typical"]
    assert all(1.0 < r["mean_ponder_time"] < 4.0 for r in typical)
