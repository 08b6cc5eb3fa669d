"""LU decomposition with partial pivoting: a "library" primitive over LAPACK's
getrf (scipy.linalg.lu_factor), for square matrices (..., n, n).

    lu(a) -> p (..., n, n) permutation matrix in a's dtype,
             l (..., n, n) unit lower triangular, u (..., n, n) upper,
             piv (..., n) int32 LAPACK pivots (row i was swapped with piv[i]),
    with a = p @ l @ u.

Derivative (p and piv are piecewise constant): with M = l^-1 p^T da u^-1,
    dl = l strict_lower(M),   du = upper(M) u;
its transpose: ct_M = strict_lower(l^T ct_l) + upper(ct_u u^T),
    ct_a = p l^-T ct_M u^-T.
"""
from __future__ import annotations

import numpy as np

from nbad.core.avals import ShapedArray
from nbad.core.primitive import Primitive
from nbad.core.trace import bind
from nbad.rules._batching import batched_all
from nbad.rules.elementwise_math import jnp
from nbad.rules.linalg_decomp import _check_square

__all__ = ["lu_p"]

lu_p = Primitive("lu", kind="library", multiple_results=True)


def _lu_abstract_eval(a):
    _check_square("lu", a)
    return [ShapedArray(a.shape, a.dtype), ShapedArray(a.shape, a.dtype),
            ShapedArray(a.shape, a.dtype), ShapedArray(a.shape[:-1], np.dtype(np.int32))]


def _lu_one(a):
    import scipy.linalg

    n = a.shape[-1]
    packed, piv = scipy.linalg.lu_factor(a, check_finite=False)
    order = np.arange(n)
    for i, j in enumerate(piv):          # the row swaps, in order, as a permutation
        order[i], order[j] = order[j], order[i]
    p = np.zeros((n, n), a.dtype)
    p[order, np.arange(n)] = 1           # (p^T a)[i] = a[order[i]]
    lower = np.tril(packed, -1) + np.eye(n, dtype=a.dtype)
    return p, lower, np.triu(packed), piv.astype(np.int32)


def _lu_impl(a):
    batch, n = a.shape[:-2], a.shape[-1]
    outs = [np.empty(a.shape, a.dtype) for _ in range(3)] + [np.empty(batch + (n,), np.int32)]
    with np.errstate(all="ignore"):
        for idx in np.ndindex(*batch):
            for out, value in zip(outs, _lu_one(a[idx])):
                out[idx] = value
    return outs


def _mT(x):
    return jnp.swapaxes(x, -1, -2)


def _strict_lower(x):
    return jnp.tril(x, -1)


def _lu_jvp(primals, tangents, outs):
    (da,) = tangents
    p, lower, upper, piv = outs
    if da is None:
        return None
    # M = l^-1 p^T da u^-1, from two solves: l^-1 (p^T da), then (. u^-1) = (u^-T .^T)^T.
    left = jnp.linalg.solve(lower, jnp.matmul(_mT(p), da))
    m = _mT(jnp.linalg.solve(_mT(upper), _mT(left)))
    return [None, jnp.matmul(lower, _strict_lower(m)), jnp.matmul(jnp.triu(m), upper), None]


def _lu_vjp(cts, primals, outs):
    _, ct_l, ct_u, _ = cts
    p, lower, upper, _ = outs
    ct_m = jnp.add(_strict_lower(jnp.matmul(_mT(lower), ct_l)), jnp.triu(jnp.matmul(ct_u, _mT(upper))))
    # p l^-T ct_m u^-T
    left = jnp.linalg.solve(_mT(lower), ct_m)
    return [jnp.matmul(p, _mT(jnp.linalg.solve(upper, _mT(left))))]


def _lu_vmap(size, args, batched):
    return bind(lu_p, *batched_all(size, args, batched))


lu_p.abstract_eval = _lu_abstract_eval
lu_p.impl = _lu_impl
lu_p.jvp = _lu_jvp
lu_p.vjp = _lu_vjp
lu_p.vmap = _lu_vmap
