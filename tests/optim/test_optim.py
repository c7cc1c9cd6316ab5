"""Optimizers, gradient clipping and learning-rate schedules against torch.optim with the
same initial weights and the same losses (trajectories over several steps, every
option), param groups, state_dict structure and round trips (also from a PyTorch
state_dict), row-sparse gradients (SGD, SparseAdam, clipping), and the errors."""
import copy
import itertools
import math

import numpy as np
import pytest

import tinygrad_seq as ts
import tinygrad_seq.functional as F
from tinygrad_seq import nn, optim
from tinygrad_seq.optim import lr_scheduler

try:
    import torch
except ImportError:        # the NumPy-formula tests still run
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


# ---------------------------------------------------------------- a small problem in both frameworks

def initial(dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((3, 4)).astype(dtype), rng.standard_normal(3).astype(dtype)]


X = np.random.default_rng(9).standard_normal((5, 4))
Y = np.random.default_rng(10).standard_normal((5, 3))


def loss_ts(params):
    w, b = params
    x, y = ts.tensor(X.astype(w.dtype)), ts.tensor(Y.astype(w.dtype))
    return (((x @ w.T + b).tanh() - y) ** 2).mean()


def loss_torch(params):
    w, b = params
    x, y = torch.from_numpy(X.astype(w.detach().numpy().dtype)), torch.from_numpy(Y.astype(w.detach().numpy().dtype))
    return (((x @ w.T + b).tanh() - y) ** 2).mean()


def step_both(opt, topt, mine, theirs):
    """One step of our optimizer and of torch's, each on the same loss of its parameters."""
    opt.zero_grad()
    topt.zero_grad()
    loss_ts(mine).backward()
    loss_torch(theirs).backward()
    opt.step()
    topt.step()


def run_both(ts_cls, torch_cls, kwargs, steps=6, dtype=np.float64, groups=None):
    """Train the same parameters with both; return the per-step weights of each."""
    init = initial(dtype)
    mine = [ts.tensor(a, requires_grad=True) for a in init]
    theirs = [torch.tensor(a, requires_grad=True) for a in init]
    if groups is None:
        opt, topt = ts_cls(mine, **kwargs), torch_cls(theirs, **kwargs)
    else:       # two groups: the second with its own options
        opt = ts_cls([{"params": [mine[0]]}, {"params": [mine[1]], **groups}], **kwargs)
        topt = torch_cls([{"params": [theirs[0]]}, {"params": [theirs[1]], **groups}], **kwargs)
    out, tout = [], []
    for _ in range(steps):
        step_both(opt, topt, mine, theirs)
        out.append([p.numpy() for p in mine])
        tout.append([p.detach().numpy().copy() for p in theirs])
    return out, tout, opt, topt


def assert_same_trajectory(out, tout, rtol=1e-10, atol=1e-12):
    for step, (a, b) in enumerate(zip(out, tout)):
        for p, q in zip(a, b):
            np.testing.assert_allclose(p, q, rtol=rtol, atol=atol, err_msg=f"step {step + 1}")


SGD_OPTIONS = [dict(lr=0.1)] + [
    dict(lr=0.05, momentum=m, dampening=d, weight_decay=wd, nesterov=n, maximize=mx)
    for m, d, wd, n, mx in itertools.product((0.0, 0.9), (0.0, 0.3), (0.0, 0.1), (False, True),
                                             (False, True))
    if not (n and (m == 0 or d != 0))]


@needs_torch
@pytest.mark.parametrize("kwargs", SGD_OPTIONS, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()))
def test_sgd_trajectory_matches_torch(kwargs):
    out, tout, _, _ = run_both(optim.SGD, torch.optim.SGD, kwargs)
    assert_same_trajectory(out, tout)


ADAM_OPTIONS = [dict(), dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6),
                dict(lr=0.01, weight_decay=0.1), dict(lr=0.01, amsgrad=True),
                dict(lr=0.01, maximize=True, amsgrad=True, weight_decay=0.05),
                dict(lr=0.02, betas=(0.3, 0.5))]      # beta1 < 0.5: lerp's other branch


@needs_torch
@pytest.mark.parametrize("name", ["Adam", "AdamW"])
@pytest.mark.parametrize("kwargs", ADAM_OPTIONS, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()) or "defaults")
def test_adam_and_adamw_trajectories_match_torch(name, kwargs):
    out, tout, opt, topt = run_both(getattr(optim, name), getattr(torch.optim, name), kwargs)
    assert_same_trajectory(out, tout)
    state, tstate = opt.state_dict()["state"], topt.state_dict()["state"]
    assert state.keys() == tstate.keys()
    for k in state:
        assert state[k].keys() == tstate[k].keys()
        for name, v in state[k].items():
            np.testing.assert_allclose(v.numpy(), tstate[k][name].numpy(), rtol=1e-10, atol=1e-14)
            assert isinstance(v, ts.Tensor)
    assert state[0]["step"].dtype == ts.float32 and state[0]["step"].item() == 6


