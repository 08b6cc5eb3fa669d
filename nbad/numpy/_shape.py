"""Shape and data-movement functions of nbad.numpy (NumPy signatures).

Each is a composition of the view primitives (reshape, transpose, squeeze,
expand_dims, slice, rev, broadcast_in_dim) and concatenate/pad. A call that
changes nothing records no equation under a trace; eagerly, results are
always nbad Arrays.
"""
from __future__ import annotations

import math
import operator

import numpy as np

from nbad.core.trace import Tracer, bind, wrap_eager
from nbad.errors import NbadTypeError, NbadValueError, ShapeError
from nbad.numpy import _core
from nbad.numpy._core import as_operand, convert, promote_dtypes, shape_of
from nbad.rules import shape as sp

__all__ = [
    "reshape", "ravel", "transpose", "swapaxes", "moveaxis", "expand_dims", "squeeze",
    "broadcast_to", "broadcast_arrays", "concatenate", "stack", "hstack", "vstack", "dstack",
    "column_stack", "split", "array_split", "tile", "repeat", "flip", "fliplr", "flipud",
    "roll", "atleast_1d", "atleast_2d", "atleast_3d", "pad", "shape", "ndim", "size",
]


# -- helpers shared with _reductions and _indexing ----------------------------
def normalize_axis(fn, axis, ndim) -> int:
    """A possibly negative axis as an index in [0, ndim), or NumPy's error."""
    try:
        axis = operator.index(axis)
    except TypeError:
        raise NbadTypeError(f"{fn}: axis must be an integer, got {axis!r}") from None
    if not -ndim <= axis < ndim:
        raise NbadValueError(f"{fn}: axis {axis} is out of bounds for an array of dimension "
                             f"{ndim}")
    return axis % ndim


