"""Classic long-memory tasks, generated locally as numpy arrays / tf.data.

Three tasks are registered in :data:`TASKS`:

* ``"brackets"`` (:mod:`.brackets`): are the brackets of a code-like string
  balanced? Binary classification over tokens; hard near-miss negatives.
* ``"halves"`` (:mod:`.halves`): is the sequence two identical halves?
  Binary classification over tokens; negatives differ at few positions.
* ``"adding"`` (:mod:`.adding`): the adding problem of Hochreiter &
  Schmidhuber (1997); regression over 2 float features, baseline MSE 1/6.

Example:
    >>> from keras_seqmem.tasks import get_task, make_dataset
    >>> x, y = get_task("halves").generate(1000, seed=0, length=40)
    >>> ds = make_dataset("adding", 10000, batch_size=32, length=100)
"""

from .base import TASKS, TaskSpec, get_task, make_dataset, register_task
from . import adding, brackets, halves

__all__ = [
    "TASKS",
    "TaskSpec",
    "get_task",
    "make_dataset",
    "register_task",
    "adding",
    "brackets",
    "halves",
]