@needs_torch
def test_float32_trajectories_stay_float32_and_close_to_torch():
    for ts_cls, torch_cls, kwargs in ((optim.SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9)),
                                      (optim.Adam, torch.optim.Adam, dict(lr=0.01, amsgrad=True)),
                                      (optim.AdamW, torch.optim.AdamW, dict(lr=0.01))):
        out, tout, opt, _ = run_both(ts_cls, torch_cls, kwargs, dtype=np.float32)
        assert all(p.dtype == np.float32 for p in out[-1])
        assert_same_trajectory(out, tout, rtol=2e-5, atol=2e-6)


@needs_torch
def test_param_groups_with_their_own_options_match_torch():
    for ts_cls, torch_cls, kwargs, group in (
            (optim.SGD, torch.optim.SGD, dict(lr=0.1), dict(lr=0.01, momentum=0.5)),
            (optim.Adam, torch.optim.Adam, dict(lr=0.01), dict(lr=0.1, betas=(0.5, 0.9), amsgrad=True)),
            (optim.AdamW, torch.optim.AdamW, dict(lr=0.01), dict(weight_decay=0.5))):
        out, tout, opt, topt = run_both(ts_cls, torch_cls, kwargs, groups=group)
        assert_same_trajectory(out, tout)
        mine, theirs = opt.state_dict()["param_groups"], topt.state_dict()["param_groups"]
        for g, tg in zip(mine, theirs):
            assert g["params"] == tg["params"]
            for key, value in g.items():
                assert tg[key] == value, key


# ---------------------------------------------------------------- the update rules in NumPy

def gradient_sequence(shape, steps, seed=3):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for _ in range(steps)]


def run_with_gradients(opt_cls, kwargs, w0, grads):
    p = ts.tensor(w0.copy(), requires_grad=True)
    opt = opt_cls([p], **kwargs)
    out = []
    for g in grads:
        p.grad = ts.tensor(g)
        opt.step()
        out.append(p.numpy())
    return out


@pytest.mark.parametrize("momentum, dampening, weight_decay, nesterov, maximize",
                         [(0, 0, 0, False, False), (0.9, 0, 0, False, True), (0.9, 0.5, 0.1, False, False),
                          (0.8, 0, 0.05, True, False), (0.5, 0, 0, True, True)])
