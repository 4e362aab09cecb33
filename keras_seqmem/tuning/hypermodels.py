"""KerasTuner hypermodels over the search spaces of `spaces.SPACES`.

One `keras_tuner.HyperModel` per family; each declares its family's space
(`spaces.declare`) and builds a model compiled with `jit_compile=True`
through the package's own builders:

* :class:`RecurrentHyperModel`: `training.build_task_model` +
  `training.compile_for_task` (classification and regression tasks);
* :class:`AttentionHyperModel`: `training.build_seq2seq_model` +
  `compile_for_task` (seq2seq tasks, a `Seq2Seq`);
* :class:`MemoryHyperModel`: `training.build_memory_model` (a `MemN2N` on
  bAbI);
* :class:`NTMHyperModel`: `sequence_training.build_sequence_model`
  (copy, repeat copy, associative recall);
* :class:`ACTHyperModel`: the chosen cell inside
  `ACTRNN(ACT(cell, max_ponder_steps, time_penalty))`, with the input and
  head of `build_task_model` (classification and regression tasks).

Each also makes its task's data (`make_data`: train and validation
datasets, held-out test arrays, from different seeds as in
`training.train_on_task`) and scores a model on the test arrays
(`evaluate`: the task's metric).

    import keras_tuner
    from keras_seqmem.tuning import RecurrentHyperModel, make_tuner

    hypermodel = RecurrentHyperModel("adding", task_params={"length": 50})
    data = hypermodel.make_data(train_size=2000, test_size=500)
    tuner = make_tuner("random", hypermodel, max_trials=10,
                       directory="runs", project_name="adding")
    tuner.search(data.train, validation_data=data.validation, epochs=5)
    best = tuner.get_best_models(1)[0]
    print(hypermodel.evaluate(best, data.test))   # ("mse", 0.0...)
"""

import dataclasses
import json
import os
from typing import Any

import keras
import keras_tuner
import numpy as np

from keras_seqmem import tasks as _tasks
from keras_seqmem._extras import require
from keras_seqmem import training
from keras_seqmem.tuning import spaces

__all__ = [
    "TaskData",
    "TaskHyperModel",
    "RecurrentHyperModel",
    "AttentionHyperModel",
    "MemoryHyperModel",
    "NTMHyperModel",
    "ACTHyperModel",
    "HYPERMODELS",
    "get_hypermodel",
    "TUNERS",
    "RandomSearch",
    "BayesianOptimization",
    "Hyperband",
    "make_tuner",
    "WORKER_RECORD",
    "read_trials",
]


@dataclasses.dataclass
class TaskData:
    """What `make_data` returns: `train` and `validation` for `fit` (or
    `tuner.search`), `test` the held-out arrays that `evaluate` scores."""

    train: Any
    validation: Any
    test: tuple


class _SpaceHyperModel(keras_tuner.HyperModel):
    """A hypermodel whose hyperparameters are its family's declared space
    (`spaces.declare(hp, family, fixed)`); subclasses set `family` and
    `fixed` and build the model of one set of values in `build_model`."""

    family = None

    def values(self, hp):
        """Declares the family's space on `hp`; returns the trial's values."""
        return spaces.declare(hp, self.family, self.fixed)

    def declare_hyperparameters(self, hp):
        self.values(hp)

    def build(self, hp):
        return self.build_model(self.values(hp))

    def build_model(self, values):
        """The compiled model of one set of values (of `values(hp)`)."""
        raise NotImplementedError


