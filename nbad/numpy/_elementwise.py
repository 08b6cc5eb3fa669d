"""Elementwise nbad.numpy functions: NumPy's signatures and dtype rules, built
from the elementwise primitives (nbad/rules/elementwise.py).

Each function promotes its operands by NumPy's rules (NEP 50: Python scalars
are weak, `float32_array * 2.0` is float32), broadcasts them and binds
primitives, so it works eagerly, under jit and under grad alike; none calls
NumPy on a traced value. Functions NumPy has no ufunc-sized primitive for
(hypot, copysign, fmod, heaviside, sinc, nan_to_num ...) are compositions.

Result dtypes equal NumPy's, with one exception: where NumPy returns float16
(float-only functions of bool/int8/uint8 operands, e.g. np.exp(int8) or
np.arctan2(int8, int8)), nbad returns float32, because Numba has no float16.

Known differences from NumPy, all at edge values:
  * signbit (and copysign, which uses it) reads a NaN's sign as positive;
  * integer fmod of the most negative integer is off (|MIN| wraps).
"""
from __future__ import annotations

import numpy as np

from nbad.core.trace import Tracer, bind, wrap_eager
from nbad.errors import NbadTypeError, NbadValueError
from nbad.numpy._core import (as_operand, broadcast_shapes, broadcast_to, convert, dtype_of,
                              elementwise_call, promote_dtypes, shape_of)
from nbad.rules import elementwise as ew

__all__ = [
    "add", "subtract", "multiply", "divide", "true_divide", "floor_divide", "mod", "remainder",
    "fmod", "power", "pow", "float_power", "negative", "positive", "abs", "absolute", "fabs",
    "sign", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "cbrt", "square",
    "reciprocal", "sin", "cos", "tan", "arcsin", "arccos", "arctan", "arctan2", "sinh", "cosh",
    "tanh", "arcsinh", "arccosh", "arctanh", "asin", "acos", "atan", "atan2", "asinh", "acosh",
    "atanh", "deg2rad", "rad2deg", "degrees", "radians", "hypot", "floor", "ceil", "round",
    "around", "rint", "trunc", "fix", "maximum", "minimum", "fmax", "fmin", "clip", "where",
    "equal", "not_equal", "less", "less_equal", "greater", "greater_equal", "logical_and",
    "logical_or", "logical_not", "logical_xor", "bitwise_and", "bitwise_or", "bitwise_xor",
    "bitwise_not", "bitwise_invert", "invert", "left_shift", "right_shift", "bitwise_left_shift",
    "bitwise_right_shift", "isnan", "isinf", "isfinite", "signbit", "copysign", "nan_to_num",
    "real", "imag", "conj", "conjugate", "heaviside", "sinc",
]

# Integer exponents up to this size become integer_pow (a multiplication chain:
# fast, and its derivative needs no log); larger ones accumulate rounding.
_MAX_INTEGER_POW = 8


# -- dtype helpers ----------------------------------------------------------------

def _promoted(*xs) -> np.dtype:
    return promote_dtypes(*[as_operand(x) for x in xs])[0]


def _float_dtype(*xs) -> np.dtype:
    """NumPy's result dtype for a float-only ufunc (np.sqrt, np.arctan2): integers
    become the smallest float holding them, float16 becoming float32."""
    dtype = _promoted(*xs)
    if dtype.kind in "biu":
        dtype = np.result_type(dtype, np.float16)
    return np.dtype(np.float32) if dtype == np.float16 else dtype


def _int8_if_bool(dtype) -> np.dtype:
    """NumPy has no bool loop for //, %, **, shifts: it computes them in int8."""
    return np.dtype(np.int8) if dtype.kind == "b" else dtype


def _no_bool(fn_name: str, *xs):
    if _promoted(*xs).kind == "b":
        raise NbadTypeError(
            f"nbad.numpy.{fn_name} does not support bool operands, as in NumPy; use "
            "logical_xor / logical_not (or ^, ~) for booleans, or convert with .astype(int)."
        )


