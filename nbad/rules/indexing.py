"""Indexing primitives: gather, scatter_add, scatter (set/mul/min/max),
dynamic_slice and dynamic_update_slice, each followed by its derivative rules
(rules/_ad.py). Split from rules/shape.py, which re-exports every name here.

gather, scatter_add, scatter-set, dynamic_slice and dynamic_update_slice are
linear in their array operands (index operands get None cotangents);
scatter-mul/min/max have their own rules.
"""
from __future__ import annotations

import numpy as np

from nbad.core.primitive import Primitive
from nbad.core.trace import Tracer, bind, bind_nullary
from nbad.errors import NbadTypeError, NbadValueError, ShapeError
from nbad.rules._ad import aval_of
from nbad.rules._batching import (batch_index, batched_all, moveaxis, per_example_shape,
                                  permute, shift_axes, spread_batch)


def _jnp():
    import nbad.numpy as jnp

    return jnp


def _deflinear_indexed(prim, transpose, n_linear):
    """Linear in its first `n_linear` operands; the rest (indices) pass through."""

    def jvp(primals, tangents, outs, **params):
        if all(t is None for t in tangents[:n_linear]):
            return None
        filled = [_jnp().zeros_like(p) if t is None else t
                  for p, t in zip(primals[:n_linear], tangents[:n_linear])]
        return bind(prim, *filled, *primals[n_linear:], **params)

    prim.jvp = jvp
    prim.vjp = transpose
    return prim


def _shape_helpers():
    from nbad.rules import shape

    return shape


def _diff(x):
    return aval_of(x).dtype.kind in "fc"


def _zeros(shape, dtype):
    return _shape_helpers()._zeros(shape, dtype)


def _gather(x, indices, axes):
    return bind(gather_p, x, *indices, axes=axes)


def _where(mask, x):
    """x where mask, else 0 of x's dtype (mask None: everywhere)."""
    if mask is None:
        return x
    return _jnp().where(mask, x, np.zeros((), aval_of(x).dtype))


# -- gather, scatter_add, scatter ---------------------------------------------
# gather(operand, *indices, axes) is NumPy advanced indexing along adjacent
# `axes` by integer index arrays of one shape B (nbad.numpy broadcasts them):
#     out = operand[:, ..., :, indices[0], ..., indices[k-1], :, ...]
# with shape operand.shape[:axes[0]] + B + operand.shape[axes[-1]+1:] (NumPy puts
# the indexed dims where the first indexed axis was). Out-of-bounds indices are
# clamped to [0, size-1] as JAX's gather does; negative indices are *not*
# wrapped here (nbad.numpy adds the axis size first, as NumPy's rule says).
#
# scatter_add(operand, updates, *indices, axes, oob) adds `updates` (shaped like
# gather's result) into a copy of operand, summing duplicates: the transpose of
# gather. scatter(..., combine) writes them with combine in set/mul/min/max
# (.at[].set/.multiply/.min/.max). oob="clip" clamps indices like gather (the
# transpose of gather needs exactly that); oob="drop" skips out-of-bounds
# updates, JAX's default for .at[] updates.
gather_p = Primitive("gather")
scatter_add_p = Primitive("scatter_add")
scatter_p = Primitive("scatter")


def _gather_shape(name, x, indices, axes):
    """Validate operand/index avals; the shape of the gathered result."""
    k = len(indices)
    if k == 0 or len(axes) != k or list(axes) != list(range(axes[0], axes[0] + k)) \
            or not 0 <= axes[0] <= x.ndim - k:
        raise NbadValueError(f"{name}: axes={axes} must be {k} adjacent increasing axes of "
                             f"the operand {x.str_short()}, one per index array")
    idx_shape = indices[0].shape
    for i in indices:
        if i.dtype.kind not in "iu":
            raise NbadTypeError(f"{name}: index arrays must have an integer dtype, got "
                                f"{i.str_short()}")
        if i.shape != idx_shape:
            raise ShapeError(f"{name}: index arrays must share one shape, got "
                             + ", ".join(j.str_short() for j in indices))
    size = 1
    for d in idx_shape:
        size *= d
    if size and any(x.shape[a] == 0 for a in axes):
        raise ShapeError(f"{name}: cannot index the empty axes {axes} of {x.str_short()}")
    return x.shape[:axes[0]] + idx_shape + x.shape[axes[0] + k:]


