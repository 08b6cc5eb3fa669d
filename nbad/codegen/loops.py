"""Loops (rules/loop.py) compiled: the body's plan run `length` times.

A native loop is one generated Numba function: it allocates the body's
buffers once, then calls the body's kernels and BLAS products iteration after
iteration with no Python in between (from Python, each kernel call costs
0.3-1 us of dispatch: a 250-step gradient-descent fit was 3 calls a step, 2
of its 5 us). The carries live in buffers that are swapped with the buffers
the body writes their next values into, so an iteration copies nothing.

It runs on the calling thread, so it is used when no step of the body is
worth splitting across threads (driver.PARALLEL_MIN_WORK) and every step is
one it can express: kernels, vector and matrix products, reshapes and
transposes, constants, and nested native loops. Otherwise the body is an
ordinary program (driver.build_program, threads included) called from a
Python loop.
"""
from __future__ import annotations

import hashlib
import linecache

import numba
import numpy as np

from nbad.codegen import fusion
from nbad.codegen.cpu import IndentedBuffer
from nbad.codegen.fusion import Kernel, LibraryStep, ViewStep, step_inputs, step_outputs
from nbad.core.ir import Literal, Var
from nbad.rules.loop import loop_p
from nbad.rules.shape import RESHAPE_LIKE, transpose_p


class _NotNative(Exception):
    """The body has a step a native loop does not run (the message says which)."""


def compile_loop(eq, num_threads: int):
    """A callable running loop equation `eq`: (*operands) -> tuple of results."""
    from nbad.codegen.lowering import lower_loop_body
    from nbad.config import log

    body, length, num_carry = eq.params["body"], eq.params["length"], eq.params["num_carry"]
    plan = fusion.plan(lower_loop_body(body, num_carry))
    try:
        native = NativeLoop(plan, num_carry, num_threads)
    except _NotNative as why:
        log(2, f"loop of {length} iterations runs its body from Python: {why}")
        return _python_loop(plan, length, num_carry, num_threads)
    return native.runner(length)


def _python_loop(plan, length, num_carry, num_threads):
    from nbad.codegen.driver import build_program

    program = build_program(plan, num_threads)

    def run(*args):
        carry, invariants = list(args[:num_carry]), list(args[num_carry:])
        outs = carry
        for _ in range(length):
            outs = program(*carry, *invariants)
            carry = [np.asarray(c) for c in outs[:num_carry]]
        return tuple(outs)

    run.kernels = program.kernels
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


def _empty(var) -> str:
    return f"np.empty({tuple(var.aval.shape)!r}, np.{var.aval.dtype.name})"


_NATIVE: dict[str, tuple] = {}  # generated source -> (compiled function, disk cache name)


