"""keras_seqmem.tuning: the declared search spaces, the hypermodels, the
`keras-seqmem tune` command and distributed tuning (chief + 2 workers)."""

import json
import math
import os
import pathlib
import re
import subprocess
import sys

import keras
import keras_tuner
import numpy as np
import pytest

import keras_seqmem
from keras_seqmem import cli
from keras_seqmem import tuning
from keras_seqmem._layers import iter_layers
from keras_seqmem.tuning import spaces

ROOT = pathlib.Path(__file__).resolve().parents[1]

CELLS = ["lstm", "gru", "peephole_lstm", "coupled_lstm", "leaky_rnn"]
LSTMS = ["lstm", "peephole_lstm", "coupled_lstm"]
LOG = {"sampling": "log"}

# The documented spaces (docs/pages/tuning.md), written out independently of
# spaces.SPACES: name -> (KerasTuner class, config entries, condition).
_CELL_BLOCK = [
    ("cell", "Choice", {"values": CELLS, "default": "lstm"}, None),
    ("units", "Int", {"min_value": 16, "max_value": 128, "step": 2, **LOG},
     None),
]
_GATING = [
    ("unit_forget_bias", "Boolean", {"default": True}, ("cell", LSTMS)),
    ("use_peepholes", "Boolean", {"default": False},
     ("cell", ["coupled_lstm"])),
    ("gamma_max", "Float", {"min_value": 2.0, "max_value": 200.0, **LOG},
     ("cell", ["leaky_rnn"])),
    ("trainable_gamma", "Boolean", {"default": True},
     ("cell", ["leaky_rnn"])),
]


def _lr(default):
    return ("learning_rate", "Float",
            {"min_value": 1e-4, "max_value": 1e-2, "default": default, **LOG},
            None)


EXPECTED = {
    "recurrent": _CELL_BLOCK + [
        ("dropout", "Float", {"min_value": 0.0, "max_value": 0.3,
                              "step": 0.1}, None),
    ] + _GATING + [_lr(1e-3)],
    "attention": _CELL_BLOCK + _GATING + [
        ("attention_units", "Int",
         {"min_value": 16, "max_value": 128, "step": 2, **LOG}, None),
        ("normalize", "Boolean", {"default": False}, None),
        _lr(3e-3),
    ],
    "memory": [
        ("hops", "Int", {"min_value": 1, "max_value": 3, "default": 3}, None),
        ("weight_tying", "Choice", {"values": ["adjacent", "layerwise"]},
         None),
        ("embedding_dim", "Int", {"min_value": 20, "max_value": 50,
                                  "step": 10}, None),
        ("encoding", "Choice", {"values": ["position", "bow"]}, None),
        _lr(1e-2),
    ],
    "ntm": [
        ("units", "Int", {"min_value": 25, "max_value": 200, "step": 2,
                          **LOG}, None),
        ("memory_size", "Int", {"min_value": 16, "max_value": 128, "step": 2,
                                **LOG}, None),
        ("word_size", "Int", {"min_value": 10, "max_value": 40, "step": 10},
         None),
        ("shift_range", "Int", {"min_value": 1, "max_value": 3}, None),
        _lr(1e-3),
    ],
    "act": _CELL_BLOCK + _GATING + [
        ("time_penalty", "Float", {"min_value": 1e-4, "max_value": 1e-1,
                                   "default": 1e-3, **LOG}, None),
        ("max_ponder_steps", "Int", {"min_value": 2, "max_value": 16,
                                     "step": 2, **LOG}, None),
        _lr(1e-3),
    ],
}


def _space(family, fixed=None):
    hp = keras_tuner.HyperParameters()
    values = spaces.declare(hp, family, fixed)
    return hp, values


def _sample(hp, seed):
    """Random values for `hp.space`, as KerasTuner's oracles draw them
    (parents first, only the active parameters)."""
    sampled = keras_tuner.HyperParameters()
    for i, param in enumerate(hp.space):
        sampled.merge([param])
        if sampled.is_active(param):
            sampled.values[param.name] = param.random_sample(seed * 100 + i)
    return sampled


def _with(hp, values):
    """`values` for the parameters they name, the defaults elsewhere."""
    chosen = keras_tuner.HyperParameters()
    for param in hp.space:
        chosen.merge([param])
        if chosen.is_active(param):
            chosen.values[param.name] = values.get(param.name, param.default)
    return chosen


