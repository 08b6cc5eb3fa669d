"""The driver: generated Python that runs one program plan for one shape.

It allocates outputs with `np.empty` (intermediates come from a per-program
pool), reshapes inputs to each kernel's collapsed layout (free for contiguous
buffers), calls the kernels of codegen/cpu.py — split across nbad's threads
when the work pays (codegen/threads.py) — and NumPy/BLAS for library steps
(with the BLAS thread count the program chose: codegen/blas.py),
and returns the results as nbad Arrays. From a matrix product that another
one does not depend on (a backward pass), the steps run as a task graph
instead, each as soon as its inputs are ready (_emit_region, dataflow.py).
Its source is kept on the Program (`jit(f).lower(...).driver_source`).
"""
from __future__ import annotations

import functools
import linecache

import numba
import numpy as np

from nbad.codegen import blas, dataflow, inplace, recycle, threads
from nbad.codegen.cpu import IndentedBuffer, KernelSource, _prod, compiled_kernel
from nbad.codegen.fusion import Kernel, LibraryStep, Plan, ViewStep, step_inputs, step_outputs
from nbad.codegen.branches import compile_cond
from nbad.codegen.loops import COMPILERS as LOOP_COMPILERS
from nbad.core.array import Array
from nbad.core.ir import Literal, Var
from nbad.errors import NbadCompileError
from nbad.rules.cond import cond_p
from nbad.rules.linalg import _as_cols, _as_rows
from nbad.rules.shape import RESHAPE_LIKE, transpose_p

# elements × body cost (cpu.py: ~1 per operation, 8 per math call) below which a
# loop runs on the calling thread alone. One unit is 0.02-0.2 ns of serial work,
# so this is ~0.1-1 ms: waking an idle core of a virtual machine takes ~0.3 ms
# (a queue ping-pong between two threads, measured), and a split loop that
# waits for one costs more than it saves (a 500 x 500 Hessian: 75 us serial,
# 170-450 us split with the threshold at 200_000).
PARALLEL_MIN_WORK = 5_000_000


RECYCLE_MIN_BYTES = 1 << 20  # results this large reuse a buffer the caller has dropped (recycle.py)


def _as_output(x):
    """A result that may alias an input, a constant or a view: copied into an Array."""
    return np.array(x, copy=True).view(Array)


class Program:
    """A planned, compiled program for one input shape/dtype signature."""

    def __init__(self, fn, source: str, kernels: list, plan: Plan, namespace: dict):
        self.fn = fn
        self.source = source
        self.namespace = namespace  # the driver's globals: its kernels and constants by name
        self.kernels = kernels
        self.plan = plan
        self.compiled = False

    def __call__(self, *args):
        if self.compiled:
            return self.fn(*args)
        try:
            out = self.fn(*args)
        except numba.core.errors.NumbaError as e:
            raise NbadCompileError(
                f"Numba failed to compile a kernel nbad generated for:\n{self.plan.ir}\n"
                f"Generated driver:\n{self.source}\nNumba said: {e}\n"
                "This is a bug in nbad; please report it with the code above."
            ) from None
        self.compiled = True
        return out


POOL_MAX_BYTES = 1 << 30  # intermediates a program keeps between calls, at most


def _claim(x, *inputs):
    """A library step's result returned to the user: NumPy usually made it fresh,
    but a view (or an input handed back) must not escape: copy those."""
    x = np.asarray(x)
    if x.base is None and all(x is not i for i in inputs):
        return x.view(Array)
    return np.array(x).view(Array)


