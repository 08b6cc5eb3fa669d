"""Fusion: group the equations of an IR into kernels and library steps.

One greedy pass over the equations in order (DESIGN §7):

* Elementwise equations of one iteration shape join the *open group* of that
  shape: a chain becomes one loop nest, whatever its length.
* A reduction whose operand an open group produces joins it as the loop
  nest's reduction, and the group closes.
* A view (reshape, transpose, broadcast_in_dim, slice, dynamic_slice, ...) computes nothing.
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
    """One loop nest.

    "elementwise": equations over `shape`. "reduce": one reduction (`reduce_eq`)
    of any axes, fused with its producers. "row": reductions over the same
    trailing axes (`row_axes`) sharing the outer loops over the kept dims —
    e.g. softmax's max, sum of exp, and the division, in one pass per row;
    equations of the kept shape (per-row epilogues) compute between them, and
    broadcasts of per-row values back to `shape` are `aliases` (view var id ->
    the kept var it reads), not buffers.
    """

    shape: tuple                      # the iteration space
    equations: list                   # member equations, in order
    inputs: list = field(default_factory=list)    # KernelInput, in first-use order
    outputs: list = field(default_factory=list)   # Vars written by the kernel
    reduce_eq: Equation | None = None
    row_axes: tuple | None = None
    reduce_eqs: list = field(default_factory=list)
    aliases: dict = field(default_factory=dict)

    @property
    def kind(self) -> str:
        if self.row_axes is not None:
            return "row"
        return "elementwise" if self.reduce_eq is None else "reduce"

    @property
    def kept_shape(self) -> tuple:
        return self.shape[: len(self.shape) - len(self.row_axes)]

    @property
    def reduced_axes(self) -> tuple:
        if self.row_axes is not None:
            return self.row_axes
        return tuple(self.reduce_eq.params["axes"]) if self.reduce_eq is not None else ()


@dataclass
class LibraryStep:
    """An equation run by the backend's library code. `subplans`: the plans of the
    sub-IRs it runs as programs (a loop's body, a cond's branches), in the order
    of its primitive's `sub_programs`; made by compile/pipeline.py."""

    equation: Equation
    subplans: tuple = ()


@dataclass
class ViewStep:
    """Materialise a view of a buffer (zero-copy NumPy view) in the driver."""

    equation: Equation


@dataclass
class Plan:
    ir: IR
    steps: list
    notes: list  # fusion decisions, for NBAD_DEBUG and lower().fusion_notes


def step_inputs(step) -> list:
    """The vars a plan step reads: a kernel's buffers, a library or view step's operands."""
    if isinstance(step, Kernel):
        return [inp.buffer for inp in step.inputs]
    return [a for a in step.equation.inputs if isinstance(a, Var)]


