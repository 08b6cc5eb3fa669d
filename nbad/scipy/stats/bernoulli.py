"""The Bernoulli distribution (jax.scipy.stats.bernoulli)."""
import nbad.numpy as jnp
from nbad.scipy import special
from nbad.scipy.stats._common import promote


def logpmf(k, p, loc=0):
    k, p, loc = promote(k, p, loc)
    x = jnp.subtract(k, loc)
    log_p = jnp.add(special.xlogy(x, p), special.xlog1py(jnp.subtract(1, x), jnp.negative(p)))
    return jnp.where((x < 0) | (x > 1), -jnp.inf, log_p)


def pmf(k, p, loc=0):
    return jnp.exp(logpmf(k, p, loc))


def cdf(k, p):
    k, p = promote(k, p)
    valid = (p >= 0) & (p <= 1)
    return jnp.where(valid, jnp.where(k < 0, 0, jnp.where(k < 1, jnp.subtract(1, p), 1)), jnp.nan)


def ppf(q, p):
    q, p = promote(q, p)
    valid = (p >= 0) & (p <= 1) & (q >= 0) & (q <= 1)
    return jnp.where(valid, jnp.where(q <= jnp.subtract(1, p), 0, 1), jnp.nan)
