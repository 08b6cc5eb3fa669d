"""jvp and vjp rules of the elementwise primitives (nbad/rules/elementwise*.py).

Eager only (no jit, no Numba compile): each rule is checked against central
finite differences of the primitive's impl (nbad.test_util.check_rule), on
every shape combination an elementwise primitive accepts (0-d, equal shapes,
a scalar operand with an array operand), inside each function's domain.
Conventions at non-differentiable points are compared with JAX's.
"""
import numpy as np
import pytest

from nbad.core.avals import ShapedArray
from nbad.core.primitive import Primitive
from nbad.core.trace import bind, trace_to_ir
from nbad.rules import elementwise as ew
from nbad.test_util import check_rule

SHAPES_1 = [(), (3,), (2, 3)]
SHAPES_2 = [((), ()), ((3,), (3,)), ((2, 3), (2, 3)), ((), (2, 3)), ((2, 3), ()), ((3,), ())]


def _uniform(lo, hi):
    return lambda rng, shape: rng.uniform(lo, hi, size=shape)


def _away_from_zero(lo=0.3, hi=2.0):
    return lambda rng, shape: rng.uniform(lo, hi, size=shape) * rng.choice([-1.0, 1.0], size=shape)


NORMAL = lambda rng, shape: rng.standard_normal(shape)  # noqa: E731

# name -> domain sampler (away from singular points and jumps)
UNARY = {
    "neg": NORMAL, "abs": _away_from_zero(), "exp": NORMAL, "exp2": NORMAL, "expm1": NORMAL,
    "log": _uniform(0.3, 3), "log2": _uniform(0.3, 3), "log10": _uniform(0.3, 3),
    "log1p": _uniform(-0.7, 3), "sqrt": _uniform(0.3, 3), "rsqrt": _uniform(0.3, 3),
    "cbrt": _away_from_zero(), "sin": NORMAL, "cos": NORMAL, "tan": _uniform(-1.2, 1.2),
    "asin": _uniform(-0.8, 0.8), "acos": _uniform(-0.8, 0.8), "atan": NORMAL,
    "sinh": NORMAL, "cosh": NORMAL, "tanh": NORMAL, "asinh": NORMAL,
    "acosh": _uniform(1.2, 3), "atanh": _uniform(-0.8, 0.8), "logistic": NORMAL,
    "erf": NORMAL, "real": NORMAL, "imag": NORMAL, "conj": NORMAL,
}

BINARY = {
    "add": (NORMAL, NORMAL), "sub": (NORMAL, NORMAL), "mul": (NORMAL, NORMAL),
    "div": (NORMAL, _away_from_zero(0.5, 2)), "pow": (_uniform(0.3, 3), NORMAL),
    "atan2": (_away_from_zero(0.5, 2), _away_from_zero(0.5, 2)),
}

NONDIFF = ["floordiv", "sign", "floor", "ceil", "round", "eq", "ne", "lt", "le", "gt", "ge",
           "and", "or", "xor", "not", "shift_left", "shift_right", "is_finite", "is_nan",
           "is_inf"]


def prim(name) -> Primitive:
    return getattr(ew, name + "_p")


def _sample(sampler, shape, seed):
    return np.asarray(sampler(np.random.default_rng(seed), shape), dtype=np.float64)


# -- completeness ----------------------------------------------------------------------

def _elementwise_primitives():
    return sorted((p for p in vars(ew).values() if isinstance(p, Primitive)),
                  key=lambda p: p.name)


def test_every_elementwise_primitive_has_derivative_rules():
    prims = _elementwise_primitives()
    assert len(prims) >= 60
    missing = [p.name for p in prims
               if not (p.nondiff or (p.has_rule("jvp") and p.has_rule("vjp")))]
    assert not missing, f"no jvp/vjp rules and not nondiff: {missing}"


def test_every_primitive_is_tested_here():
    covered = set(UNARY) | set(BINARY) | set(NONDIFF) | {
        "rem", "maximum", "minimum", "integer_pow", "select", "convert_element_type"}
    assert {p.name for p in _elementwise_primitives()} == covered


@pytest.mark.parametrize("name", NONDIFF)
def test_nondiff(name):
    assert prim(name).nondiff


# -- finite differences ------------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES_1, ids=str)
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary(name, shape):
    check_rule(prim(name), [_sample(UNARY[name], shape, 1)])


