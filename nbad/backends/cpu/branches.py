"""cond (rules/cond.py) compiled: one program per branch, only the chosen one runs.

Each branch is lowered, planned and built like a whole program
(driver.build_program: its kernels, BLAS calls and threads); the step the
driver calls reads the index and calls that branch's program. A branch that
is never taken is never compiled by Numba (kernels compile on first call).

The branches are planned by the pipeline (nbad/compile/pipeline.py) with the
cond step (`step.subplans`); before that, compile/passes.py's `sink_broadcasts`
moved broadcast operands into the branches.
"""
from __future__ import annotations

import numpy as np

from nbad.rules.cond import chosen_branch


def compile_cond(step, num_threads: int, build):
    """A callable running a cond's LibraryStep: (index, *operands) -> tuple of results.
    build(plan): the program of a plan (the driver's)."""
    programs = [build(plan) for plan in step.subplans]
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
