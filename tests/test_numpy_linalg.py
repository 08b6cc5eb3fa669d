"""Products, einsum, diagonals and norms against NumPy, eagerly and traced."""
import numpy as np
import pytest

import nbad.numpy as jnp
from nbad.errors import NbadValueError, ShapeError
from nbad.test_util import trace_and_eval

rng = np.random.default_rng(1)


def rand(*shape, dtype=np.float64):
    if np.dtype(dtype).kind in "iu":
        return rng.integers(-5, 6, shape).astype(dtype)
    if np.dtype(dtype).kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def assert_same(out, want, rtol=1e-10):
    out, want = np.asarray(out), np.asarray(want)
    assert out.dtype == want.dtype, (out.dtype, want.dtype)
    assert out.shape == want.shape, (out.shape, want.shape)
    if want.dtype.kind in "fc" and (want.dtype.itemsize == 4 or want.dtype == np.complex64):
        rtol = 2e-5
    np.testing.assert_allclose(out, want, rtol=rtol, atol=rtol)


def traced(fn, *args):
    return trace_and_eval(fn, *args)


MATMUL_SHAPES = [((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 5)), ((3, 4), (4, 5)),
                 ((2, 3, 4), (4, 5)), ((2, 3, 4), (4,)), ((4,), (2, 4, 5)), ((3, 4), (2, 4, 5)),
                 ((2, 3, 4), (2, 4, 5)), ((2, 1, 3, 4), (5, 4, 2)), ((1, 3, 4), (6, 4, 2))]


@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES)
def test_matmul(sa, sb):
    a, b = rand(*sa), rand(*sb)
    assert_same(jnp.matmul(a, b), np.matmul(a, b))


@pytest.mark.parametrize("da,db", [(np.float32, np.float32), (np.int32, np.int32),
                                   (np.int32, np.float32), (np.float32, np.float64),
                                   (np.complex64, np.float32), (bool, bool)])
def test_matmul_dtypes(da, db):
    a, b = rand(3, 4, dtype=da), rand(4, 2, dtype=db)
    if da is bool:
        a, b = a > 0, b > 0
    assert_same(jnp.matmul(a, b), np.matmul(a, b))


def test_matmul_errors_name_both_shapes():
    with pytest.raises(ShapeError, match=r"matmul.*\(3, 4\).*\(5, 2\)"):
        jnp.matmul(rand(3, 4), rand(5, 2))
    with pytest.raises(ShapeError, match="at least 1-D"):
        jnp.matmul(rand(3), 2.0)


@pytest.mark.parametrize("sa,sb", [((), (3,)), ((4,), (4,)), ((3, 4), (4,)), ((3, 4), (4, 2)),
                                   ((2, 3, 4), (5, 4, 6)), ((2, 3, 4), (4,)), ((4,), (2, 4, 3))])
def test_dot(sa, sb):
    a, b = rand(*sa), rand(*sb)
    assert_same(jnp.dot(a, b), np.dot(a, b))


def test_dot_with_python_scalar_is_weak():
    a = rand(3, dtype=np.float32)
    assert_same(jnp.dot(a, 2.0), np.dot(a, np.float32(2.0)))


def test_vdot_inner_outer_kron():
    a, b = rand(2, 3, dtype=np.complex128), rand(6, dtype=np.complex128)
    assert_same(jnp.vdot(a, b), np.vdot(a, b))
    x, y = rand(2, 3, 4), rand(5, 4)
    assert_same(jnp.inner(x, y), np.inner(x, y))
    assert_same(jnp.inner(3.0, y), np.inner(3.0, y))
    assert_same(jnp.outer(x, y), np.outer(x, y))
    for sa, sb in [((2, 3), (4, 2)), ((3,), (2, 2)), ((2, 1, 2), (3,))]:
        p, q = rand(*sa), rand(*sb)
        assert_same(jnp.kron(p, q), np.kron(p, q))


@pytest.mark.parametrize("sb,axes", [((2, 3), 0), ((5, 2), 1), ((4, 5, 2), 2),
                                     ((5, 3, 4), ((0, 2), (1, 0))), ((5, 3, 4), ([1], [2])),
                                     ((5, 3, 4), (-1, 0))])
def test_tensordot(sb, axes):
    a, b = rand(3, 4, 5), rand(*sb)
    assert_same(jnp.tensordot(a, b, axes), np.tensordot(a, b, axes))


