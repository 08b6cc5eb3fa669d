"""The IR rewrites every backend can choose before fusion (the pipeline,
compile/pipeline.py, says which run and in which order).

    inline_calls              calls of functions with custom derivative rules
                              become their bodies (the rule only mattered to
                              differentiation)
    has_maps / lower_maps     vmap's map equations expanded into batched ones
    sink_broadcasts           a cond's broadcast operands move into its branches
    lower_iotas               multi-dimensional iotas as broadcasts of 1-D ramps
    sink_transposes           transposes of elementwise values computed in the
                              transposed order instead
    swap_transposed_products  transpose(a @ b) as b @ a when that is what it is
    lower_dots                products that are not matrix-matrix as fused loops
    fold_scalar_broadcasts    broadcast scalars read as scalars by elementwise ops

lower_dots: products that are not matrix-matrix (matrix-vector, inner and outer
products, batched or not) become `reduce_sum(X * w, axes=(last,))` or a plain
product: a row reduction or an elementwise loop. BLAS gemv is memory-bound like
any loop, but as a loop it runs on all threads (nbad does not share NumPy's BLAS
threading) and fuses with what comes before and after it — `sum((X @ w - y) ** 2)`
reads X once, in one pass, and a batch of per-example outer products is one
elementwise kernel. Matrix-matrix products stay library calls (BLAS, the CUDA
backend's tiled matmul), where blocking for the cache wins.
"""
from __future__ import annotations

from nbad.core.avals import ShapedArray
from nbad.core.ir import IR, Equation, Literal, Var
from nbad.core.trace import bind, trace_to_ir
from nbad.core.typecheck import ir_pass
from nbad.rules.cond import cond_p
from nbad.rules.elementwise import mul_p
from nbad.rules.linalg import dot_general_p
from nbad.rules.map import map_p
from nbad.rules.reduce import reduce_sum_p
from nbad.rules.shape import broadcast_in_dim_p, iota_p, transpose_p
from nbad.transforms.simplify import simplify
from nbad.transforms.vmap import expand_map


def _dot_as_loop(eq: Equation, transposed: set):
    """(big, small, operand orders) if `eq` is a dot_general better run as a
    fused multiply-and-reduce than by BLAS, else None.

    That is every product but a matrix-matrix one: one side has no free
    dimensions (matrix-vector, inner products, batched or not) or nothing is
    contracted (outer products, scaling). The operand with free dimensions
    must already be laid out as (batch..., free..., contracted...), so the
    loop reads it in memory order; the other one is small.
    """
    if eq.primitive is not dot_general_p or eq.outputs[0].aval.dtype.kind not in "fc":
        return None
    (lc, rc), (lb, rb) = eq.params["dimension_numbers"]
    lhs, rhs = eq.inputs
    if not isinstance(lhs, Var) or not isinstance(rhs, Var):
        return None
    sides = []
    for x, c, b in ((lhs, lc, lb), (rhs, rc, rb)):
        free = tuple(d for d in range(x.aval.ndim) if d not in c and d not in b)
        sides.append((x, tuple(b), free, tuple(c)))
    (_, _, lfree, _), (_, _, rfree, _) = sides
    if lfree and rfree and lc:
        return None  # matrix-matrix: BLAS
    big = 0 if len(lfree) >= len(rfree) else 1
    x, b, free, c = sides[big]
    if b + free + c != tuple(range(x.aval.ndim)) or (x.id in transposed and c):
        return None
    return sides, big


