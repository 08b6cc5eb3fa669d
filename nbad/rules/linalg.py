"""Linear-algebra primitives: dot_general.

dot_general is a "library" primitive: the compiled CPU program calls its
impl directly between fused kernels, so the impl *is* the run-time path. It
therefore routes the shapes programs actually use (vector·vector,
matrix·vector, matrix·matrix, their transposed forms, batched matmul) straight
to np.dot / np.matmul on zero-copy transposed views, which BLAS consumes
without copying. Only exotic dimension numbers pay for a general
transpose + reshape + matmul.

    dimension_numbers = ((lhs_contracting, rhs_contracting), (lhs_batch, rhs_batch))

Result dimensions are ordered as in lax.dot_general: batch, lhs free, rhs free.
Both operands share one dtype (nbad.numpy promotes first); integer and bool
dtypes compute through NumPy.

Derivatives (end of file): the jvp is dot_general(t_lhs, rhs) +
dot_general(lhs, t_rhs); each operand's vjp is one dot_general of the
cotangent with the other operand and a transpose back to the operand's axis
order, as JAX's _dot_general_transpose_lhs/rhs. Integer operands get none.
solve, inv, det, slogdet, cholesky and eigh live in linalg_decomp.py.
"""
from __future__ import annotations

import numpy as np

from nbad.core.avals import ShapedArray
from nbad.core.primitive import Primitive
from nbad.errors import NbadTypeError, NbadValueError, ShapeError

dot_general_p = Primitive("dot_general", kind="library")


def _free_dims(ndim, *used):
    taken = set(d for dims in used for d in dims)
    return tuple(d for d in range(ndim) if d not in taken)


def _check_dims(side, aval, dims, what):
    if len(set(dims)) != len(dims) or any(not 0 <= d < aval.ndim for d in dims):
        raise NbadValueError(
            f"dot_general: {side} {what} dimensions {tuple(dims)} are invalid for an operand "
            f"of shape {aval.shape}: they must be distinct axes in range(0, {aval.ndim})."
        )


def _dot_general_abstract_eval(lhs, rhs, *, dimension_numbers):
    (lc, rc), (lb, rb) = dimension_numbers
    if lhs.dtype != rhs.dtype:
        raise NbadTypeError(
            f"dot_general requires operands of one dtype, got {lhs.str_short()} and "
            f"{rhs.str_short()}. nbad.numpy.matmul/dot promote dtypes; the primitive does not."
        )
    for side, aval, c, b in (("lhs", lhs, lc, lb), ("rhs", rhs, rc, rb)):
        _check_dims(side, aval, c, "contracting")
        _check_dims(side, aval, b, "batch")
        if set(c) & set(b):
            raise NbadValueError(f"dot_general: {side} dimensions {tuple(set(c) & set(b))} "
                                 "are both contracting and batch dimensions")
    if len(lc) != len(rc) or len(lb) != len(rb):
        raise NbadValueError(
            f"dot_general: lhs and rhs need as many contracting (got {lc} vs {rc}) and batch "
            f"(got {lb} vs {rb}) dimensions as each other")
    for what, ld, rd in (("contracting", lc, rc), ("batch", lb, rb)):
        lsizes = tuple(lhs.shape[d] for d in ld)
        rsizes = tuple(rhs.shape[d] for d in rd)
        if lsizes != rsizes:
            raise ShapeError(
                f"dot_general: {what} dimensions of lhs {lhs.shape} (axes {tuple(ld)}, sizes "
                f"{lsizes}) and rhs {rhs.shape} (axes {tuple(rd)}, sizes {rsizes}) differ. "
                "The contracted (or batch) axes of both operands must have equal sizes; "
                "transpose or reshape one operand so they match.")
    shape = (tuple(lhs.shape[d] for d in lb)
             + tuple(lhs.shape[d] for d in _free_dims(lhs.ndim, lc, lb))
             + tuple(rhs.shape[d] for d in _free_dims(rhs.ndim, rc, rb)))
    return ShapedArray(shape, lhs.dtype, lhs.weak_type and rhs.weak_type)


def _as_rows(x, contract_dim):
    """A <=2-D operand with its contracted axis last (a view, no copy)."""
    return x.T if x.ndim == 2 and contract_dim == 0 else x


def _as_cols(x, contract_dim):
    """A <=2-D operand with its contracted axis first (a view, no copy)."""
    return x.T if x.ndim == 2 and contract_dim == 1 else x


