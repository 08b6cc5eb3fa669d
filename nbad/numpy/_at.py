"""x.at[index]: JAX's functional updates (set, add, subtract, multiply, divide,
power, min, max, apply) and get.

An update reuses the index plan of numpy/_indexing.py on an array of flat
positions, `arange(x.size).reshape(x.shape)[idx]`, and scatters the values into
the flattened operand at those positions: one code path serves every kind of
index. Out-of-bounds updates are dropped (mode None, "drop", "fill",
"promise_in_bounds": masked positions become -1, which the scatter skips) or,
with mode="clip", land on the clamped position, as in JAX. Duplicate indices
accumulate (add, multiply) or the last write wins (set).
"""
from __future__ import annotations

import numpy as np

from nbad.core.trace import Tracer, bind, eager
from nbad.errors import NbadNotImplementedError, NbadTypeError, ShapeError
from nbad.numpy import _elementwise as ew
from nbad.numpy._core import as_operand, convert, dtype_of, shape_of
from nbad.numpy._indexing import _Plan, getitem, plan_mode
from nbad.numpy._shape import broadcast_to, reshape, unchanged
from nbad.rules import shape as sp

MAX_TRACED_APPLY = 16  # .apply with traced indices: func applied this many times at most

_UPDATE_MODES = {None: "fill", "drop": "fill", "fill": "fill", "promise_in_bounds": "fill",
                 "clip": "clip"}


class IndexUpdateHelper:
    """`x.at`: `x.at[idx]` gives the functional updates of JAX (set, add, ...)."""

    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array

    def __getitem__(self, index):
        return _IndexUpdateRef(self.array, index)

    def __repr__(self):
        return f"IndexUpdateHelper({self.array!r})"


class _IndexUpdateRef:
    """x.at[idx]: each method returns an updated copy."""

    __slots__ = ("array", "index")

    def __init__(self, array, index):
        self.array = array
        self.index = index

    def get(self, *, indices_are_sorted=False, unique_indices=False, mode=None, fill_value=None):
        return getitem(self.array, self.index, mode, fill_value)

    def set(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        return _scatter(self.array, self.index, values, "set", mode)

    def add(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        return _scatter(self.array, self.index, values, "add", mode)

    def subtract(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        return _scatter(self.array, self.index, ew.negative(as_operand(values)), "add", mode)

    def multiply(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        return _scatter(self.array, self.index, values, "mul", mode)

    mul = multiply

    def divide(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """x divided by the product of the values landing on each position (JAX's rule)."""
        return ew.true_divide(self.array, self._factors(values, mode))

    def power(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """x to the power of the product of the values landing on each position (JAX's rule)."""
        return ew.power(self.array, self._factors(values, mode))

    def min(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        return _scatter(self.array, self.index, values, "min", mode)

    def max(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        return _scatter(self.array, self.index, values, "max", mode)

    def apply(self, func, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """func (a unary ufunc) applied to the indexed elements, as many times as
        each is indexed (as in JAX)."""
        x = as_operand(self.array)
        shape = shape_of(x)
        plan = _Plan("at[...].apply", shape, self.index, plan_mode("at[...].apply", mode, _UPDATE_MODES))
        if any(isinstance(v, Tracer) for _, _, v in plan.arrays):
            times = int(np.prod(plan.index_shape, dtype=np.int64))  # every index on one element
            if times > MAX_TRACED_APPLY:
                raise NbadNotImplementedError(
                    f"at[...].apply with {times} traced indices: how often each element is "
                    f"indexed is only known at run time, and nbad applies func at most "
                    f"{MAX_TRACED_APPLY} times; use .set(func(x[idx])) if the indices are unique")
            counts = _scatter(np.zeros(shape, np.int64), self.index, 1, "add", mode)
        else:
            with eager():
                counts = np.asarray(_scatter(np.zeros(shape, np.int64), self.index, 1, "add", mode))
            times = int(counts.max(initial=0))
        for k in range(times):
            x = ew.where(ew.greater(counts, k), func(x), x)
        return unchanged(x)

    def _factors(self, values, mode):
        x = as_operand(self.array)
        return _scatter(np.ones(shape_of(x), dtype_of(x)), self.index, values, "mul", mode)


def _scatter(x, index, values, combine, mode=None):
    """x with `values` combined into x[index] (by a scatter into the flattened x)."""
    x = as_operand(x)
    shape, dtype = shape_of(x), dtype_of(x)
    plan = _Plan("at", shape, index, plan_mode(f"at[...].{combine}", mode, _UPDATE_MODES))
    positions = plan.apply(np.arange(int(np.prod(shape, dtype=np.int64))).reshape(shape),
                           fill_value=-1)
    result_shape = shape_of(positions)
    try:
        updates = broadcast_to(convert(as_operand(values), dtype), result_shape)
    except ShapeError:
        raise ShapeError(f"at[...].{combine}: values of shape {shape_of(as_operand(values))} "
                         f"cannot be broadcast to the indexed shape {result_shape}") from None
    if dtype.kind == "b" and combine == "add":
        raise NbadTypeError("at[...].add is not defined for bool arrays; use .max (logical or)")
    flat = reshape(x, (-1,))
    if combine == "add":
        out = bind(sp.scatter_add_p, flat, updates, positions, axes=(0,), oob="drop")
    else:
        out = bind(sp.scatter_p, flat, updates, positions, axes=(0,), oob="drop", combine=combine)
    return reshape(out, shape)
