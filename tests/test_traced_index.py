"""Traced indices under jit and vmap (issues 14 and 15): a gather's 0-d result
read by the next kernel, and a captured concrete array indexed by a tracer."""
import numpy as np
import pytest

import nbad
import nbad.numpy as jnp

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
import jax.numpy as jjnp  # noqa: E402

X = np.array([0.5, -1.0, 2.0, 3.5, 1.25])


# Each case: (nbad function, the same function written for JAX, arguments).
CASES = {
    "scalar index then mul": (lambda a, i: a[i] * 2, lambda a, i: a[i] * 2, (X, 3)),
    "scalar index then sin": (lambda a, i: jnp.sin(a[i]), lambda a, i: jjnp.sin(a[i]), (X, 3)),
    "negative traced index": (lambda a, i: a[i] + a, lambda a, i: a[i] + a, (X, -2)),
    "at set traced": (lambda a, i: a.at[i].set(7.0) * 2, lambda a, i: a.at[i].set(7.0) * 2, (X, 3)),
    "at argmax": (lambda a: a.at[jnp.argmax(a)].set(0.0) + 1,
                  lambda a: a.at[jjnp.argmax(a)].set(0.0) + 1, (X,)),
    "grad of a[i]**2": (nbad.grad(lambda a, i: a[i] ** 2), jax.grad(lambda a, i: a[i] ** 2), (X, 3)),
    "0-d dot then mul": (lambda a, b: jnp.dot(a, b) * a, lambda a, b: jjnp.dot(a, b) * a, (X, X)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_traced_scalar_index_under_jit_matches_jax(name):
    f, jf, args = CASES[name]
    np.testing.assert_allclose(nbad.jit(f)(*args), jax.jit(jf)(*args), rtol=1e-13)


T = jnp.arange(10.0) * 1.5


def test_captured_array_indexed_by_a_tracer():
    np.testing.assert_array_equal(nbad.jit(lambda i: T[i])(2), 3.0)
    np.testing.assert_array_equal(nbad.jit(lambda i: T[i] + T[2])(4), 9.0)
    np.testing.assert_array_equal(nbad.vmap(lambda i: T[i])(np.array([0, 3, -1])),
                                  np.asarray(T)[[0, 3, -1]])
    np.testing.assert_array_equal(nbad.jit(lambda i: T[i, None] * T[:3])(1),
                                  np.asarray(T)[1] * np.asarray(T)[:3])


def test_captured_array_eager_indexing_stays_numpy():
    assert T[3] == 4.5 and isinstance(T[1:], type(T))
    np.testing.assert_array_equal(T[np.array([1, 2])], [1.5, 3.0])


def test_traced_scalar_index_is_a_view_not_a_gather():
    f = nbad.jit(lambda a, i: a[i] * 2 + a)
    np.testing.assert_array_equal(f(X, 9), X[-1] * 2 + X)  # clamped, as JAX's gather
    source = f.lower(X, 1).source
    assert "_dynamic_slice" in source and "_gather" not in source


def test_scalar_arguments_take_the_fast_path_keyed_by_type():
    f = nbad.jit(lambda a, i: a * i)
    for _ in range(2):  # the second round goes through the fast path
        assert f(X, 3).dtype == np.float64 and f(X, True).dtype == np.float64
        np.testing.assert_array_equal(f(X, 3), X * 3)
        np.testing.assert_array_equal(f(X, True), X)
        np.testing.assert_array_equal(f(X, np.float32(0.5)), X * 0.5)
    assert (X.shape, X.dtype, int) in f._fast and (X.shape, X.dtype, bool) in f._fast
    g = nbad.jit(lambda i: i + 1)
    assert g(5) == 6 and g(5) == 6 and g(2**62) == 2**62 + 1
    with pytest.raises(Exception):
        g(2**70)  # beyond int64: the general path's error, not a wrapped value
