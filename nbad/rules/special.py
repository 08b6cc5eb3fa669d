"""Special functions: gammaln, gamma, digamma, polygamma, erfc, erfinv, ndtri,
log_ndtr, gammainc, gammaincc (jax.scipy.special's primitives).

They are elementwise in shape and dtype (operands of one shape or scalars,
one float dtype) but "library" primitives in kind: their impl is
scipy.special's, which the compiled program calls between kernels, because
Numba cannot call scipy.special and nbad's math library has no kernels for
them. They do not fuse; they batch as any elementwise primitive does.

Derivative rules (nbad operations, so they differentiate again):

    gammaln'  = digamma,   gamma' = gamma digamma,   digamma' = polygamma(1, .),
    d/dx polygamma(n, x) = polygamma(n + 1, x)     (n is not differentiable)
    erfc'(x)  = -2/sqrt(pi) exp(-x^2)
    erfinv'(x) = sqrt(pi)/2 exp(erfinv(x)^2)
    ndtri'(p) = sqrt(2 pi) exp(ndtri(p)^2 / 2)
    log_ndtr'(x) = exp(-x^2/2 - log_ndtr(x)) / sqrt(2 pi)
    d/dx gammainc(a, x) = exp((a - 1) log x - x - gammaln(a)) = -d/dx gammaincc
    d/da gammainc(a, x) = igamma_grad_a(a, x) = -d/da gammaincc (a series);
        its x-derivative is exact, its a-derivative a central difference of it.
"""
from __future__ import annotations

import math

import numpy as np

from nbad.core.avals import ShapedArray
from nbad.core.primitive import Primitive
from nbad.errors import NbadTypeError
from nbad.rules._ad import defderiv
from nbad.rules._batching import defvectorized
from nbad.rules._family import check_kinds, common_shape, same_dtype
from nbad.rules.elementwise_math import jnp, silent_impl

__all__ = ["lgamma_p", "gamma_p", "digamma_p", "polygamma_p", "erfc_p", "erfinv_p", "ndtri_p",
           "log_ndtr_p", "igamma_p", "igammac_p", "igamma_grad_a_p"]


def _scipy(name):
    """scipy.special.<name> in the operands' dtype (imported on first use: it is slow to import)."""

    def fn(*xs):
        import scipy.special

        return np.asarray(getattr(scipy.special, name)(*xs)).astype(np.result_type(*xs))

    return silent_impl(fn)


def special(name: str, nargs: int, impl) -> Primitive:
    """An elementwise-shaped library primitive on real floats."""
    prim = Primitive(name, kind="library")

    def abstract_eval(*avals, **params):
        if len(avals) != nargs:
            raise NbadTypeError(f"{name} takes {nargs} operands, got {len(avals)}")
        shape = common_shape(name, avals)
        dtype = same_dtype(name, avals)
        check_kinds(name, avals, "real_float")
        return ShapedArray(shape, dtype, all(a.weak_type for a in avals))

    prim.abstract_eval = abstract_eval
    prim.impl = impl
    defvectorized(prim)
    return prim


def _polygamma(n, x):
    import scipy.special

    # scipy wants an integer order; NaN where n is not a non-negative integer, as in JAX.
    valid = (n >= 0) & (n == np.floor(n))
    out = scipy.special.polygamma(np.where(valid, n, 0).astype(np.int64), x)
    return np.where(valid, out, np.nan).astype(np.result_type(n, x))


def _digamma(x):
    import scipy.special

    # NaN at the poles (0, -1, ...), as in JAX (scipy gives -inf at 0).
    pole = (x <= 0) & (x == np.floor(x))
    return np.where(pole, np.nan, scipy.special.digamma(x)).astype(x.dtype)


lgamma_p = special("lgamma", 1, _scipy("gammaln"))
gamma_p = special("gamma", 1, _scipy("gamma"))
digamma_p = special("digamma", 1, silent_impl(_digamma))
polygamma_p = special("polygamma", 2, silent_impl(_polygamma))
erfc_p = special("erfc", 1, _scipy("erfc"))
erfinv_p = special("erfinv", 1, _scipy("erfinv"))
ndtri_p = special("ndtri", 1, _scipy("ndtri"))
log_ndtr_p = special("log_ndtr", 1, _scipy("log_ndtr"))
igamma_p = special("igamma", 2, _scipy("gammainc"))
igammac_p = special("igammac", 2, _scipy("gammaincc"))


