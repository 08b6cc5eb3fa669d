"""Loops (rules/scan.py, rules/while_loop.py) compiled: one native function each.

A native loop is one generated Numba function: it allocates the body's
buffers once, then calls the body's kernels and BLAS products step after step
with no Python in between (from Python, each kernel call costs 0.3-1 us of
dispatch: a 250-step gradient-descent fit was 3 calls a step, 2 of its 5 us).
The carries live in buffers that are swapped with the buffers the body writes
their next values into, so a step copies nothing. A scan reads its step's
slice of each xs as a view (xs[t]) and writes ys[t] in place into the stacked
result; a while loop runs its predicate's kernels before each step.

It runs on the calling thread, so it is used when no step of the body is
worth splitting across threads (calls.PARALLEL_MIN_WORK) and every step is
one it can express: kernels, vector and matrix products, reshapes and
transposes, constants, dynamic slices and updates (D[t] at a traced t; copied
into the step's own buffer), and nested native loops. Otherwise the body is an
ordinary program (the driver's, threads included) called from a
Python loop.

COMPILERS says how the driver compiles each loop primitive; NATIVE how a
native loop calls a loop nested in its body.
"""
from __future__ import annotations

import hashlib
import linecache

import numba
import numpy as np

from nbad.backends.cpu import calls, matmul
from nbad.backends.cpu.kernels import FASTMATH, CompiledKernel, IndentedBuffer
from nbad.compile.fusion import Kernel, LibraryStep, ViewStep, step_inputs, step_outputs
from nbad.core.ir import Literal, Var
from nbad.rules.indexing import dynamic_slice_p, dynamic_update_slice_p
from nbad.rules.scan import scan_groups, scan_p
from nbad.rules.shape import RESHAPE_LIKE, transpose_p
from nbad.rules.while_loop import while_p


class _NotNative(Exception):
    """The body has a step a native loop does not run (the message says which)."""


def compile_scan(step, num_threads: int, build):
    """A callable running a scan's LibraryStep: (*operands) -> tuple of results.
    build(plan): the program of a plan (the driver's), for a body run from Python."""
    from nbad.config import log

    p = step.equation.params
    plan, = step.subplans
    try:
        native = NativeLoop.scan(plan, p, num_threads)
    except _NotNative as why:
        log(2, f"scan of {p['length']} steps runs its body from Python: {why}")
        return _python_scan(build(plan), p)
    return native.runner(p["length"])


def compile_while(step, num_threads: int, build):
    """A callable running a while loop's LibraryStep: (*operands) -> tuple of results."""
    from nbad.config import log

    p = step.equation.params
    cond_plan, body_plan = step.subplans
    try:
        native = NativeLoop.while_loop(cond_plan, body_plan, p, num_threads)
    except _NotNative as why:
        log(2, f"while loop runs its body from Python: {why}")
        return _python_while(build(cond_plan), build(body_plan), p)
    return native.runner(None)


COMPILERS = {scan_p: compile_scan, while_p: compile_while}


def _python_scan(program, p):
    length, nc, nx, reverse = p["length"], p["num_carry"], p["num_xs"], p["reverse"]
    y_avals = [a.aval for a in program.plan.ir.outputs[nc:]]

    def run(*args):
        carry, consts, xs = scan_groups([np.asarray(a) for a in args], nc, nx)
        ys = [np.empty((length,) + tuple(a.shape), a.dtype) for a in y_avals]
        for it in range(length):
            t = length - 1 - it if reverse else it
            outs = program(*carry, *consts, *[x[t, ...] for x in xs])  # 0-d slices stay arrays
            carry = [np.asarray(c) for c in outs[:nc]]
            for y, o in zip(ys, outs[nc:]):
                y[t] = o
        return tuple(carry + ys)

    run.kernels = program.kernels
    return run


def _python_while(cond, body, p):
    ncc, nbc = p["cond_nconsts"], p["body_nconsts"]

    def run(*args):
        args = [np.asarray(a) for a in args]
        cc, bc, carry = args[:ncc], args[ncc:ncc + nbc], args[ncc + nbc:]
        while bool(cond(*cc, *carry)[0]):
            carry = [np.asarray(c) for c in body(*bc, *carry)]
        return tuple(carry)

    run.kernels = cond.kernels + body.kernels
    return run


