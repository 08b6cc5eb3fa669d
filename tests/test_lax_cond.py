"""lax.cond, lax.switch, lax.select vs JAX: eagerly and jitted, pytrees,
derivatives (check_grads order 2, forward and reverse), vmap vs a loop."""
import numpy as np
import pytest

import nbad
import nbad.numpy as jnp
from nbad import lax
from nbad.core.array import Array
from nbad.test_util import check_grads

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
import jax.numpy as jjnp  # noqa: E402
from jax import lax as jlax  # noqa: E402

X = np.array([0.3, -1.2, 2.0])
W = np.array([[1.0, 2.0, -1.0], [0.5, 0.0, 3.0]])


def piecewise(np_, lx):
    """The same function for nbad (np_=jnp, lx=lax) and JAX: pytrees in and out,
    captured arrays, a matrix product in one branch."""
    def true_fun(ops):
        x, s = ops["x"], ops["s"]
        return {"y": np_.sin(x) * s, "z": np_.dot(W, x)}

    def false_fun(ops):
        x, s = ops["x"], ops["s"]
        return {"y": x ** 2 - s, "z": np_.dot(W, np_.cos(x)) * s}

    def f(p, x, s):
        out = lx.cond(p > 0, true_fun, false_fun, {"x": x, "s": s})
        return out["y"].sum() + (out["z"] ** 2).sum()

    return f


F = piecewise(jnp, lax)
JF = jax.jit(piecewise(jjnp, jlax))
JIT_F = nbad.jit(F)


@pytest.mark.parametrize("p", [1.0, -1.0, 0.0])
def test_cond_matches_jax_eagerly_and_jitted(p):
    expected = JF(p, X, 1.5)
    np.testing.assert_allclose(F(p, X, 1.5), expected, rtol=1e-13)
    np.testing.assert_allclose(JIT_F(p, X, 1.5), expected, rtol=1e-13)


@pytest.mark.parametrize("p", [1.0, -1.0])
def test_cond_grads_order_2(p):
    check_grads(lambda x, s: JIT_F(p, x, s), (X, 1.5), order=2)
    check_grads(lambda x, s: F(p, x, s), (X, 1.5), order=2)
    g = nbad.jit(nbad.grad(F, argnums=(1, 2)))(p, X, 1.5)
    jg = jax.grad(piecewise(jjnp, jlax), argnums=(1, 2))(p, X, 1.5)
    for a, b in zip(g, jg):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_cond_is_a_branch_in_the_program():
    ir = nbad.make_ir(F)(1.0, X, 1.5)
    assert "cond" in str(ir) and str(ir).count("func @") == 3
    assert "_cond" in JIT_F.lower(1.0, X, 1.5).source


def test_grad_through_the_branch_taken_only():
    # A where() would give NaN here (0 * the infinite slope of sqrt at 0); cond does not.
    f = lambda x: lax.cond(x > 0, jnp.sqrt, lambda x: 0.0 * x, x)  # noqa: E731
    jf = lambda x: jlax.cond(x > 0, jjnp.sqrt, lambda x: 0.0 * x, x)  # noqa: E731
    for x in (0.0, -1.0, 4.0):
        assert nbad.grad(f)(x) == jax.grad(jf)(x)
        assert nbad.jit(nbad.grad(f))(x) == jax.grad(jf)(x)
        assert nbad.grad(nbad.jit(f))(x) == jax.grad(jf)(x)


def test_concrete_predicate_runs_the_chosen_branch_inline():
    ir = str(nbad.make_ir(lambda x: lax.cond(True, jnp.sin, jnp.cos, x))(X))
    assert "cond" not in ir and "sin" in ir and "cos" not in ir
    out = lax.cond(np.float64(0.0), jnp.sin, jnp.cos, X)
    assert isinstance(out, Array)
    np.testing.assert_array_equal(out, np.cos(X))
    np.testing.assert_array_equal(lax.cond(1, lambda a, b: a * b, lambda a, b: a + b, X, 2.0), X * 2)
    np.testing.assert_array_equal(lax.cond(False, jnp.sin, jnp.cos, operand=X), np.cos(X))


