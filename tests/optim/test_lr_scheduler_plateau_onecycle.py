"""lr_scheduler.ReduceLROnPlateau and OneCycleLR against torch 2.13: learning-rate (and
momentum / beta1) sequences for every mode and option, two param groups, state_dict
round trips, and the errors (stepping OneCycleLR past total_steps among them)."""
import copy
import math

import numpy as np
import pytest
from torch_ref import needs_torch, torch

import tinygrad_seq as ts
from tinygrad_seq import optim
from tinygrad_seq.optim import lr_scheduler


def _optimizers(lib, kind="SGD"):
    """The same two-group optimizer in one framework (lib: ts or torch)."""
    p, q = lib.zeros(1, requires_grad=True), lib.zeros(1, requires_grad=True)
    groups = [{"params": [p]}, {"params": [q], "lr": 0.02}]
    if kind == "SGD":
        return lib.optim.SGD(groups, lr=0.1, momentum=0.9)
    if kind == "Adam":
        return lib.optim.Adam(groups, lr=0.1, betas=(0.8, 0.99))
    return getattr(lib.optim, kind)(groups, lr=0.1)


def _groups(opt, keys=("lr",)):
    return [[g[k] for k in keys if k in g] for g in opt.param_groups]


# ---------------------------------------------------------------- ReduceLROnPlateau

METRICS = ([1.0, 0.9, 0.95, 0.95, 0.95, 0.96, 0.899, 0.97, 0.97, 0.97, 0.97, 0.97, 0.5]
           + [0.5 + 1e-5 * i for i in range(12)] + [0.49995] * 3 + [0.3, 0.31, 0.32] * 4)
PLATEAU = [dict(), dict(patience=2), dict(patience=1, factor=0.5, cooldown=2),
           dict(mode="max", patience=1, factor=0.3), dict(threshold_mode="abs", threshold=0.01,
                                                          patience=1),
           dict(mode="max", threshold_mode="abs", threshold=0.05, patience=0, cooldown=1),
           dict(patience=0, factor=0.5, min_lr=0.01), dict(patience=0, factor=0.5, min_lr=[0.03, 0.001]),
           dict(patience=0, factor=0.9, eps=0.005), dict(patience=3, threshold=0.1)]


@needs_torch
@pytest.mark.parametrize("kwargs", PLATEAU, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()) or "defaults")
def test_plateau_sequences_match_torch(kwargs):
    opt, topt = _optimizers(ts), _optimizers(torch)
    sched = lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
    tsched = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kwargs)
    assert sched.get_last_lr() == tsched.get_last_lr() == [0.1, 0.02]
    values = METRICS if kwargs.get("mode") != "max" else [-m for m in METRICS]
    for i, metric in enumerate(values):
        sched.step(metric)
        tsched.step(metric)
        assert sched.get_last_lr() == tsched.get_last_lr(), f"step {i + 1}"
        assert _groups(opt) == _groups(topt)
        for attr in ("best", "num_bad_epochs", "cooldown_counter", "last_epoch"):
            assert getattr(sched, attr) == getattr(tsched, attr), (attr, i + 1)
    assert sched.get_last_lr() != [0.1, 0.02]         # it did reduce


@needs_torch
def test_plateau_takes_a_tensor_metric_and_round_trips():
    opt, topt = _optimizers(ts), _optimizers(torch)
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=1, cooldown=1)
    tsched = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, patience=1, cooldown=1)
    for m in METRICS[:8]:
        sched.step(ts.tensor(m))
        tsched.step(torch.tensor(m))
    state = copy.deepcopy(sched.state_dict())
    assert "optimizer" not in state
    assert set(state) >= {"best", "num_bad_epochs", "cooldown_counter", "mode", "factor",
                          "patience", "min_lrs", "last_epoch"}
    assert set(tsched.state_dict()) == set(state)
    opt2 = _optimizers(ts)
    for g, lr in zip(opt2.param_groups, sched.get_last_lr()):
        g["lr"] = lr
    sched2 = lr_scheduler.ReduceLROnPlateau(opt2)
    sched2.load_state_dict(state)
    for m in METRICS[8:]:
        sched.step(m)
        sched2.step(m)
        tsched.step(m)
        assert sched.get_last_lr() == sched2.get_last_lr() == tsched.get_last_lr()


