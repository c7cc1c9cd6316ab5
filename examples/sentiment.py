"""Sentiment classification (many-to-one): short reviews such as "the movie was not good
at all" are sorted into 5 sentiment levels, 0 (very negative, ":(( ") to 4 (very
positive, ":))"), by two models built on word2vec vectors.

The data are generated in code. Each level has a few adjectives used in the labelled
sentences ("terrible", "bad", "okay", "good", "excellent", ...) and two synonyms that
never appear in a labelled training sentence ("atrocious", "lousy", "mediocre",
"decent", "superb", ...). A labelled sentence puts one adjective into a template
around a topic noun ("i thought the hotel was really good"); a negated template
("the food was not good at all", "not a terrible show") mirrors the level, c -> 4 - c
(only levels 0, 1, 3 and 4 are negated).

The word vectors come from `tinygrad_seq.word2vec.Word2Vec` (skip-gram) trained on a
separate, larger unlabelled text generated in code: the same templates, every
adjective and synonym followed by a remark typical of its level ("four stars , we
liked it , would recommend"), so that a synonym shares its contexts with the
adjectives of its level; "not", "never" and "at all" appear there only in neutral
sentences ("the museum was not open at all on monday").

- Model A: the average of the (frozen) word vectors of a sentence, then a softmax
  classifier (one nn.Linear) -- it cannot see word order, so negation defeats it.
- Model B: an LSTM (nn.LSTM, 64 units, `lengths=` for the padded batch) over the
  embeddings (nn.Embedding initialised from the word2vec vectors and kept frozen, so
  that the synonyms stay next to the words of their level), last state -> nn.Linear
  -> softmax.
Both are trained with Adam on the cross-entropy.

The test set (sentences never seen in training): plain sentences with training
adjectives (60%), plain sentences with synonyms seen only in the embedding text (30%),
and a negation subset (10%, half with adjectives, half with synonyms).

Success criterion (full mode): A >= 85% test accuracy; B >= 90% test accuracy and at
least 20 points better than A on the negation subset. `--quick` (a smaller embedding
text, fewer sentences and training steps; about 5 s on 2 CPU cores) must meet the same
criterion.

    python examples/sentiment.py            # full mode, about 20 s on 2 CPU cores
    python examples/sentiment.py --quick    # smoke run (CI)
    python examples/sentiment.py --classify "the hotel was not lousy at all"

It prints the nearest neighbours of a few synonyms, the accuracies of both models on
each subset, classifies a few typed sentences, and saves the word vectors (word2vec
text format) and model B's weights in the output folder it prints.
"""
import argparse
import os
import sys
import time

# The matrices here are small: one BLAS thread is as fast as two, and does not slow
# down many times over when other programs share the cores.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

import tinygrad_seq as ts  # noqa: E402
import tinygrad_seq.functional as F  # noqa: E402
from tinygrad_seq import nn, optim  # noqa: E402
from tinygrad_seq.word2vec import Word2Vec  # noqa: E402

try:
    from tqdm import tqdm
except ImportError:  # no progress bar without tqdm
    tqdm = None

LEVELS = [":((", ":(", ":|", ":)", ":))"]
NAMES = ["very negative", "negative", "neutral", "positive", "very positive"]
# adjectives of each level used in labelled sentences, and synonyms seen only in the
# embedding text
ADJECTIVES = [["terrible", "awful", "horrible", "dreadful"],
              ["bad", "poor", "disappointing", "unpleasant"],
              ["okay", "average", "ordinary", "fair"],
              ["good", "nice", "happy", "pleasant"],
              ["excellent", "wonderful", "amazing", "fantastic"]]
SYNONYMS = [["atrocious", "abysmal"],
            ["lousy", "subpar"],
            ["mediocre", "unremarkable"],
            ["decent", "enjoyable"],
            ["superb", "outstanding"]]
# remarks typical of each level: they follow an adjective in the embedding text only
REMARKS = [["one star", "a complete disaster", "we demanded a refund", "worst ever"],
           ["two stars", "rather disappointed", "we left early", "below expectations"],
           ["three stars", "nothing special", "as expected", "neither here nor there"],
           ["four stars", "we liked it", "would recommend", "worth a visit"],
           ["five stars", "absolutely loved it", "best ever", "a true masterpiece"]]
