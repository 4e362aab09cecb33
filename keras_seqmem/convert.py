"""Load the weights of a tfa / Keras-2 checkpoint into keras_seqmem layers.

    import keras_seqmem
    from keras_seqmem import convert

    layer = keras_seqmem.LayerNormLSTM(64, return_sequences=True)
    layer(x)                                  # build: the weights must exist
    convert.load_tfa_weights(layer, "run/ckpt")       # or "run/", "w.h5"

`load_tfa_weights` reads a TensorFlow checkpoint (what `model.save_weights`
of tf.keras 2 / tf-keras writes by default, or `tf.train.Checkpoint`; also
TF1 name-based checkpoints) with the public `tf.train.load_checkpoint`, or a
Keras-2 `.h5` weights file with h5py, and assigns each weight of the layer
from the checkpoint variable whose name ends with the weight's tfa name
(`TFA_NAMES`), e.g. `kernel_norm_gamma` from
`layer_with_weights-0/cell/kernel_norm/gamma`. Nothing is transposed or
reordered: every supported tfa / Keras-2 class stores its weights in the
layout keras_seqmem uses (gate order `i, f, c, o`; `(input, output)`
kernels), which the tests prove on real tfa checkpoints by comparing
outputs.

TensorFlow is imported only when a TensorFlow checkpoint is read, so this
works under the JAX (or any) Keras backend with TensorFlow installed; `.h5`
files need only h5py.

What the weights cannot say, and the layer must be built with (see
docs/pages/migrating_from_tfa.md, "Default differences"):

* Keras 2's `tf.keras.experimental.PeepholeLSTMCell` defaulted to
  `recurrent_activation="hard_sigmoid"`, Keras 2's `clip(0.2 x + 0.5, 0,
  1)`; Keras 3's `"hard_sigmoid"` is `relu6(x + 3) / 6` (slope 1/6), a
  different function. Build ours with
  `recurrent_activation=convert.keras2_hard_sigmoid`.
* tfa's `ESNCell(leaky=α)` is `LeakyRNN.echo_state(leaky=α)` (`γ = 1/α`,
  not a checkpoint variable).
* `score_bias_init`, `mode`, `normalize` / `scale`, `probability_fn`,
  epsilons and activations are constructor arguments, not weights.
"""

import os

import keras
import numpy as np
from keras import ops

# Our weight name -> the names the tfa / Keras-2 variable may end with, in
# order of preference (object-based checkpoints name a variable by the
# attribute path, `.h5` files and TF1 checkpoints by the variable name;
# where the two differ both are listed).
_CELL = {"kernel": ("kernel",), "recurrent_kernel": ("recurrent_kernel",),
         "bias": ("bias",)}
TFA_NAMES = {
    # tfa.rnn.PeepholeLSTMCell, Keras-2 tf.keras.experimental.PeepholeLSTMCell
    "PeepholeLSTMCell": {
        **_CELL,
        "input_gate_peephole_weights": ("input_gate_peephole_weights",),
        "forget_gate_peephole_weights": ("forget_gate_peephole_weights",),
        "output_gate_peephole_weights": ("output_gate_peephole_weights",),
    },
    # tfa.rnn.LayerNormLSTMCell
    "LayerNormLSTMCell": {
        **_CELL,
        "kernel_norm_gamma": ("kernel_norm/gamma",),
        "kernel_norm_beta": ("kernel_norm/beta",),
        "recurrent_norm_gamma": ("recurrent_norm/gamma",),
        "recurrent_norm_beta": ("recurrent_norm/beta",),
        "state_norm_gamma": ("state_norm/gamma",),
        "state_norm_beta": ("state_norm/beta",),
    },
    # tfa.rnn.LayerNormSimpleRNNCell: attribute `layernorm`, but the
    # variable is named `<cell>/gamma` (built outside the sublayer's scope).
    "LayerNormSimpleRNNCell": {
        **_CELL, "layernorm_gamma": ("layernorm/gamma", "gamma")},
    # tfa.rnn.ESNCell onto LeakyRNN.echo_state (γ = 1/leaky: no variable).
    "LeakyRNNCell": dict(_CELL),
    # Keras 2 cells onto Keras 3's (same names and layouts).
    "LSTMCell": dict(_CELL),
    "GRUCell": dict(_CELL),
    "SimpleRNNCell": dict(_CELL),
    # tfa.seq2seq attention mechanisms.
    "BahdanauAttention": {
        "query_kernel": ("query_layer/kernel",),
        "key_kernel": ("memory_layer/kernel",),
        "score_kernel": ("attention_v",),
        "score_gain": ("attention_g",),
        "score_bias": ("attention_b",),
    },
    "LuongAttention": {
        "key_kernel": ("memory_layer/kernel",),
        "score_gain": ("attention_g", "scale_weight"),
    },
}
TFA_NAMES["BahdanauMonotonicAttention"] = {
    **TFA_NAMES["BahdanauAttention"],
    "score_offset": ("attention_score_bias",)}
