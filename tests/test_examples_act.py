"""examples/act_parity.py runs and prints what it promises; the ponder
plots of keras_seqmem.plots."""

import importlib.util
import json
import pathlib
import re

import numpy as np
import pytest

from keras_seqmem import plots

ROOT = pathlib.Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n"


def _load():
    spec = importlib.util.spec_from_file_location(
        "act_parity", ROOT / "examples" / "act_parity.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_act_parity_quick_run(tmp_path, capsys):
    module = _load()
    assert module.main(["--quick", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| model | error rate | mean ponder time | train s |" in out
    rows = dict(re.findall(
        r"^\| (no ACT|ACT tau=0\.01) \| ([\d.]+) \| [\d.]+ \| \d+ \|$", out,
        re.M))
    assert set(rows) == {"no ACT", "ACT tau=0.01"}, out
    assert all(0.0 <= float(v) <= 1.0 for v in rows.values())
    assert re.search(r"^\| model \| 1-2 \| 3-4 \| 5-6 \| 7-8 \|$", out, re.M)
    results = json.loads((tmp_path / "results.json").read_text())
    act = results["runs"]["0.01"]
    # Ponder times are N + R: between 1 + ε-ish and M + 1.
    times = np.asarray(act["ponder_times"])
    assert times.shape == (200,) and times.min() > 1.0
    assert times.max() <= results["settings"]["max_ponder_steps"] + 1
    assert results["runs"]["none"]["ponder_time"] == 1.0
    for name in ("act_parity.png", "act_parity_ponder.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG
    # A rerun skips what is done.
    assert module.main(["--quick", "--out", str(tmp_path)]) == 0
    assert "skipped" in capsys.readouterr().out


def test_plot_ponder_time_and_by(tmp_path):
    path = plots.plot_ponder_time([2.0, 3.5, 1.2], tmp_path / "p.png",
                                  labels=["a", "b", "c"], max_ponder_steps=5)
    assert pathlib.Path(path).read_bytes()[:8] == PNG
    with pytest.raises(ValueError, match="timesteps"):
        plots.plot_ponder_time(np.ones((2, 3)), tmp_path / "x.png")
    with pytest.raises(ValueError, match="3 labels"):
        plots.plot_ponder_time([1, 2, 3], tmp_path / "x.png", labels=["a"])
    difficulty = np.array([1, 1, 2, 3])
    path = plots.plot_ponder_by(difficulty, {"a": [1, 2, 3, 4]},
                                tmp_path / "b.png")
    assert pathlib.Path(path).read_bytes()[:8] == PNG
    with pytest.raises(ValueError, match="shape"):
        plots.plot_ponder_by(difficulty, {"a": [1, 2]}, tmp_path / "y.png")
