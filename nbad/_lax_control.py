"""lax.cond, lax.switch and lax.select, with JAX's signatures and semantics.

cond and switch trace every branch at the operands' avals (so a branch whose
results differ in type from another's is a TypeError, as in JAX) and bind one
`cond` equation (rules/cond.py). With a concrete index (outside jit, or a
Python value) only the chosen branch is evaluated.
"""
from __future__ import annotations

import numpy as np

from nbad import tree_util
from nbad.core.trace import Tracer, bind, eval_ir, trace_to_ir
from nbad.errors import NbadTypeError, NbadValueError
from nbad.numpy import _elementwise as ew
from nbad.numpy._core import aval_of, as_operand, convert, shape_of
from nbad.numpy._shape import unchanged
from nbad.rules.cond import bind_cond, chosen_branch
from nbad.rules.elementwise import select_p

_NO_OPERAND = object()


def _operands(name, operands, operand):
    if operand is not _NO_OPERAND:
        if operands:
            raise NbadTypeError(f"{name}: pass the operands positionally or as operand=, not both")
        return (operand,)
    return operands


def _trace_branches(name, branches, operands):
    """(IRs, output treedef): each branch traced on the flattened operands, the
    results checked to agree in structure and type (weak scalars take the
    other branches' dtype, as JAX promotes them)."""
    leaves, in_tree = tree_util.tree_flatten(operands)
    leaves = [as_operand(x) for x in leaves]
    avals = [aval_of(x) for x in leaves]

    def traced(fn, out_dtypes=None):
        trees = []

        def flat(*xs):
            out = fn(*tree_util.tree_unflatten(in_tree, list(xs)))
            out_leaves, tree = tree_util.tree_flatten(out)
            trees.append(tree)
            out_leaves = [as_operand(o) for o in out_leaves]
            if out_dtypes is not None:
                out_leaves = [convert(o, d) for o, d in zip(out_leaves, out_dtypes)]
            return out_leaves

        ir = trace_to_ir(flat, avals, name=getattr(fn, "__name__", "branch"), trace_name=name)
        return ir, trees[0]

    traced_branches = [traced(b) for b in branches]
    trees = [t for _, t in traced_branches]
    if any(t != trees[0] for t in trees):
        raise NbadTypeError(f"{name}: the branches must return the same pytree structure, got "
                            + " and ".join(str(t) for t in trees))
    out_avals = [ir.out_avals for ir, _ in traced_branches]
    dtypes = []
    for j in range(len(out_avals[0])):
        col = [a[j] for a in out_avals]
        if any(a.shape != col[0].shape for a in col):
            _mismatch(name, out_avals)
        strong = {a.dtype for a in col if not a.weak_type}
        if len(strong) > 1 or (not strong and len({a.dtype for a in col}) > 1):
            _mismatch(name, out_avals)
        dtypes.append(strong.pop() if strong else col[0].dtype)
    irs = []
    for (ir, _), b in zip(traced_branches, branches):
        if [a.dtype for a in ir.out_avals] != dtypes:
            ir = traced(b, dtypes)[0]
        irs.append(ir)
    return leaves, irs, trees[0]


def _mismatch(name, out_avals):
    raise NbadTypeError(f"{name}: the branches must return the same types (shapes and dtypes), got "
                        + " and ".join("(" + ", ".join(a.str_short() for a in avals) + ")"
                                       for avals in out_avals))


def _concrete(x):
    """The value of a concrete index (a Python or NumPy value, or a tracer that
    carries one), else None."""
    if isinstance(x, Tracer):
        return x.value
    return x


def _run(name, index, branches, operands):
    leaves, irs, out_tree = _trace_branches(name, branches, operands)
    value = _concrete(index)
    if value is not None:
        outs = eval_ir(irs[chosen_branch(value, len(irs))], leaves)
        outs = [unchanged(o) for o in outs]
    else:
        outs = bind_cond(index, leaves, irs)
    return tree_util.tree_unflatten(out_tree, outs)


def switch(index, branches, *operands, operand=_NO_OPERAND):
    """branches[index](*operands), the index clamped into [0, len(branches) - 1]."""
    operands = _operands("switch", operands, operand)
    branches = list(branches)
    if not branches:
        raise NbadValueError("switch: empty branch sequence")
    if any(not callable(b) for b in branches):
        raise NbadTypeError("switch: every branch must be callable, got "
                            + ", ".join(type(b).__name__ for b in branches))
    index = as_operand(index)
    if shape_of(index) != ():
        raise NbadTypeError(f"switch: the branch index must be a scalar, got shape {shape_of(index)}")
    if aval_of(index).dtype.kind not in "iu":
        raise NbadTypeError(f"switch: the branch index must be an integer, got {aval_of(index).dtype.name}")
    if isinstance(index, Tracer) and index.value is None:
        index = convert(ew.clip(index, 0, len(branches) - 1), np.int32)
    else:
        index = np.int32(chosen_branch(_concrete(index), len(branches)))
    return _run("switch", index, branches, operands)


def cond(pred, true_fun, false_fun, *operands, operand=_NO_OPERAND):
    """true_fun(*operands) if pred else false_fun(*operands)."""
    operands = _operands("cond", operands, operand)
    if not callable(true_fun) or not callable(false_fun):
        raise NbadTypeError("cond: true_fun and false_fun must be callable")
    pred = as_operand(pred)
    if shape_of(pred) != ():
        raise NbadTypeError(f"cond: the predicate must be a scalar, got shape {shape_of(pred)}")
    if aval_of(pred).dtype.kind not in "biuf":
        raise NbadTypeError(f"cond: the predicate must be boolean or a number, got "
                            f"{aval_of(pred).dtype.name}")
    if isinstance(pred, Tracer) and pred.value is None:
        truth = pred if aval_of(pred).dtype.kind == "b" else ew.not_equal(pred, 0)
        index = convert(truth, np.int32)
    else:
        index = np.int32(bool(_concrete(pred)))
    return _run("cond", index, (false_fun, true_fun), operands)


def select(pred, on_true, on_false):
    """on_true where pred else on_false, elementwise: pred is bool, of the
    operands' shape or a scalar; the operands have one shape and dtype."""
    pred, on_true, on_false = (as_operand(x) for x in (pred, on_true, on_false))
    p, t, f = aval_of(pred), aval_of(on_true), aval_of(on_false)
    if p.dtype != np.dtype(bool):
        raise NbadTypeError(f"select: pred must be bool, got {p.str_short()}")
    if t.shape != f.shape or t.dtype != f.dtype:
        raise NbadTypeError(f"select: on_true and on_false must have the same shape and dtype, got "
                            f"{t.str_short()} and {f.str_short()}")
    if p.shape not in ((), t.shape):
        raise NbadTypeError(f"select: pred must be a scalar or have the operands' shape "
                            f"{t.shape}, got {p.str_short()}")
    return unchanged(bind(select_p, pred, on_true, on_false))
