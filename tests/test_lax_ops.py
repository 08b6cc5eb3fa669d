"""nbad.lax's primitive operations against jax.lax (values, dtypes, lax's
errors, derivatives, vmap), precision= on the products, nbad.debug,
devices/sharding and custom_jvp.defjvps."""
import numpy as np
import pytest

import nbad
import nbad.numpy as jnp
from nbad import lax
from nbad.errors import NbadNotImplementedError
from nbad.test_util import check_grads

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
from jax import lax as jlax  # noqa: E402

X = np.arange(6.0).reshape(2, 3) - 2.3
I = np.array([7, -7, 6, -6])
J = np.array([-2, 2, 4, -4])

CASES = [
    ("add", (X, 1.0)), ("sub", (X, X.T.T)), ("mul", (X, 2.0)), ("div", (X, 1.5)), ("div", (I, J)),
    ("rem", (I, J)), ("rem", (X, 0.7)), ("neg", (X,)), ("abs", (X,)), ("sign", (X,)),
    ("max", (X, 0.0)), ("min", (X, 0.0)), ("pow", (X + 3, 1.5)), ("integer_pow", (X, 3)),
    ("square", (X,)), ("exp", (X,)), ("exp2", (X,)), ("expm1", (X,)), ("log", (X + 3,)),
    ("log1p", (X + 3,)), ("sqrt", (X + 3,)), ("rsqrt", (X + 3,)), ("cbrt", (X,)), ("tanh", (X,)),
    ("logistic", (X,)), ("sin", (X,)), ("cos", (X,)), ("tan", (X,)), ("atan2", (X, X + 1)),
    ("asinh", (X,)), ("erf", (X,)), ("erfc", (X,)), ("erf_inv", (X / 4,)), ("lgamma", (X + 3,)),
    ("digamma", (X + 3,)), ("floor", (X,)), ("ceil", (X,)), ("round", (np.array([2.5, -2.5, 0.4, 1.5]),)),
    ("round", (np.array([2.5, -2.5, 0.5]), 1)), ("clamp", (0.0, X, 1.0)), ("select", (X > 0, X, -X)),
    ("eq", (X, 0.7)), ("lt", (X, 0.7)), ("ge", (X, 0.7)), ("bitwise_and", (I, J)), ("shift_left", (I, J % 3)),
    ("convert_element_type", (X, np.int32)), ("broadcast", (X, (2,))),
    ("broadcast_in_dim", (X[:1], (4, 2, 3), (1, 2))), ("reshape", (X, (3, 2))),
    ("reshape", (X, (3, 2), (1, 0))), ("transpose", (X, (1, 0))), ("squeeze", (X[None], (0,))),
    ("expand_dims", (X, (0, 2))), ("concatenate", ([X, X], 1)), ("rev", (X, (0, 1))),
    ("slice", (X, (0, 1), (2, 3))), ("slice", (X, (0, 0), (2, 3), (1, 2))),
    ("pad", (X, 0.0, ((1, 2, 1), (0, 1, 0)))), ("iota", (np.int32, 4)), ("full", ((2, 2), 3.0)),
    ("dot", (X, X.T)), ("dot", (X, X[0])), ("dot_general", (X, X, (((1,), (1,)), ((0,), (0,))))),
    ("reduce_sum", (X, (1,))), ("reduce_max", (X, (0, 1))), ("reduce_min", (X, (0,))),
    ("reduce_prod", (X, (1,))), ("argmax", (X, 1, np.int32)), ("argmin", (X, 0, np.int64)),
    ("cumsum", (X, 1)), ("cumsum", (X, 0, True)), ("cummax", (X, 1)), ("cumprod", (X, 1)),
]


@pytest.mark.parametrize("name,args", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_matches_jax(name, args):
    got, want = getattr(lax, name)(*args), getattr(jlax, name)(*args)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-13, atol=1e-15)
    assert np.asarray(got).dtype == np.asarray(want).dtype


def test_lax_rules_not_numpys():
    with pytest.raises(TypeError, match="same dtypes"):
        lax.add(X, X.astype(np.float32))
    with pytest.raises(TypeError, match="same dtypes"):
        lax.add(X, 1)                      # a Python int does not become a float, as in JAX
    with pytest.raises(TypeError, match="incompatible shapes"):
        lax.add(X, np.ones(2))
    with pytest.raises(TypeError, match="pred must be bool"):
        lax.select(X, X, X)
    assert lax.Precision.HIGHEST.name == "HIGHEST" and lax.add.__module__ == "nbad.lax"


def test_derivatives_and_vmap():
    check_grads(lambda x: lax.reduce_sum(lax.mul(lax.tanh(x), lax.integer_pow(x, 2)), (1,)), (X,), order=2)
    check_grads(lambda x: lax.dot_general(x, x, (((1,), (1,)), ((), ()))), (X,), order=2)
    check_grads(lambda x: lax.clamp(-1.0, x, 1.0), (X,), order=1)
    batched = nbad.vmap(lambda r: lax.dot(r, r))(X)
    np.testing.assert_allclose(batched, np.einsum("ij,ij->i", X, X))
    np.testing.assert_allclose(nbad.jit(lambda x: lax.rsqrt(lax.add(x, 3.0)))(X), 1 / np.sqrt(X + 3))


def test_products_accept_precision():
    for fn in (jnp.dot, jnp.matmul):
        np.testing.assert_allclose(fn(X, X.T, precision=lax.Precision.HIGHEST), X @ X.T)
    got = jnp.einsum("ij,kj->ik", X, X, precision=lax.Precision.HIGH)
    np.testing.assert_allclose(got, X @ X.T)
    assert jnp.dot(X, X.T, preferred_element_type=np.float32).dtype == np.float32
    np.testing.assert_allclose(lax.dot(X, X.T, precision=lax.Precision.DEFAULT), X @ X.T)


