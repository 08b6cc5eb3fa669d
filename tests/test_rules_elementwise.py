"""Elementwise primitives: abstract_eval, impl against NumPy, and each codegen
template compiled by Numba (tests/codegen_harness.py) against the impl over edge
values: ±0, ±inf, NaN, huge, tiny, negative operands, division by zero and
integer overflow.

Exact primitives are compared bit for bit (up to the sign of zero: the backend's
'nsz' fast-math flag allows either); transcendental ones to a few ulp.
"""

import numpy as np
import pytest
import scipy.special

import nbad.rules.elementwise as ew
from codegen_harness import run_kernel, source_of
from nbad.core.avals import ShapedArray
from nbad.core.primitive import ALL_PRIMITIVES
from nbad.errors import NbadTypeError, NbadValueError, ShapeError

FLOATS = ("float32", "float64")
SIGNED = ("int8", "int32", "int64")
INTS = SIGNED + ("uint8",)
NUMBERS = INTS + FLOATS
# Each (primitive, dtype) costs a Numba compile (~0.3 s): codegen tests use
# int8 (wrapping), int64 and the floats, and other integer types where they matter.
COMPILED = ("int8", "int64") + FLOATS


def edge_values(dtype) -> np.ndarray:
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return np.array([False, True])
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return np.array([0, 1, -1, 2, -2, 3, -7, 7, 100, -100, info.max, info.min]).astype(dtype)
    info = np.finfo(dtype)
    values = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, 2.5, -2.5, 3.0, -7.0, np.pi, 100.0, -100.0,
              1e-30, -1e30, info.max, -info.max, info.tiny, info.smallest_subnormal,
              np.inf, -np.inf, np.nan]
    return np.array(values, dtype)


def pairs(dtype):
    """Every pair of edge values, as two flat operand arrays."""
    v = edge_values(dtype)
    return np.repeat(v, len(v)), np.tile(v, len(v))


def moderate_complex(dtype="complex128"):
    re = np.array([0.0, 1.0, -1.0, 0.5, -2.5, 3.0])
    return (re[:, None] + 1j * re[None, ::-1]).ravel().astype(dtype)


def assert_exact(got, want, context=""):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, context
    assert got.shape == want.shape, context
    if want.dtype.kind in "fc":
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=context)
        ok = ~np.isnan(want)
        np.testing.assert_array_equal(got[ok], want[ok], err_msg=context)
    else:
        np.testing.assert_array_equal(got, want, err_msg=context)