def build_program(plan: Plan, num_threads: int, single_output: bool = False) -> Program:
    """Generate and compile the driver of `plan` (kernels compile on first call).

    With `single_output` the driver returns its one result itself, not a tuple.
    Intermediate kernel buffers are pooled: a call takes a set from the
    program's pool and puts it back at the end (list.pop/append are atomic under
    the GIL, and a recycle.PoolKeeper locks, so concurrent or reentrant calls get
    distinct sets). Fresh large buffers cost page faults on every call — a third
    of a row softmax's time; large sets are kept within the process's bound
    (recycle.py)
    """
    ir = plan.ir
    names: dict[int, str] = {}
    # Kernels get plain ndarrays (an ndarray subclass leaves Numba's C-level type
    # dispatch: +1 us a call); results become Arrays with a view at the end.
    namespace: dict[str, object] = {"_empty": np.empty, "_Array": Array, "_out": _as_output,
                                    "_claim": _claim, "np": np, "_pool": []}
    args = [f"a{j}" for j in range(len(ir.inputs))]
    for j, v in enumerate(ir.inputs):
        names[v.id] = args[j]
    for j, (v, c) in enumerate(zip(ir.constvars, ir.consts)):
        names[v.id] = f"c{j}"
        namespace[f"c{j}"] = c
    output_ids = {a.id for a in ir.outputs if isinstance(a, Var)}
    # Intermediates are kept between calls: a fresh multi-megabyte buffer costs
    # page faults on every call once malloc has returned freed memory to the
    # system (a third of an MLP step's time, measured).
    intermediates = [v for step in plan.steps if isinstance(step, Kernel)
                     for v in step.outputs if v.id not in output_ids]
    intermediates += [step.equation.outputs[0] for step in plan.steps
                      if isinstance(step, LibraryStep) and _writes_into_buffer(step.equation)
                      and step.equation.outputs[0].id not in output_ids]
    pooled = intermediates if sum(v.aval.size * v.aval.dtype.itemsize
                                  for v in intermediates) <= POOL_MAX_BYTES else []
    pooled_ids = {v.id for v in pooled}
    # Large sets count against the process's bound on kept buffers (recycle.py);
    # small ones stay in a plain list (pop/append: no lock on a microsecond call).
    kept_in_budget = sum(v.aval.size * v.aval.dtype.itemsize for v in pooled) >= RECYCLE_MIN_BYTES
    if kept_in_budget:
        namespace["_pool"] = recycle.PoolKeeper()
    in_place = inplace.in_place_steps(plan)  # update steps that may write into their operand
    owned: set[int] = set()              # kernel outputs: fresh arrays the user may keep
    library_inputs: dict[int, list] = {}  # library results -> the names they were computed from
    kernels = []
    extra_pool: list = []  # (name, shape, dtype) of other per-call buffers (partial products)
    body = IndentedBuffer()
    with body.indent():
        fused: set[int] = set()  # (ids of) kernels run inside a matrix product before them
        regions = num_threads > 1 and bool(pooled_ids)
        # BLAS threads (codegen/blas.py): one while nbad splits products or runs steps
        # side by side, all of nbad's for products called whole.
        splits_blas = num_threads > 1 and any(
            isinstance(s, LibraryStep) and (_is_large_product(s)
                                            or _split_matmul_operands(s.equation, num_threads))
            for s in plan.steps)
        program_blas = (1 if splits_blas else num_threads) if blas.uses_threaded_blas(
            [s.equation for s in plan.steps if isinstance(s, LibraryStep)]) else None
        step_no = 0
        while step_no < len(plan.steps):
            step = plan.steps[step_no]
            end = regions and dataflow.region_end(
                plan.steps, step_no, lambda s: id(s) not in fused and _is_region_step(s, pooled_ids),
                _is_large_product)
            if end:
                _emit_region(body, plan.steps, step_no, end, names, namespace, pooled_ids, owned,
                             num_threads, kernels, extra_pool)
                step_no = end
                continue
            if id(step) in fused:
                step_no += 1
                continue
            epilogue = _epilogue_of(plan.steps, step_no) if isinstance(step, LibraryStep) else None
            if epilogue is not None:
                ck = _emit_matmul_with_epilogue(body, step, plan.steps[epilogue], names, namespace,
                                                pooled_ids, owned, num_threads, len(kernels), step_no)
                if ck is not None:
                    kernels.append(ck)
                    fused.add(id(plan.steps[epilogue]))
                    step_no += 1
                    continue
            if isinstance(step, Kernel):
                kernels.append(_emit_kernel_call(body, step, names, namespace, pooled_ids, owned,
                                                 num_threads, len(kernels)))
            else:
                whole = (splits_blas and isinstance(step, LibraryStep)
                         and blas.uses_threaded_blas([step.equation])
                         and _split_matmul_operands(step.equation, num_threads) is None)
                if whole:
                    namespace["_blas_threads"] = blas.switch
                    body.line(f"_blas_threads({num_threads})  # BLAS: a product called whole")
                call_args = _emit_library_call(body, step, names, namespace, step_no, num_threads,
                                               pooled_ids, kernels, id(step) in in_place)
                if whole:
                    body.line("_blas_threads(1)")
                if isinstance(step, LibraryStep) and call_args is not None:
                    for v in step.equation.outputs:
                        library_inputs[v.id] = call_args
            step_no += 1
        results = []
        for j, a in enumerate(ir.outputs):
            if isinstance(a, Literal):
                namespace[f"lit{j}"] = np.asarray(a.value)
                results.append(f"_out(lit{j})")
            elif a.id in owned:
                results.append(f"{names[a.id]}.view(_Array)")
            elif a.id in library_inputs:
                results.append(f"_claim({', '.join([names[a.id]] + library_inputs[a.id])})")
            else:
                results.append(f"_out({names[a.id]})")
        if pooled:
            body.line("_pool.give(pool)" if kept_in_budget else "_pool.append(pool)")
        for rname, name in namespace.get("_recycled", ()):
            body.line(f"{rname}.give({name})")
        if single_output:
            body.line(f"return {results[0]}")
        elif not results:  # a function returning None or ()
            body.line("return ()")
        else:
            body.line("return " + (", ".join(results) + ("," if len(results) == 1 else "")))
    buf = IndentedBuffer()
    buf.line(f"def program({', '.join(args)}):")
    with buf.indent():
        if pooled:
            buf.line("pool = _pool.take()" if kept_in_budget else "pool = _pool.pop() if _pool else None")
            buf.line("if pool is None:")
            with buf.indent():
                allocs = [f"_empty({v.aval.shape!r}, {_dtype_global(namespace, v)})" for v in pooled]
                allocs += [f"_empty({shape!r}, {dtype})" for _, shape, dtype in extra_pool]
                buf.line(f"pool = ({', '.join(allocs)},)")
            buf.line(f"{', '.join([names[v.id] for v in pooled] + [n for n, _, _ in extra_pool])}, = pool")
    source = buf.text() + body.text()
    if program_blas is not None:
        source = (f"# BLAS: {program_blas} thread{'s' if program_blas > 1 else ''} during a call"
                  f"{' (nbad splits products across its threads)' if splits_blas else ''}, "
                  "the caller's count restored after\n") + source
    filename = f"<nbad-program {ir.name}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)
    # (popped: a driver that held itself in its globals would be freed only by
    # the cyclic gc, and its kept buffers with it: recycle.py)
    fn = namespace.pop("program")
    if program_blas is not None:
        fn = blas.with_threads(fn, program_blas)
    return Program(fn, source, kernels, plan, namespace)


