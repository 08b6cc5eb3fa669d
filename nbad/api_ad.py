"""The differentiation API: grad, value_and_grad, vjp, jvp, linearize,
jacfwd, jacrev, hessian (JAX's names, arguments and errors).

Each traces the function once (transforms/ad.py) and runs jvp or vjp rules
over its IR. Arguments that are not differentiated pass through as ordinary
Python values, so `int(n)` and `if switch == 0` work on them as in JAX.

jacfwd and jacrev are vmap of jvp and vjp over a basis (DESIGN §6): one trace,
one forward pass, and one batched tangent or cotangent pass.
"""
from __future__ import annotations

import functools

import numpy as np

from nbad import tree_util
from nbad.core.avals import aval_of_value
from nbad.core.trace import Tracer, wrap_eager
from nbad.errors import NbadTypeError, NbadValueError
from nbad.api import check_callable
from nbad.transforms import ad


def _fn_name(fun) -> str:
    return getattr(fun, "__name__", type(fun).__name__)


def _argnums_tuple(argnums, nargs, fn_name, api):
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)
    if not nums:
        raise NbadValueError(f"{api}({fn_name}): argnums must not be empty")
    for a in nums:
        if not isinstance(a, (int, np.integer)):
            raise NbadTypeError(f"{api}({fn_name}): argnums must be ints, got {a!r}")
        if a >= nargs:  # JAX's classes: TypeError here (too few arguments), ValueError below
            raise NbadTypeError(
                f"{api}({fn_name}): differentiating with respect to argnums={argnums} requires at "
                f"least {a + 1} positional arguments to be passed by the caller, but got only "
                f"{nargs}.")
        if a < -nargs:
            raise NbadValueError(
                f"{api}({fn_name}): argnums={argnums} is out of range for a call with {nargs} "
                f"positional argument{'s' if nargs != 1 else ''}.")
    return tuple(a % nargs for a in nums), single


def _leaf_aval(x, api, fn_name):
    if isinstance(x, Tracer):
        return x.aval
    try:
        return aval_of_value(np.asarray(x) if isinstance(x, (list, tuple)) else x)
    except NbadTypeError:
        raise NbadTypeError(f"{api}({fn_name}): cannot differentiate with respect to a value of type "
                            f"{type(x).__name__}") from None


def _check_inexact(avals, api, fn_name, allow_int):
    for aval in avals:
        if aval.dtype.kind not in "fc" and not allow_int:
            raise NbadTypeError(
                f"{api}({fn_name}) requires real- or complex-valued inputs (input dtype that is a "
                f"sub-dtype of np.inexact), but got {aval.dtype.name}. If you want to use Boolean- "
                "or integer-valued inputs, use vjp or set allow_int to True; to differentiate "
                "with respect to a Python int, pass a float (3.0 instead of 3).")


def _vjp(fun, primals: tuple, has_aux: bool, api: str, allow_int: bool = True):
    """(outputs, vjp_fn(out_ct) -> tuple of input cts, aux) for fun(*primals)."""
    name = _fn_name(fun)
    leaves, in_tree = tree_util.tree_flatten(primals)
    avals = [_leaf_aval(x, api, name) for x in leaves]
    _check_inexact(avals, api, name, allow_int)
    leaves = [x if isinstance(x, (Tracer, np.ndarray, np.generic)) else np.asarray(x, a.dtype)
              for x, a in zip(leaves, avals)]
    trees = {}

    def flat_fn(*tracers):
        out = fun(*tree_util.tree_unflatten(in_tree, list(tracers)))
        aux = None
        if has_aux:
            if not (isinstance(out, (tuple, list)) and len(out) == 2):
                kind = ("a single array" if isinstance(out, (Tracer, np.ndarray, np.generic))
                        else f"a {type(out).__name__}")
                raise NbadTypeError(
                    f"{api}({name}, has_aux=True) requires the function to return a pair "
                    f"(output, auxiliary data), but it returned {kind}.")
            out, aux = out
        out_leaves, trees["out"] = tree_util.tree_flatten(out)
        aux_leaves, trees["aux"] = tree_util.tree_flatten(aux)
        trees["n_out"] = len(out_leaves)
        return out_leaves + aux_leaves

    lin = ad.linearize_ir(flat_fn, leaves, avals, name=f"{api}({name})", reroll_loops=True)
    values = [_as_result(v) for v in lin.outputs]
    n_out = trees["n_out"]
    outs = tree_util.tree_unflatten(trees["out"], values[:n_out])
    aux = tree_util.tree_unflatten(trees["aux"], values[n_out:]) if has_aux else None
    out_avals = [_leaf_aval(v, api, name) for v in values[:n_out]]

    def vjp_fn(ct):
        ct_leaves, ct_tree = tree_util.tree_flatten(ct)
        if ct_tree != trees["out"]:
            raise NbadValueError(f"vjp of {name}: the cotangent's structure {ct_tree} does not "
                                 f"match the output's {trees['out']}")
        for c, a in zip(ct_leaves, out_avals):
            c_dtype = _value_dtype(c)
            if a.dtype.kind not in "fc" or _is_weak_scalar(c):
                c_dtype = a.dtype  # integer outputs' cotangents are ignored (float0 in JAX)
            if tuple(np.shape(c)) != a.shape or c_dtype != a.dtype:
                got = f"{c_dtype.name}{list(np.shape(c))}"
                raise NbadValueError(
                    f"vjp of {name}: unexpected type (shape/dtype) for the cotangent: got {got}, but "
                    f"expected {a.dtype.name}{list(a.shape)} because the corresponding output of "
                    f"the differentiated function had that type.")
        in_cts = ad.backward_pass(lin, list(ct_leaves) + [None] * (len(values) - n_out))
        filled = [_zero_cotangent(a) if c is None else _as_result(c) for c, a in zip(in_cts, avals)]
        return tuple(tree_util.tree_unflatten(in_tree, filled))

    return outs, vjp_fn, aux, out_avals, lin, trees


