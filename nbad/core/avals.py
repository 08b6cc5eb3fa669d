"""Abstract values: what a tracer knows about an array (shape, dtype, weakness).

Dtype rules follow NumPy (NEP 50), not JAX: float64 by default, and Python
scalars are *weak* — they take the dtype of the array they meet
(`float32_array * 2.0` stays float32). A weak aval records that a value came
from a Python scalar, so it keeps that property through jit arguments.
"""
from __future__ import annotations

import numpy as np

from nbad.errors import NbadOverflowError, NbadTypeError, NbadValueError

SUPPORTED_DTYPES = tuple(
    np.dtype(d)
    for d in (
        "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
        "float32", "float64", "complex64", "complex128",
    )
)

_SHORT_NAMES = {
    "bool": "bool", "int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64",
    "uint8": "u8", "uint16": "u16", "uint32": "u32", "uint64": "u64",
    "float16": "f16", "float32": "f32", "float64": "f64",
    "complex64": "c64", "complex128": "c128",
}


def short_dtype_name(dtype) -> str:
    return _SHORT_NAMES[np.dtype(dtype).name]


def check_dtype(dtype, what="array") -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype not in SUPPORTED_DTYPES:
        raise NbadTypeError(
            f"nbad does not support dtype {dtype} for {what}; supported dtypes are "
            + ", ".join(d.name for d in SUPPORTED_DTYPES)
            + (". float16 is not supported by Numba: use float32." if dtype == np.float16 else ".")
        )
    return dtype


def check_not_masked(x):
    """Masked arrays are refused, as JAX refuses them: their mask would be lost."""
    if type(x) is not np.ndarray and isinstance(x, np.ma.MaskedArray):
        raise NbadValueError(
            "NumPy masked arrays are not supported as inputs to nbad functions (their mask "
            "would be silently ignored). Use arr.filled(fill_value) to convert one to a "
            "standard NumPy array, or pass the mask as an array of its own.")


class ShapedArray:
    """The abstract value of an array: a static shape and a dtype."""

    __slots__ = ("shape", "dtype", "weak_type")

    def __init__(self, shape, dtype, weak_type: bool = False):
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self.weak_type = bool(weak_type)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    def update(self, shape=None, dtype=None, weak_type=None) -> "ShapedArray":
        return ShapedArray(
            self.shape if shape is None else shape,
            self.dtype if dtype is None else dtype,
            self.weak_type if weak_type is None else weak_type,
        )

    def strip_weak(self) -> "ShapedArray":
        return ShapedArray(self.shape, self.dtype) if self.weak_type else self

    def __eq__(self, other):
        return (
            isinstance(other, ShapedArray)
            and self.shape == other.shape
            and self.dtype == other.dtype
            and self.weak_type == other.weak_type
        )

    def __hash__(self):
        return hash((self.shape, self.dtype, self.weak_type))

    def str_short(self) -> str:
        return f"{short_dtype_name(self.dtype)}[{','.join(map(str, self.shape))}]"

    def __repr__(self):
        return f"ShapedArray({self.str_short()}{', weak' if self.weak_type else ''})"

    __str__ = str_short


_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_PY_SCALAR_DTYPES = {bool: np.dtype(bool), int: np.dtype(np.int64), float: np.dtype(np.float64),
                     complex: np.dtype(np.complex128)}


def aval_of_value(x) -> ShapedArray:
    """The aval of a concrete input (array, NumPy scalar or Python scalar)."""
    t = type(x)
    if t in _PY_SCALAR_DTYPES:
        if t is int and not _INT64_MIN <= x <= _INT64_MAX:
            raise NbadOverflowError(
                f"Python int {x} is too large to convert to int64, nbad's type for Python ints. "
                "Pass a float (e.g. 1e21) or a NumPy array of an explicit dtype instead.")
        return ShapedArray((), _PY_SCALAR_DTYPES[t], weak_type=True)
    if isinstance(x, (np.ndarray, np.generic)):
        check_not_masked(x)
        return ShapedArray(x.shape, check_dtype(x.dtype))
    if hasattr(x, "__cuda_array_interface__"):
        raise NbadTypeError(
            f"nbad.numpy functions outside jit take host arrays, got a device array ({t.__name__}): "
            "call the function inside nbad.jit(f, backend=\"cuda\") (operators and methods of "
            "nbad's CUDA arrays also work outside jit), or copy it to the host first with "
            "nbad.device_get(x)")
    raise NbadTypeError(
        f"nbad cannot use a value of type {t.__name__} as an array: expected a NumPy array, "
        "a Python or NumPy scalar, or a pytree (list/tuple/dict) of them."
    )


def _weak_representative(aval: ShapedArray):
    """A Python scalar of the aval's kind: NumPy treats it as weak in result_type."""
    kind = aval.dtype.kind
    return {"b": False, "i": 0, "u": 0, "f": 0.0, "c": 0j}[kind]


def result_dtype(*avals: ShapedArray) -> tuple[np.dtype, bool]:
    """NumPy's promotion of the avals; weak avals behave like Python scalars.

    Returns (dtype, weak): the result is weak only if every operand was.
    """
    strong = [a.dtype for a in avals if not a.weak_type]
    weak = [_weak_representative(a) for a in avals if a.weak_type]
    if not strong:
        # Only Python scalars: NumPy's default dtypes (bool < int64 < float64 < complex128).
        return np.result_type(*[np.asarray(w) for w in weak]), True
    return np.result_type(*strong, *weak), False