def _same(x):
    """x unchanged (an Array when eager): ufuncs that are the identity on a dtype."""
    x = as_operand(x)
    return x if isinstance(x, Tracer) else wrap_eager(np.asarray(x))


def _astype(x, dtype):
    """convert(), with an Array result when eager, like every function here."""
    return _same(convert(as_operand(x), dtype))


def _zeros_like(x):
    """Zeros of x's shape and dtype, from x: x < x is False even for NaN."""
    return _astype(bind(ew.lt_p, x, x), dtype_of(x))


def _call(prim, name, *xs, dtype=None, **params):
    return elementwise_call(prim, name, *xs, dtype=dtype, **params)


def _unary_float(prim, name):
    """A float-only unary ufunc (np.exp): integers convert to float first."""

    def fn(x, /):
        return _call(prim, name, x, dtype=_float_dtype(x))

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"NumPy's {name}, elementwise (integer operands are converted to float)."
    return fn


# -- arithmetic ---------------------------------------------------------------------

def add(x1, x2, /):
    prim = ew.or_p if _promoted(x1, x2).kind == "b" else ew.add_p  # NumPy: bool + is `or`
    return _call(prim, "add", x1, x2)


def subtract(x1, x2, /):
    _no_bool("subtract", x1, x2)
    return _call(ew.sub_p, "subtract", x1, x2)


def multiply(x1, x2, /):
    prim = ew.and_p if _promoted(x1, x2).kind == "b" else ew.mul_p  # NumPy: bool * is `and`
    return _call(prim, "multiply", x1, x2)


def divide(x1, x2, /):
    """True division; integer operands divide in float64, as in NumPy."""
    return elementwise_call(ew.div_p, "divide", x1, x2, to_inexact=True)


true_divide = divide


def floor_divide(x1, x2, /):
    return _call(ew.floordiv_p, "floor_divide", x1, x2, dtype=_int8_if_bool(_promoted(x1, x2)))


def remainder(x1, x2, /):
    return _call(ew.rem_p, "remainder", x1, x2, dtype=_int8_if_bool(_promoted(x1, x2)))


mod = remainder


def fmod(x1, x2, /):
    """C's fmod (the sign of x1): the remainder of |x1| by |x2|, with x1's sign."""
    dtype = _int8_if_bool(_promoted(x1, x2))
    x1, x2 = convert(as_operand(x1), dtype), convert(as_operand(x2), dtype)
    r = remainder(abs(x1), abs(x2))
    return where(less(x1, 0), negative(r), r)


def power(x1, x2, /):
    dtype = _int8_if_bool(_promoted(x1, x2))
    if type(x2) is int and -_MAX_INTEGER_POW <= x2 <= _MAX_INTEGER_POW:
        return _call(ew.integer_pow_p, "power", x1, dtype=dtype, y=x2)
    return _call(ew.pow_p, "power", x1, x2, dtype=dtype)


pow = power


def float_power(x1, x2, /):
    dtype = np.dtype(np.complex128 if _promoted(x1, x2).kind == "c" else np.float64)
    return _call(ew.pow_p, "float_power", x1, x2, dtype=dtype)


def negative(x, /):
    _no_bool("negative", x)
    return _call(ew.neg_p, "negative", x)


def positive(x, /):
    _no_bool("positive", x)
    return _same(x)


def absolute(x, /):
    return _same(x) if _promoted(x).kind == "b" else _call(ew.abs_p, "absolute", x)


abs = absolute


def fabs(x, /):
    if _promoted(x).kind == "c":
        raise NbadTypeError("nbad.numpy.fabs does not support complex operands (as in NumPy); "
                            "use abs for the magnitude.")
    return _call(ew.abs_p, "fabs", x, dtype=_float_dtype(x))


def sign(x, /):
    """-1, 0 or 1 (NaN for NaN); x/|x| for complex x, as in NumPy 2."""
    _no_bool("sign", x)
    x = as_operand(x)
    if dtype_of(x).kind != "c":
        return _call(ew.sign_p, "sign", x)
    magnitude = convert(absolute(x), dtype_of(x))
    return where(equal(x, 0), 0, divide(x, where(equal(x, 0), 1, magnitude)))


