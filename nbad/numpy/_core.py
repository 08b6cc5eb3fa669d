"""What every nbad.numpy function needs: operand conversion, NumPy dtype
promotion with weak Python scalars, and broadcasting to a common shape.

An *operand* is a Tracer, a NumPy array/scalar or a Python scalar. Functions
here never call NumPy on a Tracer; everything goes through primitives
(`bind`), so the same code runs eagerly, under jit and under grad.
"""
from __future__ import annotations

import numpy as np

from nbad.core.avals import ShapedArray, aval_of_value, check_dtype, check_not_masked, result_dtype
from nbad.core.trace import Tracer, bind, wrap_eager
from nbad.errors import NbadTypeError, ShapeError
from nbad.rules.elementwise import convert_element_type_p
from nbad.rules.shape import broadcast_in_dim_p

_SCALAR_TYPES = (bool, int, float, complex)


def as_operand(x):
    """Tracers, NumPy arrays and Python scalars pass; lists/tuples become arrays."""
    if isinstance(x, (Tracer, np.ndarray, np.generic)) or type(x) in _SCALAR_TYPES:
        if isinstance(x, np.ndarray):
            check_not_masked(x)
            check_dtype(x.dtype)
        return x
    if isinstance(x, (list, tuple)):
        from nbad.numpy._creation import array

        return array(x)
    if hasattr(x, "__cuda_array_interface__"):
        aval_of_value(x)  # raises, saying how to use a device array
    raise NbadTypeError(
        f"nbad.numpy expected an array, a scalar or a Tracer, got {type(x).__name__}: {x!r:.80}"
    )


def aval_of(x) -> ShapedArray:
    if isinstance(x, Tracer):
        return x.aval
    return aval_of_value(x)


def shape_of(x) -> tuple:
    return aval_of(x).shape


def dtype_of(x) -> np.dtype:
    return aval_of(x).dtype


def convert(x, dtype):
    """x as dtype (a convert_element_type equation only when it changes anything)."""
    dtype = np.dtype(dtype)
    if isinstance(x, Tracer):
        if x.aval.dtype == dtype:
            return x
        return bind(convert_element_type_p, x, new_dtype=dtype)
    if type(x) in _SCALAR_TYPES:
        return np.asarray(x, dtype=dtype)[()]  # a typed scalar: becomes a Literal
    if isinstance(x, np.ndarray):  # an eager result stays an immutable nbad Array
        return x if x.dtype == dtype else wrap_eager(x.astype(dtype))
    x = np.asarray(x)
    return x if x.dtype == dtype else x.astype(dtype)


def broadcast_shapes(fn_name: str, *shapes) -> tuple:
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise ShapeError(
            f"{fn_name}: operands could not be broadcast together with shapes "
            + " ".join(str(tuple(s)) for s in shapes)
        ) from None


def broadcast_to(x, shape):
    """Broadcast an operand to `shape` by NumPy's rules (one broadcast_in_dim)."""
    shape = tuple(shape)
    xs = shape_of(x)
    if xs == shape:
        return x
    if xs == () and not isinstance(x, (Tracer, np.ndarray)):
        x = np.asarray(x)
    offset = len(shape) - len(xs)
    if offset < 0 or any(d not in (1, shape[offset + i]) for i, d in enumerate(xs)):
        raise ShapeError(f"cannot broadcast an array of shape {xs} to shape {shape}")
    # Drop the operand's size-1 dims that get stretched: broadcast_in_dim maps the rest.
    keep = [i for i, d in enumerate(xs) if d == shape[offset + i]]
    if len(keep) != len(xs):
        from nbad.rules.shape import reshape_p

        x = bind(reshape_p, x, new_sizes=tuple(xs[i] for i in keep))
    return bind(broadcast_in_dim_p, x, shape=shape,
                broadcast_dimensions=tuple(offset + i for i in keep))


def promote_dtypes(*xs, to_inexact: bool = False):
    """NumPy's common dtype of the operands (weak Python scalars)."""
    dtype, weak = result_dtype(*[aval_of(x) for x in xs])
    if to_inexact and dtype.kind in "biu":
        dtype = np.dtype(np.float64)
    return dtype, weak


def elementwise_call(prim, fn_name: str, *args, to_inexact: bool = False, dtype=None, **params):
    """Promote, broadcast and bind an elementwise primitive (NumPy semantics).

    to_inexact: integer/bool inputs compute in float64 (np.exp, true division).
    dtype: compute in this dtype instead of the promoted one.
    """
    args = [as_operand(a) for a in args]
    if dtype is None:
        dtype, _ = promote_dtypes(*args, to_inexact=to_inexact)
    shape = broadcast_shapes(fn_name, *[shape_of(a) for a in args])
    ops = []
    for a in args:
        a = convert(a, dtype)
        if shape_of(a) != () and shape_of(a) != shape:
            a = broadcast_to(a, shape)
        ops.append(a)
    return bind(prim, *ops, **params)
