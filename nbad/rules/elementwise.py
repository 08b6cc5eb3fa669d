"""Elementwise primitives: arithmetic, comparisons, logic, select, convert.

Every primitive here is defined with `elementwise(...)` (rules/_family.py):
operands of one shape (scalars broadcast) and one dtype. The impl is NumPy's
ufunc on the operands' dtype; the codegen is a scalar template
(nbad/compile/expr.py). Transcendental and rounding primitives live in
elementwise_math.py and are re-exported here, so `nbad.rules.elementwise`
names every elementwise primitive.

Semantics that the templates make explicit, because Numba's scalar rules
differ from NumPy's (notes/numba-facts.md §8):
  * the backend compiles with error_model='numpy': x/0 -> inf/nan, i//0 -> 0;
  * integer results wrap (the backend's final cast truncates Numba's int64);
  * maximum/minimum propagate NaN from either side (Numba's max(a, b) does not);
  * shifts by >= the bit width give 0 (or -1 for negative signed values), as
    NumPy defines them, instead of LLVM's poison value.

Derivative rules (rules/_ad.py) follow each primitive's definition, with JAX's
conventions at non-differentiable points (abs'(0) = 1, maximum/minimum split
ties half and half; comparisons, rounding and floordiv have zero derivative)
and for complex operands (the vjp of a holomorphic f is ct * f'(z)).
"""
from __future__ import annotations

import warnings

import numpy as np

from nbad.core.avals import ShapedArray, check_dtype, short_dtype_name
from nbad.core.primitive import Primitive
from nbad.core.trace import bind
from nbad.errors import NbadTypeError, NbadValueError
from nbad.rules._ad import aval_of, defderiv, deflinear, defnondiff, unbroadcast
from nbad.rules._batching import defvectorized
from nbad.rules._family import common_shape, elementwise, same_dtype, template
from nbad.rules.elementwise_math import *  # noqa: F401,F403  (see the module docstring)
from nbad.rules.elementwise_math import const, inexact, jnp, silent_impl, to_out_shape


def _binary(name, ufunc, text, kinds="number"):
    """A same-dtype binary primitive with a one-line template."""
    return elementwise(name, 2, silent_impl(ufunc), template(text), kinds=kinds)


def _ct(ct, x):
    """The cotangent `ct` of the result, summed to operand x's shape (None for integers)."""
    return unbroadcast(ct, aval_of(x).shape) if inexact(x) else None


# -- arithmetic ---------------------------------------------------------------
add_p = _binary("add", np.add, "({0} + {1})")
deflinear(add_p, lambda ct, primals, outs: [_ct(ct, x) for x in primals])
sub_p = _binary("sub", np.subtract, "({0} - {1})")
deflinear(sub_p, lambda ct, primals, outs: [_ct(ct, primals[0]),
                                            _ct(jnp.negative(ct), primals[1])])
mul_p = _binary("mul", np.multiply, "({0} * {1})")
defderiv(mul_p, lambda out, x, y: [y, x])
# True division only on inexact dtypes: nbad.numpy casts integers to float first.
div_p = _binary("div", np.true_divide, "({0} / {1})", kinds="float")
defderiv(div_p, lambda out, x, y: [jnp.reciprocal(y), jnp.negative(jnp.divide(out, y))])


def _float_mod(e, x, y):
    """NumPy's float remainder (sign of the divisor) from C fmod, as npy_divmod does."""
    mod, zero = f"np.fmod({x}, {y})", e.lit(0)
    return f"({mod} != {zero} and (({y} < {zero}) != ({mod} < {zero})))", mod


