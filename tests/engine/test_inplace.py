"""In-place operations and their safety net, the version counters: a tensor that a
backward rule needs and that was changed in place makes backward raise (naming the
op), views share their base's counter, parameter updates under no_grad work, and
in-place ops on non-leaves that nothing saved give the same gradients as the
out-of-place formula."""
import numpy as np
import pytest
from torch_ref import needs_torch, torch

import tinygrad_seq as ts


def _leaf(values=(1.0, 2.0, 3.0, 4.0)):
    return ts.tensor(list(values), requires_grad=True)


# ---------------------------------------------------------------- detected modifications

def test_modifying_a_saved_output_raises_at_backward_naming_the_op():
    w = _leaf()
    y = w.exp()          # exp saves its output
    y += 1
    with pytest.raises(ts.AutogradError, match="ExpBackward.*in-place"):
        y.sum().backward()


def test_modifying_a_saved_input_raises_at_backward_naming_the_op():
    w = _leaf()
    a = w * 2
    b = a * a            # mul saves its inputs
    a += 1
    with pytest.raises(ts.AutogradError, match="MulBackward.*in-place"):
        b.sum().backward()


def test_setitem_on_a_saved_tensor_raises_at_backward_not_at_assignment():
    w = _leaf()
    a = w * 2
    b = a * a
    a[np.array([0, 2])] = 7.0
    np.testing.assert_allclose(a.numpy(), [7.0, 4.0, 7.0, 8.0])
    with pytest.raises(ts.AutogradError, match="MulBackward"):
        b.sum().backward()


def test_modifying_a_saved_constant_under_no_grad_raises_at_backward():
    w = _leaf()
    c = ts.tensor([1.0, 1.0, 1.0, 1.0])
    y = w * c
    with ts.no_grad():
        c += 1
    with pytest.raises(ts.AutogradError, match="MulBackward"):
        y.sum().backward()


@pytest.mark.parametrize("operation", [
    lambda t: t.__iadd__(1.0),
    lambda t: t.__imul__(2.0),
    lambda t: t.__setitem__(0, 5.0),
    lambda t: t.zero_(),
    lambda t: t.fill_(3.0),
    lambda t: t.copy_(ts.zeros(4)),
], ids=["iadd", "imul", "setitem", "zero_", "fill_", "copy_"])
def test_in_place_on_a_leaf_that_requires_grad_raises_under_grad_mode(operation):
    w = _leaf()
    with pytest.raises(ts.AutogradError, match="no_grad"):
        operation(w)
    np.testing.assert_array_equal(w.numpy(), [1.0, 2.0, 3.0, 4.0])


def test_parameter_update_under_no_grad_works_and_keeps_the_leaf():
    p = _leaf()
    (p * p).sum().backward()
    with ts.no_grad():
        p -= 0.1 * p.grad
    np.testing.assert_allclose(p.numpy(), [0.8, 1.6, 2.4, 3.2], rtol=1e-6)
    assert p.is_leaf and p.requires_grad and p.grad_fn is None
    p.grad = None
    (p * 2).sum().backward()                 # the updated leaf still trains
    np.testing.assert_allclose(p.grad.numpy(), [2.0] * 4)


# ---------------------------------------------------------------- views share versions

def test_reshape_view_modified_under_no_grad_is_detected():
    x = _leaf()
    y = x * 2
    z = y * y
    view = y.reshape(2, 2)
    with ts.no_grad():
        view.mul_(3)
    np.testing.assert_allclose(y.numpy(), [6.0, 12.0, 18.0, 24.0])   # memory is shared
    with pytest.raises(ts.AutogradError, match="MulBackward"):
        z.sum().backward()


def test_slice_view_modified_under_no_grad_is_detected():
    x = _leaf()
    y = x * 2
    z = y * y
    with ts.no_grad():
        y[1:3].add_(1.0)
    with pytest.raises(ts.AutogradError, match="MulBackward"):
        z.sum().backward()


