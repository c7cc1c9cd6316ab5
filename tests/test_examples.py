"""Smoke tests of the examples: each finished example's `--quick` mode runs as a
subprocess (the way a user runs it) and must exit 0 and print its success criterion
as MET. Pictures go to a temporary folder; the examples skip them with a message when
matplotlib or Graphviz is missing, so these tests pass with only `.[test]` installed.
"""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def run_example(name, *args, timeout=170, tmp_path=None):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, str(EXAMPLES / name), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=str(tmp_path) if tmp_path else None)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{name} {' '.join(args)} exited {proc.returncode}:\n{output[-4000:]}"
    return output


def test_rnn_step_by_step_quick(tmp_path):
    out = run_example("rnn_step_by_step.py", "--quick", tmp_path=tmp_path)
    assert "success criterion (autograd = hand-derived BPTT = finite differences to 1e-07" in out
    assert out.rstrip().endswith("MET") and "NOT MET" not in out


def test_autodiff_tour_quick(tmp_path):
    out = run_example("autodiff_tour.py", "--quick", "--out", str(tmp_path / "tour"),
                      tmp_path=tmp_path)
    assert "success criterion (every check passes): MET" in out
    assert "FAILED" not in out


def test_date_translation_quick(tmp_path):
    out = run_example("date_translation.py", "--quick", "--out", str(tmp_path / "dates"),
                      tmp_path=tmp_path)
    assert "trainable parameters: 52,960" in out
    assert "success criterion (held-out exact match >= 60%): MET" in out
    assert (tmp_path / "dates" / "model.tsz").exists()


def test_char_lm_quick(tmp_path):
    out = run_example("char_lm.py", "--quick", tmp_path=tmp_path)
    assert "success criterion (within 0.15 nats of the entropy, >= 80 of 100 samples end in a " \
           "suffix): MET" in out


def test_char_lm_trains_on_a_text_file(tmp_path):
    data = tmp_path / "words.txt"
    data.write_text("\n".join(["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta",
                               "theta", "iota", "kappa", "lambda", "mu"]) + "\n")
    out = run_example("char_lm.py", "--data", str(data), "--steps", "20", tmp_path=tmp_path)
    assert "held-out cross-entropy" in out and "not applicable to --data" in out


def test_transformer_causal_mask_gradient_is_exactly_zero():
    """Changing a future target token leaves the earlier outputs unchanged, and the
    gradient of the earlier outputs with respect to later target embeddings is 0."""
    import numpy as np
    saved_env = dict(os.environ)        # the example sets BLAS thread variables on import
    sys.path.insert(0, str(EXAMPLES))
    try:
        import tinygrad_seq as ts
        import transformer_dates as td
    finally:
        sys.path.remove(str(EXAMPLES))
        os.environ.clear()
        os.environ.update(saved_env)
    ts.manual_seed(0)
    model = td.DateTransformer(d_model=32, nhead=4, layers=2, dim_feedforward=64)
    rng = np.random.default_rng(0)
    _, X, Y = td.make_examples(rng, td.split_dates(rng, 20)[1])
    for k in (1, 5, 9):
        unchanged, leak, flow = td.causal_check(model, X, Y, k=k)
        assert unchanged
        assert leak == 0.0
        assert flow > 0


def test_transformer_beam_of_one_is_greedy():
    """beam_search with one hypothesis through the example's step function gives the
    batched greedy decoding's dates, on an untrained model (any ties are unlikely)."""
    import numpy as np
    saved_env = dict(os.environ)
    sys.path.insert(0, str(EXAMPLES))
    try:
        import tinygrad_seq as ts
        import transformer_dates as td
    finally:
        sys.path.remove(str(EXAMPLES))
        os.environ.clear()
        os.environ.update(saved_env)
    ts.manual_seed(0)
    model = td.DateTransformer(d_model=32, nhead=4, layers=1, dim_feedforward=64)
    rng = np.random.default_rng(0)
    _, X, _ = td.make_examples(rng, td.split_dates(rng, 8)[1])
    greedy = td.translate(model, X)
    assert np.array_equal(td.translate_beam(model, X, 1), greedy)
    beam = td.translate_beam(model, X, 3)
    assert beam.shape == greedy.shape and beam.dtype == np.int64


def test_transformer_dates_quick(tmp_path):
    out = run_example("transformer_dates.py", "--quick", "--beam", "3", tmp_path=tmp_path)
    assert "held-out exact match on 200 dates: greedy" in out and "beam search (B = 3)" in out
    assert "success criterion (greedy and beam 3 exact match >= 60%, causal gradient exactly 0): " \
           "MET" in out


def test_translation_beam_quick(tmp_path):
    out = run_example("translation_beam.py", "--quick", "--out", str(tmp_path / "tb"),
                      tmp_path=tmp_path)
    assert "greedy_search and beam_search with B = 1 agree on 200 of 200 sentences" in out
    assert "the search is at fault:" in out and "the model is at fault:" in out
    criterion = [line for line in out.splitlines()
                 if line.startswith("success criterion (held-out BLEU of beam 10, normalised (")]
    assert len(criterion) == 1 and criterion[0].endswith("error analysis printed): MET")


