"""The search spaces of `keras_seqmem.tuning`, declared as data.

Each family's space is one tuple of :class:`Param` in :data:`SPACES`, the one
place where it is declared; :func:`declare` registers a family's parameters
on a `keras_tuner.HyperParameters` (in order, parents first, a parameter
that only applies to some cell kinds under a `conditional_scope` of `cell`)
and returns their values for one trial. The hypermodels of
`keras_seqmem.tuning.hypermodels` turn those values into models.

    import keras_tuner
    from keras_seqmem.tuning import spaces

    hp = keras_tuner.HyperParameters()
    values = spaces.declare(hp, "recurrent")
    print(values)            # the defaults: {"cell": "lstm", "units": 32, ...}
    print([p.name for p in hp.space])

The families (see `docs/pages/tuning.md` for the table):

* ``"recurrent"``: one recurrent layer on a classification or regression
  task: cell kind (Keras's ``lstm`` and ``gru``, ``peephole_lstm``,
  ``coupled_lstm``, ``leaky_rnn``), units, input dropout, the learning rate,
  and per cell kind the forget-gate bias (``unit_forget_bias``, the LSTMs),
  peepholes (``use_peepholes``, ``coupled_lstm``), the leaky units' time
  constant range ``gamma_range = (1, gamma_max)`` and ``trainable_gamma``.
* ``"attention"``: a `Seq2Seq` on a seq2seq task: the same cell block,
  units, ``attention_units``, ``normalize`` and the learning rate.
* ``"memory"``: a `MemN2N` on bAbI: ``hops``, ``weight_tying``,
  ``embedding_dim``, ``encoding`` and the learning rate.
* ``"ntm"``: an `NTM` on copy, repeat copy or associative recall:
  controller units, ``memory_size``, ``word_size``, ``shift_range`` and the
  learning rate.
* ``"act"``: `ACTRNN(ACT(cell))` on a classification or regression task: the
  cell block (without dropout: `ACT` refuses cells with dropout), units,
  ``time_penalty`` (τ, log scale), ``max_ponder_steps`` and the learning
  rate.

A hypermodel can pin any parameter (`fixed={"units": 8}`): it is then
declared as `hp.Fixed` with the same name and condition, so it shows in the
space but is not searched.
"""

import dataclasses
from typing import Any, Optional

__all__ = [
    "Param",
    "SPACES",
    "FAMILIES",
    "CELL_KINDS",
    "FORGET_GATE_CELLS",
    "PEEPHOLE_OPTION_CELLS",
    "LEAKY_CELLS",
    "declare",
    "declare_recurrent",
    "declare_attention",
    "declare_memory",
    "declare_ntm",
    "declare_act",
    "cell_kwargs",
    "describe",
]

KINDS = ("choice", "int", "float", "boolean")


@dataclasses.dataclass(frozen=True)
class Param:
    """One hyperparameter of a search space.

    Attributes:
        name: Its name in `HyperParameters` (and the trial records).
        kind: ``"choice"``, ``"int"``, ``"float"`` or ``"boolean"``.
        values: The choices (``"choice"``).
        min_value, max_value: The range (``"int"``, ``"float"``).
        step: The step (with ``sampling="log"`` a factor), or None.
        sampling: ``"linear"`` or ``"log"``.
        default: The value of the first trial (and of a built hypermodel
            without a tuner).
        parent_name, parent_values: The condition: the parameter is active
            only when ``parent_name`` takes one of ``parent_values``.
        help: What the value does, for the documentation.
    """

    name: str
    kind: str
    default: Any
    values: Optional[tuple] = None
    min_value: Optional[float] = None
    max_value: Optional[float] = None
    step: Optional[float] = None
    sampling: str = "linear"
    parent_name: Optional[str] = None
    parent_values: Optional[tuple] = None
    help: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(
                f"Param {self.name!r}: kind must be one of {KINDS}, got "
                f"{self.kind!r}")
        if self.kind == "choice" and not self.values:
            raise ValueError(f"Param {self.name!r}: a choice needs values")
        if self.kind in ("int", "float") and (
                self.min_value is None or self.max_value is None):
            raise ValueError(f"Param {self.name!r}: a range needs "
                             f"min_value and max_value")
        if (self.parent_name is None) != (self.parent_values is None):
            raise ValueError(f"Param {self.name!r}: give parent_name and "
                             f"parent_values together")

    @property
    def conditional(self):
        return self.parent_name is not None

    def register(self, hp, fixed=None):
        """Registers this parameter on `hp` and returns its value (None
        when its condition does not hold). With `fixed` (not None), an
        `hp.Fixed` of that value is registered instead."""
        condition = {}
        if self.conditional:
            condition = dict(parent_name=self.parent_name,
                             parent_values=list(self.parent_values))
        if fixed is not None:
            return hp.Fixed(self.name, fixed, **condition)
        if self.kind == "choice":
            return hp.Choice(self.name, list(self.values),
                             default=self.default, **condition)
        if self.kind == "boolean":
            return hp.Boolean(self.name, default=self.default, **condition)
        method = hp.Int if self.kind == "int" else hp.Float
        return method(self.name, self.min_value, self.max_value,
                      step=self.step, sampling=self.sampling,
                      default=self.default, **condition)

    def describe(self):
        """The range as a short string, e.g. ``16–128 (log, ×2)``."""
        if self.kind == "choice":
            return ", ".join(f"`{v}`" for v in self.values)
        if self.kind == "boolean":
            return "`True`, `False`"
        text = f"{self.min_value:g}–{self.max_value:g}"
        extra = []
        if self.sampling == "log":
            extra.append("log")
        if self.step is not None:
            extra.append(f"×{self.step:g}" if self.sampling == "log"
                         else f"step {self.step:g}")
        return text + (f" ({', '.join(extra)})" if extra else "")