def _dtype_global(namespace, var) -> str:
    """The dtype as a driver global (cheaper than np.<attr> looked up on each call)."""
    name = f"_{var.aval.dtype.name}"
    namespace[name] = var.aval.dtype
    return name


_COMBINE_PARTIALS = {"sum": np.add.reduce, "prod": np.multiply.reduce, "max": np.maximum.reduce,
                     "min": np.minimum.reduce, "and": np.logical_and.reduce, "or": np.logical_or.reduce}


def _run_partial_results(kernel, n, args, out, combine, partials_dtype=None):
    """A reduction split across threads: each part writes its partial result (one
    value for a full reduction; a row for a reduction over the outer loop, such as
    column sums) into a slot of its own, and the slots are combined into `out`.
    (4096 x 1024, sum(tanh(x) * x, axis=0): 14.6 ms on one thread, 8.0 ms split.)"""
    partials = np.empty((threads.max_parts(),) + out.shape, partials_dtype or out.dtype)
    used = threads.run(kernel, n, args, per_part_args=lambda p: (partials[p],))
    combine(partials[:used], axis=0, out=out)


class _KernelCall:
    """A kernel's compiled dispatcher, call arguments and how its loop is split."""

    def __init__(self, kernel: Kernel, names, namespace, pooled_ids, owned, num_threads, idx, buf):
        ks = KernelSource(kernel)
        self.ks, self.ck = ks, compiled_kernel(ks)
        self.work = work = _prod(list(kernel.shape)) * max(ks.cost, 1)  # elements x body cost
        self.extent = ks.split_extent
        self.parallel = (num_threads > 1 and self.extent is not None and self.extent > 1
                         and work >= PARALLEL_MIN_WORK)
        self.kname = f"_k{idx}"
        namespace[self.kname] = self.ck.dispatcher()
        args = [str(n) for n in ks.sizes]
        for j, (value, dtype) in enumerate(ks.constants):
            cname = f"_c{idx}_{j}"
            namespace[cname] = np.asarray(value, dtype)[()]  # a NumPy scalar: Numba types it exactly
            args.append(cname)
        self.input_refs = {}
        for inp in kernel.inputs:
            target, _ = ks.input_layout(inp)
            ref = names[inp.buffer.id]
            if target is not None and tuple(target) != inp.buffer.aval.shape:
                ref = f"{ref}.reshape({target!r})"
            self.input_refs[inp.buffer.id] = target
            args.append(ref)
        for var in ks.out_vars:
            name = f"b{var.id}"
            names[var.id] = name
            if var.id not in pooled_ids:
                if var.aval.size * var.aval.dtype.itemsize >= RECYCLE_MIN_BYTES:
                    rname = f"_recycle{var.id}"
                    budget = namespace.setdefault("_recycle_budget", recycle.ProgramBudget())
                    namespace[rname] = recycle.Recycler(var.aval.shape, var.aval.dtype, budget)
                    namespace.setdefault("_recycled", []).append((rname, name))
                    buf.line(f"{name} = {rname}.take()")
                else:
                    buf.line(f"{name} = _empty({var.aval.shape!r}, {_dtype_global(namespace, var)})")
                owned.add(var.id)
            target = ks.output_target(var)
            args.append(name if tuple(target) == var.aval.shape else f"{name}.reshape({target!r})")
        self.args = args
        self.comment = f"  # {self.ck.name}"


