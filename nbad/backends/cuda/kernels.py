"""CUDA kernels for the fused kernels of a Plan (nbad/compile/fusion.py).

The same plan and the same scalar expressions as the CPU backend
(backends/cpu/kernels.py: dimension collapse, input layouts, literals, the body of one
element, the row emitter's passes), emitted as `@cuda.jit` source:

* elementwise: a grid-stride loop over the flat iteration space, each index
  unravelled into the collapsed loop indices;
* reduce: one block per output element (grid-stride over blocks), its threads
  striding over the reduced elements, then a tree reduction in shared memory;
  a reduction of everything runs on many blocks, each writing a partial result,
  and a second one-block launch (`partials_source`) combines them;
* row (softmax-like: reductions over trailing axes with per-row epilogues): one
  block per row; each reduction is a strided pass plus a block reduction whose
  result every thread reads, and a last pass writes the full-shape outputs.

Threads per block (`tpb`) is a code-generation parameter: shared arrays are
sized by it. Kernels use no warp shuffles (the simulator lacks them).
"""
from __future__ import annotations

import hashlib
import re

import numpy as np

from nbad.backends.cpu.kernels import IndentedBuffer, KernelSource, RowEmitter
from nbad.compile.expr import ExprContext, needs_final_cast, typed_constant
from nbad.errors import NbadNotImplementedError

_DTYPE_NAMES = {np.dtype(t).name for t in (np.float32, np.float64, np.int8, np.int16, np.int32,
                                          np.int64, np.uint8, np.uint16, np.uint32, np.uint64)}
_NP_CALL = re.compile(r"\bnp\.(\w+)\(")
_DEVICE_CALL = re.compile(r"\b(_np_\w+|_m_\w+)\(")


def device_source(source: str) -> str:
    """CPU expression text made device text: `np.NAME(` (not a cast) -> `_np_NAME(`."""
    source = _NP_CALL.sub(lambda m: m.group(0) if m.group(1) in _DTYPE_NAMES
                          else f"_np_{m.group(1)}(", source)
    return source.replace("[()]", "[0]")  # 0-d buffers are held as one element


def check_supported(kernel):
    """NbadNotImplementedError naming the first primitive the device cannot run."""
    from nbad.backends.cuda import devmath

    available = devmath.device_names()
    for eq in kernel.equations:
        dtypes = [a.aval.dtype for a in eq.inputs] + [v.aval.dtype for v in eq.outputs]
        if any(d.kind == "c" or d.name == "float16" for d in dtypes):
            raise NbadNotImplementedError(
                f"the CUDA backend does not support {eq.primitive.name} on dtype "
                f"{next(d for d in dtypes if d.kind == 'c' or d.name == 'float16').name} yet "
                "(complex and float16 kernels are not generated); use the CPU backend")
        if eq is kernel.reduce_eq or eq in kernel.reduce_eqs:
            continue
        ctx = ExprContext([a.aval.dtype for a in eq.inputs], eq.outputs[0].aval.dtype, set())
        text = device_source(eq.primitive.codegen(ctx, *[f"a{j}" for j in range(len(eq.inputs))],
                                                  **eq.params))
        text += "".join(f" _m_{n}(" for n in ctx.math_names)
        for name in _DEVICE_CALL.findall(text):
            if name not in available:
                raise NbadNotImplementedError(
                    f"the CUDA backend cannot run primitive {eq.primitive.name} on "
                    f"{eq.inputs[0].aval.dtype.name} yet (no device function for {name[1:]})")


def _shared_type(dtype) -> str:
    return "_nb.boolean" if np.dtype(dtype).kind == "b" else f"_nb.{np.dtype(dtype).name}"


def _combine(reducer, dtype, acc: str, x: str) -> str:
    expr = reducer.combine.format(acc=acc, x=x)
    return f"np.{np.dtype(dtype).name}({expr})" if needs_final_cast(dtype) else expr


def _block_reduce(buf: IndentedBuffer, shared: str, acc: str, reducer, dtype, tpb: int):
    """All threads' `acc` combined; every thread reads the result back into `acc`."""
    buf.line(f"{shared}[tid] = {acc}")
    buf.line("cuda.syncthreads()")
    buf.line(f"s = {tpb // 2}")
    buf.line("while s > 0:")
    with buf.indent():
        buf.line("if tid < s:")
        with buf.indent():
            buf.line(f"{shared}[tid] = {_combine(reducer, dtype, f'{shared}[tid]', f'{shared}[tid + s]')}")
        buf.line("cuda.syncthreads()")
        buf.line("s //= 2")
    buf.line(f"{acc} = {shared}[0]")
    buf.line("cuda.syncthreads()")  # before the shared array is written again


