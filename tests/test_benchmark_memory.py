"""benchmarks/memory.py: a smoke run on tiny shapes."""

import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_benchmark_memory_quick_run(tmp_path):
    """benchmarks/memory.py runs end to end (tiny shapes): training of our
    MemN2N against the Keras-only baseline for bag of words and position
    encoding, 50/100/200/400 slots and 1-4 hops, XLA off and on, XLA really
    used in the jit rows, the baseline checked to compute the same function.
    Not a timing assertion."""
    out = tmp_path / "memory.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "memory.py"), "--quick",
         "--json", str(out)],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(out.read_text())
    repeats = report["args"]["repeats"]

    headline = report["headline"]
    assert {(r["encoding"], r["jit"]) for r in headline} == {
        (e, j) for e in ("bow", "position") for j in (False, True)
    }
    assert all((r["slots"], r["hops"]) == (50, 3) for r in headline)

    by_slots = report["memory_size"]
    assert sorted((r["slots"], r["jit"]) for r in by_slots) == sorted(
        (n, j) for n in (50, 100, 200, 400) for j in (False, True)
    )
    assert all(r["hops"] == 3 for r in by_slots)
    by_hops = report["hops"]
    assert sorted((r["hops"], r["jit"]) for r in by_hops) == sorted(
        (k, j) for k in (1, 2, 3, 4) for j in (False, True)
    )
    assert all(r["slots"] == 50 for r in by_hops)
    for table, key, first in ((by_slots, "slots", 50), (by_hops, "hops", 1)):
        for r in table:
            assert r["ours_rel"] > 0 and r["keras_rel"] > 0
            if r[key] == first:
                assert r["ours_rel"] == r["keras_rel"] == 1.0

    rows = report["rows"]
    for r in rows + headline + by_slots + by_hops:
        assert r["ratio"] > 0 and r["paired_ratio"] > 0
        assert r["ours_q_per_s"] > 0 and r["keras_q_per_s"] > 0
        assert r["xla"] == ("yes" if r["jit"] else "-")
    for r in rows:  # every timed sample is kept
        assert len(r["ours_timing"]["samples_s"]) == repeats
        assert len(r["keras_timing"]["samples_s"]) == repeats
    assert report["xla_dropped"] == []

    # Same weights, same function: the parameter counts differ only by ours'
    # non-trainable softmax_weight (linear start's lambda).
    for p in report["parameters"].values():
        assert p["ours"] - p["keras"] == 1
        assert p["ours_trainable"] == p["keras_trainable"]
    check = report["equivalence_check"]
    assert len(check["max_relative"]) == 8  # unique configurations
    for diffs in check["max_relative"].values():
        assert max(diffs.values()) <= check["rtol"]

    # How busy other processes kept the machine: a fraction, or None off
    # Linux; per jit setting and for the whole run.
    for value in [report["others_load"]] + [
        b["others_load"] for b in report["timing_blocks"]
    ]:
        assert value is None or 0.0 <= value <= 1.0
    assert len(report["load_average"]["start"]) == 3