def test_branch_type_mismatches_raise_type_error_like_jax():
    for bad in (lambda x: x[:2], lambda x: x.astype(np.float32), lambda x: (x, x)):
        with pytest.raises(TypeError):
            jlax.cond(True, lambda x: x, bad, X)
        with pytest.raises(TypeError, match="cond: the branches"):
            lax.cond(True, lambda x: x, bad, X)
        with pytest.raises(TypeError, match="cond: the branches"):
            nbad.jit(lambda p, x: lax.cond(p, lambda x: x, bad, x))(True, X)
    with pytest.raises(TypeError, match="scalar"):
        lax.cond(np.array([True, False]), jnp.sin, jnp.cos, X)


def test_weak_scalar_results_take_the_other_branch_dtype():
    f = nbad.jit(lambda p, x: lax.cond(p, lambda x: x.sum(), lambda x: 0.0, x))
    x32 = X.astype(np.float32)
    for p in (True, False):
        got = f(p, x32)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, x32.sum() if p else 0.0, rtol=1e-6)


def test_integer_results_and_operands():
    f = nbad.jit(lambda p, x, k: lax.cond(p, lambda x, k: (x * k, k + 1), lambda x, k: (x, k * 2), x, k))
    y, k = f(True, X, 3)
    np.testing.assert_array_equal(y, X * 3)
    assert k == 4 and k.dtype == np.int64
    y, k = f(False, X, 3)
    np.testing.assert_array_equal(y, X)
    assert k == 6
    check_grads(lambda x: f(True, x, 3)[0], (X,), order=2)


def test_nested_cond_and_captured_constants():
    C, D = np.array([1.0, 2.0, 3.0]), np.array([-1.0, 0.5, 0.25])

    def f(p, q, x):
        inner = lambda x: lax.cond(q, lambda x: x * C, lambda x: x + D, x)  # noqa: E731
        return lax.cond(p, inner, lambda x: x - C * D, x)

    jf = nbad.jit(f)
    for p in (True, False):
        for q in (True, False):
            expected = (X * C if q else X + D) if p else X - C * D
            np.testing.assert_allclose(jf(p, q, X), expected, rtol=1e-15)
    check_grads(lambda x: jf(True, False, x) ** 2, (X,), order=2)


def test_vmap_of_cond_matches_a_loop():
    ps = np.array([1.0, -1.0, 0.0, 2.0])
    xs = np.stack([X, -X, X * 2, X + 1])
    expected = np.array([F(p, x, 1.5) for p, x in zip(ps, xs)])
    np.testing.assert_allclose(nbad.vmap(F, in_axes=(0, 0, None))(ps, xs, 1.5), expected, rtol=1e-13)
    np.testing.assert_allclose(nbad.jit(nbad.vmap(F, in_axes=(0, 0, None)))(ps, xs, 1.5), expected,
                               rtol=1e-13)
    # an unbatched predicate stays a branch: only one side runs on the whole batch
    shared = nbad.jit(nbad.vmap(F, in_axes=(None, 0, None)))
    np.testing.assert_allclose(shared(-1.0, xs, 1.5), [F(-1.0, x, 1.5) for x in xs], rtol=1e-13)
    assert "_cond" in shared.lower(-1.0, xs, 1.5).source
    assert "_cond" not in nbad.jit(nbad.vmap(F, in_axes=(0, 0, None))).lower(ps, xs, 1.5).source


def test_vmap_of_grad_of_cond_matches_jax():
    ps = np.array([1.0, -1.0, 3.0])
    xs = np.stack([X, -X, X * 2])
    got = nbad.jit(nbad.vmap(nbad.grad(F, argnums=1), in_axes=(0, 0, None)))(ps, xs, 1.5)
    expected = jax.vmap(jax.grad(piecewise(jjnp, jlax), argnums=1), in_axes=(0, 0, None))(ps, xs, 1.5)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


BRANCHES = [lambda x: x * 2.0, jnp.sin, lambda x: -x ** 3]
JBRANCHES = [lambda x: x * 2.0, jjnp.sin, lambda x: -x ** 3]


