"""Reductions over axes (sum, prod, max, min, and, or), arg-reductions and
cumulative scans.

Reductions have kind "reduce": the fuser puts the elementwise chain that
produces the operand into the same loop nest. Each carries a `reducer`
telling the backend its identity and how to combine an accumulator with an
element (NaN-propagating for max/min, as NumPy's np.max).

Derivative rules (rules/_ad.py) follow each primitive, with JAX's conventions:
ties in max/min share the derivative equally; reduce_prod and cumprod are exact
with zeros in the input (no division); cummax/cummin/cumprod differentiate the
associative scan JAX differentiates, so ties split exactly as in JAX.
"""
from __future__ import annotations

import numpy as np

from nbad.core.avals import ShapedArray
from nbad.core.primitive import Primitive
from nbad.core.trace import bind
from nbad.errors import NbadTypeError, NbadValueError
from nbad.rules._ad import aval_of, deflinear, defnondiff
from nbad.rules._batching import defaxes
from nbad.rules._family import DTYPE_KINDS
from nbad.rules.shape import (_diff, _pad_axis, _reshape, _slice_axis, _sum_axes,
                              broadcast_in_dim_p, concatenate_p, rev_p, transpose_p)


def _jnp():
    import nbad.numpy as jnp

    return jnp


def _unreduce(y, shape, axes):
    """Broadcast a reduction's result (or cotangent) back to the operand's shape."""
    return bind(broadcast_in_dim_p, y, shape=tuple(shape),
                broadcast_dimensions=tuple(i for i in range(len(shape)) if i not in axes))


class Reducer:
    """identity(dtype) -> scalar; combine(acc, x) -> expression; `name` for kernels."""

    def __init__(self, name, identity, combine: str):
        self.name = name
        self.identity = identity
        self.combine = combine  # format string over {acc} and {x}


