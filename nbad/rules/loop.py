"""The `loop` primitive: a body IR run `length` times, threading a carry.

    %w9 = loop %w0, %X, %y {body={ func ... }, length=250, num_carry=1} : f64[8]

Operands are the carries' initial values, then the loop invariants; the body
takes the same list and returns the next carries, then `extras` (values of
the last iteration the program reads after the loop). The results are the
final carries, then the extras of the last iteration. length >= 1.

A loop is what transforms/reroll.py makes of a Python loop traced inside jit:
the iterations, recorded one after another, folded back into one body. It is
compiled as a native loop (codegen/loops.py): one Numba function runs every
iteration, with no Python between them. Rerolling happens when a program is
compiled, after every transformation, so the derivative and batching rules
below never meet a loop in practice; they are complete anyway, by unrolling
(`expand_loop`), which is exact. A user-facing lax.fori_loop/scan would add
rules that keep the loop (a scan of the body's jvp, a reverse scan of its vjp).

Its rules:
    abstract_eval   the body's results
    impl            the body evaluated `length` times by NumPy
    jvp, vjp, vmap  those of the unrolled loop
"""
from __future__ import annotations

from nbad.core.primitive import Primitive
from nbad.core.trace import eager, eval_ir, trace_to_ir
from nbad.rules._ad import aval_of
from nbad.rules._batching import broadcast_batch

loop_p = Primitive("loop", kind="library", multiple_results=True)


def expand_loop(args, *, body, length, num_carry):
    """The loop's results, computed by binding the body `length` times."""
    carry, invariants = list(args[:num_carry]), list(args[num_carry:])
    outs = carry
    for _ in range(length):
        outs = eval_ir(body, carry + invariants)
        carry = list(outs[:num_carry])
    return list(outs)


def _loop_abstract_eval(*avals, body, length, num_carry):
    if length < 1:
        raise ValueError(f"a loop runs its body at least once (length={length})")
    return [a.aval for a in body.outputs]


def _loop_impl(*args, body, length, num_carry):
    with eager():
        return expand_loop(args, body=body, length=length, num_carry=num_carry)


def _linearized(primals, params):
    from nbad.transforms import ad

    avals = [aval_of(x) for x in primals]
    return ad.linearize_ir(lambda *xs: expand_loop(xs, **params), list(primals), avals,
                           f"loop({params['body'].name})")


def _loop_jvp(primals, tangents, outs, **params):
    from nbad.transforms import ad

    return ad.jvp_pass(_linearized(primals, params), list(tangents))


def _loop_vjp(cts, primals, outs, **params):
    from nbad.transforms import ad

    return ad.backward_pass(_linearized(primals, params), list(cts))


def _loop_vmap(size, args, batched, **params):
    from nbad.transforms.vmap import batch_ir

    per_example = [aval_of(a).update(shape=tuple(aval_of(a).shape)[1:]) if b else aval_of(a)
                   for a, b in zip(args, batched)]
    inner = trace_to_ir(lambda *xs: expand_loop(xs, **params), per_example,
                        name=params["body"].name)
    outs, flags = batch_ir(inner, size, args, batched)
    return [o if b else broadcast_batch(o, size) for o, b in zip(outs, flags)]


loop_p.abstract_eval = _loop_abstract_eval
loop_p.impl = _loop_impl
loop_p.jvp = _loop_jvp
loop_p.vjp = _loop_vjp
loop_p.vmap = _loop_vmap
