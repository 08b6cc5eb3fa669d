"""nbad.numpy's elementwise functions against NumPy: values and result dtypes,
eagerly over dtypes and broadcasting shapes, and through the IR (trace_to_ir
then eval_ir) for a few, which checks that they compose primitives on tracers."""
import numpy as np
import pytest

import nbad.numpy as jnp
from nbad.core.array import Array
from nbad.test_util import trace_and_eval

DTYPES = ("bool", "int8", "int32", "int64", "uint8", "float32", "float64")


def values(dtype) -> np.ndarray:
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return np.array([True, False])
    if dtype.kind == "u":
        return np.array([0, 1, 2, 5, 100, 255]).astype(dtype)
    if dtype.kind == "i":
        return np.array([-7, -2, -1, 0, 1, 2, 5, 100], dtype)
    return np.array([-2.5, -1.0, -0.0, 0.0, 0.5, 1.5, 3.0, np.nan, np.inf, -np.inf], dtype)


def expected_dtype(want: np.ndarray) -> np.dtype:
    """NumPy's result dtype, with nbad's float16 -> float32 exception."""
    return np.dtype(np.float32) if want.dtype == np.float16 else want.dtype


def check(got, want):
    want = np.asarray(want)
    assert isinstance(got, Array), type(got)
    assert got.dtype == expected_dtype(want), (got.dtype, want.dtype)
    assert got.shape == want.shape
    if want.dtype.kind in "fc":
        rtol = {2: 2e-3, 4: 4e-6, 8: 1e-14, 16: 1e-14}[want.dtype.itemsize]
        np.testing.assert_allclose(np.asarray(got), want.astype(got.dtype), rtol=rtol, atol=0,
                                   equal_nan=True)
    else:
        np.testing.assert_array_equal(np.asarray(got), want)


def agrees_with_numpy(name, *args, np_fn=None, **kwargs):
    """nbad.numpy.<name>(*args) equals numpy's, or both raise the same kind of error."""
    np_fn = np_fn or getattr(np, name)
    try:
        with np.errstate(all="ignore"):
            want = np_fn(*args, **kwargs)
    except (TypeError, ValueError) as numpy_error:
        kind = TypeError if isinstance(numpy_error, TypeError) else ValueError
        with pytest.raises(kind):
            getattr(jnp, name)(*args, **kwargs)
        return
    if np.asarray(want).dtype == np.float16:  # nbad computes these in float32
        with np.errstate(all="ignore"):
            want = np_fn(*[_small_ints_as_float32(a) for a in args], **kwargs)
    check(getattr(jnp, name)(*args, **kwargs), want)


def _small_ints_as_float32(a):
    if isinstance(a, (np.ndarray, np.generic)) and a.dtype.kind in "biu" and a.dtype.itemsize == 1:
        return a.astype(np.float32)
    return a


UNARY = [
    "negative", "positive", "abs", "absolute", "fabs", "sign", "exp", "exp2", "expm1", "log",
    "log2", "log10", "log1p", "sqrt", "cbrt", "square", "sin", "cos", "tan", "arcsin", "arccos",
    "arctan", "sinh", "cosh", "tanh", "arcsinh", "arccosh", "arctanh", "deg2rad", "rad2deg",
    "degrees", "radians", "floor", "ceil", "round", "around", "rint", "trunc", "fix",
    "logical_not", "bitwise_not", "invert", "isnan", "isinf", "isfinite", "signbit",
    "nan_to_num", "real", "imag", "conj", "conjugate", "sinc",
]
BINARY = [
    "add", "subtract", "multiply", "divide", "true_divide", "floor_divide", "mod", "remainder",
    "fmod", "power", "float_power", "arctan2", "hypot", "maximum", "minimum", "fmax", "fmin",
    "equal", "not_equal", "less", "less_equal", "greater", "greater_equal", "logical_and",
    "logical_or", "logical_xor", "bitwise_and", "bitwise_or", "bitwise_xor", "left_shift",
    "right_shift", "copysign", "heaviside",
]


