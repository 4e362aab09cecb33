"""Public APIs only (issue 14): nothing in `keras_seqmem/`, `tests/`,
`benchmarks/` or `examples/` reaches into Keras', TensorFlow's or
KerasTuner's private code.

The scanner flags, with `path:line`:

* a private module path anywhere in the text (imports, strings, comments):
  `PRIVATE_MODULES`, e.g. Keras' `src` package, TensorFlow's `python` and
  `core` packages, `__internal__`; and `from keras import src`-style
  imports;
* an attribute `x._name` (one leading underscore, not a dunder)
  - whose name is a private member of Keras, TensorFlow or KerasTuner
    (`library_private_names()`: the underscore members of their base
    classes and objects in the installed versions, plus `KNOWN_PRIVATE`),
    whatever `x` is, `self` included (setting a private Keras attribute on
    one's own layer is using it);
  - on an `x` that is not provably ours: ours are `self`, `cls`, `super()`,
    a module or name imported from this project (`keras_seqmem`, a test,
    benchmark or example module) or a class or function defined in the same
    file; otherwise the name must be one this project defines itself (a
    `def _name`, a `self._name = ...`, a module-level `_name`);
* a method whose name is a private member of a library base class
  (overriding a private hook: `def _configure_tensorboard_dir`), and any
  definition or use of an undocumented loop hook (`UNDOCUMENTED_HOOKS`,
  e.g. the RNN layer's `inner_loop`).

This file is the guard itself: it names the patterns, so the scan skips
it; its self-tests plant each pattern once in a temporary source and watch
the scanner report it.
"""

import ast
import functools
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
# The two packages (the library and its command-line launcher), then the
# folders of scripts whose modules import each other by file name.
PACKAGES = ("keras_seqmem", "keras_seqmem_cli")
SCANNED = PACKAGES + ("tests", "benchmarks", "examples")
THIS_FILE = pathlib.Path(__file__).resolve()

PRIVATE_MODULES = re.compile(
    r"\b(?:keras\.src|keras_tuner\.src|tensorflow\.python|tensorflow\.core"
    r"|tf_keras\.src)\b|\b__internal__\b")
# `from keras import src`, `tf.python.ops`: the same packages by attribute.
PRIVATE_SUBMODULES = {"src", "python", "core", "__internal__"}
LIBRARIES = ("keras", "tensorflow", "keras_tuner", "tf_keras")

# Private members named in issue 14, whatever the installed versions hold.
KNOWN_PRIVATE = {
    "_flatten_layers", "_call_has_training_arg", "_convert_input_args",
    "_keras_mask", "_keras_history", "_configure_tensorboard_dir",
    "_layers", "_tracker", "_functional", "_inbound_nodes",
}
# Public-looking but undocumented methods of Keras' loop machinery.
UNDOCUMENTED_HOOKS = {"inner_loop"}
# Documented underscore APIs of the Python standard library.
STDLIB_UNDERSCORE = {"_replace", "_asdict", "_fields", "_make",
                     "_field_defaults", "_exit", "_getframe"}


def _private(name):
    return name.startswith("_") and not name.startswith("__")


@functools.lru_cache(maxsize=None)
def library_private_names():
    """The single-underscore members of Keras', TensorFlow's and
    KerasTuner's base classes and of a few of their objects, as installed,
    plus `KNOWN_PRIVATE`."""
    import keras
    import keras_tuner
    import tensorflow as tf

    objects = [
        keras.layers.Layer, keras.Model, keras.Sequential, keras.layers.RNN,
        keras.layers.Wrapper, keras.callbacks.Callback,
        keras.callbacks.TensorBoard, keras.optimizers.Optimizer,
        keras.losses.Loss, keras.metrics.Metric, keras.Variable,
        keras_tuner.Tuner, keras_tuner.HyperModel, keras_tuner.Oracle,
        keras_tuner.HyperParameters, tf.Module, tf.Variable, tf.Tensor,
        # (named: no auto-generated name is used up)
        keras.layers.Layer(name="public_api_probe"),
        keras.Model(name="public_api_probe_model"),
        keras.layers.RNN(keras.layers.SimpleRNNCell(1, name="probe_cell"),
                         name="public_api_probe_rnn"),
        tf.Module(name="public_api_probe_module"),
    ]
    names = set(KNOWN_PRIVATE)
    for obj in objects:
        names.update(n for n in dir(obj) if _private(n))
        names.update(n for n in getattr(obj, "__dict__", {}) if _private(n))
    return frozenset(names)


def _our_modules():
    """Top-level module names of this project: the package and the
    modules tests, benchmarks and examples import from their folders."""
    names = set(PACKAGES)
    for folder in SCANNED[len(PACKAGES):]:
        names.update(p.stem for p in (ROOT / folder).glob("*.py"))
    return frozenset(names)


def _files():
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.resolve() != THIS_FILE and ".venv" not in path.parts:
                yield path