# --- the search spaces --------------------------------------------------------


def test_every_family_has_a_space_and_a_hypermodel():
    assert set(tuning.FAMILIES) == set(EXPECTED) == set(tuning.HYPERMODELS)


@pytest.mark.parametrize("family", sorted(EXPECTED))
def test_space_declares_the_documented_hyperparameters(family):
    hp, values = _space(family)
    assert [p.name for p in hp.space] == [e[0] for e in EXPECTED[family]]
    for param, (name, cls, config, condition) in zip(hp.space,
                                                     EXPECTED[family]):
        assert type(param).__name__ == cls, name
        got = param.get_config()
        for key, value in config.items():
            if isinstance(value, float):
                assert got[key] == pytest.approx(value), (name, key)
            else:
                assert got[key] == value, (name, key, got[key])
        if condition is None:
            assert not param.conditions, name
        else:
            (parent,) = param.conditions
            assert (parent.name, list(parent.values)) == condition, name
    # Only the defaults' active parameters get a value.
    for param in hp.space:
        assert (values[param.name] is not None) == hp.is_active(param)


@pytest.mark.parametrize("family", ["recurrent", "attention", "act"])
def test_gating_parameters_apply_to_their_cell_kinds_only(family):
    hp, _ = _space(family)
    active_for = {"unit_forget_bias": set(LSTMS),
                  "use_peepholes": {"coupled_lstm"},
                  "gamma_max": {"leaky_rnn"},
                  "trainable_gamma": {"leaky_rnn"}}
    for cell in CELLS:
        hp.values["cell"] = cell
        for name, cells in active_for.items():
            assert hp.is_active(name) == (cell in cells), (cell, name)


@pytest.mark.parametrize("family", sorted(EXPECTED))
def test_sampled_values_stay_in_the_declared_ranges(family):
    hp, _ = _space(family)
    for seed in range(40):
        values = _sample(hp, seed).values
        for param in hp.space:
            if param.name not in values:
                continue
            value = values[param.name]
            config = param.get_config()
            if "values" in config:
                assert value in config["values"]
            elif "min_value" in config:
                assert config["min_value"] <= value <= config["max_value"]
                if type(param).__name__ == "Int" and config["sampling"] \
                        == "log":  # factors of `step`
                    ratio = math.log(value / config["min_value"],
                                     config["step"])
                    assert ratio == pytest.approx(round(ratio)), value
        if family != "memory" and family != "ntm":
            assert ("gamma_max" in values) == (values["cell"] == "leaky_rnn")


def test_fixed_parameters_keep_their_name_and_condition():
    hp, values = _space("recurrent", {"units": 8, "gamma_max": 5.0})
    by_name = {p.name: p for p in hp.space}
    assert type(by_name["units"]).__name__ == "Fixed"
    assert values["units"] == 8
    assert type(by_name["gamma_max"]).__name__ == "Fixed"
    (parent,) = by_name["gamma_max"].conditions
    assert parent.name == "cell" and list(parent.values) == ["leaky_rnn"]
    with pytest.raises(ValueError, match="no parameter.*'unit'"):
        spaces.declare(keras_tuner.HyperParameters(), "recurrent",
                       {"unit": 8})
    with pytest.raises(ValueError, match="Unknown search space family"):
        spaces.declare(keras_tuner.HyperParameters(), "transformer")
    with pytest.raises(ValueError, match="no parameter"):
        tuning.RecurrentHyperModel("adding", fixed={"hops": 2})


def test_cell_kwargs_turn_values_into_layer_arguments():
    assert spaces.cell_kwargs({"cell": "leaky_rnn", "units": 16,
                               "dropout": 0.2, "gamma_max": 50.0,
                               "trainable_gamma": False,
                               "unit_forget_bias": None}) == {
        "dropout": 0.2, "gamma_range": (1.0, 50.0), "trainable_gamma": False}
    assert spaces.cell_kwargs({"cell": "coupled_lstm", "dropout": 0.0,
                               "unit_forget_bias": False,
                               "use_peepholes": True}) == {
        "unit_forget_bias": False, "use_peepholes": True}


