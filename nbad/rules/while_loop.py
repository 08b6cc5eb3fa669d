"""The `while` primitive: a body IR run while a predicate IR of the carry holds.

    %c = while %cc, %bc, %c0 {cond_body={ func ... }, body={ func ... }, cond_nconsts=1, body_nconsts=1}

Operands are the predicate's consts, the body's consts, then the carries'
initial values (JAX's order); cond_body maps (its consts, carries) to a bool
scalar, body maps (its consts, carries) to the next carries. The results are
the carries once the predicate is false. lax.while_loop and lax.fori_loop with
traced bounds bind it (api_loops.py); it is compiled as a native loop
(backends/cpu/loops.py), the predicate's kernels run before each step.

Its rules:
    abstract_eval   operand types checked against the bodies; the carries' types
    impl            the bodies evaluated by NumPy until the predicate is false
    jvp             a while loop of the body's jvp (carry tangents by fixpoint)
    vjp             JAX's error: the number of steps is not known to store them
    vmap            a batched predicate runs the loop until every example is
                    done; examples already done keep their carry (a select)
"""
from __future__ import annotations

import numpy as np

from nbad.core.ir import IR, Var
from nbad.core.primitive import Primitive
from nbad.core.trace import bind, eager, eval_ir, trace_to_ir
from nbad.errors import NbadTypeError
from nbad.rules._ad import aval_of

while_p = Primitive("while", kind="library", multiple_results=True)


def bind_while(cond_consts, body_consts, carry, cond_body: IR, body: IR) -> list:
    """Bind a while loop, closing both bodies: their constvars become consts."""
    def close(ir, consts):
        if not ir.constvars:
            return ir, list(consts)
        k = len(consts)
        return (IR(ir.inputs[:k] + ir.constvars + ir.inputs[k:], ir.equations, ir.outputs, name=ir.name),
                list(consts) + list(ir.consts))

    cond_body, cond_consts = close(cond_body, cond_consts)
    body, body_consts = close(body, body_consts)
    return bind(while_p, *cond_consts, *body_consts, *carry, cond_body=cond_body, body=body,
                cond_nconsts=len(cond_consts), body_nconsts=len(body_consts))


def _groups(args, cond_nconsts, body_nconsts):
    args = list(args)
    return (args[:cond_nconsts], args[cond_nconsts:cond_nconsts + body_nconsts],
            args[cond_nconsts + body_nconsts:])


def _same_types(got, want) -> bool:
    return len(got) == len(want) and all(
        tuple(g.shape) == tuple(w.shape) and g.dtype == w.dtype for g, w in zip(got, want))


def _while_abstract_eval(*avals, cond_body, body, cond_nconsts, body_nconsts):
    cc, bc, carry = _groups(avals, cond_nconsts, body_nconsts)
    if not _same_types(cc + carry, cond_body.in_avals) or not _same_types(bc + carry, body.in_avals):
        raise NbadTypeError("while operands " + ", ".join(a.str_short() for a in avals)
                            + " do not match its bodies' inputs")
    return [a.strip_weak() for a in carry]


def run_while(args, *, cond_body, body, cond_nconsts, body_nconsts):
    cc, bc, carry = _groups(args, cond_nconsts, body_nconsts)
    while bool(np.asarray(eval_ir(cond_body, cc + carry)[0])):
        carry = list(eval_ir(body, bc + carry))
    return carry


def _while_impl(*args, **params):
    with eager():
        outs = run_while(args, **params)
    return [np.asarray(o, dtype=v.aval.dtype) for o, v in zip(outs, params["body"].outputs)]


while_p.abstract_eval = _while_abstract_eval
while_p.impl = _while_impl
# the predicate and the body, each with its consts the same every step
while_p.sub_programs = lambda params: [(params["cond_body"], range(params["cond_nconsts"])),
                                       (params["body"], range(params["body_nconsts"]))]


def _is_float(aval) -> bool:
    return aval.dtype.kind in "fc"


def _zeros(aval):
    import nbad.numpy as jnp

    return jnp.zeros(aval.shape, aval.dtype)


def _with_ignored_inputs(ir: IR, avals) -> IR:
    """`ir` taking extra inputs at the end that it does not read."""
    return IR(ir.inputs + [Var(a) for a in avals], ir.equations, ir.outputs, name=ir.name)