def _emit_kernel_call(buf, kernel: Kernel, names, namespace, pooled_ids, owned, num_threads, idx):
    call = _KernelCall(kernel, names, namespace, pooled_ids, owned, num_threads, idx, buf)
    ks, kname, extent, call_args, comment = call.ks, call.kname, call.extent, call.args, call.comment
    if not call.parallel:
        buf.line(f"{kname}(0, {1 if extent is None else extent}, {', '.join(call_args)}){comment}")
    elif ks.partial_results:
        combine = f"_combine_{kernel.reduce_eq.primitive.reducer.name}"
        namespace[combine] = _COMBINE_PARTIALS[kernel.reduce_eq.primitive.reducer.name]
        namespace["_run_partial_results"] = _run_partial_results
        wide = ""
        if ks.partials_dtype is not None:
            wide = f", _{ks.partials_dtype.name}"
            namespace[wide[2:]] = ks.partials_dtype
        buf.line(f"_run_partial_results({kname}, {extent}, ({', '.join(call_args[:-1])},), "
                 f"{call_args[-1]}, {combine}{wide}){comment}, split across threads")
    else:
        namespace["_run"] = threads.run
        buf.line(f"_run({kname}, {extent}, ({', '.join(call_args)},)){comment}, split across threads")
    return call.ck


# Estimated seconds on one thread, for the schedule of a dataflow region: a
# matrix product at OpenBLAS's ~35 GFLOP/s a core (34-42 measured here), a
# kernel at ~0.3 ns per unit of work (elements x body cost; an MLP's bias
# gradient kernel, 1024 x 256 elements of cost 4: ~0.3 ms).
SECONDS_PER_FLOP = 1 / 35e9
SECONDS_PER_WORK = 0.3e-9
KERNEL_PARTS_PER_THREAD = 2  # a kernel split in a region: parts a thread


def _is_large_product(step) -> bool:
    """A matrix product worth a thread of its own (or a split)."""
    return (isinstance(step, LibraryStep) and _matrix_product_operands(step.equation) is not None
            and _flops(step.equation) >= SPLIT_MATMUL_MIN_FLOPS)


def _is_region_step(step, pooled_ids) -> bool:
    """Whether a dataflow region can run this step as a task: kernels, views,
    and matrix products written into a pooled buffer."""
    if isinstance(step, (Kernel, ViewStep)):
        return True
    eq = step.equation
    return (_matrix_product_operands(eq) is not None and _writes_into_buffer(eq)
            and eq.outputs[0].id in pooled_ids)