def test_base_modified_after_a_view_was_saved_is_detected():
    x = _leaf()
    y = x * 2
    view = y.reshape(2, 2)
    z = view * view
    with ts.no_grad():
        y.mul_(3)
    with pytest.raises(ts.AutogradError, match="MulBackward"):
        z.sum().backward()


def test_detached_tensor_shares_the_version_counter():
    x = _leaf()
    y = x.exp()
    d = y.detach()
    d += 1
    with pytest.raises(ts.AutogradError, match="ExpBackward"):
        y.sum().backward()


def test_in_place_on_a_view_of_a_leaf_requiring_grad_is_refused():
    x = _leaf()
    with pytest.raises(ts.AutogradError, match="view of a leaf"):
        x.reshape(2, 2).add_(1.0)
    with pytest.raises(ts.AutogradError, match="view of a leaf"):
        x[1:].mul_(2.0)


# In-place changes through views of non-leaves rebase the base's history, as torch's:
# d2l's masked_softmax writes `X[~mask] = value` into `scores.reshape(-1, n)` (found by
# tests/conformance/test_d2l_bahdanau.py).

def _masked_fill_through_a_reshape(lib, x, v):
    s = x * 2
    X = s.reshape(-1, 3)
    X[lib.tensor([[True, False, True], [False, False, True]])] = -1e6
    return (lib.nn.functional.softmax(s, dim=-1) * lib.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
            ).sum() + (v * 0).sum()


def _scale_a_slice(lib, x, v):
    s = x * 2.0
    s[0, 1:].mul_(3.0)
    return (s * s).sum() + (v * 0).sum()


def _assign_a_value_into_a_permuted_slice(lib, x, v):
    s = x * 1.5
    s.permute(1, 0)[2][:] = v          # a view of a view
    return (s ** 2 * x).sum()


def _add_into_an_unsqueezed_row_then_reuse_the_view(lib, x, v):
    s = x * 3.0
    row = s[1]
    row.add_(v[0])
    row.mul_(row.detach() + 1)         # a second change through the same view
    return (s ** 3).sum() + (row * 2).sum()


@needs_torch
@pytest.mark.parametrize("program", [_masked_fill_through_a_reshape, _scale_a_slice,
                                     _assign_a_value_into_a_permuted_slice,
                                     _add_into_an_unsqueezed_row_then_reuse_the_view])
def test_in_place_through_a_view_of_a_non_leaf_matches_torch(program):
    x0 = np.array([[0.3, -1.2, 0.7], [1.1, 0.2, -0.4]])
    v0 = np.array([0.5, -2.0])
    results = []
    for lib in (torch, ts):
        x = lib.tensor(x0, requires_grad=True)
        v = lib.tensor(v0, requires_grad=True)
        out = program(lib, x, v)
        out.backward()
        results.append((out.item(), x.grad.numpy(), None if v.grad is None else v.grad.numpy()))
    (ot, gxt, gvt), (oo, gxo, gvo) = results
    np.testing.assert_allclose(oo, ot, rtol=1e-12)
    np.testing.assert_allclose(gxo, gxt, rtol=1e-12, atol=1e-12)
    if gvt is None:
        assert gvo is None or not np.any(gvo)
    else:
        np.testing.assert_allclose(gvo, gvt, rtol=1e-12, atol=1e-12)


@needs_torch
def test_in_place_on_a_split_piece_is_refused_as_torch():
    for lib, error in ((torch, RuntimeError), (ts, ts.AutogradError)):
        s = lib.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True) * 2
        a, b = s.split([1, 1], dim=0)
        with pytest.raises(error):
            b.mul_(2.0)


def test_in_place_through_a_view_is_differentiable_twice():
    x = ts.tensor([[0.3, -1.2], [1.1, 0.2]], dtype=ts.float64, requires_grad=True)

    def f(x):
        s = x * x
        s[0].mul_(x[1])
        return s
    assert ts.gradcheck(f, (x,))
    assert ts.gradgradcheck(f, (x,))


