"""jvp/vjp rules of the reductions, arg-reductions and scans (nbad/rules/reduce.py).

Eager only (no jit): check_rule compares each rule with central finite
differences of the primitive's impl; the tie/zero conventions are compared
with JAX's gradients.
"""
import numpy as np
import pytest

from nbad.core.primitive import Primitive
from nbad.rules import reduce as rp
from nbad.test_util import check_rule, check_traced

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
import jax.numpy as jjnp  # noqa: E402
from jax import lax  # noqa: E402

RNG = np.random.default_rng(0)


def _x(*shape):
    return RNG.standard_normal(shape)


def _jac_rev(prim, x, **params):
    """Our vjp rule, row by row: d out / d x as (out.size, x.size)."""
    out = prim.impl(x, **params)
    rows = []
    for e in np.eye(np.size(out)):
        rows.append(np.asarray(prim.vjp(e.reshape(np.shape(out)), [x], out, **params)[0]).ravel())
    return np.array(rows)


def _jac_fwd(prim, x, **params):
    out = prim.impl(x, **params)
    cols = []
    for e in np.eye(np.size(x)):
        cols.append(np.asarray(prim.jvp([x], [e.reshape(x.shape)], out, **params)).ravel())
    return np.array(cols).T


def test_every_primitive_has_rules():
    prims = [v for v in vars(rp).values() if isinstance(v, Primitive)]
    assert len(prims) >= 14
    for p in prims:
        assert p.nondiff or (p.has_rule("jvp") and p.has_rule("vjp")), p.name


@pytest.mark.parametrize("shape,axes", [
    ((5,), (0,)), ((3, 4), (0,)), ((3, 4), (1,)), ((3, 4), (0, 1)),
    ((2, 3, 4), (0, 2)), ((2, 3, 4), (1,)), ((2, 3, 4), (0, 1, 2)), ((2, 1, 3), (1,)),
])
@pytest.mark.parametrize("name", ["reduce_sum", "reduce_prod", "reduce_max", "reduce_min"])
def test_reductions_fd(name, shape, axes):
    check_rule(getattr(rp, name + "_p"), [_x(*shape)], dict(axes=axes))


def test_reduce_prod_fd_with_one_zero():
    x = _x(3, 4)
    x[1, 2] = 0.0
    check_rule(rp.reduce_prod_p, [x], dict(axes=(1,)))
    check_rule(rp.reduce_prod_p, [x], dict(axes=(0, 1)))


@pytest.mark.parametrize("x", [
    [1.0, 0.0, 3.0, 2.0], [1.0, 0.0, 3.0, 0.0], [0.0, 0.0, 0.0], [2.0], [-1.5, 4.0, 0.5],
])
def test_reduce_prod_zeros_match_jax(x):
    x = np.array(x)
    expected = np.array(jax.jit(jax.jacrev(jjnp.prod))(x)).reshape(1, -1)
    np.testing.assert_allclose(_jac_rev(rp.reduce_prod_p, x, axes=(0,)), expected)
    np.testing.assert_allclose(_jac_fwd(rp.reduce_prod_p, x, axes=(0,)), expected)


@pytest.mark.parametrize("axes", [(0,), (1,), (0, 1)])
@pytest.mark.parametrize("name,jfn", [("reduce_max", jjnp.max), ("reduce_min", jjnp.min)])
def test_max_min_ties_match_jax(name, jfn, axes):
    x = np.array([[1.0, 3.0, 3.0, -2.0], [3.0, 0.5, 3.0, -2.0], [-2.0, -2.0, -2.0, -2.0]])
    prim = getattr(rp, name + "_p")
    expected = np.array(jax.jit(jax.jacrev(lambda v: jfn(v, axis=axes)))(x)).reshape(-1, x.size)
    np.testing.assert_allclose(_jac_rev(prim, x, axes=axes), expected)
    np.testing.assert_allclose(_jac_fwd(prim, x, axes=axes), expected)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 9, 16])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("name", ["cumsum", "cumprod", "cummax", "cummin"])