def test_sgd_follows_its_formula_in_numpy(momentum, dampening, weight_decay, nesterov, maximize):
    lr, w = 0.1, np.random.default_rng(0).standard_normal((3, 2))
    grads = gradient_sequence(w.shape, 5)
    got = run_with_gradients(optim.SGD, dict(lr=lr, momentum=momentum, dampening=dampening,
                                             weight_decay=weight_decay, nesterov=nesterov,
                                             maximize=maximize), w, grads)
    b = None
    for step, g in enumerate(grads):
        g = -g if maximize else g
        g = g + weight_decay * w
        if momentum:
            b = g.copy() if b is None else momentum * b + (1 - dampening) * g
            g = g + momentum * b if nesterov else b
        w = w - lr * g
        np.testing.assert_allclose(got[step], w, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("cls, weight_decay, amsgrad, maximize",
                         [(optim.Adam, 0, False, False), (optim.Adam, 0.1, True, False),
                          (optim.Adam, 0.05, False, True), (optim.AdamW, 0.1, False, False),
                          (optim.AdamW, 0.2, True, True)])
def test_adam_and_adamw_follow_their_formula_in_numpy(cls, weight_decay, amsgrad, maximize):
    lr, (b1, b2), eps = 0.01, (0.9, 0.99), 1e-6
    w = np.random.default_rng(1).standard_normal((4,))
    grads = gradient_sequence(w.shape, 6)
    got = run_with_gradients(cls, dict(lr=lr, betas=(b1, b2), eps=eps, weight_decay=weight_decay,
                                       amsgrad=amsgrad, maximize=maximize), w, grads)
    m = v = v_max = np.zeros_like(w)
    for t, g in enumerate(grads, start=1):
        g = -g if maximize else g
        if cls is optim.AdamW:
            w = w * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        v_max = np.maximum(v_max, v)
        denom = np.sqrt(v_max if amsgrad else v) / np.sqrt(1 - b2 ** t) + eps
        w = w - lr / (1 - b1 ** t) * m / denom
        np.testing.assert_allclose(got[t - 1], w, rtol=1e-12, atol=1e-14)


def test_sparse_adam_follows_its_lazy_formula_in_numpy():
    lr, (b1, b2), eps = 0.05, (0.9, 0.999), 1e-8
    w = np.random.default_rng(2).standard_normal((5, 2))
    e = nn.Embedding.from_pretrained(ts.tensor(w), freeze=False, sparse=True)
    opt = optim.SparseAdam(e.parameters(), lr=lr, betas=(b1, b2), eps=eps)
    m, v = np.zeros_like(w), np.zeros_like(w)
    rng = np.random.default_rng(3)
    for t in range(1, 5):
        idx = rng.integers(0, 5, size=4)
        r = rng.standard_normal((4, 2))
        opt.zero_grad()
        (e(ts.tensor(idx)) * ts.tensor(r)).sum().backward()
        opt.step()
        g = np.zeros_like(w)
        np.add.at(g, idx, r)
        rows = np.unique(idx)              # only these rows move, with the global step t
        m[rows] = b1 * m[rows] + (1 - b1) * g[rows]
        v[rows] = b2 * v[rows] + (1 - b2) * g[rows] ** 2
        w[rows] -= lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t) * m[rows] / (np.sqrt(v[rows]) + eps)
        np.testing.assert_allclose(e.weight.numpy(), w, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
def test_clip_grad_norm_follows_its_formula_in_numpy(norm_type):
    rng = np.random.default_rng(4)
    gs = [rng.standard_normal((3, 2)), rng.standard_normal(4)]
    params = [ts.zeros(g.shape, dtype=ts.float64, requires_grad=True) for g in gs]
    for p, g in zip(params, gs):
        p.grad = ts.tensor(g)
    flat = np.concatenate([g.ravel() for g in gs])
    total = np.abs(flat).max() if norm_type == math.inf else (np.abs(flat) ** norm_type).sum() ** (1 / norm_type)
    got = optim.clip_grad_norm_(params, 0.7, norm_type=norm_type)
    np.testing.assert_allclose(got.item(), total, rtol=1e-12)
    coef = min(0.7 / (total + 1e-6), 1.0)
    for p, g in zip(params, gs):
        np.testing.assert_allclose(p.grad.numpy(), g * coef, rtol=1e-12)


def test_schedules_follow_their_closed_forms():
    def lrs(make, epochs=15):
        opt, _ = two_group_optimizers()
        sched = make(opt)
        out = [sched.get_last_lr()[0]]
        for _ in range(epochs):
            opt.step()
            sched.step()
            out.append(sched.get_last_lr()[0])
        return np.array(out)
    t = np.arange(16)
    base = 0.1
    np.testing.assert_allclose(lrs(lambda o: lr_scheduler.StepLR(o, 4, gamma=0.5)), base * 0.5 ** (t // 4), rtol=1e-12)
    np.testing.assert_allclose(lrs(lambda o: lr_scheduler.ExponentialLR(o, 0.9)), base * 0.9 ** t, rtol=1e-12)
    np.testing.assert_allclose(lrs(lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=15, eta_min=0.01)),
                               0.01 + (base - 0.01) * (1 + np.cos(np.pi * t / 15)) / 2, rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(lrs(lambda o: lr_scheduler.LinearLR(o, start_factor=0.2, total_iters=5)),
                               base * (0.2 + 0.8 * np.minimum(t, 5) / 5), rtol=1e-12)
    np.testing.assert_allclose(lrs(lambda o: lr_scheduler.LambdaLR(o, lambda e: 1 / (1 + e))), base / (1 + t),
                               rtol=1e-12)


def test_defaults_and_group_filling_follow_torch():
    p = ts.zeros(2, requires_grad=True)
    assert optim.SGD([p]).defaults == dict(lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                                           nesterov=False, maximize=False)
    a = optim.Adam([p]).param_groups[0]
    assert (a["lr"], a["betas"], a["eps"], a["weight_decay"], a["amsgrad"]) == (1e-3, (0.9, 0.999), 1e-8, 0, False)
    assert optim.AdamW([p]).param_groups[0]["weight_decay"] == 1e-2
    q = ts.zeros(3, requires_grad=True)
    opt = optim.SGD([p], lr=0.5, momentum=0.9)
    opt.add_param_group({"params": q, "lr": 0.1})
    assert opt.param_groups[1]["lr"] == 0.1 and opt.param_groups[1]["momentum"] == 0.9
    assert opt.param_groups[1]["params"] == [q]
    assert "Parameter Group 1" in repr(opt)


def test_construction_errors():
    p = ts.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([])
    with pytest.raises(TypeError, match="got a Tensor"):
        optim.SGD(p)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [p]}, {"params": [p]}])
    with pytest.raises(ValueError, match="appears twice"):
        optim.SGD([p, p])
    with pytest.raises(ValueError, match="not a leaf"):
        optim.SGD([p * 2])
    with pytest.raises(ts.DTypeError, match="int64"):
        optim.SGD([ts.tensor([1, 2])])
    with pytest.raises(TypeError, match="not a set"):
        optim.SGD({p})
    with pytest.raises(TypeError, match="not a Tensor"):
        optim.SGD([np.zeros(2)])
    with pytest.raises(ValueError, match="Nesterov momentum requires a momentum and zero dampening"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="SGD: lr must be a non-negative number, got -1"):
        optim.SGD([p], lr=-1)
    with pytest.raises(ValueError, match="SGD: momentum must be a non-negative number, got -0.1"):
        optim.SGD([p], momentum=-0.1)
    with pytest.raises(ValueError, match=r"Adam: betas\[1\] must be a number in \[0, 1\), got 1.0"):
        optim.Adam([p], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="Adam: eps must be a non-negative number, got -1"):
        optim.Adam([p], eps=-1)
    with pytest.raises(ValueError, match="AdamW: weight_decay must be a non-negative number, got -1"):
        optim.AdamW([p], weight_decay=-1)
    opt = optim.SGD([p], lr=0.1)
    with pytest.raises(ValueError, match="SGD: lr must be a non-negative number, got -2"):
        opt.add_param_group({"params": [ts.zeros(1, requires_grad=True)], "lr": -2})


