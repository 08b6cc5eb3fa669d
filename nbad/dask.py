"""nbad functions on Dask: chunked vmap, parameter sweeps, data-parallel gradients.

    pip install "nbad[dask]"
    import nbad.dask as nd

    Y = nd.vmap(f)(X)                     # X a dask array: jit(vmap(f)) on each chunk,
                                          # a lazy dask array (or pytree of them) back
    v, g = nd.sweep(value_and_grad(sim), kps, kis)  # sim at every point of the grid,
                                          # batch_size points per task, NumPy results
    g = nd.grad_sum(loss, params, X, y)   # the sum over X's row chunks of jit(grad(loss)),
                                          # computed where the chunks are, tree-reduced

Nothing here is a scheduler: each helper builds an ordinary Dask graph and
computes it with whatever scheduler is active (a `distributed.Client` once
one exists, Dask's local scheduler otherwise), so Dask's progress bars,
dashboard, retries of tasks lost with a worker, and resource limits apply
unchanged. Work runs as `jit(vmap(f))` / `jit(grad(loss))` on whole chunks, so
a task amortises its dispatch over many examples.

The jitted function enters each graph once, as a data node that every task
depends on, and the same jitted object serves every graph built from one
function: it pickles as its recipe and an id, never with compiled state, and a
worker that unpickles an id it has seen reuses the object it rebuilt, with its
compiled programs (nbad/api.py). So a worker compiles each program at most
once (its kernels from the node's disk cache once any process there compiled
them), however many tasks and sweeps it runs.
"""
from __future__ import annotations

import functools
import itertools
import weakref

import numpy as np

from nbad import tree_util
from nbad.errors import NbadTypeError, NbadValueError

try:
    import dask
    import dask.array as da
except ImportError as e:  # pragma: no cover - exercised only without the extra
    raise ImportError('nbad.dask needs Dask: pip install "nbad[dask]"') from e

__all__ = ["vmap", "sweep", "grad_sum"]


# fun -> {(transformation, its argument): jit(transformation(fun, argument))}: the same
# jitted object for every graph built from fun, so workers reuse what they compiled for it
# (nbad/transformation.py) across sweeps, not only across one graph's tasks.
_jitted_cache: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _jitted(transformation, fun, argument):
    from nbad.api import jit

    per_fun = _jitted_cache.setdefault(fun, {})
    key = (transformation, argument)
    if key not in per_fun:
        per_fun[key] = jit(transformation(fun, argument))
    return per_fun[key]


def _flat_call(fun, *args):
    """fun(*args) as a tuple of its result's leaves (one dask key per leaf)."""
    return tuple(np.asarray(leaf) for leaf in tree_util.tree_leaves(fun(*args)))


def _axes_per_arg(in_axes, nargs, name):
    if isinstance(in_axes, (list, tuple)):
        if len(in_axes) != nargs:
            raise NbadValueError(f"nbad.dask.vmap({name}): in_axes has {len(in_axes)} entries for "
                                 f"{nargs} positional arguments")
        axes = list(in_axes)
    else:
        axes = [in_axes] * nargs
    for ax in axes:
        if ax is not None and not isinstance(ax, int):
            raise NbadValueError(f"nbad.dask.vmap({name}): in_axes entries must be ints or None "
                                 f"(one per positional argument), got {ax!r}")
    return axes


def _example(x, axis):
    """A zero-size-cost stand-in for one example of x (for tracing shapes only)."""
    shape = tuple(x.shape[:axis]) + tuple(x.shape[axis + 1:]) if axis is not None else tuple(x.shape)
    return np.broadcast_to(np.zeros((), x.dtype), shape)


def _out_structure(fun, examples, name):
    """(treedef, [(shape, dtype)]) of fun's result for one example."""
    from nbad.api import eval_shape

    out = eval_shape(fun, *examples)
    leaves, treedef = tree_util.tree_flatten(out)
    return treedef, [(tuple(s.shape), np.dtype(s.dtype)) for s in leaves]


def _as_graph_data(value):
    """`value` as one node of the graph (shared by every task), not copied into each."""
    if isinstance(value, da.Array):
        return value.rechunk(value.shape).to_delayed().ravel()[0]
    return dask.delayed(value, pure=True)


