"""The public transformations: jit, make_ir (grad, vmap ... come in later issues).

One call of a jitted function, top to bottom:

    JitFunction.__call__   fast path: positional NumPy arrays only -> key of
                           (shape, dtype) per argument -> one dict lookup ->
                           the compiled driver (no tracing, no flattening)
    _call_general          static args, pytrees, Python scalars, kwargs
      -> _compile          trace (core/trace.py) -> the compile pipeline
                           (compile/pipeline.py: prepare, plan, the platform's
                           backend builds the program); cached per (static args, tree
                           structure, avals)
    called under another transformation (tracer arguments): the traced IR is
    evaluated by binding its equations, so the enclosing trace records them.
"""
from __future__ import annotations

import collections
import functools
import inspect
import threading
import time
import uuid
import weakref

import numpy as np

from nbad import cache as _disk_cache
from nbad.config import _ON_UPDATE
from nbad import tree_util
from nbad.backends import compile_backend
from nbad.backends.cuda.array import CudaArray
from nbad.compile import fusion, pipeline
from nbad.core.array import Array
from nbad.core.avals import aval_of_value
from nbad.core.ir import IR
from nbad.core.trace import Tracer, eval_ir, trace_to_ir
from nbad.errors import NbadOverflowError, NbadTypeError, NbadValueError
from nbad.transforms.simplify import simplify

_ndarray = np.ndarray
# Scalar arguments the fast path passes as 0-d arrays (np.asarray gives each its
# aval's dtype): indices and parameters are often Python ints and floats.
_FAST_SCALARS = frozenset({int, float, bool, np.int64, np.int32, np.float64, np.float32, np.bool_})
_INT64 = (-(1 << 63), 1 << 63)


def _num_threads() -> int:
    from nbad.backends.cpu import threads

    return threads.num_threads()


def _normalize_argnums(argnums, fn_name, what="static_argnums"):
    if argnums is None:
        return ()
    if isinstance(argnums, int):
        argnums = (argnums,)
    out = []
    for a in argnums:
        if not isinstance(a, int):
            raise NbadTypeError(f"{what} of jit({fn_name}) must be ints, got {a!r}")
        out.append(a)
    return tuple(out)


class _Signature:
    """Maps static_argnames <-> static_argnums through the function's signature."""

    def __init__(self, fun):
        try:
            self.params = list(inspect.signature(fun).parameters.values())
            self.known = True
        except (TypeError, ValueError):
            self.params = []
            self.known = False

    def check(self, nums, names, fn_name):
        """JAX's checks at jit(): argnums within the positional parameters, argnames
        among the parameters (unless *args / **kwargs take anything)."""
        if not self.known:
            return
        kinds = {p.kind for p in self.params}
        P = inspect.Parameter
        if P.VAR_POSITIONAL not in kinds:
            n_pos = sum(p.kind in (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD) for p in self.params)
            bad = [n for n in nums if not -n_pos <= n < n_pos]
            if bad:
                raise NbadValueError(
                    f"jit({fn_name}) has static_argnums={tuple(nums)}, but {fn_name} only accepts "
                    f"{n_pos} positional argument{'s' if n_pos != 1 else ''}.")
        if P.VAR_KEYWORD not in kinds:
            known = {p.name for p in self.params if p.kind != P.POSITIONAL_ONLY}
            bad = sorted(set(names) - known)
            if bad:
                raise NbadValueError(
                    f"jit({fn_name}) has invalid argnames {bad} in static_argnames: {fn_name} does "
                    f"not take these arguments (its parameters: {[p.name for p in self.params]}).")

    def positions_of(self, names):
        pos = {p.name: i for i, p in enumerate(self.params)
               if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)}
        return tuple(pos[n] for n in names if n in pos)

    def names_of(self, nums):
        out = []
        for n in nums:
            if 0 <= n < len(self.params) and self.params[n].kind == self.params[n].POSITIONAL_OR_KEYWORD:
                out.append(self.params[n].name)
        return tuple(out)


