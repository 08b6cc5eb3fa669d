"""What every distribution needs: its arguments in one inexact dtype, and the
standardised variable (x - loc) / scale."""
from __future__ import annotations

import nbad.numpy as jnp
from nbad.numpy._core import as_operand, convert, promote_dtypes


def promote(*args):
    """The arguments as arrays of their common inexact dtype (NumPy promotion; weak scalars)."""
    args = [as_operand(a) for a in args]
    dtype, _ = promote_dtypes(*args, to_inexact=True)
    return [convert(a, dtype) for a in args]


def standardise(x, loc, scale):
    x, loc, scale = promote(x, loc, scale)
    return jnp.divide(jnp.subtract(x, loc), scale), scale

