"""BLEU (Papineni et al. 2002) over token lists, with NLTK's names, argument order and
results: ``corpus_bleu``, ``sentence_bleu`` and the smoothing methods of Chen and
Cherry (2014) in ``SmoothingFunction``.

For a hypothesis and its references, the modified (clipped) n-gram precision is

    p_n = sum_g min(count_hyp(g), max_r count_r(g)) / max(1, sum_g count_hyp(g))

over the n-grams g of the hypothesis: an n-gram counts at most as often as it appears
in any one reference ("the the the the the the the" against "the cat is on the mat"
gives p_1 = 2/7). Over a corpus the numerators and the denominators are summed
separately before dividing. With c the total hypothesis length and r the total of
the reference lengths closest to each hypothesis length (the shorter on a tie),

    BP = 1 if c > r,  0 if c == 0,  exp(1 - r / c) otherwise
    BLEU = BP * exp(sum_n w_n log p_n)

where precisions that are still 0 after smoothing are left out of the sum (method0,
the default, turns them into the smallest positive float first, as NLTK does, so that
BLEU is then tiny rather than 0), and BLEU is 0 when no unigram matches at all.

Pure Python: the metrics read token lists, not tensors.
"""
import math
import numbers
import sys
import warnings
from collections import Counter
from fractions import Fraction

__all__ = ["SmoothingFunction", "corpus_bleu", "sentence_bleu", "modified_precision",
           "closest_ref_length", "brevity_penalty"]


class Precision:
    """A modified precision kept as its two counts, not reduced (2/4 stays 2/4): the
    smoothing methods read the raw numerator and denominator."""
    __slots__ = ("numerator", "denominator")

    def __init__(self, numerator, denominator):
        self.numerator, self.denominator = int(numerator), int(denominator)

    def __float__(self):
        return self.numerator / self.denominator

    def fraction(self):
        return Fraction(self.numerator, self.denominator)

    def __eq__(self, other):
        return float(self) == float(other)

    def __gt__(self, other):
        return float(self) > float(other)

    def __hash__(self):
        return hash(float(self))

    def __repr__(self):
        return f"Precision({self.numerator}, {self.denominator})"


def _value(p):
    """An exact rational of a precision (Precision, Fraction, int or float)."""
    if isinstance(p, Precision):
        return p.fraction()
    return Fraction(p)


# ---------------------------------------------------------------- pieces of BLEU

def _ngrams(tokens, n):
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def modified_precision(references, hypothesis, n):
    """Clipped n-gram precision of one hypothesis against its references (formula in
    the module docstring), as a ``Precision`` (numerator, denominator unreduced; the
    denominator is at least 1)."""
    counts = _ngrams(hypothesis, n)
    most = Counter()
    for reference in references:
        ref_counts = _ngrams(reference, n)
        for g in counts:
            most[g] = max(most[g], ref_counts[g])
    matched = sum(min(c, most[g]) for g, c in counts.items())
    return Precision(matched, max(1, sum(counts.values())))


def closest_ref_length(references, hyp_len):
    """The length of the reference closest to `hyp_len` (the shorter one on a tie)."""
    return min((len(r) for r in references), key=lambda n: (abs(n - hyp_len), n))


def brevity_penalty(closest_ref_len, hyp_len):
    """1 if hyp_len > closest_ref_len, 0 if hyp_len == 0, else exp(1 - r / c)."""
    if hyp_len > closest_ref_len:
        return 1
    if hyp_len == 0:
        return 0
    return math.exp(1 - closest_ref_len / hyp_len)


# ---------------------------------------------------------------- smoothing