def _as_result(v):
    return v if isinstance(v, Tracer) else wrap_eager(v)


def _zero_cotangent(aval):
    if aval.dtype.kind not in "fc":
        return np.zeros(aval.shape, dtype=ad.FLOAT0)
    return _as_result(ad.zeros_like_aval(aval))


def _split_args(fun, args, argnums):
    """fun of the differentiated arguments only, the others fixed as given."""
    def partial_fun(*dyn):
        full = list(args)
        for i, v in zip(argnums, dyn):
            full[i] = v
        return fun(*full)

    partial_fun.__name__ = _fn_name(fun)
    return partial_fun, tuple(args[i] for i in argnums)


def _traced_without_value(arg) -> bool:
    leaves = tree_util.tree_leaves(arg)
    return (all(isinstance(x, (Tracer, np.ndarray, np.generic, bool, int, float, complex)) for x in leaves)
            and any(isinstance(x, Tracer) and x.value is None for x in leaves))


def _lifted_argnums(args, nums) -> tuple:
    """The other arguments that are traced without values (under jit): the forward
    pass traces them too, so that what the function computes from them alone is
    part of each step of a Python loop and the loop rerolls before it is
    differentiated (ad.linearize_ir); their cotangents are dropped."""
    return tuple(i for i, a in enumerate(args) if i not in nums and _traced_without_value(a))


def value_and_grad(fun, argnums=0, has_aux=False, holomorphic=False, allow_int=False, reduce_axes=()):
    """f -> (x -> (f(x), ∇f(x))); see nbad.grad."""
    check_callable(fun, "value_and_grad")
    name = _fn_name(fun)
    api = "value_and_grad"

    @functools.wraps(fun)
    def value_and_grad_f(*args, **kwargs):
        nums, single = _argnums_tuple(argnums, len(args), name, "grad")
        if kwargs:
            fun_kw = functools.partial(fun, **kwargs)
            fun_kw.__name__ = name
        else:
            fun_kw = fun
        lifted = _lifted_argnums(args, nums)
        partial_fun, dyn = _split_args(fun_kw, args, nums + lifted)
        leaves = tree_util.tree_leaves(dyn[:len(nums)])
        _check_inexact([_leaf_aval(x, "grad", name) for x in leaves], "grad", name, allow_int)
        out, vjp_fn, aux, out_avals, _, trees = _vjp(partial_fun, dyn, has_aux, api)
        if len(out_avals) != 1 or not tree_util.treedef_is_leaf(trees["out"]):
            raise NbadTypeError(f"Gradient only defined for scalar-output functions; {name} returned "
                                f"a {trees['out']}. Use nbad.jacrev or nbad.vjp for several outputs.")
        aval = out_avals[0]
        if aval.shape != ():
            raise NbadTypeError(
                f"Gradient only defined for scalar-output functions. Output of {name} had shape: "
                f"{aval.shape}. Use nbad.jacrev(f) for the Jacobian, nbad.vjp for a "
                "vector-Jacobian product, or nbad.vmap(nbad.grad(f)) for per-example gradients.")
        if aval.dtype.kind == "c" and not holomorphic:
            raise NbadTypeError(
                f"grad({name}) requires real-valued outputs (output dtype that is a sub-dtype of "
                f"np.floating), but got {aval.dtype.name}. For holomorphic differentiation, pass "
                "holomorphic=True. For differentiation of non-holomorphic functions involving "
                "complex outputs, use nbad.vjp directly.")
        if aval.dtype.kind not in "fc":
            raise NbadTypeError(
                f"grad({name}) requires real-valued outputs (output dtype that is a sub-dtype of "
                f"np.floating), but got {aval.dtype.name}. The function's output is an integer or "
                "boolean: it is piecewise constant, so its gradient is zero or undefined.")
        grads = vjp_fn(np.ones((), aval.dtype))[:len(nums)]  # the seed: a literal under any trace
        g = grads[0] if single else tuple(grads)
        return ((out, aux), g) if has_aux else (out, g)

    return value_and_grad_f


