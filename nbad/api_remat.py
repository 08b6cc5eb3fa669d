"""nbad.checkpoint (alias nbad.remat), JAX's signature: a function whose
reverse-mode derivative recomputes its forward pass instead of storing it.

    loss = nbad.checkpoint(layer)          # or @nbad.checkpoint
    g = nbad.grad(lambda x: jnp.sum(loss(x)))

Each call traces the function into an IR and binds one `checkpoint`
equation (rules/checkpoint.py). `policy` is accepted, as in JAX; nbad saves
nothing of the body (JAX's default policy), whatever it says. Inside a
lax.scan every step is recomputed in the backward pass anyway: the scan's
reverse mode stores only the carries.
"""
from __future__ import annotations

import functools

from nbad import tree_util
from nbad.core.trace import bind, trace_to_ir
from nbad.numpy._core import as_operand, aval_of
from nbad.rules.checkpoint import checkpoint_p


def checkpoint(fun, *, prevent_cse=True, policy=None, static_argnums=()):
    """JAX's jax.checkpoint: fun, with its forward pass recomputed by reverse mode."""
    if not callable(fun):
        raise TypeError(f"checkpoint expects a callable, got {type(fun).__name__}")
    static_argnums = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)

    @functools.wraps(fun)
    def wrapped(*args, **kwargs):
        n = len(args)
        static = {i % n: args[i] for i in static_argnums} if n else {}
        dyn = [a for i, a in enumerate(args) if i not in static]
        leaves, in_tree = tree_util.tree_flatten((dyn, kwargs))
        leaves = [as_operand(x) for x in leaves]
        found = {}

        def flat_fun(*xs):
            d, kw = tree_util.tree_unflatten(in_tree, list(xs))
            it = iter(d)
            full = [static[i] if i in static else next(it) for i in range(n)]
            out_leaves, found["tree"] = tree_util.tree_flatten(fun(*full, **kw))
            return [as_operand(o) for o in out_leaves]

        ir = trace_to_ir(flat_fun, [aval_of(x).strip_weak() for x in leaves],
                         name=getattr(fun, "__name__", "checkpoint"))
        if ir.constvars:  # captured arrays become operands: the body is closed
            from nbad.core.ir import IR

            leaves = leaves + list(ir.consts)
            ir = IR(ir.inputs + ir.constvars, ir.equations, ir.outputs, name=ir.name)
        outs = bind(checkpoint_p, *leaves, ir=ir, prevent_cse=bool(prevent_cse))
        return tree_util.tree_unflatten(found["tree"], outs)

    return wrapped


remat = checkpoint  # JAX's alias
