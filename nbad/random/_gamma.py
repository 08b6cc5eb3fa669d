"""Gamma, log-gamma, beta and Dirichlet draws as JAX builds them.

JAX draws each gamma element from its own key (the key split into one key
per element) by Marsaglia and Tsang's rejection method: a while loop per
element, vmapped over the elements. nbad traces the same loops
(nbad.lax.while_loop under nbad.vmap), so a key gives JAX's numbers: the
arithmetic is the same sequence of operations, but the compiled log, sqrt and
pow may differ from XLA's by an ulp, so draws agree to a few ulp (a rejection
test that lands within an ulp of its threshold could in principle flip a draw).

The gradient with respect to `a` is JAX's implicit reparameterisation: a draw
x = F^-1(u; a) of the gamma CDF F moves with `a` as dx/da = -(dF/da) / (dF/dx)
(JAX's random_gamma_grad; nbad computes dF/da by its series igamma_grad_a, so the
gradient agrees with JAX's to ~1e-10 relative, not bit for bit).
"""
from __future__ import annotations

import math

import numpy as np

import nbad.numpy as jnp
from nbad.custom_derivatives import custom_jvp
from nbad.errors import NbadValueError
from nbad.numpy._core import aval_of, as_operand, convert
from nbad.random._keys import _raw_key_data, compiled_when_eager, split, static_shape


def _gamma_one(raw, alpha, log_space: bool):
    """One Marsaglia-Tsang gamma draw from one raw key (JAX's _gamma_one, step for step)."""
    from nbad.lax import while_loop
    from nbad.random._erf_inv import fused_multiply_add
    from nbad.random._samplers import _normal_real, _uniform

    dtype = aval_of(alpha).dtype
    zero, one, minus_one, two = (dtype.type(v) for v in (0, 1, -1, 2))
    third, squeeze = dtype.type(1.0 / 3.0), dtype.type(0.0331)
    # alpha < 1 is boosted to alpha + 1: Gamma(alpha) ~ Gamma(alpha + 1) * U^(1/alpha)
    boost_mask = jnp.greater_equal(alpha, one)
    alpha_orig = alpha
    alpha = jnp.where(boost_mask, alpha, jnp.add(alpha, one))
    d = jnp.subtract(alpha, third)
    c = jnp.divide(third, jnp.sqrt(d))

    def rejected(state):
        _, x2, v, u = state
        return jnp.logical_and(
            jnp.greater_equal(u, jnp.subtract(one, jnp.multiply(squeeze, jnp.multiply(x2, x2)))),
            jnp.greater_equal(jnp.log(u), jnp.add(
                jnp.multiply(x2, dtype.type(0.5)),
                jnp.multiply(d, jnp.add(jnp.subtract(one, v), jnp.log(v))))))

    def next_normal(state):
        key, _, _ = state
        key, sub = split(key)
        x = _normal_real(sub, (), dtype)
        return key, x, fused_multiply_add(x, c, one)

    def propose(state):
        key, x_key, u_key = split(state[0], 3)
        _, x, v = while_loop(lambda s: jnp.less_equal(s[2], zero), next_normal,
                             (x_key, zero, minus_one))
        u = _uniform(u_key, (), dtype, 0.0, 1.0)
        return key, jnp.multiply(x, x), jnp.multiply(jnp.multiply(v, v), v), u

    key, sub = split(raw)
    _, _, v, _ = while_loop(rejected, propose, (key, zero, one, two))
    if log_space:
        # -exponential draw: log1p(-u), as JAX's exponential
        log_samples = jnp.log1p(jnp.negative(_uniform(sub, (), dtype, 0.0, 1.0)))
        log_boost = jnp.where(jnp.logical_or(boost_mask, jnp.equal(log_samples, zero)), zero,
                              jnp.multiply(log_samples, jnp.divide(one, alpha_orig)))
        return jnp.add(jnp.add(jnp.log(d), jnp.log(v)), log_boost)
    samples = jnp.subtract(one, _uniform(sub, (), dtype, 0.0, 1.0))
    boost = jnp.where(boost_mask, one, jnp.power(samples, jnp.divide(one, alpha_orig)))
    return jnp.multiply(jnp.multiply(d, v), boost)


def _gamma(fn_name, raw, a, shape, dtype, log_space):
    from nbad.random._samplers import _check_shape, _float_dtype

    dtype = _float_dtype(fn_name, dtype)
    a = convert(as_operand(a), dtype)
    if shape is None:
        shape = tuple(aval_of(a).shape)
    else:
        shape = static_shape(fn_name, shape)
        _check_shape(fn_name, shape, tuple(aval_of(a).shape))
    a = jnp.broadcast_to(a, shape)
    count = math.prod(shape)
    if count == 0:
        return jnp.zeros(shape, dtype)
    draws = _gamma_draws_log if log_space else _gamma_draws
    return jnp.reshape(draws(split(raw, count), jnp.reshape(a, (count,))), shape)


