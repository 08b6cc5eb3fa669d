"""nbad: a JAX-compatible array compiler on Numba.

    import nbad as jax
    import nbad.numpy as jnp
"""
from nbad.core.array import Array
from nbad import errors

__version__ = "0.1.0"
