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


def test_benchmark_ntm_ablation_quick_run(tmp_path):
    """benchmarks/ntm_ablation.py --quick runs end to end (tiny shapes, no
    XLA, the full NTM, one variant and the LSTM timed): the report's keys,
    ratios consistent with the step times, every variant of the addressing
    and write really in effect (its outputs, with the full model's weights,
    differ from the full NTM's), and the timed variant trained as itself
    (its unused head parameters left unchanged, the full NTM's all
    changed). Not a timing assertion."""
    out = tmp_path / "ntm_ablation.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "ntm_ablation.py"),
         "--quick", "--json", str(out)],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(out.read_text())
    assert {"args", "environment", "variants", "rows", "load_average",
            "max_abs_output_difference_from_full", "xla_dropped",
            "problems"} <= set(report)
    assert {"command", "date", "tensorflow", "keras"} <= set(
        report["environment"])
    assert report["problems"] == [] and report["xla_dropped"] == []
    differences = report["max_abs_output_difference_from_full"]["off"]
    assert sorted(differences) == sorted(
        ["full", "content_only", "no_shift", "no_sharpen", "no_content",
         "no_write"])
    assert differences["full"] == 0.0
    assert all(d > 0 for v, d in differences.items() if v != "full")
    rows = {r["model"]: r for r in report["rows"]}
    assert sorted(rows) == ["full", "lstm", "no_write"]
    for r in rows.values():
        assert r["jit"] is False
        assert len(r["timing"]["samples_s"]) == report["args"]["repeats"]
        assert r["step_ms"] == pytest.approx(1e3 * r["step_s"])
        assert r["ratio_to_lstm"] == pytest.approx(
            r["step_s"] / rows["lstm"]["step_s"])
        assert r["share_of_full"] == pytest.approx(
            r["step_s"] / rows["full"]["step_s"])
        assert r["saved_share_of_full"] == pytest.approx(
            1 - r["share_of_full"])
    # Training left exactly the unused head parameters as they were.
    assert rows["full"]["head_parameters_unchanged_by_training"] == []
    assert {"erase", "add"} <= set(
        rows["no_write"]["head_parameters_unchanged_by_training"])
    assert "| no_write | no |" in result.stdout
