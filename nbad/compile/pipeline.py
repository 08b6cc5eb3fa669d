"""The compile pipeline: the one place that lists what a jitted function's IR
goes through between tracing and a backend's program.

    compile_program(ir, backend)
      prepare        inline calls -> dead code -> reroll Python loops -> simplify
                     (once, on the whole program)
      plan_ir        for the program and, before any emission, for every sub-IR
                     a step runs as a program of its own (loop bodies, cond
                     branches; the primitive's `sub_programs` slot names them):
                       expand maps      vmap's maps as batched equations
                       lower            the neutral rewrites, then backend.lower
                       plan             fusion: kernels, library and view steps
                       sub-plans        plan_ir of each sub-IR, kept on its step
                                        (LibraryStep.subplans)
      backend.build  emission and compilation of the plan and its sub-plans

A backend is one folder under nbad/backends/ exposing a `Backend`; it reads a
Plan and never calls back into planning.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from nbad.compile import fusion, passes
from nbad.compile.fusion import LibraryStep, Plan
from nbad.core.ir import IR
from nbad.transforms.reroll import reroll
from nbad.transforms.simplify import remove_dead_code, simplify


@dataclass(frozen=True)
class Backend:
    """What the pipeline needs of a backend.

    lower(ir, invariant_ids) -> ir   the backend's rewrites before fusion;
                                     invariant_ids: for a loop body, the ids of
                                     its inputs that are the same every step
                                     (None for a program or a branch)
    build(plan, single_output)       the runnable program of a plan whose steps
                                     carry their sub-plans
    """

    name: str
    lower: Callable
    build: Callable


def prepare(ir: IR) -> IR:
    """The whole program's IR before planning. Dead code goes before the reroll:
    a backward pass's unused cotangents read every forward copy of a loop body."""
    return simplify(reroll(remove_dead_code(passes.inline_calls(ir))))


def expand_maps(ir: IR) -> IR:
    """`ir` without maps or calls: expanding a map may leave calls (a custom-rule
    function vmapped) and inlining a call may leave maps, and a map independent
    of an enclosing one survives its expansion, so both repeat until none is left;
    a Python loop inside a vmapped function is rerolled after."""
    ir = passes.inline_calls(ir)
    if not passes.has_maps(ir):
        return ir
    while passes.has_maps(ir):
        ir = passes.inline_calls(passes.lower_maps(ir))
    return reroll(remove_dead_code(ir))


def lower(ir: IR, backend: Backend, invariant_inputs=None) -> IR:
    """The neutral rewrites, then the backend's. `invariant_inputs`: positions of
    the inputs of a loop body that are the same every step."""
    ir = passes.sink_transposes(passes.lower_iotas(simplify(passes.sink_broadcasts(ir))))
    invariant_ids = None
    if invariant_inputs is not None:
        invariant_ids = {ir.inputs[k].id for k in invariant_inputs} | {v.id for v in ir.constvars}
    return backend.lower(ir, invariant_ids)


def plan_ir(ir: IR, backend: Backend, invariant_inputs=None) -> Plan:
    """The plan of `ir` with the plans of its steps' sub-IRs attached."""
    plan = fusion.plan(lower(expand_maps(ir), backend, invariant_inputs))
    for step in plan.steps:
        if isinstance(step, LibraryStep) and step.equation.primitive.sub_programs is not None:
            step.subplans = tuple(plan_ir(sub, backend, invariant) for sub, invariant
                                  in step.equation.primitive.sub_programs(step.equation.params))
    return plan


def compile_program(ir: IR, backend: Backend, *, single_output: bool = False):
    """(program, prepared IR, plan): `backend.build`'s program for traced `ir`."""
    ir = prepare(ir)
    plan = plan_ir(ir, backend)
    return backend.build(plan, single_output), ir, plan