class NativeLoop:
    """The generated Numba function of one loop body (see the module docstring)."""

    def __init__(self, plan, num_carry: int, num_threads: int):
        from nbad.codegen.driver import _KernelCall, _plain_dot, _split_matmul_operands
        from nbad.codegen.lowering import lower_loop_body

        ir = plan.ir
        self.namespace: dict[str, object] = {"np": np}
        self.callees: dict[str, object] = {}  # name -> CompiledKernel or NativeLoop it calls
        self.disk_name: str | None = None     # the loop's module in the disk cache, once loaded
        self.extra_args: list = []       # constants computed here, passed on every call
        names: dict[int, str] = {}
        params = [f"i{j}" for j in range(num_carry)]
        params += [f"v{j}" for j in range(len(ir.inputs) - num_carry)]
        for j, v in enumerate(ir.inputs):
            names[v.id] = f"s{j}" if j < num_carry else f"v{j - num_carry}"
        for v, c in zip(ir.constvars, ir.consts):
            names[v.id] = self._extra(params, np.asarray(c))
        pre, loop = IndentedBuffer(), IndentedBuffer()
        owned: set[int] = set()  # buffers allocated before the loop, written in it by one step
        # values equal in every iteration: steps reading only these run once, before the
        # loop (lowering adds such steps: the transposed copy of an invariant matrix)
        invariant = {v.id for v in ir.inputs[num_carry:]} | {v.id for v in ir.constvars}
        kernel_outputs = {v.id for s in plan.steps if isinstance(s, Kernel) for v in s.outputs}
        with pre.indent(), loop.indent(), loop.indent():
            for step_no, step in enumerate(plan.steps):
                outputs = step_outputs(step)
                in_loop = not all(v.id in invariant for v in step_inputs(step))
                body = loop if in_loop else pre
                if not in_loop:
                    invariant.update(v.id for v in outputs)
                if isinstance(step, Kernel):
                    call = _KernelCall(step, names, self.namespace, kernel_outputs, set(),
                                       num_threads, step_no, IndentedBuffer())
                    if call.parallel:
                        raise _NotNative(f"kernel {call.ck.name} is worth splitting across threads")
                    self.callees[call.kname] = call.ck
                    for v in call.ks.out_vars:
                        pre.line(f"{names[v.id]} = {_empty(v)}")
                        if in_loop:
                            owned.add(v.id)
                    extent = 1 if call.extent is None else call.extent
                    body.line(f"{call.kname}(0, {extent}, {', '.join(call.args)}){call.comment}")
                    continue
                eq = step.equation
                out = eq.outputs[0]
                ins = [a if isinstance(a, Literal) else names[a.id] for a in eq.inputs]
                if all(isinstance(a, Literal) for a in eq.inputs) and not eq.primitive.multiple_results:
                    value = np.asarray(eq.primitive.impl(*[a.value for a in eq.inputs], **eq.params))
                    names[out.id] = self._extra(params, value)
                    continue
                if any(isinstance(a, Literal) for a in ins):
                    raise _NotNative(f"{eq.primitive.name} of a literal")
                name = names[out.id] = f"b{out.id}"
                if isinstance(step, ViewStep) and eq.primitive in RESHAPE_LIKE:
                    body.line(f"{name} = {ins[0]}.reshape({tuple(out.aval.shape)!r})")
                elif (isinstance(step, ViewStep) and eq.primitive is transpose_p
                      and tuple(eq.params["permutation"]) == (1, 0)):
                    # a copy, so that later reshapes of it are views in Numba too. (Numba
                    # compiles x.transpose(axes) in some 6 s, x.T.copy() in a fraction.)
                    body.line(f"{name} = {ins[0]}.T.copy()")
                elif isinstance(step, LibraryStep) and _plain_dot(eq) is not None:
                    if _split_matmul_operands(eq, num_threads) is not None:
                        raise _NotNative("a matrix product worth splitting across threads")
                    (lc, rc), _ = eq.params["dimension_numbers"]
                    a = f"{ins[0]}.T" if eq.inputs[0].aval.ndim == 2 and lc[0] == 0 else ins[0]
                    b = f"{ins[1]}.T" if eq.inputs[1].aval.ndim == 2 and rc[0] == 1 else ins[1]
                    pre.line(f"{name} = {_empty(out)}")
                    if in_loop:
                        owned.add(out.id)
                    if out.aval.ndim:
                        body.line(f"np.dot({a}, {b}, {name})  # {eq.primitive.name}")
                    else:
                        body.line(f"{name}[()] = np.dot({a}, {b})  # {eq.primitive.name}")
                elif isinstance(step, LibraryStep) and eq.primitive is loop_p:
                    inner = NativeLoop(fusion.plan(lower_loop_body(eq.params["body"], eq.params["num_carry"])),
                                       eq.params["num_carry"], num_threads)
                    fname = f"_loop{step_no}"
                    self.namespace[fname] = inner.function()
                    self.callees[fname] = inner
                    extra = [self._extra(params, x) for x in inner.extra_args]
                    outs = [f"b{v.id}" for v in eq.outputs]
                    for v, o in zip(eq.outputs, outs):
                        names[v.id] = o
                    body.line(f"{', '.join(outs)}, = {fname}({eq.params['length']}, "
                              f"{', '.join(ins + extra)})  # {inner.name}")
                else:
                    raise _NotNative(f"{eq.primitive.name} is not run natively")
            self._carry_update(ir, num_carry, names, owned, loop)
            results = [f"s{j}" for j in range(num_carry)]
            for j, a in enumerate(ir.outputs[num_carry:]):
                if isinstance(a, Literal):
                    raise _NotNative("a constant result")
                results.append(f"{names[a.id]}.copy()")
        src = IndentedBuffer()
        src.line(f"def loop(length, {', '.join(params)}):")
        with src.indent():
            for j in range(num_carry):
                src.line(f"s{j} = i{j}.copy()")
        self.source = (src.text() + pre.text() + "    for _ in range(length):\n" + loop.text()
                       + f"    return ({', '.join(results)}{',' if len(results) == 1 else ''})\n")

    def _extra(self, params, value) -> str:
        name = f"k{len(self.extra_args)}"
        self.extra_args.append(value)
        params.append(name)
        return name

    @staticmethod
    def _carry_update(ir, num_carry, names, owned, loop):
        """Next carries: buffers the body owns are swapped in; others are copied."""
        outs = ir.outputs[:num_carry]
        counts: dict = {}
        for a in ir.outputs:
            if isinstance(a, Var):
                counts[a.id] = counts.get(a.id, 0) + 1
        copies, swaps = [], []
        for j, a in enumerate(outs):
            if isinstance(a, Literal):
                raise _NotNative("a constant carry")
            if a.id in owned and counts[a.id] == 1:
                swaps.append(f"s{j}, {names[a.id]} = {names[a.id]}, s{j}")
            else:
                loop.line(f"t{j} = {names[a.id]}.copy()")
                copies.append(f"s{j} = t{j}")
        for line in swaps + copies:
            loop.line(line)

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
        """The compiled Numba function: loop(length, *operands, *extra_args)."""
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
        lines = ["import numpy as np"]
        lines += [f"from nbad_kernel_cache_{c.disk_name} import kernel as {name}"
                  for name, c in sorted(self.callees.items())]
        lines += [f"{k} = {_scalar_source(v)}" for k, v in sorted(self.namespace.items())
                  if k.startswith("_c")]
        source = "\n".join(lines) + "\n\n\n" + self.source.replace("def loop(", "def kernel(", 1)
        return cache.kernel_dispatcher(source, "nogil=True")

    def _in_memory(self):
        filename = f"<nbad-loop {len(_NATIVE)}>"
        linecache.cache[filename] = (len(self.source), None, self.source.splitlines(True), filename)
        namespace = dict(self.namespace)
        exec(compile(self.source, filename, "exec"), namespace)
        return numba.njit(nogil=True)(namespace["loop"])

    def runner(self, length: int):
        fn, extra = self.function(), tuple(self.extra_args)

        def run(*args):
            return fn(length, *[np.asarray(a, order="C") for a in args], *extra)

        run.source = self.source  # a native loop's (the Python-loop fallback has none)
        run.kernels = self.kernels
        return run
