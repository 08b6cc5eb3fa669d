"""The `map` primitive: a body IR applied to every example of a batch (vmap).

    %r, ... = map %x, %w {body={ func ... }, in_axes=(0,None), out_axes=(0,), axis_size=128}

in_axes[i] is the axis of operand i that carries the batch (None: operand i is
shared by every example); out_axes[j] is where result j gets the batch axis.
The body is closed: it has no constvars (vmap passes captured arrays as shared
operands), so a map equation says everything about what it computes.

Its rules:
    abstract_eval   the body's results, each with the batch axis inserted
    impl            the body batched (transforms/vmap.py) and run by NumPy
    jvp             a map of the body's jvp (shared operands have shared tangents)
    vjp             a map of the body's vjp; cotangents of shared operands are
                    summed over the batch
    vmap            (a map inside a vmapped function) the inner map expanded,
                    then batched like any other equations
    prune           the map without the results nobody uses and the operands
                    its body then no longer reads (called by simplify)
A backward pass gives a map None for the cotangent of an unused result
(`accepts_zero_cotangents`), not an array of zeros. CPU code generation never
sees a map: lowering expands it first (compile/passes.py).
"""
from __future__ import annotations

from nbad.core.ir import IR, Var
from nbad.core.primitive import Primitive
from nbad.core.trace import bind, eager, eval_ir, trace_to_ir
from nbad.rules._ad import aval_of
from nbad.rules._batching import broadcast_batch

map_p = Primitive("map", kind="loop", multiple_results=True)


def _with_batch(aval, axis, size):
    shape = list(aval.shape)
    shape.insert(axis, size)
    return aval.update(shape=tuple(shape))


def _map_abstract_eval(*avals, body, in_axes, out_axes, axis_size):
    return [_with_batch(v.aval, ax, axis_size) for v, ax in zip(body.outputs, out_axes)]


def _map_impl(*args, body, in_axes, out_axes, axis_size):
    from nbad.transforms.vmap import expand_map

    with eager():
        return expand_map(args, body=body, in_axes=in_axes, out_axes=out_axes, axis_size=axis_size)


map_p.abstract_eval = _map_abstract_eval
map_p.impl = _map_impl


def bind_map(args, in_axes, body: IR, out_axes, axis_size: int) -> list:
    """Bind a map of `body`, closing it first: its constvars become shared operands."""
    args, in_axes = list(args), list(in_axes)
    if body.constvars:
        args += list(body.consts)
        in_axes += [None] * len(body.constvars)
        body = IR(body.inputs + body.constvars, body.equations, body.outputs, name=body.name)
    return bind(map_p, *args, body=body, in_axes=tuple(in_axes), out_axes=tuple(out_axes),
                axis_size=int(axis_size))


def _is_float(aval) -> bool:
    return aval.dtype.kind in "fc"


def _derivative_body(body: IR, seeds: list[int], seed_avals, apply, name):
    """(IR, which results are nonzero) of the per-example derivative pass:
    xs -> apply(linearized body at xs[:n], seed values by index) for the seeded
    positions; results that are symbolically zero are left out of the IR."""
    from nbad.transforms import ad
    from nbad.transforms.simplify import simplify

    n = len(body.inputs)
    nonzero: list[int] = []

    def fn(*xs):
        lin = ad.linearize_ir(lambda *a: eval_ir(body, a), list(xs[:n]), body.in_avals, body.name)
        results = apply(lin, dict(zip(seeds, xs[n:])))
        nonzero[:] = [k for k, r in enumerate(results) if r is not None]
        return [results[k] for k in nonzero]

    ir = simplify(trace_to_ir(fn, body.in_avals + list(seed_avals), name=name, trace_name=name))
    return ir, nonzero


