"""The `scan` primitive: a body IR run `length` times, threading a carry,
reading one slice of each `xs` per step and stacking what it returns per step.

    %c, %ys = scan %c0, %w, %xs {body={ func ... }, length=1000, num_carry=1, num_xs=1, reverse=false}

Operands are the carries' initial values, then the loop invariants (consts),
then the xs (each of leading dimension `length`); the body takes the carries,
the consts and one slice xs[t] of each, and returns the next carries, then one
slice ys[t] of each stacked result. The results are the final carries, then
the ys. With reverse=true, t runs from length - 1 down to 0 (ys[t] still
belongs to xs[t]). A body is closed: captured arrays are consts.

One primitive for every loop over a static number of steps: lax.scan and
lax.fori_loop with static bounds (api_loops.py), and the Python loops that
transforms/reroll.py folds back into one body (no xs, no ys: the values the
program reads of the last iteration are carries too). It is compiled as a
native loop (backends/cpu/loops.py): one Numba function runs every step, reading
xs[t] and writing ys[t] in place.

Its rules:
    abstract_eval   operand types checked against the body; the results' types
    impl            the body evaluated step by step by NumPy
    jvp             a scan of the body's jvp (carry tangents found by fixpoint)
    vjp             a forward scan that also stacks each step's carry (the
                    residual), then a reverse scan of the body's vjp, which
                    recomputes the step from it; both are native loops
    vmap            a scan of the batched body (batched carries by fixpoint)
    prune           unused ys dropped, then operands the body no longer reads
    merge           a scan computing another's results and more replaces it
                    (simplify: the residual-stacking forward scan of a vjp
                    replaces the scan that computed the primal values)
"""
from __future__ import annotations

import numpy as np

from nbad.core.ir import IR, Literal, Var
from nbad.core.primitive import Primitive
from nbad.core.trace import bind, eager, eval_ir, trace_to_ir
from nbad.errors import NbadTypeError
from nbad.rules._ad import aval_of

scan_p = Primitive("scan", kind="library", multiple_results=True)


def scan_groups(operands, num_carry, num_xs):
    """(carries, consts, xs) of a scan's operand list."""
    operands = list(operands)
    split = len(operands) - num_xs
    return operands[:num_carry], operands[num_carry:split], operands[split:]


def bind_scan(carry, consts, xs, body: IR, *, length, reverse=False) -> list:
    """Bind a scan of `body` (inputs: carries, consts, x slices), closing it first:
    its constvars become consts."""
    consts = list(consts)
    if body.constvars:
        nc = len(carry)
        inputs = body.inputs[:nc + len(consts)] + body.constvars + body.inputs[nc + len(consts):]
        consts += list(body.consts)
        body = IR(inputs, body.equations, body.outputs, name=body.name)
    return bind(scan_p, *carry, *consts, *xs, body=body, length=int(length), num_carry=len(carry),
                num_xs=len(xs), reverse=bool(reverse))


# -- abstract evaluation and NumPy evaluation ---------------------------------------------
def _scan_abstract_eval(*avals, body, length, num_carry, num_xs, reverse):
    if length < 0:
        raise ValueError(f"a scan runs its body a non-negative number of times (length={length})")
    carry, consts, xs = scan_groups(avals, num_carry, num_xs)
    slices = [a.update(shape=tuple(a.shape)[1:]) for a in xs]
    for a in xs:
        if not a.shape or a.shape[0] != length:
            raise ValueError(f"scan's xs must have leading dimension length={length}, got {a.str_short()}")
    want = body.in_avals
    got = carry + consts + slices
    if len(got) != len(want) or any(
            tuple(g.shape) != tuple(w.shape) or g.dtype != w.dtype for g, w in zip(got, want)):
        raise NbadTypeError("scan operands " + ", ".join(a.str_short() for a in got)
                            + " do not match its body's inputs " + ", ".join(a.str_short() for a in want))
    outs = body.out_avals
    return ([c.strip_weak() for c in outs[:num_carry]]
            + [y.update(shape=(length,) + tuple(y.shape), weak_type=False) for y in outs[num_carry:]])