def test_docs_page_has_every_space_table_and_the_recipes():
    page = (ROOT / "docs" / "pages" / "tuning.md").read_text()
    for family in tuning.FAMILIES:
        for row in spaces.describe(family).splitlines():
            assert row in page, f"docs/pages/tuning.md lacks {row!r}"
    for needle in ("keras-seqmem tune", "KERASTUNER_TUNER_ID",
                   "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT",
                   "examples/distributed_tuning.py"):
        assert needle in page
    cli_page = (ROOT / "docs" / "pages" / "cli.md").read_text()
    assert re.search(r"^## `?keras-seqmem tune`?$", cli_page, re.M)


# --- the hypermodels ------------------------------------------------------------


def _layer(model, cls):
    (layer,) = [layer for layer in iter_layers(model)
                if isinstance(layer, cls)]
    return layer


def _check_recurrent(model, v):
    layer = model.get_layer(v["cell"])
    cell = layer.cell
    assert cell.units == 8
    assert cell.dropout == pytest.approx(v["dropout"])
    if v["cell"] in LSTMS:
        assert cell.unit_forget_bias == v["unit_forget_bias"]
    if v["cell"] == "coupled_lstm":
        assert cell.use_peepholes == v["use_peepholes"]
    if v["cell"] == "leaky_rnn":
        assert cell.gamma_range == pytest.approx([1.0, v["gamma_max"]])
        assert cell.trainable_gamma == v["trainable_gamma"]


def _check_act(model, v):
    act = _layer(model, keras_seqmem.ACT)
    assert act.max_ponder_steps == 2
    assert act.time_penalty == pytest.approx(v["time_penalty"])
    assert type(act.cell).__name__ == {
        "lstm": "LSTMCell", "gru": "GRUCell",
        "peephole_lstm": "PeepholeLSTMCell",
        "coupled_lstm": "CoupledLSTMCell",
        "leaky_rnn": "LeakyRNNCell"}[v["cell"]]
    if v["cell"] == "leaky_rnn":
        assert act.cell.trainable_gamma == v["trainable_gamma"]


def _check_ntm(model, v):
    cell = _layer(model, keras_seqmem.NTM).cell
    assert cell.shift_range == v["shift_range"]
    assert cell.memory_size == 8


def _check_attention(model, v):
    assert model.cell == v["cell"]
    assert model.attention_units == 8
    assert model.normalize == v["normalize"]


def _check_memory(model, v):
    layer = _layer(model, keras_seqmem.MemN2N)
    assert layer.hops == v["hops"]
    assert layer.weight_tying == v["weight_tying"]
    assert layer.encoding == v["encoding"]


def _memory_data(vocab_size=20, n=32):
    rng = np.random.default_rng(0)
    story = rng.integers(0, vocab_size, (n, 4, 3)).astype("int32")
    query = rng.integers(1, vocab_size, (n, 3)).astype("int32")
    answer = rng.integers(0, vocab_size, n).astype("int32")
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices(((story, query), answer)).batch(n)
    return tuning.TaskData(ds, ds, ((story, query), answer))


# family -> (hypermodel, data, check, the values trained for one epoch;
# all the sampled sets are built and checked).
CASES = {
    "recurrent": (
        lambda: tuning.RecurrentHyperModel(
            "adding", fixed={"units": 8}, task_params={"length": 6}),
        lambda hm: hm.make_data(64, 32, batch_size=32), _check_recurrent,
        [{"cell": "leaky_rnn", "gamma_max": 50.0, "trainable_gamma": True,
          "dropout": 0.1},
         {"cell": "coupled_lstm", "use_peepholes": True,
          "unit_forget_bias": False}]),
    "act": (
        lambda: tuning.ACTHyperModel(
            "parity", fixed={"units": 8, "max_ponder_steps": 2},
            task_params={"size": 4}),
        lambda hm: hm.make_data(64, 32, batch_size=32), _check_act,
        [{"cell": "gru", "time_penalty": 0.01}]),
    "ntm": (
        lambda: tuning.NTMHyperModel(
            "copy", fixed={"units": 8, "memory_size": 8, "word_size": 4},
            task_params={"min_length": 1, "max_length": 2, "num_bits": 2}),
        lambda hm: hm.make_data(32, 32, batch_size=32), _check_ntm,
        [{"shift_range": 2}]),
    "attention": (
        lambda: tuning.AttentionHyperModel(
            "reversal", fixed={"units": 8, "attention_units": 8},
            task_params={"max_length": 3, "num_symbols": 4},
            embedding_dim=4),
        lambda hm: hm.make_data(32, 32, batch_size=32), _check_attention,
        [{"cell": "gru", "normalize": True}]),
    "memory": (
        lambda: tuning.MemoryHyperModel(20, memory_size=4,
                                        fixed={"embedding_dim": 8}),
        lambda hm: _memory_data(), _check_memory,
        [{"hops": 2, "weight_tying": "layerwise", "encoding": "bow"}]),
}