def _igamma_grad_a(a, x):
    """d/da of the regularised lower incomplete gamma function P(a, x), from its series
    P = sum_n exp((a + n) log x - x - gammaln(a + n + 1)): each term's derivative is
    the term times (log x - digamma(a + n + 1)). Terms fall once n exceeds x; the sum
    runs until, past the largest term, every element's terms are below 1e-17 of its
    total (absolutely accurate where P is near 1 and its derivative tiny)."""
    import scipy.special as sc

    a, x = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(x, np.float64))
    out_dtype = np.result_type(a, x)
    with np.errstate(all="ignore"):
        log_x = np.log(x)
        total = np.zeros(a.shape)
        largest_x = float(np.nanmax(np.where(np.isfinite(x), x, 0.0), initial=0.0))
        for n in range(int(largest_x + 40 * math.sqrt(largest_x) + 200)):
            k = a + n
            term = np.exp(k * log_x - x - sc.gammaln(k + 1))
            d_term = np.where(x > 0, term * (log_x - sc.digamma(k + 1)), 0.0)
            total += d_term
            converged = (k > x) & (np.abs(d_term) <= 1e-17 * np.abs(total))
            if np.all(converged | (x <= 0) | ~np.isfinite(total)):
                break
        total = np.where((a <= 0) | (x < 0) | np.isnan(a) | np.isnan(x), np.nan, total)
    return total.astype(out_dtype)


igamma_grad_a_p = special("igamma_grad_a", 2, _igamma_grad_a)

_SQRT_PI = math.sqrt(math.pi)
_SQRT_2PI = math.sqrt(2 * math.pi)


def _bind(prim, *xs):
    from nbad.core.trace import bind

    return bind(prim, *xs)


defderiv(lgamma_p, lambda out, x: [_bind(digamma_p, x)])
defderiv(gamma_p, lambda out, x: [jnp.multiply(out, _bind(digamma_p, x))])
defderiv(digamma_p, lambda out, x: [_bind(polygamma_p, jnp.ones_like(x), x)])
defderiv(polygamma_p, lambda out, n, x: [None, _bind(polygamma_p, jnp.add(n, 1), x)])
defderiv(erfc_p, lambda out, x: [jnp.multiply(-2 / _SQRT_PI, jnp.exp(jnp.negative(jnp.square(x))))])
defderiv(erfinv_p, lambda out, x: [jnp.multiply(_SQRT_PI / 2, jnp.exp(jnp.square(out)))])
defderiv(ndtri_p, lambda out, p: [jnp.multiply(_SQRT_2PI, jnp.exp(jnp.multiply(0.5, jnp.square(out))))])
defderiv(log_ndtr_p, lambda out, x: [
    jnp.divide(jnp.exp(jnp.subtract(jnp.multiply(-0.5, jnp.square(x)), out)), _SQRT_2PI)])


def _density_x(a, x):
    """d/dx P(a, x): the Gamma(a) density at x."""
    return jnp.exp(jnp.subtract(jnp.subtract(jnp.multiply(jnp.subtract(a, 1), jnp.log(x)), x),
                                _bind(lgamma_p, a)))


def _igamma_grad_a_partials(out, a, x):
    """d/dx (dP/da) = d/da (dP/dx) = density (log x - digamma(a)), exact; d/da (dP/da)
    by a central difference of dP/da (relative step 1e-5: about 1e-9 accurate)."""
    step = jnp.multiply(1e-5, jnp.maximum(1, jnp.abs(a)))
    d2a = jnp.divide(jnp.subtract(_bind(igamma_grad_a_p, jnp.add(a, step), x),
                                  _bind(igamma_grad_a_p, jnp.subtract(a, step), x)),
                     jnp.multiply(2, step))
    return [d2a, jnp.multiply(_density_x(a, x), jnp.subtract(jnp.log(x), _bind(digamma_p, a)))]


defderiv(igamma_grad_a_p, _igamma_grad_a_partials)
defderiv(igamma_p, lambda out, a, x: [_bind(igamma_grad_a_p, a, x), _density_x(a, x)])
defderiv(igammac_p, lambda out, a, x: [jnp.negative(_bind(igamma_grad_a_p, a, x)),
                                       jnp.negative(_density_x(a, x))])
