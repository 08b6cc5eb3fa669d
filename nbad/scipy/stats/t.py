"""Student's t distribution (jax.scipy.stats.t)."""
import math

import nbad.numpy as jnp
from nbad.scipy import special
from nbad.scipy.stats._common import promote


def logpdf(x, df, loc=0, scale=1):
    x, df, loc, scale = promote(x, df, loc, scale)
    z = jnp.divide(jnp.subtract(x, loc), scale)
    half_df_plus_1 = jnp.multiply(0.5, jnp.add(df, 1))
    norm = jnp.subtract(jnp.subtract(special.gammaln(half_df_plus_1), special.gammaln(jnp.multiply(0.5, df))),
                        jnp.add(jnp.multiply(0.5, jnp.log(jnp.multiply(df, math.pi))), jnp.log(scale)))
    return jnp.subtract(norm, jnp.multiply(half_df_plus_1, jnp.log1p(jnp.divide(jnp.square(z), df))))


def pdf(x, df, loc=0, scale=1):
    return jnp.exp(logpdf(x, df, loc, scale))