def test_sentiment_quick(tmp_path):
    out = run_example("sentiment.py", "--quick", "--out", str(tmp_path / "sentiment"),
                      tmp_path=tmp_path)
    assert "success criterion (A >= 85%, B >= 90% and >= 20 points better than A on " \
           "negation): MET" in out
    assert (tmp_path / "sentiment" / "lstm.tsz").exists()


def test_word_vectors_quick(tmp_path):
    out = run_example("word_vectors.py", "--quick", "--out", str(tmp_path / "wv"), tmp_path=tmp_path)
    assert "success criterion (held-out analogies >= 90%, neutralized to 1e-10, equalized to " \
           "1e-12): MET" in out
    assert "man : woman :: king : ?  ->  queen" in out


def test_quickstart_quick(tmp_path):
    out = run_example("quickstart.py", "--quick", tmp_path=tmp_path)
    assert "success criterion (held-out mse < 0.001): MET" in out


def test_speech_ctc_quick(tmp_path):
    out = run_example("speech_ctc.py", "--quick", "--out", str(tmp_path / "speech"),
                      tmp_path=tmp_path)
    assert "held-out character error rate, greedy decoding:" in out
    assert "success criterion (held-out character error rate with greedy decoding <= 25%): MET" in out


def test_speech_ctc_edit_distance_and_features():
    """The CER's edit distance is Levenshtein's, and a letter's tones land in its bands."""
    import numpy as np
    saved_env = dict(os.environ)        # the example sets BLAS thread variables on import
    sys.path.insert(0, str(EXAMPLES))
    try:
        import speech_ctc as sc
    finally:
        sys.path.remove(str(EXAMPLES))
        os.environ.clear()
        os.environ.update(saved_env)
    for a, b, d in [("", "", 0), ("abc", "", 3), ("", "ab", 2), ("kitten", "sitting", 3),
                    ("flaw", "lawn", 2), ("abcd", "abcd", 0), ("aab", "ab", 1)]:
        assert sc.edit_distance(a, b) == d and sc.edit_distance(b, a) == d
    assert sc.cer(["abc", "de"], ["abd", "de"]) == 1 / 5
    rng = np.random.default_rng(0)
    spec = sc.log_spectrogram(sc.letter_audio(rng, "a", 1.0) * 10)    # no noise, no pause
    bands = spec.reshape(-1, sc.BANDS).mean(axis=0)
    low, high = sc.TONES["a"]
    top_two = sorted(np.argsort(bands)[-2:])
    width = sc.RATE / 2 / sc.BANDS
    assert abs(top_two[0] * width - low) < 2 * width and abs(top_two[1] * width - high) < 2 * width


def test_trigger_word_quick(tmp_path):
    out = run_example("trigger_word.py", "--quick", "--out", str(tmp_path / "trigger"),
                      tmp_path=tmp_path)
    assert "held-out per-event F1" in out
    assert "success criterion (held-out per-event F1 >= 0.6): MET" in out


def test_trigger_word_labels_and_scoring():
    """The labels are 8 steps starting one step after a trigger ends; a detection counts
    once per trigger within 0.5 s after its end, every other crossing is a false positive."""
    import numpy as np
    saved_env = dict(os.environ)        # the example sets BLAS thread variables on import
    sys.path.insert(0, str(EXAMPLES))
    try:
        import trigger_word as tw
    finally:
        sys.path.remove(str(EXAMPLES))
        os.environ.clear()
        os.environ.update(saved_env)
    t = tw.step_times()
    assert tw.N_STEPS == 197 and t[0] == 0.2 and t[-1] == 10.0 and np.allclose(np.diff(t), 0.05)
    events = [(1.5, 2.01, True), (3.0, 3.4, False), (6.6, 7.02, True)]   # ends off the grid
    y = tw.labels(events)
    ones = np.flatnonzero(y)
    assert y.sum() == 16 and set(y) == {0, 1}
    assert t[ones[0]] > 2.06 and t[ones[0] - 1] <= 2.06 and t[ones[7]] <= 2.46 < t[ones[8]]
    prob = np.zeros(tw.N_STEPS)
    assert tw.score_clip(prob, events)[:3] == (0, 0, 2)
    k = lambda time: int(np.argmin(np.abs(t - time)))      # noqa: E731
    prob[k(2.1):k(2.3)] = 0.9        # the first trigger: found
    prob[k(2.4)] = 0.6               # a second crossing in its window: false
    prob[k(5.0)] = 0.5               # nothing there (0.5 counts as crossing): false
    prob[k(7.6)] = 0.9               # after the second trigger's window: false, and it is missed
    tp, fp, fn, steps = tw.score_clip(prob, events)
    assert (tp, fp, fn) == (1, 3, 1) and list(steps) == [k(2.1), k(2.4), k(5.0), k(7.6)]
    assert tw.f1_score(tp, fp, fn) == 2 / 6 and tw.f1_score(0, 0, 0) == 1.0
    prob[:] = 1.0                    # above from the start: one crossing, at step 0
    assert list(tw.detections(prob)) == [0]
    assert not tw.contains(tw.other_word(np.random.default_rng(0)), tw.TRIGGER)
    assert tw.contains((0, 1, 3, 2, 4), tw.TRIGGER) and not tw.contains((1, 2, 3), tw.TRIGGER)
