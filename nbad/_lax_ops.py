"""jax.lax's primitive operations (re-exported by nbad.lax): thin binders of
nbad's primitives with lax's rules instead of NumPy's.

  * no promotion: array operands must share one dtype (TypeError otherwise, as
    JAX); a Python scalar takes the array's dtype when it is of the same kind
    (a float with float arrays, an int with int arrays);
  * no broadcasting beyond scalars: operands have one shape, or are 0-d;
  * lax's arithmetic: div truncates integers toward zero, rem has the sign of
    the dividend (C's fmod), round rounds half away from zero by default.

Precision is accepted (and ignored: nbad computes in the operands' dtype) by
dot, dot_general and jnp.dot/matmul/einsum.
"""
from __future__ import annotations

import builtins
import enum

import numpy as np

from nbad.core.trace import bind
from nbad.errors import NbadTypeError, ShapeError
from nbad.numpy._core import as_operand, aval_of, convert
from nbad.rules import elementwise as ew
from nbad.rules import reduce as red
from nbad.rules import shape as sp
from nbad.rules import special as special_rules
from nbad.rules.linalg import dot_general_p

__all__ = [
    "Precision", "abs", "acos", "acosh", "add", "argmax", "argmin", "asin", "asinh", "atan",
    "atan2", "atanh", "bitwise_and", "bitwise_not", "bitwise_or", "bitwise_xor", "broadcast",
    "broadcast_in_dim", "cbrt", "ceil", "clamp", "concatenate", "conj", "convert_element_type",
    "cos", "cosh", "cumsum", "cumprod", "cummax", "cummin", "digamma", "div", "dot", "dot_general",
    "eq", "erf", "erf_inv", "erfc", "exp", "exp2", "expand_dims", "expm1", "floor", "full",
    "ge", "gt", "igamma", "igammac", "imag", "integer_pow", "iota", "is_finite", "le", "lgamma",
    "log", "log1p", "logistic", "lt", "max", "min", "mul", "ne", "neg", "pad", "polygamma", "pow",
    "real", "reduce_and", "reduce_max", "reduce_min", "reduce_or", "reduce_prod", "reduce_sum",
    "rem", "reshape", "rev", "round", "rsqrt", "shift_left", "shift_right_arithmetic",
    "sign", "sin", "sinh", "slice", "sqrt", "square", "squeeze", "sub", "tan", "tanh",
    "transpose", "zeros_like_array", "RoundingMethod", "conv_general_dilated", "conv",
    "conv_with_general_padding", "ConvDimensionNumbers", "conv_dimension_numbers", "padtype_to_pads",
]


class Precision(enum.Enum):
    """lax.Precision: accepted by the products, which always compute in the operands' dtype."""
    DEFAULT = 0
    HIGH = 1
    HIGHEST = 2

    def __str__(self):
        return self.name


class RoundingMethod(enum.IntEnum):
    AWAY_FROM_ZERO = 0
    TO_NEAREST_EVEN = 1


# The dtype kinds a Python scalar may take on.
_SCALAR_FITS = {bool: "b", int: "iu", float: "fc", complex: "c"}


def _operands(name, *args, elementwise=True):
    """lax's operand rules: one dtype, Python scalars of a fitting kind adopt it;
    elementwise operations also need one shape (or 0-d operands)."""
    arrays = [as_operand(a) for a in args if type(a) not in _SCALAR_FITS]
    dtypes = [aval_of(a).dtype for a in arrays]
    if len(set(dtypes)) > 1:
        raise NbadTypeError(f"lax.{name} requires arguments to have the same dtypes, got "
                            f"{', '.join(d.name for d in dtypes)}. (Tip: nbad.numpy.{name} is a "
                            "similar function that promotes its inputs.)")
    dtype = dtypes[0] if dtypes else np.result_type(*[type(a) for a in args])
    out = []
    for a in args:
        if type(a) in _SCALAR_FITS:
            if dtype.kind not in _SCALAR_FITS[type(a)]:
                raise NbadTypeError(f"lax.{name} requires arguments to have the same dtypes, got "
                                    f"{dtype.name} and a Python {type(a).__name__}")
            a = convert(a, dtype)
        else:
            a = as_operand(a)
        out.append(a)
    shapes = {aval_of(a).shape for a in out} - {()}
    if elementwise and len(shapes) > 1:
        raise ShapeError(f"{name} got incompatible shapes for broadcasting: "
                         f"{', '.join(str(aval_of(a).shape) for a in out)}.")
    return out


