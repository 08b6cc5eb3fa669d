"""The CUDA host launcher: runs one Plan (nbad/compile/fusion.py) on the device.

Built once per input signature, like the CPU driver: each plan step becomes a
launch (a fused kernel, a view's copy kernel, the tiled matmul) or a device
reshape. Every buffer lives in device memory; inputs given as host arrays are
copied once per call, constants once per program, and results are returned as
CudaArrays, so chained jitted calls never go through the host. Library
primitives other than dot_general, concatenate, pad, gather/scatter,
argmax/argmin, the cumulative scans, cond and scan/while loops (linear
algebra, sort, ...) raise NbadNotImplementedError
when the program is built: never a silent host fallback.

Device buffers are C-contiguous, and a 0-d value is held as one element.
"""
from __future__ import annotations

import linecache
import math

import numpy as np

from nbad.backends.cuda import kernels as kernel_gen
from nbad.backends.cuda import indexing, loops, matmul, runtime, scans, views
from nbad.backends.cuda.array import CudaArray, host_to_cuda
from nbad.compile.fusion import Kernel, Plan, ViewStep
from nbad.core.ir import Literal, Var
from nbad.errors import NbadCompileError, NbadNotImplementedError


def _physical(shape) -> tuple:
    return tuple(shape) or (1,)


class CompiledCudaKernel:
    """One kernel's source and its `cuda.jit` dispatcher (shared by programs)."""

    def __init__(self, name: str, source: str):
        self.name = name
        self.source = source
        self._function = None
        self._dispatcher = None
        self.signatures: list = []  # numba argument types of each use, for compile_ptx
        self._ptx: dict = {}  # (cc, signature index) -> PTX text

    def imported_names(self) -> list:
        return sorted(set(kernel_gen._DEVICE_CALL.findall(self.source)))

    def module_source(self) -> str:
        lines = ["import math", "import numpy as np", "import numba as _nb", "from numba import cuda",
                 "from nbad.backends.cuda.devmath import device_names"]
        lines += [f"{n} = device_names()[{n!r}]" for n in self.imported_names()]
        return "\n".join(lines) + "\n\n\n" + self.source

    def python_function(self):
        if self._function is None:
            from numba import cuda

            import numba

            from nbad.backends.cuda import devmath

            filename = f"<nbad-cuda-kernel {self.name}>"
            linecache.cache[filename] = (len(self.source), None, self.source.splitlines(True), filename)
            table = devmath.device_names()
            namespace = {"np": np, "math": math, "cuda": cuda, "_nb": numba}
            namespace.update({n: table[n] for n in self.imported_names()})
            exec(compile(self.source, filename, "exec"), namespace)
            fn = namespace["kernel"]
            fn.__name__ = fn.__qualname__ = self.name
            self._function = fn
        return self._function

    def dispatcher(self):
        if self._dispatcher is None:
            cuda = runtime.require_device()
            self._dispatcher = cuda.jit(self.python_function())
        return self._dispatcher

    def ptx(self, cc=(8, 0)) -> str:
        """PTX for compute capability `cc` (no GPU needed; not under the simulator)."""
        if runtime.simulated():
            raise NbadNotImplementedError(
                "PTX is compiled by the real CUDA target: unset NUMBA_ENABLE_CUDASIM (no GPU needed)")
        from numba import cuda

        texts = []
        for j, sig in enumerate(self.signatures):
            key = (tuple(cc), j)
            if key not in self._ptx:
                self._ptx[key], _ = cuda.compile_ptx(self.python_function(), tuple(sig), cc=tuple(cc))
            texts.append(self._ptx[key])
        return "\n".join(texts)


KERNELS: dict[str, CompiledCudaKernel] = {}


def compiled_kernel(name: str, source: str) -> CompiledCudaKernel:
    ck = KERNELS.get(source)
    if ck is None:
        ck = KERNELS[source] = CompiledCudaKernel(name, source)
    return ck