def _scalar_source(value) -> str:
    """A NumPy scalar as exact Numba source."""
    kind, name = value.dtype.kind, f"np.{value.dtype.name}"
    if kind == "b":
        return "True" if value else "False"
    if kind == "f":
        return f"{name}({float(value)!r})"
    if kind == "c":
        return f"{name}({complex(value)!r})"
    return f"{name}({int(value)})"


def _empty(var, lead=None) -> str:
    shape = tuple(var.aval.shape)
    if lead is None:
        return f"np.empty({shape!r}, np.{var.aval.dtype.name})"
    return f"np.empty(({lead},) + {shape!r}, np.{var.aval.dtype.name})"


_NATIVE: dict[str, tuple] = {}  # generated source -> (compiled function, disk cache name)

# The kernels a native loop calls are inlined into it (Numba's inline='always'), so
# the loop is compiled with the kernels' options. A call of a kernel passes every
# array as some seven machine words: a scalar simulation's backward step, 23 0-d
# arrays, spent more time passing them than computing.
KERNEL_FLAGS = CompiledKernel.njit_flags()
_KERNEL_OPTIONS = {"error_model": "numpy", "fastmath": set(FASTMATH), "nogil": True}


def _inlined(dispatcher):
    return numba.njit(inline="always", **_KERNEL_OPTIONS)(dispatcher.py_func)


