"""nbad.jit side by side with NumPy, hand-written Numba and JAX jit, in one run.

    python benchmarks/run.py [--quick] [--only NAME[,NAME...]] [--repeats N] [--pin-blas]

Prints markdown tables (paste them into an issue note): the array kernels,
then the gradients (issue 3: nbad.jit of grad/value_and_grad/hessian vs JAX
jit vs autograd, eager, vs a hand-written NumPy gradient; workloads in
grad_workloads.py), then vmap (issue 4: nbad.jit(nbad.vmap(f)) vs
jax.jit(jax.vmap(f)), vs nbad.vmap(f) called eagerly (outside jit; nbad
compiles it too), vs the batch vectorised by hand in NumPy and looped by hand
in Numba (prange over the batch); workloads in vmap_workloads.py: grad and
grad-of-grad of tanh over 10^6 scalars, a per-example MLP predict over a batch
of 4096, per-example gradients of a linear model's squared loss). Under the
vmap table a line says whether the batched MLP compiled to exactly 3 BLAS
matrix-matrix products with no per-example loop (from jit(...).lower()).
`--only` picks from all tables by (part of) name; `--only gradients` runs the
whole gradient table, `--only vmap` the whole vmap table. Times are medians of
per-call times after warm-up (time.perf_counter), "median (min–max)" over
--repeats rounds in which nbad and its peers take turns (so that a busy moment
falls on all of them). Ratios are of the medians, peer time / nbad time: above
1 means nbad is faster. BLAS threads are as the environment sets them (what
users get; the header says which): nbad sets its own during its calls, the
peers inherit the environment's; `--pin-blas` pins every BLAS to one thread. "compile" is the first call minus the
steady state; "new shape" is nbad's first call at a new leading size of an
already-compiled program minus the steady state (the target is: nothing
compiles). The hand-written Numba kernels use the flags nbad uses
(fastmath={'reassoc','contract','arcp','nsz'}, error_model='numpy'),
parallel=True where it pays. JAX runs with x64 enabled so float64 compares
fairly, on JAX arrays created beforehand, with block_until_ready.
A result that differs from NumPy's is marked in the last column (gradients:
every peer allclose to the hand-written NumPy gradient, rtol 1e-8, float64;
vmap: every peer allclose to the NumPy version, rtol 1e-8, atol 1e-12).

The `simulations` table (`--only simulations`, issue 12; sim_workloads.py):
value_and_grad of the PID-controlled bathtub of examples/pid.py at T = 100,
1000, 10000 steps as lax.scan and lax.fori_loop vs JAX's lax.scan and
autograd, and the projectile with drag of examples/projectile.py; run time and
cold compile time side by side.

The `random` table (`--only random`, issue 13; random_workloads.py) draws
normal(key, (1000, 1000)) and uniform(key, (10**7,)) with nbad.random and
jax.random under jit and with NumPy's default_rng, and says whether nbad's
numbers are JAX's.

A last table (`--only fresh`, issue 5) times whole fresh processes: the wall
time of `python -c '<import, build inputs, call the jitted function once,
read the result>'` for the MLP training step and SELU; nbad cold (empty
NBAD_CACHE_DIR) vs warm (the cache the cold run filled), and JAX fresh
without and with its persistent compilation cache (cold and warm). Medians of
--repeats runs (each cold run gets an empty cache directory).
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import sys
from dataclasses import dataclass, field

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before numba's first parallel call
# The tables measure what users get: BLAS threads as the environment sets them (nbad sets
# its own during its calls: backends/cpu/blas.py). --pin-blas pins the peers' BLAS to one
# thread, as earlier runs did (threaded OpenBLAS next to busy processes turns a 0.3 ms
# matrix-vector product into 20-30 ms: numba-facts.md section 5); it must be set before
# NumPy/SciPy load OpenBLAS, hence read from argv here.
PIN_BLAS = "--pin-blas" in sys.argv[1:]
if PIN_BLAS:
    os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = "1"
# In-process tables measure cold compilation (next to JAX's, which has no persistent
# cache by default); the fresh-process table measures nbad's disk cache itself.
os.environ.setdefault("NBAD_CACHE", "0")

import numpy as np  # noqa: E402

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [_HERE, os.path.dirname(_HERE)]  # _common, and the nbad of this checkout
from _common import (NUMBA_FLAGS, Interleaved, blas_header, correctness_mark, fmt_ratio,  # noqa: E402
                     fmt_time, fmt_timing, markdown_table, measure_peer, record_error, tree_allclose)
import grad_workloads  # noqa: E402
import sim_workloads  # noqa: E402
import random_workloads  # noqa: E402
import vmap_workloads  # noqa: E402

import nbad  # noqa: E402
import nbad.numpy as jnp  # noqa: E402
import numba  # noqa: E402
from numba import njit, prange  # noqa: E402

try:
    import jax
    import jax.numpy as jax_np

    jax.config.update("jax_enable_x64", True)
except ImportError:
    jax = None

FLAGS = NUMBA_FLAGS  # fastmath={'reassoc', 'contract', 'arcp', 'nsz'}, error_model='numpy'
LAM = 1.0507
ALPHA = 1.67326


# --- the workloads, written once against an array module (numpy, nbad.numpy, jax.numpy)

def selu(xp, x):
    return LAM * xp.where(x > 0, x, ALPHA * xp.exp(x) - ALPHA)


def poly(xp, x):
    return x * x + x * 2.0


def softmax_rows(xp, x):
    e = xp.exp(x - xp.max(x, axis=1, keepdims=True))
    return e / xp.sum(e, axis=1, keepdims=True)


def column_stats(xp, x):
    """Per-feature statistics over a batch (batchnorm's and a bias gradient's shape)."""
    return xp.mean(xp.tanh(x) * x, axis=0)


def least_squares(xp, X, w, y):
    return xp.sum((X @ w - y) ** 2)


def add_one(xp, x):
    return x + 1


# --- hand-written Numba

def make_selu_numba(dtype):
    lam, alpha = dtype(LAM), dtype(ALPHA)

    @njit(parallel=True, **FLAGS)
    def selu_numba(x):
        out = np.empty_like(x)
        for i in prange(x.size):
            v = x[i]
            out[i] = lam * (v if v > 0 else alpha * math.exp(v) - alpha)
        return out

    return selu_numba


@njit(parallel=True, **FLAGS)
def poly_numba(x):
    out = np.empty_like(x)
    for i in prange(x.shape[0]):
        for j in range(x.shape[1]):
            v = x[i, j]
            out[i, j] = v * v + v * 2.0
    return out


@njit(parallel=True, **FLAGS)
def softmax_numba(x):
    out = np.empty_like(x)
    for i in prange(x.shape[0]):
        m = -np.inf
        for j in range(x.shape[1]):
            m = max(m, x[i, j])
        s = 0.0
        for j in range(x.shape[1]):
            e = math.exp(x[i, j] - m)
            out[i, j] = e
            s += e
        inv = 1.0 / s
        for j in range(x.shape[1]):
            out[i, j] *= inv
    return out


@njit(parallel=True, **FLAGS)
def column_stats_numba(x):
    n, m = x.shape
    out = np.empty(m)
    for j in prange(m):
        s = 0.0
        for i in range(n):
            v = x[i, j]
            s += math.tanh(v) * v
        out[j] = s / n
    return out


@njit(parallel=True, **FLAGS)
def least_squares_numba(X, w, y):
    r = X @ w
    s = 0.0
    for i in prange(r.shape[0]):
        d = r[i] - y[i]
        s += d * d
    return s


@njit(**FLAGS)
def add_one_numba(x):
    return x + 1


# --- the table

@dataclass
class Workload:
    name: str
    fn: object                  # fn(xp, *args)
    make_args: object           # make_args(quick, rng, shrink) -> tuple of NumPy arrays
    numba_fn: object
    rtol: float = 1e-9
    atol: float = 1e-12
    per_call: bool = False      # dispatch benchmark: report ns per call
    notes: list = field(default_factory=list)


def _selu_args(dtype):
    def make(quick, rng, shrink=0):
        n = (10**6 if quick else 10**7) - shrink
        return (rng.standard_normal(n).astype(dtype),)
    return make


def _poly_args(quick, rng, shrink=0):
    n = 1000 if quick else 5000
    return (rng.standard_normal((n - shrink, n)),)


def _batch_by_features_args(quick, rng, shrink=0):
    rows, cols = (512, 256) if quick else (4096, 1024)
    return (rng.standard_normal((rows - shrink, cols)),)


def _lsq_args(quick, rng, shrink=0):
    n = (10_000 if quick else 100_000) - shrink
    return (rng.standard_normal((n, 64)), rng.standard_normal(64), rng.standard_normal(n))


def _add_one_args(quick, rng, shrink=0):
    return (rng.standard_normal(3 + shrink),)


WORKLOADS = [
    Workload("selu_f64", selu, _selu_args(np.float64), make_selu_numba(np.float64)),
    Workload("selu_f32", selu, _selu_args(np.float32), make_selu_numba(np.float32),
             rtol=1e-5, atol=1e-6),
    Workload("poly_5000x5000", poly, _poly_args, poly_numba),
    Workload("softmax_4096x1024", softmax_rows, _batch_by_features_args, softmax_numba),
    Workload("colstats_4096x1024", column_stats, _batch_by_features_args, column_stats_numba),
    Workload("lsq_100000x64", least_squares, _lsq_args, least_squares_numba),
    Workload("dispatch_x+1", add_one, _add_one_args, add_one_numba, per_call=True),
]


def _close(result, expected, rtol, atol):
    result = np.asarray(result)
    return result.shape == np.shape(expected) and np.allclose(result, expected, rtol=rtol, atol=atol)


def bench(w, quick, repeats, errors):
    rng = np.random.default_rng(0)
    args = w.make_args(quick, rng)
    sample = 0.005 if quick else 0.05
    row = {"name": w.name, "ok": []}
    expected = w.fn(np, *args)

    timed = Interleaved(repeats, sample, errors, w.name)

    def peer(label, fn, call_args, sync=None):
        """Its first call now (timed with the others after); a failure is recorded."""
        try:
            row[label + "_first"], result = timed.first(label, fn, call_args, sync=sync)
            if not _close(result, expected, w.rtol, w.atol):
                row["ok"].append(f"{label} differs")
        except Exception as e:  # one broken peer must not hide the other columns
            record_error(errors, f"{w.name} / {label}", e)

    nbad_fn = nbad.jit(lambda *a: w.fn(jnp, *a))
    peer("nbad", nbad_fn, args)
    row["nbad_new_shape"] = None
    if "nbad" in timed.peers and not w.per_call:
        try:
            new_args = w.make_args(quick, np.random.default_rng(1), shrink=1)
            row["nbad_new_shape"], _, _ = measure_peer(nbad_fn, new_args, repeats=3, sample_seconds=sample)
        except Exception as e:
            record_error(errors, f"{w.name} / nbad new shape", e)

    peer("numpy", lambda *a: w.fn(np, *a), args)
    peer("numba", w.numba_fn, args)
    if jax is not None:
        jax_args = tuple(jax.device_put(a) for a in args)
        jax_fn = jax.jit(lambda *a: w.fn(jax_np, *a))
        peer("jax", jax_fn, jax_args, sync=jax.block_until_ready)
    _fill_timings(row, timed.run(), ("nbad", "numpy", "numba", "jax"))
    return row


def _fill_timings(row, timings, labels):
    """row[label]: median seconds per call (None if it did not run), row[label +
    '_timing']: median and range, row[label + '_compile']: first call minus median."""
    for label in labels:
        t = timings.get(label)
        row[label], row[label + "_timing"] = (t.median if t else None), t
        first = row.pop(label + "_first", None)
        row[label + "_compile"] = None if t is None or first is None else max(first - t.median, 0.0)


def bench_grad(w, ads, quick, repeats, errors):
    """One gradient row: per peer (steady, compile) and the correctness marks."""
    args = w.make_args(quick, np.random.default_rng(0))
    sample = 0.005 if quick else 0.05
    row = {"name": w.name, "ok": [], "missing": []}
    ref_timed, ref_check = w.builders["numpy"](ads["numpy"])
    expected = ref_timed(*args)
    expected_grad = ref_check(*args) if ref_check is not None else None

    peers = Interleaved(repeats, sample, errors, w.name)
    labels = ("nbad", "jax", "autograd", "numpy")
    for label in labels:
        ad = ads.get(label)
        if not isinstance(ad, grad_workloads.AD):
            continue
        try:
            timed, check = w.builders[label](ad)
            call_args = ad.to_device(args)
            first, result = peers.first(label, timed, call_args, sync=ad.sync)
            if ad.jit is not None:
                row[label + "_first"] = first
            if label != "numpy":
                if not tree_allclose(result, expected):
                    row["ok"].append(f"{label} differs")
                elif check is not None and not tree_allclose(check(*call_args), expected_grad):
                    row["ok"].append(f"{label} gradient differs")
        except Exception as e:  # one broken peer must not hide the other columns
            row["missing"].append(label)
            record_error(errors, f"{w.name} / {label}", e)
    timings = peers.run()
    row["missing"] += [label for label in peers.peers if label not in timings]
    _fill_timings(row, timings, labels)
    return row


def _table_rows(selected, bench_one, cells):
    """(rows, failed) of a gradient or vmap table: each workload benchmarked by
    bench_one(w), its row its name, cells(result) and the correctness mark."""
    rows, failed = [], False
    for w in selected:
        print(f"running {w.name} ...", file=sys.stderr, flush=True)
        r = bench_one(w)
        mark = correctness_mark(r)
        failed |= mark != "✓" or bool(r["missing"])
        rows.append([w.name, *cells(r), mark])
    return rows, failed


def grad_table(selected, quick, repeats, errors):
    ads = grad_workloads.ad_namespaces()
    rows, failed = _table_rows(selected, lambda w: bench_grad(w, ads, quick, repeats, errors), lambda r: [
        fmt_timing(r["nbad_timing"]), fmt_timing(r["jax_timing"]), fmt_timing(r["autograd_timing"]),
        fmt_timing(r["numpy_timing"]), fmt_ratio(r["jax"], r["nbad"]), fmt_ratio(r["autograd"], r["nbad"]), fmt_ratio(r["numpy"], r["nbad"]),
        fmt_time(r["nbad_compile"]), fmt_time(r["jax_compile"])])
    header = ["gradients", "nbad", "JAX", "autograd", "NumPy (by hand)", "JAX/nbad", "autograd/nbad",
              "NumPy/nbad", "nbad compile", "JAX compile", "= NumPy grad"]
    print(markdown_table(header, rows))
    unavailable = [f"{k} {v}" for k, v in ads.items() if isinstance(v, str)]
    print(f"\nlinreg: {grad_workloads.linreg_steps(quick)} gradient-descent steps (X 500x8) in one call, "
          f"looped inside jit (autograd, NumPy: eagerly); mlp_step: {'x'.join(map(str, grad_workloads.MLP_SIZES))}, "
          f"batch {grad_workloads.mlp_batch(quick)}, value_and_grad + SGD; hessian: of sum(sin(x)*x**2). "
          "nbad and JAX jitted, autograd eager." + ("" if not unavailable else " " + "; ".join(unavailable) + "."))
    if any(w.name == "mlp_step" for w in selected):
        try:
            fwd, bwd = grad_workloads.mlp_equation_counts(nbad, quick)
            print(f"mlp_step equations (nbad.make_ir): loss {fwd}, value_and_grad(loss) {bwd} "
                  f"({bwd / fwd:.2f}x the forward; target at most 3x)")
        except Exception as e:
            failed = True
            record_error(errors, "mlp_step / make_ir equation counts", e)
    return failed


# --- vmap (issue 4): jit(vmap(...)) vs JAX, nbad eager vmap, NumPy and Numba by hand

VMAP_PEERS = ("nbad", "nbad_eager", "jax", "numpy", "numba")


def bench_vmap(w, nss, quick, repeats, errors):
    """One vmap row: per peer (steady, compile) and the correctness marks."""
    args = w.make_args(quick, np.random.default_rng(0))
    sample = 0.005 if quick else 0.05
    row = {"name": w.name, "ok": [], "missing": []}
    expected = w.numpy(*args)

    peers = Interleaved(repeats, sample, errors, w.name)
    for label in VMAP_PEERS:
        ns = nss.get("nbad" if label == "nbad_eager" else label)
        sync = call_args = None
        if label in ("numpy", "numba"):
            fn, call_args = (w.numpy if label == "numpy" else w.numba), args
            if fn is None:
                continue
        elif not isinstance(ns, vmap_workloads.NS):
            continue
        else:
            try:
                vmapped = w.vmapped(ns)
                fn = vmapped if label == "nbad_eager" else ns.jit(vmapped)
                call_args, sync = ns.to_device(args), ns.sync
            except Exception as e:
                fn = e
        try:
            if isinstance(fn, Exception):
                raise fn
            first, result = peers.first(label, fn, call_args, sync=sync)
            if label not in ("numpy", "numba"):
                row[label + "_first"] = first
            if not tree_allclose(result, expected, w.rtol, w.atol):
                row["ok"].append(f"{label.replace('_', ' ')} differs")
        except Exception as e:  # one broken peer must not hide the other columns
            row["missing"].append(label)
            record_error(errors, f"{w.name} / {label.replace('_', ' ')}", e)
    timings = peers.run()
    row["missing"] += [label for label in peers.peers if label not in timings]
    _fill_timings(row, timings, VMAP_PEERS)
    return row


def vmap_table(selected, quick, repeats, errors):
    nss = vmap_workloads.namespaces()
    rows, failed = _table_rows(selected, lambda w: bench_vmap(w, nss, quick, repeats, errors), lambda r: [
        fmt_timing(r["nbad_timing"]), fmt_timing(r["nbad_eager_timing"]), fmt_timing(r["jax_timing"]),
        fmt_timing(r["numpy_timing"]), fmt_timing(r["numba_timing"]),
        fmt_ratio(r["nbad_eager"], r["nbad"]), fmt_ratio(r["jax"], r["nbad"]),
        fmt_ratio(r["numpy"], r["nbad"]), fmt_ratio(r["numba"], r["nbad"]),
        fmt_time(r["nbad_compile"]), fmt_time(r["nbad_eager_compile"]), fmt_time(r["jax_compile"])])
    header = ["vmap", "nbad", "nbad eager vmap", "JAX", "NumPy (by hand)", "Numba (by hand)", "eager/nbad",
              "JAX/nbad", "NumPy/nbad", "Numba/nbad", "nbad compile", "nbad eager compile", "JAX compile",
              "= NumPy"]
    print(markdown_table(header, rows))
    unavailable = [f"{k} {v}" for k, v in nss.items() if isinstance(v, str)]
    print(f"\nnbad and JAX: jit(vmap(f)); nbad eager vmap: nbad.vmap(f) called outside jit (it compiles "
          "too; its first call runs after nbad's jit in this process, so kernels already compiled are "
          f"reused). vmap_grad_tanh, vmap_grad2_tanh: grad(tanh), grad(grad(tanh)) over "
          f"{vmap_workloads.TANH_N:,} float64 (linspace(-7, 7)); batched_mlp_predict: predict(params, x) "
          f"per example, in_axes=(None, 0), {'x'.join(map(str, vmap_workloads.MLP_SIZES))}, tanh, batch "
          f"{vmap_workloads.MLP_BATCH} (Numba: `X @ W.T` via BLAS in njit, bias + tanh in prange); "
          f"per_example_grads: grad of (dot(x, w) - y)**2, in_axes=(None, 0, 0), batch "
          f"{vmap_workloads.PEG_BATCH:,}, {vmap_workloads.PEG_FEATURES} features. Same sizes with --quick."
          + ("" if not unavailable else " " + "; ".join(unavailable) + "."))
    if any(w.name == "batched_mlp_predict" for w in selected):
        try:
            ok, text = vmap_workloads.mlp_blas_report(nbad)
            print(text)
            if not ok:
                failed = True
                errors.append("batched_mlp_predict: not 3 BLAS matrix-matrix products without a "
                              "per-example loop (see above)")
        except Exception as e:
            failed = True
            record_error(errors, "batched_mlp_predict / lower()", e)
    return failed


# --- fresh processes: time from process start to first result (disk cache, issue 5)

_FRESH_NBAD = """
import sys; sys.path[:0] = {paths!r}
import numpy as np, nbad, nbad.numpy as jnp, grad_workloads as gw
from nbad.backends.cpu import kernels as cpu
{body}
stats = [k.dispatcher().stats for k in cpu.KERNELS.values()]
print('HITS', sum(sum(s.cache_hits.values()) for s in stats), 'MISSES', sum(sum(s.cache_misses.values()) for s in stats))
"""

_FRESH_JAX = """
import sys; sys.path[:0] = {paths!r}
import numpy as np, jax, jax.numpy as jnp, grad_workloads as gw
jax.config.update("jax_enable_x64", True)
if {cache_dir!r}:
    jax.config.update("jax_compilation_cache_dir", {cache_dir!r})
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
{body}
"""

_FRESH_BODIES = {
    # (nbad body, jax body): build inputs, call once, read the result
    "mlp_step": (
        "params, x, t = gw._mlp_args({quick}, np.random.default_rng(0))\n"
        "step = nbad.jit(lambda p, x, t: gw.mlp_step(jnp, nbad.value_and_grad, p, x, t))\n"
        "loss, new = step(params, x, t); float(loss)",
        "params, x, t = gw._mlp_args({quick}, np.random.default_rng(0))\n"
        "step = jax.jit(lambda p, x, t: gw.mlp_step(jnp, jax.value_and_grad, p, x, t))\n"
        "loss, new = step(params, x, t); float(loss)"),
    "selu": (
        "x = np.random.default_rng(0).standard_normal(10**6)\n"
        "f = nbad.jit(lambda x: 1.0507 * jnp.where(x > 0, x, 1.67326 * jnp.exp(x) - 1.67326))\n"
        "float(f(x)[0])",
        "x = np.random.default_rng(0).standard_normal(10**6)\n"
        "f = jax.jit(lambda x: 1.0507 * jnp.where(x > 0, x, 1.67326 * jnp.exp(x) - 1.67326))\n"
        "float(f(x)[0])"),
}


def _run_fresh(code, env):
    import subprocess
    import time

    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=600)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    return wall, proc.stdout


def fresh_process_table(quick, repeats, errors):
    """nbad cold vs warm disk cache vs JAX, whole fresh processes."""
    import shutil
    import statistics
    import tempfile

    paths = [_HERE, os.path.dirname(_HERE)]
    env = dict(os.environ)
    env.pop("NBAD_CACHE", None)
    rows = []
    tmp = tempfile.mkdtemp(prefix="nbad-fresh-bench-")
    try:
        for name, (nbad_body, jax_body) in _FRESH_BODIES.items():
            print(f"running fresh process {name} ...", file=sys.stderr, flush=True)
            code = _FRESH_NBAD.format(paths=paths, body=nbad_body.format(quick=quick))
            cold, warm, notes = [], [], []
            try:
                for r in range(repeats):
                    d = os.path.join(tmp, f"nbad-{name}-{r}")
                    e = dict(env, NBAD_CACHE_DIR=d)
                    wall, out = _run_fresh(code, e)
                    cold.append(wall)
                    wall, out = _run_fresh(code, e)
                    warm.append(wall)
                    if "MISSES 0" not in out:
                        notes.append("warm run compiled: " + out.strip().splitlines()[-1])
            except Exception as ex:
                errors.append(f"fresh {name} / nbad: {ex}")
            jax_plain, jax_cold, jax_warm = [], [], []
            if jax is not None:
                try:
                    for r in range(repeats):
                        d = os.path.join(tmp, f"jax-{name}-{r}")
                        jax_plain.append(_run_fresh(_FRESH_JAX.format(
                            paths=paths, cache_dir="", body=jax_body.format(quick=quick)), env)[0])
                        code_j = _FRESH_JAX.format(paths=paths, cache_dir=d, body=jax_body.format(quick=quick))
                        jax_cold.append(_run_fresh(code_j, env)[0])
                        jax_warm.append(_run_fresh(code_j, env)[0])
                except Exception as ex:
                    errors.append(f"fresh {name} / jax: {ex}")
            med = lambda xs: statistics.median(xs) if xs else None  # noqa: E731
            rows.append([name, fmt_time(med(cold)), fmt_time(med(warm)), fmt_time(med(jax_plain)),
                         fmt_time(med(jax_cold)), fmt_time(med(jax_warm)),
                         fmt_ratio(med(jax_plain), med(warm)), fmt_ratio(med(jax_warm), med(warm)),
                         "; ".join(notes) or "✓"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    header = ["fresh process", "nbad cold", "nbad warm", "JAX", "JAX cache cold", "JAX cache warm",
              "JAX/nbad warm", "JAX cache warm/nbad warm", "warm = no compile"]
    print(markdown_table(header, rows))
    print(f"\nWall time of a whole `python -c` process: import, build inputs, first call, read the "
          f"result (median of {repeats}). nbad cold: empty NBAD_CACHE_DIR; warm: the cache the cold run "
          "filled (its kernels must all load from disk: last column). JAX: x64, no persistent cache; "
          "\"cache\": jax_compilation_cache_dir, cold then warm. mlp_step: "
          f"{'x'.join(map(str, grad_workloads.MLP_SIZES))}, batch {grad_workloads.mlp_batch(quick)}; "
          "selu: 10^6 float64.")
    return any(r[-1] != "✓" for r in rows)


_TABLE_WORDS = ("grad", "gradients", "vmap", "random", "fresh", "cache", "simulations", "dask")


def _all_names(quick):
    return ([w.name for w in WORKLOADS] + [w.name for w in grad_workloads.grad_workloads(quick)]
            + [w.name for w in vmap_workloads.vmap_workloads(quick)]
            + [w.name for w in random_workloads.random_workloads()])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and few repeats (< 2 minutes)")
    parser.add_argument("--only", help="comma-separated workload names (or parts of names), or 'gradients' "
                        "for the whole gradient table, 'vmap' for the whole vmap table, 'fresh' for the "
                        "fresh-process table, 'dask' for the Dask sweep (nbad[dask]): " + ", ".join(_all_names(False)))
    parser.add_argument("--repeats", type=int, help="timing samples per measurement (default 7, 3 with --quick)")
    parser.add_argument("--pin-blas", action="store_true",
                        help="OPENBLAS_NUM_THREADS=OMP_NUM_THREADS=1 for every peer (default: the "
                             "environment as you have it)")
    args = parser.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 7)

    selected = WORKLOADS
    grad_selected = grad_workloads.grad_workloads(args.quick)
    vmap_selected = vmap_workloads.vmap_workloads(args.quick)
    random_selected = random_workloads.random_workloads()
    fresh = simulations = True
    dask_table = False
    if args.only:
        wanted = [s.strip() for s in args.only.split(",") if s.strip()]
        names = [s for s in wanted if s not in _TABLE_WORDS]  # table names pick no single workload
        fresh = any(s in ("fresh", "cache") for s in wanted)
        dask_table = "dask" in wanted  # only when asked: needs nbad[dask] and starts local clusters
        simulations = "simulations" in wanted
        selected = [w for w in WORKLOADS if any(s in w.name for s in names)]
        grad_selected = [w for w in grad_selected
                         if any(s in w.name for s in names) or any(s in ("grad", "gradients") for s in wanted)]
        vmap_selected = [w for w in vmap_selected if any(s in w.name for s in names) or "vmap" in wanted]
        random_selected = [w for w in random_selected
                           if any(s in w.name for s in names) or "random" in wanted]
        if not (selected or grad_selected or vmap_selected or random_selected or fresh or simulations
                or dask_table):
            parser.error(f"--only {args.only!r} matches no workload; choose from "
                         + ", ".join(_all_names(args.quick)) + ", gradients, vmap, random, fresh, simulations, dask")

    from nbad.backends.cpu import threads as nbad_threads

    threads = nbad_threads.num_threads()
    try:
        import autograd
        autograd_version = getattr(autograd, "__version__", None)
        if autograd_version is None:
            from importlib.metadata import version
            autograd_version = version("autograd")
    except Exception:
        autograd_version = "not installed"
    print(f"nbad {nbad.__version__}, numba {numba.__version__}, numpy {np.__version__}, "
          f"jax {jax.__version__ if jax else 'not installed'}, autograd {autograd_version}, "
          f"Python {platform.python_version()}; "
          f"{os.cpu_count()} CPUs, {threads} nbad threads, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}"
          f"{'; --quick sizes' if args.quick else ''}")
    print(blas_header(PIN_BLAS) + "\n")

    errors, rows = [], []
    for w in selected:
        print(f"running {w.name} ...", file=sys.stderr, flush=True)
        r = bench(w, args.quick, repeats, errors)
        rows.append([
            w.name + (" (per call)" if w.per_call else ""),
            fmt_timing(r["nbad_timing"]), fmt_timing(r["numpy_timing"]), fmt_timing(r["numba_timing"]),
            fmt_timing(r["jax_timing"]),
            fmt_ratio(r["numpy"], r["nbad"]), fmt_ratio(r["numba"], r["nbad"]), fmt_ratio(r["jax"], r["nbad"]),
            fmt_time(r["nbad_compile"]), fmt_time(r["jax_compile"]), fmt_time(r["nbad_new_shape"]),
            "✗ " + "; ".join(r["ok"]) if r["ok"] else ("✓" if r["nbad"] is not None else "error"),
        ])
    if rows:
        header = ["workload", "nbad", "NumPy", "Numba", "JAX", "NumPy/nbad", "Numba/nbad", "JAX/nbad",
                  "nbad compile", "JAX compile", "nbad new shape", "= NumPy"]
        print(markdown_table(header, rows))
    grad_failed = False
    if grad_selected:
        if rows:
            print()
        grad_failed = grad_table(grad_selected, args.quick, repeats, errors)
    vmap_failed = False
    if vmap_selected:
        if rows or grad_selected:
            print()
        vmap_failed = vmap_table(vmap_selected, args.quick, repeats, errors)
    random_failed = False
    if random_selected:
        if rows or grad_selected or vmap_selected:
            print()
        random_failed = random_workloads.random_table(random_selected, args.quick, repeats, errors)
    sim_failed = False
    if simulations:
        if rows or grad_selected or vmap_selected or random_selected:
            print()
        sim_failed = sim_workloads.simulations_table(args.quick, repeats, errors)
    fresh_failed = False
    if fresh:
        if rows or grad_selected or vmap_selected or simulations:
            print()
        fresh_failed = fresh_process_table(args.quick, min(repeats, 3), errors)
    if dask_table:
        import dask_bench

        dask_bench.dask_table(args.quick, min(repeats, 5), errors)
    if errors:
        print("\nerrors (set NBAD_BENCH_TRACEBACK=1 for tracebacks):")
        for e in errors:
            print(f"- {e}")
    return 1 if (errors or grad_failed or vmap_failed or random_failed or sim_failed or fresh_failed
                 or any(r[-1] != "✓" for r in rows)) else 0


if __name__ == "__main__":
    sys.exit(main())
