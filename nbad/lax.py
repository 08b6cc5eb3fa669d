"""nbad.lax: JAX's lax functions that nbad provides (a growing subset).

map(f, xs) is vmap(f)(xs): nbad batches by loop insertion, so the sequential
and the vectorised map are one mechanism.

Control flow (cond, fori_loop, scan, while_loop) is not built yet: under jit,
Python control flow must depend only on static values for now.
"""
from __future__ import annotations

from nbad._lax_ops import *  # noqa: F401,F403  (lax's primitive operations)
from nbad.core.trace import bind
from nbad.numpy._core import as_operand
from nbad.rules.control import stop_gradient_p


def stop_gradient(x):
    """x, with a zero derivative (pytrees too)."""
    from nbad import tree_util

    return tree_util.tree_map(lambda leaf: bind(stop_gradient_p, as_operand(leaf)), x)


def map(f, xs, *, batch_size=None):  # noqa: A001 - JAX's name
    """f applied to every slice of xs (a pytree) along its leading axis, results stacked."""
    from nbad.api_vmap import lax_map

    return lax_map(f, xs, batch_size=batch_size)
