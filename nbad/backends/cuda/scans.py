"""argmax/argmin and the cumulative scans (rules/reduce.py) as device kernels.

argmax/argmin: one block per output element (grid-stride over blocks), its
threads striding along the axis with a (value, index) pair each, then a tree
reduction of the pairs in shared memory. As NumPy: the first extreme wins, and
a NaN is the extreme (the first NaN's index).

cumsum/cumprod/cummax/cummin: one thread per line along the axis, a serial
loop (parallel across lines only); cummax/cummin propagate NaN like
np.maximum/np.minimum.
"""
from __future__ import annotations

import hashlib

import numpy as np

from nbad.backends.cpu.kernels import IndentedBuffer
from nbad.compile.expr import needs_final_cast
from nbad.errors import NbadNotImplementedError


def _named(source: str) -> tuple[str, str]:
    return f"cuda_{hashlib.sha256(source.encode()).hexdigest()[:16]}", source


def _unravel_kept(buf: IndentedBuffer, flat: str, kept: list, sizes):
    """Indices i<d> of the dims `kept` (outermost first) from a flat index."""
    buf.line(f"r_ = {flat}")
    for d in reversed(kept):
        buf.line(f"i{d} = r_ % {sizes[d]}")
        buf.line(f"r_ = r_ // {sizes[d]}")


def _better(name: str, v: str, i: str, bv: str, bi: str) -> str:
    """Does candidate (v, i) beat (bv, bi)? NaN first, then the extreme, then the lower index."""
    op = ">" if name == "argmax" else "<"
    return (f"(({v} != {v}) and ({bv} == {bv} or {i} < {bi})) or ({bv} == {bv} and "
            f"({v} {op} {bv} or ({v} == {bv} and {i} < {bi})))")


def arg_reduction_source(eq, tpb: int) -> tuple[str, str]:
    x = eq.inputs[0]
    if x.aval.dtype.kind not in "iuf":
        raise NbadNotImplementedError(f"the CUDA backend's {eq.primitive.name} takes real numbers, "
                                      f"got {x.aval.dtype.name}; use the CPU backend")
    shape, axis = x.aval.shape, eq.params["axes"][0]
    kept = [d for d in range(len(shape)) if d != axis]
    n_out = int(np.prod([shape[d] for d in kept], dtype=np.int64))
    vt, it = f"_nb.{x.aval.dtype.name}", f"np.{np.dtype(eq.params['index_dtype']).name}"
    at = ", ".join(f"i{d}" if d != axis else "r" for d in range(len(shape)))
    out_at = ", ".join(f"i{d}" for d in kept) or "0"
    name = eq.primitive.name
    buf = IndentedBuffer()
    buf.line("def kernel(x, out):")
    with buf.indent():
        buf.line("tid = cuda.threadIdx.x")
        buf.line(f"shv = cuda.shared.array({tpb}, {vt})")
        buf.line(f"shi = cuda.shared.array({tpb}, _nb.int64)")
        buf.line(f"for o_ in range(cuda.blockIdx.x, {n_out}, cuda.gridDim.x):")
        with buf.indent():
            _unravel_kept(buf, "o_", kept, shape)
            buf.line(f"bi = tid if tid < {shape[axis]} else 0")
            buf.line("r = bi")
            buf.line(f"bv = x[{at}]")
            buf.line(f"for r in range(tid + {tpb}, {shape[axis]}, {tpb}):")
            with buf.indent():
                buf.line(f"v = x[{at}]")
                buf.line(f"if {_better(name, 'v', 'r', 'bv', 'bi')}:")
                with buf.indent():
                    buf.line("bv = v")
                    buf.line("bi = r")
            buf.line("shv[tid] = bv")
            buf.line("shi[tid] = bi")
            buf.line("cuda.syncthreads()")
            buf.line(f"s = {tpb // 2}")
            buf.line("while s > 0:")
            with buf.indent():
                buf.line("if tid < s:")
                with buf.indent():
                    buf.line(f"if {_better(name, 'shv[tid + s]', 'shi[tid + s]', 'shv[tid]', 'shi[tid]')}:")
                    with buf.indent():
                        buf.line("shv[tid] = shv[tid + s]")
                        buf.line("shi[tid] = shi[tid + s]")
                buf.line("cuda.syncthreads()")
                buf.line("s //= 2")
            buf.line("if tid == 0:")
            with buf.indent():
                buf.line(f"out[{out_at}] = {it}(shi[0])")
            buf.line("cuda.syncthreads()")
    return _named(buf.text())


_COMBINE = {"cumsum": "({acc} + {x})", "cumprod": "({acc} * {x})",
            "cummax": "({acc} if ({acc} != {acc} or {acc} >= {x}) else {x})",
            "cummin": "({acc} if ({acc} != {acc} or {acc} <= {x}) else {x})"}


def cumulative_source(eq) -> tuple[str, str]:
    x = eq.inputs[0]
    dtype = x.aval.dtype
    if dtype.kind not in "iufb" or (dtype.kind == "b" and eq.primitive.name in ("cumsum", "cumprod")):
        raise NbadNotImplementedError(f"the CUDA backend's {eq.primitive.name} does not take "
                                      f"{dtype.name}; use the CPU backend")
    shape, axis, reverse = x.aval.shape, eq.params["axis"], eq.params["reverse"]
    kept = [d for d in range(len(shape)) if d != axis]
    lines_ = int(np.prod([shape[d] for d in kept], dtype=np.int64))
    n = shape[axis]
    at = ", ".join(f"i{d}" if d != axis else "j" for d in range(len(shape)))
    combine = _COMBINE[eq.primitive.name].format(acc="acc", x="v")
    if needs_final_cast(dtype) and dtype.kind != "b":
        combine = f"np.{dtype.name}({combine})"
    buf = IndentedBuffer()
    buf.line("def kernel(x, out):")
    with buf.indent():
        buf.line(f"for o_ in range(cuda.grid(1), {lines_}, cuda.gridsize(1)):")
        with buf.indent():
            _unravel_kept(buf, "o_", kept, shape)
            order = f"range({n} - 1, -1, -1)" if reverse else f"range({n})"
            buf.line(f"first = {n - 1 if reverse else 0}")
            buf.line("j = first")
            buf.line(f"acc = x[{at}]")
            buf.line(f"for j in {order}:")
            with buf.indent():
                buf.line(f"v = x[{at}]")
                buf.line(f"acc = v if j == first else {combine}")
                buf.line(f"out[{at}] = acc")
    return _named(buf.text())