def _emit_region(buf, steps, start, end, names, namespace, pooled_ids, owned, num_threads, kernels,
                 extra_pool):
    """steps[start:end] as a task graph run by threads.run_graph (codegen/dataflow.py).

    Buffers are allocated, and views of values computed before the region
    taken, before the graph runs; every other step is a task: a nested
    function of the driver, so that it reads the driver's locals. A view of a
    value computed in the region is a task too (NumPy copies some views, e.g.
    a reshape of a transposed buffer), and rebinds its name (nonlocal)."""
    node_steps, calls, made = [], {}, set()
    for step_no in range(start, end):
        step = steps[step_no]
        if isinstance(step, ViewStep) and not any(v.id in made for v in step_inputs(step)):
            _emit_library_call(buf, step, names, namespace, step_no)
            continue
        if isinstance(step, Kernel):
            calls[id(step)] = call = _KernelCall(step, names, namespace, pooled_ids, owned, 1,
                                                 len(kernels), buf)
            kernels.append(call.ck)
        else:  # a product or view task: its result's name is known before it runs
            names.update((v.id, f"b{v.id}") for v in step_outputs(step))
        made.update(v.id for v in step_outputs(step))
        node_steps.append((step_no, step))

    def cost(step):
        if isinstance(step, Kernel):
            return calls[id(step)].work * SECONDS_PER_WORK
        if isinstance(step, ViewStep):
            return 0.0
        return _flops(step.equation) * SECONDS_PER_FLOP

    def splittable(step):
        if isinstance(step, Kernel):
            call = calls[id(step)]
            return (call.extent is not None and call.extent > 1 and not call.ks.partial_results
                    and call.work >= PARALLEL_MIN_WORK)
        return (isinstance(step, LibraryStep)
                and _split_matmul_operands(step.equation, num_threads) is not None)

    def parts_of(node):
        if isinstance(node.step, Kernel):
            return min(calls[id(node.step)].extent, num_threads * KERNEL_PARTS_PER_THREAD)
        _, _, over_k = _split_matmul_operands(node.step.equation, num_threads)
        rows = node.step.equation.outputs[0].aval.shape[0]
        return num_threads if over_k else min(rows, num_threads * MATMUL_PARTS_PER_THREAD)

    nodes = dataflow.build_nodes([s for _, s in node_steps], cost, splittable)
    dataflow.plan_region(nodes, num_threads, parts_of)

    # Each node becomes tasks (rank, node order, lines, predecessor tasks); a node's
    # successors wait for all of its tasks, or for the one adding its partial results.
    tasks, finals = [], []
    for j, ((step_no, step), node) in enumerate(zip(node_steps, nodes)):
        bodies = _task_bodies(step, step_no, node.parts, num_threads, calls, names, namespace, buf,
                              extra_pool)
        *parts, combine = bodies if isinstance(bodies, tuple) else (*bodies, None)
        after = [t for n in sorted(node.preds) for t in finals[n]]
        mine = []
        for lines in parts:
            mine.append(len(tasks))
            tasks.append((node.rank, -j, lines, after))
        if combine is not None:
            tasks.append((node.rank - node.cost / node.parts, -j, combine, mine))
            mine = [len(tasks) - 1]
        finals.append(mine)
    order = sorted(range(len(tasks)), key=lambda t: tasks[t][:2])  # ascending rank: the last runs first
    index = {t: k for k, t in enumerate(order)}
    preds = [[index[p] for p in tasks[t][3]] for t in order]
    succs = [[] for _ in order]
    for k, ps in enumerate(preds):
        for p in ps:
            succs[p].append(k)
    gname = f"_graph{start}"
    namespace[gname] = (tuple(len(ps) for ps in preds), tuple(tuple(s) for s in succs),
                        tuple(k for k, ps in enumerate(preds) if not ps))
    namespace["_run_graph"] = threads.run_graph
    fnames = []
    for k, t in enumerate(order):
        fname = f"_t{start}_{k}"
        fnames.append(fname)
        buf.line(f"def {fname}():")
        with buf.indent():
            for line in tasks[t][2]:
                buf.line(line)
    buf.line(f"_run_graph(({', '.join(fnames)},), {gname})  # steps {start}-{end - 1}: "
             f"{len(nodes)} steps as {len(order)} tasks, side by side as their inputs are ready")


def _task_bodies(step, step_no, parts, num_threads, calls, names, namespace, buf, extra_pool):
    """The code of one region step as a list of parts (each a list of lines), or
    as a tuple (parts..., lines that add the parts' partial results)."""
    if isinstance(step, Kernel):
        call = calls[id(step)]
        args = ", ".join(call.args)
        if parts == 1:
            return [[f"{call.kname}(0, {1 if call.extent is None else call.extent}, {args}){call.comment}"]]
        return [[f"{call.kname}({lo}, {hi}, {args}){call.comment}, part {p + 1} of {parts}"]
                for p, (lo, hi) in enumerate(threads.split(call.extent, parts))]
    if isinstance(step, ViewStep):
        lines = IndentedBuffer()
        _emit_library_call(lines, step, names, namespace, step_no)
        outs = [f"b{v.id}" for v in step.equation.outputs]
        for o in outs:
            buf.line(f"{o} = None")
        return [[f"nonlocal {', '.join(outs)}"] + lines.lines]
    eq = step.equation
    lhs, rhs = (names[v.id] for v in eq.inputs)
    out = names[eq.outputs[0].id] = f"b{eq.outputs[0].id}"
    if parts == 1:
        fname = f"_dot{step_no}"
        namespace[fname] = _plain_dot(eq)
        return [[f"{fname}({lhs}, {rhs}, out={out})  # {eq.primitive.name}"]]
    namespace["_np_dot"] = np.dot
    ta, tb, over_k = _split_matmul_operands(eq, num_threads)
    a = f"{lhs}.T" if ta else lhs
    b = f"{rhs}.T" if tb else rhs
    if not over_k:
        return [[f"_np_dot({a}[{lo}:{hi}], {b}, out={out}[{lo}:{hi}])  # rows {lo}:{hi} of dot_general"]
                for lo, hi in threads.split(eq.outputs[0].aval.shape[0], parts)]
    partial = f"_partials{step_no}"
    extra_pool.append((partial, (parts,) + tuple(eq.outputs[0].aval.shape),
                       _dtype_global(namespace, eq.outputs[0])))
    namespace["_add_reduce"] = np.add.reduce
    k = eq.inputs[0].aval.size // eq.outputs[0].aval.shape[0]
    bodies = [[f"_np_dot({a}[:, {k0}:{k1}], {b}[{k0}:{k1}], out={partial}[{p}])  "
               f"# contraction {k0}:{k1} of {eq.primitive.name}"]
              for p, (k0, k1) in enumerate(threads.split(k, parts))]
    return (*bodies, [f"_add_reduce({partial}, axis=0, out={out})"])


