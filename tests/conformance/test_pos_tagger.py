"""The part-of-speech tagger of the PyTorch tutorial "Sequence Models and Long
Short-Term Memory Networks" (pytorch/tutorials, `beginner_source/nlp/
sequence_models_tutorial.py`), and its exercise, "Augmenting the LSTM part-of-speech
tagger with character-level features", written once against `torch.*` and run with
torch and with tinygrad_seq.

What it exercises: `prepare_sequence` (`torch.tensor(idxs, dtype=torch.long)`), an
`LSTMTagger(nn.Module)` of `nn.Embedding`, `nn.LSTM` fed one unbatched-as-batch sentence
(`embeds.view(len(sentence), 1, -1)`), `lstm_out.view(len(sentence), -1)`, `nn.Linear`,
`F.log_softmax(tag_space, dim=1)`, `nn.NLLLoss`, `optim.SGD(model.parameters(),
lr=0.1)`, `model.zero_grad()`, inference under `torch.no_grad()` with
`tag_scores.argmax(dim=1)` / `torch.max(tag_scores, 1)`; the character-level exercise:
a second `nn.LSTM` over each word's characters whose final hidden state `h_n[-1]`
(from `_, (h_n, _) = ...`) is concatenated (`torch.cat([...], dim=1)`) with the word
embedding, `torch.stack`, and `.item()` sums; and the tutorial's opening example: an
`nn.LSTM(3, 3)` stepped one element at a time (`i.view(1, 1, -1)` with the `hidden`
tuple carried) and run on the whole sequence (`torch.cat(inputs).view(len(inputs), 1,
-1)`), with the inputs the test made (the tutorial's `torch.randn`).
"""
import numpy as np
import pytest

from conformance_harness import (assert_accuracy_close, assert_losses_equal, build_pair,
                                 needs_torch, run_both)


def lstm_example(torch, lstm, inputs, hidden0):
    """The tutorial's first LSTM example, on the test's arrays."""
    inputs = [torch.from_numpy(x) for x in inputs]
    hidden = tuple(torch.from_numpy(h) for h in hidden0)
    for i in inputs:
        # Step through the sequence one element at a time.
        # after each step, hidden contains the hidden state.
        out, hidden = lstm(i.view(1, 1, -1), hidden)
    stepped = (out, hidden)
    # alternatively, we can do the entire sequence all at once.
    inputs = torch.cat(inputs).view(len(inputs), 1, -1)
    hidden = tuple(torch.from_numpy(h) for h in hidden0)  # clean out hidden state
    out, hidden = lstm(inputs, hidden)
    return ([t.detach().numpy() for t in (stepped[0], *stepped[1])],
            [t.detach().numpy() for t in (out, *hidden)])


def prepare_sequence(torch, seq, to_ix):
    idxs = [to_ix[w] for w in seq]
    return torch.tensor(idxs, dtype=torch.long)


def make_taggers(torch):
    nn = torch.nn
    F = torch.nn.functional

    class LSTMTagger(nn.Module):

        def __init__(self, embedding_dim, hidden_dim, vocab_size, tagset_size):
            super(LSTMTagger, self).__init__()
            self.hidden_dim = hidden_dim
            self.word_embeddings = nn.Embedding(vocab_size, embedding_dim)
            # The LSTM takes word embeddings as inputs, and outputs hidden states
            # with dimensionality hidden_dim.
            self.lstm = nn.LSTM(embedding_dim, hidden_dim)
            # The linear layer that maps from hidden state space to tag space
            self.hidden2tag = nn.Linear(hidden_dim, tagset_size)

        def forward(self, sentence, chars=None):
            embeds = self.word_embeddings(sentence)
            lstm_out, _ = self.lstm(embeds.view(len(sentence), 1, -1))
            tag_space = self.hidden2tag(lstm_out.view(len(sentence), -1))
            tag_scores = F.log_softmax(tag_space, dim=1)
            return tag_scores

    class CharLSTMTagger(nn.Module):
        """The exercise: each word's representation is its embedding concatenated with
        the final hidden state of an LSTM over its characters."""

        def __init__(self, embedding_dim, char_dim, char_hidden, hidden_dim, vocab_size,
                     n_chars, tagset_size):
            super(CharLSTMTagger, self).__init__()
            self.word_embeddings = nn.Embedding(vocab_size, embedding_dim)
            self.char_embeddings = nn.Embedding(n_chars, char_dim)
            self.char_lstm = nn.LSTM(char_dim, char_hidden)
            self.lstm = nn.LSTM(embedding_dim + char_hidden, hidden_dim)
            self.hidden2tag = nn.Linear(hidden_dim, tagset_size)

        def forward(self, sentence, chars):
            char_reps = []
            for word_chars in chars:
                c = self.char_embeddings(word_chars).view(len(word_chars), 1, -1)
                _, (h_n, _) = self.char_lstm(c)
                char_reps.append(h_n[-1].view(-1))
            char_reps = torch.stack(char_reps)
            embeds = torch.cat([self.word_embeddings(sentence), char_reps], dim=1)
            lstm_out, _ = self.lstm(embeds.view(len(sentence), 1, -1))
            tag_space = self.hidden2tag(lstm_out.view(len(sentence), -1))
            return F.log_softmax(tag_space, dim=1)

    return LSTMTagger, CharLSTMTagger


def build(torch, kind, vocab_size, n_chars, tagset_size, EMBEDDING_DIM=8, HIDDEN_DIM=8):
    LSTMTagger, CharLSTMTagger = make_taggers(torch)
    if kind == "word":
        return LSTMTagger(EMBEDDING_DIM, HIDDEN_DIM, vocab_size, tagset_size)
    return CharLSTMTagger(EMBEDDING_DIM, 4, 4, HIDDEN_DIM, vocab_size, n_chars, tagset_size)