class CudaKernelSource(KernelSource):
    """One fused kernel as CUDA source; `launch` says how the program runs it."""

    tpb = 128

    def __init__(self, kernel, tpb: int):
        self.tpb = tpb
        self._shared: list = []  # (name, dtype) of the shared arrays the kernel declares
        check_supported(kernel)
        super().__init__(kernel)
        self.source = device_source(self.source)
        digest = hashlib.sha256(self.source.encode()).hexdigest()[:16]
        self.name = f"cuda_{digest}"

    # the CPU emitter's reduction flavours (partial rows, wide sums) do not apply
    def _emit(self) -> str:
        k = self.kernel
        self.out_vars = list(k.outputs)
        self.full_reduction = (k.reduce_eq is not None and k.row_axes is None
                               and len(self.reduced_groups) == len(self.groups))
        self.partial_results = self.full_reduction
        names: dict = {}
        in_args = [f"in{j}" for j in range(len(k.inputs))]
        out_args = [f"out{j}" for j in range(len(k.outputs))]
        size_args = [f"n{j}" for j in range(len(self.groups))]
        body = IndentedBuffer()
        with body.indent():
            if k.row_axes is not None:
                CudaRowEmitter(self, body, in_args, out_args).emit()
            elif k.reduce_eq is None:
                self._emit_elementwise(body, names, in_args, out_args)
            else:
                self._emit_reduce(body, names, in_args, out_args)
        const_args = [f"c{j}" for j in range(len(self.constants))]
        extra = ["partials"] if self.full_reduction else []
        head = IndentedBuffer()
        head.line(f"def kernel({', '.join(size_args + const_args + in_args + out_args + extra)}):")
        with head.indent():
            head.line("tid = cuda.threadIdx.x")
            for name, dtype in self._shared:
                head.line(f"{name} = cuda.shared.array({self.tpb}, {_shared_type(dtype)})")
        return head.text() + body.text()

    def _unravel(self, buf: IndentedBuffer, flat: str, groups: list):
        """Loop indices i<g> of `groups` (outermost first) from a flat index."""
        if not groups:
            return
        if len(groups) == 1:
            buf.line(f"i{groups[0]} = {flat}")
            return
        buf.line(f"r_ = {flat}")
        for g in reversed(groups[1:]):
            buf.line(f"i{g} = r_ % n{g}")
            buf.line(f"r_ = r_ // n{g}")
        buf.line(f"i{groups[0]} = r_")

    def _extent(self, groups) -> str:
        return " * ".join(f"n{g}" for g in groups) or "1"

    def _emit_elementwise(self, buf, names, in_args, out_args):
        groups = list(range(len(self.groups)))
        buf.line(f"for t_ in range(cuda.grid(1), {self._extent(groups)}, cuda.gridsize(1)):")
        with buf.indent():
            self._unravel(buf, "t_", groups)
            if not groups:
                buf.line("i0 = 0")
            self._body(buf, names, in_args, out_args)

    def shared(self, dtype) -> str:
        name = f"sh{len(self._shared)}"
        self._shared.append((name, np.dtype(dtype)))
        return name

    def _emit_reduce(self, buf, names, in_args, out_args):
        k = self.kernel
        eq = k.reduce_eq
        reducer, dtype = eq.primitive.reducer, eq.outputs[0].aval.dtype
        identity = typed_constant(reducer.identity(dtype), dtype)
        red_out = out_args[k.outputs.index(eq.outputs[0])]
        kept = [g for g in range(len(self.groups)) if g not in self.reduced_groups]
        sh = self.shared(dtype)

        def strided_pass(start: str, step: str):
            buf.line(f"acc = {identity}")
            buf.line(f"for r in range({start}, {self._extent(self.reduced_groups)}, {step}):")
            with buf.indent():
                self._unravel(buf, "r", self.reduced_groups)
                self._body(buf, names, in_args, out_args)
                buf.line(f"acc = {_combine(reducer, dtype, 'acc', names[eq.inputs[0].id])}")
            _block_reduce(buf, sh, "acc", reducer, dtype, self.tpb)

        if self.full_reduction:  # many blocks, one partial result each
            strided_pass(f"cuda.blockIdx.x * {self.tpb} + tid", f"cuda.gridDim.x * {self.tpb}")
            buf.line("if tid == 0:")
            with buf.indent():
                buf.line("partials[cuda.blockIdx.x] = acc")
            return
        kept_index = ", ".join(f"i{g}" for g in kept)
        buf.line(f"for o_ in range(cuda.blockIdx.x, {self._extent(kept)}, cuda.gridDim.x):")
        with buf.indent():
            self._unravel(buf, "o_", kept)
            strided_pass("tid", str(self.tpb))
            buf.line("if tid == 0:")
            with buf.indent():
                buf.line(f"{red_out}[{kept_index}] = acc")

    def input_layout(self, inp):
        target, index = super().input_layout(inp)
        if not self.groups and target is not None:
            return (1,), "0"  # a kernel over one element runs one loop of size 1
        return target, index

    def output_target(self, var) -> tuple:
        k = self.kernel
        per_row = k.row_axes is not None and var.aval.shape != k.shape
        if k.reduce_eq is not None and var in k.reduce_eq.outputs or per_row:
            kept = tuple(self.sizes[g] for g in range(len(self.groups)) if g not in self.reduced_groups)
            return kept or (1,)
        return tuple(self.sizes) or (1,)

    def partials_kernel(self) -> tuple[str, str] | None:
        """(name, source) of the one-block kernel combining a full reduction's partials."""
        if not self.full_reduction:
            return None
        eq = self.kernel.reduce_eq
        return partials_source(eq.primitive.reducer, eq.outputs[0].aval.dtype, self.tpb)