def _gather_abstract_eval(x, *indices, axes):
    return x.update(shape=_gather_shape("gather", x, indices, axes))


def _clamped(x, indices, axes):
    return tuple(np.clip(np.asarray(i), 0, max(x.shape[a] - 1, 0)) for i, a in zip(indices, axes))


def _gather_impl(x, *indices, axes):
    x = np.asarray(x)
    return x[(slice(None),) * axes[0] + _clamped(x, indices, axes)]


gather_p.abstract_eval = _gather_abstract_eval
gather_p.impl = _gather_impl


def _gather_transpose(ct, primals, outs, *, axes):
    """scatter_add into zeros; oob="clip" clamps exactly as gather did."""
    x, *indices = primals
    if not _diff(x):
        return [None] * len(primals)
    a = aval_of(x)
    zeros = _zeros(a.shape, a.dtype)
    return [bind(scatter_add_p, zeros, ct, *indices, axes=axes, oob="clip")] + [None] * len(indices)


_deflinear_indexed(gather_p, _gather_transpose, 1)


# Batching gather/scatter. Shared indices: the batch is one more leading axis
# of the operand that is not indexed (axes shift by one). Batched indices
# (shared ones broadcast, so all are (size,) + B): with a shared operand the
# batch is one more index dim (gather's result has it where axes[0] was);
# with a batched operand, the indexed axes are moved next to the batch axis and
# the batch axis is indexed too, by the example number (batch_index), so
# example i only reads (writes) its own slice; the result's axes are put back.
def _indexed_first(axes, ndim):
    """The permutation of a batched rank-`ndim` operand (per-example rank) that
    puts the batch axis, then the indexed `axes`, first."""
    rest = tuple(1 + d for d in range(ndim) if d not in axes)
    return (0,) + tuple(1 + a for a in axes) + rest


def _batched_indices(size, indices, batched):
    """All index arrays with the batch axis, plus the batch index over their shape."""
    indices = batched_all(size, indices, batched)
    shape = aval_of(indices[0]).shape[1:]
    return [batch_index(size, shape)] + indices, len(shape)


def _gather_vmap(size, args, batched, *, axes):
    x, *indices = args
    axes = tuple(axes)
    if not any(batched[1:]):
        return bind(gather_p, x, *indices, axes=shift_axes(axes))
    if not batched[0]:
        out = bind(gather_p, x, *batched_all(size, indices, batched[1:]), axes=axes)
        return moveaxis(out, axes[0], 0)
    ndim, lead, k = aval_of(x).ndim - 1, axes[0], len(axes)
    indices, nb = _batched_indices(size, indices, batched[1:])
    out = bind(gather_p, permute(x, _indexed_first(axes, ndim)), *indices,
               axes=tuple(range(k + 1)))
    # out: (size,) + B + x.shape[:lead] + x.shape[lead+k:]; B goes back after x.shape[:lead]
    rank = aval_of(out).ndim
    return permute(out, (0,) + tuple(range(1 + nb, 1 + nb + lead)) + tuple(range(1, 1 + nb))
                   + tuple(range(1 + nb + lead, rank)))


gather_p.vmap = _gather_vmap


def _scatter_abstract_eval(name):
    def abstract_eval(x, updates, *indices, axes, oob, **params):
        shape = _gather_shape(name, x, indices, axes)
        if updates.shape != shape or updates.dtype != x.dtype:
            raise ShapeError(f"{name}: updates must have the gathered shape and the operand's "
                             f"dtype {x.dtype.name}{list(shape)}, got {updates.str_short()}")
        if oob not in ("clip", "drop"):
            raise NbadValueError(f"{name}: oob must be 'clip' or 'drop', got {oob!r}")
        return x.update(weak_type=x.weak_type and updates.weak_type)

    return abstract_eval