def _emit_dot_loop(eq: Equation, sides, big, equations):
    """dot_general as broadcast * broadcast -> reduce_sum over the trailing
    contracted axes, in the output's layout (batch, lhs free, rhs free)."""
    (lhs, lb, lfree, lc), (rhs, rb, rfree, rc) = sides
    out = eq.outputs[0]
    nb, nl, nr = len(lb), len(lfree), len(rfree)
    contract_sizes = tuple(lhs.aval.shape[d] for d in lc)
    full = tuple(out.aval.shape) + contract_sizes
    dtype = out.aval.dtype
    operands = []
    for x, b, free, c, offset in ((lhs, lb, lfree, lc, nb), (rhs, rb, rfree, rc, nb + nl)):
        target = {d: i for i, d in enumerate(b)}
        target.update({d: offset + j for j, d in enumerate(free)})
        target.update({d: nb + nl + nr + k for k, d in enumerate(c)})
        order = sorted(range(x.aval.ndim), key=lambda d: target[d])
        if order != list(range(x.aval.ndim)):
            t = Var(ShapedArray(tuple(x.aval.shape[d] for d in order), x.aval.dtype))
            equations.append(Equation(transpose_p, [x], [t], {"permutation": tuple(order)}))
            x = t
        wide = Var(ShapedArray(full, dtype))
        equations.append(Equation(broadcast_in_dim_p, [x], [wide],
                                  {"shape": full, "broadcast_dimensions": tuple(sorted(target.values()))}))
        operands.append(wide)
    if not lc:
        equations.append(Equation(mul_p, operands, [out], {}))
        return
    prod = Var(ShapedArray(full, dtype))
    equations.append(Equation(mul_p, operands, [prod], {}))
    axes = tuple(range(len(out.aval.shape), len(full)))
    equations.append(Equation(reduce_sum_p, [prod], [out], {"axes": axes}))


@ir_pass
def lower_dots(ir: IR) -> IR:
    """Products that are not matrix-matrix become fused loops (see _dot_as_loop)."""
    # A transposed matrix's rows are strided in memory: BLAS reads it better.
    transposed = {eq.outputs[0].id for eq in ir.equations if eq.primitive.name == "transpose"}
    equations: list[Equation] = []
    changed = False
    for eq in ir.equations:
        found = _dot_as_loop(eq, transposed)
        if found is None:
            equations.append(eq)
            continue
        _emit_dot_loop(eq, *found, equations)
        changed = True
    if not changed:
        return ir
    return IR(ir.inputs, equations, ir.outputs, ir.constvars, ir.consts, name=ir.name)


@ir_pass
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


@ir_pass
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


@ir_pass
def lower_iotas(ir: IR) -> IR:
    """iota over a multi-dimensional shape is a broadcast of a 1-D ramp: a
    kernel then reads the ramp by index arithmetic (`eye` = ramp[i] == ramp[j])
    instead of two materialised n x n integer arrays."""
    if not any(eq.primitive is iota_p and len(eq.params["shape"]) > 1 for eq in ir.equations):
        return ir
    equations = []
    for eq in ir.equations:
        shape = eq.params.get("shape", ()) if eq.primitive is iota_p else ()
        if len(shape) <= 1:
            equations.append(eq)
            continue
        d, dtype = eq.params["dimension"], eq.outputs[0].aval.dtype
        ramp = Var(ShapedArray((shape[d],), dtype))
        equations.append(Equation(iota_p, [], [ramp], dict(eq.params, shape=(shape[d],), dimension=0)))
        equations.append(Equation(broadcast_in_dim_p, [ramp], eq.outputs,
                                  {"shape": tuple(shape), "broadcast_dimensions": (d,)}))
    return IR(ir.inputs, equations, ir.outputs, ir.constvars, ir.consts, name=ir.name)


def _inverse(perm):
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return tuple(inv)


