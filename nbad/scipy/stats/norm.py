"""The normal distribution (jax.scipy.stats.norm)."""
import math

import nbad.numpy as jnp
from nbad.scipy import special
from nbad.scipy.stats._common import promote, standardise

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def logpdf(x, loc=0, scale=1):
    z, scale = standardise(x, loc, scale)
    return jnp.subtract(jnp.multiply(-0.5, jnp.square(z)), jnp.add(jnp.log(scale), _LOG_SQRT_2PI))


def pdf(x, loc=0, scale=1):
    return jnp.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    return special.ndtr(standardise(x, loc, scale)[0])


def logcdf(x, loc=0, scale=1):
    return special.log_ndtr(standardise(x, loc, scale)[0])


def sf(x, loc=0, scale=1):
    return special.ndtr(jnp.negative(standardise(x, loc, scale)[0]))


def logsf(x, loc=0, scale=1):
    return special.log_ndtr(jnp.negative(standardise(x, loc, scale)[0]))


def ppf(q, loc=0, scale=1):
    q, loc, scale = promote(q, loc, scale)
    return jnp.add(jnp.multiply(special.ndtri(q), scale), loc)


def isf(q, loc=0, scale=1):
    q, loc, scale = promote(q, loc, scale)
    return jnp.subtract(loc, jnp.multiply(special.ndtri(q), scale))
