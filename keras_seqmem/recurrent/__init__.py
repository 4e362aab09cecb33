"""Recurrent cells and layers: leaky integrator, peephole LSTM, coupled LSTM."""

from keras_seqmem.recurrent.coupled_lstm import CoupledLSTM
from keras_seqmem.recurrent.coupled_lstm import CoupledLSTMCell
from keras_seqmem.recurrent.leaky_rnn import LeakyRNN
from keras_seqmem.recurrent.leaky_rnn import LeakyRNNCell
from keras_seqmem.recurrent.peephole_lstm import PeepholeLSTM
from keras_seqmem.recurrent.peephole_lstm import PeepholeLSTMCell
from keras_seqmem.recurrent.rnn import RNN

__all__ = [
    "CoupledLSTM",
    "CoupledLSTMCell",
    "LeakyRNN",
    "LeakyRNNCell",
    "PeepholeLSTM",
    "PeepholeLSTMCell",
    "RNN",
]
