"""lax.scan, lax.fori_loop and lax.while_loop (api_loops.py; rules/scan.py,
rules/while_loop.py; backends/cpu/loops.py).

Each loop is checked against the same computation written as a Python loop
(NumPy), eagerly and under jit, with pytrees; its derivatives against finite
differences (check_grads, order 2, both modes) and JAX; vmap against a loop
over examples; the errors against JAX's classes and messages. Jitted functions
are module-level, so each compiles once for the file.
"""
import re

import numpy as np
import pytest

import nbad
import nbad.numpy as jnp
from nbad import lax
from nbad.rules.scan import scan_p
from nbad.rules.while_loop import while_p
from nbad.test_util import check_grads

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)

rng = np.random.default_rng(0)
XS = rng.standard_normal(9)
MS = rng.standard_normal((9, 3))
W = rng.standard_normal((3, 3)) * 0.4


def close(got, want, rtol=1e-12, atol=1e-12):
    g, w = nbad.tree_leaves(got), nbad.tree_leaves(want)
    assert len(g) == len(w)
    for a, b in zip(g, w):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol)


def eqs_of(ir, prim):
    return [eq for eq in ir.equations if eq.primitive is prim]


# -- scan ------------------------------------------------------------------------------
def step(carry, x):
    """A pytree carry (h, total) and xs (v, m); ys a dict."""
    h, total = carry
    v, m = x
    h = jnp.tanh(W @ h + m) * (1.0 + 0.1 * v)
    total = total + jnp.sum(h) * v
    return (h, total), {"h": h, "s": jnp.sum(h * h)}


def step_numpy(carry, x):
    h, total = carry
    v, m = x
    h = np.tanh(W @ h + m) * (1.0 + 0.1 * v)
    return (h, total + np.sum(h) * v), {"h": h, "s": np.sum(h * h)}


def step_jax(carry, x):
    h, total = carry
    v, m = x
    h = jax.numpy.tanh(W @ h + m) * (1.0 + 0.1 * v)
    return (h, total + jax.numpy.sum(h) * v), {"h": h, "s": jax.numpy.sum(h * h)}


def scan_numpy(f, init, xs, reverse=False):
    n = len(nbad.tree_leaves(xs)[0])
    carry, ys = init, []
    for t in (reversed(range(n)) if reverse else range(n)):
        carry, y = f(carry, nbad.tree_map(lambda a: a[t], xs))
        ys.append(y)
    if reverse:
        ys.reverse()
    return carry, nbad.tree_map(lambda *a: np.stack(a), *ys)


def run_scan(h0, xs, reverse=False):
    return lax.scan(step, (h0, 0.0), xs, reverse=reverse)


jit_scan = nbad.jit(run_scan, static_argnums=2)
H0 = rng.standard_normal(3)


@pytest.mark.parametrize("reverse", [False, True])
def test_scan_pytrees_eager_and_jitted(reverse):
    want = scan_numpy(step_numpy, (H0, 0.0), (XS, MS), reverse)
    close(run_scan(H0, (XS, MS), reverse), want)
    close(jit_scan(H0, (XS, MS), reverse), want)
    close(jax.lax.scan(step_jax, (H0, 0.0), (XS, MS), reverse=reverse), want)


def test_scan_is_one_native_loop_whatever_the_length():
    sizes = []
    for n in (10, 100, 1000):
        xs = np.linspace(0.0, 1.0, n)
        lowered = nbad.jit(lambda c, xs: lax.scan(lambda c, x: (c * 0.99 + x, c), c, xs)).lower(0.5, xs)
        (eq,) = eqs_of(lowered.ir, scan_p)
        assert eq.params["length"] == n
        sizes.append(len(lowered.ir.equations))
        namespace = lowered.compile().program.namespace
        (runner,) = [v for k, v in namespace.items() if re.fullmatch(r"_scan\d+", k)]
        assert "for it in range(length)" in runner.source  # native, not a Python loop
    assert sizes[0] == sizes[1] == sizes[2]


def test_scan_length_only_ys_none_and_unroll():
    def f(c, _):
        return c * 2.0 + 1.0, None

    c, ys = lax.scan(f, 1.0, None, length=5, unroll=2)
    assert ys is None and float(c) == 63.0
    c, ys = nbad.jit(lambda c: lax.scan(f, c, None, length=5))(1.0)
    assert ys is None and float(c) == 63.0