@pytest.mark.parametrize("name", UNARY)
def test_unary_functions_match_numpy(name):
    for dtype in DTYPES:
        x = values(dtype)
        agrees_with_numpy(name, x)
        agrees_with_numpy(name, x[:0])          # empty
        agrees_with_numpy(name, x[-1])          # NumPy scalar
        agrees_with_numpy(name, np.asarray(x[1]))  # 0-d array


@pytest.mark.parametrize("name", BINARY)
def test_binary_functions_match_numpy_with_broadcasting(name):
    for dtype in DTYPES:
        v = values(dtype)
        agrees_with_numpy(name, v[:, None], v[None, ::-1])   # (n,1) with (1,n)
        agrees_with_numpy(name, v[:3, None], v[:0])          # empty result
    a, b = values("float64")[:4], values("int32")[:4]
    agrees_with_numpy(name, np.ones((3, 1)), b)               # (3,1) with (4,)
    agrees_with_numpy(name, a, 2.0)                            # Python scalar
    agrees_with_numpy(name, 3, a)


MIXED = [
    (np.float32([1.5, -2.0]), 2.0),              # weak float keeps float32
    (np.int32([7, -3]), 2),                      # weak int keeps int32
    (np.float32([1.5, -2.0]), np.float64(2.0)),  # NumPy scalar is strong -> float64
    (np.int8([7, -3]), np.uint8([2, 3])),        # -> int16
    (np.int32([7, -3]), np.float32([2, 0.5])),   # -> float64
    (np.array([True, False]), np.int8([2, 3])),
    (np.uint8([200, 3]), 2),
    (2, 3),
]


@pytest.mark.parametrize("name", ["add", "subtract", "multiply", "divide", "floor_divide",
                                  "remainder", "power", "maximum", "less", "arctan2", "hypot",
                                  "fmod", "bitwise_or", "copysign", "logical_and", "heaviside"])
def test_mixed_dtype_promotion_matches_numpy(name):
    for x1, x2 in MIXED:
        agrees_with_numpy(name, x1, x2)
        agrees_with_numpy(name, x2, x1)


def test_dtype_examples_from_the_spec():
    i32, f32 = np.int32([1, 4]), np.float32([1, 4])
    assert jnp.sqrt(i32).dtype == np.float64
    assert jnp.floor_divide(i32, i32).dtype == np.int32
    assert jnp.less(f32, 2).dtype == np.bool_
    assert jnp.multiply(f32, 2.0).dtype == np.float32
    assert jnp.add(i32, 2).dtype == np.int32
    assert jnp.add(f32, np.float64(2.0)).dtype == np.float64
    assert jnp.exp(np.int8([1])).dtype == np.float32  # NumPy: float16
    assert jnp.exp(2).dtype == np.float64


def test_round_decimals_and_integer_power():
    x = np.array([0.125, 2.5, -3.5, 1234.5678, np.nan], np.float32)
    for decimals in (0, 1, 2, -1, -2):
        agrees_with_numpy("round", x, decimals)
        agrees_with_numpy("round", np.int32([1234, -1250, 7]), decimals)
    f = np.linspace(-3, 3, 7, dtype=np.float32)
    for y in (0, 1, 2, 3, -1, -2, 9, 2.5):
        agrees_with_numpy("power", f, y)
    agrees_with_numpy("power", np.int32([2, -3]), 5)
    agrees_with_numpy("power", np.int32([2, -3]), -1)  # NumPy's ValueError
    agrees_with_numpy("reciprocal", np.float32([2.0, -0.5, 0.0]))
    agrees_with_numpy("reciprocal", np.int32([1, -1, 2, -5]))


