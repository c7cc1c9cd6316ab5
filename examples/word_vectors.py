"""Word vectors: word2vec (skip-gram or CBOW) on a built-in corpus whose words are built
on known attribute axes; cosine similarity, analogies, and the notes' neutralize and
equalize debiasing written out in NumPy on the trained vectors.

The corpus is generated in code. Every word of interest is a point on known axes:

- gender (male / female): he him his himself mr  /  she her hers herself mrs;
- generation (young / grown-up): young little small kid  /  old grown elder senior;
- a domain with its own three words: royal (crown throne palace), family, kin,
  grand-family, school, stage (actor / actress), restaurant (waiter / waitress), ...

Six domains hold a 2 x 2 grid (boy girl man woman, prince princess king queen, son
daughter father mother, nephew niece uncle aunt, grandson granddaughter grandfather
grandmother, schoolboy schoolgirl headmaster headmistress); twenty more hold one
male / female pair of grown-ups (actor actress, waiter waitress, duke duchess, ...).
Neutral words (doctor, nurse, programmer, receptionist, ...) have a domain of their
own but appear in gender-skewed contexts (a programmer is "he" 85% of the time, a
receptionist "she" 85%), so the trained vectors carry a gender bias for the
debiasing to remove. A sentence is made from a template: the word in the middle, two
words of its gender, one of its generation and two of its domain around it in a
random order ("his crown king old he throne").

Analogies `a : b :: c : ?` are answered by most_similar(positive=[b, c],
negative=[a]) (3CosAdd on unit vectors, the query words excluded), top-1. The
questions are gender analogies (man : woman :: king : queen, between any two
male / female pairs) and generation analogies (boy : man :: prince : king, between
any two (domain, gender) cells of the grid). The pairs and cells are split in two
with a fixed generator: the dev questions use only dev pairs / cells, the held-out
questions only the others. The hyper-parameters (the defaults below) were chosen on
the dev questions; the criterion is the held-out accuracy.

Debiasing, as in the notes, on the unit-length trained vectors (float64):

- the bias axis g: the average of e_female - e_male over several defining pairs
  (woman - man, queen - king, girl - boy, mother - father, ...);
- neutralize: e_debiased = e - (e . g) / |g|^2 g for the neutral words;
- equalize, for pairs such as actor / actress: mu = (e_w1 + e_w2) / 2,
  mu_B = (mu . g) / |g|^2 g, mu_orth = mu - mu_B, e_wiB = (e_wi . g) / |g|^2 g,
  corrected_wiB = sqrt(|1 - |mu_orth|^2|) (e_wiB - mu_B) / |(e_wi - mu_orth) - mu_B|,
  e_i = corrected_wiB + mu_orth.

Success criteria (each printed with whether it is met):

- >= 90% top-1 on the held-out analogies (in full mode and in `--quick`, which trains
  on a third of the sentences);
- |cos(neutralized word, g)| < 1e-10 for every neutral word;
- each equalized pair symmetric to 1e-12: cos(e_w1, g) = -cos(e_w2, g), and the same
  cosine similarity to and distance from every neutralized word, within 1e-12.

    python examples/word_vectors.py             # full mode, skip-gram (about 15 s)
    python examples/word_vectors.py --sg 0      # CBOW
    python examples/word_vectors.py --quick     # smoke run (CI, about 5 s)

It saves a 2-D PCA picture of chosen words (and of the neutral words before and after
neutralizing) as a PNG in the output folder it prints (skipped with a message when
matplotlib is not installed).
"""
import argparse
import os
import random
import sys
import time

# The matrices here are small: one BLAS thread is as fast as two, and does not slow
# down many times over when other programs share the cores.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

from tinygrad_seq.word2vec import Word2Vec  # noqa: E402

try:
    import tqdm  # noqa: F401  (word2vec shows its own progress bar when tqdm is installed)
    HAVE_TQDM = True
except ImportError:
    HAVE_TQDM = False

GENDER_WORDS = {"male": "he him his himself mr".split(),
                "female": "she her hers herself mrs".split()}
