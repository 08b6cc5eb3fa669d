"""Functions of functions: vectorize and apply_along_axis (both vmap, as in
JAX), and the selections select and piecewise (every branch is computed, the
results chosen elementwise: no data-dependent control flow, so jit and grad apply).
"""
from __future__ import annotations

import functools
import re

import numpy as np

from nbad.errors import NbadValueError, ShapeError
from nbad.numpy import _elementwise as ew
from nbad.numpy import _shape as sh
from nbad.numpy._core import as_operand, broadcast_shapes, convert, dtype_of, shape_of

__all__ = ["vectorize", "apply_along_axis", "select", "piecewise"]

_DIMS = r"\w+(?:,\s*\w+)*"
_ARG = rf"\((?:{_DIMS})?\)"
_SIGNATURE = re.compile(rf"^\s*{_ARG}(?:\s*,\s*{_ARG})*\s*->\s*{_ARG}(?:\s*,\s*{_ARG})*\s*$")


def _parse_signature(signature):
    """'(m,n),(n)->(m)' -> ([('m', 'n'), ('n',)], [('m',)])."""
    if not _SIGNATURE.match(signature):
        raise NbadValueError(f"vectorize: not a valid gufunc signature: {signature!r}")
    ins, outs = signature.split("->")

    def dims(part):
        return [tuple(d.strip() for d in group.split(",") if d.strip())
                for group in re.findall(r"\((.*?)\)", part)]

    return dims(ins), dims(outs)


def vectorize(pyfunc, *, excluded=frozenset(), signature=None):
    """pyfunc applied over the broadcast leading ("loop") dimensions of its arguments,
    by vmap; `signature` names the core dimensions each argument keeps."""
    from nbad.api_vmap import vmap

    excluded = frozenset(excluded)
    if any(not isinstance(e, (int, str)) for e in excluded):
        raise NbadValueError("vectorize: excluded must contain positions (int) or names (str)")
    core_in, core_out = _parse_signature(signature) if signature is not None else (None, None)

    @functools.wraps(pyfunc)
    def wrapped(*args, **kwargs):
        static_kwargs = {k: v for k, v in kwargs.items() if k in excluded}
        args_kwargs = {k: v for k, v in kwargs.items() if k not in excluded}
        if args_kwargs:
            raise NbadValueError("vectorize: keyword arguments must be excluded (static); "
                                 f"got {sorted(args_kwargs)}")
        positions = [i for i in range(len(args)) if i not in excluded]
        operands = [as_operand(args[i]) for i in positions]
        cores = core_in if core_in is not None else [()] * len(operands)
        if len(cores) != len(operands):
            raise ShapeError(f"vectorize: the signature {signature!r} has {len(cores)} inputs, "
                             f"got {len(operands)} non-excluded arguments")
        sizes = {}
        loop_shapes = []
        for x, core in zip(operands, cores):
            shape = shape_of(x)
            if len(shape) < len(core):
                raise ShapeError(f"vectorize: an input of shape {shape} has fewer dimensions than "
                                 f"its core dimensions {core}")
            for name, size in zip(core, shape[len(shape) - len(core):]):
                if sizes.setdefault(name, size) != size:
                    raise ShapeError(f"vectorize: inconsistent size for core dimension {name!r}: "
                                     f"{sizes[name]} vs {size}")
            loop_shapes.append(shape[:len(shape) - len(core)])
        loop = broadcast_shapes("vectorize", *loop_shapes)
        count = int(np.prod(loop, dtype=np.int64))
        flat = [sh.reshape(sh.broadcast_to(x, loop + shape_of(x)[len(s):]), (count,) + shape_of(x)[len(s):])
                for x, s in zip(operands, loop_shapes)]

        def call(*dynamic):
            full = list(args)
            for i, d in zip(positions, dynamic):
                full[i] = d
            return pyfunc(*full, **static_kwargs)

        if not loop:
            return call(*operands)
        out = vmap(call)(*flat)
        from nbad import tree_util

        return tree_util.tree_map(lambda o: sh.reshape(o, loop + shape_of(o)[1:]), out)

    return wrapped


def apply_along_axis(func1d, axis: int, arr, *args, **kwargs):
    """func1d applied to every 1-D slice of arr along `axis` (by vmap); the result's
    dimensions replace that axis."""
    from nbad.api_vmap import vmap

    arr = as_operand(arr)
    ndim = len(shape_of(arr))
    axis = sh.normalize_axis("apply_along_axis", axis, ndim)
    moved = sh.moveaxis(arr, axis, -1)
    batch = shape_of(moved)[:-1]
    rows = sh.reshape(moved, (int(np.prod(batch, dtype=np.int64)), shape_of(moved)[-1]))
    out = vmap(lambda row: func1d(row, *args, **kwargs))(rows)
    out = sh.reshape(out, batch + shape_of(out)[1:])
    extra = len(shape_of(out)) - len(batch)
    # the result's own dimensions go where `axis` was
    return sh.moveaxis(out, list(range(len(batch), len(batch) + extra)), list(range(axis, axis + extra))) \
        if extra else out


def select(condlist, choicelist, default=0):
    """choicelist[i] where condlist[i] is the first true condition, else default."""
    if len(condlist) != len(choicelist):
        raise NbadValueError(f"select: condlist and choicelist must have the same length, got "
                             f"{len(condlist)} and {len(choicelist)}")
    if not condlist:
        raise NbadValueError("select: condlist must not be empty")
    out = default
    for cond, choice in reversed(list(zip(condlist, choicelist))):
        out = ew.where(cond, choice, out)
    return out


def piecewise(x, condlist, funclist, *args, **kw):
    """funclist[i](x) where condlist[i] holds (a last extra function: where none does);
    constants in funclist are values. Every function is evaluated on all of x."""
    x = as_operand(x)
    if not isinstance(condlist, (list, tuple)):
        condlist = [condlist]
    n = len(condlist)
    if len(funclist) not in (n, n + 1):
        raise NbadValueError(f"piecewise: with {n} condition(s), funclist must have {n} or {n + 1} "
                             f"entries, got {len(funclist)}")

    def value(f):
        return ew.add(ew.multiply(x, 0), f(x, *args, **kw) if callable(f) else f)

    out = value(funclist[n]) if len(funclist) == n + 1 else ew.multiply(x, 0)
    for cond, f in zip(condlist, funclist):
        out = ew.where(cond, value(f), out)
    return convert(out, dtype_of(x))     # NumPy's piecewise keeps x's dtype
