"""Translation with beam search and BLEU: an encoder-decoder with attention translates a
built-in synthetic language pair, and greedy decoding is compared with beam search
(beam sizes 1, 3 and 10, with and without length normalisation) by BLEU on held-out
sentences, followed by the notes' error analysis of beam search.

The language pair is generated in code by a small grammar. The source is English-like,
subject-verb-object:

    the big dog saw my two red cats near a tree quickly
    ki vako grau na miru ri du roha ni ma o sila bam mir vi vi

The target language changes the word order and the vocabulary:

- it is verb-final (subject, object, then the verb stem), and begins with an auxiliary
  that encodes the tense of the verb *and* the number of the subject (six auxiliaries:
  present/past/future x singular/plural), so its first word depends on two source
  words far apart;
- a noun phrase starts with its noun, then the plural marker "ri" when plural, the
  number ("two"/"three" -> "du"/"tri"), the adjectives in reverse order and last the
  determiner ("the" -> "na", "this"/"these" -> "su", "my" -> "ni ma", "a" -> nothing);
- the object is followed by the case marker "o", a prepositional phrase becomes a
  noun phrase followed by a postposition and moves before the verb, and the adverb
  moves to the end ("quickly" -> "vi vi", "again" -> "pa ra");
- the future has two forms, as languages do: the auxiliary "ko"/"kon" alone (40% of
  future sentences), or the auxiliary "ke"/"ken" followed by one of three particles
  "sa"/"se"/"si" (60%, so 20% for each particle). The single most probable
  translation of a future sentence is the "ko" form (probability 0.4 against 0.2 for
  each "ke" form), but its first word is the less probable one (0.4 against 0.6):
  greedy decoding takes "ke" and is then left to guess a particle, while beam search
  keeps both openings and finds the "ko" form. The held-out reference is one draw of
  these forms, as a translator's reference is one of the good translations.

Sentences are 5 to about 20 words long and their translations 5 to about 22; some
source words vanish ("a", "will") and some become two target words. 1,000 held-out
sentences (200 with --quick) never occur as a source in training.

The model (the notes' attention model in Luong's form, so that training runs the
decoder as one fused GRU over the whole target):

- encoder: nn.Embedding(source vocabulary, 64) -> bidirectional nn.GRU (64 per
  direction) with the true lengths; its outputs a<t'> (128 wide) are the memory;
- decoder: nn.Embedding(target vocabulary, 64) -> nn.GRU(64, 128) started from a
  projection of the encoder's final states; at step t its state s<t> scores every
  a<t'> with s<t>^T W a<t'> (padding masked), softmax over t' gives alpha<t,t'>, the
  context is sum_t' alpha<t,t'> a<t'>, and tanh(W_c [s<t>; context]) -> nn.Linear ->
  log_softmax gives P(y<t> | x, y<1..t-1>);
- training with teacher forcing (cross-entropy, Adam, cosine learning rate).

Decoding goes through `tinygrad_seq.decoding` with one `step_fn(tokens, state)` (the
state: the decoder's hidden state and the sentence's memory, reordered along axis 0 as
the beam moves): `greedy_search`, and `beam_search` with B = 1, 3, 10 whose finished
hypotheses are ranked by the plain sum of log-probabilities (alpha = 0) or by the
length-normalised score (1 / T_y^alpha) sum_t log P(y<t> | x, y<1..t-1>) with alpha
0.7. (`beam_search` ranks by the plain sum during the search and applies
`length_penalty` only to the finished hypotheses, so one search gives both rankings.)
BLEU is `tinygrad_seq.metrics.corpus_bleu` (NLTK's BLEU-4) over the held-out set.

Error analysis (the notes): for each held-out sentence where beam search (B = 10,
normalised) does not produce the reference y*, compare the model's normalised scores of
y* and of its output y-hat. If score(y* | x) > score(y-hat | x), the model preferred the
right answer and the search missed it: beam search is at fault. Otherwise the model
scores a wrong translation higher: the model (the RNN) is at fault. The method takes the
reference to be the better translation; where the output and the reference differ only
in the form of the future (the reference drew a "ke" form, the output is the more
probable "ko" form) the model is right to prefer its output, and those "faults" are
counted separately. The same analysis of greedy decoding's errors follows, for
comparison: there the search is at fault far more often.

Success criterion: held-out BLEU of beam search with B = 10 and length normalisation
>= greedy decoding's BLEU, and the error-analysis counts printed (full mode and
`--quick`, whose model is trained far less).

    python examples/translation_beam.py             # full mode, a few minutes on 2 CPU cores
    python examples/translation_beam.py --quick     # smoke run (CI)

It saves a picture of the attention of one held-out sentence and a bar chart of BLEU
per decoder to the output folder (skipped with a message without matplotlib).
"""
import argparse
import os
import sys
import time

