"""word2vec: skip-gram and CBOW with negative sampling and/or hierarchical softmax on
the framework (``Word2Vec``), word-vector look-ups and evaluation (``KeyedVectors``),
the word2vec C tool's text and binary formats. gensim's names, defaults and return
types. ``GloVe``: global co-occurrence vectors (Pennington et al. 2014) trained with
Adagrad on sparse rows.

    from tinygrad_seq.word2vec import Word2Vec, KeyedVectors
    model = Word2Vec(sentences, vector_size=100, window=5, min_count=5, sg=1)
    model.wv.most_similar(positive=["king", "woman"], negative=["man"])
    model.wv.save_word2vec_format("vectors.bin", binary=True)
"""
from .corpus import RULE_DEFAULT, RULE_DISCARD, RULE_KEEP, CorpusFile, LineSentence, Vocabulary
from .glove import GloVe
from .keyedvectors import KeyedVectors
from .model import CallbackAny2Vec, Word2Vec

__all__ = ["Word2Vec", "GloVe", "KeyedVectors", "Vocabulary", "CorpusFile", "LineSentence",
           "CallbackAny2Vec", "RULE_DEFAULT", "RULE_DISCARD", "RULE_KEEP"]
