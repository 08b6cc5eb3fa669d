"""Fusion: group the equations of an IR into kernels and library steps.

One greedy pass over the equations in order (DESIGN §7):

* Elementwise equations of one iteration shape join the *open group* of that
  shape: a chain becomes one loop nest, whatever its length.
* A reduction whose operand an open group produces joins it as the loop
  nest's reduction, and the group closes.
* A view (reshape, transpose, broadcast_in_dim, slice, ...) computes nothing.
  It is applied lazily: a broadcast of a buffer is fused into the consuming
  loop as index arithmetic (size-1 dims read at index 0); any other view
  chain is applied to the materialised buffer in the driver by NumPy, which
  makes a view without copying, and the kernel reads it strided.
* Everything else (dot_general → BLAS, concatenate, gather, ...) is a library
  step: its NumPy impl runs between kernels.

A group is *flushed* (becomes a step) as soon as something outside it needs
one of its values, so open groups never depend on each other and the step
order respects data dependencies. A group value becomes a kernel output only
if something outside the group uses it. `NBAD_DEBUG>=2` logs why groups were
not fused (see `explain`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from nbad.core.ir import IR, Equation, Literal, Var
from nbad.rules.shape import broadcast_in_dim_p, expanded_shape, reshape_p


@dataclass
class KernelInput:
    """A value read by a kernel's equations (`var`) and the buffer that holds it.

    `buffer` is the materialised Var the driver passes: `var` itself, or the
    base of a broadcast that the kernel performs by index arithmetic. The
    driver reshapes it to `expanded` (the kernel's rank, 1 on broadcast dims).
    `strided` buffers are NumPy views (transpose, slice, ...) read as they are.
    """

    var: Var
    buffer: Var
    expanded: tuple
    strided: bool = False


@dataclass
class Kernel:
    shape: tuple                      # the iteration space
    equations: list                   # member equations, in order
    inputs: list = field(default_factory=list)    # KernelInput, in first-use order
    outputs: list = field(default_factory=list)   # Vars written by the kernel
    reduce_eq: Equation | None = None

    @property
    def kind(self) -> str:
        return "elementwise" if self.reduce_eq is None else "reduce"


@dataclass
class LibraryStep:
    equation: Equation


@dataclass
class ViewStep:
    """Materialise a view of a buffer (zero-copy NumPy view) in the driver."""

    equation: Equation


@dataclass
class Plan:
    ir: IR
    steps: list
    notes: list  # fusion decisions, for NBAD_DEBUG and lower().fusion_notes


class _Planner:
    def __init__(self, ir: IR):
        self.ir = ir
        self.steps: list = []
        self.notes: list[str] = []
        self.open: dict[tuple, Kernel] = {}           # iteration shape -> open group
        self.producer: dict[int, Kernel] = {}         # var id -> open group producing it
        self.views: dict[int, tuple] = {}             # var id -> (base Var, [view eqs])
        self.materialised_views: set[int] = set()
        self.uses: dict[int, int] = {}
        self.external_uses: dict[int, set] = {}
        for i, eq in enumerate(ir.equations):
            for a in eq.inputs:
                if isinstance(a, Var):
                    self.external_uses.setdefault(a.id, set()).add(i)
        self.output_ids = {a.id for a in ir.outputs if isinstance(a, Var)}
        self.eq_index = {id(eq): i for i, eq in enumerate(ir.equations)}

    # -- flushing -----------------------------------------------------------
    def flush(self, kernel: Kernel, why: str = ""):
        if self.open.get(kernel.shape) is kernel:
            del self.open[kernel.shape]
        member_idx = {self.eq_index[id(eq)] for eq in kernel.equations}
        produced = [v for eq in kernel.equations for v in eq.outputs]
        for v in produced:
            used_outside = bool(self.external_uses.get(v.id, set()) - member_idx)
            if used_outside or v.id in self.output_ids:
                kernel.outputs.append(v)
            self.producer.pop(v.id, None)
        if why:
            self.notes.append(f"kernel {len(self.steps)} ({kernel.kind}, {len(kernel.equations)} eqs, "
                              f"shape {kernel.shape}) closed: {why}")
        self.steps.append(kernel)

    def need_materialised(self, atom, why: str):
        """Make sure `atom` exists as a buffer before the next step."""
        if not isinstance(atom, Var):
            return
        kernel = self.producer.get(atom.id)
        if kernel is not None:
            self.flush(kernel, why)
        if atom.id in self.views and atom.id not in self.materialised_views:
            base, chain = self.views[atom.id]
            self.need_materialised(base, why)
            for eq in chain:
                if eq.outputs[0].id not in self.materialised_views:
                    self.steps.append(ViewStep(eq))
                    self.materialised_views.add(eq.outputs[0].id)

    # -- kernel inputs ------------------------------------------------------
    def kernel_input(self, kernel: Kernel, var: Var) -> None:
        for inp in kernel.inputs:
            if inp.var is var:
                return
        rank = len(kernel.shape)
        if var.id in self.views:
            base, chain = self.views[var.id]
            expanded = _broadcast_chain_expanded(base, chain)
            if expanded is not None and len(expanded) == rank:
                self.need_materialised(base, "read by a later kernel")
                kernel.inputs.append(KernelInput(var, base, expanded))
                return
            self.need_materialised(var, "view read by a kernel")
            kernel.inputs.append(KernelInput(var, var, var.aval.shape, strided=True))
            return
        self.need_materialised(var, "read by another kernel")
        shape = var.aval.shape
        expanded = shape if len(shape) == rank else (1,) * rank  # scalars broadcast
        kernel.inputs.append(KernelInput(var, var, expanded))

    # -- the pass -------------------------------------------------------------
    def run(self) -> Plan:
        for eq in self.ir.equations:
            kind = eq.primitive.kind
            if kind == "elementwise":
                self.add_elementwise(eq)
            elif kind == "reduce":
                self.add_reduce(eq)
            elif kind == "view":
                self.add_view(eq)
            else:
                for a in eq.inputs:
                    self.need_materialised(a, f"used by library op {eq.primitive.name}")
                self.steps.append(LibraryStep(eq))
        for kernel in list(self.open.values()):
            self.flush(kernel)
        for a in self.ir.outputs:
            self.need_materialised(a, "program output")
        return Plan(self.ir, self.steps, self.notes)

    def add_elementwise(self, eq: Equation):
        shape = eq.outputs[0].aval.shape
        group = self.open.get(shape)
        for a in eq.inputs:
            if isinstance(a, Var):
                producer = self.producer.get(a.id)
                if producer is not None and producer is not group:
                    self.flush(producer, f"its value feeds a loop of another shape {shape}")
        if group is None:
            group = Kernel(shape, [])
            self.open[shape] = group
        for a in eq.inputs:
            if isinstance(a, Var) and self.producer.get(a.id) is not group:
                self.kernel_input(group, a)
        group.equations.append(eq)
        for v in eq.outputs:
            self.producer[v.id] = group

    def add_reduce(self, eq: Equation):
        operand = eq.inputs[0]
        group = self.producer.get(operand.id) if isinstance(operand, Var) else None
        if group is None:
            group = Kernel(operand.aval.shape, [])
            self.kernel_input(group, operand)
        elif group.reduce_eq is not None:  # pragma: no cover - groups close after a reduce
            self.flush(group, "second reduction")
            return self.add_reduce(eq)
        group.equations.append(eq)
        group.reduce_eq = eq
        if self.open.get(group.shape) is group:
            del self.open[group.shape]
        for v in eq.outputs:
            self.producer[v.id] = group
        self.flush(group)

    def add_view(self, eq: Equation):
        operand = eq.inputs[0]
        if not isinstance(operand, Var):  # a view of a literal: materialise it as a library op
            self.steps.append(LibraryStep(eq))
            return
        producer = self.producer.get(operand.id)
        if producer is not None:
            self.flush(producer, f"its value is viewed by {eq.primitive.name}")
        base, chain = self.views.get(operand.id, (operand, []))
        self.views[eq.outputs[0].id] = (base, chain + [eq])


def _broadcast_chain_expanded(base: Var, chain: list) -> tuple | None:
    """If `chain` only inserts unit dims and broadcasts, the base's shape
    expanded to the result's rank (1 where broadcast); else None."""
    shape = base.aval.shape
    for eq in chain:
        if eq.primitive is reshape_p:
            new = eq.params["new_sizes"]
            if [d for d in shape if d != 1] != [d for d in new if d != 1]:
                return None
            shape = tuple(new)
        elif eq.primitive is broadcast_in_dim_p:
            shape = expanded_shape(shape, eq.params["shape"], eq.params["broadcast_dimensions"])
        else:
            return None
    final = chain[-1].outputs[0].aval.shape
    if len(shape) != len(final):
        return None
    return shape


def plan(ir: IR) -> Plan:
    return _Planner(ir).run()


def explain(p: Plan) -> str:
    lines = [f"{len([s for s in p.steps if isinstance(s, Kernel)])} kernels, "
             f"{len([s for s in p.steps if isinstance(s, LibraryStep)])} library calls"]
    lines += p.notes
    return "\n".join(lines)


__all__ = ["Kernel", "KernelInput", "LibraryStep", "ViewStep", "Plan", "plan", "explain", "Literal"]