class SmoothingFunction:
    """The smoothing methods of Chen and Cherry (2014), "A Systematic Comparison of
    Smoothing Techniques for Sentence-Level BLEU", as NLTK numbers them. Each takes
    the list of precisions ``p_n`` (n = 1, 2, ...) and returns the smoothed list; the
    ones that need them also get the references and hypothesis (in ``corpus_bleu``:
    those of the last sentence, as NLTK) and ``hyp_len`` (the total hypothesis length).

    epsilon: method1's added count; alpha: method6's prior weight; k: method4's."""

    def __init__(self, epsilon=0.1, alpha=5, k=5):
        for name, v in (("epsilon", epsilon), ("alpha", alpha), ("k", k)):
            if isinstance(v, bool) or not isinstance(v, numbers.Real):
                raise TypeError(f"SmoothingFunction: {name} must be a number, got "
                                f"{type(v).__name__}")
        self.epsilon, self.alpha, self.k = epsilon, alpha, k

    def method0(self, p_n, *args, **kwargs):
        """No smoothing: a zero precision becomes the smallest positive float (with a
        warning), so that log p_n is finite and BLEU tiny."""
        out = []
        for i, p in enumerate(p_n):
            if _value(p) != 0:
                out.append(p)
            else:
                warnings.warn(f"The hypothesis contains 0 counts of {i + 1}-gram overlaps: "
                              "BLEU will be close to 0 whatever the other precisions; "
                              "consider a SmoothingFunction.", UserWarning, stacklevel=3)
                out.append(sys.float_info.min)
        return out

    def method1(self, p_n, *args, **kwargs):
        """Add epsilon to the numerator of each zero precision: epsilon / denominator."""
        return [(p.numerator + self.epsilon) / p.denominator if p.numerator == 0 else p
                for p in p_n]

    def method2(self, p_n, *args, **kwargs):
        """Add 1 to numerator and denominator of every precision but the unigram one
        (Lin and Och 2004)."""
        return [p if i == 0 else Precision(p.numerator + 1, p.denominator + 1)
                for i, p in enumerate(p_n)]

    def method3(self, p_n, *args, **kwargs):
        """NIST geometric smoothing: the k-th zero precision (k = 1, 2, ...) becomes
        1 / (2^k * denominator)."""
        out, k = list(p_n), 1
        for i, p in enumerate(p_n):
            if p.numerator == 0:
                out[i] = 1 / (2 ** k * p.denominator)
                k += 1
        return out

    def method4(self, p_n, references, hypothesis, hyp_len=None, *args, **kwargs):
        """Like method3 but shorter hypotheses get smaller values: the k-th zero
        precision becomes 1 / (2^k * K / ln(hyp_len)) / denominator (K = self.k;
        nothing changes when hyp_len <= 1)."""
        hyp_len = hyp_len if hyp_len else len(hypothesis)
        out, k = list(p_n), 1
        for i, p in enumerate(p_n):
            if p.numerator == 0 and hyp_len > 1:
                out[i] = 1 / (2 ** k * self.k / math.log(hyp_len)) / p.denominator
                k += 1
        return out

    def method5(self, p_n, references, hypothesis, hyp_len=None, *args, **kwargs):
        """Average each precision with its neighbours: p'_n = (p'_{n-1} + p_n + p_{n+1})
        / 3, with p'_0 = p_1 + 1 and p_{N+1} the 5-gram precision of the hypothesis
        (5 whatever N is, as NLTK)."""
        after = list(p_n) + [modified_precision(references, hypothesis, 5)]
        out, prev = list(p_n), _value(p_n[0]) + 1
        for i in range(len(p_n)):
            prev = (prev + _value(p_n[i]) + _value(after[i + 1])) / 3
            out[i] = prev
        return out

    def method6(self, p_n, references, hypothesis, hyp_len=None, *args, **kwargs):
        """Interpolate each precision from n = 3 on with a prior from the two before
        (Gao and He 2013): p'_n = (m_n + alpha * p'_{n-1}^2 / p'_{n-2}) / (l_n + alpha),
        with m_n the matched n-gram count and l_n the number of n-grams of the
        hypothesis. Needs a non-zero trigram precision."""
        if len(p_n) < 3 or _value(p_n[2]) == 0:
            raise ValueError("SmoothingFunction.method6 needs a non-zero trigram precision "
                             f"(p_n has {len(p_n)} entries"
                             + (f", p_3 = {_value(p_n[2])})" if len(p_n) >= 3 else ")"))
        out = list(p_n)
        for i in range(2, len(p_n)):
            before2, before1 = _value(out[i - 2]), _value(out[i - 1])
            prior = 0 if before2 == 0 else before1 ** 2 / before2
            count = max(0, len(hypothesis) - i)
            out[i] = (p_n[i].numerator + self.alpha * prior) / (count + self.alpha)
        return out

    def method7(self, p_n, references, hypothesis, hyp_len=None, *args, **kwargs):
        """method4, then method5."""
        p_n = self.method4(p_n, references, hypothesis, hyp_len)
        return self.method5(p_n, references, hypothesis, hyp_len)


# ---------------------------------------------------------------- BLEU

def _tokens(seq, what, op):
    if isinstance(seq, (str, bytes)):
        raise TypeError(f"{op}: {what} must be a list of tokens, got a string {seq[:30]!r} "
                        "(split it into tokens first)")
    try:
        return list(seq)
    except TypeError:
        raise TypeError(f"{op}: {what} must be a list of tokens, got "
                        f"{type(seq).__name__}") from None