def _floordiv_codegen(e, x, y):
    if e.dtype.kind in "iu":
        # Numba's // floors like NumPy; for signed ints MIN // -1 must wrap to
        # MIN as in NumPy, and negation wraps.
        return f"(-{x} if {y} == {e.lit(-1)} else {x} // {y})" if e.dtype.kind == "i" \
            else f"({x} // {y})"
    # NumPy's npy_divmod with one division: under the 'arcp' fast-math flag
    # LLVM rewrites repeated divisions by y as products with 1/y (Numba's own
    # float // does that), which is wrong for subnormal y. Zero signs are
    # dropped ('nsz'), except in x // ±0 = x / ±0 = ±inf.
    one, zero = e.lit(1), e.lit(0)
    adjust, mod = _float_mod(e, x, y)
    q = f"(({x} - {mod}) / {y} - ({one} if {adjust} else {zero}))"
    snapped = f"(np.floor({q}) + ({one} if {q} - np.floor({q}) > {e.lit(0.5)} else {zero}))"
    by_zero = f"{x} * np.copysign({e.lit(np.inf)}, {y})"
    return f"({by_zero} if {y} == {zero} else {snapped})"


def _rem_codegen(e, x, y):
    if e.dtype.kind in "iu":
        return f"({x} % {y})"
    adjust, mod = _float_mod(e, x, y)
    return f"({mod} + {y} if {adjust} else {mod})"


floordiv_p = elementwise("floordiv", 2, silent_impl(np.floor_divide), _floordiv_codegen,
                         kinds="real")
rem_p = elementwise("rem", 2, silent_impl(np.remainder), _rem_codegen, kinds="real")
# floordiv is piecewise constant (zero derivative, as in JAX). NumPy's remainder is
# x - floor_divide(x, y) * y: d/dx = 1, d/dy = -floor_divide(x, y) (jnp.remainder's
# derivative; lax.rem, which truncates, would have -trunc(x / y)).
defnondiff(floordiv_p)
defderiv(rem_p, lambda out, x, y: [const(x, 1), jnp.negative(jnp.floor_divide(x, y))])


def _pow_codegen(e, x, y):
    if e.dtype.kind != "i":
        return f"({x} ** {y})"
    # Numba's integer ** wraps like NumPy's. NumPy (the impl) raises for a
    # negative exponent; compiled code cannot, so it gives the truncated 1/x**-y
    # (±1 for x = ±1, else 0) where Numba's ** would raise for x = 0.
    one, zero = e.lit(1), e.lit(0)
    unit_base = f"({x} == {one} or {x} == {e.lit(-1)})"
    return f"({x} ** {y} if {y} >= {zero} else ({x} ** -{y} if {unit_base} else {zero}))"


pow_p = elementwise("pow", 2, silent_impl(np.power), _pow_codegen, kinds="number")


def _pow_partials(out, x, y):
    """d/dx = y x^(y-1), d/dy = log(x) x^y, as JAX's where JAX's are finite; where
    y == 0, d/dx is 0 (x^0 = 1 is constant in x; JAX: NaN at x = 0), and where x == 0,
    d/dy is 0 (JAX: 0, or NaN for y < 0). The double-where trick keeps NaN out of
    higher derivatives too."""
    y_is_0, x_is_0 = jnp.equal(y, 0), jnp.equal(x, 0)
    y_safe = jnp.where(y_is_0, 1, y)
    dx = jnp.where(y_is_0, const(x, 0),
                   jnp.multiply(y_safe, jnp.power(x, jnp.subtract(y_safe, 1))))
    dy = jnp.where(x_is_0, const(y, 0),
                   jnp.multiply(jnp.log(jnp.where(x_is_0, 1, x)), out))
    return [dx, dy]


defderiv(pow_p, _pow_partials)


def _check_integer_exponent(dtype, y):
    if y < 0 and np.dtype(dtype).kind in "iu":
        raise NbadValueError(
            f"integer_pow: integers to negative powers are not allowed "
            f"({short_dtype_name(dtype)} ** {y}); convert the base to a float dtype first."
        )


def _integer_pow_impl(x, *, y):
    """x**y as the multiplication chain the codegen emits (same rounding)."""
    _check_integer_exponent(np.asarray(x).dtype, y)  # eager calls skip abstract_eval
    with np.errstate(all="ignore"):
        out = np.ones_like(x)
        for _ in range(abs(y)):
            out = out * x
        return 1 / out if y < 0 else out


def _integer_pow_codegen(e, x, *, y):
    if y == 0:
        return e.lit(1)
    chain = " * ".join([x] * abs(y))
    return f"({chain})" if y > 0 else f"({e.lit(1)} / ({chain}))"