# -- pickling by recipe ------------------------------------------------------------------
# A jitted function pickles as (jit, its function, its options) and an id given when it is
# first pickled, never with compiled state: cloudpickle (Dask's serialiser) ships
# `jit(vmap(grad(f)))` to a worker by reference to f (by value for closures and lambdas,
# whose cells hold no compiled state either: grad and vmap return plain functions, as JAX's
# do). A process that unpickles the same id again gets the object it rebuilt the first time,
# with its compiled programs: a Dask worker does not trace a program again for every task.
_MAX_REBUILT = 256  # jitted functions kept per process by id, least recently used dropped
_rebuilt: "collections.OrderedDict[str, JitFunction]" = collections.OrderedDict()
_rebuilt_lock = threading.Lock()


def _recipe_id(jf) -> str:
    uid = jf.__dict__.get("_recipe_id")
    if uid is None:
        uid = jf.__dict__["_recipe_id"] = uuid.uuid4().hex
    return uid


def _rebuild_jit(uid, fun, options):
    with _rebuilt_lock:
        jf = _rebuilt.get(uid)
        if jf is not None:
            _rebuilt.move_to_end(uid)
            return jf
    jf = jit(fun, **options)
    jf.__dict__["_recipe_id"] = uid  # pickled again from here, it keeps its id
    with _rebuilt_lock:
        jf = _rebuilt.setdefault(uid, jf)
        while len(_rebuilt) > _MAX_REBUILT:
            _rebuilt.popitem(last=False)
    return jf


_programs_compiled = 0  # programs this process traced and planned for jit (kernels may come from disk)


def programs_compiled() -> int:
    """How many programs jit has compiled in this process (a worker's count, for Dask tests)."""
    return _programs_compiled


class _Compiled:
    """One compiled program with the tree structure of its outputs."""

    __slots__ = ("program", "out_tree", "single", "ir", "compile_seconds")

    def __init__(self, program, out_tree, ir, compile_seconds):
        self.program = program
        self.out_tree = out_tree
        self.single = out_tree.num_leaves == 1 and tree_util.treedef_is_leaf(out_tree)
        self.ir = ir
        self.compile_seconds = compile_seconds

    def __call__(self, *leaves):
        outs = self.program(*leaves)
        if self.single:
            return outs
        return tree_util.tree_unflatten(self.out_tree, outs)


