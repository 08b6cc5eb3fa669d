"""gather and scatter (rules/indexing.py) as device kernels.

gather(x, *indices, axes): out[pre, b, post] = x[pre, clamp(idx_0[b]), ...,
clamp(idx_k-1[b]), post], one thread per output element (grid-stride).

scatter_add / scatter(combine=set|min|max): the operand is copied into the
result, then one thread per update writes it at its target with an atomic add
(min, max), or a plain store for "set" (with duplicate targets, which update
wins is unspecified, as in JAX on GPUs); oob="clip" clamps the indices like
gather, oob="drop" skips updates outside the operand. combine="mul" has no
atomic: it raises NbadNotImplementedError.
"""
from __future__ import annotations

import hashlib

from nbad.backends.cpu.kernels import IndentedBuffer
from nbad.errors import NbadNotImplementedError

_ATOMICS = {"add": "cuda.atomic.add", "min": "cuda.atomic.min", "max": "cuda.atomic.max"}


def _named(source: str) -> tuple[str, str]:
    return f"cuda_{hashlib.sha256(source.encode()).hexdigest()[:16]}", source


def _unravel(buf: IndentedBuffer, rank: int):
    buf.line("r_ = t_")
    for d in reversed(range(rank)):
        buf.line(f"i{d} = r_ % n{d}")
        buf.line(f"r_ = r_ // n{d}")


def _targets(buf: IndentedBuffer, x_shape, axes, nb: int, clip: bool) -> str:
    """Emit the indexed positions q<m> of element (i0, ...); the operand index.
    Without clip, `ok` says whether the position is inside the operand."""
    a0, k = axes[0], len(axes)
    b_index = ", ".join(f"i{a0 + j}" for j in range(nb)) or "0"
    if not clip:
        buf.line("ok = True")
    for m in range(k):
        size = x_shape[a0 + m]
        buf.line(f"q{m} = idx{m}[{b_index}]")
        if clip:
            buf.line(f"q{m} = min(max(q{m}, 0), {max(size - 1, 0)})")
        else:
            buf.line(f"ok = ok and 0 <= q{m} < {size}")
    pre = [f"i{d}" for d in range(a0)]
    post = [f"i{a0 + nb + j}" for j in range(len(x_shape) - a0 - k)]
    return ", ".join(pre + [f"q{m}" for m in range(k)] + post) or "0"


def gather_source(eq) -> tuple[str, str]:
    x, *indices = eq.inputs
    axes = tuple(eq.params["axes"])
    out_rank = len(eq.outputs[0].aval.shape)
    nb = len(indices[0].aval.shape)
    buf = IndentedBuffer()
    args = [f"n{d}" for d in range(out_rank)] + ["x"] + [f"idx{m}" for m in range(len(indices))] + ["out"]
    buf.line(f"def kernel({', '.join(args)}):")
    with buf.indent():
        extent = " * ".join(f"n{d}" for d in range(out_rank)) or "1"
        buf.line(f"for t_ in range(cuda.grid(1), {extent}, cuda.gridsize(1)):")
        with buf.indent():
            _unravel(buf, out_rank)
            at = _targets(buf, x.aval.shape, axes, nb, clip=True)
            out_index = ", ".join(f"i{d}" for d in range(out_rank)) or "0"
            buf.line(f"out[{out_index}] = x[{at}]")
    return _named(buf.text())


def scatter_source(eq) -> tuple[str, str]:
    """The kernel writing the updates into the result (a copy of the operand)."""
    x, updates, *indices = eq.inputs
    axes, oob = tuple(eq.params["axes"]), eq.params["oob"]
    combine = eq.params.get("combine", "add")
    if combine == "mul" or x.aval.dtype.kind not in "iuf":
        raise NbadNotImplementedError(
            f"the CUDA backend cannot run {eq.primitive.name} with combine={combine!r} on "
            f"{x.aval.dtype.name} yet (no atomic for it); use the CPU backend")
    rank = len(updates.aval.shape)
    nb = len(indices[0].aval.shape)
    buf = IndentedBuffer()
    args = [f"n{d}" for d in range(rank)] + ["upd"] + [f"idx{m}" for m in range(len(indices))] + ["out"]
    buf.line(f"def kernel({', '.join(args)}):")
    with buf.indent():
        extent = " * ".join(f"n{d}" for d in range(rank)) or "1"
        buf.line(f"for t_ in range(cuda.grid(1), {extent}, cuda.gridsize(1)):")
        with buf.indent():
            _unravel(buf, rank)
            at = _targets(buf, x.aval.shape, axes, nb, clip=oob == "clip")
            value = f"upd[{', '.join(f'i{d}' for d in range(rank)) or '0'}]"
            write = (f"out[{at}] = {value}" if combine == "set"
                     else f"{_ATOMICS[combine]}(out, {at if len(x.aval.shape) == 1 else f'({at})'}, {value})")
            if oob == "clip":
                buf.line(write)
            else:
                buf.line("if ok:")
                with buf.indent():
                    buf.line(write)
    return _named(buf.text())
