"""custom_jvp and custom_vjp with JAX's decorator API.

    @nbad.custom_jvp
    def f(x): ...
    @f.defjvp
    def f_jvp(primals, tangents): return f(*primals), tangent_out

    @nbad.custom_vjp
    def g(x): ...
    def g_fwd(x): return g(x), residuals
    def g_bwd(residuals, ct): return (ct_x,)
    g.defvjp(g_fwd, g_bwd)

A call binds one `custom_jvp_call`/`custom_vjp_call` equation holding the
function's IR and the rule (rules/control.py), so grad, jvp and jit see the
rule instead of the body. Reverse mode of a custom_jvp function transposes
the user's jvp (linear in the tangents) with nbad's own backward pass, as JAX
does. nondiff_argnums arguments are passed through as static Python values.
"""
from __future__ import annotations

import functools

from nbad import tree_util
from nbad.core.trace import Tracer, bind, current_level, trace_to_ir
from nbad.errors import NbadTypeError, NbadValueError
from nbad.numpy._core import aval_of
from nbad.rules.control import custom_jvp_call_p, custom_vjp_call_p


class _CustomFunction:
    def __init__(self, fun, nondiff_argnums=()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)

    def _split(self, args):
        static = {i: args[i] for i in self.nondiff_argnums}
        dyn = tuple(a for i, a in enumerate(args) if i not in static)
        return static, dyn

    def _merge(self, static, dyn):
        it = iter(dyn)
        n = len(static) + len(dyn)
        return [static[i] if i in static else next(it) for i in range(n)]

    def _bind(self, prim, args, rule):
        if current_level() == 0:  # no transformation: the rule cannot matter (as in JAX)
            return self.fun(*args)
        static, dyn = self._split(args)
        leaves, in_tree = tree_util.tree_flatten(dyn)
        trees = {}

        def flat_fun(*xs):
            out = self.fun(*self._merge(static, tree_util.tree_unflatten(in_tree, list(xs))))
            out_leaves, trees["out"] = tree_util.tree_flatten(out)
            return out_leaves

        # Traced with values where they are known (outside jit), so Python control
        # flow on values works in the function, as it does in the rule.
        values = [x.value if isinstance(x, Tracer) else x for x in leaves]
        concrete = all(v is not None for v in values)
        ir = trace_to_ir(flat_fun, [aval_of(x) for x in leaves], in_values=values if concrete else None,
                         name=self.__name__)
        outs = bind(prim, *leaves, ir=ir, rule=rule, static=tuple(sorted(static.items())),
                    in_tree=in_tree, out_tree=trees["out"])
        return tree_util.tree_unflatten(trees["out"], outs)


class custom_jvp(_CustomFunction):
    def defjvp(self, jvp):
        self.jvp_rule = jvp
        return jvp

    def defjvps(self, *jvps):
        """A rule per positional argument, as JAX's: jvps[i](g, ans, *args) is the output
        tangent due to argument i's tangent g (None: argument i does not contribute)."""
        if self.nondiff_argnums:
            raise NbadTypeError(f"custom_jvp {self.__name__}: defjvps does not support "
                                "nondiff_argnums; use defjvp")

        def jvp(primals, tangents):
            ans = self(*primals)
            terms = [rule(t, ans, *primals) for rule, t in zip(jvps, tangents) if rule is not None]
            if not terms:
                return ans, tree_util.tree_map(lambda x: x * 0, ans)
            return ans, tree_util.tree_map(lambda *ts: functools.reduce(lambda a, b: a + b, ts),
                                           *terms)

        self.defjvp(jvp)

    def __call__(self, *args):
        if not hasattr(self, "jvp_rule"):
            raise NbadTypeError(f"custom_jvp function {self.__name__} has no rule: decorate one "
                                "with @{name}.defjvp".replace("{name}", self.__name__))
        return self._bind(custom_jvp_call_p, args, _JvpRule(self))


class custom_vjp(_CustomFunction):
    def defvjp(self, fwd, bwd):
        self.fwd, self.bwd = fwd, bwd

    def __call__(self, *args):
        if not hasattr(self, "fwd"):
            raise NbadTypeError(f"custom_vjp function {self.__name__} has no rule: call "
                                f"{self.__name__}.defvjp(fwd, bwd) first")
        return self._bind(custom_vjp_call_p, args, _VjpRule(self))


def _type_str(aval) -> str:
    return f"{aval.dtype.name}{list(aval.shape)}"


