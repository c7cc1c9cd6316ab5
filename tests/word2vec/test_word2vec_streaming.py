"""word2vec on corpora larger than memory: ``corpus_file=`` and re-iterable objects are
streamed, in the vocabulary pass and in every training pass, so the memory they take
does not grow with the corpus. Generated files of growing size with one fixed
vocabulary are trained while tracemalloc traces the peak of Python's and NumPy's
allocations (NumPy reports its buffers to tracemalloc); the peak must stay flat. Also:
a file with no newline at all (one enormous line) is read in chunks, and the chunked
reader gives the same sentences as str.split on each line."""
import random
import tracemalloc

import pytest

from tinygrad_seq.word2vec import LineSentence, Word2Vec
from tinygrad_seq.word2vec import corpus as C

VOCAB = [f"w{i}" for i in range(300)]


def write_corpus(path, n_words, seed=0, length=12, newlines=True):
    r = random.Random(seed)
    with open(path, "w") as f:
        for i in range(n_words // length):
            words = r.choices(VOCAB, k=length)
            f.write(" ".join(words) + ("\n" if newlines else " "))
    return path


class StreamedCorpus:
    """A re-iterable corpus read lazily from a file (gensim's tutorial's MyCorpus)."""

    def __init__(self, path):
        self.path = path

    def __iter__(self):
        with open(self.path) as f:
            for line in f:
                yield line.split()


def traced_peak(make_corpus, **kw):
    """Peak bytes traced while building the vocabulary of and training on the corpus."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        corpus = make_corpus()
        m = Word2Vec(vector_size=16, window=3, min_count=1, epochs=1, progress=False,
                     batch_words=2000, **kw)
        if isinstance(corpus, str):
            m.build_vocab(corpus_file=corpus)
            m.train(corpus_file=corpus, total_words=m.corpus_total_words, epochs=1)
        else:
            m.build_vocab(corpus)
            m.train(corpus, total_examples=m.corpus_count, epochs=1)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert len(m.wv) == len(VOCAB)
    return peak, m.corpus_total_words


@pytest.mark.parametrize("kind,kw", [("corpus_file", {}), ("iterable", {}),
                                     ("LineSentence", {}), ("corpus_file", {"workers": 2})],
                         ids=["corpus_file", "iterable", "LineSentence", "corpus_file-2-workers"])
def test_peak_memory_does_not_grow_with_the_corpus(tmp_path, kind, kw):
    peaks = []
    for n_words in (20_000, 80_000, 320_000):
        path = write_corpus(tmp_path / f"c{n_words}.txt", n_words)
        make = {"corpus_file": lambda: str(path), "iterable": lambda: StreamedCorpus(path),
                "LineSentence": lambda: LineSentence(path)}[kind]
        peak, total = traced_peak(make, **kw)
        assert total == n_words // 12 * 12
        peaks.append(peak)
    # 16x the corpus: the same peak, within noise
    assert peaks[-1] < 1.25 * peaks[0] + 200_000, peaks
    tracemalloc.start()                 # what the largest corpus takes held as lists
    try:
        held = list(StreamedCorpus(path))
        in_memory = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert len(held) and peaks[-1] < in_memory / 2, (peaks, in_memory)
    print(f"peaks {peaks}, the largest corpus as lists {in_memory}")


def test_a_file_without_newlines_is_read_in_bounded_memory(tmp_path, monkeypatch):
    monkeypatch.setattr(C, "_CHUNK", 4096)
    path = write_corpus(tmp_path / "one_line.txt", 120_000, newlines=False)
    tracemalloc.start()
    try:
        n = 0
        for sentence in C.CorpusFile(path):
            assert len(sentence) <= C.MAX_SENTENCE_LENGTH
            n += len(sentence)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert n == 120_000
    assert peak < 2_000_000, peak       # one 10,000-token piece at a time, not the line


@pytest.mark.parametrize("chunk", [3, 5, 64, 1 << 20])
def test_the_chunked_reader_splits_as_str_split(tmp_path, chunk, monkeypatch):
    monkeypatch.setattr(C, "_CHUNK", chunk)
    text = "a bb  ccc\n\n\t d\u00a0e été \u2003 fin\r\n" + "x " * 30 + "\nlast"
    path = tmp_path / "t.txt"
    path.write_text(text, encoding="utf-8")
    expected = [piece for line in text.encode().split(b"\n")
                for tokens in [line.decode().split()]
                for piece in [tokens[i:i + 7] for i in range(0, len(tokens), 7)]]
    assert list(C.read_sentences(str(path), 7)) == expected
    assert list(LineSentence(path, max_sentence_length=7, limit=2)) == expected[:1]
