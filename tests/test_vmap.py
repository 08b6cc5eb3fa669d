"""nbad.vmap and lax.map: every in_axes/out_axes form against a Python loop,
compositions with grad and jit, the seeds' examples, errors, and how a map is
compiled (one fused program, the batch as a loop, matvecs as one matmul).

Reference: `loop(f, args, in_axes, out_axes)` slices each argument along its
axis, calls f per example (eager nbad, NumPy impls) and stacks the results
along out_axes, which is what vmap means.
"""
import numpy as np
import pytest

import nbad
import nbad.numpy as jnp
from nbad import lax, tree_util
from nbad.test_util import check_grads

RNG = np.random.default_rng(0)


def _x(*shape):
    return RNG.standard_normal(shape)


def loop(f, args, in_axes=0, out_axes=0, size=None):
    """vmap's meaning, for positional arguments whose in_axes are per-argument
    prefixes (int/None or pytrees of them)."""
    per_arg = in_axes if isinstance(in_axes, (tuple, list)) else (in_axes,) * len(args)
    flat = []
    for a, spec in zip(args, per_arg):
        spec_leaves, spec_def = tree_util.tree_flatten(spec, is_leaf=lambda x: x is None)
        subs = spec_def.flatten_up_to(a)
        axes = []
        for ax, sub in zip(spec_leaves, subs):
            axes += [ax] * len(tree_util.tree_leaves(sub))
        flat.append((tree_util.tree_flatten(a), axes))
    if size is None:
        size = next(np.shape(leaf)[ax] for (leaves, _), axes in flat
                    for leaf, ax in zip(leaves, axes) if ax is not None)
    results = []
    for i in range(size):
        ex = []
        for ((leaves, tree), axes) in flat:
            ex.append(tree_util.tree_unflatten(
                tree, [leaf if ax is None else np.take(leaf, i, axis=ax) for leaf, ax in zip(leaves, axes)]))
        results.append(f(*ex))
    out_leaves = [tree_util.tree_leaves(r) for r in results]
    out_tree = tree_util.tree_structure(results[0])
    o_spec = tuple(out_axes) if isinstance(out_axes, list) else out_axes
    o_leaves, o_def = tree_util.tree_flatten(o_spec, is_leaf=lambda x: x is None)
    o_axes = []
    for ax, sub in zip(o_leaves, o_def.flatten_up_to(results[0])):
        o_axes += [ax] * len(tree_util.tree_leaves(sub))
    stacked = []
    for k, ax in enumerate(o_axes):
        vals = [np.asarray(r[k]) for r in out_leaves]
        stacked.append(vals[0] if ax is None else np.stack(vals, axis=ax))
    return tree_util.tree_unflatten(out_tree, stacked)


def assert_trees_close(got, want, rtol=1e-12, atol=1e-14):
    g_leaves, g_tree = tree_util.tree_flatten(got)
    w_leaves, w_tree = tree_util.tree_flatten(want)
    assert g_tree == w_tree, f"{g_tree} != {w_tree}"
    for g, w in zip(g_leaves, w_leaves):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape, f"{g.shape} != {w.shape}"
        assert g.dtype == w.dtype, f"{g.dtype} != {w.dtype}"
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


def check(f, args, in_axes=0, out_axes=0, **kw):
    got = nbad.vmap(f, in_axes=in_axes, out_axes=out_axes, **kw)(*args)
    assert_trees_close(got, loop(f, args, in_axes, out_axes, kw.get("axis_size")))
    return got


def affine(x, w):
    return jnp.tanh(x * w + 1.0)


# -- in_axes / out_axes forms -------------------------------------------------------
@pytest.mark.parametrize("in_axes,shapes", [
    (0, [(4, 3), (4, 3)]),
    (1, [(3, 4), (3, 4)]),
    (-1, [(3, 4), (3, 4)]),
    ((0, None), [(4, 3), (3,)]),
    ((None, 1), [(3,), (3, 4)]),
    ([0, -2], [(4, 3), (4, 3)]),
    ((1, 0), [(2, 4, 3), (4, 2, 3)]),
    ((0, None), [(4,), ()]),
])
def test_in_axes_forms(in_axes, shapes):
    check(affine, [_x(*s) for s in shapes], in_axes)


@pytest.mark.parametrize("out_axes", [0, 1, -1, (2, 1), (0, 1), [1, -1]])
def test_out_axes_forms(out_axes):
    def two(x, w):
        return jnp.outer(x, w), jnp.sum(x) * w

    check(two, [_x(5, 3), _x(5, 2)], 0, out_axes)


