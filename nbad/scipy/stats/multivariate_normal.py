"""The multivariate normal distribution (jax.scipy.stats.multivariate_normal).

x has the event dimension last, (..., d); the log-density is computed from the
Cholesky factor L of cov: -(|L^-1 (x - mean)|^2 + d log(2 pi)) / 2 - sum log diag L.
A scalar mean and cov give the univariate normal, as in JAX.
"""
import math

import nbad.numpy as jnp
from nbad.errors import ShapeError
from nbad.scipy.stats._common import promote


def logpdf(x, mean, cov, allow_singular=None):
    if allow_singular is not None:
        raise ValueError("allow_singular argument of multivariate_normal.logpdf is not supported.")
    x, mean, cov = promote(x, mean, cov)
    if jnp.ndim(mean) == 0 or jnp.ndim(cov) < 2:
        if jnp.ndim(cov) > 1 or jnp.ndim(mean) > 1:
            raise ShapeError("multivariate_normal.logpdf got incompatible shapes: "
                             f"mean {jnp.shape(mean)}, cov {jnp.shape(cov)}")
        return jnp.multiply(-0.5, jnp.add(jnp.divide(jnp.square(jnp.subtract(x, mean)), cov),
                                          jnp.add(math.log(2 * math.pi), jnp.log(cov))))
    d = jnp.shape(cov)[-1]
    if jnp.shape(cov) != (d, d) or jnp.shape(mean)[-1:] != (d,) or jnp.shape(x)[-1:] != (d,):
        raise ShapeError("multivariate_normal.logpdf: mean (..., d), cov (d, d) and x (..., d) expected, "
                         f"got mean {jnp.shape(mean)}, cov {jnp.shape(cov)}, x {jnp.shape(x)}")
    chol = jnp.linalg.cholesky(cov)
    centred = jnp.subtract(x, mean)
    batch = jnp.shape(centred)[:-1]
    columns = jnp.transpose(jnp.reshape(centred, (-1, d)))          # (d, N)
    whitened = jnp.linalg.solve(chol, columns)
    maha = jnp.reshape(jnp.sum(jnp.square(whitened), axis=0), batch)
    log_det = jnp.multiply(2, jnp.sum(jnp.log(jnp.diagonal(chol))))
    return jnp.multiply(-0.5, jnp.add(maha, jnp.add(d * math.log(2 * math.pi), log_det)))


def pdf(x, mean, cov):
    return jnp.exp(logpdf(x, mean, cov))
