"""Elementwise primitives: arithmetic, math, comparisons, logic, select, convert.

Every primitive here is defined with `elementwise(...)` (rules/_family.py):
operands of one shape (scalars broadcast) and one dtype. The impl is NumPy's
ufunc with NumPy's result dtype; the codegen is a scalar template.
"""
from __future__ import annotations

import numpy as np

from nbad.core.avals import ShapedArray
from nbad.core.primitive import Primitive
from nbad.rules._family import common_shape, elementwise, math_call, template


def _same_dtype_impl(ufunc):
    """NumPy's ufunc, with the result kept in the operands' dtype (as the IR says)."""

    def impl(*xs, **params):
        out = ufunc(*xs)
        dtype = np.result_type(*xs)
        return np.asarray(out, dtype=dtype) if np.asarray(out).dtype != dtype else out

    return impl


add_p = elementwise("add", 2, _same_dtype_impl(np.add), template("({0} + {1})"), kinds="number")
mul_p = elementwise("mul", 2, _same_dtype_impl(np.multiply), template("({0} * {1})"), kinds="number")
exp_p = elementwise("exp", 1, np.exp, math_call("exp"), kinds="float")


# convert_element_type changes dtype, so it is not a same-dtype family member.
convert_element_type_p = Primitive("convert_element_type", kind="elementwise")


def _convert_abstract_eval(x, *, new_dtype):
    return ShapedArray(x.shape, new_dtype)


def _convert_codegen(e, x, *, new_dtype):
    src = e.in_dtypes[0]
    if src == np.dtype(new_dtype):
        return x
    return e.cast(x, new_dtype)


convert_element_type_p.abstract_eval = _convert_abstract_eval
convert_element_type_p.impl = lambda x, *, new_dtype: np.asarray(x).astype(new_dtype)
convert_element_type_p.codegen = _convert_codegen
