"""Reductions over axes (sum, prod, max, min, and, or), arg-reductions and
cumulative scans.

Reductions have kind "reduce": the fuser puts the elementwise chain that
produces the operand into the same loop nest. Each carries a `reducer`
telling the backend its identity and how to combine an accumulator with an
element (NaN-propagating for max/min, as NumPy's np.max).
"""
from __future__ import annotations

import numpy as np

from nbad.core.avals import ShapedArray
from nbad.core.primitive import Primitive
from nbad.errors import NbadTypeError, NbadValueError
from nbad.rules._family import DTYPE_KINDS


class Reducer:
    """identity(dtype) -> scalar; combine(acc, x) -> expression; `name` for kernels."""

    def __init__(self, name, identity, combine: str):
        self.name = name
        self.identity = identity
        self.combine = combine  # format string over {acc} and {x}


def _max_identity(dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return -np.inf
    if dtype.kind == "b":
        return False
    return np.iinfo(dtype).min


def _min_identity(dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return np.inf
    if dtype.kind == "b":
        return True
    return np.iinfo(dtype).max


def _reduce_abstract_eval(name, kinds):
    def abstract_eval(x, *, axes):
        axes = tuple(axes)
        if list(axes) != sorted(set(axes)) or any(not 0 <= a < x.ndim for a in axes):
            raise NbadValueError(f"{name}: axes {axes} invalid for an operand of shape {x.shape}")
        if x.dtype.kind not in DTYPE_KINDS[kinds]:
            raise NbadTypeError(f"{name} does not accept dtype {x.dtype.name}")
        shape = tuple(d for i, d in enumerate(x.shape) if i not in axes)
        return ShapedArray(shape, x.dtype, x.weak_type)

    return abstract_eval


def _reduction(name, np_fn, reducer, kinds="any"):
    prim = Primitive(name, kind="reduce")
    prim.abstract_eval = _reduce_abstract_eval(name, kinds)

    def impl(x, *, axes):
        x = np.asarray(x)
        return np.asarray(np_fn(x, axis=tuple(axes)), dtype=x.dtype)

    prim.impl = impl
    prim.reducer = reducer
    return prim


# NaN propagation: `acc` stays NaN once it is (x > NaN is false), and a NaN x
# replaces acc (x != x), matching np.max / np.min.
reduce_sum_p = _reduction("reduce_sum", np.sum, Reducer("sum", lambda d: 0, "{acc} + {x}"), "number")
reduce_prod_p = _reduction("reduce_prod", np.prod, Reducer("prod", lambda d: 1, "{acc} * {x}"), "number")
reduce_max_p = _reduction("reduce_max", np.max, Reducer(
    "max", _max_identity, "({x} if ({x} > {acc} or {x} != {x}) else {acc})"), "real_or_bool")
reduce_min_p = _reduction("reduce_min", np.min, Reducer(
    "min", _min_identity, "({x} if ({x} < {acc} or {x} != {x}) else {acc})"), "real_or_bool")
reduce_and_p = _reduction("reduce_and", np.all, Reducer("and", lambda d: True, "({acc} and {x})"), "bool")
reduce_or_p = _reduction("reduce_or", np.any, Reducer("or", lambda d: False, "({acc} or {x})"), "bool")


# -- argmax, argmin -----------------------------------------------------------
# axes=(axis,) (one axis, as lax.argmax); the first extreme wins and, as in
# NumPy, a NaN counts as the extreme: the index of the first NaN is returned.
def _arg_reduction(name, np_fn):
    prim = Primitive(name)

    def abstract_eval(x, *, axes, index_dtype):
        if len(axes) != 1 or not 0 <= axes[0] < x.ndim:
            raise NbadValueError(f"{name}: axes={axes} must name one axis of {x.str_short()}")
        if x.shape[axes[0]] == 0:
            raise NbadValueError(f"{name}: attempt to get {name} of an empty axis "
                                 f"(axis {axes[0]} of {x.str_short()})")
        if x.dtype.kind not in DTYPE_KINDS["real_or_bool"]:
            raise NbadTypeError(f"{name} does not accept dtype {x.dtype.name}")
        if np.dtype(index_dtype).kind not in "iu":
            raise NbadTypeError(f"{name}: index_dtype must be an integer dtype, got {index_dtype}")
        shape = tuple(d for i, d in enumerate(x.shape) if i != axes[0])
        return ShapedArray(shape, index_dtype)

    def impl(x, *, axes, index_dtype):
        return np.asarray(np_fn(np.asarray(x), axis=axes[0]), dtype=index_dtype)

    prim.abstract_eval = abstract_eval
    prim.impl = impl
    return prim


argmax_p = _arg_reduction("argmax", np.argmax)
argmin_p = _arg_reduction("argmin", np.argmin)


# -- cumulative scans ---------------------------------------------------------
# cumsum(x, axis, reverse): result[i] combines x[0..i] along `axis`, or
# x[i..n-1] when reverse. Same dtype as the operand (nbad.numpy converts
# first, so cumsum of int32 is computed in int64 as NumPy does). cummax and
# cummin propagate NaN like np.maximum (and lax.cummax).
def _cumulative(name, ufunc, kinds):
    prim = Primitive(name)

    def abstract_eval(x, *, axis, reverse):
        if not 0 <= axis < x.ndim:
            raise NbadValueError(f"{name}: axis {axis} out of range for {x.str_short()}")
        if x.dtype.kind not in DTYPE_KINDS[kinds]:
            raise NbadTypeError(f"{name} does not accept dtype {x.dtype.name}")
        return x

    def impl(x, *, axis, reverse):
        x = np.asarray(x)
        if not reverse:
            return ufunc.accumulate(x, axis=axis, dtype=x.dtype)
        flip = (slice(None),) * axis + (slice(None, None, -1),)
        return ufunc.accumulate(x[flip], axis=axis, dtype=x.dtype)[flip]

    prim.abstract_eval = abstract_eval
    prim.impl = impl
    return prim


cumsum_p = _cumulative("cumsum", np.add, "number")
cumprod_p = _cumulative("cumprod", np.multiply, "number")
cummax_p = _cumulative("cummax", np.maximum, "real_or_bool")
cummin_p = _cumulative("cummin", np.minimum, "real_or_bool")
