"""Array creation (array, zeros, arange, linspace, eye, ...), dtype names and constants.

Creation with a static shape binds the creation primitives iota / full through
`bind_nullary`, so under jit `ones((1000, 1000))` is one equation, fused like
any other, rather than a large captured constant. Shapes must be static: a
traced shape raises ConcretizationError naming the function and argument.

Dtypes follow NumPy (float64 by default, `arange(5)` is int64), except that
Python scalars are weak as everywhere in nbad: `array([x32, 1.0])` is float32.
"""
from __future__ import annotations

import math
import operator

import numpy as np

from nbad.core.avals import ShapedArray, aval_of_value, check_dtype, check_not_masked, result_dtype
from nbad.core.array import Array
from nbad.core.trace import Tracer, bind, bind_nullary, wrap_eager
from nbad.errors import (
    ConcretizationError,
    NbadTypeError,
    NbadValueError,
    NbadZeroDivisionError,
    ShapeError,
    TracerIntegerConversionError,
    concretization_message,
)
from nbad.numpy import _elementwise as _ew
from nbad.numpy._core import aval_of, broadcast_to, convert, dtype_of, shape_of
from nbad.rules.shape import concatenate_p, full_p, iota_p, reshape_p, transpose_p

__all__ = [
    "array", "asarray", "zeros", "ones", "full", "empty", "zeros_like", "ones_like", "full_like",
    "empty_like", "arange", "linspace", "logspace", "eye", "identity", "meshgrid", "tri", "tril",
    "triu",
    "bool_", "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float32", "float64", "complex64", "complex128", "int_", "uint", "complex_",
    "generic", "number", "inexact", "floating", "complexfloating", "integer", "signedinteger",
    "unsignedinteger",
    "pi", "e", "inf", "nan", "newaxis", "euler_gamma",
    "finfo", "iinfo", "dtype", "result_type", "promote_types", "issubdtype", "can_cast",
]

_PY_SCALARS = (bool, int, float, complex)


# -- static arguments ---------------------------------------------------------
def _static_int(x, fn: str, arg: str) -> int:
    """A Python int from a shape-like argument; a traced value cannot be one."""
    if isinstance(x, Tracer) and x.value is None:
        raise TracerIntegerConversionError(concretization_message(
            f"the `{arg}` argument (shapes must be static): int()",
            x.aval.str_short(), fn))
    try:
        return operator.index(x)
    except TypeError:
        raise NbadTypeError(f"{fn}: `{arg}` must be an integer (or, for a shape, a tuple of "
                            f"integers), got {type(x).__name__} {x!r:.60}") from None


def _static_float(x, fn: str, arg: str):
    if isinstance(x, Tracer):
        if x.value is None:
            raise ConcretizationError(concretization_message(
                f"the `{arg}` argument (it fixes the result's length): float()",
                x.aval.str_short(), fn))
        return x.value[()]
    return x


def _shape_tuple(shape, fn: str) -> tuple:
    if isinstance(shape, (list, tuple)):
        dims = tuple(_static_int(d, fn, "shape") for d in shape)
    else:
        dims = (_static_int(shape, fn, "shape"),)
    if any(d < 0 for d in dims):
        raise ShapeError(f"{fn}: negative dimensions are not allowed, got shape {dims}")
    return dims


def _dtype_arg(dtype, default) -> np.dtype:
    return check_dtype(default if dtype is None else np.dtype(dtype))


def _iota(dtype, shape, dimension=0):
    return bind_nullary(iota_p, dtype=np.dtype(dtype), shape=tuple(shape), dimension=dimension)


# -- array / asarray ------------------------------------------------------------
def _leaves(obj):
    if isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _leaves(o)
    else:
        yield obj


def _weak_promoted_dtype(obj):
    """The dtype of a nested sequence with Python scalars weak; None when all
    leaves are Python scalars (NumPy's own choice is then the same)."""
    leaves = list(_leaves(obj))
    if all(type(x) in _PY_SCALARS for x in leaves):
        return None
    return result_dtype(*[aval_of(x) for x in leaves])[0]


def _contains_tracer(obj) -> bool:
    return any(isinstance(x, Tracer) for x in _leaves(obj))


