"""View steps on the device: reshapes are free (buffers are C-contiguous);
transpose, broadcast, slice and rev are copy kernels, each element reading the
input at an index computed from its own (index arithmetic, generated per
primitive and rank)."""
from __future__ import annotations

import hashlib

from nbad.codegen.cpu import IndentedBuffer
from nbad.errors import NbadNotImplementedError
from nbad.rules.shape import RESHAPE_LIKE


def is_reshape(eq) -> bool:
    return eq.primitive in RESHAPE_LIKE


def _input_index(eq) -> list[str]:
    """The input's index expressions, in terms of the output indices i0, i1, ..."""
    name, params = eq.primitive.name, eq.params
    in_shape = eq.inputs[0].aval.shape
    if name == "transpose":
        perm = params["permutation"]
        index = [None] * len(in_shape)
        for d, p in enumerate(perm):
            index[p] = f"i{d}"
        return index
    if name == "broadcast_in_dim":
        return [f"i{d}" if in_shape[j] != 1 else "0"
                for j, d in enumerate(params["broadcast_dimensions"])]
    if name == "slice":
        strides = params["strides"] or (1,) * len(in_shape)
        return [f"{s} + i{d} * {st}" for d, (s, st) in enumerate(zip(params["start_indices"], strides))]
    if name == "rev":
        dims = set(params["dimensions"])
        return [f"{in_shape[d] - 1} - i{d}" if d in dims else f"i{d}" for d in range(len(in_shape))]
    raise NbadNotImplementedError(
        f"the CUDA backend cannot run the view primitive {name} yet; use the CPU backend")


def copy_source(eq) -> tuple[str, str]:
    """(name, source) of the kernel out[i...] = in[f(i...)] for one view equation."""
    out_shape = eq.outputs[0].aval.shape
    rank = len(out_shape)
    index = _input_index(eq)
    buf = IndentedBuffer()
    buf.line(f"def kernel({', '.join([f'n{d}' for d in range(rank)] + ['x', 'out'])}):")
    with buf.indent():
        extent = " * ".join(f"n{d}" for d in range(rank)) or "1"
        buf.line(f"for t_ in range(cuda.grid(1), {extent}, cuda.gridsize(1)):")
        with buf.indent():
            buf.line("r_ = t_")
            for d in reversed(range(rank)):
                buf.line(f"i{d} = r_ % n{d}")
                buf.line("r_ = r_ // n" + str(d))
            out_index = ", ".join(f"i{d}" for d in range(rank)) or "0"
            buf.line(f"out[{out_index}] = x[{', '.join(index) or '0'}]")
    source = buf.text()
    return f"cuda_{hashlib.sha256(source.encode()).hexdigest()[:16]}", source
