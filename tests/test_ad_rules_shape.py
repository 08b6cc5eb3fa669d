"""jvp/vjp rules of the shape and indexing primitives (nbad/rules/shape.py,
nbad/rules/indexing.py).

Eager only (no jit): check_rule compares each rule with central finite
differences of the primitive's impl; scatter conventions are compared with
JAX's .at[] gradients.
"""
import numpy as np
import pytest

from nbad.core.primitive import Primitive
from nbad.rules import indexing, shape as sp
from nbad.test_util import check_rule, check_traced

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
import jax.numpy as jjnp  # noqa: E402

RNG = np.random.default_rng(0)


def _x(*shape):
    return RNG.standard_normal(shape)


def _i(*values):
    return np.array(values, dtype=np.int64)


def test_every_primitive_has_rules():
    prims = {v for m in (sp, indexing) for v in vars(m).values() if isinstance(v, Primitive)}
    assert len(prims) >= 16
    for p in prims:
        assert p.nondiff or (p.has_rule("jvp") and p.has_rule("vjp")), p.name


@pytest.mark.parametrize("xshape,shape,dims", [
    ((3,), (2, 3), (1,)), ((3,), (3, 2), (0,)), ((1, 3), (4, 3), (0, 1)),
    ((2, 1), (2, 5, 3), (0, 2)), ((), (2, 3), ()), ((1,), (4,), (0,)),
])
def test_broadcast_in_dim(xshape, shape, dims):
    check_rule(sp.broadcast_in_dim_p, [_x(*xshape)], dict(shape=shape, broadcast_dimensions=dims))


@pytest.mark.parametrize("xshape,new", [((2, 3), (6,)), ((2, 3, 4), (4, 6)), ((5,), (1, 5, 1)), ((), (1,))])
def test_reshape(xshape, new):
    check_rule(sp.reshape_p, [_x(*xshape)], dict(new_sizes=new))


@pytest.mark.parametrize("perm", [(1, 0, 2), (2, 0, 1), (1, 2, 0), (0, 1, 2)])
def test_transpose(perm):
    check_rule(sp.transpose_p, [_x(2, 3, 4)], dict(permutation=perm))


def test_squeeze_expand_dims():
    check_rule(sp.squeeze_p, [_x(1, 3, 1, 2)], dict(dimensions=(0, 2)))
    check_rule(sp.squeeze_p, [_x(3, 1)], dict(dimensions=(1,)))
    check_rule(sp.expand_dims_p, [_x(3, 2)], dict(dimensions=(0, 3)))
    check_rule(sp.expand_dims_p, [_x(3)], dict(dimensions=(1,)))


@pytest.mark.parametrize("start,limit,strides", [
    ((0, 0), (4, 5), (1, 1)), ((1, 2), (3, 5), (1, 1)), ((0, 1), (4, 5), (2, 3)),
    ((1, 0), (4, 4), (3, 2)), ((2, 2), (2, 5), (1, 2)), ((3, 4), (4, 5), (5, 5)),
])
def test_slice(start, limit, strides):
    check_rule(sp.slice_p, [_x(4, 5)], dict(start_indices=start, limit_indices=limit, strides=strides))


@pytest.mark.parametrize("dims", [(0,), (1,), (0, 2), ()])
def test_rev(dims):
    check_rule(sp.rev_p, [_x(2, 3, 4)], dict(dimensions=dims))


@pytest.mark.parametrize("dim", [0, 1])
def test_concatenate(dim):
    shapes = [(2, 3), (2, 1), (2, 4)] if dim == 1 else [(1, 3), (4, 3), (2, 3)]
    check_rule(sp.concatenate_p, [_x(*s) for s in shapes], dict(dimension=dim))
    check_rule(sp.concatenate_p, [_x(3, 2)], dict(dimension=dim))