# -- forward mode: a while loop of the body's jvp ---------------------------------------
def _while_jvp(primals, tangents, outs, *, cond_body, body, cond_nconsts, body_nconsts):
    from nbad.transforms import ad
    from nbad.transforms.simplify import simplify

    cc, bc, carry = _groups(primals, cond_nconsts, body_nconsts)
    nb, nc = body_nconsts, len(carry)
    body_tangents = tangents[cond_nconsts:]
    moving = {i for i, t in enumerate(body_tangents) if t is not None and _is_float(body.inputs[i].aval)}
    if not moving:
        return None
    pattern: list = []

    def tangent_pattern(*xs):
        lin = ad.linearize_ir(lambda *a: eval_ir(body, a), list(xs), body.in_avals, body.name)
        touts = ad.jvp_pass(lin, [_zeros(body.inputs[i].aval) if i in moving else None
                                  for i in range(nb + nc)])
        pattern[:] = [t is not None for t in touts]
        return []

    while True:
        trace_to_ir(tangent_pattern, body.in_avals, name="jvp_pattern")
        grown = moving | {nb + j for j in range(nc) if pattern[j] and _is_float(body.outputs[j].aval)}
        if grown == moving:
            break
        moving = grown
    const_t = sorted(i for i in moving if i < nb)
    carry_t = sorted(i - nb for i in moving if i >= nb)
    if not carry_t:
        return None

    def jvp_body(*xs):
        consts, ts_c = list(xs[:nb]), list(xs[nb:nb + len(const_t)])
        rest = xs[nb + len(const_t):]
        c, ts = list(rest[:nc]), list(rest[nc:])
        lin = ad.linearize_ir(lambda *a: eval_ir(body, a), consts + c, body.in_avals, body.name)
        given = dict(zip(const_t, ts_c))
        given.update({nb + j: t for j, t in zip(carry_t, ts)})
        touts = ad.jvp_pass(lin, [given.get(i) for i in range(nb + nc)])
        return lin.outputs + [touts[j] if touts[j] is not None else _zeros(body.outputs[j].aval)
                              for j in carry_t]

    t_avals = [body.outputs[j].aval.strip_weak() for j in carry_t]
    avals = (body.in_avals[:nb] + [body.inputs[i].aval for i in const_t] + body.in_avals[nb:] + t_avals)
    jbody = simplify(trace_to_ir(jvp_body, avals, name=f"jvp({body.name})"))
    jcond = _with_ignored_inputs(cond_body, t_avals)

    def tangent(i):
        t = tangents[cond_nconsts + i]
        return _zeros(aval_of(primals[cond_nconsts + i])) if t is None else t

    results = bind_while(cc, bc + [tangent(i) for i in const_t],
                         carry + [tangent(nb + j) for j in carry_t], jcond, jbody)
    out_t: list = [None] * nc
    for j, t in zip(carry_t, results[nc:]):
        out_t[j] = t
    return out_t


def _while_vjp(cts, primals, outs, *, cond_body, body, cond_nconsts, body_nconsts):
    if all(c is None for c in cts):
        return [None] * len(primals)
    raise ValueError("Reverse-mode differentiation does not work for lax.while_loop or "
                     "lax.fori_loop with dynamic start/stop values. Try using lax.scan, or using "
                     "fori_loop with static start/stop.")


while_p.jvp = _while_jvp
while_p.vjp = _while_vjp
while_p.accepts_zero_cotangents = True


# -- batching ------------------------------------------------------------------------------
def _while_vmap(size, args, batched, *, cond_body, body, cond_nconsts, body_nconsts):
    import nbad.numpy as jnp
    from nbad.rules._batching import broadcast_batch
    from nbad.transforms.simplify import simplify
    from nbad.transforms.vmap import batch_ir

    ncc, nb = cond_nconsts, body_nconsts
    flags = list(batched)
    cc_f, bc_f = flags[:ncc], flags[ncc:ncc + nb]
    carry_f = flags[ncc + nb:]
    found: dict = {}

    def shaped(avals, fl):
        return [a.update(shape=(size,) + tuple(a.shape)) if b else a for a, b in zip(avals, fl)]

    def pattern(*xs):
        _, found["body"] = batch_ir(body, size, xs[:nb + len(carry_f)], bc_f + carry_f)
        _, found["cond"] = batch_ir(cond_body, size, list(xs[nb + len(carry_f):]), cc_f + carry_f)
        return []

    while True:
        trace_to_ir(pattern, shaped(body.in_avals, bc_f + carry_f) + shaped(cond_body.in_avals, cc_f + carry_f),
                    name="vmap_pattern")
        if found["cond"][0]:  # examples finish at different steps: every carry is per example
            grown = [True] * len(carry_f)
        else:
            grown = [f or b for f, b in zip(carry_f, found["body"])]
        if grown == carry_f:
            break
        carry_f = grown
    pred_batched = found["cond"][0]
    nc = len(carry_f)

    def lifted(outs, out_flags):
        return [o if b or not f else broadcast_batch(o, size) for o, b, f in zip(outs, out_flags, carry_f)]

    if not pred_batched:
        def cond_fn(*xs):
            return batch_ir(cond_body, size, xs, cc_f + carry_f)[0]

        def body_fn(*xs):
            return lifted(*batch_ir(body, size, xs, bc_f + carry_f))

        cond_in = shaped(cond_body.in_avals, cc_f + carry_f)
        body_in = shaped(body.in_avals, bc_f + carry_f)
        body_consts = list(args[ncc:ncc + nb])
    else:
        def cond_fn(*xs):
            return [jnp.any(batch_ir(cond_body, size, xs, cc_f + carry_f)[0][0])]

        def body_fn(*xs):  # cond consts, body consts, carries
            cc_, bc_, c = list(xs[:ncc]), list(xs[ncc:ncc + nb]), list(xs[ncc + nb:])
            (pred,), _ = batch_ir(cond_body, size, cc_ + c, cc_f + carry_f)
            new = lifted(*batch_ir(body, size, bc_ + c, bc_f + carry_f))
            return [jnp.where(jnp.reshape(pred, (size,) + (1,) * (jnp.ndim(x) - 1)), y, x)
                    for x, y in zip(c, new)]

        cond_in = shaped(cond_body.in_avals, cc_f + carry_f)
        body_in = shaped(cond_body.in_avals[:ncc], cc_f) + shaped(body.in_avals, bc_f + carry_f)
        body_consts = list(args[:ncc]) + list(args[ncc:ncc + nb])
    bcond = simplify(trace_to_ir(cond_fn, cond_in, name=f"vmap({cond_body.name})"))
    bbody = simplify(trace_to_ir(body_fn, body_in, name=f"vmap({body.name})"))
    carry = [a if b or not f else broadcast_batch(a, size)
             for a, b, f in zip(args[ncc + nb:], batched[ncc + nb:], carry_f)]
    outs = bind_while(list(args[:ncc]), body_consts, carry, bcond, bbody)
    return [o if f else broadcast_batch(o, size) for o, f in zip(outs, carry_f)]


while_p.vmap = _while_vmap