def _scatter_targets(x, updates, indices, axes, oob):
    """(index tuple, updates) with the index dims flattened and `oob` applied."""
    lead = axes[0]
    flat = [np.asarray(i).reshape(-1) for i in indices]
    upd = np.asarray(updates)
    upd = upd.reshape(upd.shape[:lead] + (flat[0].size,) + upd.shape[lead + np.ndim(indices[0]):])
    if oob == "clip":
        flat = _clamped(x, flat, axes)
    else:
        keep = np.logical_and.reduce([(i >= 0) & (i < x.shape[a]) for i, a in zip(flat, axes)])
        if not keep.all():
            flat = [i[keep] for i in flat]
            upd = upd[(slice(None),) * lead + (keep,)]
    return (slice(None),) * lead + tuple(flat), upd


# Each update primitive's impl copies its operand and updates the copy in
# place (impl_in_place): compiled programs call impl_in_place directly on an
# operand buffer nothing reads afterwards (backends/cpu/inplace.py).
def _scatter_add_in_place(out, updates, *indices, axes, oob):
    where, upd = _scatter_targets(out, updates, indices, axes, oob)
    np.add.at(out, where, upd)
    return out


_COMBINE_UFUNCS = {"mul": np.multiply, "min": np.minimum, "max": np.maximum}


def _scatter_in_place(out, updates, *indices, axes, oob, combine):
    where, upd = _scatter_targets(out, updates, indices, axes, oob)
    if combine == "set":
        out[where] = upd
    else:
        _COMBINE_UFUNCS[combine].at(out, where, upd)
    return out


def _on_a_copy(in_place):
    def impl(x, *args, **params):
        return in_place(np.array(x, copy=True), *args, **params)

    return impl


_check_scatter = _scatter_abstract_eval("scatter")


def _scatter_combine_abstract_eval(x, updates, *indices, axes, oob, combine):
    if combine not in ("set", *_COMBINE_UFUNCS):
        raise NbadValueError(f"scatter: combine must be set, mul, min or max, got {combine!r}")
    return _check_scatter(x, updates, *indices, axes=axes, oob=oob)


def _scatter_vmap(prim):
    """scatter_add and scatter batch alike (see _gather_vmap): the operand and
    updates always get the batch axis; batched indices index it by example."""

    def rule(size, args, batched, *, axes, **params):
        x, updates, *indices = batched_all(size, args[:2], batched[:2]) + list(args[2:])
        axes = tuple(axes)
        if not any(batched[2:]):
            return bind(prim, x, updates, *indices, axes=shift_axes(axes), **params)
        ndim, lead, k = aval_of(x).ndim - 1, axes[0], len(axes)
        indices, nb = _batched_indices(size, indices, batched[2:])
        perm = _indexed_first(axes, ndim)
        # updates: (size,) + x.shape[:lead] + B + x.shape[lead+k:]; B first after the batch
        rank = aval_of(updates).ndim
        updates = permute(updates, (0,) + tuple(range(1 + lead, 1 + lead + nb))
                          + tuple(range(1, 1 + lead)) + tuple(range(1 + lead + nb, rank)))
        out = bind(prim, permute(x, perm), updates, *indices, axes=tuple(range(k + 1)), **params)
        return permute(out, np.argsort(perm))

    prim.vmap = rule
    return prim


scatter_add_p.abstract_eval = _scatter_abstract_eval("scatter_add")
scatter_add_p.impl_in_place = _scatter_add_in_place
scatter_add_p.impl = _on_a_copy(_scatter_add_in_place)
scatter_p.abstract_eval = _scatter_combine_abstract_eval
scatter_p.impl_in_place = _scatter_in_place
scatter_p.impl = _on_a_copy(_scatter_in_place)
_scatter_vmap(scatter_add_p)
_scatter_vmap(scatter_p)


def _in_bounds(x, updates, indices, axes, oob):
    """For oob="drop": a bool mask, shaped like the updates, of the updates that
    land inside the operand; None when none is dropped (oob="clip", or concrete
    in-bounds indices)."""
    if oob == "clip":
        return None
    jnp, x_shape = _jnp(), aval_of(x).shape
    ok = None
    for i, a in zip(indices, axes):
        c = jnp.logical_and(jnp.greater_equal(i, 0), jnp.less(i, x_shape[a]))
        ok = c if ok is None else jnp.logical_and(ok, c)
    if not isinstance(ok, Tracer) and bool(np.all(ok)):
        return None
    lead, nb = axes[0], len(aval_of(indices[0]).shape)
    return bind(_shape_helpers().broadcast_in_dim_p, ok, shape=aval_of(updates).shape,
                broadcast_dimensions=tuple(range(lead, lead + nb)))


