"""The beta distribution (jax.scipy.stats.beta): logpdf and pdf (nbad has no
betainc yet, so no cdf/sf)."""
import nbad.numpy as jnp
from nbad.scipy import special
from nbad.scipy.stats._common import promote


def logpdf(x, a, b, loc=0, scale=1):
    x, a, b, loc, scale = promote(x, a, b, loc, scale)
    y = jnp.divide(jnp.subtract(x, loc), scale)
    inside = (y >= 0) & (y <= 1)
    safe_y = jnp.where(inside, y, 0.5)
    log_p = jnp.add(special.xlogy(jnp.subtract(a, 1), safe_y),
                    special.xlog1py(jnp.subtract(b, 1), jnp.negative(safe_y)))
    log_p = jnp.subtract(log_p, jnp.add(special.betaln(a, b), jnp.log(scale)))
    return jnp.where(inside, log_p, -jnp.inf)


def pdf(x, a, b, loc=0, scale=1):
    return jnp.exp(logpdf(x, a, b, loc, scale))