def _stack_traced(obj, dtype):
    """A nested sequence holding tracers as one array: runs of concrete
    elements become constant chunks, each tracer a (1, ...) slab, joined by
    one concatenate per nesting level."""
    if not isinstance(obj, (list, tuple)):
        return convert(obj, dtype)
    if not _contains_tracer(obj):
        return np.array(obj, dtype=dtype)
    parts = [_stack_traced(o, dtype) for o in obj]
    shapes = {shape_of(p) for p in parts}
    if len(shapes) != 1:
        raise NbadValueError(
            "array: the nested sequence is ragged (its elements have shapes "
            f"{sorted(shapes)}); every element at one nesting level needs the same shape.")
    (shape,) = shapes
    chunks, run = [], []
    for p in parts:
        if isinstance(p, Tracer):
            if run:
                chunks.append(np.stack(run))
                run = []
            chunks.append(bind(reshape_p, p, new_sizes=(1,) + shape))
        else:
            run.append(np.asarray(p, dtype=dtype))
    if run:
        chunks.append(np.stack(run))
    return chunks[0] if len(chunks) == 1 else bind(concatenate_p, *chunks, dimension=0)


def _with_ndmin(x, ndmin):
    shape = shape_of(x)
    if len(shape) >= ndmin:
        return x
    return bind(reshape_p, x, new_sizes=(1,) * (ndmin - len(shape)) + shape)


def array(object, dtype=None, copy=True, order="K", ndmin=0):
    """jnp.array: nested lists/tuples may hold tracers (stacked under tracing).
    `order` is accepted for compatibility; results are always C-ordered."""
    dtype = None if dtype is None else check_dtype(np.dtype(dtype))
    if isinstance(object, Tracer):
        out = object if dtype is None else convert(object, dtype)
    elif isinstance(object, (list, tuple)) and _contains_tracer(object):
        out = _stack_traced(object, dtype or _weak_promoted_dtype(object))
    else:
        check_not_masked(object)
        if object is None:
            raise NbadValueError("None is not a valid value for nbad.numpy.array")
        if type(object) is int:
            aval_of_value(object)  # an int beyond int64 raises OverflowError, as in JAX
        if isinstance(object, (list, tuple)) and dtype is None:
            dtype = _weak_promoted_dtype(object)
        if copy is None and type(object) is not Array:
            copy = True  # an Array over a caller's mutable buffer would not stay immutable
        value = np.array(object, dtype=dtype, copy=copy)
        check_dtype(value.dtype)
        out = wrap_eager(value)
    return _with_ndmin(out, ndmin)


def asarray(a, dtype=None, order=None, copy=None):
    """jnp.asarray: like array, without copying arrays that already fit."""
    return array(a, dtype=dtype, copy=copy)


def _operand(x):
    """Lists/tuples as arrays; everything else passes unchanged."""
    return asarray(x) if isinstance(x, (list, tuple)) else x


# -- filled arrays --------------------------------------------------------------
def _full(shape, fill_value, dtype, fn):
    shape = _shape_tuple(shape, fn)
    fill_value = _operand(fill_value)
    dtype = _dtype_arg(dtype, dtype_of(fill_value))
    fill_value = convert(fill_value, dtype)
    if shape_of(fill_value) != ():
        return broadcast_to(fill_value, shape)
    return bind_nullary(full_p, fill_value, shape=shape, dtype=dtype)


def full(shape, fill_value, dtype=None):
    return _full(shape, fill_value, dtype, "full")


def zeros(shape, dtype=None):
    dtype = _dtype_arg(dtype, np.float64)
    return _full(shape, np.zeros((), dtype)[()], dtype, "zeros")


def ones(shape, dtype=None):
    dtype = _dtype_arg(dtype, np.float64)
    return _full(shape, np.ones((), dtype)[()], dtype, "ones")


def empty(shape, dtype=None):
    """Zeros: nbad arrays are immutable, so uninitialised memory is never useful."""
    return zeros(shape, dtype)


def _like_aval(a) -> ShapedArray:
    return aval_of(_operand(a))


def full_like(a, fill_value, dtype=None, shape=None):
    aval = _like_aval(a)
    return full(aval.shape if shape is None else shape, fill_value, dtype or aval.dtype)


def zeros_like(a, dtype=None, shape=None):
    aval = _like_aval(a)
    return zeros(aval.shape if shape is None else shape, dtype or aval.dtype)


def ones_like(a, dtype=None, shape=None):
    aval = _like_aval(a)
    return ones(aval.shape if shape is None else shape, dtype or aval.dtype)


def empty_like(a, dtype=None, shape=None):
    return zeros_like(a, dtype, shape)


