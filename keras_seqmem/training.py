"""Train a recurrent model on one of the generated tasks.

The one place where a task becomes a Keras model and a test metric: the
`keras-seqmem train` command, the examples and the tuning code all use it.

    result = train_on_task("adding", "peephole_lstm", length=100, epochs=5)
    print(result.metric_name, result.test_metric, "baseline", result.baseline)
"""

import dataclasses
import time

import keras
import numpy as np

from keras_seqmem import tasks as _tasks
from keras_seqmem.attention import Seq2Seq

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
    if spec.kind == "seq2seq":
        return build_seq2seq_model(spec, kind, units, embedding_dim,
                                   layer_kwargs, **task_params)
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


def build_seq2seq_model(
    task,
    kind="lstm",
    units=64,
    embedding_dim=16,
    layer_kwargs=None,
    model_kwargs=None,
    **task_params,
):
    """A `Seq2Seq` sized for a seq2seq task (vocabularies, decode bound).

    `kind` is the cell of encoder and decoder (`Seq2Seq`'s `cell`),
    `layer_kwargs` its extra arguments, `model_kwargs` further `Seq2Seq`
    arguments (`use_attention`, `attention_units`, `normalize`, ...).
    """
    spec = get_task(task)
    return Seq2Seq(
        source_vocab_size=spec.get_vocab_size(**task_params),
        target_vocab_size=spec.get_target_vocab_size(**task_params),
        embedding_dim=embedding_dim,
        units=units,
        cell=kind,
        cell_kwargs=layer_kwargs,
        pad_id=_tasks.PAD_ID,
        start_id=_tasks.START_ID,
        end_id=_tasks.END_ID,
        max_decode_length=spec.target_shape(**task_params)[0],
        name=f"{spec.name}_{kind}",
        **(model_kwargs or {}),
    )


def predict_sequences(model, source, batch_size=256, method="greedy",
                      beam_width=4, max_length=None):
    """Decoded target ids `(n, max_length)` of a `Seq2Seq`, batch by batch
    (the best beam for beam search)."""
    rows = []
    for start in range(0, len(source), batch_size):
        result = model.generate(source[start:start + batch_size],
                                method=method, beam_width=beam_width,
                                max_length=max_length)
        rows.append(result.ids if method == "greedy" else result.ids[:, 0])
    return np.concatenate(rows, axis=0)


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
# Seq2seq tasks: the whole output sequence right on 99% of held-out inputs.
SOLVED_EXACT_MATCH = 0.99


def compile_for_task(model, task, learning_rate=1e-3, jit_compile=True):
    spec = get_task(task)
    optimizer = keras.optimizers.Adam(learning_rate, clipnorm=1.0)
    if spec.kind == "seq2seq":
        # Padding targets carry no loss; the token accuracy is masked too
        # (Keras reads the mask the decoder puts on the logits).
        loss = keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, ignore_class=_tasks.PAD_ID)
        model.compile(optimizer, loss,
                      metrics=[keras.metrics.SparseCategoricalAccuracy(
                          name="token_accuracy")],
                      jit_compile=jit_compile)
    elif spec.kind == "classification":
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
    model_kwargs=None,
    embedding_dim=16,
    decode_method="greedy",
    beam_width=4,
    **task_params,
):
    """Generates train/test data, trains, and evaluates on the test set.

    Train, validation and test sets come from different seeds, so the test
    metric is on sequences the model never saw. For seq2seq tasks the model
    is a `Seq2Seq` trained with teacher forcing, and the test metric is the
    exact match of the sequences it decodes (`decode_method` "greedy" or
    "beam" with `beam_width`), compiled with XLA when `jit_compile`.
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
    if spec.kind == "seq2seq":
        model = build_seq2seq_model(spec, kind, units, embedding_dim,
                                    layer_kwargs, model_kwargs, **task_params)
    else:
        if model_kwargs:
            raise ValueError(
                f"model_kwargs apply to seq2seq tasks only; task "
                f"{spec.name!r} is {spec.kind}.")
        model = build_task_model(spec, kind, units, embedding_dim,
                                 layer_kwargs=layer_kwargs, **task_params)
    compile_for_task(model, spec, learning_rate, jit_compile)
    start = time.perf_counter()
    # The dataset is shuffled (with the seed) by make_dataset already.
    history = model.fit(train, validation_data=val, epochs=epochs,
                        verbose=verbose, callbacks=callbacks, shuffle=False)
    seconds = time.perf_counter() - start
    if spec.kind == "seq2seq":
        source, target = spec.generate(test_size, seed=seed + 20_000,
                                       **task_params)
        predicted = predict_sequences(model, source, method=decode_method,
                                      beam_width=beam_width)
        metric = float(_tasks.exact_match(predicted, target))
    else:
        scores = model.evaluate(test, verbose=0, return_dict=True)
        metric = float(scores[spec.metric_name])
    if spec.metric_name == "exact_match":
        solved = metric >= SOLVED_EXACT_MATCH
    elif spec.metric_name == "mse":
        solved = metric < SOLVED_MSE
    else:
        solved = metric >= SOLVED_ACCURACY
    return TrainResult(
        task=spec.name, kind=kind, metric_name=spec.metric_name,
        test_metric=metric, baseline=float(spec.baseline), solved=solved,
        seconds=seconds, history=history.history, model=model,
    )


def write_alignment_plot(model, task, source_ids, path, method="greedy",
                         beam_width=4, **task_params):
    """Decodes one source sequence and writes its attention heatmap as PNG.

    Args:
        model: A trained `Seq2Seq` with attention.
        task: The seq2seq task (its vocabularies label the axes).
        source_ids: One source row of ids, `(T_s,)`, `PAD_ID`-padded.
        path: The PNG file to write.
        method, beam_width: How to decode ("greedy" or "beam").
        **task_params: The task's parameters.

    Returns:
        `(path, source_text, output_text)`.
    """
    from keras_seqmem.plots import plot_alignment

    spec = get_task(task)
    source_vocabulary = spec.get_source_vocabulary(**task_params)
    target_vocabulary = spec.get_target_vocabulary(**task_params)
    source_ids = np.asarray(source_ids)[None, :]
    result = model.generate(source_ids, method=method, beam_width=beam_width,
                            return_alignments=True)
    ids, weights = result.ids[0], result.alignments[0]
    length = result.lengths[0]
    if method == "beam":
        ids, weights, length = ids[0], weights[0], length[0]
    source_tokens = [source_vocabulary[i] for i in source_ids[0]
                     if i != _tasks.PAD_ID]
    output_tokens = [target_vocabulary[i] for i in ids[:length]]
    source_text = _tasks.decode(source_ids[0], source_vocabulary)
    output_text = _tasks.decode(ids, target_vocabulary)
    plot_alignment(weights[:length, :len(source_tokens)], source_tokens,
                   output_tokens, path,
                   title=f"{source_text!r} -> {output_text!r}")
    return path, source_text, output_text