EINSUM_CASES = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("ij,jk", [(3, 4), (4, 5)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("...ij,...jk->...ik", [(2, 3, 4), (2, 4, 5)]),
    ("...ij,...jk->...ik", [(6, 1, 3, 4), (2, 4, 5)]),
    ("ij,j->i", [(3, 4), (4,)]),
    ("i,i->", [(4,), (4,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("ii", [(4, 4)]),
    ("ii->i", [(4, 4)]),
    ("ij->", [(3, 4)]),
    ("ij->j", [(3, 4)]),
    ("ij->ji", [(3, 4)]),
    ("ji", [(3, 4)]),
    ("bii->bi", [(2, 3, 3)]),
    ("iij->j", [(3, 3, 2)]),
    ("ij,ij->ij", [(3, 4), (3, 4)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
    ("ijk,jil->kl", [(2, 3, 4), (3, 2, 5)]),
    ("i...->...", [(3, 4, 5)]),
    ("ab,cd->abcd", [(2, 3), (4, 2)]),
    ("ij,ik->", [(3, 4), (3, 5)]),
]


@pytest.mark.parametrize("subscripts,shapes", EINSUM_CASES)
def test_einsum(subscripts, shapes):
    ops = [rand(*s) for s in shapes]
    assert_same(jnp.einsum(subscripts, *ops), np.einsum(subscripts, *ops))


def test_einsum_dtypes_and_errors():
    a, b = rand(3, 4, dtype=np.int32), rand(4, 2, dtype=np.float32)
    assert_same(jnp.einsum("ij,jk->ik", a, b), np.einsum("ij,jk->ik", a, b))
    assert_same(jnp.einsum("ij,jk->ik", a, a.T), np.einsum("ij,jk->ik", a, a.T))
    with pytest.raises(ShapeError, match="label 'j'"):
        jnp.einsum("ij,jk->ik", rand(3, 4), rand(5, 2))
    with pytest.raises(NbadValueError, match="operands"):
        jnp.einsum("ij,jk->ik", rand(3, 4))


@pytest.mark.parametrize("offset", [0, 1, -1, 3, -5])
def test_diagonal_trace_diag(offset):
    m = rand(4, 5)
    assert_same(jnp.diagonal(m, offset), np.diagonal(m, offset))
    assert_same(jnp.trace(m, offset), np.trace(m, offset))
    assert_same(jnp.diag(m, offset), np.diag(m, offset))
    v = rand(3)
    assert_same(jnp.diag(v, offset), np.diag(v, offset))
    t = rand(2, 3, 4)
    assert_same(jnp.diagonal(t, offset, 2, 0), np.diagonal(t, offset, 2, 0))
    assert_same(jnp.trace(t, offset, -1, 1), np.trace(t, offset, -1, 1))


def test_trace_integer_accumulates_in_int64():
    m = rand(3, 3, dtype=np.int32)
    assert_same(jnp.trace(m), np.trace(m))


def test_products_traced():
    a, b = rand(2, 3, 4), rand(4, 5)
    out, ir = traced(jnp.matmul, a, b)
    assert_same(out, a @ b)
    assert str(ir).count("dot_general") == 1
    out, _ = traced(lambda x, y: jnp.einsum("bij,jk->bki", x, y), a, b)
    assert_same(out, np.einsum("bij,jk->bki", a, b))
    out, _ = traced(lambda x: jnp.trace(x, 0, 1, 2), a)
    assert_same(out, np.trace(a, 0, 1, 2))
    out, _ = traced(lambda v: jnp.diag(v, -1), b[0])
    assert_same(out, np.diag(b[0], -1))


# -- norms ------------------------------------------------------------------------
VECTOR_ORDS = [None, 2, 1, np.inf, -np.inf, 0, 3, 0.5, -2]


@pytest.mark.parametrize("ord", VECTOR_ORDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int32, np.complex128])
def test_vector_norm(ord, dtype):
    x = rand(5, dtype=dtype)
    with np.errstate(divide="ignore"):  # NumPy's own 0 ** negative ord
        assert_same(jnp.linalg.norm(x, ord), np.linalg.norm(x, ord))
        m = rand(3, 4, dtype=dtype)
        for axis in (0, 1, -1):
            assert_same(jnp.linalg.norm(m, ord, axis), np.linalg.norm(m, ord, axis))
            assert_same(jnp.linalg.norm(m, ord, axis, keepdims=True),
                        np.linalg.norm(m, ord, axis, keepdims=True))


@pytest.mark.parametrize("ord", [None, "fro", 1, -1, np.inf, -np.inf])
def test_matrix_norm(ord):
    m = rand(3, 4)
    assert_same(jnp.linalg.norm(m, ord), np.linalg.norm(m, ord))
    t = rand(2, 3, 4, dtype=np.float32)
    for axis in [(0, 1), (2, 0), (-1, -2)]:
        assert_same(jnp.linalg.norm(t, ord, axis), np.linalg.norm(t, ord, axis))
        assert_same(jnp.linalg.norm(t, ord, axis, keepdims=True),
                    np.linalg.norm(t, ord, axis, keepdims=True))


def test_norm_defaults_extremes_and_errors():
    t = rand(2, 3, 4)
    assert_same(jnp.linalg.norm(t), np.linalg.norm(t))
    assert_same(jnp.linalg.norm(t, keepdims=True), np.linalg.norm(t, keepdims=True))
    big = np.array([1e200, 1e200, -3.0])
    assert_same(jnp.linalg.norm(big, np.inf), np.linalg.norm(big, np.inf))
    assert_same(jnp.linalg.norm(np.array([np.inf, 1.0])), np.linalg.norm(np.array([np.inf, 1.0])))
    with pytest.raises(NbadValueError, match="singular value"):
        jnp.linalg.norm(rand(3, 3), "nuc")
    with pytest.raises(NbadValueError, match="pass axis"):
        jnp.linalg.norm(t, 1)
    with pytest.raises(NbadValueError, match="vectors"):
        jnp.linalg.norm(rand(3), "fro")


def test_norm_traced():
    m = rand(3, 4)
    out, _ = traced(lambda x: jnp.linalg.norm(x, axis=1), m)
    assert_same(out, np.linalg.norm(m, axis=1))
    out, _ = traced(lambda x: jnp.linalg.norm(x, 1), m)
    assert_same(out, np.linalg.norm(m, 1))
