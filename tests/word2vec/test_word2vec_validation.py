"""word2vec's defences against bad input: settings of the wrong type or value, vector
files that are cut, forged or corrupted, saves with missing or malformed fields, and a
save of the vectors interrupted half-way. Each error names what is wrong and where."""
import math
import os
import tracemalloc

import numpy as np
import pytest

import tinygrad_seq as ts
from tinygrad_seq.word2vec import KeyedVectors, Word2Vec

SENTENCES = [["a", "b", "c", "a"], ["b", "a", "d"], ["e", "c", "a"], ["d", "b"]] * 5


def small_model(**kw):
    args = dict(vector_size=4, window=2, min_count=1, sample=0, epochs=1, progress=False, seed=3)
    args.update(kw)
    return Word2Vec(SENTENCES, **args)


def kv(values=((0.5, -1.25), (3.0, 6.5))):
    return KeyedVectors(np.array(values, dtype=np.float32), ["ab", "c"][:len(values)])


# ---------------------------------------------------------------- settings (defect 15)

@pytest.mark.parametrize("name,value,error", [
    ("sample", -1, ValueError), ("alpha", math.nan, ValueError),
    ("ns_exponent", math.nan, ValueError), ("ns_exponent", math.inf, ValueError),
    ("vector_size", 0, ValueError), ("window", 0, ValueError), ("negative", -1, ValueError),
    ("min_alpha", -0.1, ValueError), ("epochs", -1, ValueError), ("seed", -2, ValueError),
    ("vector_size", "16", TypeError), ("vector_size", 16.0, TypeError),
    ("window", True, TypeError), ("alpha", "0.1", TypeError), ("sg", 2, ValueError),
    ("shared_negatives", "yes", TypeError), ("batch_examples", 0, ValueError),
    ("max_pair_repeats", 0, ValueError), ("max_vocab_size", 0, ValueError),
])
def test_settings_are_checked_naming_the_argument_and_the_value(name, value, error):
    finite = not isinstance(value, float) or math.isfinite(value)
    match = f"{name} must .*got .*{value!r}" if finite else f"{name} must be finite"
    with pytest.raises(error, match=match.replace("(", r"\(").replace(")", r"\)")):
        Word2Vec(**{"progress": False, **{name: value}})


def test_train_arguments_are_checked():
    m = small_model()
    with pytest.raises(ValueError, match="epochs must be >= 0, got -1"):
        m.train(SENTENCES, epochs=-1)
    with pytest.raises(ValueError, match="start_alpha must be finite"):
        m.train(SENTENCES, start_alpha=math.nan)


def test_corpus_file_errors_name_the_file(tmp_path):
    with pytest.raises(TypeError, match="corpus_file must be a path.*int 123"):
        Word2Vec(corpus_file=123, progress=False)
    with pytest.raises(ValueError, match=f"corpus_file '{tmp_path}' is not a regular file"):
        Word2Vec(corpus_file=tmp_path, progress=False)
    bad = tmp_path / "latin1.txt"
    bad.write_bytes(b"a b c\nd \xe9t\xe9 e\n")
    with pytest.raises(ValueError, match=f"corpus_file '{bad}': line 2: not valid utf-8"):
        Word2Vec(corpus_file=bad, min_count=1, progress=False)


def test_topn_below_one_gives_an_empty_list_as_gensim():
    wv = small_model().wv
    assert wv.most_similar("a", topn=0) == []
    assert wv.most_similar("a", topn=-1) == []
    assert wv.most_similar(["a", "b", "c"], topn=-1) == []
    assert wv.most_similar_cosmul("a", topn=0) == []
    with pytest.raises(TypeError, match="topn must be an int or None"):
        wv.most_similar("a", topn=2.5)


def test_binary_words_with_nul_or_newline_are_refused(tmp_path):
    row = np.array([1.0, 2.0], "<f4").tobytes()
    for word in (b"a\x00b", b"a\nb", b"a\tb"):
        p = tmp_path / "v.bin"
        p.write_bytes(b"1 2\n" + word + b" " + row + b"\n")
        with pytest.raises(ValueError, match=r"entry 1 .*cannot be in a word"):
            KeyedVectors.load_word2vec_format(str(p), binary=True)


