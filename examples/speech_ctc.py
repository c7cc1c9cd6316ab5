"""Speech recognition with CTC: a bidirectional GRU reads log spectrograms of built-in
synthetic "speech" and is trained with the connectionist temporal classification loss
to spell out what was said, without ever being told where each letter is.

The audio is generated in code, at 8 kHz: a "word" is 3 to 10 letters of a 20-letter
alphabet (a-t), and each letter is spoken as a chord of two tones, one from a low
group (450, 600, 750, 900 Hz) and one from a high group (1200, 1500, 1800, 2100,
2400 Hz), like a telephone's touch tones. Every utterance varies as speech does: the
speaker's pitch moves every frequency by up to 6% (so a letter's tones are not where
another speaker's are), each letter lasts 60 to 160 ms, its tones are detuned by up to
3% more and glide by up to 4% over the letter, its loudness and the balance of its two
tones vary, it fades in and out, letters follow each other after 0 to 60 ms of silence
(at least 20 ms between a doubled letter, "aa", so that it is heard as two), a little
silence frames the word, and white noise at an SNR of -3 to 12 dB covers everything.

Features, with NumPy's FFT: 25 ms Hann windows every 10 ms, |FFT|^2 of 256 points,
pooled into 64 bands of 62.5 Hz, log(1e-6 + energy); two consecutive windows are
stacked into one 20 ms frame of 128 features (halving the frames the network reads),
normalised by the training set's mean and standard deviation per feature. An
utterance is about 15 to 90 frames; a letter 3 to 8.

The model: bidirectional nn.GRU (with the true lengths of the padded batch; 2 layers
of 96 units per direction in full mode, 1 layer of 64 with --quick) -> nn.Linear ->
log_softmax over 21 classes (the CTC blank and the 20 letters) at every frame;
F.ctc_loss (the sum over all alignments of the letters with the frames), Adam with a
cosine learning rate.

Decoding: `tinygrad_seq.decoding.ctc_greedy_decode` (the best class of each frame,
repeats collapsed, blanks dropped); in full mode `ctc_beam_decode` (prefix beam search,
beam 8; pure Python, so --quick skips it) is reported beside it.

Success criterion: character error rate with greedy decoding <= 5% on 500 held-out
utterances (full mode; `--quick`: <= 25% on 200, a smaller model trained briefly), where the
CER is the edit distance (insertions, deletions, substitutions) between the decoded
and the true letters, summed over the held-out set, divided by the total number of true
letters.

    python examples/speech_ctc.py            # full mode, a few minutes on 2 CPU cores
    python examples/speech_ctc.py --quick    # smoke run (CI)

It saves a picture of one held-out utterance: its spectrogram, and above it the
per-frame probabilities of each letter and of the blank with the greedy decoding
(skipped with a message without matplotlib).
"""
import argparse
import os
import sys
import time

# small matrices: one BLAS thread is as fast and does not collapse on shared cores
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

import tinygrad_seq as ts  # noqa: E402
import tinygrad_seq.functional as F  # noqa: E402
from tinygrad_seq import nn, optim  # noqa: E402
from tinygrad_seq.decoding import ctc_beam_decode, ctc_greedy_decode  # noqa: E402

try:
    from tqdm import tqdm
except ImportError:  # no progress bar without tqdm
    tqdm = None

