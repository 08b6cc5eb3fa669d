"""nbad.random: JAX's counter-based PRNG (threefry2x32, partitionable), bit for bit.

    key = nbad.random.PRNGKey(0)             # or nbad.random.key(0): a typed key
    key, sub = nbad.random.split(key)
    x = nbad.random.normal(sub, (1000, 1000))   # float64 (NumPy's default), as JAX's x64 mode

The same key gives the same numbers as JAX's, eagerly, under jit and under vmap
over keys. Keys: _keys.py; the hash: _threefry.py; samplers: _samplers.py.
"""
from nbad.random._keys import (PRNGKey, PRNGKeyArray, bits, clone, fold_in, key, key_data,
                               key_impl, split, wrap_key_data)
from nbad.random._gamma import beta, dirichlet, gamma, loggamma
from nbad.random._poisson import poisson
from nbad.random._samplers import (bernoulli, categorical, cauchy, choice, exponential, gumbel,
                                   laplace, logistic, multivariate_normal, normal, permutation,
                                   randint, shuffle, truncated_normal, uniform)

__all__ = ["PRNGKey", "PRNGKeyArray", "bernoulli", "beta", "bits", "categorical", "cauchy", "choice", "clone",
           "dirichlet", "exponential", "fold_in", "gamma", "gumbel", "key", "key_data", "key_impl", "laplace",
           "loggamma", "logistic", "multivariate_normal", "normal", "permutation", "poisson", "randint", "shuffle", "split", "truncated_normal",
           "uniform", "wrap_key_data"]