def step_outputs(step) -> list:
    return step.outputs if isinstance(step, Kernel) else step.equation.outputs


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
            if v.id in self.output_ids or self._used_outside(v.id, kernel, member_idx):
                kernel.outputs.append(v)
            self.producer.pop(v.id, None)
        if why:
            self.notes.append(f"kernel {len(self.steps)} ({kernel.kind}, {len(kernel.equations)} eqs, "
                              f"shape {kernel.shape}) closed: {why}")
        self.steps.append(kernel)

    def _used_outside(self, vid: int, kernel: Kernel, member_idx: set) -> bool:
        """Does anything outside `kernel` read this value (as a buffer)? Views of
        it that the kernel's own equations read as per-row aliases do not count."""
        for i in self.external_uses.get(vid, ()):
            if i in member_idx:
                continue
            eq = self.ir.equations[i]
            if eq.primitive.kind != "view" or not self._alias_only(eq.outputs[0].id, kernel, member_idx):
                return True
        return False

    def _alias_only(self, vid: int, kernel: Kernel, member_idx: set) -> bool:
        if vid in self.output_ids:
            return False
        for i in self.external_uses.get(vid, ()):
            eq = self.ir.equations[i]
            if i in member_idx:
                if vid not in kernel.aliases:
                    return False
            elif eq.primitive.kind != "view" or not self._alias_only(eq.outputs[0].id, kernel, member_idx):
                return False
        return True

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
        if len(shape) == rank:
            expanded = shape
        elif _per_row(shape, kernel) and len(shape) == len(kernel.kept_shape):
            expanded = shape + (1,) * len(kernel.row_axes)  # a per-row value
        else:
            expanded = (1,) * rank  # scalars broadcast
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

    def _base_producer(self, var: Var):
        base = self.views[var.id][0] if var.id in self.views else var
        return self.producer.get(base.id)

    def _aliasable(self, var: Var, group: Kernel) -> bool:
        """Is `var` one of `group`'s per-row values, reshaped (unit dims) or
        broadcast along its rows? Then the kernel reads the row's scalar."""
        if group.row_axes is None or var.id not in self.views:
            return False
        base, chain = self.views[var.id]
        if self.producer.get(base.id) is not group or not _per_row(base.aval.shape, group):
            return False
        expanded = _broadcast_chain_expanded(base, chain)
        if expanded is None:
            return False
        if var.aval.shape == group.shape:
            return expanded == group.kept_shape + (1,) * len(group.row_axes)
        return _per_row(var.aval.shape, group) and _squeezed(expanded) == _squeezed(var.aval.shape)

    def _group_for(self, shape: tuple, eq: Equation) -> Kernel | None:
        """The open group an equation of `shape` joins: the row group whose
        per-row values it reads (an epilogue), else the open group of its shape."""
        for a in eq.inputs:
            if isinstance(a, Var):
                p = self._base_producer(a)
                if p is not None and shape != p.shape and _per_row(shape, p):
                    return p
        return self.open.get(shape)

    def _join(self, group: Kernel | None, shape: tuple, eq: Equation) -> Kernel:
        """Flush what `eq` needs from other groups; the group it joins (maybe new)."""
        for a in eq.inputs:
            if not isinstance(a, Var):
                continue
            p = self._base_producer(a)
            if p is None or (p is group and (a.id not in self.views or self._aliasable(a, group))):
                continue
            if p is group:
                group = None  # needs a view of its own group as a buffer: close it first
            self.flush(p, f"its value feeds {eq.primitive.name} of shape {shape} in another loop")
        if group is None or group not in self.open.values():
            old = self.open.get(shape)
            if old is not None:
                self.flush(old, "a new loop of the same shape starts")
            group = Kernel(shape, [])
            self.open[shape] = group
        for a in eq.inputs:
            if not isinstance(a, Var) or self.producer.get(a.id) is group:
                continue
            if self._aliasable(a, group):
                group.aliases[a.id] = self.views[a.id][0]
            else:
                self.kernel_input(group, a)
        return group

    def add_elementwise(self, eq: Equation):
        shape = eq.outputs[0].aval.shape
        group = self._join(self._group_for(shape, eq), shape, eq)
        group.equations.append(eq)
        for v in eq.outputs:
            self.producer[v.id] = group

    def add_reduce(self, eq: Equation):
        operand = eq.inputs[0]
        shape, axes = operand.aval.shape, tuple(eq.params["axes"])
        if _is_row_reduction(shape, axes) and isinstance(operand, Var):
            candidates = (self._base_producer(operand), self.open.get(shape))
            group = next((g for g in candidates if g is not None and g.shape == shape
                          and g.reduce_eq is None and g.row_axes in (None, axes)), None)
            group = self._join(group, shape, eq)
            group.row_axes = axes
            group.reduce_eqs.append(eq)
            group.equations.append(eq)
            for v in eq.outputs:
                self.producer[v.id] = group
            return
        group = self.producer.get(operand.id) if isinstance(operand, Var) else None
        if group is not None and (group.row_axes is not None or group.shape != shape):
            self.flush(group, "a reduction over other axes reads it")
            group = None
        if group is None:
            group = Kernel(shape, [])
            self.kernel_input(group, operand)
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
        per_row_value = producer is not None and _per_row(operand.aval.shape, producer)
        if producer is not None and not per_row_value:
            self.flush(producer, f"its value is viewed by {eq.primitive.name}")
        for a in eq.inputs[1:]:  # a view's offsets (dynamic_slice): known before it is taken
            self.need_materialised(a, f"an offset of {eq.primitive.name}")
        base, chain = self.views.get(operand.id, (operand, []))
        self.views[eq.outputs[0].id] = (base, chain + [eq])


def _is_row_reduction(shape: tuple, axes: tuple) -> bool:
    """Reduces trailing axes (not all of unit size) and keeps at least one leading one."""
    n = len(shape)
    return (0 < len(axes) < n and axes == tuple(range(n - len(axes), n))
            and any(shape[a] != 1 for a in axes))


def _squeezed(shape: tuple) -> tuple:
    return tuple(d for d in shape if d != 1)


def _per_row(shape: tuple, group: Kernel) -> bool:
    """A value with one element per row of a row group (unit dims aside)."""
    return (group.row_axes is not None and shape != group.shape
            and _squeezed(shape) == _squeezed(group.kept_shape))


def _broadcast_chain_expanded(base: Var, chain: list) -> tuple | None:
    """If `chain` only inserts unit dims and broadcasts, the base's shape
    expanded to the result's rank (1 where broadcast); else None."""
    shape = base.aval.shape
    for eq in chain:
        if eq.primitive is reshape_p or eq.primitive.name in ("expand_dims", "squeeze"):
            new = eq.outputs[0].aval.shape
            if _squeezed(shape) != _squeezed(new):
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