def test_plateau_errors():
    opt = _optimizers(ts)
    with pytest.raises(ValueError, match="factor should be < 1.0"):
        lr_scheduler.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(TypeError, match="not an Optimizer"):
        lr_scheduler.ReduceLROnPlateau(object())
    with pytest.raises(ValueError, match="expected 2 min_lrs, got 1"):
        lr_scheduler.ReduceLROnPlateau(opt, min_lr=[0.1])
    with pytest.raises(ValueError, match="mode must be 'min' or 'max', got 'up'"):
        lr_scheduler.ReduceLROnPlateau(opt, mode="up")
    with pytest.raises(ValueError, match="threshold_mode must be 'rel' or 'abs'"):
        lr_scheduler.ReduceLROnPlateau(opt, threshold_mode="relative")
    with pytest.raises(TypeError, match="patience"):
        lr_scheduler.ReduceLROnPlateau(opt, patience=1.5)
    sched = lr_scheduler.ReduceLROnPlateau(opt)
    with pytest.raises(TypeError):
        sched.step()                  # the metric is required
    with pytest.warns(UserWarning, match="deprecated"):
        sched.step(1.0, epoch=3)
    assert sched.last_epoch == 3


# ---------------------------------------------------------------- OneCycleLR

ONECYCLE = [dict(max_lr=1.0, total_steps=20), dict(max_lr=[0.5, 0.1], total_steps=30),
            dict(max_lr=0.3, epochs=4, steps_per_epoch=6, pct_start=0.25),
            dict(max_lr=1.0, total_steps=25, anneal_strategy="linear"),
            dict(max_lr=1.0, total_steps=24, three_phase=True),
            dict(max_lr=2.0, total_steps=17, three_phase=True, anneal_strategy="linear",
                 pct_start=0.4, div_factor=10.0, final_div_factor=100.0),
            dict(max_lr=1.0, total_steps=20, cycle_momentum=False),
            dict(max_lr=1.0, total_steps=20, base_momentum=[0.8, 0.7], max_momentum=0.9),
            dict(max_lr=1.0, total_steps=10, pct_start=0.0),
            dict(max_lr=1.0, total_steps=10, pct_start=0.95)]


@needs_torch
@pytest.mark.parametrize("kind", ["SGD", "Adam", "RMSprop"])
@pytest.mark.parametrize("kwargs", ONECYCLE, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()))
def test_onecycle_sequences_match_torch(kwargs, kind):
    opt, topt = _optimizers(ts, kind), _optimizers(torch, kind)
    sched = lr_scheduler.OneCycleLR(opt, **kwargs)
    tsched = torch.optim.lr_scheduler.OneCycleLR(topt, **kwargs)
    keys = ("lr", "momentum", "betas", "initial_lr", "max_lr", "min_lr", "max_momentum",
            "base_momentum")
    total = kwargs.get("total_steps") or kwargs["epochs"] * kwargs["steps_per_epoch"]
    seen = [sched.get_last_lr()]
    assert sched.get_last_lr() == tsched.get_last_lr()
    assert _groups(opt, keys) == _groups(topt, keys)
    for i in range(total - 1):
        opt.step()
        topt.step()
        sched.step()
        tsched.step()
        lrs, tlrs = sched.get_last_lr(), tsched.get_last_lr()
        assert all(math.isclose(a, b, rel_tol=1e-15, abs_tol=1e-18) or (a != a and b != b)
                   for a, b in zip(lrs, tlrs)), (i + 1, lrs, tlrs)
        assert _same_nan(_groups(opt, keys), _groups(topt, keys)), i + 1
        seen.append(lrs)
    if kwargs.get("pct_start", 0.3) not in (0.0, 0.95):
        peak = kwargs["max_lr"] if isinstance(kwargs["max_lr"], list) else [kwargs["max_lr"]] * 2
        assert max(s[0] for s in seen) == pytest.approx(peak[0], rel=0.05)
    # one step more: the last scheduled value; one further: torch's ValueError
    sched.step()
    tsched.step()
    assert _same_nan([sched.get_last_lr()], [tsched.get_last_lr()])
    with pytest.raises(ValueError, match=f"tried to step {total + 1} times"):
        sched.step()
    with pytest.raises(ValueError, match=f"Tried to step {total + 1} times"):
        tsched.step()