@ir_pass
def sink_transposes(ir: IR) -> IR:
    """transpose(elementwise(...)) -> elementwise(transposed operands) when the
    elementwise value has no other use and its operands are scalars, broadcasts
    of smaller arrays or elementwise values of those (recomputed in the new
    order if they have other uses): the loop then writes the transposed layout
    directly instead of a copy afterwards (a jacfwd's result: the batch of
    tangents is the last axis)."""
    producer = {v.id: eq for eq in ir.equations for v in eq.outputs}
    uses: dict[int, int] = {}
    for eq in ir.equations:
        for a in eq.inputs:
            if isinstance(a, Var):
                uses[a.id] = uses.get(a.id, 0) + 1
    for a in ir.outputs:
        if isinstance(a, Var):
            uses[a.id] = uses.get(a.id, 0) + 1

    def cheap(atom) -> bool:
        """Can `atom` be recomputed in a permuted layout without strided reads?"""
        if isinstance(atom, Literal) or atom.aval.shape == ():
            return True
        eq = producer.get(atom.id)
        if eq is None:
            return False
        if eq.primitive is broadcast_in_dim_p:
            return eq.inputs[0].aval.ndim < atom.aval.ndim
        return eq.primitive.kind == "elementwise" and all(cheap(a) for a in eq.inputs)

    new_eqs: list[Equation] = []
    memo: dict = {}

    def permuted(atom, perm):
        if isinstance(atom, Literal) or atom.aval.shape == ():
            return atom
        key = (atom.id, tuple(perm))
        if key not in memo:
            memo[key] = _permuted(atom, perm)
        return memo[key]

    def _permuted(atom, perm):
        eq = producer[atom.id]
        shape = tuple(atom.aval.shape[p] for p in perm)
        out = Var(atom.aval.update(shape=shape))
        if eq.primitive is broadcast_in_dim_p:
            inv = _inverse(perm)
            src = eq.inputs[0]
            dims = [inv[d] for d in eq.params["broadcast_dimensions"]]
            order = sorted(range(len(dims)), key=lambda k: dims[k])
            if order != list(range(len(dims))):
                t = Var(src.aval.update(shape=tuple(src.aval.shape[k] for k in order)))
                new_eqs.append(Equation(transpose_p, [src], [t], {"permutation": tuple(order)}))
                src = t
            new_eqs.append(Equation(broadcast_in_dim_p, [src], [out],
                                    {"shape": shape, "broadcast_dimensions": tuple(sorted(dims))}))
        else:
            ins = [permuted(a, perm) for a in eq.inputs]
            new_eqs.append(Equation(eq.primitive, ins, [out], eq.params))
        return out

    replaced: dict[int, Var] = {}
    for eq in ir.equations:
        if eq.primitive is transpose_p and isinstance(eq.inputs[0], Var):
            src = producer.get(eq.inputs[0].id)
            if (src is not None and src.primitive.kind == "elementwise"
                    and uses.get(eq.inputs[0].id, 0) == 1 and all(cheap(a) for a in src.inputs)):
                replaced[eq.outputs[0].id] = permuted(eq.inputs[0], eq.params["permutation"])
                continue
        new_eqs.append(eq)
    if not replaced:
        return ir
    # the permuted copies read the same sources; the originals become dead
    outputs = [replaced.get(a.id, a) if isinstance(a, Var) else a for a in ir.outputs]
    equations = []
    for eq in new_eqs:
        ins = [replaced.get(a.id, a) if isinstance(a, Var) else a for a in eq.inputs]
        equations.append(Equation(eq.primitive, ins, eq.outputs, eq.params))
    return simplify(IR(ir.inputs, equations, outputs, ir.constvars, ir.consts, name=ir.name))