def _self_like(node):
    if isinstance(node, ast.Name):
        return node.id in ("self", "cls")
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id == "super")


def _root(node):
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def defined_private_names(trees):
    """The underscore names this project defines: functions, classes,
    `self._x = ...` / `cls._x = ...` attributes, module or class level
    assignments and import aliases."""
    names = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef,
                                 ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(
                    node.ctx, ast.Store) and _self_like(node.value):
                names.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(
                    node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.alias):
                names.add(node.asname or node.name.split(".")[0])
                names.add(node.name.split(".")[-1])
    return {n for n in names if _private(n)}


class _FileScan(ast.NodeVisitor):
    def __init__(self, path, ours_defined, our_modules):
        self.path = path
        self.hits = []
        self.ours_defined = ours_defined
        self.our_modules = our_modules
        self.library_private = library_private_names()
        self.our_names = set()      # bound to our modules / local defs
        self.library_names = set()  # bound to library modules

    def hit(self, node, message):
        self.hits.append(f"{self.path}:{node.lineno}: {message}")

    def scan(self, tree):
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    top = alias.name.split(".")[0]
                    bound = alias.asname or top
                    if top in self.our_modules:
                        self.our_names.add(bound)
                    elif top in LIBRARIES:
                        self.library_names.add(bound)
            elif isinstance(node, ast.ImportFrom):
                top = (node.module or "").split(".")[0]
                for alias in node.names:
                    bound = alias.asname or alias.name
                    if node.level or top in self.our_modules:
                        self.our_names.add(bound)
                    elif top in LIBRARIES and node.module == top:
                        self.library_names.add(bound)
                    if top in LIBRARIES and (
                            alias.name in PRIVATE_SUBMODULES
                            or _private(alias.name)):
                        self.hit(node, f"imports {alias.name} from "
                                 f"{node.module}")
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef,
                                 ast.ClassDef)):
                self.our_names.add(node.name)
        self.visit(tree)

    def visit_FunctionDef(self, node):
        if node.name in UNDOCUMENTED_HOOKS:
            self.hit(node, f"defines {node.name}, an undocumented hook of "
                     f"a library base class")
        self.generic_visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        for item in node.body:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and (
                    item.name in self.library_private):
                self.hit(item, f"def {item.name} overrides a private member "
                         f"of a Keras / TensorFlow / KerasTuner base class")
        self.generic_visit(node)

    def visit_Attribute(self, node):
        name = node.attr
        if name in UNDOCUMENTED_HOOKS:
            self.hit(node, f".{name}: an undocumented library hook")
        elif name in PRIVATE_SUBMODULES and (
                _root(node.value) in self.library_names):
            self.hit(node, f".{name}: a private package of a library")
        elif _private(name) and name not in STDLIB_UNDERSCORE:
            if name in self.library_private:
                self.hit(node, f".{name}: a private member of Keras / "
                         f"TensorFlow / KerasTuner")
            elif not (_self_like(node.value)
                      or _root(node.value) in self.our_names
                      or name in self.ours_defined):
                self.hit(node, f".{name}: a private attribute of an object "
                         f"that is not provably this project's")
        self.generic_visit(node)


def scan_sources(sources, ours_defined=None):
    """`sources`: {path: text}. Returns the hits, `"path:line: what"`."""
    trees, hits = {}, []
    for path, text in sources.items():
        for number, line in enumerate(text.splitlines(), 1):
            for match in PRIVATE_MODULES.finditer(line):
                hits.append(f"{path}:{number}: {match.group(0)}: a private "
                            f"module path")
        try:
            trees[path] = ast.parse(text, filename=str(path))
        except SyntaxError as error:
            hits.append(f"{path}:{error.lineno}: does not parse: {error}")
    if ours_defined is None:
        ours_defined = defined_private_names(trees.values())
    for path, tree in trees.items():
        scan = _FileScan(path, ours_defined, _our_modules())
        scan.scan(tree)
        hits.extend(scan.hits)
    return hits


@functools.lru_cache(maxsize=None)
def _tree_sources():
    return {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8")
            for p in _files()}


def scan_tree():
    return scan_sources(_tree_sources())


def test_the_tree_uses_public_apis_only():
    hits = scan_tree()
    assert not hits, ("private Keras / TensorFlow / KerasTuner APIs:\n"
                      + "\n".join(hits))


def test_the_scan_covers_the_project():
    paths = set(_tree_sources())
    assert "keras_seqmem/serving.py" in paths
    assert "keras_seqmem/_layers.py" in paths
    assert "keras_seqmem_cli/__init__.py" in paths
    assert "tests/layer_checks.py" in paths
    assert "tests/test_public_api.py" not in paths  # (the guard itself)
    assert any(p.startswith("benchmarks/") for p in paths)
    assert any(p.startswith("examples/") for p in paths)


# --- self-tests: each pattern planted once ---------------------------------

