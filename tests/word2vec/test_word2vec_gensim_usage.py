"""gensim's documented usage of Word2Vec and KeyedVectors (the Word2Vec documentation page
and the word2vec tutorial), written here from what those pages show, with
``from tinygrad_seq.word2vec import Word2Vec, KeyedVectors`` in place of gensim's
imports. Where gensim is installed the same walk runs with gensim and every step's
result must have the same type and shape (not the same values: the random draws
differ).

Left out: Phrases, the downloader's pretrained models, wmdistance (they are not
word2vec), and gensim's test data (our own small corpus and question files instead)."""
import os

import numpy as np
import pytest

from tinygrad_seq.word2vec import CallbackAny2Vec as OurCallback
from tinygrad_seq.word2vec import KeyedVectors, LineSentence, Word2Vec

try:
    import gensim.models as gensim_models
    from gensim.models.callbacks import CallbackAny2Vec as GensimCallback
    from gensim.models.word2vec import LineSentence as GensimLineSentence
except Exception:  # not installed: our walk alone
    gensim_models = None

# a small corpus of our own: two "topics" and a few words that cross them
TEXTS = [
    ["human", "interface", "computer"], ["survey", "user", "computer", "system", "response"],
    ["eps", "user", "interface", "system"], ["system", "human", "system", "eps"],
    ["user", "response", "time"], ["trees"], ["graph", "trees"], ["graph", "minors", "trees"],
    ["graph", "minors", "survey"],
]

def _royal(n=1600, seed=0):
    """king_i and queen_i share the words of place i and differ by he/his and she/her."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        i, g = int(rng.integers(4)), int(rng.integers(2))
        ctx = [("he", "she")[g], ("his", "her")[g], f"land{i}", f"city{i}"]
        rng.shuffle(ctx)
        out.append(ctx[:2] + [("king", "queen")[g] + str(i)] + ctx[2:])
    return out


ROYAL = _royal()


class EpochLogger:
    """The tutorial's callback: counts epochs and records the loss at each end."""

    def __init__(self):
        self.epoch, self.events, self.losses = 0, [], []

    def on_train_begin(self, model):
        self.events.append("train_begin")

    def on_epoch_begin(self, model):
        self.events.append("epoch_begin")

    def on_epoch_end(self, model):
        self.events.append("epoch_end")
        self.losses.append(model.get_latest_training_loss())
        self.epoch += 1

    def on_train_end(self, model):
        self.events.append("train_end")