def normalize_axes(fn, axis, ndim) -> tuple:
    """axis (None, int or sequence) as sorted distinct non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        axes = tuple(normalize_axis(fn, a, ndim) for a in axis)
        if len(set(axes)) != len(axes):
            raise NbadValueError(f"{fn}: repeated axis in axis={axis}")
        return tuple(sorted(axes))
    return (normalize_axis(fn, axis, ndim),)


def unchanged(x):
    """x itself under a trace; eagerly an nbad Array (what a primitive returns)."""
    return x if isinstance(x, Tracer) else wrap_eager(np.asarray(x))


def _check_order(fn, order):
    if order not in ("C", None):
        raise NbadValueError(f"{fn}: only order='C' is supported (got order={order!r}); "
                             "transpose the array first for Fortran order.")


# -- reshaping ----------------------------------------------------------------
def _resolve_shape(fn, size, shape, old_shape=None) -> tuple:
    given = shape
    try:
        shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
        shape = tuple(operator.index(d) for d in shape)
    except TypeError:
        raise NbadTypeError(f"{fn}: the new shape must be an integer or a sequence of integers, "
                            f"got {given!r:.60}") from None
    unknown = [i for i, d in enumerate(shape) if d == -1]
    if len(unknown) > 1 or any(d < -1 for d in shape):
        raise NbadValueError(f"{fn}: shape {shape} may hold at most one -1 and no other "
                             "negative sizes")
    of = f"an array of size {size}" if old_shape is None else (
        f"an array of shape {old_shape} (size {size})")
    if unknown:
        known = int(np.prod([d for d in shape if d != -1]))
        if known == 0 or size % known:
            raise ShapeError(f"{fn}: cannot reshape {of} into shape {shape}")
        shape = tuple(size // known if d == -1 else d for d in shape)
    elif math.prod(shape) != size:
        raise ShapeError(f"{fn}: cannot reshape {of} into shape {shape} (size {math.prod(shape)})")
    return shape


def reshape(a, shape=None, order="C", *, newshape=None, copy=None):
    _check_order("reshape", order)
    a = as_operand(a)
    shape = _resolve_shape("reshape", _core.aval_of(a).size, newshape if shape is None else shape,
                           shape_of(a))
    if shape_of(a) == shape:
        return unchanged(a)
    return bind(sp.reshape_p, a, new_sizes=shape)


def ravel(a, order="C"):
    _check_order("ravel", order)
    return reshape(a, (-1,))


def transpose(a, axes=None):
    a = as_operand(a)
    ndim = len(shape_of(a))
    if axes is None:
        perm = tuple(reversed(range(ndim)))
    else:
        perm = tuple(normalize_axis("transpose", ax, ndim) for ax in axes)
        if sorted(perm) != list(range(ndim)):
            raise NbadValueError(f"transpose: axes {tuple(axes)} are not a permutation of the "
                                 f"{ndim} axes of an array of shape {shape_of(a)}")
    if perm == tuple(range(ndim)):
        return unchanged(a)
    return bind(sp.transpose_p, a, permutation=perm)


def swapaxes(a, axis1, axis2):
    a = as_operand(a)
    ndim = len(shape_of(a))
    perm = list(range(ndim))
    i, j = normalize_axis("swapaxes", axis1, ndim), normalize_axis("swapaxes", axis2, ndim)
    perm[i], perm[j] = j, i
    return transpose(a, perm)


def moveaxis(a, source, destination):
    a = as_operand(a)
    ndim = len(shape_of(a))
    src = [normalize_axis("moveaxis", s, ndim) for s in np.atleast_1d(source)]
    dst = [normalize_axis("moveaxis", d, ndim) for d in np.atleast_1d(destination)]
    if len(src) != len(dst):
        raise NbadValueError("moveaxis: source and destination must have the same number of "
                             f"elements, got {source} and {destination}")
    order = [n for n in range(ndim) if n not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(a, order)


def expand_dims(a, axis):
    a = as_operand(a)
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    dims = normalize_axes("expand_dims", tuple(axes), len(shape_of(a)) + len(axes))
    return bind(sp.expand_dims_p, a, dimensions=dims)


def squeeze(a, axis=None):
    a = as_operand(a)
    s = shape_of(a)
    if axis is None:
        dims = tuple(i for i, d in enumerate(s) if d == 1)
    else:
        dims = normalize_axes("squeeze", axis, len(s))
        if any(s[d] != 1 for d in dims):
            raise NbadValueError(f"squeeze: cannot select an axis to squeeze out which has size "
                                 f"not equal to one (axis={axis}, shape {s})")
    if not dims:
        return unchanged(a)
    return bind(sp.squeeze_p, a, dimensions=dims)


def broadcast_to(array, shape):
    array = as_operand(array)
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    return unchanged(_core.broadcast_to(array, shape))


def broadcast_arrays(*args):
    args = [as_operand(a) for a in args]
    shape = _core.broadcast_shapes("broadcast_arrays", *[shape_of(a) for a in args])
    return tuple(broadcast_to(a, shape) for a in args)


def atleast_1d(*arys):
    return _atleast([reshape(a, (1,)) if ndim(a) == 0 else unchanged(as_operand(a))
                     for a in arys])


def atleast_2d(*arys):
    out = []
    for a in arys:
        a = as_operand(a)
        out.append(unchanged(a) if ndim(a) >= 2 else reshape(a, (1,) * (2 - ndim(a)) + shape_of(a)))
    return _atleast(out)


def atleast_3d(*arys):
    out = []
    for a in arys:
        a = as_operand(a)
        s = shape_of(a)
        new = {0: (1, 1, 1), 1: (1, *s, 1), 2: (*s, 1)}.get(len(s), s)
        out.append(reshape(a, new))
    return _atleast(out)


def _atleast(results):
    return results[0] if len(results) == 1 else tuple(results)


# -- joining ------------------------------------------------------------------
def _operands(fn, arrays, dtype=None):
    """The operands converted to one dtype (NumPy's result_type, or `dtype`)."""
    if isinstance(arrays, (Tracer, np.ndarray)):
        arrays = [arrays[i] for i in range(shape_of(arrays)[0])]
    arrays = [as_operand(a) for a in arrays]
    if not arrays:
        raise NbadValueError(f"{fn}: need at least one array to join")
    if dtype is None:
        dtype, _ = promote_dtypes(*arrays)
    return [convert(a, dtype) for a in arrays]


def concatenate(arrays, axis=0, out=None, dtype=None):
    if out is not None:
        raise NbadValueError("concatenate: out= is not supported (nbad arrays are immutable)")
    xs = _operands("concatenate", arrays, dtype)
    if axis is None:
        xs, axis = [ravel(x) for x in xs], 0
    if any(shape_of(x) == () for x in xs):
        raise ShapeError("concatenate: zero-dimensional arrays cannot be concatenated; "
                         "use stack or atleast_1d first")
    ndims = {len(shape_of(x)) for x in xs}
    if len(ndims) != 1:
        raise ShapeError("concatenate: all inputs must have the same number of dimensions, got "
                         "shapes " + ", ".join(str(shape_of(x)) for x in xs))
    axis = normalize_axis("concatenate", axis, ndims.pop())
    if len(xs) == 1:
        return unchanged(xs[0])
    return bind(sp.concatenate_p, *xs, dimension=axis)


def stack(arrays, axis=0, out=None, *, dtype=None):
    xs = _operands("stack", arrays, dtype)
    shapes = {shape_of(x) for x in xs}
    if len(shapes) != 1:
        raise ShapeError("stack: all input arrays must have the same shape, got "
                         + ", ".join(str(shape_of(x)) for x in xs))
    axis = normalize_axis("stack", axis, len(shapes.pop()) + 1)
    return concatenate([expand_dims(x, axis) for x in xs], axis=axis, out=out)


def hstack(tup, *, dtype=None):
    xs = atleast_1d(*_operands("hstack", tup, dtype))
    xs = xs if isinstance(xs, tuple) else (xs,)
    return concatenate(xs, axis=0 if ndim(xs[0]) == 1 else 1)


def vstack(tup, *, dtype=None):
    xs = atleast_2d(*_operands("vstack", tup, dtype))
    return concatenate(xs if isinstance(xs, tuple) else (xs,), axis=0)


def dstack(tup):
    xs = atleast_3d(*_operands("dstack", tup))
    return concatenate(xs if isinstance(xs, tuple) else (xs,), axis=2)


def column_stack(tup):
    xs = _operands("column_stack", tup)
    xs = [reshape(x, (-1, 1)) if ndim(x) < 2 else x for x in xs]
    return concatenate(xs, axis=1)


# -- splitting ----------------------------------------------------------------
def _slice_axis(a, axis, start, stop):
    s = shape_of(a)
    if (start, stop) == (0, s[axis]):
        return unchanged(a)
    starts = tuple(start if i == axis else 0 for i in range(len(s)))
    limits = tuple(stop if i == axis else d for i, d in enumerate(s))
    return bind(sp.slice_p, a, start_indices=starts, limit_indices=limits,
                strides=(1,) * len(s))


def array_split(ary, indices_or_sections, axis=0):
    return _split("array_split", ary, indices_or_sections, axis, even=False)


def split(ary, indices_or_sections, axis=0):
    return _split("split", ary, indices_or_sections, axis, even=True)


def _split(fn, ary, indices_or_sections, axis, even):
    ary = as_operand(ary)
    axis = normalize_axis(fn, axis, len(shape_of(ary)))
    n = shape_of(ary)[axis]
    if isinstance(indices_or_sections, (int, np.integer)):
        sections = int(indices_or_sections)
        if sections <= 0 or (even and n % sections):
            raise NbadValueError(f"{fn}: array of size {n} along axis {axis} cannot be split "
                                 f"into {sections} equal sections; use array_split")
        q, r = divmod(n, sections)
        bounds = np.cumsum([0] + [q + 1] * r + [q] * (sections - r))
    else:
        cuts = [min(max(operator.index(i) % n if i < 0 else operator.index(i), 0), n)
                for i in indices_or_sections]
        bounds = [0, *cuts, n]
    return [_slice_axis(ary, axis, int(lo), max(int(lo), int(hi)))
            for lo, hi in zip(bounds[:-1], bounds[1:])]


# -- repeating ----------------------------------------------------------------
def tile(A, reps):
    A = as_operand(A)
    reps = (reps,) if isinstance(reps, (int, np.integer)) else tuple(reps)
    s = shape_of(A)
    nd = max(len(s), len(reps))
    s = (1,) * (nd - len(s)) + s
    reps = (1,) * (nd - len(reps)) + tuple(operator.index(r) for r in reps)
    if any(r < 0 for r in reps):
        raise NbadValueError(f"tile: reps must be non-negative, got {reps[nd - len(reps):]}")
    # Interleave a broadcast axis before each original one, then merge the pairs.
    x = reshape(A, tuple(d for n in s for d in (1, n)))
    x = broadcast_to(x, tuple(d for r, n in zip(reps, s) for d in (r, n)))
    return reshape(x, tuple(r * n for r, n in zip(reps, s)))


def repeat(a, repeats, axis=None, *, total_repeat_length=None):
    a = as_operand(a)
    if axis is None:
        a, axis = ravel(a), 0
    axis = normalize_axis("repeat", axis, len(shape_of(a)))
    if isinstance(repeats, Tracer):
        repeats = repeats._concrete("repeat(repeats=...)")
    counts = np.asarray(repeats)
    if counts.dtype.kind not in "iub":
        raise NbadTypeError(f"repeat: repeats must be integers, got {counts.dtype.name} {repeats!r:.60}")
    if np.any(counts < 0):
        raise NbadValueError(f"repeat: repeats must be non-negative, got {repeats!r:.60}")
    if counts.ndim == 0:
        s = shape_of(a)
        x = expand_dims(a, axis + 1)
        x = broadcast_to(x, s[:axis + 1] + (int(counts),) + s[axis + 1:])
        return reshape(x, s[:axis] + (s[axis] * int(counts),) + s[axis + 1:])
    from nbad.numpy._indexing import take

    return take(a, np.repeat(np.arange(shape_of(a)[axis]), counts), axis=axis)


# -- reordering ---------------------------------------------------------------
def flip(m, axis=None):
    m = as_operand(m)
    dims = normalize_axes("flip", axis, len(shape_of(m)))
    if not dims:
        return unchanged(m)
    return bind(sp.rev_p, m, dimensions=dims)


def fliplr(m):
    return flip(m, 1)


def flipud(m):
    return flip(m, 0)


def roll(a, shift, axis=None):
    a = as_operand(a)
    if axis is None:
        return reshape(roll(ravel(a), shift, 0), shape_of(a))
    shifts = np.broadcast_to(np.asarray(shift), np.shape(axis))
    for sh, ax in zip(np.atleast_1d(shifts), np.atleast_1d(axis)):
        ax = normalize_axis("roll", ax, len(shape_of(a)))
        n = shape_of(a)[ax]
        k = int(sh) % n if n else 0
        if k:
            a = concatenate([_slice_axis(a, ax, n - k, n), _slice_axis(a, ax, 0, n - k)], ax)
    return unchanged(a)


# -- padding ------------------------------------------------------------------
def _pad_widths(fn, pad_width, ndim):
    widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (ndim, 2)) \
        if np.ndim(pad_width) <= 2 else None
    if widths is None or (widths < 0).any():
        raise NbadValueError(f"{fn}: pad_width {pad_width!r} must broadcast to non-negative "
                             f"(before, after) pairs for each of the {ndim} axes")
    return [(int(lo), int(hi)) for lo, hi in widths]


