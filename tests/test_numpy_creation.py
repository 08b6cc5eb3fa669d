"""Array creation, dtype names and constants against NumPy, eagerly and traced."""
import numpy as np
import pytest

import nbad.numpy as jnp
from nbad.core.trace import trace_to_ir
from nbad.errors import ConcretizationError, NbadValueError
from nbad.test_util import trace_and_eval


def assert_same(out, want):
    out = np.asarray(out)
    assert out.dtype == np.asarray(want).dtype, (out.dtype, np.asarray(want).dtype)
    assert out.shape == np.shape(want)
    np.testing.assert_allclose(out, want, rtol=1e-6)


def traced(fn, *args):
    """fn traced abstractly at the args' avals, then evaluated on the args."""
    return trace_and_eval(fn, *args)


# -- array / asarray ------------------------------------------------------------
@pytest.mark.parametrize("obj", [[1, 2, 3], [1, 2.5], [[1, 2], [3, 4]], [True, False], 3.5, 7,
                                 [[1j, 2], [3, 4]], ((1, 2), (3, 4))])
def test_array_matches_numpy(obj):
    assert_same(jnp.array(obj), np.array(obj))
    assert_same(jnp.asarray(obj), np.asarray(obj))


def test_array_dtype_ndmin_and_weak_scalars():
    assert_same(jnp.array([1, 2], dtype=jnp.float32), np.array([1, 2], dtype=np.float32))
    assert_same(jnp.array(3, ndmin=2), np.array(3, ndmin=2))
    # Python scalars are weak: they do not upcast a float32 element.
    assert jnp.array([np.float32(1), 2.0]).dtype == np.float32
    assert jnp.array(np.arange(3, dtype=np.int32)).dtype == np.int32


def test_array_of_tracers_under_tracing():
    """The seed example: jnp.array([x**i for i in range(n)]) with x traced."""
    def powers(x):
        terms, term = [], jnp.ones_like(x)
        for _ in range(4):
            terms.append(term)
            term = jnp.multiply(term, x)
        return jnp.array(terms)

    out, ir = traced(powers, np.float64(3.0))
    assert_same(out, np.array([1.0, 3.0, 9.0, 27.0]))
    assert "concatenate" in str(ir)


def test_array_mixing_tracers_and_constants_keeps_order():
    out, _ = traced(lambda x: jnp.array([[x, 1.0], [2.0, x]]), np.float32(5))
    assert_same(out, np.array([[5, 1], [2, 5]], dtype=np.float32))
    out, _ = traced(lambda v: jnp.array([v, [7, 8, 9]], ndmin=3), np.arange(3.0))
    assert_same(out, np.array([[[0.0, 1, 2], [7, 8, 9]]]))


def test_array_ragged_raises():
    with pytest.raises(NbadValueError, match="ragged"):
        traced(lambda v: jnp.array([v, 1.0]), np.arange(3.0))


# -- filled arrays --------------------------------------------------------------
@pytest.mark.parametrize("name", ["zeros", "ones", "empty"])
@pytest.mark.parametrize("shape,dtype", [((2, 3), None), (4, np.int32), ((), np.float32),
                                         ((0, 2), bool)])
def test_zeros_ones_empty(name, shape, dtype):
    out = getattr(jnp, name)(shape, dtype)
    want = getattr(np, name if name != "empty" else "zeros")(shape, dtype)
    assert_same(out, want)


def test_full_and_likes():
    assert_same(jnp.full((2, 2), 3), np.full((2, 2), 3))
    assert_same(jnp.full((2, 2), 3.5, dtype=np.float32), np.full((2, 2), 3.5, np.float32))
    assert_same(jnp.full((3, 2), [1.0, 2.0]), np.full((3, 2), [1.0, 2.0]))
    x = np.arange(6, dtype=np.int32).reshape(2, 3)
    for name in ["zeros_like", "ones_like", "empty_like"]:
        want = getattr(np, name.replace("empty", "zeros"))(x)
        assert_same(getattr(jnp, name)(x), want)
        assert_same(getattr(jnp, name)(x, dtype=np.float64), want.astype(np.float64))
    assert_same(jnp.full_like(x, 7.9), np.full_like(x, 7.9))
    assert_same(jnp.zeros_like(x, shape=(4,)), np.zeros_like(x, shape=(4,)))


def test_likes_on_tracers_and_full_under_jit_is_an_equation():
    out, ir = traced(lambda x: jnp.add(jnp.ones_like(x), jnp.full_like(x, 2)),
                     np.zeros((2, 3), np.float32))
    assert_same(out, np.full((2, 3), 3, np.float32))
    ir = trace_to_ir(lambda: [jnp.ones((1000, 1000)), jnp.eye(500), jnp.arange(10**6)], [])
    assert not ir.constvars, "creation under tracing must not capture constant arrays"
    assert "full 1.0 {shape=(1000,1000), dtype=f64}" in str(ir)


def test_traced_shape_raises_concretization_error():
    with pytest.raises(ConcretizationError, match="zeros.*shape"):
        traced(lambda n: jnp.zeros(n), np.int64(3))
    with pytest.raises(ConcretizationError, match="arange"):
        traced(lambda n: jnp.arange(n), np.int64(3))


# -- ranges -------------------------------------------------------------------------
@pytest.mark.parametrize("args,kw", [((5,), {}), ((2, 11, 3), {}), ((0.0, 1.0, 0.1), {}),
                                     ((1, 0, -0.25), {}), ((5,), {"dtype": np.float32}),
                                     ((np.float32(1), 5), {}), ((np.int32(2), 7), {}),
                                     ((3, 3), {}), ((-3.5, 4.2, 0.7), {}), ((10, 0, -3), {})])
