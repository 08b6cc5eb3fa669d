"""Comparisons of whole arrays, log-space addition, differences, 1-D
convolution, covariance and correlation coefficients, interpolation,
polynomials, quadrature, cross products, binning (digitize, bincount), NaN-
ignoring statistics, as compositions of nbad.numpy functions.

isclose follows NumPy: |a - b| <= atol + rtol |b|, infinities close only to
themselves, NaN close to NaN only with equal_nan. allclose/array_equal/
array_equiv return a bool array (a traced one under jit), as JAX does.

logaddexp/logaddexp2 carry JAX's derivative rule: the formula's pieces
(maximum and log1p(exp(-|x1 - x2|))) each have a kink at x1 == x2 that would
cancel into a zero derivative there; the rule gives exp(x_i - out), written
as a logistic of x1 - x2.

convolve/correlate gather the windows of the padded signal with a constant
index table (n_out x len(v)) and contract them with v: one gather and one
product, differentiable in both operands.
"""
from __future__ import annotations

import math

import numpy as np

from nbad.errors import NbadValueError, ShapeError
from nbad.numpy import _elementwise as ew
from nbad.numpy import _reductions as red
from nbad.numpy import _shape as sh
from nbad.numpy._core import as_operand, convert, dtype_of, promote_dtypes, shape_of
from nbad.numpy._indexing import take
from nbad.numpy._linalg import diagonal, matmul

__all__ = ["isclose", "allclose", "array_equal", "array_equiv", "logaddexp", "logaddexp2",
           "diff", "convolve", "correlate", "cov", "corrcoef", "interp", "polyval", "trapezoid",
           "cross", "digitize", "isin", "divmod", "angle", "nanvar", "nanstd", "nanprod", "nancumsum",
           "nancumprod", "bincount", "cumulative_sum"]


def _promoted(*xs, to_inexact=False):
    xs = [as_operand(x) for x in xs]
    dtype, _ = promote_dtypes(*xs, to_inexact=to_inexact)
    return [convert(x, dtype) for x in xs]


