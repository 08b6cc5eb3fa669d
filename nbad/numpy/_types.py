"""jnp.ndarray: the type of nbad's arrays for isinstance checks and annotations.

As JAX's jnp.ndarray (jax.Array), it covers results (nbad.Array) and traced
values (Tracers) alike, but not plain NumPy arrays.
"""
from __future__ import annotations


class _ArrayType(type):
    def __instancecheck__(cls, obj):
        from nbad.core.array import Array
        from nbad.core.trace import Tracer

        return isinstance(obj, (Array, Tracer))


class ndarray(metaclass=_ArrayType):  # noqa: N801 - NumPy's and JAX's name
    """isinstance(x, nbad.numpy.ndarray): x is an nbad array or a traced value."""