def _lax(name, prim):
    def fn(*args):
        return bind(prim, *_operands(name, *args))

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"lax.{name}: the {prim.name} primitive (operands of one dtype and shape)."
    return fn


add, sub, mul = _lax("add", ew.add_p), _lax("sub", ew.sub_p), _lax("mul", ew.mul_p)
neg, sign, abs = _lax("neg", ew.neg_p), _lax("sign", ew.sign_p), _lax("abs", ew.abs_p)  # noqa: A001
max, min = _lax("max", ew.maximum_p), _lax("min", ew.minimum_p)  # noqa: A001
pow = _lax("pow", ew.pow_p)  # noqa: A001
exp, exp2, expm1 = _lax("exp", ew.exp_p), _lax("exp2", ew.exp2_p), _lax("expm1", ew.expm1_p)
log, log1p = _lax("log", ew.log_p), _lax("log1p", ew.log1p_p)
sqrt, rsqrt, cbrt = _lax("sqrt", ew.sqrt_p), _lax("rsqrt", ew.rsqrt_p), _lax("cbrt", ew.cbrt_p)
sin, cos, tan = _lax("sin", ew.sin_p), _lax("cos", ew.cos_p), _lax("tan", ew.tan_p)
asin, acos, atan = _lax("asin", ew.asin_p), _lax("acos", ew.acos_p), _lax("atan", ew.atan_p)
atan2 = _lax("atan2", ew.atan2_p)
sinh, cosh, tanh = _lax("sinh", ew.sinh_p), _lax("cosh", ew.cosh_p), _lax("tanh", ew.tanh_p)
asinh, acosh, atanh = _lax("asinh", ew.asinh_p), _lax("acosh", ew.acosh_p), _lax("atanh", ew.atanh_p)
logistic, erf = _lax("logistic", ew.logistic_p), _lax("erf", ew.erf_p)
erfc, erf_inv = _lax("erfc", special_rules.erfc_p), _lax("erf_inv", special_rules.erfinv_p)
lgamma, digamma = _lax("lgamma", special_rules.lgamma_p), _lax("digamma", special_rules.digamma_p)
polygamma = _lax("polygamma", special_rules.polygamma_p)
igamma, igammac = _lax("igamma", special_rules.igamma_p), _lax("igammac", special_rules.igammac_p)
floor, ceil = _lax("floor", ew.floor_p), _lax("ceil", ew.ceil_p)
is_finite = _lax("is_finite", ew.is_finite_p)
eq, ne, lt = _lax("eq", ew.eq_p), _lax("ne", ew.ne_p), _lax("lt", ew.lt_p)
le, gt, ge = _lax("le", ew.le_p), _lax("gt", ew.gt_p), _lax("ge", ew.ge_p)
bitwise_and, bitwise_or = _lax("bitwise_and", ew.and_p), _lax("bitwise_or", ew.or_p)
bitwise_xor, bitwise_not = _lax("bitwise_xor", ew.xor_p), _lax("bitwise_not", ew.not_p)
shift_left = _lax("shift_left", ew.shift_left_p)
shift_right_arithmetic = _lax("shift_right_arithmetic", ew.shift_right_p)
real, imag, conj = _lax("real", ew.real_p), _lax("imag", ew.imag_p), _lax("conj", ew.conj_p)


def square(x):
    x, = _operands("square", x)
    return bind(ew.integer_pow_p, x, y=2)


