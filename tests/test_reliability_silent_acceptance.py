"""Mistakes nbad used to accept silently where JAX raises (issue 14), each with JAX's class."""
import numpy as np
import pytest

import nbad
import nbad.numpy as jnp

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
import jax.numpy as jjnp  # noqa: E402


def _raises_like_jax(ours, theirs, match=None):
    """Both raise; nbad's exception is an instance of the builtin class JAX raised."""
    with pytest.raises(Exception) as jax_error:
        theirs()
    builtin = next(c for c in type(jax_error.value).__mro__ if c.__module__ == "builtins")
    with pytest.raises(builtin, match=match):
        ours()


# -- jit's arguments ---------------------------------------------------------------------------
@pytest.mark.parametrize("options, match", [
    (dict(static_argnums=-3), "static_argnums"),
    (dict(static_argnums=3), "static_argnums"),
    (dict(static_argnames="y"), "argnames"),
    (dict(static_argnames=("x", "z")), "argnames"),
    (dict(static_argnum=1), "unexpected keyword argument 'static_argnum'"),
], ids=["neg_argnum", "big_argnum", "argname", "argnames", "typo"])
def test_jit_options_checked_when_created(options, match):
    def f(x):
        return x

    _raises_like_jax(lambda: nbad.jit(f, **options), lambda: jax.jit(f, **options), match)


def test_jit_decorator_form_checks_keywords_too():
    with pytest.raises(TypeError, match="static_argnum"):
        nbad.jit(static_argnum=1)


def test_static_argnames_of_kwargs_functions_and_ignored_jax_options_are_accepted():
    f = nbad.jit(lambda x, **kw: x * kw["k"], static_argnames="k", inline=True, keep_unused=True)
    assert float(f(2.0, k=3)) == 6.0
    g = nbad.jit(lambda *args: args[0] + args[1], static_argnums=5)
    assert float(g(1.0, 2.0)) == 3.0


@pytest.mark.parametrize("transform", ["grad", "value_and_grad", "jacfwd", "jacrev", "hessian",
                                       "vmap", "jit"])
def test_transformations_of_a_non_callable_raise_at_once(transform):
    _raises_like_jax(lambda: getattr(nbad, transform)(3), lambda: getattr(jax, transform)(3),
                     "callable")


@pytest.mark.parametrize("call", [lambda lib: lib.jvp(3, (1.0,), (1.0,)),
                                  lambda lib: lib.vjp(3, 1.0), lambda lib: lib.linearize(3, 1.0)],
                         ids=["jvp", "vjp", "linearize"])
def test_jvp_vjp_linearize_of_a_non_callable_raise_typeerror(call):
    _raises_like_jax(lambda: call(nbad), lambda: call(jax), "callable")


# -- tangents and cotangents of the wrong dtype ------------------------------------------------
@pytest.mark.parametrize("tangent", [np.ones(3, np.float32), np.ones(3, np.int64)],
                         ids=["float32", "int64"])
def test_jvp_tangent_of_the_wrong_dtype(tangent):
    _raises_like_jax(lambda: nbad.jvp(jnp.sin, (np.ones(3),), (tangent,)),
                     lambda: jax.jvp(jjnp.sin, (np.ones(3),), (tangent,)), "dtype")


def test_jvp_tangents_that_fit_are_accepted():
    _, t = nbad.jvp(jnp.sin, (1.0,), (1.0,))  # Python floats for float64
    np.testing.assert_allclose(t, np.cos(1.0))
    _, t = nbad.jvp(lambda x, n: x * n, (np.ones(2), np.int64(3)),
                    (np.ones(2), np.zeros((), nbad.transforms.ad.FLOAT0)))
    np.testing.assert_allclose(t, [3.0, 3.0])


@pytest.mark.parametrize("ct", [np.ones(3, np.float32), np.ones(4)], ids=["dtype", "shape"])
def test_vjp_cotangent_of_the_wrong_type(ct):
    _, ours = nbad.vjp(jnp.sin, np.ones(3))
    _, theirs = jax.vjp(jjnp.sin, np.ones(3))
    _raises_like_jax(lambda: ours(ct), lambda: theirs(ct), "cotangent")


# -- custom rules of the wrong structure, shape or dtype ----------------------------------------
def _custom_vjp(lib, np_, bwd):
    @lib.custom_vjp
    def f(x, y):
        return np_.sin(x) * y

    f.defvjp(lambda x, y: (f(x, y), (x, y)), bwd)
    return lambda x: np_.sum(f(x, 2.0))


BAD_BWD = {
    "shape": lambda r, g: (np.ones(5), g),
    "missing": lambda r, g: (g,),
    "not_a_tuple": lambda r, g: g,
    "nested": lambda r, g: ((g, g), g),
}


@pytest.mark.parametrize("kind", BAD_BWD, ids=list(BAD_BWD))
def test_custom_vjp_bwd_of_the_wrong_structure_or_shape(kind):
    x = np.ones(3)
    _raises_like_jax(lambda: nbad.grad(_custom_vjp(nbad, jnp, BAD_BWD[kind]))(x),
                     lambda: jax.grad(_custom_vjp(jax, jjnp, BAD_BWD[kind]))(x), "Custom VJP bwd")


def test_custom_vjp_bwd_may_return_none_for_an_argument():
    loss = _custom_vjp(nbad, jnp, lambda r, g: (jnp.cos(r[0]) * g * r[1], None))
    np.testing.assert_allclose(nbad.grad(loss)(np.ones(3)), 2 * np.cos(np.ones(3)))


def _custom_jvp(lib, np_, tangent_out):
    @lib.custom_jvp
    def f(x):
        return np_.sin(x)

    f.defjvp(lambda p, t: (f(p[0]), tangent_out(t[0])))
    return f


BAD_TANGENT = {"shape": lambda t: np.ones(5), "dtype": lambda t: t.astype(np.float32),
               "structure": lambda t: (t, t)}


@pytest.mark.parametrize("kind", BAD_TANGENT, ids=list(BAD_TANGENT))
def test_custom_jvp_tangent_of_the_wrong_type(kind):
    x = np.ones(3)
    ours, theirs = _custom_jvp(nbad, jnp, BAD_TANGENT[kind]), _custom_jvp(jax, jjnp, BAD_TANGENT[kind])
    _raises_like_jax(lambda: nbad.jvp(ours, (x,), (x,)), lambda: jax.jvp(theirs, (x,), (x,)),
                     "Custom JVP rule")
    _raises_like_jax(lambda: nbad.grad(lambda v: jnp.sum(ours(v)))(x),
                     lambda: jax.grad(lambda v: jjnp.sum(theirs(v)))(x), "Custom JVP rule")
