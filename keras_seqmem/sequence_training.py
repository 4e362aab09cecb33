"""Training on the Neural Turing Machine's algorithmic tasks.

Copy, repeat copy and associative recall (`keras_seqmem.tasks.algorithmic`,
`kind="sequence"`) are trained on fresh sequences at every step, as in
Graves et al. (2014), and scored in bits per sequence. This module is what
`examples/ntm_tasks.py` and `keras-seqmem train --task copy --model ntm` use:

    result = train_sequence_task("copy", "ntm", steps=20000, batch_size=8,
                                 checkpoint_dir="runs/copy_ntm_0")
    print(result.steps_to_target, result.curve[-1])
    print(evaluate_lengths(result.model, "copy", [10, 20, 40]))

Training is resumable: with `checkpoint_dir`, the model (with its optimizer
state) and the progress so far are written after every evaluation, and a
later call with the same directory continues from there on the same stream
of training sequences.
"""

import dataclasses
import json
import os
import time
from typing import Optional

import keras
import numpy as np

from keras_seqmem import _validation
from keras_seqmem.memory import NTM
from keras_seqmem.tasks import algorithmic
from keras_seqmem.tasks import get_task

SEQUENCE_MODELS = ("ntm", "lstm")
"""Model kinds of :func:`build_sequence_model`."""

OPTIMIZERS = ("adam", "rmsprop")

# Each task's length parameters: test length L -> generator arguments.
_LENGTH_PARAMS = {
    "copy": ("min_length", "max_length"),
    "repeat_copy": ("min_length", "max_length"),
    "associative_recall": ("min_items", "max_items"),
}


def _spec(task):
    spec = get_task(task) if isinstance(task, str) else task
    if spec.kind != "sequence":
        raise ValueError(
            f"expected a sequence task (kind='sequence': "
            f"{sorted(algorithmic.SPECS)}), got {spec.name!r} ({spec.kind})")
    return spec


def length_params(task, length):
    """Generator arguments for episodes of exactly `length` (vectors for
    copy and repeat copy, items for associative recall)."""
    spec = _spec(task)
    if spec.name not in _LENGTH_PARAMS:
        raise ValueError(f"no length parameter known for task {spec.name!r}")
    low, high = _LENGTH_PARAMS[spec.name]
    return {low: int(length), high: int(length)}


def make_optimizer(optimizer="adam", learning_rate=None):
    """The reference implementations' optimizers.

    * `"adam"`: Adam, learning rate 1e-3, global norm clipping 50 (Collier &
      Beel 2018).
    * `"rmsprop"`: RMSprop, learning rate 1e-4, momentum 0.9, ρ 0.95, each
      gradient clipped to ±10 (Graves et al. 2014; pytorch-ntm).
    """
    if optimizer == "adam":
        return keras.optimizers.Adam(learning_rate or 1e-3,
                                     global_clipnorm=50.0)
    if optimizer == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate or 1e-4, rho=0.95,
                                        momentum=0.9, clipvalue=10.0)
    raise ValueError(
        f"`optimizer` must be one of {OPTIMIZERS}, got {optimizer!r}")


def build_sequence_model(task, model="ntm", *, units=100, memory_size=None,
                         word_size=None, optimizer="adam", learning_rate=None,
                         jit_compile=True, task_params=None, **ntm_kwargs):
    """A compiled model for a sequence task: logits at every step.

    Args:
        task: Task name or spec (`kind="sequence"`).
        model: `"ntm"`: `NTM` with an `LSTMCell(units)` controller and a
            `memory_size × word_size` memory (default 128 × 20, the
            papers'; `ntm_kwargs` go to `NTM`);
            `"lstm"`: the baseline, `LSTM(units)` and a `Dense` output.
        units: Controller units (NTM) or LSTM units.
        optimizer, learning_rate: See :func:`make_optimizer`.
        jit_compile: Passed to `compile`.
        task_params: Task parameters (for the input and target widths).

    Returns:
        A compiled `keras.Model` (binary cross-entropy on logits, weighted by
        the task's mask).
    """
    spec = _spec(task)
    if model not in SEQUENCE_MODELS:
        raise ValueError(
            f"`model` must be one of {SEQUENCE_MODELS}, got {model!r}")
    units = _validation.check_positive_int(units, "units", "build_sequence_model")
    params = task_params or {}
    features = spec.input_shape(**params)[-1]
    outputs = spec.target_shape(**params)[-1]
    inputs = keras.Input((None, features), name="x")
    if model == "ntm":
        y = NTM(controller=units, memory_size=memory_size or 128,
                word_size=word_size or 20, units=outputs, return_sequences=True,
                name="ntm", **ntm_kwargs)(inputs)
    else:
        extra = sorted(ntm_kwargs) + [
            name for name, value in (("memory_size", memory_size),
                                     ("word_size", word_size))
            if value is not None]
        if extra:
            raise ValueError(
                f"unexpected arguments for the LSTM baseline: {extra}")
        h = keras.layers.LSTM(units, return_sequences=True,
                              name="lstm")(inputs)
        y = keras.layers.Dense(outputs, name="output")(h)
    net = keras.Model(inputs, y, name=f"{spec.name}_{model}")
    net.compile(make_optimizer(optimizer, learning_rate),
                keras.losses.BinaryCrossentropy(from_logits=True),
                jit_compile=jit_compile)
    return net


