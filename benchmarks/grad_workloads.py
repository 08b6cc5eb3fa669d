"""Gradient workloads for benchmarks/run.py (issue 3's autodiff benchmarks).

Each workload is written once against an array module and its AD functions
(nbad + nbad.numpy, jax + jax.numpy, autograd + autograd.numpy) and once as a
hand-written NumPy gradient, which is the reference every peer is checked
against (rtol 1e-8, float64).

A GradWorkload supplies, for each peer that can run it, a builder returning
``(timed_fn, check_fn)``: ``timed_fn(*args)`` is what the table times (jitted
for nbad and JAX, eager for autograd and NumPy); ``check_fn(*args)`` returns the
gradient (pytree) compared with NumPy's, when it is not the timed output itself
(None means: compare the timed output).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np




@dataclass
class GradWorkload:
    name: str
    make_args: object          # make_args(quick, rng) -> tuple of NumPy arrays / pytrees
    builders: dict             # peer -> builder(ad) -> (timed_fn, check_fn or None)
    notes: list = field(default_factory=list)


# --- 1. linear regression: a 250-step gradient-descent fit, the loop inside jit

LINREG_LR = 0.05


def linreg_steps(quick):
    return 50 if quick else 250


def linreg_loss(xp, w, X, y):
    r = X @ w - y
    return xp.mean(r * r)


def linreg_fit(xp, grad, steps, w, X, y):
    dloss = grad(lambda w, X, y: linreg_loss(xp, w, X, y))
    for _ in range(steps):
        w = w - LINREG_LR * dloss(w, X, y)
    return w


def linreg_grad_numpy(w, X, y):
    return (2.0 / X.shape[0]) * (X.T @ (X @ w - y))


def linreg_fit_numpy(steps, w, X, y):
    for _ in range(steps):
        w = w - LINREG_LR * linreg_grad_numpy(w, X, y)
    return w


def _linreg_args(quick, rng):
    n, d = 500, 8
    X = rng.standard_normal((n, d))
    w_true = rng.standard_normal(d)
    y = X @ w_true + 0.1 * rng.standard_normal(n)
    return (np.zeros(d), X, y)


def _linreg_builders(quick):
    steps = linreg_steps(quick)

    def traced(ad):   # nbad / jax: jit of the whole loop
        fit = ad.jit(lambda w, X, y: linreg_fit(ad.xp, ad.grad, steps, w, X, y))
        g = ad.jit(ad.grad(lambda w, X, y: linreg_loss(ad.xp, w, X, y)))
        return fit, g

    def eager(ad):    # autograd: the same loop, eagerly
        return (lambda w, X, y: linreg_fit(ad.xp, ad.grad, steps, w, X, y),
                ad.grad(lambda w, X, y: linreg_loss(ad.xp, w, X, y)))

    def numpy(ad):
        return (lambda w, X, y: linreg_fit_numpy(steps, w, X, y), linreg_grad_numpy)

    return {"nbad": traced, "jax": traced, "autograd": eager, "numpy": numpy}


# --- 2. MLP 64 -> 256 -> 256 -> 10, tanh, MSE, value_and_grad + one SGD step

MLP_SIZES = (64, 256, 256, 10)
MLP_LR = 0.1


def mlp_loss(xp, params, x, t):
    h = x
    for W, b in params[:-1]:
        h = xp.tanh(h @ W + b)
    W, b = params[-1]
    out = h @ W + b
    d = out - t
    return xp.mean(d * d)


def mlp_step(xp, value_and_grad, params, x, t):
    loss, grads = value_and_grad(lambda p, x, t: mlp_loss(xp, p, x, t))(params, x, t)
    new = [(W - MLP_LR * gW, b - MLP_LR * gb) for (W, b), (gW, gb) in zip(params, grads)]
    return loss, new


def mlp_value_and_grad_numpy(params, x, t):
    """Hand-written forward + backward of mlp_loss."""
    hs = [x]                                  # inputs of each layer
    h = x
    for W, b in params[:-1]:
        h = np.tanh(h @ W + b)
        hs.append(h)
    W, b = params[-1]
    d = h @ W + b - t
    loss = np.mean(d * d)
    g = (2.0 / d.size) * d                    # d loss / d out
    grads = []
    for i in range(len(params) - 1, -1, -1):
        W, _ = params[i]
        h_in = hs[i]
        grads.append((h_in.T @ g, g.sum(axis=0)))
        if i:
            g = (g @ W.T) * (1.0 - h_in * h_in)   # through tanh: h_in = tanh(z)
    return loss, grads[::-1]


def mlp_step_numpy(params, x, t):
    loss, grads = mlp_value_and_grad_numpy(params, x, t)
    return loss, [(W - MLP_LR * gW, b - MLP_LR * gb) for (W, b), (gW, gb) in zip(params, grads)]


def mlp_batch(quick):
    return 256 if quick else 1024


def _mlp_args(quick, rng):
    batch = mlp_batch(quick)
    params = []
    for m, n in zip(MLP_SIZES[:-1], MLP_SIZES[1:]):
        params.append((rng.standard_normal((m, n)) / np.sqrt(m), 0.1 * rng.standard_normal(n)))
    x = rng.standard_normal((batch, MLP_SIZES[0]))
    t = rng.standard_normal((batch, MLP_SIZES[-1]))
    return (params, x, t)


def _mlp_builders(quick):
    def traced(ad):
        step = ad.jit(lambda p, x, t: mlp_step(ad.xp, ad.value_and_grad, p, x, t))
        vg = ad.jit(ad.value_and_grad(lambda p, x, t: mlp_loss(ad.xp, p, x, t)))
        return step, vg

    def eager(ad):
        return (lambda p, x, t: mlp_step(ad.xp, ad.value_and_grad, p, x, t),
                ad.value_and_grad(lambda p, x, t: mlp_loss(ad.xp, p, x, t)))

    def numpy(ad):
        return mlp_step_numpy, mlp_value_and_grad_numpy

    return {"nbad": traced, "jax": traced, "autograd": eager, "numpy": numpy}


def mlp_equation_counts(nbad, quick):
    """(forward equations, value_and_grad equations) of nbad.make_ir, nested IRs included."""
    import nbad.numpy as jnp

    params, x, t = _mlp_args(quick, np.random.default_rng(0))

    def loss(p, x, t):
        return mlp_loss(jnp, p, x, t)

    fwd = nbad.make_ir(loss)(params, x, t)
    bwd = nbad.make_ir(nbad.value_and_grad(loss))(params, x, t)
    return count_equations(fwd), count_equations(bwd)


def count_equations(ir):
    n = 0
    for eq in ir.equations:
        n += 1
        for v in eq.params.values():
            for sub in (v if isinstance(v, (tuple, list)) else (v,)):
                if hasattr(sub, "equations") and hasattr(sub, "outputs"):
                    n += count_equations(sub)
    return n


# --- 3. hessian of f(x) = sum(sin(x) * x**2)

def hess_f(xp, x):
    return xp.sum(xp.sin(x) * x ** 2)


def hess_numpy(x):
    return np.diag(2 * np.sin(x) + 4 * x * np.cos(x) - x ** 2 * np.sin(x))


def _hess_args(n):
    def make(quick, rng):
        return (rng.standard_normal(n),)
    return make


def _hess_builders(quick):
    def traced(ad):
        return ad.jit(ad.hessian(lambda x: hess_f(ad.xp, x))), None

    def eager(ad):
        return ad.hessian(lambda x: hess_f(ad.xp, x)), None

    return {"nbad": traced, "jax": traced, "autograd": eager,
            "numpy": lambda ad: (hess_numpy, None)}


def grad_workloads(quick):
    steps = linreg_steps(quick)
    return [
        GradWorkload(f"linreg_fit_{steps}", _linreg_args, _linreg_builders(quick)),
        GradWorkload("mlp_step", _mlp_args, _mlp_builders(quick)),
        GradWorkload("hessian_n100", _hess_args(100), _hess_builders(quick)),
        GradWorkload("hessian_n500", _hess_args(500), _hess_builders(quick)),
    ]


# --- the AD "namespaces" each peer is built from

class AD:
    """name, xp (array module), jit, grad, value_and_grad, hessian, to_device."""

    def __init__(self, name, xp, grad, value_and_grad, hessian, jit=None, to_device=None, sync=None):
        self.name, self.xp, self.grad, self.value_and_grad, self.hessian = name, xp, grad, value_and_grad, hessian
        self.jit = jit
        self.to_device = to_device or (lambda tree: tree)
        self.sync = sync


def ad_namespaces():
    """{peer: AD or an ImportError message}; peers in table order."""
    import nbad
    import nbad.numpy as jnp

    out = {"nbad": AD("nbad", jnp, nbad.grad, nbad.value_and_grad, nbad.hessian, jit=nbad.jit)}
    try:
        import jax
        import jax.numpy as jax_np

        jax.config.update("jax_enable_x64", True)
        out["jax"] = AD("jax", jax_np, jax.grad, jax.value_and_grad, jax.hessian, jit=jax.jit,
                        to_device=lambda tree: jax.tree_util.tree_map(jax.device_put, tree),
                        sync=jax.block_until_ready)
    except ImportError as e:
        out["jax"] = f"not importable: {e}"
    try:
        import autograd
        import autograd.numpy as anp

        out["autograd"] = AD("autograd", anp, autograd.grad, autograd.value_and_grad, autograd.hessian)
    except ImportError as e:
        out["autograd"] = f"not importable: {e}"
    out["numpy"] = AD("numpy", np, None, None, None)
    return out

