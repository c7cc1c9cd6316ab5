"""Decoding for autoregressive models: greedy search, beam search and sampling.

Every search talks to the model through one function::

    step_fn(tokens, state) -> (log_probs, state)

`tokens` is an int64 Tensor (B,) holding the last token of each live hypothesis
(the start token at the first step), `state` any nest (tuple, list, dict) of Tensors
(or other values, passed along untouched) for those B hypotheses, and `log_probs` a
float Tensor (B, V) of log-probabilities of the next token. Searches run under
``no_grad``; they read only a few indices and scores per step back to the host, so a
model on the GPU stays there.

A hypothesis is finished when it emits `eos` or when it holds `max_len` tokens; both
kinds are returned. Each search returns a list of ``(tokens, score)``, best first:
`tokens` a Python list without the start token (ending with `eos` when it was
produced) and `score` the sum of the log-probabilities of its tokens, divided by
``len(tokens) ** length_penalty`` for beam search (length normalisation,
``(1 / T_y^alpha) * sum_t log P(y<t> | x, y<1..t-1>)``).

The CTC decoders (``ctc_greedy_decode``, ``ctc_beam_decode``) read a whole
(T, N, C) matrix of per-frame log-probabilities instead.
"""
import math
import numbers

from . import backend
from .autograd import Tensor
from .modes import no_grad


# ---------------------------------------------------------------- argument checks

