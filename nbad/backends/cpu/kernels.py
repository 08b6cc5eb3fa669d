"""CPU code generation: fused kernels as Numba source (the driver that runs
them for one shape is in backends/cpu/driver.py).

Kernels are compiled per *type*, programs are planned per *shape* (DESIGN §7):

* A kernel's source depends on its equations, dtypes, its rank after
  collapsing dimensions, and which dims each input broadcasts along — never
  on sizes, which it receives as arguments (`n0, n1, ...`). One compiled
  kernel therefore serves every shape and every program containing it; they
  are shared through `KERNELS`, keyed by source text.
* The driver (driver.py) is generated Python for one shape, so a new batch
  size re-plans in milliseconds and compiles nothing.

Dimension collapse: unit dims are dropped, and adjacent dims merge when every
input treats them alike (both broadcast or both not) and, in a reduction,
both are reduced or both kept — so `x * x + x * 2` on 5000x5000 runs as one
flat loop, and a row softmax as (rows, cols) loops.

Each kernel is compiled once, serial and `nogil`, taking the bounds (lo, hi)
of its outer loop; for a shape whose work (elements × cost of the loop body)
pays for threads, the driver splits that loop across threads (threads.py).
"""
from __future__ import annotations

import contextlib
import hashlib
import linecache
import math

import numba
import numpy as np

from nbad.backends.cpu import mathlib
from nbad.compile.expr import ExprContext, needs_final_cast, typed_constant
from nbad.compile.fusion import Kernel
from nbad.core.ir import Literal, Var

FASTMATH = {"reassoc", "contract", "arcp", "nsz"}  # never nnan/ninf: NaN checks must work
FULL_REDUCTION_CHUNK = 4096   # blocked accumulation: parallel partials, and better rounding
_WIDE_SUM_DTYPES = {np.dtype(np.float32): np.dtype(np.float64),
                    np.dtype(np.complex64): np.dtype(np.complex128)}
_MATH_COST = 8
_STRUCTURAL_CONSTANTS = (0, 1, -1, 2, 0.5)


class IndentedBuffer:
    def __init__(self):
        self.lines: list[str] = []
        self._level = 0

    def line(self, text: str = ""):
        self.lines.append("    " * self._level + text if text else "")

    @contextlib.contextmanager
    def indent(self):
        self._level += 1
        try:
            yield
        finally:
            self._level -= 1

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


# -- dimension collapse -------------------------------------------------------

def collapse_groups(kernel: Kernel) -> list[list[int]]:
    """Iteration dims grouped into the loops the kernel will run."""
    shape = kernel.shape
    reduced = set(kernel.reduced_axes)
    live = [d for d in range(len(shape)) if shape[d] != 1]
    can_merge = not any(inp.strided for inp in kernel.inputs)
    groups: list[list[int]] = []
    for d in live:
        if groups and can_merge:
            prev = groups[-1][-1]
            same_reduce = (prev in reduced) == (d in reduced)
            same_bcast = all(
                (inp.expanded[prev] == 1) == (inp.expanded[d] == 1)
                for inp in kernel.inputs if len(inp.expanded) == len(shape)
            )
            if same_reduce and same_bcast:
                groups[-1].append(d)
                continue
        groups.append([d])
    return groups


def _prod(xs) -> int:
    return math.prod(xs) if xs else 1


# -- kernel source ------------------------------------------------------------