@pytest.mark.parametrize("shapes", SHAPES_2, ids=str)
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary(name, shapes):
    sx, sy = BINARY[name]
    check_rule(prim(name), [_sample(sx, shapes[0], 2), _sample(sy, shapes[1], 3)])


def _sample_until(shapes, ok, seed, lo=-2.0, hi=2.0):
    """x, y uniform in [lo, hi) of the given shapes, resampled until ok(x, y) everywhere."""
    rng = np.random.default_rng(seed)
    for _ in range(1000):
        x, y = rng.uniform(lo, hi, size=shapes[0]), rng.uniform(lo, hi, size=shapes[1])
        if np.all(ok(x, y)):
            return np.asarray(x), np.asarray(y)
    raise AssertionError("no sample")


@pytest.mark.parametrize("shapes", SHAPES_2, ids=str)
@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum(name, shapes):
    # away from ties
    check_rule(prim(name), list(_sample_until(shapes, lambda x, y: abs(x - y) > 0.1, 4)))


def _rem_ok(x, y):
    """x / y at least 0.05 away from an integer (remainder jumps there), |y| >= 0.5."""
    q = x / y
    frac = q - np.floor(q)
    return (frac > 0.05) & (frac < 0.95) & (abs(y) >= 0.5)


@pytest.mark.parametrize("shapes", SHAPES_2, ids=str)
def test_rem(shapes):
    check_rule(ew.rem_p, list(_sample_until(shapes, _rem_ok, 5, -4.0, 4.0)))


@pytest.mark.parametrize("shape", SHAPES_1, ids=str)
@pytest.mark.parametrize("y", [-3, -2, -1, 0, 1, 2, 3, 5, 12])
def test_integer_pow(y, shape):
    check_rule(ew.integer_pow_p, [_sample(_away_from_zero(0.5, 1.5), shape, 6)], {"y": y})


SELECT_SHAPES = [((), (), ()), ((3,), (3,), (3,)), ((2, 3), (2, 3), (2, 3)), ((2, 3), (), ()),
                 ((2, 3), (), (2, 3)), ((), (2, 3), ()), ((), (3,), (3,))]


@pytest.mark.parametrize("shapes", SELECT_SHAPES, ids=str)
def test_select(shapes):
    rng = np.random.default_rng(7)
    pred = np.asarray(rng.uniform(size=shapes[0]) > 0.5)
    check_rule(ew.select_p, [pred, rng.standard_normal(shapes[1]), rng.standard_normal(shapes[2])])


@pytest.mark.parametrize("new_dtype", [np.float64, np.complex128])
@pytest.mark.parametrize("shape", SHAPES_1, ids=str)
def test_convert_float(shape, new_dtype):
    check_rule(ew.convert_element_type_p, [_sample(NORMAL, shape, 8)], {"new_dtype": new_dtype})


def test_convert_complex_to_real():
    rng = np.random.default_rng(9)
    z = rng.standard_normal((2, 3)) + 1j * rng.standard_normal((2, 3))
    check_rule(ew.convert_element_type_p, [z], {"new_dtype": np.dtype(np.float64)})


def test_convert_dtypes():
    x = np.array([1.5, -2.25], np.float32)
    p = ew.convert_element_type_p
    out = p.impl(x, new_dtype=np.float64)
    t = p.jvp([x], [np.array([1.0, 2.0], np.float32)], out, new_dtype=np.float64)
    assert np.asarray(t).dtype == np.float64
    np.testing.assert_array_equal(t, [1.0, 2.0])
    (ct,) = p.vjp(np.array([3.0, 4.0]), [x], out, new_dtype=np.float64)
    assert np.asarray(ct).dtype == np.float32
    np.testing.assert_array_equal(ct, [3.0, 4.0])
    # to or from integers and bools: zero derivative
    for new_dtype in (np.int32, np.bool_):
        out = p.impl(x, new_dtype=new_dtype)
        assert p.jvp([x], [np.ones(2, np.float32)], out, new_dtype=new_dtype) is None
        assert p.vjp(np.ones(2), [x], out, new_dtype=new_dtype) == [None]
    i = np.array([1, 2])
    out = p.impl(i, new_dtype=np.float64)
    assert p.jvp([i], [None], out, new_dtype=np.float64) is None
    assert p.vjp(np.ones(2), [i], out, new_dtype=np.float64) == [None]


