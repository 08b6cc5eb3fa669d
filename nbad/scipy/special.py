"""nbad.scipy.special (jax.scipy.special): erf, erfc, erfinv, expit, logit,
logsumexp, xlogy, xlog1py, entr, gammaln, digamma, polygamma, betaln,
multigammaln, gammainc, gammaincc, ndtr, ndtri, log_ndtr.

gammaln, digamma, polygamma, erfc, erfinv, ndtri, log_ndtr and
gammainc/gammaincc are primitives computed by scipy.special
(nbad/rules/special.py); the others are compositions.

Integer inputs compute in float64, as scipy.special does. The formulations
are the numerically stable ones: logsumexp shifts by the maximum, and xlogy
keeps log(y) away from the x == 0 branch so its derivative is finite there.
"""
from __future__ import annotations

import math

import numpy as np

from nbad.core.trace import bind
from nbad.numpy import _elementwise as _ew
from nbad.numpy import _reductions as _red
from nbad.numpy._core import as_operand, convert, elementwise_call, promote_dtypes, shape_of
from nbad.rules import elementwise as ew_rules
from nbad.rules import special as special_rules
from nbad.rules.shape import reshape_p

__all__ = ["erf", "erfc", "erfinv", "expit", "logit", "logsumexp", "xlogy", "xlog1py", "entr",
           "gammaln", "digamma", "polygamma", "betaln", "multigammaln", "gammainc", "gammaincc",
           "ndtr", "ndtri", "log_ndtr", "gamma", "gammasgn", "beta", "factorial", "rel_entr",
           "kl_div"]


def _inexact(x):
    x = as_operand(x)
    dtype, _ = promote_dtypes(x, to_inexact=True)
    return convert(x, dtype)


def erf(x):
    return elementwise_call(ew_rules.erf_p, "erf", x, to_inexact=True)


def erfc(x):
    """1 - erf(x), accurate in the right tail where it is tiny (scipy.special.erfc)."""
    return elementwise_call(special_rules.erfc_p, "erfc", x, to_inexact=True)


def erfinv(x):
    return elementwise_call(special_rules.erfinv_p, "erfinv", x, to_inexact=True)


def gammaln(x):
    """log|Gamma(x)|."""
    return elementwise_call(special_rules.lgamma_p, "gammaln", x, to_inexact=True)


def gamma(x):
    return elementwise_call(special_rules.gamma_p, "gamma", x, to_inexact=True)


def gammasgn(x):
    """The sign of Gamma(x): 1 for x > 0 (and +0), NaN at the poles, else (-1)^ceil(-x)."""
    x = _inexact(x)
    odd_floor = _ew.not_equal(_ew.remainder(_ew.floor(x), 2), 0)
    negative_sign = _ew.where(_ew.equal(_ew.floor(x), x), np.nan, _ew.where(odd_floor, -1, 1))
    return _ew.where(_ew.greater(x, 0), 1, _ew.where(_ew.equal(x, 0), _ew.copysign(1, x), negative_sign))


def beta(a, b):
    """B(a, b) = Gamma(a) Gamma(b) / Gamma(a + b), as sign * exp(betaln) (no overflow)."""
    a, b = _inexact(a), _inexact(b)
    sign = _ew.multiply(_ew.multiply(gammasgn(a), gammasgn(b)), gammasgn(_ew.add(a, b)))
    return _ew.multiply(sign, _ew.exp(betaln(a, b)))


def factorial(n, exact=False):
    """Gamma(n + 1); 0 for negative n."""
    if exact:
        raise ValueError("factorial with exact=True is not supported.")
    n = _inexact(n)
    return _ew.where(_ew.less(n, 0), 0, _ew.exp(gammaln(_ew.add(n, 1))))


