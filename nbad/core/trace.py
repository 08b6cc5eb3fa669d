"""Tracing: the trace stack, tracers, primitive binding, and IR evaluation.

Every transformation opens a trace *level*. `bind(prim, *args)` hands the
operation to the highest-level trace among its tracer arguments; with no
tracer it runs eagerly through the primitive's NumPy `impl`. Evaluating an IR
(`eval_ir`) binds its equations again, so an enclosing transformation records
what an inner one evaluates: this is what makes `jit(grad(f))` and
`grad(jit(f))` compose (DESIGN §5).

An `IRTrace` records equations. Its tracers always carry an aval; when the
trace is *concrete* (eager transformations, outside jit) they also carry the
value computed by `impl` as tracing goes, so Python control flow on values
works. Under jit tracers are abstract and converting them to Python values
raises ConcretizationError.
"""
from __future__ import annotations

import threading

import numpy as np

from nbad.core.avals import ShapedArray, aval_of_value
from nbad.core.ir import IR, Equation, Literal, Var
from nbad.errors import (
    ConcretizationError,
    InPlaceUpdateError,
    TracerArrayConversionError,
    TracerIntegerConversionError,
    UnexpectedTracerError,
    concretization_message,
)


class _TraceState(threading.local):
    def __init__(self):
        self.stack: list["Trace"] = []
        self.open_traces = 0  # as stack, but not emptied by `eager`
        # id(captured array) -> (array, its copy), while any trace is open: every
        # trace of one transformation sees one snapshot, so a constant stays one
        # constvar through nested traces (and rerolled loop bodies stay equal).
        self.snapshots: dict[int, tuple] = {}


_state = _TraceState()


class Trace:
    def __init__(self, level: int, name: str):
        self.level = level
        self.name = name
        self.alive = True

    def process_primitive(self, prim, args, params):  # pragma: no cover - abstract
        raise NotImplementedError


class Tracer:
    """A traced array value. Operators and methods are installed by nbad.numpy."""

    __slots__ = ("_trace", "aval", "_var", "value", "__weakref__")
    __array_priority__ = 1000

    def __init__(self, trace: "IRTrace", aval: ShapedArray, var: Var, value=None):
        # Underscored: `trace` and `var` are NumPy array methods installed on Tracer.
        self._trace = trace
        self.aval = aval
        self._var = var
        self.value = value

    # -- what Python and NumPy ask of an array ---------------------------------
    shape = property(lambda self: self.aval.shape)
    ndim = property(lambda self: self.aval.ndim)
    size = property(lambda self: self.aval.size)
    dtype = property(lambda self: self.aval.dtype)
    weak_type = property(lambda self: self.aval.weak_type)

    def _concrete(self, what: str):
        if self.value is None:
            cls = TracerIntegerConversionError if what in ("int()", "index") else ConcretizationError
            raise cls(concretization_message(what, self.aval.str_short(), self._trace.name))
        return self.value

    def __bool__(self):
        return bool(self._concrete("bool()"))

    def __float__(self):
        return float(self._concrete("float()"))

    def __int__(self):
        return int(self._concrete("int()"))

    def __complex__(self):
        return complex(self._concrete("complex()"))

    def __index__(self):
        return int(np.asarray(self._concrete("index")).__index__())

    def __array__(self, dtype=None, copy=None):
        raise TracerArrayConversionError(
            f"The numpy.ndarray conversion method __array__() was called on a traced array "
            f"with shape/dtype {self.aval.str_short()}.\n"
            "A traced value only exists while nbad traces the function (under jit, grad, vmap): "
            "plain NumPy functions cannot see it. Use nbad.numpy (import nbad.numpy as jnp) "
            "instead of numpy inside transformed functions."
        )

    def __len__(self):
        if not self.aval.shape:
            raise TypeError("len() of unsized object (a 0-d traced array)")
        return self.aval.shape[0]

    def __iter__(self):
        if not self.aval.shape:
            raise TypeError("iteration over a 0-d traced array")
        return (self[i] for i in range(self.aval.shape[0]))

    def __setitem__(self, index, value):
        raise InPlaceUpdateError(
            "nbad arrays are immutable: `x[idx] = y` is not supported on a traced array "
            f"({self.aval.str_short()}). Use the functional form x = x.at[idx].set(y) "
            "(or .add, .multiply, .divide, .power, .min, .max)."
        )

    __hash__ = None  # arrays are unhashable, as in JAX and NumPy

    def __repr__(self):
        kind = "Concrete" if self.value is not None else "Traced"
        return f"{kind}Tracer<{self.aval.str_short()}>({self._trace.name})"


