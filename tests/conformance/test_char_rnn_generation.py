"""The tutorial "NLP From Scratch: Generating Names with a Character-Level RNN"
(pytorch/tutorials, `intermediate_source/char_rnn_generation_tutorial.py`), written
once against `torch.*` and run with torch and with tinygrad_seq.

What it exercises: the hand-made recurrent cell `RNN(nn.Module)` (`i2h`, `i2o`, `o2o`
Linears over `torch.cat((category, input, hidden), 1)`, `nn.Dropout(0.1)`,
`nn.LogSoftmax(dim=1)`), `initHidden` as `torch.zeros(1, hidden_size)`; the one-hot
builders writing through chained indexing (`tensor[0][li] = 1`,
`tensor[li][0][all_letters.find(letter)] = 1`) into `torch.zeros`;
`torch.LongTensor(letter_indexes)`; the training step: `target_line_tensor.unsqueeze_(-1)`,
`rnn.zero_grad()`, `loss = torch.Tensor([0])` then `loss += l` over time steps (an
in-place add on a non-leaf), `nn.NLLLoss`, the manual update `p.data.add_(p.grad.data,
alpha=-learning_rate)`, `loss.item() / input_line_tensor.size(0)`; `sample` under
`torch.no_grad()` with `output.topk(1)`, `topi[0][0]`, comparing a 0-d tensor with an int
(`if topi == n_letters - 1`) and indexing a string with it (`all_letters[topi]`).

The training pairs come in the order the test fixed (the tutorial draws them with
`random.choice`); dropout is off (the module is made with p=0.0 and eval() is not needed).
"""
import string

import numpy as np
import pytest

from conformance_harness import (assert_loss_close, assert_losses_equal, build_pair,
                                 needs_torch, run_both)

all_letters = string.ascii_letters + " .,;'-"
n_letters = len(all_letters) + 1   # Plus EOS marker
all_categories = ["Alpha", "Beta", "Gamma"]
n_categories = len(all_categories)
max_length = 12


def make_rnn(torch, dropout=0.0):
    nn = torch.nn

    class RNN(nn.Module):
        def __init__(self, input_size, hidden_size, output_size):
            super(RNN, self).__init__()
            self.hidden_size = hidden_size

            self.i2h = nn.Linear(n_categories + input_size + hidden_size, hidden_size)
            self.i2o = nn.Linear(n_categories + input_size + hidden_size, output_size)
            self.o2o = nn.Linear(hidden_size + output_size, output_size)
            self.dropout = nn.Dropout(dropout)
            self.softmax = nn.LogSoftmax(dim=1)

        def forward(self, category, input, hidden):
            input_combined = torch.cat((category, input, hidden), 1)
            hidden = self.i2h(input_combined)
            output = self.i2o(input_combined)
            output_combined = torch.cat((hidden, output), 1)
            output = self.o2o(output_combined)
            output = self.dropout(output)
            output = self.softmax(output)
            return output, hidden

        def initHidden(self):
            return torch.zeros(1, self.hidden_size)

    return RNN


def build(torch, n_hidden=32):
    return make_rnn(torch)(n_letters, n_hidden, n_letters)


def program(torch, rnn, pairs, learning_rate=0.0005, print_every=None):
    """The tutorial's helpers and training loop over the test's (category, line) pairs.
    Returns (the per-example losses, the samples drawn afterwards)."""
    nn = torch.nn

    # One-hot vector for category
    def categoryTensor(category):
        li = all_categories.index(category)
        tensor = torch.zeros(1, n_categories)
        tensor[0][li] = 1
        return tensor

    # One-hot matrix of first to last letters (not including EOS) for input
    def inputTensor(line):
        tensor = torch.zeros(len(line), 1, n_letters)
        for li in range(len(line)):
            letter = line[li]
            tensor[li][0][all_letters.find(letter)] = 1
        return tensor

    # ``LongTensor`` of second letter to end (EOS) for target
    def targetTensor(line):
        letter_indexes = [all_letters.find(line[li]) for li in range(1, len(line))]
        letter_indexes.append(n_letters - 1)  # EOS
        return torch.LongTensor(letter_indexes)

    def trainingExample(category, line):
        return categoryTensor(category), inputTensor(line), targetTensor(line)

    criterion = nn.NLLLoss()

    def train(category_tensor, input_line_tensor, target_line_tensor):
        target_line_tensor.unsqueeze_(-1)
        hidden = rnn.initHidden()

        rnn.zero_grad()

        loss = torch.Tensor([0])  # you can also just simply use ``loss = 0``

        for i in range(input_line_tensor.size(0)):
            output, hidden = rnn(category_tensor, input_line_tensor[i], hidden)
            l = criterion(output, target_line_tensor[i])  # noqa: E741  (the tutorial's name)
            loss += l

        loss.backward()

        for p in rnn.parameters():
            p.data.add_(p.grad.data, alpha=-learning_rate)

        return output, loss.item() / input_line_tensor.size(0)

    all_losses = []
    for category, line in pairs:
        output, loss = train(*trainingExample(category, line))
        all_losses.append(loss)

    # Sample from a category and starting letter
    def sample(category, start_letter="A"):
        with torch.no_grad():  # no need to track history in sampling
            category_tensor = categoryTensor(category)
            input = inputTensor(start_letter)
            hidden = rnn.initHidden()

            output_name = start_letter

            for i in range(max_length):
                output, hidden = rnn(category_tensor, input[0], hidden)
                topv, topi = output.topk(1)
                topi = topi[0][0]
                if topi == n_letters - 1:
                    break
                else:
                    letter = all_letters[topi]
                    output_name += letter
                input = inputTensor(letter)

            return output_name

    samples = [sample(c, s) for c in all_categories for s in "ABC"]
    return all_losses, samples


# ---- the test's synthetic names: each category a syllable inventory

SYLLABLES = {"Alpha": ["ka", "ro", "mi", "ta"], "Beta": ["sel", "von", "dra", "eck"],
             "Gamma": ["oo", "li", "an", "ee"]}


def make_pairs(n, seed):
    rng = np.random.default_rng(seed)
    pairs = []
    for _ in range(n):
        c = all_categories[rng.integers(n_categories)]
        name = "".join(SYLLABLES[c][rng.integers(4)] for _ in range(rng.integers(2, 4)))
        pairs.append((c, name.capitalize()))
    return pairs


@needs_torch
def test_char_rnn_float64_losses_and_samples_match():
    theirs, ours = build_pair(build)
    (lt, st), (lo, so) = run_both(program, theirs, ours, make_pairs(20, 0), learning_rate=0.005)
    assert len(lt) == 20
    assert_losses_equal(lt, lo)
    assert so == st


@needs_torch
@pytest.mark.parametrize("n", [300, pytest.param(3000, marks=pytest.mark.slow)])
def test_char_rnn_float32_final_loss(n):
    theirs, ours = build_pair(build, dtype="float32")
    (lt, st), (lo, so) = run_both(program, theirs, ours, make_pairs(n, 1),
                                  learning_rate=0.005, dtype="float32")
    last_t, last_o = np.mean(lt[-100:]), np.mean(lo[-100:])
    assert last_t < 0.8 * np.mean(lt[:100])       # it learned something
    assert_loss_close(last_t, last_o)
