"""Fused recurrent primitives: one direction of an RNN, GRU or LSTM layer over a whole
sequence as one graph node, next to the same computation composed from primitives
(``rnn_reference``, ``gru_reference``, ``lstm_reference``: the readable form, what
``fused=False`` modules run, and what the fused backward recomputes when recorded).

Why a whole sequence per node: a training step is dominated by matrix products, and the
ones that do not depend on the recurrence can be done once for all T steps instead of
T times: the input projection ``X W_ih^T + b`` (one (T*N, I) x (I, G*H) product) in the
forward, and ``dW_ih = dA^T X``, ``dW_hh = dA^T H_prev``, ``dX = dA W_ih`` in the
backward, where dA (T, N, G*H) holds the gradients of the gate pre-activations of all
steps. Only ``h_{t-1} W_hh^T`` (forward) and ``dA_t W_hh`` (backward) stay per step.
The node keeps the gate activations in the buffer of the input projection (written in
place), so the saved state is what a hand-written NumPy implementation keeps
(``benchmarks/numpy_rnn.py``, the floor that ``benchmarks/bench_rnn.py`` compares to).

Conventions of all three (time-major, one direction):

- inputs ``x (T, N, I)``, ``h0 (N, H)`` (and ``c0 (N, H)`` for the LSTM),
  ``w_ih (G*H, I)``, ``w_hh (G*H, H)`` and optionally ``b_ih, b_hh (G*H,)``, with
  PyTorch's gate order: G = 1 (RNN), 3 (GRU: r, z, n), 4 (LSTM: i, f, g, o);
- ``mask``: None or a bool array (T, N), True where step t belongs to sequence n
  (t < its length). At a masked step a sequence keeps its state and outputs 0, so a
  padded batch gives each sequence's outputs, zeros past its end (as PyTorch's
  pad_packed_sequence) and its final state at its true end;
- ``reverse``: run from t = T-1 down to 0 (the second direction of a bidirectional
  layer). With a mask the padding at the end comes first and leaves the initial state
  as it is, so each sequence starts at its own last element;
- outputs ``(output (T, N, H), h_T (N, H))`` (and ``c_T`` for the LSTM), h_T the state
  after the last step taken (t = T-1, or t = 0 in reverse);
- the LSTM with projections (PyTorch's ``proj_size``; ``projection=True`` and
  ``w_hr (P, H)`` as the last input): h_t = (o_t * tanh c_t) W_hr^T, so h0, h_T and the
  output have P features, c0 and c_T keep H, and ``w_hh`` is (4*H, P).

Backward rules are written once with operations that arrays and Tensors share. On the
fast path (no create_graph) they read the activations saved as arrays; when the backward
is recorded, the activations are recomputed as Tensors from the inputs by the composed
reference, so the graph of the gradient reaches the inputs and can be differentiated
again (gradgradcheck).

The package: ``steps.py`` (the step code the three primitives share), one module per
fused cell (``rnn.py``: RNNSequence, ``gru.py``: GRUSequence, ``lstm.py``:
LSTMSequence) and ``reference.py`` (the composed references). Everything is importable
from here, as it was from the single module ``ops/rnn.py``.
"""
from .steps import check_shapes, split_projection, time_steps  # noqa: F401
from .reference import gru_reference, lstm_reference, rnn_reference  # noqa: F401
from .rnn import RNNSequence  # noqa: F401
from .gru import GRUSequence  # noqa: F401
from .lstm import LSTMSequence  # noqa: F401