def test_zero_grad_to_none_or_in_place_and_step_with_closure():
    p = ts.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss
    loss = opt.step(closure)
    assert loss.item() == 5.0
    np.testing.assert_allclose(p.numpy(), [0.8, 1.6], rtol=1e-6)
    grad = p.grad
    opt.zero_grad(set_to_none=False)
    assert p.grad is grad and not p.grad.numpy().any()
    opt.zero_grad()
    assert p.grad is None
    opt.step()                  # no gradient: nothing changes
    np.testing.assert_allclose(p.numpy(), [0.8, 1.6], rtol=1e-6)


def test_step_bumps_the_version_so_a_stale_graph_refuses_to_backward():
    p = ts.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.Adam([p])
    (p * p).sum().backward()
    y = (p * p).sum()                     # saves p for its backward
    version = p._version[0]
    opt.step()
    assert p._version[0] > version
    with pytest.raises(ts.AutogradError, match="modified by an in-place operation"):
        y.backward()


# ---------------------------------------------------------------- state_dict

def train_steps(opt, params, steps):
    """`steps` plain steps of `opt` on loss_ts."""
    for _ in range(steps):
        opt.zero_grad()
        loss_ts(params).backward()
        opt.step()


def assert_resumes_identically(opt, params, opt2, clone, steps=3):
    """opt and opt2 (loaded from opt's state dict, on a copy of its parameters) take
    `steps` steps side by side: the parameters stay equal, to the bit."""
    for _ in range(steps):
        train_steps(opt, params, 1)
        train_steps(opt2, clone, 1)
    for p, q in zip(params, clone):
        np.testing.assert_array_equal(p.numpy(), q.numpy())


def test_state_dict_round_trip_mid_training_continues_the_same_trajectory():
    for cls, kwargs in ((optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True)),
                        (optim.Adam, dict(lr=0.01, amsgrad=True)),
                        (optim.AdamW, dict(lr=0.01, weight_decay=0.1))):
        params = [ts.tensor(a, requires_grad=True) for a in initial(np.float64)]
        opt = cls(params, **kwargs)
        train_steps(opt, params, 3)
        saved = copy.deepcopy(opt.state_dict())
        clone = [ts.tensor(p.numpy(), requires_grad=True) for p in params]
        opt2 = cls(clone, lr=123.0)            # options come from the state dict
        opt2.load_state_dict(saved)
        assert opt2.param_groups[0]["lr"] == kwargs["lr"]
        assert_resumes_identically(opt, params, opt2, clone)
        # the loaded state is a copy, not the saved dict's arrays
        key = next(iter(opt2.state[clone[0]]))
        assert opt2.state[clone[0]][key].array is not saved["state"][0][key].array


def check_torch_state_dict_continues(name, kwargs, steps_after=3):
    """torch.optim.<name> trained 3 steps; its state dict (tensors as NumPy arrays)
    loads into ours, and both go on identically for `steps_after` steps. Returns our
    optimizer and parameters."""
    init = initial(np.float64)
    theirs = [torch.tensor(a, requires_grad=True) for a in init]
    topt = getattr(torch.optim, name)(theirs, **kwargs)
    for _ in range(3):
        topt.zero_grad()
        loss_torch(theirs).backward()
        topt.step()
    tsd = topt.state_dict()
    sd = {"state": {k: {n: v.numpy().copy() for n, v in s.items()} for k, s in tsd["state"].items()},
          "param_groups": copy.deepcopy(tsd["param_groups"])}
    mine = [ts.tensor(p.detach().numpy(), requires_grad=True) for p in theirs]
    opt = getattr(optim, name)(mine, **kwargs)
    opt.load_state_dict(sd)
    for _ in range(steps_after):
        step_both(opt, topt, mine, theirs)
    for p, q in zip(mine, theirs):
        np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=1e-10, atol=1e-12)
    return opt, mine


