"""Crashes of the existing API (issues 14 and 15), each compared with JAX's behaviour."""
import numpy as np
import pytest

import nbad
import nbad.numpy as jnp
from nbad import tree_util

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
import jax.numpy as jjnp  # noqa: E402


# -- functions returning None or () -------------------------------------------------------
@pytest.mark.parametrize("fn", [lambda x: None, lambda x: (), lambda x: (x, (), None),
                                lambda x: {"a": None, "b": [x]}], ids=["None", "empty", "mixed", "dict"])
def test_jit_returns_none_and_empty_containers_as_jax(fn):
    x = np.ones(2)
    got, want = nbad.jit(fn)(x), jax.jit(fn)(x)
    assert tree_util.tree_structure(got) == tree_util.tree_structure(
        jax.tree_util.tree_map(np.asarray, want))
    for g, w in zip(tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
        np.testing.assert_array_equal(g, w)
    assert nbad.jit(fn)(x) is None if fn(x) is None else True  # the second call: cached


# -- custom_jvp / custom_vjp with several outputs ---------------------------------------------
def _pair(lib, np_):
    @lib.custom_jvp
    def pair(x):
        return np_.sin(x), np_.cos(x)

    @pair.defjvp
    def pair_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return pair(x), (np_.cos(x) * t, -np_.sin(x) * t)

    return pair


def _dict_vjp(lib, np_):
    @lib.custom_vjp
    def f(x):
        return {"a": np_.sin(x), "b": 2.0 * x}

    def fwd(x):
        return f(x), x

    def bwd(x, ct):
        return (np_.cos(x) * ct["a"] + 2.0 * ct["b"],)

    f.defvjp(fwd, bwd)
    return f


def _modes(pair, dict_fn, lib, np_):
    loss_pair = lambda x: np_.sum(pair(x)[0] * pair(x)[1])  # noqa: E731
    loss_dict = lambda x: np_.sum(dict_fn(x)["a"] * dict_fn(x)["b"])  # noqa: E731
    return {
        "pair plain": lambda x: pair(x),
        "pair jit": lambda x: lib.jit(pair)(x),
        "pair grad": lambda x: lib.grad(loss_pair)(x),
        "pair jit grad": lambda x: lib.jit(lib.grad(loss_pair))(x),
        "pair jvp": lambda x: lib.jvp(pair, (x,), (np.ones_like(x),)),
        "pair vmap": lambda x: lib.vmap(pair)(np.stack([x, 2 * x])),
        "dict plain": lambda x: dict_fn(x),
        "dict jit": lambda x: lib.jit(dict_fn)(x),
        "dict grad": lambda x: lib.grad(loss_dict)(x),
        "dict jit grad": lambda x: lib.jit(lib.grad(loss_dict))(x),
        "dict vmap": lambda x: lib.vmap(dict_fn)(np.stack([x, 2 * x])),
    }


def test_custom_rules_with_several_outputs_in_every_mode():
    x = np.array([0.3, -1.2])
    ours = _modes(_pair(nbad, jnp), _dict_vjp(nbad, jnp), nbad, jnp)
    theirs = _modes(_pair(jax, jjnp), _dict_vjp(jax, jjnp), jax, jjnp)
    want_of = {}
    for mode in ours:  # JAX's eager result is the oracle of nbad's jitted one too
        eager = mode.replace(" jit", "") if " jit " in mode else mode.replace(" jit", " plain")
        if eager not in want_of:
            want_of[eager] = theirs[eager](x)
        got, want = ours[mode](x), want_of[eager]
        got_leaves, want_leaves = tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)
        assert len(got_leaves) == len(want_leaves), mode
        for g, w in zip(got_leaves, want_leaves):
            np.testing.assert_allclose(g, w, rtol=1e-12, err_msg=mode)


# -- a custom_jvp rule calling the function itself; control flow on values ------------------
@nbad.custom_jvp
def _self_calling(x):
    return jnp.sin(x)


@_self_calling.defjvp
def _self_calling_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return _self_calling(x), jnp.cos(x) * t


def test_custom_jvp_rule_calling_its_function_does_not_recurse():
    x = np.array([0.5, 1.0, 2.0])
    np.testing.assert_allclose(nbad.grad(lambda v: jnp.sum(_self_calling(v)))(x), np.cos(x))
    np.testing.assert_allclose(nbad.jit(nbad.grad(lambda v: jnp.sum(_self_calling(v))))(x), np.cos(x))
    np.testing.assert_allclose(nbad.jvp(_self_calling, (x,), (np.ones(3),))[1], np.cos(x))
    np.testing.assert_allclose(nbad.grad(nbad.grad(_self_calling))(0.5), -np.sin(0.5))


@nbad.custom_jvp
def _branchy(x):
    if x > 0:
        return x * 2.0
    return -x


_branchy.defjvp(lambda p, t: (_branchy(p[0]), t[0] * 2.0 if p[0] > 0 else -t[0]))


def test_python_control_flow_on_values_inside_custom_jvp_outside_jit():
    assert float(_branchy(3.0)) == 6.0 and float(_branchy(-3.0)) == 3.0
    assert float(nbad.grad(_branchy)(3.0)) == 2.0 and float(nbad.grad(_branchy)(-3.0)) == -1.0
    with pytest.raises(nbad.errors.ConcretizationError):
        nbad.jit(_branchy)(1.0)  # under jit a branch on a value needs lax.cond, as in JAX


# -- pytrees whose aux data is a dict ----------------------------------------------------------
class _Box:
    def __init__(self, x, meta):
        self.x, self.meta = x, meta


tree_util.register_pytree_node(_Box, lambda b: ((b.x,), dict(b.meta)), lambda aux, ch: _Box(ch[0], aux))


def test_pytree_with_dict_aux_data_under_jit():
    scale = nbad.jit(lambda b: _Box(b.x * b.meta["scale"], b.meta))
    out = scale(_Box(np.ones(2), {"scale": 2.0}))
    np.testing.assert_array_equal(out.x, [2.0, 2.0])
    assert out.meta == {"scale": 2.0}
    np.testing.assert_array_equal(scale(_Box(np.ones(2), {"scale": 3.0})).x, [3.0, 3.0])
    assert scale.trace_count == 2  # aux data that differs is another structure
    scale(_Box(np.ones(2), {"scale": 3.0}))
    assert scale.trace_count == 2
