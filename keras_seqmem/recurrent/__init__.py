"""Recurrent cells and layers: leaky integrator, peephole LSTM, coupled LSTM."""

from keras_seqmem.recurrent.coupled_lstm import CoupledLSTM
from keras_seqmem.recurrent.coupled_lstm import CoupledLSTMCell
from keras_seqmem.recurrent.echo_state import EchoStateInitializer
from keras_seqmem.recurrent.layer_norm import LayerNormLSTM
from keras_seqmem.recurrent.layer_norm import LayerNormLSTMCell
from keras_seqmem.recurrent.layer_norm import LayerNormSimpleRNN
from keras_seqmem.recurrent.layer_norm import LayerNormSimpleRNNCell
from keras_seqmem.recurrent.leaky_rnn import LeakyRNN
from keras_seqmem.recurrent.leaky_rnn import LeakyRNNCell
from keras_seqmem.recurrent.peephole_lstm import PeepholeLSTM
from keras_seqmem.recurrent.peephole_lstm import PeepholeLSTMCell
from keras_seqmem.recurrent.rnn import RNN

__all__ = [
    "CoupledLSTM",
    "CoupledLSTMCell",
    "EchoStateInitializer",
    "LayerNormLSTM",
    "LayerNormLSTMCell",
    "LayerNormSimpleRNN",
    "LayerNormSimpleRNNCell",
    "LeakyRNN",
    "LeakyRNNCell",
    "PeepholeLSTM",
    "PeepholeLSTMCell",
    "RNN",
]