def run_scan(args, *, body, length, num_carry, num_xs, reverse):
    """The scan's results, computed by binding the body once per step."""
    import nbad.numpy as jnp

    carry, consts, xs = scan_groups(args, num_carry, num_xs)
    steps = []
    for i in range(length):
        t = length - 1 - i if reverse else i
        outs = eval_ir(body, carry + consts + [x[t] for x in xs])
        carry = list(outs[:num_carry])
        steps.append(outs[num_carry:])
    if reverse:
        steps.reverse()
    ys = []
    for k, y in enumerate(body.outputs[num_carry:]):
        if steps:
            ys.append(jnp.stack([s[k] for s in steps]))
        else:
            ys.append(jnp.zeros((0,) + tuple(y.aval.shape), y.aval.dtype))
    return carry + ys


def _scan_impl(*args, **params):
    with eager():
        outs = run_scan(args, **params)
    return [np.asarray(o, dtype=a.aval.dtype) for o, a in zip(outs, params["body"].outputs)]


scan_p.abstract_eval = _scan_abstract_eval
scan_p.impl = _scan_impl
# the body, its consts the same every step
scan_p.sub_programs = lambda params: [
    (params["body"], range(params["num_carry"], len(params["body"].inputs) - params["num_xs"]))]


def _is_float(aval) -> bool:
    return aval.dtype.kind in "fc"


def _zeros(aval):
    import nbad.numpy as jnp

    return jnp.zeros(aval.shape, aval.dtype)


def _linearized_body(body, primals):
    from nbad.transforms import ad

    return ad.linearize_ir(lambda *a: eval_ir(body, a), list(primals), body.in_avals, body.name)


def _trace_body(fn, avals, name):
    from nbad.transforms.simplify import simplify

    return simplify(trace_to_ir(fn, list(avals), name=name, trace_name=name))


# -- forward mode: a scan of the body's jvp -----------------------------------------------
def _scan_jvp(primals, tangents, outs, *, body, length, num_carry, num_xs, reverse):
    from nbad.transforms import ad

    n, nc = len(primals), num_carry
    n_consts = n - nc - num_xs
    moving = {i for i, t in enumerate(tangents) if t is not None and _is_float(body.inputs[i].aval)}
    if not moving:
        return None
    pattern: list = []

    def tangent_pattern(*xs):
        lin = _linearized_body(body, xs)
        touts = ad.jvp_pass(lin, [_zeros(body.inputs[i].aval) if i in moving else None for i in range(n)])
        pattern[:] = [t is not None for t in touts]
        return []

    while True:  # a carry's tangent is nonzero if its start or any step makes it so
        trace_to_ir(tangent_pattern, body.in_avals, name="jvp_pattern")
        grown = moving | {j for j in range(nc) if pattern[j] and _is_float(body.inputs[j].aval)}
        if grown == moving:
            break
        moving = grown
    carry_t = sorted(i for i in moving if i < nc)
    const_t = sorted(i for i in moving if nc <= i < nc + n_consts)
    xs_t = sorted(i for i in moving if i >= nc + n_consts)
    ys_t = [k for k in range(len(body.outputs) - nc) if pattern[nc + k]]
    if not carry_t and not ys_t:
        return None
    # the jvp body's inputs: carries, carry tangents, consts, const tangents, xs, x tangents
    order = (list(range(nc)) + [("t", i) for i in carry_t] + list(range(nc, nc + n_consts))
             + [("t", i) for i in const_t] + list(range(nc + n_consts, n)) + [("t", i) for i in xs_t])

    def jvp_body(*xs):
        given = dict(zip(order, xs))
        lin = _linearized_body(body, [given[i] for i in range(n)])
        touts = ad.jvp_pass(lin, [given.get(("t", i)) for i in range(n)])
        prim = lin.outputs
        ct = [touts[j] if touts[j] is not None else _zeros(body.outputs[j].aval) for j in carry_t]
        return prim[:nc] + ct + prim[nc:] + [touts[nc + k] for k in ys_t]

    avals = [body.inputs[i].aval if not isinstance(i, tuple) else body.inputs[i[1]].aval for i in order]
    jbody = _trace_body(jvp_body, avals, f"jvp({body.name})")
    carry, consts, xs = scan_groups(primals, nc, num_xs)

    def tangent(i):
        t = tangents[i]
        return _zeros(aval_of(primals[i])) if t is None else t

    results = bind_scan(carry + [tangent(i) for i in carry_t],
                        consts + [tangent(i) for i in const_t],
                        xs + [tangent(i) for i in xs_t], jbody, length=length, reverse=reverse)
    n_ct = len(carry_t)
    out_t: list = [None] * len(body.outputs)
    for j, t in zip(carry_t, results[nc:nc + n_ct]):
        out_t[j] = t
    for k, t in zip(ys_t, results[nc + n_ct + len(body.outputs) - nc:]):
        out_t[nc + k] = t
    return out_t


