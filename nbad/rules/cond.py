"""The `cond` primitive: one of several branch IRs, chosen by an index.

    %r, ... = cond %i, %x, %w {branches=({ func ... }, { func ... })} : (f64[3], ...)

Operand 0 is the branch index (a scalar int32, already clamped into range by
lax.switch / lax.cond); the others are passed to the chosen branch. Every
branch is closed (captured arrays are operands, as for map) and takes the same
operands and returns results of the same avals. lax.cond(pred, t, f) is
cond with branches (f, t).

Its rules:
    abstract_eval   the branches' results (which must agree)
    impl            the chosen branch evaluated by NumPy: the others never run
    jvp             a cond of the branches' jvps (tangents a branch leaves zero
                    are zeros there when another branch has them)
    vjp             a cond of the branches' vjps, so only the taken branch's
                    backward pass runs (it recomputes the branch's forward values)
    vmap            shared index: a cond of the batched branches; batched index:
                    every branch runs on the whole batch and each example's
                    results are selected by its index, as in JAX
    prune           drop results nobody reads and operands no branch reads
Compiled by backends/cpu/branches.py: each branch is a program of its own and the
driver runs only the chosen one.
"""
from __future__ import annotations

import numpy as np

from nbad.core.ir import IR, Var
from nbad.core.primitive import Primitive
from nbad.core.trace import bind, eager, eval_ir, trace_to_ir
from nbad.errors import NbadTypeError
from nbad.rules._ad import aval_of
from nbad.rules._batching import broadcast_batch, spread_batch

cond_p = Primitive("cond", kind="library", multiple_results=True)


def _cond_abstract_eval(index, *operands, branches):
    if index.shape != () or index.dtype.kind not in "iu":
        raise NbadTypeError(f"cond: the branch index must be a scalar integer, got {index.str_short()}")
    first = branches[0].out_avals
    for b in branches:
        if [(a.shape, a.dtype) for a in b.in_avals] != [(a.shape, a.dtype) for a in operands]:
            takes = ", ".join(a.str_short() for a in b.in_avals)
            given = ", ".join(a.str_short() for a in operands)
            raise NbadTypeError(f"cond: branch {b.name} takes ({takes}), the operands are ({given})")
        if [(a.shape, a.dtype) for a in b.out_avals] != [(a.shape, a.dtype) for a in first]:
            raise NbadTypeError("cond: the branches must return the same types, got "
                                + " and ".join("(" + ", ".join(a.str_short() for a in br.out_avals) + ")"
                                               for br in branches))
    return [a.update(weak_type=all(b.out_avals[j].weak_type for b in branches))
            for j, a in enumerate(first)]


def chosen_branch(index, n: int) -> int:
    """The branch a concrete index selects (clamped, as lax.switch does)."""
    return min(max(int(np.asarray(index)), 0), n - 1)


def _cond_impl(index, *operands, branches):
    with eager():
        return eval_ir(branches[chosen_branch(index, len(branches))], list(operands))


cond_p.abstract_eval = _cond_abstract_eval
cond_p.impl = _cond_impl
cond_p.sub_programs = lambda params: [(branch, None) for branch in params["branches"]]


def bind_cond(index, operands, branches) -> list:
    """Bind a cond of `branches` (IRs taking `operands`), closing them first:
    the constants each captured become operands that every branch takes."""
    operands = list(operands)
    extra_avals = [v.aval for b in branches for v in b.constvars]
    extra_values = [c for b in branches for c in b.consts]
    closed, offset = [], 0
    for b in branches:
        k = len(b.constvars)
        slots = [Var(a) for a in extra_avals]
        slots[offset:offset + k] = b.constvars
        closed.append(IR(b.inputs + slots, b.equations, b.outputs, name=b.name))
        offset += k
    return bind(cond_p, index, *operands, *extra_values, branches=tuple(closed))


def _zeros(aval):
    import nbad.numpy as jnp

    return jnp.zeros(aval.shape, aval.dtype)


def _derivative_branches(branches, seed_avals, apply, result_avals, name):
    """(IRs, positions): per branch, (operands..., seeds...) -> the results of
    apply(linearized branch, seeds) at `positions`, the union over branches of
    the nonzero ones; a branch whose result there is zero returns zeros."""
    from nbad.transforms import ad
    from nbad.transforms.simplify import simplify

    def trace(branch, positions):
        n, found = len(branch.inputs), []

        def fn(*xs):
            lin = ad.linearize_ir(lambda *a: eval_ir(branch, a), list(xs[:n]), branch.in_avals,
                                  branch.name)
            results = apply(lin, list(xs[n:]))
            found[:] = [k for k, r in enumerate(results) if r is not None]
            if positions is None:
                return [results[k] for k in found]
            return [results[k] if results[k] is not None else _zeros(result_avals[k])
                    for k in positions]

        ir = trace_to_ir(fn, branch.in_avals + list(seed_avals), name=f"{name}({branch.name})")
        return simplify(ir), found

    first = [trace(b, None) for b in branches]
    positions = sorted({k for _, found in first for k in found})
    irs = [ir if found == positions else trace(b, positions)[0]
           for b, (ir, found) in zip(branches, first)]
    return irs, positions