def test_a_wrong_dimension_in_a_binary_header_is_caught(tmp_path):
    p = tmp_path / "v.bin"
    kv(((0.0, 1.0), (2.0, 0.0))).save_word2vec_format(str(p), binary=True)
    data = p.read_bytes()
    p.write_bytes(b"2 1" + data[3:])           # dim 1 where it is 2: the reader drifts
    with pytest.raises(ValueError, match=str(p)):
        KeyedVectors.load_word2vec_format(str(p), binary=True)


# ---------------------------------------------------------------- cut text files (defect 3)

def test_a_text_file_cut_inside_its_last_number_is_refused(tmp_path):
    p = tmp_path / "v.txt"
    kv().save_word2vec_format(str(p))
    data = p.read_bytes()
    assert data.endswith(b" 6.5\n")
    for cut in (1, 2, 3):                          # "6.5", "6." and "6" without the newline
        p.write_bytes(data[:-cut])
        with pytest.raises(ValueError, match=f"{p}: line 3: the file ends inside the line"):
            KeyedVectors.load_word2vec_format(str(p))
    p.write_bytes(data)
    assert KeyedVectors.load_word2vec_format(str(p)).vectors[1, 1] == 6.5


# ---------------------------------------------------------------- forged headers (defect 8)

@pytest.mark.parametrize("binary", [False, True])
@pytest.mark.parametrize("header", [b"1000000000 100\n", b"1 99999999999999\n",
                                    b"99999999999999 99999999999999\n"])
def test_forged_header_counts_allocate_nothing_and_name_the_file(tmp_path, header, binary):
    p = tmp_path / "v"
    p.write_bytes(header + b"a 1 2\n")
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=f"{p}: (line|entry) "):
            KeyedVectors.load_word2vec_format(str(p), binary=binary)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2 ** 20


@pytest.mark.parametrize("limit,error,match", [(-1, ValueError, "limit must be >= 0"),
                                               ("2", TypeError, "limit must be an int")])
def test_bad_limit_is_refused(tmp_path, limit, error, match):
    p = tmp_path / "v.txt"
    kv().save_word2vec_format(str(p))
    with pytest.raises(error, match=match):
        KeyedVectors.load_word2vec_format(str(p), limit=limit)
    assert len(KeyedVectors.load_word2vec_format(str(p), limit=1)) == 1
    assert len(KeyedVectors.load_word2vec_format(str(p), limit=0)) == 2    # gensim: 0 = all


# ---------------------------------------------------------------- atomic save (defect 12)

class _KeysThatStopTheWriter(list):
    """Keys whose second pass (the writer's, after the check of the keys) raises
    KeyboardInterrupt after ten keys: a save stopped half-way through the vectors."""

    def __iter__(self):
        self.passes = getattr(self, "passes", 0) + 1
        for i, key in enumerate(list.__iter__(self)):
            if self.passes > 1 and i == 10:
                raise KeyboardInterrupt
            yield key


@pytest.mark.parametrize("binary", [False, True])
def test_a_save_stopped_half_way_leaves_the_previous_file(tmp_path, binary):
    p = tmp_path / "v"
    kv().save_word2vec_format(str(p), binary=binary)
    before = p.read_bytes()
    big = KeyedVectors(np.ones((50, 2), np.float32), [f"w{i}" for i in range(50)])
    big.index_to_key = _KeysThatStopTheWriter(big.index_to_key)
    with pytest.raises(KeyboardInterrupt):
        big.save_word2vec_format(str(p), binary=binary)
    assert big.index_to_key.passes == 2                  # it did stop inside the writer
    assert p.read_bytes() == before
    assert os.listdir(tmp_path) == ["v"]                 # no temporary file left behind


# ---------------------------------------------------------------- Word2Vec.load (defect 14)

def saved_fields(tmp_path):
    """The fields of a valid save, as ts.load returns them."""
    path = tmp_path / "good.tsz"
    small_model().save(path)
    return ts.load(path, device="cpu")


def without(d, key):
    return {k: v for k, v in d.items() if k != key}