# small matrices: one BLAS thread is as fast and does not collapse on shared cores
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

import tinygrad_seq as ts  # noqa: E402
import tinygrad_seq.functional as F  # noqa: E402
from tinygrad_seq import nn, optim  # noqa: E402
from tinygrad_seq.decoding import beam_search, greedy_search  # noqa: E402
from tinygrad_seq.metrics import corpus_bleu  # noqa: E402

try:
    from tqdm import tqdm
except ImportError:  # no progress bar without tqdm
    tqdm = None

ALPHA = 0.7          # the length-normalisation exponent
MAX_LEN = 30         # the longest translation a search may produce

# ---------------------------------------------------------------- the language pair

# source word -> target word(s)
NOUNS = {"dog": "vako", "cat": "miru", "bird": "tesa", "man": "pulo", "woman": "dani",
         "child": "ketu", "house": "boro", "tree": "sila", "car": "femu", "book": "lirn",
         "ball": "gato", "river": "nuam"}
PLURALS = {"dog": "dogs", "cat": "cats", "bird": "birds", "man": "men", "woman": "women",
           "child": "children", "house": "houses", "tree": "trees", "car": "cars",
           "book": "books", "ball": "balls", "river": "rivers"}
ADJECTIVES = {"big": "grau", "small": "pim", "red": "roha", "old": "senu", "happy": "jola",
              "green": "vird", "fast": "zumo", "quiet": "tace"}
DETERMINERS = {"the": ["na"], "a": [], "this": ["su"], "these": ["su"], "my": ["ni", "ma"]}
NUMBERS = {"two": "du", "three": "tri"}                     # plural only, before adjectives
# verb: (present 3sg, present plural, past, future stem) -> target stem
VERBS = {("sees", "see", "saw", "see"): "mir", ("eats", "eat", "ate", "eat"): "lom",
         ("likes", "like", "liked", "like"): "suk", ("chases", "chase", "chased", "chase"): "tav",
         ("finds", "find", "found", "find"): "pel", ("carries", "carry", "carried", "carry"): "dun"}
PREPOSITIONS = {"near": "bam", "under": "tuk", "with": "sel"}
ADVERBS = {"quickly": ["vi", "vi"], "often": ["sem"], "again": ["pa", "ra"], "today": ["dai"]}
# the auxiliary: (tense, subject plural?) -> target word
AUX = {("present", False): "ka", ("present", True): "kan", ("past", False): "ki",
       ("past", True): "kin", ("future", False): "ko", ("future", True): "kon"}
# the future's second form: this auxiliary followed by one of three particles
AUX_PROSPECTIVE = {False: "ke", True: "ken"}
PARTICLES = ["sa", "se", "si"]
P_PROSPECTIVE = 0.6

SPECIALS = ["<pad>", "<bos>", "<eos>"]
PAD, BOS, EOS = 0, 1, 2


def _vocab(words):
    words = SPECIALS + sorted(set(words))
    return words, {w: i for i, w in enumerate(words)}


SRC_WORDS, SRC_INDEX = _vocab(
    list(NOUNS) + list(PLURALS.values()) + list(ADJECTIVES) + list(DETERMINERS) + list(NUMBERS)
    + [w for forms in VERBS for w in forms] + ["will"] + list(PREPOSITIONS) + list(ADVERBS))
TGT_WORDS, TGT_INDEX = _vocab(
    list(NOUNS.values()) + ["ri"] + list(ADJECTIVES.values()) + [w for v in DETERMINERS.values() for w in v]
    + list(NUMBERS.values()) + list(VERBS.values()) + list(PREPOSITIONS.values())
    + [w for v in ADVERBS.values() for w in v] + list(AUX.values()) + list(AUX_PROSPECTIVE.values())
    + PARTICLES + ["o"])


