"""`keras_seqmem._layers.iter_layers`: our public-API walk over a model's
nested layers (Keras' own walk is private)."""

import itertools

import keras
import numpy as np

import keras_seqmem
from keras_seqmem import training
from keras_seqmem._layers import iter_layers


def _ids(layers):
    layers = list(layers)
    ids = [id(layer) for layer in layers]
    assert len(ids) == len(set(ids)), [layer.name for layer in layers]
    return set(ids)


class _Holder(keras.layers.Layer):
    """Sublayers in a public attribute, a list, a dict, a nested tuple, and
    a private attribute (walked only on keras_seqmem's own classes)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.inner = keras.layers.Dense(2, name="inner")
        self.blocks = [keras.layers.Dense(2, name="block_0"),
                       keras.layers.Dense(2, name="block_1")]
        self.by_name = {"a": keras.layers.Dense(2, name="dict_a")}
        self.nested = [(keras.layers.Dense(2, name="in_tuple"), 3)]
        self.shared = self.inner  # the same layer twice
        self.not_a_layer = {"units": 2}
        self._hidden = keras.layers.Dense(2, name="hidden")

    def call(self, x):
        return self.inner(x)


def test_attributes_lists_dicts_and_nesting():
    holder = _Holder(name="holder")
    names = [layer.name for layer in iter_layers(holder)]
    assert names == ["holder", "inner", "block_0", "block_1", "dict_a",
                     "in_tuple"]
    assert [layer.name for layer in iter_layers(holder, include_self=False)
            ] == names[1:]


def test_our_private_sublayers_are_walked():
    """keras_seqmem's own private sublayers (a `_dropout_layer`) count, as
    they did for Keras' walk."""
    for layer in (keras_seqmem.KeyValueMemory(dropout=0.1),
                  keras_seqmem.BahdanauAttention(4, dropout=0.1)):
        found = list(iter_layers(layer))
        assert [type(x).__name__ for x in found] == [
            type(layer).__name__, "Dropout"], found


def test_nested_models_and_cells():
    inner = keras.Sequential([keras.layers.Dense(3, name="dense_in")],
                             name="inner_model")
    cell = keras_seqmem.PeepholeLSTMCell(4, name="cell")
    rnn = keras.layers.RNN(cell, return_sequences=True, name="rnn")
    bidirectional = keras.layers.Bidirectional(
        keras.layers.GRU(2, name="gru"), name="bi")
    inputs = keras.Input((None, 3), name="x")
    x = inner(inputs)
    x = rnn(x)
    x = bidirectional(x)
    model = keras.Model(inputs, x, name="outer")
    found = list(iter_layers(model))
    expected = [model, _input_layer(model), inner, inner.layers[0], rnn,
                cell, bidirectional, bidirectional.forward_layer,
                bidirectional.forward_layer.cell,
                bidirectional.backward_layer,
                bidirectional.backward_layer.cell]
    assert _ids(found) == _ids(expected), [x.name for x in found]
    assert found[0] is model
    # Depth first: a model's sublayers come right after it.
    names = [layer.name for layer in found]
    assert names.index("dense_in") == names.index("inner_model") + 1
    assert names.index("cell") == names.index("rnn") + 1


def _input_layer(model):
    (layer,) = [x for x in model.layers
                if isinstance(x, keras.layers.InputLayer)]
    return layer


def test_shared_layers_and_cycles_come_once():
    dense = keras.layers.Dense(2, name="shared_dense")
    inputs = keras.Input((2,))
    model = keras.Model(inputs, dense(dense(inputs)))
    assert [x.name for x in iter_layers(model)].count("shared_dense") == 1
    a, b = _Holder(name="a"), _Holder(name="b")
    a.partner, b.partner = b, a  # a cycle
    # (at most 100: a walk that loops fails here instead of hanging)
    found = list(itertools.islice(iter_layers(a), 100))
    assert _ids(found) >= {id(a), id(b)}
    assert len(found) == 2 * 6


def test_seq2seq_every_layer_once():
    """What Keras' own (private) walk found in the Seq2Seq of the XLA
    test: 14 layers (checked against it when this walk replaced it)."""
    model = keras_seqmem.Seq2Seq(source_vocab_size=9, target_vocab_size=9,
                                 embedding_dim=4, units=4,
                                 max_decode_length=5)
    model((np.full((1, 3), 3), np.ones((1, 2))))
    encoder, decoder = model.encoder, model.decoder
    expected = [model, model.source_embedding, model.target_embedding,
                encoder, encoder.forward_layer, encoder.forward_layer.cell,
                encoder.backward_layer, encoder.backward_layer.cell,
                *model.bridges, decoder, decoder.cell, decoder.attention,
                model.output_layer]
    found = list(iter_layers(model))
    assert len(found) == 14
    assert _ids(found) == _ids(expected), [x.name for x in found]
    assert all(layer.supports_jit for layer in found)


def test_memory_models_layers():
    """The bAbI models (`LinearStart` and the attention plot find their
    MemN2N / KeyValueMemoryNetwork this way)."""
    for kind, cls in training.MEMORY_MODELS.items():
        model = training.build_memory_model(12, kind, embedding_dim=5,
                                            hops=2, memory_size=10)
        found = list(iter_layers(model))
        assert [type(x).__name__ for x in found] == [
            "Functional", "InputLayer", "InputLayer", cls.__name__], found
        # Wrapped once more, as a user might.
        outer = keras.Sequential([model])
        assert [x for x in iter_layers(outer) if isinstance(x, cls)] == [
            found[-1]]