def square(x, /):
    return _call(ew.integer_pow_p, "square", x, dtype=_int8_if_bool(_promoted(x)), y=2)


def reciprocal(x, /):
    """1/x; for integers C's truncating 1/x (±1 for x = ±1, else 0), as in NumPy."""
    dtype = _int8_if_bool(_promoted(x))
    if dtype.kind in "fc":
        return _call(ew.div_p, "reciprocal", 1, x, dtype=dtype)
    x = convert(as_operand(x), dtype)
    return where(equal(absolute(x), 1), x, 0)


exp = _unary_float(ew.exp_p, "exp")
exp2 = _unary_float(ew.exp2_p, "exp2")
expm1 = _unary_float(ew.expm1_p, "expm1")
log = _unary_float(ew.log_p, "log")
log2 = _unary_float(ew.log2_p, "log2")
log10 = _unary_float(ew.log10_p, "log10")
log1p = _unary_float(ew.log1p_p, "log1p")
sqrt = _unary_float(ew.sqrt_p, "sqrt")
cbrt = _unary_float(ew.cbrt_p, "cbrt")
sin = _unary_float(ew.sin_p, "sin")
cos = _unary_float(ew.cos_p, "cos")
tan = _unary_float(ew.tan_p, "tan")
arcsin = asin = _unary_float(ew.asin_p, "arcsin")
arccos = acos = _unary_float(ew.acos_p, "arccos")
arctan = atan = _unary_float(ew.atan_p, "arctan")
sinh = _unary_float(ew.sinh_p, "sinh")
cosh = _unary_float(ew.cosh_p, "cosh")
tanh = _unary_float(ew.tanh_p, "tanh")
arcsinh = asinh = _unary_float(ew.asinh_p, "arcsinh")
arccosh = acosh = _unary_float(ew.acosh_p, "arccosh")
arctanh = atanh = _unary_float(ew.atanh_p, "arctanh")
rint = _unary_float(ew.round_p, "rint")


def arctan2(x1, x2, /):
    return _call(ew.atan2_p, "arctan2", x1, x2, dtype=_float_dtype(x1, x2))


atan2 = arctan2


def deg2rad(x, /):
    return multiply(convert(as_operand(x), _float_dtype(x)), np.pi / 180)


def rad2deg(x, /):
    return multiply(convert(as_operand(x), _float_dtype(x)), 180 / np.pi)


radians, degrees = deg2rad, rad2deg


def hypot(x1, x2, /):
    """sqrt(x1**2 + x2**2) without overflow: m*sqrt(1 + (n/m)**2), m = max(|x1|, |x2|)."""
    dtype = _float_dtype(x1, x2)
    a, b = absolute(convert(as_operand(x1), dtype)), absolute(convert(as_operand(x2), dtype))
    big, small = maximum(a, b), minimum(a, b)
    ratio = divide(small, where(equal(big, 0), 1, big))
    h = multiply(big, sqrt(add(1, multiply(ratio, ratio))))
    return where(logical_or(isinf(a), isinf(b)), np.inf, h)  # hypot(inf, nan) is inf


# -- rounding -------------------------------------------------------------------------

def _round_float(prim, name):
    def fn(x, /):
        return _same(x) if _promoted(x).kind in "biu" else _call(prim, name, x)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"NumPy's {name}; integers and bools are returned unchanged, as in NumPy."
    return fn


floor = _round_float(ew.floor_p, "floor")
ceil = _round_float(ew.ceil_p, "ceil")


def trunc(x, /):
    if _promoted(x).kind in "biu":
        return _same(x)
    return where(less(x, 0), ceil(x), floor(x))


fix = trunc


