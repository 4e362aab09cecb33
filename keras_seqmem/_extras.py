"""The optional parts of keras-seqmem and the one-line errors that name them.

`pip install keras-seqmem` installs Keras and NumPy only. A backend comes
from an extra (`tensorflow`, `tensorflow-cpu`, `jax`), and so does each
tool (`tune`, `data`, `plots`, `tensorboard`). A feature that needs a
package which is not installed raises :class:`MissingExtraError` when it is
used, saying in one line which `pip install` provides it:

    keras_seqmem.tuning needs KerasTuner: pip install "keras-seqmem[tune]"

The `keras-seqmem` command prints that line and exits with status 2.
"""

import importlib.util

__all__ = ["MissingExtraError", "installed", "require"]

# module -> (what it is called in a message, the extra that installs it)
PACKAGES = {
    "keras_tuner": ("KerasTuner", "tune"),
    "tensorboard": ("TensorBoard", "tensorboard"),
    "tensorflow_datasets": ("TensorFlow Datasets", "data"),
    "matplotlib": ("matplotlib", "plots"),
    "scipy": ("SciPy", "tune"),
    "sklearn": ("scikit-learn", "tune"),
    "tensorflow": ("TensorFlow", "tensorflow-cpu"),
    "jax": ("JAX", "jax"),
}


class MissingExtraError(ImportError):
    """A feature needs a package that an extra of keras-seqmem installs.

    Its message is one line: what needs what, and the `pip install` command
    that provides it.
    """


def installed(module):
    """Whether the top-level `module` can be imported (without importing
    it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def require(feature, modules, extra=None):
    """Raises `MissingExtraError` unless every module of `modules` is
    installed.

    Args:
        feature: What needs them, as the message starts
            (``"keras_seqmem.tuning"``, ``"--tensorboard"``).
        modules: Top-level module names, keys of :data:`PACKAGES`.
        extra: The extra to name for all of them (e.g. ``"tune"`` for
            KerasTuner's TensorBoard); default each module's own.
    """
    missing = [m for m in modules if not installed(m)]
    if not missing:
        return
    names = [PACKAGES[m][0] for m in missing]
    extras = []
    for m in missing:
        name = extra or PACKAGES[m][1]
        if name not in extras:
            extras.append(name)
    raise MissingExtraError(
        f"{feature} needs {' and '.join(names)}: "
        f'pip install "keras-seqmem[{",".join(extras)}]"')