def rel_entr(x, y):
    """x log(x / y) for x, y > 0; 0 where x == 0 and y >= 0; inf elsewhere."""
    x, y = _inexact(x), _inexact(y)
    dtype, _ = promote_dtypes(x, y)
    x, y = convert(x, dtype), convert(y, dtype)
    both_positive = _ew.logical_and(_ew.greater(x, 0), _ew.greater(y, 0))
    safe_x, safe_y = _ew.where(both_positive, x, 1), _ew.where(both_positive, y, 1)
    value = _ew.multiply(safe_x, _ew.log(_ew.divide(safe_x, safe_y)))
    zero = _ew.logical_and(_ew.equal(x, 0), _ew.greater_equal(y, 0))
    return _ew.where(both_positive, value, _ew.where(zero, 0, np.inf))


def kl_div(x, y):
    """rel_entr(x, y) - x + y (inf outside x, y >= 0 like rel_entr)."""
    x, y = _inexact(x), _inexact(y)
    return _ew.add(rel_entr(x, y), _ew.subtract(y, x))


def digamma(x):
    return elementwise_call(special_rules.digamma_p, "digamma", x, to_inexact=True)


def polygamma(n, x):
    """The n-th derivative of digamma (n a non-negative integer; NaN otherwise)."""
    return elementwise_call(special_rules.polygamma_p, "polygamma", n, x, to_inexact=True)


def betaln(a, b):
    """log|B(a, b)| = gammaln(a) + gammaln(b) - gammaln(a + b)."""
    a, b = _inexact(a), _inexact(b)
    return _ew.subtract(_ew.add(gammaln(a), gammaln(b)), gammaln(_ew.add(a, b)))


def multigammaln(a, d):
    """The log of the multivariate gamma function of dimension d (a static int)."""
    from nbad.numpy._creation import arange
    from nbad.numpy._shape import expand_dims

    d = int(d)
    a = _inexact(a)
    offsets = _ew.divide(arange(d, dtype=np.float64), 2.0)
    shifted = _ew.subtract(expand_dims(a, -1), offsets)
    return _ew.add(_red.sum(gammaln(shifted), axis=-1), d * (d - 1) / 4 * np.log(np.pi))


def gammainc(a, x):
    """The regularised lower incomplete gamma function P(a, x)."""
    return elementwise_call(special_rules.igamma_p, "gammainc", a, x, to_inexact=True)


def gammaincc(a, x):
    """The regularised upper incomplete gamma function Q(a, x) = 1 - P(a, x)."""
    return elementwise_call(special_rules.igammac_p, "gammaincc", a, x, to_inexact=True)


def ndtr(x):
    """The standard normal CDF, erfc(-x / sqrt(2)) / 2 (accurate in the left tail)."""
    x = _inexact(x)
    return _ew.multiply(0.5, erfc(_ew.multiply(x, -1 / math.sqrt(2))))


def ndtri(p):
    """The inverse of ndtr."""
    return elementwise_call(special_rules.ndtri_p, "ndtri", p, to_inexact=True)


def log_ndtr(x):
    """log(ndtr(x)), accurate in both tails."""
    return elementwise_call(special_rules.log_ndtr_p, "log_ndtr", x, to_inexact=True)


def expit(x):
    """The logistic function 1 / (1 + exp(-x)), without overflow."""
    return elementwise_call(ew_rules.logistic_p, "expit", x, to_inexact=True)


def logit(p):
    return _logit(_inexact(p))


def _logit_formula(p):
    return _ew.log(_ew.divide(p, _ew.subtract(1, p)))


def _logit_jvp(primals, tangents):
    """JAX's rule t / (p (1 - p)): +inf at 0 and 1, where the quotient's pieces give NaN."""
    (p,), (t,) = primals, tangents
    return _logit(p), _ew.divide(t, _ew.multiply(p, _ew.subtract(1, p)))


def _xlogx_formula(x):
    return _safe_log_product(x, x, _ew.log)


def _xlogx_jvp(primals, tangents):
    """d(x log x) = (log x + 1) dx: -inf at 0, as JAX's (xlogy's y-term is 0/0 there)."""
    (x,), (t,) = primals, tangents
    return _xlogx(x), _ew.multiply(t, _ew.add(_ew.log(x), 1))