GENERATION_WORDS = {"young": "young little small kid".split(),
                    "grown": "old grown elder senior".split()}

FILLER = "the a was and with of to in".split()

# domain -> (three domain words, {(gender, generation): word})
GRID = {
    "common": ("people street town", {("male", "young"): "boy", ("female", "young"): "girl",
                                      ("male", "grown"): "man", ("female", "grown"): "woman"}),
    "royal": ("crown throne palace", {("male", "young"): "prince", ("female", "young"): "princess",
                                      ("male", "grown"): "king", ("female", "grown"): "queen"}),
    "family": ("home parents household", {("male", "young"): "son", ("female", "young"): "daughter",
                                          ("male", "grown"): "father", ("female", "grown"): "mother"}),
    "kin": ("visit cousin relatives", {("male", "young"): "nephew", ("female", "young"): "niece",
                                       ("male", "grown"): "uncle", ("female", "grown"): "aunt"}),
    "grand": ("grandparents generations inheritance",
              {("male", "young"): "grandson", ("female", "young"): "granddaughter",
               ("male", "grown"): "grandfather", ("female", "grown"): "grandmother"}),
    "school": ("classroom lessons pupils",
               {("male", "young"): "schoolboy", ("female", "young"): "schoolgirl",
                ("male", "grown"): "headmaster", ("female", "grown"): "headmistress"}),
}
# grown-up male / female pairs, each with its own domain words
PAIRS = [
    ("actor", "actress", "stage film theatre"),
    ("waiter", "waitress", "restaurant menu tips"),
    ("host", "hostess", "party guests dinner"),
    ("hero", "heroine", "story brave rescue"),
    ("steward", "stewardess", "flight cabin airline"),
    ("duke", "duchess", "estate castle nobility"),
    ("emperor", "empress", "empire conquest legions"),
    ("lord", "lady", "manor servants title"),
    ("monk", "nun", "monastery prayer abbey"),
    ("groom", "bride", "wedding ceremony vows"),
    ("husband", "wife", "marriage spouse anniversary"),
    ("brother", "sister", "sibling twin siblings"),
    ("landlord", "landlady", "rent tenant lease"),
    ("policeman", "policewoman", "police arrest patrol"),
    ("chairman", "chairwoman", "board meeting committee"),
    ("businessman", "businesswoman", "company deal profit"),
    ("god", "goddess", "temple worship myth"),
    ("wizard", "witch", "magic spell wand"),
    ("fiance", "fiancee", "engagement ring proposal"),
    ("masseur", "masseuse", "massage spa oils"),
]
# neutral words: (word, probability that a sentence uses male words, domain words)
NEUTRAL = [
    ("doctor", 0.80, "hospital patients diagnosis"),
    ("nurse", 0.20, "ward care shift"),
    ("programmer", 0.85, "software code computer"),
    ("receptionist", 0.15, "desk phone appointments"),
    ("engineer", 0.80, "bridge design machines"),
    ("homemaker", 0.15, "chores cooking cleaning"),
    ("scientist", 0.75, "laboratory research experiment"),
    ("babysitter", 0.15, "toddler naps evening"),
    ("pilot", 0.85, "cockpit runway plane"),
    ("secretary", 0.20, "typing files memos"),
]
DEFINING = [("man", "woman"), ("king", "queen"), ("boy", "girl"), ("father", "mother"),
            ("son", "daughter"), ("uncle", "aunt"), ("husband", "wife"), ("brother", "sister")]
EQUALIZE = [("actor", "actress"), ("waiter", "waitress"), ("grandfather", "grandmother"),
            ("host", "hostess")]


def word_attributes():
    """word -> (gender or None, generation, domain words, male probability)."""
    attrs = {}
    for domain, (dwords, cells) in GRID.items():
        for (gender, generation), word in cells.items():
            attrs[word] = (gender, generation, dwords.split(), 1.0 if gender == "male" else 0.0)
    for male, female, dwords in PAIRS:
        attrs[male] = ("male", "grown", dwords.split(), 1.0)
        attrs[female] = ("female", "grown", dwords.split(), 0.0)
    for word, p_male, dwords in NEUTRAL:
        attrs[word] = (None, "grown", dwords.split(), p_male)
    return attrs


