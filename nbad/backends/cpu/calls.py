"""How the driver calls one fused kernel: its compiled dispatcher, the
arguments (sizes, constants, inputs reshaped to the kernel's collapsed layout,
outputs), and whether its outer loop is split across nbad's threads
(threads.py); a split reduction writes per-part partial results that are
combined afterwards. Native loops (loops.py) call kernels the same way.
"""
from __future__ import annotations

import numpy as np

from nbad.backends.cpu import recycle, threads
from nbad.backends.cpu.kernels import KernelSource, _prod, compiled_kernel
from nbad.compile.fusion import Kernel


# elements × body cost (cpu.py: ~1 per operation, 8 per math call) below which a
# loop runs on the calling thread alone. One unit is 0.02-0.2 ns of serial work,
# so this is ~0.1-1 ms: waking an idle core of a virtual machine takes ~0.3 ms
# (a queue ping-pong between two threads, measured), and a split loop that
# waits for one costs more than it saves (a 500 x 500 Hessian: 75 us serial,
# 170-450 us split with the threshold at 200_000).
PARALLEL_MIN_WORK = 5_000_000


def dtype_global(namespace, var) -> str:
    """The dtype as a driver global (cheaper than np.<attr> looked up on each call)."""
    name = f"_{var.aval.dtype.name}"
    namespace[name] = var.aval.dtype
    return name


_COMBINE_PARTIALS = {"sum": np.add.reduce, "prod": np.multiply.reduce, "max": np.maximum.reduce,
                     "min": np.minimum.reduce, "and": np.logical_and.reduce, "or": np.logical_or.reduce}


def _run_partial_results(kernel, n, args, out, combine, partials_dtype=None):
    """A reduction split across threads: each part writes its partial result (one
    value for a full reduction; a row for a reduction over the outer loop, such as
    column sums) into a slot of its own, and the slots are combined into `out`.
    (4096 x 1024, sum(tanh(x) * x, axis=0): 14.6 ms on one thread, 8.0 ms split.)"""
    partials = np.empty((threads.max_parts(),) + out.shape, partials_dtype or out.dtype)
    used = threads.run(kernel, n, args, per_part_args=lambda p: (partials[p],))
    combine(partials[:used], axis=0, out=out)


class KernelCall:
    """A kernel's compiled dispatcher, call arguments and how its loop is split."""

    def __init__(self, kernel: Kernel, names, namespace, pooled_ids, owned, num_threads, idx, buf):
        ks = KernelSource(kernel)
        self.ks, self.ck = ks, compiled_kernel(ks)
        self.work = work = _prod(list(kernel.shape)) * max(ks.cost, 1)  # elements x body cost
        self.extent = ks.split_extent
        self.parallel = (num_threads > 1 and self.extent is not None and self.extent > 1
                         and work >= PARALLEL_MIN_WORK)
        self.kname = f"_k{idx}"
        namespace[self.kname] = self.ck.dispatcher()
        args = [str(n) for n in ks.sizes]
        for j, (value, dtype) in enumerate(ks.constants):
            cname = f"_c{idx}_{j}"
            namespace[cname] = np.asarray(value, dtype)[()]  # a NumPy scalar: Numba types it exactly
            args.append(cname)
        self.input_refs = {}
        for inp in kernel.inputs:
            target, _ = ks.input_layout(inp)
            ref = names[inp.buffer.id]
            if target is not None and tuple(target) != inp.buffer.aval.shape:
                ref = f"{ref}.reshape({target!r})"
            self.input_refs[inp.buffer.id] = target
            args.append(ref)
        for var in ks.out_vars:
            name = f"b{var.id}"
            names[var.id] = name
            if var.id not in pooled_ids:
                if var.aval.size * var.aval.dtype.itemsize >= recycle.RECYCLE_MIN_BYTES:
                    rname = f"_recycle{var.id}"
                    budget = namespace.setdefault("_recycle_budget", recycle.ProgramBudget())
                    namespace[rname] = recycle.Recycler(var.aval.shape, var.aval.dtype, budget)
                    namespace.setdefault("_recycled", []).append((rname, name))
                    buf.line(f"{name} = {rname}.take()")
                else:
                    buf.line(f"{name} = _empty({var.aval.shape!r}, {dtype_global(namespace, var)})")
                owned.add(var.id)
            target = ks.output_target(var)
            args.append(name if tuple(target) == var.aval.shape else f"{name}.reshape({target!r})")
        self.args = args
        self.comment = f"  # {self.ck.name}"


def emit_kernel_call(buf, kernel: Kernel, names, namespace, pooled_ids, owned, num_threads, idx):
    call = KernelCall(kernel, names, namespace, pooled_ids, owned, num_threads, idx, buf)
    ks, kname, extent, call_args, comment = call.ks, call.kname, call.extent, call.args, call.comment
    if not call.parallel:
        buf.line(f"{kname}(0, {1 if extent is None else extent}, {', '.join(call_args)}){comment}")
    elif ks.partial_results:
        combine = f"_combine_{kernel.reduce_eq.primitive.reducer.name}"
        namespace[combine] = _COMBINE_PARTIALS[kernel.reduce_eq.primitive.reducer.name]
        namespace["_run_partial_results"] = _run_partial_results
        wide = ""
        if ks.partials_dtype is not None:
            wide = f", _{ks.partials_dtype.name}"
            namespace[wide[2:]] = ks.partials_dtype
        buf.line(f"_run_partial_results({kname}, {extent}, ({', '.join(call_args[:-1])},), "
                 f"{call_args[-1]}, {combine}{wide}){comment}, split across threads")
    else:
        namespace["_run"] = threads.run
        buf.line(f"_run({kname}, {extent}, ({', '.join(call_args)},)){comment}, split across threads")
    return call.ck