def round(a, decimals=0, out=None):
    """Round half to even at `decimals` digits: rint(a * 10**decimals) / 10**decimals,
    computed as NumPy does (so the same values round the same way)."""
    if out is not None:
        raise NbadValueError("nbad.numpy.round: out= is not supported (arrays are immutable).")
    dtype = _promoted(a)
    if dtype.kind in "iu":
        if decimals >= 0:
            return _same(a)
        return _astype(round(convert(as_operand(a), np.float64), decimals), dtype)
    a = convert(as_operand(a), _float_dtype(a))
    if decimals == 0:
        return rint(a)
    scale = 10.0 ** (decimals if decimals > 0 else -decimals)
    if decimals > 0:
        return divide(rint(multiply(a, scale)), scale)
    return multiply(rint(divide(a, scale)), scale)


around = round


# -- maximum, minimum, clip, where --------------------------------------------------------

def maximum(x1, x2, /):
    return _call(ew.maximum_p, "maximum", x1, x2)


def minimum(x1, x2, /):
    return _call(ew.minimum_p, "minimum", x1, x2)


def fmax(x1, x2, /):
    """maximum ignoring NaN: the other operand wins over a NaN."""
    return where(isnan(x2), x1, where(isnan(x1), x2, maximum(x1, x2)))


def fmin(x1, x2, /):
    return where(isnan(x2), x1, where(isnan(x1), x2, minimum(x1, x2)))


def clip(a, a_min=None, a_max=None, /, *, min=None, max=None):
    """maximum(a, a_min) then minimum(., a_max); min=/max= are NumPy 2's spellings."""
    lo = a_min if min is None else min
    hi = a_max if max is None else max
    if lo is None and hi is None:
        raise NbadValueError("nbad.numpy.clip: give a_min (min=) or a_max (max=), or both.")
    out = a if lo is None else maximum(a, lo)
    return out if hi is None else minimum(out, hi)


def _where_one_argument_message(x, y) -> str:
    import nbad.numpy as jnp

    if x is not None or y is not None:
        return "nbad.numpy.where: give both x and y, or neither: where(condition, x, y)."
    # The porting work may add nonzero; the message follows what exists.
    nonzero = ("nbad.numpy.nonzero(condition) outside jit (under jit with a static size=)"
               if hasattr(jnp, "nonzero") else
               "numpy.nonzero(numpy.asarray(condition)) outside jit (nbad.numpy has no nonzero)")
    return ("nbad.numpy.where(condition) with one argument returns the indices where condition "
            "is true, an array whose shape depends on the data, which nbad does not support. "
            f"Use where(condition, x, y) to select values, or {nonzero}.")


def where(condition, x=None, y=None, /):
    """x where condition is true, else y; all three broadcast, x and y promote."""
    if x is None or y is None:
        raise NbadValueError(_where_one_argument_message(x, y))
    condition, x, y = as_operand(condition), as_operand(x), as_operand(y)
    dtype = _promoted(x, y)
    shape = broadcast_shapes("where", shape_of(condition), shape_of(x), shape_of(y))
    ops = [convert(condition, bool), convert(x, dtype), convert(y, dtype)]
    ops = [o if shape_of(o) in ((), shape) else broadcast_to(o, shape) for o in ops]
    return bind(ew.select_p, *ops)


# -- comparisons and logic ------------------------------------------------------------------

def _binary(prim, name, dtype_rule=None):
    def fn(x1, x2, /):
        dtype = None if dtype_rule is None else dtype_rule(x1, x2)
        return _call(prim, name, x1, x2, dtype=dtype)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"NumPy's {name}, elementwise with broadcasting."
    return fn


def _as_bool(*xs):
    return np.dtype(bool)


def _int_promoted(*xs):
    return _int8_if_bool(_promoted(*xs))


equal = _binary(ew.eq_p, "equal")
not_equal = _binary(ew.ne_p, "not_equal")
less = _binary(ew.lt_p, "less")
less_equal = _binary(ew.le_p, "less_equal")
greater = _binary(ew.gt_p, "greater")
greater_equal = _binary(ew.ge_p, "greater_equal")
logical_and = _binary(ew.and_p, "logical_and", _as_bool)
logical_or = _binary(ew.or_p, "logical_or", _as_bool)
logical_xor = _binary(ew.xor_p, "logical_xor", _as_bool)
bitwise_and = _binary(ew.and_p, "bitwise_and")
bitwise_or = _binary(ew.or_p, "bitwise_or")
bitwise_xor = _binary(ew.xor_p, "bitwise_xor")
left_shift = bitwise_left_shift = _binary(ew.shift_left_p, "left_shift", _int_promoted)
right_shift = bitwise_right_shift = _binary(ew.shift_right_p, "right_shift", _int_promoted)