def make_corpus(n_per_word, seed):
    """n_per_word sentences for every word, from the template: the word in the middle,
    two words of its gender, one of its generation, two of its domain, shuffled."""
    r = random.Random(seed)
    attrs = word_attributes()
    all_dwords = sorted({w for _, _, dwords, _ in attrs.values() for w in dwords})
    sentences = []
    for word, (_, generation, dwords, p_male) in attrs.items():
        for _ in range(n_per_word):
            gwords = GENDER_WORDS["male" if r.random() < p_male else "female"]
            ctx = (r.sample(gwords, r.randint(1, 2)) + [r.choice(GENERATION_WORDS[generation])]
                   + r.sample(dwords, 2) + r.sample(FILLER, r.randint(1, 2)))
            if r.random() < 0.3:                     # noise: a word of another domain
                ctx.append(r.choice(all_dwords))
            r.shuffle(ctx)
            half = len(ctx) // 2
            sentences.append(ctx[:half] + [word] + ctx[half:])
    r.shuffle(sentences)
    return sentences


def analogy_questions(seed):
    """(dev, held-out) lists of (a, b, c, d) questions: a : b :: c : d."""
    r = random.Random(seed)
    gender_pairs = [(cells[("male", gen)], cells[("female", gen)])
                    for _, cells in GRID.values() for gen in ("young", "grown")]
    gender_pairs += [(m, f) for m, f, _ in PAIRS]
    generation_cells = [(cells[(g, "young")], cells[(g, "grown")])
                        for _, cells in GRID.values() for g in ("male", "female")]
    dev, held = [], []
    for items in (gender_pairs, generation_cells):
        items = list(items)
        r.shuffle(items)
        half = len(items) // 2
        for part, out in ((items[:half], dev), (items[half:], held)):
            out.extend((a, b, c, d) for a, b in part for c, d in part if a != c)
    return dev, held


def analogy_accuracy(wv, questions):
    right = sum(wv.most_similar(positive=[b, c], negative=[a], topn=1)[0][0] == d
                for a, b, c, d in questions)
    return right / len(questions)


# ---------------------------------------------------------------- the notes' debiasing

def cosine_similarity(u, v):
    return float(np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v)))


def neutralize(e, g):
    """Remove the projection of e on the bias axis g."""
    e_biascomponent = np.dot(e, g) / np.sum(g * g) * g
    return e - e_biascomponent


def equalize(e_w1, e_w2, g):
    """The notes' equalize: the pair becomes symmetric about the plane orthogonal to g."""
    mu = (e_w1 + e_w2) / 2
    mu_B = np.dot(mu, g) / np.sum(g * g) * g
    mu_orth = mu - mu_B
    e_w1B = np.dot(e_w1, g) / np.sum(g * g) * g
    e_w2B = np.dot(e_w2, g) / np.sum(g * g) * g
    scale = np.sqrt(np.abs(1 - np.sum(mu_orth * mu_orth)))
    corrected_e_w1B = scale * (e_w1B - mu_B) / np.linalg.norm((e_w1 - mu_orth) - mu_B)
    corrected_e_w2B = scale * (e_w2B - mu_B) / np.linalg.norm((e_w2 - mu_orth) - mu_B)
    return corrected_e_w1B + mu_orth, corrected_e_w2B + mu_orth


# ---------------------------------------------------------------- the picture

def pca2(X):
    Xc = X - X.mean(axis=0)
    _, _, vt = np.linalg.svd(Xc, full_matrices=False)
    return Xc @ vt[:2].T


