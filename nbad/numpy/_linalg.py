"""Products and diagonals: dot, matmul, vdot, inner, outer, tensordot, einsum,
trace, diag, diagonal, kron.

Every product lowers to one dot_general (plus free views: reshape, transpose,
broadcast), so the compiled program makes one BLAS call per product. einsum
is built in small steps at the end of the file: parse, take diagonals of
repeated labels, sum labels nobody needs, then contract operands pairwise.
Diagonals are strided slices of the flattened pair of axes (no gather, no
index arrays), so their derivatives are pads.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from nbad.core.trace import bind
from nbad.errors import NbadValueError, ShapeError
from nbad.numpy import _elementwise as _ew
from nbad.numpy import _reductions
from nbad.numpy._core import as_operand, broadcast_to, convert, dtype_of, promote_dtypes, shape_of
from nbad.rules.linalg import dot_general_p
from nbad.rules.reduce import reduce_sum_p
from nbad.rules.shape import pad_p, reshape_p, slice_p, transpose_p

__all__ = ["dot", "matmul", "vdot", "inner", "outer", "tensordot", "einsum", "trace", "diag",
           "diagonal", "kron"]


# -- views and the product primitive ------------------------------------------------
def _reshape(x, shape):
    shape = tuple(shape)
    return x if shape_of(x) == shape else bind(reshape_p, x, new_sizes=shape)


def _transpose(x, perm):
    perm = tuple(perm)
    return x if perm == tuple(range(len(perm))) else bind(transpose_p, x, permutation=perm)


def _sum(x, axes):
    axes = tuple(sorted(axes))
    return bind(reduce_sum_p, x, axes=axes) if axes else x


def _promoted(*xs):
    """Operands converted to their common NumPy dtype."""
    xs = [as_operand(x) for x in xs]
    dtype, _ = promote_dtypes(*xs)
    return [convert(x, dtype) for x in xs]


def _dot_general(a, b, contract=((), ()), batch=((), ())):
    dims = ((tuple(contract[0]), tuple(contract[1])), (tuple(batch[0]), tuple(batch[1])))
    return bind(dot_general_p, a, b, dimension_numbers=dims)


def _check_contract(fn, a, b, a_axis, b_axis):
    sa, sb = shape_of(a), shape_of(b)
    if sa[a_axis] != sb[b_axis]:
        raise ShapeError(
            f"{fn}: shapes {sa} and {sb} are not aligned: axis {a_axis % len(sa)} of the first "
            f"(size {sa[a_axis]}) must equal axis {b_axis % len(sb)} of the second "
            f"(size {sb[b_axis]}).")


# -- products ---------------------------------------------------------------------
def _accepts_precision(product):
    """JAX's keywords of the products: precision (lax.Precision; nbad always computes
    in the operands' dtype) and preferred_element_type (the result's dtype)."""

    @functools.wraps(product)
    def wrapped(*args, precision=None, preferred_element_type=None, out_sharding=None, **kwargs):
        out = product(*args, **kwargs)
        return out if preferred_element_type is None else convert(out, np.dtype(preferred_element_type))

    return wrapped


@_accepts_precision
def matmul(a, b, /):
    """NumPy's matmul: batch dims broadcast, 1-D operands gain and lose a unit axis."""
    a, b = _promoted(a, b)
    na, nb = len(shape_of(a)), len(shape_of(b))
    if na == 0 or nb == 0:
        raise ShapeError(f"matmul: operands must be at least 1-D, got shapes {shape_of(a)} and "
                         f"{shape_of(b)}; use multiply (the * operator) for scalars.")
    _check_contract("matmul", a, b, -1, 0 if nb == 1 else -2)
    if nb <= 2:
        # A stack of matrices times one matrix/vector is a plain product: no batch dims.
        return _dot_general(a, b, ((na - 1,), (max(nb - 2, 0),)))
    if na <= 2:
        # One matrix/vector times a stack: contract, then move the stack axes first.
        out = _dot_general(a, b, ((na - 1,), (nb - 2,)))
        lead, nbatch = na - 1, nb - 2
        perm = tuple(range(lead, lead + nbatch)) + tuple(range(lead)) + (lead + nbatch,)
        return _transpose(out, perm)
    try:
        batch = tuple(np.broadcast_shapes(shape_of(a)[:-2], shape_of(b)[:-2]))
    except ValueError:
        raise ShapeError(
            f"matmul: the batch dimensions {shape_of(a)[:-2]} and {shape_of(b)[:-2]} of operands of "
            f"shapes {shape_of(a)} and {shape_of(b)} do not broadcast together") from None
    a = broadcast_to(a, batch + shape_of(a)[-2:])
    b = broadcast_to(b, batch + shape_of(b)[-2:])
    nbatch = len(batch)
    return _dot_general(a, b, ((nbatch + 1,), (nbatch,)), (tuple(range(nbatch)),) * 2)


