"""Data-dependent selections: nonzero, flatnonzero, argwhere, unique, and
searchsorted, with JAX's rules for jit.

Their result's size depends on the data. Outside jit (a concrete operand,
also inside an eager grad) they compute it; under jit they need JAX's static
`size=` (padding with `fill_value`, or truncating), and raise
ConcretizationError without it.

Under jit they are compositions, no sort or scatter needed:

  * the k-th nonzero flat position is the number of positions whose running
    count of nonzeros is <= k (a compare-and-sum over size x n);
  * unique: an element is the first of its value when no earlier element
    equals it; the k-th smallest distinct value is the first element whose
    rank (distinct values below it) is k — compare-and-sum over n x n, so
    meant for the small arrays one pads to a static size;
  * searchsorted bisects (a gather of midpoints per step, log2 n steps), or
    with method='compare_all' counts the elements below each value.
"""
from __future__ import annotations

import numpy as np

from nbad.core.trace import Tracer
from nbad.errors import ConcretizationError, NbadValueError, ShapeError
from nbad.numpy import _elementwise as ew
from nbad.numpy import _reductions as red
from nbad.numpy import _shape as sh
from nbad.numpy._core import as_operand, convert, dtype_of, promote_dtypes, shape_of

__all__ = ["nonzero", "flatnonzero", "argwhere", "unique", "searchsorted"]


def _concrete(x):
    """x's value as a NumPy array, or None under jit."""
    if isinstance(x, Tracer):
        return None if x.value is None else np.asarray(x.value)
    return np.asarray(x)


def _needs_size(fn):
    return ConcretizationError(
        f"{fn} under jit needs the static `size=` argument (the number of results; "
        "shorter results are padded with `fill_value`, longer ones truncated), because the "
        "result's shape would depend on the operand's values.")


def _flat_positions(mask, size):
    """The flat positions of mask's first `size` True elements; n (mask's size) past the last."""
    n = int(np.prod(shape_of(mask), dtype=np.int64))
    flat = sh.reshape(mask, (n,))
    running = red.cumsum(convert(flat, np.int64))            # nonzeros up to and including i
    slots = np.arange(size, dtype=np.int64)[:, None]
    positions = red.sum(ew.less_equal(running[None, :], slots), axis=1)
    return positions


def _unravel(flat, shape):
    """Flat positions -> a tuple of index arrays, one per axis of `shape` (C order)."""
    out = []
    for d in reversed(shape):
        out.append(ew.remainder(flat, d) if d else flat)
        flat = ew.floor_divide(flat, d) if d else flat
    return tuple(reversed(out))


def nonzero(a, *, size=None, fill_value=None):
    """The indices of a's nonzero elements, one array per axis."""
    a = as_operand(a)
    shape = shape_of(a)
    if len(shape) == 0:
        raise NbadValueError("Calling nonzero on 0d arrays is not allowed. "
                             "Use nbad.numpy.atleast_1d(scalar) instead.")
    value = _concrete(a)
    if size is None:
        if value is None:
            raise _needs_size("nonzero")
        return tuple(_as_array(i) for i in np.nonzero(value))
    size = int(size)
    fills = fill_value if isinstance(fill_value, tuple) else (fill_value,) * len(shape)
    if len(fills) != len(shape):
        raise NbadValueError(f"nonzero: fill_value must be a scalar or a tuple of length {len(shape)}")
    mask = ew.not_equal(a, 0)
    positions = _flat_positions(mask, size)
    n = int(np.prod(shape, dtype=np.int64))
    found = ew.less(positions, n)
    indices = _unravel(ew.where(found, positions, 0), shape)
    return tuple(ew.where(found, i, 0 if f is None else f) for i, f in zip(indices, fills))


def _as_array(x):
    from nbad.numpy._creation import asarray

    return asarray(x)


def flatnonzero(a, *, size=None, fill_value=None):
    a = as_operand(a)
    return nonzero(sh.ravel(a), size=size, fill_value=fill_value)[0]


def argwhere(a, *, size=None, fill_value=None):
    """The indices of a's nonzero elements as rows of a (count, ndim) array."""
    a = as_operand(a)
    if len(shape_of(a)) == 0:
        a = sh.reshape(a, (1,))
        rows = nonzero(a, size=size, fill_value=fill_value)[0]
        return sh.reshape(rows, (shape_of(rows)[0], 0))
    return sh.stack(nonzero(a, size=size, fill_value=fill_value), axis=1)