TFA_NAMES["LuongMonotonicAttention"] = {
    **TFA_NAMES["LuongAttention"], "score_offset": ("attention_score_bias",)}
TFA_NAMES["Dense"] = {"kernel": ("kernel",), "bias": ("bias",)}

# Weights of ours that no tfa variable holds (set by a constructor argument).
NOT_IN_TFA = {"LeakyRNNCell": ("gamma", "gamma_offset")}

# Where AttentiveDecoder's parts sit in a checkpoint of tfa's
# AttentionWrapper (object-based paths; see `load_tfa_weights`).
WRAPPER_SCOPES = {"cell": "_cell", "mechanism": "_attention_mechanisms/{i}",
                  "attention_layer": "_attention_layers/{i}"}

_TF_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"


@keras.saving.register_keras_serializable(package="keras_seqmem")
def keras2_hard_sigmoid(x):
    """Keras 2's `hard_sigmoid`: `clip(0.2 x + 0.5, 0, 1)`.

    The default `recurrent_activation` of Keras 2's
    `tf.keras.experimental.PeepholeLSTMCell` (and of `LSTM`/`GRU` in
    standalone Keras before 2.3 and tf.keras in TF 1). Keras 3's
    `"hard_sigmoid"` is `relu6(x + 3) / 6`, a different function (they
    differ by up to 1/12, at |x| = 2.5), so a converted cell must be built
    with this one:

        keras_seqmem.PeepholeLSTMCell(
            units, recurrent_activation=convert.keras2_hard_sigmoid)

    It is registered with Keras (`"keras_seqmem>keras2_hard_sigmoid"`), so
    models using it save and load.
    """
    return ops.clip(0.2 * x + 0.5, 0.0, 1.0)


# --- reading checkpoints -------------------------------------------------------


def _tensorflow():
    try:
        import tensorflow as tf
    except ImportError as error:
        raise ImportError(
            "keras_seqmem.convert reads TensorFlow checkpoints with "
            "tf.train.load_checkpoint, which needs TensorFlow: pip install "
            "tensorflow-cpu (it works under any Keras backend; Keras-2 .h5 "
            "weight files need only h5py)."
        ) from error
    return tf


def _is_h5(path):
    if not os.path.isfile(path):
        return False
    with open(path, "rb") as f:
        return f.read(8) == b"\x89HDF\r\n\x1a\n"  # the HDF5 signature


def _read_h5(path):
    try:
        import h5py
    except ImportError as error:
        raise ImportError(
            f"keras_seqmem.convert reads the .h5 weights file {path!r} with "
            f"h5py: pip install h5py.") from error
    values = {}

    def visit(name, item):
        if isinstance(item, h5py.Dataset):
            if name.startswith("optimizer_weights/"):
                return
            key = name[len("model_weights/"):] if name.startswith(
                "model_weights/") else name
            values[key.split(":")[0]] = np.asarray(item)

    with h5py.File(path, "r") as f:
        f.visititems(visit)
    return values


