"""Differentiable dense linear algebra: solve, inv, det, cofactor, slogdet,
cholesky, eigh.

All are "library" primitives: their impl (NumPy's LAPACK wrappers) runs
between compiled kernels, batched over leading dimensions like jnp.linalg.
Operands are float32/float64/complex64/complex128 square matrices (..., n, n);
nbad.numpy.linalg promotes integer inputs and broadcasts batch dimensions
before binding, the primitives themselves require:

    solve(a, b)     a (..., n, n), b (..., n, k) with a's batch dims -> x (..., n, k)
    inv(a)          -> (..., n, n)
    det(a)          -> (...)
    cofactor(a)     -> (..., n, n), the cofactor matrix adj(a)^T (d det / d a)
    slogdet(a)      -> sign (...) in a's dtype, logabsdet (...) real
    cholesky(a)     -> L (..., n, n) lower, A = L L^H
    eigh(a)         -> w (..., n) real ascending, v (..., n, n) with A v = v diag(w)

Conventions shared with jnp.linalg:

* cholesky and eigh first symmetrise their input, (a + a^H) / 2 (JAX's
  `symmetrize_input=True`), so both triangles matter and the derivative
  rules see the symmetrised tangent. (For eigh this is the same as JAX's
  UPLO='L' on the symmetrised matrix.) jnp.linalg.cholesky/eigh with
  symmetrize_input=False build the Hermitian matrix from one triangle first.
* Failures do not raise, as in JAX: a singular matrix gives NaN from solve
  and inv (NumPy would raise LinAlgError), a matrix that is not positive
  definite gives a NaN Cholesky factor, and det/slogdet give 0 / (0, -inf).
* Complex derivatives follow JAX's convention: the vjp is the transpose of
  the jvp under the bilinear pairing Re(sum(a * b)) (no conjugation).

Derivative rules are written with nbad operations (nbad.numpy and binds of
these primitives), so they trace like any other code:

    solve:    dx = solve(A, db - dA x);  ct_b = solve(A^T, ct), ct_A = -ct_b x^T
    inv:      dX = -X dA X;              ct_A = -X^T ct X^T
    det:      dd = tr(adj(A) dA);        ct_A = ct cofactor(A)
    cofactor: C = adj(A)^T, det(A) A^-T where A is invertible, from the SVD
              so a singular A has its true cofactors (JAX's grad(det)), not NaN;
              dC = C tr(A^-1 dA) - C dA^T A^-T (at an invertible A)
    slogdet:  dlogabs = Re tr(A^-1 dA);  ct_A = ct_logabs A^-T (+ the sign's
              phase term for complex matrices)
    cholesky: dL = L phi(L^-1 S L^-H), S = sym(dA), phi = lower triangle with
              a halved diagonal;         ct_A = sym(L^-T phi(L^T ct) L^-H^T)
    eigh:     M = V^H S V, dw = Re diag(M), dV = V (F o M) with
              F_ij = 1/(w_j - w_i) off the diagonal and 0 on it;
              ct_A = sym(conj(V) (F o (V^T ct_V) + diag(ct_w)) V^T)
"""
from __future__ import annotations

import numpy as np

from nbad.core.avals import ShapedArray
from nbad.core.primitive import Primitive
from nbad.errors import NbadTypeError, ShapeError

solve_p = Primitive("solve", kind="library")
inv_p = Primitive("inv", kind="library")
det_p = Primitive("det", kind="library")
cofactor_p = Primitive("cofactor", kind="library")
slogdet_p = Primitive("slogdet", kind="library", multiple_results=True)
cholesky_p = Primitive("cholesky", kind="library")
eigh_p = Primitive("eigh", kind="library", multiple_results=True)

_DTYPES = tuple(np.dtype(t) for t in (np.float32, np.float64, np.complex64, np.complex128))


def _real_dtype(dtype):
    return np.empty((), dtype).real.dtype


