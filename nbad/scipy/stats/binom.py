"""The binomial distribution (jax.scipy.stats.binom)."""
import nbad.numpy as jnp
from nbad.scipy import special
from nbad.scipy.stats._common import promote


def logpmf(k, n, p, loc=0):
    k, n, p, loc = promote(k, n, p, loc)
    x = jnp.subtract(k, loc)
    comb = jnp.subtract(special.gammaln(jnp.add(n, 1)),
                        jnp.add(special.gammaln(jnp.add(x, 1)), special.gammaln(jnp.add(jnp.subtract(n, x), 1))))
    log_p = jnp.add(comb, jnp.add(special.xlogy(x, p), special.xlog1py(jnp.subtract(n, x), jnp.negative(p))))
    return jnp.where((x < 0) | (x > n), -jnp.inf, log_p)


def pmf(k, n, p, loc=0):
    return jnp.exp(logpmf(k, n, p, loc))
