"""lax.scan, lax.fori_loop and lax.while_loop: JAX's loops, traced into one
equation each (rules/scan.py, rules/while_loop.py) whatever the number of steps.

Each traces its body function once, at the carry's and the slices' types,
into a closed IR (arrays it captures become consts), checks that the body
returns the carry's structure and types (TypeError, as JAX), and binds the
primitive. Outside jit the primitive's impl runs the steps eagerly; under jit
the loop is one native loop in the generated code (backends/cpu/loops.py).
"""
from __future__ import annotations

import numpy as np

from nbad import tree_util
from nbad.core.trace import Tracer, trace_to_ir
from nbad.numpy._core import as_operand, aval_of, convert
from nbad.rules.scan import bind_scan
from nbad.rules.while_loop import bind_while
from nbad.transforms.simplify import simplify


def _fn_name(f) -> str:
    return getattr(f, "__name__", type(f).__name__)


def _leaf_operands(tree):
    leaves, treedef = tree_util.tree_flatten(tree)
    out = []
    for x in leaves:
        x = as_operand(x)
        a = aval_of(x)
        if a.weak_type:  # a Python scalar starts a carry of its NumPy type
            x = convert(x, a.dtype)
        out.append(x)
    return out, treedef


def _types(leaves) -> list:
    return [aval_of(x).strip_weak() for x in leaves]


def _type_diff(avals_a, avals_b) -> str:
    return "\n".join(f"  * the input carry component {k} has type {a.str_short()} but the "
                     f"corresponding output carry component has type {b.str_short()}"
                     for k, (a, b) in enumerate(zip(avals_a, avals_b))
                     if tuple(a.shape) != tuple(b.shape) or a.dtype != b.dtype)


def _check_carry(what, in_tree, in_avals, out_tree, out_leaves):
    """JAX's TypeError when the body's carry out differs from the carry in."""
    if out_tree != in_tree:
        raise TypeError(f"{what} function carry input and carry output must have the same pytree "
                        f"structure, but they differ:\n  the input carry is a {in_tree} but the output "
                        f"carry is a {out_tree}")
    out_avals = _types(out_leaves)
    if any(tuple(a.shape) != tuple(b.shape) or a.dtype != b.dtype for a, b in zip(in_avals, out_avals)):
        raise TypeError(f"{what} function carry input and carry output must have equal types (e.g. "
                        f"shapes and dtypes of arrays), but they differ:\n"
                        + _type_diff(in_avals, out_avals))


def _as_carry(leaves, avals):
    """Body results as the carry's types (a weakly typed result takes the carry's)."""
    return [convert(as_operand(x), a.dtype) for x, a in zip(leaves, avals)]


# -- scan -----------------------------------------------------------------------------------
def scan(f, init, xs=None, length=None, reverse=False, unroll=1, _split_transpose=False):
    """JAX's lax.scan: (carry, ys) from carry, y = f(carry, x) over the leading axis of xs.

    `unroll` is accepted for JAX compatibility; the loop is always one native loop."""
    if not callable(f):
        raise TypeError(f"lax.scan: f argument should be a callable, got {type(f).__name__}")
    carry, carry_tree = _leaf_operands(init)
    x_leaves, x_tree = _leaf_operands(xs)
    lengths = []
    for x in x_leaves:
        shape = aval_of(x).shape
        if not shape:
            raise ValueError(f"scan got value with no leading axis to scan over: {aval_of(x).str_short()}")
        lengths.append(shape[0])
    if length is not None:
        try:
            length = int(length)
        except (TypeError, ValueError):
            raise TypeError(f"lax.scan: length must be a static int, got {length!r}") from None
        if any(n != length for n in lengths):
            raise ValueError(f"scan got `length` argument of {length} which disagrees with leading "
                             f"axis sizes {sorted(set(lengths))}.")
    elif lengths:
        if len(set(lengths)) > 1:
            raise ValueError("scan got values with different leading axis sizes: "
                             + ", ".join(str(n) for n in lengths) + ".")
        length = lengths[0]
    else:
        raise ValueError("scan got no values to scan over and `length` not provided.")
    carry_avals = _types(carry)
    slice_avals = [a.update(shape=tuple(a.shape)[1:]) for a in _types(x_leaves)]
    found: dict = {}
    name = _fn_name(f)

    def flat_body(*leaves):
        c = tree_util.tree_unflatten(carry_tree, leaves[:len(carry)])
        x = tree_util.tree_unflatten(x_tree, leaves[len(carry):])
        out = f(c, x)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise TypeError(f"scan body output must be a pair, got {type(out).__name__}.")
        new_leaves, new_tree = tree_util.tree_flatten(out[0])
        _check_carry("scan body", carry_tree, carry_avals, new_tree, new_leaves)
        y_leaves, found["ys"] = tree_util.tree_flatten(out[1])
        return _as_carry(new_leaves, carry_avals) + [as_operand(y) for y in y_leaves]

    body = simplify(trace_to_ir(flat_body, carry_avals + slice_avals, name=name))
    outs = bind_scan(carry, [], x_leaves, body, length=length, reverse=reverse)
    return (tree_util.tree_unflatten(carry_tree, outs[:len(carry)]),
            tree_util.tree_unflatten(found["ys"], outs[len(carry):]))