# --- cell kinds -----------------------------------------------------------

CELL_KINDS = ("lstm", "gru", "peephole_lstm", "coupled_lstm", "leaky_rnn")
"""Cell kinds searched: Keras's LSTM and GRU and the package's cells."""
FORGET_GATE_CELLS = ("lstm", "peephole_lstm", "coupled_lstm")
"""Cells with a forget gate, whose bias `unit_forget_bias` sets to one."""
PEEPHOLE_OPTION_CELLS = ("coupled_lstm",)
"""Cells whose peepholes are optional (`use_peepholes`); `peephole_lstm`
always has them, Keras's LSTM never."""
LEAKY_CELLS = ("leaky_rnn",)
"""Cells with time constants `γ`."""


def _learning_rate(default=1e-3):
    return Param("learning_rate", "float", default, min_value=1e-4,
                 max_value=1e-2, sampling="log",
                 help="Adam's learning rate")


def _cell_block(dropout=True):
    """Cell kind and the gating parameters of each cell kind."""
    block = [
        Param("cell", "choice", "lstm", values=CELL_KINDS,
              help="the recurrent cell"),
        Param("units", "int", 32, min_value=16, max_value=128, step=2,
              sampling="log", help="units of the cell"),
    ]
    if dropout:
        block.append(Param(
            "dropout", "float", 0.0, min_value=0.0, max_value=0.3, step=0.1,
            help="fraction of the input features dropped (the cell's "
            "`dropout`)"))
    block += [
        Param("unit_forget_bias", "boolean", True, parent_name="cell",
              parent_values=FORGET_GATE_CELLS,
              help="forget-gate bias initialised to 1 (else 0)"),
        Param("use_peepholes", "boolean", False, parent_name="cell",
              parent_values=PEEPHOLE_OPTION_CELLS,
              help="diagonal peephole connections"),
        Param("gamma_max", "float", 10.0, min_value=2.0, max_value=200.0,
              sampling="log", parent_name="cell", parent_values=LEAKY_CELLS,
              help="time constants spread over `gamma_range=(1, gamma_max)`"),
        Param("trainable_gamma", "boolean", True, parent_name="cell",
              parent_values=LEAKY_CELLS,
              help="time constants learned (else fixed)"),
    ]
    return tuple(block)


