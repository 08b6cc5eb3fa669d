"""Shape primitives: views (reshape, transpose, broadcast_in_dim, squeeze,
expand_dims, slice, rev) and data movement (concatenate, pad, gather,
dynamic_slice, iota, full).

View primitives have kind "view": the CPU backend applies their impl to a
materialised buffer, which NumPy does without copying; broadcast_in_dim is
fused into the consuming loop as index arithmetic (compile/fusion.py).

Derivative rules (rules/_ad.py) follow each primitive: all of these are
linear (deflinear with a transpose) except iota (nondiff). The gather/scatter
and dynamic_slice family lives in rules/indexing.py and is re-exported here.
"""
from __future__ import annotations

import numpy as np

from nbad.core.avals import ShapedArray, check_dtype
from nbad.core.primitive import Primitive
from nbad.core.trace import bind, bind_nullary
from nbad.errors import NbadTypeError, NbadValueError, ShapeError
from nbad.rules._ad import aval_of, deflinear, defnondiff
from nbad.rules._batching import (batched_all, broadcast_batch, defaxes, per_example_shape,
                                  shift_axes, spread_batch)


# -- helpers for the derivative rules (also used by rules/reduce.py, indexing.py)
def _diff(x) -> bool:
    """Differentiable operand: floating or complex (integer/bool get None)."""
    return aval_of(x).dtype.kind in "fc"


def _zeros(shape, dtype):
    return bind_nullary(full_p, np.zeros((), dtype), shape=tuple(shape), dtype=np.dtype(dtype))


def _reshape(x, shape):
    shape = tuple(shape)
    return x if tuple(aval_of(x).shape) == shape else bind(reshape_p, x, new_sizes=shape)


def _sum_axes(x, axes):
    from nbad.rules.reduce import reduce_sum_p

    return bind(reduce_sum_p, x, axes=tuple(axes)) if axes else x


def _pad_axis(x, axis, lo, hi, interior=0, value=0):
    """lax.pad along one axis (value: a Python number, cast to x's dtype)."""
    a = aval_of(x)
    config = [(0, 0, 0)] * a.ndim
    config[axis] = (lo, hi, interior)
    return bind(pad_p, x, np.asarray(value, a.dtype), padding_config=tuple(config))


def _slice_axis(x, axis, start, limit, stride=1):
    shape = aval_of(x).shape
    starts, limits, strides = [0] * len(shape), list(shape), [1] * len(shape)
    starts[axis], limits[axis], strides[axis] = start, limit, stride
    return bind(slice_p, x, start_indices=tuple(starts), limit_indices=tuple(limits),
                strides=tuple(strides))

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


def _broadcast_in_dim_transpose(ct, primals, outs, *, shape, broadcast_dimensions):
    (x,) = primals
    if not _diff(x):
        return [None]
    x_shape = aval_of(x).shape
    kept = {d for i, d in enumerate(broadcast_dimensions) if x_shape[i] == shape[d]}
    summed = _sum_axes(ct, tuple(d for d in range(len(shape)) if d not in kept))
    return [_reshape(summed, x_shape)]


deflinear(broadcast_in_dim_p, _broadcast_in_dim_transpose)
broadcast_in_dim_p.vmap = lambda size, args, batched, *, shape, broadcast_dimensions: bind(
    broadcast_in_dim_p, args[0], shape=(size,) + tuple(shape),
    broadcast_dimensions=(0,) + shift_axes(tuple(broadcast_dimensions)))

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
deflinear(reshape_p, lambda ct, primals, outs, *, new_sizes: [
    _reshape(ct, aval_of(primals[0]).shape) if _diff(primals[0]) else None])
reshape_p.vmap = lambda size, args, batched, *, new_sizes: bind(
    reshape_p, args[0], new_sizes=(size,) + tuple(new_sizes))

# -- transpose ----------------------------------------------------------------
transpose_p = Primitive("transpose", kind="view")


