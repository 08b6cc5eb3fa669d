"""The derivative-rule convention and its family helpers.

Derivative rules are written with nbad operations (nbad.numpy / primitives via
`bind`), so applying a rule records new equations: the derivative is itself
IR, higher derivatives come for free, and under jit the backward pass is
fused and compiled like any other code (DESIGN §4, §6).

Two slots per differentiable primitive:

    prim.jvp(primals, tangents, outs, **params) -> tangent_out
        primals: the operand values (tracers, arrays or scalars);
        tangents: one per operand, None meaning a (symbolic) zero tangent;
        outs: the primal result(s) already computed.
        Returns the result's tangent (a list for multiple_results), or None
        if it is zero.

    prim.vjp(ct, primals, outs, **params) -> list of cotangents
        ct: the cotangent of the result (a list for multiple_results);
        returns one cotangent per operand, None where zero or where the
        operand is not differentiable (integer/bool operands, indices).

Both see the operands' avals through `aval_of(x)`. A cotangent has the shape
and dtype of its operand: `unbroadcast` sums what an operand was broadcast
along (elementwise primitives accept scalar operands). Non-differentiable
primitives (comparisons, argmax, iota, ...) set `prim.nondiff = True`: their
outputs have zero derivative and AD never asks for their rules.

Family helpers:

    defderiv(prim, partials)   elementwise: partials(outs, *xs) -> one partial
                               derivative per operand (None = zero); gives jvp
                               (sum of tangent * partial) and vjp (ct * partial).
    deflinear(prim, transpose) linear in its array operands: jvp applies the
                               primitive to the tangents; transpose(ct, primals,
                               outs, **params) -> cotangents is the vjp.
    defnondiff(prim)           zero derivative.
"""
from __future__ import annotations

from nbad.core.trace import bind


def aval_of(x):
    from nbad.numpy._core import aval_of as _aval_of

    return _aval_of(x)


def unbroadcast(ct, shape):
    """Sum `ct` down to `shape` (a scalar operand of an elementwise op)."""
    import nbad.numpy as jnp

    if ct is None:
        return None
    ct_shape = aval_of(ct).shape
    if tuple(ct_shape) == tuple(shape):
        return ct
    extra = len(ct_shape) - len(shape)
    axes = tuple(range(extra)) + tuple(
        extra + i for i, d in enumerate(shape) if d == 1 and ct_shape[extra + i] != 1)
    summed = jnp.sum(ct, axis=axes) if axes else ct
    return jnp.reshape(summed, shape)


def _is_differentiable(x) -> bool:
    return aval_of(x).dtype.kind in "fc"


def defderiv(prim, partials):
    """Elementwise rule from partial derivatives: partials(outs, *xs) -> list.

    Partials are asked for only when every operand is float/complex (integer
    operands have no derivative, and e.g. int ** -1 would fail), and the
    tangent has the result's shape even when only a scalar operand varies."""

    def float_partials(outs, *xs, **params):
        if not all(_is_differentiable(x) for x in xs):
            return [None] * len(xs)
        return partials(outs, *xs, **params)

    def jvp(primals, tangents, outs, **params):
        if all(t is None for t in tangents):
            return None
        ds = float_partials(outs, *primals, **params)
        total = None
        for t, d in zip(tangents, ds):
            if t is None or d is None:
                continue
            term = t * d
            total = term if total is None else total + term
        if total is not None and aval_of(total).shape != aval_of(outs).shape:
            import nbad.numpy as jnp

            total = jnp.broadcast_to(total, aval_of(outs).shape)
        return total

    def vjp(ct, primals, outs, **params):
        ds = float_partials(outs, *primals, **params)
        return [
            None if d is None or not _is_differentiable(x) else unbroadcast(ct * d, aval_of(x).shape)
            for x, d in zip(primals, ds)
        ]

    prim.jvp = jvp
    prim.vjp = vjp
    return prim


def deflinear(prim, transpose):
    """A primitive linear in its array operands: jvp applies it to the tangents."""

    def jvp(primals, tangents, outs, **params):
        if all(t is None for t in tangents):
            return None
        import nbad.numpy as jnp

        filled = [jnp.zeros_like(p) if t is None else t for p, t in zip(primals, tangents)]
        return bind(prim, *filled, **params)

    prim.jvp = jvp
    prim.vjp = transpose
    return prim


def defnondiff(prim):
    prim.nondiff = True
    prim.jvp = lambda primals, tangents, outs, **params: None
    prim.vjp = lambda ct, primals, outs, **params: [None] * len(primals)
    return prim