def _int(value, name, op, minimum=None, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{op}: {name} must be an int, got {type(value).__name__} {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{op}: {name} must be at least {minimum}, got {value}")
    return value


def _real(value, name, op):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{op}: {name} must be a real number, got {type(value).__name__} "
                        f"{value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{op}: {name} must be finite, got {value}")
    return value


def _check_common(op, step_fn, start_token, max_len, eos):
    if not callable(step_fn):
        raise TypeError(f"{op}: step_fn must be callable (tokens, state) -> (log_probs, "
                        f"state), got {type(step_fn).__name__}")
    start_token = _int(start_token, "start_token", op, 0)
    max_len = _int(max_len, "max_len", op, 1)
    eos = _int(eos, "eos", op, 0, allow_none=True)
    return start_token, max_len, eos


# ---------------------------------------------------------------- state nests

def _tensors(state):
    """The Tensors of a nest, depth first."""
    if isinstance(state, Tensor):
        yield state
    elif isinstance(state, (tuple, list)):
        for s in state:
            yield from _tensors(s)
    elif isinstance(state, dict):
        for s in state.values():
            yield from _tensors(s)


def _map_nest(fn, state):
    if isinstance(state, Tensor):
        return fn(state)
    if isinstance(state, tuple) and hasattr(state, "_fields"):       # namedtuple
        return type(state)(*[_map_nest(fn, s) for s in state])
    if isinstance(state, (tuple, list)):
        return type(state)(_map_nest(fn, s) for s in state)
    if isinstance(state, dict):
        return type(state)((k, _map_nest(fn, v)) for k, v in state.items())
    return state


def index_state(state, index, axis=0):
    """Select hypotheses of a state nest: ``t[(slice(None),) * axis + (index,)]`` for
    every Tensor ``t`` of the nest (tuples, namedtuples, lists, dicts; other values and 0-d
    Tensors pass unchanged). `index` is an int64 Tensor (K,) of rows to keep, rows
    may repeat. The searches call ``reorder_state(state, index)``, which is
    ``index_state`` on axis 0 by default; for a recurrent state whose batch axis is 1
    (``h_n`` of shape (num_layers, N, H), an LSTM's ``(h_n, c_n)``) pass
    ``reorder_state=lambda s, i: index_state(s, i, axis=1)``."""
    if not isinstance(index, Tensor):
        raise TypeError(f"index_state: index must be an int64 Tensor, got "
                        f"{type(index).__name__}")
    axis = _int(axis, "axis", "index_state", 0)

    def pick(t):
        if t.ndim == 0:
            return t
        if t.ndim <= axis:
            raise ValueError(f"index_state: axis {axis} is out of range for a state tensor "
                             f"of shape {t.shape}")
        return t[(slice(None),) * axis + (index,)]
    return _map_nest(pick, state)


# ---------------------------------------------------------------- one model step

def _device_of_state(state):
    for t in _tensors(state):
        return t.device
    return backend.current_device()


def _step(op, step_fn, tokens, state, device, eos):
    """Call step_fn on host token ids; return (log_probs array (B, V), new state)."""
    t = Tensor(backend.host_array(tokens), dtype=backend.int64, device=device)
    out = step_fn(t, state)
    if not (isinstance(out, tuple) and len(out) == 2):
        raise TypeError(f"{op}: step_fn must return a pair (log_probs, state), got "
                        f"{type(out).__name__}")
    log_probs, state = out
    if not isinstance(log_probs, Tensor):
        raise TypeError(f"{op}: step_fn must return log_probs as a Tensor, got "
                        f"{type(log_probs).__name__}")
    if log_probs.ndim != 2 or log_probs.shape[0] != len(tokens):
        raise ValueError(f"{op}: step_fn must return log_probs of shape (B, V) = "
                         f"({len(tokens)}, V) for {len(tokens)} live hypotheses, got "
                         f"{log_probs.shape}")
    if not backend.is_float(log_probs.dtype):
        raise TypeError(f"{op}: step_fn must return float log_probs, got {log_probs.dtype}")
    if eos is not None and eos >= log_probs.shape[1]:
        raise ValueError(f"{op}: eos {eos} is not a token of a vocabulary of "
                         f"{log_probs.shape[1]}")
    return log_probs.array, state


def _host(a):
    """A small device array as a Python list (the only reads back to the host)."""
    return backend.to_numpy(a).tolist()


# ---------------------------------------------------------------- greedy and beam search

def greedy_search(step_fn, init_state, start_token, max_len, eos):
    """The most probable next token at every step, until `eos` or `max_len` tokens.

    Returns ``[(tokens, score)]`` with ``score = sum_t log P(y<t> | y<1..t-1>)``; ties
    go to the lowest token id (argmax). Equal to ``beam_search`` with beam size 1."""
    op = "greedy_search"
    start_token, max_len, eos = _check_common(op, step_fn, start_token, max_len, eos)
    tokens, score = [], 0.0
    with no_grad():
        state, device, last = init_state, _device_of_state(init_state), start_token
        for _ in range(max_len):
            lp, state = _step(op, step_fn, [last], state, device, eos)
            mod = backend.array_module(lp)
            row = lp[0]
            best = mod.argmax(row)
            last, value = _host(mod.stack([best.astype(backend.float64),
                                          row[best].astype(backend.float64)]))
            last = int(last)
            tokens.append(last)
            score += value
            if last == eos:
                break
    return [(tokens, score)]


def beam_search(step_fn, init_state, start_token, beam_size, max_len, eos,
                length_penalty=0.0, reorder_state=index_state):
    """Beam search: keep the `beam_size` best partial hypotheses at every step.

    At each step every live hypothesis is extended by every token; the extensions are
    ranked by their summed log-probability and the best ``beam_size - (number already
    finished)`` are kept (the beam shrinks as hypotheses finish, so at most
    `beam_size` are returned). An extension that ends with `eos` or reaches `max_len`
    tokens is finished; the others stay live and the state is reordered to them with
    ``reorder_state(state, parent_index)`` (default: ``index_state`` on axis 0; see
    there for recurrent states). There is no early stopping: the search runs until
    no hypothesis is live (at most `max_len` steps). Extensions of log-probability
    -inf are never kept.

    The finished hypotheses are returned best first by the length-normalised score
    ``sum_t log P(y<t> | y<1..t-1>) / len(tokens) ** length_penalty`` (0: plain sum;
    about 0.7 is usual). Ranking during the search uses the plain sum."""
    op = "beam_search"
    start_token, max_len, eos = _check_common(op, step_fn, start_token, max_len, eos)
    beam_size = _int(beam_size, "beam_size", op, 1)
    length_penalty = _real(length_penalty, "length_penalty", op)
    if not callable(reorder_state):
        raise TypeError(f"{op}: reorder_state must be callable (state, index) -> state, "
                        f"got {type(reorder_state).__name__}")
    live = [([], 0.0)]
    finished = []
    with no_grad():
        state, device = init_state, _device_of_state(init_state)
        for _ in range(max_len):
            room = beam_size - len(finished)
            if room <= 0 or not live:
                break
            last = [h[-1] if h else start_token for h, _ in live]
            lp, state = _step(op, step_fn, last, state, device, eos)
            mod = backend.array_module(lp)
            vocab = lp.shape[1]
            totals = lp.astype(backend.float64) + mod.asarray([s for _, s in live])[:, None]
            totals = totals.reshape(-1)
            order = mod.argsort(-totals, kind="stable")[:room]
            picked, values = _host(mod.stack([order.astype(backend.float64), totals[order]]))
            parents, new_live = [], []
            for flat, value in zip(picked, values):
                if value == -math.inf:
                    break                       # sorted: only impossible ones follow
                parent, token = divmod(int(flat), vocab)
                hyp = (live[parent][0] + [token], value)
                if token == eos or len(hyp[0]) >= max_len:
                    finished.append(hyp)
                else:
                    parents.append(parent)
                    new_live.append(hyp)
            live = new_live
            if live:
                index = Tensor(backend.host_array(parents), dtype=backend.int64, device=device)
                state = reorder_state(state, index)
    results = [(tokens, score / len(tokens) ** length_penalty) for tokens, score in finished]
    results.sort(key=lambda r: -r[1])
    return results


# ---------------------------------------------------------------- sampling

def _sample_token(row, temperature, top_k, top_p, generator):
    """One draw from softmax(row / temperature) restricted to the top_k tokens and to
    the smallest prefix (by probability) of mass >= top_p; returns (token, raw log-prob)."""
    mod = backend.array_module(row)
    x = row.astype(backend.float64) / temperature
    order = mod.argsort(-x, kind="stable")
    if top_k is not None:
        order = order[:top_k]
    xs = x[order]
    p = mod.exp(xs - xs[0])
    cum = mod.cumsum(p)
    if top_p is not None:
        before = (cum - p) / cum[-1]                 # mass of the tokens ranked above
        n = int(_host((before < top_p).sum()))
        p, cum = p[:n], cum[:n]
    u = float(generator.random())
    idx = mod.minimum((cum <= cum[-1] * u).sum(), p.shape[0] - 1)
    token = order[idx]
    token, value = _host(mod.stack([token.astype(backend.float64),
                                    row[token].astype(backend.float64)]))
    return int(token), value


def sample(step_fn, init_state, start_token, max_len, eos, temperature=1.0, top_k=None,
           top_p=None, generator=None):
    """Ancestral sampling: draw each token from the model's next-token distribution
    until `eos` or `max_len` tokens.

    The distribution is ``softmax(log_probs / temperature)``, restricted (then
    renormalised) to the `top_k` most probable tokens and then to the smallest set of
    most probable tokens whose probability reaches `top_p` (nucleus sampling); ties
    rank the lower token id first, so ``top_k=1`` is greedy search. `generator` is a
    NumPy Generator (its ``random()`` gives the one uniform number each step uses) or
    None for the framework's generator of the model's device (``ts.manual_seed``).

    Returns ``[(tokens, score)]`` with `score` the sum of the model's own
    log-probabilities of the drawn tokens (before temperature and truncation)."""
    op = "sample"
    start_token, max_len, eos = _check_common(op, step_fn, start_token, max_len, eos)
    temperature = _real(temperature, "temperature", op)
    if temperature <= 0:
        raise ValueError(f"{op}: temperature must be positive, got {temperature}")
    top_k = _int(top_k, "top_k", op, 1, allow_none=True)
    if top_p is not None:
        top_p = _real(top_p, "top_p", op)
        if not 0 < top_p <= 1:
            raise ValueError(f"{op}: top_p must be in (0, 1], got {top_p}")
    if generator is not None and not callable(getattr(generator, "random", None)):
        raise TypeError(f"{op}: generator must be a NumPy Generator or None, got "
                        f"{type(generator).__name__}")
    tokens, score = [], 0.0
    with no_grad():
        state, device, last = init_state, _device_of_state(init_state), start_token
        gen = generator
        for _ in range(max_len):
            lp, state = _step(op, step_fn, [last], state, device, eos)
            if gen is None:
                gen = backend.generator(backend.device_of(lp))
            last, value = _sample_token(lp[0], temperature, top_k, top_p, gen)
            tokens.append(last)
            score += value
            if last == eos:
                break
    return [(tokens, score)]


# ---------------------------------------------------------------- CTC decoders

def _ctc_inputs(op, log_probs, input_lengths, blank):
    """(log_probs as (T, N, C) Tensor, lengths list, batched) after checks."""
    if not isinstance(log_probs, Tensor):
        raise TypeError(f"{op}: log_probs must be a Tensor (T, N, C) or (T, C), got "
                        f"{type(log_probs).__name__}")
    if log_probs.ndim not in (2, 3):
        raise ValueError(f"{op}: log_probs must be (T, N, C) or (T, C), got shape "
                         f"{log_probs.shape}")
    batched = log_probs.ndim == 3
    T, C = log_probs.shape[0], log_probs.shape[-1]
    N = log_probs.shape[1] if batched else 1
    if isinstance(input_lengths, Tensor):
        lengths = backend.to_numpy(input_lengths.array).reshape(-1).tolist()
    elif isinstance(input_lengths, (list, tuple)):
        lengths = list(input_lengths)
    else:
        lengths = [input_lengths]
    lengths = [_int(n, "input_lengths", op) for n in lengths]
    if len(lengths) != N:
        raise ValueError(f"{op}: input_lengths must hold one length per sequence ({N}), "
                         f"got {len(lengths)}")
    for n, t in enumerate(lengths):
        if not 0 <= t <= T:
            raise ValueError(f"{op}: input_lengths[{n}] must be in [0, {T}], got {t}")
    blank = _int(blank, "blank", op, 0)
    if blank >= C:
        raise ValueError(f"{op}: blank must be a class in [0, {C}), got {blank}")
    x = log_probs if batched else log_probs.reshape(T, 1, C)
    return x, lengths, batched, blank


def ctc_greedy_decode(log_probs, input_lengths, blank=0):
    """Best-path CTC decoding: the most probable class of each frame (first
    input_lengths[n] frames), then repeats not separated by a blank collapsed and
    blanks dropped ("aa-ab" -> "aab"). log_probs (T, N, C) or (T, C) unbatched.
    Returns one list of labels per sequence (one list when unbatched). Only the (T, N)
    argmax indices are read back to the host."""
    op = "ctc_greedy_decode"
    x, lengths, batched, blank = _ctc_inputs(op, log_probs, input_lengths, blank)
    best = _host(backend.array_module(x.array).argmax(x.array, axis=2).T)     # (N, T)
    out = []
    for path, n in zip(best, lengths):
        labels, prev = [], None
        for k in path[:n]:
            if k != prev and k != blank:
                labels.append(int(k))
            prev = k
        out.append(labels)
    return out if batched else out[0]


def _logaddexp(a, b):
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    m = max(a, b)
    return m + math.log1p(math.exp(-abs(a - b)))


def ctc_beam_decode(log_probs, input_lengths, beam_size=10, blank=0):
    """CTC prefix beam search: the label sequences with the highest probability
    p(l | x) = sum over the alignments that collapse to l, found frame by frame.

    Each live prefix keeps two log-probabilities, of its alignments ending in a blank
    (p_b) and in its last label (p_nb). At frame t, with y = log_probs[t]: a blank
    keeps the prefix (p_b' += p + y(blank)); the prefix's last label c again keeps it
    (p_nb' += p_nb + y(c)) and extends it only after a blank (p_nb'(l + c) += p_b +
    y(c)); any other label c extends it (p_nb'(l + c) += p + y(c)), where p = p_b +
    p_nb (sums in log space). The `beam_size` most probable prefixes survive each frame.
    With a beam at least the number of possible label sequences the result is exact.

    Returns, per sequence, up to `beam_size` pairs ``(labels, log_prob)`` best first
    (one such list when unbatched). The search runs on the host (the (T, C)
    log-probabilities of each sequence are read back)."""
    op = "ctc_beam_decode"
    x, lengths, batched, blank = _ctc_inputs(op, log_probs, input_lengths, blank)
    beam_size = _int(beam_size, "beam_size", op, 1)
    lp = backend.to_numpy(x.array).astype(backend.float64)
    C = lp.shape[2]
    labels = [c for c in range(C) if c != blank]
    neg = -math.inf
    results = []
    for n, T in enumerate(lengths):
        beams = {(): (0.0, neg)}
        for t in range(T):
            y = lp[t, n].tolist()
            nxt = {}

            def add(prefix, pb=neg, pnb=neg):
                old_b, old_nb = nxt.get(prefix, (neg, neg))
                nxt[prefix] = (_logaddexp(old_b, pb), _logaddexp(old_nb, pnb))
            for prefix, (pb, pnb) in beams.items():
                total = _logaddexp(pb, pnb)
                add(prefix, pb=total + y[blank])
                for c in labels:
                    if prefix and prefix[-1] == c:
                        add(prefix, pnb=pnb + y[c])
                        add(prefix + (c,), pnb=pb + y[c])
                    else:
                        add(prefix + (c,), pnb=total + y[c])
            ranked = sorted(((_logaddexp(*v), k) for k, v in nxt.items()),
                            key=lambda r: -r[0])
            beams = {k: nxt[k] for s, k in ranked[:beam_size] if s > neg}
        final = sorted(((list(k), _logaddexp(*v)) for k, v in beams.items()),
                       key=lambda r: -r[1])
        results.append([r for r in final if r[1] > neg][:beam_size])
    return results if batched else results[0]
