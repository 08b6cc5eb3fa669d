"""nbad.numpy.linalg (jnp.linalg): norms.

norm follows numpy.linalg.norm: integer inputs compute in float64, complex
inputs give real norms of the same precision. Matrix norms that need a
singular value decomposition (ord=2, -2, 'nuc') are not available yet.
"""
from __future__ import annotations

import math

import numpy as np

from nbad.core.trace import bind
from nbad.errors import NbadValueError
from nbad.numpy import _elementwise as _ew
from nbad.numpy import _reductions as _red
from nbad.numpy._core import as_operand, convert, dtype_of, shape_of
from nbad.rules.shape import reshape_p

__all__ = ["norm"]

_SVD_ORDS = (2, -2, "nuc")


def _abs_squared(x):
    """|x|**2 without a square root: conj(x) * x is real for complex x."""
    if dtype_of(x).kind == "c":
        return _ew.real(_ew.multiply(_ew.conjugate(x), x))
    return _ew.multiply(x, x)


def _normalize_axes(axis, ndim):
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    if any(not -ndim <= a < ndim for a in axes):
        raise NbadValueError(f"norm: axis {axis} is out of range for an array of rank {ndim}")
    axes = tuple(a % ndim for a in axes)
    if len(set(axes)) != len(axes):
        raise NbadValueError(f"norm: duplicate axes given: axis={axis}")
    return axes


def _vector_norm(x, ord, axis, keepdims):
    if isinstance(ord, str):
        raise NbadValueError(f"norm: invalid norm order {ord!r} for vectors; use None, inf, "
                             "-inf, 0 or a number")
    if ord is None or ord == 2:
        return _ew.sqrt(_red.sum(_abs_squared(x), axis=axis, keepdims=keepdims))
    mag = _ew.absolute(x)
    if ord == math.inf:
        return _red.max(mag, axis=axis, keepdims=keepdims)
    if ord == -math.inf:
        return _red.min(mag, axis=axis, keepdims=keepdims)
    if ord == 0:
        nonzero = convert(_ew.not_equal(x, 0), dtype_of(mag))
        return _red.sum(nonzero, axis=axis, keepdims=keepdims)
    if ord == 1:
        return _red.sum(mag, axis=axis, keepdims=keepdims)
    p = float(ord)
    total = _red.sum(_ew.power(mag, p), axis=axis, keepdims=keepdims)
    return _ew.power(total, 1.0 / p)


def _matrix_norm(x, ord, axes, keepdims):
    row, col = axes
    if ord in _SVD_ORDS:
        raise NbadValueError(
            f"norm: the matrix norm ord={ord!r} needs a singular value decomposition, which "
            "nbad does not implement yet. Use ord='fro', 1, -1, inf or -inf, or compute it "
            "outside the transformed function with numpy.linalg.norm.")
    if ord is None or ord == "fro":
        out = _ew.sqrt(_red.sum(_abs_squared(x), axis=axes))
    elif ord in (1, -1, math.inf, -math.inf):
        # 1: largest column sum (sum over rows); inf: largest row sum.
        summed, picked = (row, col) if abs(ord) == 1 else (col, row)
        sums = _red.sum(_ew.absolute(x), axis=summed)
        pick = _red.max if ord > 0 else _red.min
        out = pick(sums, axis=picked - (picked > summed))
    else:
        raise NbadValueError(f"norm: invalid norm order {ord!r} for matrices; use None, 'fro', "
                             "1, -1, inf or -inf")
    if not keepdims:
        return out
    shape = tuple(1 if i in axes else d for i, d in enumerate(shape_of(x)))
    return bind(reshape_p, out, new_sizes=shape)


def norm(x, ord=None, axis=None, keepdims=False):
    """numpy.linalg.norm for vectors and matrices (see the module docstring)."""
    x = as_operand(x)
    if dtype_of(x).kind in "biu":
        x = convert(x, np.float64)
    ndim = len(shape_of(x))
    if axis is None:
        if ord is None:
            # The 2-norm of the flattened array, whatever its rank.
            return _vector_norm(x, None, None, keepdims)
        if ndim not in (1, 2):
            raise NbadValueError(f"norm: ord={ord!r} with axis=None needs a 1-D or 2-D "
                                 f"array, got shape {shape_of(x)}; pass axis")
        axis = tuple(range(ndim))
    axes = _normalize_axes(axis, ndim)
    if len(axes) == 1:
        return _vector_norm(x, ord, axes[0], keepdims)
    if len(axes) == 2:
        return _matrix_norm(x, ord, axes, keepdims)
    raise NbadValueError(f"norm: axis must name one (vector norm) or two (matrix norm) "
                         f"axes, got axis={axis}")