def _matmul_general(lhs, rhs, lc, rc, lb, rb):
    """Any dot_general as one batched matmul: (B, M, K) @ (B, K, N)."""
    lf = _free_dims(lhs.ndim, lc, lb)
    rf = _free_dims(rhs.ndim, rc, rb)
    batch = tuple(lhs.shape[d] for d in lb)
    lfree = tuple(lhs.shape[d] for d in lf)
    rfree = tuple(rhs.shape[d] for d in rf)
    k = int(np.prod([lhs.shape[d] for d in lc], dtype=np.int64))
    b = int(np.prod(batch, dtype=np.int64))
    m = int(np.prod(lfree, dtype=np.int64))
    n = int(np.prod(rfree, dtype=np.int64))
    a = lhs.transpose(lb + lf + lc).reshape(b, m, k)
    c = rhs.transpose(rb + rc + rf).reshape(b, k, n)
    return np.matmul(a, c).reshape(batch + lfree + rfree)


def _batched_matmul(lhs, rhs, lc, rc, nb):
    """Leading batch dims, one contraction, at most one free dim per side:
    np.matmul on views (swapped axes / inserted unit axes) copies nothing."""
    a = lhs[..., None, :] if lhs.ndim == nb + 1 else lhs
    if lhs.ndim == nb + 2 and lc == nb:
        a = np.swapaxes(a, -1, -2)
    c = rhs[..., None] if rhs.ndim == nb + 1 else rhs
    if rhs.ndim == nb + 2 and rc == nb + 1:
        c = np.swapaxes(c, -1, -2)
    out = np.matmul(a, c)
    if rhs.ndim == nb + 1:
        out = out[..., 0]
    if lhs.ndim == nb + 1:
        out = out[..., 0, :] if rhs.ndim == nb + 2 else out[..., 0]
    return out


def _dot_general_impl(lhs, rhs, *, dimension_numbers):
    (lc, rc), (lb, rb) = dimension_numbers
    lhs, rhs = np.asarray(lhs), np.asarray(rhs)
    lc, rc, lb, rb = tuple(lc), tuple(rc), tuple(lb), tuple(rb)
    nb = len(lb)
    if not lb and len(lc) == 1 and lhs.ndim <= 2 and rhs.ndim <= 2:
        # vector/matrix products in any transposition: BLAS dot/gemv/gemm.
        out = np.dot(_as_rows(lhs, lc[0]), _as_cols(rhs, rc[0]))
    elif not lb and not lc:
        out = np.multiply.outer(lhs, rhs)
    elif (lb == rb == tuple(range(nb)) and len(lc) == 1
          and lhs.ndim - nb in (1, 2) and rhs.ndim - nb in (1, 2)):
        out = _batched_matmul(lhs, rhs, lc[0], rc[0], nb)
    else:
        out = _matmul_general(lhs, rhs, lc, rc, lb, rb)
    return out if out.dtype == lhs.dtype else np.asarray(out, dtype=lhs.dtype)


dot_general_p.abstract_eval = _dot_general_abstract_eval
dot_general_p.impl = _dot_general_impl


# -- derivatives ------------------------------------------------------------------
# dot_general is bilinear: the jvp applies it to each tangent with the other
# operand; the vjp of each operand contracts the cotangent with the other
# operand over the other's free dims and transposes the result back to the
# operand's axis order (JAX's _dot_general_transpose_lhs/rhs).
def _ranges_like(*xs):
    start = 0
    for x in xs:
        yield tuple(range(start, start + len(x)))
        start += len(x)


def _aval(x):
    from nbad.rules._ad import aval_of

    return aval_of(x)


def _dot_general_transpose_lhs(ct, x_aval, y, dimension_numbers, swap_ans=False):
    """Cotangent of the lhs `x` of dot_general(x, y) (of rhs when swap_ans)."""
    import nbad.numpy as jnp

    (x_contract, y_contract), (x_batch, y_batch) = dimension_numbers
    y_ndim = _aval(y).ndim
    x_kept = _free_dims(x_aval.ndim, x_contract, x_batch)
    y_kept = _free_dims(y_ndim, y_contract, y_batch)
    if swap_ans:
        ans_batch, ans_y, _ = _ranges_like(x_batch, y_kept, x_kept)
    else:
        ans_batch, _, ans_y = _ranges_like(x_batch, x_kept, y_kept)
    dims = ((ans_y, y_kept), (ans_batch, tuple(y_batch)))
    # The product's dims: batch, ct's remaining (x_kept), y's remaining (the
    # contracted dims of y in increasing order, i.e. x_contract sorted by y).
    x_contract_sorted_by_y = [x_contract[i] for i in np.argsort(y_contract, kind="stable")]
    out_axes = np.argsort(list(x_batch) + list(x_kept) + x_contract_sorted_by_y)
    prod = dot_general_p.bind(ct, y, dimension_numbers=dims)
    return jnp.transpose(prod, tuple(int(a) for a in out_axes))