# -- while_loop -------------------------------------------------------------------------------
def _trace_while_bodies(cond_fun, body_fun, carry, carry_tree):
    carry_avals = _types(carry)

    def flat_cond(*leaves):
        out = cond_fun(tree_util.tree_unflatten(carry_tree, leaves))
        out_leaves = tree_util.tree_leaves(out)
        avals = [aval_of(as_operand(x)) for x in out_leaves]
        if len(avals) != 1 or avals[0].shape != () or avals[0].dtype != np.bool_:
            raise TypeError("cond_fun must return a boolean scalar, but got output type(s) "
                            f"[{', '.join(a.str_short() for a in avals)}].")
        return [as_operand(out_leaves[0])]

    def flat_body(*leaves):
        out = body_fun(tree_util.tree_unflatten(carry_tree, leaves))
        new_leaves, new_tree = tree_util.tree_flatten(out)
        _check_carry("body_fun", carry_tree, carry_avals, new_tree, new_leaves)
        return _as_carry(new_leaves, carry_avals)

    cond_ir = simplify(trace_to_ir(flat_cond, carry_avals, name=_fn_name(cond_fun)))
    body_ir = simplify(trace_to_ir(flat_body, carry_avals, name=_fn_name(body_fun)))
    return cond_ir, body_ir


def while_loop(cond_fun, body_fun, init_val):
    """JAX's lax.while_loop: body_fun applied to the carry while cond_fun(carry) holds."""
    carry, carry_tree = _leaf_operands(init_val)
    cond_ir, body_ir = _trace_while_bodies(cond_fun, body_fun, carry, carry_tree)
    outs = bind_while([], [], carry, cond_ir, body_ir)
    return tree_util.tree_unflatten(carry_tree, outs)


# -- fori_loop --------------------------------------------------------------------------------
def fori_loop(lower, upper, body_fun, init_val, *, unroll=None):
    """JAX's lax.fori_loop: body_fun(i, val) for i in [lower, upper).

    With static bounds (Python or NumPy integers) it is a scan over the trip
    count, so reverse mode works; with traced bounds, a while loop."""
    lower, upper = as_operand(lower), as_operand(upper)
    for b in (lower, upper):
        if aval_of(b).dtype.kind not in "iu" or aval_of(b).shape != ():
            raise TypeError("lax.fori_loop: lower and upper must be integer scalars, got "
                            f"{aval_of(lower).str_short()} and {aval_of(upper).str_short()}")
    dtype = np.result_type(aval_of(lower).dtype, aval_of(upper).dtype)
    if not isinstance(lower, Tracer) and not isinstance(upper, Tracer):
        lo, hi = int(lower), int(upper)

        def step(carry, _):
            i, val = carry
            return (i + np.asarray(1, dtype), body_fun(i, val)), None

        (_, val), _ = scan(step, (np.asarray(lo, dtype), init_val), None, length=max(hi - lo, 0))
        return val

    lower, upper = convert(lower, dtype), convert(upper, dtype)

    def cond(carry):
        return carry[0] < upper

    def body(carry):
        i, val = carry
        return i + np.asarray(1, dtype), body_fun(i, val)

    return while_loop(cond, body, (lower, init_val))[1]