class KernelSource:
    """The generated source of one kernel plus how the driver must call it."""

    def __init__(self, kernel: Kernel):
        self.kernel = kernel
        self.groups = collapse_groups(kernel)
        self.sizes = [_prod([kernel.shape[d] for d in g]) for g in self.groups]
        self.reduced_groups = [k for k, g in enumerate(self.groups) if g[0] in kernel.reduced_axes]
        kept = [g for g in range(len(self.groups)) if g not in self.reduced_groups]
        # A reduction of everything to one value: chunks of its single loop are split,
        # and each part writes its partial to a one-element slot, the last argument.
        self.full_reduction = (kernel.reduce_eq is not None and kernel.row_axes is None
                               and not kept and len(self.groups) == 1)
        # A reduction over the outermost loop that keeps inner ones (column sums, a
        # bias gradient): each part of the outer loop accumulates its rows into a
        # partial result of the kept shape, its own last argument, which the driver
        # then combines.
        self.partial_rows = (kernel.reduce_eq is not None and kernel.row_axes is None
                             and bool(kept) and 0 in self.reduced_groups)
        # Parts of the loop write partial results that must be combined (else
        # each part writes its own elements of every output).
        self.partial_results = self.full_reduction or self.partial_rows
        self.out_vars = list(kernel.outputs)
        if self.partial_results:
            red = kernel.reduce_eq.outputs[0]
            self.out_vars = [v for v in self.out_vars if v is not red] + [red]
        self.split_extent: int | None = None  # trip count of the loop over (lo, hi), if any
        self.partials_dtype = None  # of a split's partial results, where not the output's
        self.constants: list = []  # literal operands passed as arguments: (value, dtype)
        self.math_names: set[str] = set()
        self.cost = 0
        self.source = self._emit()
        digest = hashlib.sha256(self.source.encode()).hexdigest()[:16]
        self.name = f"k_{digest}"

    # index expressions ----------------------------------------------------
    def _loop_index(self, dims_of_input: list[int], collapsed: bool, in_expanded) -> str:
        if collapsed:
            parts = []
            for k, g in enumerate(self.groups):
                if all(in_expanded[d] == 1 for d in g):
                    parts.append("0")
                else:
                    parts.append(f"i{k}")
            return ", ".join(parts) if parts else "()"
        group_of = {d: k for k, g in enumerate(self.groups) for d in g}
        parts = [f"i{group_of[d]}" if d in group_of and in_expanded[d] != 1 else "0"
                 for d in dims_of_input]
        return ", ".join(parts) if parts else "()"

    def input_layout(self, inp) -> tuple:
        """(driver reshape target or None, index expression) for a kernel input."""
        shape = self.kernel.shape
        if inp.strided or len(inp.expanded) != len(shape):
            rank = len(inp.buffer.aval.shape)
            if rank == 0:
                return None, "()"
            return None, self._loop_index(list(range(rank)), False, inp.buffer.aval.shape)
        target = tuple(
            _prod([inp.expanded[d] for d in g]) for g in self.groups
        )
        return target, self._loop_index([], True, inp.expanded)

    def output_target(self, var: Var) -> tuple:
        k = self.kernel
        per_row = k.row_axes is not None and var.aval.shape != k.shape
        if self.full_reduction and var is k.reduce_eq.outputs[0]:
            return (1,)  # this part's partial result
        if per_row or (k.reduce_eq is not None and var in k.reduce_eq.outputs):
            return tuple(self.sizes[k] for k in range(len(self.groups)) if k not in self.reduced_groups)
        return tuple(self.sizes)

    # emission --------------------------------------------------------------
    def _emit(self) -> str:
        k = self.kernel
        names: dict[int, str] = {}
        in_args = [f"in{j}" for j in range(len(k.inputs))]
        out_args = [f"out{j}" for j in range(len(k.outputs))]
        size_args = [f"n{j}" for j in range(len(self.groups))]
        signature_outs = [out_args[k.outputs.index(v)] for v in self.out_vars]
        body = IndentedBuffer()
        self._inner_loop = None  # (first line, end, outer indices) of a loop _nest may move out
        with body.indent():
            self._emit_loops(body, names, in_args, out_args)
        const_args = [f"c{j}" for j in range(len(self.constants))]
        params = ", ".join(['lo', 'hi'] + size_args + const_args + in_args + signature_outs)
        helper = self._row_helper(body, params) if self._inner_loop and self.math_names else ""
        buf = IndentedBuffer()
        buf.line(f"def kernel({params}):")
        return helper + buf.text() + body.text()

    def _row_helper(self, body: IndentedBuffer, params: str) -> str:
        """Move the innermost loop into a function of its own, called once per row.

        Inside a loop nest, LLVM rematerialises every constant of a vectorised
        math function (a 64-bit address and a broadcast each) in the inner loop
        on every turn, where a single loop keeps them in registers or spill
        slots: 75 instructions per 4 tanh instead of 42. A separately compiled
        row loop is the single-loop case (tanh(x + b) over 4096 x 256: 3.8 ms
        nested, 2.7 ms with the row function, 2.6 ms for tanh(x) as one loop),
        for ~0.12 s more compile time, so only loops calling math functions
        (exp, tanh, ...) get one."""
        start, end, outer = self._inner_loop
        lines = body.lines[start:end]
        indent = lines[0][:len(lines[0]) - len(lines[0].lstrip())]
        call_args = ", ".join(outer + [params])
        body.lines[start:end] = [f"{indent}_row({call_args})"]
        helper = [f"@_njit({CompiledKernel.njit_flags()})", f"def _row({call_args}):"]
        helper += ["    " + line[len(indent):] if line else "" for line in lines]
        return "\n".join(helper) + "\n\n\n"

    def literal(self, lit: Literal) -> str:
        """A literal operand: kept in the source if it is a structural constant
        (0, ±1, 2, 0.5), else passed as an argument, so that constants derived
        from shapes (a mean's 1/n) do not make each batch size a new kernel."""
        value = lit.value
        if lit.aval.dtype.kind == "b" or (lit.aval.dtype.kind != "c" and value in _STRUCTURAL_CONSTANTS):
            return typed_constant(value, lit.aval.dtype)
        for j, (v, dtype) in enumerate(self.constants):
            if dtype == lit.aval.dtype and v.tobytes() == value.tobytes():
                return f"c{j}"
        self.constants.append((value, lit.aval.dtype))
        return f"c{len(self.constants) - 1}"

    def _body(self, buf: IndentedBuffer, names: dict, in_args: list, out_args: list):
        k = self.kernel
        for j, inp in enumerate(k.inputs):
            _, index = self.input_layout(inp)
            names[inp.var.id] = f"x{j}"
            buf.line(f"x{j} = {in_args[j]}[{index}]")
        for eq in k.equations:
            if eq is k.reduce_eq:
                continue
            args = [self.literal(a) if isinstance(a, Literal) else names[a.id]
                    for a in eq.inputs]
            out = eq.outputs[0]
            ctx = ExprContext([a.aval.dtype for a in eq.inputs], out.aval.dtype, self.math_names)
            before = len(self.math_names)
            expr = eq.primitive.codegen(ctx, *args, **eq.params)
            self.cost += 1 + _MATH_COST * (len(self.math_names) - before) + (
                _MATH_COST if "np." in expr and "np.float" not in expr and "np.int" not in expr else 0)
            if needs_final_cast(out.aval.dtype):
                expr = ctx.cast(expr, out.aval.dtype)
            name = f"v{len(names)}"
            names[out.id] = name
            buf.line(f"{name} = {expr}")
        full = ", ".join(f"i{g}" for g in range(len(self.groups))) or "()"
        for j, var in enumerate(k.outputs):
            if k.reduce_eq is None or var not in k.reduce_eq.outputs:
                buf.line(f"{out_args[j]}[{full}] = {names[var.id]}")

    def _reduction(self):
        """(identity source, combine(acc, x) -> source) of the kernel's reduction."""
        eq = self.kernel.reduce_eq
        reducer = eq.primitive.reducer
        dtype = eq.outputs[0].aval.dtype
        identity = typed_constant(reducer.identity(dtype), dtype)

        def combine(acc: str, x: str) -> str:
            expr = reducer.combine.format(acc=acc, x=x)
            return f"np.{dtype.name}({expr})" if needs_final_cast(dtype) else expr

        return identity, combine

    def _wide_sum_dtype(self):
        """The double-precision dtype a single-precision sum accumulates its blocks in."""
        eq = self.kernel.reduce_eq
        if eq.primitive.reducer.name != "sum":
            return None
        return _WIDE_SUM_DTYPES.get(eq.outputs[0].aval.dtype)

    def _reduced_value(self, names) -> str:
        operand = self.kernel.reduce_eq.inputs[0]
        return names[operand.id]

    def _emit_loops(self, buf, names, in_args, out_args):
        k = self.kernel
        n_groups = len(self.groups)
        if k.row_axes is not None:
            RowEmitter(self, buf, in_args, out_args).emit()
            return
        if k.reduce_eq is None:
            self._nest(buf, list(range(n_groups)), lambda: self._body(buf, names, in_args, out_args),
                       row_helper=True)
            return
        identity, combine = self._reduction()
        red_out = out_args[k.outputs.index(k.reduce_eq.outputs[0])]
        kept = [g for g in range(n_groups) if g not in self.reduced_groups]
        kept_index = ", ".join(f"i{g}" for g in kept) or "()"

        def accumulate(acc: str):
            self._body(buf, names, in_args, out_args)
            buf.line(f"{acc} = {combine(acc, self._reduced_value(names))}")

        if not kept and n_groups == 1:
            self._emit_chunked_full_reduction(buf, identity, combine, accumulate, red_out)
        elif not kept and self._wide_sum_dtype() is not None:
            # A single-precision sum of everything over several loops (a transposed or
            # strided operand): one accumulator that long needs double precision
            # (10^7 values: 4e-5 relative error in float32; the loads are strided, so
            # the conversion costs little).
            wide = self._wide_sum_dtype()

            def accumulate_wide():
                self._body(buf, names, in_args, out_args)
                buf.line(f"acc = acc + np.{wide.name}({self._reduced_value(names)})")

            buf.line(f"acc = {typed_constant(0, wide)}")
            self._nest(buf, self.reduced_groups, accumulate_wide, parallel_outer=False)
            buf.line(f"{red_out}[()] = acc")
        elif all(r > kk for r in self.reduced_groups for kk in kept):
            # Reduced loops innermost: a scalar accumulator per output element,
            # and the outermost kept loop can run in parallel without races.
            def per_output():
                buf.line(f"acc = {identity}")
                self._nest(buf, self.reduced_groups, lambda: accumulate("acc"), parallel_outer=False)
                buf.line(f"{red_out}[{kept_index}] = acc")

            self._nest(buf, kept, per_output)
        else:
            # A reduced loop outside a kept one (column sums): accumulate into the
            # output row, so the inner kept loop vectorises. With the outermost loop
            # reduced, over [lo, hi): the output is then this part's partial result.
            buf.line(f"{red_out}.fill({identity})")
            self._nest(buf, list(range(n_groups)), lambda: accumulate(f"{red_out}[{kept_index}]"),
                       parallel_outer=self.partial_rows, row_helper=True)

    def _emit_chunked_full_reduction(self, buf, identity, combine, accumulate, red_out):
        """Blocked accumulation over chunks [lo, hi) of the loop: deterministic for a
        given split, rounding closer to pairwise sums than one long accumulator.
        Single-precision sums total their chunks in double precision, rounded once:
        the chunks' own (vectorised) sums are as accurate as NumPy's pairwise
        blocks, and thousands of them added in float32 would not be (10^7 values:
        8e-7 relative error on one thread against NumPy's 4e-8, and a different
        error on each thread count)."""
        c = FULL_REDUCTION_CHUNK
        self.split_extent = max(1, -(-self.sizes[0] // c))
        wide = self._wide_sum_dtype()
        if wide is None:
            total_identity, add_chunk = identity, combine("total", "acc")
        else:  # stored into a float32 result it is rounded there; a split's partials are wide
            self.partials_dtype = wide
            total_identity, add_chunk = typed_constant(0, wide), f"total + np.{wide.name}(acc)"
        buf.line(f"total = {total_identity}")
        buf.line("for c in range(lo, hi):")
        with buf.indent():
            buf.line(f"acc = {identity}")
            buf.line(f"for i0 in range(np.uint64(c * {c}), np.uint64(min(n0, (c + 1) * {c}))):")
            with buf.indent():
                accumulate("acc")
            buf.line(f"total = {add_chunk}")
        buf.line(f"{red_out}[0] = total")

    def _nest(self, buf, groups: list[int], body, parallel_outer: bool = True, row_helper=False,
              outer=()):
        """Nested loops over `groups`; with parallel_outer the first runs over
        [lo, hi), the part of it this call (or this thread) does. With
        row_helper, the innermost loop of two or more is recorded for
        _row_helper (with the indices of the loops around it)."""
        if not groups:
            body()
            return
        first = groups[0]
        if row_helper and outer and len(groups) == 1:
            start = len(buf.lines)
            self._nest(buf, groups, body, parallel_outer)
            self._inner_loop = (start, len(buf.lines), list(outer))
            return
        if parallel_outer:
            self.split_extent = self.sizes[first]
            # Unsigned: Numba then skips negative-index wraparound on every access,
            # which otherwise keeps LLVM from vectorising contiguous loads (it
            # cannot prove lo >= 0): 73 instead of 117 instructions per 4 tanh.
            buf.line(f"for i{first} in range(np.uint64(lo), np.uint64(hi)):")
        else:
            buf.line(f"for i{first} in range(n{first}):")
        with buf.indent():
            self._nest(buf, groups[1:], body, parallel_outer=False, row_helper=row_helper,
                       outer=(*outer, f"i{first}"))


class RowEmitter:
    """Emits a "row" kernel: for each kept index (outer loops, parallel), one
    pass over the reduced dims per reduction, in order, each recomputing the
    elementwise values it needs; then a last pass writing full-shape outputs.
    Per-row values (reduction results, epilogue equations, kept-shape inputs)
    are scalars computed between the passes, so later passes read them free."""

    def __init__(self, ks: "KernelSource", buf: IndentedBuffer, in_args, out_args):
        self.ks, self.buf, self.in_args, self.out_args = ks, buf, in_args, out_args
        k = self.k = ks.kernel
        self.kept = [g for g in range(len(ks.groups)) if g not in ks.reduced_groups]
        self.producers = {v.id: eq for eq in k.equations for v in eq.outputs}
        self.reduce_ids = {eq.outputs[0].id for eq in k.reduce_eqs}
        self.input_index = {inp.var.id: j for j, inp in enumerate(k.inputs)}
        self.alias = {vid: base.id for vid, base in k.aliases.items()}
        self.row_names: dict[int, str] = {}
        self.count = 0

    def resolve(self, vid: int) -> int:
        while vid in self.alias:
            vid = self.alias[vid]
        return vid

    def is_full(self, vid: int) -> bool:
        """Varies along the reduced dims (so it lives inside a pass)."""
        vid = self.resolve(vid)
        if vid in self.input_index:
            inp = self.k.inputs[self.input_index[vid]]
            _, index = self.ks.input_layout(inp)
            return any(f"i{g}" in index.split(", ") for g in self.ks.reduced_groups)
        eq = self.producers[vid]
        return eq not in self.k.reduce_eqs and eq.outputs[0].aval.shape == self.k.shape

    def fresh(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def expr_of(self, eq, arg_names) -> str:
        out = eq.outputs[0]
        ctx = ExprContext([a.aval.dtype for a in eq.inputs], out.aval.dtype, self.ks.math_names)
        before = len(self.ks.math_names)
        expr = eq.primitive.codegen(ctx, *arg_names, **eq.params)
        self.ks.cost += 1 + _MATH_COST * (len(self.ks.math_names) - before)
        return ctx.cast(expr, out.aval.dtype) if needs_final_cast(out.aval.dtype) else expr

    def operand(self, a, local: dict) -> str:
        if isinstance(a, Literal):
            return self.ks.literal(a)
        vid = self.resolve(a.id)
        return local[vid] if vid in local else self.row_value(vid)

    def row_value(self, vid: int) -> str:
        """A per-row scalar, emitted in the kept scope on first use."""
        vid = self.resolve(vid)
        if vid in self.row_names:
            return self.row_names[vid]
        if vid in self.input_index:
            j = self.input_index[vid]
            _, index = self.ks.input_layout(self.k.inputs[j])
            name = self.fresh("x")
            self.buf.line(f"{name} = {self.in_args[j]}[{index}]")
        else:
            eq = self.producers[vid]
            args = [self.operand(a, {}) for a in eq.inputs]
            name = self.fresh("v")
            self.buf.line(f"{name} = {self.expr_of(eq, args)}")
        self.row_names[vid] = name
        return name

    def full_closure(self, targets) -> list:
        """The full-shape equations (in order) that the target values need."""
        need, stack = set(), [self.resolve(t) for t in targets]
        while stack:
            vid = self.resolve(stack.pop())
            if vid in need or vid in self.input_index or not self.is_full(vid):
                continue
            need.add(vid)
            stack.extend(a.id for a in self.producers[vid].inputs if isinstance(a, Var))
        return [eq for eq in self.k.equations if eq.outputs[0].id in need]

    def per_row_inputs(self, eqs):
        """Emit, before a pass, the per-row values its equations read."""
        for eq in eqs:
            for a in eq.inputs:
                if isinstance(a, Var) and not self.is_full(a.id):
                    self.row_value(a.id)

    def pass_body(self, eqs, local: dict):
        for eq in eqs:
            for a in eq.inputs:
                if isinstance(a, Var):
                    vid = self.resolve(a.id)
                    if vid in self.input_index and self.is_full(vid) and vid not in local:
                        j = self.input_index[vid]
                        _, index = self.ks.input_layout(self.k.inputs[j])
                        local[vid] = self.fresh("x")
                        self.buf.line(f"{local[vid]} = {self.in_args[j]}[{index}]")
            name = self.fresh("v")
            self.buf.line(f"{name} = {self.expr_of(eq, [self.operand(a, local) for a in eq.inputs])}")
            local[eq.outputs[0].id] = name

    def emit(self):
        self.ks._nest(self.buf, self.kept, self.emit_row)

    def emit_row(self):
        buf, ks, k = self.buf, self.ks, self.k
        kept_index = ", ".join(f"i{g}" for g in self.kept) or "()"
        full_index = ", ".join(f"i{g}" for g in range(len(ks.groups))) or "()"
        for r in k.reduce_eqs:
            operand = r.inputs[0]
            eqs = self.full_closure([operand.id])
            self.per_row_inputs(eqs)
            reducer, dtype = r.primitive.reducer, r.outputs[0].aval.dtype
            acc = self.fresh("acc")
            buf.line(f"{acc} = {typed_constant(reducer.identity(dtype), dtype)}")
            local: dict = {}

            def reduce_pass(eqs=eqs, local=local, acc=acc, operand=operand, reducer=reducer, dtype=dtype):
                self.pass_body(eqs, local)
                vid = self.resolve(operand.id)
                if vid in self.input_index and self.is_full(vid) and vid not in local:
                    self._load_full(vid, local)
                combined = reducer.combine.format(acc=acc, x=self.operand(operand, local))
                buf.line(f"{acc} = {f'np.{dtype.name}({combined})' if needs_final_cast(dtype) else combined}")

            ks._nest(buf, ks.reduced_groups, reduce_pass, parallel_outer=False)
            self.row_names[r.outputs[0].id] = acc
        full_outputs = [(j, v) for j, v in enumerate(k.outputs) if v.aval.shape == k.shape]
        if full_outputs:
            eqs = self.full_closure([v.id for _, v in full_outputs])
            self.per_row_inputs(eqs)

            def write_pass():
                local: dict = {}
                self.pass_body(eqs, local)
                for j, v in full_outputs:
                    buf.line(f"{self.out_args[j]}[{full_index}] = {local[v.id]}")

            ks._nest(buf, ks.reduced_groups, write_pass, parallel_outer=False)
        for j, v in enumerate(k.outputs):
            if v.aval.shape != k.shape:
                buf.line(f"{self.out_args[j]}[{kept_index}] = {self.row_value(v.id)}")

    def _load_full(self, vid, local):
        vid = self.resolve(vid)
        j = self.input_index[vid]
        _, index = self.ks.input_layout(self.k.inputs[j])
        local[vid] = self.fresh("x")
        self.buf.line(f"{local[vid]} = {self.in_args[j]}[{index}]")
        return local[vid]


# -- compiled kernels, shared by all programs ----------------------------------

class CompiledKernel:
    """One kernel's Numba dispatcher, shared by every program that uses it.

    With the disk cache on (nbad/cache.py), the kernel's module is written to the
    cache (named by the sha256 of its text and key material), checked and
    imported, and its machine code kept there, signed (nbad/numba_cache.py), so a
    later process loads it instead of compiling; ``disk_name`` is then that
    module's name. With it off, or if the cache cannot be used, the source is
    exec'd and compiled in memory."""

    def __init__(self, ks: KernelSource):
        self.name = ks.name
        self.source = ks.source
        self.math_names = sorted(ks.math_names)
        # a kernel without loops calls its math functions (mathlib_f64._CALL_OPTIONS)
        self.math_suffix = "" if ks.groups else "_call"
        self._dispatchers: dict[bool, object] = {}
        self.disk_name: str | None = None

    def module_source(self) -> str:
        lines = ["import numpy as np"]
        if "@_njit(" in self.source:
            lines.append("from numba import njit as _njit")
        lines += [f"from nbad.backends.cpu.mathlib import {n}{self.math_suffix} as _m_{n}"
                  for n in self.math_names]
        return "\n".join(lines) + "\n\n\n" + self.source

    @staticmethod
    def njit_flags() -> str:
        """The njit options, as source (the disk cache writes them into the module)."""
        return (f"error_model='numpy', fastmath={{{', '.join(repr(f) for f in sorted(FASTMATH))}}}, "
                "nogil=True")

    def dispatcher(self):
        d = self._dispatchers.get("nogil")
        if d is None:
            from nbad import cache

            if cache.enabled():
                loaded = cache.kernel_dispatcher(self.module_source(), self.njit_flags())
                if loaded is not None:
                    d, self.disk_name = loaded
            if d is None:
                d = self._compile_in_memory()
            self._dispatchers["nogil"] = d
        return d

    def _compile_in_memory(self):
        filename = f"<nbad-kernel {self.name}>"
        source = self.module_source()
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        namespace = {"np": np, "_njit": numba.njit}
        namespace.update({f"_m_{n}": getattr(mathlib, n + self.math_suffix) for n in self.math_names})
        exec(compile(source, filename, "exec"), namespace)
        fn = namespace["kernel"]
        fn.__name__ = fn.__qualname__ = self.name
        # nogil: the driver runs parts of one call on several threads (threads.py).
        return numba.njit(error_model="numpy", fastmath=FASTMATH, nogil=True)(fn)


KERNELS: dict[str, CompiledKernel] = {}


def compiled_kernel(ks: KernelSource) -> CompiledKernel:
    ck = KERNELS.get(ks.source)
    if ck is None:
        ck = KERNELS[ks.source] = CompiledKernel(ks)
    return ck


# -- the driver ------------------------------------------------------------------
