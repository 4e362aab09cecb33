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


def saved_model_op_types(path):
    """Every op type of a SavedModel's graphs and their function library,
    and the names of the library's functions (which nodes also call)."""
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        saved.ParseFromString(f.read())
    ops, functions = set(), set()
    for meta in saved.meta_graphs:
        ops.update(node.op for node in meta.graph_def.node)
        for function in meta.graph_def.library.function:
            functions.add(function.signature.name)
            ops.update(node.op for node in function.node_def)
    return ops - functions, functions


def nonstandard_ops(path):
    """The op types of a SavedModel that a TensorFlow server without Python
    and without a GPU cannot run: Python functions, cuDNN kernels, and ops
    not registered in TensorFlow (custom kernels)."""
    from tensorflow.python.framework import op_def_registry

    ops, _ = saved_model_op_types(path)
    return sorted(op for op in ops
                  if op in PYTHON_OPS or op.startswith("Cudnn")
                  or op_def_registry.get(op) is None)
