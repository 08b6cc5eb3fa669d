"""The elementary functions generated CUDA kernels call.

The elementwise primitives' codegen templates (nbad/compile/expr.py) name
NumPy's scalar functions (`np.sqrt(x)`) and nbad's CPU math library
(`e.math("exp")` -> `_m_exp(x)`). The CUDA emitter renames every `np.NAME(`
call that is not a dtype cast to `_np_NAME(`, and imports those names and the
`_m_` ones from here (kernels.py: `device_names`).

On a GPU (and for `compile_ptx`) they are CUDA's `math.*` functions, which
Numba lowers to libdevice, or small inline device functions built on them.
Under the simulator (`NUMBA_ENABLE_CUDASIM=1`) a kernel is plain Python, where
`math.exp(1000.0)` raises OverflowError and `math.floor` returns an int: there
they are NumPy's ufuncs instead, which have the device's IEEE semantics (inf,
nan) and dtypes. So the simulator checks the kernels' structure (indexing,
reductions, launches) and the PTX compile checks these bodies' typing.
"""
from __future__ import annotations

import math

import numpy as np

from nbad.backends.cuda.runtime import simulated

# template name -> math function of the same meaning on the device
_MATH_ALIASES = {
    "arccos": math.acos, "arccosh": math.acosh, "arcsin": math.asin, "arcsinh": math.asinh,
    "arctan": math.atan, "arctan2": math.atan2, "arctanh": math.atanh, "ceil": math.ceil,
    "copysign": math.copysign, "cos": math.cos, "cosh": math.cosh, "exp": math.exp,
    "exp2": math.exp2, "expm1": math.expm1, "floor": math.floor, "fmod": math.fmod,
    "isfinite": math.isfinite, "isinf": math.isinf, "isnan": math.isnan, "log": math.log,
    "log10": math.log10, "log1p": math.log1p, "log2": math.log2, "sin": math.sin,
    "sinh": math.sinh, "sqrt": math.sqrt, "tan": math.tan, "tanh": math.tanh, "erf": math.erf,
}
# nbad's CPU math library names (e.math) with a direct device counterpart
_MATHLIB = ("exp", "expm1", "log", "log1p", "tanh", "sin", "cos", "erf")


def _device_functions():
    """The inline device functions: (template name -> function), real target."""
    from numba import cuda

    device = cuda.jit(device=True, inline=True)

    @device
    def logistic(x):
        return 1.0 / (1.0 + math.exp(-x))

    @device
    def cbrt(x):
        return math.copysign(math.pow(math.fabs(x), 1.0 / 3.0), x)

    @device
    def rint(x):  # round half to even, as NumPy
        f = math.floor(x)
        d = x - f
        if d > 0.5 or (d == 0.5 and math.fmod(f, 2.0) != 0.0):
            return f + 1.0
        return f

    return {"logistic": logistic, "cbrt": cbrt, "rint": rint}


def _simulated_functions():
    from scipy import special

    table = {name: getattr(np, name) for name in _MATH_ALIASES if hasattr(np, name)}
    table.update(erf=special.erf, logistic=special.expit, cbrt=np.cbrt, rint=np.rint)
    return table


def names() -> dict:
    """Every name a generated kernel may import from here -> its object."""
    if simulated():
        table = _simulated_functions()
    else:
        table = dict(_MATH_ALIASES)
        table.update(_device_functions())
    out = {f"_np_{name}": fn for name, fn in table.items()}
    for name in _MATHLIB + ("logistic",):
        out[f"_m_{name}"] = table[name]
    return out


_NAMES: dict | None = None


def device_names() -> dict:
    global _NAMES
    if _NAMES is None:
        _NAMES = names()
    return _NAMES
