"""x.at[index] updates and gets vs JAX: every method, every kind of index,
eagerly and under jit (traced indices), out-of-bounds modes, duplicates,
derivatives (check_grads order 2) and vmap vs a per-example loop; jnp.take
and take_along_axis out-of-bounds modes (the same eagerly and under jit)."""
import numpy as np
import pytest

import nbad
import nbad.numpy as jnp
from nbad.core.array import as_array
from nbad.test_util import check_grads

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
import jax.numpy as jjnp  # noqa: E402

A = np.arange(1.0, 13.0).reshape(3, 4) * 0.5
DUP = np.array([0, 2, 0, -1])

INDICES = {
    "int": 1, "negative int": -1, "pair": (2, -3), "slice": np.s_[1:], "strided": np.s_[::-2, 1::2],
    "array with duplicates": DUP, "array pair": (np.array([0, 0, 2]), np.array([1, 1, 3])),
    "mixed": (np.s_[:], np.array([3, 0, 3])), "mask": A > 3.0, "ellipsis newaxis": (Ellipsis, None, 2),
}
VALUES = {"set": 7.0, "add": 2.5, "subtract": 1.5, "multiply": -2.0, "divide": 4.0, "power": 2.0,
          "min": 2.0, "max": 4.0}


def _ops(x, index, op):
    ref = x.at[index]
    if op == "get":
        return ref.get()
    if op == "apply":
        return ref.apply(lambda v: v * 3.0 + 1.0)
    return getattr(ref, op)(VALUES[op])


@pytest.mark.parametrize("op", list(VALUES) + ["get", "apply"])
@pytest.mark.parametrize("name", list(INDICES))
def test_eager_updates_match_jax(name, op):
    index = INDICES[name]
    expected = np.asarray(_ops(jjnp.asarray(A), index, op))
    got = _ops(as_array(A), index, op)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, rtol=1e-15)


def _traced(op):
    return nbad.jit(lambda x, i, j: _ops(x, (i, j), op)), jax.jit(lambda x, i, j: _ops(x, (i, j), op))


@pytest.mark.parametrize("op", ["set", "add", "multiply", "divide", "min", "max", "get", "apply"])
def test_traced_indices_under_jit_match_jax(op):
    ours, theirs = _traced(op)
    for i, j in [(np.array([0, 2, 0]), np.array([1, -1, 1])), (np.int64(2), np.int64(-4)),
                 (np.array([[1], [2]]), np.array([0, 3, 3]))]:
        np.testing.assert_allclose(ours(A, i, j), theirs(A, i, j), rtol=1e-15)


OOB = np.array([1, 7, -1, -9, 1])


@pytest.mark.parametrize("mode", [None, "drop", "fill", "clip", "promise_in_bounds"])
@pytest.mark.parametrize("op", ["set", "add", "multiply", "max"])
def test_update_modes_with_out_of_bounds_indices(op, mode):
    x = np.arange(5.0)
    if mode == "promise_in_bounds":
        idx = np.array([1, 3, -1, 1])  # a promise is only kept in bounds
    else:
        idx = OOB

    def f(x, i):
        return getattr(x.at[i], op)(10.0, mode=mode)

    expected = np.asarray(jax.jit(f)(x, idx))
    np.testing.assert_array_equal(f(as_array(x), idx), expected)
    np.testing.assert_array_equal(nbad.jit(f)(x, idx), expected)


@pytest.mark.parametrize("mode,fill", [(None, None), ("clip", None), ("fill", None), ("fill", -3.0),
                                       ("drop", None), ("promise_in_bounds", None)])
def test_get_modes(mode, fill):
    x = np.arange(5.0)
    idx = OOB if mode != "promise_in_bounds" else np.array([0, 4, -2])

    def f(x, i):
        return x.at[i].get(mode=mode, fill_value=fill)

    expected = np.asarray(jax.jit(f)(x, idx))
    np.testing.assert_array_equal(nbad.jit(f)(x, idx), expected)
    if mode is not None:  # nbad's x[idx] raises for static out-of-bounds indices, as NumPy
        np.testing.assert_array_equal(f(as_array(x), idx), expected)
    np.testing.assert_array_equal(as_array(x).at[9].get(mode="fill"), np.nan)


