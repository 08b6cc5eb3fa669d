"""Where a cold first call's time goes (issue 17, "time to first result").

    NBAD_CACHE=0 python benchmarks/first_call_profile.py [selu|mlp_step ...]

For each workload, in this (fresh) process: the first call of the jitted
function, split into nbad's own stages (tracing, its IR passes, fusion, the
driver's source) and Numba's, from Numba's compile events (numba.core.event):
type inference, lowering to LLVM IR, other Numba passes, and LLVM (time under
Numba's LLVM lock: optimisation and machine code), each attributed either to
nbad's kernels or to nbad's math library (backends/cpu/mathlib.py: functions that
compile the first time a kernel calls them). What is left is the run itself
and Python around it. Times are exclusive (nested compiles counted once).
"""
from __future__ import annotations

import os
import sys
import threading
import time
from collections import defaultdict

os.environ.setdefault("NBAD_CACHE", "0")
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [_HERE, os.path.dirname(_HERE)]

import numpy as np  # noqa: E402
from numba.core import event  # noqa: E402

import grad_workloads as gw  # noqa: E402
import nbad  # noqa: E402
import nbad.numpy as jnp  # noqa: E402
from nbad import api  # noqa: E402
from nbad.backends.cpu import driver  # noqa: E402
from nbad.compile import fusion, pipeline  # noqa: E402


def _selu():
    x = np.random.default_rng(0).standard_normal(10 ** 7)
    f = nbad.jit(lambda x: 1.0507 * jnp.where(x > 0, x, 1.67326 * jnp.exp(x) - 1.67326))
    return f, (x,)


def _mlp_step():
    params, x, t = gw._mlp_args(False, np.random.default_rng(0))
    return nbad.jit(lambda p, x, t: gw.mlp_step(jnp, nbad.value_and_grad, p, x, t)), (params, x, t)


WORKLOADS = {"selu": _selu, "mlp_step": _mlp_step}


class _Stages:
    """Wall time inside some of nbad's functions (wrapped for the run)."""

    def __init__(self):
        self.seconds = defaultdict(float)
        self._undo = []

    def wrap(self, owner, name, label):
        original = getattr(owner, name)

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - start

        setattr(owner, name, timed)
        self._undo.append((owner, name, original))

    def restore(self):
        for owner, name, original in reversed(self._undo):
            setattr(owner, name, original)


class _NumbaEvents(event.Listener):
    """Exclusive seconds per (kernels or mathlib, Numba stage), from nested
    events, per thread: a kernel split across nbad's threads compiles on the
    first thread to call it while the others wait on Numba's compiler lock
    (a compile event with no passes inside: counted apart, as waiting)."""

    def __init__(self):
        self.seconds = defaultdict(float)
        self.compiles = defaultdict(int)  # functions Numba compiled: kernels, mathlib
        self._stacks = defaultdict(list)  # thread -> [[kind, label, start, nested, owner, passes]]

    def on_start(self, ev):
        stack = self._stacks[threading.get_ident()]
        owner = stack[-1][4] if stack else "kernels"
        if ev.kind == "numba:compile":
            module = getattr(getattr(ev.data.get("dispatcher"), "py_func", None), "__module__", "") or ""
            if "mathlib" in module:
                owner = "mathlib"
        label = {"numba:llvm_lock": "LLVM (optimise, machine code)",
                 "numba:compile": "Numba, outside its passes"}.get(ev.kind)
        if ev.kind == "numba:run_pass":
            name = ev.data.get("name", "?")
            label = ("type inference" if "type_inference" in name
                     else "lowering to LLVM IR" if "lowering" in name else "other Numba passes")
            for frame in stack:
                frame[5] = True
        stack.append([ev.kind, label, time.perf_counter(), 0.0, owner, False])

    def on_end(self, ev):
        stack = self._stacks[threading.get_ident()]
        kind, label, start, nested, owner, passes = stack.pop()
        total = time.perf_counter() - start
        if kind == "numba:compile" and not passes:
            self.seconds[("waiting", "on another thread's compile")] += total
        else:
            self.seconds[(owner, label)] += total - nested
            if kind == "numba:compile":
                self.compiles[owner] += 1
        if stack:
            stack[-1][3] += total


def profile(name):
    fn, args = WORKLOADS[name]()
    stages = _Stages()
    stages.wrap(api.jit(lambda x: x).__class__, "_trace", "nbad: tracing")
    stages.wrap(fusion, "plan", "nbad: fusion plan")
    stages.wrap(pipeline, "prepare", "nbad: inline, DCE, reroll, simplify")
    stages.wrap(pipeline, "lower", "nbad: lowering (neutral and the CPU's)")
    stages.wrap(driver, "build_program", "nbad: driver and kernel source")
    listener = _NumbaEvents()
    kinds = ("numba:compile", "numba:run_pass", "numba:llvm_lock")
    for kind in kinds:
        event.register(kind, listener)
    try:
        start = time.perf_counter()
        out = fn(*args)
        np.asarray(out[0] if isinstance(out, tuple) else out)
        first = time.perf_counter() - start
    finally:
        for kind in kinds:
            event.unregister(kind, listener)
        stages.restore()
    start = time.perf_counter()
    fn(*args)
    steady = time.perf_counter() - start
    rows = sorted(stages.seconds.items(), key=lambda kv: -kv[1])
    rows += [(f"{owner}: {label}", s) for (owner, label), s in
             sorted(listener.seconds.items(), key=lambda kv: -kv[1])]
    waiting = listener.seconds.pop(("waiting", "on another thread's compile"), 0.0)
    rows = [r for r in rows if not r[0].startswith("waiting")]
    accounted = sum(s for _, s in rows)
    print(f"\n{name}: first call {first:.3f} s (a second call: {steady * 1e3:.1f} ms); Numba compiled "
          + ", ".join(f"{n} {owner} functions" for owner, n in sorted(listener.compiles.items())))
    for label, s in rows:
        print(f"  {label:<48} {s:7.3f} s  {100 * s / first:5.1f}%")
    print(f"  {'the rest: other nbad passes, the run, Python':<48} {first - accounted:7.3f} s  "
          f"{100 * (first - accounted) / first:5.1f}%")
    if waiting:
        print(f"  (threads waiting on another's compile meanwhile: {waiting:.3f} s, not in the above)")


if __name__ == "__main__":
    for name in sys.argv[1:] or list(WORKLOADS):
        profile(name)