NOUNS = ["movie", "food", "service", "hotel", "book", "game", "trip", "meal", "show",
         "staff", "room", "concert", "museum", "album", "restaurant", "class", "park",
         "beach", "phone", "car", "course", "podcast", "app", "cafe"]
TEMPLATES = ["the {n} was {a}", "i thought the {n} was {a}", "this {n} is {a}",
             "what a {a} {n}", "the {n} we had last week was {a}",
             "honestly the {n} was really {a}", "my friends said the {n} is {a}", "{a} {n}",
             "the {n} was very {a}", "overall a {a} {n}"]
NEGATED = ["the {n} was not {a}", "the {n} was not {a} at all", "this {n} is not {a}",
           "not a {a} {n}", "the {n} was never {a}", "i did not think the {n} was {a}",
           "honestly the {n} was not really {a}", "my friends said the {n} is not {a} at all"]
# neutral words for the embedding text's neutral sentences (where "not", "never" and
# "at all" occur)
NEUTRAL = ["open", "closed", "new", "old", "long", "short", "far", "near", "busy", "late"]
PAD = "<pad>"


def labelled_sentence(rng, synonyms=False, negated=False):
    """One labelled sentence: (tokens, level)."""
    level = int(rng.choice([0, 1, 3, 4])) if negated else int(rng.integers(0, 5))
    words = SYNONYMS[level] if synonyms else ADJECTIVES[level]
    template = NEGATED if negated else TEMPLATES
    text = template[rng.integers(len(template))].format(
        n=NOUNS[rng.integers(len(NOUNS))], a=words[rng.integers(len(words))])
    return text.split(), (4 - level if negated else level)


def labelled_set(rng, n, synonyms=0.0, negated=0.0, exclude=()):
    """n distinct sentences (none in `exclude`): a fraction `synonyms` with synonyms,
    a fraction `negated` negated (with adjectives or synonyms as `synonyms` says for the
    rest), the others plain. Returns (sentences, levels, kind) with kind 0 plain,
    1 synonym, 2 negation."""
    seen = set(exclude)
    counts = [n - int(round(n * synonyms)) - int(round(n * negated)), int(round(n * synonyms)),
              int(round(n * negated))]
    sentences, levels, kinds = [], [], []
    for kind, count in enumerate(counts):
        while count:
            syn = kind == 1 or (kind == 2 and synonyms > 0 and rng.random() < 0.5)
            tokens, level = labelled_sentence(rng, synonyms=syn, negated=kind == 2)
            if " ".join(tokens) in seen:
                continue
            seen.add(" ".join(tokens))
            sentences.append(tokens)
            levels.append(level)
            kinds.append(kind)
            count -= 1
    return sentences, np.array(levels), np.array(kinds)


def embedding_text(rng, n):
    """The unlabelled text word2vec learns from: n sentences, 85% an adjective or synonym
    of some level in a plain template followed by one or two remarks of that level, 15%
    neutral sentences (with "not", "never", "at all")."""
    text = []
    for _ in range(n):
        noun = NOUNS[rng.integers(len(NOUNS))]
        if rng.random() < 0.15:
            template = (NEGATED + TEMPLATES)[rng.integers(len(NEGATED) + len(TEMPLATES))]
            text.append(template.format(n=noun, a=NEUTRAL[rng.integers(len(NEUTRAL))]).split())
            continue
        level = int(rng.integers(0, 5))
        words = ADJECTIVES[level] + SYNONYMS[level]
        sentence = TEMPLATES[rng.integers(len(TEMPLATES))].format(
            n=noun, a=words[rng.integers(len(words))])
        for _ in range(int(rng.integers(1, 3))):
            sentence += " , " + REMARKS[level][rng.integers(len(REMARKS[level]))]
        text.append(sentence.split())
    return text


def encode(sentences, key_to_index):
    """Token lists -> (N, T) indices padded with the <pad> row, and the lengths."""
    lengths = np.array([len(s) for s in sentences])
    X = np.full((len(sentences), lengths.max()), key_to_index[PAD], dtype=np.int64)
    for i, s in enumerate(sentences):
        X[i, :len(s)] = [key_to_index[w] for w in s]
    return X, lengths


