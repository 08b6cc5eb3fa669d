"""Shape primitives: views (reshape, transpose, broadcast_in_dim, squeeze,
expand_dims, slice, rev) and data movement (concatenate, pad, gather,
dynamic_slice, iota, full).

View primitives have kind "view": the CPU backend applies their impl to a
materialised buffer, which NumPy does without copying; broadcast_in_dim is
fused into the consuming loop as index arithmetic (codegen/fusion.py).
"""
from __future__ import annotations

import numpy as np

from nbad.core.avals import ShapedArray, check_dtype
from nbad.core.primitive import Primitive
from nbad.errors import NbadTypeError, NbadValueError, ShapeError

# -- broadcast_in_dim ---------------------------------------------------------
# Operand dimension i becomes result dimension broadcast_dimensions[i]; operand
# dimensions are either 1 or equal to the result's (as in lax.broadcast_in_dim).
broadcast_in_dim_p = Primitive("broadcast_in_dim", kind="view")


def _broadcast_in_dim_abstract_eval(x, *, shape, broadcast_dimensions):
    if len(broadcast_dimensions) != x.ndim:
        raise ShapeError(f"broadcast_in_dim: operand {x.str_short()} needs {x.ndim} "
                         f"broadcast_dimensions, got {broadcast_dimensions}")
    for i, d in enumerate(broadcast_dimensions):
        if not 0 <= d < len(shape) or x.shape[i] not in (1, shape[d]):
            raise ShapeError(f"broadcast_in_dim: cannot broadcast operand {x.str_short()} to "
                             f"shape {shape} with broadcast_dimensions={broadcast_dimensions}")
    if list(broadcast_dimensions) != sorted(broadcast_dimensions):
        raise ShapeError("broadcast_in_dim: broadcast_dimensions must be increasing")
    return ShapedArray(shape, x.dtype, x.weak_type)


def expanded_shape(x_shape, shape, broadcast_dimensions):
    """The operand's shape with 1s inserted so it has the result's rank."""
    expanded = [1] * len(shape)
    for i, d in enumerate(broadcast_dimensions):
        expanded[d] = x_shape[i]
    return tuple(expanded)


def _broadcast_in_dim_impl(x, *, shape, broadcast_dimensions):
    x = np.asarray(x)
    return np.broadcast_to(x.reshape(expanded_shape(x.shape, shape, broadcast_dimensions)), shape)


broadcast_in_dim_p.abstract_eval = _broadcast_in_dim_abstract_eval
broadcast_in_dim_p.impl = _broadcast_in_dim_impl

# -- reshape ------------------------------------------------------------------
reshape_p = Primitive("reshape", kind="view")


def _reshape_abstract_eval(x, *, new_sizes):
    size = 1
    for d in new_sizes:
        size *= d
    if size != x.size or any(d < 0 for d in new_sizes):
        raise ShapeError(f"cannot reshape array of shape {x.shape} (size {x.size}) "
                         f"into shape {tuple(new_sizes)} (size {size})")
    return ShapedArray(new_sizes, x.dtype, x.weak_type)


reshape_p.abstract_eval = _reshape_abstract_eval
reshape_p.impl = lambda x, *, new_sizes: np.reshape(np.asarray(x), new_sizes)

# -- transpose ----------------------------------------------------------------
transpose_p = Primitive("transpose", kind="view")


def _transpose_abstract_eval(x, *, permutation):
    if sorted(permutation) != list(range(x.ndim)):
        raise NbadValueError(f"transpose permutation {permutation} is not a permutation of "
                             f"the axes of an array of shape {x.shape}")
    return ShapedArray(tuple(x.shape[p] for p in permutation), x.dtype, x.weak_type)


transpose_p.abstract_eval = _transpose_abstract_eval
transpose_p.impl = lambda x, *, permutation: np.transpose(np.asarray(x), permutation)


def _check_axes(name, x, dims, ndim=None):
    """`dims` are distinct axes of a rank-`ndim` array (default: the operand's)."""
    ndim = x.ndim if ndim is None else ndim
    if len(set(dims)) != len(dims) or any(not 0 <= d < ndim for d in dims):
        raise NbadValueError(f"{name}: dimensions {tuple(dims)} are not distinct axes of a "
                             f"rank-{ndim} array (operand {x.str_short()})")