def bits_per_sequence(model, x, y, mask, batch_size=500):
    """The model's error in bits per sequence on `(x, y, mask)`."""
    logits = model.predict(x, batch_size=batch_size, verbose=0)
    return algorithmic.bits_per_sequence(y, logits, mask)


def evaluate_lengths(model, task, lengths, num_sequences=200, seed=50_000,
                     task_params=None):
    """Bits per sequence at each length (episodes of exactly that length).

    Returns:
        `{length: bits per sequence}`.
    """
    spec = _spec(task)
    result = {}
    for length in lengths:
        params = dict(task_params or {})
        params.update(length_params(spec, length))
        x, y, mask = spec.generate(num_sequences, seed=seed + int(length),
                                   **params)
        result[int(length)] = bits_per_sequence(model, x, y, mask,
                                                batch_size=min(
                                                    num_sequences, 200))
    return result


@dataclasses.dataclass
class SequenceTrainResult:
    """What :func:`train_sequence_task` returns."""

    task: str
    kind: str
    steps: int
    steps_to_target: Optional[int]
    """First evaluated step whose held-out error was below the target."""
    target_bits: float
    final_bits: float
    seconds: float
    """Training time (evaluations excluded), summed over resumed runs."""
    parameters: int
    curve: list
    model: keras.Model = dataclasses.field(repr=False)

    def to_json(self):
        record = dataclasses.asdict(
            dataclasses.replace(self, model=None))
        record.pop("model")
        return record


def train_sequence_task(task, model="ntm", *, steps=20000, batch_size=8,
                        eval_every=500, eval_size=500, target_bits=0.1,
                        stop_at_target=True, seed=0, checkpoint_dir=None,
                        task_params=None, verbose=True, **model_kwargs):
    """Trains on fresh sequences until the held-out error is below target.

    Every `eval_every` steps the model is scored on `eval_size` held-out
    sequences of the training lengths (a fixed draw); training stops at
    the first evaluation below `target_bits` bits per sequence (with
    `stop_at_target`) or after `steps`.

    Args:
        task: Task name or spec (`kind="sequence"`).
        model: `"ntm"` or `"lstm"` (:func:`build_sequence_model`, which
            takes `model_kwargs`).
        steps: Largest number of training steps (batches).
        batch_size: Sequences per step.
        eval_every, eval_size: Evaluation period (steps) and set size.
        target_bits: Held-out error counted as learnt (Graves et al.: 0.1).
        stop_at_target: Whether to stop when the target is reached.
        seed: Seed of the weights and of the training stream.
        checkpoint_dir: Where the model and progress are kept, to resume.
        task_params: Task parameters of the training sequences (e.g.
            `{"max_length": 20}`).
        verbose: Print a line per evaluation.

    Returns:
        A :class:`SequenceTrainResult`.
    """
    spec = _spec(task)
    name = "train_sequence_task"
    steps = _validation.check_positive_int(steps, "steps", name)
    batch_size = _validation.check_positive_int(batch_size, "batch_size", name)
    eval_every = _validation.check_positive_int(eval_every, "eval_every", name)
    params = dict(task_params or {})
    held_out = spec.generate(eval_size, seed=1_000_000 + seed, **params)

    progress = {"step": 0, "seconds": 0.0, "curve": [],
                "steps_to_target": None}
    net = None
    if checkpoint_dir:
        os.makedirs(checkpoint_dir, exist_ok=True)
        state_path = os.path.join(checkpoint_dir, "progress.json")
        model_path = os.path.join(checkpoint_dir, "model.keras")
        if os.path.exists(state_path) and os.path.exists(model_path):
            with open(state_path) as f:
                progress = json.load(f)
            net = keras.saving.load_model(model_path)
            if verbose:
                print(f"{spec.name}/{model} seed {seed}: resumed at step "
                      f"{progress['step']} from {checkpoint_dir}", flush=True)
    if net is None:
        keras.utils.set_random_seed(seed)
        net = build_sequence_model(spec, model, task_params=params,
                                   **model_kwargs)

    def finished():
        return progress["step"] >= steps or (
            stop_at_target and progress["steps_to_target"] is not None)

    while not finished():
        n = min(eval_every, steps - progress["step"])
        chunk = progress["step"] // eval_every
        # Fresh sequences every step; the stream depends on (seed, chunk)
        # only, so a resumed run sees what an uninterrupted one would.
        x, y, mask = spec.generate(n * batch_size,
                                   seed=[seed, chunk, 7], **params)
        start = time.time()
        history = net.fit(x, y, sample_weight=mask, batch_size=batch_size,
                          epochs=1, shuffle=False, verbose=0)
        progress["seconds"] += time.time() - start
        progress["step"] += n
        bits = bits_per_sequence(net, *held_out)
        loss = float(history.history["loss"][-1])
        if not np.isfinite(loss):
            raise FloatingPointError(
                f"{spec.name}/{model}: the training loss became {loss} at "
                f"step {progress['step']}")
        progress["curve"].append({"step": progress["step"], "loss": loss,
                                  "bits_per_sequence": bits,
                                  "seconds": progress["seconds"]})
        if bits < target_bits and progress["steps_to_target"] is None:
            progress["steps_to_target"] = progress["step"]
        if verbose:
            print(f"{spec.name}/{model} seed {seed}: step "
                  f"{progress['step']}/{steps}, loss {loss:.4f}, held-out "
                  f"{bits:.3f} bits/sequence, {progress['seconds']:.0f} s",
                  flush=True)
        if checkpoint_dir:
            net.save(model_path)
            with open(state_path, "w") as f:
                json.dump(progress, f, indent=1)

    final = progress["curve"][-1]["bits_per_sequence"] if progress[
        "curve"] else bits_per_sequence(net, *held_out)
    return SequenceTrainResult(
        task=spec.name, kind=model, steps=progress["step"],
        steps_to_target=progress["steps_to_target"],
        target_bits=float(target_bits), final_bits=float(final),
        seconds=float(progress["seconds"]),
        parameters=int(net.count_params()), curve=progress["curve"],
        model=net)


