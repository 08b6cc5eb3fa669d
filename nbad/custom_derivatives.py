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
from nbad.core.trace import bind, trace_to_ir
from nbad.errors import NbadTypeError
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
        static, dyn = self._split(args)
        leaves, in_tree = tree_util.tree_flatten(dyn)
        trees = {}

        def flat_fun(*xs):
            out = self.fun(*self._merge(static, tree_util.tree_unflatten(in_tree, list(xs))))
            out_leaves, trees["out"] = tree_util.tree_flatten(out)
            return out_leaves

        ir = trace_to_ir(flat_fun, [aval_of(x) for x in leaves], name=self.__name__)
        outs = bind(prim, *leaves, ir=ir, rule=rule, static=tuple(sorted(static.items())),
                    in_tree=in_tree, out_tree=trees["out"])
        outs = outs if isinstance(outs, list) else [outs]
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


class _JvpRule:
    """Hashable handle on the user's rule (equation params are hashable)."""

    def __init__(self, owner):
        self.owner = owner

    def jvp(self, primals, tangents, static, in_tree, out_tree):
        """The user's rule, called as JAX calls it: rule(*nondiff_args, primals, tangents)."""
        import nbad.numpy as jnp

        full = [jnp.zeros_like(p) if t is None else t for p, t in zip(primals, tangents)]
        dyn_p = tree_util.tree_unflatten(in_tree, list(primals))
        dyn_t = tree_util.tree_unflatten(in_tree, full)
        nondiff = [v for _, v in sorted(static)]
        _, tangent_out = self.owner.jvp_rule(*nondiff, tuple(dyn_p), tuple(dyn_t))
        return tree_util.tree_leaves(tangent_out)


class _VjpRule:
    def __init__(self, owner):
        self.owner = owner

    def vjp(self, cts, primals, static, in_tree, out_tree):
        owner = self.owner
        static_map = dict(static)
        args = owner._merge(static_map, tree_util.tree_unflatten(in_tree, list(primals)))
        _, residuals = owner.fwd(*args)
        ct_tree = tree_util.tree_unflatten(out_tree, list(cts))
        nondiff = [v for _, v in sorted(static)]
        in_cts = owner.bwd(*nondiff, residuals, ct_tree)
        if not isinstance(in_cts, tuple):
            raise NbadTypeError(f"custom_vjp {owner.__name__}: the bwd rule must return a tuple "
                                f"(one cotangent per differentiable argument), got {type(in_cts).__name__}")
        return tree_util.tree_leaves(in_cts, is_leaf=lambda x: x is None)


def _jvp(primals, tangents, outs, *, ir, rule, static, in_tree, out_tree):
    touts = rule.jvp(primals, tangents, static, in_tree, out_tree)
    return touts if len(ir.outputs) != 1 else touts[0]


def _jvp_call_vjp(ct, primals, outs, *, ir, rule, static, in_tree, out_tree):
    """Transpose the user's jvp: it is linear in the tangents, so the vjp of
    t -> jvp(primals, t) at any t is the transpose we need."""
    from nbad.api_ad import vjp
    import nbad.numpy as jnp

    cts = ct if isinstance(ct, list) else [ct]

    def linear(*ts):
        return rule.jvp(primals, list(ts), static, in_tree, out_tree)

    zeros = [jnp.zeros_like(p) for p in primals]
    _, vjp_fn = vjp(linear, *zeros)
    return list(vjp_fn(cts))


def _vjp_call_jvp(primals, tangents, outs, **params):
    raise NbadTypeError("can't apply forward-mode autodiff (jvp) to a custom_vjp function; "
                        "define a custom_jvp rule instead, as in JAX.")


def _vjp_call_vjp(ct, primals, outs, *, ir, rule, static, in_tree, out_tree):
    cts = ct if isinstance(ct, list) else [ct]
    return rule.vjp(cts, primals, static, in_tree, out_tree)


custom_jvp_call_p.jvp = _jvp
custom_jvp_call_p.vjp = _jvp_call_vjp
custom_vjp_call_p.jvp = _vjp_call_jvp
custom_vjp_call_p.vjp = _vjp_call_vjp
