"""Reductions of nbad.numpy with NumPy's signatures and result dtypes.

Each is a composition: convert the operand to the accumulation dtype first
(an elementwise step the fuser merges into the reduction's loop), bind one
reduce_* primitive over sorted axes, then reshape for keepdims. `mean` is a
sum divided by a typed count, `var` a mean of squared deviations, so their
derivatives come from the primitives' rules.
"""
from __future__ import annotations

import numpy as np

from nbad.core.trace import bind
from nbad.errors import NbadValueError
from nbad.numpy import _elementwise as ew
from nbad.numpy._core import as_operand, convert, dtype_of, promote_dtypes, shape_of
from nbad.numpy._shape import normalize_axes, normalize_axis, ravel, reshape, unchanged
from nbad.rules import reduce as rp

__all__ = [
    "sum", "prod", "max", "min", "amax", "amin", "argmax", "argmin", "any", "all", "mean",
    "var", "std", "cumsum", "cumprod", "ptp", "average", "nansum", "nanmean", "nanmax",
    "nanmin", "count_nonzero",
]

_builtin_max = max


def _sum_dtype(dtype) -> np.dtype:
    """NumPy's accumulator for sum/prod: small ints and bool widen to 64 bits."""
    dtype = np.dtype(dtype)
    if dtype.kind == "b" or (dtype.kind == "i" and dtype.itemsize < 8):
        return np.dtype(np.int64)
    if dtype.kind == "u" and dtype.itemsize < 8:
        return np.dtype(np.uint64)
    return dtype


def _no_out(fn, out):
    if out is not None:
        raise NbadValueError(f"{fn}: out= is not supported (nbad arrays are immutable); "
                             "use the return value")


def _keep(x, in_shape, axes, keepdims):
    if not keepdims:
        return x
    return reshape(x, tuple(1 if i in axes else d for i, d in enumerate(in_shape)))


def _reduce(fn, prim, a, axis, keepdims, dtype, where=None, identity=None):
    """Bind `prim` over `axis` of `a` converted to `dtype` (masked by `where`)."""
    a = as_operand(a)
    in_shape = shape_of(a)
    axes = normalize_axes(fn, axis, len(in_shape))
    x = convert(a, dtype)
    if where is not None:
        if identity is None:
            raise NbadValueError(f"{fn}: where= needs initial= (the reduction has no identity)")
        x = ew.where(where, x, convert(identity, dtype))
        x = _broadcast_to_shape(x, in_shape)
    out = bind(prim, x, axes=axes) if axes else unchanged(x)
    return _keep(out, in_shape, axes, keepdims)


def _broadcast_to_shape(x, shape):
    from nbad.numpy._shape import broadcast_to

    return broadcast_to(x, shape)


def _with_initial(out, initial, combine, dtype):
    return out if initial is None else combine(out, convert(initial, dtype))