def noun_phrase(rng, allow_plural=True):
    """A random noun phrase: (source words, target words, plural?)."""
    noun = list(NOUNS)[rng.integers(len(NOUNS))]
    plural = allow_plural and rng.random() < 0.4
    adjectives = [list(ADJECTIVES)[i] for i in rng.choice(len(ADJECTIVES), rng.choice(3, p=[0.45, 0.35, 0.2]),
                                                          replace=False)]
    dets = ["the", "these", "my"] if plural else ["the", "a", "this", "my"]
    det = dets[rng.integers(len(dets))]
    number = list(NUMBERS)[rng.integers(2)] if plural and rng.random() < 0.3 else None
    src = [det] + ([number] if number else []) + adjectives + [PLURALS[noun] if plural else noun]
    tgt = ([NOUNS[noun]] + (["ri"] if plural else []) + ([NUMBERS[number]] if number else [])
           + [ADJECTIVES[a] for a in reversed(adjectives)] + DETERMINERS[det])
    return src, tgt, plural


def sentence(rng):
    """A random sentence pair (source words, target words)."""
    subj_src, subj_tgt, plural = noun_phrase(rng)
    obj_src, obj_tgt, _ = noun_phrase(rng)
    forms = list(VERBS)[rng.integers(len(VERBS))]
    tense = ["present", "past", "future"][rng.integers(3)]
    verb = {"present": [forms[1] if plural else forms[0]], "past": [forms[2]],
            "future": ["will", forms[3]]}[tense]
    src = subj_src + verb + obj_src
    prospective = tense == "future" and rng.random() < P_PROSPECTIVE
    aux = AUX_PROSPECTIVE[plural] if prospective else AUX[tense, plural]
    tgt = [aux] + ([PARTICLES[rng.integers(len(PARTICLES))]] if prospective else []) \
        + subj_tgt + obj_tgt + ["o"]
    if rng.random() < 0.35:
        prep = list(PREPOSITIONS)[rng.integers(len(PREPOSITIONS))]
        pp_src, pp_tgt, _ = noun_phrase(rng)
        src += [prep] + pp_src
        tgt += pp_tgt + [PREPOSITIONS[prep]]
    tgt += [VERBS[forms]]
    if rng.random() < 0.35:
        adverb = list(ADVERBS)[rng.integers(len(ADVERBS))]
        src += [adverb]
        tgt += ADVERBS[adverb]
    return src, tgt


def make_corpus(rng, n_train, n_heldout):
    """Distinct held-out pairs and training pairs that never repeat a held-out source."""
    heldout, seen = [], set()
    while len(heldout) < n_heldout:
        s, t = sentence(rng)
        if tuple(s) not in seen:
            seen.add(tuple(s))
            heldout.append((s, t))
    train = []
    while len(train) < n_train:
        s, t = sentence(rng)
        if tuple(s) not in seen:
            train.append((s, t))
    return train, heldout


def pad_batch(seqs):
    width = max(len(s) for s in seqs)
    out = np.full((len(seqs), width), PAD, dtype=np.int64)
    for n, s in enumerate(seqs):
        out[n, :len(s)] = s
    return out


def encode(pairs):
    """Pairs of word lists -> (source ids, source lengths, decoder inputs, decoder targets)."""
    src = [[SRC_INDEX[w] for w in s] for s, _ in pairs]
    tgt = [[TGT_INDEX[w] for w in t] + [EOS] for _, t in pairs]
    return (pad_batch(src), np.array([len(s) for s in src]),
            pad_batch([[BOS] + t[:-1] for t in tgt]), pad_batch(tgt))


# ---------------------------------------------------------------- the model