def test_pytree_in_axes_and_outputs():
    def f(p, x):
        return {"y": p["w"] @ x + p["b"], "n": jnp.sum(x ** 2)}

    p = {"w": _x(2, 3), "b": _x(2)}
    check(f, [p, _x(6, 3)], ({"w": None, "b": None}, 0))
    check(f, [p, _x(6, 3)], (None, 0), {"y": 1, "n": 0})
    pb = {"w": _x(6, 2, 3), "b": _x(2)}
    check(f, [pb, _x(3, 6)], ({"w": 0, "b": None}, 1))


def test_out_axes_none_for_unmapped_output():
    def f(x, w):
        return x * w, jnp.sum(w ** 2)

    got = check(f, [_x(4, 3), _x(3)], (0, None), (0, None))
    assert np.shape(got[1]) == ()


def test_kwargs_are_mapped_over_axis_0():
    f = nbad.vmap(lambda x, *, w: x * w)
    x, w = _x(4, 3), _x(4, 3)
    np.testing.assert_allclose(f(x, w=w), x * w)


def test_axis_size_with_nothing_mapped():
    f = nbad.vmap(lambda w: jnp.sin(w) + 1.0, in_axes=None, axis_size=3)
    w = _x(2)
    np.testing.assert_allclose(f(w), np.broadcast_to(np.sin(w) + 1.0, (3, 2)))


def test_static_python_ints_pass_through():
    def f(x, n):
        for _ in range(n):  # Python control flow on an unmapped int
            x = jnp.sin(x)
        return x

    x = _x(4, 2)
    np.testing.assert_allclose(nbad.vmap(f, in_axes=(0, None))(x, 3), np.sin(np.sin(np.sin(x))),
                               rtol=1e-14)


def test_integer_and_bool_dtypes_and_weak_scalars():
    i = np.arange(12, dtype=np.int32).reshape(4, 3)
    got = check(lambda a, s: a * 2 + s, [i, 5], (0, None))
    assert got.dtype == np.int32
    b = i % 2 == 0
    check(lambda m, a: jnp.where(m, a, -a), [b, i])
    f32 = _x(4, 3).astype(np.float32)
    assert nbad.vmap(lambda a: a * 2.5)(f32).dtype == np.float32


def test_lax_map():
    xs = {"a": _x(5, 3), "b": _x(5)}
    got = lax.map(lambda d: jnp.sum(d["a"]) * d["b"], xs)
    np.testing.assert_allclose(got, xs["a"].sum(1) * xs["b"], rtol=1e-13)


def test_vmap_returns_a_plain_function():
    # seed 004 prints type(vmap(f)): <class 'function'>, as in JAX
    assert type(nbad.vmap(affine)).__name__ == "function"
    assert nbad.vmap(affine).__name__ == "affine"


# -- compositions ---------------------------------------------------------------------
def loss(w, x, y):
    return (jnp.dot(x, w) - y) ** 2


def test_vmap_of_grad_per_example_gradients():
    w, X, y = _x(3), _x(8, 3), _x(8)
    got = nbad.vmap(nbad.grad(loss), in_axes=(None, 0, 0))(w, X, y)
    want = 2 * (X @ w - y)[:, None] * X
    np.testing.assert_allclose(got, want, rtol=1e-12)
    jitted = nbad.jit(nbad.vmap(nbad.grad(loss), in_axes=(None, 0, 0)))(w, X, y)
    np.testing.assert_allclose(jitted, want, rtol=1e-12)


def test_grad_of_vmap():
    w, X, y = _x(3), _x(8, 3), _x(8)

    def total(w):
        return jnp.sum(nbad.vmap(loss, in_axes=(None, 0, 0))(w, X, y))

    want = 2 * X.T @ (X @ w - y)
    np.testing.assert_allclose(nbad.grad(total)(w), want, rtol=1e-12)
    np.testing.assert_allclose(nbad.jit(nbad.grad(total))(w), want, rtol=1e-12)


def test_grad_of_vmap_wrt_mapped_and_shared_inputs():
    def f(a, b):
        return jnp.sum(nbad.vmap(lambda u, v: jnp.sin(u) * v, in_axes=(0, None))(a, b) ** 2)

    a, b = _x(4, 3), _x(3)
    ga, gb = nbad.grad(f, argnums=(0, 1))(a, b)
    r = np.sin(a) * b
    np.testing.assert_allclose(ga, 2 * r * np.cos(a) * b, rtol=1e-12)
    np.testing.assert_allclose(gb, (2 * r * np.sin(a)).sum(0), rtol=1e-12)
    check_grads(f, (a, b), order=2, modes=("fwd", "rev"))