SPACES = {
    "recurrent": _cell_block() + (_learning_rate(),),
    "attention": _cell_block(dropout=False) + (
        Param("attention_units", "int", 32, min_value=16, max_value=128,
              step=2, sampling="log",
              help="units of the Bahdanau attention"),
        Param("normalize", "boolean", False,
              help="weight-normalised attention"),
        _learning_rate(3e-3),
    ),
    "memory": (
        Param("hops", "int", 3, min_value=1, max_value=3,
              help="memory hops"),
        Param("weight_tying", "choice", "adjacent",
              values=("adjacent", "layerwise"),
              help="how the hops' embeddings are shared"),
        Param("embedding_dim", "int", 20, min_value=20, max_value=50,
              step=10, help="embedding size"),
        Param("encoding", "choice", "position", values=("position", "bow"),
              help="sentence encoding: position encoding or bag of words"),
        _learning_rate(1e-2),
    ),
    "ntm": (
        Param("units", "int", 100, min_value=25, max_value=200, step=2,
              sampling="log", help="controller (LSTMCell) units"),
        Param("memory_size", "int", 128, min_value=16, max_value=128,
              step=2, sampling="log", help="memory locations N"),
        Param("word_size", "int", 20, min_value=10, max_value=40, step=10,
              help="width M of a memory word"),
        Param("shift_range", "int", 1, min_value=1, max_value=3,
              help="location shifts −s..s of the heads"),
        _learning_rate(),
    ),
    "act": _cell_block(dropout=False) + (
        Param("time_penalty", "float", 1e-3, min_value=1e-4, max_value=1e-1,
              sampling="log", help="ponder cost weight τ"),
        Param("max_ponder_steps", "int", 8, min_value=2, max_value=16,
              step=2, sampling="log",
              help="most internal steps per input step M"),
        _learning_rate(),
    ),
}
"""family -> its parameters, in declaration order (parents first)."""

FAMILIES = tuple(SPACES)


def declare(hp, family, fixed=None):
    """Declares `family`'s search space on `hp` and returns the values.

    Args:
        hp: A `keras_tuner.HyperParameters`.
        family: A key of :data:`SPACES`.
        fixed: Optional `{name: value}` of parameters pinned to a value
            (declared as `hp.Fixed` under the same condition).

    Returns:
        `{name: value}` for every parameter of the family, None for those
        whose condition does not hold in this trial.

    Raises:
        ValueError: For an unknown family or a fixed name not in it.
    """
    if family not in SPACES:
        raise ValueError(f"Unknown search space family {family!r}; expected "
                         f"one of {FAMILIES}")
    fixed = dict(fixed or {})
    names = {p.name for p in SPACES[family]}
    unknown = sorted(set(fixed) - names)
    if unknown:
        raise ValueError(
            f"Search space {family!r} has no parameter(s) {unknown}; its "
            f"parameters: {sorted(names)}")
    return {p.name: p.register(hp, fixed.get(p.name))
            for p in SPACES[family]}


def declare_recurrent(hp, fixed=None):
    """:func:`declare` of the ``"recurrent"`` family."""
    return declare(hp, "recurrent", fixed)


def declare_attention(hp, fixed=None):
    """:func:`declare` of the ``"attention"`` family."""
    return declare(hp, "attention", fixed)


def declare_memory(hp, fixed=None):
    """:func:`declare` of the ``"memory"`` family."""
    return declare(hp, "memory", fixed)


def declare_ntm(hp, fixed=None):
    """:func:`declare` of the ``"ntm"`` family."""
    return declare(hp, "ntm", fixed)


def declare_act(hp, fixed=None):
    """:func:`declare` of the ``"act"`` family."""
    return declare(hp, "act", fixed)


def cell_kwargs(values):
    """The cell (or layer) arguments of the cell block's values.

    `gamma_max` becomes `gamma_range=(1.0, gamma_max)`; inactive parameters
    (None) are left out, so each cell gets only the arguments it takes.
    """
    kwargs = {}
    if values.get("dropout"):
        kwargs["dropout"] = float(values["dropout"])
    for name in ("unit_forget_bias", "use_peepholes", "trainable_gamma"):
        if values.get(name) is not None:
            kwargs[name] = bool(values[name])
    if values.get("gamma_max") is not None:
        kwargs["gamma_range"] = (1.0, float(values["gamma_max"]))
    return kwargs


def describe(family):
    """The family's space as Markdown table rows: name, values, default,
    condition, meaning."""
    rows = []
    for p in SPACES[family]:
        condition = ("" if not p.conditional else
                     f"`{p.parent_name}` in "
                     + ", ".join(f"`{v}`" for v in p.parent_values))
        rows.append(f"| `{p.name}` | {p.describe()} | `{p.default}` | "
                    f"{condition} | {p.help} |")
    return "\n".join(rows)