def unique(ar, return_index=False, return_inverse=False, return_counts=False, axis=None,
           *, equal_nan=True, size=None, fill_value=None):
    """The sorted distinct values of ar (flattened; axis=None only)."""
    if axis is not None:
        raise NbadValueError("unique: only axis=None is supported by nbad")
    ar = as_operand(ar)
    value = _concrete(ar)
    if size is None:
        if value is None:
            raise _needs_size("unique")
        results = np.unique(value, return_index=return_index, return_inverse=return_inverse,
                            return_counts=return_counts, equal_nan=equal_nan)
        if isinstance(results, tuple):
            return tuple(_as_array(r) for r in results)
        return _as_array(results)
    if return_index or return_inverse or return_counts:
        raise NbadValueError("unique with size=: return_index/return_inverse/return_counts "
                             "are not supported by nbad")
    size = int(size)
    n = int(np.prod(shape_of(ar), dtype=np.int64))
    x = sh.reshape(ar, (n,))
    if n == 0:
        raise NbadValueError("unique with size=: the operand is empty")
    earlier = np.tril(np.ones((n, n), dtype=bool), -1)       # earlier[i, j]: j < i
    same = ew.equal(x[:, None], x[None, :])
    if equal_nan and dtype_of(x).kind in "fc":
        same = ew.logical_or(same, ew.logical_and(ew.isnan(x)[:, None], ew.isnan(x)[None, :]))
    first = ew.logical_not(red.any(ew.logical_and(same, earlier), axis=1))
    # rank: distinct values below x_i (NaN sorts last, as np.unique does).
    below = ew.less(x[None, :], x[:, None])
    if dtype_of(x).kind in "fc":
        below = ew.logical_or(below, ew.logical_and(ew.isnan(x)[:, None],
                                                    ew.logical_not(ew.isnan(x)[None, :])))
    rank = red.sum(ew.logical_and(below, first[None, :]), axis=1)
    slots = np.arange(size)[:, None]
    hit = ew.logical_and(ew.equal(rank[None, :], slots), first[None, :])     # (size, n)
    present = red.any(hit, axis=1)
    picked = red.sum(ew.where(hit, x[None, :], 0), axis=1)
    if fill_value is None:
        fill = red.min(x) if dtype_of(x).kind not in "fc" else red.nanmin(x)
    else:
        fill = fill_value
    return ew.where(present, convert(picked, dtype_of(x)), fill)


def _sorts_before(x, y):
    """x < y in the order sort uses: NaN after every number."""
    before = ew.less(x, y)
    if dtype_of(x).kind in "fc":
        before = ew.logical_or(before, ew.logical_and(ew.isnan(y), ew.logical_not(ew.isnan(x))))
    return before


def _goes_right(side, pivot, v):
    """Whether v's insertion point lies after `pivot` (left: pivot < v; right: not v < pivot)."""
    return _sorts_before(pivot, v) if side == "left" else ew.logical_not(_sorts_before(v, pivot))


def searchsorted(a, v, side="left", sorter=None, *, method="scan"):
    """Indices at which inserting v keeps the sorted 1-D a sorted.

    method='compare_all' compares every v with every element of a (len(a) x len(v)
    work, one fused pass); the others ('scan', 'scan_unrolled', 'sort') search by
    bisection: ceil(log2(len(a) + 1)) steps, each a gather of the midpoints."""
    from nbad.numpy._indexing import take

    if side not in ("left", "right"):
        raise NbadValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
    if method not in ("scan", "scan_unrolled", "sort", "compare_all"):
        raise NbadValueError(f"searchsorted: method must be 'scan', 'scan_unrolled', 'sort' or "
                             f"'compare_all', got {method!r}")
    a, v = as_operand(a), as_operand(v)
    if len(shape_of(a)) != 1:
        raise ShapeError(f"searchsorted: a must be 1-D, got shape {shape_of(a)}")
    if sorter is not None:
        a = take(a, sorter)
    dtype, _ = promote_dtypes(a, v)
    a, v = convert(a, dtype), convert(v, dtype)
    n = shape_of(a)[0]
    if method == "compare_all" or n == 0:
        v_shape = shape_of(v)
        right = _goes_right(side, sh.reshape(a, (1,) * len(v_shape) + (n,)), sh.expand_dims(v, -1))
        return red.sum(right, axis=-1, dtype=np.int64)
    v_shape = shape_of(v)
    if v_shape == ():
        # bisect a 1-vector: a gather by a traced 0-d index does not compile yet
        return sh.reshape(searchsorted(a, sh.reshape(v, (1,)), side), ())
    # Invariant: the insertion point lies in [lo, hi]. The first midpoint is the same
    # for every value: a static slice, not a gather.
    mid = n // 2
    right = _goes_right(side, sh.reshape(sh._slice_axis(a, 0, mid, mid + 1), ()), v)
    lo = ew.where(right, mid + 1, 0)
    hi = ew.where(right, n, mid)
    for _ in range(int(n).bit_length() - 1):
        mid = ew.floor_divide(ew.add(lo, hi), 2)
        right = _goes_right(side, take(a, ew.minimum(mid, n - 1)), v)
        right = ew.logical_and(right, ew.less(mid, hi))      # an empty interval stays put
        lo = ew.where(right, ew.add(mid, 1), lo)
        hi = ew.where(right, hi, mid)
    return convert(lo, np.int64)
