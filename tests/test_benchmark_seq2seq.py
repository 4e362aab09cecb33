"""benchmarks/seq2seq.py: a smoke run on tiny shapes."""

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_benchmark_seq2seq_quick_run(tmp_path):
    """benchmarks/seq2seq.py runs end to end (tiny shapes): training of ours
    against the Keras-only baseline and greedy / beam decoding, XLA off and
    on, XLA really used in the jit rows, every search run to max_length."""
    out = tmp_path / "seq2seq.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "seq2seq.py"), "--quick",
         "--json", str(out)],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(out.read_text())

    train = report["train"]
    assert sorted(r["jit"] for r in train) == [False, True]
    batch = report["args"]["batch"]
    for r in train:  # the figures are those of the timed samples
        samples = {m: np.asarray(r[f"{m}_timing"]["samples_s"])
                   for m in ("ours", "keras")}
        median = {m: np.median(t) for m, t in samples.items()}
        assert all(np.all(t > 0) for t in samples.values())
        assert r["ours_seq_per_s"] == pytest.approx(batch / median["ours"])
        assert r["keras_seq_per_s"] == pytest.approx(batch / median["keras"])
        assert r["ratio"] == pytest.approx(median["keras"] / median["ours"])
        assert r["paired_ratio"] == pytest.approx(
            np.median(samples["keras"] / samples["ours"]))
    assert all(r["xla"] == "yes" for r in train if r["jit"])
    assert all(len(r["ours_timing"]["samples_s"]) == 2 for r in train)
    # Same layers, except that our decoder cell also reads the context
    # (input feeding): (2 units) x (4 units) more kernel weights.
    units = report["args"]["units"]
    params = report["parameters"]
    assert params["ours"] - params["keras"] == 8 * units**2

    decode = report["decode"]
    seen = {(r["method"], r["beam_width"], r["jit"]) for r in decode}
    assert seen == {(m, w, j) for m, w in (("greedy", 1), ("beam", 4))
                    for j in (False, True)}
    median = {}
    for r in decode:
        times = np.asarray(r["timing"]["samples_s"])
        median[r["method"], r["jit"]] = np.median(times)
        assert np.all(times > 0)
        assert r["seq_per_s"] == pytest.approx(batch / np.median(times))
        assert r["tokens_per_s"] == pytest.approx(
            r["seq_per_s"] * report["args"]["target_length"])
    assert all(r["xla"] == "yes" and r["traces"] == 1
               for r in decode if r["jit"])
    assert all(r["xla"] == "-" for r in decode if not r["jit"])
    ratios = report["decode_ratios"]
    assert set(ratios["beam_over_greedy_time"]) == {"off", "on"}
    assert set(ratios["xla_speedup"]) == {"greedy", "beam"}
    for label, jit in (("off", False), ("on", True)):
        assert ratios["beam_over_greedy_time"][label]["ratio"] == (
            pytest.approx(median["beam", jit] / median["greedy", jit]))
    for method in ("greedy", "beam"):
        assert ratios["xla_speedup"][method]["ratio"] == pytest.approx(
            median[method, False] / median[method, True])
    assert report["xla_dropped"] == []
    # How busy other processes kept the machine: a fraction, or None off
    # Linux; per row and for the whole run.
    for value in [report["others_load"]] + [r["others_load"]
                                             for r in train + decode]:
        assert value is None or 0.0 <= value <= 1.0
    assert len(report["load_average"]["start"]) == 3