class JitFunction:
    """`nbad.jit(f)`: f traced once per (static args, structure, shapes, dtypes),
    compiled to fused Numba kernels, and called directly afterwards."""

    def __init__(self, fun, static_argnums=(), static_argnames=(), donate_argnums=None,
                 donate_argnames=None, **options):
        check_callable(fun, "nbad.jit")
        _check_jit_options(options)
        functools.update_wrapper(self, fun)
        self._fun = fun
        self._options = dict(static_argnums=static_argnums, static_argnames=static_argnames,
                             donate_argnums=donate_argnums, donate_argnames=donate_argnames, **options)
        self._name = getattr(fun, "__name__", "fn")
        nums = _normalize_argnums(static_argnums, self._name)
        if isinstance(static_argnames, str):
            static_argnames = (static_argnames,)
        names = tuple(static_argnames or ())
        if nums or names:  # the signature maps them (reading it is most of creating a jit)
            sig = _Signature(fun)
            sig.check(nums, names, self._name)
            nums, names = set(nums) | set(sig.positions_of(names)), set(names) | set(sig.names_of(nums))
        self._static_argnums = tuple(sorted(nums))
        self._static_argnames = tuple(sorted(names))
        self._simple = not self._static_argnums and not self._static_argnames
        self._backend = _backend_option(options)  # None: the default platform, read per call
        # Shared by every jit of this function with these static arguments, thread count
        # and backend (JAX's cache belongs to the function too): jit(f) created anew finds
        # f compiled; after config.update("num_threads", n) a new jit plans for n threads.
        #   _fast:     (shape, dtype, ...) -> compiled callable
        #   _cache:    (statics, in_tree, avals, platform) -> _Compiled
        #   _ir_cache: same key -> (IR, out_tree), for calls under a trace
        self._fast, self._cache, self._ir_cache = _function_caches(
            fun, (self._static_argnums, self._static_argnames, _num_threads(), self._backend))
        self.trace_count = 0  # traces this wrapper made
        _LIVE.add(self)

    # -- calling ------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        if not kwargs and self._simple:
            if len(args) == 1:  # the commonest call, without building a list
                a = args[0]
                t = type(a)
                if t is _ndarray or t is Array:
                    entry = self._fast.get((a.shape, a.dtype))
                    if entry is not None:
                        return entry(a)
                return self._call_general(args, kwargs)
            key, scalars = [], False
            for a in args:
                t = type(a)
                if t is _ndarray or t is Array:
                    key.append(a.shape)
                    key.append(a.dtype)
                elif t in _FAST_SCALARS and (t is not int or _INT64[0] <= a < _INT64[1]):
                    key.append(t)
                    scalars = True
                else:
                    break
            else:
                entry = self._fast.get(tuple(key))
                if entry is not None:
                    return entry(*[np.asarray(a) for a in args]) if scalars else entry(*args)
        return self._call_general(args, kwargs)

    def _split(self, args, kwargs):
        """(static key, dynamic args, dynamic kwargs) with hashability checked."""
        n = len(args)
        static_pos = []
        for i in self._static_argnums:
            # jit() checked them against the signature; beyond this call's arguments (passed
            # by keyword, or a shorter *args) they do not apply, as in JAX.
            j = i + n if i < 0 else i
            if 0 <= j < n:
                static_pos.append(j)
        static_pos = sorted(set(static_pos))
        statics = []
        for j in static_pos:
            statics.append(("pos", j, _static_key(args[j], f"positional argument {j}", self._name)))
        for name in self._static_argnames:
            if name in kwargs:
                statics.append(("kw", name, _static_key(kwargs[name], f"argument '{name}'", self._name)))
        dyn_args = tuple(a for j, a in enumerate(args) if j not in static_pos)
        dyn_kwargs = {k: v for k, v in kwargs.items() if k not in self._static_argnames}
        return tuple(statics), static_pos, dyn_args, dyn_kwargs

    def _call_general(self, args, kwargs):
        statics, static_pos, dyn_args, dyn_kwargs = self._split(args, kwargs)
        leaves, in_tree = tree_util.tree_flatten((dyn_args, dyn_kwargs))
        if any(isinstance(x, Tracer) for x in leaves):
            return self._call_traced(args, kwargs, statics, static_pos, leaves, in_tree)
        try:
            avals = tuple(_leaf_aval(x, self._name) for x in leaves)
        except NbadOverflowError as e:
            raise NbadOverflowError(f"jit({self._name}): {self._argument_of_leaf(args, kwargs)}: "
                                    f"{e}") from None
        backend = self._backend or _default_platform()
        key = (statics, in_tree, avals, backend)
        compiled = self._cache.get(key)
        if compiled is None:
            compiled = self._compile(args, kwargs, static_pos, in_tree, avals, backend)
            self._cache[key] = compiled
        device_ok = CudaArray if backend == "cuda" else _ndarray  # device arrays stay where they are
        arrays = [x if type(x) in (_ndarray, Array, device_ok) else np.asarray(x, dtype=a.dtype)
                  for x, a in zip(leaves, avals)]
        if compiled.program.compiled or backend != "cpu":  # (the disk cache holds CPU programs)
            out = compiled(*arrays)
        else:  # first call: compiles (or loads) the kernels; recorded in the disk cache
            out = _disk_cache.first_call(self._fun, avals, compiled, arrays)
        if (self._simple and not kwargs
                and all(type(a) in (_ndarray, Array) or type(a) in _FAST_SCALARS for a in args)):
            fast_key = tuple(v for a in args
                             for v in ((type(a),) if type(a) in _FAST_SCALARS else (a.shape, a.dtype)))
            self._fast[fast_key] = _fast_entry(compiled)
        return out

    def _argument_of_leaf(self, args, kwargs) -> str:
        """Which argument holds the first Python int beyond int64 (for the message)."""
        names = [p.name for p in _Signature(self._fun).params]
        for i, a in enumerate(args):
            if any(map(_beyond_int64, tree_util.tree_leaves(a))):
                return f"argument {names[i]!r}" if i < len(names) else f"positional argument {i}"
        for k, v in kwargs.items():
            if any(map(_beyond_int64, tree_util.tree_leaves(v))):
                return f"argument {k!r}"
        return "an argument"

    # -- tracing and compiling -------------------------------------------------------
    def _flat_fun(self, args, kwargs, static_pos, in_tree, out_store):
        fun = self._fun

        def flat_fun(*leaves):
            dyn_args, dyn_kwargs = tree_util.tree_unflatten(in_tree, list(leaves))
            it = iter(dyn_args)
            full_args = [args[j] if j in static_pos else next(it) for j in range(len(args))]
            full_kwargs = {k: (kwargs[k] if k in self._static_argnames else dyn_kwargs[k])
                           for k in kwargs}
            out = fun(*full_args, **full_kwargs)
            out_leaves, out_tree = tree_util.tree_flatten(out)
            for x in out_leaves:
                if not isinstance(x, (Tracer, np.ndarray, np.generic, bool, int, float, complex)):
                    raise NbadTypeError(
                        f"jit({self._name}) returned a value of type {type(x).__name__}; "
                        "jitted functions must return arrays, scalars or pytrees of them")
            out_store.append(out_tree)
            return out_leaves

        return flat_fun

    def _trace(self, args, kwargs, static_pos, in_tree, avals) -> tuple[IR, object]:
        store: list = []
        self.trace_count += 1
        ir = trace_to_ir(self._flat_fun(args, kwargs, static_pos, in_tree, store), list(avals),
                         name=self._name, trace_name=f"jit({self._name})")
        return ir, store[0]

    def _compile(self, args, kwargs, static_pos, in_tree, avals, backend="cpu") -> _Compiled:
        from nbad.config import log

        global _programs_compiled
        _programs_compiled += 1
        start = time.perf_counter()
        ir, out_tree = self._trace(args, kwargs, static_pos, in_tree, avals)
        single = out_tree.num_leaves == 1 and tree_util.treedef_is_leaf(out_tree)
        program, ir, plan = pipeline.compile_program(ir, compile_backend(backend), single_output=single)
        log(1, f"nbad.jit({self._name}) compiled:\n{ir}")
        log(2, fusion.explain(plan))
        log(3, program.source)
        return _Compiled(program, out_tree, ir, time.perf_counter() - start)

    def _call_traced(self, args, kwargs, statics, static_pos, leaves, in_tree):
        avals = tuple(x.aval if isinstance(x, Tracer) else _leaf_aval(x, self._name) for x in leaves)
        key = (statics, in_tree, avals)
        cached = self._ir_cache.get(key)
        if cached is None:
            ir, out_tree = self._trace(args, kwargs, static_pos, in_tree, avals)
            cached = (simplify(ir), out_tree)
            if not any(isinstance(c, Tracer) for c in ir.consts):
                self._ir_cache[key] = cached
        ir, out_tree = cached
        outs = eval_ir(ir, leaves)
        return tree_util.tree_unflatten(out_tree, outs)

    # -- inspection -------------------------------------------------------------------
    def lower(self, *args, **kwargs) -> "Lowered":
        statics, static_pos, dyn_args, dyn_kwargs = self._split(args, kwargs)
        leaves, in_tree = tree_util.tree_flatten((dyn_args, dyn_kwargs))
        avals = tuple(_leaf_aval(x, self._name) for x in leaves)
        backend = self._backend or _default_platform()
        key = (statics, in_tree, avals, backend)
        compiled = self._cache.get(key)
        if compiled is None:
            compiled = self._cache[key] = self._compile(args, kwargs, static_pos, in_tree, avals,
                                                        backend)
        return Lowered(compiled)

    def __repr__(self):
        return f"<nbad.jit of {self._name}>"

    def __reduce__(self):
        # By recipe, never with compiled state (nbad/transformation.py): the receiving
        # process compiles on first use or loads the kernels from its disk cache.
        return (_rebuild_jit, (_recipe_id(self), self._fun, self._options))

    def __dask_tokenize__(self):
        return ("nbad.jit", _recipe_id(self))

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return functools.partial(self, obj)