@pytest.mark.parametrize("config", [
    ((1, 2, 0), (0, 0, 0)), ((0, 0, 1), (2, 1, 2)), ((-1, 2, 0), (1, -2, 1)),
    ((-2, -1, 2), (0, -3, 0)), ((1, 1, 3), (-1, 0, 1)), ((0, 0, 0), (0, 0, 0)),
])
def test_pad(config):
    check_rule(sp.pad_p, [_x(4, 5), np.float64(0.7)], dict(padding_config=config))
    check_rule(sp.pad_p, [_x(4, 5), 0.7], dict(padding_config=config))


def test_full_iota():
    check_rule(sp.full_p, [np.float64(1.5)], dict(shape=(2, 3), dtype=np.dtype(np.float64)))
    check_rule(sp.full_p, [np.float64(1.5)], dict(shape=(), dtype=np.dtype(np.float64)))
    assert sp.iota_p.nondiff
    ct = np.ones((2, 3), np.float64)
    (c,) = sp.full_p.vjp(ct, [np.float32(1.0)], None, shape=(2, 3), dtype=np.dtype(np.float64))
    assert np.asarray(c).dtype == np.float32 and float(c) == 6.0


@pytest.mark.parametrize("xshape,indices,axes", [
    ((5,), [_i(0, 2, 2, 4, 0)], (0,)),
    ((4, 3), [_i(3, 1, 1)], (0,)),
    ((4, 3), [_i([0, 2], [2, 2])], (1,)),
    ((2, 4, 3), [_i(1, 3, 1), _i(0, 2, 0)], (1, 2)),
    ((4, 3), [_i(-2, 7, 1)], (0,)),          # out of bounds: clamped like gather
])
def test_gather(xshape, indices, axes):
    check_rule(sp.gather_p, [_x(*xshape), *indices], dict(axes=axes))


def _updates_shape(xshape, idx, axes):
    return xshape[:axes[0]] + np.shape(idx[0]) + xshape[axes[-1] + 1:]


SCATTERS = [
    ((5,), [_i(0, 2, 2, 4, 2)], (0,), "drop"),
    ((5,), [_i(1, 3, 0)], (0,), "drop"),
    ((4, 3), [_i([3, 1], [1, 0])], (0,), "drop"),
    ((2, 4, 3), [_i(1, 3, 1), _i(0, 2, 0)], (1, 2), "drop"),
    ((5,), [_i(-1, 2, 9, 2)], (0,), "drop"),  # out of bounds dropped
    ((5,), [_i(-1, 2, 9, 2)], (0,), "clip"),  # ... or clamped
]


@pytest.mark.parametrize("xshape,idx,axes,oob", SCATTERS)
def test_scatter_add(xshape, idx, axes, oob):
    u = _x(*_updates_shape(xshape, idx, axes))
    check_rule(sp.scatter_add_p, [_x(*xshape), u, *idx], dict(axes=axes, oob=oob))


@pytest.mark.parametrize("combine", ["set", "mul", "min", "max"])
@pytest.mark.parametrize("xshape,idx,axes,oob", SCATTERS)
def test_scatter(combine, xshape, idx, axes, oob):
    u = _x(*_updates_shape(xshape, idx, axes))
    check_rule(sp.scatter_p, [_x(*xshape), u, *idx], dict(axes=axes, oob=oob, combine=combine))


def test_scatter_mul_with_zero_updates():
    idx = _i(1, 1, 3, 3, 3, 0)
    for u in ([0.0, 2.0, 0.0, 0.0, 3.0, 0.0], [0.0, 2.0, 1.5, 0.0, 3.0, -1.0]):
        check_rule(sp.scatter_p, [_x(5), np.array(u), idx], dict(axes=(0,), oob="drop", combine="mul"))


def _jax_scatter_mul(x, i, u):
    """x.at[i].multiply(u): JAX differentiates that only for unique indices, so
    as a masked product (exact for duplicates and zeros)."""
    hits = i[:, None] == jjnp.arange(x.shape[0])[None, :]
    return x * jjnp.prod(jjnp.where(hits, u[:, None], 1.0), axis=0)