# -- abstract evaluation ------------------------------------------------------------
def _check_dtype(name, aval):
    if aval.dtype not in _DTYPES:
        raise NbadTypeError(
            f"{name} does not accept dtype {aval.dtype.name} (operand {aval.str_short()}): "
            "linear algebra computes in float32, float64, complex64 or complex128. "
            "nbad.numpy.linalg promotes integer inputs; convert float16 with .astype(float32).")


def _check_square(name, aval, what="a"):
    _check_dtype(name, aval)
    if aval.ndim < 2:
        raise ShapeError(
            f"{name}: {what} must be a (batch of) square matrices of shape (..., n, n), got "
            f"shape {aval.shape} with {aval.ndim} dimension(s).")
    if aval.shape[-1] != aval.shape[-2]:
        raise ShapeError(
            f"{name}: {what} must be square in its last two dimensions, got shape {aval.shape} "
            f"({aval.shape[-2]} x {aval.shape[-1]}).")


def _solve_abstract_eval(a, b):
    _check_square("solve", a)
    _check_dtype("solve", b)
    if a.dtype != b.dtype:
        raise NbadTypeError(f"solve requires operands of one dtype, got {a.str_short()} and "
                            f"{b.str_short()}. nbad.numpy.linalg.solve promotes; the primitive "
                            "does not.")
    n = a.shape[-1]
    if b.ndim != a.ndim or b.shape[:-2] != a.shape[:-2] or b.shape[-2] != n:
        raise ShapeError(
            f"solve: b must have shape {a.shape[:-2] + (n, 'k')} for a of shape {a.shape} "
            f"(batch dims equal to a's, then n = {n} rows), got {b.shape}. "
            "nbad.numpy.linalg.solve broadcasts batch dims and accepts a vector b.")
    return ShapedArray(b.shape, b.dtype)


def _inv_abstract_eval(a):
    _check_square("inv", a)
    return ShapedArray(a.shape, a.dtype)


def _det_abstract_eval(a):
    _check_square("det", a)
    return ShapedArray(a.shape[:-2], a.dtype)


def _cofactor_abstract_eval(a):
    _check_square("cofactor", a)
    return ShapedArray(a.shape, a.dtype)


def _slogdet_abstract_eval(a):
    _check_square("slogdet", a)
    return [ShapedArray(a.shape[:-2], a.dtype), ShapedArray(a.shape[:-2], _real_dtype(a.dtype))]


def _cholesky_abstract_eval(a):
    _check_square("cholesky", a)
    return ShapedArray(a.shape, a.dtype)


def _eigh_abstract_eval(a):
    _check_square("eigh", a)
    return [ShapedArray(a.shape[:-1], _real_dtype(a.dtype)), ShapedArray(a.shape, a.dtype)]


# -- implementations ----------------------------------------------------------------
def _hermitian_part(a):
    return (a + np.conj(np.swapaxes(a, -1, -2))) * a.real.dtype.type(0.5)


def _per_matrix(fn, arrays, out_like):
    """fn over each matrix of a batch, NaN where LAPACK fails (JAX does not raise)."""
    batch = arrays[0].shape[:-2]
    outs = [np.empty(o.shape, o.dtype) for o in out_like]
    for idx in np.ndindex(*batch):
        try:
            res = fn(*[x[idx] for x in arrays])
        except np.linalg.LinAlgError:
            for o in outs:
                o[idx] = np.nan
            continue
        res = res if isinstance(res, tuple) else (res,)
        for o, r in zip(outs, res):
            o[idx] = r
    return outs


def _solve_impl(a, b):
    a, b = np.asarray(a), np.asarray(b)
    try:
        out = np.linalg.solve(a, b)
    except np.linalg.LinAlgError:
        out, = _per_matrix(np.linalg.solve, [a, b], [b])
    return out.astype(b.dtype, copy=False)


def _inv_impl(a):
    a = np.asarray(a)
    try:
        out = np.linalg.inv(a)
    except np.linalg.LinAlgError:
        out, = _per_matrix(np.linalg.inv, [a], [a])
    return out.astype(a.dtype, copy=False)