_FUNCTION_CACHES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _function_caches(fun, static_config) -> tuple[dict, dict, dict]:
    """The compiled programs of `fun` for one choice of static arguments, kept
    while `fun` lives. A callable that cannot be weakly referenced gets its own."""
    try:
        per_config = _FUNCTION_CACHES.get(fun)
        if per_config is None:
            per_config = _FUNCTION_CACHES[fun] = {}
    except TypeError:
        return {}, {}, {}
    caches = per_config.get(static_config)
    if caches is None:
        caches = per_config[static_config] = ({}, {}, {})
    return caches


# jax.jit's other keywords: accepted; all but backend/device are ignored.
_IGNORED_JIT_OPTIONS = frozenset({"in_shardings", "out_shardings", "keep_unused", "device", "backend",
                                  "inline", "abstracted_axes", "compiler_options"})
_LIVE = weakref.WeakSet()  # every JitFunction, so that a change of the default platform reaches them


def _backend_option(options):
    """The platform jit(backend=..., device=...) names, or None (the default platform)."""
    from nbad.backends import canonical_platform

    backend, device = options.get("backend"), options.get("device")
    if device is not None:
        platform = getattr(device, "platform", None)
        if platform is None:
            raise NbadTypeError(f"jit(device=...) takes a device from nbad.devices(), got {device!r}")
        if backend is not None and canonical_platform(backend) != platform:
            raise NbadValueError(f"jit got backend={backend!r} and a device of platform {platform!r}")
        return platform
    return None if backend is None else canonical_platform(backend)


