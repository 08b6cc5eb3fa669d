"""Sorting: sort and argsort with JAX's signatures (stable by default,
`descending=`), on the sort primitive (rules/sort.py), so both are
differentiable (sort) and batch under vmap."""
from __future__ import annotations

import numpy as np

from nbad.core.trace import bind
from nbad.errors import NbadNotImplementedError, NbadTypeError
from nbad.numpy._core import as_operand, shape_of
from nbad.numpy._shape import flip, normalize_axis, ravel
from nbad.rules.shape import iota_p
from nbad.rules.sort import sort_p

__all__ = ["sort", "argsort"]


def _check(fn, kind, order):
    if order is not None:
        raise NbadNotImplementedError(f"{fn}: order= (structured arrays) is not supported")
    if kind is not None and kind not in ("stable", "quicksort", "mergesort", "heapsort"):
        raise NbadTypeError(f"{fn}: unknown kind {kind!r}")


def _prepare(fn, a, axis):
    a = as_operand(a)
    if axis is None:
        return ravel(a), 0
    if not shape_of(a):
        raise NbadTypeError(f"{fn}: a 0-d array has no axis {axis}; use axis=None")
    return a, normalize_axis(fn, axis, len(shape_of(a)))


def sort(a, axis=-1, *, kind=None, order=None, stable=True, descending=False):
    """a sorted along axis (None: flattened); NaNs last, as JAX's sort."""
    _check("sort", kind, order)
    a, axis = _prepare("sort", a, axis)
    out, = bind(sort_p, a, dimension=axis, is_stable=bool(stable), num_keys=1)
    return flip(out, axis) if descending else out


def argsort(a, axis=-1, *, kind=None, order=None, stable=True, descending=False):
    """The int64 indices that sort a along axis (descending: ties in input order, as JAX)."""
    _check("argsort", kind, order)
    a, axis = _prepare("argsort", a, axis)
    iota = bind(iota_p, dtype=np.dtype(np.int64), shape=tuple(shape_of(a)), dimension=axis)
    if descending and stable:
        # reversed first, so that equal elements keep their order once reversed back
        a, iota = flip(a, axis), flip(iota, axis)
    _, indices = bind(sort_p, a, iota, dimension=axis, is_stable=bool(stable), num_keys=1)
    return flip(indices, axis) if descending else indices
