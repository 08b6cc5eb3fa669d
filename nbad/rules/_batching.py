"""The batching-rule convention (vmap, DESIGN §6) and its family helpers.

vmap is loop insertion: `vmap(f)` records one `map` equation whose body is f's
IR at the per-example shapes. To run a map, the body is *batched*: each body
equation is rewritten, by its primitive's `vmap` rule, into equations over
operands that carry the batch as a leading axis. The rewritten equations are
ordinary IR, so they fuse like any other: the batch axis becomes the outermost
loop of each fused kernel (parallel in the driver when large), a matrix-vector
product over a batch of vectors becomes one matrix-matrix product (BLAS), and
nested maps become nested loops.

One slot per primitive:

    prim.vmap(size, args, batched, **params) -> result (a list for multiple_results)
        size:    the batch size;
        args:    the operands; batched[i] says whether args[i] carries the batch
                 as its leading axis (shape (size,) + per-example shape) or is
                 one value shared by every example;
        batched: a tuple of bools, at least one True (with none, the batching
                 pass binds the primitive unchanged);
        returns the result(s) with the batch as leading axis.

Rules are written with nbad operations (like derivative rules), so batching
records IR under any enclosing trace.

Family helpers:

    defvectorized(prim)   elementwise: unbatched operands broadcast, scalars stay scalars
    defaxes(prim, *names) one operand; the named axis params (int or tuple) shift by one
    batched_all(...)      every operand given the batch axis (broadcast where shared)
"""
from __future__ import annotations

from nbad.core.trace import bind
from nbad.rules._ad import aval_of


def per_example_shape(x, is_batched: bool) -> tuple:
    shape = tuple(aval_of(x).shape)
    return shape[1:] if is_batched else shape


def broadcast_batch(x, size: int, shape: tuple | None = None):
    """A shared operand given the batch axis: (size,) + shape, a broadcast (no copy).

    `shape` (default: x's own) may add leading dims to x, NumPy-style."""
    from nbad.rules.shape import broadcast_in_dim_p

    own = tuple(aval_of(x).shape)
    shape = own if shape is None else tuple(shape)
    dims = tuple(range(1 + len(shape) - len(own), 1 + len(shape)))
    return bind(broadcast_in_dim_p, x, shape=(size,) + shape, broadcast_dimensions=dims)


def batched_all(size, args, batched):
    """Every operand with the batch axis (shared ones broadcast)."""
    return [a if b else broadcast_batch(a, size) for a, b in zip(args, batched)]


def moveaxis(x, source: int, destination: int):
    from nbad.rules.shape import transpose_p

    ndim = aval_of(x).ndim
    source, destination = source % ndim, destination % ndim
    if source == destination:
        return x
    perm = [d for d in range(ndim) if d != source]
    perm.insert(destination, source)
    return bind(transpose_p, x, permutation=tuple(perm))


def shift_axes(axes, by: int = 1):
    """An axis param (int, or tuple of ints) of the per-example operand, on the batched one."""
    if axes is None:
        return None
    if isinstance(axes, (tuple, list)):
        return tuple(a + by for a in axes)
    return axes + by


def defvectorized(prim):
    """Elementwise primitives: operands share one shape or are scalars.

    A batched operand whose examples are scalars is broadcast to the result's
    per-example shape; a shared operand keeps being a scalar if it is one and
    is broadcast along the batch otherwise."""

    def rule(size, args, batched, **params):
        shape = ()
        for a, b in zip(args, batched):
            s = per_example_shape(a, b)
            if s:
                shape = s
        full = (size,) + shape
        ops = []
        for a, b in zip(args, batched):
            s = per_example_shape(a, b)
            if b and s != shape:
                from nbad.rules.shape import broadcast_in_dim_p

                a = bind(broadcast_in_dim_p, a, shape=full, broadcast_dimensions=(0,))
            elif not b and s != ():
                a = broadcast_batch(a, size)
            ops.append(a)
        return bind(prim, *ops, **params)

    prim.vmap = rule
    return prim


def defaxes(prim, *names):
    """One (batched) operand; the params in `names` are axes and shift by one."""

    def rule(size, args, batched, **params):
        new = dict(params)
        for name in names:
            if name in new:
                new[name] = shift_axes(new[name])
        return bind(prim, *args, **new)

    prim.vmap = rule
    return prim


def batch_index(size: int, shape: tuple = (), dtype=None):
    """The example number at every position of a (size,) + shape array: an iota
    along the batch axis (int64 by default), broadcast. As an index array it
    picks each example's own slice of a batched operand in gather/scatter."""
    import numpy as np

    from nbad.rules.shape import iota_p

    dtype = np.dtype(np.int64 if dtype is None else dtype)
    ids = bind(iota_p, dtype=dtype, shape=(size,), dimension=0)
    return spread_batch(ids, tuple(shape)) if shape else ids


def spread_batch(x, shape: tuple):
    """A batched operand whose examples are scalars, x of shape (size,), broadcast
    to (size,) + shape: every element of example i is x[i]."""
    from nbad.rules.shape import broadcast_in_dim_p

    size = aval_of(x).shape[0]
    return bind(broadcast_in_dim_p, x, shape=(size,) + tuple(shape), broadcast_dimensions=(0,))


def permute(x, permutation):
    """transpose by `permutation`, or x itself when that is the identity."""
    from nbad.rules.shape import transpose_p

    permutation = tuple(int(p) for p in permutation)
    if permutation == tuple(range(len(permutation))):
        return x
    return bind(transpose_p, x, permutation=permutation)