scan_p.jvp = _scan_jvp


# -- reverse mode: a forward scan stacking each step's carry, a reverse scan of the vjp ---
def _scan_vjp(cts, primals, outs, *, body, length, num_carry, num_xs, reverse):
    from nbad.transforms import ad

    n, nc = len(primals), num_carry
    n_consts = n - nc - num_xs
    n_ys = len(body.outputs) - nc
    float_in = [i for i in range(n) if _is_float(body.inputs[i].aval)]
    carry_f = [j for j in float_in if j < nc]
    const_f = [i for i in float_in if nc <= i < nc + n_consts]
    xs_f = [i for i in float_in if i >= nc + n_consts]
    seeded = [k for k in range(n_ys) if cts[nc + k] is not None and _is_float(body.outputs[nc + k].aval)]
    if not float_in or (all(cts[j] is None for j in carry_f) and not seeded):
        return [None] * n
    # the forward scan again, also returning each step's incoming carry (the residual);
    # simplify's merge makes it the only forward scan of the program
    stacked = IR(body.inputs, body.equations, body.outputs + body.inputs[:nc], name=body.name)
    forward = bind(scan_p, *primals, body=stacked, length=length, num_carry=nc, num_xs=num_xs,
                   reverse=reverse)
    residuals = forward[nc + n_ys:]
    carry, consts, xs = scan_groups(primals, nc, num_xs)
    # the backward body's inputs: carry cotangents, const cotangent sums, consts,
    # then per step: the incoming carry, the x slices, the y cotangents
    counts = [len(carry_f), len(const_f), n_consts, nc, num_xs, len(seeded)]

    def vjp_body(*xs_):
        groups, at = [], 0
        for c in counts:
            groups.append(list(xs_[at:at + c]))
            at += c
        ct_carry, sums, consts_, carry_t, x_t, ct_y = groups
        lin = _linearized_body(body, carry_t + consts_ + x_t)
        seeds = [None] * len(body.outputs)
        for j, c in zip(carry_f, ct_carry):
            seeds[j] = c
        for k, c in zip(seeded, ct_y):
            seeds[nc + k] = c
        in_cts = ad.backward_pass(lin, seeds)

        def ct(i):
            c = in_cts[i]
            return _zeros(body.inputs[i].aval) if c is None else c

        return ([ct(j) for j in carry_f] + [s + ct(i) for s, i in zip(sums, const_f)]
                + [ct(i) for i in xs_f])

    avals = ([body.inputs[j].aval for j in carry_f] + [body.inputs[i].aval for i in const_f]
             + body.in_avals[nc:nc + n_consts] + body.in_avals[:nc] + body.in_avals[nc + n_consts:]
             + [body.outputs[nc + k].aval for k in seeded])
    vbody = _trace_body(vjp_body, avals, f"vjp({body.name})")
    ct_carry = [_zeros(body.inputs[j].aval) if cts[j] is None else cts[j] for j in carry_f]
    back = bind_scan(ct_carry + [_zeros(body.inputs[i].aval) for i in const_f], consts,
                     residuals + xs + [cts[nc + k] for k in seeded], vbody,
                     length=length, reverse=not reverse)
    result: list = [None] * n
    for i, c in zip(carry_f + const_f + xs_f, back):
        result[i] = c
    return result


scan_p.vjp = _scan_vjp
scan_p.accepts_zero_cotangents = True  # backward_pass may pass None for unused results