def _max_identity(dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return -np.inf
    if dtype.kind == "b":
        return False
    return np.iinfo(dtype).min


def _min_identity(dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return np.inf
    if dtype.kind == "b":
        return True
    return np.iinfo(dtype).max


def _reduce_abstract_eval(name, kinds):
    def abstract_eval(x, *, axes):
        axes = tuple(axes)
        if list(axes) != sorted(set(axes)) or any(not 0 <= a < x.ndim for a in axes):
            raise NbadValueError(f"{name}: axes {axes} invalid for an operand of shape {x.shape}")
        if x.dtype.kind not in DTYPE_KINDS[kinds]:
            raise NbadTypeError(f"{name} does not accept dtype {x.dtype.name}")
        shape = tuple(d for i, d in enumerate(x.shape) if i not in axes)
        return ShapedArray(shape, x.dtype, x.weak_type)

    return abstract_eval


def _reduction(name, np_fn, reducer, kinds="any"):
    prim = Primitive(name, kind="reduce")
    prim.abstract_eval = _reduce_abstract_eval(name, kinds)

    def impl(x, *, axes):
        x = np.asarray(x)
        return np.asarray(np_fn(x, axis=tuple(axes)), dtype=x.dtype)

    prim.impl = impl
    prim.reducer = reducer
    defaxes(prim, "axes")
    return prim


# NaN propagation: `acc` stays NaN once it is (x > NaN is false), and a NaN x
# replaces acc (x != x), matching np.max / np.min.
reduce_sum_p = _reduction("reduce_sum", np.sum, Reducer("sum", lambda d: 0, "{acc} + {x}"), "number")
reduce_prod_p = _reduction("reduce_prod", np.prod, Reducer("prod", lambda d: 1, "{acc} * {x}"), "number")
reduce_max_p = _reduction("reduce_max", np.max, Reducer(
    "max", _max_identity, "({x} if ({x} > {acc} or {x} != {x}) else {acc})"), "real_or_bool")
reduce_min_p = _reduction("reduce_min", np.min, Reducer(
    "min", _min_identity, "({x} if ({x} < {acc} or {x} != {x}) else {acc})"), "real_or_bool")
reduce_and_p = _reduction("reduce_and", np.all, Reducer("and", lambda d: True, "({acc} and {x})"), "bool")
reduce_or_p = _reduction("reduce_or", np.any, Reducer("or", lambda d: False, "({acc} or {x})"), "bool")


# -- derivative rules of the reductions ------------------------------------------
def _reduce_sum_transpose(ct, primals, outs, *, axes):
    (x,) = primals
    return [_unreduce(ct, aval_of(x).shape, axes) if _diff(x) else None]


deflinear(reduce_sum_p, _reduce_sum_transpose)


def _defchooser(prim):
    """max/min: the derivative is shared equally among the positions equal to the
    result (JAX's convention): ct * (x == out) / count."""

    def locations(x, out, axes):
        jnp, dtype = _jnp(), aval_of(x).dtype
        loc = jnp.where(jnp.equal(x, _unreduce(out, aval_of(x).shape, axes)),
                        np.ones((), dtype), np.zeros((), dtype))
        return loc, _sum_axes(loc, axes)

    def jvp(primals, tangents, outs, *, axes):
        (x,), (t,) = primals, tangents
        if t is None or not _diff(x):
            return None
        loc, count = locations(x, outs, axes)
        return _jnp().divide(_sum_axes(_jnp().multiply(t, loc), axes), count)

    def vjp(ct, primals, outs, *, axes):
        (x,) = primals
        if not _diff(x):
            return [None]
        loc, count = locations(x, outs, axes)
        return [_jnp().multiply(loc, _unreduce(_jnp().divide(ct, count), aval_of(x).shape, axes))]

    prim.jvp, prim.vjp = jvp, vjp


_defchooser(reduce_max_p)
_defchooser(reduce_min_p)


def _prod_of_others(x, axes):
    """For each element, the product of the other elements of its reduced group:
    exclusive cumulative products from both sides multiplied (no division, so
    exact with any number of zeros)."""
    a = aval_of(x)
    kept = [i for i in range(a.ndim) if i not in axes]
    perm = tuple(kept) + tuple(axes)
    moved = x if perm == tuple(range(a.ndim)) else bind(transpose_p, x, permutation=perm)
    moved_shape = tuple(a.shape[i] for i in perm)
    n = int(np.prod([a.shape[i] for i in axes], dtype=np.int64))
    flat = _reshape(moved, moved_shape[:len(kept)] + (n,))
    last = len(kept)
    left = _pad_axis(bind(cumprod_p, flat, axis=last, reverse=False), last, 1, -1, value=1)
    right = _pad_axis(bind(cumprod_p, flat, axis=last, reverse=True), last, -1, 1, value=1)
    others = _reshape(_jnp().multiply(left, right), moved_shape)
    if perm == tuple(range(a.ndim)):
        return others
    return bind(transpose_p, others, permutation=tuple(int(i) for i in np.argsort(perm)))


def _reduce_prod_jvp(primals, tangents, outs, *, axes):
    (x,), (t,) = primals, tangents
    if t is None or not _diff(x):
        return None
    return _sum_axes(_jnp().multiply(t, _prod_of_others(x, axes)), axes)


def _reduce_prod_vjp(ct, primals, outs, *, axes):
    (x,) = primals
    if not _diff(x):
        return [None]
    return [_jnp().multiply(_unreduce(ct, aval_of(x).shape, axes), _prod_of_others(x, axes))]


reduce_prod_p.jvp = _reduce_prod_jvp
reduce_prod_p.vjp = _reduce_prod_vjp
defnondiff(reduce_and_p)
defnondiff(reduce_or_p)


# -- argmax, argmin -----------------------------------------------------------
# axes=(axis,) (one axis, as lax.argmax); the first extreme wins and, as in
# NumPy, a NaN counts as the extreme: the index of the first NaN is returned.
def _arg_reduction(name, np_fn):
    prim = Primitive(name)

    def abstract_eval(x, *, axes, index_dtype):
        if len(axes) != 1 or not 0 <= axes[0] < x.ndim:
            raise NbadValueError(f"{name}: axes={axes} must name one axis of {x.str_short()}")
        if x.shape[axes[0]] == 0:
            raise NbadValueError(f"{name}: attempt to get {name} of an empty axis "
                                 f"(axis {axes[0]} of {x.str_short()})")
        if x.dtype.kind not in DTYPE_KINDS["real_or_bool"]:
            raise NbadTypeError(f"{name} does not accept dtype {x.dtype.name}")
        if np.dtype(index_dtype).kind not in "iu":
            raise NbadTypeError(f"{name}: index_dtype must be an integer dtype, got {index_dtype}")
        shape = tuple(d for i, d in enumerate(x.shape) if i != axes[0])
        return ShapedArray(shape, index_dtype)

    def impl(x, *, axes, index_dtype):
        return np.asarray(np_fn(np.asarray(x), axis=axes[0]), dtype=index_dtype)

    prim.abstract_eval = abstract_eval
    prim.impl = impl
    defaxes(prim, "axes")
    return prim


argmax_p = _arg_reduction("argmax", np.argmax)
argmin_p = _arg_reduction("argmin", np.argmin)
defnondiff(argmax_p)
defnondiff(argmin_p)


# -- cumulative scans ---------------------------------------------------------
# cumsum(x, axis, reverse): result[i] combines x[0..i] along `axis`, or
# x[i..n-1] when reverse. Same dtype as the operand (nbad.numpy converts
# first, so cumsum of int32 is computed in int64 as NumPy does). cummax and
# cummin propagate NaN like np.maximum (and lax.cummax).
def _cumulative(name, ufunc, kinds):
    prim = Primitive(name)

    def abstract_eval(x, *, axis, reverse):
        if not 0 <= axis < x.ndim:
            raise NbadValueError(f"{name}: axis {axis} out of range for {x.str_short()}")
        if x.dtype.kind not in DTYPE_KINDS[kinds]:
            raise NbadTypeError(f"{name} does not accept dtype {x.dtype.name}")
        return x

    def impl(x, *, axis, reverse):
        x = np.asarray(x)
        if not reverse:
            return ufunc.accumulate(x, axis=axis, dtype=x.dtype)
        flip = (slice(None),) * axis + (slice(None, None, -1),)
        return ufunc.accumulate(x[flip], axis=axis, dtype=x.dtype)[flip]

    prim.abstract_eval = abstract_eval
    prim.impl = impl
    defaxes(prim, "axis")
    return prim


cumsum_p = _cumulative("cumsum", np.add, "number")
cumprod_p = _cumulative("cumprod", np.multiply, "number")
cummax_p = _cumulative("cummax", np.maximum, "real_or_bool")
cummin_p = _cumulative("cummin", np.minimum, "real_or_bool")


# -- derivative rules of the scans -------------------------------------------------
deflinear(cumsum_p, lambda ct, primals, outs, *, axis, reverse: [
    bind(cumsum_p, ct, axis=axis, reverse=not reverse) if _diff(primals[0]) else None])


# cumprod, cummax and cummin differentiate the associative scan JAX differentiates
# (lax.associative_scan: combine adjacent pairs, scan the half-size array,
# combine again for the even positions, interleave). Each combine c = f(a, b) of
# an earlier element a with a later b is linear in the tangents with
# coefficients (ca, cb): mul gives (b, a); max/min give JAX's balanced
# coefficients (1 to the one equal to the result, 1/2 each on a tie). The
# tangent map is therefore linear: the jvp applies it and the vjp applies its
# transpose, walking the same recursion. Only slices, pads, elementwise ops and
# the scan primitive itself are used (the half-size scan's values come from
# binding the primitive), so there is no division and zeros are exact, and the
# rules are again differentiable. reverse=True is rev . scan . rev, as in JAX.
def _balanced(a, b, c):
    jnp, dtype = _jnp(), aval_of(c).dtype
    one, half, zero = (np.asarray(v, dtype) for v in (1.0, 0.5, 0.0))
    a_eq, b_eq = jnp.equal(a, c), jnp.equal(b, c)
    return (jnp.where(a_eq, jnp.where(b_eq, half, one), zero),
            jnp.where(b_eq, jnp.where(a_eq, half, one), zero))


def _scan_combine(prim):
    """combine(a, b) -> (value, ca, cb) for the scan primitive `prim`."""
    jnp = _jnp()
    if prim is cumprod_p:
        return lambda a, b: (jnp.multiply(a, b), b, a)
    extremum = jnp.maximum if prim is cummax_p else jnp.minimum

    def combine(a, b):
        c = extremum(a, b)
        return (c, *_balanced(a, b, c))

    return combine


def _scan_levels(prim, v, axis):
    """The coefficients of one level of the recursion, and the half-size values."""
    combine, n = _scan_combine(prim), aval_of(v).shape[axis]
    m = n // 2
    reduced, c_even, c_odd = combine(_slice_axis(v, axis, 0, n - 1, 2), _slice_axis(v, axis, 1, n, 2))
    scanned = bind(prim, reduced, axis=axis, reverse=False)
    earlier = _slice_axis(scanned, axis, 0, m - 1) if n % 2 == 0 else scanned
    _, c_a, c_b = combine(earlier, _slice_axis(v, axis, 2, n, 2))
    return reduced, c_even, c_odd, c_a, c_b


def _interleave(a, b, axis):
    """a[0], b[0], a[1], b[1], ... (len(a) == len(b) or len(b) + 1), as JAX's."""
    same = aval_of(a).shape[axis] == aval_of(b).shape[axis]
    return _jnp().add(_pad_axis(a, axis, 0, 1 if same else 0, 1), _pad_axis(b, axis, 1, 0 if same else 1, 1))


def _scan_tangent(prim, v, t, axis):
    jnp, n = _jnp(), aval_of(v).shape[axis]
    if n < 2:
        return t
    reduced, c_even, c_odd, c_a, c_b = _scan_levels(prim, v, axis)
    t_reduced = jnp.add(jnp.multiply(_slice_axis(t, axis, 0, n - 1, 2), c_even),
                        jnp.multiply(_slice_axis(t, axis, 1, n, 2), c_odd))
    t_odd = _scan_tangent(prim, reduced, t_reduced, axis)
    t_earlier = _slice_axis(t_odd, axis, 0, n // 2 - 1) if n % 2 == 0 else t_odd
    t_even = jnp.add(jnp.multiply(t_earlier, c_a), jnp.multiply(_slice_axis(t, axis, 2, n, 2), c_b))
    t_even = bind(concatenate_p, _slice_axis(t, axis, 0, 1), t_even, dimension=axis)
    return _interleave(t_even, t_odd, axis)


def _scan_cotangent(prim, v, ct, axis):
    """The transpose of _scan_tangent (same recursion, walked backwards)."""
    jnp, n = _jnp(), aval_of(v).shape[axis]
    if n < 2:
        return ct
    reduced, c_even, c_odd, c_a, c_b = _scan_levels(prim, v, axis)
    ct_even, ct_odd = _slice_axis(ct, axis, 0, n, 2), _slice_axis(ct, axis, 1, n, 2)
    ct_rest = _slice_axis(ct_even, axis, 1, aval_of(ct_even).shape[axis])
    ct_earlier = jnp.multiply(ct_rest, c_a)
    if n % 2 == 0:
        ct_earlier = _pad_axis(ct_earlier, axis, 0, 1)
    ct_reduced = _scan_cotangent(prim, reduced, jnp.add(ct_odd, ct_earlier), axis)
    # ct of t[0::2]: ct_even[0], then c_b * ct_even[1:]; plus c_even * ct_reduced on t[0:n-1:2]
    direct = bind(concatenate_p, _slice_axis(ct_even, axis, 0, 1), jnp.multiply(ct_rest, c_b),
                  dimension=axis)
    from_pairs = jnp.multiply(ct_reduced, c_even)
    if n % 2 == 1:
        from_pairs = _pad_axis(from_pairs, axis, 0, 1)
    return _interleave(jnp.add(direct, from_pairs), jnp.multiply(ct_reduced, c_odd), axis)


def _defscan(prim):
    def jvp(primals, tangents, outs, *, axis, reverse):
        (x,), (t,) = primals, tangents
        if t is None or not _diff(x):
            return None
        if not reverse:
            return _scan_tangent(prim, x, t, axis)
        flip = lambda y: bind(rev_p, y, dimensions=(axis,))  # noqa: E731
        return flip(_scan_tangent(prim, flip(x), flip(t), axis))

    def vjp(ct, primals, outs, *, axis, reverse):
        (x,) = primals
        if not _diff(x):
            return [None]
        if not reverse:
            return [_scan_cotangent(prim, x, ct, axis)]
        flip = lambda y: bind(rev_p, y, dimensions=(axis,))  # noqa: E731
        return [flip(_scan_cotangent(prim, flip(x), flip(ct), axis))]

    prim.jvp, prim.vjp = jvp, vjp


_defscan(cumprod_p)
_defscan(cummax_p)
_defscan(cummin_p)
