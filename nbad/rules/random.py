"""Elementwise primitives nbad.random adds: threefry2x32 and fma.

threefry2x32(k1, k2, x1, x2, output) hashes the uint32 words (x1, x2) under
the key (k1, k2) with Threefry-2x32 (20 rounds of add, rotate and xor) and
returns, by `output`: "word0" or "word1" (one word of the hash, uint32), "xor"
(their xor, uint32: JAX's 32 random bits) or "concat" (word0 above word1,
uint64: JAX's 64 random bits). The kernels call mathlib.threefry2x32, one
function that Numba types once and LLVM inlines (the rotations become rotate
instructions); as ~120 elementwise add/xor/shift operations instead, every
kernel drawing random numbers took seconds to compile.

fma(a, b, c) = a * b + c with a single rounding. XLA contracts JAX's
multiply-adds into FMAs on the CPU (uniform's `floats * (maxval - minval) +
minval`, the Horner steps of erf_inv), so drawing JAX's numbers bit for bit
needs the same single rounding; the kernels call llvm.fma (mathlib.fma) and the
impl is a NumPy ufunc compiled from the same function.
"""
from __future__ import annotations

import functools

import numpy as np

from nbad.errors import NbadTypeError
from nbad.rules._ad import defderiv, defnondiff
from nbad.rules._family import elementwise
from nbad.rules.elementwise_math import const


_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))


_OUTPUTS = {"word0": 0, "word1": 1, "xor": 2, "concat": 3}


def _threefry_impl(k1, k2, x1, x2, *, output):
    """The hash in NumPy's wrapping uint32 arithmetic (the reference)."""
    with np.errstate(over="ignore"):  # 0-d operands compute as NumPy scalars, which warn
        return _threefry_words(k1, k2, x1, x2, output)


def _threefry_words(k1, k2, x1, x2, output):
    u32 = np.uint32
    k1, k2, x1, x2 = (np.asarray(v, u32) for v in (k1, k2, x1, x2))
    ks = (k1, k2, k1 ^ k2 ^ u32(0x1BD11BDA))
    x1, x2 = x1 + k1, x2 + k2
    for block in range(5):
        for d in _ROTATIONS[block % 2]:
            x1 = x1 + x2
            x2 = x1 ^ ((x2 << u32(d)) | (x2 >> u32(32 - d)))
        x1, x2 = x1 + ks[(block + 1) % 3], x2 + ks[(block + 2) % 3] + u32(block + 1)
    if output == "concat":
        return (x1.astype(np.uint64) << np.uint64(32)) | x2.astype(np.uint64)
    return {"word0": x1, "word1": x2, "xor": x1 ^ x2}[output]


def _threefry_codegen(e, k1, k2, x1, x2, *, output):
    return f"{e.math('threefry2x32')}({k1}, {k2}, {x1}, {x2}, {_OUTPUTS[output]})"


threefry2x32_p = elementwise("threefry2x32", 4, _threefry_impl, _threefry_codegen, kinds="int")
_threefry_same_dtype = threefry2x32_p.abstract_eval


def _threefry_abstract_eval(*operands, output):
    if any(a.dtype != np.uint32 for a in operands) or output not in _OUTPUTS:
        raise NbadTypeError(
            "threefry2x32 hashes uint32 words, with output one of "
            f"{', '.join(_OUTPUTS)}; got " + ", ".join(a.str_short() for a in operands)
            + f" and output={output!r}")
    out = _threefry_same_dtype(*operands, output=output)
    return out.update(dtype=np.dtype(np.uint64)) if output == "concat" else out


threefry2x32_p.abstract_eval = _threefry_abstract_eval
defnondiff(threefry2x32_p)


@functools.cache
def _fma_ufunc():
    """mathlib's fma as a NumPy ufunc (compiled on first eager use)."""
    import numba

    from nbad.backends.cpu import mathlib

    return numba.vectorize(["float32(float32, float32, float32)",
                            "float64(float64, float64, float64)"])(mathlib.fma_call.py_func)


def _fma_impl(a, b, c):
    dtype = np.result_type(a, b, c)
    out = _fma_ufunc()(np.asarray(a, dtype), np.asarray(b, dtype), np.asarray(c, dtype))
    return np.asarray(out, dtype)


def _fma_codegen(e, a, b, c):
    return f"{e.math('fma')}({a}, {b}, {c})"


fma_p = elementwise("fma", 3, _fma_impl, _fma_codegen, kinds="real_float")
defderiv(fma_p, lambda out, a, b, c: [b, a, const(c, 1)])