def average_vectors(X, lengths, vectors):
    """Model A's features: the mean of each sentence's word vectors (pad row is 0)."""
    return vectors[X].sum(axis=1) / lengths[:, None]


class LSTMClassifier(nn.Module):
    """Model B: frozen pretrained embeddings -> LSTM -> last state -> Linear."""

    def __init__(self, vectors, pad_index, hidden=64, classes=5):
        super().__init__()
        self.embedding = nn.Embedding.from_pretrained(ts.tensor(vectors), freeze=True,
                                                      padding_idx=pad_index)
        self.lstm = nn.LSTM(vectors.shape[1], hidden, batch_first=True)
        self.out = nn.Linear(hidden, classes)

    def forward(self, x, lengths):
        _, (h, _) = self.lstm(self.embedding(x), lengths=lengths)   # h: (1, N, hidden)
        return self.out(h[0])                                        # logits (N, 5)


def train(params, loss_fn, steps, lr, desc):
    """Adam on loss_fn(step) for `steps` steps (cosine-decayed learning rate)."""
    optimizer = optim.Adam(params, lr=lr)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps, eta_min=lr / 20)
    bar = tqdm(range(1, steps + 1), desc=desc, unit="step", mininterval=1.0) if tqdm else None
    running = None
    for step in (bar if bar is not None else range(1, steps + 1)):
        loss = loss_fn(step)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
        if bar is not None:
            bar.set_postfix(loss=f"{running:.3f}", refresh=False)
        elif step % max(steps // 5, 1) == 0 or step == 1:
            print(f"  {desc} step {step:5d}  loss {running:.4f}")
    if bar is not None:
        bar.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run (CI)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=os.path.join("out", "sentiment"),
                        help="output folder for the word vectors and model B's weights")
    parser.add_argument("--classify", nargs="*", default=None, help="sentences to classify")
    args = parser.parse_args(argv)
    n_text = 8000 if args.quick else 30000
    n_train, n_test = (2000, 1000) if args.quick else (3000, 2000)
    steps_a, steps_b = (300, 400) if args.quick else (600, 1200)
    batch = 64

    ts.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()

    # ---- word vectors from the unlabelled text
    text = embedding_text(rng, n_text)
    w2v = Word2Vec(text, vector_size=32, window=4, min_count=1, sg=1, negative=5, epochs=5,
                   sample=0, seed=args.seed + 1, progress=tqdm is not None, batch_examples=256)
    wv = w2v.wv
    print(f"word2vec (skip-gram) on {n_text:,} unlabelled sentences, "
          f"{sum(map(len, text)):,} words: {len(wv)} words x {wv.vector_size} "
          f"({time.perf_counter() - start:.1f} s)")
    for word in ("superb", "lousy", "mediocre", "decent"):
        near = ", ".join(w for w, _ in wv.most_similar(word, topn=4))
        print(f"  nearest to {word!r:>11}: {near}")
    key_to_index = dict(wv.key_to_index)
    key_to_index[PAD] = len(key_to_index)
    vectors = np.concatenate([wv.vectors, np.zeros((1, wv.vector_size), wv.vectors.dtype)])

    # ---- labelled data: synonyms never in training; no test sentence in training
    train_s, train_y, _ = labelled_set(rng, n_train, negated=0.25)
    test_s, test_y, kind = labelled_set(rng, n_test, synonyms=0.30, negated=0.10,
                                        exclude={" ".join(s) for s in train_s})
    train_words = {w for s in train_s for w in s}
    assert not train_words & {w for ws in SYNONYMS for w in ws}
    X_train, len_train = encode(train_s, key_to_index)
    X_test, len_test = encode(test_s, key_to_index)
    print(f"labelled: {n_train} training sentences (25% negated), {n_test} test sentences: "
          f"{(kind == 0).sum()} plain, {(kind == 1).sum()} with synonyms seen only in the "
          f"embedding text, {(kind == 2).sum()} negated")

    # ---- model A: average of frozen word vectors -> Linear -> softmax
    A_train = ts.tensor(average_vectors(X_train, len_train, vectors))
    A_test = ts.tensor(average_vectors(X_test, len_test, vectors))
    model_a = nn.Linear(wv.vector_size, 5)
    y_train = ts.tensor(train_y)
    train(list(model_a.parameters()), lambda step: F.cross_entropy(model_a(A_train), y_train),
          steps_a, 0.05, "model A")
    with ts.no_grad():
        pred_a = model_a(A_test).argmax(axis=-1).numpy()

    # ---- model B: LSTM over the frozen word2vec embeddings
    model_b = LSTMClassifier(vectors, key_to_index[PAD])

    def loss_b(step):
        idx = rng.integers(0, n_train, batch)
        L = len_train[idx]
        logits = model_b(ts.tensor(X_train[idx][:, :L.max()]), lengths=L)
        return F.cross_entropy(logits, ts.tensor(train_y[idx]))

    params_b = [p for p in model_b.parameters() if p.requires_grad]
    train(params_b, loss_b, steps_b, 0.01, "model B")
    model_b.eval()

    def predict_b(X, lengths):
        with ts.no_grad():
            return model_b(ts.tensor(X), lengths=lengths).argmax(axis=-1).numpy()

    pred_b = predict_b(X_test, len_test)
    elapsed = time.perf_counter() - start

    def acc(pred, mask=None):
        mask = np.ones(len(test_y), bool) if mask is None else mask
        return float((pred[mask] == test_y[mask]).mean())

    print(f"{'test accuracy':>16} {'all':>7} {'plain':>7} {'synonyms':>9} {'negation':>9}")
    for name, pred in (("A (average)", pred_a), ("B (LSTM)", pred_b)):
        print(f"{name:>16} {acc(pred):7.1%} {acc(pred, kind == 0):7.1%} "
              f"{acc(pred, kind == 1):9.1%} {acc(pred, kind == 2):9.1%}")

    typed = args.classify or ["the movie was excellent", "the movie was not excellent",
                              "the hotel was lousy", "the hotel was not lousy at all",
                              "i was not happy at all", "what a superb concert",
                              "the meal was mediocre"]
    typed_s = [s.lower().split() for s in typed]
    unknown = sorted({w for s in typed_s for w in s if w not in key_to_index})
    if unknown:
        print(f"unknown words skipped: {', '.join(unknown)}")
    typed_s = [[w for w in s if w in key_to_index] or [PAD] for s in typed_s]
    X_typed, len_typed = encode(typed_s, key_to_index)
    with ts.no_grad():
        typed_a = model_a(ts.tensor(average_vectors(X_typed, len_typed, vectors))).argmax(axis=-1).numpy()
    typed_b = predict_b(X_typed, len_typed)
    for text_, a, b in zip(typed, typed_a, typed_b):
        print(f"  {text_!r:>34}  A: {LEVELS[a]:<3} ({NAMES[a]})  B: {LEVELS[b]:<3} ({NAMES[b]})")

    os.makedirs(args.out, exist_ok=True)
    wv.save_word2vec_format(os.path.join(args.out, "vectors.txt"))
    ts.save(model_b.state_dict(), os.path.join(args.out, "lstm.tsz"))
    print(f"word vectors and model B's weights saved to {os.path.abspath(args.out)}")
    print(f"{'quick mode: ' if args.quick else ''}{elapsed:.0f} s from the start to the "
          f"evaluation")

    a_all, b_all = acc(pred_a), acc(pred_b)
    gap = acc(pred_b, kind == 2) - acc(pred_a, kind == 2)
    checks = [(f"A test accuracy {a_all:.1%} >= 85%", a_all >= 0.85),
              (f"B test accuracy {b_all:.1%} >= 90%", b_all >= 0.90),
              (f"B - A on the negation subset {100 * gap:+.1f} points >= +20", gap >= 0.20)]
    for line, ok in checks:
        print(f"  {line}: {'yes' if ok else 'NO'}")
    ok = all(ok for _, ok in checks)
    print("success criterion (A >= 85%, B >= 90% and >= 20 points better than A on "
          "negation):", "MET" if ok else "NOT MET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