class TaskHyperModel(_SpaceHyperModel):
    """A hypermodel of one search-space family on one registered task.

    Args:
        task: A task name (`keras-seqmem tasks`) or `TaskSpec` of one of
            the kinds in `task_kinds`.
        fixed: `{name: value}` of parameters of the family pinned to a
            value (declared as `hp.Fixed`, so not searched).
        task_params: Task parameters (e.g. `{"length": 50}`).
        embedding_dim: Embedding size of token inputs.
        name, tunable: As `keras_tuner.HyperModel`.
    """

    task_kinds = ()

    def __init__(self, task, *, fixed=None, task_params=None,
                 embedding_dim=16, name=None, tunable=True):
        self.spec = _tasks.get_task(task)
        if self.spec.kind not in self.task_kinds:
            raise ValueError(
                f"{type(self).__name__} expected a task of kind "
                f"{' or '.join(self.task_kinds)}, got {self.spec.name!r} "
                f"({self.spec.kind}).")
        self.fixed = dict(fixed or {})
        spaces.declare(keras_tuner.HyperParameters(), self.family,
                       self.fixed)  # checks the fixed names early
        self.task_params = dict(task_params or {})
        self.spec.resolve_params(**self.task_params)
        self.embedding_dim = int(embedding_dim)
        super().__init__(name=name or f"{self.family}_{self.spec.name}",
                         tunable=tunable)

    # Data and metric ---------------------------------------------------

    def make_data(self, train_size=10000, test_size=2000, batch_size=64,
                  seed=0):
        """Train, validation and test data from three seeds (`seed`,
        `seed + 10000`, `seed + 20000`), as `training.train_on_task`."""
        spec, params = self.spec, self.task_params
        train = _tasks.make_dataset(spec, train_size, batch_size=batch_size,
                                    seed=seed, **params)
        validation = _tasks.make_dataset(
            spec, max(test_size // 4, batch_size), batch_size=batch_size,
            seed=seed + 10_000, shuffle=False, **params)
        test = spec.generate(test_size, seed=seed + 20_000, **params)
        return TaskData(train, validation, tuple(test))

    @property
    def metric_name(self):
        return self.spec.metric_name

    def evaluate(self, model, test):
        """`(metric_name, value)` of `model` on the test arrays."""
        x, y = test[:2]
        scores = model.evaluate(x, y, batch_size=256, verbose=0,
                                return_dict=True)
        return self.metric_name, float(scores[self.metric_name])


class RecurrentHyperModel(TaskHyperModel):
    """Input -> [Embedding] -> recurrent layer -> Dense, searched over the
    ``"recurrent"`` space (cell kind, units, dropout, forget-gate bias,
    peepholes, `γ` range and trainability, learning rate)."""

    family = "recurrent"
    task_kinds = ("classification", "regression")

    def build_model(self, values):
        model = training.build_task_model(
            self.spec, values["cell"], int(values["units"]),
            self.embedding_dim, layer_kwargs=spaces.cell_kwargs(values),
            **self.task_params)
        return training.compile_for_task(model, self.spec,
                                         values["learning_rate"],
                                         jit_compile=True)


class AttentionHyperModel(TaskHyperModel):
    """A `Seq2Seq` with attention, searched over the ``"attention"`` space
    (cell block, units, attention units, `normalize`, learning rate).
    `evaluate` decodes the test sources greedily (exact match)."""

    family = "attention"
    task_kinds = ("seq2seq",)

    def build_model(self, values):
        model = training.build_seq2seq_model(
            self.spec, values["cell"], int(values["units"]),
            self.embedding_dim, spaces.cell_kwargs(values),
            {"attention_units": int(values["attention_units"]),
             "normalize": bool(values["normalize"])},
            **self.task_params)
        model.build()  # weights exist before KerasTuner loads a checkpoint
        return training.compile_for_task(model, self.spec,
                                         values["learning_rate"],
                                         jit_compile=True)

    def evaluate(self, model, test):
        source, target = test
        predicted = training.predict_sequences(model, source)
        return self.metric_name, float(_tasks.exact_match(predicted, target))


class NTMHyperModel(TaskHyperModel):
    """An `NTM` (LSTM controller) on a sequence task, searched over the
    ``"ntm"`` space (controller units, memory size, word size, shift range,
    learning rate). `evaluate` is in bits per sequence."""

    family = "ntm"
    task_kinds = ("sequence",)

    def build_model(self, values):
        from keras_seqmem import sequence_training

        return sequence_training.build_sequence_model(
            self.spec, "ntm", units=int(values["units"]),
            memory_size=int(values["memory_size"]),
            word_size=int(values["word_size"]),
            shift_range=int(values["shift_range"]),
            learning_rate=values["learning_rate"], jit_compile=True,
            task_params=self.task_params)

    def evaluate(self, model, test):
        from keras_seqmem import sequence_training

        x, y, mask = test
        return self.metric_name, float(
            sequence_training.bits_per_sequence(model, x, y, mask))


class ACTHyperModel(TaskHyperModel):
    """Input -> [Embedding] -> `ACTRNN(ACT(cell))` -> Dense, searched over
    the ``"act"`` space (cell block without dropout, units, ponder cost
    `time_penalty` τ, `max_ponder_steps`, learning rate). The ponder cost
    is in the training loss (`ACTRNN`'s `add_loss`)."""

    family = "act"
    task_kinds = ("classification", "regression")

    def build_model(self, values):
        from keras_seqmem import ACT, ACTRNN
        from keras_seqmem.attention.seq2seq import CELLS

        spec, params = self.spec, self.task_params
        shape = spec.input_shape(**params)
        inputs = keras.Input((None,) + tuple(shape[1:]), name="sequence",
                             dtype="int32" if spec.input == "tokens" else None)
        x = inputs
        if spec.input == "tokens":
            x = keras.layers.Embedding(
                spec.get_vocab_size(**params), self.embedding_dim,
                mask_zero=True, name="embedding")(x)
        cell_class, _ = CELLS[values["cell"]]
        cell = cell_class(int(values["units"]), **spaces.cell_kwargs(values))
        act = ACT(cell, max_ponder_steps=int(values["max_ponder_steps"]),
                  time_penalty=float(values["time_penalty"]))
        x = ACTRNN(act, name="act")(x)
        activation = "sigmoid" if spec.kind == "classification" else None
        outputs = keras.layers.Dense(1, activation=activation, name="head")(x)
        model = keras.Model(inputs, outputs,
                            name=f"{spec.name}_act_{values['cell']}")
        return training.compile_for_task(model, spec, values["learning_rate"],
                                         jit_compile=True)


class MemoryHyperModel(_SpaceHyperModel):
    """A `MemN2N` on bAbI, searched over the ``"memory"`` space (hops,
    weight tying, embedding size, sentence encoding, learning rate).

    Compiled with Adam (global norm clipping 40, as the paper's SGD) on the
    answer's cross-entropy; `evaluate` gives the test error.

    Args:
        vocab_size: The vocabulary size; with `data_dir`, read from the
            bAbI vocabulary (and `make_data` reads the tasks).
        data_dir: The bAbI folder holding `en/`.
        tasks: bAbI task numbers trained together.
        memory_size: Most recent sentences kept in memory.
        empty_slots: The `MemN2N` argument ("attend": the slots a story
            leaves empty take part in the softmax, as the bAbI training).
        fixed, name, tunable: As `TaskHyperModel`.
    """

    family = "memory"
    metric_name = "error"

    def __init__(self, vocab_size=None, *, data_dir=None, tasks=(1,),
                 memory_size=50, empty_slots="attend", fixed=None, name=None,
                 tunable=True):
        from keras_seqmem.tasks import babi

        self.data_dir = data_dir
        self.tasks = babi._check_tasks(tasks)
        self.vocabulary = None
        if data_dir is not None:
            # The training files of the tasks tuned on; test-only words map
            # to <unk>.
            self.vocabulary = babi.build_vocabulary(data_dir, self.tasks)
            vocab_size = len(self.vocabulary)
        if vocab_size is None:
            raise ValueError("MemoryHyperModel expected `vocab_size` or "
                             "`data_dir` (the bAbI folder).")
        self.vocab_size = int(vocab_size)
        self.memory_size = int(memory_size)
        self.empty_slots = empty_slots
        self.fixed = dict(fixed or {})
        spaces.declare(keras_tuner.HyperParameters(), self.family, self.fixed)
        super().__init__(name=name or "memory_babi", tunable=tunable)

    def build_model(self, values):
        model = training.build_memory_model(
            self.vocab_size, "memn2n", embedding_dim=int(values["embedding_dim"]),
            hops=int(values["hops"]), memory_size=self.memory_size,
            weight_tying=values["weight_tying"], encoding=values["encoding"],
            empty_slots=self.empty_slots)
        model.compile(
            keras.optimizers.Adam(values["learning_rate"],
                                  global_clipnorm=40.0),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"], jit_compile=True)
        return model

    def make_data(self, train_size=None, test_size=None, batch_size=32,
                  seed=0):
        """The bAbI tasks' training questions (10% held out for validation)
        and test questions; `train_size`/`test_size` cap their numbers."""
        from keras_seqmem.tasks import babi

        if self.data_dir is None:
            raise ValueError("MemoryHyperModel.make_data needs `data_dir`.")
        train_ex = babi.load_babi(self.data_dir, self.tasks, "train")
        test_ex = babi.load_babi(self.data_dir, self.tasks, "test")
        # Widths from the training stories only; test sentences and
        # questions are cut to them (babi.coverage counts the cuts).
        lengths = babi.max_lengths(train_ex, memory_size=self.memory_size)
        train = babi.vectorize(train_ex, self.vocabulary, self.memory_size,
                               *lengths)
        test = babi.vectorize(test_ex, self.vocabulary, self.memory_size,
                              *lengths,
                              supporting_length=train["supporting"].shape[1],
                              truncate=True)
        train, validation = babi.split_validation(train, 0.1, seed=seed)

        def cap(arrays, size):
            return arrays if size is None else {
                k: v[:size] for k, v in arrays.items()}

        train, test = cap(train, train_size), cap(test, test_size)
        return TaskData(
            babi.make_dataset(train, batch_size, shuffle=True, seed=seed),
            babi.make_dataset(validation, batch_size),
            ((test["story"], test["query"]), test["answer"]))

    def evaluate(self, model, test):
        (story, query), answer = test
        logits = model.predict([story, query], batch_size=256, verbose=0)
        return self.metric_name, float(np.mean(np.argmax(logits, -1)
                                               != answer))


HYPERMODELS = {
    "recurrent": RecurrentHyperModel,
    "attention": AttentionHyperModel,
    "memory": MemoryHyperModel,
    "ntm": NTMHyperModel,
    "act": ACTHyperModel,
}
"""family -> hypermodel class."""


def get_hypermodel(family, task=None, **kwargs):
    """The hypermodel of `family` on `task` (for ``"memory"``: bAbI, with
    `data_dir=` and `tasks=` instead of `task`)."""
    if family not in HYPERMODELS:
        raise ValueError(f"Unknown family {family!r}; expected one of "
                         f"{sorted(HYPERMODELS)}")
    if family == "memory":
        if task not in (None, "babi"):
            raise ValueError(f"The memory family is tuned on bAbI "
                             f"(task 'babi'), got task {task!r}")
        return MemoryHyperModel(**kwargs)
    return HYPERMODELS[family](task, **kwargs)


# --- tuners -----------------------------------------------------------------

WORKER_RECORD = "worker.json"
"""File written in each trial's folder by the tuner that ran it."""


class _RecordsWorker:
    """Writes `trial_<id>/worker.json` (`trial_id`, `tuner_id`, `status`)
    when a trial ends: KerasTuner's own `trial.json` (written by the
    oracle, on the chief in distributed mode) does not say which worker ran
    the trial.
    """

    def on_trial_end(self, trial):
        path = os.path.join(self.get_trial_dir(trial.trial_id), WORKER_RECORD)
        with open(path, "w") as f:
            json.dump({"trial_id": trial.trial_id, "tuner_id": self.tuner_id,
                       "status": trial.status}, f)
        super().on_trial_end(trial)


class RandomSearch(_RecordsWorker, keras_tuner.RandomSearch):
    """`keras_tuner.RandomSearch` that also writes `WORKER_RECORD`."""


class BayesianOptimization(_RecordsWorker, keras_tuner.BayesianOptimization):
    """`keras_tuner.BayesianOptimization` that also writes `WORKER_RECORD`."""


class Hyperband(_RecordsWorker, keras_tuner.Hyperband):
    """`keras_tuner.Hyperband` that also writes `WORKER_RECORD`."""


TUNERS = {
    "random": RandomSearch,
    "bayesian": BayesianOptimization,
    "hyperband": Hyperband,
}
"""name -> KerasTuner tuner class (which also writes `WORKER_RECORD`)."""


def make_tuner(tuner, hypermodel, *, objective="val_loss", max_trials=10,
               max_epochs=10, factor=3, directory="runs/tuning",
               project_name="tuning", overwrite=False, seed=0, **kwargs):
    """A KerasTuner `RandomSearch`, `BayesianOptimization` or `Hyperband`.

    Args:
        tuner: ``"random"``, ``"bayesian"`` or ``"hyperband"``.
        hypermodel: A hypermodel of this module.
        objective: What the oracle minimises (``val_*`` metrics and losses
            are minimised, accuracies maximised, as KerasTuner infers).
        max_trials: Trials of random search and Bayesian optimisation.
        max_epochs, factor: Hyperband's (it sets each trial's epochs; one
            bracket, `hyperband_iterations=1`); unused by the others.
        directory, project_name: Where the trials are recorded; an existing
            project is resumed unless `overwrite`.
        seed: An int makes the search reproducible (the oracle gets
            `seed + 1`: KerasTuner draws a random seed for 0); None draws
            one at random.
        **kwargs: Further tuner arguments (`executions_per_trial`, ...).
    """
    if tuner not in TUNERS:
        raise ValueError(f"Unknown tuner {tuner!r}; expected one of "
                         f"{sorted(TUNERS)}")
    if keras.backend.backend() == "tensorflow":
        # KerasTuner imports TensorBoard's hparams API at every trial on
        # this backend; TensorFlow >= 2.20 does not install it.
        require("KerasTuner on the TensorFlow backend", ["tensorboard"],
                extra="tune")
    if tuner == "bayesian":
        require("Bayesian optimisation", ["scipy", "sklearn"], extra="tune")
    common = dict(objective=objective, directory=directory,
                  project_name=project_name, overwrite=overwrite,
                  seed=None if seed is None else int(seed) + 1, **kwargs)
    if tuner == "hyperband":
        return TUNERS[tuner](hypermodel, max_epochs=max_epochs, factor=factor,
                             hyperband_iterations=1, **common)
    return TUNERS[tuner](hypermodel, max_trials=max_trials, **common)


def read_trials(project_dir):
    """The trials recorded in a tuner's project folder, by trial id.

    Returns:
        A list of dicts, sorted by trial id: `trial_id`, `status`, `score`,
        `hyperparameters` (the trial's values), and `tuner_id` (from
        `WORKER_RECORD`; None if the trial has not ended) — one per
        `trial_*/trial.json` that the oracle wrote.
    """
    records = []
    for name in sorted(os.listdir(project_dir)):
        trial_json = os.path.join(project_dir, name, "trial.json")
        if not (name.startswith("trial_") and os.path.exists(trial_json)):
            continue
        with open(trial_json) as f:
            state = json.load(f)
        worker = os.path.join(project_dir, name, WORKER_RECORD)
        tuner_id = None
        if os.path.exists(worker):
            with open(worker) as f:
                tuner_id = json.load(f)["tuner_id"]
        records.append({
            "trial_id": state["trial_id"], "status": state["status"],
            "score": state.get("score"),
            "hyperparameters": state["hyperparameters"]["values"],
            "tuner_id": tuner_id,
        })
    return sorted(records, key=lambda r: r["trial_id"])
