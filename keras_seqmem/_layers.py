"""Walking a model's layers through public attributes only.

Keras 3 has no public "every nested layer" API (its own walk is private).
`iter_layers(model)` is ours: the model, then every `keras.layers.Layer`
reachable from it through

* `model.layers` (public for Sequential, Functional and subclassed models),
* attributes holding a layer, or a list / tuple / set / dict of them
  (nested containers too), e.g. `RNN.cell`, `Bidirectional.forward_layer`,
  `Seq2Seq.decoder`.

Each layer comes once (depth first, in attribute order: what a model holds
first comes first), cycles are harmless.

Which attributes: every public one (no leading underscore); the underscore
ones only on classes of this package (our own private sublayers, e.g. a
`_dropout_layer`), and never the bookkeeping attributes that Keras itself
sets on every layer or model (whatever their names are in the installed
Keras: the walk never names them, it leaves out the attribute names a bare
`keras.layers.Layer()` / `keras.Model()` has). A Keras layer that keeps its
sublayers in private attributes (e.g. `MultiHeadAttention`'s projections) is
walked as far as its public attributes reach.
"""

import functools

import keras

_OURS = __name__.split(".")[0]


@functools.lru_cache(maxsize=None)
def _keras_bookkeeping():
    """Attribute names Keras sets on every layer / model it constructs."""
    # Named, so that no auto-generated name ("layer_1") is used up.
    names = set(vars(keras.layers.Layer(name="keras_seqmem_probe")))
    names |= set(vars(keras.Model(name="keras_seqmem_probe_model")))
    return frozenset(names)


def _is_ours(obj):
    return type(obj).__module__.split(".")[0] == _OURS


def _walked_attributes(obj):
    ours = _is_ours(obj)
    for name, value in vars(obj).items():
        if name.startswith("_") and (
                not ours or name in _keras_bookkeeping()):
            continue
        yield value


def _layers_in(value):
    """The layers a value is, or holds in (nested) containers."""
    if isinstance(value, keras.layers.Layer):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _layers_in(item)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from _layers_in(item)


def _children(layer):
    if isinstance(layer, keras.Model):
        yield from layer.layers
    for value in _walked_attributes(layer):
        yield from _layers_in(value)


def iter_layers(layer, include_self=True):
    """Yields `layer` (unless `include_self=False`) and every layer nested
    in it, each once, depth first."""
    seen = set() if include_self else {id(layer)}
    stack = [iter([layer]) if include_self else _children(layer)]
    while stack:
        for child in stack[-1]:
            if id(child) in seen:
                continue
            seen.add(id(child))
            yield child
            stack.append(_children(child))
            break
        else:
            stack.pop()