def _is_float(aval) -> bool:
    return aval.dtype.kind in "fc"


def _cond_jvp(primals, tangents, outs, *, branches):
    from nbad.transforms import ad

    index, operands = primals[0], list(primals[1:])
    moving = [i for i, t in enumerate(tangents[1:]) if t is not None and _is_float(aval_of(operands[i]))]
    if not moving:
        return None
    n = len(operands)

    def apply(lin, seeds):
        full = [None] * n
        for i, t in zip(moving, seeds):
            full[i] = t
        return ad.jvp_pass(lin, full)

    irs, nonzero = _derivative_branches(branches, [aval_of(operands[i]) for i in moving], apply,
                                        branches[0].out_avals, "jvp")
    if not nonzero:
        return None
    touts = bind(cond_p, index, *operands, *[tangents[1 + i] for i in moving], branches=tuple(irs))
    result = [None] * len(branches[0].outputs)
    for j, t in zip(nonzero, touts):
        result[j] = t
    return result


def _cond_vjp(cts, primals, outs, *, branches):
    from nbad.transforms import ad

    index, operands = primals[0], list(primals[1:])
    out_avals = branches[0].out_avals
    seeded = [j for j, c in enumerate(cts) if c is not None and _is_float(out_avals[j])]
    none = [None] * len(primals)
    if not seeded:
        return none

    def apply(lin, seeds):
        full = [None] * len(out_avals)
        for j, c in zip(seeded, seeds):
            full[j] = c
        return ad.backward_pass(lin, full)

    irs, reached = _derivative_branches(branches, [out_avals[j] for j in seeded], apply,
                                        [aval_of(x) for x in operands], "vjp")
    if not reached:
        return none
    in_cts = bind(cond_p, index, *operands, *[cts[j] for j in seeded], branches=tuple(irs))
    for i, c in zip(reached, in_cts):
        none[1 + i] = c
    return none


cond_p.jvp = _cond_jvp
cond_p.vjp = _cond_vjp
cond_p.accepts_zero_cotangents = True  # a backward pass may pass None for unused results


def _cond_vmap(size, args, batched, *, branches):
    import nbad.numpy as jnp
    from nbad.transforms.vmap import batch_ir

    index, operands, flags = args[0], list(args[1:]), list(batched[1:])

    def batched_branch(branch, xs):
        outs, out_flags = batch_ir(branch, size, xs, flags)
        return [o if b else broadcast_batch(o, size) for o, b in zip(outs, out_flags)]

    if not batched[0]:
        avals = [aval_of(x) for x in operands]
        irs = tuple(trace_to_ir(lambda *xs, b=b: batched_branch(b, list(xs)), avals, name=b.name)
                    for b in branches)
        return bind(cond_p, index, *operands, branches=irs)
    # A batched index: every branch runs on every example; each example keeps its own.
    results = [batched_branch(b, operands) for b in branches]
    chosen = list(results[-1])
    for k in range(len(branches) - 2, -1, -1):
        pick = jnp.equal(index, np.asarray(k, aval_of(index).dtype))
        for j, r in enumerate(results[k]):
            mask = spread_batch(pick, aval_of(r).shape[1:])
            chosen[j] = jnp.where(mask, r, chosen[j])
    return chosen


cond_p.vmap = _cond_vmap


def _cond_prune(eq, used):
    from nbad.transforms.simplify import simplify

    branches = eq.params["branches"]
    keep_out = [j for j, u in enumerate(used) if u]
    small = [simplify(IR(b.inputs, b.equations, [b.outputs[j] for j in keep_out], name=b.name))
             for b in branches]
    read = set()
    for b in small:
        read |= {a.id for e in b.equations for a in e.inputs if isinstance(a, Var)}
        read |= {a.id for a in b.outputs if isinstance(a, Var)}
    keep_in = [i for i in range(len(branches[0].inputs)) if any(b.inputs[i].id in read for b in small)]
    if len(keep_out) == len(used) and len(keep_in) == len(branches[0].inputs):
        return None
    new = tuple(IR([b.inputs[i] for i in keep_in], b.equations, b.outputs, name=b.name) for b in small)
    return [eq.inputs[0]] + [eq.inputs[1 + i] for i in keep_in], [eq.outputs[j] for j in keep_out], \
        dict(eq.params, branches=new)


cond_p.prune = _cond_prune
