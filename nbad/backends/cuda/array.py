"""CudaArray: a result of a CUDA program, resident in device memory.

It holds a numba-cuda device array (`.data`; 0-d values are stored as one
element) and exposes `__cuda_array_interface__`, so CuPy, PyTorch and
numba-cuda take it without a copy. `np.asarray(x)` / `nbad.device_get(x)`
copy it to the host (counted in runtime.TRANSFERS). Passed to a jitted CUDA
function it is used in place: chained calls never copy through the host.

Operators and nbad.numpy functions on a CudaArray outside jit are not
supported yet: they raise, saying to call them inside a jitted function or to
copy the array to the host first.
"""
from __future__ import annotations

import numpy as np

from nbad.backends.cuda import runtime
from nbad.errors import InPlaceUpdateError, NbadNotImplementedError


class CudaArray:
    __slots__ = ("data", "shape", "dtype", "__weakref__")
    __array_priority__ = 100  # NumPy defers binary operators to ours (which explain themselves)

    def __init__(self, data, shape):
        self.data = data
        self.shape = tuple(shape)
        self.dtype = np.dtype(data.dtype)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of unsized object")
        return self.shape[0]

    @property
    def __cuda_array_interface__(self):
        if runtime.simulated():  # the simulator's arrays are host memory and have no interface
            host = self.data._ary
            interface = {"shape": host.shape, "typestr": host.dtype.str, "strides": None,
                         "data": (host.__array_interface__["data"][0], False), "version": 3}
        else:
            interface = dict(self.data.__cuda_array_interface__)
        if interface["shape"] != self.shape:  # a 0-d value held as one element
            interface.update(shape=self.shape, strides=None)
        return interface

    def devices(self):
        return {self.device}

    @property
    def device(self):
        from nbad.backends.device import Device

        return Device("cuda", 0)  # nbad uses the current (first) CUDA device

    def block_until_ready(self):
        runtime.cuda_module().synchronize()
        return self

    def __array__(self, dtype=None, copy=None):
        host = runtime.to_host(self.data).reshape(self.shape)
        return host if dtype is None else host.astype(dtype, copy=False)

    def __repr__(self):
        return f"CudaArray({np.asarray(self)!r}, device=cuda)"

    def __setitem__(self, index, value):
        raise InPlaceUpdateError("nbad arrays are immutable: use x.at[idx].set(y) inside jit")

    def _outside_jit(self, *args, **kwargs):
        raise NbadNotImplementedError(
            "operations on a CUDA device array outside jit are not supported yet: run them "
            "inside a function jitted with nbad.jit(f, backend=\"cuda\"), or copy the array to "
            "the host first with nbad.device_get(x) (or np.asarray(x)).")

    __getitem__ = _outside_jit
    __bool__ = __float__ = __int__ = __index__ = _outside_jit
    __array_ufunc__ = None  # np.add(x, 1) etc. raise TypeError instead of copying silently


def _install_operators():
    names = ["add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or",
             "xor", "lshift", "rshift"]
    for name in names:
        for prefix in ("", "r"):
            setattr(CudaArray, f"__{prefix}{name}__", CudaArray._outside_jit)
    for name in ["neg", "pos", "abs", "invert", "lt", "le", "gt", "ge"]:
        setattr(CudaArray, f"__{name}__", CudaArray._outside_jit)
    for name in ["sum", "max", "min", "mean", "reshape", "astype", "transpose", "T", "at"]:
        setattr(CudaArray, name, property(CudaArray._outside_jit))


_install_operators()


def host_to_cuda(x) -> CudaArray:
    """A host value copied to the device (one transfer)."""
    host = np.asarray(x)
    data = runtime.to_device(host.reshape(host.shape or (1,)))
    return CudaArray(data, host.shape)