def test_scan_of_length_zero():
    c, ys = lax.scan(lambda c, x: (c + x, c * x), 1.5, np.zeros(0))
    assert float(c) == 1.5 and np.asarray(ys).shape == (0,)


def test_scan_captures_outer_values_and_traced_consts():
    def f(a, xs):
        return lax.scan(lambda c, x: (c + a * x, c), 0.0, xs)

    want = scan_numpy(lambda c, x: (c + 2.5 * x, c), 0.0, XS)
    close(f(2.5, XS), want)
    close(nbad.jit(f)(2.5, XS), want)


def test_scan_errors_are_jaxs():
    with pytest.raises(TypeError, match="carry input and carry output must have equal types"):
        lax.scan(lambda c, x: (c.astype(np.float32), x), np.zeros(3), XS)
    with pytest.raises(TypeError, match="carry input and carry output must have equal types"):
        nbad.jit(lambda c: lax.scan(lambda c, x: (jnp.zeros(2), x), c, XS))(np.zeros(3))
    with pytest.raises(TypeError, match="same pytree structure"):
        lax.scan(lambda c, x: ((c, c), x), 0.0, XS)
    with pytest.raises(TypeError, match="must be a pair"):
        lax.scan(lambda c, x: c, 0.0, XS)
    with pytest.raises(ValueError, match="disagrees with leading axis"):
        lax.scan(lambda c, x: (c, x), 0.0, XS, length=3)
    with pytest.raises(ValueError, match="no values to scan over"):
        lax.scan(lambda c, x: (c, x), 0.0, None)
    with pytest.raises(ValueError, match="different leading axis sizes"):
        lax.scan(lambda c, x: (c, x), 0.0, (XS, XS[:3]))


# -- fori_loop and while_loop ----------------------------------------------------------
def fori_body(i, val):
    x, acc = val
    x = jnp.sin(x) + 0.1 * i
    return x, acc + jnp.sum(x * x)


def fori_numpy(lo, hi, x, acc):
    for i in range(lo, hi):
        x = np.sin(x) + 0.1 * i
        acc = acc + np.sum(x * x)
    return x, acc


jit_fori_static = nbad.jit(lambda x: lax.fori_loop(2, 9, fori_body, (x, 0.0)))
jit_fori_traced = nbad.jit(lambda lo, hi, x: lax.fori_loop(lo, hi, fori_body, (x, 0.0)))


def test_fori_loop_static_and_traced_bounds():
    x = rng.standard_normal(4)
    want = fori_numpy(2, 9, x, 0.0)
    close(lax.fori_loop(2, 9, fori_body, (x, 0.0)), want)
    close(jit_fori_static(x), want)
    close(jit_fori_traced(2, 9, x), want)
    close(jit_fori_traced(5, 3, x), (x, 0.0))  # no steps
    assert eqs_of(jit_fori_static.lower(x).ir, scan_p)      # a static trip count is a scan
    assert eqs_of(jit_fori_traced.lower(2, 9, x).ir, while_p)


def collatz_cond(c):
    n, steps = c
    return n != 1