def test_fill_values_by_dtype_match_jax():
    for dtype in (np.int32, np.uint8, np.bool_, np.complex128, np.float32):
        x = np.arange(4).astype(dtype)
        expected = np.asarray(jjnp.asarray(x).at[np.array([5, 1])].get(mode="fill"))
        got = as_array(x).at[np.array([5, 1])].get(mode="fill")
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)


def test_unknown_mode_is_a_value_error():
    with pytest.raises(ValueError, match="mode"):
        as_array(A).at[0].set(1.0, mode="bogus")
    with pytest.raises(ValueError, match="mode"):
        as_array(A).at[0].get(mode="wrap")


def test_duplicates_accumulate():
    x = np.zeros(4)
    f = nbad.jit(lambda x, i: (x.at[i].add(1.0), x.at[i].multiply(2.0), (x + 1).at[i].divide(2.0)))
    jf = jax.jit(lambda x, i: (x.at[i].add(1.0), x.at[i].multiply(2.0), (x + 1).at[i].divide(2.0)))
    for a, b in zip(f(x, np.array([1, 1, 1, 3])), jf(x, np.array([1, 1, 1, 3]))):
        np.testing.assert_array_equal(a, b)


GRAD_OPS = ["set", "add", "multiply", "divide", "min", "max", "get"]


@pytest.mark.parametrize("op", GRAD_OPS)
def test_grads_order_2_with_traced_indices(op):
    f = nbad.jit(lambda x, v, i: _update(x, v, i, op))
    i = np.array([0, 2, -1])
    x = A[0] + np.array([0.0, 0.1, 0.2, 0.35])
    v = np.array([1.3, 2.1, 0.7])
    check_grads(lambda x, v: f(x, v, i), (x, v), order=2, atol=1e-5)
    g = nbad.grad(lambda x, v: jnp.sum(_update(x, v, i, op) ** 2), argnums=(0, 1))(x, v)
    jg = jax.grad(lambda x, v: jjnp.sum(_update(x, v, i, op) ** 2), argnums=(0, 1))(x, v)
    for a, b in zip(g, jg):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def _update(x, v, i, op):
    if op == "get":
        return x.at[i].get() * v
    return getattr(x.at[i], op)(v, unique_indices=True)  # JAX needs it for mul's gradient


def test_vmap_of_updates_matches_a_loop():
    xs = np.stack([A[0], A[1], -A[2]])
    idx = np.array([[0, 1], [3, 3], [-1, 2]])
    vals = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])

    def f(x, i, v):
        return x.at[i].add(v).at[i[0]].set(v[1]).at[i].max(x[i]) + x.at[i].get(mode="fill")[0]

    expected = np.stack([f(as_array(x), i, v) for x, i, v in zip(xs, idx, vals)])
    np.testing.assert_allclose(nbad.vmap(f)(xs, idx, vals), expected, rtol=1e-15)
    np.testing.assert_allclose(nbad.jit(nbad.vmap(f, in_axes=(None, 0, 0)))(xs[0], idx, vals),
                               np.stack([f(as_array(xs[0]), i, v) for i, v in zip(idx, vals)]),
                               rtol=1e-15)


@pytest.mark.parametrize("mode", [None, "fill", "clip", "wrap"])
def test_take_modes_are_the_same_eagerly_and_jitted_and_match_jax(mode):
    x = np.arange(10.0).reshape(2, 5)
    idx = np.array([[1, 7], [-1, -9]])
    for kwargs in (dict(axis=1), dict(axis=None), dict(axis=1, fill_value=-5.0)):
        def take(np_, x, i):
            return np_.take(x, i, mode=mode, **kwargs)
        expected = np.asarray(jax.jit(lambda x, i: take(jjnp, x, i))(x, idx))
        np.testing.assert_array_equal(take(jnp, x, idx), expected)
        np.testing.assert_array_equal(nbad.jit(lambda x, i: take(jnp, x, i))(x, idx), expected)
    along = np.array([[0, 6, -1], [4, -7, 2]])
    if mode == "wrap":
        with pytest.raises(ValueError):
            jjnp.take_along_axis(x, along, axis=1, mode=mode)
        with pytest.raises(ValueError, match="mode"):
            jnp.take_along_axis(x, along, axis=1, mode=mode)
        return
    expected = np.asarray(jjnp.take_along_axis(x, along, axis=1, mode=mode))
    np.testing.assert_array_equal(jnp.take_along_axis(x, along, axis=1, mode=mode), expected)
    np.testing.assert_array_equal(
        nbad.jit(lambda x, i: jnp.take_along_axis(x, i, axis=1, mode=mode))(x, along), expected)


