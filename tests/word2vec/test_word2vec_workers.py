"""word2vec's workers=N: Hogwild threads on the shared tables. Every worker trains jobs,
each with its own generator and scratch arrays; the quality is that of one worker (the
planted analogies, the topic separation of the defaults' corpus); a failure in a worker
reaches the caller; workers=1 stays deterministic (tests/word2vec/test_word2vec.py). The
throughput is measured by benchmarks/bench_word2vec_workers.py, not here (a shared
machine's timings would make a flaky test)."""
import threading

import numpy as np
import pytest

from tinygrad_seq.word2vec import Word2Vec

from test_word2vec import planted_corpus
from test_word2vec_defaults import topic_corpus, topic_separation

QUESTIONS = [f"king{i} queen{i} king{j} queen{j}" for i in range(8) for j in range(8) if i != j]


def analogy_score(m, tmp_path):
    path = tmp_path / "q.txt"
    path.write_text(": royalty\n" + "\n".join(QUESTIONS) + "\n")
    return m.wv.evaluate_word_analogies(str(path))[0]


@pytest.mark.parametrize("sg,hs,negative", [(1, 0, 5), (0, 0, 5), (1, 1, 0)])
def test_two_workers_learn_the_planted_analogies(sg, hs, negative, tmp_path):
    m = Word2Vec(planted_corpus(), vector_size=20, window=3, min_count=1, sg=sg, sample=0,
                 epochs=5, seed=1, progress=False, hs=hs, negative=negative, workers=2,
                 batch_words=2000, compute_loss=True)
    assert analogy_score(m, tmp_path) >= 0.9
    assert min(m.last_worker_jobs) >= 1 and sum(m.last_worker_jobs) == 9   # 18k words / 2k
    assert m.get_latest_training_loss() > 0
    assert len({id(s) for s in m._worker_scratch} | {id(m._scratch)}) == 3   # one each


def test_quality_with_two_workers_is_that_of_one():
    sentences, topics = topic_corpus(1200)
    seps = {}
    for workers in (1, 2):
        m = Word2Vec(sentences, vector_size=16, min_count=1, sample=0, seed=1, sg=1,
                     workers=workers, progress=False)
        seps[workers] = topic_separation(m.wv.vectors, m.wv.key_to_index, topics)
    assert seps[2] > 0.9 * seps[1] and seps[1] > 0.2, seps


def test_the_counts_and_learning_rates_of_two_workers_are_those_of_one(monkeypatch):
    sents = planted_corpus(n_sent=600)
    results, lrs = {}, {}
    for workers in (1, 2):
        m = Word2Vec(sents, vector_size=8, min_count=1, sample=0, epochs=0, progress=False,
                     workers=workers, batch_words=500)
        seen, real = [], m._train_step
        lock = threading.Lock()

        def record(i, t, lr, *a, seen=seen, real=real):
            with lock:
                seen.append(lr)
            return real(i, t, lr, *a)

        monkeypatch.setattr(m, "_train_step", record)
        results[workers] = m.train(sents, total_examples=m.corpus_count, epochs=2)
        lrs[workers] = sorted(set(seen))
    assert results[1] == results[2] == (7200, 7200)
    assert lrs[1] == pytest.approx(lrs[2])


def test_an_error_in_a_worker_reaches_the_caller(monkeypatch):
    m = Word2Vec(planted_corpus(n_sent=600), vector_size=8, min_count=1, epochs=0,
                 progress=False, workers=2, batch_words=200)
    calls, real = [], m._train_job

    def failing(*a, **k):
        calls.append(1)
        if len(calls) == 3:
            raise ArithmeticError("job 3 failed")
        return real(*a, **k)

    monkeypatch.setattr(m, "_train_job", failing)
    before = threading.active_count()
    with pytest.raises(ArithmeticError, match="job 3 failed"):
        m.train(epochs=1)
    assert threading.active_count() == before            # the workers have ended


def test_a_corpus_error_ends_the_workers():
    m = Word2Vec(planted_corpus(n_sent=100), vector_size=8, min_count=1, epochs=0,
                 progress=False, workers=3)
    before = threading.active_count()
    with pytest.raises(TypeError, match="sentence 5 is a string"):
        m.train([["king1"]] * 5 + ["king1 queen1"], total_examples=6, epochs=1)
    assert threading.active_count() == before


def test_autodiff_with_two_workers_steps_one_at_a_time():
    m = Word2Vec(planted_corpus(n_sent=300), vector_size=8, min_count=1, epochs=2, sample=0,
                 progress=False, workers=2, fast_path=False, batch_words=300)
    assert min(m.last_worker_jobs) >= 1
    assert np.isfinite(m.wv.vectors).all()
