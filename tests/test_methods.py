"""Operators, properties and methods of traced arrays, traced and evaluated vs NumPy."""
import operator

import numpy as np
import pytest

import nbad.numpy  # noqa: F401  (installs the methods)
from nbad.core.array import as_array
from nbad.core.avals import ShapedArray
from nbad.core.trace import eval_ir, trace_to_ir
from nbad.errors import ConcretizationError, InPlaceUpdateError

F = np.array([[1.5, -2.0, 3.0], [0.5, 4.0, -1.0]])
G = np.array([[2.0, 1.0, -3.0], [1.0, 0.5, 2.0]])
I = np.array([[3, -4, 5], [6, 7, -8]], dtype=np.int32)
J = np.array([[1, 2, 3], [2, 1, 3]], dtype=np.int32)


def run(fn, *args):
    """Trace fn over abstract avals, then evaluate the IR on the arrays."""
    ir = trace_to_ir(lambda *t: [fn(*t)], [ShapedArray(a.shape, a.dtype) for a in args])
    return eval_ir(ir, list(args))[0]


def same(got, expected):
    expected = np.asarray(expected)
    assert np.asarray(got).dtype == expected.dtype, (np.asarray(got).dtype, expected.dtype)
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-12)


BINARY = [operator.add, operator.sub, operator.mul, operator.truediv, operator.pow,
          operator.floordiv, operator.mod, operator.eq, operator.ne, operator.lt, operator.le,
          operator.gt, operator.ge]
INT_ONLY = [operator.and_, operator.or_, operator.xor, operator.lshift, operator.rshift]


@pytest.mark.parametrize("op", BINARY + INT_ONLY, ids=lambda o: o.__name__)
def test_binary_operators_and_reflected_forms(op):
    a, b = (I, J) if op in INT_ONLY else (F, G)
    same(run(op, a, b), op(a, b))
    same(run(lambda x: op(x, 2), a), op(a, 2))        # weak scalar on the right
    same(run(lambda x: op(3, x), b), op(3, b))        # reflected
    same(run(lambda x: op(a, x), b), op(a, b))        # np.ndarray op tracer defers


def test_numpy_array_defers_to_tracer():
    same(run(lambda x: as_array(F) + x, G), F + G)
    same(run(lambda x: np.add(F, x), G), F + G)  # the operators' ufuncs run as nbad.numpy
    same(run(lambda x: np.float32(2) * x, G.astype(np.float32)), np.float32(2) * G.astype(np.float32))


def test_matmul_and_divmod():
    same(run(operator.matmul, F, G.T), F @ G.T)
    same(run(lambda x: F @ x, np.ascontiguousarray(G.T)), F @ G.T)
    q, r = divmod(F, 1.5)
    same(run(lambda x: divmod(x, 1.5)[0], F), q)
    same(run(lambda x: divmod(x, 1.5)[1], F), r)


@pytest.mark.parametrize("op", [operator.neg, operator.pos, abs], ids=lambda o: o.__name__)
def test_unary(op):
    same(run(op, F), op(F))
    same(run(op, I), op(I))


def test_invert():
    same(run(operator.invert, I), ~I)
    same(run(operator.invert, F > 0), ~(F > 0))


def test_properties():
    C = F + 1j * G
    same(run(lambda x: x.T, F), F.T)
    same(run(lambda x: x.mT, F[None]), np.swapaxes(F[None], -1, -2))
    same(run(lambda x: x.real, C), C.real)
    same(run(lambda x: x.imag, C), C.imag)
    same(run(lambda x: x.conj(), C), C.conj())


METHODS = [
    lambda x: x.reshape(3, 2), lambda x: x.reshape((-1,)), lambda x: x.transpose(),
    lambda x: x.transpose(1, 0), lambda x: x.transpose((1, 0)), lambda x: x.sum(),
    lambda x: x.sum(axis=0, keepdims=True), lambda x: x.prod(1), lambda x: x.mean(-1),
    lambda x: x.var(ddof=1), lambda x: x.std(0), lambda x: x.max(1), lambda x: x.min(),
    lambda x: x.argmax(), lambda x: x.argmin(axis=0), lambda x: (x > 0).any(1),
    lambda x: (x > 0).all(), lambda x: x.cumsum(1), lambda x: x.cumprod(), lambda x: x.ravel(),
    lambda x: x.flatten(), lambda x: x[None].squeeze(), lambda x: x.swapaxes(0, 1),
    lambda x: x.clip(-1, 2), lambda x: x.round(), lambda x: x.dot(x.T), lambda x: x.astype(np.float32),
    lambda x: x.astype(np.int32), lambda x: x[1, ::-1], lambda x: x[:, [0, 2]],
    lambda x: x.at[0, 1].set(9.0), lambda x: x.at[:, 0].add(1.0),
]


@pytest.mark.parametrize("i", range(len(METHODS)))
def test_methods(i):
    fn = METHODS[i]
    same(run(fn, F), fn(np.array(F)) if i < len(METHODS) - 2 else _numpy_at(i))


def _numpy_at(i):
    out = F.copy()
    if i == len(METHODS) - 2:
        out[0, 1] = 9.0
    else:
        out[:, 0] += 1.0
    return out


def test_item_needs_a_concrete_tracer():
    with pytest.raises(ConcretizationError, match="item"):
        run(lambda x: x.sum().item() + x, F)
    ir = trace_to_ir(lambda t: [t * t.sum().item()], [ShapedArray(F.shape, F.dtype)], in_values=[F])
    same(eval_ir(ir, [F])[0], F * F.sum())


def test_in_place_assignment_raises_for_tracers_and_arrays():
    with pytest.raises(InPlaceUpdateError, match=r"\.at\["):
        run(lambda x: x.__setitem__(0, 1.0), F)
    with pytest.raises(InPlaceUpdateError, match=r"\.at\["):
        as_array(F)[0] = 1.0