@needs_torch
def test_loading_a_torch_state_dict_continues_torch_trajectory():
    """The structure is PyTorch's: a torch.optim state dict (its tensors as NumPy
    arrays) loads into ours and both go on identically."""
    opt, mine = check_torch_state_dict_continues(
        "Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.01))
    assert opt.state[mine[0]]["step"].dtype == ts.float32


def test_state_dict_structure_and_load_errors():
    p, q = ts.zeros(2, requires_grad=True), ts.zeros(3, requires_grad=True)
    opt = optim.SGD([{"params": [p]}, {"params": [q], "lr": 0.5}], lr=0.1, momentum=0.9)
    p.grad, q.grad = ts.ones(2), ts.ones(3)
    opt.step()
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1]]
    assert set(sd["state"]) == {0, 1} and set(sd["state"][1]) == {"momentum_buffer"}
    assert isinstance(sd["state"][1]["momentum_buffer"], ts.Tensor)
    with pytest.raises(ValueError, match="2 parameter groups"):
        optim.SGD([p], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="parameter group 1 has 1 parameters in the state dict but 2"):
        optim.SGD([{"params": [p]}, {"params": [q, ts.zeros(1, requires_grad=True)]}]).load_state_dict(sd)
    bad = copy.deepcopy(sd)
    bad["state"][0]["momentum_buffer"] = np.zeros(5)
    with pytest.raises(ts.ShapeError, match="momentum_buffer"):
        optim.SGD([{"params": [p]}, {"params": [q]}]).load_state_dict(bad)
    # string keys (from a JSON-like store) and float32 values cast to the parameter dtype
    r = ts.zeros(2, dtype=ts.float64, requires_grad=True)
    o = optim.SGD([r], momentum=0.9)
    o.load_state_dict({"state": {"0": {"momentum_buffer": np.ones(2, np.float32)}},
                       "param_groups": [dict(sd["param_groups"][0], params=[0])]})
    assert o.state[r]["momentum_buffer"].dtype == ts.float64


# ---------------------------------------------------------------- row-sparse gradients

def sparse_pair(V=12, D=4, seed=0, sparse=True):
    rng = np.random.default_rng(seed)
    w0 = rng.standard_normal((V, D)).astype(np.float64)
    e = nn.Embedding.from_pretrained(ts.tensor(w0), freeze=False, sparse=sparse)
    if torch is None:
        return e, None
    te = torch.nn.Embedding.from_pretrained(torch.from_numpy(w0.copy()), freeze=False, sparse=sparse)
    return e, te


def batches(steps, V=12, seed=1):
    rng = np.random.default_rng(seed)
    return [(rng.integers(0, V, size=(3, 4)), rng.standard_normal((3, 4, 4))) for _ in range(steps)]


def train_embedding(e, te, opt, topt, steps=5):
    for idx, r in batches(steps):
        opt.zero_grad()
        topt.zero_grad()
        (e(ts.tensor(idx)) * ts.tensor(r)).sum().backward()
        (te(torch.from_numpy(idx)) * torch.from_numpy(r)).sum().backward()
        opt.step()
        topt.step()
    return e.weight.numpy(), te.weight.detach().numpy()


@needs_torch
@pytest.mark.parametrize("kwargs", [dict(lr=0.1), dict(lr=0.1, maximize=True),
                                    dict(lr=0.1, momentum=0.9),
                                    dict(lr=0.1, momentum=0.9, nesterov=True, maximize=True),
                                    dict(lr=0.1, momentum=0.5, dampening=0.2)])
def test_sgd_with_row_sparse_gradients_matches_torch_sparse(kwargs):
    e, te = sparse_pair()
    got, want = train_embedding(e, te, optim.SGD(e.parameters(), **kwargs),
                                torch.optim.SGD(te.parameters(), **kwargs))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_sgd_plain_sparse_update_touches_only_the_looked_up_rows():
    e, _ = sparse_pair()
    before = e.weight.numpy()
    opt = optim.SGD(e.parameters(), lr=0.5)
    e(ts.tensor([2, 2, 7])).sum().backward()
    assert e.weight.grad.is_sparse
    opt.step()
    after = e.weight.numpy()
    changed = np.flatnonzero(np.any(after != before, axis=1))
    assert changed.tolist() == [2, 7]
    np.testing.assert_allclose(after[2], before[2] - 1.0)      # the repeats added up
    np.testing.assert_allclose(after[7], before[7] - 0.5)


@needs_torch
def test_sgd_weight_decay_with_sparse_gradients_is_the_dense_update():
    """PyTorch refuses weight decay with sparse gradients; here it is the dense update."""
    e, te = sparse_pair()
    _, te_dense = sparse_pair(sparse=False)
    got, want = train_embedding(e, te_dense, optim.SGD(e.parameters(), lr=0.1, weight_decay=0.1, momentum=0.9),
                                torch.optim.SGD(te_dense.parameters(), lr=0.1, weight_decay=0.1, momentum=0.9))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@needs_torch
@pytest.mark.parametrize("kwargs", [dict(), dict(lr=0.05, betas=(0.5, 0.9), eps=1e-6),
                                    dict(lr=0.01, maximize=True)])