@_accepts_precision
def dot(a, b, /):
    """NumPy's dot: scalars multiply; otherwise contract a's last axis with b's
    second-to-last (its only one if b is 1-D)."""
    a, b = _promoted(a, b)
    na, nb = len(shape_of(a)), len(shape_of(b))
    if na == 0 or nb == 0:
        return _ew.multiply(a, b)
    b_axis = 0 if nb == 1 else nb - 2
    _check_contract("dot", a, b, -1, b_axis)
    return _dot_general(a, b, ((na - 1,), (b_axis,)))


def _conj(x):
    return _ew.conjugate(x) if dtype_of(x).kind == "c" else x


@_accepts_precision
def vdot(a, b, /):
    """Dot product of the flattened operands, conjugating the first."""
    a, b = _promoted(a, b)
    a, b = _reshape(a, (math.prod(shape_of(a)),)), _reshape(b, (math.prod(shape_of(b)),))
    _check_contract("vdot", a, b, 0, 0)
    return _dot_general(_conj(a), b, ((0,), (0,)))


@_accepts_precision
def inner(a, b, /):
    """Contract the last axes of both operands."""
    a, b = _promoted(a, b)
    na, nb = len(shape_of(a)), len(shape_of(b))
    if na == 0 or nb == 0:
        return _ew.multiply(a, b)
    _check_contract("inner", a, b, -1, -1)
    return _dot_general(a, b, ((na - 1,), (nb - 1,)))


def outer(a, b, /):
    a, b = _promoted(a, b)
    a, b = _reshape(a, (math.prod(shape_of(a)),)), _reshape(b, (math.prod(shape_of(b)),))
    return _dot_general(a, b)


@_accepts_precision
def tensordot(a, b, axes=2):
    """axes: N (a's last N with b's first N) or a pair of axis sequences/ints."""
    a, b = _promoted(a, b)
    na, nb = len(shape_of(a)), len(shape_of(b))
    if isinstance(axes, int):
        if not 0 <= axes <= min(na, nb):
            raise NbadValueError(f"tensordot: axes={axes} must be between 0 and "
                                 f"{min(na, nb)} for shapes {shape_of(a)} and {shape_of(b)}")
        a_axes, b_axes = tuple(range(na - axes, na)), tuple(range(axes))
    else:
        try:
            a_axes, b_axes = (tuple(np.atleast_1d(ax).tolist()) for ax in axes)
        except (TypeError, ValueError):
            raise NbadValueError(f"tensordot: axes must be an int or a pair of axis sequences, "
                                 f"got {axes!r}") from None
        if len(a_axes) != len(b_axes):
            raise NbadValueError(f"tensordot: axes {axes!r} name {len(a_axes)} axes of the "
                                 f"first operand but {len(b_axes)} of the second")
        a_axes = tuple(ax % na for ax in a_axes)
        b_axes = tuple(ax % nb for ax in b_axes)
    for ax, bx in zip(a_axes, b_axes):
        _check_contract("tensordot", a, b, ax, bx)
    return _dot_general(a, b, (a_axes, b_axes))


def kron(a, b, /):
    """Kronecker product: interleave unit axes, multiply (broadcast), merge pairs."""
    a, b = _promoted(a, b)
    ndim = max(len(shape_of(a)), len(shape_of(b)))
    sa = (1,) * (ndim - len(shape_of(a))) + shape_of(a)
    sb = (1,) * (ndim - len(shape_of(b))) + shape_of(b)
    a = _reshape(a, [d for n in sa for d in (n, 1)])
    b = _reshape(b, [d for n in sb for d in (1, n)])
    return _reshape(_ew.multiply(a, b), [m * n for m, n in zip(sa, sb)])


