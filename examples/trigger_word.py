"""Trigger-word detection: a 1-D convolution over the spectrogram of a 10-second clip, then
GRU layers, then a sigmoid at every output step, learn to say "the trigger word has just
been said" (label 1 for a short stretch right after each trigger ends, 0 elsewhere), as
a wake word ("activate") is detected in a stream of audio.

The audio is generated in code: 10 s clips at 4 kHz. A "word" is 2 to 4 syllables, each
a tone (one of 500, 700, 950, 1250, 1600 Hz, with its weaker second harmonic) of 80 to
150 ms, detuned by up to 3%, gliding by up to 4%, faded in and out, after 0 to 40 ms of
silence; every word is said at its own speaker's pitch (every frequency moved by up to
6%) and loudness. The trigger is the tone pattern 700-1250-950 Hz. The other words are
any other pattern, half of them near misses that the model must tell apart by order
(the trigger's syllables in another order, one syllable changed, one missing or one
added: 700-1250, 1250-950, 700-950-1250, 700-1250-950-500 ...), half random. A clip
holds 0 to 3 triggers and 0 to 4 other words at random places (not overlapping, at
least 0.15 s apart), over background: white noise (its level drawn per clip) and a hum
of 2 to 4 harmonics of 90 to 220 Hz.

Features, with NumPy's FFT: 25 ms Hann windows every 12.5 ms, |FFT|^2 of 128 points,
pooled into 32 bands of 62.5 Hz, log(1e-6 + energy), normalised per band by the
training clips' mean and standard deviation: (799 frames, 32) per clip.

The model (the notes' model, scaled down): nn.Conv1d(32 -> 64 filters, kernel 15,
stride 4) over the frames (the notes' 196 filters, kernel 15, stride 4), ReLU, then
nn.LayerNorm where the notes have batch norm; 2 layers of nn.GRU of 64 units (the notes'
two GRUs of 128; their dropout is left out: every training batch is freshly generated
audio, so the model never sees a clip twice), then nn.Linear(64, 1) at each of the 197
output steps (one per 50 ms) -> sigmoid. The GRU is unidirectional, so an output depends
only on the audio heard so far, as in streaming detection. Loss: per-step
F.binary_cross_entropy_with_logits; Adam with a cosine learning rate.

Labels, as the notes do, 1 for a short stretch after each trigger ends: output step k
has heard the audio up to t_k = (4 k + 14) * 12.5 ms + 25 ms; its label is 1 when a
trigger ended between 0.45 s and 0.05 s before t_k (8 steps, the notes' 50 steps of
their 1375 scaled to our 197), else 0. The stretch starts one step (50 ms) after the end
rather than at once: the last syllable fades out, so where exactly a trigger ends is
uncertain by about a step, and with the label starting at the end a model that fires
one step early, still hearing the fade, would fire before the end; measured with
--quick, most of the errors were such pairs (one early detection, one missed trigger).

Detection and the criterion: a detection is a step where the predicted probability
crosses 0.5 upwards (or starts at or above it), at time t_k. It is a true positive when
it lies within 0.5 s after the end of a trigger (end <= t_k <= end + 0.5 s) and is that
trigger's first; any other crossing (elsewhere, or a second one for the same trigger) is
a false positive, and a trigger without one is missed. Success criterion: per-event
F1 = 2 TP / (2 TP + FP + FN) >= 0.9 on 200 held-out clips (full mode; `--quick`: F1 >=
0.6 on 100 held-out clips, after a short training of a 1-layer model).

    python examples/trigger_word.py            # full mode, a few minutes on 2 CPU cores
    python examples/trigger_word.py --quick    # smoke run (CI)

It saves a picture of held-out clips: each clip's spectrogram with the words marked,
and under it the predicted probability over time with the label stretches and the
detections (skipped with a message without matplotlib).
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

try:
    from tqdm import tqdm
except ImportError:  # no progress bar without tqdm
    tqdm = None

RATE = 4000                        # samples per second
CLIP = 10.0                        # seconds
WINDOW, HOP, NFFT = 100, 50, 128   # 25 ms windows every 12.5 ms
BANDS = 32                         # 64 FFT bins (0-2 kHz, DC dropped) pooled in pairs
KERNEL, STRIDE = 15, 4             # the notes' Conv1D
N_FRAMES = 1 + (int(CLIP * RATE) - WINDOW) // HOP               # 799
N_STEPS = (N_FRAMES - KERNEL) // STRIDE + 1                     # 197 output steps
LABEL_DELAY = 0.05                 # the label starts one output step after a trigger ends,
LABEL_S = 0.4                      # and lasts this long (8 steps)
WINDOW_S = 0.5                     # a detection counts within this long after the end
PITCHES = [500.0, 700.0, 950.0, 1250.0, 1600.0]
TRIGGER = (1, 3, 2)                # 700-1250-950 Hz
HUM_TABLE = 4096                   # points per period of the background hum


def step_times():
    """t_k: the time (s) up to which output step k has heard the audio."""
    k = np.arange(N_STEPS)
    return ((STRIDE * k + KERNEL - 1) * HOP + WINDOW) / RATE


# ---------------------------------------------------------------- the audio

def contains(word, pattern):
    n = len(pattern)
    return any(tuple(word[i:i + n]) == pattern for i in range(len(word) - n + 1))


def other_word(rng):
    """A word that is not the trigger and does not contain it: half near misses, half
    random patterns of 2-4 syllables."""
    while True:
        if rng.random() < 0.5:
            w = list(TRIGGER)
            kind = rng.integers(4)
            if kind == 0:
                w = list(rng.permutation(w))                            # another order
            elif kind == 1:
                w[rng.integers(3)] = rng.integers(len(PITCHES))         # one syllable changed
            elif kind == 2:
                del w[rng.integers(3)]                                   # one missing
            else:
                w.insert(rng.integers(4), rng.integers(len(PITCHES)))   # one added
        else:
            w = list(rng.integers(0, len(PITCHES), rng.integers(2, 5)))
        w = tuple(int(s) for s in w)
        if not contains(w, TRIGGER):
            return w


def word_audio(rng, word):
    """A word's waveform: its syllables' tones at one speaker's pitch and loudness."""
    voice = rng.uniform(0.94, 1.06)
    pieces = []
    for k, s in enumerate(word):
        if k:
            pieces.append(np.zeros(int(rng.uniform(0.0, 0.04) * RATE)))
        n = int(rng.uniform(0.08, 0.15) * RATE)
        t = np.arange(n) / RATE
        f0 = PITCHES[s] * voice * (1 + rng.uniform(-0.03, 0.03))
        glide = f0 * rng.uniform(-0.04, 0.04)
        phase = 2 * np.pi * (f0 * t + glide * t ** 2 / (2 * t[-1])) + rng.uniform(0, 2 * np.pi)
        tone = np.sin(phase) + rng.uniform(0.1, 0.4) * np.sin(2 * phase)
        ramp = min(n // 4, int(0.015 * RATE))
        tone[:ramp] *= np.linspace(0, 1, ramp)
        tone[-ramp:] *= np.linspace(1, 0, ramp)
        pieces.append(tone * rng.uniform(0.7, 1.0))
    return np.concatenate(pieces) * rng.uniform(0.3, 1.0)


def clip(rng):
    """A 10 s clip: (waveform, [(start s, end s, is_trigger)] in time order)."""
    n = int(CLIP * RATE)
    # the hum: one period of its harmonics, tabulated, read at its frequency
    u = np.arange(HUM_TABLE) / HUM_TABLE
    period = sum(rng.uniform(0, 0.08) * np.sin(2 * np.pi * h * u + rng.uniform(0, 2 * np.pi))
                 for h in range(1, rng.integers(3, 6)))
    cycles = rng.uniform(90, 220) / RATE * np.arange(n) + rng.random()
    wave = period[((cycles % 1.0) * HUM_TABLE).astype(np.intp)]
    wave += rng.normal(0, rng.uniform(0.02, 0.25), n)
    words = [(True, None)] * int(rng.integers(0, 4)) + [(False, None)] * int(rng.integers(0, 5))
    placed = []
    for is_trigger, _ in words:
        audio = word_audio(rng, TRIGGER if is_trigger else other_word(rng))
        # a trigger ends early enough for its whole detection window to lie in the clip
        latest = n - len(audio) - (int(WINDOW_S * RATE) if is_trigger else 0)
        for _ in range(50):            # random places until one does not overlap
            start = int(rng.integers(0, latest))
            end = start + len(audio)
            gap = int(0.15 * RATE)
            if all(end + gap <= s or start >= e + gap for s, e, _ in placed):
                wave[start:end] += audio
                placed.append((start, end, is_trigger))
                break
    return wave, sorted((s / RATE, e / RATE, trig) for s, e, trig in placed)


def log_spectrogram(wave):
    """(N_FRAMES, BANDS): log band energies of 25 ms Hann windows every 12.5 ms."""
    idx = np.arange(WINDOW)[None, :] + HOP * np.arange(N_FRAMES)[:, None]
    power = np.abs(np.fft.rfft(wave[idx] * np.hanning(WINDOW), n=NFFT, axis=1)) ** 2
    bands = power[:, 1:].reshape(N_FRAMES, BANDS, 2).sum(axis=2)
    return np.log(1e-6 + bands).astype(np.float32)


def labels(events):
    """(N_STEPS,) 0/1: 1 where a trigger ended between LABEL_DELAY + LABEL_S and
    LABEL_DELAY before the step's time."""
    t = step_times()
    y = np.zeros(N_STEPS, dtype=np.float32)
    for _, end, trig in events:
        if trig:
            y[(t > end + LABEL_DELAY) & (t <= end + LABEL_DELAY + LABEL_S)] = 1
    return y


def make_batch(rng, n):
    """n clips: spectrograms (n, N_FRAMES, BANDS), labels (n, N_STEPS), events."""
    specs, ys, events = [], [], []
    for _ in range(n):
        wave, ev = clip(rng)
        specs.append(log_spectrogram(wave))
        ys.append(labels(ev))
        events.append(ev)
    return np.stack(specs), np.stack(ys), events


# ---------------------------------------------------------------- the model

class TriggerDetector(nn.Module):
    def __init__(self, filters=64, hidden=64, layers=2):
        super().__init__()
        self.conv = nn.Conv1d(BANDS, filters, KERNEL, stride=STRIDE)
        self.norm = nn.LayerNorm(filters)
        self.rnn = nn.GRU(filters, hidden, num_layers=layers, batch_first=True)
        self.out = nn.Linear(hidden, 1)

    def forward(self, spec):
        """(N, N_FRAMES, BANDS) normalised features -> (N, N_STEPS) logits."""
        x = ts.tensor(spec).transpose(1, 2)                 # (N, BANDS, frames): Conv1d's layout
        h = self.norm(F.relu(self.conv(x)).transpose(1, 2))  # (N, N_STEPS, filters)
        h, _ = self.rnn(h)
        return self.out(h).squeeze(-1)


def predict(model, specs, mean, std, batch=50):
    """(N, N_STEPS) probabilities."""
    model.eval()
    probs = []
    with ts.no_grad():
        for i in range(0, len(specs), batch):
            probs.append(ts.sigmoid(model((specs[i:i + batch] - mean) / std)).numpy())
    model.train()
    return np.concatenate(probs)


# ---------------------------------------------------------------- scoring

def detections(prob, threshold=0.5):
    """Indices of the steps where prob crosses the threshold upwards (step 0 counts when
    it starts at or above it)."""
    above = prob >= threshold
    return np.flatnonzero(above & ~np.r_[False, above[:-1]])


def score_clip(prob, events, times=None):
    """(true positives, false positives, missed triggers, detection steps) for one clip."""
    times = step_times() if times is None else times
    ends = [end for _, end, trig in events if trig]
    found = [False] * len(ends)
    tp = fp = 0
    steps = detections(prob)
    for k in steps:
        for i, end in enumerate(ends):
            if not found[i] and end <= times[k] <= end + WINDOW_S:
                found[i] = True
                tp += 1
                break
        else:
            fp += 1
    return tp, fp, len(ends) - tp, steps


def f1_score(tp, fp, fn):
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0


# ---------------------------------------------------------------- the picture

def save_picture(specs, events, probs, path):
    """Each clip's spectrogram (words marked) over its predicted probability; False
    without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    times = step_times()
    fig, axes = plt.subplots(2 * len(specs), 1, figsize=(12, 3.6 * len(specs)), sharex=True,
                             gridspec_kw={"height_ratios": [1.2, 1] * len(specs)})
    for c, (spec, ev, prob) in enumerate(zip(specs, events, probs)):
        top, bottom = axes[2 * c], axes[2 * c + 1]
        first = (WINDOW - HOP) / 2 / RATE         # frame j drawn around its window's centre
        top.imshow(spec.T, origin="lower", aspect="auto", cmap="magma",
                   extent=(first, first + N_FRAMES * HOP / RATE, 0, RATE / 2))
        for start, end, trig in ev:
            top.axvspan(start, end, ymin=0.96, ymax=1.0, color="lime" if trig else "0.7")
            top.text((start + end) / 2, RATE / 2 * 0.88, "trigger" if trig else "other",
                     color="lime" if trig else "0.85", ha="center", fontsize=8)
        top.set_ylabel("frequency (Hz)")
        tp, fp, fn, steps = score_clip(prob, ev, times)
        top.set_title(f"held-out clip {c}: {sum(t for *_, t in ev)} triggers, "
                      f"{sum(not t for *_, t in ev)} other words; detections: {tp} right, "
                      f"{fp} false, {fn} missed")
        for _, end, trig in ev:
            if trig:
                bottom.axvspan(end, end + WINDOW_S, color="lime", alpha=0.25)
        bottom.plot(times, labels(ev), color="green", lw=1, ls="--", label="label")
        bottom.plot(times, prob, color="C0", lw=1.6, label="P(trigger just said)")
        bottom.axhline(0.5, color="0.5", lw=0.8, ls=":")
        bottom.plot(times[steps], prob[steps], "v", color="red", ms=8, label="detection")
        bottom.set_ylim(-0.05, 1.1)
        bottom.set_ylabel("probability")
        bottom.legend(loc="upper right", fontsize=7, ncol=3)
    axes[-1].set_xlim(0, CLIP)
    axes[-1].set_xlabel("time (s); green: 0.5 s after each trigger ends")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


# ---------------------------------------------------------------- main

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run (CI)")
    parser.add_argument("--steps", type=int, default=None, help="Adam steps (default 800; quick 150)")
    parser.add_argument("--batch", type=int, default=None, help="clips per step (default 32; quick 16)")
    parser.add_argument("--lr", type=float, default=None,
                        help="Adam's learning rate (default 3e-3; quick 1e-2)")
    parser.add_argument("--hidden", type=int, default=None, help="GRU units (default 64; quick 48)")
    parser.add_argument("--layers", type=int, default=None, help="GRU layers (default 2; quick 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=os.path.join("out", "trigger_word"),
                        help="output folder for the picture")
    args = parser.parse_args(argv)
    steps = args.steps or (150 if args.quick else 800)
    batch = args.batch or (16 if args.quick else 32)
    lr = args.lr or (1e-2 if args.quick else 3e-3)
    hidden = args.hidden or (48 if args.quick else 64)
    layers = args.layers or (1 if args.quick else 2)
    n_test = 100 if args.quick else 200
    target = 0.6 if args.quick else 0.9

    ts.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    test_specs, _, test_events = make_batch(np.random.default_rng(args.seed + 10_000), n_test)
    sample, _, _ = make_batch(rng, 64)          # for the per-band normalisation
    mean, std = sample.mean(axis=(0, 1)), sample.std(axis=(0, 1)) + 1e-3
    n_trig = sum(t for ev in test_events for *_, t in ev)
    n_other = sum(not t for ev in test_events for *_, t in ev)
    print(f"{n_test} held-out clips of {CLIP:.0f} s ({n_trig} triggers, {n_other} other words), "
          f"{N_FRAMES} frames of {BANDS} bands -> {N_STEPS} output steps; made in "
          f"{time.perf_counter() - t0:.1f} s; training clips are generated fresh for each step")

    model = TriggerDetector(hidden=hidden, layers=layers)
    params = list(model.parameters())
    print(f"Conv1d({BANDS}, 64, {KERNEL}, stride {STRIDE}) + GRU ({layers} x {hidden}) + Linear: "
          f"{sum(p.numel() for p in params):,} parameters")
    optimizer = optim.Adam(params, lr=lr)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps, eta_min=lr / 20)

    start = time.perf_counter()
    bar = tqdm(range(1, steps + 1), desc="training", unit="step", mininterval=1.0) if tqdm else None
    running = None
    for step in (bar if bar is not None else range(1, steps + 1)):
        x, y, _ = make_batch(rng, batch)
        loss = F.binary_cross_entropy_with_logits(model((x - mean) / std), ts.tensor(y))
        optimizer.zero_grad()
        loss.backward()
        optim.clip_grad_norm_(params, 5.0)
        optimizer.step()
        scheduler.step()
        running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
        if bar is not None:
            bar.set_postfix(loss=f"{running:.4f}", refresh=False)
        elif step % max(steps // 10, 1) == 0 or step == 1:
            print(f"step {step:5d}  BCE {running:.4f}  ({time.perf_counter() - start:.0f} s)")
    if bar is not None:
        bar.close()
    print(f"trained {steps} steps of {batch} clips in {time.perf_counter() - start:.1f} s "
          f"(per-step BCE {running:.4f})")

    probs = predict(model, test_specs, mean, std)
    tp = fp = fn = 0
    for prob, ev in zip(probs, test_events):
        a, b, c, _ = score_clip(prob, ev)
        tp, fp, fn = tp + a, fp + b, fn + c
    f1 = f1_score(tp, fp, fn)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    print(f"held-out per-event F1 {f1:.3f} (precision {precision:.3f}, recall {recall:.3f}: "
          f"{tp} of {tp + fn} triggers detected, {fp} false detections in {n_test} clips)")
    y_test = np.stack([labels(ev) for ev in test_events])
    print(f"per-step accuracy {np.mean((probs >= 0.5) == (y_test == 1)):.4f} "
          f"(all-zero baseline {1 - y_test.mean():.4f})")

    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "trigger_word.png")
    if save_picture(test_specs[:3], test_events[:3], probs[:3], path):
        print(f"spectrograms and predicted probabilities saved to {os.path.abspath(path)}")
    else:
        print("matplotlib is not installed: skipping the picture (pip install matplotlib)")

    print(f"{time.perf_counter() - start:.0f} s from the first training step to here")
    ok = f1 >= target
    print(f"success criterion (held-out per-event F1 >= {target}):", "MET" if ok else "NOT MET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
