"""Automatic differentiation, symbolic on the IR (DESIGN §6).

    linearize_ir   trace f once into an IR; its forward values become an
                   environment (the values the concrete trace computed, or,
                   under an outer transformation, the IR re-bound there)
    jvp_pass       forward mode: the jvp rule of each equation, in order
    backward_pass  reverse mode: the vjp rule of each equation, backwards,
                   summing cotangents where a value fans out

Rules are written with nbad operations and run through `bind`, so what they
compute is recorded by any enclosing trace: under jit the derivative becomes
part of the compiled program, under another grad it is differentiated again.
Outside jit the trace is concrete, so Python control flow on values works as
in JAX (seed 000's jumpinjax), and the forward pass is not recomputed.
"""
from __future__ import annotations

import numpy as np

from nbad.core.ir import IR, Literal, Var
from nbad.core.primitive import Primitive
from nbad.core.trace import Tracer, bind, new_ir_trace
from nbad.errors import MissingRuleError

FLOAT0 = np.dtype([("float0", np.void, 0)])  # JAX's dtype of integer inputs' gradients


class Linearized:
    """A traced function with its forward values: what jvp and vjp passes need."""

    def __init__(self, ir: IR, env: dict, in_avals):
        self.ir = ir
        self.env = env
        self.in_avals = in_avals

    def read(self, atom):
        if isinstance(atom, Literal):
            return atom.value
        return self.env[atom.id]

    @property
    def outputs(self):
        return [self.read(a) for a in self.ir.outputs]


def linearize_ir(flat_fn, leaves, avals, name: str, reroll_loops: bool = False) -> Linearized:
    """Trace `flat_fn(*leaves) -> list` and collect the forward value of every var.

    With `reroll_loops`, a forward pass traced without values (under jit) has its
    Python loops rerolled first (transforms/reroll.py): the derivative is then
    taken of one scan, a reverse scan, not of every copy of the loop's body."""
    values = [x.value if isinstance(x, Tracer) else x for x in leaves]
    with new_ir_trace(concrete=True, name=name) as trace:
        tracers = [trace.new_input(aval, v) for aval, v in zip(avals, values)]
        outs = flat_fn(*tracers)
        ir = trace.to_ir(tracers, list(outs), name=name)
        recorded = dict(trace.values)
    outer = any(isinstance(x, Tracer) for x in leaves) or any(isinstance(c, Tracer) for c in ir.consts)
    if outer and reroll_loops and any(v is None for v in values):
        from nbad.transforms.reroll import reroll
        from nbad.transforms.simplify import remove_dead_code

        ir = reroll(remove_dead_code(ir))
    if outer:
        env = _eval_env(ir, leaves)  # forward equations recorded by the enclosing trace
    else:
        env = recorded
        for var, c in zip(ir.constvars, ir.consts):
            env[var.id] = c
    return Linearized(ir, env, avals)


def _eval_env(ir: IR, args) -> dict:
    env: dict[int, object] = {}
    for var, val in zip(ir.inputs, args):
        env[var.id] = val
    for var, val in zip(ir.constvars, ir.consts):
        env[var.id] = val
    for eq in ir.equations:
        ins = [a.value if isinstance(a, Literal) else env[a.id] for a in eq.inputs]
        outs = bind(eq.primitive, *ins, **eq.params)
        if not eq.primitive.multiple_results:
            outs = [outs]
        for var, val in zip(eq.outputs, outs):
            env[var.id] = val
    return env


def _rule(prim: Primitive, slot: str):
    rule = getattr(prim, slot)
    if getattr(rule, "missing", False):
        raise MissingRuleError(
            f"nbad cannot differentiate primitive '{prim.name}': it has no {slot} rule yet.")
    return rule


def _is_float(aval) -> bool:
    return aval.dtype.kind in "fc"


def jvp_pass(lin: Linearized, tangents: list) -> list:
    """Tangents of the outputs (None = zero) given tangents of the inputs."""
    ir = lin.ir
    tenv: dict[int, object] = {}
    for var, t in zip(ir.inputs, tangents):
        if t is not None:
            tenv[var.id] = t
    for eq in ir.equations:
        prim = eq.primitive
        tins = [None if isinstance(a, Literal) else tenv.get(a.id) for a in eq.inputs]
        if prim.nondiff or all(t is None for t in tins):
            continue
        ins = [lin.read(a) for a in eq.inputs]
        outs = [lin.env[v.id] for v in eq.outputs]
        touts = _rule(prim, "jvp")(ins, tins, outs if prim.multiple_results else outs[0], **eq.params)
        if not prim.multiple_results:
            touts = [touts]
        for var, t in zip(eq.outputs, touts or [None] * len(eq.outputs)):
            if t is not None and _is_float(var.aval):
                tenv[var.id] = _match_dtype(t, var.aval)
    return [None if isinstance(a, Literal) else tenv.get(a.id) for a in ir.outputs]


def backward_pass(lin: Linearized, out_cts: list) -> list:
    """Cotangents of the inputs (None = zero) given cotangents of the outputs."""
    ir = lin.ir
    ct_env: dict[int, object] = {}

    def add(var, ct):
        if ct is None or not _is_float(var.aval):
            return
        ct = _match_dtype(ct, var.aval)
        ct_env[var.id] = ct if var.id not in ct_env else ct_env[var.id] + ct

    for atom, ct in zip(ir.outputs, out_cts):
        if isinstance(atom, Var):
            add(atom, ct)
    for eq in reversed(ir.equations):
        prim = eq.primitive
        cts = [ct_env.pop(v.id, None) for v in eq.outputs]
        if prim.nondiff or all(c is None for c in cts):
            continue
        if not any(isinstance(a, Var) and _is_float(a.aval) for a in eq.inputs):
            continue  # a constant (zeros, iota, ...): nothing upstream to differentiate
        ins = [lin.read(a) for a in eq.inputs]
        outs = [lin.env[v.id] for v in eq.outputs]
        if prim.multiple_results:
            if not prim.accepts_zero_cotangents:
                cts = [_zeros_like_aval(v.aval) if c is None else c for v, c in zip(eq.outputs, cts)]
            in_cts = _rule(prim, "vjp")(cts, ins, outs, **eq.params)
        else:
            in_cts = _rule(prim, "vjp")(cts[0], ins, outs[0], **eq.params)
        for atom, ct in zip(eq.inputs, in_cts):
            if isinstance(atom, Var):
                add(atom, ct)
    return [ct_env.get(v.id) for v in ir.inputs]


def _match_dtype(x, aval):
    """Cotangents and tangents keep their value's dtype (and shape, for scalars)."""
    import nbad.numpy as jnp
    from nbad.numpy._core import aval_of, convert

    a = aval_of(x)
    if a.dtype != aval.dtype:
        x = convert(x, aval.dtype)
    if a.shape != aval.shape and a.shape == ():
        x = jnp.broadcast_to(x, aval.shape)
    return x


def _zeros_like_aval(aval):
    import nbad.numpy as jnp

    return jnp.zeros(aval.shape, aval.dtype)


def zeros_like_aval(aval):
    return _zeros_like_aval(aval)