class NativeLoop:
    """The generated Numba function of one loop (see the module docstring)."""

    def __init__(self, num_threads: int):
        self.num_threads = num_threads
        self.namespace: dict[str, object] = {"np": np}
        self.callees: dict[str, object] = {}  # name -> CompiledKernel or NativeLoop it calls
        self.disk_name: str | None = None     # the loop's module in the disk cache, once loaded
        self.extra_args: list = []       # constants computed here, passed on every call
        self.params: list[str] = []
        self.names: dict[int, str] = {}
        self.pre, self.loop = IndentedBuffer(), IndentedBuffer()
        self.owned: set[int] = set()  # buffers allocated before the loop, written in it by one step
        self.invariant: set[int] = set()
        self.takes_length = False

    # -- the two kinds of loop ------------------------------------------------------------
    @classmethod
    def scan(cls, plan, p, num_threads):
        self = cls(num_threads)
        self.takes_length = True
        ir, nc, nx = plan.ir, p["num_carry"], p["num_xs"]
        split = len(ir.inputs) - nx
        self.params = ([f"i{j}" for j in range(nc)] + [f"v{j}" for j in range(split - nc)]
                       + [f"xs{j}" for j in range(nx)])
        for j, v in enumerate(ir.inputs):
            self.names[v.id] = (f"s{j}" if j < nc else f"v{j - nc}" if j < split else f"x{j - split}")
        self._constvars(ir)
        self.invariant = {v.id for v in ir.inputs[nc:split]} | {v.id for v in ir.constvars}
        head = IndentedBuffer()
        with head.indent(), head.indent():
            if nx or len(ir.outputs) > nc:
                head.line("t = length - 1 - it" if p["reverse"] else "t = it")
            for j, v in enumerate(ir.inputs[split:]):
                # a 0-d slice is copied into a buffer: a view would be a new array each step
                # (a reference count taken and dropped)
                if v.aval.ndim:
                    head.line(f"x{j} = xs{j}[t]")
                else:
                    self.pre.line(f"    x{j} = {_empty(v)}")
                    head.line(f"x{j}[()] = xs{j}[t]")
        with self.pre.indent(), self.loop.indent(), self.loop.indent():
            self._emit(plan, "")
            for k, a in enumerate(ir.outputs[nc:]):
                ref = self._ref(a)
                self.loop.line(f"ys{k}[t] = {ref}" if a.aval.ndim else f"ys{k}[t] = {ref}[()]")
            self._carry_update(ir.outputs[:nc], ir.outputs)
        prologue = [f"s{j} = i{j}.copy()" for j in range(nc)]
        prologue += [f"ys{k} = {_empty(a, 'length')}" for k, a in enumerate(ir.outputs[nc:])]
        results = [f"s{j}" for j in range(nc)] + [f"ys{k}" for k in range(len(ir.outputs) - nc)]
        self._finish(prologue, "    for it in range(length):\n" + head.text(), results)
        return self

    @classmethod
    def while_loop(cls, cond_plan, body_plan, p, num_threads):
        self = cls(num_threads)
        ncc, nbc = p["cond_nconsts"], p["body_nconsts"]
        cond, body = cond_plan.ir, body_plan.ir
        nc = len(body.inputs) - nbc
        self.params = ([f"u{j}" for j in range(ncc)] + [f"v{j}" for j in range(nbc)]
                       + [f"i{j}" for j in range(nc)])
        for j, v in enumerate(cond.inputs):
            self.names[v.id] = f"u{j}" if j < ncc else f"s{j - ncc}"
        for j, v in enumerate(body.inputs):
            self.names[v.id] = f"v{j}" if j < nbc else f"s{j - nbc}"
        self._constvars(cond)
        self._constvars(body)
        self.invariant = ({v.id for v in cond.inputs[:ncc]} | {v.id for v in body.inputs[:nbc]}
                          | {v.id for v in cond.constvars} | {v.id for v in body.constvars})
        with self.pre.indent(), self.loop.indent(), self.loop.indent():
            self._emit(cond_plan, "p")
            (pred,) = cond.outputs
            if isinstance(pred, Literal):
                raise _NotNative("a constant predicate")
            self.loop.line(f"if not {self.names[pred.id]}[()]:")
            with self.loop.indent():
                self.loop.line("break")
            self._emit(body_plan, "")
            self._carry_update(body.outputs, body.outputs)
        self._finish([f"s{j} = i{j}.copy()" for j in range(nc)], "    while True:\n",
                     [f"s{j}" for j in range(nc)])
        return self

    # -- generating the function ---------------------------------------------------------
    def _constvars(self, ir):
        for v, c in zip(ir.constvars, ir.consts):
            self.names[v.id] = self._extra(np.asarray(c))

    def _ref(self, a) -> str:
        if isinstance(a, Literal):
            return self._extra(np.asarray(a.value))
        return self.names[a.id]

    def _finish(self, prologue, loop_head, results):
        src = IndentedBuffer()
        length = ["length"] if self.takes_length else []
        src.line(f"def loop({', '.join(length + self.params)}):")
        with src.indent():
            for line in prologue:
                src.line(line)
        self.source = (src.text() + self.pre.text() + loop_head + self.loop.text()
                       + f"    return ({', '.join(results)}{',' if len(results) == 1 else ''})\n")

    def _emit(self, plan, prefix: str):
        """The plan's steps: into the loop, or before it when they read invariants only."""
        names, pre, invariant = self.names, self.pre, self.invariant
        kernel_outputs = {v.id for s in plan.steps if isinstance(s, Kernel) for v in s.outputs}
        for step_no, step in enumerate(plan.steps):
            idx = f"{prefix}{step_no}"
            outputs = step_outputs(step)
            in_loop = not all(v.id in invariant for v in step_inputs(step))
            body = self.loop if in_loop else pre
            if not in_loop:
                invariant.update(v.id for v in outputs)
            if isinstance(step, Kernel):
                call = calls.KernelCall(step, names, self.namespace, kernel_outputs, set(),
                                   self.num_threads, idx, IndentedBuffer())
                if call.parallel:
                    raise _NotNative(f"kernel {call.ck.name} is worth splitting across threads")
                self.callees[call.kname] = call.ck
                self.namespace[call.kname] = _inlined(call.ck.dispatcher())
                for v in call.ks.out_vars:
                    pre.line(f"{names[v.id]} = {_empty(v)}")
                    if in_loop:
                        self.owned.add(v.id)
                extent = 1 if call.extent is None else call.extent
                body.line(f"{call.kname}(0, {extent}, {', '.join(call.args)}){call.comment}")
                continue
            eq = step.equation
            out = eq.outputs[0]
            if all(isinstance(a, Literal) for a in eq.inputs) and not eq.primitive.multiple_results:
                value = np.asarray(eq.primitive.impl(*[a.value for a in eq.inputs], **eq.params))
                names[out.id] = self._extra(value)
                continue
            if not isinstance(step, Kernel) and eq.primitive in NATIVE:
                NATIVE[eq.primitive](self, step, body, idx)
                continue
            if any(isinstance(a, Literal) for a in eq.inputs):
                raise _NotNative(f"{eq.primitive.name} of a literal")
            ins = [names[a.id] for a in eq.inputs]
            name = names[out.id] = f"b{out.id}"
            if isinstance(step, ViewStep) and eq.primitive in RESHAPE_LIKE:
                body.line(f"{name} = {ins[0]}.reshape({tuple(out.aval.shape)!r})")
            elif (isinstance(step, ViewStep) and eq.primitive is transpose_p
                  and tuple(eq.params["permutation"]) == (1, 0)):
                # a copy, so that later reshapes of it are views in Numba too. (Numba
                # compiles x.transpose(axes) in some 6 s, x.T.copy() in a fraction.)
                body.line(f"{name} = {ins[0]}.T.copy()")
            elif isinstance(step, LibraryStep) and matmul.plain_dot(eq) is not None:
                if matmul.split_matmul_operands(eq, self.num_threads) is not None:
                    raise _NotNative("a matrix product worth splitting across threads")
                (lc, rc), _ = eq.params["dimension_numbers"]
                a = f"{ins[0]}.T" if eq.inputs[0].aval.ndim == 2 and lc[0] == 0 else ins[0]
                b = f"{ins[1]}.T" if eq.inputs[1].aval.ndim == 2 and rc[0] == 1 else ins[1]
                pre.line(f"{name} = {_empty(out)}")
                if in_loop:
                    self.owned.add(out.id)
                if out.aval.ndim:
                    body.line(f"np.dot({a}, {b}, {name})  # {eq.primitive.name}")
                else:
                    body.line(f"{name}[()] = np.dot({a}, {b})  # {eq.primitive.name}")
            else:
                raise _NotNative(f"{eq.primitive.name} is not run natively")

    def _call_nested(self, eq, inner, body, idx, length_arg):
        fname = f"_loop{idx}"
        self.namespace[fname] = inner.function()
        self.callees[fname] = inner
        args = [self._ref(a) for a in eq.inputs] + [self._extra(x) for x in inner.extra_args]
        outs = [f"b{v.id}" for v in eq.outputs]
        for v, o in zip(eq.outputs, outs):
            self.names[v.id] = o
        body.line(f"{', '.join(outs)}, = {fname}({', '.join(length_arg + args)})  # {inner.name}")

    def _extra(self, value) -> str:
        name = f"k{len(self.extra_args)}"
        self.extra_args.append(value)
        self.params.append(name)
        return name

    def _carry_update(self, outs, all_outputs):
        """Next carries: buffers the body owns are swapped in; others are copied."""
        counts: dict = {}
        for a in all_outputs:
            if isinstance(a, Var):
                counts[a.id] = counts.get(a.id, 0) + 1
        copies, swaps, stores = [], [], []
        for j, a in enumerate(outs):
            if isinstance(a, Literal):
                raise _NotNative("a constant carry")
            if not a.aval.ndim:  # a scalar is copied: a swap of buffers would count references
                self.loop.line(f"r{j} = {self.names[a.id]}[()]")
                stores.append(f"s{j}[()] = r{j}")
            elif a.id in self.owned and counts[a.id] == 1:
                swaps.append(f"s{j}, {self.names[a.id]} = {self.names[a.id]}, s{j}")
            else:
                self.loop.line(f"t{j} = {self.names[a.id]}.copy()")
                copies.append(f"s{j} = t{j}")
        for line in stores + swaps + copies:
            self.loop.line(line)

    # -- compiling and calling it --------------------------------------------------------
    @property
    def kernels(self) -> list:
        """What this loop runs, its own function first: for lower().source and the
        disk cache's records (cache.first_call)."""
        return [self] + [k for c in self.callees.values() for k in
                         (c.kernels if isinstance(c, NativeLoop) else [c])]

    @property
    def name(self) -> str:
        return self.disk_name or "loop_" + hashlib.sha256(self.source.encode()).hexdigest()[:16]

    def module_source(self) -> str:
        return self.source

    def function(self):
        """The compiled Numba function: loop([length,] *operands, *extra_args)."""
        key = self.source + "\n# " + repr(sorted(
            (k, type(v).__name__, repr(v)) for k, v in self.namespace.items() if k.startswith("_c")))
        found = _NATIVE.get(key)
        if found is None:
            found = _NATIVE[key] = self._from_disk() or (self._in_memory(), None)
        fn, self.disk_name = found
        self._dispatchers = {"nogil": fn}  # what cache.first_call counts misses on
        return fn

    def _from_disk(self):
        """(function, module name) through the disk cache, which also keeps Numba's
        machine code of the loop; None if the cache is off or a callee is not in it."""
        from nbad import cache

        if not cache.enabled() or any(c.disk_name is None for c in self.callees.values()):
            return None
        lines = ["import numba", "import numpy as np"]
        for name, c in sorted(self.callees.items()):
            lines.append(f"from nbad_kernel_cache_{c.disk_name} import kernel as {name}")
            if not isinstance(c, NativeLoop):
                lines.append(f"{name} = numba.njit(inline='always', {KERNEL_FLAGS})({name}.py_func)")
        lines += [f"{k} = {_scalar_source(v)}" for k, v in sorted(self.namespace.items())
                  if k.startswith("_c")]
        source = "\n".join(lines) + "\n\n\n" + self.source.replace("def loop(", "def kernel(", 1)
        return cache.kernel_dispatcher(source, KERNEL_FLAGS)

    def _in_memory(self):
        filename = f"<nbad-loop {len(_NATIVE)}>"
        linecache.cache[filename] = (len(self.source), None, self.source.splitlines(True), filename)
        namespace = dict(self.namespace)
        exec(compile(self.source, filename, "exec"), namespace)
        return numba.njit(**_KERNEL_OPTIONS)(namespace["loop"])

    def runner(self, length):
        fn, extra = self.function(), tuple(self.extra_args)
        lead = () if length is None else (length,)

        def run(*args):
            return fn(*lead, *[np.asarray(a, order="C") for a in args], *extra)

        run.source = self.source  # a native loop's (the Python-loop fallback has none)
        run.kernels = self.kernels
        return run