RATE = 8000                       # samples per second
WINDOW, HOP, NFFT = 200, 80, 256  # 25 ms windows every 10 ms
BANDS = 64                        # 129 FFT bins (0-4 kHz) pooled to 64 bands
STACK = 2                         # windows stacked per frame the network reads
FEATURES = STACK * BANDS
LETTERS = "abcdefghijklmnopqrst"
LOW = [450.0, 600.0, 750.0, 900.0]
HIGH = [1200.0, 1500.0, 1800.0, 2100.0, 2400.0]
TONES = {c: (LOW[i // len(HIGH)], HIGH[i % len(HIGH)]) for i, c in enumerate(LETTERS)}
BLANK = 0                         # class 0 is the CTC blank, letter k is class k + 1


# ---------------------------------------------------------------- the audio

def letter_audio(rng, letter, voice):
    """One letter: a chord of its two tones, detuned, gliding, faded in and out, at the
    speaker's pitch (voice: a factor on every frequency)."""
    n = int(rng.uniform(0.06, 0.16) * RATE)
    t = np.arange(n) / RATE
    out = np.zeros(n)
    for f, amp in zip(TONES[letter], rng.uniform(0.5, 1.0, 2)):
        f0 = f * voice * (1 + rng.uniform(-0.03, 0.03))
        glide = f0 * rng.uniform(-0.04, 0.04)                 # Hz over the letter
        phase = 2 * np.pi * (f0 * t + glide * t ** 2 / (2 * t[-1])) + rng.uniform(0, 2 * np.pi)
        out += amp * np.sin(phase)
    ramp = min(n // 4, int(0.015 * RATE))
    envelope = np.ones(n)
    envelope[:ramp] = np.linspace(0, 1, ramp)
    envelope[-ramp:] = np.linspace(1, 0, ramp)
    return out * envelope * rng.uniform(0.4, 1.0)


def utterance(rng, word):
    """The waveform of a word: letters separated by pauses, in white noise."""
    voice = rng.uniform(0.94, 1.06)           # the speaker's pitch
    pieces = [np.zeros(int(rng.uniform(0.02, 0.08) * RATE))]
    for k, letter in enumerate(word):
        if k:   # letters may run into each other, but a doubled letter needs a pause
            shortest = 0.02 if letter == word[k - 1] else 0.0
            pieces.append(np.zeros(int(rng.uniform(shortest, 0.06) * RATE)))
        pieces.append(letter_audio(rng, letter, voice))
    pieces.append(np.zeros(int(rng.uniform(0.02, 0.08) * RATE)))
    wave = np.concatenate(pieces)
    signal_power = np.mean(wave ** 2)
    snr_db = rng.uniform(-3, 12)
    noise = rng.normal(0, np.sqrt(signal_power / 10 ** (snr_db / 10)), wave.shape)
    return wave + noise


def log_spectrogram(wave):
    """(frames, FEATURES): the log band energies of 25 ms Hann windows every 10 ms,
    STACK consecutive windows per frame."""
    n_frames = 1 + (len(wave) - WINDOW) // HOP
    idx = np.arange(WINDOW)[None, :] + HOP * np.arange(n_frames)[:, None]
    frames = wave[idx] * np.hanning(WINDOW)
    power = np.abs(np.fft.rfft(frames, n=NFFT, axis=1)) ** 2        # (frames, 129)
    bands = power[:, 1:].reshape(n_frames, BANDS, 2).sum(axis=2)     # drop DC, pool pairs
    feats = np.log(1e-6 + bands).astype(np.float32)
    usable = len(feats) // STACK * STACK
    return feats[:usable].reshape(usable // STACK, FEATURES)


def make_set(rng, n):
    """n utterances: (words, spectrograms)."""
    words = ["".join(rng.choice(list(LETTERS), rng.integers(3, 11))) for _ in range(n)]
    return words, [log_spectrogram(utterance(rng, w)) for w in words]


def batch_arrays(specs, mean, std):
    """Normalised, zero-padded (N, T, FEATURES) features and the lengths."""
    lengths = np.array([len(s) for s in specs])
    x = np.zeros((len(specs), lengths.max(), FEATURES), dtype=np.float32)
    for n, s in enumerate(specs):
        x[n, :len(s)] = (s - mean) / std
    return x, lengths


def labels(word):
    return [LETTERS.index(c) + 1 for c in word]


def spell(label_list):
    return "".join(LETTERS[k - 1] for k in label_list)


def edit_distance(a, b):
    """Levenshtein distance between two sequences (insertions, deletions, substitutions)."""
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


# ---------------------------------------------------------------- the model

class Recognizer(nn.Module):
    def __init__(self, hidden=96, layers=2):
        super().__init__()
        self.rnn = nn.GRU(FEATURES, hidden, num_layers=layers, bidirectional=True, batch_first=True)
        self.out = nn.Linear(2 * hidden, len(LETTERS) + 1)

    def forward(self, x, lengths):
        """(N, T, FEATURES) features -> (T, N, 21) log-probabilities (ctc_loss's layout)."""
        h, _ = self.rnn(ts.tensor(x), lengths=list(lengths))
        return F.log_softmax(self.out(h), dim=-1).transpose(0, 1)


def recognise(model, specs, mean, std, beam=None, batch=100):
    """Greedy (or, with beam, prefix-beam) transcriptions and the log-probabilities."""
    model.eval()
    words, lps = [], []
    with ts.no_grad():
        for i in range(0, len(specs), batch):
            x, lengths = batch_arrays(specs[i:i + batch], mean, std)
            lp = model(x, lengths)
            if beam:
                words += [spell(r[0][0]) if r else "" for r in ctc_beam_decode(lp, list(lengths), beam)]
            else:
                words += [spell(r) for r in ctc_greedy_decode(lp, list(lengths))]
            lps += [lp.numpy()[:n, k] for k, n in enumerate(lengths)]
    model.train()
    return words, lps


def cer(hyps, refs):
    return sum(edit_distance(h, r) for h, r in zip(hyps, refs)) / sum(len(r) for r in refs)


def save_picture(spec, word, decoded, log_probs, path):
    """The spectrogram with the per-frame outputs above it; False without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    probs = np.exp(log_probs)                       # (T, 21)
    T = len(spec)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 6.5), sharex=True,
                                      gridspec_kw={"height_ratios": [1, 1.4]})
    top.plot(np.arange(T), probs[:, BLANK], color="0.6", lw=1.2, ls="--", label="blank")
    cmap = plt.get_cmap("tab20")
    best = probs.argmax(axis=1)
    for k, letter in enumerate(LETTERS, 1):
        if probs[:, k].max() > 0.2:
            top.plot(np.arange(T), probs[:, k], color=cmap(k), lw=1.5, label=letter)
            for t in np.flatnonzero((best == k) & (np.r_[-1, best[:-1]] != k)):
                top.text(t, 1.04, letter, color=cmap(k), ha="left", fontsize=11, weight="bold")
    top.set_ylim(0, 1.15)
    top.set_ylabel("P(class | frame)")
    top.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    top.set_title(f"said {word!r}, recognised {decoded!r} (greedy CTC decoding)")
    bands = spec.reshape(T * STACK, BANDS)          # the 10 ms windows, unstacked
    bottom.imshow(bands.T, origin="lower", aspect="auto", cmap="magma",
                  extent=(-0.5, T - 0.5, 0, RATE / 2))
    bottom.set_ylabel("frequency (Hz)")
    bottom.set_xlabel(f"frame ({10 * STACK} ms)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run (CI)")
    parser.add_argument("--steps", type=int, default=None, help="Adam steps (default 1200; quick 300)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=None,
                        help="Adam's learning rate (default 3e-3; quick 8e-3)")
    parser.add_argument("--hidden", type=int, default=None,
                        help="GRU units per direction (default 96; quick 64)")
    parser.add_argument("--layers", type=int, default=None, help="GRU layers (default 2; quick 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=os.path.join("out", "speech_ctc"),
                        help="output folder for the picture")
    args = parser.parse_args(argv)
    steps = args.steps or (300 if args.quick else 1200)
    lr = args.lr or (8e-3 if args.quick else 3e-3)
    hidden = args.hidden or (64 if args.quick else 96)
    layers = args.layers or (1 if args.quick else 2)
    n_train, n_test = (1000, 200) if args.quick else (6000, 500)
    target = 0.25 if args.quick else 0.05

    ts.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    train_words, train_specs = make_set(rng, n_train)
    test_words, test_specs = make_set(np.random.default_rng(args.seed + 1), n_test)
    stacked = np.concatenate(train_specs)
    mean, std = stacked.mean(axis=0), stacked.std(axis=0) + 1e-3
    frames = [len(s) for s in train_specs]
    print(f"{n_train} training and {n_test} held-out utterances of 3-10 letters ({len(LETTERS)}-letter "
          f"alphabet), {min(frames)}-{max(frames)} frames of {FEATURES} features; made in "
          f"{time.perf_counter() - t0:.1f} s")

    model = Recognizer(hidden, layers)
    params = list(model.parameters())
    print(f"bidirectional GRU ({layers} x {hidden}) + CTC: {sum(p.numel() for p in params):,} parameters")
    optimizer = optim.Adam(params, lr=lr)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps, eta_min=lr / 20)

    start = time.perf_counter()
    bar = tqdm(range(1, steps + 1), desc="training", unit="step", mininterval=1.0) if tqdm else None
    running = None
    for step in (bar if bar is not None else range(1, steps + 1)):
        pick = rng.integers(0, n_train, args.batch)
        x, lengths = batch_arrays([train_specs[i] for i in pick], mean, std)
        targets = [labels(train_words[i]) for i in pick]
        log_probs = model(x, lengths)
        padded = [t + [BLANK] * (10 - len(t)) for t in targets]     # past target_lengths: unread
        loss = F.ctc_loss(log_probs, ts.tensor(padded), list(lengths), [len(t) for t in targets],
                          blank=BLANK)
        optimizer.zero_grad()
        loss.backward()
        optim.clip_grad_norm_(params, 5.0)
        optimizer.step()
        scheduler.step()
        running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
        if bar is not None:
            bar.set_postfix(loss=f"{running:.3f}", refresh=False)
        elif step % max(steps // 10, 1) == 0 or step == 1:
            print(f"step {step:5d}  CTC loss {running:.4f}  ({time.perf_counter() - start:.0f} s)")
    if bar is not None:
        bar.close()
    print(f"trained {steps} steps of {args.batch} in {time.perf_counter() - start:.1f} s "
          f"(CTC loss {running:.4f} per letter)")

    greedy, lps = recognise(model, test_specs, mean, std)
    greedy_cer = cer(greedy, test_words)
    exact = np.mean([g == w for g, w in zip(greedy, test_words)])
    print(f"held-out character error rate, greedy decoding: {greedy_cer:.2%} "
          f"({sum(edit_distance(g, w) for g, w in zip(greedy, test_words))} edits in "
          f"{sum(len(w) for w in test_words)} letters; {exact:.1%} of words exact)")
    if not args.quick:
        t0 = time.perf_counter()
        beam, _ = recognise(model, test_specs, mean, std, beam=8)
        print(f"held-out character error rate, prefix beam search (8): {cer(beam, test_words):.2%} "
              f"({time.perf_counter() - t0:.1f} s)")
    for g, w in list(zip(greedy, test_words))[:6]:
        print(f"  said {w!r:>11}  recognised {g!r}")

    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "ctc_outputs.png")
    if save_picture(test_specs[0], test_words[0], greedy[0], lps[0], path):
        print(f"spectrogram and per-frame outputs saved to {os.path.abspath(path)}")
    else:
        print("matplotlib is not installed: skipping the picture (pip install matplotlib)")

    print(f"{time.perf_counter() - start:.0f} s from the first training step to here")
    ok = greedy_cer <= target
    print(f"success criterion (held-out character error rate with greedy decoding <= {target:.0%}):",
          "MET" if ok else "NOT MET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
