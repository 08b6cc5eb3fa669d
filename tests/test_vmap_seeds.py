"""The seeds' vmap examples with the shapes and numbers they print, vmap's
errors (JAX's wording, with the arguments named), and how a vmap is compiled.
"""
import numpy as np
import pytest

import nbad
import nbad.numpy as jnp
from nbad.errors import NbadTypeError, NbadValueError
from test_ad import gen_params, predict

rng = np.random.default_rng(4)


# -- seed 004: auto-vectorising with vmap -----------------------------------------------
def test_seed_batched_function_shape():
    f = lambda x: jnp.array([jnp.sum(x ** 2) / 2, jnp.linalg.norm(x, jnp.inf)])
    f = nbad.vmap(f)
    x = jnp.ones((100, 3))
    out = f(x)
    assert x.shape == (100, 3) and out.shape == (100, 2)
    np.testing.assert_array_equal(out, np.tile([1.5, 1.0], (100, 1)))


def test_seed_batched_network_twice():
    def f(x, W, b):
        return W[1] @ jnp.tanh(W[0] @ x + b[0]) + b[1]

    f = nbad.vmap(f, in_axes=(0, None, None))
    f = nbad.vmap(f, in_axes=(0, None, None))
    n, m, batch_size, hdim = 3, 5, 100, 32
    W = (jnp.ones((hdim, n)), jnp.ones((m, hdim)))
    b = (jnp.ones(hdim), jnp.ones(m))
    x = jnp.ones((40, batch_size, n))
    out = f(x, W, b)
    assert out.shape == (40, 100, 5)
    np.testing.assert_allclose(out, np.full((40, 100, 5), 32 * np.tanh(4.0) + 1), rtol=1e-14)
    xr, Wr = rng.standard_normal((4, 6, n)), (rng.standard_normal((hdim, n)), rng.standard_normal((m, hdim)))
    want = np.tanh(xr @ Wr[0].T + 1.0) @ Wr[1].T + 1.0
    np.testing.assert_allclose(f(xr, Wr, b), want, rtol=1e-12)


def test_seed_jacobian_from_jvps_and_vjps():
    f = lambda x: jnp.array([x[0], x[0] ** 2 + x[2] ** 2])

    def df(x, v):
        fx, dfx_v = nbad.jvp(f, (x,), (v,))
        return dfx_v

    def dfT(x, w):
        fx, dfxT = nbad.vjp(f, x)
        return dfxT(w)[0]

    n, m = 3, 2
    x = jnp.ones(n)
    Jx = nbad.vmap(df, in_axes=(None, 0))(x, jnp.eye(n))
    JxT = nbad.vmap(dfT, in_axes=(None, 0))(x, jnp.eye(m))
    np.testing.assert_array_equal(Jx, [[1., 2.], [0., 0.], [0., 2.]])
    np.testing.assert_array_equal(JxT, [[1., 0., 0.], [2., 0., 2.]])


def pendulum(x, u):
    return jnp.array([x[1], 9.81 * jnp.sin(x[0]) + u[0]])


def taylor(x_bar, u_bar, dx, du):
    f_xu, A_dx = nbad.jvp(lambda x: pendulum(x, u_bar), (x_bar,), (dx,))
    _, B_du = nbad.jvp(lambda u: pendulum(x_bar, u), (u_bar,), (du,))
    return f_xu, A_dx, B_du


def _taylor_reference(x_bar, u_bar, dx, du):
    c = np.array([x_bar[1], 9.81 * np.sin(x_bar[0]) + u_bar[0]])
    A = np.array([[0.0, 1.0], [9.81 * np.cos(x_bar[0]), 0.0]])
    return c, A @ dx, np.array([0.0, du[0]])


def test_seed_pendulum_linearisation_grid():
    n, m, K, T = 2, 1, 5, 10
    t = nbad.vmap(taylor, in_axes=(None, None, 0, 0))
    assert type(t).__name__ == "function"
    t = nbad.vmap(t, in_axes=(0, 0, None, None))
    x_bar, u_bar = jnp.ones((K, n)), jnp.ones((K, m))
    dx, du = jnp.ones((T, n)), jnp.ones((T, m))
    c, Ax, Bu = t(x_bar, u_bar, dx, du)
    assert c.shape == Ax.shape == Bu.shape == (5, 10, 2)
    xr, ur, dxr, dur = (rng.standard_normal(s) for s in ((K, n), (K, m), (T, n), (T, m)))
    c, Ax, Bu = t(xr, ur, dxr, dur)
    for k in range(K):
        for s in range(T):
            want = _taylor_reference(xr[k], ur[k], dxr[s], dur[s])
            for got, w in zip((c[k, s], Ax[k, s], Bu[k, s]), want):
                np.testing.assert_allclose(got, w, rtol=1e-13, atol=1e-15)


