"""nbad's vectorisable elementary functions (scalar, numba-jittable): the
module generated kernels import them from.

Public names: exp, expm1, log, log1p, tanh, logistic, sin, cos, erf (each also
as <name>_call, called rather than inlined), fma and threefry2x32. Each takes a
float32 or float64 (ints are promoted to float64) and returns the same type.
The float64 cores, the compilation model and the accuracy are described in
mathlib_f64.py; the float32 cores are mathlib_f32.py; fma and threefry2x32
(nbad.random's primitives) are mathlib_random.py.
"""
import numpy as np
from numba import njit, types
from numba.extending import overload

from nbad.backends.cpu import mathlib_f32 as _f32
from nbad.backends.cpu.mathlib_f64 import (_CALL_OPTIONS, _JIT_OPTIONS, _cos64, _erf64, _exp64, _expm1_64,
                                           _log1p64, _log64, _logistic64, _sin64, _tanh64)
from nbad.backends.cpu.mathlib_random import fma, fma_call, threefry2x32, threefry2x32_call  # noqa: F401

__all__ = ["exp", "expm1", "log", "log1p", "tanh", "logistic", "sin", "cos", "erf"]


def _public(name, impl64, impl32=None, options=_JIT_OPTIONS):
    """A jitted function `name` dispatching on the argument's type: float32
    uses impl32 (default: impl64 in float64, rounded once), everything else
    is converted to float64."""
    def stub(x):
        raise NotImplementedError

    @overload(stub, jit_options=options)
    def _ov(x):
        if isinstance(x, types.Float) and x.bitwidth == 32:
            if impl32 is not None:
                return lambda x: impl32(x)
            return lambda x: np.float32(impl64(np.float64(x)))
        if isinstance(x, (types.Float, types.Integer, types.Boolean)):
            return lambda x: impl64(np.float64(x))

    def fn(x):
        return stub(x)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"nbad.backends.cpu.mathlib.{name}: vectorisable {name}(x) for float32/float64."
    return njit(**options)(fn)


_IMPLS = {"exp": (_exp64, _f32._exp32), "expm1": (_expm1_64, _f32._expm1_32),
          "log": (_log64, _f32._log32), "log1p": (_log1p64, _f32._log1p32),
          "tanh": (_tanh64, _f32._tanh32), "logistic": (_logistic64, _f32._logistic32),
          "sin": (_sin64, _f32._sin32), "cos": (_cos64, _f32._cos32), "erf": (_erf64,)}
exp, expm1, log, log1p, tanh, logistic, sin, cos, erf = (_public(n, *_IMPLS[n]) for n in __all__)
for _n in __all__:  # the same functions, called rather than inlined (_CALL_OPTIONS): <name>_call
    globals()[_n + "_call"] = _public(_n, *_IMPLS[_n], options=_CALL_OPTIONS)
