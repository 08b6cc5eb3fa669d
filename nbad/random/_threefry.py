"""Threefry-2x32 and the counters it hashes, as JAX's partitionable scheme uses them.

The hash is an elementwise primitive (rules/random.py) and the counters are
iotas, so under jit a draw is one fused loop from the counters to the floats.
The counter of element i of a draw of shape S is i (row-major) as a 64-bit
number split into its high and low words; JAX hashes (key, hi, lo) and
combines the two output words.
"""
from __future__ import annotations

import math

import numpy as np

import nbad.numpy as jnp
from nbad.numpy._core import elementwise_call
from nbad.numpy._creation import _iota
from nbad.rules.random import threefry2x32_p

_U32 = np.uint32


def threefry2x32(k1, k2, x1, x2, output):
    """The Threefry-2x32 hash of (x1, x2) under key (k1, k2): one word ("word0",
    "word1") or JAX's random bits ("xor": 32, "concat": 64). Operands are uint32
    arrays or scalars that broadcast together."""
    return elementwise_call(threefry2x32_p, "threefry2x32", k1, k2, x1, x2, output=output)


def hash_words(k1, k2, x1, x2):
    """Both words of the hash."""
    return tuple(threefry2x32(k1, k2, x1, x2, word) for word in ("word0", "word1"))


def counters(shape):
    """(hi, lo): the high and low words of each element's row-major index in `shape`.

    A multi-dimensional index is a sum of per-axis iotas times strides, which
    the fuser turns into index arithmetic (no counter array in memory)."""
    size = math.prod(shape)
    if not shape:
        return _U32(0), _U32(0)
    wide = size > 2 ** 32
    dtype = np.uint64 if wide else np.uint32
    strides = [math.prod(shape[d + 1:]) for d in range(len(shape))]
    index = None
    for d, stride in enumerate(strides):
        if shape[d] == 1:
            continue
        term = _iota(dtype, shape, d)
        if stride != 1:
            term = jnp.multiply(term, dtype(stride))
        index = term if index is None else jnp.add(index, term)
    if index is None:  # every axis has size 1
        index = jnp.zeros(shape, dtype)
    if not wide:
        return _U32(0), index
    return (jnp.right_shift(index, np.uint64(32)).astype(_U32), index.astype(_U32))


def hash_counters(key_data, shape, output):
    """The hash of every counter of a draw of `shape` from one raw key (see
    threefry2x32 for `output`)."""
    hi, lo = counters(tuple(shape))
    out = threefry2x32(key_data[0], key_data[1], hi, lo, output)
    return jnp.broadcast_to(out, shape)  # a draw of size-1 axes hashes scalar counters