def _same_nan(a, b):
    """Equal nested lists of numbers (tuples for betas), nan equal to nan."""
    def flat(x):
        for v in x:
            if isinstance(v, (list, tuple)):
                yield from flat(v)
            else:
                yield v
    fa, fb = list(flat(a)), list(flat(b))
    return len(fa) == len(fb) and all(x == y or (x != x and y != y) or
                                      math.isclose(x, y, rel_tol=1e-15, abs_tol=1e-18)
                                      for x, y in zip(fa, fb))


def test_onecycle_follows_its_closed_form():
    opt = optim.SGD([ts.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    sched = lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=11, pct_start=0.5)
    lrs, moms = [opt.param_groups[0]["lr"]], [opt.param_groups[0]["momentum"]]
    for _ in range(10):
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
        moms.append(opt.param_groups[0]["momentum"])
    lo, hi, end = 1.0 / 25, 1.0, 1.0 / 25 / 1e4
    up = [hi + (lo - hi) / 2 * (1 + math.cos(math.pi * t / 4.5)) for t in range(5)]
    np.testing.assert_allclose(lrs[:5], up, rtol=1e-14)
    down = [end + (hi - end) / 2 * (1 + math.cos(math.pi * (t - 4.5) / 5.5)) for t in range(5, 11)]
    np.testing.assert_allclose(lrs[5:], down, rtol=1e-12)
    assert lrs[-1] == pytest.approx(end) and moms[0] == 0.95
    assert min(moms) == pytest.approx(0.85, abs=0.01) and moms[-1] == pytest.approx(0.95)


@needs_torch
def test_onecycle_state_dict_round_trip_and_resume():
    opt = _optimizers(ts)
    sched = lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=20)
    for _ in range(7):
        sched.step()
    state = copy.deepcopy(sched.state_dict())
    assert state["last_epoch"] == 7 and state["total_steps"] == 20
    opt2 = _optimizers(ts)
    opt2.load_state_dict(copy.deepcopy(opt.state_dict()))
    sched2 = lr_scheduler.OneCycleLR(opt2, max_lr=1.0, total_steps=20, last_epoch=6)
    sched2.load_state_dict(state)
    for _ in range(13):
        sched.step()
        sched2.step()
        assert sched.get_last_lr() == sched2.get_last_lr()
        assert _groups(opt, ("momentum",)) == _groups(opt2, ("momentum",))


@needs_torch
def test_onecycle_errors_are_torchs():
    def both(**kwargs):
        errors = []
        for lib in (ts, torch):
            with pytest.raises(ValueError) as info:
                lib.optim.lr_scheduler.OneCycleLR(_optimizers(lib), **kwargs)
            errors.append(str(info.value))
        return errors
    assert "total_steps" in both(max_lr=1.0, total_steps=0)[0]
    assert "total_steps" in both(max_lr=1.0, total_steps=2.5)[0]
    assert "either total_steps or (epochs and steps_per_epoch)" in both(max_lr=1.0, epochs=3)[0]
    assert "epochs" in both(max_lr=1.0, epochs=0, steps_per_epoch=3)[0]
    assert "steps_per_epoch" in both(max_lr=1.0, epochs=2, steps_per_epoch=-1)[0]
    assert "pct_start" in both(max_lr=1.0, total_steps=5, pct_start=1.5)[0]
    assert "pct_start" in both(max_lr=1.0, total_steps=5, pct_start=0)[0]   # an int, as torch
    assert "anneal_strategy" in both(max_lr=1.0, total_steps=5, anneal_strategy="exp")[0]
    assert "max_lr" in both(max_lr=[1.0], total_steps=5)[0]
    for lib in (ts, torch):
        with pytest.raises(ValueError, match="(?i)momentum"):
            lib.optim.lr_scheduler.OneCycleLR(_optimizers(lib, "Adagrad"), max_lr=1.0, total_steps=5)
        # without momentum cycling Adagrad is fine
        lib.optim.lr_scheduler.OneCycleLR(_optimizers(lib, "Adagrad"), max_lr=1.0, total_steps=5,
                                          cycle_momentum=False)
    with pytest.raises(TypeError, match="not an Optimizer"):
        lr_scheduler.OneCycleLR(None, max_lr=1.0, total_steps=5)
