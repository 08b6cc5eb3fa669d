"""The Poisson distribution (jax.scipy.stats.poisson)."""
import nbad.numpy as jnp
from nbad.scipy import special
from nbad.scipy.stats._common import promote


def logpmf(k, mu, loc=0):
    k, mu, loc = promote(k, mu, loc)
    x = jnp.subtract(k, loc)
    log_p = jnp.subtract(jnp.subtract(special.xlogy(x, mu), special.gammaln(jnp.add(x, 1))), mu)
    return jnp.where((x < 0) | (jnp.floor(x) != x), -jnp.inf, log_p)


def pmf(k, mu, loc=0):
    return jnp.exp(logpmf(k, mu, loc))


def cdf(k, mu, loc=0):
    k, mu, loc = promote(k, mu, loc)
    x = jnp.subtract(k, loc)
    p = special.gammaincc(jnp.add(jnp.floor(jnp.maximum(x, 0)), 1), mu)
    return jnp.where(x < 0, 0, p)