def pad(array, pad_width, mode="constant", **kwargs):
    array = as_operand(array)
    widths = _pad_widths("pad", pad_width, len(shape_of(array)))
    if mode == "constant":
        value = kwargs.get("constant_values", 0)
        if np.ndim(value) != 0:
            raise NbadValueError("pad: only a scalar constant_values is supported")
        value = convert(as_operand(value), _core.dtype_of(array))
        return bind(sp.pad_p, array, value, padding_config=tuple((lo, hi, 0) for lo, hi in widths))
    if mode in ("edge", "wrap"):
        for ax, (lo, hi) in enumerate(widths):
            array = _pad_axis_from_slices(array, ax, lo, hi, mode)
        return unchanged(array)
    if mode in ("reflect", "symmetric"):
        if kwargs.get("reflect_type", "even") != "even":
            raise NbadValueError("pad: only reflect_type='even' is supported by nbad")
        for ax, (lo, hi) in enumerate(widths):
            array = _pad_axis_by_index(array, ax, lo, hi, mode)
        return unchanged(array)
    raise NbadValueError(f"pad: mode={mode!r} is not supported; use 'constant', 'edge', 'wrap', "
                         "'reflect' or 'symmetric'")


def _pad_axis_by_index(x, axis, lo, hi, mode):
    """Padding that repeats elements of x: a gather of the positions NumPy's pad
    gives an arange (repeated reflections included)."""
    from nbad.numpy._indexing import take

    n = shape_of(x)[axis]
    if not lo and not hi:
        return x
    if n == 0:
        raise NbadValueError(f"pad: cannot pad an empty axis {axis} with mode={mode!r}")
    return take(x, np.pad(np.arange(n), (lo, hi), mode=mode), axis=axis)


def _pad_axis_from_slices(x, axis, lo, hi, mode):
    n = shape_of(x)[axis]
    if not lo and not hi:
        return x
    if n == 0:
        raise NbadValueError(f"pad: cannot pad an empty axis {axis} with mode={mode!r}")
    if mode == "edge":
        s = list(shape_of(x))
        first, last = _slice_axis(x, axis, 0, 1), _slice_axis(x, axis, n - 1, n)
        parts = [broadcast_to(first, s[:axis] + [lo] + s[axis + 1:]), x,
                 broadcast_to(last, s[:axis] + [hi] + s[axis + 1:])]
    else:
        reps = -(-(lo + hi) // n) + 1
        x_tiled = concatenate([x] * (reps + 1), axis)
        start = (n - lo % n) % n
        return _slice_axis(x_tiled, axis, start, start + n + lo + hi)
    return concatenate(parts, axis)


# -- queries ------------------------------------------------------------------
def shape(a):
    return shape_of(as_operand(a))


def ndim(a):
    return len(shape_of(as_operand(a)))


def size(a, axis=None):
    s = shape_of(as_operand(a))
    if axis is None:
        return int(np.prod(s, dtype=np.int64))
    return s[normalize_axis("size", axis, len(s))]