def _jax_at(combine):
    return {"set": lambda x, i, u: x.at[i].set(u), "mul": _jax_scatter_mul,
            "min": lambda x, i, u: x.at[i].min(u), "max": lambda x, i, u: x.at[i].max(u),
            "add": lambda x, i, u: x.at[i].add(u)}[combine]


@pytest.mark.parametrize("combine", ["set", "add", "mul", "min", "max"])
def test_scatter_duplicates_match_jax(combine):
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    idx = _i(1, 3, 1, 1, 5, 3, 9)
    u = np.array([0.5, 4.0, 2.0, 2.0, 6.0, 3.0, 7.0])  # ties with each other and x
    if combine == "mul":
        u[[2, 5]] = 0.0  # a zero among duplicates at 1, one of two at 3
    params = dict(axes=(0,), oob="drop")
    if combine == "add":
        prim = sp.scatter_add_p
    else:
        prim, params = sp.scatter_p, dict(params, combine=combine)
    jf = _jax_at(combine)
    out = prim.impl(x, u, idx, **params)
    np.testing.assert_allclose(out, jf(jjnp.array(x), idx, jjnp.array(u)))
    jx, ju = jax.jit(jax.jacrev(lambda a, b: jf(a, idx, b), argnums=(0, 1)))(x, u)
    rows = [prim.vjp(e, [x, u, idx], out, **params) for e in np.eye(x.size)]
    np.testing.assert_allclose(np.array([np.asarray(r[0]) for r in rows]), np.array(jx), atol=1e-12)
    np.testing.assert_allclose(np.array([np.asarray(r[1]) for r in rows]), np.array(ju), atol=1e-12)
    assert all(r[2] is None for r in rows)
    tangent = lambda tx, tu: np.asarray(prim.jvp([x, u, idx], [tx, tu, None], out, **params))  # noqa: E731
    fx = np.array([tangent(e, None) for e in np.eye(x.size)]).T
    fu = np.array([tangent(None, e) for e in np.eye(u.size)]).T
    np.testing.assert_allclose(fx, np.array(jx), atol=1e-12)
    np.testing.assert_allclose(fu, np.array(ju), atol=1e-12)


@pytest.mark.parametrize("starts,sizes", [
    ((1, 2), (2, 2)), ((0, 0), (4, 5)), ((3, 4), (2, 3)), ((-1, 1), (1, 5)),  # clamped starts
])
def test_dynamic_slice(starts, sizes):
    starts = [np.int64(s) for s in starts]
    check_rule(sp.dynamic_slice_p, [_x(4, 5), *starts], dict(slice_sizes=sizes))
    check_rule(sp.dynamic_update_slice_p, [_x(4, 5), _x(*sizes), *starts])


LINEAR_CASES = [
    (sp.broadcast_in_dim_p, [(3,)], dict(shape=(2, 3), broadcast_dimensions=(1,))),
    (sp.reshape_p, [(2, 3)], dict(new_sizes=(6,))),
    (sp.transpose_p, [(2, 3)], dict(permutation=(1, 0))),
    (sp.squeeze_p, [(1, 3)], dict(dimensions=(0,))),
    (sp.expand_dims_p, [(3,)], dict(dimensions=(0,))),
    (sp.slice_p, [(4, 5)], dict(start_indices=(1, 0), limit_indices=(4, 5), strides=(2, 2))),
    (sp.rev_p, [(4,)], dict(dimensions=(0,))),
    (sp.concatenate_p, [(2,), (3,)], dict(dimension=0)),
    (sp.pad_p, [(3,), ()], dict(padding_config=((1, -1, 1),))),
]


