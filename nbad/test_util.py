"""Derivative checks, as JAX's and autograd's test_util: compare rules with
central finite differences along random directions.

    check_rule(prim, args, params)   one primitive's jvp and vjp rules, eagerly
    check_grads(f, args, order, modes=("fwd", "rev"))   whole functions (nbad.jvp / nbad.vjp)

Finite differences are taken in float64 with a step scaled to each input, so
they are accurate to about 1e-6 relative; rules are checked to that tolerance.
VJPs are checked through the identity <ct, jvp(t)> = <vjp(ct), t>.
"""
from __future__ import annotations

import numpy as np

DEFAULT_EPS = 1e-6


def _inner(a, b) -> float:
    return float(np.sum(np.real(np.conj(np.asarray(a, dtype=np.complex128)) *
                                np.asarray(b, dtype=np.complex128))))


def _random_like(x, rng):
    x = np.asarray(x)
    if x.dtype.kind == "c":
        return rng.standard_normal(x.shape) + 1j * rng.standard_normal(x.shape)
    return rng.standard_normal(x.shape)


def _differentiable(x) -> bool:
    return np.asarray(x).dtype.kind in "fc"


def numerical_jvp(fn, args, tangents, eps=DEFAULT_EPS):
    """Central difference of fn (NumPy in, array or list out) along `tangents`."""
    plus = [np.asarray(a) + eps * t if t is not None else a for a, t in zip(args, tangents)]
    minus = [np.asarray(a) - eps * t if t is not None else a for a, t in zip(args, tangents)]
    fp, fm = fn(*plus), fn(*minus)
    if isinstance(fp, (list, tuple)):
        return [(np.asarray(p) - np.asarray(m)) / (2 * eps) for p, m in zip(fp, fm)]
    return (np.asarray(fp) - np.asarray(fm)) / (2 * eps)


def check_rule(prim, args, params=None, *, rtol=1e-5, atol=1e-6, seed=0):
    """Check `prim.jvp` and `prim.vjp` against finite differences of `prim.impl`.

    `args` are NumPy arrays/scalars (float64 for differentiable operands).
    """
    params = params or {}
    rng = np.random.default_rng(seed)
    args = [np.asarray(a) if not np.isscalar(a) else a for a in args]
    outs = prim.impl(*args, **params)

    def f(*xs):
        return prim.impl(*xs, **params)

    tangents = [_random_like(a, rng) if _differentiable(a) else None for a in args]
    expected = numerical_jvp(f, args, tangents)
    got = prim.jvp(args, tangents, outs, **params)
    multiple = prim.multiple_results
    exp_list = expected if multiple else [expected]
    got_list = (got if got is not None else [None] * len(exp_list)) if multiple else [got]
    for g, e in zip(got_list, exp_list):
        g = np.zeros_like(e) if g is None else np.asarray(g)
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol, err_msg=f"{prim.name} jvp")
    out_list = outs if multiple else [outs]
    cts = [_random_like(o, rng) if _differentiable(o) else None for o in out_list]
    vjp_in = cts if multiple else cts[0]
    in_cts = prim.vjp(vjp_in, args, outs, **params)
    assert len(in_cts) == len(args), f"{prim.name}.vjp returned {len(in_cts)} cotangents for {len(args)} operands"
    lhs = sum(_inner(c, e) for c, e in zip(cts, exp_list) if c is not None)
    rhs = 0.0
    for c, t, a in zip(in_cts, tangents, args):
        if t is None:
            continue
        if c is not None:
            assert np.shape(c) == np.shape(a), f"{prim.name}.vjp cotangent shape {np.shape(c)} != operand {np.shape(a)}"
            rhs += _inner(c, t)
    scale = max(1.0, abs(lhs))
    assert abs(lhs - rhs) <= rtol * 10 * scale + atol * 10, f"{prim.name} vjp: <ct, jvp t>={lhs} but <vjp ct, t>={rhs}"


def _is_float0(x) -> bool:
    dtype = getattr(x, "dtype", None)
    return dtype is not None and np.dtype(dtype).kind == "V"


def check_grads(f, args, order=1, modes=("fwd", "rev"), atol=None, rtol=None, eps=DEFAULT_EPS,
                seed=0):
    """Check f's derivatives (nbad.jvp / nbad.vjp) against finite differences,
    recursively up to `order` (each order differentiates the previous check's
    jvp/vjp function). `args` is a tuple of float64 arrays or pytrees."""
    import nbad
    from nbad import tree_util

    rtol = 1e-5 if rtol is None else rtol
    atol = 1e-6 if atol is None else atol
    rng = np.random.default_rng(seed)
    args = tuple(args)
    leaves, in_tree = tree_util.tree_flatten(args)
    leaves = [np.asarray(x, dtype=np.float64) if np.asarray(x).dtype.kind in "biu" else np.asarray(x)
              for x in leaves]
    args = tuple(tree_util.tree_unflatten(in_tree, leaves))

    def flat_f(*xs):
        out = f(*tree_util.tree_unflatten(in_tree, list(xs)))
        return [np.asarray(o) for o in tree_util.tree_leaves(out)]

    tangent_leaves = [_random_like(x, rng) for x in leaves]
    tangents = tuple(tree_util.tree_unflatten(in_tree, tangent_leaves))
    numeric = numerical_jvp(flat_f, leaves, tangent_leaves, eps)
    scale = max(1.0, max((float(np.max(np.abs(n))) for n in numeric if np.size(n)), default=1.0))
    if "fwd" in modes:
        _, got = nbad.jvp(f, args, tangents)
        for g, n in zip(tree_util.tree_leaves(got), numeric):
            if _is_float0(g):  # an integer output's tangent: nothing to compare
                continue
            np.testing.assert_allclose(np.asarray(g), n, rtol=rtol * 10, atol=atol * 10 * scale,
                                       err_msg="jvp differs from finite differences")
        if order > 1:
            # float0 tangents (of integer outputs) are constants nbad cannot trace: drop them
            check_grads(lambda *a: [t for t in tree_util.tree_leaves(nbad.jvp(f, a, tangents)[1])
                                    if not _is_float0(t)], args, order - 1, modes,
                        atol, rtol, eps, seed + 1)
    if "rev" in modes:
        out, vjp_fn = nbad.vjp(f, *args)
        out_leaves, out_tree = tree_util.tree_flatten(out)
        cts = [_random_like(np.asarray(o), rng) for o in out_leaves]
        ct_tree = tree_util.tree_unflatten(out_tree, cts)
        in_cts = tree_util.tree_leaves(vjp_fn(ct_tree))
        lhs = sum(_inner(c, n) for c, n in zip(cts, numeric))
        rhs = sum(_inner(np.asarray(c), t) for c, t in zip(in_cts, tangent_leaves))
        tol = rtol * 10 * max(1.0, abs(lhs)) + atol * 10 * scale
        assert abs(lhs - rhs) <= tol, f"vjp inconsistent with finite differences: {lhs} vs {rhs}"
        if order > 1:
            check_grads(lambda *a: nbad.vjp(f, *a)[1](ct_tree), args, order - 1, modes,
                        atol, rtol, eps, seed + 1)