def _scatter_add_transpose(ct, primals, outs, *, axes, oob):
    x, updates, *indices = primals
    if not _diff(x):
        return [None] * len(primals)
    ct_u = _where(_in_bounds(x, updates, indices, axes, oob), _gather(ct, indices, axes))
    return [ct, ct_u] + [None] * len(indices)


_deflinear_indexed(scatter_add_p, _scatter_add_transpose, 2)


# scatter rules, by combine mode (x: operand, u: updates, p: a target position):
#   set  linear. The operand keeps ct where nothing was written; each update gets
#        gather(ct) only if it is the one that won its position (duplicates: the
#        one the primal scatter kept, found by scattering update ids), which is
#        what JAX's .at[].set gradient does.
#   mul  out[p] = x[p] * prod_{u->p} u. d/dx: scatter-mul of ct by u; d/du_j:
#        x[p] * ct[p] * (product of the other updates at p), computed from the
#        zero count and the product of the nonzero updates at p (divides only by
#        nonzero updates, so zeros and duplicates are exact).
#   min/max  JAX's convention: the derivative is shared equally among the operand
#        (if it equals the result) and every update equal to the result at p.
def _scatter_winners(x, updates, indices, axes, oob):
    """(ids scattered into the operand's shape (0: untouched), won-mask of the updates)."""
    u = aval_of(updates)
    ids = bind_nullary(_shape_helpers().iota_p, dtype=np.dtype(np.int64), shape=(u.size,), dimension=0)
    ids = _shape_helpers()._reshape(ids + np.int64(1), u.shape)
    placed = bind(scatter_p, _zeros(aval_of(x).shape, np.int64), ids, *indices, axes=axes, oob=oob,
                  combine="set")
    return placed, _jnp().equal(_gather(placed, indices, axes), ids)


def _others_product(x, updates, indices, axes, oob):
    """For each update, the product of the *other* updates landing on its position."""
    jnp, a = _jnp(), aval_of(x)
    zero, one = np.zeros((), a.dtype), np.ones((), a.dtype)
    is_zero = jnp.equal(updates, zero)
    nonzero = jnp.where(is_zero, one, updates)
    n_zeros = bind(scatter_add_p, _zeros(a.shape, a.dtype), jnp.where(is_zero, one, zero), *indices,
                   axes=axes, oob=oob)
    prod_nz = bind(scatter_p, jnp.ones(a.shape, a.dtype), nonzero, *indices, axes=axes, oob=oob,
                   combine="mul")
    g_zeros, g_prod = _gather(n_zeros, indices, axes), _gather(prod_nz, indices, axes)
    return jnp.where(is_zero, jnp.where(jnp.equal(g_zeros, one), g_prod, zero),
                     jnp.where(jnp.equal(g_zeros, zero), jnp.divide(g_prod, nonzero), zero))


def _extremum_shares(x, updates, indices, axes, oob, out):
    """(operand mask, updates mask, count of tied contributors per position)."""
    jnp, a = _jnp(), aval_of(x)
    zero, one = np.zeros((), a.dtype), np.ones((), a.dtype)
    won = jnp.equal(updates, _gather(out, indices, axes))
    inb = _in_bounds(x, updates, indices, axes, oob)
    won = won if inb is None else jnp.logical_and(won, inb)
    kept = jnp.equal(x, out)
    count = jnp.add(jnp.where(kept, one, zero),
                    bind(scatter_add_p, _zeros(a.shape, a.dtype), jnp.where(won, one, zero), *indices,
                         axes=axes, oob=oob))
    return kept, won, count