def _det_impl(a):
    a = np.asarray(a)
    return np.asarray(np.linalg.det(a), dtype=a.dtype)


def _cofactor_impl(a):
    """adj(A)^T from A = U S Vh: adj(A) = det(U) det(Vh) Vh^H adj(S) U^H, where
    adj(S) holds the products of all singular values but one (no division, so
    exact for singular matrices)."""
    a = np.asarray(a)
    n = a.shape[-1]
    if n == 0:
        return np.empty(a.shape, a.dtype)
    u, s, vh = np.linalg.svd(a)
    others = np.where(np.eye(n, dtype=bool), 1, s[..., None, :])
    adj_s = np.prod(others, axis=-1)
    phase = np.linalg.det(u) * np.linalg.det(vh)
    out = (np.conj(u) * adj_s[..., None, :]) @ np.conj(vh) * phase[..., None, None]
    return out.astype(a.dtype, copy=False)


def _slogdet_impl(a):
    a = np.asarray(a)
    sign, logabs = np.linalg.slogdet(a)
    return [np.asarray(sign, dtype=a.dtype), np.asarray(logabs, dtype=_real_dtype(a.dtype))]


def _cholesky_impl(a):
    a = _hermitian_part(np.asarray(a))
    try:
        out = np.linalg.cholesky(a)
    except np.linalg.LinAlgError:
        out, = _per_matrix(np.linalg.cholesky, [a], [a])
    return out.astype(a.dtype, copy=False)


def _eigh_impl(a):
    a = _hermitian_part(np.asarray(a))
    w_like = np.empty(a.shape[:-1], _real_dtype(a.dtype))
    try:
        w, v = np.linalg.eigh(a, UPLO="L")
    except np.linalg.LinAlgError:
        w, v = _per_matrix(lambda m: tuple(np.linalg.eigh(m, UPLO="L")), [a], [w_like, a])
    return [w.astype(w_like.dtype, copy=False), v.astype(a.dtype, copy=False)]


for _p, _ae, _impl in ((solve_p, _solve_abstract_eval, _solve_impl),
                       (inv_p, _inv_abstract_eval, _inv_impl),
                       (det_p, _det_abstract_eval, _det_impl),
                       (cofactor_p, _cofactor_abstract_eval, _cofactor_impl),
                       (slogdet_p, _slogdet_abstract_eval, _slogdet_impl),
                       (cholesky_p, _cholesky_abstract_eval, _cholesky_impl),
                       (eigh_p, _eigh_abstract_eval, _eigh_impl)):
    _p.abstract_eval = _ae
    _p.impl = _impl


# -- helpers for the rules (nbad operations, so they trace) --------------------------
def _jnp():
    import nbad.numpy as jnp

    return jnp


def _aval(x):
    from nbad.rules._ad import aval_of

    return aval_of(x)


def _is_complex(x):
    return _aval(x).dtype.kind == "c"


def _mT(x):
    return _jnp().swapaxes(x, -1, -2)


def _conj(x):
    return _jnp().conjugate(x) if _is_complex(x) else x


def _H(x):
    return _conj(_mT(x))


def _mm(a, b):
    return _jnp().matmul(a, b)


def _sym(x):
    """(x + x^H) / 2: the Hermitian part (its own transpose)."""
    return (x + _H(x)) * 0.5


def _expand2(x):
    """A (...) batch of scalars as (..., 1, 1) to scale matrices."""
    return _jnp().expand_dims(x, (-2, -1))


def _tr_inv_dot(a_inv_T, t):
    """tr(A^-1 dA) as sum(A^-T o dA) over the matrix axes."""
    return _jnp().sum(a_inv_T * t, axis=(-2, -1))


def _convert(x, dtype):
    from nbad.numpy._core import convert

    return convert(x, dtype)


# -- solve --------------------------------------------------------------------------
def _solve_jvp(primals, tangents, outs, **params):
    a, b = primals
    ta, tb = tangents
    if ta is None and tb is None:
        return None
    rhs = tb
    if ta is not None:
        term = _mm(ta, outs)
        rhs = -term if rhs is None else rhs - term
    return solve_p.bind(a, rhs)


