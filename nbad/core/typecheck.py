"""The IR typechecker: what every pass must preserve.

    typecheck(ir)        raises IRTypeError naming the first broken equation
    @ir_pass             marks an IR -> IR pass; with the `typecheck` setting
                         on (NBAD_TYPECHECK=1, NBAD_DEBUG >= 1, the test suite)
                         its result is typechecked, so a pass that breaks the
                         IR is named where it happens, not as a Numba typing
                         error in generated code much later.

An IR is well typed when
  - it is in SSA form: each Var is defined once (an input, a constvar or one
    equation's output) and every use comes after its definition;
  - each equation's output avals are what its primitive's abstract_eval gives
    for its input avals and params (shape and dtype; weak types are a tracing
    hint and are not compared);
  - every sub-IR held in a param (loop and map bodies, custom rules) is itself
    well typed; how a sub-IR's signature must fit its operands is the
    primitive's own abstract_eval's check.
"""
from __future__ import annotations

import functools

from nbad.core.ir import IR, Literal
from nbad.errors import NbadError


class IRTypeError(NbadError, TypeError):
    """An IR violates SSA or its equations' abstract_eval: a bug in the pass that made it."""


def _same_type(a, b) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype


def _sub_irs(params):
    for value in params.values():
        if isinstance(value, IR):
            yield value
        elif isinstance(value, (tuple, list)):
            yield from (v for v in value if isinstance(v, IR))


def typecheck(ir: IR, where: str = "") -> IR:
    """`ir`, after checking it (see the module docstring); raises IRTypeError."""
    context = f" after {where}" if where else ""
    defined: set[int] = set()

    def define(var, what):
        if var.id in defined:
            raise IRTypeError(f"IR @{ir.name}{context}: {var} is defined twice ({what})\n{ir}")
        defined.add(var.id)

    for var in ir.inputs:
        define(var, "input")
    for var in ir.constvars:
        define(var, "constvar")
    for n, eq in enumerate(ir.equations):
        for atom in eq.inputs:
            if not isinstance(atom, Literal) and atom.id not in defined:
                raise IRTypeError(f"IR @{ir.name}{context}: equation {n} ({eq.primitive.name}) reads "
                                  f"{atom} before it is defined\n{ir}")
        for sub in _sub_irs(eq.params):
            typecheck(sub, where)
        try:
            expected = eq.primitive.abstract_eval(*[a.aval for a in eq.inputs], **eq.params)
        except Exception as e:  # noqa: BLE001 - any rejection is the finding
            raise IRTypeError(f"IR @{ir.name}{context}: equation {n} ({eq.primitive.name}) is rejected "
                              f"by its abstract_eval: {type(e).__name__}: {e}\n{ir}") from e
        if not eq.primitive.multiple_results:
            expected = [expected]
        got = [v.aval for v in eq.outputs]
        if len(expected) != len(got) or not all(_same_type(e, g) for e, g in zip(expected, got)):
            raise IRTypeError(
                f"IR @{ir.name}{context}: equation {n} ({eq.primitive.name}) has results "
                f"({', '.join(a.str_short() for a in got)}) but its inputs give "
                f"({', '.join(a.str_short() for a in expected)})\n{ir}")
        for var in eq.outputs:
            define(var, f"equation {n}, {eq.primitive.name}")
    for atom in ir.outputs:
        if not isinstance(atom, Literal) and atom.id not in defined:
            raise IRTypeError(f"IR @{ir.name}{context}: returns {atom}, which is never defined\n{ir}")
    return ir


def ir_pass(fn):
    """Decorate an IR -> IR pass: its result is typechecked when the setting is on."""

    @functools.wraps(fn)
    def run(ir, *args, **kwargs):
        out = fn(ir, *args, **kwargs)
        from nbad.config import config

        if (config.typecheck or config.debug >= 1) and isinstance(out, IR):
            typecheck(out, fn.__qualname__)
        return out

    return run