def _normalized_dims(dimension_numbers):
    (lc, rc), (lb, rb) = dimension_numbers
    return (tuple(lc), tuple(rc)), (tuple(lb), tuple(rb))


def _dot_general_jvp(primals, tangents, outs, *, dimension_numbers):
    lhs, rhs = primals
    t_lhs, t_rhs = tangents
    if _aval(lhs).dtype.kind not in "fc":
        return None
    total = None
    if t_lhs is not None:
        total = dot_general_p.bind(t_lhs, rhs, dimension_numbers=dimension_numbers)
    if t_rhs is not None:
        term = dot_general_p.bind(lhs, t_rhs, dimension_numbers=dimension_numbers)
        total = term if total is None else total + term
    return total


def _dot_general_vjp(ct, primals, outs, *, dimension_numbers):
    lhs, rhs = primals
    if ct is None or _aval(lhs).dtype.kind not in "fc":
        return [None, None]
    dims = _normalized_dims(dimension_numbers)
    (lc, rc), (lb, rb) = dims
    ct_lhs = _dot_general_transpose_lhs(ct, _aval(lhs), rhs, dims)
    ct_rhs = _dot_general_transpose_lhs(ct, _aval(rhs), lhs, ((rc, lc), (rb, lb)),
                                        swap_ans=True)
    return [ct_lhs, ct_rhs]


dot_general_p.jvp = _dot_general_jvp
dot_general_p.vjp = _dot_general_vjp


# -- batching (vmap) ----------------------------------------------------------------
# The batch axis becomes a dot_general batch dimension when both operands carry
# it, and a free dimension of the one operand that does otherwise. The free-dim
# form is what turns a batch of matrix-vector products with a shared matrix into
# ONE matrix-matrix product (BLAS gemm): W @ x over x of shape (B, n) is
# dot_general(x_b, W) contracting x_b's axis 1 with W's axis 1, which is (B, m)
# directly. The output layout is batch dims, lhs free, rhs free; operands are
# ordered so that the new batch axis comes out first whenever possible, and
# otherwise the *result* is transposed (never an operand).
def _shift(dims, by=1):
    return tuple(int(d) + by for d in dims)


def _dot_general_vmap(size, args, batched, *, dimension_numbers, **params):
    """Other params (none today) are passed through unchanged."""
    from nbad.core.trace import bind
    from nbad.rules._batching import moveaxis

    lhs, rhs = args
    lb_, rb_ = batched
    (lc, rc), (lb, rb) = _normalized_dims(dimension_numbers)
    nb = len(lb)
    if lb_ and rb_:
        dims = ((_shift(lc), _shift(rc)), ((0,) + _shift(lb), (0,) + _shift(rb)))
        return bind(dot_general_p, lhs, rhs, dimension_numbers=dims, **params)
    if lb_:
        # batch axis = first lhs free dim: out (batch dims, B, lhs free, rhs free)
        dims = ((_shift(lc), rc), (_shift(lb), rb))
        return moveaxis(bind(dot_general_p, lhs, rhs, dimension_numbers=dims, **params), nb, 0)
    # Only rhs batched. As written, out = (batch dims, lhs free, B, rhs free);
    # with the operands swapped, out = (batch dims, B, rhs free, lhs free). The
    # swapped form needs no transpose when there are no batch dims and one of the
    # two free groups is empty (W @ x: rhs has no other free dim).
    l_free = len(_free_dims(_aval(lhs).ndim, lc, lb))
    r_free = len(_free_dims(_aval(rhs).ndim - 1, rc, rb))
    if nb == 0 and l_free and not r_free:
        dims = ((_shift(rc), lc), (_shift(rb), lb))
        return bind(dot_general_p, rhs, lhs, dimension_numbers=dims, **params)
    dims = ((lc, _shift(rc)), (lb, _shift(rb)))
    return moveaxis(bind(dot_general_p, lhs, rhs, dimension_numbers=dims, **params), nb + l_free, 0)


dot_general_p.vmap = _dot_general_vmap