_CLEAN = '''\
import keras
import tensorflow as tf

from keras_seqmem.tasks import babi
from keras_seqmem.memory import ntm as ntm_module


class Layer(keras.layers.Layer):
    def __init__(self):
        super().__init__()
        self._cell = keras.layers.Dense(1)

    def _gates(self):
        return self._cell


def _helper(model):
    babi._check_tasks([1])
    ntm_module._clip_gradient(1.0)
    result = model.generate()
    return result._replace(ids=None), tf.raw_ops.While
'''

PLANTED = {
    "keras_src": ("from keras.src.layers import RNN\n", "keras.src"),
    "keras_src_string": ('NAME = "keras.src.utils"\n', "keras.src"),
    "tensorflow_python": (
        "from tensorflow.python.framework import op_def_registry\n",
        "tensorflow.python"),
    "tensorflow_core": (
        "from tensorflow.core.protobuf import saved_model_pb2\n",
        "tensorflow.core"),
    "keras_tuner_src": (
        "from keras_tuner.src.distribute import utils\n",
        "keras_tuner.src"),
    "from_keras_import_src": ("from keras import src\n", "imports src"),
    "tf_internal": ("X = tf.__internal__\n", "__internal__"),
    "flatten_layers": (
        "LAYERS = [x for x in keras.Model()._flatten_layers()]\n",
        "._flatten_layers"),
    "flatten_layers_on_name": (
        "def f(model):\n    return model._flatten_layers()\n",
        "._flatten_layers"),
    "call_has_training_arg": (
        "def f(cell):\n    return cell._call_has_training_arg\n",
        "._call_has_training_arg"),
    "convert_input_args": (
        "def f(layer):\n    layer._convert_input_args = False\n",
        "._convert_input_args"),
    "convert_input_args_on_self": (
        "class A(keras.layers.Layer):\n"
        "    def __init__(self):\n"
        "        self._convert_input_args = False\n",
        "._convert_input_args"),
    "keras_mask": (
        "def f(x):\n    return x._keras_mask\n", "._keras_mask"),
    "super_private_hook": (
        "class T(keras_tuner.RandomSearch):\n"
        "    def run(self):\n"
        "        super()._configure_tensorboard_dir([], None)\n",
        "._configure_tensorboard_dir"),
    "override_private_hook": (
        "class T(keras_tuner.RandomSearch):\n"
        "    def _configure_tensorboard_dir(self, callbacks, trial):\n"
        "        pass\n",
        "def _configure_tensorboard_dir"),
    "override_inner_loop": (
        "class R(keras.layers.RNN):\n"
        "    def inner_loop(self, sequences, initial_state, mask):\n"
        "        pass\n",
        "defines inner_loop"),
    "call_inner_loop": (
        "def f(rnn, x):\n    return rnn.inner_loop(x, None, None)\n",
        ".inner_loop"),
    "unknown_private_on_library_object": (
        "def f(t):\n    return t._shape_tuple_of_unknown_origin()\n",
        "not provably this project's"),
    "tf_python_attribute": ("X = tf.python.ops\n", ".python"),
}


def test_a_clean_source_has_no_hits():
    assert scan_sources({"clean.py": _CLEAN}) == []


@pytest.mark.parametrize("name", sorted(PLANTED))
def test_a_planted_pattern_is_reported_with_its_line(name):
    code, expected = PLANTED[name]
    line = _CLEAN.count("\n") + 1 + code.count("\n")
    hits = scan_sources({"planted.py": _CLEAN + code})
    assert hits, name
    assert any(h.startswith("planted.py:") and expected in h for h in hits), (
        hits)
    # The hit names the line where the pattern is: the last planted line
    # or the one before (a `def` line, a `class` body).
    lines = {int(h.split(":")[1]) for h in hits}
    assert lines <= set(range(_CLEAN.count("\n") + 1, line + 1)), (
        hits, line)


def test_a_planted_pattern_in_a_copy_of_a_real_file(tmp_path):
    """The real tree's scan fails when one private use comes back into a
    real file (here `keras_seqmem/training.py`)."""
    sources = dict(_tree_sources())
    path = "keras_seqmem/training.py"
    text = sources[path]
    needle = "in iter_layers(model)"
    assert needle in text
    sources[path] = text.replace(needle, "in model._flatten_layers()", 1)
    number = sources[path].splitlines().index(next(
        line for line in sources[path].splitlines()
        if "model._flatten_layers()" in line)) + 1
    hits = scan_sources(sources)
    assert f"{path}:{number}: ._flatten_layers: a private member of Keras " \
           f"/ TensorFlow / KerasTuner" in hits, hits


def test_library_private_names_come_from_the_installed_libraries():
    names = library_private_names()
    assert KNOWN_PRIVATE <= names
    # Found by introspection, not only listed: Keras' tracker, TF's Module.
    assert len(names) > 100
    assert not [n for n in names if n.startswith("__")]