class IRTrace(Trace):
    """Records the primitives applied to its tracers as IR equations."""

    def __init__(self, level: int, concrete: bool, name: str = "trace"):
        super().__init__(level, name)
        self.concrete = concrete
        self.equations: list[Equation] = []
        self.constvars: list[Var] = []
        self.consts: list = []
        self._const_ids: dict[int, Var] = {}
        self._const_sources: list = []
        self.values: dict[int, object] = {}  # var id -> concrete value (concrete traces)

    def new_input(self, aval: ShapedArray, value=None) -> Tracer:
        tracer = Tracer(self, aval, Var(aval), value)
        if value is not None:
            self.values[tracer._var.id] = value
        return tracer

    def instantiate(self, x):
        """The IR atom for an operand: a Var of this trace, a Literal, or a constvar."""
        if isinstance(x, Tracer):
            if x._trace is self:
                return x._var
            return self._constvar(x, x.aval)
        if isinstance(x, Literal):
            return x
        aval = aval_of_value(x)
        if aval.shape == ():
            return Literal(x, aval)
        return self._constvar(x, aval)

    def _constvar(self, x, aval) -> Var:
        var = self._const_ids.get(id(x))
        if var is None:
            var = Var(aval.strip_weak() if not isinstance(x, Tracer) else aval)
            self._const_ids[id(x)] = var
            self._const_sources.append(x)  # alive while traced, so its id is not reused
            self.constvars.append(var)
            self.consts.append(_snapshot(x))
        return var

    def _value_of(self, x):
        if isinstance(x, Tracer):
            return x.value
        return x

    def process_primitive(self, prim, args, params):
        atoms = [self.instantiate(a) for a in args]
        out_avals = prim.abstract_eval(*[a.aval for a in atoms], **params)
        values = None
        if self.concrete:
            in_values = [self._value_of(a) for a in args]
            if all(v is not None for v in in_values):
                values = prim.impl(*in_values, **params)
        if not prim.multiple_results:
            out_avals, values = [out_avals], (None if values is None else [values])
        outs = [Var(aval) for aval in out_avals]
        self.equations.append(Equation(prim, atoms, outs, params))
        tracers = [
            Tracer(self, var.aval, var, None if values is None else _as_array(val, var.aval))
            for var, val in zip(outs, values or [None] * len(outs))
        ]
        if values is not None:
            for t in tracers:
                self.values[t._var.id] = t.value
        return tracers if prim.multiple_results else tracers[0]

    def to_ir(self, inputs: list[Tracer], outputs: list, name: str = "f") -> IR:
        out_atoms = [self.instantiate(o) for o in outputs]
        return IR([t._var for t in inputs], self.equations, out_atoms,
                  self.constvars, self.consts, name=name)


def _snapshot(x):
    """A captured NumPy array as it is now: the program keeps the values seen at
    trace time, as JAX does, so writing to a global array later cannot change
    what a compiled function computes (nbad Arrays are immutable already)."""
    from nbad.core.array import Array

    if not isinstance(x, np.ndarray) or type(x) is Array:
        return x
    known = _state.snapshots.get(id(x))
    if known is not None and known[0] is x:
        return known[1]
    copy = np.array(x)
    _state.snapshots[id(x)] = (x, copy)
    return copy


def _as_array(value, aval: ShapedArray):
    arr = np.asarray(value)
    if arr.dtype != aval.dtype:
        arr = arr.astype(aval.dtype)
    return arr


class new_ir_trace:
    """Context manager opening an IRTrace one level above the current top."""

    def __init__(self, concrete: bool, name: str = "trace"):
        self.concrete = concrete
        self.name = name

    def __enter__(self) -> IRTrace:
        self.trace = IRTrace(len(_state.stack) + 1, self.concrete, self.name)
        _state.stack.append(self.trace)
        _state.open_traces += 1
        return self.trace

    def __exit__(self, *exc):
        popped = _state.stack.pop()
        assert popped is self.trace, "trace stack corrupted"
        popped.alive = False
        _state.open_traces -= 1
        if not _state.open_traces:
            _state.snapshots.clear()
        return False


