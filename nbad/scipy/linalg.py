"""nbad.scipy.linalg (jax.scipy.linalg): cholesky, cho_factor, cho_solve,
solve_triangular, lu, lu_factor, expm — differentiable.

cholesky reads one triangle of a (lower, or upper with lower=False), as
JAX's does, and its derivative is that function's: the other triangle has
zero gradient. (JAX's vjp spreads the gradient over both triangles by its
own convention; along symmetric directions the two agree.) solve_triangular solves with the matrix's `lower` triangle (the
other is ignored, so its derivative flows into that triangle only); it runs
nbad's general solve on the masked matrix (O(n^3), not LAPACK's trsm).
lu and lu_factor bind the lu primitive (nbad/rules/linalg_lu.py).

expm is scaling and squaring with the degree-13 Pade approximant (Higham
2005): exp(A) = r(A / 2^s)^(2^s) with s from the 1-norm of A. Under jit s is
traced, so the program squares max_squarings times (JAX's default 16: norms up
to 5.4 * 2^16) and keeps only the first s squarings (a `where` per step);
outside jit it squares s times.
"""
from __future__ import annotations

import numpy as np

import nbad.numpy as jnp
from nbad.core.trace import Tracer, bind
from nbad.errors import NbadValueError, ShapeError
from nbad.numpy._core import as_operand, convert, promote_dtypes, shape_of
from nbad.rules.linalg_lu import lu_p

__all__ = ["cholesky", "cho_factor", "cho_solve", "solve_triangular", "lu", "lu_factor", "expm"]


def _inexact(*xs):
    xs = [as_operand(x) for x in xs]
    dtype, _ = promote_dtypes(*xs, to_inexact=True)
    return [convert(x, dtype) for x in xs]


def _mT(x):
    return jnp.swapaxes(x, -1, -2)


def _check_square(fn, a):
    s = shape_of(a)
    if len(s) < 2 or s[-1] != s[-2]:
        raise ShapeError(f"{fn}: a must be a (batch of) square matrices (..., n, n), got shape {s}")


def cholesky(a, lower=False, overwrite_a=False, check_finite=True):
    """The Cholesky factor of a Hermitian positive definite a, read from its lower
    triangle (lower=True: L with a = L L^H) or upper one (U with a = U^H U)."""
    a, = _inexact(a)
    _check_square("cholesky", a)
    source = a if lower else jnp.conj(_mT(a))
    factor = jnp.linalg.cholesky(source, symmetrize_input=False)
    return factor if lower else jnp.conj(_mT(factor))


def cho_factor(a, lower=False, overwrite_a=False, check_finite=True):
    """(c, lower): the Cholesky factor in the `lower` (or upper) triangle of c, zeros elsewhere."""
    return cholesky(a, lower=lower), lower


def cho_solve(c_and_lower, b, overwrite_b=False, check_finite=True):
    """x with a x = b, from cho_factor's (c, lower)."""
    c, lower = c_and_lower
    c, b = _inexact(c, b)
    if lower:
        y = solve_triangular(c, b, lower=True)
        return solve_triangular(c, y, lower=True, trans="C")
    y = solve_triangular(c, b, lower=False, trans="C")
    return solve_triangular(c, y, lower=False)


def solve_triangular(a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False,
                     debug=None, check_finite=True):
    """x with op(a) x = b, a triangular (only its `lower` or upper triangle is read);
    op is the identity (trans 0 / 'N'), the transpose (1 / 'T') or the conjugate
    transpose (2 / 'C'); unit_diagonal treats a's diagonal as ones."""
    a, b = _inexact(a, b)
    _check_square("solve_triangular", a)
    n = shape_of(a)[-1]
    modes = {0: "N", 1: "T", 2: "C", "N": "N", "T": "T", "C": "C"}
    if trans not in modes:
        raise NbadValueError(f"solve_triangular: trans must be 0, 1, 2, 'N', 'T' or 'C', got {trans!r}")
    tri = jnp.tril(a) if lower else jnp.triu(a)
    if unit_diagonal:
        tri = jnp.add(jnp.subtract(tri, jnp.multiply(tri, np.eye(n))), np.eye(n, dtype=np.dtype(bool)))
    if modes[trans] == "T":
        tri = _mT(tri)
    elif modes[trans] == "C":
        tri = jnp.conj(_mT(tri))
    if shape_of(b)[-2 if len(shape_of(b)) >= 2 else -1] != n:
        raise ShapeError(f"solve_triangular: b's rows must match a's size {n}, got b of shape {shape_of(b)}")
    return jnp.linalg.solve(tri, b)