# -- ranges ---------------------------------------------------------------------
def arange(start, stop=None, step=None, dtype=None):
    """NumPy's arange: length ceil((stop - start) / step), values start + i*delta
    with delta = (start + step) - start in the result dtype, as NumPy fills."""
    start = _static_float(start, "arange", "start")
    stop = None if stop is None else _static_float(stop, "arange", "stop")
    step = 1 if step is None else _static_float(step, "arange", "step")
    if stop is None:
        start, stop = 0, start
    if step == 0:
        raise NbadZeroDivisionError("arange: step must not be zero (division by zero)")
    args = [np.asarray(v) for v in (start, stop, step)]
    dtype = _dtype_arg(dtype, np.result_type(*args))
    if dtype.kind in "iub" and all(a.dtype.kind in "iub" for a in args):
        length = max(0, -((int(start) - int(stop)) // int(step)))
    else:
        length = max(0, math.ceil((stop - start) / step))
    first = np.asarray(start, dtype=dtype)
    delta = np.asarray(np.asarray(start + step, dtype=dtype) - first, dtype=dtype)
    ramp = _iota(dtype, (length,))
    if delta != 1:
        ramp = _ew.multiply(ramp, delta[()])
    return ramp if first == 0 else _ew.add(ramp, first[()])


def _move_first_axis(x, axis, fn):
    ndim = len(shape_of(x))
    if not -ndim <= axis < ndim:
        raise NbadValueError(f"{fn}: axis {axis} is out of range for a result of rank {ndim}")
    axis %= ndim
    if axis == 0:
        return x
    perm = tuple(range(1, axis + 1)) + (0,) + tuple(range(axis + 1, ndim))
    return bind(transpose_p, x, permutation=perm)


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """NumPy's linspace; start/stop may be arrays or tracers (differentiable).
    The last sample is exactly `stop` when endpoint is set, as in NumPy."""
    num = _static_int(num, "linspace", "num")
    if num < 0:
        raise NbadValueError(f"linspace: num must be non-negative, got {num}")
    start, stop = _operand(start), _operand(stop)
    # NumPy's result_type(start, stop, float(num)): always inexact.
    compute = result_dtype(aval_of(start), aval_of(stop), ShapedArray((), np.float64, True))[0]
    bshape = tuple(np.broadcast_shapes(shape_of(start), shape_of(stop)))
    start, stop = (broadcast_to(convert(v, compute), bshape) for v in (start, stop))
    div = num - 1 if endpoint else num
    body = num - 1 if endpoint and num > 1 else num
    delta = _ew.subtract(stop, start)
    step = _ew.divide(delta, div) if div > 0 else full(bshape, np.nan, compute)
    ramp = _iota(compute, (body,) + bshape)
    y = _ew.add(_ew.multiply(ramp, step), start) if div > 0 else _ew.add(ramp, start)
    if endpoint and num > 1:
        y = bind(concatenate_p, y, bind(reshape_p, stop, new_sizes=(1,) + bshape), dimension=0)
    y = _move_first_axis(y, axis, "linspace")
    out_dtype = _dtype_arg(dtype, compute)
    if out_dtype.kind in "iu":
        y = _ew.floor(y)
    y = convert(y, out_dtype)
    return (y, step) if retstep else y


def logspace(start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
    y = linspace(start, stop, num=num, endpoint=endpoint, axis=axis)
    out = _ew.power(base, y)
    return out if dtype is None else convert(out, _dtype_arg(dtype, None))


# -- matrices -------------------------------------------------------------------
def _diagonal_mask(n, m, k, fn, compare):
    """compare(row + k, col) over an (n, m) grid of iotas: eye, tri."""
    n = _static_int(n, fn, "N")
    m = n if m is None else _static_int(m, fn, "M")
    k = _static_int(k, fn, "k")
    rows = _iota(np.int64, (n, m), 0)
    cols = _iota(np.int64, (n, m), 1)
    return compare(rows if k == 0 else _ew.add(rows, k), cols)


def eye(N, M=None, k=0, dtype=None):
    return convert(_diagonal_mask(N, M, k, "eye", _ew.equal), _dtype_arg(dtype, np.float64))


def identity(n, dtype=None):
    return eye(n, dtype=dtype)


def tri(N, M=None, k=0, dtype=None):
    """Ones at and below the k-th diagonal."""
    return convert(_diagonal_mask(N, M, k, "tri", _ew.greater_equal), _dtype_arg(dtype, np.float64))


def _matrix_operand(m, fn):
    m = _operand(m)
    if len(shape_of(m)) < 2:
        raise NbadValueError(f"{fn}: input must be at least 2-D, got shape {shape_of(m)}; "
                             "for a vector v use {fn}(v[None, :]) or build the matrix first.")
    return m


def tril(m, k=0):
    """Zeros above the k-th diagonal of the last two axes."""
    m = _matrix_operand(m, "tril")
    n_rows, n_cols = shape_of(m)[-2:]
    return _ew.where(tri(n_rows, n_cols, k, dtype=np.bool_), m, np.zeros((), dtype_of(m))[()])


def triu(m, k=0):
    """Zeros below the k-th diagonal of the last two axes."""
    m = _matrix_operand(m, "triu")
    n_rows, n_cols = shape_of(m)[-2:]
    return _ew.where(tri(n_rows, n_cols, k - 1, dtype=np.bool_), np.zeros((), dtype_of(m))[()], m)


def meshgrid(*xi, copy=True, sparse=False, indexing="xy"):
    """Coordinate arrays; `copy` is accepted for compatibility (nbad arrays are
    immutable, so views are never a hazard)."""
    if indexing not in ("xy", "ij"):
        raise NbadValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    xs = [_operand(x) for x in xi]
    sizes = [math.prod(shape_of(x)) for x in xs]
    ndim = len(xs)
    if indexing == "xy" and ndim > 1:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    outs = []
    for i, x in enumerate(xs):
        pos = {0: 1, 1: 0}.get(i, i) if indexing == "xy" and ndim > 1 else i
        shape = tuple(sizes[pos] if j == pos else 1 for j in range(ndim))
        x = bind(reshape_p, x, new_sizes=shape) if shape_of(x) != shape else x
        outs.append(x if sparse else broadcast_to(x, tuple(sizes)))
    return outs


# -- dtypes -------------------------------------------------------------------------
class _ScalarMeta(type):
    """jnp.float32 and friends: usable as a dtype (np.dtype(jnp.float32) works
    through the `dtype` attribute) and callable to convert a value, tracers
    included, as in JAX."""

    def __call__(cls, x):
        return asarray(x, dtype=cls.dtype)

    def __instancecheck__(cls, instance):
        return isinstance(instance, cls.dtype.type)

    def __eq__(cls, other):
        if isinstance(other, (_ScalarMeta, type, np.dtype)):
            return cls.dtype == np.dtype(other)
        return NotImplemented

    def __hash__(cls):
        return hash(cls.dtype.type)

    def __repr__(cls):
        return f"nbad.numpy.{cls.__name__}"


def _scalar_type(np_type, name=None):
    return _ScalarMeta(name or np.dtype(np_type).name, (object,), {"dtype": np.dtype(np_type)})


bool_ = _scalar_type(np.bool_, "bool_")
int8, int16 = _scalar_type(np.int8), _scalar_type(np.int16)
int32, int64 = _scalar_type(np.int32), _scalar_type(np.int64)
uint8, uint16 = _scalar_type(np.uint8), _scalar_type(np.uint16)
uint32, uint64 = _scalar_type(np.uint32), _scalar_type(np.uint64)
float32, float64 = _scalar_type(np.float32), _scalar_type(np.float64)
complex64, complex128 = _scalar_type(np.complex64), _scalar_type(np.complex128)
int_, uint, complex_ = int64, uint64, complex128

generic, number, inexact, floating = np.generic, np.number, np.inexact, np.floating
complexfloating, integer = np.complexfloating, np.integer
signedinteger, unsignedinteger = np.signedinteger, np.unsignedinteger

pi, e, inf, nan, euler_gamma = np.pi, np.e, np.inf, np.nan, np.euler_gamma
newaxis = None

finfo, iinfo, dtype, promote_types = np.finfo, np.iinfo, np.dtype, np.promote_types
issubdtype, can_cast = np.issubdtype, np.can_cast


def result_type(*args):
    """NumPy's promotion with weak Python scalars; accepts tracers, arrays and dtypes."""
    if not args:
        raise NbadTypeError("result_type: at least one array or dtype is required")
    avals = []
    for a in args:
        if isinstance(a, (Tracer, np.ndarray, np.generic, list, tuple)) or type(a) in _PY_SCALARS:
            avals.append(_like_aval(a))
        else:
            avals.append(ShapedArray((), np.dtype(a)))
    return result_dtype(*avals)[0]


bool = bool_  # noqa: A001  jnp.bool, as in JAX; shadows the builtin only from here on
