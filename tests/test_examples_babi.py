"""examples/babi_memn2n.py: a tiny resumable run and its report."""

import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "examples" / "babi_memn2n.py"


def _run(*args, timeout=600):
    return subprocess.run([sys.executable, str(SCRIPT), *args],
                          capture_output=True, text=True, timeout=timeout)


def test_babi_example_trains_resumes_and_reports(tmp_path, babi_dir):
    """One restart of a few epochs on task 1: the example saves the run,
    prints our error next to the paper's, draws the hop attention, and a
    second invocation resumes (trains nothing already saved)."""
    args = ["--data-dir", str(babi_dir), "--output", str(tmp_path),
            "--tasks", "1", "--restarts", "1", "--epochs", "3", "--no-joint",
            "--plot-task", "1"]
    first = _run(*args)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    runs = json.loads((tmp_path / "task_01.json").read_text())
    assert [r["seed"] for r in runs["restarts"]] == [0]
    error = runs["restarts"][0]["test_error"]
    assert error < 0.5  # chance: 5/6
    line = next(l for l in first.stdout.splitlines()
                if l.strip().startswith("1 single-supporting-fact"))
    # ours, the paper's PE LS RN error (0.0) and the difference
    assert f"{100 * error:.1f}" in line and "0.0" in line, line
    assert "per task: 1 tasks, mean error" in first.stdout
    assert (tmp_path / "babi_task1_hops.png").exists()
    second = _run(*args, "--markdown")
    assert second.returncode == 0, second.stderr[-3000:]
    assert "training seeds" not in second.stdout
    row = next(l for l in second.stdout.splitlines()
               if l.startswith("| 1 | single-supporting-fact |"))
    assert row.split(" | ")[2] == f"{100 * error:.1f}", row
    assert "| | **failed (> 5%)** |" in second.stdout
    assert len(json.loads((tmp_path / "task_01.json").read_text())[
        "restarts"]) == 1


def test_babi_example_without_data_says_where_it_looked(tmp_path):
    result = _run("--data-dir", str(tmp_path / "nowhere"), "--report")
    assert result.returncode != 0
    assert "bAbI data not found" in result.stderr


def _fake_recipe(folder, accuracies, joint_accuracies, test_error):
    """A saved run of a recipe: per-task and joint restarts with the given
    validation accuracies (the same for every task) and test error."""
    folder.mkdir()

    def restarts(values):
        return [{"seed": i, "validation_accuracy": v, "validation_loss": 1.0,
                 "test_error": test_error} for i, v in enumerate(values)]

    for task in range(1, 21):
        (folder / f"task_{task:02d}.json").write_text(json.dumps(
            {"restarts": restarts(accuracies), "setting": {"name": folder.name}}))
    (folder / "joint.json").write_text(json.dumps(
        {"restarts": restarts(joint_accuracies)}))


def test_select_compares_recipes_on_validation_at_equal_restarts(tmp_path):
    """--select reads validation accuracy only, over the same number of
    restarts per recipe: a recipe whose edge comes from its extra restarts
    (and whose test error is lower) loses to one better at equal draws."""
    _fake_recipe(tmp_path / "more", [0.80] * 5 + [0.99] * 5, [0.8, 0.8],
                 test_error=0.0)
    _fake_recipe(tmp_path / "fewer", [0.85] * 5, [0.85, 0.85],
                 test_error=0.9)
    out = tmp_path / "selection.json"
    result = _run("--select", str(tmp_path / "more"), str(tmp_path / "fewer"),
                  "--select-out", str(out), timeout=120)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    choice = json.loads(out.read_text())
    assert pathlib.Path(choice["chosen"]).name == "fewer"
    rows = {pathlib.Path(r["folder"]).name: r for r in choice["candidates"]}
    assert rows["more"]["compared_restarts_per_task"] == 5
    assert abs(rows["more"]["mean_best_validation_accuracy"] - 0.80) < 1e-9
    assert abs(rows["more"]["all_restarts_mean_best_validation_accuracy"]
               - 0.99) < 1e-9
    assert abs(rows["fewer"]["joint_best_validation_accuracy"] - 0.85) < 1e-9
