"""grad and friends: the seeds' examples with their printed numbers, JAX's
composition rules, pytrees, and the error messages of DESIGN §1.

Per-primitive derivative rules are tested in test_ad_rules_*.py; here whole
functions are checked with check_grads (finite differences) and against the
numbers the lecture notes print.
"""
import math

import numpy as np
import pytest

import nbad
import nbad.numpy as jnp
from nbad.test_util import check_grads

rng = np.random.default_rng(0)


# -- seed 000: JAX = AutoDiff + XLA --------------------------------------------------

def jaxf1(x, y):
    q = x**2 + 8
    z = q**3 + 5*x*y
    return z


def jaxf2(x, y):
    z = 1
    for i in range(int(y)):
        z *= (x + float(i))
    return z


def jaxf3(x, y):
    return x**y


def test_seed_simple_examples():
    assert nbad.grad(jaxf1)(1.0, 2.0) == 496.0
    assert nbad.grad(jaxf1)(3.0, 4.0) == 5222.0
    assert nbad.grad(jaxf2)(2.0, 3) == 26.0
    dx, dy = nbad.grad(jaxf3, argnums=[0, 1])(3.0, 2.0)
    assert dx == 6.0 and round(float(dy), 5) == 9.88751
    assert nbad.grad(jaxf3, argnums=0)(3.0, 2.0) == 6.0


def jumpinjax(x, n, switch, primes=[2, 3, 5, 7, 11]):
    if switch == 0:
        for i in range(int(n)):
            x = x**2
    elif switch == 1:
        for p in primes:
            x = x*p
    else:
        return -x
    return x


def ranger(y, m):
    for _ in range(int(m)):
        y = y**2
    return y


def primer(x, primes):
    for p in primes:
        x *= p
    return x


def jumpinjax2(x, n, switch, primes=[2, 3, 5, 7, 11]):
    n = int(n)
    switch = int(switch)
    if switch == 0:
        return ranger(x, n)
    elif switch == 1:
        return primer(x, primes)
    else:
        return -x


def jumpinjax3(x, n, switch):
    if switch == 0:
        return ranger(x, n)
    elif switch == 1:
        return jnp.array([x**i for i in range(n)])
    else:
        return -x


def test_seed_python_control_flow_on_values():
    assert jumpinjax(3, 3, 0) == 6561 and jumpinjax(3, 3, 1) == 6930 and jumpinjax(3, 10, 2) == -3
    for djuja in (nbad.grad(jumpinjax), nbad.grad(jumpinjax2)):
        assert djuja(3.0, 3, 0) == 17496.0
        assert djuja(3.0, 3, 1) == 2310.0
        assert djuja(3.0, 10, 2) == -1.0
    djuja3 = nbad.jacrev(jumpinjax3)
    assert djuja3(3.0, 3, 0) == 17496.0
    np.testing.assert_array_equal(djuja3(3.0, 3, 1), [0.0, 1.0, 6.0])
    assert djuja3(3.0, 3, 2) == -1.0


def test_seed_side_effects_eager_versus_jit():
    state = {"bad_news": 1.0}

    def gum(x, y):
        state["bad_news"] += 10
        return state["bad_news"] * x * y**2

    dgum = nbad.grad(gum, argnums=[0, 1])
    assert [float(v) for v in dgum(2.0, 3.0)] == [99.0, 132.0]     # bad_news = 11
    assert [float(v) for v in dgum(2.0, 3.0)] == [189.0, 252.0]    # bad_news = 21
    state["bad_news"] = 1.0
    dgum2 = nbad.jit(nbad.grad(gum, argnums=[0, 1]))
    assert [float(v) for v in dgum2(2.0, 3.0)] == [99.0, 132.0]
    assert [float(v) for v in dgum2(2.0, 3.0)] == [99.0, 132.0]    # traced once: 11 forever


def hum(x, y, good_news):
    good_news += 10
    return good_news * x * y**2, good_news


@pytest.mark.parametrize("transform", [lambda f: f, nbad.jit])
def test_seed_pure_function_with_state_argument(transform):
    assert hum(2.0, 3.0, 1.0) == (198.0, 11.0)
    dhum = transform(nbad.jacrev(hum, argnums=[0, 1]))
    (dx, dy), (gx, gy) = dhum(2.0, 3.0, 1.0)
    assert (float(dx), float(dy), float(gx), float(gy)) == (99.0, 132.0, 0.0, 0.0)
    (dx, dy), _ = dhum(2.0, 3.0, 11.0)
    assert (float(dx), float(dy)) == (189.0, 252.0)


