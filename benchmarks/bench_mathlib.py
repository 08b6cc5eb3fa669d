"""Speed of nbad.backends.cpu.mathlib against NumPy and numba's libm calls.

    python benchmarks/bench_mathlib.py [--n 10000000] [--repeat 7] [--inline-modes]
        [--dtype float32] [--only exp ...]

Single-threaded, 10^7 values per dtype.  Columns (ms: best and median
thread CPU time and median wall time of --repeat runs; ratios use medians
of thread CPU time):
  numpy   the NumPy ufunc (scipy.special.erf for erf; 1/(1+exp(-x)) for
          logistic), which allocates its output
  njit-np njit loop calling np.<f> (math.erf for erf): numba's libm calls
  nbad    njit loop calling mathlib.<f>
The njit loops allocate their output too (np.empty_like), like the ufunc.
Each function has a second row, "out=": NumPy and nbad writing into a
preallocated output, i.e. the cost of the math itself.

--inline-modes re-runs a 4-function kernel in fresh processes with
NBAD_MATHLIB_INLINE=llvm|none|numba and prints compile time, run time and
accuracy of each way of inlining the math functions.
"""
import argparse
import math
import os
import subprocess
import sys
import time

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

FASTMATH = {"reassoc", "contract", "arcp", "nsz"}
NAMES = ["exp", "expm1", "log", "log1p", "tanh", "logistic", "sin", "cos", "erf"]


def inputs(name, dtype, n, rng):
    if name in ("log", "log1p"):
        x = rng.uniform(0, 10, n)
    elif name in ("sin", "cos"):
        x = rng.uniform(-100, 100, n)
    else:
        x = rng.uniform(-5, 5, n)
    return x.astype(dtype)


def best(f, x, repeat):
    """(best thread CPU ms, median thread CPU ms, median wall ms): thread CPU
    time is less sensitive than wall time to other processes on a shared box."""
    f(x)
    cpu, wall = [], []
    for _ in range(repeat):
        t, w = time.thread_time(), time.perf_counter()
        f(x)
        cpu.append(time.thread_time() - t)
        wall.append(time.perf_counter() - w)
    return min(cpu) * 1e3, float(np.median(cpu)) * 1e3, float(np.median(wall)) * 1e3


def make_loop(f):
    from numba import njit

    @njit(error_model="numpy", fastmath=FASTMATH)
    def loop(x):
        out = np.empty_like(x)
        for i in range(x.size):
            out[i] = f(x[i])
        return out
    return loop


def make_loop_out(f):
    from numba import njit

    @njit(error_model="numpy", fastmath=FASTMATH)
    def loop(x, out):
        for i in range(x.size):
            out[i] = f(x[i])
    return loop


def _np_logistic_out(x, out):
    np.negative(x, out=out)
    np.exp(out, out=out)
    out += 1
    return np.divide(1, out, out=out)


def speed_table(n, repeat, dtypes=(np.float64, np.float32), names=NAMES):
    import scipy.special
    from numba import njit

    from nbad.backends.cpu import mathlib as M

    @njit(fastmath=FASTMATH)
    def np_logistic(v):
        return 1.0 / (1.0 + np.exp(-v))

    ufunc = dict(exp=np.exp, expm1=np.expm1, log=np.log, log1p=np.log1p, tanh=np.tanh,
                 logistic=lambda x: 1 / (1 + np.exp(-x)), sin=np.sin, cos=np.cos,
                 erf=scipy.special.erf)
    libm = dict(exp=njit(lambda v: np.exp(v)), expm1=njit(lambda v: np.expm1(v)),
                log=njit(lambda v: np.log(v)), log1p=njit(lambda v: np.log1p(v)),
                tanh=njit(lambda v: np.tanh(v)), logistic=np_logistic,
                sin=njit(lambda v: np.sin(v)), cos=njit(lambda v: np.cos(v)),
                erf=njit(lambda v: math.erf(v)))
    rng = np.random.default_rng(0)
    np.seterr(all="ignore")
    print("times in ms: best thread CPU / median thread CPU / median wall")
    print(f"{'function':9s} {'dtype':8s} {'numpy':>20s} {'njit-np':>20s} {'nbad':>20s} "
          f"{'nbad/numpy':>10s} {'nbad/njit-np':>12s}")
    fmt = "{:6.1f}/{:6.1f}/{:6.1f}".format
    for dtype in dtypes:
        for name in names:
            x = inputs(name, dtype, n, rng)
            t_np = best(ufunc[name], x, repeat)
            t_libm = best(make_loop(libm[name]), x, repeat)
            t_nbad = best(make_loop(getattr(M, name)), x, repeat)
            print(f"{name:9s} {dtype.__name__:8s} {fmt(*t_np)} {fmt(*t_libm)} {fmt(*t_nbad)} "
                  f"{t_nbad[1] / t_np[1]:10.2f} {t_nbad[1] / t_libm[1]:12.2f}", flush=True)
            # Same with a preallocated output: the njit loops' np.empty_like
            # of 10^7 values is a fresh mmap (page faults) on every call,
            # while NumPy's allocator reuses/hugepages it.
            out = np.empty_like(x)
            uf_out = _np_logistic_out if name == "logistic" else ufunc[name]
            t_np = best(lambda v: uf_out(v, out=out), x, repeat)
            k = make_loop_out(getattr(M, name))
            t_nbad = best(lambda v: k(v, out), x, repeat)
            print(f"{'  out=':9s} {dtype.__name__:8s} {fmt(*t_np)} {'':>20s} {fmt(*t_nbad)} "
                  f"{t_nbad[1] / t_np[1]:10.2f}", flush=True)