def _array_type(dtype, ndim):
    import numba

    return numba.types.Array(numba.from_dtype(np.dtype(dtype)), ndim, "C")


def _scalar_type(dtype):
    import numba

    return numba.from_dtype(np.dtype(dtype))


class _Launch:
    """One kernel launch of the program: its kernel, grid and argument recipe.

    `args` items: ("int", n), ("const", value), ("buf", var id, shape or None).
    """

    def __init__(self, ck: CompiledCudaKernel, args: list, grid, block, comment: str):
        self.ck, self.args, self.grid, self.block, self.comment = ck, args, grid, block, comment
        sig = []
        for a in args:
            if a[0] == "int":
                sig.append(_scalar_type(np.int64))
            elif a[0] == "const":
                sig.append(_scalar_type(a[1].dtype))
            else:
                sig.append(_array_type(a[3], len(a[2])))
        if sig not in ck.signatures:
            ck.signatures.append(sig)

    def run(self, env):
        values = []
        for a in self.args:
            if a[0] == "buf":
                buf = env[a[1]]
                values.append(buf if tuple(buf.shape) == a[2] else buf.reshape(a[2]))
            else:
                values.append(a[1])
        grid = self.grid() if callable(self.grid) else self.grid
        self.ck.dispatcher()[grid, self.block](*values)

    def describe(self) -> str:
        shown = [str(a[1]) if a[0] != "buf" else f"b{a[1]}{'' if a[2] is None else list(a[2])}"
                 for a in self.args]
        return f"launch {self.ck.name}[{self.grid if not callable(self.grid) else 'auto'}, " \
               f"{self.block}]({', '.join(shown)})  # {self.comment}"


class _Alloc:
    def __init__(self, vid, shape, dtype):
        self.vid, self.shape, self.dtype = vid, _physical(shape), np.dtype(dtype)

    def run(self, env):
        env[self.vid] = runtime.empty(self.shape, self.dtype)

    def describe(self):
        return f"b{self.vid} = device_array({self.shape}, {self.dtype.name})"


class _Reshape:
    def __init__(self, out_id, in_id, shape):
        self.out_id, self.in_id, self.shape = out_id, in_id, _physical(shape)

    def run(self, env):
        env[self.out_id] = env[self.in_id].reshape(self.shape)

    def describe(self):
        return f"b{self.out_id} = b{self.in_id}.reshape({self.shape})"


class _LoopStep:
    """A scan or while loop: its host loop of the body program's launches (loops.py)."""

    def __init__(self, eq, runner):
        self.eq, self.runner = eq, runner
        self.literals = {}

    def operand(self, a, env):
        if isinstance(a, Var):
            return CudaArray(env[a.id], a.aval.shape)
        if id(a) not in self.literals:
            self.literals[id(a)] = host_to_cuda(a.value)
        return self.literals[id(a)]

    def run(self, env):
        outs = self.runner(*[self.operand(a, env) for a in self.eq.inputs])
        for v, o in zip(self.eq.outputs, outs):
            env[v.id] = o.data

    def describe(self):
        outs = ", ".join(f"b{v.id}" for v in self.eq.outputs)
        ins = ", ".join(f"b{a.id}" if isinstance(a, Var) else repr(a.value) for a in self.eq.inputs)
        return f"{outs} = {self.eq.primitive.name} loop on the host, body on the device({ins})"


class _DeviceCopy:
    """out (allocated) = a device-to-device copy of a buffer."""

    def __init__(self, out_id, in_id):
        self.out_id, self.in_id = out_id, in_id

    def run(self, env):
        env[self.out_id].copy_to_device(env[self.in_id])

    def describe(self):
        return f"b{self.out_id}[...] = b{self.in_id}  # device copy"