class Translator(nn.Module):
    def __init__(self, emb=64, hidden=64):
        super().__init__()
        self.src_embed = nn.Embedding(len(SRC_WORDS), emb, padding_idx=PAD)
        self.encoder = nn.GRU(emb, hidden, bidirectional=True, batch_first=True)
        self.bridge = nn.Linear(2 * hidden, 2 * hidden)
        self.tgt_embed = nn.Embedding(len(TGT_WORDS), emb, padding_idx=PAD)
        self.decoder = nn.GRU(emb, 2 * hidden, batch_first=True)
        self.score = nn.Linear(2 * hidden, 2 * hidden, bias=False)   # s^T W a
        self.combine = nn.Linear(4 * hidden, 2 * hidden)
        self.out = nn.Linear(2 * hidden, len(TGT_WORDS))

    def encode(self, src, lengths):
        """-> memory a (N, S, 2H), keys W a (N, S, 2H), pad mask (N, S), s<0> (N, 2H)."""
        a, h_n = self.encoder(self.src_embed(ts.tensor(src)), lengths=list(lengths))
        s0 = self.bridge(ts.cat([h_n[0], h_n[1]], dim=-1)).tanh()
        return a, self.score(a), ts.tensor(src == PAD), s0

    def attend(self, s, memory, keys, pad):
        """Decoder states s (N, T, 2H) -> log-probabilities (N, T, V), alphas (N, T, S)."""
        energies = (s @ keys.transpose(1, 2)).masked_fill(pad.unsqueeze(1), -1e9)
        alpha = F.softmax(energies, dim=-1)
        context = alpha @ memory
        hidden = self.combine(ts.cat([s, context], dim=-1)).tanh()
        return F.log_softmax(self.out(hidden), dim=-1), alpha

    def forward(self, src, lengths, tgt_in):
        """Teacher forcing: log P(y<t> | x, y<1..t-1>) for every t, (N, T, V)."""
        memory, keys, pad, s0 = self.encode(src, lengths)
        s, _ = self.decoder(self.tgt_embed(ts.tensor(tgt_in)), s0.unsqueeze(0))
        return self.attend(s, memory, keys, pad)

    def start_state(self, src_ids):
        """The decoding state of one source sentence (a list of ids)."""
        memory, keys, pad, s0 = self.encode(np.array([src_ids]), [len(src_ids)])
        return (s0, memory, keys, pad)

    def step(self, tokens, state):
        """decoding's step_fn: tokens (B,) -> log-probabilities (B, V), next state."""
        s, memory, keys, pad = state
        out, _ = self.decoder(self.tgt_embed(tokens).unsqueeze(1), s.unsqueeze(0))
        log_probs, _ = self.attend(out, memory, keys, pad)
        return log_probs[:, 0], (out[:, 0], memory, keys, pad)


def sequence_log_probs(model, pairs_ids):
    """log P(y | x) of given (source ids, target ids with eos) pairs, by teacher forcing."""
    src = pad_batch([s for s, _ in pairs_ids])
    lengths = np.array([len(s) for s, _ in pairs_ids])
    tgt_in = pad_batch([[BOS] + t[:-1] for _, t in pairs_ids])
    tgt = pad_batch([t for _, t in pairs_ids])
    with ts.no_grad():
        lp, _ = model(src, lengths, tgt_in)
    lp = lp.numpy()
    picked = np.take_along_axis(lp, tgt[:, :, None], axis=2)[:, :, 0]
    return (picked * (tgt != PAD)).sum(axis=1)


# ---------------------------------------------------------------- evaluation

def words(ids):
    return [TGT_WORDS[i] for i in ids if i != EOS]


def other_future_form(reference, output):
    """True when the output is a correct translation that differs from the reference
    only in the form of the future ("ko" against "ke" + a particle, or the particle)."""
    def plain(ws):
        return [{"ke": "ko", "ken": "kon"}.get(w, w) for w in ws if w not in PARTICLES]

    def well_formed(ws):
        ke = ws[:1] in (["ke"], ["ken"])
        particles = [k for k, w in enumerate(ws) if w in PARTICLES]
        return particles == ([1] if ke else [])
    return reference != output and well_formed(output) and plain(reference) == plain(output)


def error_analysis(model, heldout, gold, outs, name, n_examples):
    """For each output that is not the reference y*: is score(y* | x) > score(y-hat | x)
    (the search is at fault) or not (the model is)? The score is the normalised one,
    sum_t log P / T_y^ALPHA. Prints the counts and a few cases."""
    errors = [n for n, (o, g) in enumerate(zip(outs, gold)) if o != g]
    search_fault = model_fault = variant = 0
    examples = []
    if errors:
        src_ids = [[SRC_INDEX[w] for w in heldout[n][0]] for n in errors]
        lp_ref = sequence_log_probs(model, [(s, gold[n]) for s, n in zip(src_ids, errors)])
        lp_out = sequence_log_probs(model, [(s, outs[n]) for s, n in zip(src_ids, errors)])
        for k, n in enumerate(errors):
            ref_score = lp_ref[k] / len(gold[n]) ** ALPHA
            out_score = lp_out[k] / len(outs[n]) ** ALPHA
            if ref_score > out_score:
                search_fault += 1
            else:
                model_fault += 1
                variant += other_future_form(words(gold[n]), words(outs[n]))
            if len(examples) < n_examples:
                examples.append((n, ref_score, out_score))
    print(f"error analysis of {name}: {len(errors)} of {len(heldout)} held-out translations "
          f"differ from the reference")
    print(f"  score(y* | x) > score(y-hat | x), the search is at fault: {search_fault}")
    print(f"  score(y* | x) <= score(y-hat | x), the model is at fault:  {model_fault}, of which "
          f"{variant} are the other form of the future (correct translations)")
    for n, ref_score, out_score in examples:
        print(f"    {' '.join(heldout[n][0])}\n      reference {' '.join(heldout[n][1])}  "
              f"({ref_score:.3f})\n      output    {' '.join(words(outs[n]))}  ({out_score:.3f})")
    return search_fault, model_fault


