"""The Cauchy distribution (jax.scipy.stats.cauchy)."""
import math

import nbad.numpy as jnp
from nbad.scipy.stats._common import promote, standardise


def logpdf(x, loc=0, scale=1):
    z, scale = standardise(x, loc, scale)
    return jnp.negative(jnp.add(jnp.add(math.log(math.pi), jnp.log(scale)), jnp.log1p(jnp.square(z))))


def pdf(x, loc=0, scale=1):
    return jnp.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    z, _ = standardise(x, loc, scale)
    return jnp.add(0.5, jnp.divide(jnp.arctan(z), math.pi))


def logcdf(x, loc=0, scale=1):
    return jnp.log(cdf(x, loc, scale))


def sf(x, loc=0, scale=1):
    z, _ = standardise(x, loc, scale)
    return jnp.subtract(0.5, jnp.divide(jnp.arctan(z), math.pi))


def logsf(x, loc=0, scale=1):
    return jnp.log(sf(x, loc, scale))


def ppf(q, loc=0, scale=1):
    q, loc, scale = promote(q, loc, scale)
    return jnp.add(loc, jnp.multiply(scale, jnp.tan(jnp.multiply(math.pi, jnp.subtract(q, 0.5)))))


def isf(q, loc=0, scale=1):
    q, loc, scale = promote(q, loc, scale)
    return jnp.add(loc, jnp.multiply(scale, jnp.tan(jnp.multiply(math.pi, jnp.subtract(0.5, q)))))