def walk(Word2Vec, KeyedVectors, Callback, LineSentence, tmp):
    """The documented usage, step by step; returns [(step, result)]."""
    out = []

    def record(step, value):
        out.append((step, value))
        return value

    # -- the Word2Vec page: train, save, load, continue
    model = Word2Vec(sentences=TEXTS, vector_size=100, window=5, min_count=1, workers=1)
    path = os.path.join(tmp, "word2vec.model")
    model.save(path)
    model = Word2Vec.load(path)
    record("train", model.train([["hello", "world"]], total_examples=1, epochs=1))
    record("wv[word]", model.wv["computer"])
    record("most_similar", model.wv.most_similar("computer", topn=10))
    word_vectors = model.wv
    word_vectors.save(os.path.join(tmp, "word2vec.wordvectors"))
    wv = KeyedVectors.load(os.path.join(tmp, "word2vec.wordvectors"), mmap="r")
    record("loaded wv[word]", wv["computer"])
    record("loaded len", len(wv))
    record("vector_size", wv.vector_size)

    # -- the tutorial: an iterable class streaming a file, then the look-ups
    corpus_path = os.path.join(tmp, "corpus.txt")
    with open(corpus_path, "w") as f:
        f.write("".join(" ".join(s) + "\n" for s in TEXTS * 5))

    class MyCorpus:
        def __iter__(self):
            with open(corpus_path) as f:
                for line in f:
                    yield line.lower().split()

    model = Word2Vec(sentences=MyCorpus(), min_count=1, workers=1)
    wv = model.wv
    record("wv[king]-like", wv["graph"])
    record("index_to_key[:3]", [(i, w) for i, w in enumerate(wv.index_to_key)][:3])
    record("key_to_index", type(wv.key_to_index))
    record("similarity", wv.similarity("graph", "trees"))
    record("most_similar pos topn", wv.most_similar(positive=["graph", "trees"], topn=5))
    record("doesnt_match", wv.doesnt_match(["graph", "trees", "minors", "human"]))
    record("n_similarity", wv.n_similarity(["graph", "trees"], ["human", "user"]))
    record("most_similar_cosmul", wv.most_similar_cosmul(positive=["graph"], negative=["user"]))
    record("distance", wv.distance("graph", "trees"))
    record("distances all", wv.distances("graph"))
    record("distances some", wv.distances("graph", ["trees", "user"]))
    record("similar_by_word", wv.similar_by_word("graph", topn=3))
    record("similar_by_vector", wv.similar_by_vector(wv["graph"], topn=3))
    record("get_vector norm", wv.get_vector("graph", norm=True))
    wv.fill_norms()
    record("get_normed_vectors", wv.get_normed_vectors())
    record("rank", wv.rank("graph", "trees"))
    record("closer_than", wv.closer_than("graph", "trees"))
    record("get_mean_vector", wv.get_mean_vector(["graph", "trees"]))
    record("count", wv.get_vecattr("graph", "count"))
    record("topn None", wv.most_similar("graph", topn=None))
    record("in", "graph" in wv)
    record("vectors", wv.vectors)
    record("predict_output_word", model.predict_output_word(["graph", "trees"], topn=3))

    # -- settings the tutorial shows
    for kw in (dict(min_count=10), dict(vector_size=200), dict(workers=2)):
        record(f"settings {kw}", len(Word2Vec(MyCorpus(), **kw).wv))
    model = Word2Vec(corpus_file=corpus_path, min_count=1, workers=1)
    record("corpus_file", model.wv.vectors.shape)
    model = Word2Vec(LineSentence(corpus_path), min_count=1, workers=1)
    record("LineSentence", model.wv.vectors.shape)

    # -- evaluation on files of the documented formats
    questions = os.path.join(tmp, "questions.txt")
    with open(questions, "w") as f:
        f.write(": royalty\n" + "".join(f"king{i} queen{i} king{j} queen{j}\n"
                                        for i in range(4) for j in range(4) if i != j))
    pairs = os.path.join(tmp, "pairs.tsv")
    with open(pairs, "w") as f:
        f.write("# word1\tword2\tscore\n" + "".join(
            f"king{i}\tqueen{j}\t{5 + 3 * (i == j) + (i + j) % 3}\n"
            for i in range(4) for j in range(4)))
    royal = Word2Vec(ROYAL, vector_size=20, window=3, min_count=1, sg=1, workers=1, seed=1,
                     sample=0)
    score, sections = royal.wv.evaluate_word_analogies(questions)
    record("analogies", (score, [(s["section"], len(s["correct"]) + len(s["incorrect"]))
                                 for s in sections]))
    pearson, spearman, oov = royal.wv.evaluate_word_pairs(pairs)
    record("word pairs", (tuple(pearson), tuple(spearman), oov))
    record("analogy", royal.wv.most_similar(positive=["queen1", "king2"], negative=["king1"]))

    # -- online training: more sentences, vocabulary expanded
    model = Word2Vec.load(path)
    more_sentences = [["advanced", "users", "can", "load", "a", "model", "and", "continue",
                       "training", "it", "with", "more", "sentences"]] * 3
    model.build_vocab(more_sentences, update=True)
    record("corpus_count", model.corpus_count)
    record("corpus_total_words", model.corpus_total_words)
    record("train more", model.train(more_sentences, total_examples=model.corpus_count,
                                     epochs=model.epochs))
    record("expanded", (len(model.wv), model.wv["advanced"].shape))

    # -- training loss and callbacks
    logger = EpochLogger()
    model_with_loss = Word2Vec(ROYAL, min_count=1, compute_loss=True, hs=0, sg=1, seed=42,
                               workers=1, callbacks=[logger])
    record("loss", model_with_loss.get_latest_training_loss())
    record("callback events", logger.events)
    record("callback losses", len(logger.losses))
    record("loss off", Word2Vec(ROYAL, min_count=1, workers=1).get_latest_training_loss())

    class Subclassed(Callback):
        def __init__(self):
            self.ends = 0

        def on_epoch_end(self, model):
            self.ends += 1

    cb = Subclassed()
    Word2Vec(ROYAL, min_count=1, epochs=3, workers=1, callbacks=[cb])
    record("CallbackAny2Vec subclass", cb.ends)

    # -- hierarchical softmax, trim_rule, max_final_vocab
    record("hs", Word2Vec(ROYAL, min_count=1, hs=1, negative=0, workers=1).wv.vectors.shape)
    record("hs+neg", Word2Vec(ROYAL, min_count=1, hs=1, negative=5, workers=1).wv.vectors.shape)

    def no_kings(word, count, min_count):
        return 1 if word.startswith("king") else 0       # RULE_DISCARD / RULE_DEFAULT

    record("trim_rule", sorted(Word2Vec(ROYAL, min_count=1, trim_rule=no_kings,
                                        workers=1).wv.index_to_key))
    record("max_final_vocab", len(Word2Vec(ROYAL, min_count=1, max_final_vocab=5,
                                           workers=1).wv))

    # -- the word2vec C formats
    model.wv.save_word2vec_format(os.path.join(tmp, "vectors.bin"), binary=True)
    loaded = KeyedVectors.load_word2vec_format(os.path.join(tmp, "vectors.bin"), binary=True)
    record("word2vec format", (len(loaded), loaded.vectors.shape, loaded.vectors.dtype))
    return out