def collatz_body(c):
    n, steps = c
    return jnp.where(n % 2 == 0, n // 2, 3 * n + 1), steps + 1


jit_collatz = nbad.jit(lambda n: lax.while_loop(collatz_cond, collatz_body, (n, 0)))


def collatz_numpy(n):
    steps = 0
    while n != 1:
        n, steps = (n // 2 if n % 2 == 0 else 3 * n + 1), steps + 1
    return steps


def test_while_loop_eager_and_jitted():
    for n in (1, 6, 27):
        assert int(lax.while_loop(collatz_cond, collatz_body, (n, 0))[1]) == collatz_numpy(n)
        assert int(jit_collatz(np.int64(n))[1]) == collatz_numpy(n)
    namespace = jit_collatz.lower(np.int64(27)).compile().program.namespace
    (runner,) = [v for k, v in namespace.items() if re.fullmatch(r"_while\d+", k)]
    assert "while True:" in runner.source


def test_while_loop_errors_are_jaxs():
    with pytest.raises(TypeError, match="cond_fun must return a boolean scalar"):
        lax.while_loop(lambda c: c, lambda c: c, 1.0)
    with pytest.raises(TypeError, match="carry input and carry output must have equal types"):
        lax.while_loop(lambda c: c < 3, lambda c: c + 0.5, 0)
    with pytest.raises(TypeError, match="carry input and carry output must have equal types"):
        lax.fori_loop(0, 3, lambda i, c: jnp.zeros(2), jnp.zeros(3))


def test_while_loop_reverse_mode_is_jaxs_error():
    def f(x, n):
        return lax.fori_loop(0, n, lambda i, c: c * x, 1.0)

    with pytest.raises(ValueError, match="Reverse-mode differentiation does not work for lax.while_loop"):
        nbad.jit(nbad.grad(f))(1.1, 3)
    # forward mode works: d/dx x**3 = 3x**2
    _, t = nbad.jit(lambda x, n: nbad.jvp(lambda x: f(x, n), (x,), (1.0,)))(1.1, 3)
    np.testing.assert_allclose(t, 3 * 1.1 ** 2, rtol=1e-12)


# -- derivatives -------------------------------------------------------------------------
def scan_loss(h0, xs, ms):
    (h, total), ys = lax.scan(step, (h0, 0.0), (xs, ms))
    return total + jnp.sum(ys["s"]) + jnp.sum(h)


def scan_loss_reverse(h0, xs, ms):
    (h, total), ys = lax.scan(step, (h0, 0.0), (xs, ms), reverse=True)
    return total * jnp.sum(ys["h"][2]) + jnp.sum(h)


@pytest.mark.parametrize("f", [scan_loss, scan_loss_reverse])
def test_scan_derivatives_against_finite_differences(f):
    check_grads(f, (H0, XS[:4], MS[:4]), order=2, modes=("fwd", "rev"))


def test_scan_gradients_equal_jaxs_eager_and_jitted():
    def jloss(h0, xs, ms):
        (h, total), ys = jax.lax.scan(step_jax, (h0, 0.0), (xs, ms))
        return total + jax.numpy.sum(ys["s"]) + jax.numpy.sum(h)

    want = jax.value_and_grad(jloss, argnums=(0, 1, 2))(H0, XS, MS)
    vg = nbad.value_and_grad(scan_loss, argnums=(0, 1, 2))
    close(vg(H0, XS, MS), want, rtol=1e-10)
    jitted = nbad.jit(vg)
    close(jitted(H0, XS, MS), want, rtol=1e-10)
    # one forward scan (it also stacks the residuals), one reverse scan
    scans = eqs_of(jitted.lower(H0, XS, MS).ir, scan_p)
    assert sorted(eq.params["reverse"] for eq in scans) == [False, True]


def test_fori_loop_derivatives_and_grad_of_grad():
    def f(x):
        return lax.fori_loop(0, 4, lambda i, c: jnp.sin(c) * x + 0.1 * i, x)[0] ** 2

    x = np.array([0.3, -0.7])
    check_grads(lambda x: jnp.sum(f(x)), (x,), order=2, modes=("fwd", "rev"))

    def g(c):
        return lax.scan(lambda c, x: (jnp.sin(c) * x, c), c, XS[:5])[0]

    def jg(c):
        return jax.lax.scan(lambda c, x: (jax.numpy.sin(c) * x, c), c, XS[:5])[0]

    close(nbad.jit(nbad.grad(nbad.grad(g)))(0.4), jax.grad(jax.grad(jg))(0.4), rtol=1e-10)


def test_while_loop_jvp_against_finite_differences():
    def f(x):
        return lax.while_loop(lambda c: c[0] < 5, lambda c: (c[0] + 1, jnp.sin(c[1]) * 1.3), (0, x))[1]

    check_grads(f, (np.array([0.2, 0.9]),), order=2, modes=("fwd",))


# -- vmap --------------------------------------------------------------------------------
def test_vmap_of_scan_against_a_loop():
    h0s, xss = rng.standard_normal((3, 3)), rng.standard_normal((3, 9))
    fn = nbad.vmap(scan_loss, in_axes=(0, 0, None))  # (outside jit it compiles the same way)
    want = np.stack([scan_loss(h0s[i], xss[i], MS) for i in range(3)])
    close(nbad.jit(fn)(h0s, xss, MS), want)
    # a batch of shared initial carries with batched xs, and gradients of it
    gfn = nbad.jit(nbad.vmap(nbad.grad(scan_loss), in_axes=(None, 0, None)))
    close(gfn(H0, xss, MS), np.stack([nbad.grad(scan_loss)(H0, xss[i], MS) for i in range(3)]))


def test_vmap_of_fori_and_while_batched_predicate():
    x = rng.standard_normal((3, 4))
    close(nbad.vmap(lambda x: lax.fori_loop(2, 9, fori_body, (x, 0.0)))(x),
          nbad.tree_map(lambda *a: np.stack(a), *[fori_numpy(2, 9, x[i], 0.0) for i in range(3)]))
    ns = np.array([6, 1, 27, 7])
    got = nbad.jit(nbad.vmap(lambda n: lax.while_loop(collatz_cond, collatz_body, (n, 0))))(ns)
    np.testing.assert_array_equal(got[1], [collatz_numpy(int(n)) for n in ns])
    np.testing.assert_array_equal(got[0], np.ones(4))
    # batched bounds of a fori_loop: each example runs its own number of steps
    his = np.array([3, 5, 9])
    got = nbad.vmap(lambda hi, x: lax.fori_loop(2, hi, fori_body, (x, 0.0)))(his, x)
    close(got, nbad.tree_map(lambda *a: np.stack(a), *[fori_numpy(2, int(his[i]), x[i], 0.0)
                                                       for i in range(3)]))


# -- checkpoint ----------------------------------------------------------------------------
def layer(x, w):
    return jnp.tanh(w @ x) * jnp.sin(x)


def layer_loss(x, w):
    return jnp.sum(nbad.checkpoint(layer)(x, w) ** 2)


def test_checkpoint_gradients_recompute_the_forward_pass():
    x = np.array([0.1, 0.5, -0.3])
    want = nbad.grad(lambda x, w: jnp.sum(layer(x, w) ** 2), argnums=(0, 1))(x, W)
    close(nbad.grad(layer_loss, argnums=(0, 1))(x, W), want)
    close(nbad.jit(nbad.grad(layer_loss, argnums=(0, 1)))(x, W), want)
    check_grads(layer_loss, (x, W), order=2, modes=("fwd", "rev"))
    # the backward pass computes tanh again, from operands simplify cannot merge
    ir = nbad.make_ir(nbad.grad(layer_loss))(x, W)
    names = [eq.primitive.name for eq in ir.equations]
    assert "optimization_barrier" in names and "tanh" in names
    ir = nbad.make_ir(nbad.grad(lambda x, w: jnp.sum(nbad.remat(layer, prevent_cse=False)(x, w))))(x, W)
    assert "optimization_barrier" not in [eq.primitive.name for eq in ir.equations]


def test_checkpoint_static_argnums_vmap_and_inside_scan():
    def power(x, n):
        return x ** n

    f = nbad.checkpoint(power, static_argnums=(1,))
    np.testing.assert_allclose(nbad.grad(lambda x: f(x, 3))(2.0), 12.0)
    xs = np.array([[0.1, 0.5, -0.3], [0.4, -0.2, 0.9]])
    close(nbad.vmap(nbad.grad(layer_loss), in_axes=(0, None))(xs, W),
          np.stack([nbad.grad(layer_loss)(x, W) for x in xs]))

    def loss(h0, xs):
        body = nbad.checkpoint(lambda h, x: (jnp.tanh(W @ h) + x, jnp.sum(h)))
        return jnp.sum(lax.scan(body, h0, xs)[1])

    check_grads(loss, (H0, MS[:4]), order=1, modes=("rev",))


# -- loops in loops, bodies that are not native, matrix carries ----------------------------
def nested(c, xs):
    def inner(c, x):
        return lax.scan(lambda a, y: (a * 0.5 + y * x, a), c, jnp.arange(4.0))

    return lax.scan(inner, c, xs)


def nested_numpy(c, xs):
    ys = []
    for x in xs:
        inner = []
        for y in range(4):
            inner.append(c)
            c = c * 0.5 + y * x
        ys.append(inner)
    return c, np.array(ys)


def test_nested_scans_and_a_while_in_a_scan():
    xs = np.linspace(0.0, 1.0, 5)
    close(nbad.jit(nested)(1.0, xs), nested_numpy(1.0, xs))
    lowered = nbad.jit(nested).lower(1.0, xs)
    assert "_loop" in lowered.source  # the inner scan: a native loop called by the outer one
    close(nbad.jit(nbad.grad(lambda c: nested(c, xs)[0]))(1.0), 0.5 ** 20)

    def growth(c, n):
        k, c = lax.while_loop(lambda s: s[0] < n, lambda s: (s[0] + 1, s[1] * 1.1), (0, c))
        return c, k

    ns = np.array([1, 2, 3])
    close(nbad.jit(lambda c, ns: lax.scan(growth, c, ns))(1.0, ns), (1.1 ** 6, ns))


def test_a_body_the_native_loop_cannot_run_runs_from_python():
    A = np.eye(3) * 2.0 + 0.1

    def body(c, x):
        return jnp.linalg.solve(A, c) + x, jnp.sum(c)

    def numpy_body(c, x):
        return np.linalg.solve(A, c) + x, np.sum(c)

    xs = rng.standard_normal((4, 3))
    close(nbad.jit(lambda h, xs: lax.scan(body, h, xs))(H0, xs), scan_numpy(numpy_body, H0, xs),
          rtol=1e-10)


def test_a_body_run_from_python_gets_its_scalar_xs_slices_as_arrays():
    A = np.eye(3) * 2.0 + 0.1

    def body(c, x):  # solve is not run natively; x is a 0-d slice of the 1-D xs
        return jnp.linalg.solve(A, c) * x, jnp.sum(c)

    def numpy_body(c, x):
        return np.linalg.solve(A, c) * x, np.sum(c)

    close(nbad.jit(lambda h, xs: lax.scan(body, h, xs))(H0, XS[:4]), scan_numpy(numpy_body, H0, XS[:4]),
          rtol=1e-10)


def _runs_natively(lowered):
    namespace = lowered.compile().program.namespace
    return [hasattr(namespace[k], "source") for k in sorted(namespace, key=lambda k: (len(k), k)) if re.fullmatch(r"_scan\d+", k)]


def windows(c, D):
    """Clamped dynamic windows at a traced step: read (starting before D at t = 0, 1)
    and written (past the buffer's end in the last steps)."""
    D = jnp.asarray(D)  # a NumPy array cannot be indexed by a traced step

    def step(t, carry):
        total, buf = carry
        window = lax.dynamic_slice(D, (t - 2,), (3,))
        buf = lax.dynamic_update_slice(buf, window * total, (t + 3,))
        return jnp.tanh(total * 0.5 + D[t] + jnp.sum(window)), buf

    return lax.fori_loop(0, D.shape[0], step, (c, jnp.zeros(D.shape[0])))


_windows = nbad.jit(windows)


def test_dynamic_slices_at_a_traced_step_run_natively():
    assert _runs_natively(_windows.lower(0.3, XS)) == [True]
    close(_windows(0.3, XS), windows(0.3, XS), rtol=1e-12)  # jitted == eager (NumPy impls)


def test_gradient_through_d_t_at_a_traced_step():
    # the backward body writes D's cotangent with a dynamic_update_slice: native too
    def loss(scale, D):
        D = jnp.asarray(D)
        return lax.fori_loop(0, D.shape[0], lambda t, c: jnp.tanh(c * scale + D[t]), 0.5)

    def numpy_loss(scale, D):
        c = 0.5
        for d in D:
            c = np.tanh(c * scale + d)
        return c

    value_and_grad = nbad.jit(nbad.value_and_grad(loss, argnums=(0, 1)))
    assert _runs_natively(value_and_grad.lower(0.9, XS)) == [True, True]
    value, grads = value_and_grad(0.9, XS)
    h = 1e-6
    assert abs(float(value) - numpy_loss(0.9, XS)) <= 1e-12
    assert abs(float(grads[0]) - (numpy_loss(0.9 + h, XS) - numpy_loss(0.9 - h, XS)) / (2 * h)) < 1e-7
    want = [(numpy_loss(0.9, XS + h * e) - numpy_loss(0.9, XS - h * e)) / (2 * h) for e in np.eye(len(XS))]
    np.testing.assert_allclose(np.asarray(grads[1]), want, rtol=1e-6, atol=1e-9)
    check_grads(lambda c, D: windows(c, D)[1], (0.3, XS[:5]), order=1, modes=("rev",))


def test_matrix_carry_gradients_through_blas():
    def loss(c, xs):
        return jnp.sum(lax.scan(lambda c, x: (jnp.tanh(c @ W) + x, jnp.sum(c)), c, xs)[1])

    xs = rng.standard_normal((6, 3, 3)) * 0.1
    close(nbad.jit(nbad.grad(loss))(np.eye(3), xs), nbad.grad(loss)(np.eye(3), xs), rtol=1e-10)
    check_grads(loss, (np.eye(3), xs[:3]), order=1, modes=("rev",))