def save_pictures(E, g, neutral_before, neutral_after, path):
    """Left: 2-D PCA of chosen words, male / female pairs joined. Right: the neutral
    words on (bias axis g, first principal direction orthogonal to g), before and after
    neutralizing. Returns False without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    chosen = [("man", "woman"), ("king", "queen"), ("boy", "girl"), ("prince", "princess"),
              ("father", "mother"), ("son", "daughter"), ("uncle", "aunt"), ("actor", "actress")]
    words = [w for pair in chosen for w in pair] + [w for w, _, _ in NEUTRAL[:4]]
    P = pca2(np.stack([E[w] for w in words]))
    pos = dict(zip(words, P))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 5.5))
    for m, f in chosen:
        ax1.plot(*zip(pos[m], pos[f]), color="0.75", zorder=0)
    for w in words:
        color = "tab:blue" if w in {m for m, _ in chosen} else \
            "tab:red" if w in {f for _, f in chosen} else "tab:green"
        ax1.scatter(*pos[w], color=color)
        ax1.annotate(w, pos[w], textcoords="offset points", xytext=(4, 3), fontsize=9)
    ax1.set_title("trained word vectors, 2-D PCA (male blue, female red, neutral green)")

    gu = g / np.linalg.norm(g)
    names = list(neutral_before)
    B = np.stack([neutral_before[w] for w in names])
    A = np.stack([neutral_after[w] for w in names])
    rest = B - (B @ gu)[:, None] * gu
    _, _, vt = np.linalg.svd(rest - rest.mean(axis=0), full_matrices=False)
    d = vt[0]
    for i, w in enumerate(names):
        xb, yb, xa, ya = B[i] @ gu, B[i] @ d, A[i] @ gu, A[i] @ d
        ax2.annotate("", (xa, ya), (xb, yb), arrowprops=dict(arrowstyle="->", color="0.6"))
        ax2.scatter([xb], [yb], color="tab:orange")
        ax2.scatter([xa], [ya], color="tab:green")
        ax2.annotate(w, (xb, yb), textcoords="offset points", xytext=(4, 3), fontsize=9)
    ax2.axvline(0, color="0.8", lw=1)
    ax2.set_xlabel("component along the bias axis g (female +)")
    ax2.set_ylabel("first principal direction orthogonal to g")
    ax2.set_title("neutral words before (orange) and after (green) neutralizing")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run (CI)")
    parser.add_argument("--sg", type=int, default=1, choices=(0, 1),
                        help="1: skip-gram (default), 0: CBOW")
    parser.add_argument("--sentences", type=int, default=None,
                        help="sentences per word (default 300; quick 100)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--size", type=int, default=50, help="vector size")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=os.path.join("out", "word_vectors"),
                        help="output folder for the picture")
    args = parser.parse_args(argv)
    n_per_word = args.sentences or (100 if args.quick else 300)
    epochs, target = args.epochs, 0.90

    start = time.perf_counter()
    sentences = make_corpus(n_per_word, args.seed)
    n_tokens = sum(len(s) for s in sentences)
    model = Word2Vec(sentences, vector_size=args.size, window=3, min_count=1, sg=args.sg,
                     negative=5, sample=0, epochs=epochs, batch_words=2000, batch_examples=128,
                     seed=args.seed + 1, progress=HAVE_TQDM)
    wv = model.wv
    train_time = time.perf_counter() - start
    kind = "skip-gram" if args.sg else "CBOW"
    print(f"{kind}: {len(sentences):,} sentences, {n_tokens:,} tokens, vocabulary {len(wv)}, "
          f"vector size {args.size}, {epochs} epochs, trained in {train_time:.1f} s")

    print("cosine similarities:")
    for a, b in [("man", "woman"), ("king", "queen"), ("king", "prince"), ("king", "man"),
                 ("actor", "actress"), ("king", "waiter"), ("programmer", "receptionist")]:
        print(f"  cos({a}, {b}) = {wv.similarity(a, b):+.3f}")
    for a, b, c in [("man", "woman", "king"), ("boy", "man", "prince"), ("husband", "wife", "actor")]:
        top = wv.most_similar(positive=[b, c], negative=[a], topn=3)
        print(f"  {a} : {b} :: {c} : ?  ->  " + ", ".join(f"{w} ({s:.2f})" for w, s in top))

    dev, held = analogy_questions(args.seed + 2)
    dev_acc, held_acc = analogy_accuracy(wv, dev), analogy_accuracy(wv, held)
    print(f"analogies top-1: dev {dev_acc:.1%} of {len(dev)}, held-out {held_acc:.1%} of {len(held)}")

    # the notes' debiasing on unit-length float64 vectors
    E = {w: wv[w].astype(np.float64) / np.linalg.norm(wv[w]) for w in wv.index_to_key}
    g = np.mean([E[f] - E[m] for m, f in DEFINING], axis=0)
    print(f"bias axis g: mean of {len(DEFINING)} differences e_female - e_male; "
          f"cos(woman - man, g) = {cosine_similarity(E['woman'] - E['man'], g):.3f}")
    neutral_before = {w: E[w] for w, _, _ in NEUTRAL}
    neutral_after = {w: neutralize(E[w], g) for w, _, _ in NEUTRAL}
    worst_neutral = 0.0
    print("neutralize:                cos(e, g) before -> after")
    for w in neutral_before:
        before, after = cosine_similarity(neutral_before[w], g), cosine_similarity(neutral_after[w], g)
        worst_neutral = max(worst_neutral, abs(after))
        print(f"  {w:>14}  {before:+.4f} -> {after:+.1e}")

    worst_sym = 0.0
    print("equalize: cos(e_w1, g), cos(e_w2, g) before -> after; largest asymmetry to neutral words")
    for w1, w2 in EQUALIZE:
        e1, e2 = equalize(E[w1], E[w2], g)
        c1, c2 = cosine_similarity(e1, g), cosine_similarity(e2, g)
        d_cos = max(abs(cosine_similarity(e1, n) - cosine_similarity(e2, n)) for n in neutral_after.values())
        d_dist = max(abs(np.linalg.norm(e1 - n) - np.linalg.norm(e2 - n)) for n in neutral_after.values())
        sym = max(abs(c1 + c2), d_cos, d_dist)
        worst_sym = max(worst_sym, sym)
        print(f"  {w1:>11} / {w2:<12} {cosine_similarity(E[w1], g):+.3f}, "
              f"{cosine_similarity(E[w2], g):+.3f} -> {c1:+.4f}, {c2:+.4f}; "
              f"|cos1 + cos2| {abs(c1 + c2):.1e}, cos to neutral {d_cos:.1e}, distance {d_dist:.1e}")
    doc = neutral_after["doctor"]
    e1, e2 = equalize(E["actor"], E["actress"], g)
    print(f"  cos(actor, doctor) - cos(actress, doctor): before "
          f"{cosine_similarity(E['actor'], E['doctor']) - cosine_similarity(E['actress'], E['doctor']):+.3f}"
          f", after {cosine_similarity(e1, doc) - cosine_similarity(e2, doc):+.1e}")

    os.makedirs(args.out, exist_ok=True)
    picture = os.path.join(args.out, "word_vectors.png")
    if save_pictures(E, g, neutral_before, neutral_after, picture):
        print(f"PCA picture saved to {os.path.abspath(picture)}")
    else:
        print("matplotlib is not installed: skipping the PCA picture (pip install matplotlib)")

    elapsed = time.perf_counter() - start
    print(f"{elapsed:.1f} s in all")
    checks = [(f"held-out analogies top-1 >= {target:.0%}", held_acc >= target,
               f"{held_acc:.1%}"),
              ("|cos(neutralized, g)| < 1e-10", worst_neutral < 1e-10, f"{worst_neutral:.1e}"),
              ("equalized pairs symmetric to 1e-12", worst_sym < 1e-12, f"{worst_sym:.1e}")]
    for name, met, value in checks:
        print(f"  {name}: {value}, {'met' if met else 'NOT met'}")
    ok = all(met for _, met, _ in checks)
    print(f"success criterion (held-out analogies >= {target:.0%}, neutralized to 1e-10, "
          f"equalized to 1e-12):", "MET" if ok else "NOT MET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