def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    a, b = _promoted(a, b)
    if np.dtype(promote_dtypes(a)[0]).kind in "biu":
        return ew.equal(a, b)
    a, b = _promoted(a, b, to_inexact=True)
    finite = ew.logical_and(ew.isfinite(a), ew.isfinite(b))
    # Compute the tolerance test only where both are finite: inf - inf would be NaN.
    safe_a, safe_b = ew.where(finite, a, 0), ew.where(finite, b, 0)
    close = ew.less_equal(ew.absolute(ew.subtract(safe_a, safe_b)),
                          ew.add(atol, ew.multiply(rtol, ew.absolute(safe_b))))
    out = ew.where(finite, close, ew.equal(a, b))
    if equal_nan:
        out = ew.logical_or(out, ew.logical_and(ew.isnan(a), ew.isnan(b)))
    return out


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    return red.all(isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


def array_equal(a1, a2, equal_nan=False):
    a1, a2 = as_operand(a1), as_operand(a2)
    if shape_of(a1) != shape_of(a2):
        return np.bool_(False)
    equal = ew.equal(a1, a2)
    if equal_nan:
        equal = ew.logical_or(equal, ew.logical_and(ew.isnan(a1), ew.isnan(a2)))
    return red.all(equal)


def array_equiv(a1, a2):
    a1, a2 = as_operand(a1), as_operand(a2)
    try:
        np.broadcast_shapes(shape_of(a1), shape_of(a2))
    except ValueError:
        return np.bool_(False)
    return red.all(ew.equal(a1, a2))


def _logaddexp_with_rule(exp_base, log1p_exp_fn, name):
    """log_b(b**x1 + b**x2) for b = e**exp_base, with the derivative
    d/dx1 = b**(x1 - out) = logistic(exp_base (x1 - x2)) (and symmetrically)."""
    from nbad.custom_derivatives import custom_jvp

    def value(x1, x2):
        x1, x2 = _promoted(x1, x2, to_inexact=True)
        amax = ew.maximum(x1, x2)
        delta = ew.subtract(x1, x2)
        # delta is NaN for equal infinities (and NaN operands): x1 + x2 is then right.
        return ew.where(ew.isnan(delta), ew.add(x1, x2),
                        ew.add(amax, log1p_exp_fn(ew.negative(ew.absolute(delta)))))

    fn = custom_jvp(value)

    @fn.defjvp
    def fn_jvp(primals, tangents):
        from nbad.scipy.special import expit

        x1, x2 = _promoted(*primals, to_inexact=True)
        t1, t2 = tangents
        delta = ew.subtract(x1, x2)
        # Equal infinities: each operand gets half.
        w1 = ew.where(ew.isnan(delta), 0.5, expit(ew.multiply(delta, exp_base)))
        w2 = ew.subtract(1, w1)
        return value(x1, x2), ew.add(ew.multiply(t1, w1), ew.multiply(t2, w2))

    fn.__name__ = fn.__qualname__ = name
    return fn


def _log1p_exp(x):
    return ew.log1p(ew.exp(x))


def _log2_1p_exp2(x):
    return ew.divide(ew.log1p(ew.exp2(x)), math.log(2))


logaddexp = _logaddexp_with_rule(1.0, _log1p_exp, "logaddexp")
logaddexp2 = _logaddexp_with_rule(math.log(2), _log2_1p_exp2, "logaddexp2")
logaddexp.__doc__ = "log(exp(x1) + exp(x2)) without overflow."
logaddexp2.__doc__ = "log2(2**x1 + 2**x2) without overflow."


def diff(a, n=1, axis=-1, prepend=None, append=None):
    """The n-th discrete difference along `axis` (NumPy's signature)."""
    a = as_operand(a)
    ndim = len(shape_of(a))
    if ndim == 0:
        raise NbadValueError("diff requires an input that is at least one dimensional")
    n = int(n)
    if n < 0:
        raise NbadValueError(f"diff: order must be non-negative but got {n}")
    axis = sh.normalize_axis("diff", axis, ndim)
    if n == 0:
        return sh.unchanged(a)

    def along_axis(v):
        v = as_operand(v)
        if len(shape_of(v)) == 0:
            shape = list(shape_of(a))
            shape[axis] = 1
            v = sh.broadcast_to(v, tuple(shape))
        return v

    parts = ([along_axis(prepend)] if prepend is not None else []) + [a] + \
        ([along_axis(append)] if append is not None else [])
    if len(parts) > 1:
        a = sh.concatenate(parts, axis=axis)
    for _ in range(n):
        length = shape_of(a)[axis]
        a = ew.subtract(sh._slice_axis(a, axis, 1, length), sh._slice_axis(a, axis, 0, max(length - 1, 0)))
    return a


def _correlate(a, w, mode, fn, swapped_centre):
    """sum_j a[k + j - (m - 1)] w[j] (zero outside a) for each output k of `mode`,
    sliced from the full result where NumPy's same/valid windows lie."""
    a, w = _promoted(a, w)
    if len(shape_of(a)) != 1 or len(shape_of(w)) != 1:
        raise ShapeError(f"{fn}: both inputs must be 1-D, got shapes {shape_of(a)} and {shape_of(w)}")
    n, m = shape_of(a)[0], shape_of(w)[0]
    if n == 0 or m == 0:
        raise NbadValueError(f"{fn}: inputs cannot be empty, got shapes {(n,)} and {(m,)}")
    short, long = min(n, m), max(n, m)
    if mode == "full":
        start, n_out = 0, n + m - 1
    elif mode == "same":
        # NumPy swaps the operands when the second is longer; correlate then
        # reverses, which moves its window's centre to the other side.
        half = (short - 1) // 2
        start, n_out = (short - 1 - half if swapped_centre and n < m else half), long
    elif mode == "valid":
        start, n_out = short - 1, long - short + 1
    else:
        raise NbadValueError(f"{fn}: mode must be one of 'full', 'same' or 'valid', got {mode!r}")
    padded = sh.pad(a, (m - 1, m - 1))
    windows = start + np.arange(n_out)[:, None] + np.arange(m)[None, :]
    return matmul(take(padded, windows, axis=0), w)


def correlate(a, v, mode="valid", *, precision=None, preferred_element_type=None):
    """NumPy's cross-correlation of two 1-D sequences (complex v is conjugated)."""
    return _correlate(a, ew.conj(as_operand(v)), mode, "correlate", swapped_centre=True)


def convolve(a, v, mode="full", *, precision=None, preferred_element_type=None):
    """NumPy's discrete linear convolution of two 1-D sequences."""
    v = as_operand(v)
    return _correlate(a, sh.flip(v) if len(shape_of(v)) == 1 else v, mode, "convolve",
                      swapped_centre=False)


def cov(m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None):
    """NumPy's covariance matrix of the variables in m's rows (columns if not rowvar)."""
    from nbad.numpy._creation import array

    m = _promoted(m, to_inexact=True)[0]
    if len(shape_of(m)) > 2:
        raise ShapeError(f"cov: m has more than 2 dimensions (shape {shape_of(m)})")
    x = sh.atleast_2d(m)
    if not rowvar and shape_of(x)[0] != 1:
        x = sh.transpose(x)
    if y is not None:
        y = sh.atleast_2d(_promoted(y, to_inexact=True)[0])
        if not rowvar and shape_of(y)[0] != 1:
            y = sh.transpose(y)
        x, y = _promoted(x, y)
        x = sh.concatenate([x, y], axis=0)
    n_obs = shape_of(x)[1]
    if ddof is None:
        ddof = 0 if bias else 1
    weights = None
    if fweights is not None:
        weights = _promoted(array(fweights), to_inexact=True)[0]
    if aweights is not None:
        aw = _promoted(array(aweights), to_inexact=True)[0]
        weights = aw if weights is None else ew.multiply(weights, aw)
    if weights is not None and shape_of(weights) != (n_obs,):
        raise ShapeError(f"cov: weights must have shape ({n_obs},), got {shape_of(weights)}")
    if weights is None:
        mean = red.mean(x, axis=1, keepdims=True)
        w_sum = n_obs
        factor = n_obs - ddof
    else:
        w_sum = red.sum(weights)
        mean = ew.divide(red.sum(ew.multiply(x, weights), axis=1, keepdims=True), w_sum)
        if ddof == 0:
            factor = w_sum
        elif aweights is None:
            factor = ew.subtract(w_sum, ddof)
        else:
            aw = _promoted(array(aweights), to_inexact=True)[0]
            factor = ew.subtract(w_sum, ew.divide(ew.multiply(ddof, red.sum(ew.multiply(weights, aw))), w_sum))
    centred = ew.subtract(x, mean)
    weighted = centred if weights is None else ew.multiply(centred, weights)
    c = ew.divide(matmul(weighted, sh.transpose(ew.conj(centred))), factor)
    return sh.squeeze(c) if shape_of(c) == (1, 1) else c


def corrcoef(x, y=None, rowvar=True):
    """NumPy's Pearson correlation coefficients (clipped to [-1, 1] for real inputs)."""
    c = cov(x, y, rowvar)
    if len(shape_of(c)) == 0:
        return ew.divide(c, c)
    d = diagonal(c)
    stddev = ew.sqrt(ew.real(d))
    c = ew.divide(ew.divide(c, stddev[:, None]), stddev[None, :])
    return ew.clip(c, -1, 1) if np.dtype(promote_dtypes(c)[0]).kind != "c" else c


def interp(x, xp, fp, left=None, right=None, period=None):
    """Piecewise-linear interpolation of (xp, fp) at x (xp increasing)."""
    from nbad.numpy._setops import searchsorted

    x, xp, fp = _promoted(x, xp, fp, to_inexact=True)
    if len(shape_of(xp)) != 1 or shape_of(xp) != shape_of(fp):
        raise ShapeError(f"interp: xp and fp must be 1-D of one length, got {shape_of(xp)} and {shape_of(fp)}")
    n = shape_of(xp)[0]
    if n == 0:
        raise NbadValueError("interp: xp and fp must not be empty")
    if period is not None:
        if left is not None or right is not None:
            raise NbadValueError("interp: left and right are ignored with period; do not give them")
        x = ew.remainder(x, period)
        order = np.argsort(np.asarray(xp)) if not hasattr(xp, "aval") else None
        if order is None:
            raise NbadValueError("interp with period needs a concrete xp")
        xp_sorted = ew.remainder(take(xp, order), period)
        fp_sorted = take(fp, order)
        resort = np.argsort(np.asarray(xp_sorted))
        xp_sorted, fp_sorted = take(xp_sorted, resort), take(fp_sorted, resort)
        xp = sh.concatenate([ew.subtract(xp_sorted[-1:], period), xp_sorted, ew.add(xp_sorted[:1], period)])
        fp = sh.concatenate([fp_sorted[-1:], fp_sorted, fp_sorted[:1]])
        n += 2
    i = ew.clip(searchsorted(xp, x, side="right"), 1, n - 1) if n > 1 else None
    if i is None:
        out = ew.add(ew.multiply(x, 0), fp[0])
    else:
        x0, x1, f0, f1 = take(xp, i - 1), take(xp, i), take(fp, i - 1), take(fp, i)
        dx = ew.subtract(x1, x0)
        # equal neighbours (a jump) take the right value, as NumPy does
        slope = ew.where(ew.equal(dx, 0), 0, ew.divide(ew.subtract(f1, f0), ew.where(ew.equal(dx, 0), 1, dx)))
        out = ew.where(ew.equal(dx, 0), f1, ew.add(f0, ew.multiply(slope, ew.subtract(x, x0))))
    if period is None:
        out = ew.where(ew.less(x, xp[0]), fp[0] if left is None else left, out)
        out = ew.where(ew.greater(x, xp[-1]), fp[-1] if right is None else right, out)
    return out


def polyval(p, x, *, unroll=16):
    """p[0] x**(n-1) + ... + p[-1] by Horner's scheme (p's leading axis: the coefficients)."""
    p, x = _promoted(p, x)
    if len(shape_of(p)) == 0:
        return ew.add(ew.multiply(x, 0), p)
    out = ew.multiply(ew.multiply(x, 0), p[0])
    for k in range(shape_of(p)[0]):
        out = ew.add(ew.multiply(out, x), p[k])
    return out


def trapezoid(y, x=None, dx=1.0, axis=-1):
    """The trapezoidal rule along `axis` (sample points x, or spacing dx)."""
    y = _promoted(y, to_inexact=True)[0]
    axis = sh.normalize_axis("trapezoid", axis, len(shape_of(y)))
    n = shape_of(y)[axis]
    pair_sums = ew.add(sh._slice_axis(y, axis, 1, n), sh._slice_axis(y, axis, 0, max(n - 1, 0)))
    if x is None:
        return ew.multiply(red.sum(pair_sums, axis=axis), ew.multiply(dx, 0.5))
    x = as_operand(x)
    dxs = diff(x, axis=axis if len(shape_of(x)) > 1 else -1)
    if len(shape_of(x)) == 1 and len(shape_of(y)) > 1:
        shape = [1] * len(shape_of(y))
        shape[axis] = n - 1
        dxs = sh.reshape(dxs, tuple(shape))
    return ew.multiply(red.sum(ew.multiply(dxs, pair_sums), axis=axis), 0.5)


def cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """The cross product of (broadcast) 3-vectors (2-vectors: their z component)."""
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = _promoted(a, b)
    a, b = sh.moveaxis(a, axisa, -1), sh.moveaxis(b, axisb, -1)
    na, nb = shape_of(a)[-1], shape_of(b)[-1]
    if na not in (2, 3) or nb not in (2, 3):
        raise NbadValueError(f"cross: incompatible vector sizes {na} and {nb} (need 2 or 3)")

    def comp(v, i, n):
        return v[..., i] if i < n else ew.multiply(v[..., 0], 0)

    a0, a1, a2 = (comp(a, i, na) for i in range(3))
    b0, b1, b2 = (comp(b, i, nb) for i in range(3))
    z = ew.subtract(ew.multiply(a0, b1), ew.multiply(a1, b0))
    if na == 2 and nb == 2:
        return z
    x = ew.subtract(ew.multiply(a1, b2), ew.multiply(a2, b1))
    y = ew.subtract(ew.multiply(a2, b0), ew.multiply(a0, b2))
    return sh.moveaxis(sh.stack([x, y, z], axis=-1), -1, axisc)


def digitize(x, bins, right=False):
    """The index of the bin of each x (bins increasing or decreasing, concrete)."""
    from nbad.numpy._setops import searchsorted

    x, bins = as_operand(x), as_operand(bins)
    if len(shape_of(bins)) != 1:
        raise ShapeError(f"digitize: bins must be 1-D, got shape {shape_of(bins)}")
    side = "left" if right else "right"
    values = None if hasattr(bins, "aval") else np.asarray(bins)
    if values is not None and values.size > 1 and values[-1] < values[0]:
        return ew.subtract(values.size, searchsorted(bins[::-1], x, side=side))
    return searchsorted(bins, x, side=side)


def isin(element, test_elements, assume_unique=False, invert=False, *, method="auto"):
    """Whether each element occurs in test_elements (compares with every one)."""
    element, test = as_operand(element), sh.ravel(as_operand(test_elements))
    found = red.any(ew.equal(sh.expand_dims(element, -1), test), axis=-1) if shape_of(test)[0] \
        else ew.logical_and(ew.equal(element, element), False)
    return ew.logical_not(found) if invert else found


def _divmod(x1, x2, /):
    """(floor_divide(x1, x2), remainder(x1, x2))."""
    return ew.floor_divide(x1, x2), ew.remainder(x1, x2)


_divmod.__name__ = _divmod.__qualname__ = "divmod"
globals()["divmod"] = _divmod   # NumPy's name, without shadowing the builtin in this module


def angle(z, deg=False):
    """The argument of complex z (0 or pi for reals)."""
    z = as_operand(z)
    if np.dtype(promote_dtypes(z)[0]).kind == "c":
        out = ew.arctan2(ew.imag(z), ew.real(z))
    else:
        from nbad.numpy._creation import zeros_like

        z = _promoted(z, to_inexact=True)[0]
        out = ew.arctan2(zeros_like(z), z)     # +0: pi for negative numbers, as NumPy
    return ew.multiply(out, 180 / math.pi) if deg else out


def _nan_masked(a):
    a = _promoted(a)[0]
    valid = ew.logical_not(ew.isnan(a)) if np.dtype(promote_dtypes(a)[0]).kind in "fc" else None
    return a, valid


def nanvar(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None):
    a, valid = _nan_masked(a)
    if valid is None:
        return red.var(a, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims, where=where)
    if where is not None:
        valid = ew.logical_and(valid, where)
    return red.var(ew.where(valid, a, 0), axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims, where=valid)


def nanstd(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None):
    return ew.sqrt(nanvar(a, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims, where=where))


def nanprod(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    a, valid = _nan_masked(a)
    a = a if valid is None else ew.where(valid, a, 1)
    return red.prod(a, axis=axis, dtype=dtype, keepdims=keepdims, initial=initial, where=where)


def nancumsum(a, axis=None, dtype=None, out=None):
    a, valid = _nan_masked(a)
    return red.cumsum(a if valid is None else ew.where(valid, a, 0), axis=axis, dtype=dtype)


def nancumprod(a, axis=None, dtype=None, out=None):
    a, valid = _nan_masked(a)
    return red.cumprod(a if valid is None else ew.where(valid, a, 1), axis=axis, dtype=dtype)


def bincount(x, weights=None, minlength=0, *, length=None):
    """Counts (or summed weights) of each non-negative integer in x; under jit the
    static `length` fixes the result's size (values at or past it are dropped)."""
    from nbad.core.trace import Tracer

    x = as_operand(x)
    if np.dtype(promote_dtypes(x)[0]).kind not in "iub":
        raise NbadValueError(f"bincount: x must be integers, got {np.dtype(promote_dtypes(x)[0]).name}")
    if length is None:
        value = x.value if isinstance(x, Tracer) else np.asarray(x)
        if value is None:
            from nbad.errors import ConcretizationError

            raise ConcretizationError("bincount under jit needs the static `length=` argument: "
                                      "the result's size would depend on x's values.")
        length = max(int(np.max(value, initial=-1)) + 1, int(minlength))
    x = sh.ravel(x)
    hits = ew.equal(sh.expand_dims(x, 0), np.arange(int(length))[:, None])      # (length, n)
    if weights is None:
        return red.sum(hits, axis=1, dtype=np.int64)
    weights = sh.ravel(as_operand(weights))
    return red.sum(ew.where(hits, sh.expand_dims(weights, 0), 0), axis=1)


def cumulative_sum(x, /, *, axis=None, dtype=None, include_initial=False):
    x = as_operand(x)
    if axis is None:
        if len(shape_of(x)) > 1:
            raise NbadValueError("cumulative_sum: axis must be given for arrays of more than one dimension")
        axis = 0
    out = red.cumsum(x, axis=axis, dtype=dtype)
    if include_initial:
        shape = list(shape_of(out))
        shape[axis] = 1
        from nbad.numpy._creation import zeros

        out = sh.concatenate([zeros(tuple(shape), dtype_of(out)), out], axis=axis)
    return out