def test_seed_linear_regression_gradient_descent():
    X, w_true = rng.standard_normal((50, 3)), np.array([1.0, -2.0, 0.5])
    targets = X @ w_true + 0.25

    def model(params, cases):
        return jnp.array([jnp.dot(params[0:-1], case) + params[-1] for case in cases])

    def loss_func(params, feature_vectors, targets):
        return jnp.mean((model(params, feature_vectors) - targets) ** 2)

    params = np.zeros(4)
    grad_fn = nbad.grad(loss_func)
    g = grad_fn(params, X, targets)
    residual = X @ params[:3] + params[3] - targets
    np.testing.assert_allclose(g, np.append(2 * X.T @ residual / 50, 2 * residual.mean()), rtol=1e-12)
    fast_grad = nbad.jit(nbad.grad(lambda p: jnp.mean((X @ p[:3] + p[3] - targets) ** 2)))
    for _ in range(300):
        params = params - 0.1 * fast_grad(params)
    np.testing.assert_allclose(params, np.append(w_true, 0.25), atol=1e-6)


def gen_params(layers, seed=0):
    r = np.random.default_rng(seed)
    return [[r.uniform(-.1, .1, (s, t)), r.uniform(-.1, .1, (1, t))] for s, t in zip(layers, layers[1:])]


def predict(all_params, features):
    def sigmoid(x):
        return 1 / (1 + jnp.exp(-x))

    activations = features
    for weights, biases in all_params:
        activations = sigmoid(jnp.dot(activations, weights) + biases)
    return activations


def mlp_loss(params, features, targets):
    return jnp.mean(jnp.square(targets - predict(params, features)))


def test_seed_backprop_mlp_value_and_grad_matches_finite_differences():
    params = gen_params([5, 10, 5])
    features, targets = rng.uniform(-1, 1, (20, 5)), rng.uniform(0, 1, (20, 5))
    mse, grads = nbad.value_and_grad(mlp_loss)(params, features, targets)
    assert float(mse) == pytest.approx(float(mlp_loss(params, features, targets)), rel=1e-14)
    assert [[g.shape for g in layer] for layer in grads] == [[(5, 10), (1, 10)], [(10, 5), (1, 5)]]
    check_grads(lambda p: mlp_loss(p, features, targets), (params,), order=1, modes=("rev",))
    jitted = nbad.jit(nbad.value_and_grad(mlp_loss))
    mse2, grads2 = jitted(params, features, targets)
    np.testing.assert_allclose(mse2, mse, rtol=1e-13)
    for a, b in zip(nbad.tree_leaves(grads2), nbad.tree_leaves(grads)):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-15)


def test_seed_pid_controller_gradient():
    """A PID controller driving a first-order plant; gradient of the mean error
    w.r.t. (kp, ki, kd) through 100 unrolled steps, against finite differences."""
    def run_one_epoch(params, target=1.0, steps=100, dt=0.1):
        kp, ki, kd = params[0], params[1], params[2]
        state, integral, prev_error, total = 0.0, 0.0, target, 0.0
        for _ in range(steps):
            error = target - state
            integral = integral + error * dt
            derivative = (error - prev_error) / dt
            control = kp * error + ki * integral + kd * derivative
            state = state + dt * (-state + control)
            prev_error = error
            total = total + error ** 2
        return total / steps

    params = np.array([0.5, 0.1, 0.05])
    value, grad = nbad.value_and_grad(run_one_epoch)(params)
    eps = 1e-6
    numeric = [(run_one_epoch(params + eps * e) - run_one_epoch(params - eps * e)) / (2 * eps)
               for e in np.eye(3)]
    np.testing.assert_allclose(grad, numeric, rtol=1e-6)
    np.testing.assert_allclose(nbad.jit(nbad.grad(run_one_epoch))(params), grad, rtol=1e-12)


# -- seed 001: regression losses -------------------------------------------------------

def test_seed_ridge_and_lasso_gradients():
    X, y, b = rng.standard_normal((500, 8)), rng.standard_normal(500), rng.standard_normal((8, 1))

    def model(b, X=X):
        return X @ b

    def reg_loss(b, lam=0.0, X=X, y=y):
        return jnp.mean((y - model(b, X).squeeze()) ** 2)

    def ridge_loss(b, lam=0.0, X=X, y=y):
        return jnp.mean((y - model(b, X).squeeze()) ** 2) + lam * jnp.sum(b ** 2)

    def lasso_loss(b, lam=0.0, X=X, y=y):
        return jnp.mean((y - model(b, X).squeeze()) ** 2) + lam * jnp.sum(jnp.abs(b))

    g_reg = nbad.grad(reg_loss)(b)
    np.testing.assert_allclose(g_reg, -2 * X.T @ (y - (X @ b).squeeze())[:, None] / 500, rtol=1e-12)
    np.testing.assert_allclose(nbad.grad(ridge_loss)(b, 1.0), g_reg + 2 * b, rtol=1e-12)
    np.testing.assert_allclose(nbad.grad(lasso_loss)(b, 1.0), g_reg + np.sign(b), rtol=1e-12)
    assert nbad.grad(reg_loss)(b).shape == (8, 1)