class _JvpRule:
    """Hashable handle on the user's rule (equation params are hashable)."""

    def __init__(self, owner):
        self.owner = owner

    def jvp(self, primals, tangents, static, in_tree, out_tree, out_avals):
        """The user's rule, called as JAX calls it: rule(*nondiff_args, primals, tangents),
        its tangents checked against the function's outputs as JAX checks them."""
        import nbad.numpy as jnp

        full = [jnp.zeros_like(p) if t is None else t for p, t in zip(primals, tangents)]
        dyn_p = tree_util.tree_unflatten(in_tree, list(primals))
        dyn_t = tree_util.tree_unflatten(in_tree, full)
        nondiff = [v for _, v in sorted(static)]
        result = self.owner.jvp_rule(*nondiff, tuple(dyn_p), tuple(dyn_t))
        if not (isinstance(result, (tuple, list)) and len(result) == 2):
            raise NbadTypeError(
                f"custom_jvp rule of {self.owner.__name__} must return a pair (primal_out, "
                f"tangent_out), got {type(result).__name__}.")
        t_leaves, t_tree = tree_util.tree_flatten(result[1])
        if t_tree != out_tree:
            raise NbadTypeError(
                f"Custom JVP rule of {self.owner.__name__} must produce primal and tangent outputs "
                f"with equal container (pytree) structures, but got {out_tree} and {t_tree}.")
        for t, want in zip(t_leaves, out_avals):
            got = aval_of(t)
            if want.dtype.kind in "fc" and (got.shape != want.shape or got.dtype != want.dtype):
                raise NbadTypeError(
                    f"Custom JVP rule of {self.owner.__name__} must produce primal and tangent "
                    "outputs with corresponding shapes and dtypes. Expected "
                    f"{_type_str(want)} (tangent type of {_type_str(want)}) but got "
                    f"{_type_str(got)}.")
        return t_leaves


class _VjpRule:
    def __init__(self, owner):
        self.owner = owner

    def vjp(self, cts, primals, static, in_tree, out_tree):
        owner = self.owner
        static_map = dict(static)
        dyn = tree_util.tree_unflatten(in_tree, list(primals))
        args = owner._merge(static_map, dyn)
        _, residuals = owner.fwd(*args)
        ct_tree = tree_util.tree_unflatten(out_tree, list(cts))
        nondiff = [v for _, v in sorted(static)]
        in_cts = owner.bwd(*nondiff, residuals, ct_tree)
        return _checked_cotangents(owner.__name__, in_cts, dyn, in_tree)


def _checked_cotangents(name, in_cts, dyn, in_tree):
    """The bwd rule's output as one cotangent (or None) per primal leaf, checked as
    JAX checks it: a tuple with one entry per differentiable argument (None for
    zeros), each of its argument's structure and shapes."""
    if not isinstance(in_cts, (tuple, list)) or len(in_cts) != len(dyn):
        got = tree_util.tree_structure(in_cts, is_leaf=lambda x: x is None)
        raise NbadTypeError(
            f"Custom VJP bwd rule of {name} must produce an output with the same container "
            "(pytree) structure as the args tuple of the primal function, and in particular must "
            "produce a tuple of length equal to the number of arguments to the primal function, "
            f"but got bwd output structure {got} for primal input structure {in_tree}.")
    flat = []
    for i, (ct, arg) in enumerate(zip(in_cts, dyn)):
        arg_leaves, arg_tree = tree_util.tree_flatten(arg)
        if ct is None:
            flat.extend([None] * len(arg_leaves))
            continue
        ct_leaves, ct_tree = tree_util.tree_flatten(ct, is_leaf=lambda x: x is None)
        if ct_tree != arg_tree:
            raise NbadTypeError(
                f"Custom VJP bwd rule of {name} must produce an output with the same container "
                f"(pytree) structure as the args tuple of the primal function, but at output[{i}] "
                f"it produced {ct_tree} for an argument of structure {arg_tree}.")
        for c, p in zip(ct_leaves, arg_leaves):
            if c is None:
                continue
            want, got = aval_of(p), aval_of(c)
            if got.shape != want.shape:
                raise NbadValueError(
                    f"Custom VJP bwd rule of {name} must produce an output with the same type as "
                    f"the args tuple of the primal function, but at output[{i}] the bwd rule "
                    f"produced an output of type {_type_str(got)} corresponding to an input of "
                    f"type {_type_str(want)}, so the shapes do not match.")
        flat.extend(ct_leaves)
    return flat


def _jvp(primals, tangents, outs, *, ir, rule, static, in_tree, out_tree):
    return rule.jvp(primals, tangents, static, in_tree, out_tree, [v.aval for v in ir.outputs])


def _jvp_call_vjp(cts, primals, outs, *, ir, rule, static, in_tree, out_tree):
    """Transpose the user's jvp: it is linear in the tangents, so the vjp of
    t -> jvp(primals, t) at any t is the transpose we need."""
    from nbad.api_ad import vjp
    import nbad.numpy as jnp

    out_avals = [v.aval for v in ir.outputs]

    def linear(*ts):
        return rule.jvp(primals, list(ts), static, in_tree, out_tree, out_avals)

    zeros = [jnp.zeros_like(p) for p in primals]
    _, vjp_fn = vjp(linear, *zeros)
    return list(vjp_fn(list(cts)))


def _vjp_call_jvp(primals, tangents, outs, **params):
    raise NbadTypeError("can't apply forward-mode autodiff (jvp) to a custom_vjp function; "
                        "define a custom_jvp rule instead, as in JAX.")


def _vjp_call_vjp(cts, primals, outs, *, ir, rule, static, in_tree, out_tree):
    return rule.vjp(cts, primals, static, in_tree, out_tree)

custom_jvp_call_p.jvp = _jvp
custom_jvp_call_p.vjp = _jvp_call_vjp
custom_vjp_call_p.jvp = _vjp_call_jvp
custom_vjp_call_p.vjp = _vjp_call_vjp