def _nested_scan(outer, step, body, idx):
    eq = step.equation
    inner = NativeLoop.scan(*step.subplans, eq.params, outer.num_threads)
    outer._call_nested(eq, inner, body, idx, [str(eq.params["length"])])


def _nested_while(outer, step, body, idx):
    eq = step.equation
    inner = NativeLoop.while_loop(*step.subplans, eq.params, outer.num_threads)
    outer._call_nested(eq, inner, body, idx, [])


def _window(outer, x, starts, sizes, body, name) -> str:
    """The source of x's window at `starts`, clamped inside x as lax.dynamic_slice
    does; the clamped starts become locals of the loop."""
    parts = []
    for k, (start, size) in enumerate(zip(starts, sizes)):
        body.line(f"{name}_{k} = min(max({outer._ref(start)}[()], 0), {x.aval.shape[k] - size})")
        parts.append(f"{name}_{k}:{name}_{k} + {size}")
    return f"{outer._ref(x)}[{', '.join(parts) or '()'}]"


def _buffer(outer, eq, body) -> str:
    """A buffer for eq's result, allocated before the loop and written by this step."""
    out = eq.outputs[0]
    name = outer.names[out.id] = f"b{out.id}"
    outer.pre.line(f"{name} = {_empty(out)}")
    if body is outer.loop:
        outer.owned.add(out.id)
    return name


def _whole(var) -> str:
    return ", ".join([":"] * var.aval.ndim) or "()"


def _dynamic_slice(outer, step, body, idx):
    eq = step.equation
    x, *starts = eq.inputs
    name = _buffer(outer, eq, body)
    window = _window(outer, x, starts, eq.params["slice_sizes"], body, name)
    body.line(f"{name}[{_whole(eq.outputs[0])}] = {window}  # dynamic_slice")


def _dynamic_update_slice(outer, step, body, idx):
    eq = step.equation
    x, update, *starts = eq.inputs
    name = _buffer(outer, eq, body)
    body.line(f"{name}[{_whole(x)}] = {outer._ref(x)}  # dynamic_update_slice")
    window = _window(outer, eq.outputs[0], starts, update.aval.shape, body, name)
    body.line(f"{window} = {outer._ref(update)}")


NATIVE = {scan_p: _nested_scan, while_p: _nested_while, dynamic_slice_p: _dynamic_slice,
          dynamic_update_slice_p: _dynamic_update_slice}