def _solve_vjp(ct, primals, outs, **params):
    a, b = primals
    if ct is None:
        return [None, None]
    ct_b = solve_p.bind(_mT(a), ct)
    ct_a = -_mm(ct_b, _mT(outs))
    return [ct_a, ct_b]


# -- inv ----------------------------------------------------------------------------
def _inv_jvp(primals, tangents, outs, **params):
    t, = tangents
    if t is None:
        return None
    return -_mm(_mm(outs, t), outs)


def _inv_vjp(ct, primals, outs, **params):
    if ct is None:
        return [None]
    xt = _mT(outs)
    return [-_mm(_mm(xt, ct), xt)]


# -- det and slogdet ----------------------------------------------------------------
def _det_jvp(primals, tangents, outs, **params):
    a, = primals
    t, = tangents
    if t is None:
        return None
    return _jnp().sum(cofactor_p.bind(a) * t, axis=(-2, -1))


def _det_vjp(ct, primals, outs, **params):
    a, = primals
    if ct is None:
        return [None]
    return [_expand2(ct) * cofactor_p.bind(a)]


def _cofactor_jvp(primals, tangents, outs, **params):
    a, = primals
    t, = tangents
    if t is None:
        return None
    a_inv_T = _mT(inv_p.bind(a))
    return _expand2(_tr_inv_dot(a_inv_T, t)) * outs - _mm(_mm(outs, _mT(t)), a_inv_T)


def _cofactor_vjp(ct, primals, outs, **params):
    """The transpose of the jvp: ct -> sum(ct C) A^-T - A^-T ct^T C."""
    a, = primals
    if ct is None:
        return [None]
    a_inv_T = _mT(inv_p.bind(a))
    return [_expand2(_jnp().sum(ct * outs, axis=(-2, -1))) * a_inv_T
            - _mm(_mm(a_inv_T, _mT(ct)), outs)]


def _slogdet_jvp(primals, tangents, outs, **params):
    a, = primals
    t, = tangents
    if t is None:
        return None
    jnp = _jnp()
    tau = _tr_inv_dot(_mT(inv_p.bind(a)), t)
    if not _is_complex(a):
        return [None, tau]
    sign = outs[0]
    return [sign * (jnp.imag(tau) * 1j), jnp.real(tau)]


def _slogdet_vjp(ct, primals, outs, **params):
    a, = primals
    ct_sign, ct_logabs = ct
    jnp = _jnp()
    dtype = _aval(a).dtype
    if _is_complex(a):
        ct_tau = None if ct_logabs is None else _convert(ct_logabs, dtype)
        if ct_sign is not None:
            # transpose of tau -> sign * i * Im(tau)
            term = jnp.real(ct_sign * outs[0] * 1j) * (-1j)
            ct_tau = term if ct_tau is None else ct_tau + term
    else:
        ct_tau = ct_logabs
    if ct_tau is None:
        return [None]
    return [_expand2(ct_tau) * _mT(inv_p.bind(a))]


# -- cholesky -----------------------------------------------------------------------
def _phi_mask(n, dtype):
    """Lower triangle with a halved diagonal, as a constant multiplier."""
    return (np.tril(np.ones((n, n))) - 0.5 * np.eye(n)).astype(_real_dtype(dtype))


def _cholesky_jvp(primals, tangents, outs, **params):
    a, = primals
    t, = tangents
    if t is None:
        return None
    L = outs
    n = _aval(a).shape[-1]
    s = _sym(t)
    y = solve_p.bind(L, s)                 # L^-1 S
    z = _H(solve_p.bind(L, _H(y)))         # L^-1 S L^-H
    return _mm(L, z * _phi_mask(n, _aval(a).dtype))


def _cholesky_vjp(ct, primals, outs, **params):
    a, = primals
    if ct is None:
        return [None]
    L = outs
    n = _aval(a).shape[-1]
    ct_m = _mm(_mT(L), ct) * _phi_mask(n, _aval(a).dtype)
    w = solve_p.bind(_mT(L), ct_m)          # L^-T ct_M
    ct_s = _mT(solve_p.bind(_H(L), _mT(w)))  # L^-T ct_M conj(L)^-1
    return [_sym(ct_s)]