def grad(fun, argnums=0, has_aux=False, holomorphic=False, allow_int=False, reduce_axes=()):
    """The gradient of a scalar function with respect to argument(s) `argnums`."""
    check_callable(fun, "grad")
    vg = value_and_grad(fun, argnums, has_aux, holomorphic, allow_int, reduce_axes)

    @functools.wraps(fun)
    def grad_f(*args, **kwargs):
        value, g = vg(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    return grad_f


def vjp(fun, *primals, has_aux=False, reduce_axes=()):
    """(fun(*primals), vjp_fn[, aux]) with vjp_fn(ct) -> cotangents of the primals."""
    check_callable(fun, "vjp")
    out, vjp_fn, aux, *_ = _vjp(fun, primals, has_aux, "vjp")
    return (out, vjp_fn, aux) if has_aux else (out, vjp_fn)


def _check_tangents(name, primals, tangents):
    p_leaves, p_tree = tree_util.tree_flatten(primals)
    t_leaves, t_tree = tree_util.tree_flatten(tangents)
    if p_tree != t_tree:
        raise NbadTypeError(f"jvp({name}): primal and tangent arguments must have the same tree "
                            f"structure; got {p_tree} and {t_tree}.")
    for p, t in zip(p_leaves, t_leaves):
        if np.shape(p) != np.shape(t):
            raise NbadValueError(f"jvp({name}): primal shape {np.shape(p)} and tangent shape "
                                 f"{np.shape(t)} differ; tangents must have their primal's shape.")
        p_dtype, t_dtype = _value_dtype(p), _value_dtype(t)
        expected = p_dtype if p_dtype.kind in "fc" else ad.FLOAT0
        if t_dtype != expected and not (_is_weak_scalar(t) and expected.kind in "fc"):
            raise NbadTypeError(
                f"jvp({name}): primal and tangent arguments do not match; dtypes must be equal, or "
                "in case of int/bool primal dtype the tangent dtype must be float0. Got primal "
                f"dtype {p_dtype.name} and so expected tangent dtype {expected}, but got tangent "
                f"dtype {t_dtype.name} instead.")
    return t_leaves


def _value_dtype(x):
    if isinstance(x, Tracer):
        return x.aval.dtype
    if isinstance(x, (np.ndarray, np.generic)) and x.dtype == ad.FLOAT0:
        return x.dtype
    return _leaf_aval(x, "jvp", "").dtype


def _is_weak_scalar(x):
    """A Python float or complex stands for any inexact dtype, as in JAX."""
    return type(x) in (float, complex)


def jvp(fun, primals, tangents, has_aux=False):
    """(fun(*primals), the directional derivative along `tangents`)."""
    check_callable(fun, "jvp")
    name = _fn_name(fun)
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise NbadTypeError(f"jvp({name}): primals and tangents must be tuples or lists, got "
                            f"{type(primals).__name__} and {type(tangents).__name__}.")
    t_leaves = _check_tangents(name, tuple(primals), tuple(tangents))
    out, _, aux, out_avals, lin, trees = _vjp(fun, tuple(primals), has_aux, "jvp")
    out_t = _tangents_out(lin, trees, out_avals, t_leaves)
    return (out, out_t, aux) if has_aux else (out, out_t)


def _tangents_out(lin, trees, out_avals, t_leaves):
    tangents = [None if isinstance(t, (np.ndarray, np.generic)) and t.dtype == ad.FLOAT0 else t
                for t in t_leaves]
    outs = ad.jvp_pass(lin, tangents)[: trees["n_out"]]
    filled = [_zero_cotangent(a) if t is None else _as_result(t) for t, a in zip(outs, out_avals)]
    return tree_util.tree_unflatten(trees["out"], filled)


def linearize(fun, *primals):
    """(fun(*primals), f_jvp) where f_jvp(*tangents) reuses this trace and forward pass."""
    check_callable(fun, "linearize")
    name = _fn_name(fun)
    out, _, _, out_avals, lin, trees = _vjp(fun, primals, False, "linearize")

    def f_jvp(*tangents):
        return _tangents_out(lin, trees, out_avals, _check_tangents(name, primals, tangents))

    return out, f_jvp


def _basis(aval):
    """The unit vectors of an aval's space, stacked: shape (size,) + aval.shape."""
    import nbad.numpy as jnp

    return jnp.reshape(jnp.eye(aval.size, dtype=aval.dtype), (aval.size,) + aval.shape)


def _jacobian_tree(blocks, in_tree, out_tree, single):
    """JAX's layout: for each output leaf, the Jacobian blocks (blocks[k][i],
    shaped out_shape + in_shape) in the structure of the differentiated args."""
    per_out = []
    for jacs in blocks:
        per_in = tree_util.tree_unflatten(in_tree, jacs)
        per_out.append(per_in[0] if single else per_in)
    return tree_util.tree_unflatten(out_tree, per_out)


def _float0_block(oa, ia):
    return np.zeros(oa.shape + ia.shape, dtype=ad.FLOAT0)


def jacrev(fun, argnums=0, has_aux=False, holomorphic=False, allow_int=False):
    """The Jacobian by reverse mode: vmap of the vjp over the output's basis (DESIGN §6)."""
    check_callable(fun, "jacrev")
    name = _fn_name(fun)

    @functools.wraps(fun)
    def jacrev_f(*args):
        import nbad.numpy as jnp
        from nbad.api_vmap import apply_vmap

        nums, single = _argnums_tuple(argnums, len(args), name, "jacrev")
        partial_fun, dyn = _split_args(fun, args, nums)
        out, vjp_fn, aux, out_avals, _, trees = _vjp(partial_fun, dyn, has_aux, "jacrev",
                                                     allow_int=allow_int)
        in_leaves, in_tree = tree_util.tree_flatten(dyn)
        in_avals = [_leaf_aval(x, "jacrev", name) for x in in_leaves]
        floats = [i for i, a in enumerate(in_avals) if a.dtype.kind in "fc"]
        per_out = []
        for k, oa in enumerate(out_avals):
            def pullback(e, k=k):
                cts = [e if j == k else jnp.zeros(a.shape, a.dtype) for j, a in enumerate(out_avals)]
                in_cts = tree_util.tree_leaves(vjp_fn(tree_util.tree_unflatten(trees["out"], cts)))
                return [in_cts[i] for i in floats]

            rows = apply_vmap(pullback, (_basis(oa),), {}, 0, 0, None, f"jacrev({name})")
            blocks = [_float0_block(oa, ia) for ia in in_avals]
            for i, r in zip(floats, rows):
                blocks[i] = jnp.reshape(r, oa.shape + in_avals[i].shape)
            per_out.append(blocks)
        result = _jacobian_tree(per_out, in_tree, trees["out"], single)
        return (result, aux) if has_aux else result

    return jacrev_f


def jacfwd(fun, argnums=0, has_aux=False, holomorphic=False):
    """The Jacobian by forward mode: vmap of the jvp over the input's basis (DESIGN §6)."""
    check_callable(fun, "jacfwd")
    name = _fn_name(fun)

    @functools.wraps(fun)
    def jacfwd_f(*args):
        import nbad.numpy as jnp
        from nbad.api_vmap import apply_vmap

        nums, single = _argnums_tuple(argnums, len(args), name, "jacfwd")
        partial_fun, dyn = _split_args(fun, args, nums)
        out, _, aux, out_avals, lin, trees = _vjp(partial_fun, dyn, has_aux, "jacfwd", allow_int=False)
        in_leaves, in_tree = tree_util.tree_flatten(dyn)
        in_avals = [_leaf_aval(x, "jacfwd", name) for x in in_leaves]
        n_out = trees["n_out"]
        columns = []  # per input leaf: the Jacobian block of every output
        for i, ia in enumerate(in_avals):
            def push(t, i=i):
                tangents = [t if j == i else None for j in range(len(in_avals))]
                touts = ad.jvp_pass(lin, tangents)[:n_out]
                return [jnp.zeros(oa.shape, oa.dtype) if t is None else t
                        for t, oa in zip(touts, out_avals)]

            cols = apply_vmap(push, (_basis(ia),), {}, 0, -1, None, f"jacfwd({name})")
            columns.append([jnp.reshape(c, oa.shape + ia.shape) for c, oa in zip(cols, out_avals)])
        per_out = [[columns[i][k] for i in range(len(in_avals))] for k in range(len(out_avals))]
        result = _jacobian_tree(per_out, in_tree, trees["out"], single)
        return (result, aux) if has_aux else result

    return jacfwd_f


def hessian(fun, argnums=0, has_aux=False, holomorphic=False):
    """jacfwd(jacrev(fun)), as in JAX."""
    check_callable(fun, "hessian")
    return jacfwd(jacrev(fun, argnums, has_aux, holomorphic), argnums, has_aux, holomorphic)