# -- forward mode: a map of the body's jvp -------------------------------------------
def _map_jvp(primals, tangents, outs, *, body, in_axes, out_axes, axis_size):
    from nbad.transforms import ad

    moving = [i for i, t in enumerate(tangents) if t is not None and _is_float(body.inputs[i].aval)]
    if not moving:
        return None
    jbody, nonzero = _derivative_body(
        body, moving, [body.inputs[i].aval for i in moving],
        lambda lin, ts: ad.jvp_pass(lin, [ts.get(i) for i in range(len(primals))]), f"jvp({body.name})")
    if not nonzero:
        return None
    touts = bind_map(list(primals) + [tangents[i] for i in moving],
                     tuple(in_axes) + tuple(in_axes[i] for i in moving), jbody,
                     tuple(out_axes[j] for j in nonzero), axis_size)
    result = [None] * len(body.outputs)
    for j, t in zip(nonzero, touts):
        result[j] = t
    return result


# -- reverse mode: a map of the body's vjp -------------------------------------------
def _map_vjp(cts, primals, outs, *, body, in_axes, out_axes, axis_size):
    import nbad.numpy as jnp
    from nbad.transforms import ad

    n = len(primals)
    seeded = [j for j, c in enumerate(cts) if c is not None and _is_float(body.outputs[j].aval)]
    if not seeded:
        return [None] * n
    vbody, reached = _derivative_body(
        body, seeded, [body.outputs[j].aval for j in seeded],
        lambda lin, cs: ad.backward_pass(lin, [cs.get(j) for j in range(len(body.outputs))]),
        f"vjp({body.name})")
    if not reached:
        return [None] * n
    # A shared operand's cotangent is the sum of its per-example cotangents.
    in_cts = bind_map(list(primals) + [cts[j] for j in seeded],
                      tuple(in_axes) + tuple(out_axes[j] for j in seeded), vbody,
                      tuple(0 if in_axes[i] is None else in_axes[i] for i in reached), axis_size)
    result = [None] * n
    for i, c in zip(reached, in_cts):
        result[i] = jnp.sum(c, axis=0) if in_axes[i] is None else c
    return result


map_p.jvp = _map_jvp
map_p.vjp = _map_vjp
map_p.accepts_zero_cotangents = True  # backward_pass may pass None for unused results


# -- a map inside a vmapped function -------------------------------------------------
def _map_vmap(size, args, batched, *, body, in_axes, out_axes, axis_size):
    from nbad.transforms.vmap import batch_ir, expand_map

    per_example = [aval_of(a).update(shape=tuple(aval_of(a).shape)[1:]) if b else aval_of(a)
                   for a, b in zip(args, batched)]
    inner = trace_to_ir(lambda *xs: expand_map(xs, body=body, in_axes=in_axes, out_axes=out_axes,
                                               axis_size=axis_size), per_example, name=body.name)
    outs, flags = batch_ir(inner, size, args, batched)
    return [o if b else broadcast_batch(o, size) for o, b in zip(outs, flags)]


map_p.vmap = _map_vmap


# -- simplification: drop results nobody reads, then operands the body no longer reads --
def _map_prune(eq, used):
    from nbad.transforms.simplify import simplify

    p = eq.params
    body = p["body"]
    keep_out = [j for j, u in enumerate(used) if u]
    small = simplify(IR(body.inputs, body.equations, [body.outputs[j] for j in keep_out],
                        name=body.name))
    read = {a.id for e in small.equations for a in e.inputs if isinstance(a, Var)}
    read |= {a.id for a in small.outputs if isinstance(a, Var)}
    keep_in = [i for i, v in enumerate(small.inputs) if v.id in read]
    if len(keep_out) == len(used) and len(keep_in) == len(body.inputs):
        return None
    new_body = IR([small.inputs[i] for i in keep_in], small.equations, small.outputs, name=body.name)
    params = dict(p, body=new_body, in_axes=tuple(p["in_axes"][i] for i in keep_in),
                  out_axes=tuple(p["out_axes"][j] for j in keep_out))
    return [eq.inputs[i] for i in keep_in], [eq.outputs[j] for j in keep_out], params


map_p.prune = _map_prune