def _scatter_jvp(primals, tangents, outs, *, axes, oob, combine):
    x, updates, *indices = primals
    tx, tu = tangents[:2]
    if (tx is None and tu is None) or not _diff(x):
        return None
    jnp, a = _jnp(), aval_of(x)
    tx = _zeros(a.shape, a.dtype) if tx is None else tx
    tu = _zeros(aval_of(updates).shape, a.dtype) if tu is None else tu
    params = dict(axes=axes, oob=oob)
    if combine == "set":
        return bind(scatter_p, tx, tu, *indices, combine="set", **params)
    if combine == "mul":
        out = bind(scatter_p, tx, updates, *indices, combine="mul", **params)
        through_u = bind(scatter_add_p, _zeros(a.shape, a.dtype),
                         jnp.multiply(tu, _others_product(x, updates, indices, axes, oob)),
                         *indices, **params)
        return jnp.add(out, jnp.multiply(x, through_u))
    kept, won, count = _extremum_shares(x, updates, indices, axes, oob, outs)
    total = jnp.add(_where(kept, tx), bind(scatter_add_p, _zeros(a.shape, a.dtype), _where(won, tu),
                                           *indices, **params))
    return jnp.divide(total, count)


def _scatter_vjp(ct, primals, outs, *, axes, oob, combine):
    x, updates, *indices = primals
    none = [None] * len(indices)
    if not _diff(x):
        return [None, None] + none
    jnp = _jnp()
    if combine == "set":
        placed, won = _scatter_winners(x, updates, indices, axes, oob)
        return [_where(jnp.equal(placed, np.int64(0)), ct), _where(won, _gather(ct, indices, axes))] + none
    if combine == "mul":
        ct_x = bind(scatter_p, ct, updates, *indices, axes=axes, oob=oob, combine="mul")
        ct_u = jnp.multiply(_gather(jnp.multiply(ct, x), indices, axes),
                            _others_product(x, updates, indices, axes, oob))
        return [ct_x, _where(_in_bounds(x, updates, indices, axes, oob), ct_u)] + none
    kept, won, count = _extremum_shares(x, updates, indices, axes, oob, outs)
    share = jnp.divide(ct, count)
    return [_where(kept, share), _where(won, _gather(share, indices, axes))] + none


scatter_p.jvp = _scatter_jvp
scatter_p.vjp = _scatter_vjp

# -- dynamic_slice, dynamic_update_slice --------------------------------------
# Start indices are scalar integer operands (traced values allowed), clamped
# so the window lies inside the operand, as in lax.dynamic_slice. dynamic_slice
# is a view: the driver takes a NumPy view of the operand at the clamped
# offsets, which the consuming kernel reads strided (no copy).
dynamic_slice_p = Primitive("dynamic_slice", kind="view")
dynamic_update_slice_p = Primitive("dynamic_update_slice")


def _check_starts(name, x, starts):
    if len(starts) != x.ndim or any(s.shape != () or s.dtype.kind not in "iu" for s in starts):
        raise NbadTypeError(f"{name}: operand {x.str_short()} needs {x.ndim} scalar integer "
                            "start indices, got " + ", ".join(s.str_short() for s in starts))


def _dynamic_slice_abstract_eval(x, *starts, slice_sizes):
    _check_starts("dynamic_slice", x, starts)
    if len(slice_sizes) != x.ndim or any(not 0 <= s <= n for s, n in zip(slice_sizes, x.shape)):
        raise ShapeError(f"dynamic_slice: slice_sizes={slice_sizes} must give one size per "
                         f"axis of {x.str_short()}, each between 0 and that axis' size")
    return x.update(shape=tuple(slice_sizes))


def _window(shape, starts, sizes):
    return tuple(slice(s, s + k) for s, k in
                 ((min(max(int(s), 0), n - k), k) for s, n, k in zip(starts, shape, sizes)))


def _dynamic_slice_impl(x, *starts, slice_sizes):
    x = np.asarray(x)
    return x[_window(x.shape, starts, slice_sizes)]


def _dynamic_update_slice_abstract_eval(x, update, *starts):
    _check_starts("dynamic_update_slice", x, starts)
    if update.dtype != x.dtype or update.ndim != x.ndim or any(
            u > n for u, n in zip(update.shape, x.shape)):
        raise ShapeError(f"dynamic_update_slice: update {update.str_short()} must have the "
                         f"operand's dtype and rank and fit inside it ({x.str_short()})")
    return x.update(weak_type=x.weak_type and update.weak_type)


def _dynamic_update_slice_in_place(out, update, *starts):
    out[_window(out.shape, starts, np.shape(update))] = update
    return out


dynamic_slice_p.abstract_eval = _dynamic_slice_abstract_eval
dynamic_slice_p.impl = _dynamic_slice_impl
dynamic_update_slice_p.abstract_eval = _dynamic_update_slice_abstract_eval
dynamic_update_slice_p.impl_in_place = _dynamic_update_slice_in_place
dynamic_update_slice_p.impl = _on_a_copy(_dynamic_update_slice_in_place)