def train(torch, model, training_data, test_data, word_to_ix, char_to_ix, tag_to_ix, epochs):
    """The tutorial's loop (one sentence per step, in the test's order). Returns (the
    per-step losses, the tag accuracy on test_data in percent)."""
    nn, optim = torch.nn, torch.optim

    def chars_of(sentence):
        return [prepare_sequence(torch, w, char_to_ix) for w in sentence]

    loss_function = nn.NLLLoss()
    optimizer = optim.SGD(model.parameters(), lr=0.1)

    # See what the scores are before training
    with torch.no_grad():
        inputs = prepare_sequence(torch, training_data[0][0], word_to_ix)
        tag_scores = model(inputs, chars_of(training_data[0][0]))
        assert tag_scores.shape == (len(training_data[0][0]), len(tag_to_ix))

    losses = []
    for epoch in range(epochs):
        for sentence, tags in training_data:
            # Step 1. Remember that Pytorch accumulates gradients.
            model.zero_grad()
            # Step 2. Get our inputs ready for the network
            sentence_in = prepare_sequence(torch, sentence, word_to_ix)
            targets = prepare_sequence(torch, tags, tag_to_ix)
            # Step 3. Run our forward pass.
            tag_scores = model(sentence_in, chars_of(sentence))
            # Step 4. Compute the loss, gradients, and update the parameters
            loss = loss_function(tag_scores, targets)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())

    correct = total = 0
    with torch.no_grad():
        for sentence, tags in test_data:
            tag_scores = model(prepare_sequence(torch, sentence, word_to_ix), chars_of(sentence))
            _, predicted = torch.max(tag_scores, 1)
            assert predicted.tolist() == tag_scores.argmax(dim=1).tolist()
            correct += (predicted == prepare_sequence(torch, tags, tag_to_ix)).sum().item()
            total += len(tags)
    return losses, 100.0 * correct / total


# ---- the test's synthetic corpus: a tiny grammar with ambiguous words

DET = ["the", "a", "every", "that"]
NN = ["dog", "apple", "book", "cat", "man", "garden", "fish", "park"]
V = ["ate", "read", "saw", "likes", "fish", "park"]         # "fish", "park": noun or verb
ADJ = ["big", "red", "old", "happy"]


def make_data(n, seed):
    rng = np.random.default_rng(seed)
    data = []
    for _ in range(n):
        words, tags = [], []
        for part in ("S", "V", "O"):
            if part == "V":
                words.append(V[rng.integers(len(V))])
                tags.append("V")
                continue
            words.append(DET[rng.integers(len(DET))])
            tags.append("DET")
            if rng.random() < 0.4:
                words.append(ADJ[rng.integers(len(ADJ))])
                tags.append("ADJ")
            words.append(NN[rng.integers(len(NN))])
            tags.append("NN")
        data.append((words, tags))
    return data


def vocabularies():
    word_to_ix, char_to_ix = {}, {}
    for word in DET + NN + V + ADJ:
        if word not in word_to_ix:          # the tutorial's idiom
            word_to_ix[word] = len(word_to_ix)
        for ch in word:
            if ch not in char_to_ix:
                char_to_ix[ch] = len(char_to_ix)
    tag_to_ix = {"DET": 0, "NN": 1, "V": 2, "ADJ": 3}
    return word_to_ix, char_to_ix, tag_to_ix


@needs_torch
@pytest.mark.parametrize("kind", ["word", "char"])
def test_pos_tagger_float64_losses_match(kind):
    word_to_ix, char_to_ix, tag_to_ix = vocabularies()
    data, test = make_data(20, 0), make_data(10, 1)
    theirs, ours = build_pair(build, kind, len(word_to_ix), len(char_to_ix), len(tag_to_ix))
    (lt, at), (lo, ao) = run_both(train, theirs, ours, data, test, word_to_ix, char_to_ix,
                                  tag_to_ix, 1)
    assert len(lt) == 20
    assert_losses_equal(lt, lo)
    assert ao == at


@needs_torch
@pytest.mark.parametrize("kind, epochs", [("word", 10), pytest.param("char", 10, marks=pytest.mark.slow),
                                          pytest.param("word", 60, marks=pytest.mark.slow)])
def test_pos_tagger_float32_accuracy(kind, epochs):
    word_to_ix, char_to_ix, tag_to_ix = vocabularies()
    data, test = make_data(40, 2), make_data(50, 3)
    theirs, ours = build_pair(build, kind, len(word_to_ix), len(char_to_ix), len(tag_to_ix),
                              dtype="float32")
    (lt, at), (lo, ao) = run_both(train, theirs, ours, data, test, word_to_ix, char_to_ix,
                                  tag_to_ix, epochs, dtype="float32")
    assert at >= 70.0                    # it learned (most of) the grammar
    assert_accuracy_close(at, ao)


@needs_torch
def test_the_tutorials_lstm_example():
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal((1, 3)) for _ in range(5)]
    hidden0 = (rng.standard_normal((1, 1, 3)), rng.standard_normal((1, 1, 3)))
    theirs, ours = build_pair(lambda torch: torch.nn.LSTM(3, 3))
    (st, wt), (so, wo) = run_both(lstm_example, theirs, ours, inputs, hidden0)
    for a, b in zip(so + wo, st + wt):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(wo[0][-1], so[0][0], rtol=1e-12)   # last output = last step