def test_floordiv_zero_derivative():
    x, y = np.array([5.5, -3.0]), np.array([2.0, 1.5])
    out = ew.floordiv_p.impl(x, y)
    assert ew.floordiv_p.jvp([x, y], [np.ones(2), np.ones(2)], out) is None
    assert ew.floordiv_p.vjp(np.ones(2), [x, y], out) == [None, None]


# -- integer operands ------------------------------------------------------------------

@pytest.mark.parametrize("name", ["add", "sub", "mul", "rem", "pow", "maximum", "minimum"])
def test_integer_operands_have_no_cotangent(name):
    x, y = np.array([3, 4, 5]), np.array([2, 1, 3])
    p = prim(name)
    out = p.impl(x, y)
    assert p.vjp(np.ones(3), [x, y], out) == [None, None]
    assert p.jvp([x, y], [None, None], out) is None


@pytest.mark.parametrize("name", ["neg", "abs"])
def test_integer_operand_unary(name):
    x = np.array([3, -4])
    out = prim(name).impl(x)
    assert prim(name).vjp(np.ones(2), [x], out) == [None]
    assert ew.integer_pow_p.vjp(np.ones(2), [x], x * x, y=2) == [None]


def test_select_integer_cases():
    pred, a, b = np.array([True, False]), np.array([1, 2]), np.array([3, 4])
    assert ew.select_p.vjp(np.ones(2), [pred, a, b], np.array([1, 4])) == [None, None, None]


# -- float32 stays float32 -------------------------------------------------------------

DIFFERENTIABLE_UNARY = sorted(set(UNARY))
F32_SHAPES_2 = [((3,), (3,)), ((), (2, 3)), ((2, 3), ())]


def _check_f32(p, args, params=None):
    params = params or {}
    out = p.impl(*args, **params)
    assert np.asarray(out).dtype in (np.float32, np.complex64)
    tangents = [np.ones_like(a) if np.asarray(a).dtype.kind == "f" else None for a in args]
    t = p.jvp(args, tangents, out, **params)
    assert t is not None
    assert np.asarray(t).dtype == np.asarray(out).dtype, f"{p.name} jvp dtype"
    assert np.shape(t) == np.shape(out), f"{p.name} jvp shape"
    cts = p.vjp(np.ones_like(out), args, out, **params)
    for c, a in zip(cts, args):
        if np.asarray(a).dtype.kind == "f":
            assert c is not None
            assert np.asarray(c).dtype == np.asarray(a).dtype, f"{p.name} vjp dtype"
            assert np.shape(c) == np.shape(a), f"{p.name} vjp shape"


@pytest.mark.parametrize("name", DIFFERENTIABLE_UNARY)
def test_float32_unary(name):
    if name == "imag":  # imag of a real array is constant
        return
    x = _sample(UNARY[name], (3,), 10).astype(np.float32)
    _check_f32(prim(name), [x])
    _check_f32(prim(name), [np.float32(x[0])])


@pytest.mark.parametrize("shapes", F32_SHAPES_2, ids=str)
@pytest.mark.parametrize("name", sorted(BINARY) + ["maximum", "minimum", "rem"])
def test_float32_binary(name, shapes):
    sx, sy = BINARY.get(name, (NORMAL, _away_from_zero(0.5, 2)))
    x = _sample(sx, shapes[0], 11).astype(np.float32)
    y = _sample(sy, shapes[1], 12).astype(np.float32)
    _check_f32(prim(name), [x, y])


def test_float32_other():
    x = np.array([0.5, 2.0, -1.5], np.float32)
    _check_f32(ew.integer_pow_p, [x], {"y": 3})
    _check_f32(ew.integer_pow_p, [x], {"y": -2})
    pred = np.array([True, False, True])
    _check_f32(ew.select_p, [pred, x, np.float32(2.0)])
    _check_f32(ew.select_p, [np.bool_(True), np.float32(1.0), x])


def test_float32_complex_abs():
    z = np.array([1 + 2j, -3j], np.complex64)
    out = ew.abs_p.impl(z)
    t = ew.abs_p.jvp([z], [np.ones_like(z)], out)
    assert np.asarray(t).dtype == np.float32
    (ct,) = ew.abs_p.vjp(np.ones_like(out), [z], out)
    assert np.asarray(ct).dtype == np.complex64


