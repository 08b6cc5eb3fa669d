"""jnp's comparisons, logaddexp, diff, convolve/correlate, cov/corrcoef, pad modes,
nonzero/argwhere/unique/searchsorted and jnp.ndarray, against JAX (values,
derivatives, vmap, jit with size=)."""
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
A5, V3 = RNG.standard_normal(5), RNG.standard_normal(3)
M = RNG.standard_normal((3, 6))


def close(got, want, **kw):
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-12, atol=1e-12, **kw)


def test_isclose_allclose_array_equal_match_jax():
    a = np.array([1.0, np.inf, -np.inf, np.nan, 2.0, 1e-9])
    b = np.array([1.0 + 1e-9, np.inf, np.inf, np.nan, 2.1, 0.0])
    for equal_nan in (False, True):
        np.testing.assert_array_equal(jnp.isclose(a, b, equal_nan=equal_nan),
                                      jjnp.isclose(a, b, equal_nan=equal_nan))
    assert bool(jnp.allclose(a[:2], b[:2])) and not bool(jnp.allclose(a, b))
    assert bool(jnp.allclose(a[:2], b[:2], rtol=0, atol=0)) is False
    np.testing.assert_array_equal(jnp.isclose(np.arange(3), np.array([0, 1, 3])), [True, True, False])
    assert bool(jnp.array_equal(a, a)) is False and bool(jnp.array_equal(a, a, equal_nan=True))
    assert bool(jnp.array_equal(np.ones(3), np.ones(4))) is False
    assert bool(jnp.array_equiv(np.ones(3), np.ones((2, 3)))) and not bool(jnp.array_equiv(np.ones(3), np.ones(2)))
    assert bool(nbad.jit(jnp.allclose)(a[:2], b[:2]))


@pytest.mark.parametrize("fn", ["logaddexp", "logaddexp2"])
def test_logaddexp(fn):
    x1 = np.array([0.0, 1.0, -np.inf, np.inf, 800.0, -3.0, np.inf])
    x2 = np.array([0.0, 2.0, -np.inf, 1.0, 800.0, 40.0, np.inf])
    close(getattr(jnp, fn)(x1, x2), getattr(jjnp, fn)(x1, x2))
    f = getattr(jnp, fn)
    check_grads(f, (np.array([0.3, -1.0, 2.0]), np.array([0.3, 1.5, -2.0])), order=2)
    close(nbad.grad(f)(0.0, 0.0), jax.grad(getattr(jjnp, fn))(0.0, 0.0))      # the tie: 0.5
    close(nbad.vmap(f)(x1[:3], x2[:3]), np.stack([f(a, b) for a, b in zip(x1[:3], x2[:3])]))


def test_diff():
    x = RNG.standard_normal((4, 5))
    for kw in ({}, {"n": 2}, {"axis": 0}, {"prepend": 0.0, "append": x[:, :1]}, {"n": 0}):
        close(jnp.diff(x, **kw), jjnp.diff(x, **kw))
    check_grads(lambda x: jnp.diff(x, n=2, axis=0), (x,), order=2)


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("sizes", [(5, 3), (3, 5), (4, 6)])
def test_convolve_correlate(mode, sizes):
    a, v = RNG.standard_normal(sizes[0]), RNG.standard_normal(sizes[1])
    close(jnp.convolve(a, v, mode), jjnp.convolve(a, v, mode))
    close(jnp.correlate(a, v, mode), jjnp.correlate(a, v, mode))


def test_convolve_grads_vmap_complex():
    check_grads(lambda a, v: jnp.convolve(a, v, "same"), (A5, V3), order=2)
    check_grads(lambda a, v: jnp.correlate(a, v, "full"), (A5, V3), order=1)
    batch = RNG.standard_normal((4, 5))
    close(nbad.vmap(jnp.convolve, in_axes=(0, None))(batch, V3),
          np.stack([np.convolve(b, V3) for b in batch]))
    z = A5 + 1j * A5[::-1]
    close(jnp.correlate(z, V3 * 1j, "full"), np.correlate(z, V3 * 1j, "full"))


def test_cov_corrcoef():
    y, aw, fw = RNG.standard_normal(6), RNG.random(6), np.array([1, 2, 1, 3, 1, 1])
    for args, kw in [((M,), {}), ((M, y), {}), ((M.T,), {"rowvar": False}), ((M,), {"bias": True}),
                     ((M,), {"fweights": fw, "aweights": aw}), ((M,), {"aweights": aw, "ddof": 0}),
                     ((y,), {})]:
        close(jnp.cov(*args, **kw), jjnp.cov(*args, **kw))
    close(jnp.corrcoef(M), jjnp.corrcoef(M))
    close(jnp.corrcoef(M, y), jjnp.corrcoef(M, y))
    check_grads(jnp.cov, (M,), order=2)
    check_grads(jnp.corrcoef, (M,), order=1)
    close(nbad.jit(jnp.cov)(M), np.cov(M))


