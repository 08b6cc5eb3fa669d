"""nbad.random.gamma, loggamma, beta and dirichlet against jax.random (the oracle):
the same Marsaglia-Tsang while loops, so the same draws to a few ulp, eagerly,
under jit and under vmap over keys; statistics against scipy.stats; JAX's errors;
JAX's implicit gradient in the shape parameter.

Each sampler compiles two nested while loops (seconds): the tests share a few
shapes so that eager calls reuse the compiled kernels."""
import numpy as np
import pytest
import scipy.stats as st

import nbad
import nbad.random as nr
from nbad.errors import NbadValueError

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jr = jax.random

# small, boosted (a < 1), tiny (the log-space path matters) and large shape parameters
ALPHAS = np.array([0.3, 1.0, 2.5, 7.0, 0.05, 30.0])


def assert_close(got, want, rtol=1e-13):
    """nbad's normal draws (the proposals) differ from XLA's by up to ~30 ulp near zero
    (its erf_inv), which the draws inherit: ~1e-14 relative, far from any rejection flip."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, want.shape)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=0)


@pytest.mark.parametrize("seed", [0, 1234])
def test_gamma_matches_jax(seed):
    assert_close(nr.gamma(nr.PRNGKey(seed), ALPHAS), jr.gamma(jr.PRNGKey(seed), ALPHAS))


def test_loggamma_matches_jax_with_a_broadcast_shape():
    got = nr.loggamma(nr.PRNGKey(1), ALPHAS, (3, 6))
    want = jr.loggamma(jr.PRNGKey(1), ALPHAS, (3, 6))
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-14)


def test_beta_and_dirichlet_match_jax():
    np.testing.assert_allclose(nr.beta(nr.PRNGKey(2), 0.5, ALPHAS),
                               jr.beta(jr.PRNGKey(2), 0.5, ALPHAS), rtol=1e-14, atol=1e-16)
    got = nr.dirichlet(nr.PRNGKey(3), ALPHAS, (4,))
    np.testing.assert_allclose(got, jr.dirichlet(jr.PRNGKey(3), ALPHAS, (4,)),
                               rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(np.sum(got, -1), 1.0, rtol=1e-14)


def test_gamma_typed_key_and_float32():
    got = nr.gamma(nr.key(5), ALPHAS.astype(np.float32), dtype=np.float32)
    want = jr.gamma(jr.key(5), ALPHAS.astype(np.float32), dtype=np.float32)
    assert_close(got, want, rtol=1e-5)


_gamma_of_keys = nbad.jit(nbad.vmap(lambda k, a: nr.gamma(k, a), in_axes=(0, None)))


def test_gamma_vmap_over_keys_is_the_per_key_loop_and_jax():
    keys = nr.split(nr.PRNGKey(7), 3)
    got = _gamma_of_keys(keys, ALPHAS)  # the keys batched, alphas shared
    want = jax.vmap(lambda k: jr.gamma(k, ALPHAS))(jr.split(jr.PRNGKey(7), 3))
    assert_close(got, want)
    for i in range(3):
        np.testing.assert_array_equal(got[i], nr.gamma(keys[i], ALPHAS))


def test_gamma_statistics_against_scipy():
    # Kolmogorov-Smirnov against scipy's gamma CDF; a fixed key, so the test is deterministic
    # (JAX draws the same sample, whose variance for a = 3 happens to be 17% high)
    draws = np.asarray(nr.gamma(nr.PRNGKey(11), np.array([0.4, 3.0]), (2000, 2)))
    for j, a in enumerate((0.4, 3.0)):
        assert st.kstest(draws[:, j], st.gamma(a).cdf).pvalue > 1e-3
        np.testing.assert_allclose(draws[:, j].mean(), a, rtol=0.1)
        np.testing.assert_allclose(draws[:, j].var(), a, rtol=0.2)


def test_beta_statistics_against_scipy():
    draws = np.asarray(nr.beta(nr.PRNGKey(12), 2.0, 0.5, (4000,)))
    assert st.kstest(draws, st.beta(2.0, 0.5).cdf).pvalue > 1e-3


def test_errors():
    with pytest.raises(NbadValueError, match="alpha.ndim >= 1"):
        nr.dirichlet(nr.PRNGKey(0), 1.0)
    with pytest.raises(ValueError, match="broadcast"):
        nr.gamma(nr.PRNGKey(0), ALPHAS, (4,))
    with pytest.raises(NbadValueError, match="float dtype"):
        nr.gamma(nr.PRNGKey(0), ALPHAS, dtype=np.int32)


WEIGHTS = np.arange(1.0, 7.0)


@pytest.mark.parametrize("name", ["gamma", "loggamma"])
def test_implicit_gradient_in_a_matches_jax(name):
    # JAX's implicit reparameterisation: dx/da = -(dP/da)/(dP/dx) at the draw
    got = nbad.grad(lambda a: nbad.numpy.sum(getattr(nr, name)(nr.PRNGKey(0), a) * WEIGHTS))(ALPHAS)
    want = jax.grad(lambda a: jax.numpy.sum(getattr(jr, name)(jr.PRNGKey(0), a) * WEIGHTS))(ALPHAS)
    np.testing.assert_allclose(got, want, rtol=1e-11)


def test_beta_and_dirichlet_gradients_match_jax_under_jit():
    got = nbad.jit(nbad.grad(lambda a: nbad.numpy.sum(nr.dirichlet(nr.PRNGKey(4), a)[:2])))(ALPHAS)
    want = jax.grad(lambda a: jax.numpy.sum(jr.dirichlet(jr.PRNGKey(4), a)[:2]))(ALPHAS)
    np.testing.assert_allclose(got, want, rtol=1e-11)
    got = nbad.grad(lambda b: nbad.numpy.sum(nr.beta(nr.PRNGKey(5), 2.0, b) * WEIGHTS))(ALPHAS)
    want = jax.grad(lambda b: jax.numpy.sum(jr.beta(jr.PRNGKey(5), 2.0, b) * WEIGHTS))(ALPHAS)
    np.testing.assert_allclose(got, want, rtol=1e-11)


def test_gradient_through_a_scale_of_a_constant_shape():
    scaled = nbad.grad(lambda s: s * nr.gamma(nr.PRNGKey(0), 2.0))(3.0)
    np.testing.assert_allclose(scaled, jr.gamma(jr.PRNGKey(0), 2.0), rtol=1e-13)


# -- poisson --------------------------------------------------------------------------------
KNUTH_LAMS = np.array([0.0, 0.5, 3.0, 9.9])
REJECTION_LAMS = np.array([10.0, 25.0, 400.0, 1e4])


@pytest.mark.parametrize("lam", [KNUTH_LAMS, REJECTION_LAMS], ids=["knuth", "rejection"])
def test_poisson_matches_jax(lam):
    got = nr.poisson(nr.PRNGKey(0), lam, (50, 4))
    want = jr.poisson(jr.PRNGKey(0), lam, (50, 4))
    assert got.dtype == want.dtype == np.int64
    np.testing.assert_array_equal(got, want)


_poisson_of_keys = nbad.jit(nbad.vmap(lambda k: nr.poisson(k, KNUTH_LAMS, (50, 4))))


def test_poisson_vmap_over_keys_is_the_per_key_loop():
    keys = nr.split(nr.PRNGKey(3), 2)
    got = _poisson_of_keys(keys)
    for i in range(2):
        np.testing.assert_array_equal(got[i], nr.poisson(keys[i], KNUTH_LAMS, (50, 4)))


def test_poisson_statistics_against_scipy():
    lam = np.array([0.0, 0.5, 3.0, 9.9, 10.0, 25.0, 400.0, 1e4])
    draws = np.asarray(nr.poisson(nr.PRNGKey(9), lam, (2000, 8)))
    assert np.all(draws[:, 0] == 0)
    for j in range(1, 8):
        np.testing.assert_allclose(draws[:, j].mean(), lam[j], rtol=4 * np.sqrt(1 / (2000 * lam[j])))
        np.testing.assert_allclose(draws[:, j].var(), lam[j], rtol=0.15)
    # chi-square-free check of the whole pmf where it is small enough to tabulate
    counts = np.bincount(draws[:, 2], minlength=20)[:20] / 2000
    np.testing.assert_allclose(counts, st.poisson(3.0).pmf(np.arange(20)), atol=0.03)


def test_poisson_errors():
    with pytest.raises(NbadValueError, match="integer dtype"):
        nr.poisson(nr.PRNGKey(0), 3.0, dtype=np.float64)
    with pytest.raises(ValueError, match="broadcast"):
        nr.poisson(nr.PRNGKey(0), KNUTH_LAMS, (3,))
