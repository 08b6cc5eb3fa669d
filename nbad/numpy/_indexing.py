"""NumPy indexing on nbad arrays: x[index], x.at[index].set(...), take.

An index is first *planned* against the operand's shape (`_plan`), then
applied with primitives:

  1. slices and, when no integer array is present, integers: one `rev` for
     negative steps, one `slice`, one `squeeze` for the integers;
  2. integer arrays (with the integers, when both appear: NumPy then treats
     integers as 0-d index arrays): one `gather`, after a `transpose` that
     brings the indexed axes to the front when they are not adjacent in the
     index (NumPy's rule for where the indexed dimensions go); when every
     index array is 0-d (x[i] for a traced scalar i), a `dynamic_slice` and a
     `squeeze` instead, which compile to a view;
  3. None/newaxis: one `expand_dims`.

Boolean masks become integer arrays with `nonzero`, so they need a concrete
mask: under jit the result's shape would depend on data. Static integers out
of range raise IndexError in x[idx], as in NumPy; traced indices are clamped
by gather as in JAX.

`mode=` (take, x.at[idx].get and the updates of numpy/_at.py) picks what
out-of-bounds indices do, as in JAX: clamped, or masked (filled, dropped).
"""
from __future__ import annotations

import operator

import numpy as np

from nbad.core.trace import Tracer, bind
from nbad.errors import (ConcretizationError, InvalidIndexError, NbadIndexError, NbadNotImplementedError,
                         NbadTypeError, NbadValueError, NonStaticSliceError, ShapeError)
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
    fix = "nbad.lax.dynamic_slice(x, start_indices, slice_sizes) for a traced start and a static size"
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
# Out-of-bounds indices, by mode: "error" (x[idx]: a static index out of range
# raises IndexError as in NumPy, traced ones are clamped as in JAX); "clip"
# (negatives wrapped, then clamped into range); "fill" (negatives wrapped; what
# is still out of range is masked: gets fill a value, updates are dropped).
class _Plan:
    """How to apply one index to one shape; see the module docstring."""

    def __init__(self, fn, shape, index, mode="error"):
        self.shape = tuple(shape)
        self.mode = mode
        entries = [self._check_static(fn, e) for e in _entries(fn, self.shape, index)]
        if any(k == "array" for k, _, _ in entries):
            entries = [("array", a, np.asarray(v)) if k == "int" else (k, a, v)
                       for k, a, v in entries]
        self.entries = entries
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
            v = np.asarray(value)
            bad = (v < -n) | (v >= n)
            if not np.any(bad):
                return kind, axis, (value % n if kind == "int" else value)
            if self.mode == "error":
                raise NbadIndexError(f"{fn}: index {v[bad].flat[0]} is out of bounds for axis "
                                     f"{axis} with size {n}")
            if self.mode == "clip":
                clipped = np.clip(np.where(v < 0, v + n, v), 0, max(n - 1, 0))
                return kind, axis, (int(clipped) if kind == "int" else clipped)
            return "array", axis, v  # "fill": masked where out of bounds
        return entry

    # -- application ----------------------------------------------------------
    def apply(self, x, fill_value=None):
        x = self._apply_slices(x)
        x = self._apply_arrays(x)
        x = self._apply_newaxes(x)
        if self.mode == "fill":
            valid = self.result_mask(shape_of(x))
            if valid is not None:
                x = ew.where(valid, x, _fill(dtype_of(x), fill_value))
        return x

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
        if shape == ():
            # Scalar indices (x[i] for a traced i): a window of one element at a
            # runtime offset, which compiles to a view instead of a gather.
            # dynamic_slice clamps exactly as gather does.
            starts = [np.intp(0)] * len(shape_of(x))
            sizes = list(shape_of(x))
            for a, i in zip(axes, indices):
                starts[a], sizes[a] = i, 1
            x = bind(sp.dynamic_slice_p, x, *starts, slice_sizes=tuple(sizes))
            return bind(sp.squeeze_p, x, dimensions=tuple(axes))
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
        """Per gathered element, whether every index array is in bounds ("fill"
        mode); None when all are (static indices in range)."""
        valid = None
        for _, axis, v in self.arrays:
            n = self.shape[axis]
            if isinstance(v, np.ndarray):
                ok = (v >= -n) & (v < n)
                if ok.all():
                    continue
            else:
                ok = ew.logical_and(ew.greater_equal(v, convert(-n, dtype_of(v))),
                                    ew.less(v, convert(n, dtype_of(v))))
            ok = broadcast_to(ok, self.index_shape)
            valid = ok if valid is None else ew.logical_and(valid, ok)
        return valid

    def result_mask(self, result_shape):
        """in_bounds() placed where the index dims are in a result of `result_shape`,
        broadcast to it; None when every index is in bounds."""
        valid = self.in_bounds() if self.mode == "fill" else None
        if valid is None:
            return None
        p, b = self.array_dims_position(), self.index_shape
        valid = reshape(valid, (1,) * p + b + (1,) * (len(result_shape) - p - len(b)))
        return broadcast_to(valid, result_shape)


