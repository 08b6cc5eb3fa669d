"""The driver's matrix-product policy: which products are plain np.dot calls
on (transposed) views, which are split across nbad's threads by blocks of
rows or of the contraction, and the split product whose next kernel runs on
each block of rows while it is in cache (an epilogue).
"""
from __future__ import annotations

import numpy as np

from nbad.backends.cpu import calls, threads
from nbad.backends.cpu.kernels import KernelSource, _prod
from nbad.compile.fusion import Kernel, step_outputs
from nbad.core.ir import Var
from nbad.rules.linalg import _as_cols, _as_rows


def epilogue_of(steps, i):
    """The index of the first kernel reading library step i's result, if every
    other input of that kernel is already computed when step i runs."""
    result = steps[i].equation.outputs[0].id
    later = set()
    for j in range(i + 1, len(steps)):
        step = steps[j]
        if isinstance(step, Kernel) and any(inp.buffer.id == result for inp in step.inputs):
            if any(inp.buffer.id in later for inp in step.inputs):
                return None
            return j
        later.update(v.id for v in step_outputs(step))
    return None


def emit_matmul_with_epilogue(buf, lib_step, kernel: Kernel, names, namespace, pooled_ids, owned,
                               num_threads, idx, step_no):
    """A split matrix product whose next step is an elementwise kernel over its
    rows: each thread runs the kernel on the rows it has just multiplied, while
    they are in cache (XLA fuses such epilogues into the dot the same way).
    Returns the kernel, or None (nothing emitted) if the pair does not fit."""
    eq = lib_step.equation
    split = split_matmul_operands(eq, num_threads)
    if split is None or split[2] or kernel.kind != "elementwise":
        return None  # (the epilogue runs by row blocks; a split contraction has none)
    out = eq.outputs[0]
    m, n = out.aval.shape
    if not any(inp.buffer.id == out.id for inp in kernel.inputs):
        return None
    probe = KernelSource(kernel)
    if probe.partial_results or probe.split_extent not in (m, m * n):
        return None
    layout, _ = probe.input_layout(next(i for i in kernel.inputs if i.buffer.id == out.id))
    if layout is None or layout[0] != probe.split_extent:
        return None  # the kernel does not read the product row by row
    rows = f"b{out.id}"
    names[out.id] = rows
    if out.id not in pooled_ids:
        buf.line(f"{rows} = _empty({out.aval.shape!r}, {calls.dtype_global(namespace, out)})")
        owned.add(out.id)
    call = calls.KernelCall(kernel, names, namespace, pooled_ids, owned, num_threads, idx, buf)
    fname = f"_matmul{step_no}"
    namespace[fname] = _matmul_then(split[0], split[1], call.extent // m)
    a, b = (names[v.id] for v in eq.inputs)
    buf.line(f"{fname}({a}, {b}, {rows}, {call.kname}, ({', '.join(call.args)},))"
             f"{call.comment}, after each part of {eq.primitive.name}")
    return call.ck


# Below this a BLAS call (~0.1 ms at 35 GFLOP/s a core) is too short to share. (An
# MLP training step, interleaved with JAX's: 0.95-0.99 of JAX's speed with this
# threshold, 0.90-0.94 at 16 MFLOP, 0.83-0.87 at 64 MFLOP.)
SPLIT_MATMUL_MIN_FLOPS = 4_000_000


def matrix_product_operands(eq):
    """For a 2-D matrix product (any transposition): how to view the operands as
    A @ B; else None."""
    if eq.primitive.name != "dot_general" or len(eq.inputs) != 2:
        return None
    (lc, rc), (lb, rb) = eq.params["dimension_numbers"]
    lhs, rhs = eq.inputs
    if lb or rb or lhs.aval.ndim != 2 or rhs.aval.ndim != 2 or len(lc) != 1:
        return None
    return lc[0] == 0, rc[0] == 1  # (transpose lhs, transpose rhs)


# Row blocks of a split product per thread: each block is one BLAS call that packs
# the whole right operand again, so fewer blocks than a kernel's chunks (an MLP's
# 1024 x 64 x 256 product: 0.55 ms in 2 blocks a thread, 0.63 ms in 4), but more
# than one, so that the caller takes a late worker's block.
MATMUL_PARTS_PER_THREAD = 2


def split_matmul(transpose_a, transpose_b, over_k, out_dtype):
    """A @ B shared among nbad's threads: NumPy's BLAS call releases the GIL, so
    this uses every core, BLAS running on one thread in each part (the program
    sets it: backends/cpu/blas.py). By blocks of rows of the result, or, when the contraction is much
    longer than the result has rows (a weight gradient: x^T g over a batch), by
    blocks of the contraction into partial results that are then added: row
    blocks would each re-read the long operands (an MLP's 256 x 256 weight
    gradient over a batch of 1024: 2.1-2.7 ms by rows, 1.7 ms by the contraction,
    3.2 ms on one thread)."""
    partials: list = []  # one set of partial-result buffers per concurrent call

    def matmul(lhs, rhs, out=None):
        a = lhs.T if transpose_a else lhs
        b = rhs.T if transpose_b else rhs
        if out is None:
            out = np.empty((a.shape[0], b.shape[1]), out_dtype)
        if not over_k:
            threads.run(lambda lo, hi: np.dot(a[lo:hi], b, out=out[lo:hi]), a.shape[0], (),
                        parts=threads.num_threads() * MATMUL_PARTS_PER_THREAD)
            return out
        n = threads.num_threads()
        part = partials.pop() if partials else None
        if part is None or part.shape != (n,) + out.shape:
            part = np.empty((n,) + out.shape, out_dtype)
        bounds = threads.split(a.shape[1], n)

        def block(lo, hi):
            for p in range(lo, hi):
                k0, k1 = bounds[p]
                np.dot(a[:, k0:k1], b[k0:k1], out=part[p])

        threads.run(block, n, (), parts=n)
        np.add.reduce(part, axis=0, out=out)
        partials.append(part)
        return out

    return matmul


def _matmul_then(transpose_a, transpose_b, per_row):
    """out = A @ B by row blocks across threads, each block followed by
    kernel(lo*per_row, hi*per_row, *kernel_args) on the same rows."""

    def run(lhs, rhs, out, kernel, kernel_args):
        a = lhs.T if transpose_a else lhs
        b = rhs.T if transpose_b else rhs

        def part(lo, hi):
            np.dot(a[lo:hi], b, out=out[lo:hi])
            kernel(lo * per_row, hi * per_row, *kernel_args)

        threads.run(part, a.shape[0], (), parts=threads.num_threads() * MATMUL_PARTS_PER_THREAD)

    return run


def flops(eq) -> int:
    """Floating-point operations of a dot_general: 2 per multiply-add."""
    (lc, _), _ = eq.params["dimension_numbers"]
    return 2 * eq.outputs[0].aval.size * _prod([eq.inputs[0].aval.shape[d] for d in lc])


def split_matmul_operands(eq, num_threads):
    """(transpose A, transpose B, split the contraction) if eq is a matrix product
    worth splitting."""
    operands = matrix_product_operands(eq)
    if operands is not None and num_threads > 1 and eq.outputs[0].aval.dtype.kind in "fc":
        if flops(eq) < SPLIT_MATMUL_MIN_FLOPS:
            return None
        m = eq.outputs[0].aval.shape[0]
        k = eq.inputs[0].aval.size // m  # the contraction's length
        if k >= 2 * m and k >= 64 * num_threads:
            return operands + (True,)
        if m >= 2 * num_threads:
            return operands + (False,)
    return None


def plain_dot(eq):
    """np.dot on (transposed) views for a vector/matrix product whose operand
    and result dtypes agree: what dot_general's impl would do, without its
    checks and dispatch on every call (~1.5 us, felt by small programs)."""
    if eq.primitive.name != "dot_general":
        return None
    (lc, rc), (lb, rb) = eq.params["dimension_numbers"]
    lhs, rhs = eq.inputs
    out = eq.outputs[0].aval
    if (lb or len(lc) != 1 or not isinstance(lhs, Var) or not isinstance(rhs, Var)
            or not 1 <= lhs.aval.ndim <= 2 or not 1 <= rhs.aval.ndim <= 2
            or not lhs.aval.dtype == rhs.aval.dtype == out.dtype or out.dtype.kind not in "fc"):
        return None
    return lambda a, b, out=None: np.dot(_as_rows(a, lc[0]), _as_cols(b, rc[0]), out=out)


def writes_into_buffer(eq) -> bool:
    """Whether the driver runs this library step as np.dot(..., out=buffer)."""
    return plain_dot(eq) is not None and eq.outputs[0].aval.ndim >= 1