_MODE_SCRIPT = r"""
import time, numpy as np
t0 = time.perf_counter()
from numba import njit
from nbad.backends.cpu.mathlib import exp as _m_exp, tanh as _m_tanh, log1p as _m_log1p, sin as _m_sin
@njit(error_model='numpy', fastmath={'reassoc','contract','arcp','nsz'})
def k(x, out):
    for i in range(x.size):
        out[i] = _m_tanh(x[i]) * _m_exp(-x[i]) + _m_log1p(abs(x[i])) + _m_sin(x[i] * 100.0)
@njit(error_model='numpy', fastmath={'reassoc','contract','arcp','nsz'})
def k2(x, out):
    for i in range(x.size):
        out[i] = _m_sin(x[i]) + _m_exp(x[i]) * _m_log1p(x[i]) - _m_tanh(x[i])
x = np.random.default_rng(0).uniform(-5, 5, %(n)d)
out = np.empty_like(x)
t = time.perf_counter(); k(x[:8], out[:8]); tc = time.perf_counter() - t
t = time.perf_counter(); k2(x[:8], out[:8]); tc2 = time.perf_counter() - t
ts = []
for _ in range(%(repeat)d):
    t = time.perf_counter(); k(x, out); ts.append(time.perf_counter() - t)
xl = x.astype(np.longdouble)
terms = (np.tanh(xl) * np.exp(-xl), np.log1p(abs(xl)), np.sin((x * 100.0).astype(np.longdouble)))
scale = sum(abs(t) for t in terms)
rel = float(np.max(np.abs(out - sum(terms)) / scale))
asm = k.inspect_asm(k.signatures[0])
print(f"{tc:.2f} {tc2:.2f} {min(ts) * 1e3:.1f} {rel:.2e} {asm.count('ymm') + asm.count('zmm')}")
"""


def inline_modes(n, repeat):
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    print("kernel 1: tanh(x)*exp(-x) + log1p(|x|) + sin(100x), f64, n =", n)
    print("compile 1: first kernel of a fresh process (includes numba set-up and\n"
          "compiling the four math functions); compile 2: a second kernel using them;\n"
          "err: max |out - ref| / sum |terms| (long double reference); median of 3 processes")
    print(f"{'mode':28s} {'compile 1':>9s} {'compile 2':>9s} {'run ms':>8s} {'err':>9s} {'ymm/zmm':>8s}")
    for mode, label in (("llvm", "forceinline (default)"), ("none", "plain njit"),
                        ("numba", "numba inline='always'")):
        env = dict(os.environ, NBAD_MATHLIB_INLINE=mode, PYTHONPATH=root)
        outs = []
        for _ in range(3):
            r = subprocess.run([sys.executable, "-c", _MODE_SCRIPT % dict(n=n, repeat=repeat)],
                               env=env, capture_output=True, text=True, check=True)
            outs.append(r.stdout.split())
        tc, tc2, tr = (sorted(float(o[j]) for o in outs)[1] for j in range(3))
        print(f"{mode + ': ' + label:28s} {tc:9.2f} {tc2:9.2f} {tr:8.1f} {outs[0][3]:>9s} {outs[0][4]:>8s}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10 ** 7)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--inline-modes", action="store_true")
    ap.add_argument("--dtype", choices=["float64", "float32"], action="append",
                    help="only these dtypes (repeatable; default both)")
    ap.add_argument("--only", action="append", choices=NAMES, help="only these functions")
    a = ap.parse_args()
    if a.inline_modes:
        inline_modes(a.n, a.repeat)
    else:
        speed_table(a.n, a.repeat, [np.dtype(d).type for d in a.dtype or ("float64", "float32")],
                    a.only or NAMES)


if __name__ == "__main__":
    main()
