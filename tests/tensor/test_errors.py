"""The exception classes (all importable from tinygrad_seq, all TinygradSeqErrors and
also the matching builtin) and the messages of the errors ops raise: they name the op
and the shapes involved."""
import pytest

import tinygrad_seq as ts


@pytest.mark.parametrize("name, builtin", [
    ("ShapeError", ValueError), ("DTypeError", TypeError), ("DeviceError", RuntimeError),
    ("AutogradError", RuntimeError), ("GradcheckError", RuntimeError),
])
def test_error_classes_subclass_the_base_and_the_builtin(name, builtin):
    cls = getattr(ts, name)
    assert issubclass(cls, ts.TinygradSeqError)
    assert issubclass(cls, builtin)
    assert issubclass(ts.TinygradSeqError, Exception)
    with pytest.raises(builtin):
        raise cls("message")


def test_matmul_shape_error_names_the_op_and_both_shapes():
    with pytest.raises(ts.ShapeError) as info:
        ts.ones(3, 4) @ ts.ones(5, 6)
    message = str(info.value)
    assert "matmul" in message and "(3, 4)" in message and "(5, 6)" in message


def test_matmul_of_a_0d_operand_raises_shape_error():
    with pytest.raises(ts.ShapeError, match="matmul"):
        ts.tensor(2.0) @ ts.ones(2)


@pytest.mark.parametrize("op, name", [
    (lambda a, b: a + b, "add"), (lambda a, b: a - b, "sub"), (lambda a, b: a * b, "mul"),
    (lambda a, b: a / b, "div"), (lambda a, b: a.maximum(b), "maximum"),
], ids=["add", "sub", "mul", "div", "maximum"])
def test_broadcast_mismatch_names_the_op_and_the_shapes(op, name):
    with pytest.raises(ts.ShapeError) as info:
        op(ts.ones(3), ts.ones(4))
    message = str(info.value)
    assert name in message.lower() and "(3,)" in message and "(4,)" in message


def test_broadcast_mismatch_on_tracked_tensors_is_a_shape_error_too():
    a = ts.ones(2, 3, requires_grad=True)
    with pytest.raises(ts.ShapeError, match=r"\(2, 3\).*\(3, 2\)"):
        a + ts.ones(3, 2)


@pytest.mark.parametrize("call, op", [
    (lambda x: x.sum(axis=2), "sum"), (lambda x: x.mean(axis=-3), "mean"),
    (lambda x: x.max(axis=5), "max"), (lambda x: x.argmax(axis=2), "argmax"),
    (lambda x: x.softmax(axis=2), "softmax"), (lambda x: x.transpose(0, 2), "transpose"),
    (lambda x: x.squeeze(axis=2), "squeeze"), (lambda x: ts.cat([x, x], axis=2), "cat"),
    (lambda x: x.sum(axis=(0, 0)), "sum"), (lambda x: x.permute(0, 0), "permute"),
], ids=["sum", "mean", "max", "argmax", "softmax", "transpose", "squeeze", "cat",
        "repeated-axis", "permute"])
def test_bad_axis_raises_shape_error_naming_the_op(call, op):
    with pytest.raises(ts.ShapeError, match=op):
        call(ts.ones(2, 3))


def test_reshape_to_an_incompatible_size_raises_shape_error():
    with pytest.raises(ts.ShapeError, match=r"reshape"):
        ts.ones(2, 3).reshape(4, 2)


def test_expand_to_an_incompatible_shape_raises_shape_error():
    with pytest.raises(ts.ShapeError, match=r"expand.*\(2, 3\)"):
        ts.ones(2, 3).expand(3, 3)


def test_tensor_of_ragged_or_string_data_raises():
    with pytest.raises(ts.ShapeError):
        ts.tensor([[1.0, 2.0], [3.0]])
    with pytest.raises(ts.DTypeError):
        ts.tensor(["a", "b"])


def test_unknown_dtype_name_raises_dtype_error():
    with pytest.raises(ts.DTypeError, match="not a dtype"):
        ts.zeros(2, dtype="complex-ish")


def test_bool_of_a_multi_element_tensor_raises_shape_error():
    with pytest.raises(ts.ShapeError, match="ambiguous"):
        bool(ts.ones(2))
