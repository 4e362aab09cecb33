"""Train a recurrent model on one of the generated tasks.

The one place where a task becomes a Keras model and a test metric: the
`keras-seqmem train` command, the examples and the tuning code all use it.

    result = train_on_task("adding", "peephole_lstm", length=100, epochs=5)
    print(result.metric_name, result.test_metric, "baseline", result.baseline)
"""

import dataclasses
import time

import keras

from keras_seqmem.recurrent import CoupledLSTM
from keras_seqmem.recurrent import LeakyRNN
from keras_seqmem.recurrent import PeepholeLSTM
from keras_seqmem.tasks import get_task
from keras_seqmem.tasks import make_dataset
from keras_seqmem.tasks.adding import SOLVED_MSE

# name -> constructor(units, **kwargs) of a recurrent layer. Keras' own
# layers are here as the baselines they are.
RECURRENT_LAYERS = {
    "simple_rnn": keras.layers.SimpleRNN,
    "gru": keras.layers.GRU,
    "lstm": keras.layers.LSTM,
    "leaky_rnn": LeakyRNN,
    "peephole_lstm": PeepholeLSTM,
    "coupled_lstm": CoupledLSTM,
}


def make_recurrent_layer(kind, units, **kwargs):
    """A recurrent layer by name (see `RECURRENT_LAYERS`)."""
    if kind not in RECURRENT_LAYERS:
        raise ValueError(
            f"Unknown recurrent layer kind {kind!r}; expected one of "
            f"{sorted(RECURRENT_LAYERS)}."
        )
    return RECURRENT_LAYERS[kind](units, **kwargs)


def build_task_model(
    task,
    kind="peephole_lstm",
    units=64,
    embedding_dim=16,
    layer_kwargs=None,
    **task_params,
):
    """Input -> [Embedding(mask_zero)] -> recurrent layer -> Dense(1).

    Token tasks get an embedding whose padding id 0 is masked; the head is a
    sigmoid unit for classification and a linear unit for regression.
    """
    spec = get_task(task)
    shape = spec.input_shape(**task_params)
    inputs = keras.Input((None,) + tuple(shape[1:]), name="sequence",
                         dtype="int32" if spec.input == "tokens" else None)
    x = inputs
    if spec.input == "tokens":
        x = keras.layers.Embedding(
            spec.get_vocab_size(**task_params), embedding_dim,
            mask_zero=True, name="embedding",
        )(x)
    x = make_recurrent_layer(kind, units, name=kind, **(layer_kwargs or {}))(x)
    activation = "sigmoid" if spec.kind == "classification" else None
    outputs = keras.layers.Dense(1, activation=activation, name="head")(x)
    return keras.Model(inputs, outputs, name=f"{spec.name}_{kind}")


@dataclasses.dataclass
class TrainResult:
    task: str
    kind: str
    metric_name: str
    test_metric: float
    baseline: float
    solved: bool
    seconds: float
    history: dict
    model: keras.Model


# What counts as solving a task: MSE below SOLVED_MSE = 0.01 on the adding
# problem (the usual threshold, Le et al. 2015), accuracy of at least 0.95
# on the classification tasks.
SOLVED_ACCURACY = 0.95


def compile_for_task(model, task, learning_rate=1e-3, jit_compile=True):
    spec = get_task(task)
    optimizer = keras.optimizers.Adam(learning_rate, clipnorm=1.0)
    if spec.kind == "classification":
        model.compile(optimizer, "binary_crossentropy", metrics=["accuracy"],
                      jit_compile=jit_compile)
    else:
        model.compile(optimizer, "mse", metrics=["mse"],
                      jit_compile=jit_compile)
    return model


def train_on_task(
    task,
    kind="peephole_lstm",
    *,
    units=64,
    train_size=10000,
    test_size=2000,
    batch_size=64,
    epochs=10,
    learning_rate=1e-3,
    seed=0,
    jit_compile=True,
    verbose=1,
    callbacks=None,
    layer_kwargs=None,
    **task_params,
):
    """Generates train/test data, trains, and evaluates on the test set.

    Train, validation and test sets come from different seeds, so the test
    metric is on sequences the model never saw.
    """
    spec = get_task(task)
    keras.utils.set_random_seed(seed)
    train = make_dataset(spec, train_size, batch_size=batch_size, seed=seed,
                         **task_params)
    val = make_dataset(spec, max(test_size // 4, batch_size),
                       batch_size=batch_size, seed=seed + 10_000,
                       shuffle=False, **task_params)
    test = make_dataset(spec, test_size, batch_size=batch_size,
                        seed=seed + 20_000, shuffle=False, **task_params)
    model = build_task_model(spec, kind, units, layer_kwargs=layer_kwargs,
                             **task_params)
    compile_for_task(model, spec, learning_rate, jit_compile)
    start = time.perf_counter()
    # The dataset is shuffled (with the seed) by make_dataset already.
    history = model.fit(train, validation_data=val, epochs=epochs,
                        verbose=verbose, callbacks=callbacks, shuffle=False)
    seconds = time.perf_counter() - start
    scores = model.evaluate(test, verbose=0, return_dict=True)
    metric = float(scores[spec.metric_name])
    if spec.metric_name == "mse":
        solved = metric < SOLVED_MSE
    else:
        solved = metric >= SOLVED_ACCURACY
    return TrainResult(
        task=spec.name, kind=kind, metric_name=spec.metric_name,
        test_metric=metric, baseline=float(spec.baseline), solved=solved,
        seconds=seconds, history=history.history, model=model,
    )