def integer_pow(x, y: int):
    x, = _operands("integer_pow", x)
    return bind(ew.integer_pow_p, x, y=int(y))


def div(x, y):
    """x / y; integers are divided with truncation toward zero (C's division)."""
    x, y = _operands("div", x, y)
    if aval_of(x).dtype.kind in "fc":
        return bind(ew.div_p, x, y)
    import nbad.numpy as jnp

    quotient = jnp.floor_divide(x, y)
    # floor and truncation differ where the remainder is nonzero and the signs differ
    adjust = jnp.logical_and(jnp.not_equal(jnp.remainder(x, y), 0), jnp.not_equal(jnp.less(x, 0), jnp.less(y, 0)))
    return convert(jnp.where(adjust, quotient + 1, quotient), aval_of(x).dtype)


def rem(x, y):
    """The remainder of div: the sign of x (C's fmod)."""
    import nbad.numpy as jnp

    x, y = _operands("rem", x, y)
    return convert(jnp.fmod(x, y), aval_of(x).dtype)


def round(x, rounding_method=RoundingMethod.AWAY_FROM_ZERO):  # noqa: A001
    x, = _operands("round", x)
    if int(rounding_method) == RoundingMethod.TO_NEAREST_EVEN:
        return bind(ew.round_p, x)
    import nbad.numpy as jnp

    return jnp.copysign(jnp.floor(jnp.add(jnp.abs(x), 0.5)), x) if aval_of(x).dtype.kind == "f" else x


def clamp(min, x, max):  # noqa: A002
    """x limited to [min, max] (min and max: scalars or x's shape)."""
    lo, x, hi = _operands("clamp", min, x, max)
    return bind(ew.minimum_p, bind(ew.maximum_p, x, lo), hi)


def convert_element_type(operand, new_dtype):
    return convert(as_operand(operand), np.dtype(new_dtype))


def zeros_like_array(x):
    import nbad.numpy as jnp

    return jnp.zeros_like(x)


# -- structural ----------------------------------------------------------------------
def broadcast_in_dim(operand, shape, broadcast_dimensions, out_sharding=None):
    return bind(sp.broadcast_in_dim_p, as_operand(operand), shape=tuple(shape),
                broadcast_dimensions=tuple(broadcast_dimensions))


def broadcast(operand, sizes):
    """operand with the leading dimensions `sizes` added."""
    operand = as_operand(operand)
    ndim = aval_of(operand).ndim
    return broadcast_in_dim(operand, tuple(sizes) + aval_of(operand).shape,
                            tuple(range(len(sizes), len(sizes) + ndim)))


def reshape(operand, new_sizes, dimensions=None, out_sharding=None):
    operand = as_operand(operand)
    if dimensions is not None:
        operand = transpose(operand, dimensions)
    return bind(sp.reshape_p, operand, new_sizes=tuple(int(d) for d in new_sizes))


def transpose(operand, permutation):
    return bind(sp.transpose_p, as_operand(operand), permutation=tuple(permutation))


def squeeze(array, dimensions):
    array = as_operand(array)
    ndim = aval_of(array).ndim
    return bind(sp.squeeze_p, array, dimensions=tuple(sorted(d % ndim for d in dimensions)))


def expand_dims(array, dimensions):
    array = as_operand(array)
    ndim = aval_of(array).ndim + len(dimensions)
    return bind(sp.expand_dims_p, array, dimensions=tuple(sorted(d % ndim for d in dimensions)))


def concatenate(operands, dimension):
    operands = _operands("concatenate", *operands, elementwise=False)
    return bind(sp.concatenate_p, *operands, dimension=int(dimension))


def slice(operand, start_indices, limit_indices, strides=None):  # noqa: A001
    operand = as_operand(operand)
    strides = (1,) * len(start_indices) if strides is None else tuple(strides)
    return bind(sp.slice_p, operand, start_indices=tuple(start_indices),
                limit_indices=tuple(limit_indices), strides=strides)