def vmap(fun, in_axes=0, out_axes=0, *, chunks=None):
    """A function applying `jit(vmap(fun, in_axes))` to each chunk of its mapped arguments.

    Mapped arguments (in_axes an int, one per positional argument or for all)
    are dask arrays (or NumPy arrays, split by `chunks`) chunked along their
    mapped axis; the other axes are merged into one chunk. Unmapped arguments
    (in_axes None) reach every task whole. Returns dask arrays with the same
    chunks along `out_axes`, lazily: call `.compute()` (or `dask.compute`).
    """
    from nbad.api_vmap import vmap as nbad_vmap

    if not callable(fun):
        raise NbadTypeError(f"nbad.dask.vmap expects a callable, got {type(fun).__name__}")
    if not isinstance(out_axes, int):
        raise NbadValueError(f"nbad.dask.vmap: out_axes must be an int, got {out_axes!r}")
    name = getattr(fun, "__name__", "f")

    @functools.wraps(fun)
    def mapped(*args):
        axes = _axes_per_arg(in_axes, len(args), name)
        if all(ax is None for ax in axes):
            raise NbadValueError(f"nbad.dask.vmap({name}): no argument is mapped (every in_axes is None)")
        sizes = {args[i].shape[ax] for i, ax in enumerate(axes) if ax is not None}
        if len(sizes) != 1:
            raise NbadValueError(f"nbad.dask.vmap({name}): mapped axes have different sizes {sorted(sizes)}")
        (size,) = sizes
        block = chunks
        if block is None:
            block = next((args[i].chunks[ax] for i, ax in enumerate(axes)
                          if ax is not None and isinstance(args[i], da.Array)), None)
        if block is None:
            raise NbadValueError(f"nbad.dask.vmap({name}): pass dask arrays for the mapped arguments "
                                 "or chunks= (the number of examples per task)")
        jf = _jitted(nbad_vmap, fun, tuple(0 if ax is not None else None for ax in axes))
        examples, parts = [], []
        for x, ax in zip(args, axes):
            if ax is None:
                examples.append(x)
                parts.append(None)
                continue
            x = da.asarray(x)
            x = da.moveaxis(x, ax, 0) if ax % x.ndim else x  # (a no-op moveaxis is still a graph layer)
            x = x.rechunk((block,) + tuple(-1 for _ in x.shape[1:]))
            examples.append(_example(x, 0))
            parts.append(x)
        treedef, leaves = _out_structure(fun, examples, name)
        row_chunks = next(p for p in parts if p is not None).chunks[0]
        fun_node = _as_graph_data(jf)
        shared = [None if p is not None else _as_graph_data(x) for p, x in zip(parts, args)]
        blocks = [p.to_delayed().ravel() if p is not None else None for p in parts]
        columns = [[] for _ in leaves]
        for c, rows in enumerate(row_chunks):
            task_args = [b[c] if b is not None else s for b, s in zip(blocks, shared)]
            outs = dask.delayed(_flat_call, pure=True, nout=len(leaves))(fun_node, *task_args)
            for k, (shape, dtype) in enumerate(leaves):
                columns[k].append(da.from_delayed(outs[k], (rows,) + shape, dtype=dtype))
        results = []
        for (shape, _), column in zip(leaves, columns):
            y = da.concatenate(column, axis=0) if len(column) > 1 else column[0]
            axis = out_axes + len(shape) + 1 if out_axes < 0 else out_axes
            if not 0 <= axis <= len(shape):
                raise NbadValueError(f"nbad.dask.vmap({name}): out_axes={out_axes} is out of range "
                                     f"for a result of rank {len(shape) + 1}")
            results.append(da.moveaxis(y, 0, axis) if axis else y)
        return tree_util.tree_unflatten(treedef, results)

    return mapped