def check_traced(prim, args, params, seed=1):
    """Apply prim's jvp and vjp rules to abstract tracers (as under jit, index
    operands traced too), evaluate the recorded IR eagerly and compare with the
    rules applied to arrays: the rules must be built from nbad operations only."""
    from nbad.core.avals import aval_of_value
    from nbad.core.trace import eval_ir, trace_to_ir

    rng = np.random.default_rng(seed)
    args = [np.asarray(a) for a in args]
    outs = prim.impl(*args, **params)
    diff = [a.dtype.kind in "fc" for a in args]
    tans = [rng.standard_normal(a.shape).astype(a.dtype) if d else np.zeros(1) for a, d in zip(args, diff)]
    ct = rng.standard_normal(np.shape(outs)).astype(np.asarray(outs).dtype)
    n = len(args)

    def rules(*xs):
        ts = [t if d else None for t, d in zip(xs[n:2 * n], diff)]
        j = prim.jvp(list(xs[:n]), ts, outs, **params)
        return [j] + [c for c in prim.vjp(xs[2 * n], list(xs[:n]), outs, **params) if c is not None]

    vals = args + tans + [ct]
    ir = trace_to_ir(rules, [aval_of_value(v) for v in vals])
    eager = [np.asarray(r) for r in rules(*vals)]
    for got, exp in zip(eval_ir(ir, vals), eager):
        np.testing.assert_allclose(np.asarray(got), exp, rtol=1e-6, atol=1e-12)
        assert np.asarray(got).dtype == exp.dtype


def trace_and_eval(fn, *args):
    """(fn(*args), ir): fn traced abstractly at the args' avals (as under jit,
    without compiling), then the IR evaluated on the args by the NumPy impls."""
    from nbad.core.avals import ShapedArray
    from nbad.core.trace import eval_ir, trace_to_ir

    args = [np.asarray(a) for a in args]
    ir = trace_to_ir(lambda *xs: [fn(*xs)], [ShapedArray(a.shape, a.dtype) for a in args])
    return eval_ir(ir, args)[0], ir


def check_batching(prim, args, batched, params=None, *, rtol=1e-13, atol=0.0):
    """Check `prim.vmap` against a loop over the examples.

    `args` are NumPy values in their batched form: operand i with batched[i]
    carries the batch as its leading axis, the others are shared. The rule is
    applied to arrays (eager NumPy) and to abstract tracers (the recorded IR
    then evaluated, as under jit); both must equal
    stack([prim.impl(*example_i) for i in range(size)]) in value, shape and dtype.
    """
    from nbad.core.avals import aval_of_value
    from nbad.core.trace import eval_ir, trace_to_ir

    params = params or {}
    args = [np.asarray(a) for a in args]
    batched = tuple(bool(b) for b in batched)
    size = next(a.shape[0] for a, b in zip(args, batched) if b)
    examples = [prim.impl(*[a[i] if b else a for a, b in zip(args, batched)], **params)
                for i in range(size)]
    if prim.multiple_results:
        expected = [np.stack([np.asarray(e[k]) for e in examples]) for k in range(len(examples[0]))]
    else:
        expected = [np.stack([np.asarray(e) for e in examples])]

    def rule(*xs):
        out = prim.vmap(size, list(xs), batched, **params)
        return list(out) if prim.multiple_results else [out]

    eager_out = rule(*args)
    ir = trace_to_ir(rule, [aval_of_value(a) for a in args])
    traced_out = eval_ir(ir, args)
    for how, outs in (("eager", eager_out), ("traced", traced_out)):
        for got, exp in zip(outs, expected):
            got = np.asarray(got)
            assert got.shape == exp.shape, f"{prim.name} vmap ({how}): shape {got.shape} != {exp.shape}"
            assert got.dtype == exp.dtype, f"{prim.name} vmap ({how}): dtype {got.dtype} != {exp.dtype}"
            np.testing.assert_allclose(got, exp, rtol=rtol, atol=atol,
                                       err_msg=f"{prim.name} vmap ({how}), batched={batched}")
    for var, exp in zip(ir.outputs, expected):
        assert var.aval.shape == exp.shape and var.aval.dtype == exp.dtype, (
            f"{prim.name} vmap: traced aval {var.aval.str_short()} != {exp.dtype}{list(exp.shape)}")