def test_changing_an_advanced_index_copy_leaves_its_source_valid():
    x = _leaf()
    y = x * 2
    z = y * y
    picked = y[np.array([0, 1])]
    with ts.no_grad():
        picked += 1
    np.testing.assert_allclose(y.numpy(), [2.0, 4.0, 6.0, 8.0])   # a copy: y unchanged
    z.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 8 * x.numpy())


# ---------------------------------------------------------------- correct gradients

def _torch_leaf(values):
    return torch.tensor(values, dtype=torch.float64, requires_grad=True)


def test_in_place_add_on_an_unsaved_non_leaf_gives_the_out_of_place_gradient():
    x, y = ts.tensor([1.0, 2.0], requires_grad=True), ts.tensor([3.0, 4.0], requires_grad=True)
    z = x * 2
    z += y
    (z * z).sum().backward()
    out_of_place = 2 * (2 * x.numpy() + y.numpy())
    np.testing.assert_allclose(x.grad.numpy(), 2 * out_of_place)
    np.testing.assert_allclose(y.grad.numpy(), out_of_place)


def _used_then_scaled_in_place(x, v):
    z = x * 2
    s = z + 1            # add saves nothing, so the in-place change below is legal
    z *= 3
    return (s + z).sum()


def _used_then_assigned(x, v):
    z = x * 2
    s = z.sum()          # sum saves nothing
    z[0] = v
    return s + (z * z).sum()


@needs_torch
@pytest.mark.parametrize("program", [_used_then_scaled_in_place, _used_then_assigned])
def test_in_place_after_an_op_that_did_not_save_it_matches_torch(program):
    x, v = ts.tensor([1.0, 2.0], requires_grad=True), ts.tensor(5.0, requires_grad=True)
    program(x, v).backward()
    xt, vt = torch.tensor([1.0, 2.0], requires_grad=True), torch.tensor(5.0, requires_grad=True)
    program(xt, vt).backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy())
    if vt.grad is None:                 # the first program does not use v
        assert v.grad is None
    else:
        np.testing.assert_allclose(v.grad.numpy(), vt.grad.numpy())


@needs_torch
@pytest.mark.parametrize("index", [0, slice(1, 3), (np.array([2, 0]),)],
                         ids=["int", "slice", "int-array"])
def test_setitem_with_a_value_requiring_grad_matches_torch(index):
    x0 = [1.0, -2.0, 3.0, 0.5]
    v0 = 5.0 if isinstance(index, int) else [5.0, -1.0]
    x, v = ts.tensor(x0, dtype=ts.float64, requires_grad=True), \
        ts.tensor(v0, dtype=ts.float64, requires_grad=True)
    z = x * 2
    z[index] = v
    (z * z * x).sum().backward()

    xt, vt = _torch_leaf(x0), _torch_leaf(v0)
    zt = xt * 2
    zt[index if not isinstance(index, tuple) else torch.tensor(index[0])] = vt
    (zt * zt * xt).sum().backward()
    np.testing.assert_allclose(z.numpy(), zt.detach().numpy())
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(v.grad.numpy(), vt.grad.numpy(), rtol=1e-12)


def test_setitem_of_a_value_requiring_grad_into_a_plain_tensor_tracks_it():
    v = ts.tensor(3.0, requires_grad=True)
    c = ts.zeros(3)
    c[1] = v
    assert c.requires_grad and not c.is_leaf
    (c * c).sum().backward()
    assert v.grad.item() == pytest.approx(6.0)


@needs_torch
def test_clamp_in_place_on_a_non_leaf_matches_torch():
    x0 = [-2.0, -0.5, 0.5, 2.0]
    x = ts.tensor(x0, dtype=ts.float64, requires_grad=True)
    y = x * 3
    y.clamp_(-1.0, 1.0)
    (y * x).sum().backward()
    xt = _torch_leaf(x0)
    yt = xt * 3
    yt.clamp_(-1.0, 1.0)
    (yt * xt).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy())