@pytest.mark.parametrize("family", sorted(CASES))
def test_hypermodel_builds_sampled_sets_and_trains_an_epoch(family):
    make, make_data, check, trained = CASES[family]
    hypermodel = make()
    assert hypermodel.family == family
    space = keras_tuner.HyperParameters()
    hypermodel.declare_hyperparameters(space)
    # The trained sets first (given values, the defaults elsewhere), then
    # random draws, built only.
    sets = [_with(space, values) for values in trained]
    sets += [_sample(space, seed) for seed in range(3)]
    data = make_data(hypermodel)
    for i, hp in enumerate(sets):
        model = hypermodel.build(hp)
        assert model.jit_compile is True
        values = spaces.declare(keras_tuner.HyperParameters(), family,
                                dict(hp.values))
        check(model, values)
        if i < len(trained):
            history = model.fit(data.train, epochs=1, verbose=0,
                                shuffle=False)
            assert np.isfinite(history.history["loss"][-1]), hp.values
    if family in ("ntm", "memory"):  # the metric, without compiling XLA
        model.jit_compile = False
        name, value = hypermodel.evaluate(model, data.test)
        assert name == {"ntm": "bits_per_sequence", "memory": "error"}[family]
        # The value is the metric of this model's own outputs, computed
        # here from them (a bound such as `value >= 0` holds for anything).
        if family == "ntm":
            x, y, mask = data.test
            wrong = (keras.ops.convert_to_numpy(model(x)) > 0) != (y > 0.5)
            expected = np.mean(np.sum(wrong * mask[..., None], axis=(1, 2)))
        else:
            (story, query), answer = data.test
            logits = keras.ops.convert_to_numpy(model([story, query]))
            expected = np.mean(np.argmax(logits, -1) != answer)
        assert value == pytest.approx(expected, abs=1e-6), (value, expected)


def test_hypermodels_refuse_tasks_of_other_kinds():
    with pytest.raises(ValueError, match="seq2seq"):
        tuning.AttentionHyperModel("adding")
    with pytest.raises(ValueError, match="sequence"):
        tuning.NTMHyperModel("parity")
    with pytest.raises(ValueError, match="classification or regression"):
        tuning.get_hypermodel("recurrent", "copy")
    with pytest.raises(ValueError, match="vocab_size"):
        tuning.MemoryHyperModel()
    with pytest.raises(ValueError, match="Unknown tuner"):
        tuning.make_tuner("grid", tuning.RecurrentHyperModel("adding"))


def test_make_tuner_gives_each_kerastuner_search(tmp_path):
    hypermodel = tuning.RecurrentHyperModel("adding", fixed={"units": 8})
    kinds = {"random": keras_tuner.RandomSearch,
             "bayesian": keras_tuner.BayesianOptimization,  # scipy, sklearn
             "hyperband": keras_tuner.Hyperband}
    assert set(kinds) == set(tuning.TUNERS)
    for kind, cls in kinds.items():
        tuner = tuning.make_tuner(kind, hypermodel, max_trials=3,
                                  max_epochs=4, directory=str(tmp_path),
                                  project_name=kind)
        assert isinstance(tuner, cls)
        assert tuner.oracle.seed == 1  # reproducible, not KerasTuner's random
        assert tuner.oracle.objective.name == "val_loss"
        assert [p.name for p in tuner.oracle.get_space().space] == [
            p.name for p in tuning.SPACES["recurrent"]]
        if kind == "hyperband":
            assert tuner.oracle.max_epochs == 4
        else:
            assert tuner.oracle.max_trials == 3


# --- keras-seqmem tune ----------------------------------------------------------

TUNE = ["tune", "--task", "adding", "--family", "recurrent", "--tuner",
        "random", "--max-trials", "2", "--epochs", "1", "--length", "6",
        "--train-size", "64", "--test-size", "32", "--batch-size", "32",
        "--fix", "units=8"]