def _tf_prefix(path):
    tf = _tensorflow()
    if os.path.isdir(path):
        prefix = tf.train.latest_checkpoint(path)
        if prefix is None:
            raise FileNotFoundError(
                f"keras_seqmem.convert: no TensorFlow checkpoint in the folder "
                f"{path!r} (no 'checkpoint' state file naming one); give the "
                f"checkpoint prefix, the path passed to save_weights, e.g. "
                f"{os.path.join(path, 'ckpt')!r}.")
        return tf, prefix
    if not os.path.exists(path + ".index"):
        raise FileNotFoundError(
            f"keras_seqmem.convert: no checkpoint at {path!r}: expected a "
            f"TensorFlow checkpoint prefix (the path given to save_weights or "
            f"Checkpoint.write, with {path + '.index'!r} beside it), the "
            f"folder holding one, or a Keras-2 .h5 weights file.")
    return tf, path


def read_checkpoint(path):
    """`{variable name: NumPy array}` of a tfa / Keras-2 checkpoint.

    `path`: a TensorFlow checkpoint prefix (`model.save_weights(path)`,
    `tf.train.Checkpoint(...).write(path)`), the folder of one (its
    `checkpoint` state file names the latest), or a Keras-2 `.h5` weights
    file. Object-based names lose their `/.ATTRIBUTES/VARIABLE_VALUE`
    suffix; optimizer variables and slots, the save counter and the object
    graph are left out; `.h5` names lose `:0`.
    """
    path = os.fspath(path)
    if _is_h5(path):
        return _read_h5(path)
    tf, prefix = _tf_prefix(path)
    reader = tf.train.load_checkpoint(prefix)
    values = {}
    for name, _ in tf.train.list_variables(prefix):
        if (name.startswith(("_CHECKPOINTABLE_OBJECT_GRAPH", "optimizer/",
                             "save_counter", "global_step"))
                or "/.OPTIMIZER_SLOT/" in name):
            continue
        key = name[:-len(_TF_SUFFIX)] if name.endswith(_TF_SUFFIX) else name
        values[key] = reader.get_tensor(name)
    return values


# --- matching ----------------------------------------------------------------------


def _in_scope(key, scope):
    if not scope:
        return True
    return ("/" + scope.strip("/") + "/") in ("/" + key)


def _parent(key, tail):
    return key[:-len(tail)].rstrip("/")


def _class_of(layer):
    for cls in type(layer).__mro__:
        if cls.__name__ in TFA_NAMES:
            return cls.__name__
    return None


def _describe(keys, values):
    return "\n".join(f"  {k} {tuple(np.shape(values[k]))}" for k in sorted(
        keys)) or "  (none)"