# -- diagonals --------------------------------------------------------------------
def _diag_length(rows, cols, offset):
    return max(0, min(rows, cols - offset) if offset >= 0 else min(rows + offset, cols))


def diagonal(a, offset=0, axis1=0, axis2=1):
    """NumPy's diagonal: the (axis1, axis2) diagonal becomes the last axis.
    Computed as a stride-(cols+1) slice of the flattened pair of axes."""
    a = as_operand(a)
    shape = shape_of(a)
    ndim = len(shape)
    if ndim < 2:
        raise NbadValueError(f"diagonal: input must be at least 2-D, got shape {shape}")
    ax1, ax2 = axis1 % ndim, axis2 % ndim
    if ax1 == ax2:
        raise NbadValueError(f"diagonal: axis1 and axis2 must differ, got {axis1} and {axis2}")
    rest = [d for d in range(ndim) if d not in (ax1, ax2)]
    a = _transpose(a, rest + [ax1, ax2])
    rows, cols = shape[ax1], shape[ax2]
    batch = tuple(shape[d] for d in rest)
    flat = _reshape(a, batch + (rows * cols,))
    length = _diag_length(rows, cols, offset)
    start = (offset if offset >= 0 else -offset * cols) if length else 0
    stop = start + (length - 1) * (cols + 1) + 1 if length else 0
    return bind(slice_p, flat, start_indices=(0,) * len(batch) + (start,),
                limit_indices=batch + (stop,), strides=(1,) * len(batch) + (cols + 1,))


def trace(a, offset=0, axis1=0, axis2=1, dtype=None):
    """Sum of the diagonal, with np.sum's accumulator dtype (int32 -> int64)."""
    return _reductions.sum(diagonal(a, offset, axis1, axis2), axis=-1, dtype=dtype)


def diag(v, k=0):
    """1-D: a matrix with v on the k-th diagonal (one pad with interior
    padding, then a reshape); 2-D: its k-th diagonal."""
    v = as_operand(v)
    shape = shape_of(v)
    if len(shape) == 2:
        return diagonal(v, k)
    if len(shape) != 1:
        raise NbadValueError(f"diag: input must be 1-D or 2-D, got shape {shape}")
    length = shape[0]
    n = length + abs(k)
    start = k if k >= 0 else -k * n
    if length == 0:
        return broadcast_to(np.zeros((), dtype_of(v)), (n, n))
    end = n * n - start - length - (length - 1) * n
    flat = bind(pad_p, v, np.zeros((), dtype_of(v))[()], padding_config=((start, end, n),))
    return _reshape(flat, (n, n))



# -- einsum -----------------------------------------------------------------------
# Ellipsis dims get private labels (characters no subscript can contain),
# aligned to the right as NumPy broadcasts them.
_ELLIPSIS_LABELS = [chr(0x2460 + i) for i in range(32)]


def _parse_einsum(subscripts, shapes):
    """Per-operand label lists and the output label list."""
    text = subscripts.replace(" ", "")
    inputs, arrow, output = text.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(shapes):
        raise NbadValueError(f"einsum: subscripts {subscripts!r} name {len(terms)} operands, "
                             f"got {len(shapes)}")
    bad = set(text) - set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.,->")
    if bad:
        raise NbadValueError(f"einsum: invalid characters {sorted(bad)} in {subscripts!r}: "
                             "labels are letters, with '...' for broadcast dimensions")
    ell_ranks = [len(s) - (len(t) - 3) if "..." in t else 0 for t, s in zip(terms, shapes)]
    ell_rank = max(ell_ranks, default=0)
    labels = []
    for term, shape, n_ell in zip(terms, shapes, ell_ranks):
        ell = "".join(_ELLIPSIS_LABELS[ell_rank - n_ell:ell_rank])
        term_labels = list(term.replace("...", ell))
        if len(term_labels) != len(shape) or n_ell < 0:
            raise ShapeError(f"einsum: term {term!r} of {subscripts!r} does not match an operand "
                             f"of shape {shape} ({len(shape)} dimensions)")
        labels.append(term_labels)
    all_ell = "".join(_ELLIPSIS_LABELS[:ell_rank])
    if arrow:
        out = list(output.replace("...", all_ell))
    else:
        counts = {}
        for term_labels in labels:
            for lab in term_labels:
                counts[lab] = counts.get(lab, 0) + 1
        out = list(all_ell) + sorted(lab for lab, c in counts.items()
                                     if c == 1 and lab not in all_ell)
    missing = set(out) - {lab for term_labels in labels for lab in term_labels}
    if missing or len(set(out)) != len(out):
        raise NbadValueError(f"einsum: output labels of {subscripts!r} must be distinct and "
                             "appear in some input")
    return labels, out


