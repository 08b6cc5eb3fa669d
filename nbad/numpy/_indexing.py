"""NumPy indexing on nbad arrays: x[index], x.at[index].set(...), take.

An index is first *planned* against the operand's shape (`_plan`), then
applied with primitives:

  1. slices and, when no integer array is present, integers: one `rev` for
     negative steps, one `slice`, one `squeeze` for the integers;
  2. integer arrays (with the integers, when both appear: NumPy then treats
     integers as 0-d index arrays): one `gather`, after a `transpose` that
     brings the indexed axes to the front when they are not adjacent in the
     index (NumPy's rule for where the indexed dimensions go);
  3. None/newaxis: one `expand_dims`.

Boolean masks become integer arrays with `nonzero`, so they need a concrete
mask: under jit the result's shape would depend on data. Static integers out
of range raise IndexError, as in NumPy; traced indices are clamped by gather
as in JAX.

Updates (`x.at[idx].add(v)`) reuse the plan on an array of flat positions,
`arange(x.size).reshape(x.shape)[idx]`, and scatter `v` into the flattened
operand at those positions: one code path serves every kind of index, and
out-of-bounds updates are dropped as JAX does.
"""
from __future__ import annotations

import operator

import numpy as np

from nbad.core.trace import Tracer, bind
from nbad.errors import (ConcretizationError, InvalidIndexError, NbadIndexError, NbadTypeError,
                         NbadValueError, NonStaticSliceError, ShapeError)
from nbad.numpy import _elementwise as ew
from nbad.numpy._core import as_operand, broadcast_shapes, convert, dtype_of, shape_of
from nbad.numpy._shape import broadcast_to, normalize_axis, reshape, unchanged
from nbad.rules import shape as sp

__all__ = ["take", "take_along_axis"]

_INVALID = ("only integers, slices (`:`), ellipsis (`...`), nbad.numpy.newaxis (`None`) "
            "and integer or boolean arrays are valid indices")


# -- parsing an index into entries --------------------------------------------
# An entry is (kind, axis, value): ("none", None, None), ("slice", axis, slice),
# ("int", axis, int) or ("array", axis, integer index array).
def _as_tuple(index):
    if isinstance(index, tuple):
        return index
    return (index,)


def _concrete_mask(m):
    if isinstance(m, Tracer):
        if m.value is None:
            raise ConcretizationError(
                f"Boolean mask indexing x[mask] needs a concrete mask, but the mask is a traced "
                f"{m.aval.str_short()} (under jit): the result's shape would depend on the mask's "
                "values. Use nbad.numpy.where(mask, x, 0) (or a masked reduction such as "
                "sum(x, where=mask)) instead, or make the mask a static argument.")
        return np.asarray(m.value)
    return m


def _classify(item):
    """('none'|'ellipsis'|'slice'|'int'|'array'|'mask', value)."""
    if item is None:
        return "none", None
    if item is Ellipsis:
        return "ellipsis", None
    if isinstance(item, slice):
        for bound in (item.start, item.stop, item.step):
            if isinstance(bound, Tracer) and bound.value is None:
                raise NonStaticSliceError(_non_static_slice_message(item, bound))
        return "slice", item
    if isinstance(item, (bool, np.bool_)):
        if not item:
            raise NbadIndexError("indexing with a scalar False is not supported by nbad")
        return "none", None
    if isinstance(item, (int, np.integer)):
        return "int", int(item)
    if isinstance(item, (list, tuple)):
        item = np.asarray(item) if len(item) else np.zeros(0, np.intp)
    if isinstance(item, (Tracer, np.ndarray)):
        kind = dtype_of(item).kind
        if kind == "b":
            return "mask", _concrete_mask(item)
        if kind in "iu":
            return "array", item
    raise InvalidIndexError(f"{_INVALID}; got {item!r:.60}")


def _non_static_slice_message(item, bound) -> str:
    import nbad.lax

    fix = ("nbad.lax.dynamic_slice(x, start_indices, slice_sizes) for a traced start and a "
           "static size" if hasattr(nbad.lax, "dynamic_slice") else
           "a static start (static_argnums), or jnp.take with traced indices")
    shown = ", ".join(f"<traced {b.aval.str_short()}>" if isinstance(b, Tracer) else repr(b)
                      for b in (item.start, item.stop, item.step))
    return (f"Slice entries must be static integers, got slice({shown}): the result's shape "
            f"would depend on a traced value. Use {fix}.")


def _entries(fn, shape, index):
    items = [_classify(i) for i in _as_tuple(index)]
    if sum(k == "ellipsis" for k, _ in items) > 1:
        raise NbadIndexError(f"{fn}: an index can only have a single ellipsis ('...')")
    used = sum(np.ndim(v) if k == "mask" else k in ("slice", "int", "array") for k, v in items)
    if used > len(shape):
        raise NbadIndexError(f"{fn}: too many indices for array: array is {len(shape)}-dimensional, "
                         f"but {used} were indexed")
    if not any(k == "ellipsis" for k, _ in items):
        items.append(("ellipsis", None))
    entries, axis = [], 0
    for kind, value in items:
        if kind == "ellipsis":
            for _ in range(len(shape) - used):
                entries.append(("slice", axis, slice(None)))
                axis += 1
        elif kind == "none":
            entries.append(("none", None, None))
        elif kind == "mask":
            entries += _mask_entries(fn, shape, axis, value)
            axis += np.ndim(value)
        else:
            entries.append((kind, axis, value))
            axis += 1
    return entries


