"""Training on the NTM's algorithmic tasks (keras_seqmem.sequence_training),
its command line (`keras-seqmem ntm`) and examples/ntm_tasks.py."""

import importlib.util
import json
import pathlib
import re

import numpy as np
import pytest

from keras_seqmem import cli
from keras_seqmem import sequence_training as st
from keras_seqmem.tasks import algorithmic

ROOT = pathlib.Path(__file__).resolve().parents[1]
TINY = dict(units=8, memory_size=8, word_size=4)
SHORT = {"min_length": 1, "max_length": 3}


def test_length_params_pin_the_episode_length():
    assert st.length_params("copy", 40) == {"min_length": 40,
                                            "max_length": 40}
    assert st.length_params("associative_recall", 12) == {"min_items": 12,
                                                          "max_items": 12}
    x, _, mask = algorithmic.COPY.generate(5, **st.length_params("copy", 7))
    np.testing.assert_array_equal(mask.sum(axis=1), 7)


def test_non_sequence_tasks_and_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="expected a sequence task"):
        st.build_sequence_model("adding")
    with pytest.raises(ValueError, match="`model` must be one of"):
        st.build_sequence_model("copy", "gru")
    with pytest.raises(ValueError, match="`optimizer` must be one of"):
        st.make_optimizer("sgd")
    with pytest.raises(ValueError, match="steps"):
        st.train_sequence_task("copy", steps=0)
    with pytest.raises(ValueError, match="unexpected arguments"):
        st.build_sequence_model("copy", "lstm", memory_size=8)


@pytest.mark.parametrize("kind", ["ntm", "lstm"])
def test_models_give_logits_per_step(kind):
    model = st.build_sequence_model("associative_recall", kind, units=8,
                                    task_params={"num_bits": 6},
                                    **({} if kind == "lstm" else
                                       dict(memory_size=8, word_size=4)))
    x, y, _ = algorithmic.ASSOCIATIVE_RECALL.generate(3, num_bits=6)
    assert model.predict(x, verbose=0).shape == y.shape == (3, 32, 6)


def test_training_resumes_on_the_same_stream(tmp_path):
    kwargs = dict(batch_size=2, eval_every=2, eval_size=8, seed=3,
                  task_params=SHORT, stop_at_target=False, verbose=False,
                  jit_compile=False, **TINY)
    whole = st.train_sequence_task("copy", steps=4, **kwargs)
    first = st.train_sequence_task("copy", steps=2,
                                   checkpoint_dir=tmp_path, **kwargs)
    assert first.steps == 2 and len(first.curve) == 1
    progress = json.loads((tmp_path / "progress.json").read_text())
    assert progress["step"] == 2
    resumed = st.train_sequence_task("copy", steps=4,
                                     checkpoint_dir=tmp_path, **kwargs)
    assert resumed.steps == 4 and len(resumed.curve) == 2
    assert resumed.curve[0] == first.curve[0]
    # Same weights as the uninterrupted run: optimizer state and data stream
    # were carried over.
    for a, b in zip(whole.model.get_weights(), resumed.model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert resumed.curve[1]["bits_per_sequence"] == pytest.approx(
        whole.curve[1]["bits_per_sequence"])


def test_training_stops_at_the_target():
    result = st.train_sequence_task(
        "copy", steps=10, batch_size=2, eval_every=2, eval_size=4,
        target_bits=1e9, task_params=SHORT, verbose=False, jit_compile=False,
        **TINY)
    assert result.steps == 2 and result.steps_to_target == 2
    record = result.to_json()
    assert "model" not in record and record["steps_to_target"] == 2
    json.dumps(record)


def test_evaluate_lengths_and_weightings_plot(tmp_path):
    model = st.build_sequence_model("copy", "ntm", task_params=SHORT,
                                    jit_compile=False, **TINY)
    errors = st.evaluate_lengths(model, "copy", [2, 5], num_sequences=6)
    assert sorted(errors) == [2, 5]
    assert all(0 <= bits <= 8 * n for n, bits in errors.items())
    probe = st.weightings_probe(model)
    x, _, _ = algorithmic.COPY.generate(2, **st.length_params("copy", 3))
    logits, read_w, write_w = probe(x)
    np.testing.assert_allclose(np.asarray(logits),
                               model.predict(x, verbose=0), atol=1e-5)
    assert read_w.shape == write_w.shape == (2, 7, 1, 8)
    png = st.write_weightings_plot(model, "copy", tmp_path / "w.png",
                                   length=3)
    assert pathlib.Path(png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lstm = st.build_sequence_model("copy", "lstm", units=4)
    with pytest.raises(ValueError, match="one NTM layer"):
        st.weightings_probe(lstm)


def test_cli_ntm_trains_scores_lengths_and_plots(capsys, tmp_path):
    png = tmp_path / "weightings.png"
    code = cli.main([
        "ntm", "--task", "copy", "--units", "8", "--memory-size", "8",
        "--word-size", "4", "--steps", "4", "--eval-every", "2",
        "--batch-size", "2", "--param", "max_length=3", "--test-lengths",
        "2", "6", "--weightings-plot", str(png), "--checkpoint-dir",
        str(tmp_path / "ckpt"), "--save", str(tmp_path / "m.keras")])
    out = capsys.readouterr().out
    assert code == 0
    assert re.search(r"RESULT task=copy model=ntm bits_per_sequence=[\d.]+ "
                     r".* steps=4 ", out), out
    assert re.search(r"^length 6: [\d.]+ bits/sequence$", out, re.M), out
    assert png.exists() and (tmp_path / "m.keras").exists()
    assert (tmp_path / "ckpt" / "progress.json").exists()


def test_cli_train_points_sequence_tasks_to_ntm():
    with pytest.raises(SystemExit, match="keras-seqmem ntm --task copy"):
        cli.main(["train", "--task", "copy"])
    with pytest.raises(SystemExit):  # argparse: invalid choice
        cli.main(["ntm", "--task", "adding"])


def test_example_quick_run_prints_the_generalisation_table(capsys, tmp_path):
    spec = importlib.util.spec_from_file_location(
        "ntm_tasks", ROOT / "examples" / "ntm_tasks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["copy", "--quick", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^run +params +steps +10 +20$", out, re.M), out
    for key in ("ntm_seed0", "lstm_seed0"):
        assert re.search(rf"^{key} +\d+ +>100 +[\d.]+ +[\d.]+$", out,
                         re.M), out
    results = json.loads((tmp_path / "results.json").read_text())
    ntm, lstm = results["runs"]["ntm_seed0"], results["runs"]["lstm_seed0"]
    # The baseline is sized like the NTM.
    assert abs(lstm["parameters"] - ntm["parameters"]) < 0.1 * ntm[
        "parameters"]
    assert pathlib.Path(ntm["weightings_png"]).exists()
    assert "ntm: 0 of 1 seeds below 0.1 bit" in out
