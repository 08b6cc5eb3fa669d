"""IR simplification: constant folding, algebraic identities, CSE and DCE.

Backward passes produce many trivial equations (multiplications by one,
broadcasts of scalars, converts to the same dtype); a smaller IR compiles
faster and fuses better. Rewrites that would change results are not done:
`0 * x` is not folded for floats (x may be inf or NaN), and nothing
reassociates arithmetic.
"""
from __future__ import annotations

import numpy as np

from nbad.core.ir import IR, Equation, Literal, Var
from nbad.rules.shape import RESHAPE_LIKE, reshape_p, transpose_p
from nbad.core.typecheck import ir_pass


def _lit_is(atom, value) -> bool:
    return isinstance(atom, Literal) and atom.value == value and not (
        atom.aval.dtype.kind == "b" and not isinstance(value, bool))


def _same_aval(atom, var: Var) -> bool:
    return atom.aval.shape == var.aval.shape and atom.aval.dtype == var.aval.dtype


def _identity(eq: Equation, ins):
    """An existing atom equal to eq's single output, or None."""
    name = eq.primitive.name
    out = eq.outputs[0]
    p = eq.params
    if name in ("add", "sub") and _lit_is(ins[1], 0) and _same_aval(ins[0], out):
        return ins[0]
    if name == "add" and _lit_is(ins[0], 0) and _same_aval(ins[1], out):
        return ins[1]
    if name in ("mul", "div") and _lit_is(ins[1], 1) and _same_aval(ins[0], out):
        return ins[0]
    if name == "mul" and _lit_is(ins[0], 1) and _same_aval(ins[1], out):
        return ins[1]
    if name == "integer_pow" and p.get("y") == 1:
        return ins[0]
    if name == "convert_element_type" and ins[0].aval.dtype == out.aval.dtype and _same_aval(ins[0], out):
        return ins[0]
    if name == "reshape" and tuple(p["new_sizes"]) == ins[0].aval.shape:
        return ins[0]
    if name == "transpose" and tuple(p["permutation"]) == tuple(range(len(p["permutation"]))):
        return ins[0]
    if name == "broadcast_in_dim" and tuple(p["shape"]) == ins[0].aval.shape:
        return ins[0]
    if name.startswith("reduce_") and tuple(p.get("axes", (0,))) == ():
        return ins[0]
    if name == "select" and isinstance(ins[0], Literal):
        chosen = ins[1] if ins[0].value else ins[2]
        return chosen if _same_aval(chosen, out) else None
    return None


def _fold_constant(eq: Equation, ins):
    """Evaluate an equation whose operands are all literals and result is a scalar."""
    if eq.primitive.multiple_results or eq.outputs[0].aval.shape != () or not ins:
        return None
    if not all(isinstance(a, Literal) for a in ins):
        return None
    with np.errstate(all="ignore"):
        value = eq.primitive.impl(*[a.value for a in ins], **eq.params)
    return Literal(np.asarray(value).astype(eq.outputs[0].aval.dtype), eq.outputs[0].aval)


def _atom_key(a):
    if isinstance(a, Literal):
        return ("lit", a.aval.dtype.str, np.asarray(a.value).tobytes())  # 0.0 and -0.0 differ
    return a.id


def _freeze(value):
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, IR):
        return ("ir", id(value))
    return value