def _mask_entries(fn, shape, axis, mask):
    mask = np.asarray(mask)
    if mask.shape != shape[axis:axis + mask.ndim]:
        raise NbadIndexError(f"{fn}: boolean index of shape {mask.shape} does not match the indexed "
                         f"array's dimensions {shape[axis:axis + mask.ndim]} (array shape "
                         f"{shape}, starting at axis {axis})")
    return [("array", axis + i, idx) for i, idx in enumerate(np.nonzero(mask))]


# -- the plan -----------------------------------------------------------------
class _Plan:
    """How to apply one index to one shape; see the module docstring."""

    def __init__(self, fn, shape, index, drop_out_of_bounds=False):
        self.shape = tuple(shape)
        self.drop = drop_out_of_bounds
        self.empty = False  # a static index out of bounds in drop mode: selects nothing
        entries = _entries(fn, self.shape, index)
        if any(k == "array" for k, _, _ in entries):
            entries = [("array", a, np.asarray(v)) if k == "int" else (k, a, v)
                       for k, a, v in entries]
        self.entries = [self._check_static(fn, e) for e in entries]
        self.arrays = [e for e in self.entries if e[0] == "array"]
        positions = [i for i, e in enumerate(self.entries) if e[0] == "array"]
        self.adjacent = bool(positions) and positions == list(range(positions[0],
                                                                    positions[-1] + 1))
        try:
            self.index_shape = broadcast_shapes(fn, *[shape_of(v) for _, _, v in self.arrays])
        except ShapeError as e:
            raise NbadIndexError(f"shape mismatch: indexing arrays could not be broadcast "
                             f"together ({e})") from None

    def _check_static(self, fn, entry):
        kind, axis, value = entry
        if kind == "int" or (kind == "array" and isinstance(value, np.ndarray)):
            n = self.shape[axis]
            bad = (np.asarray(value) < -n) | (np.asarray(value) >= n)
            if np.any(bad) and not self.drop:
                first = np.asarray(value)[bad].flat[0]
                raise NbadIndexError(f"{fn}: index {first} is out of bounds for axis {axis} with "
                                 f"size {n}")
            if kind == "int":
                self.empty |= bool(bad)
                return kind, axis, value % n if n else value
        return entry

    # -- application ----------------------------------------------------------
    def apply(self, x):
        x = self._apply_slices(x)
        x = self._apply_arrays(x)
        return self._apply_newaxes(x)

    def _apply_slices(self, x):
        starts, limits, strides, rev, ints = [], [], [], [], []
        for kind, axis, value in self.entries:
            n = self.shape[axis] if axis is not None else None
            if kind == "slice":
                lo, hi, st = _forward_slice(value, n)
                if st < 0:
                    rev.append(axis)
                    st = -st
                starts.append(lo), limits.append(hi), strides.append(st)
            elif kind == "int":
                ints.append(axis)
                starts.append(value), limits.append(value + 1), strides.append(1)
            elif kind == "array":
                starts.append(0), limits.append(n), strides.append(1)
        if rev:
            x = bind(sp.rev_p, x, dimensions=tuple(rev))
        if (starts, limits, strides) != ([0] * len(self.shape), list(self.shape),
                                         [1] * len(self.shape)):
            x = bind(sp.slice_p, x, start_indices=tuple(starts), limit_indices=tuple(limits),
                     strides=tuple(strides))
        if ints:
            x = bind(sp.squeeze_p, x, dimensions=tuple(ints))
        return x

    def _apply_arrays(self, x):
        if not self.arrays:
            return x
        shape = self.index_shape
        indices = [broadcast_to(self._wrapped(v, self.shape[a]), shape) for _, a, v in self.arrays]
        axes = [a for _, a, _ in self.arrays]  # no int was squeezed: axes are unchanged
        if not self.adjacent:
            rest = [i for i in range(len(self.shape)) if i not in axes]
            x = bind(sp.transpose_p, x, permutation=tuple(axes + rest))
            axes = list(range(len(axes)))
        return bind(sp.gather_p, x, *indices, axes=tuple(axes))

    def _wrapped(self, idx, n):
        """Negative indices count from the end (NumPy), out of range ones stay out."""
        if isinstance(idx, np.ndarray):
            return np.where(idx < 0, idx + n, idx).astype(np.intp, copy=False)
        return ew.where(ew.less(idx, 0), ew.add(idx, convert(n, dtype_of(idx))), idx)

    def _apply_newaxes(self, x):
        dims, out = [], 0
        for i, (kind, _, _) in enumerate(self.entries):
            if kind == "none":
                dims.append(out)
                out += 1
            elif kind == "slice":
                out += 1
            elif kind == "array" and self._first_array(i):
                out += len(self.index_shape)
        return bind(sp.expand_dims_p, x, dimensions=tuple(dims)) if dims else x

    def _first_array(self, i):
        """Where the gathered dims count: at the first array entry, or first of all."""
        first = next(j for j, e in enumerate(self.entries) if e[0] == "array")
        return i == first

    def array_dims_position(self):
        """The result axis where the index arrays' broadcast dims begin."""
        if not self.adjacent:
            return 0
        first = next(j for j, e in enumerate(self.entries) if e[0] == "array")
        return sum(k in ("none", "slice") for k, _, _ in self.entries[:first])

    def in_bounds(self):
        """Per gathered element, whether every index array is in bounds (drop mode)."""
        valid = None
        for _, axis, v in self.arrays:
            n = self.shape[axis]
            if isinstance(v, np.ndarray):
                ok = (v >= -n) & (v < n)
            else:
                ok = ew.logical_and(ew.greater_equal(v, convert(-n, dtype_of(v))),
                                    ew.less(v, convert(n, dtype_of(v))))
            ok = broadcast_to(ok, self.index_shape)
            valid = ok if valid is None else ew.logical_and(valid, ok)
        return valid