def decode_all(model, heldout, beams, progress):
    """Every decoder's output ids (with eos) per held-out sentence, and each beam's
    finished hypotheses: {name: [ids]}."""
    outputs = {"greedy": []}
    for b in beams:
        outputs[f"beam {b}"] = []
        outputs[f"beam {b}, normalised"] = []
    it = tqdm(heldout, desc="decoding", unit="sentence", mininterval=1.0) if progress else heldout
    with ts.no_grad():
        for src_words, _ in it:
            state = model.start_state([SRC_INDEX[w] for w in src_words])
            outputs["greedy"].append(greedy_search(model.step, state, BOS, MAX_LEN, EOS)[0][0])
            for b in beams:
                found = beam_search(model.step, state, BOS, b, MAX_LEN, EOS, length_penalty=ALPHA)
                outputs[f"beam {b}, normalised"].append(found[0][0])
                # the same hypotheses ranked by the plain sum (length_penalty 0)
                raw = max(found, key=lambda r: r[1] * len(r[0]) ** ALPHA)
                outputs[f"beam {b}"].append(raw[0])
    return outputs


def save_pictures(model, heldout, bleus, out_dir):
    """Attention of one held-out sentence and BLEU per decoder; False without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    src_words, _ = max(heldout[:50], key=lambda p: len(p[0]))
    state = model.start_state([SRC_INDEX[w] for w in src_words])
    tokens, _ = beam_search(model.step, state, BOS, 10, MAX_LEN, EOS, length_penalty=ALPHA)[0]
    s_ids = [SRC_INDEX[w] for w in src_words]
    with ts.no_grad():
        _, alpha = model(np.array([s_ids]), [len(s_ids)], np.array([[BOS] + tokens[:-1]]))
    fig, axes = plt.subplots(1, 2, figsize=(14, 5), gridspec_kw={"width_ratios": [3, 2]})
    ax = axes[0]
    ax.imshow(alpha.numpy()[0], cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(src_words)), labels=src_words, rotation=60, ha="right")
    ax.set_yticks(range(len(tokens)), labels=[TGT_WORDS[i] for i in tokens])
    ax.set_xlabel("source word t'")
    ax.set_ylabel("output word t (beam 10, normalised)")
    ax.set_title("attention alpha<t,t'>")
    ax = axes[1]
    names = list(bleus)
    ax.barh(range(len(names)), [100 * bleus[n] for n in names], color="tab:blue")
    ax.set_yticks(range(len(names)), labels=names)
    ax.invert_yaxis()
    lo = min(bleus.values()) * 100
    ax.set_xlim(max(0.0, lo - 5), 100)
    ax.set_xlabel("held-out BLEU")
    for i, n in enumerate(names):
        ax.text(100 * bleus[n], i, f" {100 * bleus[n]:.2f}", va="center", fontsize=8)
    fig.tight_layout()
    path = os.path.join(out_dir, "translation_beam.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run (CI)")
    parser.add_argument("--steps", type=int, default=None, help="Adam steps (default 1500; quick 350)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--heldout", type=int, default=None,
                        help="held-out sentences (default 1000; quick 200)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=os.path.join("out", "translation_beam"),
                        help="output folder for the pictures")
    args = parser.parse_args(argv)
    steps = args.steps or (350 if args.quick else 1500)
    n_heldout = args.heldout or (200 if args.quick else 1000)
    beams = [1, 3, 10]

    ts.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    train, heldout = make_corpus(rng, 40000, n_heldout)
    lengths = [len(t) + 1 for _, t in heldout]
    print(f"source vocabulary {len(SRC_WORDS)}, target vocabulary {len(TGT_WORDS)}; "
          f"{len(train):,} training pairs, {len(heldout)} held-out (target lengths "
          f"{min(lengths) - 1}-{max(lengths) - 1} words)")
    for s, t in heldout[:3]:
        print(f"  {' '.join(s)}  ->  {' '.join(t)}")

    model = Translator()
    params = list(model.parameters())
    print(f"encoder-decoder with attention: {sum(p.numel() for p in params):,} parameters")
    optimizer = optim.Adam(params, lr=args.lr)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps, eta_min=args.lr / 20)

    start = time.perf_counter()
    bar = tqdm(range(1, steps + 1), desc="training", unit="step", mininterval=1.0) if tqdm else None
    running = None
    for step in (bar if bar is not None else range(1, steps + 1)):
        batch = [train[i] for i in rng.integers(0, len(train), args.batch)]
        src, src_len, tgt_in, tgt = encode(batch)
        log_probs, _ = model(src, src_len, tgt_in)
        loss = F.nll_loss(log_probs.reshape(-1, len(TGT_WORDS)), ts.tensor(tgt.reshape(-1)),
                          ignore_index=PAD)
        optimizer.zero_grad()
        loss.backward()
        optim.clip_grad_norm_(params, 5.0)
        optimizer.step()
        scheduler.step()
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        if bar is not None:
            bar.set_postfix(loss=f"{running:.3f}", refresh=False)
        elif step % max(steps // 10, 1) == 0 or step == 1:
            print(f"step {step:5d}  loss {running:.4f}  ({time.perf_counter() - start:.0f} s)")
    if bar is not None:
        bar.close()
    print(f"trained {steps} steps of {args.batch} in {time.perf_counter() - start:.1f} s "
          f"(training loss {running:.4f} per word)")

    model.eval()
    t0 = time.perf_counter()
    outputs = decode_all(model, heldout, beams, progress=tqdm is not None)
    print(f"decoded {len(heldout)} held-out sentences with {len(outputs)} decoders in "
          f"{time.perf_counter() - t0:.1f} s")
    references = [[t] for _, t in heldout]
    gold = [[TGT_INDEX[w] for w in t] + [EOS] for _, t in heldout]
    bleus = {}
    print(f"{'decoder':<24} {'BLEU':>7} {'exact':>7} {'correct':>8} {'mean length':>12}")
    for name, outs in outputs.items():
        bleus[name] = corpus_bleu(references, [words(o) for o in outs])
        exact = np.mean([o == g for o, g in zip(outs, gold)])
        correct = np.mean([o == g or other_future_form(words(g), words(o)) for o, g in zip(outs, gold)])
        print(f"{name:<24} {100 * bleus[name]:7.2f} {exact:7.1%} {correct:8.1%} "
              f"{np.mean([len(words(o)) for o in outs]):12.2f}")
    print(f"{'(references)':<24} {'':>7} {'':>7} {'':>8} {np.mean([len(t) for _, t in heldout]):12.2f}")
    print("(exact: the output is the reference; correct: it is the reference or the other form of "
          "the future)")
    same = sum(a == b for a, b in zip(outputs["greedy"], outputs["beam 1"]))
    print(f"greedy_search and beam_search with B = 1 agree on {same} of {len(heldout)} sentences")

    # the notes' error analysis, for beam search and, for comparison, greedy decoding
    for name, n_examples in (("beam 10, normalised", 3), ("greedy", 1)):
        error_analysis(model, heldout, gold, outputs[name], name, n_examples)

    os.makedirs(args.out, exist_ok=True)
    picture = save_pictures(model, heldout, bleus, args.out)
    if picture:
        print(f"attention map and BLEU chart saved to {os.path.abspath(picture)}")
    else:
        print("matplotlib is not installed: skipping the pictures (pip install matplotlib)")

    elapsed = time.perf_counter() - start
    print(f"{elapsed:.0f} s from the first training step to here")
    ok = bleus["beam 10, normalised"] >= bleus["greedy"]
    print(f"success criterion (held-out BLEU of beam 10, normalised "
          f"({100 * bleus['beam 10, normalised']:.2f}) >= greedy's ({100 * bleus['greedy']:.2f}); "
          f"error analysis printed):", "MET" if ok else "NOT MET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