def describe(x):
    """The type and shape of a result, recursively (floats of NumPy and Python apart)."""
    if isinstance(x, np.ndarray):
        return ("ndarray", x.shape, str(x.dtype))
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, len(x), tuple(describe(v) for v in x[:3]))
    if isinstance(x, np.generic):
        return type(x).__name__
    if isinstance(x, (bool, int, float, str, type)):
        return type(x).__name__ if not isinstance(x, type) else x.__name__
    return type(x).__name__


def test_the_documented_usage_runs_on_ours(tmp_path):
    out = dict(walk(Word2Vec, KeyedVectors, OurCallback, LineSentence, str(tmp_path)))
    assert out["train"] == (0, 2)                   # both words unknown: trained nothing
    assert out["wv[word]"].shape == (100,) and out["wv[word]"].dtype == np.float32
    assert len(out["most_similar"]) == 10
    assert out["loaded len"] == 12 and out["vector_size"] == 100
    assert isinstance(out["similarity"], np.float32)
    assert out["distance"] == pytest.approx(1 - out["similarity"])
    assert out["distances all"].shape == (12,)
    assert out["similar_by_vector"][0][0] == "graph"
    assert out["rank"] == len(out["closer_than"]) + 1
    assert np.allclose(np.linalg.norm(out["get_normed_vectors"], axis=1), 1, atol=1e-5)
    assert out["count"] == 15 and out["in"] is True
    assert out["settings {'min_count': 10}"] < out["settings {'vector_size': 200}"]
    assert out["analogies"][0] >= 0.75, out["analogies"]
    assert out["analogy"][0][0] == "queen2"
    assert out["corpus_count"] == 3 and out["corpus_total_words"] == 39
    assert out["expanded"] == (12 + 13, (100,))
    assert out["train more"][1] == 39 * 5
    assert out["loss"] > 0 and out["loss off"] == 0.0
    assert out["callback events"] == ["train_begin"] + ["epoch_begin", "epoch_end"] * 5 + \
        ["train_end"]
    assert out["callback losses"] == 5 and out["CallbackAny2Vec subclass"] == 3
    assert not any(w.startswith("king") for w in out["trim_rule"])
    assert out["max_final_vocab"] <= 5


@pytest.mark.skipif(gensim_models is None, reason="gensim not installed")
def test_the_same_walk_with_gensim_gives_the_same_types_and_shapes(tmp_path):
    os.makedirs(tmp_path / "ours")
    os.makedirs(tmp_path / "gensim")
    ours = walk(Word2Vec, KeyedVectors, OurCallback, LineSentence, str(tmp_path / "ours"))
    theirs = walk(gensim_models.Word2Vec, gensim_models.KeyedVectors, GensimCallback,
                  GensimLineSentence, str(tmp_path / "gensim"))
    assert [s for s, _ in ours] == [s for s, _ in theirs]
    for (step, a), (_, b) in zip(ours, theirs):
        if step == "word pairs":          # scipy's result objects there, plain tuples here
            assert len(a) == len(b) == 3 and all(len(x) == 2 for x in a[:2]), step
            continue
        assert describe(a) == describe(b), (step, describe(a), describe(b))