def partials_source(reducer, dtype, tpb: int) -> tuple[str, str]:
    identity = typed_constant(reducer.identity(dtype), dtype)
    buf = IndentedBuffer()
    buf.line("def kernel(n, partials, out):")
    with buf.indent():
        buf.line("tid = cuda.threadIdx.x")
        buf.line(f"sh0 = cuda.shared.array({tpb}, {_shared_type(dtype)})")
        buf.line(f"acc = {identity}")
        buf.line(f"for r in range(tid, n, {tpb}):")
        with buf.indent():
            buf.line(f"acc = {_combine(reducer, dtype, 'acc', 'partials[r]')}")
        _block_reduce(buf, "sh0", "acc", reducer, dtype, tpb)
        buf.line("if tid == 0:")
        with buf.indent():
            buf.line("out[0] = acc")
    source = device_source(buf.text())
    return f"cuda_{hashlib.sha256(source.encode()).hexdigest()[:16]}", source


class CudaRowEmitter(RowEmitter):
    """The CPU row emitter's passes (per-row values, closures of full-shape
    equations), with one block per row: each pass strides the row over the
    block's threads, and each reduction ends with a block reduction."""

    def emit(self):
        ks, buf = self.ks, self.buf
        buf.line(f"for o_ in range(cuda.blockIdx.x, {ks._extent(self.kept)}, cuda.gridDim.x):")
        with buf.indent():
            ks._unravel(buf, "o_", self.kept)
            self.emit_row()

    def _row_pass(self, body):
        ks, buf = self.ks, self.buf
        buf.line(f"for r in range(tid, {ks._extent(ks.reduced_groups)}, {ks.tpb}):")
        with buf.indent():
            ks._unravel(buf, "r", ks.reduced_groups)
            body()

    def emit_row(self):
        buf, ks, k = self.buf, self.ks, self.k
        kept_index = ", ".join(f"i{g}" for g in self.kept) or "0"
        full_index = ", ".join(f"i{g}" for g in range(len(ks.groups))) or "0"
        for r in k.reduce_eqs:
            operand = r.inputs[0]
            eqs = self.full_closure([operand.id])
            self.per_row_inputs(eqs)
            reducer, dtype = r.primitive.reducer, r.outputs[0].aval.dtype
            acc = self.fresh("acc")
            buf.line(f"{acc} = {typed_constant(reducer.identity(dtype), dtype)}")

            def reduce_pass(eqs=eqs, acc=acc, operand=operand, reducer=reducer, dtype=dtype):
                local: dict = {}
                self.pass_body(eqs, local)
                vid = self.resolve(operand.id)
                if vid in self.input_index and self.is_full(vid) and vid not in local:
                    self._load_full(vid, local)
                buf.line(f"{acc} = {_combine(reducer, dtype, acc, self.operand(operand, local))}")

            self._row_pass(reduce_pass)
            _block_reduce(buf, ks.shared(dtype), acc, reducer, dtype, ks.tpb)
            self.row_names[r.outputs[0].id] = acc
        full_outputs = [(j, v) for j, v in enumerate(k.outputs) if v.aval.shape == k.shape]
        if full_outputs:
            eqs = self.full_closure([v.id for _, v in full_outputs])
            self.per_row_inputs(eqs)

            def write_pass():
                local: dict = {}
                self.pass_body(eqs, local)
                for j, v in full_outputs:
                    buf.line(f"{self.out_args[j]}[{full_index}] = {local[v.id]}")

            self._row_pass(write_pass)
        row_outputs = [(j, self.row_value(v.id)) for j, v in enumerate(k.outputs)
                       if v.aval.shape != k.shape]
        if row_outputs:
            buf.line("if tid == 0:")
            with buf.indent():
                for j, name in row_outputs:
                    buf.line(f"{self.out_args[j]}[{kept_index}] = {name}")
