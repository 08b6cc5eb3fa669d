"""nbad.lax: JAX's lax functions that nbad provides (a growing subset).

Control flow (cond, fori_loop, scan, while_loop) is not built yet: under jit,
Python control flow must depend only on static values for now.
"""
from __future__ import annotations

from nbad.core.trace import bind
from nbad.numpy._core import as_operand
from nbad.rules.control import stop_gradient_p


def stop_gradient(x):
    """x, with a zero derivative (pytrees too)."""
    from nbad import tree_util

    return tree_util.tree_map(lambda leaf: bind(stop_gradient_p, as_operand(leaf)), x)