def test_seed_grad_of_a_composite_over_linspace():
    h = lambda x: jnp.tanh(x) * jnp.sin(x)
    xs = np.linspace(-3, 3, 7)
    dh = [float(nbad.grad(h)(float(x))) for x in xs]
    np.testing.assert_allclose(dh, (1 - np.tanh(xs) ** 2) * np.sin(xs) + np.tanh(xs) * np.cos(xs),
                               rtol=1e-13)


# -- seed 004: VJPs and JVPs ---------------------------------------------------------

def test_seed_vjp_and_jvp_examples():
    f = lambda x: jnp.sum(x**2) / 2
    x = np.array([0., 1., 2.])
    f_x, dfxT = nbad.vjp(f, x)
    assert float(f_x) == 2.5
    np.testing.assert_array_equal(dfxT(1.)[0], [0., 1., 2.])
    f_x, dfx_v = nbad.jvp(f, (x,), (np.ones(3),))
    assert (float(f_x), float(dfx_v)) == (2.5, 3.0)

    def f2(x, y):
        return jnp.sum(x**2) / 2 + jnp.sum(y**2) / 2, jnp.sum(x)

    f_xy, dfT = nbad.vjp(f2, x, x)
    assert [float(v) for v in f_xy] == [5.0, 3.0]
    cx, cy = dfT((1., 1.))
    np.testing.assert_array_equal(cx, [1., 2., 3.])
    np.testing.assert_array_equal(cy, [0., 1., 2.])

    def f3(X):
        a, b = jnp.array([0., 1., 2.]), jnp.array([0., 1., 2.])
        return a @ (X @ b)

    X = np.ones((3, 3))
    f_x, dfT = nbad.vjp(f3, X)
    assert float(f_x) == 9.0
    np.testing.assert_array_equal(dfT(np.array(1.))[0], [[0., 0., 0.], [0., 1., 2.], [0., 2., 4.]])
    assert float(nbad.jvp(f3, (X,), (np.eye(3),))[1]) == 5.0


# -- composition ------------------------------------------------------------------------

def test_higher_order_and_compositions():
    f = lambda x: jnp.sin(x) * x ** 3
    d1 = lambda x: np.cos(x) * x**3 + 3 * x**2 * np.sin(x)
    d2 = lambda x: -np.sin(x) * x**3 + 6 * x**2 * np.cos(x) + 6 * x * np.sin(x)
    x = 0.7
    assert float(nbad.grad(f)(x)) == pytest.approx(d1(x), rel=1e-14)
    assert float(nbad.grad(nbad.grad(f))(x)) == pytest.approx(d2(x), rel=1e-13)
    g3 = nbad.grad(nbad.grad(nbad.grad(f)))(x)
    eps = 1e-5
    assert float(g3) == pytest.approx((d2(x + eps) - d2(x - eps)) / (2 * eps), rel=1e-7)
    assert float(nbad.jit(nbad.grad(nbad.grad(f)))(x)) == pytest.approx(d2(x), rel=1e-13)
    assert float(nbad.grad(nbad.jit(nbad.grad(f)))(x)) == pytest.approx(d2(x), rel=1e-13)
    vg = nbad.grad(lambda x: nbad.value_and_grad(f)(x)[1])(x)
    assert float(vg) == pytest.approx(d2(x), rel=1e-13)


def test_hessian_jacobians_and_hvp():
    f = lambda x: jnp.sum(jnp.sin(x) * x ** 2)
    x = rng.standard_normal(5)
    expected = np.diag(2 * np.sin(x) + 4 * x * np.cos(x) - x**2 * np.sin(x))
    np.testing.assert_allclose(nbad.hessian(f)(x), expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(nbad.jit(nbad.hessian(f))(x), expected, rtol=1e-12, atol=1e-14)
    v = rng.standard_normal(5)
    hvp = nbad.jvp(nbad.grad(f), (x,), (v,))[1]
    np.testing.assert_allclose(hvp, expected @ v, rtol=1e-12)
    g = lambda x: jnp.stack([x[0] * x[1], jnp.exp(x[2]), x[0] ** 2])
    np.testing.assert_allclose(nbad.jacfwd(g)(x[:3]), nbad.jacrev(g)(x[:3]), rtol=1e-14)


def test_linearize_reuses_the_trace():
    f = lambda x: jnp.exp(x) * 2.0
    x = rng.standard_normal(3)
    y, f_jvp = nbad.linearize(f, x)
    np.testing.assert_allclose(y, 2 * np.exp(x))
    np.testing.assert_allclose(f_jvp(np.ones(3)), 2 * np.exp(x))


def test_pytrees_of_parameters():
    params = [{"W": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)},
              {"W": rng.standard_normal((2, 1)), "b": rng.standard_normal(1)}]
    x = rng.standard_normal((4, 3))

    def loss(params):
        h = x
        for layer in params:
            h = jnp.tanh(h @ layer["W"] + layer["b"])
        return jnp.sum(h ** 2)

    g = nbad.grad(loss)(params)
    assert nbad.tree_structure(g) == nbad.tree_structure(params)
    check_grads(loss, (params,), order=2, modes=("rev", "fwd"))


