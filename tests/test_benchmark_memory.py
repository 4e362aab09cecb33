"""benchmarks/memory.py: a smoke run on tiny shapes."""

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

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
    # Every derived figure is the one its timed samples give (a positive
    # number alone would also pass for a wrong formula).
    rows = report["rows"]
    by_config = {(r["encoding"], r["slots"], r["hops"], r["jit"]): r
                 for r in rows}
    assert len(by_config) == len(rows)
    for table, key, first in ((by_slots, "slots", 50), (by_hops, "hops", 1)):
        for r in table:
            base = next(b for b in table
                        if b[key] == first and b["jit"] == r["jit"])
            for model in ("ours", "keras"):
                assert r[f"{model}_rel"] == pytest.approx(
                    r[f"{model}_step_s"] / base[f"{model}_step_s"])
            if r[key] == first:
                assert r["ours_rel"] == r["keras_rel"] == 1.0
    batch = report["args"]["batch"]
    for r in rows:  # every timed sample is kept, the figures are theirs
        samples = {m: np.asarray(r[f"{m}_timing"]["samples_s"])
                   for m in ("ours", "keras")}
        for model, times in samples.items():
            assert len(times) == repeats and np.all(times > 0)
            assert r[f"{model}_step_s"] == pytest.approx(np.median(times))
        assert r["paired_ratio"] == pytest.approx(
            np.median(samples["keras"] / samples["ours"]))
    for r in rows + headline + by_slots + by_hops:
        row = by_config[r["encoding"], r["slots"], r["hops"], r["jit"]]
        for model in ("ours", "keras"):
            assert r[f"{model}_step_s"] == row[f"{model}_step_s"]
            assert r[f"{model}_q_per_s"] == pytest.approx(
                batch / r[f"{model}_step_s"])
        assert r["ratio"] == pytest.approx(
            r["keras_step_s"] / r["ours_step_s"])
        assert r["paired_ratio"] == row["paired_ratio"]
        assert r["xla"] == ("yes" if r["jit"] else "-")
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
