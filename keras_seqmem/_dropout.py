"""Per-sequence dropout masks for recurrent cells (variational dropout).

`DropoutMasks` is the mixin of keras_seqmem's cells: the same contract as
Keras' own cells (`get_dropout_mask(step_input)`,
`get_recurrent_dropout_mask(step_state)`, `reset_dropout_mask()`,
`reset_recurrent_dropout_mask()`, with `dropout`, `recurrent_dropout` and a
`seed_generator` on the cell): a mask is drawn on the first request and the
same one is returned until it is reset, so every step of a sequence drops
the same units (Gal & Ghahramani, 2016).

`prepare_dropout_masks(cell, step_input, state)` draws them before a loop
and `reset_dropout_masks(cell)` forgets them after it; keras_seqmem's loops
(`keras_seqmem.RNN` and the layers built on it, `NTM`, `ACTRNN`,
`AttentiveDecoder`) call both, for our cells and for any cell with those
public methods (Keras' `LSTMCell`, `GRUCell`, `SimpleRNNCell`), through
`StackedRNNCells` too. Drawing the masks outside the loop keeps the loop
body stateless, which XLA and JAX need.

Inside `keras.layers.RNN` (which prepares masks only for its own cells), a
keras_seqmem cell whose masks were not prepared draws a fresh mask at every
step instead of caching one inside the loop (which would leak a loop tensor
out of the loop): plain dropout, not variational. Use `keras_seqmem.RNN`
for per-sequence masks.
"""

import keras
from keras import ops


class DropoutMasks:
    """Mixin: per-sequence dropout masks for a cell with `dropout`,
    `recurrent_dropout` and `seed_generator` attributes."""

    def _draw(self, like, rate):
        return keras.random.dropout(
            ops.ones_like(like), rate=rate, seed=self.seed_generator)

    def get_dropout_mask(self, step_input):
        """The input dropout mask (drawn once, kept until reset), or None
        without dropout."""
        if self.dropout <= 0.0:
            return None
        if getattr(self, "prepared_dropout_mask", None) is None:
            self.prepared_dropout_mask = self._draw(step_input, self.dropout)
        return self.prepared_dropout_mask

    def get_recurrent_dropout_mask(self, step_state):
        """The recurrent dropout mask (drawn once, kept until reset), or
        None without recurrent dropout."""
        if self.recurrent_dropout <= 0.0:
            return None
        if getattr(self, "prepared_recurrent_dropout_mask", None) is None:
            self.prepared_recurrent_dropout_mask = self._draw(
                step_state, self.recurrent_dropout)
        return self.prepared_recurrent_dropout_mask

    def reset_dropout_mask(self):
        self.prepared_dropout_mask = None

    def reset_recurrent_dropout_mask(self):
        self.prepared_recurrent_dropout_mask = None

    def step_dropout_mask(self, step_input):
        """The mask for this step: the prepared one, else a fresh one that
        is not kept (see the module docstring)."""
        mask = getattr(self, "prepared_dropout_mask", None)
        if mask is None:
            mask = self._draw(step_input, self.dropout)
        return mask

    def step_recurrent_dropout_mask(self, step_state):
        mask = getattr(self, "prepared_recurrent_dropout_mask", None)
        if mask is None:
            mask = self._draw(step_state, self.recurrent_dropout)
        return mask


def _has_masks(cell):
    return callable(getattr(cell, "get_dropout_mask", None)) and callable(
        getattr(cell, "reset_dropout_mask", None))


def _sub_cells(cell):
    cells = getattr(cell, "cells", None)
    return list(cells) if isinstance(cells, (list, tuple)) else None


def _first_state(state):
    if isinstance(state, (list, tuple)):
        return _first_state(state[0]) if state else None
    return state


def prepare_dropout_masks(cell, step_input, state):
    """Draws `cell`'s dropout masks (each cell's, for stacked cells) for
    the step input `(batch, features)` and the states `state`, before a
    loop. Cells without the mask methods are left alone."""
    sub_cells = _sub_cells(cell)
    if sub_cells is not None:
        states = state if isinstance(state, (list, tuple)) else [state]
        batch = ops.shape(step_input)[0]
        for sub, sub_state in zip(sub_cells, states):
            prepare_dropout_masks(sub, step_input, sub_state)
            size = getattr(sub, "output_size", None)
            if size is None:
                size = _first_state(sub_state).shape[-1]
            # The next cell's input is this cell's output.
            step_input = ops.zeros((batch, size), step_input.dtype)
        return
    if not _has_masks(cell):
        return
    if getattr(cell, "dropout", 0.0) > 0.0:
        cell.get_dropout_mask(step_input)
    if getattr(cell, "recurrent_dropout", 0.0) > 0.0:
        cell.get_recurrent_dropout_mask(_first_state(state))


def reset_dropout_masks(cell):
    """Forgets the masks `prepare_dropout_masks` drew."""
    sub_cells = _sub_cells(cell)
    if sub_cells is not None:
        for sub in sub_cells:
            reset_dropout_masks(sub)
        return
    if not _has_masks(cell):
        return
    cell.reset_dropout_mask()
    reset = getattr(cell, "reset_recurrent_dropout_mask", None)
    if callable(reset):
        reset()
