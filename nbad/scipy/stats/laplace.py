"""The Laplace distribution (jax.scipy.stats.laplace)."""
import nbad.numpy as jnp
from nbad.scipy.stats._common import standardise


def logpdf(x, loc=0, scale=1):
    z, scale = standardise(x, loc, scale)
    return jnp.negative(jnp.add(jnp.log(jnp.multiply(2, scale)), jnp.abs(z)))


def pdf(x, loc=0, scale=1):
    return jnp.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    z, _ = standardise(x, loc, scale)
    half_tail = jnp.multiply(0.5, jnp.exp(jnp.negative(jnp.abs(z))))
    return jnp.where(z < 0, half_tail, jnp.subtract(1, half_tail))
