"""Primitives that steer transformations rather than compute: stop_gradient,
and the calls of functions with custom derivative rules (custom_jvp_call,
custom_vjp_call). Control flow (cond, scan, while) will join them here.
"""
from __future__ import annotations

from nbad.core.primitive import Primitive
from nbad.rules._ad import defnondiff
from nbad.rules._batching import defvectorized

# stop_gradient: the identity with a zero derivative. It is elementwise so it
# fuses (its template is the operand itself); simplify must not remove it,
# since an IR can still be differentiated after simplification (jit in grad).
stop_gradient_p = Primitive("stop_gradient", kind="elementwise")
stop_gradient_p.abstract_eval = lambda x: x
stop_gradient_p.impl = lambda x: x
stop_gradient_p.codegen = lambda e, x: x
defnondiff(stop_gradient_p)
defvectorized(stop_gradient_p)


# -- functions with user-defined derivatives ---------------------------------------
# A call records the user's function traced into an IR (`ir`, evaluated by the
# impl and inlined before compilation) plus the user's rule; the transformations
# see one equation and use the rule instead of differentiating the body.

# A call has a list of results whatever the function returns (one array, a tuple,
# a dict: `out_tree` rebuilds it), so every rule sees lists.
def _call_abstract_eval(*avals, ir, **params):
    return [v.aval for v in ir.outputs]


def _call_impl(*args, ir, **params):
    from nbad.core.trace import eager, eval_ir

    with eager():  # an impl computes values, whatever traces are open
        return eval_ir(ir, args)


def _define_call(name):
    prim = Primitive(name, kind="call", multiple_results=True)
    prim.abstract_eval = _call_abstract_eval
    prim.impl = _call_impl
    return prim


custom_jvp_call_p = _define_call("custom_jvp_call")
custom_vjp_call_p = _define_call("custom_vjp_call")


def _call_vmap(size, args, batched, *, ir, **params):
    """A batched call runs its body batched: its derivative rule no longer
    matters (batching happens when a program is lowered or evaluated, after
    differentiation), so the body is what is batched."""
    from nbad.rules._batching import broadcast_batch
    from nbad.transforms.vmap import batch_ir

    outs, flags = batch_ir(ir, size, args, batched)
    return [o if b else broadcast_batch(o, size) for o, b in zip(outs, flags)]


custom_jvp_call_p.vmap = _call_vmap
custom_vjp_call_p.vmap = _call_vmap
