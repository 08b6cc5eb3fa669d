"""Compile one elementwise primitive's codegen template into a small Numba loop.

This is the CPU backend's elementwise kernel reduced to a single primitive:
operands are read into locals, the template computes one element, and the
result gets the backend's final cast when Numba could widen its dtype
(compile/expr.py). Tests compare its output with the primitive's NumPy impl,
so each template is checked without the fuser or the backend.

One kernel is compiled per (primitive, operand dtypes, params) and cached, so a
test module pays each Numba compile once.
"""
from __future__ import annotations

import functools

import numba
import numpy as np

from nbad.compile.expr import ExprContext, cast_expr, needs_final_cast
from nbad.core.avals import ShapedArray

FASTMATH = {"reassoc", "contract", "arcp", "nsz"}


def kernel_source(prim, in_dtypes, **params) -> tuple[str, np.dtype]:
    """The module source of a loop applying `prim` elementwise, and its result dtype."""
    out_dtype = prim.abstract_eval(*[ShapedArray((), d) for d in in_dtypes], **params).dtype
    e = ExprContext(in_dtypes, out_dtype)
    names = [f"v{i}" for i in range(len(in_dtypes))]
    expr = prim.codegen(e, *names, **params)
    if needs_final_cast(out_dtype):
        expr = cast_expr(expr, out_dtype)
    args = ", ".join(f"x{i}" for i in range(len(in_dtypes)))
    lines = ["import numpy as np"]
    lines += [f"from nbad.backends.cpu.mathlib import {n} as _m_{n}" for n in sorted(e.math_names)]
    lines += [f"def kernel({args}, out):", "    for i in range(out.shape[0]):"]
    lines += [f"        v{i} = x{i}[i]" for i in range(len(in_dtypes))]
    lines += [f"        out[i] = {expr}"]
    return "\n".join(lines) + "\n", out_dtype


@functools.lru_cache(maxsize=None)
def _compiled(prim, in_dtypes: tuple, params: tuple):
    source, out_dtype = kernel_source(prim, in_dtypes, **dict(params))
    namespace: dict = {}
    exec(compile(source, f"<nbad kernel {prim.name}>", "exec"), namespace)
    fn = numba.njit(error_model="numpy", fastmath=FASTMATH)(namespace["kernel"])
    return fn, out_dtype, source


def run_kernel(prim, *operands, **params) -> np.ndarray:
    """Apply `prim` to equal-shape (or broadcastable) arrays through its compiled template."""
    operands = [np.asarray(x) for x in operands]
    shape = np.broadcast_shapes(*[x.shape for x in operands])
    flat = [np.ascontiguousarray(np.broadcast_to(x, shape)).reshape(-1) for x in operands]
    in_dtypes = tuple(x.dtype for x in operands)
    fn, out_dtype, _ = _compiled(prim, in_dtypes, tuple(sorted(params.items())))
    out = np.empty(flat[0].shape if flat else (), dtype=out_dtype)
    fn(*flat, out)
    return out.reshape(shape)


def source_of(prim, *in_dtypes, **params) -> str:
    """The generated source for `prim` (for error messages and debugging)."""
    return _compiled(prim, tuple(np.dtype(d) for d in in_dtypes), tuple(sorted(params.items())))[2]