# -- squeeze ------------------------------------------------------------------
squeeze_p = Primitive("squeeze", kind="view")


def _squeeze_abstract_eval(x, *, dimensions):
    _check_axes("squeeze", x, dimensions)
    if any(x.shape[d] != 1 for d in dimensions):
        raise ShapeError(f"squeeze: cannot remove dimensions {tuple(dimensions)} of shape "
                         f"{x.shape}: only size-1 dimensions can be squeezed")
    return x.update(shape=tuple(d for i, d in enumerate(x.shape) if i not in dimensions))


squeeze_p.abstract_eval = _squeeze_abstract_eval
squeeze_p.impl = lambda x, *, dimensions: np.squeeze(np.asarray(x), tuple(dimensions))

# -- expand_dims --------------------------------------------------------------
# `dimensions` are positions in the result where new size-1 axes appear.
expand_dims_p = Primitive("expand_dims", kind="view")


def _expand_dims_abstract_eval(x, *, dimensions):
    ndim = x.ndim + len(dimensions)
    _check_axes("expand_dims", x, dimensions, ndim)
    dims = iter(x.shape)
    return x.update(shape=tuple(1 if i in dimensions else next(dims) for i in range(ndim)))


expand_dims_p.abstract_eval = _expand_dims_abstract_eval
expand_dims_p.impl = lambda x, *, dimensions: np.expand_dims(np.asarray(x), tuple(dimensions))

# -- slice --------------------------------------------------------------------
# As lax.slice: x[start:limit:stride] per axis, 0 <= start <= limit <= size,
# stride >= 1 (negative steps are rev followed by slice).
slice_p = Primitive("slice", kind="view")