def test_take_raise_mode_is_not_implemented_as_in_jax():
    with pytest.raises(NotImplementedError):
        jnp.take(np.arange(3.0), np.array([1]), mode="raise")


IN_PLACE = "into its operand's buffer"


def test_chained_updates_write_into_one_fresh_buffer():
    x = np.arange(6.0)
    f = nbad.jit(lambda x, i, j: (x * 2).at[i].set(-1.0).at[j].add(5.0) + 1)
    np.testing.assert_array_equal(f(x, 1, 1), [1, 5, 5, 7, 9, 11])
    np.testing.assert_array_equal(f(x, 0, 9), [0, 3, 5, 7, 9, 11])
    assert f.lower(x, 1, 1).source.count(IN_PLACE) == 2


def test_no_update_in_place_of_a_buffer_read_later():
    x = np.arange(6.0).reshape(2, 3)
    cases = [  # the operand itself, a view of it and a program input are read after the update
        (lambda x, i: (lambda y: (y.at[i].set(0.0), y))(x * 2), 0),
        (lambda x, i: (lambda y: y.at[0, i].set(0.0) + y.T.reshape(2, 3))(x * 2), 0),
        (lambda x, i: x.at[i].set(0.0), 0),
    ]
    for fn, in_place in cases:
        f = nbad.jit(fn)
        expected = jax.jit(fn)(x, 1)
        for a, b in zip(jax.tree_util.tree_leaves(f(x, 1)), jax.tree_util.tree_leaves(expected)):
            np.testing.assert_array_equal(a, b)
        assert f.lower(x, 1).source.count(IN_PLACE) == in_place
    np.testing.assert_array_equal(x, np.arange(6.0).reshape(2, 3))


def test_results_of_in_place_updates_are_not_reused_by_the_next_call():
    f = nbad.jit(lambda x, i: (x + 1).at[i].set(0.0))
    first = f(np.arange(3.0), 0)
    second = f(np.arange(3.0) * 10, 2)
    np.testing.assert_array_equal(first, [0.0, 2.0, 3.0])
    np.testing.assert_array_equal(second, [1.0, 11.0, 0.0])


def test_compiled_gradient_of_chained_updates_matches_jax():
    def loss(np_, x, v, i):
        y = (x * 2).at[i].set(v).at[i[::-1]].add(v * x[i]).at[i].max(x[i] ** 2)
        return np_.sum(np_.sin(y) * x)

    x = np.linspace(0.2, 1.4, 6)
    v = np.array([0.3, -1.1, 2.0])
    for i in (np.array([0, 3, 5]), np.array([2, 2, -1])):  # the second has duplicates
        got = nbad.jit(nbad.grad(lambda x, v, i: loss(jnp, x, v, i), argnums=(0, 1)))(x, v, i)
        expected = jax.grad(lambda x, v, i: loss(jjnp, x, v, i), argnums=(0, 1))(x, v, i)
        for a, b in zip(got, expected):
            np.testing.assert_allclose(a, b, rtol=1e-12)


def test_large_updates_reuse_buffers_only_once_dropped():
    big = np.zeros(1 << 18)  # 2 MiB: copied into a recycled buffer, not a fresh one
    f = nbad.jit(lambda x, i: x.at[i].set(1.0))
    kept = [f(big, k) for k in range(4)]
    for k, r in enumerate(kept):
        assert r[k] == 1.0 and r.sum() == 1.0
    for k in range(4):
        f(big, k)  # results dropped at once: their buffers are reused
    assert big.sum() == 0.0 and "_recycle" in f.lower(big, 0).source
