"""vmap and lax.map: JAX's names, arguments and errors (DESIGN §6).

    vmap(f, in_axes, out_axes, axis_size)(*args)
      1. in_axes is matched against the arguments as a pytree prefix; every
         array leaf gets its batch axis (or None: shared by every example)
      2. f is traced once at the per-example shapes into a body IR
      3. results with out_axes=None are computed once, outside the map (they
         must not depend on a batched argument); the others come from one
         `map` equation (rules/map.py)
    Under another transformation (jit, grad, an outer vmap) the map is recorded
    by it. Called directly, a vmapped function is compiled and cached like a
    jitted one: a vmap outside jit is not a Python loop over examples.

Arguments with in_axes=None that are not array data (ints, bools, strings,
functions) are passed to f as they are (static, part of the compilation key),
so `range(n)` works on them; unmapped arrays and floats are shared operands.
"""
from __future__ import annotations

import functools

import numpy as np

from nbad import tree_util
from nbad.core.ir import IR, Var
from nbad.core.trace import Tracer, current_level, eval_ir, trace_to_ir
from nbad.api import check_callable
from nbad.errors import NbadTypeError, NbadValueError
from nbad.numpy._core import aval_of
from nbad.rules.map import bind_map
from nbad.transforms.simplify import simplify

_ARRAY_TYPES = (np.ndarray, np.generic, Tracer)


def _fn_name(fun) -> str:
    return getattr(fun, "__name__", type(fun).__name__)


def _check_axes_spec(spec, what, name):
    leaves = tree_util.tree_leaves(spec, is_leaf=lambda x: x is None)
    for a in leaves:
        if a is not None and not isinstance(a, (int, np.integer)) or isinstance(a, bool):
            raise NbadTypeError(
                f"vmap({name}): {what} must be an int, None, or (nested) tuples/lists/dicts of "
                f"them matching the {'arguments' if what == 'in_axes' else 'outputs'}, got {spec!r}")


