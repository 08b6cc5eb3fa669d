"""Poisson draws as JAX builds them: lam is taken to float32, and every element is
drawn both by Knuth's method (a product of uniforms, for lam < 10) and by
Hörmann's transformed rejection (for lam >= 10), each one while loop over the
whole array that runs until every element is done; the draws are selected by lam.
Both loops draw from the same key, as JAX's. Knuth's counts are JAX's. The
rejection loop keeps overwriting an accepted count with later accepted
proposals until the slowest element is accepted, so every count depends on the
loop's trip count, and the float32 lgamma (scipy's, correctly rounded, against
XLA's Lanczos sum) decides borderline tests: the counts are JAX's where the trip
count agrees (as in the tests), else draws of the same distribution. An array
mixing lam < 10 with lam >= 10 runs its Knuth elements through the rejection loop
at lam = 1e5 (as JAX), where the cancellation in the test is worst, and then
generally differs from JAX's draws.
"""
from __future__ import annotations

import numpy as np

import nbad.numpy as jnp
from nbad.errors import NbadValueError
from nbad.numpy._core import aval_of, as_operand, convert
from nbad.random._keys import _raw_key_data, compiled_when_eager, split, static_shape

_F32 = np.float32


def _knuth(raw, lam, shape, dtype, max_iters):
    from nbad.lax import while_loop
    from nbad.random._samplers import _uniform

    def body(carry):
        i, k, key, log_prod = carry
        key, sub = split(key)
        k = jnp.where(jnp.greater(log_prod, jnp.negative(lam)), jnp.add(k, dtype.type(1)), k)
        u = _uniform(sub, shape, np.dtype(_F32), 0.0, 1.0)
        return jnp.add(i, 1), k, key, jnp.add(log_prod, jnp.log(u))

    def running(carry):
        i, _, _, log_prod = carry
        return jnp.logical_and(jnp.any(jnp.greater(log_prod, jnp.negative(lam))),
                               jnp.less(i, max_iters))

    init = (np.int64(0), jnp.zeros(shape, dtype), raw, jnp.zeros(shape, _F32))
    k = while_loop(running, body, init)[1]
    return jnp.subtract(k, dtype.type(1))


def _rejection(raw, lam, shape, dtype, max_iters):
    from nbad.lax import while_loop
    from nbad.random._samplers import _uniform
    from nbad.scipy.special import gammaln

    f = _F32
    log_lam = jnp.log(lam)
    b = jnp.add(f(0.931), jnp.multiply(f(2.53), jnp.sqrt(lam)))
    a = jnp.add(f(-0.059), jnp.multiply(f(0.02483), b))
    inv_alpha = jnp.add(f(1.1239), jnp.divide(f(1.1328), jnp.subtract(b, f(3.4))))
    v_r = jnp.subtract(f(0.9277), jnp.divide(f(3.6224), jnp.subtract(b, f(2))))

    def body(carry):
        i, k_out, accepted, key = carry
        key, sub0, sub1 = split(key, 3)
        u = jnp.subtract(_uniform(sub0, shape, np.dtype(f), 0.0, 1.0), f(0.5))
        v = _uniform(sub1, shape, np.dtype(f), 0.0, 1.0)
        u_shifted = jnp.subtract(f(0.5), jnp.abs(u))
        k = jnp.floor(jnp.add(jnp.add(jnp.multiply(
            jnp.add(jnp.divide(jnp.multiply(f(2), a), u_shifted), b), u), lam), f(0.43)))
        s = jnp.log(jnp.divide(jnp.multiply(v, inv_alpha),
                               jnp.add(jnp.divide(a, jnp.multiply(u_shifted, u_shifted)), b)))
        t = jnp.subtract(jnp.add(jnp.negative(lam), jnp.multiply(k, log_lam)),
                         gammaln(jnp.add(k, f(1))))
        accept1 = jnp.logical_and(jnp.greater_equal(u_shifted, f(0.07)), jnp.less_equal(v, v_r))
        reject = jnp.logical_or(jnp.less(k, f(0)), jnp.logical_and(jnp.less(u_shifted, f(0.013)),
                                                                   jnp.greater(v, u_shifted)))
        accept = jnp.logical_or(accept1, jnp.logical_and(jnp.logical_not(reject),
                                                         jnp.less_equal(s, t)))
        return (jnp.add(i, 1), jnp.where(accept, k, k_out), jnp.logical_or(accepted, accept), key)

    def running(carry):
        i, _, accepted, _ = carry
        return jnp.logical_and(jnp.any(jnp.logical_not(accepted)), jnp.less(i, max_iters))

    init = (np.int64(0), jnp.full(shape, f(-1)), jnp.zeros(shape, bool), raw)
    return while_loop(running, body, init)[1].astype(dtype)


@compiled_when_eager
def poisson(key, lam, shape=None, dtype=None):
    """Poisson(lam) counts (default int64), JAX's Knuth / transformed-rejection sampler;
    lam is used in float32, as JAX."""
    raw, _ = _raw_key_data("poisson", key)
    dtype = np.dtype(np.int64 if dtype is None else dtype)
    if dtype.kind not in "iu":
        raise NbadValueError(f"dtype argument to `poisson` must be an integer dtype, got {dtype}")
    lam = as_operand(lam)
    shape = tuple(aval_of(lam).shape) if shape is None else static_shape("poisson", shape)
    lam = convert(jnp.broadcast_to(lam, shape), _F32)
    use_knuth = jnp.logical_or(jnp.not_equal(lam, lam), jnp.less(lam, _F32(10)))
    lam_knuth = jnp.where(use_knuth, lam, _F32(0))
    # rejection's acceptance rate is highest for large lam: the Knuth elements run it at 1e5
    lam_rejection = jnp.where(use_knuth, _F32(1e5), lam)
    max_iters = dtype.type(np.iinfo(dtype).max)
    result = jnp.where(use_knuth, _knuth(raw, lam_knuth, shape, dtype, max_iters),
                       _rejection(raw, lam_rejection, shape, dtype, max_iters))
    return jnp.where(jnp.equal(lam, _F32(0)), dtype.type(0), result)
