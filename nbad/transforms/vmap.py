"""vmap by loop insertion (DESIGN §6): the batching pass and the map lowering.

    vmap(f)           traces f at the per-example avals into a body IR and
                      records one `map` equation (rules/map.py) holding it
    batch_ir          runs a body over operands that carry the batch as their
                      leading axis, equation by equation, through each
                      primitive's `vmap` rule (rules/_batching.py)
    expand_map        one map equation as batched equations: its operands' batch
                      axes moved to the front, its body batched, its results'
                      batch axes moved to out_axes

A map stays one equation through tracing, differentiation (map of the body's
jvp/vjp) and simplification, so what a user sees in `make_ir` is their
per-example function. Only when the program is compiled (compile/passes.py's lower_maps) or a map is
evaluated eagerly is the body batched: its equations then operate on whole batches and
fuse like any other, so the batch becomes the outermost loop of each fused
kernel, a batched matrix-vector product becomes one matrix-matrix product
(dot_general's rule), and a nested map becomes one more loop level.
"""
from __future__ import annotations

from nbad.core.ir import IR, Literal
from nbad.core.trace import bind
from nbad.errors import MissingRuleError
from nbad.rules._ad import aval_of
from nbad.rules._batching import broadcast_batch, moveaxis


def batch_ir(ir: IR, size: int, args, batched) -> tuple[list, list]:
    """(outputs, which are batched): `ir` applied to each example of `args`.

    args[i] carries the batch as its leading axis when batched[i], else it is
    shared by every example. Equations none of whose operands is batched are
    bound unchanged (they are computed once, not per example)."""
    env: dict[int, tuple] = {}
    for var, a, b in zip(ir.inputs, args, batched):
        env[var.id] = (a, bool(b))
    for var, c in zip(ir.constvars, ir.consts):
        env[var.id] = (c, False)

    def read(atom):
        return (atom.value, False) if isinstance(atom, Literal) else env[atom.id]

    for eq in ir.equations:
        prim = eq.primitive
        vals = [read(a) for a in eq.inputs]
        xs = [v for v, _ in vals]
        flags = tuple(b for _, b in vals)
        if any(flags):
            if not prim.has_rule("vmap"):
                raise MissingRuleError(f"nbad cannot vmap primitive '{prim.name}': it has no "
                                       "batching rule yet.")
            outs = prim.vmap(size, xs, flags, **eq.params)
        else:
            outs = bind(prim, *xs, **eq.params)
        if not prim.multiple_results:
            outs = [outs]
        for var, val in zip(eq.outputs, outs):
            if any(flags):
                _check_batched(prim, var, val, size)
            env[var.id] = (val, any(flags))
    results = [read(a) for a in ir.outputs]
    return [v for v, _ in results], [b for _, b in results]


def _check_batched(prim, var, val, size):
    got = aval_of(val)
    want = (size,) + tuple(var.aval.shape)
    if tuple(got.shape) != want or got.dtype != var.aval.dtype:
        raise AssertionError(  # a bug in a batching rule, not in the user's code
            f"the vmap rule of '{prim.name}' returned {got.str_short()} where "
            f"{var.aval.dtype.name}{list(want)} was expected")


def expand_map(args, *, body: IR, in_axes, out_axes, axis_size):
    """The results of one map equation, computed by batched equations."""
    if axis_size == 1:  # one example: the body itself (a jacrev of a scalar function)
        import nbad.numpy as jnp
        from nbad.core.trace import eval_ir

        squeezed = [a if ax is None else jnp.squeeze(a, axis=ax) for a, ax in zip(args, in_axes)]
        return [jnp.expand_dims(o, ax) for o, ax in zip(eval_ir(body, squeezed), out_axes)]
    moved = [a if ax is None else moveaxis(a, ax, 0) for a, ax in zip(args, in_axes)]
    outs, flags = batch_ir(body, axis_size, moved, [ax is not None for ax in in_axes])
    results = []
    for out, is_batched, ax in zip(outs, flags, out_axes):
        if not is_batched:
            out = broadcast_batch(out, axis_size)
        results.append(moveaxis(out, 0, ax))
    return results
