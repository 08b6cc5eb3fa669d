"""nbad.lax: JAX's lax functions that nbad provides (a growing subset).

map(f, xs) is vmap(f)(xs): nbad batches by loop insertion, so the sequential
and the vectorised map are one mechanism. sort and sort_key_val bind the sort
primitive (rules/sort.py).

cond and switch run one branch (compiled as a real branch: only the chosen
branch's code runs); select is elementwise. scan, fori_loop and while_loop
(api_loops.py) are one equation each, compiled as native loops whatever the
number of steps.
"""
from __future__ import annotations

from nbad._lax_ops import *  # noqa: F401,F403  (lax's primitive operations)
from nbad._lax_control import cond, select, switch  # noqa: F401
from nbad._lax_slicing import (dynamic_index_in_dim, dynamic_slice, dynamic_slice_in_dim,  # noqa: F401
                               dynamic_update_index_in_dim, dynamic_update_slice,
                               dynamic_update_slice_in_dim)
from nbad.api_loops import fori_loop, scan, while_loop  # noqa: F401 - re-exported
from nbad.core.trace import bind
from nbad.numpy._core import as_operand
from nbad.rules.control import stop_gradient_p
from nbad.rules.sort import sort_p
from nbad import _lax_ops

__all__ = sorted(set(_lax_ops.__all__) | {
    "map", "stop_gradient", "sort", "sort_key_val", "cond", "switch", "select", "scan", "fori_loop", "while_loop",
    "dynamic_slice", "dynamic_update_slice", "dynamic_index_in_dim", "dynamic_update_index_in_dim",
    "dynamic_slice_in_dim", "dynamic_update_slice_in_dim"})


def stop_gradient(x):
    """x, with a zero derivative (pytrees too)."""
    from nbad import tree_util

    return tree_util.tree_map(lambda leaf: bind(stop_gradient_p, as_operand(leaf)), x)


def map(f, xs, *, batch_size=None):  # noqa: A001 - JAX's name
    """f applied to every slice of xs (a pytree) along its leading axis, results stacked."""
    from nbad.api_vmap import lax_map

    return lax_map(f, xs, batch_size=batch_size)


def sort(operand, dimension=-1, is_stable=True, num_keys=1):
    """operand (an array, or a sequence of arrays sorted together by the first
    num_keys of them, lexicographically) sorted along dimension."""
    from nbad.numpy._core import shape_of
    from nbad.numpy._shape import normalize_axis

    single = not isinstance(operand, (tuple, list))
    operands = [as_operand(x) for x in ([operand] if single else operand)]
    dimension = normalize_axis("lax.sort", dimension, len(shape_of(operands[0])))
    outs = bind(sort_p, *operands, dimension=dimension, is_stable=bool(is_stable),
                num_keys=num_keys)
    return outs[0] if single else tuple(outs)


def sort_key_val(keys, values, dimension=-1, is_stable=True):
    """(keys sorted along dimension, values reordered with them)."""
    return sort((keys, values), dimension=dimension, is_stable=is_stable, num_keys=1)