def _weight_sets(weights, op):
    """(list of weight tuples, whether several were given), as NLTK reads `weights`."""
    try:
        weights[0][0]
        several = True
    except (TypeError, IndexError, KeyError):
        several = False
    sets = list(weights) if several else [weights]
    for w in sets:
        try:
            values = [float(x) for x in w]
        except (TypeError, ValueError):
            raise TypeError(f"{op}: weights must be a sequence of numbers or of weight "
                            f"tuples, got {weights!r}") from None
        if not values:
            raise ValueError(f"{op}: weights must not be empty")
    return sets, several


def corpus_bleu(list_of_references, hypotheses, weights=(0.25, 0.25, 0.25, 0.25),
                smoothing_function=None, auto_reweigh=False):
    """Corpus-level BLEU: clipped n-gram counts and lengths summed over all sentences,
    then ``BP * exp(sum_n w_n log p_n)`` (module docstring).

    list_of_references: for each hypothesis, a list of its reference token lists.
    hypotheses: token lists. weights: one weight per n-gram order (n = 1..N), or a
    list of such tuples (a list of scores is then returned). smoothing_function: one
    of ``SmoothingFunction()``'s methods (default method0) or any function
    ``f(p_n, references=, hypothesis=, hyp_len=)``. auto_reweigh: with the default
    4-gram weights and a corpus shorter than 4 tokens, use uniform weights over the
    orders that fit."""
    op = "corpus_bleu"
    if isinstance(list_of_references, (str, bytes)) or isinstance(hypotheses, (str, bytes)):
        raise TypeError(f"{op}: list_of_references and hypotheses must be lists, got a string")
    list_of_references, hypotheses = list(list_of_references), list(hypotheses)
    if len(list_of_references) != len(hypotheses):
        raise ValueError(f"{op}: list_of_references and hypotheses must be as long, got "
                         f"{len(list_of_references)} and {len(hypotheses)}")
    if smoothing_function is not None and not callable(smoothing_function):
        raise TypeError(f"{op}: smoothing_function must be callable, got "
                        f"{type(smoothing_function).__name__}")
    weight_sets, several = _weight_sets(weights, op)
    orders = max(len(w) for w in weight_sets)
    numerators, denominators = Counter(), Counter()
    hyp_total = ref_total = 0
    references = hypothesis = None
    for i, (references, hypothesis) in enumerate(zip(list_of_references, hypotheses)):
        hypothesis = _tokens(hypothesis, f"hypotheses[{i}]", op)
        if isinstance(references, (str, bytes)):
            raise TypeError(f"{op}: list_of_references[{i}] must be a list of reference "
                            f"token lists, got a string {references[:30]!r}")
        references = [_tokens(r, f"list_of_references[{i}][{j}]", op)
                      for j, r in enumerate(references)]
        if not references:
            raise ValueError(f"{op}: list_of_references[{i}] holds no reference")
        for n in range(1, orders + 1):
            p = modified_precision(references, hypothesis, n)
            numerators[n] += p.numerator
            denominators[n] += p.denominator
        hyp_total += len(hypothesis)
        ref_total += closest_ref_length(references, len(hypothesis))
    bp = brevity_penalty(ref_total, hyp_total)
    if numerators[1] == 0:
        return [0] * len(weight_sets) if several else 0
    p_n = [Precision(numerators[n], denominators[n]) for n in range(1, orders + 1)]
    if smoothing_function is None:
        smoothing_function = SmoothingFunction().method0
    p_n = smoothing_function(p_n, references=references, hypothesis=hypothesis,
                             hyp_len=hyp_total)
    scores = []
    for w in weight_sets:
        if auto_reweigh and hyp_total < 4 and w == (0.25, 0.25, 0.25, 0.25):
            w = (1 / hyp_total,) * hyp_total
        logs = [wi * math.log(float(p)) for wi, p in zip(w, p_n) if float(p) > 0]
        scores.append(bp * math.exp(math.fsum(logs)))
    return scores if several else scores[0]


def sentence_bleu(references, hypothesis, weights=(0.25, 0.25, 0.25, 0.25),
                  smoothing_function=None, auto_reweigh=False):
    """BLEU of one hypothesis (token list) against its references (a list of token
    lists): ``corpus_bleu([references], [hypothesis], ...)``."""
    if isinstance(references, (str, bytes)):
        raise TypeError(f"sentence_bleu: references must be a list of reference token "
                        f"lists, got a string {references[:30]!r}")
    return corpus_bleu([references], [hypothesis], weights, smoothing_function, auto_reweigh)