@pytest.mark.parametrize("change,field", [
    (lambda o: without(o, "settings"), "'settings'"),
    (lambda o: without(o, "rng"), "'rng'"),
    (lambda o: {**o, "extra": 1}, "'extra'"),
    (lambda o: {**o, "settings": {**o["settings"], "hashfxn": 1}}, r"settings\['hashfxn'\]"),
    (lambda o: {**o, "settings": {**o["settings"], "hs": 1}}, "'syn1'"),     # no hs table
    (lambda o: {**o, "settings": {**o["settings"], "negative": 0}}, r"settings\['negative'\]"),
    (lambda o: without(o, "syn1"), "'syn1'"),
    (lambda o: {**o, "syn1": np.zeros((5, 4), np.float32)}, "'syn1'"),
    (lambda o: {**o, "corpus_count": -1}, "'corpus_count'"),
    (lambda o: {**o, "settings": without(o["settings"], "window")}, r"settings\['window'\]"),
    (lambda o: {**o, "settings": {**o["settings"], "alpha": "fast"}}, r"settings\['alpha'\]"),
    (lambda o: {**o, "settings": {**o["settings"], "sample": -1.0}}, r"settings\['sample'\]"),
    (lambda o: {**o, "settings": []}, "'settings'"),
    (lambda o: {**o, "counts": [1, 2, 3]}, "'counts'"),
    (lambda o: {**o, "counts": np.arange(1, 3)}, "'counts'"),
    (lambda o: {**o, "counts": np.ones(5, np.float32)}, "'counts'"),
    (lambda o: {**o, "counts": np.zeros(5, np.int64)}, "'counts'"),
    (lambda o: {**o, "train_count": "1"}, "train_count"),
    (lambda o: {**o, "train_count": -1}, "train_count"),
    (lambda o: {**o, "total_words": 2}, "'total_words'"),
    (lambda o: {**o, "index_to_key": ["a", "a", "b", "c", "d"]}, "'index_to_key'"),
    (lambda o: {**o, "index_to_key": ["a", 2, "b", "c", "d"]}, r"index_to_key\[1\]"),
    (lambda o: {**o, "syn0": np.zeros((5, 4), np.float32)}, "'syn0'"),
    (lambda o: {**o, "syn1neg": np.zeros((5, 4), np.float64)}, "'syn1neg'"),
    (lambda o: {**o, "rng": {"bit_generator": "PCG64"}}, "'rng'"),
    (lambda o: {**o, "rng": "seed"}, "'rng'"),
    (lambda o: {**o, "version": "2"}, "version"),
    (lambda o: {**o, "version": 4}, "version: 4 is newer"),
])
def test_load_checks_every_field_naming_the_file_and_the_field(tmp_path, change, field):
    path = tmp_path / "bad.tsz"
    ts.save(change(saved_fields(tmp_path)), path)
    with pytest.raises(ts.SerializationError, match=f"{path}'?: field {field}"):
        Word2Vec.load(path)


@pytest.mark.parametrize("version", [1, 2])
def test_an_older_save_loads_with_the_defaults_of_later_settings(tmp_path, version):
    obj = saved_fields(tmp_path)
    obj["version"] = version
    later = ("hs", "workers", "compute_loss", "max_final_vocab", "sorted_vocab", "shrink_windows")
    for k in later + (("max_pair_repeats",) if version == 1 else ()):
        obj["settings"] = without(obj["settings"], k)
    obj = without(without(obj, "syn1"), "corpus_count")
    path = tmp_path / "v1.tsz"
    ts.save(obj, path)
    m = Word2Vec.load(path)
    assert m.max_pair_repeats == Word2Vec(progress=False).max_pair_repeats
    assert np.array_equal(m.wv.vectors, obj["syn0"].numpy()[:-1])
    assert m.hs == 0 and m.syn1 is None and m.corpus_count == 0
    m.train(SENTENCES)


def test_an_absurd_dimension_with_no_vectors_is_refused_naming_the_file(tmp_path):
    """Found by the thorough fuzz profile: count 0 and a 20-digit dimension made NumPy
    raise "array is too big" without the file's name."""
    from tinygrad_seq.word2vec import KeyedVectors
    for binary in (False, True):
        path = tmp_path / f"huge-dim-{binary}"
        path.write_bytes(b"0 10000000000000000000\n")
        with pytest.raises(ValueError, match=f"huge-dim-{binary}.*dimension from 1"):
            KeyedVectors.load_word2vec_format(str(path), binary=binary)
    (tmp_path / "ok").write_bytes(b"0 300\n")
    assert KeyedVectors.load_word2vec_format(str(tmp_path / "ok")).vectors.shape == (0, 300)