# -- batching: a scan of the batched body --------------------------------------------------
def _scan_vmap(size, args, batched, *, body, length, num_carry, num_xs, reverse):
    from nbad.rules._batching import broadcast_batch, moveaxis
    from nbad.transforms.vmap import batch_ir

    nc, n = num_carry, len(args)
    split = n - num_xs
    flags = list(batched)
    pattern: list = []

    def batched_avals(fl):
        return [a.update(shape=(size,) + tuple(a.shape)) if b else a for a, b in zip(body.in_avals, fl)]

    def batch_pattern(*xs):
        _, out_flags = batch_ir(body, size, xs, flags)
        pattern[:] = out_flags
        return []

    while True:  # a carry is batched if its start or any step makes it so
        trace_to_ir(batch_pattern, batched_avals(flags), name="vmap_pattern")
        grown = [f or (j < nc and pattern[j]) for j, f in enumerate(flags)]
        if grown == flags:
            break
        flags = grown
    ys_batched = pattern[nc:]

    def batched_body(*xs):
        outs, out_flags = batch_ir(body, size, xs, flags)
        wanted = flags[:nc] + ys_batched
        return [broadcast_batch(o, size) if w and not b else o
                for o, b, w in zip(outs, out_flags, wanted)]

    bbody = _trace_body(batched_body, batched_avals(flags), f"vmap({body.name})")
    operands = []
    for i, (a, b, f) in enumerate(zip(args, batched, flags)):
        if f and not b:
            a = broadcast_batch(a, size)
        if i >= split and f:
            a = moveaxis(a, 0, 1)  # the batch inside each step's slice
        operands.append(a)
    carry, consts, xs = scan_groups(operands, nc, num_xs)
    outs = bind_scan(carry, consts, xs, bbody, length=length, reverse=reverse)
    results = [c if f else broadcast_batch(c, size) for c, f in zip(outs[:nc], flags)]
    for y, b in zip(outs[nc:], ys_batched):
        results.append(moveaxis(y, 1, 0) if b else broadcast_batch(y, size))
    return results


scan_p.vmap = _scan_vmap


# -- simplification -----------------------------------------------------------------------
def _scan_prune(eq, used):
    """Drop the ys nobody reads, then the consts and xs the body no longer reads."""
    from nbad.transforms.simplify import simplify

    p = eq.params
    body, nc, num_xs = p["body"], p["num_carry"], p["num_xs"]
    keep_out = list(range(nc)) + [j for j in range(nc, len(used)) if used[j]]
    small = body
    if len(keep_out) < len(used):
        small = simplify(IR(body.inputs, body.equations, [body.outputs[j] for j in keep_out],
                            name=body.name))
    read = {a.id for e in small.equations for a in e.inputs if isinstance(a, Var)}
    read |= {a.id for a in small.outputs if isinstance(a, Var)}
    keep_in = [i for i, v in enumerate(small.inputs) if i < nc or v.id in read]
    if len(keep_out) == len(used) and len(keep_in) == len(body.inputs):
        return None
    split = len(body.inputs) - num_xs
    new_body = IR([small.inputs[i] for i in keep_in], small.equations, small.outputs, name=body.name)
    params = dict(p, body=new_body, num_xs=sum(1 for i in keep_in if i >= split))
    return [eq.inputs[i] for i in keep_in], [eq.outputs[j] for j in keep_out], params


def _scan_extends(b, a) -> bool:
    """Whether scan equation `b` computes every result of scan `a` (the same
    operands, and a's body is the start of b's): b's first results are a's."""
    pa, pb = a.params, b.params
    if any(pa[k] != pb[k] for k in ("length", "num_carry", "num_xs", "reverse")):
        return False
    body_a, body_b = pa["body"], pb["body"]
    return (len(a.inputs) == len(b.inputs) and all(x is y or (isinstance(x, Literal) and isinstance(y, Literal)
                                                              and x.value == y.value)
                                                   for x, y in zip(a.inputs, b.inputs))
            and len(body_b.equations) >= len(body_a.equations)
            and len(body_b.outputs) >= len(body_a.outputs)
            and all(x is y for x, y in zip(body_a.inputs, body_b.inputs))
            and all(x is y for x, y in zip(body_a.equations, body_b.equations))
            and all(x is y for x, y in zip(body_a.outputs, body_b.outputs)))


scan_p.prune = _scan_prune
scan_p.extends = _scan_extends