def test_cli_tune_searches_summarises_exports_and_resumes(tmp_path, capsys):
    exported = tmp_path / "best" / "model.keras"
    argv = TUNE + ["--directory", str(tmp_path / "runs"), "--project-name",
                   "p", "--export", str(exported)]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert out.count("Search: Running Trial #") == 2  # KerasTuner's progress
    assert "Results summary" in out
    match = re.search(r"RESULT task=adding family=recurrent tuner=random "
                      r"trials=2 best_trial=(\d) val_loss=(\S+) "
                      r"test_mse=(\S+) \(chance baseline 0.1667\) "
                      r"hyperparameters=(\{.*\})", out)
    assert match, out
    best = json.loads(match.group(4))
    assert best["units"] == 8 and best["cell"] in CELLS
    records = tuning.read_trials(tmp_path / "runs" / "p")
    assert [r["trial_id"] for r in records] == ["0", "1"]
    assert all(r["status"] == "COMPLETED" and r["tuner_id"] == "tuner0"
               for r in records)
    scores = {r["trial_id"]: r["score"] for r in records}
    assert float(match.group(2)) == pytest.approx(
        min(scores.values()), abs=2e-4)

    model = keras.saving.load_model(exported)
    x = np.random.default_rng(0).random((3, 6, 2)).astype("float32")
    assert model.predict(x, verbose=0).shape == (3, 1)

    # Resumed (no --overwrite): no new trial, the same best, a SavedModel.
    saved = tmp_path / "savedmodel"
    assert cli.main(TUNE + ["--directory", str(tmp_path / "runs"),
                            "--project-name", "p", "--export",
                            str(saved)]) == 0
    again = capsys.readouterr().out
    assert "Reloading Tuner" in again
    assert "Search: Running Trial #" not in again
    assert f"best_trial={match.group(1)} " in again
    assert (saved / "saved_model.pb").exists()


def test_cli_tune_explains_bad_arguments(tmp_path):
    with pytest.raises(SystemExit, match="seq2seq"):
        cli.main(["tune", "--task", "adding", "--family", "attention",
                  "--directory", str(tmp_path)])
    with pytest.raises(SystemExit, match="--task babi"):
        cli.main(["tune", "--task", "adding", "--family", "memory",
                  "--directory", str(tmp_path)])
    with pytest.raises(SystemExit, match="no parameter"):
        cli.main(["tune", "--fix", "hops=2", "--directory", str(tmp_path)])


# --- distributed tuning: one chief, two workers on 127.0.0.1 -------------------


def test_distributed_chief_and_two_workers_record_every_trial_once(tmp_path):
    out = tmp_path / "trials.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "distributed_tuning.py"),
         "--quick", "--directory", str(tmp_path), "--json", str(out),
         "--timeout", "500"],
        capture_output=True, text=True, timeout=600,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    project = tmp_path / "distributed"
    # What the oracle (on the chief) recorded, read from its files.
    trial_files = sorted(project.glob("trial_*/trial.json"))
    trials = [json.loads(p.read_text()) for p in trial_files]
    ids = [t["trial_id"] for t in trials]
    assert sorted(ids) == ["0", "1", "2", "3"]  # --quick: 4 trials, once each
    assert all(t["status"] == "COMPLETED" for t in trials)
    assert all(math.isfinite(t["score"]) for t in trials)
    oracle = json.loads((project / "oracle.json").read_text())
    assert sorted(oracle["start_order"]) == sorted(ids)
    assert sorted(oracle["end_order"]) == sorted(ids)  # none ended twice
    assert set(oracle["run_times"].values()) == {1}  # none retried
    # Which worker ran each trial: both of them, and never the chief.
    workers = [json.loads((p.parent / tuning.WORKER_RECORD).read_text())
               ["tuner_id"] for p in trial_files]
    assert set(workers) == {"tuner0", "tuner1"}, workers
    # The script printed each trial once, with its worker.
    printed = json.loads(out.read_text())["trials"]
    assert [(r["trial_id"], r["tuner_id"]) for r in printed] == list(
        zip(ids, workers))
    rows = re.findall(r"^\s+(\d)\s+(tuner\d)\s+COMPLETED", result.stdout,
                      re.M)
    assert sorted(rows) == sorted(zip(ids, workers))