def assert_ulp(got, want, ulps=4, context=""):
    """Equal NaN/inf positions; finite values within `ulps` units in the last place."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, context
    if want.dtype.kind == "c":  # componentwise, in ulps of the magnitude
        bad = np.abs(got - want) > ulps * np.spacing(np.abs(want))
        assert not bad.any(), f"{context}: {got[bad][:5]} != {want[bad][:5]}"
        return
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=context)
    fin = np.isfinite(want)
    np.testing.assert_array_equal(got[~fin & ~np.isnan(want)], want[~fin & ~np.isnan(want)],
                                  err_msg=context)
    with np.errstate(over="ignore"):  # spacing(max) overflows to inf: any value passes
        tol = ulps * np.spacing(np.abs(want[fin]))
    bad = np.abs(got[fin].astype(np.float64) - want[fin]) > tol
    assert not bad.any(), f"{context}: {got[fin][bad][:5]} != {want[fin][bad][:5]}"


# -- completeness and abstract_eval -------------------------------------------------

def elementwise_primitives():
    return [p for p in ALL_PRIMITIVES.values() if p.kind == "elementwise"]


def test_every_elementwise_primitive_has_its_rules():
    names = {p.name for p in elementwise_primitives()}
    assert {"add", "integer_pow", "select", "erf", "shift_right", "is_inf", "round"} <= names
    for prim in elementwise_primitives():
        for slot in ("abstract_eval", "impl", "codegen"):
            assert prim.has_rule(slot), f"{prim.name} lacks {slot}"


def sa(shape, dtype, weak=False):
    return ShapedArray(shape, dtype, weak)


def test_abstract_eval_shapes_and_dtypes():
    assert ew.add_p.abstract_eval(sa((3, 4), "float32"), sa((), "float32")) == sa((3, 4), "float32")
    assert ew.lt_p.abstract_eval(sa((2,), "int32"), sa((2,), "int32")) == sa((2,), bool)
    assert ew.sin_p.abstract_eval(sa((0,), "float64")) == sa((0,), "float64")
    assert ew.abs_p.abstract_eval(sa((2,), "complex64")) == sa((2,), "float32")
    assert ew.imag_p.abstract_eval(sa((), "complex128")) == sa((), "float64")
    assert ew.is_nan_p.abstract_eval(sa((5,), "float32")) == sa((5,), bool)
    assert ew.integer_pow_p.abstract_eval(sa((2,), "int8"), y=3) == sa((2,), "int8")
    assert ew.add_p.abstract_eval(sa((), "int64", True), sa((), "int64", True)).weak_type
    assert ew.select_p.abstract_eval(sa((), bool), sa((3,), "int8"), sa((3,), "int8")) == \
        sa((3,), "int8")
    assert ew.convert_element_type_p.abstract_eval(sa((2,), "int8"), new_dtype=np.float32) == \
        sa((2,), "float32")


@pytest.mark.parametrize("call, error, words", [
    (lambda: ew.add_p.abstract_eval(sa((3,), "float32"), sa((4,), "float32")), ShapeError,
     ["add", "f32[3]", "f32[4]", "broadcast"]),
    (lambda: ew.mul_p.abstract_eval(sa((3,), "float32"), sa((3,), "float64")), NbadTypeError,
     ["mul", "f32[3]", "f64[3]", "promotes"]),
    (lambda: ew.sin_p.abstract_eval(sa((3,), "int32")), NbadTypeError, ["sin", "int32"]),
    (lambda: ew.and_p.abstract_eval(sa((), "float64"), sa((), "float64")), NbadTypeError,
     ["and", "float64"]),
    (lambda: ew.lt_p.abstract_eval(sa((), "complex64"), sa((), "complex64")), NbadTypeError,
     ["lt", "complex64"]),
    (lambda: ew.exp_p.abstract_eval(sa((), "float64"), sa((), "float64")), NbadTypeError,
     ["exp", "1 operands"]),
    (lambda: ew.integer_pow_p.abstract_eval(sa((), "int32"), y=-2), NbadValueError,
     ["integer_pow", "i32", "float"]),
    (lambda: ew.integer_pow_p.abstract_eval(sa((), "float32"), y=2.0), NbadTypeError,
     ["integer_pow", "int"]),
    (lambda: ew.select_p.abstract_eval(sa((2,), "int32"), sa((2,), "int8"), sa((2,), "int8")),
     NbadTypeError, ["select", "bool", "i32[2]"]),
    (lambda: ew.select_p.abstract_eval(sa((2,), bool), sa((2,), "float32"), sa((2,), "float64")),
     NbadTypeError, ["select", "f32[2]", "f64[2]"]),
    (lambda: ew.convert_element_type_p.abstract_eval(sa((), "float32"), new_dtype=np.float16),
     NbadTypeError, ["float16", "float32"]),
])
def test_abstract_eval_errors(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value)


# -- impl against NumPy ---------------------------------------------------------------
# (primitive, NumPy reference, dtypes). The reference is independent of the impl
# wherever the impl is not NumPy's ufunc itself.
UNARY_REFERENCES = [
    (ew.neg_p, np.negative, NUMBERS), (ew.abs_p, np.abs, NUMBERS + ("complex64",)),
    (ew.sign_p, np.sign, NUMBERS), (ew.exp_p, np.exp, FLOATS), (ew.exp2_p, np.exp2, FLOATS),
    (ew.expm1_p, np.expm1, FLOATS), (ew.log_p, np.log, FLOATS), (ew.log2_p, np.log2, FLOATS),
    (ew.log10_p, np.log10, FLOATS), (ew.log1p_p, np.log1p, FLOATS),
    (ew.sqrt_p, np.sqrt, FLOATS), (ew.rsqrt_p, lambda x: np.reciprocal(np.sqrt(x)), FLOATS),
    (ew.cbrt_p, np.cbrt, FLOATS), (ew.sin_p, np.sin, FLOATS), (ew.cos_p, np.cos, FLOATS),
    (ew.tan_p, np.tan, FLOATS), (ew.asin_p, np.arcsin, FLOATS), (ew.acos_p, np.arccos, FLOATS),
    (ew.atan_p, np.arctan, FLOATS), (ew.sinh_p, np.sinh, FLOATS), (ew.cosh_p, np.cosh, FLOATS),
    (ew.tanh_p, np.tanh, FLOATS), (ew.asinh_p, np.arcsinh, FLOATS),
    (ew.acosh_p, np.arccosh, FLOATS), (ew.atanh_p, np.arctanh, FLOATS),
    (ew.logistic_p, lambda x: (1 / (1 + np.exp(-x.astype(np.float64)))).astype(x.dtype), FLOATS),
    (ew.erf_p, scipy.special.erf, FLOATS),
    (ew.floor_p, np.floor, FLOATS), (ew.ceil_p, np.ceil, FLOATS), (ew.round_p, np.round, FLOATS),
    (ew.is_finite_p, np.isfinite, FLOATS), (ew.is_nan_p, np.isnan, FLOATS),
    (ew.is_inf_p, np.isinf, FLOATS), (ew.not_p, np.invert, INTS + ("bool",)),
    (ew.real_p, np.real, ("complex64",)), (ew.imag_p, np.imag, ("complex128",)),
    (ew.conj_p, np.conjugate, ("complex64",)),
]
BINARY_REFERENCES = [
    (ew.add_p, np.add, NUMBERS), (ew.sub_p, np.subtract, NUMBERS),
    (ew.mul_p, np.multiply, NUMBERS), (ew.div_p, np.true_divide, FLOATS),
    (ew.floordiv_p, np.floor_divide, NUMBERS), (ew.rem_p, np.remainder, NUMBERS),
    (ew.pow_p, np.power, FLOATS), (ew.atan2_p, np.arctan2, FLOATS),
    (ew.maximum_p, np.maximum, NUMBERS + ("bool",)), (ew.minimum_p, np.minimum, NUMBERS),
    (ew.eq_p, np.equal, NUMBERS + ("bool",)), (ew.ne_p, np.not_equal, NUMBERS),
    (ew.lt_p, np.less, NUMBERS), (ew.le_p, np.less_equal, NUMBERS),
    (ew.gt_p, np.greater, NUMBERS), (ew.ge_p, np.greater_equal, NUMBERS + ("bool",)),
    (ew.and_p, np.logical_and, ("bool",)), (ew.or_p, np.logical_or, ("bool",)),
    (ew.xor_p, np.logical_xor, ("bool",)), (ew.and_p, np.bitwise_and, INTS),
    (ew.or_p, np.bitwise_or, INTS), (ew.xor_p, np.bitwise_xor, INTS),
]


def _quiet(fn, *xs):
    with np.errstate(all="ignore"):
        return np.asarray(fn(*xs))


@pytest.mark.parametrize("prim, ref, dtypes", UNARY_REFERENCES, ids=lambda p: str(p)[:20])
def test_unary_impl_matches_numpy(prim, ref, dtypes):
    for dtype in dtypes:
        x = edge_values(dtype) if np.dtype(dtype).kind != "c" else moderate_complex(dtype)
        for operand in (x, x[:0], x[-1]):  # 1-d, empty, 0-d scalar
            want = _quiet(ref, operand)
            assert_ulp(prim.impl(operand), want, 2, prim.name) if want.dtype.kind in "fc" \
                else assert_exact(prim.impl(operand), want, prim.name)


@pytest.mark.parametrize("prim, ref, dtypes", BINARY_REFERENCES, ids=lambda p: str(p)[:20])
def test_binary_impl_matches_numpy(prim, ref, dtypes):
    for dtype in dtypes:
        x, y = pairs(dtype)
        assert_exact(prim.impl(x, y), _quiet(ref, x, y), f"{prim.name} {dtype}")
        assert_exact(prim.impl(x[:0], y[:0]), _quiet(ref, x[:0], y[:0]))
        assert_exact(prim.impl(x[-1], y), _quiet(ref, x[-1], y))  # scalar with array


def test_integer_pow_impl():
    x = edge_values("float64")
    for y in (0, 1, 2, 3, 5, -1, -2):
        assert_ulp(ew.integer_pow_p.impl(x, y=y), _quiet(np.power, x, float(y)), 2)
    i = edge_values("int8")
    assert_exact(ew.integer_pow_p.impl(i, y=3), np.power(i, np.int8(3)))  # wraps


def test_select_and_convert_impl():
    pred = np.array([True, False, True])
    assert_exact(ew.select_p.impl(pred, np.float32([1, 2, 3]), np.float32(0)),
                 np.float32([1, 0, 3]))
    assert_exact(ew.select_p.impl(np.bool_(False), np.int8([1, 2]), np.int8([5, 6])),
                 np.int8([5, 6]))
    x = np.array([-2.7, -0.5, 0.0, 0.5, 3.9])
    assert_exact(ew.convert_element_type_p.impl(x, new_dtype=np.int32), x.astype(np.int32))
    assert_exact(ew.convert_element_type_p.impl(np.complex64([1 + 2j]), new_dtype=np.float64),
                 np.float64([1.0]))


def test_pow_impl_rejects_negative_integer_exponents_like_numpy():
    with pytest.raises(ValueError):
        ew.pow_p.impl(np.int32([2]), np.int32([-1]))


# -- codegen against impl --------------------------------------------------------------
EXACT_UNARY = [
    (ew.neg_p, COMPILED), (ew.abs_p, COMPILED), (ew.sign_p, COMPILED + ("uint8",)),
    (ew.floor_p, FLOATS),
    (ew.ceil_p, FLOATS), (ew.round_p, FLOATS), (ew.sqrt_p, FLOATS), (ew.is_finite_p, FLOATS),
    (ew.is_nan_p, FLOATS), (ew.is_inf_p, FLOATS), (ew.not_p, INTS + ("bool",)),
]
EXACT_BINARY = [
    (ew.add_p, COMPILED), (ew.sub_p, COMPILED), (ew.mul_p, COMPILED), (ew.div_p, FLOATS),
    (ew.floordiv_p, COMPILED), (ew.rem_p, COMPILED), (ew.maximum_p, COMPILED + ("bool",)),
    (ew.minimum_p, COMPILED), (ew.eq_p, COMPILED + ("bool",)), (ew.ne_p, FLOATS),
    (ew.lt_p, FLOATS + ("int32", "uint8")), (ew.le_p, FLOATS), (ew.gt_p, FLOATS),
    (ew.ge_p, FLOATS + ("bool",)), (ew.and_p, ("int8", "uint8", "bool")),
    (ew.or_p, ("int32", "bool")),
    (ew.xor_p, ("uint8", "bool")),
]
# Few-ulp agreement: libm and NumPy's SIMD loops round differently.
ULP_UNARY = [
    (ew.exp_p, 4), (ew.exp2_p, 4), (ew.expm1_p, 4), (ew.log_p, 4), (ew.log2_p, 4),
    (ew.log10_p, 4), (ew.log1p_p, 4), (ew.rsqrt_p, 1), (ew.cbrt_p, 2), (ew.sin_p, 4),
    (ew.cos_p, 4), (ew.tan_p, 4), (ew.asin_p, 4), (ew.acos_p, 4), (ew.atan_p, 4),
    (ew.sinh_p, 4), (ew.cosh_p, 4), (ew.tanh_p, 4), (ew.asinh_p, 4), (ew.acosh_p, 4),
    (ew.atanh_p, 4), (ew.logistic_p, 4),
    (ew.erf_p, 4),  # fails until nbad/backends/cpu/mathlib.py's placeholder erf is replaced
]
ULP_BINARY = [(ew.pow_p, 2), (ew.atan2_p, 4)]


def _ids(p):
    return getattr(p, "name", None) or str(p)[:12]


@pytest.mark.parametrize("prim, dtypes", EXACT_UNARY, ids=_ids)
def test_unary_codegen_exact(prim, dtypes):
    for dtype in dtypes:
        x = edge_values(dtype)
        assert_exact(run_kernel(prim, x), prim.impl(x), source_of(prim, dtype))


@pytest.mark.parametrize("prim, dtypes", EXACT_BINARY, ids=_ids)
def test_binary_codegen_exact(prim, dtypes):
    for dtype in dtypes:
        x, y = pairs(dtype)
        assert_exact(run_kernel(prim, x, y), prim.impl(x, y), source_of(prim, dtype, dtype))


@pytest.mark.parametrize("prim, ulps", ULP_UNARY, ids=_ids)
def test_unary_codegen_ulp(prim, ulps):
    for dtype in FLOATS:
        x = edge_values(dtype)
        assert_ulp(run_kernel(prim, x), prim.impl(x), ulps, source_of(prim, dtype))


@pytest.mark.parametrize("prim, ulps", ULP_BINARY, ids=_ids)
def test_binary_codegen_ulp(prim, ulps):
    for dtype in FLOATS:
        x, y = pairs(dtype)
        assert_ulp(run_kernel(prim, x, y), prim.impl(x, y), ulps, source_of(prim, dtype, dtype))


def test_integer_division_edge_cases_match_numpy():
    """Python sign rules, x // 0 == x % 0 == 0, and MIN // -1 wrapping to MIN."""
    for dtype in SIGNED:
        info = np.iinfo(dtype)
        x = np.array([7, -7, 7, -7, 5, info.min, info.min, info.max], dtype)
        y = np.array([2, 2, -2, -2, 0, -1, 0, -1], dtype)
        for prim in (ew.floordiv_p, ew.rem_p):
            assert_exact(run_kernel(prim, x, y), prim.impl(x, y), prim.name)


