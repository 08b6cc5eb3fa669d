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

Returns exit status 1 if any result differs from NumPy's.
"""
from __future__ import annotations

import time

import numpy as np

import nbad
import nbad.numpy as jnp

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
    print()
    print("all results equal NumPy's" if ok else "SOME RESULTS DIFFER FROM NUMPY'S")
    return 0 if ok else 1