def weightings_probe(model):
    """An `NTM` returning its weightings, with the trained model's weights.

    Args:
        model: A model with one `NTM` layer (e.g. from
            :func:`build_sequence_model`).

    Returns:
        The probe layer: `probe(x)` gives `(logits, read_weightings,
        write_weightings)`.
    """
    layers = [layer for layer in model.layers if isinstance(layer, NTM)]
    if len(layers) != 1:
        raise ValueError(
            f"expected a model with one NTM layer, got {len(layers)} in "
            f"{model.name!r}")
    ntm = layers[0]
    config = ntm.get_config()
    config.update(return_weightings=True, return_sequences=True,
                  name=f"{ntm.name}_probe")
    probe = NTM.from_config(config)
    probe(np.zeros((1, 1) + tuple(ntm.input.shape[2:]), np.float32))
    probe.set_weights(ntm.get_weights())
    return probe


def write_weightings_plot(model, task, path, length=None, seed=99,
                          task_params=None, title=None):
    """Draws the NTM's write and read weightings on one generated episode
    (the paper's Figure 6 analogue) with `plots.plot_ntm_weightings`.

    Args:
        model: A model with one `NTM` layer.
        task: The task (spec or name) of the episode.
        path: PNG file to write.
        length: Episode length (vectors or items); default the task's.
        seed: Seed of the episode.
        task_params: Task parameters (the training ones).
        title: Figure title; default names the task, length and wrong bits.

    Returns:
        `path`.
    """
    from keras_seqmem.plots import plot_ntm_weightings

    spec = _spec(task)
    params = dict(task_params or {})
    if length is not None:
        params.update(length_params(spec, length))
    x, y, mask = spec.generate(1, seed=seed, **params)
    logits, read_w, write_w = (np.asarray(t) for t in
                               weightings_probe(model)(x))
    bits = algorithmic.bits_per_sequence(y, logits, mask)
    # Draw the locations the heads visited (weight > 0.1 at some step).
    visited = np.flatnonzero(np.maximum(read_w[0].max(axis=(0, 1)),
                                        write_w[0].max(axis=(0, 1))) > 0.1)
    locations = None
    if visited.size:
        locations = (max(0, int(visited.min()) - 2),
                     min(read_w.shape[-1] - 1, int(visited.max()) + 2))
    outputs = 1.0 / (1.0 + np.exp(-logits[0]))
    return plot_ntm_weightings(
        write_w[0], read_w[0], path, inputs=x[0],
        outputs=outputs * mask[0][:, None], locations=locations,
        title=title or f"NTM on {spec.name} ({bits:.0f} wrong bits)")