class _DeviceConstant:
    """A value known when the program is built, copied to the device on first use."""

    def __init__(self, vid, value):
        self.vid, self.value, self.device = vid, np.asarray(value), None

    def run(self, env):
        if self.device is None:
            self.device = host_to_cuda(self.value).data
        env[self.vid] = self.device

    def describe(self):
        return f"b{self.vid} = constant {self.value.dtype.name}{list(self.value.shape)} (copied once)"


class CudaProgram:
    """A planned CUDA program for one input signature (the CPU Program's interface)."""

    def __init__(self, plan: Plan, single_output: bool):
        self.plan = plan
        self.single_output = single_output
        self.compiled = False
        self.tpb = runtime.threads_per_block()
        self.tile = runtime.matmul_tile()
        self.steps: list = []
        self.loop_kernels: list = []  # the kernels of loop bodies' programs
        ir = plan.ir
        self.constants = [_DeviceConstant(v.id, c) for v, c in zip(ir.constvars, ir.consts)]
        for step in plan.steps:
            if isinstance(step, Kernel):
                self._kernel(step)
            elif isinstance(step, ViewStep):
                self._view(step.equation)
            else:
                self._library(step)
        launched = [s.ck for s in self.steps if isinstance(s, _Launch)] + self.loop_kernels
        self.kernels = list({id(ck): ck for ck in launched}.values())
        self.source = self._describe()

    @property
    def fn(self):
        return self.__call__

    # -- building --------------------------------------------------------------------
    def _operand_arg(self, a):
        """A buffer argument for an operand; a literal becomes a constant on the device."""
        if isinstance(a, Var):
            return self._buffer_arg(a)
        key = ("literal", len(self.constants))
        self.constants.append(_DeviceConstant(key, a.value))
        return ("buf", key, _physical(a.aval.shape), a.aval.dtype)

    def _buffer_arg(self, var, target=None):
        shape = _physical(var.aval.shape) if target is None else _physical(target)
        return ("buf", var.id, tuple(shape), var.aval.dtype)

    def _kernel(self, kernel: Kernel):
        ks = kernel_gen.CudaKernelSource(kernel, self.tpb)
        ck = compiled_kernel(ks.name, ks.source)
        args = [("int", int(n)) for n in ks.sizes]
        args += [("const", np.asarray(v, dt)[()]) for v, dt in ks.constants]
        for inp in kernel.inputs:
            target, _ = ks.input_layout(inp)
            args.append(self._buffer_arg(inp.buffer, target))
        for var in kernel.outputs:
            self.steps.append(_Alloc(var.id, var.aval.shape, var.aval.dtype))
            args.append(self._buffer_arg(var, ks.output_target(var)))
        kept = [ks.sizes[g] for g in range(len(ks.groups)) if g not in ks.reduced_groups]
        total, tpb = math.prod(ks.sizes), self.tpb
        if ks.full_reduction:
            blocks = max(1, min(runtime.full_reduction_blocks(), -(-total // tpb)))
            partials = ("partials", kernel.reduce_eq.outputs[0])
            pid = id(partials)
            self.steps.append(_Alloc(pid, (blocks,), kernel.reduce_eq.outputs[0].aval.dtype))
            args.append(("buf", pid, (blocks,), kernel.reduce_eq.outputs[0].aval.dtype))
            self.steps.append(_Launch(ck, args, blocks, tpb, f"{kernel.kind}, partials"))
            name, source = ks.partials_kernel()
            red = kernel.reduce_eq.outputs[0]
            self.steps.append(_Launch(compiled_kernel(name, source),
                                      [("int", blocks), ("buf", pid, (blocks,), red.aval.dtype),
                                       self._buffer_arg(red, (1,))], 1, tpb, "combine partials"))
            return
        if kernel.kind == "elementwise":
            grid = _lazy_blocks(total, tpb)
        else:  # a block per output element (row)
            grid = _lazy_rows(math.prod(kept))
        self.steps.append(_Launch(ck, args, grid, tpb, kernel.kind))

    def _view(self, eq):
        x, out = eq.inputs[0], eq.outputs[0]
        if views.is_reshape(eq):
            self.steps.append(_Reshape(out.id, x.id, out.aval.shape))
            return
        dynamic = eq.primitive.name == "dynamic_slice"
        name, source = (views.dynamic_slice_source if dynamic else views.copy_source)(eq)
        self.steps.append(_Alloc(out.id, out.aval.shape, out.aval.dtype))
        args = [("int", int(n)) for n in out.aval.shape] + [self._operand_arg(a) for a in eq.inputs]
        args.append(self._buffer_arg(out))
        self.steps.append(_Launch(compiled_kernel(name, source), args,
                                  _lazy_blocks(out.aval.size, self.tpb), self.tpb, eq.primitive.name))

    def _library(self, step):
        eq = step.equation
        if all(isinstance(a, Literal) for a in eq.inputs) and not eq.primitive.multiple_results:
            value = eq.primitive.impl(*[a.value for a in eq.inputs], **eq.params)
            self.constants.append(_DeviceConstant(eq.outputs[0].id, value))
            return
        name = eq.primitive.name
        if name in loops.COMPILERS:
            runner, kernels = loops.COMPILERS[name](
                step, lambda plan: CudaProgram(plan, single_output=False))
            self.steps.append(_LoopStep(eq, runner))
            self.loop_kernels += kernels
        elif name == "dot_general":
            self._dot(eq)
        elif name in ("argmax", "argmin"):
            kname, source = scans.arg_reduction_source(eq, self.tpb)
            self._element_kernel(eq, kname, source, (), eq.inputs,
                                 grid=_lazy_rows(max(1, eq.outputs[0].aval.size)))
        elif name in _CUMULATIVE:
            kname, source = scans.cumulative_source(eq)
            self._element_kernel(eq, kname, source, (), eq.inputs,
                                 grid=_lazy_blocks(_lines(eq), self.tpb))
        elif name in _ELEMENT_KERNELS:
            make, operands, extent, copy_first = _ELEMENT_KERNELS[name]
            kname, source = make(eq)
            self._element_kernel(eq, kname, source, extent(eq), operands(eq),
                                 copy_from=eq.inputs[0] if copy_first else None)
        else:
            raise NbadNotImplementedError(
                f"the CUDA backend cannot run primitive {name} yet (the device runs fused "
                "elementwise/reduction kernels, views, dot_general, loops and cond, and "
                f"{', '.join(sorted(_ELEMENT_KERNELS) + list(_CUMULATIVE))}, argmax, argmin); "
                "use the CPU backend "
                "(jit(f, backend=\"cpu\")) for this function")

    def _dot(self, eq):
        kname, source = matmul.matmul_source(eq, self.tile)
        b, m, n, k = matmul.product_shape(eq)
        out = eq.outputs[0]
        self.steps.append(_Alloc(out.id, out.aval.shape, out.aval.dtype))
        grid, block = matmul.grid(eq, self.tile)
        args = [("int", b), ("int", m), ("int", n), ("int", k)]
        args += [self._operand_arg(a) for a in eq.inputs] + [self._buffer_arg(out, (b, m, n))]
        self.steps.append(_Launch(compiled_kernel(kname, source), args, grid, block, "dot_general"))

    def _element_kernel(self, eq, kname, source, extent, operands, copy_from=None, grid=None):
        """A kernel taking the sizes of `extent` (the shape its threads stride over), the
        operands and the result (first a copy of `copy_from`, for scatters and updates)."""
        out = eq.outputs[0]
        self.steps.append(_Alloc(out.id, out.aval.shape, out.aval.dtype))
        if copy_from is not None:
            self.steps.append(_DeviceCopy(out.id, self._operand_arg(copy_from)[1]))
        args = [("int", int(n)) for n in extent] + [self._operand_arg(a) for a in operands]
        args.append(self._buffer_arg(out))
        size = math.prod(extent)
        self.steps.append(_Launch(compiled_kernel(kname, source), args,
                                  grid or _lazy_blocks(max(1, size), self.tpb), self.tpb,
                                  eq.primitive.name))

    def _describe(self) -> str:
        ir = self.plan.ir
        lines = [f"# CUDA program {ir.name}: inputs {', '.join(f'b{v.id}' for v in ir.inputs)}"]
        lines += [c.describe() for c in self.constants]
        lines += [s.describe() for s in self.steps]
        lines.append("return " + ", ".join(f"b{a.id}" if isinstance(a, Var) else repr(a.value)
                                           for a in ir.outputs))
        return "\n".join(lines) + "\n"

    # -- running ---------------------------------------------------------------------
    def __call__(self, *args):
        runtime.require_device()
        ir = self.plan.ir
        env: dict = {}
        given: dict = {}
        for v, a in zip(ir.inputs, args):
            arr = a if isinstance(a, CudaArray) else host_to_cuda(np.asarray(a, v.aval.dtype))
            given[v.id] = arr
            env[v.id] = arr.data
        for c in self.constants:
            c.run(env)
        try:
            for step in self.steps:
                step.run(env)
        except Exception as e:
            if self.compiled or not _is_numba_error(e):
                raise
            raise NbadCompileError(
                f"numba-cuda failed to compile a kernel nbad generated for:\n{ir}\n"
                f"Program:\n{self.source}\nNumba said: {e}\n"
                "This is a bug in nbad; please report it with the code above.") from None
        self.compiled = True
        outs = []
        for a in ir.outputs:
            if isinstance(a, Literal):
                outs.append(host_to_cuda(a.value))
            elif a.id in given:
                outs.append(given[a.id])
            else:
                outs.append(CudaArray(env[a.id], a.aval.shape))
        if self.single_output:
            return outs[0]
        return tuple(outs)

    def ptx(self, cc=(8, 0)) -> dict:
        return {ck.name: ck.ptx(cc) for ck in self.kernels}


def _lines(eq) -> int:
    """The number of lines along a cumulative scan's axis (one thread each)."""
    shape, axis = eq.inputs[0].aval.shape, eq.params["axis"]
    return max(1, math.prod(shape) // max(1, shape[axis]))


# library primitive -> (kernel source, its operands, the shape its threads stride
# over, whether the result starts as a copy of operand 0); see _element_kernel
_ELEMENT_KERNELS = {
    "concatenate": (views.concatenate_source, lambda eq: eq.inputs,
                    lambda eq: eq.outputs[0].aval.shape, False),
    "pad": (views.pad_source, lambda eq: eq.inputs, lambda eq: eq.outputs[0].aval.shape, False),
    "dynamic_update_slice": (views.dynamic_update_source, lambda eq: eq.inputs[1:],
                             lambda eq: eq.inputs[1].aval.shape, True),
    "gather": (indexing.gather_source, lambda eq: eq.inputs, lambda eq: eq.outputs[0].aval.shape,
               False),
    "scatter_add": (indexing.scatter_source, lambda eq: eq.inputs[1:],
                    lambda eq: eq.inputs[1].aval.shape, True),
    "scatter": (indexing.scatter_source, lambda eq: eq.inputs[1:],
                lambda eq: eq.inputs[1].aval.shape, True),
}
_CUMULATIVE = ("cumsum", "cumprod", "cummax", "cummin")


def _is_numba_error(e) -> bool:
    import numba

    return isinstance(e, numba.core.errors.NumbaError)


def _lazy_blocks(n: int, tpb: int):
    """A grid-stride launch's blocks, from the device's properties (read at first run)."""
    return lambda: runtime.blocks_for(n, tpb)


def _lazy_rows(rows: int):
    return lambda: max(1, min(rows, runtime.max_blocks() * 4))


def build_program(plan: Plan, single_output: bool = False) -> CudaProgram:
    return CudaProgram(plan, single_output)