def test_arange(args, kw):
    assert_same(jnp.arange(*args, **kw), np.arange(*args, **kw))


@pytest.mark.parametrize("kw", [{}, {"num": 7, "endpoint": False}, {"num": 1}, {"num": 0},
                                {"num": 1, "endpoint": False}, {"num": 5, "dtype": np.int64},
                                {"num": 4, "dtype": np.float32}])
def test_linspace(kw):
    assert_same(jnp.linspace(-2, 5, **kw), np.linspace(-2, 5, **kw))


def test_linspace_retstep_arrays_axis_and_float32():
    y, step = jnp.linspace(0, 1, 5, retstep=True)
    wy, wstep = np.linspace(0, 1, 5, retstep=True)
    assert_same(y, wy)
    np.testing.assert_allclose(step, wstep)
    start, stop = np.array([0.0, 1.0]), np.array([[1.0, 3.0], [2.0, 5.0], [0.0, 0.0]])
    for axis in [0, 1, -1, 2]:
        assert_same(jnp.linspace(start, stop, 4, axis=axis), np.linspace(start, stop, 4, axis=axis))
    lo = np.float32(0.5)
    assert_same(jnp.linspace(lo, np.float32(2), 6), np.linspace(lo, np.float32(2), 6))


def test_linspace_traced_endpoints():
    out, _ = traced(lambda a, b: jnp.linspace(a, b, 5), np.float64(1), np.float64(3))
    assert_same(out, np.linspace(1.0, 3.0, 5))


def test_logspace():
    assert_same(jnp.logspace(0, 3, 4), np.logspace(0, 3, 4))
    assert_same(jnp.logspace(0, 3, 4, base=2.0, endpoint=False),
                np.logspace(0, 3, 4, base=2.0, endpoint=False))


# -- matrices -------------------------------------------------------------------
@pytest.mark.parametrize("args", [(3,), (3, 5), (4, 2), (4, 4, 1), (4, 5, -2), (3, 3, 5)])
def test_eye_and_tri(args):
    assert_same(jnp.eye(*args), np.eye(*args))
    assert_same(jnp.eye(*args, dtype=np.int32), np.eye(*args, dtype=np.int32))
    assert_same(jnp.tri(*args), np.tri(*args))
    assert_same(jnp.identity(3, dtype=bool), np.identity(3, dtype=bool))


@pytest.mark.parametrize("k", [-1, 0, 2])
def test_tril_triu(k):
    m = np.arange(24.0).reshape(2, 3, 4)
    assert_same(jnp.tril(m, k), np.tril(m, k))
    assert_same(jnp.triu(m, k), np.triu(m, k))
    with pytest.raises(NbadValueError, match="2-D"):
        jnp.tril(np.arange(3.0))


@pytest.mark.parametrize("indexing", ["xy", "ij"])
@pytest.mark.parametrize("sparse", [False, True])
def test_meshgrid(indexing, sparse):
    xs = [np.arange(3.0), np.arange(4), np.array([1.0, 2.0])]
    for n in (1, 2, 3):
        outs = jnp.meshgrid(*xs[:n], indexing=indexing, sparse=sparse)
        wants = np.meshgrid(*xs[:n], indexing=indexing, sparse=sparse)
        assert len(outs) == len(wants)
        for out, want in zip(outs, wants):
            assert_same(out, want)


# -- dtypes and constants ---------------------------------------------------------
def test_dtype_names():
    for name in ["bool_", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                 "uint64", "float32", "float64", "complex64", "complex128"]:
        t = getattr(jnp, name)
        assert np.dtype(t) == np.dtype(name.rstrip("_"))
        assert t == getattr(np, name) and np.dtype(name.rstrip("_")) == t
    assert jnp.bool is jnp.bool_
    assert_same(jnp.float32(3.7), np.float32(3.7))
    assert_same(jnp.int32([1.7, -2.2]), np.array([1, -2], np.int32))
    assert jnp.zeros(2, jnp.float32).dtype == np.float32
    assert jnp.issubdtype(jnp.float32, jnp.floating)
    assert jnp.finfo(jnp.float32).eps == np.finfo(np.float32).eps
    assert jnp.iinfo(jnp.int8).max == 127
    assert isinstance(np.float32(1), jnp.float32)
    assert {jnp.float32: 1}[np.float32] == 1


def test_dtype_call_on_tracer():
    out, ir = traced(lambda x: jnp.float32(x), np.arange(3.0))
    assert_same(out, np.arange(3, dtype=np.float32))
    assert "convert_element_type" in str(ir)


def test_result_type_and_constants():
    assert jnp.result_type(np.float32(1), 2.0) == np.float32
    assert jnp.result_type(np.int32, np.float32) == np.float64
    assert jnp.result_type(1, 2.0) == np.float64
    x_tracer_dtype = []
    traced(lambda x: x_tracer_dtype.append(jnp.result_type(x, 1.0)) or x, np.float32(1))
    assert x_tracer_dtype == [np.float32]
    assert jnp.promote_types(jnp.int8, jnp.uint8) == np.int16
    assert (jnp.pi, jnp.e, jnp.inf, jnp.newaxis) == (np.pi, np.e, np.inf, None)
    assert np.isnan(jnp.nan)



def test_non_integer_shape_raises_nbad_type_error():
    from nbad.errors import NbadTypeError

    with pytest.raises(NbadTypeError, match="zeros: `shape` must be an integer"):
        jnp.zeros((2.5, 3))