def _default_platform() -> str:
    from nbad.config import config

    return config.platform


def platform_changed():
    """The default platform changed: calls of functions following it re-plan (their
    fast-path entries, keyed by shapes only, belong to the old platform)."""
    for jf in list(_LIVE):
        if jf._backend is None:
            jf._fast.clear()


_ON_UPDATE.setdefault("platform", []).append(platform_changed)


def _check_jit_options(options):
    for name in options:
        if name not in _IGNORED_JIT_OPTIONS:
            raise NbadTypeError(f"jit() got an unexpected keyword argument '{name}'")


def check_callable(fun, api):
    """JAX's check when a transformation is created: fun must be callable."""
    if not callable(fun):
        raise NbadTypeError(f"{api}: expected a callable value, got {fun!r:.60} "
                            f"(of type {type(fun).__name__})")


def _beyond_int64(x) -> bool:
    return type(x) is int and not -(1 << 63) <= x < (1 << 63)


def _fast_entry(compiled: _Compiled):
    """What the fast path calls: the driver itself when it returns the result as is."""
    if compiled.single and compiled.program.compiled:
        return compiled.program.fn
    return compiled


def _static_key(value, what, fn_name):
    """A static argument's part of the cache key: its value and its type, so that
    arguments that compare equal but trace differently (True, 1, 1.0) get programs
    of their own, as in JAX."""
    try:
        hash(value)
    except TypeError:
        raise NbadValueError(
            f"Non-hashable static arguments are not supported: {what} of jit({fn_name}) is a "
            f"{type(value).__name__} ({value!r:.60}). Static arguments are part of the "
            "compilation cache key, so they must be hashable: pass a tuple instead of a list, "
            "or make the argument non-static (an array)."
        ) from None
    return _typed(value)


def _typed(value):
    if type(value) is tuple:
        return (tuple, tuple(_typed(v) for v in value))
    return (type(value), value)


def _leaf_aval(x, fn_name):
    if type(x) is CudaArray:
        from nbad.core.avals import ShapedArray

        return ShapedArray(x.shape, x.dtype)
    try:
        return aval_of_value(x)
    except NbadTypeError as e:
        if isinstance(x, (np.ndarray, np.generic)):
            raise NbadTypeError(f"jit({fn_name}): {e}") from None
        raise NbadTypeError(
            f"jit({fn_name}): argument of type {type(x).__name__} ({x!r:.60}) is not a valid "
            "array argument. Pass arrays, scalars or pytrees of them, or mark the argument "
            "static with static_argnums/static_argnames."
        ) from None


