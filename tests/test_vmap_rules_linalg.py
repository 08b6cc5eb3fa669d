"""Batching (vmap) rules of dot_general and the decompositions (solve, inv, det,
slogdet, cholesky, eigh), checked against a loop over the examples, eagerly and
traced (nbad.test_util.check_batching); plus the structure of the batched
matrix-vector product: one 2-D matrix-matrix product, no operand transposes."""
import itertools

import numpy as np
import pytest

from nbad.core.avals import ShapedArray
from nbad.core.trace import trace_to_ir
from nbad.rules.linalg import dot_general_p
from nbad.rules.linalg_decomp import (cholesky_p, cofactor_p, det_p, eigh_p, inv_p, slogdet_p,
                                      solve_p)
from nbad.test_util import check_batching
from test_rules_linalg import CASES as IMPL_CASES

B = 3
FLAGS = [(True, True), (True, False), (False, True)]

# (per-example lhs shape, rhs shape, dimension_numbers)
# dot_general's impl cases (one per impl path), plus layouts batching creates
DOT_CASES = IMPL_CASES + [
    ((3, 5, 2), (2, 5), (((1, 2), (1, 0)), ((), ()))),      # two contractions, no batch
    ((4, 3, 5), (5, 4, 2), (((2,), (0,)), ((0,), (1,)))),   # rhs batch dim in the middle
]

TOL = {np.float64: 1e-12, np.float32: 1e-5, np.int64: 0}


def _operand(shape, dtype, rng):
    x = rng.standard_normal(shape) * 3
    return x.astype(dtype) if np.dtype(dtype).kind != "i" else np.round(x).astype(dtype)


