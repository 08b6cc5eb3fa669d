"""Operators, properties and methods of traced arrays (nbad.core.trace.Tracer).

Installed on Tracer when nbad.numpy is imported, each one calls the
nbad.numpy function of the same meaning, so `x + 1` traces exactly like
`jnp.add(x, 1)`. Functions are looked up when called, which keeps this
module free of import-order constraints between the nbad.numpy modules.

nbad.core.array.Array is an ndarray subclass: NumPy already gives it these
operators and methods (and `.at` is defined there), so nothing is installed
on it. NumPy hands ufuncs with a tracer operand to `Tracer.__array_ufunc__`:
the ufuncs behind operators (`numpy_array + tracer` calls np.add) run as the
nbad.numpy function of the same name, as the tracer's own `__radd__` would;
any other (`np.sin(tracer)`) raises, pointing to nbad.numpy, as JAX does.
"""
from __future__ import annotations

import numpy as np

from nbad.core.trace import Tracer
from nbad.errors import TracerArrayConversionError
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


# The ufuncs NumPy's operators call, by name (all nbad.numpy functions).
_OPERATOR_UFUNCS = frozenset({
    "add", "subtract", "multiply", "true_divide", "divide", "floor_divide", "remainder", "power",
    "matmul", "equal", "not_equal", "less", "less_equal", "greater", "greater_equal", "bitwise_and",
    "bitwise_or", "bitwise_xor", "left_shift", "right_shift", "negative", "positive", "absolute",
    "invert"})


def _array_ufunc(self, ufunc, method, *inputs, **kwargs):
    name = ufunc.__name__
    if method == "__call__" and not kwargs and name in _OPERATOR_UFUNCS:
        return _jnp(name)(*inputs)
    import nbad.numpy as jnp

    call = f"numpy.{name}" if method == "__call__" else f"numpy.{name}.{method}"
    fix = (f"Use nbad.numpy.{name} instead (import nbad.numpy as jnp; jnp.{name}(...))"
           if hasattr(jnp, name) and method == "__call__" else
           "Use the nbad.numpy function of the same meaning (import nbad.numpy as jnp)")
    if "out" in kwargs:
        fix = ("A NumPy array cannot hold a traced result (out=, or `a += v` on a NumPy array a): "
               "write `a = a + v`, a new array, instead")
    raise TracerArrayConversionError(
        f"{call} was called on a traced array with shape/dtype {self.aval.str_short()} "
        f"({self._trace.name}). NumPy functions cannot compute with values that only exist while "
        f"nbad traces a function. {fix}.")


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
    Tracer.__array_ufunc__ = _array_ufunc
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
