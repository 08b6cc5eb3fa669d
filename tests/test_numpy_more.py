"""jnp's vectorize, apply_along_axis, select, piecewise, interp, polyval,
trapezoid, cross, digitize, isin, divmod, angle, nan-statistics, bincount,
cumulative_sum, index helpers, rot90, append, vander — against JAX/NumPy,
with derivatives and vmap where differentiable."""
import warnings

import numpy as np
import pytest

import nbad
import nbad.numpy as jnp
from nbad.errors import ConcretizationError
from nbad.test_util import check_grads

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
import jax.numpy as jjnp  # noqa: E402

RNG = np.random.default_rng(0)
A3 = RNG.random((3, 4, 5))
XS = np.linspace(-2, 2, 7)


def same(got, want):
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-12, atol=1e-14)
    assert np.asarray(got).shape == np.asarray(want).shape


def test_vectorize():
    add = jnp.vectorize(lambda a, b: a * b + 1)
    same(add(A3, XS[:5]), A3 * XS[:5] + 1)
    matvec = jnp.vectorize(lambda m, v: m @ v, signature="(m,n),(n)->(m)")
    b, c = RNG.random((6, 3, 4)), RNG.random(4)
    same(matvec(b, c), jjnp.vectorize(lambda m, v: m @ v, signature="(m,n),(n)->(m)")(b, c))
    same(nbad.jit(matvec)(b, c), b @ c)
    same(nbad.grad(lambda b: matvec(b, c).sum())(b), np.broadcast_to(c, b.shape))
    power = jnp.vectorize(lambda a, p: a ** p, excluded={1})
    same(power(A3, 3), A3 ** 3)
    with pytest.raises(ValueError, match="signature"):
        jnp.vectorize(lambda a: a, signature="(n)->")
    with pytest.raises(TypeError, match="core dimension"):
        matvec(b, RNG.random(5))


def test_apply_along_axis_select_piecewise():
    def stats(row):
        return jnp.stack([row.sum(), row.max()])

    same(jnp.apply_along_axis(stats, 1, A3),
         jjnp.apply_along_axis(lambda r: jjnp.stack([r.sum(), r.max()]), 1, A3))
    same(jnp.apply_along_axis(jnp.sum, -1, A3), A3.sum(-1))
    conds, choices = [XS < 0, XS > 1], [XS, XS ** 2]
    same(jnp.select(conds, choices, -1.0), jjnp.select(conds, choices, -1.0))
    funcs = [lambda v: -v, lambda v: v ** 2, 0.5]
    same(jnp.piecewise(XS, conds, funcs), jjnp.piecewise(XS, conds, funcs))
    same(jnp.piecewise(np.arange(-2, 3), [np.arange(-2, 3) < 0], [lambda v: v * 1.5, 7]),
         np.piecewise(np.arange(-2, 3), [np.arange(-2, 3) < 0], [lambda v: v * 1.5, 7]))
    check_grads(lambda x: jnp.piecewise(x, [x < 0], [jnp.sin, jnp.cos]), (XS + 0.1,), order=2)


def test_interp():
    xp, fp = np.array([0.0, 1.0, 1.0, 2.5, 4.0]), np.array([1.0, 3.0, -1.0, 2.0, 0.0])
    x = np.linspace(-1, 5, 13)
    same(jnp.interp(x, xp, fp), np.interp(x, xp, fp))
    same(jnp.interp(x, xp, fp, left=-9, right=9), np.interp(x, xp, fp, left=-9, right=9))
    same(jnp.interp(x, xp[[0, 1, 3, 4]], fp[[0, 1, 3, 4]], period=3), np.interp(x, xp[[0, 1, 3, 4]], fp[[0, 1, 3, 4]], period=3))
    same(nbad.jit(jnp.interp)(x, xp, fp), np.interp(x, xp, fp))
    inner = np.array([0.3, 1.7, 3.1])
    check_grads(lambda x, fp: jnp.interp(x, xp, fp), (inner, fp), order=2)
    same(nbad.vmap(lambda f: jnp.interp(inner, xp, f))(np.stack([fp, 2 * fp])),
         np.stack([np.interp(inner, xp, fp), np.interp(inner, xp, 2 * fp)]))