class Lowered:
    """What jit compiled for one signature: `.ir`, `.kernels`, `.source`."""

    def __init__(self, compiled: _Compiled):
        self._compiled = compiled
        self.ir = compiled.ir
        self.plan = compiled.program.plan
        self.kernels = compiled.program.kernels
        self.driver_source = compiled.program.source
        self.compile_seconds = compiled.compile_seconds

    @property
    def source(self) -> str:
        parts = [f"# driver\n{self.driver_source}"]
        seen = set()
        for k in self.kernels:
            if k.name not in seen:
                seen.add(k.name)
                parts.append(f"# kernel {k.name}\n{k.module_source()}")
        return "\n".join(parts)

    @property
    def ptx(self) -> dict:
        """CUDA programs: kernel name -> PTX (for sm_80; `ptx_for(cc)` for others)."""
        return self.ptx_for((8, 0))

    def ptx_for(self, cc) -> dict:
        program = self._compiled.program
        if not hasattr(program, "ptx"):
            raise NbadValueError("lower().ptx exists for CUDA programs: jit(f, backend=\"cuda\")")
        return program.ptx(cc)

    @property
    def fusion_notes(self) -> str:
        return fusion.explain(self.plan)

    def compile(self):
        return self._compiled


def jit(fun=None, *, static_argnums=(), static_argnames=(), donate_argnums=None,
        donate_argnames=None, **kwargs):
    """Compile `fun` with nbad (also usable as a decorator, with or without options)."""
    if fun is None:
        _check_jit_options(kwargs)
        return functools.partial(jit, static_argnums=static_argnums, static_argnames=static_argnames,
                                 donate_argnums=donate_argnums, donate_argnames=donate_argnames, **kwargs)
    return JitFunction(fun, static_argnums, static_argnames, donate_argnums, donate_argnames, **kwargs)


def make_ir(fun, static_argnums=(), static_argnames=()):
    """`nbad.make_ir(f)(*args)`: the IR nbad traces for these arguments (printable)."""
    jf = JitFunction(fun, static_argnums, static_argnames)

    @functools.wraps(fun)
    def make(*args, **kwargs):
        statics, static_pos, dyn_args, dyn_kwargs = jf._split(args, kwargs)
        leaves, in_tree = tree_util.tree_flatten((dyn_args, dyn_kwargs))
        avals = tuple(x.aval if isinstance(x, Tracer) else _leaf_aval(x, jf._name) for x in leaves)
        ir, _ = jf._trace(args, kwargs, static_pos, in_tree, avals)
        return simplify(ir)

    return make


class ShapeDtypeStruct:
    """A shape and a dtype standing in for an array (JAX's jax.ShapeDtypeStruct)."""

    __slots__ = ("shape", "dtype")

    def __init__(self, shape, dtype):
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return int(np.prod(self.shape, dtype=np.int64))

    def __eq__(self, other):
        return isinstance(other, ShapeDtypeStruct) and (self.shape, self.dtype) == (other.shape, other.dtype)

    def __hash__(self):
        return hash((self.shape, self.dtype))

    def __repr__(self):
        return f"ShapeDtypeStruct(shape={self.shape}, dtype={self.dtype.name})"


def _stand_in(x):
    """An argument of eval_shape as a value to trace: arrays as they are; a
    ShapeDtypeStruct (or anything with .shape and .dtype) as a zero-strided view."""
    if isinstance(x, (np.ndarray, np.generic, Tracer)) or not (hasattr(x, "shape") and hasattr(x, "dtype")):
        return x
    return np.broadcast_to(np.zeros((), np.dtype(x.dtype)), tuple(x.shape))


def eval_shape(fun, *args, **kwargs):
    """The shapes and dtypes of fun(*args, **kwargs), as a pytree of ShapeDtypeStruct,
    found by tracing only: nothing is computed or compiled (JAX's jax.eval_shape)."""
    if not callable(fun):
        raise NbadTypeError(f"eval_shape expects a callable, got {type(fun).__name__}")
    jf = JitFunction(fun)
    args, kwargs = tree_util.tree_map(_stand_in, (args, kwargs))
    _, _, dyn_args, dyn_kwargs = jf._split(args, kwargs)
    leaves, in_tree = tree_util.tree_flatten((dyn_args, dyn_kwargs))
    avals = tuple(x.aval if isinstance(x, Tracer) else _leaf_aval(x, jf._name) for x in leaves)
    ir, out_tree = jf._trace(args, kwargs, [], in_tree, avals)
    return tree_util.tree_unflatten(out_tree, [ShapeDtypeStruct(a.shape, a.dtype) for a in ir.out_avals])
