"""nbad's intermediate representation and its printer.

Grammar (what `print(ir)` shows, deterministic so it can serve as a cache key)::

    func @NAME(%0: f64[8], %1: f64[500,8]) -> f64[] {
      %2 = PRIMITIVE %ATOM, ... {PARAM=VALUE, ...} : AVAL
      %3, %4 = PRIMITIVE ... : (AVAL, AVAL)          # several results
      return %ATOM, ...
    }

An atom is a `Var` (printed `%N`, numbered in order of definition) or a
`Literal` (a scalar constant, printed as its value, with `:dtype` unless the
dtype is the default one of its Python kind). Arrays captured from the
enclosing scope while tracing become extra inputs (`constvars`, printed after
the arguments with a `const` marker): they are passed at run time, never baked
into compiled code.
"""
from __future__ import annotations

import itertools

import numpy as np

from nbad.core.avals import ShapedArray, short_dtype_name

_var_ids = itertools.count()


class Var:
    __slots__ = ("aval", "id")

    def __init__(self, aval: ShapedArray):
        self.aval = aval
        self.id = next(_var_ids)

    def __repr__(self):
        return f"Var({self.id}: {self.aval.str_short()})"


class Literal:
    """A scalar constant operand. `value` is a NumPy scalar of `aval.dtype`."""

    __slots__ = ("value", "aval")

    def __init__(self, value, aval: ShapedArray | None = None):
        if aval is None:
            arr = np.asarray(value)
            aval = ShapedArray((), arr.dtype)
        self.aval = aval
        self.value = np.asarray(value, dtype=aval.dtype)[()]
        assert aval.shape == (), "literals are scalars; arrays are constvars"

    def __repr__(self):
        return f"Literal({format_literal(self)})"


_DEFAULT_LITERAL_DTYPES = {np.dtype(np.float64), np.dtype(np.int64), np.dtype(bool)}


def format_literal(lit: Literal) -> str:
    v = lit.value
    if lit.aval.dtype.kind == "b":
        text = "true" if v else "false"
    elif lit.aval.dtype.kind == "f":
        text = repr(float(v))
    elif lit.aval.dtype.kind == "c":
        text = repr(complex(v))
    else:
        text = str(int(v))
    if lit.aval.dtype not in _DEFAULT_LITERAL_DTYPES:
        text += ":" + short_dtype_name(lit.aval.dtype)
    return text


class Equation:
    __slots__ = ("primitive", "inputs", "outputs", "params")

    def __init__(self, primitive, inputs, outputs, params):
        self.primitive = primitive
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.params = dict(params)

    def __repr__(self):
        return f"Equation({self.primitive.name}, {self.inputs} -> {self.outputs}, {self.params})"


class IR:
    """A function: inputs, a list of equations in dependency order, outputs.

    `constvars`/`consts` are arrays captured while tracing; `consts[i]` is the
    value (array or outer tracer) of `constvars[i]`.
    """

    def __init__(self, inputs, equations, outputs, constvars=(), consts=(), name="f"):
        self.inputs = list(inputs)
        self.equations = list(equations)
        self.outputs = list(outputs)
        self.constvars = list(constvars)
        self.consts = list(consts)
        self.name = name

    @property
    def in_avals(self):
        return [v.aval for v in self.inputs]

    @property
    def out_avals(self):
        return [a.aval for a in self.outputs]

    def __str__(self):
        return print_ir(self)

    def __repr__(self):
        return print_ir(self)


def _format_param(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return "(" + ",".join(_format_param(v) for v in value) + ")"
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        return short_dtype_name(value)
    if isinstance(value, IR):
        return "{ " + print_ir(value).replace("\n", "\n    ") + " }"
    if isinstance(value, float):
        return repr(value)
    if callable(value) and hasattr(value, "__name__"):
        return value.__name__
    return str(value)


def format_params(params: dict) -> str:
    if not params:
        return ""
    return " {" + ", ".join(f"{k}={_format_param(v)}" for k, v in params.items()) + "}"


def print_ir(ir: IR) -> str:
    names: dict[int, str] = {}

    def define(v: Var) -> str:
        names[v.id] = f"%{len(names)}"
        return names[v.id]

    def atom(a) -> str:
        if isinstance(a, Literal):
            return format_literal(a)
        return names.get(a.id, f"%?{a.id}")

    args = [f"{define(v)}: {v.aval.str_short()}" for v in ir.inputs]
    args += [f"{define(v)}: {v.aval.str_short()} const" for v in ir.constvars]
    out_avals = [a.aval.str_short() for a in ir.outputs]
    result = out_avals[0] if len(out_avals) == 1 else "(" + ", ".join(out_avals) + ")"
    lines = [f"func @{ir.name}({', '.join(args)}) -> {result} {{"]
    for eq in ir.equations:
        ins = ", ".join(atom(a) for a in eq.inputs)
        outs = ", ".join(define(v) for v in eq.outputs)
        avals = [v.aval.str_short() for v in eq.outputs]
        aval_text = avals[0] if len(avals) == 1 else "(" + ", ".join(avals) + ")"
        lines.append(f"  {outs} = {eq.primitive.name} {ins}{format_params(eq.params)} : {aval_text}")
    lines.append("  return " + ", ".join(atom(a) for a in ir.outputs))
    lines.append("}")
    return "\n".join(lines)