def _dynamic_slice_transpose(ct, primals, outs, *, slice_sizes):
    x, *starts = primals
    if not _diff(x):
        return [None] * len(primals)
    a = aval_of(x)
    return [bind(dynamic_update_slice_p, _zeros(a.shape, a.dtype), ct, *starts)] + [None] * len(starts)


def _dynamic_update_slice_transpose(ct, primals, outs):
    x, update, *starts = primals
    if not _diff(x):
        return [None] * len(primals)
    u = aval_of(update)
    ct_x = bind(dynamic_update_slice_p, ct, _zeros(u.shape, u.dtype), *starts)
    ct_u = bind(dynamic_slice_p, ct, *starts, slice_sizes=tuple(u.shape))
    return [ct_x, ct_u] + [None] * len(starts)


_deflinear_indexed(dynamic_slice_p, _dynamic_slice_transpose, 1)
_deflinear_indexed(dynamic_update_slice_p, _dynamic_update_slice_transpose, 2)


# Batching dynamic_slice/dynamic_update_slice. Shared starts: the batch axis
# gets start 0 and its full size. Batched starts differ per example, so the
# window becomes a gather (scatter-set) with index arrays start + iota over the
# window, one per axis, the starts clamped first as the impls clamp them (so
# every index is in bounds), plus the example number for a batched operand.
def _clamped_start(start, hi):
    """min(max(start, 0), hi) as int64, exact for every integer dtype (hi >= 0)."""
    from nbad.rules.elementwise import convert_element_type_p, maximum_p, minimum_p

    dtype = aval_of(start).dtype
    if dtype.kind == "i":
        start = bind(maximum_p, start, np.zeros((), dtype))
    if hi <= np.iinfo(dtype).max:  # else no value of the dtype exceeds hi
        start = bind(minimum_p, start, np.asarray(hi, dtype))
    if dtype != np.dtype(np.int64):
        start = bind(convert_element_type_p, start, new_dtype=np.dtype(np.int64))
    return start


def _window_indices(size, x_shape, starts, batched, sizes):
    """One int64 index array per axis, shaped (size,) + sizes: the clamped start
    of example i plus the position within the window."""
    from nbad.rules.elementwise import add_p

    shape, out = (size,) + tuple(sizes), []
    for d, (s, b, n, k) in enumerate(zip(starts, batched, x_shape, sizes)):
        s = _clamped_start(s, n - k)
        ramp = bind(_shape_helpers().iota_p, dtype=np.dtype(np.int64), shape=shape, dimension=d + 1)
        out.append(bind(add_p, ramp, spread_batch(s, sizes) if b else s))
    return out


def _start_zero(starts):
    return np.zeros((), aval_of(starts[0]).dtype if starts else np.int64)


def _dynamic_slice_vmap(size, args, batched, *, slice_sizes):
    x, *starts = args
    sizes = tuple(slice_sizes)
    if not any(batched[1:]):
        return bind(dynamic_slice_p, x, _start_zero(starts), *starts, slice_sizes=(size,) + sizes)
    x_shape = per_example_shape(x, batched[0])
    indices = _window_indices(size, x_shape, starts, batched[1:], sizes)
    if batched[0]:
        indices = [batch_index(size, sizes)] + indices
    return bind(gather_p, x, *indices, axes=tuple(range(len(indices))))


def _dynamic_update_slice_vmap(size, args, batched):
    x, update, *starts = batched_all(size, args[:2], batched[:2]) + list(args[2:])
    if not any(batched[2:]):
        return bind(dynamic_update_slice_p, x, update, _start_zero(starts), *starts)
    sizes = tuple(aval_of(update).shape[1:])
    indices = _window_indices(size, aval_of(x).shape[1:], starts, batched[2:], sizes)
    return bind(scatter_p, x, update, batch_index(size, sizes), *indices,
                axes=tuple(range(1 + len(indices))), oob="clip", combine="set")


dynamic_slice_p.vmap = _dynamic_slice_vmap
dynamic_update_slice_p.vmap = _dynamic_update_slice_vmap