def lu(a, permute_l=False, overwrite_a=False, check_finite=True):
    """(p, l, u) with a = p @ l @ u (permute_l=True: (p @ l, u)); square matrices."""
    a, = _inexact(a)
    _check_square("lu", a)
    p, lower, upper, _ = bind(lu_p, a)
    if permute_l:
        return jnp.matmul(p, lower), upper
    return p, lower, upper


def lu_factor(a, overwrite_a=False, check_finite=True):
    """(lu, piv): l's strict lower triangle and u in one matrix, and LAPACK's int32 pivots."""
    a, = _inexact(a)
    _check_square("lu_factor", a)
    _, lower, upper, piv = bind(lu_p, a)
    return jnp.add(jnp.tril(lower, -1), upper), piv


# Pade 13 coefficients b_0..b_13 and theta_13 (Higham 2005, Table 10.4).
_PADE13 = (64764752532480000.0, 32382376266240000.0, 7771770303897600.0, 1187353796428800.0,
           129060195264000.0, 10559470521600.0, 670442572800.0, 33522128640.0, 1323241920.0,
           40840800.0, 960960.0, 16380.0, 182.0, 1.0)
_THETA13 = 5.371920351148152


def _pade13(a):
    b = _PADE13
    n = shape_of(a)[-1]
    eye = np.eye(n)
    a2 = jnp.matmul(a, a)
    a4 = jnp.matmul(a2, a2)
    a6 = jnp.matmul(a4, a2)
    u_inner = jnp.add(jnp.add(jnp.multiply(b[13], a6), jnp.multiply(b[11], a4)), jnp.multiply(b[9], a2))
    u = jnp.matmul(a, jnp.add(jnp.add(jnp.add(jnp.add(jnp.matmul(a6, u_inner), jnp.multiply(b[7], a6)),
                                              jnp.multiply(b[5], a4)), jnp.multiply(b[3], a2)),
                              jnp.multiply(b[1], eye)))
    v_inner = jnp.add(jnp.add(jnp.multiply(b[12], a6), jnp.multiply(b[10], a4)), jnp.multiply(b[8], a2))
    v = jnp.add(jnp.add(jnp.add(jnp.add(jnp.matmul(a6, v_inner), jnp.multiply(b[6], a6)),
                                jnp.multiply(b[4], a4)), jnp.multiply(b[2], a2)), jnp.multiply(b[0], eye))
    return jnp.linalg.solve(jnp.subtract(v, u), jnp.add(v, u))


def expm(A, *, upper_triangular=False, max_squarings=16):
    """The matrix exponential of a (batch of) square matrices."""
    A, = _inexact(A)
    _check_square("expm", A)
    norm = jnp.max(jnp.sum(jnp.abs(A), axis=-2), axis=-1)       # the 1-norm of each matrix
    squarings = jnp.maximum(0, jnp.ceil(jnp.log2(jnp.divide(norm, _THETA13))))
    squarings = jnp.where(jnp.isfinite(squarings), squarings, 0)
    scaled = jnp.divide(A, jnp.expand_dims(jnp.exp2(squarings), (-1, -2)))
    r = _pade13(scaled)
    # Outside jit the number of squarings is known; under jit every matrix gets
    # max_squarings steps, each kept only while it is below its own count.
    concrete = squarings.value if isinstance(squarings, Tracer) else np.asarray(squarings)
    if concrete is not None and np.ndim(concrete) == 0:
        for _ in range(int(concrete)):
            r = jnp.matmul(r, r)
        return r
    steps = jnp.expand_dims(squarings, (-1, -2))
    count = max_squarings if concrete is None else int(np.max(concrete, initial=0))
    for step in range(count):
        r = jnp.where(steps > step, jnp.matmul(r, r), r)
    return r