def _assignments(layer, values, scope, strict, name_map):
    """[(variable, checkpoint key)] for one leaf layer (a cell, a mechanism,
    a Dense)."""
    cls = _class_of(layer)
    table = dict(TFA_NAMES.get(cls, {}))
    for ours, theirs in (name_map or {}).items():
        table[ours] = (theirs,) if isinstance(theirs, str) else tuple(theirs)
    if cls is None and not name_map:
        raise ValueError(
            f"keras_seqmem.convert: no tfa / Keras-2 weight names known for "
            f"layer '{layer.name}' ({type(layer).__name__}). Supported: "
            f"{', '.join(supported_layers())}; for another layer pass "
            f"name_map={{our weight name: checkpoint variable name}}.")
    skip = NOT_IN_TFA.get(cls, ())
    keys = [k for k in values if _in_scope(k, scope)]
    found, missing, parents = [], [], set()
    for variable in layer.weights:
        name = variable.name
        if name in skip and name not in (name_map or {}):
            continue
        if name not in table:
            raise ValueError(
                f"keras_seqmem.convert: layer '{layer.name}' "
                f"({type(layer).__name__}) has a weight '{name}' with no "
                f"known tfa name; pass name_map={{'{name}': '<checkpoint "
                f"variable>'}}.")
        hit = None
        for tail in table[name]:
            hits = [k for k in keys if k == tail or k.endswith("/" + tail)]
            if len(hits) > 1:
                raise ValueError(
                    f"keras_seqmem.convert: weight '{name}' of layer "
                    f"'{layer.name}' matches {len(hits)} checkpoint variables "
                    f"(the checkpoint holds several layers): "
                    f"{sorted(hits)}. Pass scope= with the path of the one "
                    f"to load, e.g. scope={_parent(sorted(hits)[0], tail)!r}.")
            if hits:
                hit = hits[0]
                parents.add(_parent(hit, tail))
                break
        if hit is None:
            missing.append((name, table[name]))
            continue
        expected = tuple(variable.shape)
        got = tuple(np.shape(values[hit]))
        if expected != got:
            raise ValueError(
                f"keras_seqmem.convert: shape mismatch for weight '{name}' of "
                f"layer '{layer.name}': ours is {expected}, the checkpoint's "
                f"'{hit}' is {got}. Build the layer with the tfa layer's "
                f"units and input size (and flags such as normalize / scale).")
        found.append((variable, hit))
    if missing and strict:
        lines = ", ".join(f"'{n}' (tfa name ending in "
                          f"{' or '.join(repr(t) for t in tails)})"
                          for n, tails in missing)
        raise ValueError(
            f"keras_seqmem.convert: the checkpoint has no variable for "
            f"{lines} of layer '{layer.name}' ({type(layer).__name__})"
            f"{'' if not scope else f' under scope {scope!r}'}. It has:\n"
            f"{_describe(keys, values)}\n(Pass strict=False to load the "
            f"others and leave these as they are.)")
    if strict and len(parents) == 1 and "" not in parents:
        # Variables beside the ones used (same owner) that ours has no weight
        # for: another class, or a flag (normalize, scale) set differently.
        parent = parents.pop()
        used = {k for _, k in found}
        extra = [k for k in keys
                 if k.startswith(parent + "/") and k not in used]
        if extra:
            raise ValueError(
                f"keras_seqmem.convert: the checkpoint's '{parent}' has "
                f"variables that layer '{layer.name}' "
                f"({type(layer).__name__}) has no weight for: "
                f"{sorted(extra)}. Is it another class, or built with "
                f"another flag (normalize=, scale=, use_bias=)? (strict=False "
                f"ignores them.)")
    return found


def _leaves(layer, scope):
    """[(leaf layer, its scope)] of `layer`: a recurrent layer is its cell;
    an AttentiveDecoder is its cell, mechanisms and attention layers, under
    the paths of tfa's AttentionWrapper (`WRAPPER_SCOPES`) below `scope`."""
    if _class_of(layer) is not None:
        return [(layer, scope)]
    if type(layer).__name__ == "AttentiveDecoder":
        join = (lambda part: part if not scope
                else scope.rstrip("/") + "/" + part)
        out = [(layer.cell, join(WRAPPER_SCOPES["cell"]))]
        mechanisms = layer.attention
        if mechanisms is not None:
            if not isinstance(mechanisms, (list, tuple)):
                mechanisms = [mechanisms]
            for i, m in enumerate(mechanisms):
                out.append((m, join(WRAPPER_SCOPES["mechanism"].format(i=i))))
        for i, dense in enumerate(getattr(layer, "attention_layers", None)
                                  or []):
            out.append((dense, join(
                WRAPPER_SCOPES["attention_layer"].format(i=i))))
        return out
    cell = getattr(layer, "cell", None)
    if cell is not None and _class_of(cell) is not None:
        return [(cell, scope)]
    return [(layer, scope)]


def supported_layers():
    """Names of the classes `load_tfa_weights` maps (ours and Keras's; a
    recurrent layer wrapping one of these cells, and `AttentiveDecoder`,
    are supported through their parts)."""
    return sorted(TFA_NAMES)


