"""nbad.numpy.linalg (jnp.linalg): norms, solves, inverses, determinants,
Cholesky and symmetric eigendecompositions.

norm follows numpy.linalg.norm: integer inputs compute in float64, complex
inputs give real norms of the same precision. Matrix norms that need a
singular value decomposition (ord=2, -2, 'nuc') are not available yet.

solve, inv, det, slogdet, cholesky, eigh and eigvalsh are differentiable
library primitives (nbad/rules/linalg_decomp.py) batched over leading
dimensions as in jnp.linalg; integer inputs compute in float64. As in JAX,
cholesky and eigh symmetrise their input ((a + a^H) / 2) unless
symmetrize_input=False, which reads only the lower (UPLO='L') or upper
triangle; failures give NaN rather than raising.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from nbad.core.trace import bind
from nbad.errors import NbadValueError, ShapeError
from nbad.numpy import _elementwise as _ew
from nbad.numpy import _reductions as _red
from nbad.numpy._core import (as_operand, broadcast_shapes, broadcast_to, convert, dtype_of,
                              promote_dtypes, shape_of)
from nbad.rules.linalg_decomp import (cholesky_p, det_p, eigh_p, inv_p, slogdet_p, solve_p)
from nbad.rules.shape import reshape_p

__all__ = ["norm", "solve", "inv", "det", "slogdet", "cholesky", "eigh", "eigvalsh",
           "SlogdetResult", "EighResult"]

_SVD_ORDS = (2, -2, "nuc")


def _abs_squared(x):
    """|x|**2 without a square root: conj(x) * x is real for complex x."""
    if dtype_of(x).kind == "c":
        return _ew.real(_ew.multiply(_ew.conjugate(x), x))
    return _ew.multiply(x, x)


def _normalize_axes(axis, ndim):
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    if any(not -ndim <= a < ndim for a in axes):
        raise NbadValueError(f"norm: axis {axis} is out of range for an array of rank {ndim}")
    axes = tuple(a % ndim for a in axes)
    if len(set(axes)) != len(axes):
        raise NbadValueError(f"norm: duplicate axes given: axis={axis}")
    return axes


def _vector_norm(x, ord, axis, keepdims):
    if isinstance(ord, str):
        raise NbadValueError(f"norm: invalid norm order {ord!r} for vectors; use None, inf, "
                             "-inf, 0 or a number")
    if ord is None or ord == 2:
        return _ew.sqrt(_red.sum(_abs_squared(x), axis=axis, keepdims=keepdims))
    mag = _ew.absolute(x)
    if ord == math.inf:
        return _red.max(mag, axis=axis, keepdims=keepdims)
    if ord == -math.inf:
        return _red.min(mag, axis=axis, keepdims=keepdims)
    if ord == 0:
        nonzero = convert(_ew.not_equal(x, 0), dtype_of(mag))
        return _red.sum(nonzero, axis=axis, keepdims=keepdims)
    if ord == 1:
        return _red.sum(mag, axis=axis, keepdims=keepdims)
    p = float(ord)
    total = _red.sum(_ew.power(mag, p), axis=axis, keepdims=keepdims)
    return _ew.power(total, 1.0 / p)


def _matrix_norm(x, ord, axes, keepdims):
    row, col = axes
    if ord in _SVD_ORDS:
        raise NbadValueError(
            f"norm: the matrix norm ord={ord!r} needs a singular value decomposition, which "
            "nbad does not implement yet. Use ord='fro', 1, -1, inf or -inf, or compute it "
            "outside the transformed function with numpy.linalg.norm.")
    if ord is None or ord == "fro":
        out = _ew.sqrt(_red.sum(_abs_squared(x), axis=axes))
    elif ord in (1, -1, math.inf, -math.inf):
        # 1: largest column sum (sum over rows); inf: largest row sum.
        summed, picked = (row, col) if abs(ord) == 1 else (col, row)
        sums = _red.sum(_ew.absolute(x), axis=summed)
        pick = _red.max if ord > 0 else _red.min
        out = pick(sums, axis=picked - (picked > summed))
    else:
        raise NbadValueError(f"norm: invalid norm order {ord!r} for matrices; use None, 'fro', "
                             "1, -1, inf or -inf")
    if not keepdims:
        return out
    shape = tuple(1 if i in axes else d for i, d in enumerate(shape_of(x)))
    return bind(reshape_p, out, new_sizes=shape)


def norm(x, ord=None, axis=None, keepdims=False):
    """numpy.linalg.norm for vectors and matrices (see the module docstring)."""
    x = as_operand(x)
    if dtype_of(x).kind in "biu":
        x = convert(x, np.float64)
    ndim = len(shape_of(x))
    if axis is None:
        if ord is None:
            # The 2-norm of the flattened array, whatever its rank.
            return _vector_norm(x, None, None, keepdims)
        if ndim not in (1, 2):
            raise NbadValueError(f"norm: ord={ord!r} with axis=None needs a 1-D or 2-D "
                                 f"array, got shape {shape_of(x)}; pass axis")
        axis = tuple(range(ndim))
    axes = _normalize_axes(axis, ndim)
    if len(axes) == 1:
        return _vector_norm(x, ord, axes[0], keepdims)
    if len(axes) == 2:
        return _matrix_norm(x, ord, axes, keepdims)
    raise NbadValueError(f"norm: axis must name one (vector norm) or two (matrix norm) "
                         f"axes, got axis={axis}")


# -- solves, inverses, determinants, decompositions ---------------------------------
class SlogdetResult(NamedTuple):
    sign: object
    logabsdet: object


class EighResult(NamedTuple):
    eigenvalues: object
    eigenvectors: object


def _inexact(*xs):
    """Operands in their common dtype, integer and bool inputs as float64."""
    xs = [as_operand(x) for x in xs]
    dtype, _ = promote_dtypes(*xs, to_inexact=True)
    return [convert(x, dtype) for x in xs]


def _square(fn, a):
    shape = shape_of(a)
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise ShapeError(f"{fn}: expected a square matrix or a batch of square matrices of "
                         f"shape (..., n, n), got shape {shape}")
    return shape


def solve(a, b):
    """x with a @ x == b. b is one vector (shape (n,)) or a batch of matrices
    (..., n, k) whose batch dims broadcast against a's (NumPy 2 / JAX rules)."""
    a, b = _inexact(a, b)
    sa = _square("solve", a)
    sb = shape_of(b)
    n = sa[-1]
    vector = len(sb) == 1
    if len(sb) == 0 or sb[0 if vector else -2] != n:
        raise ShapeError(f"solve: b of shape {sb} does not fit a of shape {sa}: b must be a "
                         f"vector of length {n} or have shape (..., {n}, k)")
    if vector:
        b = bind(reshape_p, b, new_sizes=(n, 1))
        sb = (n, 1)
    batch = broadcast_shapes("solve", sa[:-2], sb[:-2])
    x = bind(solve_p, broadcast_to(a, batch + sa[-2:]), broadcast_to(b, batch + sb[-2:]))
    return bind(reshape_p, x, new_sizes=batch + (n,)) if vector else x