def test_scans_fd(name, n, reverse):
    prim = getattr(rp, name + "_p")
    check_rule(prim, [_x(3, n)], dict(axis=1, reverse=reverse))
    check_rule(prim, [_x(n, 2)], dict(axis=0, reverse=reverse))


def test_cumprod_fd_with_zero():
    x = _x(2, 6)
    x[0, 2] = 0.0
    check_rule(rp.cumprod_p, [x], dict(axis=1, reverse=False))
    check_rule(rp.cumprod_p, [x], dict(axis=1, reverse=True))


TIED = [
    [1.0, 1.0, 1.0, 0.0, 1.0, 2.0, 2.0],
    [0.0] * 9,
    [3.0, 1.0, 3.0, 3.0, -1.0, 3.0, 4.0, 4.0, 0.0, 4.0, 4.0, 4.0, 5.0],
    [2.0, 2.0],
]


@pytest.mark.parametrize("x", TIED)
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("name", ["cummax", "cummin", "cumprod"])
def test_scan_ties_and_zeros_match_jax(name, reverse, x):
    x = np.array(x)
    if name == "cummin":
        x = -x
    prim = getattr(rp, name + "_p")
    expected = np.array(jax.jit(jax.jacrev(lambda v: getattr(lax, name)(v, reverse=reverse)))(x))
    np.testing.assert_allclose(_jac_rev(prim, x, axis=0, reverse=reverse), expected, atol=1e-12)
    np.testing.assert_allclose(_jac_fwd(prim, x, axis=0, reverse=reverse), expected, atol=1e-12)


def test_cumprod_with_zeros_is_finite_and_matches_jax():
    x = np.array([2.0, 0.0, 3.0, 0.0, 5.0, -1.0])
    expected = np.array(jax.jit(jax.jacrev(jjnp.cumprod))(x))
    got = _jac_rev(rp.cumprod_p, x, axis=0, reverse=False)
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, expected)


@pytest.mark.parametrize("name", ["reduce_and", "reduce_or", "argmax", "argmin"])
def test_nondiff(name):
    assert getattr(rp, name + "_p").nondiff


@pytest.mark.parametrize("name,params", [
    ("reduce_sum", dict(axes=(1,))), ("reduce_prod", dict(axes=(0, 1))),
    ("reduce_max", dict(axes=(0,))), ("reduce_min", dict(axes=(1,))),
    ("cumsum", dict(axis=1, reverse=True)), ("cumprod", dict(axis=1, reverse=False)),
    ("cummax", dict(axis=0, reverse=False)), ("cummin", dict(axis=1, reverse=True)),
])
def test_float32_stays_float32_and_integers_get_none(name, params):
    prim = getattr(rp, name + "_p")
    x = _x(3, 5).astype(np.float32)
    out = prim.impl(x, **params)
    ct = np.ones_like(out)
    (ct_x,) = prim.vjp(ct, [x], out, **params)
    assert np.asarray(ct_x).dtype == np.float32 and np.shape(ct_x) == x.shape
    t = prim.jvp([x], [np.ones_like(x)], out, **params)
    assert np.asarray(t).dtype == np.float32 and np.shape(t) == np.shape(out)
    xi = np.arange(15, dtype=np.int64).reshape(3, 5)
    outi = prim.impl(xi, **params)
    assert prim.vjp(np.ones(np.shape(outi)), [xi], outi, **params) == [None]
    assert prim.jvp([xi], [None], outi, **params) is None


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,params", [
    ("reduce_sum", dict(axes=(0,))), ("reduce_prod", dict(axes=(1,))), ("reduce_max", dict(axes=(0, 1))),
    ("reduce_min", dict(axes=(1,))), ("cumsum", dict(axis=1, reverse=False)),
    ("cumprod", dict(axis=1, reverse=True)), ("cummax", dict(axis=0, reverse=False)),
    ("cummin", dict(axis=1, reverse=True)),
])
def test_rules_trace(name, params, dtype):
    x = np.array([[1.0, 0.0, 3.0, 3.0, -2.0], [2.0, 2.0, 0.5, -1.0, 0.0], [0.0, 4.0, 3.0, 3.0, 1.0]])
    check_traced(getattr(rp, name + "_p"), [x.astype(dtype)], params)
