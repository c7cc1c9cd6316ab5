"""Neural-network modules with torch.nn's names, parameter names, shapes and return
values, so that weights move between the two."""
from . import functional, init, utils
from .activation import (ELU, GELU, Hardtanh, Identity, LeakyReLU, LogSoftmax, Mish, ReLU,
                         Sigmoid, SiLU, Softmax, Tanh)
from .attention import AdditiveAttention, MultiheadAttention
from .containers import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from .conv import Conv1d
from .dropout import Dropout
from .embedding import Embedding
from .flatten import Flatten, Unflatten
from .linear import LazyLinear, Linear, UninitializedParameter
from .loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, CTCLoss, HuberLoss, KLDivLoss, L1Loss,
                   MSELoss, NLLLoss, SmoothL1Loss)
from .module import Module, Parameter
from .normalization import BatchNorm1d, LayerNorm
from .positional import PositionalEncoding
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase
from .transformer import (Transformer, TransformerDecoder, TransformerDecoderLayer,
                          TransformerEncoder, TransformerEncoderLayer)
