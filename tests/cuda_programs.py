"""The programs of the CUDA test suite, and the two subprocess entry points
tests/test_cuda.py runs (the simulator must be chosen before numba.cuda is
imported, and the rest of the test session uses the CPU path):

    python tests/cuda_programs.py simulate   # NUMBA_ENABLE_CUDASIM=1: run, compare
    python tests/cuda_programs.py ptx        # no simulator, no GPU: PTX + ptxas

Each prints one JSON line per check; the test reads them.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import nbad  # noqa: E402
import nbad.numpy as jnp  # noqa: E402
from nbad.rules.reduce import cummax_p  # noqa: E402
from nbad.rules.shape import pad_p  # noqa: E402

rng = np.random.default_rng(0)


def _selu(x):
    alpha, scale = 1.6732632423543772, 1.0507009873554805
    return scale * jnp.where(x > 0, x, alpha * (jnp.exp(x) - 1))


def _predict(params, x):
    for w, b in params[:-1]:
        x = jnp.tanh(x @ w + b)
    w, b = params[-1]
    return x @ w + b


def _loss(params, x, y):
    return jnp.mean((_predict(params, x) - y) ** 2)


def _mlp_step(params, x, y):
    grads = nbad.grad(_loss)(params, x, y)
    return [(w - 0.1 * dw, b - 0.1 * db) for (w, b), (dw, db) in zip(params, grads)]


def _params(sizes, dtype=np.float64):
    return [(rng.standard_normal((m, n)).astype(dtype) * 0.3, rng.standard_normal(n).astype(dtype) * 0.1)
            for m, n in zip(sizes[:-1], sizes[1:])]


x23 = rng.standard_normal((2, 3))
x37 = rng.standard_normal((3, 7))
x345 = rng.standard_normal((3, 4, 5))
v40 = rng.standard_normal(40)
f32 = rng.standard_normal((6, 9)).astype(np.float32)
ints = rng.integers(-20, 20, (4, 6)).astype(np.int32)

# name -> (function, arguments)
PROGRAMS = {
    "elementwise_broadcast": (lambda x, y: jnp.tanh(x * y[None, :] + 2.0) * 3 - jnp.sqrt(jnp.abs(x)),
                              (x37, rng.standard_normal(7))),
    "elementwise_f32_math": (lambda x: jnp.exp(x) + jnp.log1p(x * x) + jnp.sin(x) * jnp.cos(x)
                             + nbad.nn.sigmoid(x) + jnp.floor(x) + jnp.round(x * 3), (f32,)),
    "int_and_bool": (lambda a: (jnp.where(a > 0, a // 3, a % 5) * 2, (a > 1) & (a < 9)), (ints,)),
    "selu_f32": (_selu, (rng.standard_normal(300).astype(np.float32),)),
    "selu_f64": (_selu, (rng.standard_normal(300),)),
    "sum_all": (lambda x: jnp.sum(jnp.exp(x)), (v40,)),
    "sum_all_f32": (lambda x: jnp.sum(x * x), (rng.standard_normal(300).astype(np.float32),)),
    "reduce_each_axis": (lambda x: (jnp.sum(x, axis=0), jnp.max(x, axis=1), jnp.min(x, axis=2),
                                    jnp.sum(x, axis=(0, 2)), jnp.prod(x, axis=(1, 2)),
                                    jnp.max(x)), (x345,)),
    "row_softmax": (lambda x: nbad.nn.softmax(x, axis=-1), (x37,)),
    "logsumexp_rows": (lambda x: nbad.nn.logsumexp(x, axis=1), (x37,)),
    "mean_var": (lambda x: (jnp.mean(x, axis=0), jnp.var(x, axis=1)), (x37,)),
    "views": (lambda x: (x.T * 2, x[1:, ::2] + 1, x[::-1] - 0, jnp.broadcast_to(x[:, :1], (3, 7)) * x,
                         jnp.reshape(x, (7, 3)) + 0.5), (x37,)),
    "matmul_tile_remainder": (lambda a, b: a @ b, (rng.standard_normal((9, 6)), rng.standard_normal((6, 5)))),
    "matmul_row_vector": (lambda a, b: a @ b, (rng.standard_normal((1, 7)), rng.standard_normal((7, 5)))),
    "matmul_column": (lambda a, b: a @ b, (rng.standard_normal((5, 7)), rng.standard_normal((7, 1)))),
    "matmul_transposed": (lambda a, b: a.T @ b.T, (rng.standard_normal((6, 5)), rng.standard_normal((3, 6)))),
    "matmul_batched": (lambda a, b: jnp.einsum("bij,bjk->bik", a, b),
                       (rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 4, 5)))),
    "matmul_f32": (lambda a, b: a @ b, (f32, rng.standard_normal((9, 5)).astype(np.float32))),
    "grad": (nbad.grad(lambda x: jnp.sum(jnp.tanh(x) ** 2 * x)), (x23,)),
    "vmap": (nbad.vmap(lambda r: jnp.dot(r, r) + jnp.max(r)), (x37,)),
    "mlp_step": (_mlp_step, (_params([5, 8, 3]), rng.standard_normal((6, 5)), rng.standard_normal((6, 3)))),
    "gather_two_indices": (lambda x, i, j: x[i, j] + x[:, i[:2]].sum(),
                           (x37, np.array([1, 2, 0, 2]), np.array([0, 6, 3, 3]))),
    "grad_gather": (nbad.grad(lambda x, i: jnp.sum(x[i] ** 2)), (x37, np.array([1, 1, 2, 0]))),
    "scatter_set": (lambda x, i: jnp.asarray(x).at[i].set(7.0), (x37, np.array([0, 2]))),
    "scatter_max_drop": (lambda x, i: jnp.asarray(x).at[i].max(0.5), (x37, np.array([0, 0, 9]))),
    "fori_loop": (lambda x: nbad.lax.fori_loop(0, 5, lambda i, c: c * 0.9 + jnp.sin(c), x), (v40,)),
    "scan_reverse": (lambda m: nbad.lax.scan(lambda c, r: (c + jnp.sum(r), r * 2), np.zeros(()), m,
                                             reverse=True), (x37,)),
    "while_loop": (lambda x: nbad.lax.while_loop(lambda c: jnp.sum(c) < 100.0, lambda c: c * 2 + 1,
                                                 x + 2), (v40[:6],)),
    "grad_scan": (nbad.grad(lambda x: nbad.lax.scan(lambda c, v: (c * v + jnp.tanh(c), None), 1.0,
                                                    x)[0]), (v40[:8],)),
    "concatenate_pad": (lambda x, y: (jnp.concatenate([x, y, x], axis=1), jnp.stack([x, x * 2]),
                                      jnp.pad(x, ((1, 2), (0, 3))),
                                      pad_p.bind(x, np.float64(-1.0),  # interior, negative
                                                 padding_config=((0, -1, 1), (2, 0, 0)))),
                        (x23, rng.standard_normal((2, 4)))),
    "cond": (lambda p, x: nbad.lax.cond(p > 0, lambda v: jnp.sin(v) * 2, lambda v: v - 1, x),
             (np.float64(1.0), x23)),
    "switch": (lambda i, x: nbad.lax.switch(i, [jnp.cos, jnp.exp, lambda v: -v], x),
                     (np.int32(2), x23)),
    "argmax_cumulative": (lambda x, v: (jnp.argmax(x, axis=1), jnp.argmin(x, axis=0), jnp.argmax(v),
                                        jnp.cumsum(x, axis=1), jnp.cumprod(x, axis=0),
                                        cummax_p.bind(v, axis=0, reverse=True), jnp.cumsum(v > 0)),
                          (np.round(x37, 1), np.where(v40 > 1.5, np.nan, v40))),
    "dynamic_slices": (lambda x, i: (nbad.lax.dynamic_slice(x, (i, i + 4), (2, 3)) * 2,
                                     nbad.lax.dynamic_update_slice(x, jnp.ones((2, 2)), (i, 9)),
                                     nbad.grad(lambda y: jnp.sum(nbad.lax.dynamic_slice(y, (i, 1), (1, 4)) ** 2))(x)),
                       (x37, np.int32(1))),
    "scalar_output": (lambda x: jnp.sum(x) * 2.0 + 1.0, (np.float64(1.5),)),
}


# Programs also compared with the CPU backend (all are compared with NumPy, through the
# primitives' impls; the CPU backend's own tests hold it to those): one per kernel kind.
CPU_COMPARED = {"elementwise_f32_math", "reduce_each_axis", "row_softmax", "matmul_transposed",
                "grad_gather", "mlp_step", "vmap", "grad_scan"}


def _flat(out):
    return [np.asarray(o) for o in nbad.tree_leaves(out)]


def simulate(names):
    from nbad.backends.cuda import runtime
    from nbad.backends.cuda.array import CudaArray

    for name in names:
        fn, args = PROGRAMS[name]
        eager = _flat(fn(*args))  # the primitives' NumPy impls
        cpu = _flat(nbad.jit(fn)(*args)) if name in CPU_COMPARED else eager
        device_out = nbad.jit(fn, backend="cuda")(*args)
        on_device = all(isinstance(o, CudaArray) for o in nbad.tree_leaves(device_out))
        dev = _flat(device_out)
        ok, worst = True, 0.0
        for c, e, d in zip(cpu, eager, dev):
            tol = 2e-5 if c.dtype == np.float32 else 1e-11
            for ref in (c, e):
                ok &= bool(ref.shape == d.shape and ref.dtype == d.dtype
                           and np.allclose(d, ref, rtol=tol, atol=tol, equal_nan=True))
            if c.size and c.dtype.kind == "f":
                worst = max(worst, float(np.max(np.abs(d - c))))
        print(json.dumps({"check": "simulate", "program": name, "ok": ok and len(cpu) == len(dev),
                          "on_device": on_device, "max_abs_diff": worst}), flush=True)
    _residency(runtime)
    _eager_operations(runtime)


def _eager_operations(runtime):
    """Operators and methods of device arrays outside jit: small cached device programs."""
    from nbad.backends.cuda.array import CudaArray

    x, y = x37, rng.standard_normal(7)
    device = nbad.devices("cuda")[0]
    dx, dy = nbad.device_put(x, device), nbad.device_put(y, "cuda")
    before = dict(runtime.TRANSFERS)
    pairs = [(dx + dy, x + y), (2.0 - dx, 2.0 - x), (dx * dx / 3, x * x / 3), (dx @ dx.T, x @ x.T),
             (-dx, -x), (dx < 0.5, x < 0.5), (dx.sum(axis=0), x.sum(axis=0)), (dx.max(), x.max()),
             (dx.mean(axis=1, keepdims=True), x.mean(axis=1, keepdims=True)),
             (dx[1:, ::2], x[1:, ::2]), (dx[2], x[2]), (dx.reshape(7, 3), x.reshape(7, 3)),
             (dx.T, x.T), (dx.astype(np.float32), x.astype(np.float32)), (dx ** 2, x ** 2)]
    on_device = all(isinstance(a, CudaArray) for a, _ in pairs)
    copied_back = runtime.TRANSFERS["to_host"] - before["to_host"]
    ok = all(np.asarray(a).dtype == b.dtype and np.allclose(np.asarray(a), b) for a, b in pairs)
    jitted = nbad.jit(lambda a: a * 2, device=device)(dx)
    on_cpu = nbad.jit(lambda a: a * 2, backend="cpu")(dx)  # a CPU program copies it to the host
    ok = ok and type(on_cpu).__name__ == "Array" and bool(np.allclose(on_cpu, 2 * x))
    print(json.dumps({"check": "eager_ops", "ok": bool(ok), "on_device": on_device,
                      "copied_back": copied_back, "device_jit": isinstance(jitted, CudaArray)
                      and bool(np.allclose(np.asarray(jitted), 2 * x))}), flush=True)


def _residency(runtime):
    """Chained jitted calls: inputs copied once, nothing copied back in between."""
    f = nbad.jit(lambda x: x * 2.0 + 1.0, backend="cuda")
    g = nbad.jit(lambda x: jnp.sum(jnp.tanh(x)), backend="cuda")
    x = rng.standard_normal(50)
    before = dict(runtime.TRANSFERS)
    y = f(x)                 # one host -> device copy
    z = g(f(y))              # device arrays in, device arrays out
    moved = {k: runtime.TRANSFERS[k] - before[k] for k in before}
    value = float(np.asarray(z))  # one device -> host copy
    expected = np.sum(np.tanh((x * 2 + 1) * 2 + 1))
    print(json.dumps({"check": "residency", "moved": moved,
                      "ok": bool(abs(value - expected) < 1e-9), "cai": "data" in y.__cuda_array_interface__}),
          flush=True)


def _ptxas():
    import nvidia.cuda_nvcc

    path = os.path.join(list(nvidia.cuda_nvcc.__path__)[0], "bin", "ptxas")
    return path if os.path.exists(path) else None


def ptx(names, hot):
    ptxas = _ptxas()
    for name in names:
        fn, args = PROGRAMS[name]
        lowered = nbad.jit(fn, backend="cuda").lower(*args)
        for cc in ((8, 0), (9, 0)):
            texts = lowered.ptx_for(cc)
            record = {"check": "ptx", "program": name, "cc": list(cc), "kernels": len(texts),
                      "ok": all(".entry" in t for t in texts.values())}
            if ptxas is not None and name in hot:
                record["ptxas"] = {k: _assemble(ptxas, t, cc) for k, t in texts.items()}
            print(json.dumps(record), flush=True)


def _assemble(ptxas, text, cc):
    """Registers and spill bytes of each entry of one kernel's PTX, from ptxas -v."""
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "k.ptx")
        with open(src, "w") as fh:
            fh.write(text)
        done = subprocess.run([ptxas, f"-arch=sm_{cc[0]}{cc[1]}", "-v", src, "-o",
                               os.path.join(d, "k.cubin")], capture_output=True, text=True)
    log = done.stderr + done.stdout
    regs = [int(m) for m in re.findall(r"Used (\d+) registers", log)]
    spills = [int(m) for m in re.findall(r"(\d+) bytes spill stores", log)]
    return {"rc": done.returncode, "registers": regs, "spill_store_bytes": spills}


def unavailable():
    """No GPU and no simulator: running a CUDA program raises a clear error."""
    f = nbad.jit(lambda x: x + 1, backend="cuda")
    try:
        f(np.ones(3))
    except RuntimeError as e:
        print(json.dumps({"check": "unavailable", "type": type(e).__name__, "message": str(e)}))


if __name__ == "__main__":
    mode, names = sys.argv[1], sys.argv[2:] or list(PROGRAMS)
    if mode == "simulate":
        simulate(names)
    else:
        ptx(names, hot={"selu_f32", "row_softmax", "sum_all", "matmul_f32", "mlp_step"})
        unavailable()