def test_float_division_by_zero_gives_numpy_inf_and_nan():
    x = np.array([1.0, -1.0, 0.0, np.nan, 5.5])
    y = np.zeros(5)
    for prim in (ew.div_p, ew.floordiv_p, ew.rem_p):
        assert_exact(run_kernel(prim, x, y), prim.impl(x, y), prim.name)


def test_integer_pow_codegen_is_a_multiplication_chain():
    assert "v0 * v0 * v0" in source_of(ew.integer_pow_p, "float32", y=3)
    for dtype, ys in (("float32", (0, 3, -2)), ("float64", (7,)), ("int8", (3,))):
        x = edge_values(dtype)
        for y in ys:
            assert_ulp(run_kernel(ew.integer_pow_p, x, y=y), ew.integer_pow_p.impl(x, y=y), 2,
                       f"{dtype} y={y}") if dtype[0] == "f" else \
                assert_exact(run_kernel(ew.integer_pow_p, x, y=y), ew.integer_pow_p.impl(x, y=y))


def test_integer_pow_of_pow_p_wraps_and_handles_negative_exponents():
    x, y = np.int32([3, -3, 2, 0, 7]), np.int32([40, 3, 31, 0, 2])
    assert_exact(run_kernel(ew.pow_p, x, y), np.power(x, y))
    # NumPy raises here; compiled code gives the truncated reciprocal instead.
    got = run_kernel(ew.pow_p, np.int32([2, 1, -1, -1, 0]), np.int32([-1, -5, -3, -2, -1]))
    assert_exact(got, np.int32([0, 1, -1, 1, 0]))


