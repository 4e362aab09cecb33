"""benchmarks/ntm.py: a smoke run on tiny shapes."""

import json
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_benchmark_ntm_quick_run(tmp_path):
    """benchmarks/ntm.py runs end to end (tiny shapes): the NTM at each
    memory size and the LSTM baseline, XLA off and on, XLA really used in
    the jit rows; ratios consistent with the step times. Not a timing
    assertion."""
    out = tmp_path / "ntm.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "ntm.py"), "--quick",
         "--json", str(out)],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["xla_dropped"] == []
    rows = report["rows"]
    assert sorted((r["model"], r["jit"]) for r in rows) == sorted(
        (m, j) for m in ("ntm_8", "ntm_16", "lstm") for j in (False, True))
    step = {(r["model"], r["jit"]): r["step_s"] for r in rows}
    for r in rows:
        assert len(r["timing"]["samples_s"]) == report["args"]["repeats"]
        assert r["steps_per_s"] == pytest.approx(1 / r["step_s"])
        assert r["ratio_to_lstm"] == pytest.approx(
            r["step_s"] / step["lstm", r["jit"]])
        assert r["xla_speedup"] == pytest.approx(
            step[r["model"], False] / step[r["model"], True])
        if r["model"] == "ntm_8":
            assert r["relative_to_first"] == 1.0
    assert "| ntm_16 | 16 |" in result.stdout
