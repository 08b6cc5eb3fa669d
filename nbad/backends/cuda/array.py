"""CudaArray: a result of a CUDA program, resident in device memory.

It holds a numba-cuda device array (`.data`; 0-d values are stored as one
element) and exposes `__cuda_array_interface__`, so CuPy, PyTorch and
numba-cuda take it without a copy. `np.asarray(x)` / `nbad.device_get(x)`
copy it to the host (counted in runtime.TRANSFERS). Passed to a jitted CUDA
function it is used in place: chained calls never copy through the host.

Operators, basic indexing and the common methods (sum, max, reshape, astype,
T, ...) work outside jit: each runs as a small jitted CUDA program, compiled
once per operation and cached. nbad.numpy functions outside jit take host
arrays only (they raise for device arrays, saying to jit or copy first);
`.at` outside jit is not supported yet.
"""
from __future__ import annotations

import operator

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

    def item(self):
        return np.asarray(self).item()

    def __float__(self):
        return float(np.asarray(self))

    def __int__(self):
        return int(np.asarray(self))

    def __bool__(self):
        return bool(np.asarray(self))

    def __index__(self):
        return np.asarray(self).__index__()

    __hash__ = None  # == is elementwise, as for NumPy arrays
    __array_ufunc__ = None  # np.add(x, 1) raises TypeError rather than copying to the host

    def __getitem__(self, index):
        return _program(("getitem", _index_key(index)), _getitem, (1,))(self, _index_key(index))

    def reshape(self, *shape):
        shape = tuple(shape[0]) if len(shape) == 1 and not isinstance(shape[0], int) else shape
        return _program(("reshape",), lambda a, s: a.reshape(s), (1,))(self, shape)

    def astype(self, dtype):
        return _program(("astype",), lambda a, d: a.astype(d), (1,))(self, np.dtype(dtype))

    def transpose(self, *axes):
        axes = tuple(axes[0]) if len(axes) == 1 and not isinstance(axes[0], int) else axes
        return _program(("transpose",), lambda a, ax: a.transpose(*ax), (1,))(self, axes)

    @property
    def T(self):
        return self.transpose()

    @property
    def at(self):
        raise NbadNotImplementedError(
            "x.at[...] on a CUDA device array outside jit is not supported yet: use it inside "
            "a function jitted with nbad.jit(f, backend=\"cuda\"), or copy the array to the host "
            "first with nbad.device_get(x).")


# Operators and methods outside jit run as small jitted CUDA programs, one per
# operation (and static arguments), compiled once and cached.
_PROGRAMS: dict = {}


def _program(key, fn, static_argnums=()):
    jf = _PROGRAMS.get(key)
    if jf is None:
        from nbad.api import jit

        jf = _PROGRAMS[key] = jit(fn, backend="cuda", static_argnums=static_argnums)
    return jf


def _index_key(index):
    """A basic index as a hashable static argument (slices are unhashable before 3.12)."""
    parts = index if isinstance(index, tuple) else (index,)
    key = []
    for p in parts:
        if isinstance(p, slice):
            key.append(("slice", p.start, p.stop, p.step))
        elif p is None or p is Ellipsis or isinstance(p, (int, np.integer)):
            key.append(p if not isinstance(p, np.integer) else int(p))
        else:
            raise NbadNotImplementedError(
                "indexing a CUDA device array outside jit takes ints, slices, None and ...; "
                "index with arrays inside a function jitted with nbad.jit(f, backend=\"cuda\")")
    return tuple(key)


def _getitem(a, key):
    index = tuple(slice(*p[1:]) if isinstance(p, tuple) else p for p in key)
    return a[index]


def _binary(op, reflected=False):
    key = (op.__name__, reflected)

    def method(self, other):
        fn = (lambda a, b: op(b, a)) if reflected else op
        return _program(key, fn)(self, other)

    return method


def _unary(op):
    return lambda self: _program((op.__name__,), op)(self)


def _reduction(name):
    def method(self, axis=None, keepdims=False):
        axis = tuple(axis) if isinstance(axis, list) else axis

        def fn(a, axis, keepdims):
            import nbad.numpy as jnp

            return getattr(jnp, name)(a, axis=axis, keepdims=keepdims)

        return _program((name,), fn, (1, 2))(self, axis, keepdims)

    return method


def _install_operators():
    binary = ["add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and_", "or_",
              "xor", "lshift", "rshift"]
    for name in binary:
        op = getattr(operator, name)
        dunder = name.rstrip("_")
        setattr(CudaArray, f"__{dunder}__", _binary(op))
        setattr(CudaArray, f"__r{dunder}__", _binary(op, reflected=True))
    for name in ["lt", "le", "gt", "ge", "eq", "ne"]:
        setattr(CudaArray, f"__{name}__", _binary(getattr(operator, name)))
    for name in ["neg", "pos", "abs", "invert"]:
        setattr(CudaArray, f"__{name}__", _unary(getattr(operator, name)))
    for name in ["sum", "prod", "max", "min", "mean", "any", "all"]:
        setattr(CudaArray, name, _reduction(name))


_install_operators()


def host_to_cuda(x) -> CudaArray:
    """A host value copied to the device (one transfer)."""
    host = np.asarray(x)
    data = runtime.to_device(host.reshape(host.shape or (1,)))
    return CudaArray(data, host.shape)