def test_has_aux_and_stop_gradient():
    def f(x):
        y = jnp.sum(x ** 2)
        return y, {"norm": jnp.sqrt(y)}

    (value, aux), g = nbad.value_and_grad(f, has_aux=True)(np.array([3.0, 4.0]))
    assert float(value) == 25.0 and float(aux["norm"]) == 5.0
    np.testing.assert_array_equal(g, [6.0, 8.0])
    assert float(nbad.grad(lambda x: x * nbad.lax.stop_gradient(x))(3.0)) == 3.0


def test_custom_jvp_and_custom_vjp():
    @nbad.custom_jvp
    def log1pexp(x):
        return jnp.log1p(jnp.exp(x))

    @log1pexp.defjvp
    def log1pexp_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return log1pexp(x), t * (1.0 - 1.0 / (1.0 + jnp.exp(x)))

    assert float(nbad.grad(log1pexp)(100.0)) == 1.0            # no overflow: the rule is used
    assert float(nbad.jit(nbad.grad(log1pexp))(3.0)) == pytest.approx(1 / (1 + math.exp(-3.0)))

    @nbad.custom_vjp
    def clip_gradient(x):
        return x

    clip_gradient.defvjp(lambda x: (clip_gradient(x), None), lambda res, g: (jnp.clip(g, -1.0, 1.0),))
    assert float(nbad.grad(lambda x: clip_gradient(x) * 3.0)(2.0)) == 1.0
    assert float(nbad.jit(nbad.grad(lambda x: clip_gradient(x) * 3.0))(2.0)) == 1.0
    with pytest.raises(TypeError, match="custom_jvp"):
        nbad.jvp(clip_gradient, (1.0,), (1.0,))


def test_backward_ir_is_simplified_and_compact():
    def f(w, X, y):
        return jnp.mean((jnp.tanh(X @ w) - y) ** 2)

    args = (np.ones(4), np.ones((8, 4)), np.ones(8))
    fwd = nbad.make_ir(f)(*args)
    both = nbad.make_ir(nbad.value_and_grad(f))(*args)
    assert len(both.equations) <= 4 * len(fwd.equations)  # forward + backward


# -- errors ------------------------------------------------------------------------------

def test_grad_of_non_scalar_output():
    with pytest.raises(TypeError, match=r"shape: \(3,\).*jacrev.*vmap"):
        nbad.grad(lambda x: x * 2)(np.ones(3))


def test_grad_of_integer_input_and_output():
    with pytest.raises(TypeError, match="allow_int"):
        nbad.grad(lambda x: x * 2.0)(3)
    with pytest.raises(TypeError, match="real-valued outputs"):
        nbad.grad(lambda x: jnp.sum(x > 0))(np.ones(3))
    g = nbad.grad(lambda x, n: x * n, argnums=(0, 1), allow_int=True)(2.0, np.int64(3))
    assert float(g[0]) == 3.0 and g[1].dtype == np.dtype([("float0", np.void, 0)])


def test_argnums_out_of_range_and_has_aux_misuse():
    with pytest.raises(TypeError, match="argnums=2 requires at least 3 positional arguments"):
        nbad.grad(lambda x, y: x * y, argnums=2)(1.0, 2.0)  # JAX's class: TypeError
    with pytest.raises(ValueError, match="argnums=-3 is out of range"):
        nbad.grad(lambda x, y: x * y, argnums=-3)(1.0, 2.0)
    with pytest.raises(TypeError, match=r"has_aux=True\) requires the function to return a pair .* a single array"):
        nbad.grad(lambda x: x * 2.0, has_aux=True)(1.0)


def test_jvp_argument_errors():
    with pytest.raises(TypeError, match="same tree structure"):
        nbad.jvp(lambda x, y: x * y, (1.0, 2.0), (1.0,))
    with pytest.raises(ValueError, match="tangent shape"):
        nbad.jvp(lambda x: x * 2.0, (np.ones(3),), (np.ones(2),))