def test_jvp_of_vmap():
    x, t = _x(4, 3), _x(4, 3)
    out, tan = nbad.jvp(nbad.vmap(jnp.sin), (x,), (t,))
    np.testing.assert_allclose(out, np.sin(x), rtol=1e-14)
    np.testing.assert_allclose(tan, np.cos(x) * t, rtol=1e-14)


def test_vmap_of_vmap_and_nested_shared_inputs():
    def f(x, y, w):
        return jnp.sum(x * w) * y

    x, y, w = _x(3, 5, 2), _x(5, 4), _x(2)
    inner = nbad.vmap(f, in_axes=(0, None, None))          # over x's rows
    outer = nbad.vmap(inner, in_axes=(0, None, None))      # over x's first axis
    want = np.einsum("abk,k->ab", x, w)[:, :, None, None] * y
    np.testing.assert_allclose(outer(x, y, w), want, rtol=1e-12)
    twice = nbad.vmap(nbad.vmap(lambda a, b: a * b + 1.0), in_axes=(1, 0))
    a, b = _x(3, 2, 4), _x(2, 3, 4)
    np.testing.assert_allclose(twice(a, b), np.swapaxes(a, 0, 1) * b + 1.0, rtol=1e-14)


def test_vmap_of_jacrev_and_jacfwd():
    def f(x):
        return jnp.array([x[0] * x[1], jnp.sin(x[2]), jnp.sum(x ** 2)])

    xs = _x(4, 3)
    want = np.stack([np.asarray(nbad.jacrev(f)(x)) for x in xs])
    np.testing.assert_allclose(nbad.vmap(nbad.jacrev(f))(xs), want, rtol=1e-12)
    np.testing.assert_allclose(nbad.vmap(nbad.jacfwd(f))(xs), want, rtol=1e-12)
    np.testing.assert_allclose(nbad.jit(nbad.vmap(nbad.jacrev(f)))(xs), want, rtol=1e-12)


def test_vmap_of_custom_jvp_function():
    @nbad.custom_jvp
    def softplus(x):
        return jnp.log1p(jnp.exp(x))

    @softplus.defjvp
    def softplus_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return softplus(x), t * nbad.nn.sigmoid(x)

    x = _x(6)
    np.testing.assert_allclose(nbad.vmap(nbad.grad(softplus))(x), 1 / (1 + np.exp(-x)), rtol=1e-12)


def test_hessian_and_jacobians_match_loops():
    def f(x):
        return jnp.sum(jnp.sin(x) * x ** 2)

    x = _x(7)
    diag = -np.sin(x) * x ** 2 + 4 * x * np.cos(x) + 2 * np.sin(x)
    np.testing.assert_allclose(nbad.hessian(f)(x), np.diag(diag), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(nbad.jit(nbad.hessian(f))(x), np.diag(diag), rtol=1e-12, atol=1e-14)


def test_vmap_of_function_returning_a_constant():
    got = nbad.vmap(lambda x: 1.0)(_x(3))
    np.testing.assert_array_equal(got, np.ones(3))


def test_batch_of_size_zero_and_one():
    check(affine, [_x(1, 3), _x(1, 3)])
    got = nbad.vmap(affine)(_x(0, 3), _x(0, 3))
    assert got.shape == (0, 3)


def test_vmap_of_custom_vjp_function_and_its_gradient():
    @nbad.custom_vjp
    def clip_gradient(x):
        return x * 1.0

    def fwd(x):
        return x * 1.0, None

    def bwd(_, ct):
        return (jnp.clip(ct, -0.5, 0.5),)

    clip_gradient.defvjp(fwd, bwd)
    xs = _x(5, 3)
    np.testing.assert_array_equal(nbad.vmap(clip_gradient)(xs), xs)
    g = nbad.vmap(nbad.grad(lambda x: jnp.sum(clip_gradient(x) * 3.0)))(xs)
    np.testing.assert_array_equal(g, np.full((5, 3), 0.5))


def test_every_primitive_has_a_batching_rule():
    from nbad.core.primitive import ALL_PRIMITIVES

    missing = [name for name, p in ALL_PRIMITIVES.items() if not p.has_rule("vmap")]
    assert not missing, f"primitives without a vmap rule: {missing}"