@ir_pass
def simplify(ir: IR) -> IR:
    subst: dict[int, object] = {}

    def read(a):
        while isinstance(a, Var) and a.id in subst:
            a = subst[a.id]
        return a

    equations = []
    seen: dict = {}
    reshaped_from: dict[int, object] = {}  # var id -> the atom it is a reshape of
    transposed_from: dict[int, tuple] = {}  # var id -> (var, permutation) it is a transpose of
    for eq in ir.equations:
        ins = [read(a) for a in eq.inputs]
        eq = Equation(eq.primitive, ins, eq.outputs, eq.params)
        if eq.primitive in RESHAPE_LIKE:
            # a reshape of a reshape (squeeze, expand_dims) is one reshape of the original
            source = reshaped_from.get(ins[0].id, ins[0]) if isinstance(ins[0], Var) else ins[0]
            reshaped_from[eq.outputs[0].id] = source
            if source is not ins[0] or eq.primitive is not reshape_p:
                eq = Equation(reshape_p, [source], eq.outputs,
                              {"new_sizes": tuple(eq.outputs[0].aval.shape)})
                ins = [source]
        if eq.primitive is transpose_p and isinstance(ins[0], Var) and ins[0].id in transposed_from:
            # a transpose of a transpose is one transpose (none if they cancel)
            source, first = transposed_from[ins[0].id]
            perm = tuple(first[p] for p in eq.params["permutation"])
            eq = Equation(transpose_p, [source], eq.outputs, {"permutation": perm})
            ins = [source]
        if eq.primitive is transpose_p and isinstance(ins[0], Var):
            transposed_from[eq.outputs[0].id] = (ins[0], tuple(eq.params["permutation"]))
        if not eq.primitive.multiple_results:
            replacement = _identity(eq, ins) or _fold_constant(eq, ins)
            if replacement is not None:
                subst[eq.outputs[0].id] = replacement
                continue
        try:
            key = (eq.primitive, tuple(_atom_key(a) for a in ins), _freeze(eq.params))
            hash(key)
        except TypeError:
            key = None
        if key is not None and key in seen:
            for old, new in zip(eq.outputs, seen[key]):
                subst[old.id] = new
            continue
        if key is not None:
            seen[key] = eq.outputs
        equations.append(eq)
    outputs = [read(a) for a in ir.outputs]
    return remove_dead_code(IR(ir.inputs, equations, outputs, ir.constvars, ir.consts, name=ir.name))


@ir_pass
def merge_extended(ir: IR) -> IR:
    """Of two equations where one computes every result of the other and more
    (its primitive's `extends`: the forward scan of a vjp, which also stacks its
    residuals, and the scan that computed the primal values), only the larger
    one is kept, at the place of the earlier one."""
    candidates = [j for j, eq in enumerate(ir.equations) if eq.primitive.extends is not None]
    if len(candidates) < 2:
        return ir
    equations = list(ir.equations)
    subst: dict[int, Var] = {}
    dropped: set = set()
    for pos, j in enumerate(candidates):
        for k in candidates[pos + 1:]:
            if j in dropped or k in dropped:
                continue
            a, b = equations[j], equations[k]
            if a.primitive is not b.primitive:
                continue
            if a.primitive.extends(b, a):  # the later one is larger: it moves up
                equations[j] = Equation(b.primitive, b.inputs, a.outputs + b.outputs[len(a.outputs):],
                                        b.params)
                subst.update((v.id, w) for v, w in zip(b.outputs, a.outputs))
                dropped.add(k)
            elif a.primitive.extends(a, b):
                subst.update((v.id, w) for v, w in zip(b.outputs, a.outputs))
                dropped.add(k)
    if not dropped:
        return ir

    def read(x):
        return subst.get(x.id, x) if isinstance(x, Var) else x

    kept = [Equation(eq.primitive, [read(x) for x in eq.inputs], eq.outputs, eq.params)
            for j, eq in enumerate(equations) if j not in dropped]
    return IR(ir.inputs, kept, [read(x) for x in ir.outputs], ir.constvars, ir.consts, name=ir.name)


@ir_pass
def remove_dead_code(ir: IR) -> IR:
    """`ir` without the equations (and constvars) no result depends on: all
    primitives are pure. Equations one of which computes the other's results
    are merged first (merge_extended)."""
    ir = merge_extended(ir)
    live = {a.id for a in ir.outputs if isinstance(a, Var)}
    kept = []
    for eq in reversed(ir.equations):
        used = [v.id in live for v in eq.outputs]
        if any(used):
            # higher-order primitives (map) drop results nobody reads, and what computes them
            pruned = eq.primitive.prune(eq, used) if eq.primitive.prune is not None else None
            if pruned is not None:
                eq = Equation(eq.primitive, *pruned)
            kept.append(eq)
            live.update(a.id for a in eq.inputs if isinstance(a, Var))
    kept.reverse()
    constvars, consts = [], []
    for v, c in zip(ir.constvars, ir.consts):
        if v.id in live:
            constvars.append(v)
            consts.append(c)
    return IR(ir.inputs, kept, ir.outputs, constvars, consts, name=ir.name)