integer_pow_p = elementwise("integer_pow", 1, _integer_pow_impl, _integer_pow_codegen,
                            kinds="number")
_integer_pow_same_dtype = integer_pow_p.abstract_eval


def _integer_pow_abstract_eval(x, *, y):
    if not isinstance(y, (int, np.integer)) or isinstance(y, bool):
        raise NbadTypeError(f"integer_pow: exponent y must be a Python int, got {y!r}")
    _check_integer_exponent(x.dtype, y)
    return _integer_pow_same_dtype(x, y=y)


integer_pow_p.abstract_eval = _integer_pow_abstract_eval


def _integer_pow_partials(out, x, *, y):
    if y == 0:
        return [None]  # x^0 = 1
    power = const(x, 1) if y == 1 else bind(integer_pow_p, x, y=y - 1)
    return [jnp.multiply(y, power)]


defderiv(integer_pow_p, _integer_pow_partials)

neg_p = elementwise("neg", 1, silent_impl(np.negative), template("(-{0})"), kinds="number")
deflinear(neg_p, lambda ct, primals, outs: [_ct(jnp.negative(ct), primals[0])])


def _real_dtype(dtype):
    """The real dtype of a complex one (abs, real, imag); other dtypes unchanged."""
    return {np.dtype(np.complex64): np.dtype(np.float32),
            np.dtype(np.complex128): np.dtype(np.float64)}.get(np.dtype(dtype), np.dtype(dtype))


def _to_real(prim: Primitive) -> Primitive:
    """Make a unary primitive's result the real dtype of its operand's."""
    same = prim.abstract_eval
    prim.abstract_eval = lambda x, **params: same(x, **params).update(dtype=_real_dtype(x.dtype))
    return prim


abs_p = _to_real(elementwise("abs", 1, silent_impl(np.abs), template("abs({0})"), kinds="number"))


def _abs_direction(x, out):
    """d|x|/dx: 1 for x >= 0 (so 1 at 0, JAX's convention), else -1. For complex x the
    jvp is real(conj(x)/|x| t) (0 at x = 0) and, in JAX's convention, the vjp ct conj(x)/|x|."""
    if aval_of(x).dtype.kind == "c":
        return jnp.divide(jnp.conj(x), jnp.where(jnp.equal(out, 0), 1, out))
    return jnp.where(jnp.greater_equal(x, 0), const(x, 1), const(x, -1))


def _abs_jvp(primals, tangents, outs):
    (x,), (t,) = primals, tangents
    if t is None or not inexact(x):
        return None
    return jnp.real(jnp.multiply(t, _abs_direction(x, outs)))


def _abs_vjp(ct, primals, outs):
    (x,) = primals
    return [jnp.multiply(ct, _abs_direction(x, outs)) if inexact(x) else None]


abs_p.jvp, abs_p.vjp = _abs_jvp, _abs_vjp


def _convert(x, dtype):
    return x if aval_of(x).dtype == dtype else bind(convert_element_type_p, x, new_dtype=dtype)


# Parts of complex numbers; nbad.numpy handles real operands without them.
# Linear rules in JAX's convention (cotangents are not conjugated: the vjp of a
# holomorphic f is ct * f'(x)): real^T ct = ct + 0j, imag^T ct = -1j ct, conj^T = conj.
real_p = _to_real(elementwise("real", 1, np.real, template("{0}.real"), kinds="float"))
deflinear(real_p, lambda ct, primals, outs: [_convert(ct, aval_of(primals[0]).dtype)])
imag_p = _to_real(elementwise("imag", 1, np.imag, template("{0}.imag"), kinds="float"))


def _imag_transpose(ct, primals, outs):
    (x,) = primals
    if aval_of(x).dtype.kind != "c":
        return [None]  # imag of a real array is 0
    return [jnp.multiply(_convert(ct, aval_of(x).dtype), const(x, -1j))]


deflinear(imag_p, _imag_transpose)
conj_p = elementwise("conj", 1, np.conjugate, template("{0}.conjugate()"), kinds="float")
deflinear(conj_p, lambda ct, primals, outs: [jnp.conj(ct)])


