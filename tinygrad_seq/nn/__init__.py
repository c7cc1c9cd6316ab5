"""Neural-network modules with torch.nn's names, parameter names, shapes and return
values, so that weights move between the two."""
from . import init
from .containers import ModuleList, Sequential
from .linear import Linear
from .module import Module, Parameter

__all__ = ["Module", "Parameter", "Sequential", "ModuleList", "Linear", "init"]
from .attention import AdditiveAttention, MultiheadAttention  # noqa: E402
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell, RNNBase, RNNCellBase  # noqa: E402
from .embedding import Embedding  # noqa: E402
from .dropout import Dropout  # noqa: E402
from .normalization import LayerNorm  # noqa: E402
from .positional import PositionalEncoding  # noqa: E402
from .transformer import TransformerDecoder, TransformerDecoderLayer, TransformerEncoder, TransformerEncoderLayer  # noqa: E402,E501