def test_where_and_clip():
    cond = np.array([[True], [False], [True]])
    agrees_with_numpy("where", cond, np.float32([1, 2, 3, 4]), 0)
    agrees_with_numpy("where", cond, np.int8([1, 2]), np.float32(5))
    agrees_with_numpy("where", np.int32([0, 3]), 1.0, 2.0)  # nonzero is true
    agrees_with_numpy("where", True, np.arange(3), np.zeros((2, 1)))
    x = np.array([-2.5, 0.5, 4.0, np.nan], np.float32)
    agrees_with_numpy("clip", x, -1.0, 1.0)
    agrees_with_numpy("clip", x, None, 1)
    agrees_with_numpy("clip", np.int32([-5, 0, 9]), np.int32([-1, 1, 2]), 3)
    check(jnp.clip(x, min=0.0), np.clip(x, min=0.0))
    with pytest.raises(ValueError):
        jnp.where(cond)


def test_nan_to_num_and_complex_parts():
    x = np.array([np.nan, np.inf, -np.inf, 1.5], np.float32)
    agrees_with_numpy("nan_to_num", x)
    agrees_with_numpy("nan_to_num", x, nan=-1.0, posinf=9.0, neginf=-9.0)
    z = np.array([1 + 2j, np.nan - 1j, complex(np.inf, np.nan), -0.5j], np.complex64)
    for name in ("real", "imag", "conj", "abs", "nan_to_num", "sign", "exp", "sqrt", "isnan"):
        agrees_with_numpy(name, z[[0, 3]] if name == "sign" else z)  # NumPy: sign(inf+nanj)=1
    agrees_with_numpy("multiply", z, z[::-1])


def test_aliases_are_the_numpy_functions():
    assert jnp.pow is jnp.power and jnp.atan2 is jnp.arctan2 and jnp.acos is jnp.arccos
    assert jnp.asinh is jnp.arcsinh and jnp.bitwise_invert is jnp.invert
    assert jnp.bitwise_left_shift is jnp.left_shift and jnp.true_divide is jnp.divide


def test_errors_name_the_function_and_the_fix():
    with pytest.raises(TypeError, match="subtract.*bool.*logical_xor"):
        jnp.subtract(np.array([True]), np.array([False]))
    with pytest.raises(TypeError, match=r"\(3,\) \(4,\)"):
        jnp.add(np.ones(3), np.ones(4))


def traced(fn, *args):
    out, ir = trace_and_eval(fn, *args)
    return ir, out


@pytest.mark.parametrize("fn, np_fn, args", [
    (jnp.sqrt, np.sqrt, (np.int32([1, 4, 9]),)),
    (lambda x, y: jnp.hypot(x, y) * 2.0, lambda x, y: np.hypot(x, y) * 2.0,
     (np.float32([3, 0, np.inf]), np.float32([[4], [1]]))),
    (jnp.where, np.where, (np.array([True, False, True]), np.float32([1, 2, 3]), np.int8(7))),
    (jnp.fmax, np.fmax, (np.array([1.0, np.nan, 3.0]), np.array([np.nan, 2.0, 1.0]))),
    (lambda x: jnp.clip(x, -1, 1), lambda x: np.clip(x, -1, 1), (np.linspace(-2, 2, 5),)),
    (jnp.nan_to_num, np.nan_to_num, (np.array([np.nan, -np.inf, 2.0]),)),
    (jnp.floor_divide, np.floor_divide, (np.int8([7, -7, 3]), np.int8([2, 2, 0]))),
    (lambda x: jnp.round(x, 1), lambda x: np.round(x, 1), (np.array([0.25, 1.35, -2.45]),)),
    (jnp.sinc, np.sinc, (np.array([0.0, 0.5, -1.5]),)),
    (jnp.isnan, np.isnan, (np.int32([1, 2]),)),
])
def test_traced_functions_evaluate_like_numpy(fn, np_fn, args):
    ir, got = traced(fn, *args)
    assert ir.equations, "the function should record primitives"
    with np.errstate(all="ignore"):
        check(got, np_fn(*args))


def test_traced_sqrt_of_int_records_a_conversion():
    ir, _ = traced(jnp.sqrt, np.int32([1, 4]))
    assert [eq.primitive.name for eq in ir.equations] == ["convert_element_type", "sqrt"]