@pytest.mark.parametrize("prim,shapes,params", LINEAR_CASES, ids=lambda v: getattr(v, "name", ""))
def test_float32_stays_float32_and_integers_get_none(prim, shapes, params):
    xs = [_x(*s).astype(np.float32) for s in shapes]
    out = prim.impl(*xs, **params)
    cts = prim.vjp(np.ones_like(out), xs, out, **params)
    for c, x in zip(cts, xs):
        assert np.asarray(c).dtype == np.float32 and np.shape(c) == x.shape
    t = prim.jvp(xs, [np.ones_like(x) for x in xs], out, **params)
    assert np.asarray(t).dtype == np.float32
    xi = [np.ones(s, np.int64) for s in shapes]
    outi = prim.impl(*xi, **params)
    assert prim.vjp(np.ones(np.shape(outi)), xi, outi, **params) == [None] * len(xi)


@pytest.mark.parametrize("combine", ["set", "mul", "min", "max"])
def test_scatter_float32_and_integer(combine):
    x, u, idx = _x(5).astype(np.float32), _x(3).astype(np.float32), _i(1, 1, 4)
    params = dict(axes=(0,), oob="drop", combine=combine)
    out = sp.scatter_p.impl(x, u, idx, **params)
    ct_x, ct_u, ct_i = sp.scatter_p.vjp(np.ones_like(out), [x, u, idx], out, **params)
    assert np.asarray(ct_x).dtype == np.float32 and np.asarray(ct_u).dtype == np.float32 and ct_i is None
    assert np.asarray(sp.scatter_p.jvp([x, u, idx], [x, u, None], out, **params)).dtype == np.float32
    xi, ui = np.arange(5), np.arange(3)
    outi = sp.scatter_p.impl(xi, ui, idx, **params)
    assert sp.scatter_p.vjp(np.ones(5), [xi, ui, idx], outi, **params) == [None, None, None]
    (g, *rest) = sp.gather_p.vjp(np.ones(3, np.float32), [x, idx], None, axes=(0,))
    assert np.asarray(g).dtype == np.float32 and rest == [None]


_M = np.arange(20.0).reshape(4, 5) / 7 - 1
TRACED = [
    (sp.broadcast_in_dim_p, [_M[:1]], dict(shape=(3, 4, 5), broadcast_dimensions=(1, 2))),
    (sp.reshape_p, [_M], dict(new_sizes=(2, 10))),
    (sp.transpose_p, [_M], dict(permutation=(1, 0))),
    (sp.squeeze_p, [_M[:1]], dict(dimensions=(0,))),
    (sp.expand_dims_p, [_M], dict(dimensions=(1,))),
    (sp.slice_p, [_M], dict(start_indices=(1, 0), limit_indices=(4, 5), strides=(2, 2))),
    (sp.rev_p, [_M], dict(dimensions=(1,))),
    (sp.concatenate_p, [_M, _M[:2]], dict(dimension=0)),
    (sp.pad_p, [_M, np.float64(1.0)], dict(padding_config=((1, -1, 1), (0, 2, 0)))),
    (sp.full_p, [np.float64(2.0)], dict(shape=(2, 3), dtype=np.dtype(np.float64))),
    (sp.gather_p, [_M, _i(1, 1, 3, -1, 9)], dict(axes=(1,))),
    (sp.scatter_add_p, [_M, _M[:, ::-1], _i(1, 1, 3, -1, 9)], dict(axes=(1,), oob="drop")),
    (sp.dynamic_slice_p, [_M, np.int64(1), np.int64(4)], dict(slice_sizes=(2, 2))),
    (sp.dynamic_update_slice_p, [_M, _M[:2, :2], np.int64(3), np.int64(2)], {}),
] + [(sp.scatter_p, [_M, _M[::-1], _i(1, 1, 3, -1, 9)], dict(axes=(1,), oob=oob, combine=c))
     for c in ("set", "mul", "min", "max") for oob in ("drop", "clip")]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("prim,args,params", TRACED, ids=lambda v: getattr(v, "name", ""))
def test_rules_trace(prim, args, params, dtype):
    check_traced(prim, [a.astype(dtype) if a.dtype.kind == "f" else a for a in args], params)
