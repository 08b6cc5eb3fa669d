"""The driver: generated Python that runs one program plan for one shape.

It allocates outputs with `np.empty` (intermediates come from a per-program
pool), reshapes inputs to each kernel's collapsed layout (free for contiguous
buffers), calls the kernels of backends/cpu/kernels.py — split across nbad's threads
when the work pays (backends/cpu/threads.py) — and NumPy/BLAS for library steps
(with the BLAS thread count the program chose: backends/cpu/blas.py),
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

from nbad.backends.cpu import blas, calls, dataflow, inplace, matmul, recycle, threads
from nbad.backends.cpu.branches import compile_cond
from nbad.backends.cpu.kernels import IndentedBuffer
from nbad.backends.cpu.loops import COMPILERS as LOOP_COMPILERS
from nbad.compile.fusion import Kernel, LibraryStep, Plan, ViewStep, step_inputs, step_outputs
from nbad.core.array import Array
from nbad.core.ir import Literal, Var
from nbad.errors import NbadCompileError
from nbad.rules.cond import cond_p
from nbad.rules.shape import RESHAPE_LIKE, transpose_p


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
                      if isinstance(step, LibraryStep) and matmul.writes_into_buffer(step.equation)
                      and step.equation.outputs[0].id not in output_ids]
    pooled = intermediates if sum(v.aval.size * v.aval.dtype.itemsize
                                  for v in intermediates) <= POOL_MAX_BYTES else []
    pooled_ids = {v.id for v in pooled}
    # Large sets count against the process's bound on kept buffers (recycle.py);
    # small ones stay in a plain list (pop/append: no lock on a microsecond call).
    kept_in_budget = sum(v.aval.size * v.aval.dtype.itemsize for v in pooled) >= recycle.RECYCLE_MIN_BYTES
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
        # BLAS threads (backends/cpu/blas.py): one while nbad splits products or runs steps
        # side by side, all of nbad's for products called whole.
        splits_blas = num_threads > 1 and any(
            isinstance(s, LibraryStep) and (_is_large_product(s)
                                            or matmul.split_matmul_operands(s.equation, num_threads))
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
            epilogue = matmul.epilogue_of(plan.steps, step_no) if isinstance(step, LibraryStep) else None
            if epilogue is not None:
                ck = matmul.emit_matmul_with_epilogue(body, step, plan.steps[epilogue], names, namespace,
                                                pooled_ids, owned, num_threads, len(kernels), step_no)
                if ck is not None:
                    kernels.append(ck)
                    fused.add(id(plan.steps[epilogue]))
                    step_no += 1
                    continue
            if isinstance(step, Kernel):
                kernels.append(calls.emit_kernel_call(body, step, names, namespace, pooled_ids, owned,
                                                 num_threads, len(kernels)))
            else:
                whole = (splits_blas and isinstance(step, LibraryStep)
                         and blas.uses_threaded_blas([step.equation])
                         and matmul.split_matmul_operands(step.equation, num_threads) is None)
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
                allocs = [f"_empty({v.aval.shape!r}, {calls.dtype_global(namespace, v)})" for v in pooled]
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


# Estimated seconds on one thread, for the schedule of a dataflow region: a
# matrix product at OpenBLAS's ~35 GFLOP/s a core (34-42 measured here), a
# kernel at ~0.3 ns per unit of work (elements x body cost; an MLP's bias
# gradient kernel, 1024 x 256 elements of cost 4: ~0.3 ms).
SECONDS_PER_FLOP = 1 / 35e9
SECONDS_PER_WORK = 0.3e-9
KERNEL_PARTS_PER_THREAD = 2  # a kernel split in a region: parts a thread


def _is_large_product(step) -> bool:
    """A matrix product worth a thread of its own (or a split)."""
    return (isinstance(step, LibraryStep) and matmul.matrix_product_operands(step.equation) is not None
            and matmul.flops(step.equation) >= matmul.SPLIT_MATMUL_MIN_FLOPS)


def _is_region_step(step, pooled_ids) -> bool:
    """Whether a dataflow region can run this step as a task: kernels, views,
    and matrix products written into a pooled buffer."""
    if isinstance(step, (Kernel, ViewStep)):
        return True
    eq = step.equation
    return (matmul.matrix_product_operands(eq) is not None and matmul.writes_into_buffer(eq)
            and eq.outputs[0].id in pooled_ids)


def _emit_region(buf, steps, start, end, names, namespace, pooled_ids, owned, num_threads, kernels,
                 extra_pool):
    """steps[start:end] as a task graph run by threads.run_graph (backends/cpu/dataflow.py).

    Buffers are allocated, and views of values computed before the region
    taken, before the graph runs; every other step is a task: a nested
    function of the driver, so that it reads the driver's locals. A view of a
    value computed in the region is a task too (NumPy copies some views, e.g.
    a reshape of a transposed buffer), and rebinds its name (nonlocal)."""
    node_steps, kernel_calls, made = [], {}, set()
    for step_no in range(start, end):
        step = steps[step_no]
        if isinstance(step, ViewStep) and not any(v.id in made for v in step_inputs(step)):
            _emit_library_call(buf, step, names, namespace, step_no)
            continue
        if isinstance(step, Kernel):
            kernel_calls[id(step)] = call = calls.KernelCall(step, names, namespace, pooled_ids, owned, 1,
                                                 len(kernels), buf)
            kernels.append(call.ck)
        else:  # a product or view task: its result's name is known before it runs
            names.update((v.id, f"b{v.id}") for v in step_outputs(step))
        made.update(v.id for v in step_outputs(step))
        node_steps.append((step_no, step))

    def cost(step):
        if isinstance(step, Kernel):
            return kernel_calls[id(step)].work * SECONDS_PER_WORK
        if isinstance(step, ViewStep):
            return 0.0
        return matmul.flops(step.equation) * SECONDS_PER_FLOP

    def splittable(step):
        if isinstance(step, Kernel):
            call = kernel_calls[id(step)]
            return (call.extent is not None and call.extent > 1 and not call.ks.partial_results
                    and call.work >= calls.PARALLEL_MIN_WORK)
        return (isinstance(step, LibraryStep)
                and matmul.split_matmul_operands(step.equation, num_threads) is not None)

    def parts_of(node):
        if isinstance(node.step, Kernel):
            return min(kernel_calls[id(node.step)].extent, num_threads * KERNEL_PARTS_PER_THREAD)
        _, _, over_k = matmul.split_matmul_operands(node.step.equation, num_threads)
        rows = node.step.equation.outputs[0].aval.shape[0]
        return num_threads if over_k else min(rows, num_threads * matmul.MATMUL_PARTS_PER_THREAD)

    nodes = dataflow.build_nodes([s for _, s in node_steps], cost, splittable)
    dataflow.plan_region(nodes, num_threads, parts_of)

    # Each node becomes tasks (rank, node order, lines, predecessor tasks); a node's
    # successors wait for all of its tasks, or for the one adding its partial results.
    tasks, finals = [], []
    for j, ((step_no, step), node) in enumerate(zip(node_steps, nodes)):
        bodies = _task_bodies(step, step_no, node.parts, num_threads, kernel_calls, names, namespace, buf,
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


def _task_bodies(step, step_no, parts, num_threads, kernel_calls, names, namespace, buf, extra_pool):
    """The code of one region step as a list of parts (each a list of lines), or
    as a tuple (parts..., lines that add the parts' partial results)."""
    if isinstance(step, Kernel):
        call = kernel_calls[id(step)]
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
        namespace[fname] = matmul.plain_dot(eq)
        return [[f"{fname}({lhs}, {rhs}, out={out})  # {eq.primitive.name}"]]
    namespace["_np_dot"] = np.dot
    ta, tb, over_k = matmul.split_matmul_operands(eq, num_threads)
    a = f"{lhs}.T" if ta else lhs
    b = f"{rhs}.T" if tb else rhs
    if not over_k:
        return [[f"_np_dot({a}[{lo}:{hi}], {b}, out={out}[{lo}:{hi}])  # rows {lo}:{hi} of dot_general"]
                for lo, hi in threads.split(eq.outputs[0].aval.shape[0], parts)]
    partial = f"_partials{step_no}"
    extra_pool.append((partial, (parts,) + tuple(eq.outputs[0].aval.shape),
                       calls.dtype_global(namespace, eq.outputs[0])))
    namespace["_add_reduce"] = np.add.reduce
    k = eq.inputs[0].aval.size // eq.outputs[0].aval.shape[0]
    bodies = [[f"_np_dot({a}[:, {k0}:{k1}], {b}[{k0}:{k1}], out={partial}[{p}])  "
               f"# contraction {k0}:{k1} of {eq.primitive.name}"]
              for p, (k0, k1) in enumerate(threads.split(k, parts))]
    return (*bodies, [f"_add_reduce({partial}, axis=0, out={out})"])


# Library steps that hold sub-programs, and how each is compiled into a callable.
SUB_PROGRAM_COMPILERS = {**LOOP_COMPILERS, cond_p: compile_cond}


def _library_impl(step, num_threads, in_place=False, recycler=None):
    eq = step.equation
    compiler = SUB_PROGRAM_COMPILERS.get(eq.primitive)
    if compiler is not None:
        return compiler(step, num_threads, lambda plan: build_program(plan, num_threads))
    if in_place:
        return functools.partial(eq.primitive.impl_in_place, **eq.params)
    if recycler is not None:
        return inplace.into_recycled(eq.primitive.impl_in_place, recycler, eq.params)
    split = matmul.split_matmul_operands(eq, num_threads)
    if split is not None:
        return matmul.split_matmul(*split, eq.outputs[0].aval.dtype)
    impl = matmul.plain_dot(eq) or functools.partial(eq.primitive.impl, **eq.params)
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
    if (not in_place and eq.primitive.impl_in_place is not None and isinstance(eq.inputs[0], Var)
            and eq.outputs[0].aval.size * eq.outputs[0].aval.dtype.itemsize >= recycle.RECYCLE_MIN_BYTES):
        # an update of a large buffer it cannot take over: copied into a recycled one
        budget = namespace.setdefault("_recycle_budget", recycle.ProgramBudget())
        recycler = recycle.Recycler(eq.outputs[0].aval.shape, eq.outputs[0].aval.dtype, budget)
        namespace[f"_recycle{eq.outputs[0].id}"] = recycler
        namespace.setdefault("_recycled", []).append((f"_recycle{eq.outputs[0].id}", outs[0]))
    namespace[fname] = impl = _library_impl(step, num_threads, in_place, recycler)
    if kernels is not None:
        kernels += getattr(impl, "kernels", [])
    into = (f", out={outs[0]}" if len(outs) == 1 and eq.outputs[0].id in pooled_ids
            and matmul.writes_into_buffer(eq) else "")
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