# -- the rules are written with nbad operations: they trace -----------------------------

def _trace_rules(p, avals, params=None):
    """Apply p's jvp and vjp to abstract tracers (no values, as under jit)."""
    params = params or {}
    n = len(avals)

    def f(*args):
        xs, ts, ct = args[:n], args[n:2 * n], args[-1]
        out = bind(p, *xs, **params)
        ts = [t if a.dtype.kind in "fc" else None for t, a in zip(ts, avals)]
        t = p.jvp(list(xs), ts, out, **params)
        cts = p.vjp(ct, list(xs), out, **params)
        return [r for r in [t, *cts] if r is not None]

    out_aval = p.abstract_eval(*avals, **params)
    ir = trace_to_ir(f, [*avals, *avals, out_aval])
    assert ir.equations


F64 = np.dtype(np.float64)


@pytest.mark.parametrize("name", sorted(set(UNARY) | set(BINARY) | {"maximum", "minimum", "rem"}))
def test_rules_trace(name):
    p = prim(name)
    n = 1 if name in UNARY else 2
    _trace_rules(p, [ShapedArray((2, 3), F64)] * n)
    if n == 2:
        _trace_rules(p, [ShapedArray((), F64), ShapedArray((2, 3), F64)])


def test_rules_trace_other():
    a, s = ShapedArray((2, 3), F64), ShapedArray((), F64)
    _trace_rules(ew.integer_pow_p, [a], {"y": 3})
    _trace_rules(ew.select_p, [ShapedArray((2, 3), np.dtype(bool)), s, a])
    _trace_rules(ew.convert_element_type_p, [a], {"new_dtype": np.dtype(np.float32)})
    _trace_rules(ew.abs_p, [ShapedArray((3,), np.dtype(np.complex128))])
    _trace_rules(ew.imag_p, [ShapedArray((3,), np.dtype(np.complex128))])


# -- JAX's conventions --------------------------------------------------------------------

@pytest.fixture(scope="module")
def jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    return jax


def _grads(p, args, params=None):
    """Gradient of sum(p(*args)) from p's vjp, and the jvp along ones."""
    params = params or {}
    args = [np.asarray(a) for a in args]
    out = p.impl(*args, **params)
    cts = p.vjp(np.ones_like(out), args, out, **params)
    return [None if c is None else np.asarray(c) for c in cts]


def test_abs_at_zero(jax):
    x = np.array([0.0, -0.0, 1.5, -2.0])
    (g,) = _grads(ew.abs_p, [x])
    expected = np.array([jax.grad(jax.numpy.abs)(v) for v in x])
    np.testing.assert_array_equal(g, expected)
    np.testing.assert_array_equal(ew.abs_p.jvp([x], [np.ones(4)], np.abs(x)), expected)


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum_ties(jax, name):
    x = np.array([1.0, 2.0, 3.0, -1.0])
    y = np.array([1.0, 1.0, 4.0, -1.0])
    gx, gy = _grads(prim(name), [x, y])
    jfn = getattr(jax.numpy, name)
    ex, ey = jax.grad(lambda a, b: jfn(a, b).sum(), (0, 1))(x, y)
    np.testing.assert_array_equal(gx, ex)
    np.testing.assert_array_equal(gy, ey)
    np.testing.assert_array_equal(gx[[0, 3]], [0.5, 0.5])
    # a scalar operand tied with some elements: its cotangent is summed
    gs, ga = _grads(prim(name), [np.float64(1.0), y])
    es, ea = jax.grad(lambda a, b: jfn(a, b).sum(), (0, 1))(1.0, y)
    np.testing.assert_allclose(gs, es)
    np.testing.assert_array_equal(ga, ea)
    assert np.shape(gs) == ()