def test_sparse_adam_matches_torch(kwargs):
    e, te = sparse_pair()
    got, want = train_embedding(e, te, optim.SparseAdam(e.parameters(), **kwargs),
                                torch.optim.SparseAdam(list(te.parameters()), **kwargs), steps=6)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def check_sparse_state_dict_round_trip(opt_cls):
    """Train a sparse embedding 3 steps, copy the optimizer's state_dict into a fresh
    optimizer over a copy of the table, train both 2 more steps: identical weights."""
    e, _ = sparse_pair()
    opt = opt_cls(e.parameters(), lr=0.05)
    for idx, r in batches(3):
        opt.zero_grad()
        (e(ts.tensor(idx)) * ts.tensor(r)).sum().backward()
        opt.step()
    e2 = nn.Embedding.from_pretrained(e.weight.detach(), freeze=False, sparse=True)
    opt2 = opt_cls(e2.parameters(), lr=0.05)
    opt2.load_state_dict(copy.deepcopy(opt.state_dict()))
    for idx, r in batches(2, seed=5):
        for o, m in ((opt, e), (opt2, e2)):
            o.zero_grad()
            (m(ts.tensor(idx)) * ts.tensor(r)).sum().backward()
            o.step()
    np.testing.assert_array_equal(e.weight.numpy(), e2.weight.numpy())


def test_sparse_adam_state_dict_round_trip():
    check_sparse_state_dict_round_trip(optim.SparseAdam)


def test_sparse_and_dense_gradients_go_to_the_right_adam():
    e, _ = sparse_pair()
    e(ts.tensor([1])).sum().backward()
    for cls in (optim.Adam, optim.AdamW):
        with pytest.raises(RuntimeError, match="does not support sparse gradients.*SparseAdam"):
            cls(e.parameters()).step()
    d, _ = sparse_pair(sparse=False)
    d(ts.tensor([1])).sum().backward()
    with pytest.raises(RuntimeError, match="SparseAdam does not support dense gradients"):
        optim.SparseAdam(d.parameters()).step()
    with pytest.raises(ValueError, match="SparseAdam: lr must be a positive number, got 0.0"):
        optim.SparseAdam(d.parameters(), lr=0.0)


def test_zero_grad_in_place_empties_a_sparse_gradient():
    e, _ = sparse_pair()
    opt = optim.SGD(e.parameters(), lr=0.1)
    e(ts.tensor([1, 2])).sum().backward()
    g = e.weight.grad
    opt.zero_grad(set_to_none=False)
    assert e.weight.grad is g and g.nnz == 0
    before = e.weight.numpy()
    opt.step()
    np.testing.assert_array_equal(e.weight.numpy(), before)


# ---------------------------------------------------------------- clipping

def grads_pair(seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s) * scale for s in ((3, 4), (5,), (2, 2, 2))]
    mine = [ts.tensor(np.zeros_like(a), requires_grad=True) for a in arrays]
    theirs = [torch.zeros(a.shape, dtype=torch.float64, requires_grad=True) for a in arrays]
    for p, q, a in zip(mine, theirs, arrays):
        p.grad, q.grad = ts.tensor(a), torch.from_numpy(a.copy())
    return mine, theirs


@needs_torch
@pytest.mark.parametrize("norm_type", [2.0, 1, 3.5, math.inf, "inf", 0.5])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    mine, theirs = grads_pair()
    total = optim.clip_grad_norm_(mine, max_norm, norm_type=norm_type)
    want = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert isinstance(total, ts.Tensor) and total.shape == () and total.dtype == ts.float64
    np.testing.assert_allclose(total.item(), want.item(), rtol=1e-12)
    for p, q in zip(mine, theirs):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_clip_grad_norm_details():
    p = ts.zeros(3, requires_grad=True)
    p.grad = ts.tensor([3.0, 4.0, 0.0])               # float32, norm 5
    total = optim.clip_grad_norm_(p, 1.0)             # a single tensor is accepted
    assert total.dtype == ts.float32 and total.item() == 5.0
    np.testing.assert_allclose(p.grad.numpy(), [0.6, 0.8, 0.0], rtol=1e-6)
    assert optim.clip_grad_norm_([ts.zeros(2, requires_grad=True)], 1.0).item() == 0.0   # no grads
    q = ts.zeros(2, requires_grad=True)
    q.grad = ts.tensor([np.inf, 1.0])
    with pytest.raises(RuntimeError, match="total norm of order 2.0 of the gradients is inf"):
        optim.clip_grad_norm_([q], 1.0, error_if_nonfinite=True)
    assert math.isinf(optim.clip_grad_norm_([q], 1.0).item())


def test_clip_grad_norm_of_sparse_gradients_uses_the_coalesced_values():
    e, _ = sparse_pair()
    d, _ = sparse_pair(sparse=False)
    idx = ts.tensor([1, 1, 1, 4])
    for m in (e, d):
        (m(idx) * 2).sum().backward()
    total = optim.clip_grad_norm_(e.parameters(), 1.0)
    want = optim.clip_grad_norm_(d.parameters(), 1.0)
    np.testing.assert_allclose(total.item(), want.item(), rtol=1e-12)   # not the norm of 4 raw rows
    assert e.weight.grad.is_sparse
    np.testing.assert_allclose(e.weight.grad.to_dense().numpy(), d.weight.grad.numpy(), rtol=1e-12)