def _sign_codegen(e, x):
    # The last branch returns x itself: 0 for zeros and NaN for NaN (np.sign(nan) = nan).
    one, zero = e.lit(1), e.lit(0)
    if e.dtype.kind == "u":
        return f"({one} if {x} > {zero} else {zero})"
    return f"({one} if {x} > {zero} else ({e.lit(-1)} if {x} < {zero} else {x}))"


sign_p = elementwise("sign", 1, silent_impl(np.sign), _sign_codegen, kinds="real")
defnondiff(sign_p)


def _max_min_codegen(op):
    """x if x <op> y else y, taking x when it is NaN (NaN from either side wins)."""

    def codegen(e, x, y):
        nan = f" or {x} != {x}" if e.dtype.kind == "f" else ""
        return f"({x} if ({x} {op} {y}{nan}) else {y})"

    return codegen


maximum_p = elementwise("maximum", 2, silent_impl(np.maximum), _max_min_codegen(">="),
                        kinds="real_or_bool")
minimum_p = elementwise("minimum", 2, silent_impl(np.minimum), _max_min_codegen("<="),
                        kinds="real_or_bool")


def _balanced(x, y, out):
    """JAX's convention for maximum/minimum: the derivative goes to the operand equal to
    the result, half to each on ties (none to either where the result is NaN)."""
    return jnp.where(jnp.equal(x, out),
                     jnp.where(jnp.equal(y, out), const(out, 0.5), const(out, 1)),
                     const(out, 0))


for _p in (maximum_p, minimum_p):
    defderiv(_p, lambda out, x, y: [_balanced(x, y, out), _balanced(y, x, out)])

# -- comparisons ----------------------------------------------------------------
eq_p = elementwise("eq", 2, silent_impl(np.equal), template("({0} == {1})"), result_dtype=bool)
ne_p = elementwise("ne", 2, silent_impl(np.not_equal), template("({0} != {1})"), result_dtype=bool)
lt_p = elementwise("lt", 2, silent_impl(np.less), template("({0} < {1})"),
                   kinds="real_or_bool", result_dtype=bool)
le_p = elementwise("le", 2, silent_impl(np.less_equal), template("({0} <= {1})"),
                   kinds="real_or_bool", result_dtype=bool)
gt_p = elementwise("gt", 2, silent_impl(np.greater), template("({0} > {1})"),
                   kinds="real_or_bool", result_dtype=bool)
ge_p = elementwise("ge", 2, silent_impl(np.greater_equal), template("({0} >= {1})"),
                   kinds="real_or_bool", result_dtype=bool)
for _p in (eq_p, ne_p, lt_p, le_p, gt_p, ge_p):
    defnondiff(_p)

# -- logic: logical on bool, bitwise on integers ----------------------------------


def _logic_codegen(logical: str, bitwise: str):
    def codegen(e, *xs):
        return (logical if e.dtype.kind == "b" else bitwise).format(*xs)

    return codegen


and_p = elementwise("and", 2, silent_impl(np.bitwise_and),
                    _logic_codegen("({0} and {1})", "({0} & {1})"), kinds="int_or_bool")
or_p = elementwise("or", 2, silent_impl(np.bitwise_or),
                   _logic_codegen("({0} or {1})", "({0} | {1})"), kinds="int_or_bool")
xor_p = elementwise("xor", 2, silent_impl(np.bitwise_xor),
                    _logic_codegen("({0} != {1})", "({0} ^ {1})"), kinds="int_or_bool")
not_p = elementwise("not", 1, silent_impl(np.invert),
                    _logic_codegen("(not {0})", "(~{0})"), kinds="int_or_bool")
for _p in (and_p, or_p, xor_p, not_p):
    defnondiff(_p)
del _p


def _shift_codegen(op: str, left: bool):
    """x <op> y for 0 <= y < bits; NumPy's result for other shift counts."""

    def codegen(e, x, y):
        zero, bits = e.lit(0), e.lit(e.dtype.itemsize * 8)
        in_range = f"{y} < {bits}" if e.dtype.kind == "u" else f"{zero} <= {y} < {bits}"
        if left or e.dtype.kind == "u":
            overflow = zero
        else:
            overflow = f"({e.lit(-1)} if {x} < {zero} else {zero})"
        return f"(({x} {op} {y}) if {in_range} else {overflow})"

    return codegen