def test_polyval_trapezoid_cross():
    p = np.array([1.0, -2.0, 3.0])
    same(jnp.polyval(p, XS), np.polyval(p, XS))
    check_grads(jnp.polyval, (p, XS), order=2)
    y, x2 = RNG.random((3, 5)), np.sort(RNG.random((3, 5)), 1)
    same(jnp.trapezoid(y), np.trapezoid(y))
    same(jnp.trapezoid(y, x2[0]), np.trapezoid(y, x2[0]))
    same(jnp.trapezoid(y, x2), jjnp.trapezoid(y, x2))
    same(jnp.trapezoid(y, dx=0.5, axis=0), np.trapezoid(y, dx=0.5, axis=0))
    check_grads(jnp.trapezoid, (y, x2), order=2)
    a, b = RNG.random((4, 3)), RNG.random(3)
    same(jnp.cross(a, b), np.cross(a, b))
    same(jnp.cross(a.T, b, axisa=0), np.cross(a.T, b, axisa=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        same(jnp.cross(a[:, :2], b[:2]), np.cross(a[:, :2], b[:2]))
        same(jnp.cross(a[:, :2], b), np.cross(a[:, :2], b))
    check_grads(jnp.cross, (a, b), order=2)


def test_digitize_isin_divmod_angle_bincount():
    bins, v = np.array([0.0, 1.0, 2.5, 4.0]), np.array([-1.0, 0.0, 0.5, 1.0, 3.0, 4.0, 5.0])
    for b in (bins, bins[::-1]):
        for right in (False, True):
            np.testing.assert_array_equal(jnp.digitize(v, b, right=right), np.digitize(v, b, right=right))
    m = np.array([[1, 2], [3, 4]])
    np.testing.assert_array_equal(jnp.isin(m, [2, 4, 7]), np.isin(m, [2, 4, 7]))
    np.testing.assert_array_equal(jnp.isin(m, [2], invert=True), np.isin(m, [2], invert=True))
    for got, want in zip(jnp.divmod(np.arange(-3, 4), 2), np.divmod(np.arange(-3, 4), 2)):
        np.testing.assert_array_equal(got, want)
    z = np.array([1 + 1j, -1, 0.5j])
    same(jnp.angle(z), np.angle(z))
    same(jnp.angle(np.array([-1.0, 2.0, -np.inf]), deg=True), np.angle(np.array([-1.0, 2.0, -np.inf]), deg=True))
    c, w = np.array([0, 1, 1, 3, 2, 1, 7]), RNG.random(7)
    np.testing.assert_array_equal(jnp.bincount(c), np.bincount(c))
    same(jnp.bincount(c, w, minlength=10), np.bincount(c, w, minlength=10))
    np.testing.assert_array_equal(nbad.jit(lambda c: jnp.bincount(c, length=5))(c), jjnp.bincount(c, length=5))
    check_grads(lambda w: jnp.bincount(c, w), (w,), order=1)
    with pytest.raises(ConcretizationError, match="length="):
        nbad.jit(jnp.bincount)(c)


def test_nan_statistics_and_cumulative_sum():
    w = RNG.random((3, 4))
    w[0, 1] = np.nan
    for axis in (None, 0, 1):
        same(jnp.nanvar(w, axis=axis), np.nanvar(w, axis=axis))
        same(jnp.nanstd(w, axis=axis, ddof=1), np.nanstd(w, axis=axis, ddof=1))
        same(jnp.nanprod(w, axis=axis), np.nanprod(w, axis=axis))
    same(jnp.nancumsum(w, axis=1), np.nancumsum(w, axis=1))
    same(jnp.nancumprod(w), np.nancumprod(w))
    check_grads(lambda w: jnp.nanvar(w, axis=1), (w,), order=2)
    same(jnp.cumulative_sum(np.arange(4.0), include_initial=True),
         jjnp.cumulative_sum(np.arange(4.0), include_initial=True))


def test_index_helpers():
    for got, want in [(jnp.tril_indices(4, -1, 5), np.tril_indices(4, -1, 5)),
                      (jnp.triu_indices(3, 1), np.triu_indices(3, 1)),
                      (jnp.triu_indices_from(np.ones((3, 4))), np.triu_indices_from(np.ones((3, 4)))),
                      (jnp.diag_indices(3), np.diag_indices(3)), (jnp.indices((2, 3)), np.indices((2, 3))),
                      (jnp.unravel_index(np.array([0, 5, 11, -1]), (3, 4)),
                       jjnp.unravel_index(np.array([0, 5, 11, -1]), (3, 4)))]:
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)
    coords = (np.array([0, 2, 1]), np.array([3, 0, 1]))
    for order in ("C", "F"):
        np.testing.assert_array_equal(jnp.ravel_multi_index(coords, (3, 4), order=order),
                                      np.ravel_multi_index(coords, (3, 4), order=order))
    wrap = (np.array([5]), np.array([-1]))
    np.testing.assert_array_equal(jnp.ravel_multi_index(wrap, (3, 4), mode="wrap"),
                                  np.ravel_multi_index(wrap, (3, 4), mode="wrap"))
    with pytest.raises(ValueError, match="invalid entry"):
        jnp.ravel_multi_index(wrap, (3, 4))


def test_rot90_append_vander():
    for k in range(-1, 5):
        for axes in [(0, 1), (1, 2), (2, 0)]:
            np.testing.assert_array_equal(jnp.rot90(A3, k, axes), np.rot90(A3, k, axes))
    np.testing.assert_array_equal(jnp.append(A3, A3, axis=1), np.append(A3, A3, axis=1))
    np.testing.assert_array_equal(jnp.append(A3, [1.0, 2.0]), np.append(A3, [1.0, 2.0]))
    same(jnp.vander(np.array([1.0, 2.0, 3.0])), np.vander([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(jnp.vander(np.array([1, 2, 3]), 4, True), np.vander([1, 2, 3], 4, True))
    check_grads(lambda x: jnp.vander(x, 4), (XS[:3],), order=2)
    check_grads(lambda x: jnp.rot90(x, 1, (1, 2)), (A3[:1, :2, :3],), order=1)
