"""examples/long_memory.py: its results file, and the selection that never
sees test data (issue 16)."""

import importlib.util
import json
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _load():
    spec = importlib.util.spec_from_file_location(
        "long_memory_under_test", ROOT / "examples" / "long_memory.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- pure functions -------------------------------------------------------


def test_validation_summary_best_final_and_first_epoch_below():
    lm = _load()
    s = lm.validation_summary([0.2, 0.05, 0.009, 0.02, 0.004], "mse")
    assert s["best_val_mse"] == 0.004 and s["best_epoch"] == 5
    assert s["final_val_mse"] == 0.004
    assert s["first_epoch_val_below_0.01"] == 3
    s = lm.validation_summary([0.2, 0.003, 0.05], "mse")
    assert (s["best_val_mse"], s["best_epoch"], s["final_val_mse"]) == (
        0.003, 2, 0.05)
    assert lm.validation_summary([0.2, 0.1], "mse")[
        "first_epoch_val_below_0.01"] is None
    s = lm.validation_summary([0.5, 0.97, 0.9], "accuracy")
    assert (s["best_val_accuracy"], s["best_epoch"]) == (0.97, 2)
    assert s["first_epoch_val_at_0.95"] == 2


def test_selection_score_counts_solved_models_first():
    lm = _load()
    # Two models solved (one barely) beat one model solved very well.
    two = [{"best_val_mse": 0.009}, {"best_val_mse": 0.0099},
           {"best_val_mse": 0.16}]
    one = [{"best_val_mse": 1e-6}, {"best_val_mse": 0.02},
           {"best_val_mse": 0.02}]
    assert lm.score_candidate(two, "mse")[0] == 2
    assert lm.score_candidate(one, "mse")[0] == 1
    assert lm.score_candidate(one, "mse")[1] < lm.score_candidate(
        two, "mse")[1]
    assert sorted([one, two], key=lambda r: (
        -lm.score_candidate(r, "mse")[0],
        lm.score_candidate(r, "mse")[1]))[0] is two


# --- the defaults are the selection's choice ------------------------------


def _latest_selection():
    files = sorted(ROOT.glob(
        "examples/results/long_memory_*/selection_adding_200.json"))
    assert files, "no examples/results/long_memory_*/selection_adding_200.json"
    return json.loads(files[-1].read_text())


def test_defaults_are_what_the_committed_selection_chose():
    lm = _load()
    selection = _latest_selection()
    assert selection["complete"] and selection["kind"] == (
        "long_memory selection")
    assert "test_mse" not in json.dumps(selection)
    choice = selection["choice"]
    args = lm.parse_args([])
    assert args.learning_rate == choice["learning_rate"]
    assert args.leaky_activation == choice["leaky_activation"]
    assert lm.layer_kwargs_for("leaky_rnn")["activation"] == (
        choice["leaky_activation"])
    # The grid was the declared one, over the default run's models and data.
    assert selection["grid"] == {
        "learning_rate": list(lm.SELECTION_LEARNING_RATES),
        "leaky_activation": list(lm.SELECTION_ACTIVATIONS)}
    s = selection["settings"]
    for key in ("task", "length", "units", "train_size", "batch_size",
                "models"):
        assert s[key] == getattr(args, key), key
    assert s["epochs"] == lm.SELECTION_EPOCHS


# --- quick runs (XLA off, tiny sizes) -------------------------------------


@pytest.fixture(scope="module")
def quick_selection(tmp_path_factory):
    """`--quick --select`, recording every generated split's seed, with
    `train_on_task` (which evaluates on the test split) trapped. (Keras's
    `evaluate` cannot be trapped: `fit` calls it for the validation split.)"""
    lm = _load()
    from keras_seqmem import tasks
    from keras_seqmem import training

    out = tmp_path_factory.mktemp("select")
    seeds_generated = []
    real_make_dataset = tasks.make_dataset

    def recording_make_dataset(task, num_examples, *args, **kwargs):
        seeds_generated.append(kwargs.get("seed"))
        return real_make_dataset(task, num_examples, *args, **kwargs)

    def forbidden(*args, **kwargs):
        raise AssertionError("selection mode touched the test split")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tasks, "make_dataset", recording_make_dataset)
        mp.setattr(training, "train_on_task", forbidden)
        import contextlib
        import io
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            code = lm.main(["--quick", "--select", "--models", "leaky_rnn",
                            "--select-epochs", "2", "--results-dir",
                            str(out)])
    assert code == 0
    path = out / "selection_adding_10.json"
    # The folder's name (pytest's tmp path) is no report of test data.
    printed = buffer.getvalue().replace(str(out), "<dir>")
    return json.loads(path.read_text()), printed, seeds_generated


@pytest.mark.integration
def test_selection_never_generates_or_reports_test_data(quick_selection):
    payload, out, seeds = quick_selection
    # Training seed 0 and validation seed 10,000 only; the test split of
    # train_on_task is seed 20,000.
    assert set(seeds) == {0, 10_000}, seeds
    assert "test" not in out.lower(), out
    assert not any(k.startswith("test_") for r in payload["runs"] for k in r)
    assert payload["test_split"].startswith("never")
    assert len(payload["runs"]) == 4  # leaky_rnn x 2 activations x 2 lrs
    assert len(payload["candidates"]) == 4
    for r in payload["runs"]:
        curve = r["val_mse_per_epoch"]
        assert len(curve) == 2
        assert r["best_val_mse"] == min(curve)
        assert r["final_val_mse"] == curve[-1]
    best = min(payload["candidates"],
               key=lambda c: c["mean_log10_best_val_mse"])
    # Nothing solves a 2-epoch quick run: the tie-break decides.
    assert all(c["models_solved_on_validation"] == 0
               for c in payload["candidates"])
    assert payload["choice"] == {"learning_rate": best["learning_rate"],
                                 "leaky_activation": best["leaky_activation"]}
    assert re.search(r"^choice: learning rate [\d.e-]+, leaky_rnn activation "
                     r"(tanh|relu)", out, re.M), out