def _transpose_abstract_eval(x, *, permutation):
    if sorted(permutation) != list(range(x.ndim)):
        raise NbadValueError(f"transpose permutation {permutation} is not a permutation of "
                             f"the axes of an array of shape {x.shape}")
    return ShapedArray(tuple(x.shape[p] for p in permutation), x.dtype, x.weak_type)


transpose_p.abstract_eval = _transpose_abstract_eval
transpose_p.impl = lambda x, *, permutation: np.transpose(np.asarray(x), permutation)
deflinear(transpose_p, lambda ct, primals, outs, *, permutation: [
    bind(transpose_p, ct, permutation=tuple(int(i) for i in np.argsort(permutation)))
    if _diff(primals[0]) else None])
transpose_p.vmap = lambda size, args, batched, *, permutation: bind(
    transpose_p, args[0], permutation=(0,) + shift_axes(tuple(permutation)))


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
deflinear(squeeze_p, lambda ct, primals, outs, *, dimensions: [
    bind(expand_dims_p, ct, dimensions=tuple(dimensions)) if _diff(primals[0]) else None])
defaxes(squeeze_p, "dimensions")

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
deflinear(expand_dims_p, lambda ct, primals, outs, *, dimensions: [
    bind(squeeze_p, ct, dimensions=tuple(dimensions)) if _diff(primals[0]) else None])
defaxes(expand_dims_p, "dimensions")  # result positions: shift like operand axes

# Views that only change the shape: for a contiguous buffer, `x.reshape(new shape)`.
RESHAPE_LIKE = (reshape_p, squeeze_p, expand_dims_p)


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


def _slice_transpose(ct, primals, outs, *, start_indices, limit_indices, strides):
    """Zeros around and (for strides > 1) between the sliced elements: one pad."""
    (x,) = primals
    if not _diff(x):
        return [None]
    config = []
    for n, lo, m, st in zip(aval_of(x).shape, start_indices, aval_of(ct).shape, strides):
        used = m + max(m - 1, 0) * (st - 1)
        config.append((lo, n - lo - used, st - 1))
    return [bind(pad_p, ct, np.zeros((), aval_of(ct).dtype), padding_config=tuple(config))]


deflinear(slice_p, _slice_transpose)
slice_p.vmap = lambda size, args, batched, *, start_indices, limit_indices, strides: bind(
    slice_p, args[0], start_indices=(0,) + tuple(start_indices),
    limit_indices=(size,) + tuple(limit_indices), strides=(1,) + tuple(strides))

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
deflinear(rev_p, lambda ct, primals, outs, *, dimensions: [
    bind(rev_p, ct, dimensions=tuple(dimensions)) if _diff(primals[0]) else None])
defaxes(rev_p, "dimensions")

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


def _concatenate_transpose(ct, primals, outs, *, dimension):
    if not _diff(primals[0]):
        return [None] * len(primals)
    cts, start = [], 0
    for x in primals:
        n = aval_of(x).shape[dimension]
        cts.append(_slice_axis(ct, dimension, start, start + n))
        start += n
    return cts


deflinear(concatenate_p, _concatenate_transpose)
concatenate_p.vmap = lambda size, args, batched, *, dimension: bind(
    concatenate_p, *batched_all(size, args, batched), dimension=dimension + 1)

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


def _pad_transpose(ct, primals, outs, *, padding_config):
    """operand: undo lo/hi (zero-filling what negative padding cropped), then take
    every (interior+1)-th element; padding_value: the sum of ct over the padded
    positions (a 0/1 mask, exact, rather than JAX's sum(ct) - sum(ct_operand))."""
    x, padding_value = primals
    if not _diff(x):
        return [None, None]
    a = aval_of(x)
    zero = np.zeros((), a.dtype)
    unpadded = bind(pad_p, ct, zero, padding_config=tuple((-lo, -hi, 0) for lo, hi, _ in padding_config))
    ct_x = bind(slice_p, unpadded, start_indices=(0,) * a.ndim, limit_indices=aval_of(unpadded).shape,
                strides=tuple(it + 1 for _, _, it in padding_config))
    mask = bind(pad_p, _zeros(a.shape, a.dtype), np.ones((), a.dtype), padding_config=padding_config)
    ct_value = _sum_axes(ct * mask, range(a.ndim))
    return [ct_x, ct_value]