def test_select_routing(jax):
    pred = np.array([True, False, True, False])
    a, b = np.array([1.0, 2.0, 3.0, 4.0]), np.array([5.0, 6.0, 7.0, 8.0])
    ct = np.array([10.0, 20.0, 30.0, 40.0])
    out = ew.select_p.impl(pred, a, b)
    cp, ca, cb = ew.select_p.vjp(ct, [pred, a, b], out)
    assert cp is None
    np.testing.assert_array_equal(ca, [10.0, 0.0, 30.0, 0.0])
    np.testing.assert_array_equal(cb, [0.0, 20.0, 0.0, 40.0])
    _, jvp_fn = jax.vjp(lambda u, v: jax.lax.select(pred, u, v), a, b)
    ja, jb = jvp_fn(ct)
    np.testing.assert_array_equal(ca, ja)
    np.testing.assert_array_equal(cb, jb)
    # scalar cases are summed over where they were chosen
    _, ca, cb = ew.select_p.vjp(ct, [pred, np.float64(1.0), np.float64(2.0)], out)
    assert np.shape(ca) == np.shape(cb) == ()
    assert float(ca) == 40.0 and float(cb) == 60.0
    # jvp: the chosen case's tangent, zeros where the other one is chosen
    t = ew.select_p.jvp([pred, a, b], [None, np.ones(4), None], out)
    np.testing.assert_array_equal(t, [1.0, 0.0, 1.0, 0.0])
    t = ew.select_p.jvp([pred, np.float64(1.0), b], [None, np.float64(1.0), None], out)
    np.testing.assert_array_equal(t, [1.0, 0.0, 1.0, 0.0])


@pytest.mark.parametrize("name", ["floor", "ceil", "round", "sign"])
def test_rounding_zero(jax, name):
    assert prim(name).nondiff
    jfn = {"floor": jax.numpy.floor, "ceil": jax.numpy.ceil, "round": jax.numpy.round,
           "sign": jax.numpy.sign}[name]
    for v in (1.0, 1.5, 0.0, -2.3):
        assert float(jax.grad(jfn)(v)) == 0.0
    x = np.array([1.0, 1.5, -2.3])
    assert prim(name).jvp([x], [np.ones(3)], prim(name).impl(x)) is None
    assert prim(name).vjp(np.ones(3), [x], prim(name).impl(x)) == [None]


POW_POINTS = [(0.0, 2.0), (0.0, 0.0), (0.0, 1.0), (0.0, 3.5), (0.0, 0.5), (2.0, 0.0),
              (-2.0, 3.0), (-2.0, 2.0), (1.5, -1.0), (0.0, -1.0), (3.0, 2.5)]


@pytest.mark.parametrize("x, y", POW_POINTS)
def test_pow_conventions(jax, x, y):
    gx, gy = _grads(ew.pow_p, [np.float64(x), np.float64(y)])
    ex, ey = jax.grad(lambda a, b: a ** b, (0, 1))(x, y)
    for got, want in ((gx, ex), (gy, ey)):
        if np.isfinite(want):
            np.testing.assert_allclose(got, want, rtol=1e-14)
    if y == 0:
        assert gx == 0.0  # x^0 is constant in x (JAX gives NaN at x = 0)
    if x == 0:
        assert gy == 0.0  # JAX's convention


def test_pow_zero_base_array():
    x, y = np.array([0.0, 0.0, 0.0, 2.0]), np.array([0.0, 1.0, 2.0, 0.0])
    gx, gy = _grads(ew.pow_p, [x, y])
    np.testing.assert_array_equal(gx, [0.0, 1.0, 0.0, 0.0])
    np.testing.assert_array_equal(gy, [0.0, 0.0, 0.0, np.log(2.0)])


def test_integer_pow_zero_exponent(jax):
    x = np.array([0.0, 2.0])
    (g,) = _grads(ew.integer_pow_p, [x], {"y": 0})
    assert g is None  # x^0 = 1: zero
    assert ew.integer_pow_p.jvp([x], [np.ones(2)], np.ones(2), y=0) is None
    (g,) = _grads(ew.integer_pow_p, [x], {"y": 1})
    np.testing.assert_array_equal(g, [1.0, 1.0])
    assert float(jax.grad(lambda v: jax.lax.integer_pow(v, 1))(0.0)) == 1.0


def test_rem_matches_jnp_remainder(jax):
    x, y = np.array([5.5, -5.5, 5.5, -5.5]), np.array([2.0, 2.0, -2.0, -2.0])
    gx, gy = _grads(ew.rem_p, [x, y])
    ex, ey = jax.grad(lambda a, b: jax.numpy.remainder(a, b).sum(), (0, 1))(x, y)
    np.testing.assert_array_equal(gx, ex)
    np.testing.assert_array_equal(gy, ey)