@pytest.mark.parametrize("mode", ["reflect", "symmetric", "edge", "wrap"])
def test_pad_modes(mode):
    x = np.arange(12.0).reshape(3, 4)
    widths = ((2, 5), (1, 3))
    close(jnp.pad(x, widths, mode=mode), jjnp.pad(x, widths, mode=mode))
    check_grads(lambda x: jnp.pad(x, widths, mode=mode), (x,), order=1)


def test_nonzero_argwhere_concrete_and_sized():
    x = np.array([[0, 1, 2], [3, 0, 4]])
    for got, want in zip(jnp.nonzero(x), np.nonzero(x)):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(jnp.flatnonzero(x), np.flatnonzero(x))
    np.testing.assert_array_equal(jnp.argwhere(x), np.argwhere(x))
    for size, fill in [(6, -1), (3, (7, 8))]:
        got = nbad.jit(lambda x: jnp.nonzero(x, size=size, fill_value=fill))(x)
        want = jjnp.nonzero(x, size=size, fill_value=fill)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)
    np.testing.assert_array_equal(nbad.jit(lambda x: jnp.argwhere(x, size=5, fill_value=9))(x),
                                  jjnp.argwhere(x, size=5, fill_value=9))
    rows = np.array([[0.0, 2.0, 0.0], [1.0, 1.0, 0.0]])
    np.testing.assert_array_equal(nbad.vmap(lambda r: jnp.flatnonzero(r, size=2, fill_value=-1))(rows),
                                  [[1, -1], [0, 1]])
    with pytest.raises(ConcretizationError, match="size="):
        nbad.jit(jnp.nonzero)(x)


def test_unique():
    y = np.array([3.0, 1.0, 2.0, 3.0, np.nan, 1.0])
    np.testing.assert_array_equal(jnp.unique(y), np.unique(y))
    vals, counts = jnp.unique(np.array([2, 1, 2]), return_counts=True)
    np.testing.assert_array_equal(vals, [1, 2])
    np.testing.assert_array_equal(counts, [1, 2])
    for size, fill in [(6, 0.0)]:
        np.testing.assert_array_equal(nbad.jit(lambda y: jnp.unique(y, size=size, fill_value=fill))(y),
                                      jjnp.unique(y, size=size, fill_value=fill))
    ints = np.array([5, 3, 5, 1])
    for size in (4, 2):    # padded with the minimum (fill_value's default), and truncated
        np.testing.assert_array_equal(nbad.jit(lambda v: jnp.unique(v, size=size))(ints),
                                      jjnp.unique(ints, size=size))
    with pytest.raises(ConcretizationError):
        nbad.jit(jnp.unique)(y)


@pytest.mark.parametrize("method", ["scan", "compare_all"])
def test_searchsorted(method):
    rng = np.random.default_rng(3)
    values = np.concatenate([rng.integers(-1, 11, 12).astype(float), [np.nan, np.inf, -np.inf]])
    for n in (0, 1, 2, 7, 8, 33):
        a = np.sort(rng.integers(0, 10, n).astype(float))
        if n > 3:
            a[-2:] = np.nan                     # NaN sorts last
        for side in ("left", "right"):
            want = np.searchsorted(a, values, side=side)
            np.testing.assert_array_equal(jnp.searchsorted(a, values, side=side, method=method), want)
            if n == 33:
                jitted = nbad.jit(lambda a, v: jnp.searchsorted(a, v, side=side, method=method))
                np.testing.assert_array_equal(jitted(a, values), want)
    a = np.arange(10.0)
    v = np.array([[0.5, 3.0], [9.5, -1.0]])
    np.testing.assert_array_equal(jnp.searchsorted(a, v, method=method), np.searchsorted(a, v))
    np.testing.assert_array_equal(nbad.vmap(lambda v: jnp.searchsorted(a, v, method=method))(v[0]), [1, 3])
    assert nbad.jit(lambda v: jnp.searchsorted(a, v, side="right", method=method))(3.0) == 4
    np.testing.assert_array_equal(jnp.searchsorted(np.array([3.0, 1.0, 2.0]), 2.5, sorter=np.array([1, 2, 0])), 2)


def test_ndarray_type():
    assert isinstance(jnp.ones(3), jnp.ndarray)
    assert not isinstance(np.ones(3), jnp.ndarray)
    assert nbad.jit(lambda x: isinstance(x, jnp.ndarray))(1.0)
    assert nbad.grad(lambda x: x * isinstance(x, jnp.ndarray))(2.0) == 1.0

    def annotated(x: jnp.ndarray) -> jnp.ndarray:
        return x

    assert annotated.__annotations__["x"] is jnp.ndarray
