"""Shape primitives: views (reshape, transpose, broadcast_in_dim, squeeze,
expand_dims, slice, rev) and data movement (concatenate, pad, gather,
dynamic_slice, iota, full).

View primitives have kind "view": the CPU backend applies their impl to a
materialised buffer, which NumPy does without copying; broadcast_in_dim is
fused into the consuming loop as index arithmetic (codegen/fusion.py).
"""
from __future__ import annotations

import numpy as np

from nbad.core.avals import ShapedArray
from nbad.core.primitive import Primitive
from nbad.errors import NbadValueError, ShapeError

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