@needs_torch
def test_clip_grad_value_matches_torch_and_handles_sparse():
    mine, theirs = grads_pair(scale=2.0)
    optim.clip_grad_value_(mine, 1.5)
    torch.nn.utils.clip_grad_value_(theirs, 1.5)
    for p, q in zip(mine, theirs):
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())
    e, _ = sparse_pair()
    e(ts.tensor([3, 3, 3, 5])).sum().backward()       # row 3 sums to 3, clamped after summing
    optim.clip_grad_value_(e.parameters(), 2.0)
    dense = e.weight.grad.to_dense().numpy()
    assert e.weight.grad.is_coalesced()
    np.testing.assert_array_equal(dense[3], [2.0] * 4)
    np.testing.assert_array_equal(dense[5], [1.0] * 4)


# ---------------------------------------------------------------- learning-rate schedules

SCHEDULES = {
    "StepLR": (lambda o: lr_scheduler.StepLR(o, step_size=3, gamma=0.5),
               lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5)),
    "ExponentialLR": (lambda o: lr_scheduler.ExponentialLR(o, gamma=0.9),
                      lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.9)),
    "CosineAnnealingLR": (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=7, eta_min=0.001),
                          lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=7, eta_min=0.001)),
    "LinearLR": (lambda o: lr_scheduler.LinearLR(o, start_factor=0.1, total_iters=6),
                 lambda o: torch.optim.lr_scheduler.LinearLR(o, start_factor=0.1, total_iters=6)),
    "LinearLR-default": (lambda o: lr_scheduler.LinearLR(o),
                         lambda o: torch.optim.lr_scheduler.LinearLR(o)),
    "LambdaLR": (lambda o: lr_scheduler.LambdaLR(o, lambda e: 1 / (e + 1)),
                 lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda e: 1 / (e + 1))),
    "LambdaLR-per-group": (lambda o: lr_scheduler.LambdaLR(o, [lambda e: 0.9 ** e, lambda e: e]),
                           lambda o: torch.optim.lr_scheduler.LambdaLR(o, [lambda e: 0.9 ** e, lambda e: e])),
}


def two_group_optimizers():
    p, q = ts.zeros(1, requires_grad=True), ts.zeros(1, requires_grad=True)
    mine = optim.SGD([{"params": [p]}, {"params": [q], "lr": 0.02}], lr=0.1)
    if torch is None:
        return mine, None
    tp, tq = torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)
    return mine, torch.optim.SGD([{"params": [tp]}, {"params": [tq], "lr": 0.02}], lr=0.1)


@needs_torch
@pytest.mark.parametrize("name", list(SCHEDULES))
def test_schedule_lr_sequences_match_torch(name):
    make, tmake = SCHEDULES[name]
    opt, topt = two_group_optimizers()
    sched, tsched = make(opt), tmake(topt)
    assert sched.get_last_lr() == tsched.get_last_lr()
    for epoch in range(20):
        opt.step()
        topt.step()
        sched.step()
        tsched.step()
        assert sched.get_last_lr() == tsched.get_last_lr(), f"epoch {epoch + 1}"
        assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in topt.param_groups]
    assert opt.param_groups[0]["initial_lr"] == 0.1


@needs_torch
def test_chained_schedules_warm_up_then_decay_as_torch():
    opt, topt = two_group_optimizers()
    mine = [lr_scheduler.LinearLR(opt, start_factor=0.25, total_iters=4),
            lr_scheduler.ExponentialLR(opt, gamma=0.95)]
    theirs = [torch.optim.lr_scheduler.LinearLR(topt, start_factor=0.25, total_iters=4),
              torch.optim.lr_scheduler.ExponentialLR(topt, gamma=0.95)]
    for _ in range(10):
        opt.step()
        topt.step()
        for s, t in zip(mine, theirs):
            s.step()
            t.step()
        assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in topt.param_groups]


def test_scheduler_state_dict_round_trip():
    opt, _ = two_group_optimizers()
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=10)
    for _ in range(4):
        opt.step()
        sched.step()
    state = sched.state_dict()
    assert "optimizer" not in state and state["last_epoch"] == 4 and state["T_max"] == 10
    opt2, _ = two_group_optimizers()
    sched2 = lr_scheduler.CosineAnnealingLR(opt2, T_max=10)
    sched2.load_state_dict(state)
    for group, lr in zip(opt2.param_groups, sched.get_last_lr()):
        group["lr"] = lr
    for _ in range(5):
        sched.step()
        sched2.step()
        assert sched.get_last_lr() == sched2.get_last_lr()
    lam = lr_scheduler.LambdaLR(opt, lambda e: 1.0)
    assert lam.state_dict()["lr_lambdas"] == [None, None]