def logical_not(x, /):
    return _call(ew.not_p, "logical_not", x, dtype=bool)


def invert(x, /):
    return _call(ew.not_p, "invert", x)


bitwise_not = bitwise_invert = invert


# -- floating-point classification and sign ----------------------------------------------------

def _classify(prim, name, for_integers):
    def fn(x, /):
        x = as_operand(x)
        if dtype_of(x).kind in "biu":
            return for_integers(x)
        return _call(prim, name, x)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"NumPy's {name} (a constant for integer and bool operands)."
    return fn


isnan = _classify(ew.is_nan_p, "isnan", lambda x: bind(ew.lt_p, x, x))
isinf = _classify(ew.is_inf_p, "isinf", lambda x: bind(ew.lt_p, x, x))
isfinite = _classify(ew.is_finite_p, "isfinite", lambda x: bind(ew.eq_p, x, x))


def signbit(x, /):
    """x < 0, and True for -0.0 (seen as 1/x < 0); a NaN's sign reads as positive."""
    x = as_operand(x)
    if dtype_of(x).kind in "biu":
        return less(x, 0) if dtype_of(x).kind == "i" else bind(ew.lt_p, x, x)
    x = convert(x, _float_dtype(x))
    negative_zero = logical_and(equal(x, 0), less(divide(1, x), 0))
    return logical_or(less(x, 0), negative_zero)


def copysign(x1, x2, /):
    dtype = _float_dtype(x1, x2)
    magnitude = absolute(convert(as_operand(x1), dtype))
    return where(signbit(convert(as_operand(x2), dtype)), negative(magnitude), magnitude)


def nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    """NaN -> nan, inf -> posinf (default: the largest finite value), -inf -> neginf."""
    x = as_operand(x)
    dtype = dtype_of(x)
    if dtype.kind in "biu":
        return _same(x)
    if dtype.kind == "c":
        parts = [nan_to_num(p, copy, nan, posinf, neginf) for p in (real(x), imag(x))]
        return add(convert(parts[0], dtype), multiply(convert(parts[1], dtype), 1j))
    big = float(np.finfo(dtype).max)
    x = where(isnan(x), nan, x)
    x = where(equal(x, np.inf), big if posinf is None else posinf, x)
    return where(equal(x, -np.inf), -big if neginf is None else neginf, x)


# -- complex parts ------------------------------------------------------------------------------

def real(val, /):
    val = as_operand(val)
    return bind(ew.real_p, val) if dtype_of(val).kind == "c" else _same(val)


def imag(val, /):
    val = as_operand(val)
    return bind(ew.imag_p, val) if dtype_of(val).kind == "c" else _zeros_like(val)


def conjugate(x, /):
    x = as_operand(x)
    if dtype_of(x).kind == "c":
        return bind(ew.conj_p, x)
    return _astype(x, np.int8) if dtype_of(x).kind == "b" else _same(x)


conj = conjugate


# -- other ufuncs ---------------------------------------------------------------------------------

def heaviside(x1, x2, /):
    """0 for x1 < 0, x2 for x1 == 0, 1 for x1 > 0, NaN for NaN."""
    dtype = _float_dtype(x1, x2)
    x1, x2 = convert(as_operand(x1), dtype), convert(as_operand(x2), dtype)
    step = where(less(x1, 0), 0, where(greater(x1, 0), 1, x2))
    return where(isnan(x1), x1, step)


def sinc(x, /):
    """sin(pi x)/(pi x), written as NumPy writes it (x = 0 replaced by 1e-20)."""
    x = as_operand(x)
    if dtype_of(x).kind in "biu":
        x = convert(x, np.float64)
    y = multiply(np.pi, where(equal(x, 0), 1.0e-20, x))
    return divide(sin(y), y)