def _arg_names(fun, n):
    import inspect

    try:
        params = [p.name for p in inspect.signature(fun).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    return [params[i] if i < len(params) else f"args[{i}]" for i in range(n)]


def _broadcast_prefix(spec, tree, what, name, where):
    """One axis per leaf of `tree`, from `spec`, a pytree prefix of it."""
    spec_leaves, spec_def = tree_util.tree_flatten(spec, is_leaf=lambda x: x is None)
    try:
        subtrees = spec_def.flatten_up_to(tree)
    except ValueError:
        raise NbadValueError(
            f"vmap({name}) {what} specification must be a tree prefix of the corresponding "
            f"value, got specification {spec!r} for value tree {tree_util.tree_structure(tree)}"
            f"{where}.") from None
    axes = []
    for ax, sub in zip(spec_leaves, subtrees):
        axes += [ax] * len(tree_util.tree_leaves(sub))
    return axes


class _Flat:
    """The arguments of one call, flattened: leaves, their axes, and what f gets."""

    def __init__(self, fun, args, kwargs, in_axes, axis_size, name):
        if isinstance(in_axes, list):
            in_axes = tuple(in_axes)  # JAX treats a top-level list as a tuple
        if isinstance(in_axes, tuple):
            if len(in_axes) != len(args):
                raise NbadValueError(
                    f"vmap({name}) in_axes must be an int, None, or a tuple of entries "
                    f"corresponding to the positional arguments passed to the function, but got "
                    f"len(in_axes)={len(in_axes)}, len(args)={len(args)}")
            per_arg = in_axes
        else:
            per_arg = (in_axes,) * len(args)
        names = _arg_names(fun, len(args))
        self.leaves, self.axes, self.where = [], [], []
        for i, (arg, spec) in enumerate(zip(args, per_arg)):
            leaves = tree_util.tree_leaves(arg)
            self.axes += _broadcast_prefix(spec, arg, "in_axes", name, f" (argument {names[i]})")
            self.leaves += leaves
            self.where += [f"argument {names[i]}"] * len(leaves)
        kw_leaves = tree_util.tree_leaves(kwargs)
        self.leaves += kw_leaves
        self.axes += [0] * len(kw_leaves)  # keyword arguments are always mapped over axis 0
        self.where += ["a keyword argument"] * len(kw_leaves)
        self.tree = tree_util.tree_structure((tuple(args), kwargs))
        self._normalize(name)
        self.size = self._size(axis_size, name)

    def _normalize(self, name):
        for k, (x, ax) in enumerate(zip(self.leaves, self.axes)):
            if ax is None:
                continue  # passed to the function as it is (arrays become shared operands)
            if not isinstance(x, _ARRAY_TYPES):
                if isinstance(x, (bool, int, float, complex)):
                    x = np.asarray(x)
                else:
                    raise NbadTypeError(
                        f"vmap({name}): {self.where[k]} has a leaf of type {type(x).__name__} "
                        f"({x!r:.60}) to map over; mapped arguments must be arrays")
                self.leaves[k] = x
            ndim = np.ndim(x) if not isinstance(x, Tracer) else x.ndim
            if not -ndim <= ax < max(ndim, 1) or ndim == 0:
                raise NbadValueError(
                    f"vmap was requested to map its {self.where[k]} along axis {ax}, which "
                    f"implies that its rank should be at least {ax + 1 if ax >= 0 else -ax}, but "
                    f"is only {ndim} (its shape is {tuple(np.shape(x) if not isinstance(x, Tracer) else x.shape)})")
            self.axes[k] = ax % ndim

    def _size(self, axis_size, name):
        sizes = [(self._shape(x)[ax], k) for k, (x, ax) in enumerate(zip(self.leaves, self.axes))
                 if ax is not None]
        distinct = {s for s, _ in sizes}
        if axis_size is not None:
            distinct.add(int(axis_size))
        if not sizes and axis_size is None:
            raise NbadValueError(
                f"vmap({name}) must have at least one non-None value in in_axes (or be given "
                "axis_size): with nothing to map over, the batch size is unknown")
        if len(distinct) > 1:
            lines = []
            for s, k in sizes:
                aval = aval_of(self.leaves[k]).str_short()
                lines.append(f"  * one axis had size {s}: axis {self.axes[k]} of {self.where[k]} "
                             f"of type {aval}")
            if axis_size is not None:
                lines.append(f"  * axis_size={axis_size} was given")
            raise NbadValueError("vmap got inconsistent sizes for array axes to be mapped:\n"
                                 + ";\n".join(lines))
        return distinct.pop()

    @staticmethod
    def _shape(x):
        return x.shape if isinstance(x, Tracer) else np.shape(x)


def _per_example(aval, axis):
    shape = list(aval.shape)
    del shape[axis]
    return aval.update(shape=tuple(shape))


def _depends_on(ir: IR, sources: set) -> list[bool]:
    """For each output of `ir`: does it depend on an input in `sources`?"""
    tainted = {v.id for i, v in enumerate(ir.inputs) if i in sources}
    for eq in ir.equations:
        if any(isinstance(a, Var) and a.id in tainted for a in eq.inputs):
            tainted.update(v.id for v in eq.outputs)
    return [isinstance(a, Var) and a.id in tainted for a in ir.outputs]


def apply_vmap(fun, args, kwargs, in_axes, out_axes, axis_size, name):
    """vmap(fun)(*args, **kwargs), recorded by whatever trace is open (or run eagerly)."""
    flat = _Flat(fun, args, kwargs, in_axes, axis_size, name)
    traced = [k for k, (x, ax) in enumerate(zip(flat.leaves, flat.axes))
              if ax is not None or isinstance(x, _ARRAY_TYPES) or isinstance(x, (float, complex))]
    avals = []
    for k in traced:
        a = aval_of(flat.leaves[k])
        avals.append(a if flat.axes[k] is None else _per_example(a, flat.axes[k]))
    store = {}

    def body_fn(*xs):
        leaves = list(flat.leaves)
        for k, x in zip(traced, xs):
            leaves[k] = x
        f_args, f_kwargs = tree_util.tree_unflatten(flat.tree, leaves)
        out = fun(*f_args, **f_kwargs)
        out_leaves, store["tree"] = tree_util.tree_flatten(out)
        for x in out_leaves:
            if not isinstance(x, _ARRAY_TYPES + (bool, int, float, complex)):
                raise NbadTypeError(f"vmap({name}) returned a value of type {type(x).__name__}; "
                                    "vmapped functions must return arrays or pytrees of them")
        return out_leaves

    body = simplify(trace_to_ir(body_fn, avals, name=name, trace_name=f"vmap({name})"))
    out_tree = store["tree"]
    if isinstance(out_axes, list):
        out_axes = tuple(out_axes)
    o_axes = _broadcast_prefix(out_axes, tree_util.tree_unflatten(out_tree, [0] * out_tree.num_leaves),
                               "out_axes", name, "")
    batched_in = {j for j, k in enumerate(traced) if flat.axes[k] is not None}
    batched_out = _depends_on(body, batched_in)
    results = [None] * len(body.outputs)
    mapped = []
    for j, (ax, b) in enumerate(zip(o_axes, batched_out)):
        if ax is None and b:
            raise NbadValueError(
                f"vmap({name}) has mapped output but out_axes is None: output {j} "
                f"({body.outputs[j].aval.str_short()} per example) depends on a mapped argument, "
                "so it differs between examples. Give it an out_axes (e.g. 0).")
        if ax is None:
            results[j] = _unmapped_output(body, j, [flat.leaves[k] for k in traced])
        else:
            rank = body.outputs[j].aval.ndim + 1
            if not -rank <= ax < rank:
                raise NbadValueError(
                    f"vmap({name}) out_axes={ax} is out of range for output {j}, which has rank "
                    f"{rank} with the batch axis ({body.outputs[j].aval.str_short()} per example)")
            mapped.append((j, ax % rank))
    if mapped:
        sub = IR(body.inputs, body.equations, [body.outputs[j] for j, _ in mapped],
                 body.constvars, body.consts, name=name)
        outs = bind_map([flat.leaves[k] for k in traced], [flat.axes[k] for k in traced],
                        simplify(sub), [ax for _, ax in mapped], flat.size)
        for (j, _), v in zip(mapped, outs):
            results[j] = v
    return tree_util.tree_unflatten(out_tree, results)


def _unmapped_output(body: IR, j, args):
    """Output j of the body, which depends on no mapped argument: computed once."""
    sub = simplify(IR(body.inputs, body.equations, [body.outputs[j]], body.constvars, body.consts,
                      name=body.name))
    used = {a.id for eq in sub.equations for a in eq.inputs if isinstance(a, Var)}
    used |= {a.id for a in sub.outputs if isinstance(a, Var)}
    vals = [a if v.id in used else None for v, a in zip(sub.inputs, args)]
    return eval_ir(sub, vals)[0]


def _is_static(arg) -> bool:
    """An unmapped argument that is not array data (an int, a flag, a string, a
    function): compiled into the program, as JAX's vmap passes it through."""
    leaves = tree_util.tree_leaves(arg)
    if any(isinstance(x, _ARRAY_TYPES + (float, complex)) and not isinstance(x, bool)
           for x in leaves):
        return False
    try:
        hash(arg)
    except TypeError:
        return False
    return True




def vmap(fun, in_axes=0, out_axes=0, axis_name=None, axis_size=None, spmd_axis_name=None):
    """Vectorise `fun` over the axes `in_axes` of its arguments (JAX's vmap)."""
    check_callable(fun, "vmap")
    name = _fn_name(fun)
    _check_axes_spec(in_axes, "in_axes", name)
    _check_axes_spec(out_axes, "out_axes", name)
    if axis_name is not None or spmd_axis_name is not None:
        raise NbadValueError(f"vmap({name}): axis_name and collectives are not supported by nbad")
    compiled: dict = {}  # positions of static arguments -> jitted vmap

    def jitted(static_pos):
        from nbad.api import jit

        jf = compiled.get(static_pos)
        if jf is None:
            def vmapped(*args, **kwargs):
                return apply_vmap(fun, args, kwargs, in_axes, out_axes, axis_size, name)

            vmapped.__name__ = vmapped.__qualname__ = f"vmap({name})"
            vmapped.__module__ = getattr(fun, "__module__", None)
            jf = compiled[static_pos] = jit(vmapped, static_argnums=static_pos)
        return jf

    simple_axes = not isinstance(in_axes, (tuple, list))

    @functools.wraps(fun)
    def vmap_f(*args, **kwargs):
        if current_level():  # under jit, grad, another vmap: recorded by that trace
            return apply_vmap(fun, args, kwargs, in_axes, out_axes, axis_size, name)
        if simple_axes and in_axes is not None:
            return jitted(())(*args, **kwargs)
        per_arg = tuple(in_axes) if not simple_axes else (None,) * len(args)
        static_pos = tuple(i for i, (a, ax) in enumerate(zip(args, per_arg))
                           if ax is None and _is_static(a))
        return jitted(static_pos)(*args, **kwargs)

    return vmap_f


def lax_map(f, xs, *, batch_size=None):
    """lax.map: f applied to each slice of xs along its leading axis (pytrees too)."""
    name = _fn_name(f)
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise NbadValueError(f"lax.map({name}): batch_size must be a positive int, got {batch_size!r}")
    return vmap(f)(xs)
