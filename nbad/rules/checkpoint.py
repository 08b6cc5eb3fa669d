"""`checkpoint`: a call whose reverse-mode rule recomputes the body's forward
pass from its operands instead of reading stored values (nbad.checkpoint), and
`optimization_barrier`, the identity that keeps simplify from merging that
recomputation with the original forward pass.

    %y = checkpoint %x, %w {ir={ func ... }, prevent_cse=true}

Rules of checkpoint:
    abstract_eval, impl   the body's
    jvp                   the body's jvp
    vjp                   the body traced again at its operands (behind a
                          barrier when prevent_cse), then its backward pass:
                          the backward pass reads the recomputed values, so
                          the forward's intermediates are dead after the
                          forward pass
    vmap                  the body batched
Like the custom-rule calls it is inlined before fusion (kind "call").
"""
from __future__ import annotations

from nbad.core.primitive import Primitive
from nbad.core.trace import bind, eager, eval_ir
from nbad.rules._batching import defvectorized

optimization_barrier_p = Primitive("optimization_barrier", kind="elementwise")
optimization_barrier_p.abstract_eval = lambda x: x
optimization_barrier_p.impl = lambda x: x
optimization_barrier_p.codegen = lambda e, x: x
optimization_barrier_p.jvp = lambda primals, tangents, outs: tangents[0]
optimization_barrier_p.vjp = lambda ct, primals, outs: [ct]
defvectorized(optimization_barrier_p)

checkpoint_p = Primitive("checkpoint", kind="call", multiple_results=True)
checkpoint_p.abstract_eval = lambda *avals, ir, prevent_cse: [a.aval for a in ir.outputs]


def _checkpoint_impl(*args, ir, prevent_cse):
    with eager():
        return eval_ir(ir, args)


checkpoint_p.impl = _checkpoint_impl


def _linearized(primals, ir, prevent_cse):
    from nbad.rules._ad import aval_of
    from nbad.transforms import ad

    if prevent_cse:
        primals = [bind(optimization_barrier_p, x) if aval_of(x).dtype.kind in "fc" else x
                   for x in primals]
    return ad.linearize_ir(lambda *xs: eval_ir(ir, xs), list(primals), ir.in_avals, ir.name)


def _checkpoint_jvp(primals, tangents, outs, *, ir, prevent_cse):
    from nbad.transforms import ad

    return ad.jvp_pass(_linearized(primals, ir, False), list(tangents))


def _checkpoint_vjp(cts, primals, outs, *, ir, prevent_cse):
    from nbad.transforms import ad

    return ad.backward_pass(_linearized(primals, ir, prevent_cse), list(cts))


def _checkpoint_vmap(size, args, batched, *, ir, prevent_cse):
    from nbad.rules._batching import broadcast_batch
    from nbad.transforms.vmap import batch_ir

    outs, flags = batch_ir(ir, size, args, batched)
    return [o if b else broadcast_batch(o, size) for o, b in zip(outs, flags)]


checkpoint_p.jvp = _checkpoint_jvp
checkpoint_p.vjp = _checkpoint_vjp
checkpoint_p.accepts_zero_cotangents = True
checkpoint_p.vmap = _checkpoint_vmap
