"""Operators, properties and methods of traced arrays (nbad.core.trace.Tracer).

Installed on Tracer when nbad.numpy is imported, each one calls the
nbad.numpy function of the same meaning, so `x + 1` traces exactly like
`jnp.add(x, 1)`. Functions are looked up when called, which keeps this
module free of import-order constraints between the nbad.numpy modules.

nbad.core.array.Array is an ndarray subclass: NumPy already gives it these
operators and methods (and `.at` is defined there), so nothing is installed
on it. `Tracer.__array_ufunc__ = None` makes NumPy defer to the tracer, so
`numpy_array + tracer` calls `Tracer.__radd__` instead of failing in
np.asarray(tracer).
"""
from __future__ import annotations

import numpy as np

from nbad.core.trace import Tracer
from nbad.numpy import _core


def _jnp(name):
    import nbad.numpy as jnp

    return getattr(jnp, name)


def _binary(name):
    def op(self, other):
        return _jnp(name)(self, other)

    op.__name__ = name
    return op


def _reflected(name):
    def op(self, other):
        return _jnp(name)(other, self)

    op.__name__ = "r" + name
    return op


def _unary(name):
    def op(self):
        return _jnp(name)(self)

    op.__name__ = name
    return op


def _method(name):
    def method(self, *args, **kwargs):
        return _jnp(name)(self, *args, **kwargs)

    method.__name__ = name
    return method


_BINARY = {
    "add": "add", "sub": "subtract", "mul": "multiply", "truediv": "divide",
    "floordiv": "floor_divide", "mod": "remainder", "pow": "power", "matmul": "matmul",
    "and": "bitwise_and", "or": "bitwise_or", "xor": "bitwise_xor",
    "lshift": "left_shift", "rshift": "right_shift",
}
_COMPARISONS = {"eq": "equal", "ne": "not_equal", "lt": "less", "le": "less_equal",
                "gt": "greater", "ge": "greater_equal"}
_UNARY = {"neg": "negative", "pos": "positive", "abs": "absolute", "invert": "invert"}
_METHODS = ("sum", "prod", "mean", "var", "std", "max", "min", "argmax", "argmin", "any",
            "all", "cumsum", "cumprod", "ravel", "squeeze", "swapaxes", "clip", "round",
            "conj", "conjugate", "dot", "ptp", "take", "repeat", "trace",
            "diagonal")


def _divmod(self, other):
    return _jnp("floor_divide")(self, other), _jnp("remainder")(self, other)


def _rdivmod(self, other):
    return _jnp("floor_divide")(other, self), _jnp("remainder")(other, self)


def _shape_args(args):
    """`x.reshape(2, 3)` and `x.reshape((2, 3))` mean the same, as in NumPy."""
    return args[0] if len(args) == 1 and isinstance(args[0], (tuple, list)) else args


def _reshape(self, *shape, order="C"):
    return _jnp("reshape")(self, _shape_args(shape), order=order)


def _transpose(self, *axes):
    axes = _shape_args(axes)
    return _jnp("transpose")(self, axes if axes else None)


def _astype(self, dtype, copy=True):
    return _core.convert(self, _core.check_dtype(dtype, "astype"))


def _flatten(self, order="C"):
    return _jnp("ravel")(self, order)


def _item(self, *args):
    return np.asarray(self._concrete("item()")).item(*args)


def _tolist(self):
    return np.asarray(self._concrete("tolist()")).tolist()


def _at(self):
    from nbad.numpy._at import IndexUpdateHelper

    return IndexUpdateHelper(self)


def _getitem(self, index):
    from nbad.numpy._indexing import getitem

    return getitem(self, index)


def _install():
    for dunder, name in _BINARY.items():
        setattr(Tracer, f"__{dunder}__", _binary(name))
        setattr(Tracer, f"__r{dunder}__", _reflected(name))
    for dunder, name in _COMPARISONS.items():
        setattr(Tracer, f"__{dunder}__", _binary(name))
    for dunder, name in _UNARY.items():
        setattr(Tracer, f"__{dunder}__", _unary(name))
    for name in _METHODS:
        setattr(Tracer, name, _method(name))
    Tracer.__divmod__ = _divmod
    Tracer.__rdivmod__ = _rdivmod
    Tracer.__getitem__ = _getitem
    Tracer.__array_ufunc__ = None
    Tracer.reshape = _reshape
    Tracer.transpose = _transpose
    Tracer.astype = _astype
    Tracer.flatten = _flatten
    Tracer.item = _item
    Tracer.tolist = _tolist
    Tracer.T = property(lambda self: _jnp("transpose")(self))
    Tracer.mT = property(lambda self: _jnp("swapaxes")(self, -1, -2))
    Tracer.real = property(_unary("real"))
    Tracer.imag = property(_unary("imag"))
    Tracer.at = property(_at)


_install()
