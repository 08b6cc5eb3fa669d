"""jnp.quantile, percentile, median and their nan- versions against JAX (every
method, axis kinds, keepdims, scalar and 1-d q, with and without NaNs); their
derivatives against finite differences; vmap against a per-example loop."""
import numpy as np
import pytest

import nbad
import nbad.numpy as jnp
from nbad.errors import NbadNotImplementedError, NbadValueError
from nbad.test_util import check_grads

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jj = jax.numpy

RNG = np.random.default_rng(0)
X = RNG.normal(size=(4, 5, 6))
X_NAN = X.copy()
X_NAN[0, 1, 2] = np.nan
X_NAN[2, :, 3] = np.nan
Q = np.array([0.0, 0.25, 0.7, 1.0])
METHODS = ["linear", "lower", "higher", "midpoint", "nearest"]


@pytest.mark.parametrize("fn", ["quantile", "nanquantile", "percentile", "nanpercentile"])
@pytest.mark.parametrize("method", METHODS)
def test_matches_jax(fn, method):
    scale = 100 if "percentile" in fn else 1
    for axis in (None, 1, (0, 2)):
        for keepdims in (False, True):
            for q in (0.3, Q):
                for x in (X, X_NAN):
                    got = getattr(jnp, fn)(x, q * scale, axis=axis, method=method, keepdims=keepdims)
                    want = getattr(jj, fn)(x, q * scale, axis=axis, method=method, keepdims=keepdims)
                    assert got.shape == want.shape and got.dtype == want.dtype
                    np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("fn", ["median", "nanmedian"])
def test_median_matches_jax(fn):
    for axis in (None, -1, (0, 1)):
        for x in (X, X_NAN, np.arange(12).reshape(3, 4)):
            for keepdims in (False, True):
                got = getattr(jnp, fn)(x, axis=axis, keepdims=keepdims)
                want = getattr(jj, fn)(x, axis=axis, keepdims=keepdims)
                assert got.shape == want.shape and got.dtype == want.dtype
                np.testing.assert_allclose(got, want, rtol=1e-15)


def test_derivatives():
    x = RNG.normal(size=(3, 7))
    check_grads(lambda x: jnp.quantile(x, Q[1:3], axis=1), (x,), order=2)
    check_grads(lambda q: jnp.quantile(x, q, axis=0), (np.array([0.3, 0.6]),), order=2)
    check_grads(lambda x: jnp.median(x, axis=0), (x,), order=2)
    x_nan = x.copy()
    x_nan[1, 2] = np.nan
    check_grads(lambda x: jnp.nanpercentile(x, 40.0, axis=1, method="midpoint")[::2], (x,),
                order=2)
    got = nbad.grad(lambda x: jnp.sum(jnp.nanmedian(x, axis=1)))(x_nan)
    want = jax.grad(lambda x: jj.sum(jj.nanmedian(x, axis=1)))(x_nan)
    np.testing.assert_allclose(got, want)


_quantiles_of_rows = nbad.jit(nbad.vmap(lambda x, q: jnp.nanquantile(x, q, method="nearest")))


def test_vmap_is_the_per_example_loop():
    qs = np.array([[0.1, 0.9], [0.5, 0.5], [0.0, 1.0], [0.3, 0.4]])
    got = _quantiles_of_rows(X_NAN[:, 0], qs)
    for i in range(4):
        np.testing.assert_allclose(got[i], jnp.nanquantile(X_NAN[i, 0], qs[i], method="nearest"))


def test_errors():
    with pytest.raises(NbadValueError, match="method can only be"):
        jnp.quantile(X, 0.5, method="bogus")
    with pytest.raises(NbadValueError, match="rank <= 1"):
        jnp.quantile(X, np.ones((2, 2)))
    with pytest.raises(NbadValueError, match="complex"):
        jnp.median(X + 1j)
    with pytest.raises(NbadNotImplementedError, match="weights"):
        jnp.quantile(X, 0.5, weights=X)
    with pytest.raises(NbadValueError, match="repeated axis"):
        jnp.median(X, axis=(1, 1))