def _epilogue_of(steps, i):
    """The index of the first kernel reading library step i's result, if every
    other input of that kernel is already computed when step i runs."""
    result = steps[i].equation.outputs[0].id
    later = set()
    for j in range(i + 1, len(steps)):
        step = steps[j]
        if isinstance(step, Kernel) and any(inp.buffer.id == result for inp in step.inputs):
            if any(inp.buffer.id in later for inp in step.inputs):
                return None
            return j
        later.update(v.id for v in step_outputs(step))
    return None


def _emit_matmul_with_epilogue(buf, lib_step, kernel: Kernel, names, namespace, pooled_ids, owned,
                               num_threads, idx, step_no):
    """A split matrix product whose next step is an elementwise kernel over its
    rows: each thread runs the kernel on the rows it has just multiplied, while
    they are in cache (XLA fuses such epilogues into the dot the same way).
    Returns the kernel, or None (nothing emitted) if the pair does not fit."""
    eq = lib_step.equation
    split = _split_matmul_operands(eq, num_threads)
    if split is None or split[2] or kernel.kind != "elementwise":
        return None  # (the epilogue runs by row blocks; a split contraction has none)
    out = eq.outputs[0]
    m, n = out.aval.shape
    if not any(inp.buffer.id == out.id for inp in kernel.inputs):
        return None
    probe = KernelSource(kernel)
    if probe.partial_results or probe.split_extent not in (m, m * n):
        return None
    layout, _ = probe.input_layout(next(i for i in kernel.inputs if i.buffer.id == out.id))
    if layout is None or layout[0] != probe.split_extent:
        return None  # the kernel does not read the product row by row
    rows = f"b{out.id}"
    names[out.id] = rows
    if out.id not in pooled_ids:
        buf.line(f"{rows} = _empty({out.aval.shape!r}, {_dtype_global(namespace, out)})")
        owned.add(out.id)
    call = _KernelCall(kernel, names, namespace, pooled_ids, owned, num_threads, idx, buf)
    fname = f"_matmul{step_no}"
    namespace[fname] = _matmul_then(split[0], split[1], call.extent // m)
    a, b = (names[v.id] for v in eq.inputs)
    buf.line(f"{fname}({a}, {b}, {rows}, {call.kname}, ({', '.join(call.args)},))"
             f"{call.comment}, after each part of {eq.primitive.name}")
    return call.ck


# Below this a BLAS call (~0.1 ms at 35 GFLOP/s a core) is too short to share. (An
# MLP training step, interleaved with JAX's: 0.95-0.99 of JAX's speed with this
# threshold, 0.90-0.94 at 16 MFLOP, 0.83-0.87 at 64 MFLOP.)
SPLIT_MATMUL_MIN_FLOPS = 4_000_000


def _matrix_product_operands(eq):
    """For a 2-D matrix product (any transposition): how to view the operands as
    A @ B; else None."""
    if eq.primitive.name != "dot_general" or len(eq.inputs) != 2:
        return None
    (lc, rc), (lb, rb) = eq.params["dimension_numbers"]
    lhs, rhs = eq.inputs
    if lb or rb or lhs.aval.ndim != 2 or rhs.aval.ndim != 2 or len(lc) != 1:
        return None
    return lc[0] == 0, rc[0] == 1  # (transpose lhs, transpose rhs)


# Row blocks of a split product per thread: each block is one BLAS call that packs
# the whole right operand again, so fewer blocks than a kernel's chunks (an MLP's
# 1024 x 64 x 256 product: 0.55 ms in 2 blocks a thread, 0.63 ms in 4), but more
# than one, so that the caller takes a late worker's block.
MATMUL_PARTS_PER_THREAD = 2


def _split_matmul(transpose_a, transpose_b, over_k, out_dtype):
    """A @ B shared among nbad's threads: NumPy's BLAS call releases the GIL, so
    this uses every core, BLAS running on one thread in each part (the program
    sets it: codegen/blas.py). By blocks of rows of the result, or, when the contraction is much
    longer than the result has rows (a weight gradient: x^T g over a batch), by
    blocks of the contraction into partial results that are then added: row
    blocks would each re-read the long operands (an MLP's 256 x 256 weight
    gradient over a batch of 1024: 2.1-2.7 ms by rows, 1.7 ms by the contraction,
    3.2 ms on one thread)."""
    partials: list = []  # one set of partial-result buffers per concurrent call

    def matmul(lhs, rhs, out=None):
        a = lhs.T if transpose_a else lhs
        b = rhs.T if transpose_b else rhs
        if out is None:
            out = np.empty((a.shape[0], b.shape[1]), out_dtype)
        if not over_k:
            threads.run(lambda lo, hi: np.dot(a[lo:hi], b, out=out[lo:hi]), a.shape[0], (),
                        parts=threads.num_threads() * MATMUL_PARTS_PER_THREAD)
            return out
        n = threads.num_threads()
        part = partials.pop() if partials else None
        if part is None or part.shape != (n,) + out.shape:
            part = np.empty((n,) + out.shape, out_dtype)
        bounds = threads.split(a.shape[1], n)

        def block(lo, hi):
            for p in range(lo, hi):
                k0, k1 = bounds[p]
                np.dot(a[:, k0:k1], b[k0:k1], out=part[p])

        threads.run(block, n, (), parts=n)
        np.add.reduce(part, axis=0, out=out)
        partials.append(part)
        return out

    return matmul


def _matmul_then(transpose_a, transpose_b, per_row):
    """out = A @ B by row blocks across threads, each block followed by
    kernel(lo*per_row, hi*per_row, *kernel_args) on the same rows."""

    def run(lhs, rhs, out, kernel, kernel_args):
        a = lhs.T if transpose_a else lhs
        b = rhs.T if transpose_b else rhs

        def part(lo, hi):
            np.dot(a[lo:hi], b, out=out[lo:hi])
            kernel(lo * per_row, hi * per_row, *kernel_args)

        threads.run(part, a.shape[0], (), parts=threads.num_threads() * MATMUL_PARTS_PER_THREAD)

    return run


def _flops(eq) -> int:
    """Floating-point operations of a dot_general: 2 per multiply-add."""
    (lc, _), _ = eq.params["dimension_numbers"]
    return 2 * eq.outputs[0].aval.size * _prod([eq.inputs[0].aval.shape[d] for d in lc])


def _split_matmul_operands(eq, num_threads):
    """(transpose A, transpose B, split the contraction) if eq is a matrix product
    worth splitting."""
    operands = _matrix_product_operands(eq)
    if operands is not None and num_threads > 1 and eq.outputs[0].aval.dtype.kind in "fc":
        if _flops(eq) < SPLIT_MATMUL_MIN_FLOPS:
            return None
        m = eq.outputs[0].aval.shape[0]
        k = eq.inputs[0].aval.size // m  # the contraction's length
        if k >= 2 * m and k >= 64 * num_threads:
            return operands + (True,)
        if m >= 2 * num_threads:
            return operands + (False,)
    return None


def _plain_dot(eq):
    """np.dot on (transposed) views for a vector/matrix product whose operand
    and result dtypes agree: what dot_general's impl would do, without its
    checks and dispatch on every call (~1.5 us, felt by small programs)."""
    if eq.primitive.name != "dot_general":
        return None
    (lc, rc), (lb, rb) = eq.params["dimension_numbers"]
    lhs, rhs = eq.inputs
    out = eq.outputs[0].aval
    if (lb or len(lc) != 1 or not isinstance(lhs, Var) or not isinstance(rhs, Var)
            or not 1 <= lhs.aval.ndim <= 2 or not 1 <= rhs.aval.ndim <= 2
            or not lhs.aval.dtype == rhs.aval.dtype == out.dtype or out.dtype.kind not in "fc"):
        return None
    return lambda a, b, out=None: np.dot(_as_rows(a, lc[0]), _as_cols(b, rc[0]), out=out)


def _writes_into_buffer(eq) -> bool:
    """Whether the driver runs this library step as np.dot(..., out=buffer)."""
    return _plain_dot(eq) is not None and eq.outputs[0].aval.ndim >= 1


# Library steps that hold sub-programs, and how each is compiled into a callable.
SUB_PROGRAM_COMPILERS = {**LOOP_COMPILERS, cond_p: compile_cond}


def _library_impl(eq, num_threads, in_place=False, recycler=None):
    compiler = SUB_PROGRAM_COMPILERS.get(eq.primitive)
    if compiler is not None:
        return compiler(eq, num_threads)
    if in_place:
        return functools.partial(eq.primitive.impl_in_place, **eq.params)
    if recycler is not None:
        return inplace.into_recycled(eq.primitive.impl_in_place, recycler, eq.params)
    split = _split_matmul_operands(eq, num_threads)
    if split is not None:
        return _split_matmul(*split, eq.outputs[0].aval.dtype)
    impl = _plain_dot(eq) or functools.partial(eq.primitive.impl, **eq.params)
    if any(v.aval.ndim == 0 for v in eq.outputs):
        return _zero_d_as_arrays(impl, eq.primitive.multiple_results)
    return impl


def _zero_d_as_arrays(impl, multiple_results):
    """NumPy gives 0-d results as scalars (x[i], np.dot of vectors); the kernels
    that read them index them with [()], which only arrays support."""
    if multiple_results:
        return lambda *args: tuple(np.asarray(o) for o in impl(*args))
    return lambda *args: np.asarray(impl(*args))


def _view_source(eq, x: str) -> str | None:
    """A view written as a NumPy method: a call through the primitive's impl
    costs microseconds, which small programs (a Hessian, a gradient step) feel."""
    if eq.primitive in RESHAPE_LIKE:
        return f"{x}.reshape({tuple(eq.outputs[0].aval.shape)!r})"
    if eq.primitive is transpose_p:
        return f"{x}.transpose({tuple(eq.params['permutation'])!r})"
    return None


def _emit_library_call(buf, step, names, namespace, step_no, num_threads=1, pooled_ids=frozenset(),
                       kernels=None, in_place=False):
    """A library or view step. Returns the names its result was computed from,
    or None when the result is a constant computed once, here (iota, full):
    a program output must then be copied. What the step compiled itself (a loop's
    native function and kernels) is added to `kernels`: for lower().source and
    the disk cache's records."""
    eq = step.equation
    outs = [f"b{v.id}" for v in eq.outputs]
    for v, o in zip(eq.outputs, outs):
        names[v.id] = o
    if all(isinstance(a, Literal) for a in eq.inputs) and not eq.primitive.multiple_results:
        value = np.asarray(eq.primitive.impl(*[a.value for a in eq.inputs], **eq.params))
        value.flags.writeable = False
        cname = f"_const{step_no}"
        namespace[cname] = value
        buf.line(f"{outs[0]} = {cname}  # {eq.primitive.name}, computed once")
        return None
    if isinstance(step, ViewStep) and isinstance(eq.inputs[0], Var):
        view = _view_source(eq, names[eq.inputs[0].id])
        if view is not None:
            buf.line(f"{outs[0]} = {view}  # {eq.primitive.name}")
            return [names[eq.inputs[0].id]]
    fname = f"_{eq.primitive.name}{step_no}"
    recycler = None
    if (not in_place and hasattr(eq.primitive, "impl_in_place") and isinstance(eq.inputs[0], Var)
            and eq.outputs[0].aval.size * eq.outputs[0].aval.dtype.itemsize >= RECYCLE_MIN_BYTES):
        # an update of a large buffer it cannot take over: copied into a recycled one
        budget = namespace.setdefault("_recycle_budget", recycle.ProgramBudget())
        recycler = recycle.Recycler(eq.outputs[0].aval.shape, eq.outputs[0].aval.dtype, budget)
        namespace[f"_recycle{eq.outputs[0].id}"] = recycler
        namespace.setdefault("_recycled", []).append((f"_recycle{eq.outputs[0].id}", outs[0]))
    namespace[fname] = impl = _library_impl(eq, num_threads, in_place, recycler)
    if kernels is not None:
        kernels += getattr(impl, "kernels", [])
    into = (f", out={outs[0]}" if len(outs) == 1 and eq.outputs[0].id in pooled_ids
            and _writes_into_buffer(eq) else "")
    args = []
    for j, a in enumerate(eq.inputs):
        if isinstance(a, Literal):
            lname = f"lit{step_no}_{j}"
            namespace[lname] = a.value
            args.append(lname)
        else:
            args.append(names[a.id])
    if eq.primitive.multiple_results:
        buf.line(f"{', '.join(outs)}, = {fname}({', '.join(args)})")
    elif into:
        buf.line(f"{fname}({', '.join(args)}{into})")
    else:
        note = "  # into its operand's buffer" if in_place else ""
        buf.line(f"{outs[0]} = {fname}({', '.join(args)}){note}")
    return [a for a in args if not a.startswith("lit")]
