"""cond (rules/cond.py) compiled: one program per branch, only the chosen one runs.

Each branch is lowered, planned and built like a whole program
(driver.build_program: its kernels, BLAS calls and threads); the step the
driver calls reads the index and calls that branch's program. A branch that
is never taken is never compiled by Numba (kernels compile on first call).
"""
from __future__ import annotations

import numpy as np

from nbad.codegen import fusion


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
        # Programs take arrays (an operand may be a literal's NumPy scalar); kernels
        # get plain ndarrays (an Array, an ndarray subclass, costs a slower dispatch).
        outs = programs[chosen_branch(index, n)](*[asarray(o) for o in operands])
        return tuple(asarray(o) for o in outs)

    run.kernels = [k for p in programs for k in p.kernels]
    return run
