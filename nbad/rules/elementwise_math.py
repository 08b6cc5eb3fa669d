"""Elementwise math primitives: exponentials, logarithms, powers, trigonometric
and hyperbolic functions, rounding, float classification.

They take inexact operands only (nbad.numpy converts integers first) and
return the operand's dtype, except the is_* tests, which return bool.

Codegen: exp, expm1, log, log1p, tanh, logistic, sin, cos and erf call nbad's
vectorisable math library (e.math(name), nbad/backends/cpu/mathlib.py) on real
floats, because Numba's libm calls keep loops from vectorising; everything
else, and complex operands, use NumPy's scalar ufuncs (np.<fn>(x)), which
Numba compiles for float32, float64 and complex.

Derivative rules follow each primitive: partial derivatives written with
nbad.numpy (`defderiv`), using the result where it saves work (tanh: 1 - out²).
"""
from __future__ import annotations

import math

import numpy as np

from nbad.rules._ad import aval_of, defderiv, defnondiff
from nbad.rules._family import elementwise, math_call, template

__all__ = [
    "exp_p", "exp2_p", "expm1_p", "log_p", "log2_p", "log10_p", "log1p_p", "sqrt_p", "rsqrt_p",
    "cbrt_p", "sin_p", "cos_p", "tan_p", "asin_p", "acos_p", "atan_p", "atan2_p", "sinh_p",
    "cosh_p", "tanh_p", "asinh_p", "acosh_p", "atanh_p", "logistic_p", "erf_p", "floor_p",
    "ceil_p", "round_p", "is_finite_p", "is_nan_p", "is_inf_p",
]


# -- derivative-rule helpers (rules/_ad.py), shared with elementwise.py ----------------


class _LazyNumpy:
    """nbad.numpy, looked up when a rule runs: nbad.numpy imports this module."""

    def __getattr__(self, name):
        import nbad.numpy

        return getattr(nbad.numpy, name)


jnp = _LazyNumpy()


def inexact(x) -> bool:
    """Is x differentiable (float or complex)? Integer and bool operands get no derivative."""
    return aval_of(x).dtype.kind in "fc"


def const(x, value):
    """`value` as a scalar of x's dtype: partials and cotangents keep float32 float32."""
    return np.asarray(value, aval_of(x).dtype)[()]


def to_out_shape(t, outs):
    """A tangent broadcast to the result's shape: a scalar operand's tangent times a
    partial that does not involve the array operands (rem's d/dx = 1) is a scalar."""
    if t is None:
        return None
    shape = aval_of(outs).shape
    return t if aval_of(t).shape == shape else jnp.broadcast_to(t, shape)


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
defderiv(exp_p, lambda out, x: [out])
exp2_p = _unary("exp2", np.exp2)
defderiv(exp2_p, lambda out, x: [jnp.multiply(out, math.log(2.0))])
expm1_p = _unary("expm1", np.expm1, "expm1")
defderiv(expm1_p, lambda out, x: [jnp.add(out, 1)])
log_p = _unary("log", np.log, "log")
defderiv(log_p, lambda out, x: [jnp.reciprocal(x)])
log2_p = _unary("log2", np.log2)
defderiv(log2_p, lambda out, x: [jnp.reciprocal(jnp.multiply(x, math.log(2.0)))])
log10_p = _unary("log10", np.log10)
defderiv(log10_p, lambda out, x: [jnp.reciprocal(jnp.multiply(x, math.log(10.0)))])
log1p_p = _unary("log1p", np.log1p, "log1p")
defderiv(log1p_p, lambda out, x: [jnp.reciprocal(jnp.add(x, 1))])
sqrt_p = _unary("sqrt", np.sqrt)
defderiv(sqrt_p, lambda out, x: [jnp.divide(0.5, out)])


def _rsqrt_codegen(e, x):
    # With the 'arcp' fast-math flag LLVM turns float32 1/sqrt(x) into an
    # approximate rsqrt instruction (NaN at 0, -inf for subnormals); computing
    # in float64 avoids it and rounds once (the backend casts back).
    if e.dtype == np.float32:
        return f"(1.0 / np.sqrt(np.float64({x})))"
    return f"({e.lit(1)} / np.sqrt({x}))"


rsqrt_p = elementwise("rsqrt", 1, silent_impl(lambda x: 1 / np.sqrt(x)), _rsqrt_codegen,
                      kinds="real_float")