def test_rem_scalar_dividend_jvp_shape():
    # d/dx = 1 does not involve y: the tangent of a scalar x is broadcast to the result.
    x, y = np.float64(5.5), np.array([2.0, 3.0, -1.5])
    t = ew.rem_p.jvp([x, y], [np.float64(1.0), None], ew.rem_p.impl(x, y))
    assert np.shape(t) == (3,)
    np.testing.assert_array_equal(t, [1.0, 1.0, 1.0])


def test_scalar_operand_cotangents_are_summed():
    x, y = np.float64(2.0), np.array([1.0, 2.0, 3.0])
    gx, gy = _grads(ew.mul_p, [x, y])
    assert np.shape(gx) == () and float(gx) == 6.0
    np.testing.assert_array_equal(gy, [2.0, 2.0, 2.0])
    gx, gy = _grads(ew.add_p, [y, x])
    assert np.shape(gy) == () and float(gy) == 3.0
    gx, gy = _grads(ew.sub_p, [x, y])
    assert float(gx) == 3.0
    np.testing.assert_array_equal(gy, [-1.0, -1.0, -1.0])
    t = ew.add_p.jvp([x, y], [np.float64(1.0), None], x + y)
    np.testing.assert_array_equal(t, [1.0, 1.0, 1.0])


# Complex operands: JAX's convention (the vjp of a holomorphic f is ct * f'(z), not
# conjugated). check_rule pairs cotangents with conj(), so these check f'(z) directly
# (a central difference along the real axis) and compare the non-holomorphic ones with JAX.
HOLOMORPHIC = ["exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "sin", "cos",
               "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh",
               "neg"]
Z = np.array([0.3 + 0.4j, -0.5 + 0.2j, 0.7 - 0.6j])
ZT = np.array([0.2 - 1.0j, 1.0 + 0.5j, -0.3 + 0.4j])


@pytest.mark.parametrize("name", HOLOMORPHIC)
def test_complex_holomorphic(name):
    p, h = prim(name), 1e-6
    out = p.impl(Z)
    derivative = (p.impl(Z + h) - p.impl(Z - h)) / (2 * h)
    np.testing.assert_allclose(p.jvp([Z], [ZT], out), derivative * ZT, rtol=1e-7)
    (c,) = p.vjp(ZT, [Z], out)
    assert np.asarray(c).dtype == np.complex128
    np.testing.assert_allclose(c, ZT * derivative, rtol=1e-7)


@pytest.mark.parametrize("name", ["exp", "sqrt", "abs", "real", "imag", "conj"])
def test_complex_unary_matches_jax(jax, name):
    jfn = getattr(jax.numpy, name)
    p = prim(name)
    out = p.impl(Z)
    ct = np.array([1.0 + 2.0j, -0.5 + 0.1j, 0.3 - 1.0j]) if out.dtype.kind == "c" else \
        np.array([1.0, -0.5, 0.3])
    (c,) = p.vjp(ct, [Z], out)
    _, f_vjp = jax.vjp(jfn, Z)
    np.testing.assert_allclose(c, f_vjp(ct)[0], rtol=1e-12)
    assert np.asarray(c).dtype == np.complex128
    np.testing.assert_allclose(p.jvp([Z], [ZT], out), jax.jvp(jfn, (Z,), (ZT,))[1], rtol=1e-12)


@pytest.mark.parametrize("name", ["mul", "div", "pow", "add", "sub"])
def test_complex_binary_matches_jax(jax, name):
    jfn = {"mul": jax.numpy.multiply, "div": jax.numpy.divide, "pow": jax.lax.pow,
           "add": jax.numpy.add, "sub": jax.numpy.subtract}[name]
    z = np.array([0.3 + 0.4j, -0.5 + 0.2j])
    w = np.array([1.1 - 0.4j, 0.5 + 0.9j])
    ct = np.array([1.0 + 2.0j, -0.5 + 0.1j])
    out = prim(name).impl(z, w)
    cz, cw = prim(name).vjp(ct, [z, w], out)
    ez, ew_ = jax.vjp(jfn, z, w)[1](ct)
    np.testing.assert_allclose(cz, ez, rtol=1e-12)
    np.testing.assert_allclose(cw, ew_, rtol=1e-12)