def inv(a):
    """The inverse of a square matrix (or of each of a batch)."""
    a, = _inexact(a)
    _square("inv", a)
    return bind(inv_p, a)


def det(a):
    a, = _inexact(a)
    _square("det", a)
    return bind(det_p, a)


def slogdet(a, *, method=None):
    """(sign, logabsdet) with det(a) == sign * exp(logabsdet)."""
    if method not in (None, "lu"):
        raise NbadValueError(f"slogdet: method={method!r} is not supported; use 'lu'")
    a, = _inexact(a)
    _square("slogdet", a)
    sign, logabsdet = bind(slogdet_p, a)
    return SlogdetResult(sign, logabsdet)


def _hermitian_from_triangle(fn, a, uplo):
    """The Hermitian matrix one triangle of `a` describes (symmetrize_input=False)."""
    from nbad.numpy._creation import tril, triu

    if uplo not in ("L", "U"):
        raise NbadValueError(f"{fn}: UPLO must be 'L' or 'U', got {uplo!r}")
    part = tril if uplo == "L" else triu
    k = -1 if uplo == "L" else 1
    strict = part(a, k)
    diag = _ew.subtract(part(a, 0), strict)  # the diagonal, as a matrix
    if dtype_of(a).kind == "c":
        diag = convert(_ew.real(diag), dtype_of(a))  # LAPACK ignores its imaginary part
    return _ew.add(_ew.add(strict, diag), _ew.conjugate(_swap_last(strict)))


def _swap_last(x):
    from nbad.numpy._shape import swapaxes

    return swapaxes(x, -1, -2)


def cholesky(a, *, upper=False, symmetrize_input=True):
    """The lower Cholesky factor L with a == L @ L^H (upper=True: L^H).
    symmetrize_input=True (JAX's default) factors (a + a^H) / 2; False reads
    only the lower triangle. A matrix that is not positive definite gives NaN."""
    a, = _inexact(a)
    _square("cholesky", a)
    if not symmetrize_input:
        a = _hermitian_from_triangle("cholesky", a, "L")
    L = bind(cholesky_p, a)
    return _ew.conjugate(_swap_last(L)) if upper else L


def eigh(a, UPLO=None, symmetrize_input=True):
    """Eigenvalues (ascending) and eigenvectors (columns) of a Hermitian matrix.
    symmetrize_input=True (JAX's default) decomposes (a + a^H) / 2; False reads
    only the UPLO triangle ('L' by default). Eigenvector signs (phases) are
    those LAPACK returns: differentiate functions invariant to them."""
    a, = _inexact(a)
    _square("eigh", a)
    uplo = "L" if UPLO is None else UPLO
    if uplo not in ("L", "U"):
        raise NbadValueError(f"eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
    if not symmetrize_input:
        a = _hermitian_from_triangle("eigh", a, uplo)
    w, v = bind(eigh_p, a)
    return EighResult(w, v)


def eigvalsh(a, UPLO="L", *, symmetrize_input=True):
    """The eigenvalues of a Hermitian matrix, ascending."""
    return eigh(a, UPLO, symmetrize_input).eigenvalues
