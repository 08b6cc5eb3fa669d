"""The sort primitive and jnp.sort/argsort, lax.sort/sort_key_val: against NumPy
and JAX (orders, NaNs, stability, descending), derivatives against finite
differences, batching against a loop, and under jit."""
import numpy as np
import pytest

import nbad
import nbad.lax as lax
import nbad.numpy as jnp
from nbad.errors import NbadValueError, ShapeError
from nbad.rules.sort import sort_p
from nbad.test_util import check_batching, check_grads

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jjnp = jax.numpy

X = np.array([[3.0, -0.0, np.nan, 0.0, -1.0, 3.0, -np.inf],
              [1.0, 1.0, 1.0, 0.0, 2.0, -np.inf, np.nan]])
TIES = np.array([[2, 1, 2, 1, 0, 2], [5, 5, 4, 4, 4, 5]])


@pytest.mark.parametrize("x", [X, TIES], ids=["floats", "ties"])
@pytest.mark.parametrize("kwargs", [{}, dict(axis=0), dict(axis=None), dict(descending=True),
                                    dict(axis=0, descending=True)])
def test_sort_and_argsort_as_jax(x, kwargs):
    got, want = np.asarray(jnp.sort(x, **kwargs)), np.asarray(jjnp.sort(x, **kwargs))
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(jnp.argsort(x, **kwargs), jjnp.argsort(x, **kwargs))
    if not kwargs.get("descending"):
        np.testing.assert_array_equal(got, np.sort(x, axis=kwargs.get("axis", -1)))
        np.testing.assert_array_equal(jnp.argsort(x, **kwargs),
                                      np.argsort(x, axis=kwargs.get("axis", -1), kind="stable"))


_jit_argsort = nbad.jit(lambda x: (jnp.sort(x), jnp.argsort(x, descending=True)))


def test_under_jit():
    got = _jit_argsort(X)
    np.testing.assert_array_equal(got[0], jjnp.sort(X))
    np.testing.assert_array_equal(got[1], jjnp.argsort(X, descending=True))


def test_lax_sort_several_operands_and_keys():
    keys = np.array([3, 1, 3, 1, 2, 1])
    second = np.array([0.5, 2.0, -1.0, 2.0, 0.0, 1.0])
    values = np.arange(6)
    got = lax.sort((keys, second, values), num_keys=2)
    want = jax.lax.sort((keys, second, values), num_keys=2)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    k, v = lax.sort_key_val(X, np.arange(14).reshape(2, 7), dimension=0)
    wk, wv = jax.lax.sort_key_val(X, np.arange(14).reshape(2, 7), dimension=0)
    np.testing.assert_array_equal(k, wk)
    np.testing.assert_array_equal(v, wv)
    np.testing.assert_array_equal(lax.sort(X[0]), jax.lax.sort(X[0]))


def test_sort_gradients():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 5))
    check_grads(lambda x: jnp.sort(x, axis=0) ** 2, (x,), order=2)
    check_grads(lambda x: jnp.sort(x, descending=True) * np.arange(5.0), (x,), order=1)
    check_grads(lambda k, v: lax.sort_key_val(k, v)[1] * lax.sort_key_val(k, v)[0],
                (x, rng.normal(size=(4, 5))), order=1)
    g = nbad.jit(nbad.grad(lambda x: jnp.sum(jnp.sort(x) * np.arange(5.0))))(x[0])
    np.testing.assert_array_equal(g, np.argsort(np.argsort(x[0])).astype(float))


@pytest.mark.parametrize("batched, dimension", [((True,), 0), ((True, False), 1),
                                                ((False, True), 0)])
def test_sort_batching(batched, dimension):
    rng = np.random.default_rng(1)
    args = [rng.integers(0, 3, size=(3, 4, 5) if b else (4, 5)).astype(float) for b in batched]
    check_batching(sort_p, args, batched, dict(dimension=dimension, is_stable=True, num_keys=1))
    f = lambda x: jnp.argsort(x, axis=-1, descending=True)
    xs = rng.integers(0, 3, size=(3, 4, 5))
    np.testing.assert_array_equal(nbad.vmap(f)(xs), np.stack([f(x) for x in xs]))


@pytest.mark.parametrize("call, error", [
    (lambda: sort_p.bind(np.zeros(3), np.zeros(4), dimension=0, is_stable=True, num_keys=1),
     ShapeError),
    (lambda: sort_p.bind(np.zeros(3), dimension=0, is_stable=True, num_keys=2), NbadValueError),
    (lambda: jnp.sort(np.zeros(3), axis=1), NbadValueError),
])
def test_errors(call, error):
    with pytest.raises(error):
        call()
