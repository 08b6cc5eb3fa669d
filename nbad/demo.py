"""``nbad demo``: what ``nbad.jit`` does, on real workloads, side by side with NumPy.

1. The IR of a small function (``nbad.make_ir``) and the start of the Python
   source nbad generates for Numba (``jit(f).lower(x).source``).
2. SELU on 10^7 float64 values and a row softmax of a 4096x1024 matrix:
   compile time, steady-state time, NumPy's time, the speed-up, and a check
   that the results equal NumPy's.
3. Derivatives and batching: the IR of per-example gradients
   (vmap of grad: one `map` equation holding the backward pass), and their
   speed against the gradient written by hand in NumPy.
4. A Python loop inside jit: a gradient-descent fit traced as its steps, one
   after another, is rerolled into one `scan` and runs as one native loop.
5. A simulation with gradients (examples/projectile.py): a ball with quadratic
   drag aimed at a target by gradient descent on its launch velocity, through
   a 400-step lax.scan; compile time, run time, the miss distance shrinking.

Returns exit status 1 if any result differs from NumPy's.
"""
from __future__ import annotations

import time

import numpy as np

import nbad
import nbad.numpy as jnp
from nbad import lax

SELU_LAMBDA = 1.0507009873554805
SELU_ALPHA = 1.6732632423543772


def selu(x):
    return SELU_LAMBDA * jnp.where(x > 0, x, SELU_ALPHA * jnp.exp(x) - SELU_ALPHA)


def selu_numpy(x):
    return SELU_LAMBDA * np.where(x > 0, x, SELU_ALPHA * np.exp(x) - SELU_ALPHA)


def softmax_rows(x):
    z = x - jnp.max(x, axis=1, keepdims=True)
    e = jnp.exp(z)
    return e / jnp.sum(e, axis=1, keepdims=True)


def softmax_rows_numpy(x):
    z = x - np.max(x, axis=1, keepdims=True)
    e = np.exp(z)
    return e / np.sum(e, axis=1, keepdims=True)


def loss(w, X, y):
    return jnp.mean((X @ w - y) ** 2)


def squared_error(w, x, y):
    return (jnp.dot(x, w) - y) ** 2


def per_example_gradients(w, X, y):
    return nbad.vmap(nbad.grad(squared_error), in_axes=(None, 0, 0))(w, X, y)


def per_example_gradients_numpy(w, X, y):
    return 2.0 * (X @ w - y)[:, None] * X


FIT_STEPS, FIT_RATE = 250, 0.05


def fit(w, X, y):
    dloss = nbad.grad(loss)
    for _ in range(FIT_STEPS):          # traced step by step, then rerolled
        w = w - FIT_RATE * dloss(w, X, y)
    return w


def fit_numpy(w, X, y):
    for _ in range(FIT_STEPS):
        w = w - FIT_RATE * (2.0 / X.shape[0]) * (X.T @ (X @ w - y))
    return w


GRAVITY, DRAG, FLIGHT_TIME, FLIGHT_STEPS = 9.81, 0.02, 4.0, 400


def drag_step(state, dt, sqrt):
    x, y, vx, vy = state
    speed = sqrt(vx * vx + vy * vy)
    vx = vx - dt * DRAG * speed * vx
    vy = vy - dt * (GRAVITY + DRAG * speed * vy)
    return x + dt * vx, y + dt * vy, vx, vy


def miss_loss(velocity, target):
    """Half the squared distance from the ball to the target at the end of the flight."""
    dt = FLIGHT_TIME / FLIGHT_STEPS
    state = (0.0, 0.0, velocity[0], velocity[1])
    (x, y, _, _), _ = lax.scan(lambda s, _: (drag_step(s, dt, jnp.sqrt), None), state, None,
                               length=FLIGHT_STEPS)
    return 0.5 * ((x - target[0]) ** 2 + (y - target[1]) ** 2)


