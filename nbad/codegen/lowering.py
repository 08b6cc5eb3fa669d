"""CPU-specific rewrites of the IR before fusion.

Calls of functions with custom derivative rules are inlined (their rule only
mattered to differentiation). Matrix-vector products that contract the matrix's trailing axis become
`reduce_sum(X * w, axes=(last,))`: a row reduction. BLAS gemv is memory-bound
like any loop, but as a loop it runs on all threads (nbad does not share
NumPy's BLAS threading) and fuses with what comes before and after it —
`sum((X @ w - y) ** 2)` reads X once, in one pass. Matrix-matrix products stay
on BLAS, where blocking for the cache wins.
"""
from __future__ import annotations

from nbad.core.avals import ShapedArray
from nbad.core.ir import IR, Equation, Var
from nbad.rules.elementwise import mul_p
from nbad.rules.linalg import dot_general_p
from nbad.rules.reduce import reduce_sum_p
from nbad.rules.shape import broadcast_in_dim_p
from nbad.transforms.simplify import simplify


def _matvec(eq: Equation):
    """(matrix, vector) if eq is `matrix @ vector` over the matrix's last axis."""
    if eq.primitive is not dot_general_p:
        return None
    (lc, rc), (lb, rb) = eq.params["dimension_numbers"]
    lhs, rhs = eq.inputs
    if lb or rb or len(lc) != 1 or not isinstance(lhs, Var) or not isinstance(rhs, Var):
        return None
    if rhs.aval.ndim == 1 and lhs.aval.ndim >= 2 and lc == (lhs.aval.ndim - 1,) and rc == (0,):
        return lhs, rhs
    if lhs.aval.ndim == 1 and rhs.aval.ndim >= 2 and rc == (rhs.aval.ndim - 1,) and lc == (0,):
        return rhs, lhs  # a vector times a matrix's rows: the same row reduction
    return None


def lower_matvecs(ir: IR) -> IR:
    # A transposed matrix's rows are strided in memory: BLAS reads it better.
    transposed = {eq.outputs[0].id for eq in ir.equations if eq.primitive.name == "transpose"}
    equations = []
    changed = False
    for eq in ir.equations:
        mv = _matvec(eq) if eq.outputs[0].aval.dtype.kind in "fc" else None
        if mv is not None and mv[0].id in transposed:
            mv = None
        if mv is None:
            equations.append(eq)
            continue
        matrix, vector = mv
        shape, dtype = matrix.aval.shape, matrix.aval.dtype
        wide = Var(ShapedArray(shape, dtype))
        prod = Var(ShapedArray(shape, dtype))
        equations.append(Equation(broadcast_in_dim_p, [vector], [wide],
                                  {"shape": shape, "broadcast_dimensions": (len(shape) - 1,)}))
        equations.append(Equation(mul_p, [matrix, wide], [prod], {}))
        equations.append(Equation(reduce_sum_p, [prod], eq.outputs, {"axes": (len(shape) - 1,)}))
        changed = True
    if not changed:
        return ir
    return IR(ir.inputs, equations, ir.outputs, ir.constvars, ir.consts, name=ir.name)


def inline_calls(ir: IR) -> IR:
    """Replace calls of functions with custom derivative rules by their bodies.

    Done once all transformations are over (just before fusion): the rule
    mattered to differentiation, the body is what runs.
    """
    if not any(eq.primitive.kind == "call" for eq in ir.equations):
        return ir
    subst: dict[int, object] = {}
    constvars, consts = list(ir.constvars), list(ir.consts)

    def read(a):
        while isinstance(a, Var) and a.id in subst:
            a = subst[a.id]
        return a

    def inline(eqs, env):
        out = []
        for eq in eqs:
            ins = [env.get(a.id, a) if isinstance(a, Var) else a for a in eq.inputs]
            ins = [read(a) for a in ins]
            if eq.primitive.kind != "call":
                outs = [Var(v.aval) for v in eq.outputs]
                for old, new in zip(eq.outputs, outs):
                    env[old.id] = new
                out.append(Equation(eq.primitive, ins, outs, eq.params))
                continue
            sub = eq.params["ir"]
            sub_env = {v.id: a for v, a in zip(sub.inputs, ins)}
            for v, c in zip(sub.constvars, sub.consts):
                fresh = Var(v.aval)
                constvars.append(fresh)
                consts.append(c)
                sub_env[v.id] = fresh
            out.extend(inline(sub.equations, sub_env))
            for old, new in zip(eq.outputs, sub.outputs):
                env[old.id] = sub_env.get(new.id, new) if isinstance(new, Var) else new
        return out

    env = {v.id: v for v in ir.inputs}
    env.update({v.id: v for v in ir.constvars})
    equations = inline(ir.equations, env)
    outputs = [env.get(a.id, a) if isinstance(a, Var) else a for a in ir.outputs]
    return IR(ir.inputs, equations, outputs, constvars, consts, name=ir.name)


def fold_scalar_broadcasts(ir: IR) -> IR:
    """Elementwise primitives take scalar operands: read `broadcast(s)` as `s`.

    Backward passes broadcast scalars (a mean's 1/n, a seed cotangent) to full
    shapes; as scalars they are constants in the loop body instead of arrays
    filled by NumPy and read element by element. Dead broadcasts are removed.
    """
    scalar_of = {eq.outputs[0].id: eq.inputs[0] for eq in ir.equations
                 if eq.primitive is broadcast_in_dim_p and eq.inputs[0].aval.shape == ()}
    if not scalar_of:
        return ir
    equations = []
    for eq in ir.equations:
        if eq.primitive.kind == "elementwise":
            ins = list(eq.inputs)
            shape = eq.outputs[0].aval.shape
            for j, a in enumerate(ins):
                if isinstance(a, Var) and a.id in scalar_of:
                    # keep an operand that still carries the result's shape
                    if any(b.aval.shape == shape for k, b in enumerate(ins) if k != j):
                        ins[j] = scalar_of[a.id]
            eq = Equation(eq.primitive, ins, eq.outputs, eq.params)
        equations.append(eq)
    return simplify(IR(ir.inputs, equations, ir.outputs, ir.constvars, ir.consts, name=ir.name))


def lower_for_cpu(ir: IR) -> IR:
    """All CPU rewrites, in order: after every transformation, before fusion.

    Maps are expanded into batched equations and calls inlined until neither
    is left (a custom-rule function may vmap, a vmapped function may call one)."""
    from nbad.transforms.vmap import has_maps, lower_maps

    ir = inline_calls(ir)
    while has_maps(ir):
        ir = inline_calls(lower_maps(ir))
    return fold_scalar_broadcasts(lower_matvecs(simplify(ir)))
