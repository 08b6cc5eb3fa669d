"""The scalar-expression contract between elementwise primitives and the CPU backend.

An elementwise primitive's `codegen` rule is a function

    codegen(e: ExprContext, *operand_exprs: str, **params) -> str

returning one Python expression (valid inside `numba.njit`) that computes
one element of the result from the operands' scalar expressions. The context
tells the rule the operand and result dtypes and gives it helpers, so dtype
decisions stay explicit (Numba's own scalar promotion differs from NumPy's:
int32 + int32 is int64 in Numba, float32 * 0.5 is float64):

  e.in_dtypes, e.dtype        operand dtypes, result dtype (np.dtype)
  e.lit(value, dtype=None)    a typed constant ("np.float32(0.5)"); default e.dtype
  e.cast(expr, dtype=None)    an explicit conversion of expr to dtype
  e.math(name)                the name of a function of nbad's math library
                              (nbad/backends/cpu/mathlib.py), e.g. e.math("exp")
  e.np                        "np" (NumPy is imported in generated modules)

The backend wraps every result whose dtype Numba could widen (all but
float64, int64, bool, complex128) in a final cast, so templates need not.
"""
from __future__ import annotations

import numpy as np

_NUMBA_NATURAL = {np.dtype(np.float64), np.dtype(np.int64), np.dtype(bool), np.dtype(np.complex128)}


def typed_constant(value, dtype) -> str:
    """Source text of a NumPy-typed scalar constant."""
    dtype = np.dtype(dtype)
    value = np.asarray(value, dtype=dtype)[()]
    if dtype.kind == "b":
        return "True" if value else "False"
    if dtype.kind == "f":
        v = float(value)
        if np.isnan(v):
            text = "np.nan"
        elif np.isinf(v):
            text = "np.inf" if v > 0 else "-np.inf"
        else:
            text = repr(v)
        return text if dtype == np.float64 else f"np.{dtype.name}({text})"
    if dtype.kind == "c":
        text = repr(complex(value))
        return f"np.{dtype.name}({text})"
    text = str(int(value))
    return text if dtype == np.int64 else f"np.{dtype.name}({text})"


def cast_expr(expr: str, dtype) -> str:
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return f"({expr} != 0)"
    return f"np.{dtype.name}({expr})"


def needs_final_cast(dtype) -> bool:
    return np.dtype(dtype) not in _NUMBA_NATURAL


class ExprContext:
    np = "np"

    def __init__(self, in_dtypes, dtype, math_names: set | None = None):
        self.in_dtypes = [np.dtype(d) for d in in_dtypes]
        self.dtype = np.dtype(dtype)
        self.math_names = math_names if math_names is not None else set()

    def lit(self, value, dtype=None) -> str:
        return typed_constant(value, self.dtype if dtype is None else dtype)

    def cast(self, expr: str, dtype=None) -> str:
        return cast_expr(expr, self.dtype if dtype is None else dtype)

    def math(self, name: str) -> str:
        self.math_names.add(name)
        return f"_m_{name}"