def _slice_abstract_eval(x, *, start_indices, limit_indices, strides):
    if not len(start_indices) == len(limit_indices) == len(strides) == x.ndim:
        raise ShapeError(f"slice: operand {x.str_short()} needs {x.ndim} start, limit and "
                         f"stride values, got {start_indices}, {limit_indices}, {strides}")
    shape = []
    for n, lo, hi, st in zip(x.shape, start_indices, limit_indices, strides):
        if not (0 <= lo <= hi <= n and st >= 1):
            raise NbadValueError(
                f"slice: invalid start_indices={start_indices}, limit_indices={limit_indices}, "
                f"strides={strides} for shape {x.shape}: need 0 <= start <= limit <= size "
                "and stride >= 1")
        shape.append(-(-(hi - lo) // st))
    return x.update(shape=tuple(shape))


def _slice_impl(x, *, start_indices, limit_indices, strides):
    return np.asarray(x)[tuple(map(slice, start_indices, limit_indices, strides))]


slice_p.abstract_eval = _slice_abstract_eval
slice_p.impl = _slice_impl

# -- rev ----------------------------------------------------------------------
rev_p = Primitive("rev", kind="view")


def _rev_abstract_eval(x, *, dimensions):
    _check_axes("rev", x, dimensions)
    return x


def _rev_impl(x, *, dimensions):
    x = np.asarray(x)
    return x[tuple(slice(None, None, -1) if i in dimensions else slice(None)
                   for i in range(x.ndim))]


rev_p.abstract_eval = _rev_abstract_eval
rev_p.impl = _rev_impl

# -- concatenate --------------------------------------------------------------
# Operands share one dtype (nbad.numpy promotes first) and all dims but `dimension`.
concatenate_p = Primitive("concatenate")


def _concatenate_abstract_eval(*xs, dimension):
    if not xs:
        raise NbadValueError("concatenate needs at least one operand")
    shapes = ", ".join(x.str_short() for x in xs)
    if len({x.dtype for x in xs}) != 1:
        raise NbadTypeError(f"concatenate requires operands of one dtype, got {shapes}")
    x0 = xs[0]
    if not 0 <= dimension < x0.ndim:
        raise NbadValueError(f"concatenate: dimension {dimension} out of range for operands {shapes}")
    for x in xs:
        if x.ndim != x0.ndim or any(a != b for i, (a, b) in enumerate(zip(x.shape, x0.shape))
                                    if i != dimension):
            raise ShapeError(f"concatenate: operands must agree on every dimension except "
                             f"{dimension}, got {shapes}")
    shape = list(x0.shape)
    shape[dimension] = sum(x.shape[dimension] for x in xs)
    return ShapedArray(shape, x0.dtype, all(x.weak_type for x in xs))


concatenate_p.abstract_eval = _concatenate_abstract_eval
concatenate_p.impl = lambda *xs, dimension: np.concatenate(xs, axis=dimension)

# -- pad ----------------------------------------------------------------------
# padding_config[i] = (lo, hi, interior): `interior` values between elements,
# then lo/hi at the ends; a negative lo/hi crops, as in lax.pad.
pad_p = Primitive("pad")


def _pad_abstract_eval(x, padding_value, *, padding_config):
    if padding_value.shape != () or padding_value.dtype != x.dtype:
        raise NbadTypeError(f"pad: padding_value must be a scalar of the operand's dtype "
                            f"{x.dtype.name}, got {padding_value.str_short()}")
    if len(padding_config) != x.ndim:
        raise ShapeError(f"pad: operand {x.str_short()} needs {x.ndim} (lo, hi, interior) "
                         f"triples, got padding_config={padding_config}")
    shape = []
    for n, (lo, hi, interior) in zip(x.shape, padding_config):
        size = lo + hi + n + max(n - 1, 0) * interior
        if interior < 0 or size < 0:
            raise NbadValueError(f"pad: padding_config={padding_config} invalid for shape "
                                 f"{x.shape}: interior must be >= 0 and every size >= 0")
        shape.append(size)
    return x.update(shape=tuple(shape))


def _pad_impl(x, padding_value, *, padding_config):
    x = np.asarray(x)
    # Pad with the non-negative parts into a fresh buffer, then crop negative ends.
    grown = [max(lo, 0) + max(hi, 0) + n + max(n - 1, 0) * it
             for n, (lo, hi, it) in zip(x.shape, padding_config)]
    out = np.full(grown, padding_value, dtype=x.dtype)
    inner = tuple(slice(max(lo, 0), max(lo, 0) + n + max(n - 1, 0) * it, it + 1)
                  for n, (lo, hi, it) in zip(x.shape, padding_config))
    out[inner] = x
    crop = tuple(slice(max(-lo, 0), g - max(-hi, 0))
                 for g, (lo, hi, _) in zip(grown, padding_config))
    return out[crop]


pad_p.abstract_eval = _pad_abstract_eval
pad_p.impl = _pad_impl

# -- iota, full: creation primitives (bound with trace.bind_nullary) ----------
iota_p = Primitive("iota")


def _iota_abstract_eval(*, dtype, shape, dimension):
    if not 0 <= dimension < len(shape):
        raise NbadValueError(f"iota: dimension {dimension} out of range for shape {shape}")
    if np.dtype(dtype).kind not in "iuf":
        raise NbadTypeError(f"iota: dtype must be an integer or floating dtype, got {dtype}")
    return ShapedArray(shape, check_dtype(dtype, "iota"))


def _iota_impl(*, dtype, shape, dimension):
    ramp = np.arange(shape[dimension], dtype=dtype)
    return np.broadcast_to(ramp.reshape([-1 if i == dimension else 1 for i in range(len(shape))]),
                           shape)


iota_p.abstract_eval = _iota_abstract_eval
iota_p.impl = _iota_impl

full_p = Primitive("full")


def _full_abstract_eval(fill_value, *, shape, dtype):
    if fill_value.shape != ():
        raise ShapeError(f"full: fill_value must be a scalar, got {fill_value.str_short()}")
    return ShapedArray(shape, check_dtype(dtype, "full"))


full_p.abstract_eval = _full_abstract_eval
full_p.impl = lambda fill_value, *, shape, dtype: np.full(shape, fill_value, dtype=dtype)

# -- gather, scatter_add, scatter ---------------------------------------------
# gather(operand, *indices, axes) is NumPy advanced indexing along adjacent
# `axes` by integer index arrays of one shape B (nbad.numpy broadcasts them):
#     out = operand[:, ..., :, indices[0], ..., indices[k-1], :, ...]
# with shape operand.shape[:axes[0]] + B + operand.shape[axes[-1]+1:] (NumPy puts
# the indexed dims where the first indexed axis was). Out-of-bounds indices are
# clamped to [0, size-1] as JAX's gather does; negative indices are *not*
# wrapped here (nbad.numpy adds the axis size first, as NumPy's rule says).
#
# scatter_add(operand, updates, *indices, axes, oob) adds `updates` (shaped like
# gather's result) into a copy of operand, summing duplicates: the transpose of
# gather. scatter(..., combine) writes them with combine in set/mul/min/max
# (.at[].set/.multiply/.min/.max). oob="clip" clamps indices like gather (the
# transpose of gather needs exactly that); oob="drop" skips out-of-bounds
# updates, JAX's default for .at[] updates.
gather_p = Primitive("gather")
scatter_add_p = Primitive("scatter_add")
scatter_p = Primitive("scatter")


def _gather_shape(name, x, indices, axes):
    """Validate operand/index avals; the shape of the gathered result."""
    k = len(indices)
    if k == 0 or len(axes) != k or list(axes) != list(range(axes[0], axes[0] + k)) \
            or not 0 <= axes[0] <= x.ndim - k:
        raise NbadValueError(f"{name}: axes={axes} must be {k} adjacent increasing axes of "
                             f"the operand {x.str_short()}, one per index array")
    idx_shape = indices[0].shape
    for i in indices:
        if i.dtype.kind not in "iu":
            raise NbadTypeError(f"{name}: index arrays must have an integer dtype, got "
                                f"{i.str_short()}")
        if i.shape != idx_shape:
            raise ShapeError(f"{name}: index arrays must share one shape, got "
                             + ", ".join(j.str_short() for j in indices))
    size = 1
    for d in idx_shape:
        size *= d
    if size and any(x.shape[a] == 0 for a in axes):
        raise ShapeError(f"{name}: cannot index the empty axes {axes} of {x.str_short()}")
    return x.shape[:axes[0]] + idx_shape + x.shape[axes[0] + k:]


def _gather_abstract_eval(x, *indices, axes):
    return x.update(shape=_gather_shape("gather", x, indices, axes))


def _clamped(x, indices, axes):
    return tuple(np.clip(np.asarray(i), 0, max(x.shape[a] - 1, 0)) for i, a in zip(indices, axes))


def _gather_impl(x, *indices, axes):
    x = np.asarray(x)
    return x[(slice(None),) * axes[0] + _clamped(x, indices, axes)]


gather_p.abstract_eval = _gather_abstract_eval
gather_p.impl = _gather_impl


def _scatter_abstract_eval(name):
    def abstract_eval(x, updates, *indices, axes, oob, **params):
        shape = _gather_shape(name, x, indices, axes)
        if updates.shape != shape or updates.dtype != x.dtype:
            raise ShapeError(f"{name}: updates must have the gathered shape and the operand's "
                             f"dtype {x.dtype.name}{list(shape)}, got {updates.str_short()}")
        if oob not in ("clip", "drop"):
            raise NbadValueError(f"{name}: oob must be 'clip' or 'drop', got {oob!r}")
        return x.update(weak_type=x.weak_type and updates.weak_type)

    return abstract_eval


def _scatter_targets(x, updates, indices, axes, oob):
    """(index tuple, updates) with the index dims flattened and `oob` applied."""
    lead = axes[0]
    flat = [np.asarray(i).reshape(-1) for i in indices]
    upd = np.asarray(updates)
    upd = upd.reshape(upd.shape[:lead] + (flat[0].size,) + upd.shape[lead + np.ndim(indices[0]):])
    if oob == "clip":
        flat = _clamped(x, flat, axes)
    else:
        keep = np.logical_and.reduce([(i >= 0) & (i < x.shape[a]) for i, a in zip(flat, axes)])
        if not keep.all():
            flat = [i[keep] for i in flat]
            upd = upd[(slice(None),) * lead + (keep,)]
    return (slice(None),) * lead + tuple(flat), upd


def _scatter_add_impl(x, updates, *indices, axes, oob):
    out = np.array(x, copy=True)
    where, upd = _scatter_targets(out, updates, indices, axes, oob)
    np.add.at(out, where, upd)
    return out


_COMBINE_UFUNCS = {"mul": np.multiply, "min": np.minimum, "max": np.maximum}


def _scatter_impl(x, updates, *indices, axes, oob, combine):
    out = np.array(x, copy=True)
    where, upd = _scatter_targets(out, updates, indices, axes, oob)
    if combine == "set":
        out[where] = upd
    else:
        _COMBINE_UFUNCS[combine].at(out, where, upd)
    return out


_check_scatter = _scatter_abstract_eval("scatter")


def _scatter_combine_abstract_eval(x, updates, *indices, axes, oob, combine):
    if combine not in ("set", *_COMBINE_UFUNCS):
        raise NbadValueError(f"scatter: combine must be set, mul, min or max, got {combine!r}")
    return _check_scatter(x, updates, *indices, axes=axes, oob=oob)


scatter_add_p.abstract_eval = _scatter_abstract_eval("scatter_add")
scatter_add_p.impl = _scatter_add_impl
scatter_p.abstract_eval = _scatter_combine_abstract_eval
scatter_p.impl = _scatter_impl

# -- dynamic_slice, dynamic_update_slice --------------------------------------
# Start indices are scalar integer operands (traced values allowed), clamped
# so the window lies inside the operand, as in lax.dynamic_slice.
dynamic_slice_p = Primitive("dynamic_slice")
dynamic_update_slice_p = Primitive("dynamic_update_slice")


def _check_starts(name, x, starts):
    if len(starts) != x.ndim or any(s.shape != () or s.dtype.kind not in "iu" for s in starts):
        raise NbadTypeError(f"{name}: operand {x.str_short()} needs {x.ndim} scalar integer "
                            "start indices, got " + ", ".join(s.str_short() for s in starts))


def _dynamic_slice_abstract_eval(x, *starts, slice_sizes):
    _check_starts("dynamic_slice", x, starts)
    if len(slice_sizes) != x.ndim or any(not 0 <= s <= n for s, n in zip(slice_sizes, x.shape)):
        raise ShapeError(f"dynamic_slice: slice_sizes={slice_sizes} must give one size per "
                         f"axis of {x.str_short()}, each between 0 and that axis' size")
    return x.update(shape=tuple(slice_sizes))


def _window(shape, starts, sizes):
    return tuple(slice(s, s + k) for s, k in
                 ((min(max(int(s), 0), n - k), k) for s, n, k in zip(starts, shape, sizes)))


def _dynamic_slice_impl(x, *starts, slice_sizes):
    x = np.asarray(x)
    return x[_window(x.shape, starts, slice_sizes)]


def _dynamic_update_slice_abstract_eval(x, update, *starts):
    _check_starts("dynamic_update_slice", x, starts)
    if update.dtype != x.dtype or update.ndim != x.ndim or any(
            u > n for u, n in zip(update.shape, x.shape)):
        raise ShapeError(f"dynamic_update_slice: update {update.str_short()} must have the "
                         f"operand's dtype and rank and fit inside it ({x.str_short()})")
    return x.update(weak_type=x.weak_type and update.weak_type)


def _dynamic_update_slice_impl(x, update, *starts):
    out = np.array(x, copy=True)
    out[_window(out.shape, starts, np.shape(update))] = update
    return out


dynamic_slice_p.abstract_eval = _dynamic_slice_abstract_eval
dynamic_slice_p.impl = _dynamic_slice_impl
dynamic_update_slice_p.abstract_eval = _dynamic_update_slice_abstract_eval
dynamic_update_slice_p.impl = _dynamic_update_slice_impl
