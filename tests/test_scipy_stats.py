"""nbad.scipy.stats against jax.scipy.stats: every function's values (inside and
outside the support), derivatives (check_grads order 2 inside the support),
vmap and jit."""
import numpy as np
import pytest

import nbad
import nbad.scipy.stats as stats
from nbad.test_util import check_grads

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
import jax.scipy.stats as jstats  # noqa: E402

X = np.array([-3.0, -0.4, 0.0, 0.7, 2.5, 9.0])
POS = np.array([0.2, 0.7, 1.5, 4.0])
Q = np.array([0.0, 0.01, 0.3, 0.5, 0.95, 1.0])
K = np.array([-1.0, 0.0, 1.0, 2.0, 3.5, 7.0])

# (distribution, function, value arguments, arguments for derivatives[, which of
# them to differentiate: not a count k, whose perturbation leaves the support])
CASES = [
    *[("norm", f, (X, 0.5, 2.0), (POS, 0.5, 2.0)) for f in ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf")],
    *[("norm", f, (Q, 0.5, 2.0), (Q[1:-1], 0.5, 2.0)) for f in ("ppf", "isf")],
    ("t", "logpdf", (X, 3.0, 0.5, 2.0), (X, 3.0, 0.5, 2.0)),
    ("t", "pdf", (X, 3.0), (X, 3.0)),
    *[("gamma", f, (X, 2.5, -0.5, 1.5), (POS, 2.5, -0.5, 1.5)) for f in ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf")],
    *[("beta", f, (X / 10 + 0.3, 2.0, 3.0), (POS / 5, 2.0, 3.0)) for f in ("logpdf", "pdf")],
    *[("poisson", f, (K, 2.5), (K[1:3], 2.5), (1,)) for f in ("logpmf", "pmf")],
    ("poisson", "cdf", (K, 2.5), None),
    *[("uniform", f, (X, -1.0, 3.0), None) for f in ("logpdf", "pdf", "cdf")],
    ("uniform", "ppf", (Q * 1.5 - 0.2, -1.0, 3.0), (Q[1:-1], -1.0, 3.0)),
    *[("laplace", f, (X, 0.5, 2.0), (POS + 0.7, 0.5, 2.0)) for f in ("logpdf", "pdf", "cdf")],
    *[("logistic", f, (X, 0.5, 2.0), (X, 0.5, 2.0)) for f in ("logpdf", "pdf", "cdf", "sf")],
    *[("logistic", f, (Q, 0.5, 2.0), (Q[1:-1], 0.5, 2.0)) for f in ("ppf", "isf")],
    *[("expon", f, (X, -0.5, 2.0), (POS, -0.5, 2.0)) for f in ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf")],
    ("expon", "ppf", (Q, -0.5, 2.0), (Q[1:-1], -0.5, 2.0)),
    *[("cauchy", f, (X, 0.5, 2.0), (X, 0.5, 2.0)) for f in ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf")],
    *[("cauchy", f, (Q[1:-1], 0.5, 2.0), (Q[1:-1], 0.5, 2.0)) for f in ("ppf", "isf")],
    *[("bernoulli", f, (K[:4], 0.3), (K[1:3], 0.3), (1,)) for f in ("logpmf", "pmf")],
    ("bernoulli", "cdf", (K, 0.3), None),
    ("bernoulli", "ppf", (Q, 0.3), None),
    *[("binom", f, (K, 6.0, 0.3), (K[1:4], 6.0, 0.3), (2,)) for f in ("logpmf", "pmf")],
]


def _id(case):
    return f"{case[0]}.{case[1]}"


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_against_jax(case):
    dist, name, args, grad_args = case[:4]
    fn, want = getattr(getattr(stats, dist), name), getattr(getattr(jstats, dist), name)
    np.testing.assert_allclose(fn(*args), want(*args), rtol=1e-10, atol=1e-14)
    if grad_args is None:
        return
    float_args = [np.asarray(a, dtype=np.float64) for a in grad_args]
    wrt = case[4] if len(case) > 4 else tuple(range(len(float_args)))

    def at(f, *varying):
        full = list(float_args)
        for i, v in zip(wrt, varying):
            full[i] = v
        return f(*full)

    varying = tuple(float_args[i] for i in wrt)
    check_grads(lambda *v: at(fn, *v), varying, order=2)
    argnums = tuple(range(len(varying)))
    got = nbad.grad(lambda *v: at(fn, *v).sum(), argnums)(*varying)
    expected = jax.grad(lambda *v: at(want, *v).sum(), argnums)(*varying)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-8, atol=1e-12)


def test_dtypes_vmap_jit():
    assert stats.norm.logpdf(np.float32(0.5)).dtype == np.float32
    assert stats.gamma.logpdf(np.float32(0.5), np.float32(2)).dtype == np.float32
    assert stats.norm.logpdf(1).dtype == np.float64
    locs = np.array([0.0, 1.0, -2.0])
    np.testing.assert_allclose(nbad.vmap(stats.norm.logpdf, in_axes=(None, 0))(X, locs),
                               np.stack([stats.norm.logpdf(X, l) for l in locs]))
    np.testing.assert_allclose(nbad.jit(stats.t.logpdf)(X, 4.0), jstats.t.logpdf(X, 4.0), rtol=1e-12)


def test_multivariate_normal():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 3))
    cov = a @ a.T + 3 * np.eye(3)
    mean = rng.standard_normal(3)
    x = rng.standard_normal((4, 2, 3))
    mvn, jmvn = stats.multivariate_normal, jstats.multivariate_normal
    np.testing.assert_allclose(mvn.logpdf(x, mean, cov), jmvn.logpdf(x, mean, cov), rtol=1e-12)
    np.testing.assert_allclose(mvn.pdf(x[0, 0], mean, cov), jmvn.pdf(x[0, 0], mean, cov), rtol=1e-12)
    np.testing.assert_allclose(mvn.logpdf(X, 0.5, 2.0), jmvn.logpdf(X, 0.5, 2.0), rtol=1e-12)
    check_grads(lambda x, m, c: mvn.logpdf(x, m, c), (x[0, 0], mean, cov), order=2)
    np.testing.assert_allclose(nbad.jit(nbad.vmap(mvn.logpdf, in_axes=(0, None, None)))(x[:, 0], mean, cov),
                               jmvn.logpdf(x[:, 0], mean, cov), rtol=1e-12)
    with pytest.raises(ValueError, match="allow_singular"):
        mvn.logpdf(x, mean, cov, allow_singular=True)
