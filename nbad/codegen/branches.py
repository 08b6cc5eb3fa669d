"""cond (rules/cond.py) compiled: one program per branch, only the chosen one runs.

Each branch is lowered, planned and built like a whole program
(driver.build_program: its kernels, BLAS calls and threads); the step the
driver calls reads the index and calls that branch's program. A branch that
is never taken is never compiled by Numba (kernels compile on first call).

Before that, `sink_broadcasts` moves broadcasts of operands into the branches:
a broadcast fuses into the kernels that read it (index arithmetic), but only
within one program, so passed across the branch boundary it would be a full
array (a backward pass's seed, ones_like(x), read from memory).
"""
from __future__ import annotations

import numpy as np

from nbad.codegen import fusion
from nbad.core.ir import IR, Equation, Var
from nbad.rules.cond import cond_p
from nbad.rules.shape import broadcast_in_dim_p


def compile_cond(eq, num_threads: int):
    """A callable running cond equation `eq`: (index, *operands) -> tuple of results."""
    from nbad.codegen.driver import build_program
    from nbad.codegen.lowering import lower_for_cpu
    from nbad.rules.cond import chosen_branch

    branches = eq.params["branches"]
    programs = [build_program(fusion.plan(lower_for_cpu(b)), num_threads) for b in branches]
    n = len(programs)
    asarray = np.asarray

    def run(index, *operands):
        # Programs take arrays (an operand may be a literal's NumPy scalar).
        outs = programs[chosen_branch(index, n)](*[asarray(o) for o in operands])
        return tuple(_buffer(o) for o in outs)

    run.kernels = [k for p in programs for k in p.kernels]
    return run


def _buffer(x):
    """A program's result (an Array viewing a buffer it made for this call) as
    that plain ndarray: kernels dispatch faster on ndarrays, and the enclosing
    program then knows it need not copy it before returning it."""
    base = x.base
    if type(base) is np.ndarray and base.shape == x.shape and base.dtype == x.dtype:
        return base
    return np.asarray(x)


def sink_broadcasts(ir: IR) -> IR:
    """`ir` with every cond operand that is a broadcast passed unbroadcast and
    broadcast inside each branch instead (the broadcast's dead copy is left to DCE)."""
    broadcasts = {eq.outputs[0].id: eq for eq in ir.equations if eq.primitive is broadcast_in_dim_p}
    equations, changed = [], False
    for eq in ir.equations:
        sinkable = [k for k, a in enumerate(eq.inputs[1:], 1)
                    if eq.primitive is cond_p and isinstance(a, Var) and a.id in broadcasts]
        if not sinkable:
            equations.append(eq)
            continue
        inputs, branches = list(eq.inputs), list(eq.params["branches"])
        for k in sinkable:
            bcast = broadcasts[inputs[k].id]
            inputs[k] = bcast.inputs[0]
            for b, branch in enumerate(branches):
                old = branch.inputs[k - 1]
                small = Var(bcast.inputs[0].aval)
                branches[b] = IR(branch.inputs[:k - 1] + [small] + branch.inputs[k:],
                                 [Equation(broadcast_in_dim_p, [small], [old], bcast.params)]
                                 + branch.equations, branch.outputs, name=branch.name)
        equations.append(Equation(cond_p, inputs, eq.outputs, dict(eq.params, branches=tuple(branches))))
        changed = True
    if not changed:
        return ir
    return IR(ir.inputs, equations, ir.outputs, ir.constvars, ir.consts, name=ir.name)
