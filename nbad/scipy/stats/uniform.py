"""The uniform distribution on [loc, loc + scale] (jax.scipy.stats.uniform)."""
import nbad.numpy as jnp
from nbad.scipy.stats._common import promote


def logpdf(x, loc=0, scale=1):
    x, loc, scale = promote(x, loc, scale)
    log_p = jnp.negative(jnp.log(scale))
    return jnp.where((x < loc) | (x > jnp.add(loc, scale)), -jnp.inf, log_p)


def pdf(x, loc=0, scale=1):
    return jnp.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    x, loc, scale = promote(x, loc, scale)
    return jnp.clip(jnp.divide(jnp.subtract(x, loc), scale), 0, 1)


def ppf(q, loc=0, scale=1):
    q, loc, scale = promote(q, loc, scale)
    return jnp.where((q < 0) | (q > 1), jnp.nan, jnp.add(loc, jnp.multiply(q, scale)))