@ir_pass
def swap_transposed_products(ir: IR) -> IR:
    """transpose(dot_general(a, b)) that swaps the two operands' free axes is
    dot_general(b, a): the product is written in the order it is read, instead
    of being read transposed (strided) by what follows. Reverse mode makes these:
    a weight gradient is (x^T g)^T's transpose."""
    producer = {v.id: eq for eq in ir.equations for v in eq.outputs}
    uses: dict[int, int] = {}
    for a in [a for eq in ir.equations for a in eq.inputs] + list(ir.outputs):
        if isinstance(a, Var):
            uses[a.id] = uses.get(a.id, 0) + 1
    swapped: dict[int, Equation] = {}  # transpose output id -> the swapped product
    for eq in ir.equations:
        if eq.primitive is not transpose_p or not isinstance(eq.inputs[0], Var):
            continue
        dot = producer.get(eq.inputs[0].id)
        if dot is None or dot.primitive is not dot_general_p or uses[eq.inputs[0].id] != 1:
            continue
        (lc, rc), (lb, rb) = dot.params["dimension_numbers"]
        lhs, rhs = dot.inputs
        if lb or rb:
            continue
        n_lfree = lhs.aval.ndim - len(lc)
        n_rfree = rhs.aval.ndim - len(rc)
        swap = tuple(range(n_lfree, n_lfree + n_rfree)) + tuple(range(n_lfree))
        if tuple(eq.params["permutation"]) != swap:
            continue
        swapped[eq.outputs[0].id] = Equation(dot_general_p, [rhs, lhs], eq.outputs,
                                             dict(dot.params, dimension_numbers=((rc, lc), ((), ()))))
    if not swapped:
        return ir
    equations = [swapped.get(eq.outputs[0].id, eq) if eq.primitive is transpose_p else eq
                 for eq in ir.equations]
    return simplify(IR(ir.inputs, equations, ir.outputs, ir.constvars, ir.consts, name=ir.name))


@ir_pass
def sink_broadcasts(ir: IR) -> IR:
    """`ir` with every cond operand that is a broadcast passed unbroadcast and
    broadcast inside each branch instead (the broadcast's dead copy is left to DCE)."""
    broadcasts = {eq.outputs[0].id: eq for eq in ir.equations if eq.primitive is broadcast_in_dim_p}
    equations, changed = [], False
    for eq in ir.equations:
        sinkable = [k for k, a in enumerate(eq.inputs[1:], 1)
                    if eq.primitive is cond_p and isinstance(a, Var) and a.id in broadcasts]
        if not sinkable:
            equations.append(eq)
            continue
        inputs, branches = list(eq.inputs), list(eq.params["branches"])
        for k in sinkable:
            bcast = broadcasts[inputs[k].id]
            inputs[k] = bcast.inputs[0]
            for b, branch in enumerate(branches):
                old = branch.inputs[k - 1]
                small = Var(bcast.inputs[0].aval)
                branches[b] = IR(branch.inputs[:k - 1] + [small] + branch.inputs[k:],
                                 [Equation(broadcast_in_dim_p, [small], [old], bcast.params)]
                                 + branch.equations, branch.outputs, name=branch.name)
        equations.append(Equation(cond_p, inputs, eq.outputs, dict(eq.params, branches=tuple(branches))))
        changed = True
    if not changed:
        return ir
    return IR(ir.inputs, equations, ir.outputs, ir.constvars, ir.consts, name=ir.name)


def has_maps(ir: IR) -> bool:
    return any(eq.primitive is map_p for eq in ir.equations)


@ir_pass
def lower_maps(ir: IR) -> IR:
    """`ir` with its maps expanded into batched equations. A map that does not
    depend on an enclosing map's batch is bound unchanged by the batching
    pass, so the caller repeats this until `has_maps` is false."""
    n = len(ir.inputs)

    def run(*xs):
        env = {v.id: x for v, x in zip(ir.inputs + ir.constvars, xs)}

        def read(atom):
            return atom.value if isinstance(atom, Literal) else env[atom.id]

        for eq in ir.equations:
            ins = [read(a) for a in eq.inputs]
            if eq.primitive is map_p:
                outs = expand_map(ins, **eq.params)
            else:
                outs = bind(eq.primitive, *ins, **eq.params)
                if not eq.primitive.multiple_results:
                    outs = [outs]
            for var, val in zip(eq.outputs, outs):
                env[var.id] = val
        return [read(a) for a in ir.outputs]

    new = trace_to_ir(run, ir.in_avals + [v.aval for v in ir.constvars], name=ir.name)
    return IR(new.inputs[:n], new.equations, new.outputs, new.inputs[n:] + new.constvars,
              list(ir.consts) + list(new.consts), name=ir.name)
