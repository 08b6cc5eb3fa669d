"""sort: lax.sort of one or more operands along a dimension, lexicographically by
the first `num_keys` of them (jnp.sort, jnp.argsort and random.permutation
are built on it).

    sort(*operands, dimension, is_stable, num_keys) -> the operands, each
        reordered by the one permutation that sorts the keys

A "library" primitive: its impl (NumPy's lexsort, then take_along_axis) runs
between compiled kernels. Keys are ordered as JAX's `lax.sort` orders them,
which is NumPy's order: NaNs (of either sign) last, -0.0 equal to 0.0.

Derivatives (JAX's rules): the tangent of each sorted output is its operand's
tangent gathered by the permutation, which a second sort of an iota along with
the operands recovers; the cotangent goes back through the inverse
permutation (the permutation sorted along with an iota). Batching moves the
batch to axis 0 of every operand and sorts along dimension + 1.
"""
from __future__ import annotations

import numpy as np

from nbad.core.avals import ShapedArray, aval_of_value
from nbad.core.primitive import Primitive
from nbad.core.trace import bind
from nbad.errors import NbadTypeError, NbadValueError, ShapeError
from nbad.rules._ad import aval_of
from nbad.rules._batching import batched_all

sort_p = Primitive("sort", kind="library", multiple_results=True)


def _sort_abstract_eval(*operands, dimension, is_stable, num_keys):
    if not operands:
        raise NbadTypeError("sort needs at least one operand")
    shape = operands[0].shape
    if any(a.shape != shape for a in operands):
        raise ShapeError("sort: all operands must have one shape, got "
                         + ", ".join(a.str_short() for a in operands))
    if not 0 <= dimension < max(len(shape), 1) or not shape:
        raise NbadValueError(f"sort: dimension {dimension} is out of range for shape {shape}")
    if not 1 <= num_keys <= len(operands):
        raise NbadValueError(f"sort: num_keys={num_keys} must be between 1 and the number of "
                             f"operands ({len(operands)})")
    for a in operands[:num_keys]:
        if a.dtype.kind == "c":
            raise NbadTypeError(f"sort: complex keys are not supported by nbad ({a.str_short()})")
    return [ShapedArray(shape, a.dtype) for a in operands]


def _sort_impl(*operands, dimension, is_stable, num_keys):
    operands = [np.asarray(x) for x in operands]
    # eager binds skip abstract_eval: check here, rather than sort by the wrong keys
    _sort_abstract_eval(*[aval_of_value(x) for x in operands], dimension=dimension,
                        is_stable=is_stable, num_keys=num_keys)
    keys = [np.moveaxis(k, dimension, -1) for k in operands[:num_keys]]
    # lexsort is stable; its last key is the primary one
    perm = np.lexsort(keys[::-1], axis=-1) if keys[0].size else np.zeros(keys[0].shape, np.intp)
    perm = np.moveaxis(perm, -1, dimension)
    return [np.take_along_axis(x, perm, axis=dimension) for x in operands]


sort_p.abstract_eval = _sort_abstract_eval
sort_p.impl = _sort_impl


def _iota_like(x, dimension):
    from nbad.rules.shape import iota_p

    return bind(iota_p, dtype=np.dtype(np.int64), shape=tuple(aval_of(x).shape),
                dimension=dimension)


def _gather(x, perm, dimension):
    import nbad.numpy as jnp

    return jnp.take_along_axis(x, perm, axis=dimension)


def _differentiable(x):
    return aval_of(x).dtype.kind in "fc"


def _permutation(primals, dimension, is_stable, num_keys):
    """The permutation that sorts the primals (sorted along with them)."""
    iota = _iota_like(primals[0], dimension)
    outs = bind(sort_p, *primals, iota, dimension=dimension, is_stable=is_stable,
                num_keys=num_keys)
    return outs[-1]


def _sort_jvp(primals, tangents, outs, *, dimension, is_stable, num_keys):
    if all(t is None or not _differentiable(x) for x, t in zip(primals, tangents)):
        return None
    perm = _permutation(primals, dimension, is_stable, num_keys)
    return [None if t is None or not _differentiable(x) else _gather(t, perm, dimension)
            for x, t in zip(primals, tangents)]


def _sort_vjp(ct, primals, outs, *, dimension, is_stable, num_keys):
    if all(c is None or not _differentiable(x) for x, c in zip(primals, ct)):
        return [None] * len(primals)
    perm = _permutation(primals, dimension, is_stable, num_keys)
    _, inverse = bind(sort_p, perm, _iota_like(perm, dimension), dimension=dimension,
                      is_stable=True, num_keys=1)
    return [None if c is None or not _differentiable(x) else _gather(c, inverse, dimension)
            for x, c in zip(primals, ct)]


def _sort_vmap(size, args, batched, *, dimension, is_stable, num_keys):
    return bind(sort_p, *batched_all(size, args, batched), dimension=dimension + 1,
                is_stable=is_stable, num_keys=num_keys)


sort_p.jvp, sort_p.vjp, sort_p.vmap = _sort_jvp, _sort_vjp, _sort_vmap
