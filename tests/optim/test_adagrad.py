"""optim.Adagrad against torch.optim.Adagrad step by step (every option, float64 and
float32, param groups, dense and row-sparse gradients with torch's sparse Embedding),
against its formula in NumPy, state_dict round trips (also from torch's), and the
errors. The small problems come from test_optim.py."""
import copy
import itertools

import numpy as np
import pytest

import tinygrad_seq as ts
from tinygrad_seq import optim

from test_optim import (assert_same_trajectory, batches, check_sparse_state_dict_round_trip,
                        gradient_sequence, initial, loss_torch, loss_ts, run_both,
                        run_with_gradients, sparse_pair, step_both, train_embedding)
from torch_ref import needs_torch, torch

OPTIONS = [dict()] + [
    dict(lr=lr, lr_decay=d, weight_decay=wd, initial_accumulator_value=a, eps=e, maximize=m)
    for lr, d, wd, a, e, m in itertools.product((0.1,), (0.0, 0.05), (0.0, 0.1), (0.0, 0.3),
                                                (1e-10, 1e-3), (False, True))]


def _ids(k):
    return ",".join(f"{a}={b}" for a, b in k.items()) or "defaults"


@needs_torch
@pytest.mark.parametrize("kwargs", OPTIONS, ids=_ids)
def test_dense_trajectory_matches_torch(kwargs):
    out, tout, opt, topt = run_both(optim.Adagrad, torch.optim.Adagrad, kwargs, steps=8)
    assert_same_trajectory(out, tout)
    sd, tsd = opt.state_dict(), topt.state_dict()
    for k in tsd["state"]:
        assert set(sd["state"][k]) == set(tsd["state"][k]) == {"step", "sum"}
        assert float(sd["state"][k]["step"].item()) == float(tsd["state"][k]["step"])
        np.testing.assert_allclose(sd["state"][k]["sum"].numpy(), tsd["state"][k]["sum"].numpy(),
                                   rtol=1e-12)


@needs_torch
def test_float32_stays_float32_and_close_to_torch():
    out, tout, opt, _ = run_both(optim.Adagrad, torch.optim.Adagrad, dict(lr=0.1, lr_decay=0.01),
                                 dtype=np.float32)
    assert all(p.dtype == np.float32 for p in out[-1])
    assert opt.state[opt.param_groups[0]["params"][0]]["sum"].dtype == np.float32
    assert_same_trajectory(out, tout, rtol=2e-5, atol=2e-6)


@needs_torch
def test_param_groups_with_their_own_options_match_torch():
    out, tout, opt, topt = run_both(optim.Adagrad, torch.optim.Adagrad,
                                    dict(lr=0.05, initial_accumulator_value=0.1),
                                    groups=dict(lr=0.2, lr_decay=0.1, weight_decay=0.05, eps=1e-4))
    assert_same_trajectory(out, tout)
    for g, tg in zip(opt.state_dict()["param_groups"], topt.state_dict()["param_groups"]):
        assert g["params"] == tg["params"]
        for key, value in g.items():
            assert tg[key] == value, key


@needs_torch
def test_state_exists_from_construction_as_torch():
    p = ts.zeros(3, requires_grad=True)
    opt = optim.Adagrad([p], initial_accumulator_value=0.5)
    topt = torch.optim.Adagrad([torch.zeros(3, requires_grad=True)], initial_accumulator_value=0.5)
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert set(sd["state"]) == set(tsd["state"]) == {0}
    assert sd["state"][0]["step"].dtype == ts.float32 and sd["state"][0]["step"].item() == 0
    np.testing.assert_array_equal(sd["state"][0]["sum"].numpy(), tsd["state"][0]["sum"].numpy())
    assert opt.defaults == {k: v for k, v in topt.defaults.items()
                            if k not in ("foreach", "differentiable", "fused")}


