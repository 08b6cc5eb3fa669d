"""Index arithmetic and index-valued helpers: tril_indices, triu_indices,
diag_indices, indices (static shapes: computed by NumPy, returned as nbad
arrays), unravel_index and ravel_multi_index (traced arithmetic), and the
rearrangements rot90, append, vander.
"""
from __future__ import annotations

import numpy as np

from nbad.errors import NbadValueError
from nbad.numpy import _elementwise as ew
from nbad.numpy import _shape as sh
from nbad.numpy._core import as_operand, convert, dtype_of, shape_of

__all__ = ["tril_indices", "triu_indices", "diag_indices", "tril_indices_from", "triu_indices_from",
           "indices", "unravel_index", "ravel_multi_index", "rot90", "append", "vander"]


def _arrays(values):
    from nbad.numpy._creation import asarray

    return tuple(asarray(v) for v in values)


def tril_indices(n, k=0, m=None):
    return _arrays(np.tril_indices(int(n), int(k), None if m is None else int(m)))


def triu_indices(n, k=0, m=None):
    return _arrays(np.triu_indices(int(n), int(k), None if m is None else int(m)))


def tril_indices_from(arr, k=0):
    rows, cols = shape_of(as_operand(arr))[-2:]
    return tril_indices(rows, k, cols)


def triu_indices_from(arr, k=0):
    rows, cols = shape_of(as_operand(arr))[-2:]
    return triu_indices(rows, k, cols)


def diag_indices(n, ndim=2):
    return _arrays(np.diag_indices(int(n), int(ndim)))


def indices(dimensions, dtype=np.int64, sparse=False):
    return _arrays(np.indices(tuple(int(d) for d in dimensions), dtype=dtype, sparse=sparse))


def unravel_index(indices, shape):
    """The coordinates in `shape` of flat C-order positions (negative positions count
    from the end; out-of-range ones are clipped, as in JAX)."""
    flat = as_operand(indices)
    if dtype_of(flat).kind not in "iu":
        raise NbadValueError(f"unravel_index: indices must be integers, got {dtype_of(flat).name}")
    shape = tuple(int(d) for d in shape)
    size = int(np.prod(shape, dtype=np.int64))
    flat = ew.where(ew.less(flat, 0), ew.add(flat, size), flat)
    flat = ew.clip(flat, 0, max(size - 1, 0))
    out = []
    for d in reversed(shape):
        out.append(ew.remainder(flat, d))
        flat = ew.floor_divide(flat, d)
    return tuple(reversed(out))


def ravel_multi_index(multi_index, dims, mode="raise", order="C"):
    """Flat positions of coordinates; mode 'clip' or 'wrap' (under jit 'raise' clips, as JAX)."""
    if order not in ("C", "F"):
        raise NbadValueError(f"ravel_multi_index: order must be 'C' or 'F', got {order!r}")
    if mode not in ("raise", "clip", "wrap"):
        raise NbadValueError(f"ravel_multi_index: mode must be 'raise', 'clip' or 'wrap', got {mode!r}")
    dims = tuple(int(d) for d in dims)
    coords = [as_operand(i) for i in multi_index]
    if len(coords) != len(dims):
        raise NbadValueError(f"ravel_multi_index: {len(coords)} index arrays for {len(dims)} dimensions")
    if mode == "raise":
        concrete = [np.asarray(c) for c in coords if not hasattr(c, "aval")]
        if len(concrete) == len(coords) and any(((c < 0) | (c >= d)).any() for c, d in zip(concrete, dims)):
            raise NbadValueError("ravel_multi_index: invalid entry in coordinates array")
    fixed = []
    for c, d in zip(coords, dims):
        fixed.append(ew.remainder(c, d) if mode == "wrap" else ew.clip(c, 0, d - 1))
    order_dims = list(zip(fixed, dims)) if order == "C" else list(zip(fixed, dims))[::-1]
    flat = 0
    for c, d in order_dims:
        flat = ew.add(ew.multiply(flat, d), c)
    return convert(flat, np.int64)


def rot90(m, k=1, axes=(0, 1)):
    """m rotated by 90 degrees k times in the plane of `axes`."""
    m = as_operand(m)
    ndim = len(shape_of(m))
    a0, a1 = (sh.normalize_axis("rot90", a, ndim) for a in axes)
    if a0 == a1:
        raise NbadValueError("rot90: axes must be different")
    k = int(k) % 4
    if k == 0:
        return sh.unchanged(m)
    if k == 2:
        return sh.flip(sh.flip(m, a0), a1)
    perm = list(range(ndim))
    perm[a0], perm[a1] = perm[a1], perm[a0]
    if k == 1:
        return sh.transpose(sh.flip(m, a1), perm)
    return sh.flip(sh.transpose(m, perm), a1)


def append(arr, values, axis=None):
    arr, values = as_operand(arr), as_operand(values)
    if axis is None:
        return sh.concatenate([sh.ravel(arr), sh.ravel(values)])
    return sh.concatenate([arr, values], axis=axis)


def vander(x, N=None, increasing=False):
    """Columns x**(N-1), ..., x**0 (increasing: x**0 first)."""
    x = as_operand(x)
    if len(shape_of(x)) != 1:
        raise NbadValueError(f"vander: x must be one-dimensional, got shape {shape_of(x)}")
    n = shape_of(x)[0] if N is None else int(N)
    powers = np.arange(n) if increasing else np.arange(n)[::-1]
    columns = [ew.power(x, int(p)) if p else ew.add(ew.multiply(x, 0), 1) for p in powers]
    return sh.stack(columns, axis=1) if columns else sh.reshape(x, (shape_of(x)[0], 0))