shift_left_p = elementwise("shift_left", 2, silent_impl(np.left_shift),
                           _shift_codegen("<<", True), kinds="int")
shift_right_p = elementwise("shift_right", 2, silent_impl(np.right_shift),
                            _shift_codegen(">>", False), kinds="int")
defnondiff(shift_left_p)
defnondiff(shift_right_p)

# -- select ----------------------------------------------------------------------
# select(pred, on_true, on_false): pred is bool; the two cases share a dtype.
select_p = Primitive("select", kind="elementwise")


def _select_abstract_eval(pred, on_true, on_false):
    if pred.dtype != np.dtype(bool):
        raise NbadTypeError(
            f"select: the predicate must be bool, got {pred.str_short()}; "
            "compare it with != 0 (or use nbad.numpy.where, which converts it)."
        )
    shape = common_shape("select", (pred, on_true, on_false))
    dtype = same_dtype("select", (on_true, on_false))
    return ShapedArray(shape, dtype, on_true.weak_type and on_false.weak_type)


select_p.abstract_eval = _select_abstract_eval
select_p.impl = lambda pred, on_true, on_false: np.where(pred, on_true, on_false)
select_p.codegen = template("({1} if {0} else {2})")


def _select_jvp(primals, tangents, outs):
    pred, on_true, on_false = primals
    _, t_true, t_false = tangents
    if t_true is None and t_false is None:
        return None
    zero = const(outs, 0)
    t = bind(select_p, pred, zero if t_true is None else t_true,
             zero if t_false is None else t_false)
    return to_out_shape(t, outs)


def _select_vjp(ct, primals, outs):
    """The predicate is not differentiable; each case gets ct where it was chosen."""
    pred, on_true, on_false = primals
    if not inexact(on_true):
        return [None, None, None]
    zero = const(ct, 0)
    return [None, _ct(jnp.where(pred, ct, zero), on_true),
            _ct(jnp.where(pred, zero, ct), on_false)]


select_p.jvp, select_p.vjp = _select_jvp, _select_vjp
defvectorized(select_p)

# -- convert_element_type ------------------------------------------------------------
# It changes dtype, so it is not a same-dtype family member.
convert_element_type_p = Primitive("convert_element_type", kind="elementwise")


def _convert_abstract_eval(x, *, new_dtype):
    return ShapedArray(x.shape, check_dtype(new_dtype, "convert_element_type"))


def _convert_impl(x, *, new_dtype):
    # complex -> real drops the imaginary part and NaN -> int is unspecified,
    # as in NumPy; neither warns in compiled code, so neither warns here.
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
        return np.asarray(x).astype(new_dtype)


def _convert_codegen(e, x, *, new_dtype):
    src, dst = e.in_dtypes[0], np.dtype(new_dtype)
    if src == dst:
        return x
    if src.kind == "c" and dst.kind not in "bc":
        x = f"{x}.real"  # Numba cannot convert complex to real; NumPy drops .imag
    return e.cast(x, dst)


convert_element_type_p.abstract_eval = _convert_abstract_eval
convert_element_type_p.impl = _convert_impl
convert_element_type_p.codegen = _convert_codegen


def _convert_jvp(primals, tangents, outs, *, new_dtype):
    """Linear between float/complex dtypes; to or from integers and bools: zero."""
    (x,), (t,) = primals, tangents
    if t is None or not inexact(x) or np.dtype(new_dtype).kind not in "fc":
        return None
    return _convert(t, np.dtype(new_dtype))


def _convert_vjp(ct, primals, outs, *, new_dtype):
    (x,) = primals
    if not inexact(x) or np.dtype(new_dtype).kind not in "fc":
        return [None]
    return [_convert(ct, aval_of(x).dtype)]


convert_element_type_p.jvp, convert_element_type_p.vjp = _convert_jvp, _convert_vjp
defvectorized(convert_element_type_p)