def _draw_grad_a(alphas, out, log_space):
    """d(draw)/da at fixed CDF value: -(dP/da) / (dP/dx), P the regularised lower incomplete
    gamma function; for log draws d(log x)/da = (dx/da) / x, x = exp(draw) kept above zero."""
    from nbad.core.trace import bind
    from nbad.rules.special import igamma_grad_a_p, lgamma_p

    x = out
    if log_space:
        x = jnp.exp(out)
        x = jnp.where(jnp.equal(x, 0), np.finfo(aval_of(x).dtype).tiny, x)
    log_density = jnp.subtract(jnp.subtract(jnp.multiply(jnp.subtract(alphas, 1), jnp.log(x)), x),
                               bind(lgamma_p, alphas))
    grad = jnp.negative(jnp.divide(bind(igamma_grad_a_p, alphas, x), jnp.exp(log_density)))
    return jnp.divide(grad, x) if log_space else grad


def _gamma_draws_of(log_space):
    @custom_jvp
    def draws(keys, alphas):
        """One draw per key and shape parameter (the loops vmapped, as JAX's lowering)."""
        from nbad.api_vmap import vmap

        return vmap(lambda k, alpha: _gamma_one(k, alpha, log_space))(keys, alphas)

    @draws.defjvp
    def _implicit_reparameterisation(primals, tangents):
        from nbad.lax import stop_gradient

        # the rule's primal parts held constant: nbad transposes this rule for reverse mode
        keys, alphas = primals
        out = stop_gradient(draws(keys, alphas))
        return out, jnp.multiply(tangents[1], _draw_grad_a(stop_gradient(alphas), out, log_space))

    return draws


_gamma_draws, _gamma_draws_log = _gamma_draws_of(False), _gamma_draws_of(True)


@compiled_when_eager
def gamma(key, a, shape=None, dtype=None):
    """Standard gamma draws (density ∝ x^(a-1) e^-x), JAX's Marsaglia-Tsang sampler.
    Not differentiable in `a` (JAX's implicit gradient is not built)."""
    raw, _ = _raw_key_data("gamma", key)
    return _gamma("gamma", raw, a, shape, dtype, log_space=False)


@compiled_when_eager
def loggamma(key, a, shape=None, dtype=None):
    """log of gamma draws, computed in log space (accurate for small `a`), as JAX."""
    raw, _ = _raw_key_data("loggamma", key)
    return _gamma("loggamma", raw, a, shape, dtype, log_space=True)


@compiled_when_eager
def beta(key, a, b, shape=None, dtype=None):
    """Beta(a, b) draws: log-gamma draws for a and b from split keys, as JAX."""
    from nbad.random._samplers import _check_shape, _float_dtype
    from nbad.numpy._core import broadcast_shapes

    raw, _ = _raw_key_data("beta", key)
    dtype = _float_dtype("beta", dtype)
    a, b = convert(as_operand(a), dtype), convert(as_operand(b), dtype)
    if shape is None:
        shape = broadcast_shapes("beta", jnp.shape(a), jnp.shape(b))
    else:
        shape = static_shape("beta", shape)
        _check_shape("beta", shape, jnp.shape(a), jnp.shape(b))
    key_a, key_b = split(raw)
    a, b = jnp.broadcast_to(a, shape), jnp.broadcast_to(b, shape)
    log_gamma_a = _gamma("beta", key_a, a, shape, dtype, log_space=True)
    log_gamma_b = _gamma("beta", key_b, b, shape, dtype, log_space=True)
    # the larger log subtracted first, so the exps cannot overflow
    log_max = jnp.maximum(log_gamma_a, log_gamma_b)
    gamma_a = jnp.exp(jnp.subtract(log_gamma_a, log_max))
    gamma_b = jnp.exp(jnp.subtract(log_gamma_b, log_max))
    return jnp.divide(gamma_a, jnp.add(gamma_a, gamma_b))


@compiled_when_eager
def dirichlet(key, alpha, shape=None, dtype=None):
    """Dirichlet(alpha) draws over alpha's last axis: a softmax of log-gamma draws, as JAX."""
    from nbad.nn import softmax
    from nbad.random._samplers import _check_shape, _float_dtype

    raw, _ = _raw_key_data("dirichlet", key)
    dtype = _float_dtype("dirichlet", dtype)
    if jnp.ndim(alpha) < 1:
        raise NbadValueError(
            f"dirichlet requires alpha.ndim >= 1, got alpha.ndim == {jnp.ndim(alpha)}")
    batch = tuple(jnp.shape(alpha)[:-1])
    if shape is None:
        shape = batch
    else:
        shape = static_shape("dirichlet", shape)
        _check_shape("dirichlet", shape, batch)
    alpha = convert(as_operand(alpha), dtype)
    log_gamma = _gamma("dirichlet", raw, alpha, shape + tuple(jnp.shape(alpha)[-1:]), dtype,
                       log_space=True)
    return softmax(log_gamma, -1)