def test_shift_codegen_matches_numpy_for_all_shift_counts():
    for dtype in ("int8", "int64", "uint8"):
        bits = np.dtype(dtype).itemsize * 8
        counts = [0, 1, 3, bits - 1, bits, bits + 1, 100] + ([-1, -bits] if dtype[0] == "i" else [])
        x, y = (a.ravel() for a in np.meshgrid(edge_values(dtype), np.array(counts, dtype)))
        for prim in (ew.shift_left_p, ew.shift_right_p):
            assert_exact(run_kernel(prim, x, y), prim.impl(x, y), f"{prim.name} {dtype}")


def test_select_codegen():
    for dtype in ("float32", "int8", "bool"):
        a, b = pairs(dtype)
        pred = np.arange(a.size) % 3 == 0
        assert_exact(run_kernel(ew.select_p, pred, a, b), ew.select_p.impl(pred, a, b))


@pytest.mark.parametrize("src, dst", [
    ("float64", "int32"), ("float32", "int64"), ("float64", "float32"), ("int32", "float32"),
    ("int64", "bool"), ("float64", "bool"), ("bool", "float64"), ("bool", "int8"),
    ("int32", "int8"), ("uint8", "int64"), ("complex128", "float64"), ("float32", "complex64"),
])
def test_convert_element_type_codegen(src, dst):
    x = edge_values(src) if src[0] != "c" else moderate_complex(src)
    if np.dtype(src).kind == "f" and np.dtype(dst).kind in "iu":
        x = x[np.isfinite(x) & (np.abs(x) < 1e9)]  # NaN/inf/huge -> int is unspecified
    prim = ew.convert_element_type_p
    assert_exact(run_kernel(prim, x, new_dtype=np.dtype(dst)),
                 prim.impl(x, new_dtype=np.dtype(dst)), f"{src}->{dst}")


