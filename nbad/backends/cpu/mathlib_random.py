"""Scalar functions for nbad.random's primitives (rules/random.py): fma and
threefry2x32. Re-exported by nbad.backends.cpu.mathlib, whose compilation model they
follow (forceinlined into the kernels, fastmath=False; the `_call` variants are
called instead, by straight-line kernels).
"""
import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from nbad.backends.cpu.mathlib_f64 import _CALL_OPTIONS, _JIT_OPTIONS

_inline = njit(**_JIT_OPTIONS)


# ------------------------------------------------------------ fused multiply-add
# a * b + c rounded once (llvm.fma: the FMA instruction, or libm's fma): XLA
# contracts JAX's multiply-adds into FMAs, and nbad.random reproduces them.
@intrinsic
def _fma_intrinsic(typingctx, a, b, c):
    if isinstance(a, types.Float) and a == b == c:
        def codegen(context, builder, sig, args):
            ty = args[0].type
            fn = builder.module.declare_intrinsic("llvm.fma", [ty], ir.FunctionType(ty, [ty] * 3))
            return builder.call(fn, args)
        return a(a, b, c), codegen


def _fused_multiply_add(a, b, c):
    return _fma_intrinsic(a, b, c)


fma = njit(**_JIT_OPTIONS)(_fused_multiply_add)
fma_call = njit(**_CALL_OPTIONS)(_fused_multiply_add)


# ------------------------------------------------------------------ threefry2x32
# The Threefry-2x32 hash (20 rounds). One function instead of ~120 elementwise
# operations in each kernel: Numba types it once per process, and once it is
# inlined LLVM folds the constant `output` and turns the rotations into rotate
# instructions. uint32 arithmetic widens in Numba, hence the cast after every op.
# output: 0 or 1 (that word), 2 (their xor: JAX's 32 random bits), 3 (word 0
# above word 1 as a uint64: JAX's 64 random bits); always returned as uint64.
@_inline
def _rotl32(x, d):
    return np.uint32((x << np.uint32(d)) | (x >> np.uint32(32 - d)))


@_inline
def _four_rounds(x1, x2, r0, r1, r2, r3):
    x1 = np.uint32(x1 + x2)
    x2 = np.uint32(x1 ^ _rotl32(x2, r0))
    x1 = np.uint32(x1 + x2)
    x2 = np.uint32(x1 ^ _rotl32(x2, r1))
    x1 = np.uint32(x1 + x2)
    x2 = np.uint32(x1 ^ _rotl32(x2, r2))
    x1 = np.uint32(x1 + x2)
    x2 = np.uint32(x1 ^ _rotl32(x2, r3))
    return x1, x2


@_inline
def _rounds_even(x1, x2):
    return _four_rounds(x1, x2, 13, 15, 26, 6)


@_inline
def _rounds_odd(x1, x2):
    return _four_rounds(x1, x2, 17, 29, 16, 24)


def _threefry2x32(k1, k2, x1, x2, output):
    k1, k2 = np.uint32(k1), np.uint32(k2)
    k3 = np.uint32(k1 ^ k2 ^ np.uint32(0x1BD11BDA))
    x1, x2 = np.uint32(x1 + k1), np.uint32(x2 + k2)
    x1, x2 = _rounds_even(x1, x2)
    x1, x2 = np.uint32(x1 + k2), np.uint32(x2 + k3 + np.uint32(1))
    x1, x2 = _rounds_odd(x1, x2)
    x1, x2 = np.uint32(x1 + k3), np.uint32(x2 + k1 + np.uint32(2))
    x1, x2 = _rounds_even(x1, x2)
    x1, x2 = np.uint32(x1 + k1), np.uint32(x2 + k2 + np.uint32(3))
    x1, x2 = _rounds_odd(x1, x2)
    x1, x2 = np.uint32(x1 + k2), np.uint32(x2 + k3 + np.uint32(4))
    x1, x2 = _rounds_even(x1, x2)
    x1, x2 = np.uint32(x1 + k3), np.uint32(x2 + k1 + np.uint32(5))
    if output == 0:
        return np.uint64(x1)
    if output == 1:
        return np.uint64(x2)
    if output == 2:
        return np.uint64(x1 ^ x2)
    return (np.uint64(x1) << np.uint64(32)) | np.uint64(x2)


threefry2x32 = njit(**_JIT_OPTIONS)(_threefry2x32)
threefry2x32_call = njit(**_CALL_OPTIONS)(_threefry2x32)
