"""dot_general on the device: a tiled shared-memory matrix product.

Any dot_general is a batched product (B, M, K) x (B, K, N) -> (B, M, N) over
the operands' batch, free and contracted dims; the kernel reads each operand
in place, its index computed from (b, m, k) by unravelling over those dims
(so transposed operands cost no copy). Each block computes a T x T tile of
one batch's result, staging T x T tiles of both operands in shared memory.
cuBLAS is not used: no cuBLAS binding (nvmath-python, CuPy) is installed here.
"""
from __future__ import annotations

import hashlib
import math

from nbad.backends.cpu.kernels import IndentedBuffer
from nbad.compile.expr import typed_constant
from nbad.errors import NbadNotImplementedError


def _free(ndim, contract, batch):
    return [d for d in range(ndim) if d not in contract and d not in batch]


def _unravel(var: str, dims: list, shape) -> dict:
    """dim -> index expression of a flat index `var` over `dims` (outermost first)."""
    out, stride = {}, 1
    for j, d in enumerate(reversed(dims)):
        q = var if stride == 1 else f"({var} // {stride})"
        out[d] = q if j == len(dims) - 1 else f"{q} % {shape[d]}"
        stride *= shape[d]
    return out


def product_shape(eq):
    """(B, M, N, K) of a dot_general."""
    (lc, rc), (lb, rb) = eq.params["dimension_numbers"]
    lhs, rhs = (a.aval.shape for a in eq.inputs)
    size = lambda shape, dims: math.prod(shape[d] for d in dims)
    return (size(lhs, lb), size(lhs, _free(len(lhs), lc, lb)), size(rhs, _free(len(rhs), rc, rb)),
            size(lhs, lc))


def matmul_source(eq, tile: int) -> tuple[str, str]:
    """(name, source) of the tiled kernel for one dot_general's dims and dtypes."""
    (lc, rc), (lb, rb) = eq.params["dimension_numbers"]
    lhs, rhs = eq.inputs
    out = eq.outputs[0].aval
    if any(v.aval.dtype.kind not in "biuf" for v in (lhs, rhs)) or out.dtype.kind not in "iuf":
        raise NbadNotImplementedError(
            f"the CUDA backend's dot_general supports real dtypes only, got "
            f"{lhs.aval.dtype.name} x {rhs.aval.dtype.name}; use the CPU backend")
    ls, rs = lhs.aval.shape, rhs.aval.shape
    lidx = {**_unravel("b", list(lb), ls), **_unravel("row", _free(len(ls), lc, lb), ls),
            **_unravel("ka", list(lc), ls)}
    ridx = {**_unravel("b", list(rb), rs), **_unravel("col", _free(len(rs), rc, rb), rs),
            **_unravel("kb", list(rc), rs)}
    a_at = f"a[{', '.join(lidx[d] for d in range(len(ls))) or '0'}]"
    b_at = f"bm[{', '.join(ridx[d] for d in range(len(rs))) or '0'}]"
    dt = out.dtype.name
    cast = (lambda x: f"np.{dt}({x})")
    zero = typed_constant(0, out.dtype)
    t = tile
    buf = IndentedBuffer()
    buf.line("def kernel(B, M, N, K, a, bm, out):")
    with buf.indent():
        buf.line(f"sa = cuda.shared.array(({t}, {t}), _nb.{dt})")
        buf.line(f"sb = cuda.shared.array(({t}, {t}), _nb.{dt})")
        buf.line("tx = cuda.threadIdx.x")
        buf.line("ty = cuda.threadIdx.y")
        buf.line(f"row = cuda.blockIdx.y * {t} + ty")
        buf.line(f"col = cuda.blockIdx.x * {t} + tx")
        buf.line("for b in range(cuda.blockIdx.z, B, cuda.gridDim.z):")
        with buf.indent():
            buf.line(f"acc = {zero}")
            buf.line(f"for k0 in range(0, K, {t}):")
            with buf.indent():
                buf.line("ka = k0 + tx")
                buf.line("kb = k0 + ty")
                buf.line(f"sa[ty, tx] = {cast(a_at)} if row < M and ka < K else {zero}")
                buf.line(f"sb[ty, tx] = {cast(b_at)} if kb < K and col < N else {zero}")
                buf.line("cuda.syncthreads()")
                buf.line(f"for kk in range({t}):")
                with buf.indent():
                    buf.line(f"acc = {cast('acc + sa[ty, kk] * sb[kk, tx]')}")
                buf.line("cuda.syncthreads()")
            buf.line("if row < M and col < N:")
            with buf.indent():
                buf.line("out[b, row, col] = acc")
    source = buf.text()
    return f"cuda_{hashlib.sha256(source.encode()).hexdigest()[:16]}", source


def grid(eq, tile: int):
    b, m, n, _ = product_shape(eq)
    return (max(1, -(-n // tile)), max(1, -(-m // tile)), max(1, min(b, 65535))), (tile, tile)