deflinear(pad_p, _pad_transpose)


def _pad_vmap(size, args, batched, *, padding_config):
    """A shared padding value: no padding on the batch axis. A batched one: pad
    with zero, then select each example's value where a padded 0/1 mask says."""
    from nbad.rules.elementwise import select_p

    x, value = args
    bx, bv = batched
    config = tuple(tuple(c) for c in padding_config)
    if not bv:
        return bind(pad_p, x, value, padding_config=((0, 0, 0),) + config)
    a = aval_of(x)
    shape = per_example_shape(x, bx)
    if bx:
        padded = bind(pad_p, x, np.zeros((), a.dtype), padding_config=((0, 0, 0),) + config)
    else:
        padded = broadcast_batch(bind(pad_p, x, np.zeros((), a.dtype), padding_config=config), size)
    mask = bind(pad_p, _zeros(shape, np.bool_), np.ones((), np.bool_), padding_config=config)
    out_shape = aval_of(padded).shape[1:]
    return bind(select_p, broadcast_batch(mask, size), spread_batch(value, out_shape), padded)


pad_p.vmap = _pad_vmap

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
defnondiff(iota_p)
# iota has no operands, so the batching pass never calls this; it is the same
# value for every example.
iota_p.vmap = lambda size, args, batched, **params: broadcast_batch(
    bind_nullary(iota_p, **params), size)

full_p = Primitive("full")


def _full_abstract_eval(fill_value, *, shape, dtype):
    if fill_value.shape != ():
        raise ShapeError(f"full: fill_value must be a scalar, got {fill_value.str_short()}")
    return ShapedArray(shape, check_dtype(dtype, "full"))


full_p.abstract_eval = _full_abstract_eval
full_p.impl = lambda fill_value, *, shape, dtype: np.full(shape, fill_value, dtype=dtype)


# full is linear in fill_value; the result dtype may differ from fill_value's.
def _full_jvp(primals, tangents, outs, *, shape, dtype):
    (t,) = tangents
    if t is None or np.dtype(dtype).kind not in "fc":
        return None
    return bind_nullary(full_p, t, shape=shape, dtype=dtype)


def _full_vjp(ct, primals, outs, *, shape, dtype):
    (fill_value,) = primals
    if not _diff(fill_value) or np.dtype(dtype).kind not in "fc":
        return [None]
    from nbad.numpy._core import convert

    return [convert(_sum_axes(ct, range(len(shape))), aval_of(fill_value).dtype)]


full_p.jvp = _full_jvp
full_p.vjp = _full_vjp


def _full_vmap(size, args, batched, *, shape, dtype):
    """A batched fill value (shape (size,)): each example's value, converted, broadcast."""
    from nbad.rules.elementwise import convert_element_type_p

    (fill_value,) = args
    if not batched[0]:
        return broadcast_batch(bind_nullary(full_p, fill_value, shape=shape, dtype=dtype), size)
    a = aval_of(fill_value)
    if a.dtype != np.dtype(dtype) or a.weak_type:  # full's result is never weak
        fill_value = bind(convert_element_type_p, fill_value, new_dtype=np.dtype(dtype))
    return spread_batch(fill_value, tuple(shape))


full_p.vmap = _full_vmap

# -- gather, scatter_add, scatter, dynamic_slice, dynamic_update_slice ------------
# In rules/indexing.py (with their rules); re-exported so existing imports work.
from nbad.rules.indexing import (  # noqa: E402,F401
    _COMBINE_UFUNCS,
    _check_starts,
    _clamped,
    _gather_shape,
    _scatter_targets,
    _window,
    dynamic_slice_p,
    dynamic_update_slice_p,
    gather_p,
    scatter_add_p,
    scatter_p,
)