def _forward_slice(s, n):
    """(start, limit, stride) over the axis, reversed first when the step is negative."""
    start, stop, step = (operator.index(v) if v is not None else None
                         for v in (s.start, s.stop, s.step))
    start, stop, step = slice(start, stop, step).indices(n)
    count = len(range(start, stop, step))
    if step > 0:
        return start, start + _builtin_max(count - 1, 0) * step + (count > 0), step
    first = n - 1 - start  # position of `start` once the axis is reversed
    return (first, first + (count - 1) * -step + 1, step) if count else (0, 0, step)


_builtin_max = max


# -- public entry points ------------------------------------------------------
def getitem(x, index):
    """x[index] with NumPy's basic and advanced indexing."""
    x = as_operand(x)
    return unchanged(_Plan("getitem", shape_of(x), index).apply(x))


def take(a, indices, axis=None, out=None, mode=None, unique_indices=False,
         indices_are_sorted=False, fill_value=None):
    if out is not None:
        raise NbadValueError("take: out= is not supported (nbad arrays are immutable)")
    a = as_operand(a)
    if axis is None:
        a, axis = reshape(a, (-1,)), 0
    axis = normalize_axis("take", axis, len(shape_of(a)))
    return getitem(a, (slice(None),) * axis + (as_operand(indices),))


def take_along_axis(arr, indices, axis, mode=None, fill_value=None):
    arr, indices = as_operand(arr), as_operand(indices)
    if axis is None:
        arr, axis = reshape(arr, (-1,)), 0
    s, si = shape_of(arr), shape_of(indices)
    if len(s) != len(si):
        raise ShapeError(f"take_along_axis: indices {si} and arr {s} must have the same "
                         "number of dimensions")
    axis = normalize_axis("take_along_axis", axis, len(s))
    grids = [np.arange(d).reshape([-1 if j == i else 1 for j in range(len(s))])
             for i, d in enumerate(s)]
    index = tuple(indices if i == axis else g for i, g in enumerate(grids))
    return getitem(arr, index)


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
    """x.at[idx]: each method returns an updated copy; out-of-bounds updates are dropped."""

    __slots__ = ("array", "index")

    def __init__(self, array, index):
        self.array = array
        self.index = index

    def get(self, *, indices_are_sorted=False, unique_indices=False, mode=None, fill_value=None):
        return getitem(self.array, self.index)

    def set(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        return _scatter(self.array, self.index, values, "set")

    def add(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        return _scatter(self.array, self.index, values, "add")

    def multiply(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        return _scatter(self.array, self.index, values, "mul")

    mul = multiply

    def min(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        return _scatter(self.array, self.index, values, "min")

    def max(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        return _scatter(self.array, self.index, values, "max")

    def divide(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        return self.set(ew.divide(self.get(), values))

    def power(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        return self.set(ew.power(self.get(), values))


def _scatter(x, index, values, combine):
    """x with `values` combined into x[index] (by a scatter into the flattened x)."""
    x = as_operand(x)
    shape, dtype = shape_of(x), dtype_of(x)
    plan = _Plan("at", shape, index, drop_out_of_bounds=True)
    if plan.empty:
        return unchanged(x)
    positions = plan.apply(np.arange(int(np.prod(shape, dtype=np.int64))).reshape(shape))
    result_shape = shape_of(positions)
    valid = plan.in_bounds()
    if valid is not None:
        p = plan.array_dims_position()
        b = plan.index_shape
        valid = reshape(valid, (1,) * p + b + (1,) * (len(result_shape) - p - len(b)))
        positions = ew.where(broadcast_to(valid, result_shape), positions, -1)
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
