"""benchmarks/serving.py: a smoke run on tiny shapes."""

import json
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_benchmark_serving_quick_run(tmp_path):
    """benchmarks/serving.py runs end to end (tiny shapes): both exported
    models at batch 1 and 32, served outputs checked against Keras, p50 <=
    p99, throughput and ratios consistent with the latencies, standard ops
    only. Not a timing assertion."""
    out = tmp_path / "serving.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "serving.py"), "--quick",
         "--json", str(out)],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(out.read_text())
    rows = report["rows"]
    assert sorted((r["model"], r["batch"]) for r in rows) == sorted(
        (m, b) for m in ("ours", "keras") for b in (1, 32))
    assert {r["layer"] for r in rows} == {"peephole_lstm", "lstm"}
    p50 = {(r["model"], r["batch"]): r["p50_ms"] for r in rows}
    p99 = {(r["model"], r["batch"]): r["p99_ms"] for r in rows}
    for r in rows:
        key, keras_key = (r["model"], r["batch"]), ("keras", r["batch"])
        assert len(r["timing"]["samples_s"]) == report["args"]["repeats"]
        assert 0 < r["p50_ms"] <= r["p99_ms"]
        assert r["sequences_per_s"] == pytest.approx(
            r["batch"] / (r["p50_ms"] / 1e3))
        assert r["ratio_p50"] == pytest.approx(p50[keras_key] / p50[key])
        assert r["ratio_p99"] == pytest.approx(p99[keras_key] / p99[key])
        assert r["nonstandard_ops"] == []
    assert "| ours | peephole_lstm | 32 |" in result.stdout