@pytest.mark.integration
def test_results_file_and_the_table_printed_from_it(
        quick_selection, tmp_path, capsys):
    lm = _load()
    assert lm.main(["--quick", "--models", "leaky_rnn", "simple_rnn",
                    "--epochs", "2", "--results-dir", str(tmp_path),
                    "--plot", str(tmp_path / "c.png")]) == 0
    out = capsys.readouterr().out
    results = tmp_path / "adding_10_seed0_leaky_rnn-simple_rnn.json"
    assert sorted(tmp_path.glob("*.json")) == [results]
    payload = json.loads(results.read_text())
    assert payload["complete"] and payload["kind"] == "long_memory results"
    for key in ("python", "keras", "tensorflow"):
        assert payload["versions"][key]
    assert payload["seeds"] == [0]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", payload["date"])
    assert payload["cpu_count"] >= 1
    assert payload["command"].startswith("python examples/long_memory.py")
    assert [r["model"] for r in payload["runs"]] == ["leaky_rnn",
                                                      "simple_rnn"]
    for r in payload["runs"]:
        curve = r["val_mse_per_epoch"]
        assert len(curve) == 2 and r["best_val_mse"] == min(curve)
        assert r["final_val_mse"] == curve[-1]
        assert r["params"] > 0 and r["train_seconds"] > 0
        # The printed table is the file's, to its 4 digits.
        assert re.search(rf"^\| {r['model']} +\| +0 \| +[\d,]+ \| +"
                         rf"{r['test_mse']:.4f} \|", out, re.M), out
    # The selection trains on the same data from the same initial weights
    # as the default run: same seed, lr and activation, same curve.
    selected = [r for r in quick_selection[0]["runs"]
                if r["learning_rate"] == payload["settings"]["learning_rate"]
                and r["leaky_activation"] == lm.LEAKY_ACTIVATION]
    assert len(selected) == 1
    assert selected[0]["val_mse_per_epoch"] == pytest.approx(
        payload["runs"][0]["val_mse_per_epoch"], rel=1e-5)
    # --replot redraws from the file alone and prints the same table.
    png = tmp_path / "again.png"
    assert lm.main(["--replot", str(results),
                    "--plot", str(png)]) == 0
    again = capsys.readouterr().out
    table = out[out.index("| model "):out.index("(lower is better")]
    assert table in again
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_replot_refuses_a_selection_file_and_a_missing_file(
        tmp_path, capsys):
    lm = _load()
    sel = tmp_path / "selection.json"
    sel.write_text(json.dumps({"kind": "long_memory selection"}))
    assert lm.main(["--replot", str(sel), "--plot",
                    str(tmp_path / "x.png")]) == 2
    assert "not a results file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        lm.main(["--replot", str(tmp_path / "missing.json")])
    assert exc.value.code == 2
    assert "--replot: no file" in capsys.readouterr().err


def _fake_results(models, **settings):
    runs = [{"model": m, "seed": 0, "params": 10, "best_val_mse": 0.1,
             "best_epoch": 1, "final_val_mse": 0.1,
             "first_epoch_val_below_0.01": None, "test_mse": 0.2,
             "baseline": 1 / 6, "solved": False, "train_seconds": 1.0,
             "val_mse_per_epoch": [0.1]} for m in models]
    return {"kind": "long_memory results", "command": "python x",
            "complete": True, "metric": "mse", "baseline": 1 / 6,
            "settings": {"task": "adding", "length": 10, "epochs": 1,
                         "units": 8, "train_size": 256, "test_size": 64,
                         "validation_size": 64, "learning_rate": 3e-3,
                         "models": models, "seeds": [0], **settings},
            "runs": runs}


def test_replot_joins_files_of_the_same_settings_only(tmp_path, capsys):
    lm = _load()
    a, b, c, d = (tmp_path / f"{n}.json" for n in "abcd")
    a.write_text(json.dumps(_fake_results(["simple_rnn", "leaky_rnn"])))
    b.write_text(json.dumps(_fake_results(["lstm"])))
    c.write_text(json.dumps(_fake_results(["lstm"], learning_rate=1e-3)))
    d.write_text(json.dumps(_fake_results(["leaky_rnn"])))
    png = tmp_path / "j.png"
    assert lm.main(["--replot", str(a), str(b), "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert [m for m in ("simple_rnn", "leaky_rnn", "lstm")
            if re.search(rf"^\| {m} +\| +0 \| +10 \| +0.2000 \|", out,
                         re.M)] == ["simple_rnn", "leaky_rnn", "lstm"], out
    assert lm.main(["--replot", str(a), str(c), "--plot", str(png)]) == 2
    assert "['learning_rate']" in capsys.readouterr().err
    assert lm.main(["--replot", str(a), str(d), "--plot", str(png)]) == 2
    assert "repeats leaky_rnn seed 0" in capsys.readouterr().err
