"""View steps on the device: reshapes are free (buffers are C-contiguous);
transpose, broadcast, slice and rev are copy kernels, each element reading the
input at an index computed from its own (index arithmetic, generated per
primitive and rank); dynamic_slice reads its start indices from the device and
clamps them in the kernel. concatenate, pad and dynamic_update_slice are copy
kernels of the same kind."""
from __future__ import annotations

import hashlib

from nbad.backends.cpu.kernels import IndentedBuffer
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


def _element_loop(buf: IndentedBuffer, args: list, shape) -> str:
    """A grid-stride loop over `shape`'s elements, indices i0, ...; the output index."""
    rank = len(shape)
    buf.line(f"def kernel({', '.join([f'n{d}' for d in range(rank)] + args)}):")
    buf._level += 1
    extent = " * ".join(f"n{d}" for d in range(rank)) or "1"
    buf.line(f"for t_ in range(cuda.grid(1), {extent}, cuda.gridsize(1)):")
    buf._level += 1
    buf.line("r_ = t_")
    for d in reversed(range(rank)):
        buf.line(f"i{d} = r_ % n{d}")
        buf.line(f"r_ = r_ // n{d}")
    return ", ".join(f"i{d}" for d in range(rank)) or "0"


def concatenate_source(eq) -> tuple[str, str]:
    """out[..., i, ...] = x_j[..., i - offset_j, ...] for the operand j holding i."""
    dim = eq.params["dimension"]
    shape = eq.outputs[0].aval.shape
    xs = [f"x{j}" for j in range(len(eq.inputs))]
    buf = IndentedBuffer()
    out_index = _element_loop(buf, xs + ["out"], shape)
    offset = 0
    for j, x in enumerate(eq.inputs):
        n = x.aval.shape[dim]
        index = ", ".join(f"i{d} - {offset}" if d == dim else f"i{d}" for d in range(len(shape)))
        keyword = "if" if j == 0 else "elif"
        buf.line(f"{keyword} i{dim} < {offset + n}:" if j < len(eq.inputs) - 1 else "else:")
        buf._level += 1
        buf.line(f"out[{out_index}] = x{j}[{index}]")
        buf._level -= 1
        offset += n
    source = buf.text()
    return f"cuda_{hashlib.sha256(source.encode()).hexdigest()[:16]}", source


def pad_source(eq) -> tuple[str, str]:
    """out[i] = x[(i - lo) / (interior + 1)] where that is an element of x, else the
    padding value (negative lo/hi crop)."""
    x = eq.inputs[0]
    shape = eq.outputs[0].aval.shape
    buf = IndentedBuffer()
    out_index = _element_loop(buf, ["x", "value", "out"], shape)
    inside, index = [], []
    for d, (n, (lo, _, interior)) in enumerate(zip(x.aval.shape, eq.params["padding_config"])):
        step = interior + 1
        buf.line(f"p{d} = i{d} - {lo}")
        inside.append(f"p{d} >= 0 and p{d} % {step} == 0 and p{d} // {step} < {n}" if step > 1
                      else f"0 <= p{d} < {n}")
        index.append(f"p{d} // {step}" if step > 1 else f"p{d}")
    condition = " and ".join(inside) or "True"
    buf.line(f"out[{out_index}] = x[{', '.join(index) or '0'}] if {condition} else value[0]")
    source = buf.text()
    return f"cuda_{hashlib.sha256(source.encode()).hexdigest()[:16]}", source


def _window_starts(buf: IndentedBuffer, operand_shape, window_shape):
    """o<d>: the start indices (operands s<d>, one element each) clamped so that the
    window lies inside the operand, as lax.dynamic_slice does."""
    for d, (n, k) in enumerate(zip(operand_shape, window_shape)):
        buf.line(f"o{d} = min(max(s{d}[0], 0), {n - k})")


def dynamic_slice_source(eq) -> tuple[str, str]:
    x = eq.inputs[0]
    shape = eq.outputs[0].aval.shape
    starts = [f"s{d}" for d in range(len(shape))]
    buf = IndentedBuffer()
    out_index = _element_loop(buf, ["x"] + starts + ["out"], shape)
    _window_starts(buf, x.aval.shape, shape)
    at = ", ".join(f"o{d} + i{d}" for d in range(len(shape))) or "0"
    buf.line(f"out[{out_index}] = x[{at}]")
    source = buf.text()
    return f"cuda_{hashlib.sha256(source.encode()).hexdigest()[:16]}", source


def dynamic_update_source(eq) -> tuple[str, str]:
    """The kernel writing the update into the result (a copy of the operand)."""
    x, update = eq.inputs[:2]
    shape = update.aval.shape
    starts = [f"s{d}" for d in range(len(shape))]
    buf = IndentedBuffer()
    index = _element_loop(buf, ["upd"] + starts + ["out"], shape)
    _window_starts(buf, x.aval.shape, shape)
    at = ", ".join(f"o{d} + i{d}" for d in range(len(shape))) or "0"
    buf.line(f"out[{at}] = upd[{index}]")
    source = buf.text()
    return f"cuda_{hashlib.sha256(source.encode()).hexdigest()[:16]}", source
