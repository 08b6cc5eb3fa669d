"""Which library steps may update their operand's buffer in place.

An update primitive (scatter, scatter_add, dynamic_update_slice: those with an
`impl_in_place`) copies its operand and writes into the copy. The copy is not
needed when the operand is a buffer this program made for this call (a kernel's
output, or another in-place-capable step's result) that nothing reads after
the update, directly or through a view or a library result that may alias it:
then `x.at[i].set(a).at[j].set(b)` writes both updates into one fresh buffer.
Otherwise a large operand is copied into a recycled buffer (into_recycled).
"""
from __future__ import annotations

import numpy as np

from nbad.compile.fusion import Kernel, LibraryStep, step_inputs, step_outputs
from nbad.core.ir import Var


def _updates_in_place(step) -> bool:
    return isinstance(step, LibraryStep) and step.equation.primitive.impl_in_place is not None


def in_place_steps(plan) -> set:
    """ids of the plan's steps whose impl_in_place can run instead of impl."""
    roots: dict[int, set] = {}  # var id -> the buffers (var ids) its value may share memory with
    fresh: set[int] = set()
    for step in plan.steps:
        outs = step_outputs(step)
        if isinstance(step, Kernel) or _updates_in_place(step):
            for v in outs:
                roots[v.id] = {v.id}
                fresh.add(v.id)
        else:  # a view, or a library result that may be a view of any operand
            shared = set().union(*[roots.get(v.id, {v.id}) for v in step_inputs(step)])
            for v in outs:
                roots[v.id] = shared | {v.id}
    last_use: dict[int, int] = {}
    for k, step in enumerate(plan.steps):
        for v in step_inputs(step):
            for r in roots.get(v.id, {v.id}):
                last_use[r] = k
    end = len(plan.steps)
    for a in plan.ir.outputs:
        if isinstance(a, Var):
            for r in roots.get(a.id, {a.id}):
                last_use[r] = end
    chosen = set()
    for k, step in enumerate(plan.steps):
        if not _updates_in_place(step):
            continue
        x = step.equation.inputs[0]
        if isinstance(x, Var) and x.id in fresh and last_use.get(x.id) == k and \
                x not in step.equation.inputs[1:]:
            chosen.add(id(step))
    return chosen


def into_recycled(impl_in_place, recycler, params):
    """An update step that copies its operand into a buffer from `recycler`
    (recycle.Recycler) instead of a fresh one: a fresh multi-megabyte array
    costs a page fault per 4 KiB on first touch (an 8 MB copy: 1.8 ms fresh)."""
    take, copyto = recycler.take, np.copyto

    def run(x, *args):
        out = take()
        copyto(out, x)
        return impl_in_place(out, *args, **params)

    return run