@pytest.mark.parametrize("i", [-3, 0, 1, 2, 7])
def test_switch_clamps_its_index_like_jax(i):
    expected = jax.jit(lambda i, x: jlax.switch(i, JBRANCHES, x))(i, X)
    np.testing.assert_allclose(lax.switch(i, BRANCHES, X), expected, rtol=1e-15)
    np.testing.assert_allclose(nbad.jit(lambda i, x: lax.switch(i, BRANCHES, x))(i, X), expected, rtol=1e-15)


def test_switch_grads_and_vmap():
    f = nbad.jit(lambda i, x: jnp.sum(lax.switch(i, BRANCHES, x)))
    for i in (0, 1, 2):
        check_grads(lambda x: f(i, x), (X,), order=2)
    idx = np.array([2, 0, 1, 5, -1])
    xs = np.stack([X * k for k in range(5)])
    expected = np.stack([np.asarray(lax.switch(i, BRANCHES, x)) for i, x in zip(idx, xs)])
    np.testing.assert_allclose(nbad.vmap(lambda i, x: lax.switch(i, BRANCHES, x))(idx, xs), expected,
                               rtol=1e-15)
    g = nbad.vmap(nbad.grad(lambda x, i: jnp.sum(lax.switch(i, BRANCHES, x))))(xs, idx)
    jg = jax.vmap(jax.grad(lambda x, i: jjnp.sum(jlax.switch(i, JBRANCHES, x))))(xs, idx)
    np.testing.assert_allclose(g, jg, rtol=1e-13)


def test_switch_errors():
    with pytest.raises(ValueError):
        lax.switch(0, [], X)
    with pytest.raises(TypeError, match="integer"):
        lax.switch(1.0, BRANCHES, X)


def test_select_matches_jax():
    pred = X > 0
    np.testing.assert_array_equal(lax.select(pred, X, -X), jlax.select(pred, X, -X))
    f = nbad.jit(lambda p, a, b: lax.select(p, a, b) * 2)
    np.testing.assert_array_equal(f(pred, X, X ** 2), np.where(pred, X, X ** 2) * 2)
    check_grads(lambda a, b: lax.select(pred, a, b) ** 2, (X, X + 1), order=2)
    with pytest.raises(TypeError, match="bool"):
        lax.select(X, X, X)
    with pytest.raises(TypeError, match="same shape and dtype"):
        lax.select(pred, X, X.astype(np.float32))


def test_backward_seed_is_broadcast_inside_the_branch():
    g = nbad.jit(nbad.grad(lambda x: jnp.sum(lax.cond(x[0] > 0, jnp.sin, jnp.cos, x))))
    xs = np.linspace(-1.0, 1.0, 1000)
    np.testing.assert_allclose(g(xs), -np.sin(xs), rtol=1e-14)  # x[0] < 0: the cos branch
    assert "computed once" not in g.lower(xs).source  # no ones(1000) array passed in


def test_branches_closing_over_traced_values():
    def g(x):
        return lax.cond(x > 0, lambda: x ** 2, lambda: -x)

    def jg(x):
        return jlax.cond(x > 0, lambda: x ** 2, lambda: -x)

    for v in (2.0, -3.0):
        assert nbad.grad(g)(v) == nbad.jit(nbad.grad(g))(v) == jax.grad(jg)(v)
        assert nbad.grad(nbad.grad(g))(v) == jax.grad(jax.grad(jg))(v)
    f = nbad.jit(lambda p, x: lax.cond(p, lambda: x * 2, lambda: x + 1))
    np.testing.assert_array_equal(f(True, X), X * 2)
    np.testing.assert_array_equal(f(False, X), X + 1)
    np.testing.assert_array_equal(nbad.jit(lambda p: lax.cond(p, lambda: 1.0, lambda: 2.0))(False), 2.0)


def test_hessian_through_cond_matches_jax():
    def k(np_, lx):
        return lambda x: lx.cond(x[0] > 0, lambda x: np_.sum(np_.sin(x) * x), lambda x: np_.sum(x ** 3), x)

    for x in (X, -X):
        np.testing.assert_allclose(nbad.jit(nbad.hessian(k(jnp, lax)))(x), jax.hessian(k(jjnp, jlax))(x),
                                   rtol=1e-13, atol=1e-15)
