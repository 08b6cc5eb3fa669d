"""nbad.scipy.stats (jax.scipy.stats): log-densities, densities, CDFs and
quantile functions of common distributions, as compositions of nbad.numpy and
nbad.scipy.special functions (so jit, grad and vmap apply).

Each distribution is a module with JAX's functions and signatures (loc/scale
where JAX has them). beta has no cdf/sf (nbad has no betainc yet).
"""
from nbad.scipy.stats import (bernoulli, beta, binom, cauchy, expon, gamma, laplace, logistic,  # noqa: F401
                              multivariate_normal, norm, poisson, t, uniform)

__all__ = ["bernoulli", "beta", "binom", "cauchy", "expon", "gamma", "laplace", "logistic",
           "multivariate_normal", "norm", "poisson", "t", "uniform"]