def rev(operand, dimensions):
    return bind(sp.rev_p, as_operand(operand), dimensions=tuple(dimensions))


def pad(operand, padding_value, padding_config):
    """Pad with (low, high, interior) per dimension."""
    operand, padding_value = _operands("pad", operand, padding_value, elementwise=False)
    return bind(sp.pad_p, operand, padding_value,
                padding_config=tuple(tuple(int(v) for v in c) for c in padding_config))


def iota(dtype, size):
    return bind(sp.iota_p, dtype=np.dtype(dtype), shape=(int(size),), dimension=0)


def full(shape, fill_value, dtype=None):
    import nbad.numpy as jnp

    return jnp.full(shape, fill_value, dtype)


# -- products and reductions -----------------------------------------------------------
def dot_general(lhs, rhs, dimension_numbers, precision=None, preferred_element_type=None,
                out_sharding=None):
    lhs, rhs = _operands("dot_general", lhs, rhs, elementwise=False)
    (lc, rc), (lb, rb) = dimension_numbers
    numbers = ((tuple(lc), tuple(rc)), (tuple(lb), tuple(rb)))
    out = bind(dot_general_p, lhs, rhs, dimension_numbers=numbers)
    return out if preferred_element_type is None else convert(out, np.dtype(preferred_element_type))


def dot(lhs, rhs, precision=None, preferred_element_type=None, out_sharding=None):
    """Vector/matrix products: contracts lhs's last axis with rhs's first."""
    lhs, rhs = _operands("dot", lhs, rhs, elementwise=False)
    lnd, rnd = aval_of(lhs).ndim, aval_of(rhs).ndim
    if not (1 <= lnd <= 2 and 1 <= rnd <= 2):
        raise ShapeError(f"dot: operands must be vectors or matrices, got shapes "
                         f"{aval_of(lhs).shape} and {aval_of(rhs).shape}")
    return dot_general(lhs, rhs, (((lnd - 1,), (0,)), ((), ())),
                       preferred_element_type=preferred_element_type)


def _reduce(prim):
    def fn(operand, axes):
        operand = as_operand(operand)
        ndim = aval_of(operand).ndim
        return bind(prim, operand, axes=tuple(sorted(a % ndim for a in axes)))

    fn.__name__ = fn.__qualname__ = prim.name
    return fn


reduce_sum, reduce_prod = _reduce(red.reduce_sum_p), _reduce(red.reduce_prod_p)
reduce_max, reduce_min = _reduce(red.reduce_max_p), _reduce(red.reduce_min_p)
reduce_and, reduce_or = _reduce(red.reduce_and_p), _reduce(red.reduce_or_p)


def _arg(prim):
    def fn(operand, axis, index_dtype):
        return bind(prim, as_operand(operand), axes=(int(axis),), index_dtype=np.dtype(index_dtype))

    fn.__name__ = fn.__qualname__ = prim.name
    return fn


argmax, argmin = _arg(red.argmax_p), _arg(red.argmin_p)


def _cumulative(prim):
    def fn(operand, axis=0, reverse=False):
        operand = as_operand(operand)
        return bind(prim, operand, axis=int(axis) % builtins.max(aval_of(operand).ndim, 1),
                    reverse=bool(reverse))

    fn.__name__ = fn.__qualname__ = prim.name
    return fn


cumsum, cumprod = _cumulative(red.cumsum_p), _cumulative(red.cumprod_p)
cummax, cummin = _cumulative(red.cummax_p), _cumulative(red.cummin_p)


from nbad._lax_conv import (  # noqa: E402
    ConvDimensionNumbers, conv, conv_dimension_numbers, conv_general_dilated,
    conv_with_general_padding, padtype_to_pads)

# Public under nbad.lax (as JAX's functions are under jax.lax): reprs, pickling and
# README's table (ci/api_table.py) name them there.
for _name in __all__:
    globals()[_name].__module__ = "nbad.lax"
del _name