def _safe_log_product(x, y, log_fn):
    """x * log_fn(y) with 0 where x == 0 (also for y == 0), computed so the
    unused branch never evaluates log(0)."""
    x, y = _inexact(x), _inexact(y)
    dtype, _ = promote_dtypes(x, y)
    x, y = convert(x, dtype), convert(y, dtype)
    x_is_zero = _ew.equal(x, 0)
    safe_y = _ew.where(x_is_zero, 1, y)
    return _ew.where(x_is_zero, 0, _ew.multiply(x, log_fn(safe_y)))


def _log_product_with_rule(log_fn, dlog_fn, name):
    """x * log_fn(y), 0 where x == 0, with JAX's derivative rule: the guard that
    avoids log(0) must not hide d/dx = log_fn(y), which is smooth at x == 0."""
    from nbad.custom_derivatives import custom_jvp

    @custom_jvp
    def fn(x, y):
        return _safe_log_product(x, y, log_fn)

    @fn.defjvp
    def fn_jvp(primals, tangents):
        x, y = primals
        x_dot, y_dot = tangents
        out = fn(x, y)
        # No guard in the tangent (as JAX): a `where` would hide d/dx again at
        # second order; at x == y == 0 the y-derivative is NaN, as in JAX.
        return out, _ew.add(_ew.multiply(x_dot, log_fn(y)),
                            _ew.multiply(_ew.multiply(y_dot, x), dlog_fn(y)))

    fn.__name__ = fn.__qualname__ = name
    return fn


# d/dy: x / y (x / (1 + y)).
xlogy = _log_product_with_rule(_ew.log, _ew.reciprocal, "xlogy")
xlog1py = _log_product_with_rule(_ew.log1p, lambda v: _ew.reciprocal(_ew.add(v, 1)), "xlog1py")


def entr(x):
    """-x log x for x > 0, 0 at 0, -inf for x < 0 (NaN stays NaN)."""
    x = _inexact(x)
    return _ew.where(_ew.less(x, 0), -np.inf, _ew.negative(_xlogx(x)))


def _with_rule(formula, rule):
    from nbad.custom_derivatives import custom_jvp

    fn = custom_jvp(formula)
    fn.defjvp(rule)
    return fn


_logit = _with_rule(_logit_formula, _logit_jvp)
_xlogx = _with_rule(_xlogx_formula, _xlogx_jvp)


def _drop_axes(x, axis, ndim):
    """x computed with keepdims=True, with the reduced axes removed."""
    axes = range(ndim) if axis is None else [
        a % ndim for a in ((axis,) if isinstance(axis, int) else axis)]
    shape = tuple(d for i, d in enumerate(shape_of(x)) if i not in set(axes))
    return bind(reshape_p, x, new_sizes=shape)


def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False):
    """log(sum(b * exp(a))) over `axis`, shifted by the maximum so it neither
    overflows nor underflows. All -inf gives -inf; +inf gives +inf.
    With return_sign, returns (log|s|, sign(s)); otherwise a negative sum is NaN."""
    a = _inexact(a)
    if b is not None:
        b = as_operand(b)
        dtype, _ = promote_dtypes(a, b, to_inexact=True)
        a, b = convert(a, dtype), convert(b, dtype)
    ndim = len(shape_of(a))
    amax = _red.max(a, axis=axis, keepdims=True)
    # An infinite maximum (all -inf, or some +inf) would give inf - inf = NaN.
    shift = _ew.where(_ew.isfinite(amax), amax, 0)
    terms = _ew.exp(_ew.subtract(a, shift))
    if b is not None:
        terms = _ew.multiply(b, terms)
    total = _red.sum(terms, axis=axis, keepdims=True)
    if return_sign:
        sign = _ew.sign(total)
        total = _ew.absolute(total)
    out = _ew.add(_ew.log(total), shift)
    if not keepdims:
        out = _drop_axes(out, axis, ndim)
    if return_sign:
        return out, (sign if keepdims else _drop_axes(sign, axis, ndim))
    return out