# -- eigh ---------------------------------------------------------------------------
def _eigh_F(w, n):
    """F_ij = 1 / (w_j - w_i) off the diagonal, 0 on it (no division by zero)."""
    jnp = _jnp()
    eye = np.eye(n, dtype=_aval(w).dtype)
    return 1.0 / (eye + jnp.expand_dims(w, -2) - jnp.expand_dims(w, -1)) - eye


def _eigh_jvp(primals, tangents, outs, **params):
    a, = primals
    t, = tangents
    if t is None:
        return None
    jnp = _jnp()
    w, v = outs
    n = _aval(a).shape[-1]
    m = _mm(_mm(_H(v), _sym(t)), v)
    dw = jnp.real(jnp.diagonal(m, 0, -2, -1))
    dv = _mm(v, _eigh_F(w, n) * m)
    return [dw, dv]


def _eigh_vjp(ct, primals, outs, **params):
    a, = primals
    ct_w, ct_v = ct
    if ct_w is None and ct_v is None:
        return [None]
    w, v = outs
    n = _aval(a).shape[-1]
    dtype = _aval(a).dtype
    ct_m = None
    if ct_v is not None:
        ct_m = _eigh_F(w, n) * _mm(_mT(v), ct_v)
    if ct_w is not None:
        diag = _jnp().expand_dims(_convert(ct_w, dtype), -1) * np.eye(n, dtype=dtype)
        ct_m = diag if ct_m is None else ct_m + diag
    ct_s = _mm(_mm(_conj(v), ct_m), _mT(v))
    return [_sym(ct_s)]


for _p, _jvp, _vjp in ((solve_p, _solve_jvp, _solve_vjp),
                       (inv_p, _inv_jvp, _inv_vjp),
                       (det_p, _det_jvp, _det_vjp),
                       (cofactor_p, _cofactor_jvp, _cofactor_vjp),
                       (slogdet_p, _slogdet_jvp, _slogdet_vjp),
                       (cholesky_p, _cholesky_jvp, _cholesky_vjp),
                       (eigh_p, _eigh_jvp, _eigh_vjp)):
    _p.jvp = _jvp
    _p.vjp = _vjp


# -- batching (vmap) ----------------------------------------------------------------
# The primitives already work on stacks of matrices (leading batch dims), so the
# batch axis is one more of them. solve with a shared matrix and a batch of
# right-hand sides factors the matrix once: the batch is folded into the columns,
# b (B, ..., n, k) -> (..., n, B*k), instead of broadcasting a (B LU
# factorisations).
def _unary_vmap(prim):
    def rule(size, args, batched, **params):
        return prim.bind(*args, **params)

    return rule


def _solve_vmap(size, args, batched, **params):
    from nbad.rules._batching import batched_all
    from nbad.rules.shape import reshape_p, transpose_p

    a, b = args
    if batched[0]:
        return solve_p.bind(*batched_all(size, args, batched), **params)
    shape = tuple(_aval(b).shape)              # (B, *batch, n, k)
    nd = len(shape)
    to_cols = tuple(range(1, nd - 1)) + (0, nd - 1)  # (*batch, n, B, k)
    cols = transpose_p.bind(b, permutation=to_cols)
    cols = reshape_p.bind(cols, new_sizes=shape[1:-1] + (size * shape[-1],))
    x = solve_p.bind(a, cols, **params)
    x = reshape_p.bind(x, new_sizes=shape[1:-1] + (size, shape[-1]))
    back = tuple(int(i) for i in np.argsort(to_cols))
    return transpose_p.bind(x, permutation=back)


solve_p.vmap = _solve_vmap
for _p in (inv_p, det_p, cofactor_p, slogdet_p, cholesky_p, eigh_p):
    _p.vmap = _unary_vmap(_p)
del _p