class eager:
    """Evaluate eagerly even while traces are open (impls that run an IR)."""

    def __enter__(self):
        self.saved = _state.stack
        _state.stack = []

    def __exit__(self, *exc):
        _state.stack = self.saved
        return False


def current_level() -> int:
    return len(_state.stack)


def top_trace_of(args):
    top = None
    for a in args:
        if isinstance(a, Tracer):
            trace = a._trace
            if not trace.alive:
                raise UnexpectedTracerError(
                    f"Encountered a leaked tracer {a!r}: a value traced inside a transformation "
                    f"({trace.name}) was used after that transformation returned. This usually "
                    "means a traced value was stored in a global, a closure or an object "
                    "attribute. Return it from the transformed function instead."
                )
            if top is None or trace.level > top.level:
                top = trace
    return top


def bind(prim, *args, **params):
    """Apply a primitive: record it on the innermost trace, or run its impl.

    While any trace is open, operations on constants are recorded too (JAX's
    "omnistaging"): under jit, `broadcast_to(1.0, shape)` in a backward pass
    is an equation the fuser can absorb, not a constant array baked into the
    program; in an eager (concrete) trace the value is computed anyway.
    """
    top = top_trace_of(args)
    if top is None and _state.stack:
        top = _state.stack[-1]
    if top is not None:
        return top.process_primitive(prim, args, params)
    try:
        out = prim.impl(*args, **params)
    except (ValueError, TypeError, IndexError):
        _raise_abstract_eval_error(prim, args, params)
        raise
    if prim.multiple_results:
        return [wrap_eager(o) for o in out]
    return wrap_eager(out)


def _raise_abstract_eval_error(prim, args, params):
    """An eager impl failed: raise the error nbad gives for these operands under jit,
    where abstract evaluation checks them (eager calls skip that, for speed), so eager
    and jitted code fail alike. Returns if abstract evaluation finds nothing wrong."""
    from nbad.errors import NbadError

    try:
        avals = [aval_of_value(a) for a in args]
    except NbadError:
        return
    try:
        prim.abstract_eval(*avals, **params)
    except NbadError as e:
        raise e.with_traceback(None) from None


def bind_nullary(prim, *args, **params):
    """Bind a creation primitive (iota, full): like every bind, recorded by the
    innermost open trace, so `zeros(n)` under jit is an equation."""
    return bind(prim, *args, **params)


def wrap_eager(value):
    """An eager result as an immutable nbad Array (NumPy semantics otherwise)."""
    from nbad.core.array import Array

    if type(value) is Array:
        return value
    return np.asarray(value).view(Array)


def eval_ir(ir: IR, args, consts=None):
    """Evaluate an IR by binding its equations (records into any enclosing trace)."""
    env: dict[int, object] = {}
    for var, val in zip(ir.inputs, args):
        env[var.id] = val
    for var, val in zip(ir.constvars, ir.consts if consts is None else consts):
        env[var.id] = val

    def read(atom):
        if isinstance(atom, Literal):
            return atom.value
        return env[atom.id]

    for eq in ir.equations:
        outs = bind(eq.primitive, *[read(a) for a in eq.inputs], **eq.params)
        if not eq.primitive.multiple_results:
            outs = [outs]
        for var, val in zip(eq.outputs, outs):
            env[var.id] = val
    return [read(a) for a in ir.outputs]


def trace_to_ir(flat_fn, in_avals, in_values=None, name: str = "f", trace_name: str | None = None) -> IR:
    """Trace `flat_fn(*arrays) -> list of arrays` into an IR named `name`.

    With `in_values` the trace is concrete: tracers carry values (eager mode).
    `trace_name` (e.g. "jit(f)") is what error messages call the transformation.
    """
    with new_ir_trace(concrete=in_values is not None, name=trace_name or name) as trace:
        values = in_values if in_values is not None else [None] * len(in_avals)
        tracers = [trace.new_input(aval, v) for aval, v in zip(in_avals, values)]
        outs = flat_fn(*tracers)
        return trace.to_ir(tracers, list(outs), name=name)
