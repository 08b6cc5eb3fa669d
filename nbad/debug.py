"""nbad.debug (jax.debug): print and callback, for values known outside jit.

Outside jit (also inside an eager grad, whose traced values are concrete) they
run at once, with the values as NumPy arrays. Under jit (and vmap, which
compiles) the values exist only when the compiled program runs, and nbad's
programs have no host-callback step yet: there they raise, rather than print
once at trace time.
"""
from __future__ import annotations

import numpy as np

from nbad import tree_util
from nbad.core.array import as_array
from nbad.core.trace import Tracer
from nbad.errors import NbadNotImplementedError

__all__ = ["print", "callback"]


def _concrete(tree, what):
    def value(x):
        if isinstance(x, Tracer):
            if x.value is None:
                raise NbadNotImplementedError(
                    f"nbad.debug.{what} of a value traced under jit (or vmap): nbad runs debug "
                    "callbacks only outside jit for now. Call the function without jit to see "
                    "the values, or return them as outputs.")
            return as_array(x.value)
        return x

    return tree_util.tree_map(value, tree)


def print(fmt: str, *args, ordered: bool = False, **kwargs) -> None:  # noqa: A001
    """Print fmt.format(*args, **kwargs) with the arguments' values."""
    import builtins

    args, kwargs = _concrete((args, kwargs), "print")
    builtins.print(fmt.format(*args, **kwargs))


def callback(callback, *args, ordered: bool = False, partitioned: bool = False, **kwargs) -> None:
    """Call callback(*args, **kwargs) with the arguments' values (NumPy arrays)."""
    args, kwargs = _concrete((args, kwargs), "callback")
    args, kwargs = tree_util.tree_map(np.asarray, (args, kwargs))
    callback(*args, **kwargs)