def load_tfa_weights(layer, checkpoint_path, scope=None, strict=True,
                     name_map=None):
    """Loads a tfa / Keras-2 checkpoint's weights into a built layer.

    Supported (tfa / Keras-2 class -> ours):

        tfa.rnn.PeepholeLSTMCell,
        tf.keras.experimental.PeepholeLSTMCell  -> PeepholeLSTMCell / PeepholeLSTM
        tfa.rnn.LayerNormLSTMCell               -> LayerNormLSTMCell / LayerNormLSTM
        tfa.rnn.LayerNormSimpleRNNCell          -> LayerNormSimpleRNNCell / LayerNormSimpleRNN
        tfa.rnn.ESNCell                         -> LeakyRNN(Cell).echo_state(leaky=...)
        tf.keras LSTMCell, GRUCell, SimpleRNNCell -> keras.layers' (same names)
        tfa.seq2seq.BahdanauAttention, LuongAttention,
        BahdanauMonotonicAttention, LuongMonotonicAttention -> ours
        tfa.seq2seq.AttentionWrapper             -> AttentiveDecoder(cell,
            mechanism(s), order="luong", attention_layer_size=...): the cell
            from `<scope>/_cell`, mechanism i from
            `<scope>/_attention_mechanisms/i`, attention layer i from
            `<scope>/_attention_layers/i`

    and any layer whose cell is one of these (`keras.layers.RNN(cell)`,
    `keras_seqmem.RNN`). The weight names are in `TFA_NAMES` and on
    docs/pages/migrating_from_tfa.md.

    Args:
        layer: A built keras_seqmem (or Keras) layer or cell.
        checkpoint_path: A TensorFlow checkpoint prefix (the path given to
            tf.keras 2's `model.save_weights` or `tf.train.Checkpoint.write`),
            its folder, or a Keras-2 `.h5` weights file.
        scope: Optional path inside the checkpoint of the tfa layer to load,
            needed when it holds several layers with the same weight names
            (e.g. `"layer_with_weights-1"` for the second layer of a
            `Sequential` saved with `save_weights`; `"rnn_1"` in an `.h5`).
            A variable is in scope when its name contains `scope` as whole
            path components.
        strict: If True (default), every weight of ours must be found, and
            the checkpoint layer must have no variable ours lacks; if False,
            weights not found are left as they are.
        name_map: Optional `{our weight name: checkpoint name ending}`,
            overriding or extending the table (for another layer type too).

    Returns:
        `{our weight path: checkpoint variable name}` of what was assigned.

    Raises:
        FileNotFoundError: No checkpoint at `checkpoint_path`.
        ImportError: TensorFlow (or h5py for `.h5`) is not installed.
        ValueError: The layer is not built; its type is not supported; a
            weight's variable is missing (named, with what the checkpoint
            has) or ambiguous (pass `scope`); shapes differ (both named).
    """
    if not layer.built:
        raise ValueError(
            f"keras_seqmem.convert: layer '{layer.name}' is not built, so it "
            f"has no weights to load into: call it once on an input (or "
            f"layer.build(input_shape)) with the tfa layer's input size, "
            f"then load.")
    values = read_checkpoint(checkpoint_path)
    if not values:
        raise ValueError(
            f"keras_seqmem.convert: {os.fspath(checkpoint_path)!r} holds no "
            f"model variables.")
    leaves = [(leaf, leaf_scope) for leaf, leaf_scope in _leaves(layer, scope)
              if leaf is not None]
    if name_map and len(leaves) > 1:
        raise ValueError(
            f"keras_seqmem.convert: name_map applies to one layer or cell; "
            f"'{layer.name}' has {len(leaves)} parts "
            f"({', '.join(leaf.name for leaf, _ in leaves)}): load them one "
            f"by one, each with its scope.")
    plan = []
    for leaf, leaf_scope in leaves:
        plan += _assignments(leaf, values, leaf_scope, strict, name_map)
    for variable, key in plan:
        variable.assign(np.asarray(values[key]).astype(variable.dtype))
    return {variable.path: key for variable, key in plan}
