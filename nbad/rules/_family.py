"""Family helpers that keep a primitive's rules to about one line per concern.

`elementwise(...)` defines an elementwise primitive: its abstract_eval (all
non-scalar operands share one shape, all operands one dtype unless the family
says otherwise), its impl and its codegen template. Derivative rules are
attached next to each primitive by its family file.
"""
from __future__ import annotations

import numpy as np

from nbad.core.avals import ShapedArray
from nbad.core.primitive import Primitive
from nbad.rules._batching import defvectorized
from nbad.errors import NbadTypeError, ShapeError

# Which dtype kinds an elementwise primitive accepts.
DTYPE_KINDS = {
    "float": "fc",        # floating and complex
    "real_float": "f",
    "number": "iufc",
    "real": "iuf",
    "real_or_bool": "biuf",
    "int": "iu",
    "int_or_bool": "biu",
    "bool": "b",
    "any": "biufc",
}


def common_shape(prim_name: str, avals) -> tuple:
    """The one shape shared by the non-scalar operands (scalars broadcast)."""
    shape = ()
    for a in avals:
        if a.shape == ():
            continue
        if shape == ():
            shape = a.shape
        elif a.shape != shape:
            raise ShapeError(
                f"{prim_name} requires operands of equal shapes (or scalars), got "
                + ", ".join(a.str_short() for a in avals)
                + ". nbad.numpy functions broadcast their arguments; primitives do not."
            )
    return shape


def check_kinds(prim_name: str, avals, kinds: str):
    for a in avals:
        if a.dtype.kind not in DTYPE_KINDS[kinds]:
            raise NbadTypeError(
                f"{prim_name} does not accept dtype {a.dtype.name} "
                f"(operands: {', '.join(a.str_short() for a in avals)}); "
                f"it accepts {kinds} dtypes."
            )


def same_dtype(prim_name: str, avals) -> np.dtype:
    dtypes = {a.dtype for a in avals}
    if len(dtypes) != 1:
        raise NbadTypeError(
            f"{prim_name} requires operands of one dtype, got "
            + ", ".join(a.str_short() for a in avals)
            + ". nbad.numpy promotes dtypes; primitives do not."
        )
    return avals[0].dtype


def elementwise(name: str, nargs: int, impl, codegen, *, kinds: str = "any",
                result_dtype=None) -> Primitive:
    """Define an elementwise primitive.

    result_dtype: None (same as operands) or a fixed dtype (comparisons: bool).
    """
    prim = Primitive(name, kind="elementwise")

    def abstract_eval(*avals, **params):
        if len(avals) != nargs:
            raise NbadTypeError(f"{name} takes {nargs} operands, got {len(avals)}")
        shape = common_shape(name, avals)
        dtype = same_dtype(name, avals)
        check_kinds(name, avals, kinds)
        out_dtype = dtype if result_dtype is None else np.dtype(result_dtype)
        weak = all(a.weak_type for a in avals) and result_dtype is None
        return ShapedArray(shape, out_dtype, weak)

    prim.abstract_eval = abstract_eval
    prim.impl = impl
    prim.codegen = codegen
    defvectorized(prim)
    return prim


def template(text: str):
    """A codegen rule from a format string over the operands: "({0} + {1})"."""

    def codegen(e, *xs, **params):
        return text.format(*xs)

    codegen.template = text
    return codegen


def math_call(name: str):
    """A codegen rule calling nbad's vectorisable math library function `name`."""

    def codegen(e, x, **params):
        return f"{e.math(name)}({x})"

    return codegen
