"""The logistic distribution (jax.scipy.stats.logistic)."""
import nbad.numpy as jnp
from nbad.scipy import special
from nbad.scipy.stats._common import promote, standardise


def logpdf(x, loc=0, scale=1):
    z, scale = standardise(x, loc, scale)
    a = jnp.abs(z)   # the density is symmetric; exp(-|z|) never overflows
    return jnp.negative(jnp.add(jnp.add(a, jnp.multiply(2, jnp.log1p(jnp.exp(jnp.negative(a))))),
                                jnp.log(scale)))


def pdf(x, loc=0, scale=1):
    return jnp.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    return special.expit(standardise(x, loc, scale)[0])


def sf(x, loc=0, scale=1):
    return special.expit(jnp.negative(standardise(x, loc, scale)[0]))


def ppf(x, loc=0, scale=1):
    x, loc, scale = promote(x, loc, scale)
    return jnp.add(jnp.multiply(special.logit(x), scale), loc)


def isf(x, loc=0, scale=1):
    x, loc, scale = promote(x, loc, scale)
    return jnp.subtract(loc, jnp.multiply(special.logit(x), scale))