def sweep(fun, *grids, batch_size=64, compute=True, **compute_kwargs):
    """`fun` evaluated at every point of the grid spanned by `grids`, on Dask.

    Each grid is a 1-D array of values of one of fun's positional arguments;
    the points are their Cartesian product (fix other arguments with
    functools.partial). Each task runs jit(vmap(fun)) on `batch_size` points.
    Returns NumPy arrays (a pytree like fun's result), each shaped
    (len(grids[0]), len(grids[1]), ...) + the shape of one point's result.
    `compute_kwargs` go to `dask.compute` (e.g. scheduler=...). With
    compute=False, returns the lazy dask arrays instead (for `client.compute`
    and `distributed.progress`).
    """
    if not grids:
        raise NbadValueError("nbad.dask.sweep needs at least one grid of parameter values")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise NbadValueError(f"nbad.dask.sweep: batch_size must be a positive int, got {batch_size!r}")
    axes = [np.asarray(g) for g in grids]
    for i, g in enumerate(axes):
        if g.ndim != 1 or g.size == 0:
            raise NbadValueError(f"nbad.dask.sweep: grid {i} must be a non-empty 1-D array, got shape {g.shape}")
    points = [p.ravel() for p in np.meshgrid(*axes, indexing="ij")]
    grid_shape = tuple(g.size for g in axes)
    if not compute:
        lazy = vmap(fun, chunks=batch_size)(*[da.from_array(p, chunks=batch_size) for p in points])
        return tree_util.tree_map(lambda v: v.reshape(grid_shape + v.shape[1:]), lazy)
    # Computed at once: one task per batch, its points embedded (a few KB), and the
    # batches joined here; the graph has no array plumbing (from_array, rechunk,
    # concatenate), whose tasks cost the scheduler as much as the batches themselves.
    from nbad.api_vmap import vmap as nbad_vmap

    treedef, leaves = _out_structure(fun, [np.zeros((), p.dtype) for p in points], getattr(fun, "__name__", "f"))
    fun_node = _as_graph_data(_jitted(nbad_vmap, fun, (0,) * len(points)))
    tasks = [dask.delayed(_flat_call, pure=True)(fun_node, *[np.ascontiguousarray(p[i:i + batch_size])
                                                             for p in points])
             for i in range(0, points[0].size, batch_size)]
    batches = dask.compute(*tasks, **compute_kwargs)
    joined = [np.concatenate([b[k] for b in batches]) for k in range(len(leaves))]
    return tree_util.tree_unflatten(treedef, [v.reshape(grid_shape + v.shape[1:]) for v in joined])


def _tree_add(a, b):
    return tree_util.tree_map(np.add, a, b)


def _tree_sum(nodes):
    """A balanced tree of pairwise sums of delayed pytrees (depth log2 n)."""
    while len(nodes) > 1:
        pairs = itertools.zip_longest(nodes[0::2], nodes[1::2])
        nodes = [dask.delayed(_tree_add, pure=True)(a, b) if b is not None else a for a, b in pairs]
    return nodes[0]


def _chunked(x, rows, name, i):
    if isinstance(x, da.Array):
        x = x.rechunk((rows,) + tuple(-1 for _ in x.shape[1:]))
        return list(x.to_delayed().ravel())
    if isinstance(x, (list, tuple)):
        return list(x)
    raise NbadTypeError(f"nbad.dask.grad_sum({name}): data argument {i} must be a dask array chunked "
                        f"along its rows or a list of chunks, got {type(x).__name__}")


def grad_sum(loss, params, *data, argnums=0, compute=True, **compute_kwargs):
    """The sum over data chunks of `jit(grad(loss))(params, *chunk)`, on Dask.

    `data` are dask arrays split along their first axis (chunks aligned with
    the first one's) or lists of chunks (arrays, dask futures or delayed
    values) of equal length. When the loss is a sum over rows, the result is
    the gradient of the loss over the whole data set. Each chunk's gradient is
    computed where the chunk lives; the sums form a balanced tree. With
    compute=False, returns the dask.delayed result instead.
    """
    from nbad.api_ad import grad

    if not callable(loss):
        raise NbadTypeError(f"nbad.dask.grad_sum expects a callable loss, got {type(loss).__name__}")
    name = getattr(loss, "__name__", "loss")
    if not data:
        raise NbadValueError(f"nbad.dask.grad_sum({name}): pass the data to split (X, y, ...)")
    first = data[0]
    rows = first.chunks[0] if isinstance(first, da.Array) else None
    per_arg = [_chunked(x, rows, name, i) for i, x in enumerate(data)]
    counts = {len(c) for c in per_arg}
    if len(counts) != 1:
        raise NbadValueError(f"nbad.dask.grad_sum({name}): the data arguments have different numbers "
                             f"of chunks {sorted(counts)}")
    fun_node = _as_graph_data(_jitted(grad, loss, argnums))
    params_node = _as_graph_data(params)
    grads = [dask.delayed(_call, pure=True)(fun_node, params_node, *chunk) for chunk in zip(*per_arg)]
    total = _tree_sum(grads)
    return dask.compute(total, **compute_kwargs)[0] if compute else total


def _call(fun, *args):
    return tree_util.tree_map(np.asarray, fun(*args))