def test_debug_print_and_callback(capsys):
    nbad.debug.print("x = {x}, y = {}", 2.5, x=np.arange(3))
    assert capsys.readouterr().out == "x = [0 1 2], y = 2.5\n"
    seen = []

    def loss(x):
        nbad.debug.print("value {}", x)
        nbad.debug.callback(lambda v: seen.append(v.copy()), x * 2)
        return jnp.sum(x ** 2)

    np.testing.assert_allclose(nbad.grad(loss)(np.array([1.0, 2.0])), [2.0, 4.0])
    assert capsys.readouterr().out == "value [1. 2.]\n"
    np.testing.assert_allclose(seen[0], [2.0, 4.0])
    with pytest.raises(NbadNotImplementedError, match="outside jit"):
        nbad.jit(loss)(np.ones(2))


def test_devices():
    x = jnp.ones(3)
    assert x.devices() == set(nbad.devices()) and repr(nbad.devices()[0]) == "CpuDevice(id=0)"
    assert nbad.device_count() == 1 and nbad.default_backend() == "cpu"
    # no .sharding: JAX would read it from nbad arrays passed to its functions
    np.testing.assert_allclose(jax.numpy.sin(x), np.sin(1.0))


def test_custom_jvp_defjvps():
    @nbad.custom_jvp
    def f(x, y):
        return jnp.sin(x) * y

    f.defjvps(lambda x_dot, out, x, y: jnp.cos(x) * x_dot * y,
              lambda y_dot, out, x, y: jnp.sin(x) * y_dot)
    x, y = np.array([0.3, 1.2]), np.array([2.0, -1.0])
    gx, gy = nbad.grad(lambda x, y: f(x, y).sum(), (0, 1))(x, y)
    np.testing.assert_allclose(gx, np.cos(x) * y)
    np.testing.assert_allclose(gy, np.sin(x))
    check_grads(f, (x, y), order=2)
    np.testing.assert_allclose(nbad.jit(nbad.vmap(nbad.grad(f)))(x, y), np.cos(x) * y)

    @nbad.custom_jvp
    def g(x, y):
        return x * y

    g.defjvps(None, lambda y_dot, out, x, y: x * y_dot)    # x's tangent ignored, as the rule says
    assert nbad.grad(g)(3.0, 2.0) == 0.0 and nbad.grad(g, 1)(3.0, 2.0) == 3.0


CONV_RNG = np.random.default_rng(1)
CONV_X = CONV_RNG.standard_normal((2, 4, 7, 6))
CONV_K = CONV_RNG.standard_normal((6, 2, 3, 2))
CONV_CASES = [
    dict(window_strides=(1, 1), padding="VALID", feature_group_count=2),
    dict(window_strides=(2, 1), padding="SAME", feature_group_count=2),
    dict(window_strides=(3, 2), padding="SAME_LOWER", rhs_dilation=(2, 1), feature_group_count=2),
    dict(window_strides=(1, 2), padding=((1, 2), (0, 1)), lhs_dilation=(2, 1), rhs_dilation=(1, 2),
         feature_group_count=2),
]


@pytest.mark.parametrize("kw", CONV_CASES)
def test_conv_general_dilated(kw):
    got = lax.conv_general_dilated(CONV_X, CONV_K, **kw)
    np.testing.assert_allclose(got, jlax.conv_general_dilated(CONV_X, CONV_K, **kw), rtol=1e-12, atol=1e-12)
    x, k = CONV_X[:1, :2, :5, :4], CONV_K[:2, :, :2]
    kw = dict(kw, feature_group_count=1)
    check_grads(lambda x, k: lax.conv_general_dilated(x, k, **kw), (x, k[:, :2]), order=2)
    grads = nbad.grad(lambda x, k: (lax.conv_general_dilated(x, k, **kw) ** 2).sum(), (0, 1))(x, k[:, :2])
    want = jax.grad(lambda x, k: (jlax.conv_general_dilated(x, k, **kw) ** 2).sum(), (0, 1))(x, k[:, :2])
    for g, w in zip(grads, want):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


def test_conv_layouts_jit_vmap():
    x_nhwc, k_hwio = np.transpose(CONV_X[:, :2], (0, 2, 3, 1)), np.transpose(CONV_K, (2, 3, 1, 0))
    kw = dict(window_strides=(1, 1), padding="SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    np.testing.assert_allclose(nbad.jit(lambda x, k: lax.conv_general_dilated(x, k, **kw))(x_nhwc, k_hwio),
                               jlax.conv_general_dilated(x_nhwc, k_hwio, **kw), rtol=1e-12)
    x1, k1 = CONV_RNG.standard_normal((2, 3, 9)), CONV_RNG.standard_normal((4, 3, 3))
    np.testing.assert_allclose(lax.conv(x1, k1, (2,), "SAME"), jlax.conv(x1, k1, (2,), "SAME"), rtol=1e-12)
    per_example = nbad.vmap(lambda xi: lax.conv(xi[None], CONV_K[:, :2], (1, 1), "VALID")[0])(CONV_X[:, :2])
    np.testing.assert_allclose(per_example, jlax.conv(CONV_X[:, :2], CONV_K[:, :2], (1, 1), "VALID"), rtol=1e-12)
    with pytest.raises(ValueError, match="transposed"):
        lax.conv_general_dilated(CONV_X, CONV_K, (1, 1), "SAME", lhs_dilation=(2, 2), feature_group_count=2)
