"""Elementwise math primitives: exponentials, logarithms, powers, trigonometric
and hyperbolic functions, rounding, float classification.

They take inexact operands only (nbad.numpy converts integers first) and
return the operand's dtype, except the is_* tests, which return bool.

Codegen: exp, expm1, log, log1p, tanh, logistic, sin, cos and erf call nbad's
vectorisable math library (e.math(name), nbad/codegen/mathlib.py) on real
floats, because Numba's libm calls keep loops from vectorising; everything
else, and complex operands, use NumPy's scalar ufuncs (np.<fn>(x)), which
Numba compiles for float32, float64 and complex.
"""
from __future__ import annotations

import numpy as np
import scipy.special

from nbad.rules._family import elementwise, math_call, template

__all__ = [
    "exp_p", "exp2_p", "expm1_p", "log_p", "log2_p", "log10_p", "log1p_p", "sqrt_p", "rsqrt_p",
    "cbrt_p", "sin_p", "cos_p", "tan_p", "asin_p", "acos_p", "atan_p", "atan2_p", "sinh_p",
    "cosh_p", "tanh_p", "asinh_p", "acosh_p", "atanh_p", "logistic_p", "erf_p", "floor_p",
    "ceil_p", "round_p", "is_finite_p", "is_nan_p", "is_inf_p",
]


def silent_impl(fn):
    """NumPy's function with its floating-point warnings silenced: compiled code
    gives the same inf/nan/0/wrapped results without warnings."""

    def impl(*xs, **params):
        with np.errstate(all="ignore"):
            return fn(*xs)

    return impl


def _call(np_name: str, math_name: str | None = None):
    """codegen: nbad's mathlib `math_name` on real floats, else np.<np_name>."""

    def codegen(e, *xs, **params):
        use_mathlib = math_name is not None and e.in_dtypes[0].kind == "f"
        fn = e.math(math_name) if use_mathlib else f"np.{np_name}"
        return f"{fn}({', '.join(xs)})"

    return codegen


def _unary(name, np_fn, math_name=None, kinds="float", **kw):
    """A unary primitive computing NumPy's `np_fn` (also the codegen's np.<fn>)."""
    codegen = _call(np_fn.__name__, math_name)
    return elementwise(name, 1, silent_impl(np_fn), codegen, kinds=kinds, **kw)


exp_p = _unary("exp", np.exp, "exp")
exp2_p = _unary("exp2", np.exp2)
expm1_p = _unary("expm1", np.expm1, "expm1")
log_p = _unary("log", np.log, "log")
log2_p = _unary("log2", np.log2)
log10_p = _unary("log10", np.log10)
log1p_p = _unary("log1p", np.log1p, "log1p")
sqrt_p = _unary("sqrt", np.sqrt)


def _rsqrt_codegen(e, x):
    # With the 'arcp' fast-math flag LLVM turns float32 1/sqrt(x) into an
    # approximate rsqrt instruction (NaN at 0, -inf for subnormals); computing
    # in float64 avoids it and rounds once (the backend casts back).
    if e.dtype == np.float32:
        return f"(1.0 / np.sqrt(np.float64({x})))"
    return f"({e.lit(1)} / np.sqrt({x}))"


rsqrt_p = elementwise("rsqrt", 1, silent_impl(lambda x: 1 / np.sqrt(x)), _rsqrt_codegen,
                      kinds="real_float")
cbrt_p = _unary("cbrt", np.cbrt, kinds="real_float")
sin_p = _unary("sin", np.sin, "sin")
cos_p = _unary("cos", np.cos, "cos")
tan_p = _unary("tan", np.tan)
asin_p = _unary("asin", np.arcsin)
acos_p = _unary("acos", np.arccos)
atan_p = _unary("atan", np.arctan)
atan2_p = elementwise("atan2", 2, silent_impl(np.arctan2), _call("arctan2"), kinds="real_float")
sinh_p = _unary("sinh", np.sinh)
cosh_p = _unary("cosh", np.cosh)
tanh_p = _unary("tanh", np.tanh, "tanh")
asinh_p = _unary("asinh", np.arcsinh)
acosh_p = _unary("acosh", np.arccosh)
atanh_p = _unary("atanh", np.arctanh)


def _logistic(x):
    # In float64 and rounded once, as mathlib does: float32 1/(1 + exp(-x)) (and
    # scipy's float32 expit) underflow to 0 where the result is a subnormal.
    x = np.asarray(x)
    return scipy.special.expit(x.astype(np.float64)).astype(x.dtype)


logistic_p = elementwise("logistic", 1, silent_impl(_logistic), math_call("logistic"),
                         kinds="real_float")
erf_p = elementwise("erf", 1, silent_impl(scipy.special.erf), math_call("erf"),
                    kinds="real_float")

# Rounding: np.floor/np.ceil keep the float type in Numba (math.floor returns an
# int); np.rint rounds half to even like np.round.
floor_p = _unary("floor", np.floor, kinds="real_float")
ceil_p = _unary("ceil", np.ceil, kinds="real_float")
round_p = elementwise("round", 1, silent_impl(np.rint), template("np.rint({0})"),
                      kinds="real_float")

is_finite_p = _unary("is_finite", np.isfinite, result_dtype=bool)
is_nan_p = _unary("is_nan", np.isnan, result_dtype=bool)
is_inf_p = _unary("is_inf", np.isinf, result_dtype=bool)