defderiv(rsqrt_p, lambda out, x: [jnp.multiply(-0.5, jnp.divide(out, x))])
cbrt_p = _unary("cbrt", np.cbrt, kinds="real_float")
defderiv(cbrt_p, lambda out, x: [jnp.divide(1 / 3, jnp.multiply(out, out))])
sin_p = _unary("sin", np.sin, "sin")
defderiv(sin_p, lambda out, x: [jnp.cos(x)])
cos_p = _unary("cos", np.cos, "cos")
defderiv(cos_p, lambda out, x: [jnp.negative(jnp.sin(x))])
tan_p = _unary("tan", np.tan)
defderiv(tan_p, lambda out, x: [jnp.add(1, jnp.multiply(out, out))])
asin_p = _unary("asin", np.arcsin)
defderiv(asin_p, lambda out, x: [jnp.reciprocal(jnp.sqrt(jnp.subtract(1, jnp.multiply(x, x))))])
acos_p = _unary("acos", np.arccos)
defderiv(acos_p, lambda out, x: [jnp.divide(-1, jnp.sqrt(jnp.subtract(1, jnp.multiply(x, x))))])
atan_p = _unary("atan", np.arctan)
defderiv(atan_p, lambda out, x: [jnp.reciprocal(jnp.add(1, jnp.multiply(x, x)))])
atan2_p = elementwise("atan2", 2, silent_impl(np.arctan2), _call("arctan2"), kinds="real_float")


def _atan2_partials(out, x, y):
    """atan2(x, y) = angle of (y, x): d/dx = y / (x² + y²), d/dy = -x / (x² + y²)."""
    r2 = jnp.add(jnp.multiply(x, x), jnp.multiply(y, y))
    return [jnp.divide(y, r2), jnp.divide(jnp.negative(x), r2)]


defderiv(atan2_p, _atan2_partials)
sinh_p = _unary("sinh", np.sinh)
defderiv(sinh_p, lambda out, x: [jnp.cosh(x)])
cosh_p = _unary("cosh", np.cosh)
defderiv(cosh_p, lambda out, x: [jnp.sinh(x)])
tanh_p = _unary("tanh", np.tanh, "tanh")
defderiv(tanh_p, lambda out, x: [jnp.subtract(1, jnp.multiply(out, out))])
asinh_p = _unary("asinh", np.arcsinh)
defderiv(asinh_p, lambda out, x: [jnp.reciprocal(jnp.sqrt(jnp.add(jnp.multiply(x, x), 1)))])
acosh_p = _unary("acosh", np.arccosh)


def _acosh_partials(out, x):
    """1/sqrt((|x| - 1)(|x| + 1)): no cancellation near |x| = 1 as in x² - 1, and
    +inf at x = -1 as in JAX ((x - 1)(x + 1) is -0 there); for complex x,
    1/(sqrt(x - 1) sqrt(x + 1)), the derivative of NumPy's principal branch."""
    if aval_of(x).dtype.kind == "c":
        roots = jnp.multiply(jnp.sqrt(jnp.subtract(x, 1)), jnp.sqrt(jnp.add(x, 1)))
        return [jnp.reciprocal(roots)]
    magnitude = jnp.absolute(x)
    return [jnp.reciprocal(jnp.sqrt(jnp.multiply(jnp.subtract(magnitude, 1), jnp.add(magnitude, 1))))]


defderiv(acosh_p, _acosh_partials)
atanh_p = _unary("atanh", np.arctanh)
defderiv(atanh_p, lambda out, x: [jnp.reciprocal(jnp.subtract(1, jnp.multiply(x, x)))])


def _logistic(x):
    # In float64 and rounded once, as mathlib does: float32 1/(1 + exp(-x)) (and
    # scipy's float32 expit) underflow to 0 where the result is a subnormal.
    x = np.asarray(x)
    import scipy.special  # imported on first use: it costs ~0.3 s of `import nbad`

    return scipy.special.expit(x.astype(np.float64)).astype(x.dtype)


logistic_p = elementwise("logistic", 1, silent_impl(_logistic), math_call("logistic"),
                         kinds="real_float")
defderiv(logistic_p, lambda out, x: [jnp.multiply(out, jnp.subtract(1, out))])
def _erf(x):
    import scipy.special

    return scipy.special.erf(x)


erf_p = elementwise("erf", 1, silent_impl(_erf), math_call("erf"),
                    kinds="real_float")
defderiv(erf_p, lambda out, x: [
    jnp.multiply(2 / math.sqrt(math.pi), jnp.exp(jnp.negative(jnp.multiply(x, x))))])

# Rounding: np.floor/np.ceil keep the float type in Numba (math.floor returns an
# int); np.rint rounds half to even like np.round.
floor_p = _unary("floor", np.floor, kinds="real_float")
ceil_p = _unary("ceil", np.ceil, kinds="real_float")
round_p = elementwise("round", 1, silent_impl(np.rint), template("np.rint({0})"),
                      kinds="real_float")
# Piecewise constant: zero derivative (JAX's convention, also at the jumps).
for _p in (floor_p, ceil_p, round_p):
    defnondiff(_p)

is_finite_p = _unary("is_finite", np.isfinite, result_dtype=bool)
is_nan_p = _unary("is_nan", np.isnan, result_dtype=bool)
is_inf_p = _unary("is_inf", np.isinf, result_dtype=bool)
for _p in (is_finite_p, is_nan_p, is_inf_p):
    defnondiff(_p)
del _p
