"""nbad.Array: the CPU result type — a NumPy array that behaves like a JAX array.

It is an ndarray subclass, so every NumPy function accepts it unchanged, with
JAX's immutability: `x[i] = v` raises and points to `x.at[i].set(v)`, and
augmented assignment (`x += 1`) rebinds instead of writing in place.
`.block_until_ready()` exists so timing code written for JAX runs as is.

Immutability is enforced on the Python API rather than with
`flags.writeable = False`, which costs more than a whole jitted call of a tiny
function (measured: ~390 ns against ~540 ns for a Numba dispatch).
"""
from __future__ import annotations

import numpy as np

from nbad.errors import ConcretizationError, InPlaceUpdateError, TracerArrayConversionError


def _inplace_error(self, index=None, value=None):
    raise InPlaceUpdateError(
        "nbad arrays are immutable: `x[idx] = y` is not supported. Use the functional form "
        "x = x.at[idx].set(y) (or .add, .multiply, .divide, .power, .min, .max), "
        "or convert to a NumPy array first with numpy.array(x)."
    )


_ndarray_getitem = np.ndarray.__getitem__


class Array(np.ndarray):
    __setitem__ = _inplace_error

    def __getitem__(self, index):
        try:
            return _ndarray_getitem(self, index)
        except (TracerArrayConversionError, ConcretizationError):
            # A traced index (an Array captured by a jitted or vmapped function):
            # NumPy cannot index by it, nbad.numpy can.
            from nbad.numpy._indexing import getitem

            return getitem(self, index)
        except IndexError:
            # nbad's own error for the index (a float is also a TypeError, as in JAX),
            # the one jit raises; NumPy's where nbad finds nothing wrong.
            from nbad.numpy._indexing import getitem

            getitem(np.asarray(self), index)
            raise

    def block_until_ready(self):
        return self

    def devices(self):
        """{CpuDevice(id=0)}. (No `.sharding`: JAX's functions read an argument's
        `.sharding` and would reject nbad arrays passed to them.)"""
        from nbad.backends.device import Device

        return {Device("cpu", 0)}

    @property
    def at(self):
        from nbad.numpy._at import IndexUpdateHelper

        return IndexUpdateHelper(self)

    def __iadd__(self, other):
        return self + other

    def __isub__(self, other):
        return self - other

    def __imul__(self, other):
        return self * other

    def __itruediv__(self, other):
        return self / other

    def __ifloordiv__(self, other):
        return self // other

    def __imod__(self, other):
        return self % other

    def __ipow__(self, other):
        return self ** other

    def __imatmul__(self, other):
        return self @ other

    def __iand__(self, other):
        return self & other

    def __ior__(self, other):
        return self | other

    def __ixor__(self, other):
        return self ^ other

    def __reduce__(self):
        # Results travel (pickle, Dask) as plain NumPy arrays: the receiver needs no nbad.
        return np.asarray(self).view(np.ndarray).__reduce__()

    def __repr__(self):
        body = np.array2string(np.asarray(self), separator=", ", prefix="Array(")
        return f"Array({body}, dtype={self.dtype.name})"


def as_array(value) -> Array:
    return np.asarray(value).view(Array)
