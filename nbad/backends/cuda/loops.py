"""Control flow on the device: scan and while loops as host loops of launches,
cond as the chosen branch's program.

The body (and a while loop's predicate, a cond's branches) comes planned with
its step (`step.subplans`, made by nbad/compile/pipeline.py) and is built as a
CUDA program of its own; the host calls it once per step with device arrays, so
the carries never leave the device. A scan reads each step's slice of its xs
as a view and copies each step's ys into the stacked result on the device; a
while loop copies its predicate (one bool) to the host before each step,
which is also the only synchronisation (a cond's index likewise). Loops whose
whole trip fits in one kernel are not fused into one yet.
"""
from __future__ import annotations

import math

from nbad.backends.cuda import runtime
from nbad.backends.cuda.array import CudaArray
from nbad.rules.scan import scan_groups


def _rows(a: CudaArray):
    """A stacked array as (length, elements per step): a view, for slicing steps."""
    return a.data.reshape((a.shape[0], max(1, math.prod(a.shape[1:]))))


def compile_scan(step, build):
    """(runner, kernels): runner(*CudaArrays) -> tuple of CudaArrays."""
    p = step.equation.params
    program = build(*step.subplans)
    length, nc, nx, reverse = p["length"], p["num_carry"], p["num_xs"], p["reverse"]
    y_avals = [a.aval for a in program.plan.ir.outputs[nc:]]

    def run(*args):
        carry, consts, xs = scan_groups(list(args), nc, nx)
        x_rows = [(_rows(x), x.shape[1:]) for x in xs]
        ys = [CudaArray(runtime.empty((length,) + tuple(a.shape), a.dtype), (length,) + tuple(a.shape))
              for a in y_avals]
        y_rows = [_rows(y) for y in ys]
        for it in range(length):
            t = length - 1 - it if reverse else it
            step_xs = [CudaArray(rows[t:t + 1].reshape(shape or (1,)), shape) for rows, shape in x_rows]
            outs = program(*carry, *consts, *step_xs)
            carry = list(outs[:nc])
            for rows, o in zip(y_rows, outs[nc:]):
                rows[t:t + 1].copy_to_device(o.data.reshape((1, rows.shape[1])))
        return tuple(carry + ys)

    return run, program.kernels


def compile_while(step, build):
    p = step.equation.params
    cond_plan, body_plan = step.subplans
    cond, body = build(cond_plan), build(body_plan)
    ncc, nbc = p["cond_nconsts"], p["body_nconsts"]

    def run(*args):
        cc, bc, carry = args[:ncc], args[ncc:ncc + nbc], list(args[ncc + nbc:])
        while bool(cond(*cc, *carry)[0]):
            carry = list(body(*bc, *carry))
        return tuple(carry)

    return run, cond.kernels + body.kernels


def compile_cond(step, build):
    """Each branch is a program of its own; the index (one int) is copied to the host."""
    import numpy as np

    from nbad.rules.cond import chosen_branch

    programs = [build(plan) for plan in step.subplans]

    def run(index, *operands):
        return tuple(programs[chosen_branch(np.asarray(index), len(programs))](*operands))

    return run, [k for p in programs for k in p.kernels]


COMPILERS = {"scan": compile_scan, "while": compile_while, "cond": compile_cond}