def test_seed_pendulum_linearisation_trajectories():
    n, m, K, T = 2, 1, 5, 10
    t = nbad.vmap(nbad.vmap(taylor))
    x_bar, u_bar = rng.standard_normal((K, T, n)), rng.standard_normal((K, T, m))
    dx, du = rng.standard_normal((K, T, n)), rng.standard_normal((K, T, m))
    c, Ax, Bu = t(x_bar, u_bar, dx, du)
    assert c.shape == Ax.shape == Bu.shape == (5, 10, 2)
    for k in range(K):
        for s in range(T):
            want = _taylor_reference(x_bar[k, s], u_bar[k, s], dx[k, s], du[k, s])
            for got, w in zip((c[k, s], Ax[k, s], Bu[k, s]), want):
                np.testing.assert_allclose(got, w, rtol=1e-13, atol=1e-15)


# -- seed 000: the backprop MLP with a batched predict --------------------------------
# gen_params and predict are seed 000's, as tests/test_ad.py writes them
batched_predict = nbad.vmap(predict, in_axes=(None, 0))


def jaxnet_loss(params, features, targets):
    predictions = batched_predict(params, features)
    return jnp.mean(jnp.square(targets - predictions))


def _numpy_predict(params, X):
    a = X
    for w, b in params:
        a = 1 / (1 + np.exp(-(a @ w + b)))
    return a


def test_seed_batched_mlp_trained_with_value_and_grad():
    params = gen_params([5, 10, 5])
    features = rng.uniform(-1, 1, (32, 5))
    targets = rng.uniform(0, 1, (32, 1, 5))  # predict gives (1, 5) per case
    preds = batched_predict(params, features)
    assert preds.shape == (32, 1, 5)
    np.testing.assert_allclose(preds, _numpy_predict(params, features)[:, None, :], rtol=1e-13)
    step = nbad.jit(nbad.value_and_grad(jaxnet_loss))
    losses = []
    for _ in range(30):
        mse, grads = step(params, features, targets)
        eager_mse, eager_grads = nbad.value_and_grad(jaxnet_loss)(params, features, targets)
        np.testing.assert_allclose(mse, eager_mse, rtol=1e-13)
        for a, b in zip(nbad.tree_leaves(grads), nbad.tree_leaves(eager_grads)):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-16)
        params = [[w - 0.5 * dw, b - 0.5 * db] for (w, b), (dw, db) in zip(params, grads)]
        losses.append(float(mse))
    assert losses[-1] < losses[0]
    want = np.mean((targets - _numpy_predict(params, features)[:, None, :]) ** 2)
    np.testing.assert_allclose(jaxnet_loss(params, features, targets), want, rtol=1e-13)


# -- seeds 001 and 002: vmap(grad(h)) over linspace ------------------------------------
def test_seed_vmap_of_grad_over_linspace():
    h = lambda x: jnp.maximum(0, x)
    x = jnp.linspace(-3, 3, 101)
    with pytest.raises(NbadTypeError, match=r"shape: \(101,\)"):
        nbad.grad(h)(x)
    y_grad = nbad.vmap(nbad.grad(h))(x)
    xs = np.asarray(x)  # JAX's convention at the kink: maximum's tie splits the gradient
    np.testing.assert_array_equal(y_grad, np.where(xs > 0, 1.0, np.where(xs == 0, 0.5, 0.0)))


def test_seed_derivatives_of_tanh():
    x = np.linspace(-7, 7, 200)
    t = np.tanh(x)
    d1 = 1 - t ** 2
    d2 = -2 * t * d1
    d3 = -2 * d1 ** 2 - 2 * t * d2
    d4 = -4 * d1 * d2 - 2 * d1 * d2 - 2 * t * d3
    g = nbad.grad
    for fn, want in ((g(jnp.tanh), d1), (g(g(jnp.tanh)), d2), (g(g(g(jnp.tanh))), d3),
                     (g(g(g(g(jnp.tanh)))), d4)):
        np.testing.assert_allclose(nbad.vmap(fn)(x), want, rtol=1e-9, atol=1e-13)


# -- errors --------------------------------------------------------------------------
def test_error_inconsistent_sizes_names_the_arguments():
    def f(x, y):
        return x + y

    with pytest.raises(NbadValueError) as e:
        nbad.vmap(f)(np.ones(3), np.ones(4))
    msg = str(e.value)
    assert "inconsistent sizes" in msg
    assert "size 3: axis 0 of argument x of type f64[3]" in msg
    assert "size 4: axis 0 of argument y of type f64[4]" in msg


