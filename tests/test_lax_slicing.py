"""lax.dynamic_slice and friends vs JAX: eagerly, under jit (traced starts),
derivatives (check_grads order 2), vmap with batched starts vs a per-example loop."""
import numpy as np
import pytest

import nbad
import nbad.numpy as jnp
from nbad import lax
from nbad.test_util import check_grads

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
from jax import lax as jlax  # noqa: E402

X = np.arange(20.0).reshape(4, 5) * 0.5 - 3.0
U = np.array([[10.0, 11.0], [12.0, 13.0]])

# Each case: (name, args -> nbad call, args -> JAX call) with the starts as arguments.
CASES = [
    ("slice", lambda lx, x, i, j: lx.dynamic_slice(x, (i, j), (2, 3))),
    ("slice array starts", lambda lx, x, i, j: lx.dynamic_slice(x, jnp_stack(lx, i, j), (2, 2))),
    ("update", lambda lx, x, i, j: lx.dynamic_update_slice(x, U, (i, j))),
    ("slice_in_dim", lambda lx, x, i, j: lx.dynamic_slice_in_dim(x, i, 2, axis=1)),
    ("index_in_dim", lambda lx, x, i, j: lx.dynamic_index_in_dim(x, j, 0)),
    ("index_in_dim squeezed", lambda lx, x, i, j: lx.dynamic_index_in_dim(x, i, -1, keepdims=False)),
    ("update_slice_in_dim", lambda lx, x, i, j: lx.dynamic_update_slice_in_dim(x, U[:, :1] + 0 * X[:2, :1],
                                                                               j, axis=0)),
    ("update_index_in_dim", lambda lx, x, i, j: lx.dynamic_update_index_in_dim(x, X[0] * 2, i, 0)),
    ("no negative wrap", lambda lx, x, i, j: lx.dynamic_slice(x, (i, j), (1, 2),
                                                              allow_negative_indices=False)),
]


def jnp_stack(lx, i, j):
    mod = jnp if lx is lax else jax.numpy
    return mod.stack([mod.asarray(i), mod.asarray(j)])


STARTS = [(1, 2), (-1, -2), (3, 4), (-9, 7), (0, 0)]


@pytest.mark.parametrize("name,call", CASES, ids=[c[0] for c in CASES])
def test_matches_jax_eagerly_and_under_jit(name, call):
    jitted = nbad.jit(lambda x, i, j: call(lax, x, i, j))
    jax_jitted = jax.jit(lambda x, i, j: call(jlax, x, i, j))
    for i, j in STARTS:
        try:
            expected = np.asarray(call(jlax, X, i, j))
        except ValueError:  # a static negative start with allow_negative_indices=False
            with pytest.raises(ValueError, match="allow_negative_indices"):
                call(lax, X, i, j)
        else:
            np.testing.assert_array_equal(call(lax, X, i, j), expected)
        expected = np.asarray(jax_jitted(X, np.int64(i), np.int64(j)))
        got = jitted(X, np.int64(i), np.int32(j))  # nbad accepts mixed index dtypes
        assert got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)


def test_fused_with_its_consumer_without_a_copy():
    f = nbad.jit(lambda x, i: jnp.sin(lax.dynamic_slice(x, (i, i + 1), (2, 3))) * 2.0)
    np.testing.assert_allclose(f(X, 1), np.sin(X[1:3, 2:5]) * 2.0, rtol=1e-14)
    source = f.lower(X, 1).source
    assert "_dynamic_slice" in source and source.count("_empty((2, 3)") == 1


GRAD_CASES = [c for c in CASES if c[0] in ("slice", "update", "index_in_dim squeezed", "update_index_in_dim")]


@pytest.mark.parametrize("name,call", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_grads_order_2(name, call):
    jitted = nbad.jit(lambda x, i, j: call(lax, x, i, j) ** 2)
    for i, j in [(1, 2), (-1, 9)]:
        check_grads(lambda x: jitted(x, i, j), (X,), order=2)
        check_grads(lambda x: call(lax, x, i, j) ** 2, (X,), order=2)


def test_grad_of_update_reaches_operand_and_update():
    def f(x, u, i):
        return jnp.sum(jnp.sin(lax.dynamic_update_slice(x, u, (i, i))) * X)

    check_grads(nbad.jit(lambda x, u: f(x, u, 2)), (X, U), order=2)
    g = nbad.jit(nbad.grad(f, argnums=(0, 1)))(X, U, np.int64(9))
    jg = jax.grad(lambda x, u, i: jax.numpy.sum(jax.numpy.sin(jlax.dynamic_update_slice(x, u, (i, i))) * X),
                  argnums=(0, 1))(X, U, 9)
    for a, b in zip(g, jg):
        np.testing.assert_allclose(a, b, rtol=1e-13)


def test_vmap_with_batched_starts_matches_a_loop():
    xs = np.stack([X, X * 2, -X])
    ii = np.array([0, -1, 3])
    jj = np.array([4, 1, -2])

    def f(x, i, j):
        return lax.dynamic_slice(x, (i, j), (2, 3)) + lax.dynamic_update_slice(x, U, (j, i))[:2, :3]

    expected = np.stack([f(x, i, j) for x, i, j in zip(xs, ii, jj)])
    np.testing.assert_array_equal(nbad.vmap(f)(xs, ii, jj), expected)
    shared = np.stack([f(X, i, j) for i, j in zip(ii, jj)])
    np.testing.assert_array_equal(nbad.jit(nbad.vmap(f, in_axes=(None, 0, 0)))(X, ii, jj), shared)


def test_bad_starts_raise_type_errors():
    with pytest.raises(TypeError, match="2 start indices"):
        lax.dynamic_slice(X, (1,), (2, 2))
    with pytest.raises(TypeError, match="scalar integers"):
        lax.dynamic_slice(X, (1.0, 2), (2, 2))
    with pytest.raises(TypeError, match="slice_sizes"):
        lax.dynamic_slice(X, (1, 2), (5, 2))
    with pytest.raises(TypeError, match="fit inside"):
        lax.dynamic_update_slice(X, np.ones((5, 1)), (0, 0))
    with pytest.raises(TypeError, match="dtype"):
        nbad.jit(lambda x: lax.dynamic_update_slice(x, np.ones((1, 1), np.float32), (0, 0)))(X)


def test_windows_of_kernel_results_and_transposes_under_jit():
    x = np.random.default_rng(0).random((6, 7))

    def f(x, i, j):
        rows = jnp.sum(lax.dynamic_slice(x * 2, (i, j), (3, 4)) ** 2, axis=1)
        cols = lax.dynamic_slice(x.T, (j, i), (4, 3)).sum(axis=0)
        ratio = lax.dynamic_slice(jnp.sum(x, axis=1) / x.max(axis=1), (i,), (3,))
        return rows + cols + ratio

    jitted = nbad.jit(f)
    for i, j in [(0, 0), (2, 5), (-1, 3), (9, -9)]:
        np.testing.assert_allclose(jitted(x, i, j), f(x, i, j), rtol=1e-13)
