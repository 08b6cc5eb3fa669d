"""nbad.nn against jax.nn (x64 enabled), incl. float32 and extreme inputs."""
import functools

import jax
import jax.nn
import numpy as np
import pytest
import scipy.special

import nbad.nn as nn
from nbad.errors import NbadValueError
from nbad.test_util import trace_and_eval

jax.config.update("jax_enable_x64", True)

EXTREMES = np.array([-1e3, -30.0, -2.5, -1.0, -1e-8, 0.0, 1e-8, 0.5, 1.0, 3.0, 30.0, 1e3,
                     -np.inf, np.inf])


def assert_close(out, want, dtype):
    out, want = np.asarray(out), np.asarray(want)
    assert out.dtype == np.dtype(dtype), (out.dtype, dtype)
    assert out.shape == want.shape
    tol = 1e-6 if np.dtype(dtype) == np.float32 else 1e-13
    np.testing.assert_allclose(out, want, rtol=tol, atol=tol)


def traced(fn, *args):
    return trace_and_eval(fn, *args)[0]


ACTIVATIONS = ["relu", "relu6", "sigmoid", "softplus", "soft_sign", "silu", "swish", "gelu",
               "elu", "celu", "selu", "leaky_relu", "hard_tanh", "hard_sigmoid", "hard_silu",
               "hard_swish", "log_sigmoid", "mish"]


@functools.lru_cache(maxsize=None)
def jax_activations():
    """Every jax.nn activation of EXTREMES in float64, in one jit (op-by-op JAX
    compiles every op); float32 results are checked against it too."""
    fn = jax.jit(lambda x: {name: getattr(jax.nn, name)(x) for name in ACTIVATIONS})
    return {k: np.asarray(v) for k, v in fn(EXTREMES).items()}


@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_activation_matches_jax(name, dtype):
    x = EXTREMES.astype(dtype)
    want = jax_activations()[name].astype(dtype)
    assert_close(getattr(nn, name)(x), want, dtype)


@pytest.mark.parametrize("name", ["relu", "sigmoid", "gelu", "elu", "softplus"])
def test_activation_traced(name):
    want = jax_activations()[name]
    assert_close(traced(getattr(nn, name), EXTREMES), want, np.float64)


def test_activation_parameters_and_integer_inputs():
    x = EXTREMES
    assert_close(nn.gelu(x, approximate=False), jax.nn.gelu(x, approximate=False), np.float64)
    assert_close(nn.elu(x, 0.3), jax.nn.elu(x, 0.3), np.float64)
    assert_close(nn.celu(x, 2.0), jax.nn.celu(x, 2.0), np.float64)
    assert_close(nn.leaky_relu(x, 0.2), jax.nn.leaky_relu(x, 0.2), np.float64)
    ints = np.arange(-3, 4)
    assert_close(nn.sigmoid(ints), jax.nn.sigmoid(ints.astype(np.float64)), np.float64)
    assert np.asarray(nn.relu(ints)).dtype == np.int64


def test_glu():
    x = np.linspace(-3, 3, 24).reshape(4, 6)
    for axis in (0, -1):
        assert_close(nn.glu(x, axis), jax.nn.glu(x, axis), np.float64)
    with pytest.raises(NbadValueError, match="even"):
        nn.glu(np.ones((3, 5)))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("axis", [-1, 0, 1, (0, 2)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softmax(name, axis, dtype):
    x = (np.random.default_rng(0).standard_normal((3, 4, 5)) * 300).astype(dtype)
    x[0, 0, 0] = -np.inf
    want = getattr(scipy.special, name)(x, axis=axis)
    assert_close(getattr(nn, name)(x, axis=axis), want, dtype)


def test_softmax_extremes_and_traced():
    x = np.array([[1e3, 1e3 - 1.0, -1e3], [0.0, -np.inf, 5.0]])
    for name in ("softmax", "log_softmax"):
        want = getattr(scipy.special, name)(x, axis=-1)
        assert_close(getattr(nn, name)(x), want, np.float64)
        assert_close(traced(getattr(nn, name), x), want, np.float64)
    assert_close(traced(lambda v: nn.log_softmax(v, axis=0), x),
                 scipy.special.log_softmax(x, axis=0), np.float64)


def test_logsumexp_is_shared_with_scipy_special():
    import nbad.scipy.special

    assert nn.logsumexp is nbad.scipy.special.logsumexp


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_one_hot(axis):
    labels = np.array([[0, 2, 1], [3, 5, -1]])
    want = jax.nn.one_hot(labels, 4, axis=axis, dtype=np.float64)
    assert_close(nn.one_hot(labels, 4, axis=axis), want, np.float64)
    out = nn.one_hot(labels, 4, axis=axis, dtype=np.int32)
    np.testing.assert_array_equal(out, want.astype(np.int32))
    assert out.dtype == np.int32
    assert_close(traced(lambda v: nn.one_hot(v, 4, axis=axis), labels), want, np.float64)


@pytest.mark.parametrize("axis", [-1, 0, (0, 1)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_standardize(axis, dtype):
    x = (np.random.default_rng(1).standard_normal((4, 5)) * 3 + 2).astype(dtype)
    want = (x - x.mean(axis, keepdims=True)) / np.sqrt(x.var(axis, keepdims=True) + 1e-5)
    out = nn.standardize(x, axis=axis)
    assert np.asarray(out).dtype == np.dtype(dtype)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(out, want, rtol=tol, atol=tol)


def test_standardize_given_statistics_matches_jax():
    x = np.random.default_rng(1).standard_normal((4, 5))
    mean, var = np.zeros((4, 1)), np.full((4, 1), 4.0)
    np.testing.assert_allclose(nn.standardize(x, mean=mean, variance=var),
                               jax.nn.standardize(x, mean=mean, variance=var), rtol=1e-12)
    np.testing.assert_allclose(nn.standardize(x), jax.nn.standardize(x), rtol=1e-10)