def test_error_axis_out_of_range():
    with pytest.raises(NbadValueError, match="along axis 2.*rank should be at least 3.*only 2"):
        nbad.vmap(jnp.sin, in_axes=2)(np.ones((3, 4)))
    with pytest.raises(NbadValueError, match="rank should be at least 1.*only 0"):
        nbad.vmap(jnp.sin)(np.float64(1.0))
    with pytest.raises(NbadValueError, match="out_axes=3 is out of range"):
        nbad.vmap(jnp.sin, out_axes=3)(np.ones((3, 4)))


def test_error_in_axes_structure():
    with pytest.raises(NbadValueError, match=r"len\(in_axes\)=2, len\(args\)=1"):
        nbad.vmap(jnp.sin, in_axes=(0, 0))(np.ones(3))
    with pytest.raises(NbadValueError, match="tree prefix"):
        nbad.vmap(lambda d: d["a"], in_axes=({"b": 0},))({"a": np.ones(3)})
    with pytest.raises(NbadTypeError, match="in_axes must be an int"):
        nbad.vmap(jnp.sin, in_axes="0")
    with pytest.raises(NbadValueError, match="at least one non-None"):
        nbad.vmap(jnp.sin, in_axes=None)(np.ones(3))


def test_error_mapped_output_with_out_axes_none():
    with pytest.raises(NbadValueError, match="mapped output but out_axes is None"):
        nbad.vmap(jnp.sin, out_axes=None)(np.ones(3))


def test_non_array_arguments():
    # unmapped: passed through to the function, as in JAX; mapped: an error
    f = nbad.vmap(lambda s, x: x * 2.0 if s == "double" else x, in_axes=(None, 0))
    np.testing.assert_array_equal(f("double", np.ones(3)), np.full(3, 2.0))
    np.testing.assert_array_equal(f("same", np.ones(3)), np.ones(3))
    with pytest.raises(NbadTypeError, match="type str"):
        nbad.vmap(lambda s, x: x, in_axes=(0, 0))("text", np.ones(3))


def test_error_python_control_flow_on_a_mapped_value():
    def f(x):
        return x if x > 0 else -x

    with pytest.raises(nbad.errors.ConcretizationError, match=r"vmap\(f\)"):
        nbad.vmap(f)(np.ones(3))


# -- how a vmap is compiled --------------------------------------------------------------
def test_batched_mlp_runs_as_matrix_matrix_products():
    def mlp(params, x):
        for W, b in params[:-1]:
            x = jnp.tanh(W @ x + b)
        W, b = params[-1]
        return W @ x + b

    params = [(rng.standard_normal((16, 8)), rng.standard_normal(16)),
              (rng.standard_normal((16, 16)), rng.standard_normal(16)),
              (rng.standard_normal((4, 16)), rng.standard_normal(4))]
    X = rng.standard_normal((64, 8))
    f = nbad.jit(nbad.vmap(mlp, in_axes=(None, 0)))
    lowered = f.lower(params, X)
    assert "map" in str(lowered.ir)  # the user's function, per example
    dots = [s for s in lowered.plan.steps if getattr(s, "equation", None) is not None
            and s.equation.primitive.name == "dot_general"]
    assert len(dots) == 3
    for s in dots:
        assert all(a.aval.ndim == 2 for a in s.equation.inputs)  # matrix-matrix: BLAS
    want = X
    for W, b in params[:-1]:
        want = np.tanh(want @ W.T + b)
    want = want @ params[-1][0].T + params[-1][1]
    np.testing.assert_allclose(f(params, X), want, rtol=1e-12, atol=1e-14)


def test_vmap_outside_jit_is_compiled_once_per_shape():
    calls = []

    def f(x):
        calls.append(1)
        return jnp.exp(x) * 2.0

    g = nbad.vmap(f)
    for n in (3, 3, 3):
        np.testing.assert_allclose(g(np.ones((n, 2))), np.full((n, 2), 2 * np.e), rtol=1e-15)
    assert len(calls) == 1  # traced once, then the compiled program is called
    g(np.ones((5, 2)))
    assert len(calls) == 2


def test_vmap_of_elementwise_is_one_kernel():
    f = nbad.jit(nbad.vmap(nbad.grad(jnp.tanh)))
    lowered = f.lower(np.ones(1000))
    assert "map" in str(lowered.ir)
    assert lowered.fusion_notes.startswith("1 kernels, 0 library calls")
