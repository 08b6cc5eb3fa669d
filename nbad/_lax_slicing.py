"""lax's dynamic slices: windows of a static size at traced offsets.

Each function is a thin layer over the dynamic_slice / dynamic_update_slice
primitives (rules/indexing.py: impl, derivatives, batching; dynamic_slice is
a zero-copy view when compiled). As in JAX, a negative start counts from the
end of its axis (unless allow_negative_indices=False), then every start is
clamped so the window lies inside the operand.
"""
from __future__ import annotations

import numpy as np

from nbad.core.trace import Tracer, bind
from nbad.errors import NbadTypeError, NbadValueError
from nbad.numpy import _elementwise as ew
from nbad.numpy._core import aval_of, as_operand, convert, dtype_of, shape_of
from nbad.numpy._shape import expand_dims, normalize_axis, squeeze, unchanged
from nbad.rules.indexing import dynamic_slice_p, dynamic_update_slice_p


def _start_list(name, start_indices, ndim):
    """The start indices as a list of scalar operands, one per axis."""
    if isinstance(start_indices, (Tracer, np.ndarray)):
        if shape_of(start_indices) != (ndim,):
            raise NbadTypeError(f"{name}: start_indices must be a sequence of {ndim} scalars or "
                                f"an array of shape ({ndim},), got shape {shape_of(start_indices)}")
        return [start_indices[k] for k in range(ndim)]
    starts = list(start_indices)
    if len(starts) != ndim:
        raise NbadTypeError(f"{name}: the operand has {ndim} dimensions, so it needs {ndim} start "
                            f"indices, got {len(starts)}")
    return [as_operand(s) for s in starts]


def _starts(name, operand, start_indices, allow_negative_indices):
    """Scalar integer start operands, negative ones wrapped where allowed."""
    shape = shape_of(operand)
    starts = _start_list(name, start_indices, len(shape))
    allow = (list(allow_negative_indices) if isinstance(allow_negative_indices, (list, tuple))
             else [allow_negative_indices] * len(shape))
    if len(allow) != len(shape):
        raise NbadTypeError(f"{name}: allow_negative_indices needs one flag per dimension "
                            f"({len(shape)}), got {len(allow)}")
    out = []
    for s, n, wrap in zip(starts, shape, allow):
        if shape_of(s) != () or dtype_of(s).kind not in "iu":
            raise NbadTypeError(f"{name}: start indices must be scalar integers, got "
                                f"{dtype_of(s).name}{list(shape_of(s))}")
        if type(s) is int:
            s = np.int64(s)
        if dtype_of(s).kind == "i" and isinstance(s, Tracer):
            if wrap:
                s = ew.where(ew.less(s, 0), ew.add(s, convert(n, dtype_of(s))), s)
        elif dtype_of(s).kind == "i" and s < 0:
            if not wrap:
                raise NbadValueError(f"{name}: index {s} is out of bounds for dimension {n} if "
                                     "allow_negative_indices=False")
            s = s + convert(n, dtype_of(s))
        out.append(s)
    return out


def _bind_checked(prim, *args, **params):
    """Bind, with the primitive's shape and dtype checks also run eagerly (an
    eager bind runs only the impl)."""
    prim.abstract_eval(*[aval_of(a) for a in args], **params)
    return unchanged(bind(prim, *args, **params))


def dynamic_slice(operand, start_indices, slice_sizes, *, allow_negative_indices=True):
    """operand[s0:s0+k0, s1:s1+k1, ...] for traced starts s (clamped) and static sizes k."""
    operand = as_operand(operand)
    starts = _starts("dynamic_slice", operand, start_indices, allow_negative_indices)
    sizes = tuple(int(k) for k in slice_sizes)
    return _bind_checked(dynamic_slice_p, operand, *starts, slice_sizes=sizes)


def dynamic_update_slice(operand, update, start_indices, *, allow_negative_indices=True):
    """operand with the window at start_indices (clamped) replaced by update."""
    operand, update = as_operand(operand), as_operand(update)
    if type(update) in (bool, int, float, complex):
        update = convert(update, dtype_of(operand))
    starts = _starts("dynamic_update_slice", operand, start_indices, allow_negative_indices)
    return _bind_checked(dynamic_update_slice_p, operand, update, *starts)


def _along(name, operand, start_index, axis):
    """(axis, starts): start_index on `axis`, 0 on the others."""
    ndim = len(shape_of(operand))
    axis = normalize_axis(name, axis, ndim)
    starts = [np.int64(0)] * ndim
    starts[axis] = as_operand(start_index)
    return axis, starts


def dynamic_slice_in_dim(operand, start_index, slice_size, axis=0, *,
                         allow_negative_indices=True):
    operand = as_operand(operand)
    axis, starts = _along("dynamic_slice_in_dim", operand, start_index, axis)
    sizes = list(shape_of(operand))
    sizes[axis] = slice_size
    return dynamic_slice(operand, starts, sizes, allow_negative_indices=allow_negative_indices)


def dynamic_index_in_dim(operand, index, axis=0, keepdims=True, *, allow_negative_indices=True):
    operand = as_operand(operand)
    axis = normalize_axis("dynamic_index_in_dim", axis, len(shape_of(operand)))
    out = dynamic_slice_in_dim(operand, index, 1, axis,
                               allow_negative_indices=allow_negative_indices)
    return out if keepdims else squeeze(out, axis)


def dynamic_update_slice_in_dim(operand, update, start_index, axis, *,
                                allow_negative_indices=True):
    operand = as_operand(operand)
    _, starts = _along("dynamic_update_slice_in_dim", operand, start_index, axis)
    return dynamic_update_slice(operand, update, starts,
                                allow_negative_indices=allow_negative_indices)


def dynamic_update_index_in_dim(operand, update, index, axis, *, allow_negative_indices=True):
    operand, update = as_operand(operand), as_operand(update)
    ndim = len(shape_of(operand))
    axis = normalize_axis("dynamic_update_index_in_dim", axis, ndim)
    if len(shape_of(update)) == ndim - 1:
        update = expand_dims(update, axis)
    return dynamic_update_slice_in_dim(operand, update, index, axis,
                                       allow_negative_indices=allow_negative_indices)
