"""Hyperparameter search with KerasTuner over the package's layers.

* :mod:`.spaces`: the search space of each family, declared once as data
  (:data:`SPACES`; :func:`declare` registers one on a
  `keras_tuner.HyperParameters`).
* :mod:`.hypermodels`: one `keras_tuner.HyperModel` per family
  (:class:`RecurrentHyperModel`, :class:`AttentionHyperModel`,
  :class:`MemoryHyperModel`, :class:`NTMHyperModel`,
  :class:`ACTHyperModel`), building models compiled with
  `jit_compile=True`; :func:`make_tuner` for random search, Bayesian
  optimisation and Hyperband; :func:`read_trials` for a project's records.

The command line is `keras-seqmem tune`; `examples/distributed_tuning.py`
runs a search in KerasTuner's chief/worker mode. See
`docs/pages/tuning.md`. Needs the `tune` extra (KerasTuner):
``pip install "keras-seqmem[tune]"``; without it, importing this package
raises a one-line `ImportError` saying so.
"""

from keras_seqmem._extras import require

require("keras_seqmem.tuning", ["keras_tuner"])

from keras_seqmem.tuning.hypermodels import HYPERMODELS
from keras_seqmem.tuning.hypermodels import TUNERS
from keras_seqmem.tuning.hypermodels import WORKER_RECORD
from keras_seqmem.tuning.hypermodels import ACTHyperModel
from keras_seqmem.tuning.hypermodels import AttentionHyperModel
from keras_seqmem.tuning.hypermodels import MemoryHyperModel
from keras_seqmem.tuning.hypermodels import NTMHyperModel
from keras_seqmem.tuning.hypermodels import RecurrentHyperModel
from keras_seqmem.tuning.hypermodels import TaskData
from keras_seqmem.tuning.hypermodels import TaskHyperModel
from keras_seqmem.tuning.hypermodels import get_hypermodel
from keras_seqmem.tuning.hypermodels import make_tuner
from keras_seqmem.tuning.hypermodels import read_trials
from keras_seqmem.tuning.spaces import FAMILIES
from keras_seqmem.tuning.spaces import SPACES
from keras_seqmem.tuning.spaces import Param
from keras_seqmem.tuning.spaces import declare

__all__ = [
    "ACTHyperModel",
    "AttentionHyperModel",
    "FAMILIES",
    "HYPERMODELS",
    "MemoryHyperModel",
    "NTMHyperModel",
    "Param",
    "RecurrentHyperModel",
    "SPACES",
    "TUNERS",
    "TaskData",
    "TaskHyperModel",
    "WORKER_RECORD",
    "declare",
    "get_hypermodel",
    "make_tuner",
    "read_trials",
]