def test_complex_codegen_on_moderate_values():
    """Numba's complex functions differ from NumPy's at overflow/branch-cut edges;
    on ordinary values they agree."""
    z = moderate_complex()
    w = z[::-1] + 0.25  # no zero divisors: Numba's complex division by zero raises
    for prim in (ew.exp_p, ew.log_p, ew.sqrt_p, ew.tanh_p):
        assert_ulp(run_kernel(prim, z[z != 0]), prim.impl(z[z != 0]), 8, prim.name)
    assert_ulp(run_kernel(ew.abs_p, z), ew.abs_p.impl(z), 1)
    for prim in (ew.imag_p, ew.conj_p):
        assert_exact(run_kernel(prim, z), prim.impl(z), prim.name)
    for prim in (ew.mul_p, ew.eq_p):
        assert_exact(run_kernel(prim, z, w), prim.impl(z, w), prim.name)
    assert_ulp(run_kernel(ew.div_p, z, w), ew.div_p.impl(z, w), 2)


def test_mathlib_functions_are_used_for_hot_transcendentals():
    for prim in (ew.exp_p, ew.expm1_p, ew.log_p, ew.log1p_p, ew.tanh_p, ew.logistic_p,
                 ew.sin_p, ew.cos_p, ew.erf_p):
        assert f"_m_{prim.name}(v0)" in source_of(prim, "float32"), prim.name
    assert "np.exp(v0)" in source_of(ew.exp_p, "complex128")
    assert "np.arctan2(v0, v1)" in source_of(ew.atan2_p, "float64", "float64")
