"""vmap workloads for benchmarks/run.py (issue 4's vectorising-map benchmarks).

Each workload is a per-example function written once against a "namespace"
(array module, grad, vmap: nbad + nbad.numpy, jax + jax.numpy) and vmapped
there; the table times it jitted (`jit(vmap(...))`, nbad and JAX) and, for
nbad, eagerly (`nbad.vmap(...)` called outside jit, which nbad compiles too).
Next to them: the same computation vectorised by hand in NumPy, which is the
reference every peer is checked against (allclose, rtol 1e-8, atol 1e-12,
float64), and a hand-written Numba loop (prange over the batch, the flags nbad
uses).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from numba import njit, prange

from _common import ATOL, NUMBA_FLAGS as FLAGS, RTOL


MLP_SIZES = (64, 256, 256, 10)
MLP_BATCH = 4096
TANH_N = 10**6
PEG_BATCH, PEG_FEATURES = 10_000, 64


@dataclass
class VmapWorkload:
    name: str
    make_args: object   # make_args(quick, rng) -> tuple of NumPy arrays / pytrees
    vmapped: object     # vmapped(ns) -> ns.vmap(...) of the per-example function, built from ns
    numpy: object       # numpy(*args): vectorised by hand; the reference
    numba: object       # numba(*args): a hand-written Numba loop, or None
    rtol: float = RTOL
    atol: float = ATOL


# --- 1, 2. elementwise derivatives of tanh, vmapped over 10^6 scalars

def _tanh_args(quick, rng):
    return (np.linspace(-7.0, 7.0, TANH_N),)


def grad_tanh_numpy(x):
    t = np.tanh(x)
    return 1.0 - t * t


def grad2_tanh_numpy(x):
    t = np.tanh(x)
    return -2.0 * t * (1.0 - t * t)


@njit(parallel=True, **FLAGS)
def grad_tanh_numba(x):
    out = np.empty_like(x)
    for i in prange(x.shape[0]):
        t = math.tanh(x[i])
        out[i] = 1.0 - t * t
    return out


@njit(parallel=True, **FLAGS)
def grad2_tanh_numba(x):
    out = np.empty_like(x)
    for i in prange(x.shape[0]):
        t = math.tanh(x[i])
        out[i] = -2.0 * t * (1.0 - t * t)
    return out


# --- 3. MLP prediction, seed style: per-example predict, vmapped over the batch

def predict(xp, params, x):
    for W, b in params[:-1]:
        x = xp.tanh(W @ x + b)
    W, b = params[-1]
    return W @ x + b


def _mlp_args(quick, rng):
    params = []
    for m, n in zip(MLP_SIZES[:-1], MLP_SIZES[1:]):
        params.append((rng.standard_normal((n, m)) / np.sqrt(m), 0.1 * rng.standard_normal(n)))
    return (params, rng.standard_normal((MLP_BATCH, MLP_SIZES[0])))


def predict_numpy(params, X):
    for W, b in params[:-1]:
        X = np.tanh(X @ W.T + b)
    W, b = params[-1]
    return X @ W.T + b


# The Numba MLP: matrix products through np.dot (Numba calls SciPy's BLAS for `@`
# inside njit; W.T is an F-contiguous view, which it accepts), bias and tanh in a
# prange loop. The list of (W, b) stays in Python: passing it into njit would make a
# reflected list, so the three layers are three calls.

@njit(parallel=True, **FLAGS)
def _dense_tanh_numba(X, W, b):
    z = X @ W.T
    for i in prange(z.shape[0]):
        for j in range(z.shape[1]):
            z[i, j] = math.tanh(z[i, j] + b[j])
    return z


@njit(parallel=True, **FLAGS)
def _dense_numba(X, W, b):
    z = X @ W.T
    for i in prange(z.shape[0]):
        for j in range(z.shape[1]):
            z[i, j] += b[j]
    return z


def predict_numba(params, X):
    for W, b in params[:-1]:
        X = _dense_tanh_numba(X, W, b)
    W, b = params[-1]
    return _dense_numba(X, W, b)


# --- 4. per-example gradients of a linear model's squared loss

def sq_loss(xp, w, x, y):
    return (xp.dot(x, w) - y) ** 2


def _peg_args(quick, rng):
    X = rng.standard_normal((PEG_BATCH, PEG_FEATURES))
    return (rng.standard_normal(PEG_FEATURES), X, rng.standard_normal(PEG_BATCH))


def per_example_grads_numpy(w, X, y):
    return 2.0 * (X @ w - y)[:, None] * X


@njit(parallel=True, **FLAGS)
def per_example_grads_numba(w, X, y):
    n, d = X.shape
    out = np.empty_like(X)
    for i in prange(n):
        r = 0.0
        for j in range(d):
            r += X[i, j] * w[j]
        r = 2.0 * (r - y[i])
        for j in range(d):
            out[i, j] = r * X[i, j]
    return out


def vmap_workloads(quick):
    return [
        VmapWorkload("vmap_grad_tanh", _tanh_args,
                     lambda ns: ns.vmap(ns.grad(ns.xp.tanh)), grad_tanh_numpy, grad_tanh_numba),
        VmapWorkload("vmap_grad2_tanh", _tanh_args,
                     lambda ns: ns.vmap(ns.grad(ns.grad(ns.xp.tanh))), grad2_tanh_numpy, grad2_tanh_numba),
        VmapWorkload("batched_mlp_predict", _mlp_args,
                     lambda ns: ns.vmap(lambda p, x: predict(ns.xp, p, x), in_axes=(None, 0)),
                     predict_numpy, predict_numba),
        VmapWorkload("per_example_grads", _peg_args,
                     lambda ns: ns.vmap(ns.grad(lambda w, x, y: sq_loss(ns.xp, w, x, y)), in_axes=(None, 0, 0)),
                     per_example_grads_numpy, per_example_grads_numba),
    ]


# --- the namespaces each traced peer is built from

class NS:
    """name, xp (array module), jit, grad, vmap, to_device, sync."""

    def __init__(self, name, xp, jit, grad, vmap, to_device=None, sync=None):
        self.name, self.xp, self.jit, self.grad, self.vmap = name, xp, jit, grad, vmap
        self.to_device = to_device or (lambda tree: tree)
        self.sync = sync


def namespaces():
    """{"nbad": NS, "jax": NS or an ImportError message}."""
    import nbad
    import nbad.numpy as jnp

    out = {"nbad": NS("nbad", jnp, nbad.jit, nbad.grad, nbad.vmap)}
    try:
        import jax
        import jax.numpy as jax_np

        jax.config.update("jax_enable_x64", True)
        out["jax"] = NS("jax", jax_np, jax.jit, jax.grad, jax.vmap,
                        to_device=lambda tree: jax.tree_util.tree_map(jax.device_put, tree),
                        sync=jax.block_until_ready)
    except ImportError as e:
        out["jax"] = f"not importable: {e}"
    return out



# --- did the batched MLP become matrix-matrix products?

def mlp_blas_report(nbad):
    """What nbad compiled for jit(vmap(predict, in_axes=(None, 0))).

    Returns (ok, text): ok when the plan has exactly 3 library calls, all of them
    dot_general matrix-matrix products over the whole batch, and no per-example
    loop is left (no `map` or other loop equation in the compiled IR, no Python
    loop in the driver, every fused kernel iterating over the whole batch)."""
    import nbad.numpy as jnp
    from nbad.compile.fusion import Kernel, LibraryStep

    params, X = _mlp_args(False, np.random.default_rng(0))
    f = nbad.jit(nbad.vmap(lambda p, x: predict(jnp, p, x), in_axes=(None, 0)))
    lowered = f.lower(params, X)
    steps = lowered.plan.steps
    library = [s.equation for s in steps if isinstance(s, LibraryStep)]
    dots = [eq for eq in library if eq.primitive.name == "dot_general"]
    matmuls = [eq for eq in dots
               if all(len(a.aval.shape) == 2 for a in eq.inputs)
               and eq.outputs[0].aval.shape[0] == MLP_BATCH and len(eq.outputs[0].aval.shape) == 2]
    loops = [eq.primitive.name for eq in lowered.plan.ir.equations
             if getattr(eq.primitive, "kind", None) == "loop"]
    kernels = [s for s in steps if isinstance(s, Kernel)]
    narrow = [k.shape for k in kernels if not k.shape or k.shape[0] != MLP_BATCH]
    driver_loop = any(line.lstrip().startswith(("for ", "while ")) for line in lowered.driver_source.splitlines())
    ok = len(library) == 3 and len(matmuls) == 3 and not loops and not narrow and not driver_loop
    shapes = ", ".join(" · ".join("x".join(map(str, a.aval.shape)) for a in eq.inputs) for eq in matmuls)
    summary = lowered.fusion_notes.splitlines()[0]
    text = (f"batched_mlp_predict through BLAS: {'yes' if ok else 'NO'}: {summary}; "
            f"{len(matmuls)} of {len(dots)} dot_general calls are matrix-matrix over the batch ({shapes}); "
            f"per-example loop: {'none' if not (loops or narrow or driver_loop) else 'YES'}"
            + (f" (loop equations {loops})" if loops else "")
            + (f" (kernels not over the batch: {narrow})" if narrow else "")
            + (" (a loop in the driver)" if driver_loop else ""))
    return ok, text