def sum(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    _no_out("sum", out)
    a = as_operand(a)
    dtype = _sum_dtype(dtype_of(a)) if dtype is None else np.dtype(dtype)
    r = _reduce("sum", rp.reduce_sum_p, a, axis, keepdims, dtype, where, 0)
    return _with_initial(r, initial, ew.add, dtype)


def prod(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    _no_out("prod", out)
    a = as_operand(a)
    dtype = _sum_dtype(dtype_of(a)) if dtype is None else np.dtype(dtype)
    r = _reduce("prod", rp.reduce_prod_p, a, axis, keepdims, dtype, where, 1)
    return _with_initial(r, initial, ew.multiply, dtype)


def _extremum(fn, prim, combine, a, axis, out, keepdims, initial, where):
    _no_out(fn, out)
    a = as_operand(a)
    s = shape_of(a)
    axes = normalize_axes(fn, axis, len(s))
    if _builtin_max([s[i] == 0 for i in axes], default=False):
        if initial is None:
            raise NbadValueError(f"{fn}: zero-size array to reduction operation {fn} which has "
                                 f"no identity (shape {s}, axis={axis}); pass initial=")
        out_shape = tuple(1 if i in axes else d for i, d in enumerate(s) if keepdims or i not in axes)
        return _broadcast_to_shape(convert(initial, dtype_of(a)), out_shape)
    r = _reduce(fn, prim, a, axis, keepdims, dtype_of(a), where, initial)
    return _with_initial(r, initial, combine, dtype_of(a))


def max(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    return _extremum("max", rp.reduce_max_p, lambda x, y: ew.maximum(x, y),
                     a, axis, out, keepdims, initial, where)


def min(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    return _extremum("min", rp.reduce_min_p, lambda x, y: ew.minimum(x, y),
                     a, axis, out, keepdims, initial, where)


amax, amin = max, min


def _arg(fn, prim, a, axis, out, keepdims):
    _no_out(fn, out)
    a = as_operand(a)
    in_shape = shape_of(a)
    if axis is None:
        a, ax = ravel(a), 0
        in_shape_axes = tuple(range(len(in_shape)))
    else:
        ax = normalize_axis(fn, axis, len(in_shape))
        in_shape_axes = (ax,)
    if shape_of(a)[ax] == 0:
        raise NbadValueError(f"{fn}: attempt to get {fn} of an empty sequence (shape {in_shape})")
    r = bind(prim, a, axes=(ax,), index_dtype=np.dtype(np.int64))
    return _keep(r, in_shape, in_shape_axes, keepdims)


def argmax(a, axis=None, out=None, *, keepdims=False):
    return _arg("argmax", rp.argmax_p, a, axis, out, keepdims)


def argmin(a, axis=None, out=None, *, keepdims=False):
    return _arg("argmin", rp.argmin_p, a, axis, out, keepdims)


def any(a, axis=None, out=None, keepdims=False, *, where=None):
    _no_out("any", out)
    return _reduce("any", rp.reduce_or_p, a, axis, keepdims, np.bool_, where, False)


def all(a, axis=None, out=None, keepdims=False, *, where=None):
    _no_out("all", out)
    return _reduce("all", rp.reduce_and_p, a, axis, keepdims, np.bool_, where, True)


def _mean_dtype(a, dtype):
    """NumPy's mean dtype: ints and bool average in float64, floats in their own."""
    if dtype is not None:
        return np.dtype(dtype)
    d = dtype_of(a)
    return np.dtype(np.float64) if d.kind in "biu" else d


def _count(a, axis, where, keepdims):
    """How many elements each mean averages: a Python int, or counted from `where`."""
    s = shape_of(a)
    if where is None:
        return size_along(a, axis)
    ones = _broadcast_to_shape(ew.where(where, 1, 0), s)
    return _reduce("mean", rp.reduce_sum_p, ones, axis, keepdims, np.int64)


def size_along(a, axis):
    s = shape_of(a)
    return int(np.prod([s[i] for i in normalize_axes("mean", axis, len(s))], dtype=np.int64))


def _divide_by_count(total, n, dtype):
    """total / n, with a Python-int n as a typed scalar of dtype's real kind."""
    if isinstance(n, int):
        return ew.divide(total, np.zeros((), dtype).real.dtype.type(n))
    return ew.divide(total, convert(n, dtype))


def _mean(fn, a, axis, dtype, keepdims, where):
    total = _reduce(fn, rp.reduce_sum_p, a, axis, keepdims, dtype, where, 0)
    return _divide_by_count(total, _count(a, axis, where, keepdims), dtype)


def mean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=None):
    _no_out("mean", out)
    a = as_operand(a)
    return _mean("mean", a, axis, _mean_dtype(a, dtype), keepdims, where)


def var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None,
        mean=None, correction=None):
    _no_out("var", out)
    if mean is not None:
        raise NbadValueError("var: mean= is not supported; omit it")
    if correction is not None:
        ddof = correction
    a = as_operand(a)
    dtype = _mean_dtype(a, dtype)
    centered = ew.subtract(convert(a, dtype), _mean("var", a, axis, dtype, True, where))
    squares = ew.real(ew.multiply(centered, ew.conjugate(centered))) \
        if dtype.kind == "c" else ew.multiply(centered, centered)
    total = _reduce("var", rp.reduce_sum_p, squares, axis, keepdims, dtype_of(squares), where, 0)
    n = _count(a, axis, where, keepdims)
    n = _builtin_max(n - ddof, 0) if isinstance(n, int) else ew.subtract(n, ddof)
    return _divide_by_count(total, n, dtype_of(total))


def std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None,
        mean=None, correction=None):
    return ew.sqrt(var(a, axis, dtype, out, ddof, keepdims, where=where, mean=mean,
                       correction=correction))


def _cumulative(fn, prim, a, axis, dtype, out):
    _no_out(fn, out)
    a = as_operand(a)
    if axis is None:
        a, axis = ravel(a), 0
    axis = normalize_axis(fn, axis, len(shape_of(a)))
    dtype = _sum_dtype(dtype_of(a)) if dtype is None else np.dtype(dtype)
    return bind(prim, convert(a, dtype), axis=axis, reverse=False)


def cumsum(a, axis=None, dtype=None, out=None):
    return _cumulative("cumsum", rp.cumsum_p, a, axis, dtype, out)


def cumprod(a, axis=None, dtype=None, out=None):
    return _cumulative("cumprod", rp.cumprod_p, a, axis, dtype, out)


def ptp(a, axis=None, out=None, keepdims=False):
    return ew.subtract(max(a, axis, out, keepdims), min(a, axis, out, keepdims))


def average(a, axis=None, weights=None, returned=False, *, keepdims=False):
    a = as_operand(a)
    if weights is None:
        avg = mean(a, axis, keepdims=keepdims)
        if not returned:
            return avg
        count = convert(size_along(a, axis), dtype_of(avg))
        return avg, _broadcast_to_shape(count, shape_of(avg))
    w = as_operand(weights)
    dtype, _ = promote_dtypes(a, w, to_inexact=True)
    s, ws = shape_of(a), shape_of(w)
    if ws != s:
        if axis is None or len(ws) != 1 or not isinstance(axis, (int, np.integer)):
            raise NbadValueError(f"average: weights of shape {ws} differ from a's shape {s}; "
                                 "1-D weights need an integer axis=")
        ax = normalize_axis("average", axis, len(s))
        if ws[0] != s[ax]:
            raise NbadValueError(f"average: length of weights {ws[0]} differs from the size "
                                 f"{s[ax]} of axis {ax} of a (shape {s})")
        w = reshape(w, tuple(ws[0] if i == ax else 1 for i in range(len(s))))
    w = _broadcast_to_shape(convert(w, dtype), s)
    wsum = sum(w, axis, keepdims=keepdims)
    avg = ew.divide(sum(ew.multiply(convert(a, dtype), w), axis, keepdims=keepdims), wsum)
    return (avg, wsum) if returned else avg


def _nan_to(a, value):
    a = as_operand(a)
    if dtype_of(a).kind not in "fc":
        return a
    return ew.where(ew.isnan(a), convert(value, dtype_of(a)), a)


def nansum(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    return sum(_nan_to(a, 0), axis, dtype, out, keepdims, initial, where)


def nanmean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=None):
    a = as_operand(a)
    if dtype_of(a).kind not in "fc":
        return mean(a, axis, dtype, out, keepdims, where=where)
    valid = ew.logical_not(ew.isnan(a))
    if where is not None:
        valid = ew.logical_and(valid, where)
    return mean(a, axis, dtype, out, keepdims, where=valid)


def _nanextremum(fn, a, axis, out, keepdims, initial, where):
    a = as_operand(a)
    if dtype_of(a).kind not in "fc":
        return fn(a, axis, out, keepdims, initial, where)
    fill = -np.inf if fn is max else np.inf
    r = fn(_nan_to(a, fill), axis, out, keepdims, initial, where)
    # A slice that is all NaN has no number to return: NumPy gives NaN there.
    all_nan = all(ew.isnan(a), axis, keepdims=keepdims)
    return ew.where(all_nan, convert(np.nan, dtype_of(a)), r)


def nanmax(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    return _nanextremum(max, a, axis, out, keepdims, initial, where)


def nanmin(a, axis=None, out=None, keepdims=False, initial=None, where=None):
    return _nanextremum(min, a, axis, out, keepdims, initial, where)


def count_nonzero(a, axis=None, *, keepdims=False):
    a = as_operand(a)
    nonzero = ew.not_equal(a, convert(0, dtype_of(a)))
    return sum(nonzero, axis, dtype=np.int64, keepdims=keepdims)