def _label_sizes(subscripts, labels, operands):
    sizes = {}
    for term_labels, x in zip(labels, operands):
        for lab, n in zip(term_labels, shape_of(x)):
            if sizes.get(lab, 1) not in (1, n) and n != 1:
                raise ShapeError(
                    f"einsum {subscripts!r}: label {lab!r} has sizes {sizes[lab]} and {n} in "
                    f"operands of shapes {[shape_of(o) for o in operands]}")
            sizes[lab] = max(sizes.get(lab, 1), n)
    return sizes


def _drop_broadcast_dims(x, labels, sizes):
    """Size-1 dims that broadcast against a larger size: the operand is
    constant along them, so dropping the label is broadcasting."""
    keep = [i for i, lab in enumerate(labels) if shape_of(x)[i] == sizes[lab]]
    return _reshape(x, [shape_of(x)[i] for i in keep]), [labels[i] for i in keep]


def _take_diagonals(x, labels):
    """A label repeated within one operand selects its diagonal ('ii->i')."""
    while len(set(labels)) != len(labels):
        lab = next(lab for lab in labels if labels.count(lab) > 1)
        i = labels.index(lab)
        j = labels.index(lab, i + 1)
        x = diagonal(x, 0, i, j)
        labels = [m for k, m in enumerate(labels) if k not in (i, j)] + [lab]
    return x, labels


def _contract_pair(x, xl, y, yl, needed):
    """One dot_general: shared labels still needed are batch dims, the other
    shared labels are contracted."""
    shared = [lab for lab in xl if lab in yl]
    batch = [lab for lab in shared if lab in needed]
    contract = [lab for lab in shared if lab not in needed]
    out = _dot_general(x, y, ([xl.index(c) for c in contract], [yl.index(c) for c in contract]),
                       ([xl.index(b) for b in batch], [yl.index(b) for b in batch]))
    return out, batch + [lab for lab in xl if lab not in yl] + [lab for lab in yl if lab not in xl]


def einsum(subscripts, /, *operands, optimize="optimal", precision=None,
           preferred_element_type=None):
    """Einstein summation as dot_generals, diagonals, sums and one transpose.
    Operands are contracted left to right; `optimize` and `precision` are
    accepted for compatibility with jax.numpy.einsum."""
    if not isinstance(subscripts, str):
        raise NbadValueError("einsum: only the subscripts-string form is supported, e.g. "
                             "einsum('ij,jk->ik', a, b)")
    operands = _promoted(*operands)
    labels, out = _parse_einsum(subscripts, [shape_of(x) for x in operands])
    sizes = _label_sizes(subscripts, labels, operands)
    terms = []
    for x, term_labels in zip(operands, labels):
        x, term_labels = _drop_broadcast_dims(x, term_labels, sizes)
        terms.append(list(_take_diagonals(x, term_labels)))
    for k, (x, term_labels) in enumerate(terms):
        others = set(out).union(*[set(t[1]) for i, t in enumerate(terms) if i != k])
        unused = [i for i, lab in enumerate(term_labels) if lab not in others]
        terms[k] = [_sum(x, unused), [lab for lab in term_labels if lab in others]]
    x, xl = terms[0]
    for k in range(1, len(terms)):
        needed = set(out).union(*[set(t[1]) for t in terms[k + 1:]])
        x, xl = _contract_pair(x, xl, terms[k][0], terms[k][1], needed)
    result = _transpose(x, [xl.index(lab) for lab in out])
    if preferred_element_type is not None:
        result = convert(result, preferred_element_type)
    return result
