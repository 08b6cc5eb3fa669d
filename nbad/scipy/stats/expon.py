"""The exponential distribution (jax.scipy.stats.expon)."""
import nbad.numpy as jnp
from nbad.scipy.stats._common import promote, standardise


def logpdf(x, loc=0, scale=1):
    z, scale = standardise(x, loc, scale)
    return jnp.where(z < 0, -jnp.inf, jnp.negative(jnp.add(z, jnp.log(scale))))


def pdf(x, loc=0, scale=1):
    return jnp.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    z, _ = standardise(x, loc, scale)
    return jnp.where(z < 0, 0, jnp.negative(jnp.expm1(jnp.negative(jnp.maximum(z, 0)))))


def logcdf(x, loc=0, scale=1):
    return jnp.log(cdf(x, loc, scale))


def sf(x, loc=0, scale=1):
    return jnp.exp(logsf(x, loc, scale))


def logsf(x, loc=0, scale=1):
    z, _ = standardise(x, loc, scale)
    return jnp.where(z < 0, 0, jnp.negative(z))


def ppf(q, loc=0, scale=1):
    q, loc, scale = promote(q, loc, scale)
    z = jnp.negative(jnp.log1p(jnp.negative(q)))
    return jnp.where((q < 0) | (q > 1), jnp.nan, jnp.add(jnp.multiply(z, scale), loc))