@pytest.mark.parametrize("lhs_shape,rhs_shape,dims", DOT_CASES)
@pytest.mark.parametrize("flags", FLAGS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
def test_dot_general_vmap(lhs_shape, rhs_shape, dims, flags, dtype):
    rng = np.random.default_rng(0)
    lhs = _operand(((B,) if flags[0] else ()) + lhs_shape, dtype, rng)
    rhs = _operand(((B,) if flags[1] else ()) + rhs_shape, dtype, rng)
    check_batching(dot_general_p, [lhs, rhs], flags, {"dimension_numbers": dims},
                   rtol=TOL[dtype], atol=TOL[dtype])


def _trace_rule(prim, args, flags, params):
    avals = [ShapedArray(a.shape, a.dtype) for a in args]
    return trace_to_ir(lambda *xs: [prim.vmap(B, list(xs), flags, **params)], avals)


@pytest.mark.parametrize("lhs_shape,rhs_shape,dims", DOT_CASES)
@pytest.mark.parametrize("flags", FLAGS)
def test_dot_general_vmap_never_transposes_operands(lhs_shape, rhs_shape, dims, flags):
    """At most the result of the one dot_general is transposed, never an operand."""
    args = [np.zeros(((B,) if f else ()) + s) for s, f in zip((lhs_shape, rhs_shape), flags)]
    ir = _trace_rule(dot_general_p, args, flags, {"dimension_numbers": dims})
    dots = [eq for eq in ir.equations if eq.primitive is dot_general_p]
    assert len(dots) == 1
    dot_out = dots[0].outputs[0]
    for eq in ir.equations:
        assert eq.primitive is dot_general_p or eq.primitive.name == "transpose", eq
        if eq.primitive.name == "transpose":
            assert eq.inputs[0] is dot_out, "a dot_general operand was transposed"
    assert len(ir.equations) <= 2


MATVEC_CASES = [
    # (W shape, dims, W is the lhs): per-example W @ x, W.T @ x, x @ W, x @ W.T
    ((6, 5), (((1,), (0,)), ((), ())), True),
    ((5, 6), (((0,), (0,)), ((), ())), True),
    ((5, 6), (((0,), (0,)), ((), ())), False),
    ((6, 5), (((0,), (1,)), ((), ())), False),
]


@pytest.mark.parametrize("w_shape,dims,w_lhs", MATVEC_CASES)
def test_batched_matvec_is_one_matmul(w_shape, dims, w_lhs):
    """A shared matrix times a batch of vectors (B, n): exactly one dot_general,
    of two 2-D operands with no batch dims, giving (B, m) with no transpose."""
    rng = np.random.default_rng(1)
    w, x = rng.standard_normal(w_shape), rng.standard_normal((B, 5))
    args, flags = ([w, x], (False, True)) if w_lhs else ([x, w], (True, False))
    ir = _trace_rule(dot_general_p, args, flags, {"dimension_numbers": dims})
    assert [eq.primitive for eq in ir.equations] == [dot_general_p]
    eq, = ir.equations
    assert all(v.aval.ndim == 2 for v in eq.inputs)
    assert eq.params["dimension_numbers"][1] == ((), ())
    assert ir.outputs[0].aval.shape == (B, 6)
    assert not any(eq.primitive.name == "transpose" for eq in ir.equations)
    check_batching(dot_general_p, args, flags, {"dimension_numbers": dims}, rtol=1e-12)


def test_batched_matvec_w_at_x_swaps_operands():
    """W (m, n) shared, x (B, n): dot_general(x_b, W) contracting axes 1 and 1."""
    w, x = np.ones((6, 5)), np.ones((B, 5))
    ir = _trace_rule(dot_general_p, [w, x], (False, True),
                     {"dimension_numbers": (((1,), (0,)), ((), ()))})
    eq, = ir.equations
    assert [v.aval.shape for v in eq.inputs] == [(B, 5), (6, 5)]
    assert eq.params["dimension_numbers"] == (((1,), (1,)), ((), ()))


def test_dot_general_vmap_both_batched_is_batch_dim():
    w, x = np.ones((B, 6, 5)), np.ones((B, 5))
    ir = _trace_rule(dot_general_p, [w, x], (True, True),
                     {"dimension_numbers": (((1,), (0,)), ((), ()))})
    eq, = ir.equations
    assert eq.params["dimension_numbers"] == (((2,), (1,)), ((0,), (0,)))


# -- decompositions -----------------------------------------------------------------
def _well_conditioned(shape, dtype, rng):
    n = shape[-1]
    a = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        a = a + 1j * rng.standard_normal(shape)
    return (a + n * np.eye(n)).astype(dtype)


def _spd(shape, dtype, rng):
    a = _well_conditioned(shape, dtype, rng)
    return (a @ np.conj(np.swapaxes(a, -1, -2)) + np.eye(shape[-1])).astype(dtype)


DECOMP_DTYPES = [np.float64, np.complex128, np.float32]
DTOL = {np.float64: 1e-12, np.complex128: 1e-12, np.float32: 1e-5}
UNARY = [inv_p, det_p, cofactor_p, slogdet_p, cholesky_p, eigh_p]


@pytest.mark.parametrize("prim", UNARY, ids=lambda p: p.name)
@pytest.mark.parametrize("shape", [(4, 4), (2, 3, 3), (1, 1)])
@pytest.mark.parametrize("dtype", DECOMP_DTYPES)
def test_unary_decomposition_vmap(prim, shape, dtype):
    rng = np.random.default_rng(3)
    make = _spd if prim in (cholesky_p, eigh_p) else _well_conditioned
    a = make((B,) + shape, dtype, rng)
    tol = DTOL[dtype]
    check_batching(prim, [a], (True,), rtol=tol, atol=tol)


@pytest.mark.parametrize("flags", FLAGS)
@pytest.mark.parametrize("a_shape,k", [((4, 4), 1), ((4, 4), 3), ((2, 3, 3), 2), ((1, 1), 1)])
@pytest.mark.parametrize("dtype", DECOMP_DTYPES)
def test_solve_vmap(flags, a_shape, k, dtype):
    rng = np.random.default_rng(4)
    a = _well_conditioned(((B,) if flags[0] else ()) + a_shape, dtype, rng)
    b_shape = ((B,) if flags[1] else ()) + a_shape[:-1] + (k,)
    b = rng.standard_normal(b_shape).astype(dtype)
    tol = DTOL[dtype] * 10
    check_batching(solve_p, [a, b], flags, rtol=tol, atol=tol)


def test_solve_vmap_shared_matrix_factors_once():
    """A shared matrix and a batch of right-hand sides: one solve with the batch
    folded into the columns, no broadcast of the matrix."""
    a, b = np.eye(4), np.ones((B, 4, 2))
    ir = _trace_rule(solve_p, [a, b], (False, True), {})
    solves = [eq for eq in ir.equations if eq.primitive is solve_p]
    assert len(solves) == 1
    assert [v.aval.shape for v in solves[0].inputs] == [(4, 4), (4, B * 2)]
    assert not any(eq.primitive.name == "broadcast_in_dim" for eq in ir.equations)


@pytest.mark.parametrize("flags", FLAGS)
def test_solve_vmap_singular_example(flags):
    """A singular matrix gives NaN for its example only, as a loop would."""
    rng = np.random.default_rng(5)
    a = _well_conditioned((B, 3, 3) if flags[0] else (3, 3), np.float64, rng)
    if flags[0]:
        a[1] = 0.0
    b = rng.standard_normal((B, 3, 2) if flags[1] else (3, 2))
    check_batching(solve_p, [a, b], flags, rtol=1e-10)


@pytest.mark.parametrize("prim", [inv_p, det_p, slogdet_p, cholesky_p],
                         ids=lambda p: p.name)
def test_unary_vmap_singular_example(prim):
    rng = np.random.default_rng(6)
    a = _spd((B, 3, 3), np.float64, rng)
    a[1] = 0.0 if prim is not cholesky_p else -np.eye(3)
    check_batching(prim, [a], (True,), rtol=1e-12, atol=1e-12)


def test_every_flag_combination_covered():
    assert set(FLAGS) == set(itertools.product([True, False], repeat=2)) - {(False, False)}