def miss_loss_numpy(velocity, target):
    state = (0.0, 0.0, float(velocity[0]), float(velocity[1]))
    for _ in range(FLIGHT_STEPS):
        state = drag_step(state, FLIGHT_TIME / FLIGHT_STEPS, np.sqrt)
    return 0.5 * ((state[0] - target[0]) ** 2 + (state[1] - target[1]) ** 2)


def median_time(fn, *args, repeats=7, min_seconds=0.05):
    """Median seconds per call over `repeats` samples; each sample loops to at least `min_seconds`/repeats."""
    start = time.perf_counter()
    fn(*args)
    once = max(time.perf_counter() - start, 1e-7)
    number = max(1, int(min_seconds / repeats / once))
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            fn(*args)
        samples.append((time.perf_counter() - start) / number)
    return float(np.median(samples))


def _fmt(seconds):
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} us"


def _section(title):
    print()
    print(title)
    print("-" * len(title))


def show_ir_and_source():
    _section("1. What jit sees: the IR (nbad.make_ir) and the generated source (lower().source)")
    w = np.ones(8)
    X = np.ones((500, 8))
    y = np.ones(500)
    print("def loss(w, X, y):\n    return jnp.mean((X @ w - y) ** 2)\n")
    print(nbad.make_ir(loss)(w, X, y))
    x = np.linspace(-3, 3, 1000)
    source = nbad.jit(selu).lower(x).source
    lines = source.splitlines()
    head = 30
    print("\nSELU, generated Python source for Numba (first lines):\n")
    print("\n".join("    " + line for line in lines[:head]))
    if len(lines) > head:
        print(f"    ... ({len(lines) - head} more lines)")


def run_workload(name, fn, reference, args, repeats):
    """Time jit(fn) against NumPy; return True if the results agree."""
    jitted = nbad.jit(fn)
    start = time.perf_counter()
    out = jitted(*args)
    first = time.perf_counter() - start
    steady = median_time(jitted, *args, repeats=repeats)
    numpy_time = median_time(reference, *args, repeats=repeats)
    expected = reference(*args)
    out = np.asarray(out)
    # nbad's vectorised exp/log/tanh are within a few ulp of libm's, not bit-identical;
    # where a formula cancels (alpha*exp(x) - alpha near 0) that shows as an absolute
    # error of a few ulp of the result's magnitude.
    eps = np.finfo(out.dtype).eps if out.dtype.kind == "f" else 0.0
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    ok = out.shape == expected.shape and out.dtype == expected.dtype and np.allclose(
        out, expected, rtol=8 * eps, atol=8 * eps * scale)
    max_err = float(np.max(np.abs(out - expected))) if out.shape == expected.shape and out.size else 0.0
    print(f"{name}")
    print(f"  compile (first call - steady)   {_fmt(max(first - steady, 0.0))}")
    print(f"  nbad.jit steady state           {_fmt(steady)}")
    print(f"  NumPy                           {_fmt(numpy_time)}")
    print(f"  speed-up vs NumPy               {numpy_time / steady:.2f}x")
    print(f"  equals NumPy to a few ulp       {'yes' if ok else 'NO'} (max abs difference {max_err:.3g})")
    return ok


