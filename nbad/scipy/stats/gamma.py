"""The gamma distribution (jax.scipy.stats.gamma), shape a."""
import nbad.numpy as jnp
from nbad.scipy import special
from nbad.scipy.stats._common import promote


def _standard(x, a, loc, scale):
    x, a, loc, scale = promote(x, a, loc, scale)
    return jnp.divide(jnp.subtract(x, loc), scale), a, scale


def logpdf(x, a, loc=0, scale=1):
    y, a, scale = _standard(x, a, loc, scale)
    safe_y = jnp.where(y < 0, 1, y)
    log_p = jnp.subtract(jnp.subtract(special.xlogy(jnp.subtract(a, 1), safe_y), safe_y),
                         jnp.add(special.gammaln(a), jnp.log(scale)))
    return jnp.where(y < 0, -jnp.inf, log_p)


def pdf(x, a, loc=0, scale=1):
    return jnp.exp(logpdf(x, a, loc, scale))


def cdf(x, a, loc=0, scale=1):
    y, a, _ = _standard(x, a, loc, scale)
    return special.gammainc(a, jnp.maximum(y, 0))


def logcdf(x, a, loc=0, scale=1):
    return jnp.log(cdf(x, a, loc, scale))


def sf(x, a, loc=0, scale=1):
    y, a, _ = _standard(x, a, loc, scale)
    return special.gammaincc(a, jnp.maximum(y, 0))


def logsf(x, a, loc=0, scale=1):
    return jnp.log(sf(x, a, loc, scale))
