"""quantile, percentile, median and their nan- versions as JAX builds them: the
reduced axes moved last and merged, a sort (the sort primitive, so derivatives
and vmap come from its rules), and the two order statistics around q (n - 1)
gathered and combined by `method=`. The nan- versions sort NaNs last and use each
slice's count of numbers; the others return NaN for a slice holding one."""
from __future__ import annotations

import math

import numpy as np

from nbad.errors import NbadNotImplementedError, NbadValueError
from nbad.numpy._core import aval_of, as_operand, convert, promote_dtypes, shape_of

__all__ = ["quantile", "nanquantile", "percentile", "nanpercentile", "median", "nanmedian"]

_METHODS = ("linear", "lower", "higher", "midpoint", "nearest")


def _reduced_last(a, axis, keepdims):
    """(a with the reduced axes merged into its last axis, the result's batch shape)."""
    import nbad.numpy as jnp
    from nbad.numpy._shape import normalize_axis

    shape = shape_of(a)
    if axis is None:
        return jnp.reshape(a, (-1,)), ((1,) * len(shape) if keepdims else ())
    axes = axis if isinstance(axis, tuple) else (axis,)
    axes = tuple(normalize_axis("quantile", ax, len(shape)) for ax in axes)
    if len(set(axes)) != len(axes):
        raise NbadValueError("repeated axis")
    kept = [i for i in range(len(shape)) if i not in axes]
    moved = jnp.transpose(a, kept + list(axes))
    batch = tuple(shape[i] for i in kept)
    merged = jnp.reshape(moved, batch + (math.prod(shape[i] for i in axes),))
    out_batch = tuple(1 if i in axes else n for i, n in enumerate(shape)) if keepdims else batch
    return merged, out_batch


def _quantile(fn, a, q, axis, method, keepdims, squash_nans, out, overwrite_input):
    import nbad.numpy as jnp

    if out is not None:
        raise NbadNotImplementedError(f"The 'out' argument to jnp.{fn} is not supported.")
    if overwrite_input:
        raise NbadNotImplementedError(
            f"The 'overwrite_input' argument to jnp.{fn} is not supported.")
    if method not in _METHODS:
        raise NbadValueError("method can only be 'linear', 'lower', 'higher', 'midpoint', "
                             "'nearest' or 'inverted_cdf'")
    a, q = as_operand(a), as_operand(q)
    dtype, _ = promote_dtypes(a, to_inexact=True)
    if dtype.kind == "c":
        raise NbadValueError(
            "quantile does not support complex input, as the operation is poorly defined.")
    a = convert(a, dtype)
    q_dtype = dtype if aval_of(q).weak_type else promote_dtypes(q, to_inexact=True)[0]
    q = convert(q, q_dtype)
    q_shape = shape_of(q)
    if len(q_shape) > 1:
        raise NbadValueError(f"q must be have rank <= 1, got shape {q_shape}")
    a, out_batch = _reduced_last(a, axis, keepdims)
    n = shape_of(a)[-1]
    nan = jnp.isnan(a)
    if squash_nans:
        a = jnp.sort(a, axis=-1)  # NaNs sort last
        counts = jnp.sum(jnp.logical_not(nan), axis=-1, keepdims=True).astype(q_dtype)
    else:  # one NaN makes the slice's quantiles NaN
        a = jnp.sort(jnp.where(jnp.any(nan, axis=-1, keepdims=True), np.nan, a), axis=-1)
        counts = jnp.full(shape_of(a)[:-1] + (1,), n, q_dtype)
    position = jnp.multiply(jnp.reshape(q, (-1,)), jnp.subtract(counts, 1))  # batch + (Q,)
    low, high = jnp.floor(position), jnp.ceil(position)
    high_weight = jnp.subtract(position, low)
    low_weight = jnp.subtract(1, high_weight)
    last = jnp.subtract(counts, 1)
    low_value, high_value = (
        jnp.take_along_axis(a, jnp.clip(i, 0, jnp.maximum(last, 0)).astype(np.int64), axis=-1)
        for i in (low, high))
    if method == "linear":
        result = jnp.add(jnp.multiply(low_value.astype(q_dtype), low_weight),
                         jnp.multiply(high_value.astype(q_dtype), high_weight))
    elif method == "lower":
        result = low_value
    elif method == "higher":
        result = high_value
    elif method == "nearest":
        result = jnp.where(jnp.less_equal(high_weight, 0.5), low_value, high_value)
    else:
        result = jnp.multiply(jnp.add(low_value, high_value), 0.5)
    result = jnp.moveaxis(result, -1, 0)  # (Q,) + batch
    return jnp.reshape(result, q_shape + out_batch)


def quantile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
             keepdims=False, *, weights=None):
    """The q-th quantiles (q in [0, 1], a scalar or 1-d) of a along axis, as JAX."""
    _no_weights("quantile", weights)
    return _quantile("quantile", a, q, axis, method, keepdims, False, out, overwrite_input)


def nanquantile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
                keepdims=False, *, weights=None):
    """quantile ignoring NaNs."""
    _no_weights("nanquantile", weights)
    return _quantile("nanquantile", a, q, axis, method, keepdims, True, out, overwrite_input)


def _percent(q):
    q = as_operand(q)
    dtype, _ = promote_dtypes(q, to_inexact=True)
    return convert(q, dtype) / 100.0 if not aval_of(q).weak_type else q / 100.0


def percentile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
               keepdims=False, *, weights=None):
    """The q-th percentiles (q in [0, 100]) of a along axis, as JAX."""
    _no_weights("percentile", weights)
    return _quantile("percentile", a, _percent(q), axis, method, keepdims, False, out,
                     overwrite_input)


def nanpercentile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
                  keepdims=False, *, weights=None):
    """percentile ignoring NaNs."""
    _no_weights("nanpercentile", weights)
    return _quantile("nanpercentile", a, _percent(q), axis, method, keepdims, True, out,
                     overwrite_input)


def median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """The median along axis: quantile 0.5 by the midpoint method, as JAX."""
    return _quantile("median", a, 0.5, axis, "midpoint", keepdims, False, out, overwrite_input)


def nanmedian(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """median ignoring NaNs."""
    return _quantile("nanmedian", a, 0.5, axis, "midpoint", keepdims, True, out,
                     overwrite_input)


def _no_weights(fn, weights):
    if weights is not None:
        raise NbadNotImplementedError(
            f"jnp.{fn}: weights= (JAX's inverted_cdf method) is not supported")
