"""Recurrent layers: RNN with cells, SimpleRNN, LSTM, GRU, Bidirectional, TimeDistributed."""

from tensorflowish.keras.layers.rnn.bidirectional import Bidirectional
from tensorflowish.keras.layers.rnn.gru import GRU, GRUCell
from tensorflowish.keras.layers.rnn.lstm import LSTM, LSTMCell
from tensorflowish.keras.layers.rnn.rnn import RNN
from tensorflowish.keras.layers.rnn.simple_rnn import SimpleRNN, SimpleRNNCell
from tensorflowish.keras.layers.rnn.stacked_rnn_cells import StackedRNNCells
from tensorflowish.keras.layers.rnn.time_distributed import TimeDistributed

__all__ = ["GRU", "LSTM", "RNN", "Bidirectional", "GRUCell", "LSTMCell", "SimpleRNN",
           "SimpleRNNCell", "StackedRNNCells", "TimeDistributed"]
