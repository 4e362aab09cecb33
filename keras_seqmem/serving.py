"""Serving: SavedModels that TF Serving (or any TensorFlow process that never
imports keras_seqmem) loads, and checks of what they contain.

    export_saved_model(model, "served/")       # what `keras-seqmem export` does
    lines, dynamic = describe_serving_signature("served/")
    assert nonstandard_ops("served/") == []    # no Python functions, no cuDNN

See `docs/pages/serving.md`.
"""

import os

# Op types that tie a SavedModel to a Python process (tf.py_function,
# tf.numpy_function) or, with the "Cudnn" prefix, to an NVIDIA GPU.
PYTHON_OPS = ("PyFunc", "PyFuncStateless", "EagerPyFunc")


def export_saved_model(model, path):
    """`model.export(path)`: a SavedModel whose `serving_default` signature
    takes inputs of any batch size and sequence length.

    A model whose inputs have a static time axis (e.g. `Input((100, 2))`)
    is exported with `(None, None, ...)` input specs instead of its own.
    Models with their own `export` (`Seq2Seq`: in-graph decoding) keep
    their signature.
    """
    import tensorflow as tf

    try:
        inputs = list(model.inputs)
    except (AttributeError, TypeError, ValueError):  # a subclassed model
        inputs = []
    if not any(len(t.shape) >= 2 and t.shape[1] is not None for t in inputs):
        model.export(path, verbose=False)
        return
    specs = [tf.TensorSpec((None,) + (None,) * (len(t.shape) >= 2)
                           + tuple(t.shape[2:]), t.dtype, name=t.name)
             for t in inputs]
    try:
        model.export(path, verbose=False,
                     input_signature=[specs[0] if len(specs) == 1 else specs])
        # Probe: a step longer than the model was built for.
        probe = {}
        for t in inputs:
            shape = [2] + [d or 1 for d in t.shape[1:]]
            shape[1:2] = [shape[1] + 1] if len(shape) > 1 else []
            probe[t.name] = tf.zeros(shape, t.dtype)
        tf.saved_model.load(path).signatures["serving_default"](**probe)
    except (ValueError, TypeError, tf.errors.OpError):
        # A model that needs its static length (e.g. Flatten -> Dense)
        # keeps it; describe_serving_signature reports the static axis.
        import shutil

        shutil.rmtree(path, ignore_errors=True)
        model.export(path, verbose=False)


def describe_serving_signature(path):
    """`(lines, dynamic)`: the `serving_default` inputs and outputs of a
    SavedModel (name, dtype, shape), and whether every input has a dynamic
    batch axis and, if it has one, a dynamic time axis."""
    import tensorflow as tf

    signature = tf.saved_model.load(path).signatures["serving_default"]
    _, inputs = signature.structured_input_signature
    lines, dynamic = ["signature serving_default:"], True
    for kind, specs in (("input ", inputs),
                        ("output", signature.structured_outputs)):
        for name, spec in sorted(specs.items()):
            shape = tuple(spec.shape.as_list())
            lines.append(f"  {kind} {name}: {spec.dtype.name} {shape}")
            if kind == "input ":
                dynamic &= all(d is None for d in shape[:2])
    return lines, dynamic


def _meta_graphs(path):
    """The `tf.compat.v1.MetaGraphDef`s of a SavedModel, read from its
    `saved_model.pb` with public TensorFlow APIs only (`tf.io.decode_proto`
    splits the `tensorflow.SavedModel` message into its meta graphs).

    Reading the protocol buffer (rather than `tf.saved_model.load`) sees
    every function of the library, also those no signature reaches, and
    an op TensorFlow does not register, which loading would refuse."""
    import tensorflow as tf

    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        data = f.read()
    decoded = tf.io.decode_proto(
        tf.constant([data]), message_type="tensorflow.SavedModel",
        field_names=["meta_graphs"], output_types=[tf.string])
    (serialized,) = decoded.values
    return [tf.compat.v1.MetaGraphDef.FromString(meta)
            for meta in serialized.numpy().ravel()]


def graph_op_types(graph_def):
    """`(ops, functions)` of a `GraphDef`: the op types of its nodes and of
    the nodes of every function of its library (the bodies of `While` and
    `If`: where a recurrent layer's step lives), less the calls of library
    functions by name; and the names of the library's functions."""
    functions = {f.signature.name for f in graph_def.library.function}
    ops = {node.op for node in graph_def.node}
    for function in graph_def.library.function:
        ops.update(node.op for node in function.node_def)
    return ops - functions, functions


def saved_model_op_types(path):
    """Every op type of a SavedModel's graphs and their function library,
    and the names of the library's functions (which nodes also call)."""
    ops, functions = set(), set()
    for meta in _meta_graphs(path):
        graph_ops, graph_functions = graph_op_types(meta.graph_def)
        ops |= graph_ops
        functions |= graph_functions
    return ops - functions, functions


def standard_op(op):
    """Whether `op` is an op type TensorFlow itself registers: a public
    name of `tf.raw_ops` (every op of TensorFlow's own kernels; an op of a
    custom kernel library is not there)."""
    import tensorflow as tf

    return not op.startswith("_") and hasattr(tf.raw_ops, op)


def op_locations(path, ops):
    """`{op: [place, ...]}` for each op type of `ops` a SavedModel holds:
    `"<graph>"` for a top-level node, else the name of the library
    function (a `While` or `If` body, a called function) whose nodes have
    it. Names where a check's finding sits, e.g. a `py_function` in the
    body of a recurrent layer's loop."""
    found = {}
    for meta in _meta_graphs(path):
        graph_def = meta.graph_def
        places = [("<graph>", graph_def.node)] + [
            (f.signature.name, f.node_def) for f in graph_def.library.function]
        for place, nodes in places:
            for op in {node.op for node in nodes} & set(ops):
                found.setdefault(op, []).append(place)
    return {op: sorted(set(places)) for op, places in found.items()}


def nonstandard_ops(path):
    """The op types of a SavedModel that a TensorFlow server without Python
    and without a GPU cannot run: Python functions, cuDNN kernels, and ops
    not registered in TensorFlow (custom kernels)."""
    ops, _ = saved_model_op_types(path)
    return sorted(op for op in ops
                  if op in PYTHON_OPS or op.startswith("Cudnn")
                  or not standard_op(op))