def aim_projectile(repeats, iterations=40, lr=0.08):
    """Section 5; True if the loss equals the NumPy loop's and the gradient its central differences."""
    _section("5. A simulation with gradients: aiming a projectile with drag (examples/projectile.py)")
    print(f"dv/dt = -g e_y - k|v|v over {FLIGHT_STEPS} semi-implicit Euler steps (one lax.scan); the loss is\n"
          "half the squared miss distance at the end of the flight; nbad.jit(nbad.value_and_grad(loss))\n"
          "differentiates it through the loop (a forward and a backward native loop).\n")
    loss_and_grad = nbad.jit(nbad.value_and_grad(miss_loss))
    velocity, target = np.array([10.0, 10.0]), np.array([40.0, 5.0])
    start = time.perf_counter()
    loss, grad = loss_and_grad(velocity, target)
    first = time.perf_counter() - start
    steady = median_time(loss_and_grad, velocity, target, repeats=repeats)
    h = 1e-6
    central = [(miss_loss_numpy(velocity + h * e, target) - miss_loss_numpy(velocity - h * e, target)) / (2 * h)
               for e in np.eye(2)]
    ok = (abs(float(loss) - miss_loss_numpy(velocity, target)) <= 1e-12 * abs(float(loss))
          and np.allclose(np.asarray(grad), central, rtol=1e-6))
    print(f"  compile (first call - steady)   {_fmt(max(first - steady, 0.0))}")
    print(f"  value_and_grad steady state     {_fmt(steady)}")
    print(f"  loss equals the NumPy loop, gradient its central differences: {'yes' if ok else 'NO'}")
    for i in range(iterations + 1):
        loss, grad = loss_and_grad(velocity, target)
        if i % 10 == 0:
            print(f"  iteration {i:3d}  miss {np.sqrt(2 * float(loss)):8.4f} m  "
                  f"launch velocity ({velocity[0]:6.3f}, {velocity[1]:6.3f}) m/s")
        velocity = velocity - lr * np.asarray(grad)
    return ok


def main(quick=False):
    from nbad.config import config

    threads = config.num_threads or "all"
    print(f"nbad {nbad.__version__} demo{' (quick)' if quick else ''} - threads: {threads}")
    show_ir_and_source()

    rng = np.random.default_rng(0)
    n = 10**5 if quick else 10**7
    rows, cols = (256, 128) if quick else (4096, 1024)
    repeats = 3 if quick else 7
    _section("2. Steady-state speed, side by side with NumPy")
    ok = run_workload(f"SELU on {n:,} float64", selu, selu_numpy, (rng.standard_normal(n),), repeats)
    ok &= run_workload(f"row softmax of {rows}x{cols} float64", softmax_rows, softmax_rows_numpy,
                       (rng.standard_normal((rows, cols)),), repeats)
    _section("3. Derivatives and batching: vmap(grad(f)) is one map of the backward pass")
    print("def squared_error(w, x, y):\n    return (jnp.dot(x, w) - y) ** 2\n")
    print("nbad.make_ir(nbad.vmap(nbad.grad(squared_error), in_axes=(None, 0, 0)))(w, X, y):\n")
    print(nbad.make_ir(per_example_gradients)(np.ones(3), np.ones((5, 3)), np.ones(5)))
    print()
    m, d = (1000, 16) if quick else (100_000, 64)
    ok &= run_workload(f"per-example gradients of a linear model, {m:,} x {d}", per_example_gradients,
                       per_example_gradients_numpy,
                       (rng.standard_normal(d), rng.standard_normal((m, d)), rng.standard_normal(m)),
                       repeats)
    _section("4. A Python loop inside jit is rerolled into one native loop")
    print(f"def fit(w, X, y):\n    dloss = nbad.grad(loss)\n    for _ in range({FIT_STEPS}):\n"
          f"        w = w - {FIT_RATE} * dloss(w, X, y)\n    return w\n")
    w, X = np.zeros(8), rng.standard_normal((500, 8))
    y = X @ rng.standard_normal(8) + 0.1 * rng.standard_normal(500)
    print("nbad.jit(fit).lower(w, X, y).ir:\n")
    print(nbad.jit(fit).lower(w, X, y).ir)
    print()
    ok &= run_workload(f"{FIT_STEPS} gradient-descent steps, X 500 x 8", fit, fit_numpy, (w, X, y), repeats)
    ok &= aim_projectile(repeats)
    print()
    print("all results equal NumPy's" if ok else "SOME RESULTS DIFFER FROM NUMPY'S")
    return 0 if ok else 1