@pytest.mark.parametrize("kwargs", OPTIONS[1::3], ids=_ids)
def test_follows_its_formula_in_numpy(kwargs):
    w0 = np.random.default_rng(0).standard_normal((3, 4))
    grads = gradient_sequence((3, 4), 6)
    got = run_with_gradients(optim.Adagrad, kwargs, w0, grads)
    k = {**dict(lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                maximize=False), **kwargs}
    w, total = w0.copy(), np.full_like(w0, k["initial_accumulator_value"])
    for t, g in enumerate(grads, start=1):
        g = -g if k["maximize"] else g
        g = g + k["weight_decay"] * w
        clr = k["lr"] / (1 + (t - 1) * k["lr_decay"])
        total = total + g * g
        w = w - clr * g / (np.sqrt(total) + k["eps"])
        np.testing.assert_allclose(got[t - 1], w, rtol=1e-12, atol=1e-14, err_msg=f"step {t}")


# ---------------------------------------------------------------- row-sparse gradients

SPARSE_OPTIONS = [dict(), dict(lr=0.1), dict(lr=0.1, maximize=True),
                  dict(lr=0.2, lr_decay=0.1, initial_accumulator_value=0.2, eps=1e-4)]


@needs_torch
@pytest.mark.parametrize("kwargs", SPARSE_OPTIONS, ids=_ids)
def test_sparse_matches_torch_sparse_embedding(kwargs):
    e, te = sparse_pair()
    opt = optim.Adagrad(e.parameters(), **kwargs)
    topt = torch.optim.Adagrad(te.parameters(), **kwargs)
    for idx, r in batches(6):            # repeated rows in each batch: coalesced, then updated
        for o in (opt, topt):
            o.zero_grad()
        (e(ts.tensor(idx)) * ts.tensor(r)).sum().backward()
        (te(torch.from_numpy(idx)) * torch.from_numpy(r)).sum().backward()
        assert e.weight.grad.is_sparse and te.weight.grad.is_sparse
        opt.step()
        topt.step()
        np.testing.assert_allclose(e.weight.numpy(), te.weight.detach().numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(opt.state[e.weight]["sum"].numpy(),
                                   topt.state[te.weight]["sum"].numpy(), rtol=1e-12, atol=1e-14)


@needs_torch
def test_sparse_and_dense_gradients_give_the_same_trajectory_as_torch_dense():
    """Without decay of untouched rows, the lazy update is the dense one (untouched rows
    have g = 0 and do not move)."""
    e, _ = sparse_pair()
    _, te = sparse_pair(sparse=False)
    got, want = train_embedding(e, te, optim.Adagrad(e.parameters(), lr=0.1),
                                torch.optim.Adagrad(te.parameters(), lr=0.1), steps=6)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_sparse_update_touches_only_the_looked_up_rows():
    e, _ = sparse_pair()
    before = e.weight.numpy()
    opt = optim.Adagrad(e.parameters(), lr=0.5)
    e(ts.tensor([2, 2, 7])).sum().backward()
    opt.step()
    after = e.weight.numpy()
    assert np.flatnonzero(np.any(after != before, axis=1)).tolist() == [2, 7]
    # coalesced first: row 2's gradient is 2 (not two updates of 1), so its step is lr
    np.testing.assert_allclose(after[2], before[2] - 0.5 * 2 / (2 + 1e-10))
    np.testing.assert_allclose(opt.state[e.weight]["sum"].numpy()[[2, 7, 0], 0], [4.0, 1.0, 0.0])


def test_sparse_with_weight_decay_is_refused_as_torch():
    e, _ = sparse_pair()
    e(ts.tensor([1])).sum().backward()
    with pytest.raises(RuntimeError, match="weight_decay option is not compatible with sparse"):
        optim.Adagrad(e.parameters(), weight_decay=0.1).step()


def test_empty_sparse_gradient_only_counts_the_step():
    e, _ = sparse_pair()
    before = e.weight.numpy()
    opt = optim.Adagrad(e.parameters())
    e(ts.tensor(np.zeros(0, dtype=np.int64))).sum().backward()
    opt.step()
    np.testing.assert_array_equal(e.weight.numpy(), before)
    assert opt.state[e.weight]["step"].item() == 1


# ---------------------------------------------------------------- state_dict

def test_state_dict_round_trip_mid_training_continues_the_same_trajectory(tmp_path):
    params = [ts.tensor(a, requires_grad=True) for a in initial(np.float64)]
    opt = optim.Adagrad(params, lr=0.1, lr_decay=0.01)
    for _ in range(3):
        opt.zero_grad()
        loss_ts(params).backward()
        opt.step()
    ts.save(opt.state_dict(), str(tmp_path / "opt.npz"))
    saved = copy.deepcopy(opt.state_dict())
    clones = []
    for sd in (saved, ts.load(str(tmp_path / "opt.npz"))):
        clone = [ts.tensor(p.numpy(), requires_grad=True) for p in params]
        opt2 = optim.Adagrad(clone, lr=123.0)
        opt2.load_state_dict(sd)
        assert opt2.param_groups[0]["lr"] == 0.1
        clones.append((opt2, clone))
    for _ in range(3):
        for o, ps in [(opt, params)] + clones:
            o.zero_grad()
            loss_ts(ps).backward()
            o.step()
    for _, clone in clones:
        for p, q in zip(params, clone):
            np.testing.assert_array_equal(p.numpy(), q.numpy())


@needs_torch
def test_loading_a_torch_state_dict_continues_torch_trajectory():
    init = initial(np.float64)
    theirs = [torch.tensor(a, requires_grad=True) for a in init]
    topt = torch.optim.Adagrad(theirs, lr=0.1, lr_decay=0.02, weight_decay=0.01)
    for _ in range(3):
        topt.zero_grad()
        loss_torch(theirs).backward()
        topt.step()
    tsd = topt.state_dict()
    sd = {"state": {k: {n: v.numpy().copy() for n, v in s.items()} for k, s in tsd["state"].items()},
          "param_groups": copy.deepcopy(tsd["param_groups"])}
    mine = [ts.tensor(p.detach().numpy(), requires_grad=True) for p in theirs]
    opt = optim.Adagrad(mine)
    opt.load_state_dict(sd)
    assert opt.state[mine[0]]["step"].dtype == ts.float32
    for _ in range(3):
        step_both(opt, topt, mine, theirs)
    for p, q in zip(mine, theirs):
        np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_sparse_state_dict_round_trip():
    check_sparse_state_dict_round_trip(optim.Adagrad)


def test_a_group_added_later_gets_its_state_at_its_first_step():
    p, q = ts.ones(2, requires_grad=True), ts.ones(3, requires_grad=True)
    opt = optim.Adagrad([p], initial_accumulator_value=0.25)
    opt.add_param_group({"params": [q], "lr": 0.5})
    assert q not in opt.state
    q.grad = ts.ones(3)
    opt.step()
    np.testing.assert_allclose(opt.state[q]["sum"].numpy(), 1.25)
    np.testing.assert_allclose(q.numpy(), 1 - 0.5 / np.sqrt(1.25))
    assert opt.state[p]["step"].item() == 0          # no gradient: no step counted


def test_construction_errors():
    p = ts.zeros(2, requires_grad=True)
    for name, label in (("lr", "learning rate"), ("lr_decay", "lr_decay"),
                        ("weight_decay", "weight_decay"),
                        ("initial_accumulator_value", "initial_accumulator_value"),
                        ("eps", "epsilon")):
        with pytest.raises(ValueError, match=f"invalid {label}"):
            optim.Adagrad([p], **{name: -0.1})
    with pytest.raises(TypeError, match="lr must be a number"):
        optim.Adagrad([p], lr="0.1")
    with pytest.raises(ValueError, match="invalid learning rate"):
        optim.Adagrad([{"params": [p], "lr": -1.0}])
    assert "Adagrad (" in repr(optim.Adagrad([p]))