def test_scheduler_errors():
    opt, _ = two_group_optimizers()
    with pytest.raises(TypeError, match="not an Optimizer"):
        lr_scheduler.StepLR(object(), 2)
    with pytest.raises(ValueError, match="expected 2 lr_lambdas, got 1"):
        lr_scheduler.LambdaLR(opt, [lambda e: 1.0])
    with pytest.raises(ValueError, match="start_factor"):
        lr_scheduler.LinearLR(opt, start_factor=0)
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(opt, 2, last_epoch=3)


def test_a_small_model_trains_with_adam_clipping_and_a_schedule():
    """Everything together on a tiny classification problem (cross-entropy)."""
    ts.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    model = nn.Sequential(nn.Linear(4, 16), nn.Linear(16, 2))
    opt = optim.AdamW(model.parameters(), lr=0.05)
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=60)
    for _ in range(60):
        opt.zero_grad()
        loss = F.cross_entropy(model(ts.tensor(x)), ts.tensor(y))
        loss.backward()
        optim.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
    accuracy = (model(ts.tensor(x)).argmax(axis=1).numpy() == y).mean()
    assert loss.item() < 0.2 and accuracy > 0.95


def test_optimizer_state_dict_survives_ts_save_and_load(tmp_path):
    params = [ts.tensor(a, requires_grad=True) for a in initial(np.float64)]
    opt = optim.AdamW(params, lr=0.01, amsgrad=True)
    train_steps(opt, params, 2)
    ts.save(opt.state_dict(), str(tmp_path / "opt.npz"))
    clone = [ts.tensor(p.numpy(), requires_grad=True) for p in params]
    opt2 = optim.AdamW(clone)
    opt2.load_state_dict(ts.load(str(tmp_path / "opt.npz")))
    assert opt2.param_groups[0]["betas"] == (0.9, 0.999) and opt2.param_groups[0]["amsgrad"]
    assert_resumes_identically(opt, params, opt2, clone, steps=1)


# ---------------------------------------------------------------- amp.GradScaler
# (found by tests/conformance: nanoGPT's train.py always goes through a GradScaler)

@pytest.mark.parametrize("enabled, init_scale", [(False, 2.0 ** 16), (True, 2.0 ** 16),
                                                 (True, 1e38), (True, 3e36)])
def test_grad_scaler_follows_torch(enabled, init_scale):
    """Dynamic loss scaling step by step against torch's CPU GradScaler: the scale, the
    skipped steps (an overflowing scale gives inf gradients), the parameters."""
    torch = pytest.importorskip("torch")
    import tinygrad_seq as ts
    rng = np.random.default_rng(0)
    w0, xs = rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal((6, 5, 4)).astype(np.float32)
    results = []
    for lib, device in ((torch, "cpu"), (ts, "cpu")):
        w = lib.nn.Parameter(lib.tensor(w0))
        opt = lib.optim.SGD([w], lr=0.01, momentum=0.9)
        scaler = lib.amp.GradScaler(device, init_scale=init_scale, growth_interval=2,
                                    enabled=enabled)
        trace = []
        for x in xs:
            loss = (lib.tanh(lib.tensor(x) @ w.T) ** 2).sum() * 10
            scaler.scale(loss).backward()
            scaler.unscale_(opt)
            lib.nn.utils.clip_grad_norm_([w], 1e6)
            scaler.step(opt)
            scaler.update()
            opt.zero_grad(set_to_none=True)
            trace.append((scaler.get_scale(), w.detach().numpy().copy()))
        results.append((trace, scaler.state_dict(), scaler.is_enabled()))
    (tt, ts_, te), (ot, os_, oe) = results
    assert te == oe and set(ts_) == set(os_)
    for (s1, w1), (s2, w2) in zip(tt, ot):
        assert s1 == s2
        np.testing.assert_allclose(w2, w1, rtol=1e-5, atol=1e-6)


def test_grad_scaler_refuses_a_second_unscale_and_skips_inf_steps():
    import tinygrad_seq as ts
    w = ts.nn.Parameter(ts.tensor([1.0, 2.0]))
    opt = ts.optim.SGD([w], lr=1.0)
    scaler = ts.amp.GradScaler("cpu", init_scale=4.0)
    scaler.scale((w * w).sum()).backward()
    assert w.grad.tolist() == [8.0, 16.0]
    scaler.unscale_(opt)
    assert w.grad.tolist() == [2.0, 4.0]
    with pytest.raises(RuntimeError):
        scaler.unscale_(opt)
    w.grad = ts.tensor([float("inf"), 0.0])
    scaler._per_optimizer = {}
    assert scaler.step(opt) is None and w.tolist() == [1.0, 2.0]
    scaler.update()
    assert scaler.get_scale() == 2.0


def test_backends_switches_exist_and_change_nothing():
    import tinygrad_seq as ts
    ts.backends.cuda.matmul.allow_tf32 = True      # nanoGPT's train.py
    ts.backends.cudnn.allow_tf32 = True
    assert ts.backends.mps.is_available() is False