def _fill(dtype, fill_value):
    """JAX's default fill of out-of-bounds gets: NaN for inexact dtypes, the
    smallest signed (largest unsigned) integer, True."""
    if fill_value is not None:
        return convert(as_operand(fill_value), dtype)
    if dtype.kind in "fc":
        return np.asarray(np.nan, dtype)[()]
    if dtype.kind == "b":
        return np.True_
    info = np.iinfo(dtype)
    return np.asarray(info.min if dtype.kind == "i" else info.max, dtype)[()]


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
_GET_MODES = {None: "error", "clip": "clip", "promise_in_bounds": "clip", "fill": "fill",
              "drop": "fill"}


def plan_mode(fn, mode, modes):
    """The plan mode of a user's `mode=`, or JAX's ValueError for an unknown one."""
    try:
        return modes[mode]
    except (KeyError, TypeError):
        raise NbadValueError(f"{fn}: unknown mode {mode!r}; expected one of "
                             + ", ".join(repr(m) for m in modes if m is not None)) from None


def getitem(x, index, mode=None, fill_value=None):
    """x[index] with NumPy's basic and advanced indexing; `mode` (x.at[index].get)
    as JAX's: "clip"/"promise_in_bounds" clamp, "fill"/"drop" give fill_value
    (default NaN, or the dtype's extreme integer, or True) out of bounds."""
    x = as_operand(x)
    plan = _Plan("getitem", shape_of(x), index, plan_mode("get", mode, _GET_MODES))
    return unchanged(plan.apply(x, fill_value))


def _take_indices(fn, indices, n, mode):
    """take's indices and the getitem mode that applies them: "clip" clamps
    without wrapping negatives and "wrap" takes them modulo n, as in JAX."""
    if mode in (None, "fill"):
        return indices, "fill"
    if mode == "raise":
        raise NbadNotImplementedError(f"{fn}: the 'raise' mode is not supported (as in JAX): "
                                      "indices are traced values; use mode='fill' or 'clip'")
    if mode == "clip":
        return ew.clip(indices, 0, max(n - 1, 0)), "clip"
    if mode == "wrap":
        return ew.remainder(indices, n), "clip"
    if mode == "promise_in_bounds":
        return indices, "clip"
    raise NbadValueError(f"{fn}: unknown mode {mode!r}; expected 'fill', 'clip', 'wrap' or "
                         "'promise_in_bounds'")


def take(a, indices, axis=None, out=None, mode=None, unique_indices=False,
         indices_are_sorted=False, fill_value=None):
    """JAX's take: out-of-bounds indices give fill_value (NaN) unless mode says otherwise."""
    if out is not None:
        raise NbadValueError("take: out= is not supported (nbad arrays are immutable)")
    a = as_operand(a)
    if axis is None:
        a, axis = reshape(a, (-1,)), 0
    axis = normalize_axis("take", axis, len(shape_of(a)))
    indices, mode = _take_indices("take", as_operand(indices), shape_of(a)[axis], mode)
    return getitem(a, (slice(None),) * axis + (indices,), mode, fill_value)


_TAKE_ALONG_MODES = {None: "fill", "fill": "fill", "clip": "clip", "promise_in_bounds": "clip"}


def take_along_axis(arr, indices, axis, mode=None, fill_value=None):
    arr, indices = as_operand(arr), as_operand(indices)
    if axis is None:
        arr, axis = reshape(arr, (-1,)), 0
    s, si = shape_of(arr), shape_of(indices)
    if len(s) != len(si):
        raise ShapeError(f"take_along_axis: indices {si} and arr {s} must have the same "
                         "number of dimensions")
    axis = normalize_axis("take_along_axis", axis, len(s))
    mode = plan_mode("take_along_axis", mode, _TAKE_ALONG_MODES)
    grids = [np.arange(d).reshape([-1 if j == i else 1 for j in range(len(s))])
             for i, d in enumerate(s)]
    index = tuple(indices if i == axis else g for i, g in enumerate(grids))
    return getitem(arr, index, mode, fill_value)
