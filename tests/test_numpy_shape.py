"""nbad.numpy shape functions vs NumPy: eagerly (values and dtypes) and traced."""
import numpy as np
import pytest

import nbad.numpy as jnp
from nbad.core.array import Array
from nbad.core.avals import ShapedArray
from nbad.core.trace import eval_ir, trace_to_ir
from nbad.errors import NbadError, ShapeError

X = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
V = np.arange(5, dtype=np.int32)
S = np.float64(3.5)
E = np.zeros((0, 3), np.int64)


def same(got, expected):
    if isinstance(expected, (list, tuple)):
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            same(g, e)
        return
    assert isinstance(got, Array), type(got)
    expected = np.asarray(expected)
    assert got.shape == expected.shape and got.dtype == expected.dtype, (got, expected)
    np.testing.assert_array_equal(got, expected)


CASES = [
    ("reshape", (X, (4, -1)), {}), ("reshape", (X, 24), {}), ("reshape", (S, (1, 1)), {}),
    ("reshape", (E, (3, 0)), {}), ("reshape", (X, (2, 3, 4)), {}),
    ("ravel", (X,), {}), ("ravel", (S,), {}),
    ("transpose", (X,), {}), ("transpose", (X, (1, -1, 0)), {}), ("transpose", (S,), {}),
    ("swapaxes", (X, 0, -1), {}), ("moveaxis", (X, 0, -1), {}), ("moveaxis", (X, [0, 1], [-1, 0]), {}),
    ("expand_dims", (X, -1), {}), ("expand_dims", (X, (0, 2)), {}), ("expand_dims", (S, 0), {}),
    ("squeeze", (X[:1, :, :1],), {}), ("squeeze", (X[:1], 0), {}), ("squeeze", (S,), {}),
    ("broadcast_to", (V, (3, 5)), {}), ("broadcast_to", (S, (2,)), {}),
    ("broadcast_arrays", (X[:, :1], V[:4]), {}),
    ("concatenate", ([X, X], -1), {}), ("concatenate", ([V, V.astype(np.float32)],), {}),
    ("concatenate", ([X, V], None), {}), ("concatenate", ([E, E[:0]],), {}),
    ("stack", ([V, V], 1), {}), ("stack", ([S, S],), {}), ("stack", ([X, X], -1), {}),
    ("hstack", ([V, V],), {}), ("hstack", ([X, X],), {}), ("vstack", ([V, V],), {}),
    ("dstack", ([V, V],), {}), ("column_stack", ([V, V],), {}),
    ("split", (V[:4], 2), {}), ("split", (X, [1, 3], -1), {}), ("array_split", (V, 3), {}),
    ("array_split", (X, [-1, 1], 1), {}),
    ("tile", (V, 2), {}), ("tile", (X, (2, 1, 1, 2)), {}), ("tile", (S, (2, 2)), {}),
    ("repeat", (V, 2), {}), ("repeat", (X, 3, -2), {}), ("repeat", (V, [1, 0, 2, 1, 3]), {}),
    ("flip", (X,), {}), ("flip", (X, (0, -1)), {}), ("fliplr", (X,), {}), ("flipud", (V,), {}),
    ("roll", (V, 2), {}), ("roll", (X, -1, 1), {}), ("roll", (X, 5), {}),
    ("roll", (X, (1, 2), (0, 2)), {}),
    ("atleast_1d", (S,), {}), ("atleast_2d", (V,), {}), ("atleast_3d", (V,), {}),
    ("atleast_3d", (X[0],), {}), ("atleast_1d", (S, V), {}),
    ("pad", (V, 2), {}), ("pad", (X, ((0, 1), (2, 0), (1, 1))), dict(constant_values=7)),
    ("pad", (X, 2), dict(mode="edge")), ("pad", (V, (3, 7)), dict(mode="wrap")),
]


@pytest.mark.parametrize("name,args,kwargs", CASES, ids=lambda c: c if isinstance(c, str) else "")
def test_eager_matches_numpy(name, args, kwargs):
    expected = getattr(np, name)(*args, **kwargs)
    same(getattr(jnp, name)(*args, **kwargs), expected)


def test_queries():
    assert jnp.shape(X) == (2, 3, 4) and jnp.ndim(S) == 0 and jnp.size(X) == 24
    assert jnp.size(X, -1) == 4 and jnp.shape([[1, 2]]) == (1, 2)


TRACED = [
    (lambda x: jnp.reshape(x, (3, -1)), X),
    (lambda x: jnp.transpose(x, (2, 0, 1)), X),
    (lambda x: jnp.concatenate([x, jnp.flip(x, 0)], axis=1), X),
    (lambda x: jnp.stack(jnp.split(x, 3, axis=1), axis=0), X),
    (lambda x: jnp.pad(x, ((1, 0), (0, 2), (1, 1)), constant_values=-1), X),
    (lambda x: jnp.tile(jnp.roll(x, 2), 2), V),
    (lambda x: jnp.repeat(x, 2, axis=0), V),
    (lambda x: jnp.squeeze(jnp.expand_dims(x, (0, 2))), V),
]


@pytest.mark.parametrize("i", range(len(TRACED)))
def test_traced_matches_eager(i):
    fn, x = TRACED[i]
    ir = trace_to_ir(lambda t: [fn(t)], [ShapedArray(x.shape, x.dtype)])
    same(eval_ir(ir, [x])[0], fn(x))


def test_no_op_records_no_equation():
    ir = trace_to_ir(lambda t: [jnp.reshape(jnp.transpose(t, (0, 1)), (2, 3))],
                     [ShapedArray((2, 3), np.float64)])
    assert ir.equations == []


@pytest.mark.parametrize("call,match", [
    (lambda: jnp.reshape(X, (5, -1)), "reshape"),
    (lambda: jnp.reshape(X, (-1, -1)), "reshape"),
    (lambda: jnp.reshape(X, 24, order="F"), "order"),
    (lambda: jnp.transpose(X, (0, 0, 1)), "transpose"),
    (lambda: jnp.squeeze(X, 1), "squeeze"),
    (lambda: jnp.expand_dims(X, 5), "expand_dims"),
    (lambda: jnp.concatenate([X, V]), "concatenate"),
    (lambda: jnp.concatenate([S, S]), "concatenate"),
    (lambda: jnp.stack([V, V[:2]]), "stack"),
    (lambda: jnp.split(V, 2), "split"),
    (lambda: jnp.broadcast_to(X, (3, 4)), "broadcast"),
    (lambda: jnp.pad(V, 1, mode="median"), "pad"),
    (lambda: jnp.swapaxes(X, 0, 3), "swapaxes"),
])
def test_errors(call, match):
    with pytest.raises(NbadError, match=match):
        call()


def test_broadcast_error_names_both_shapes():
    with pytest.raises(ShapeError, match=r"\(2, 3, 4\).*\(3, 4\)|\(3, 4\).*\(2, 3, 4\)"):
        jnp.broadcast_to(X, (3, 4))
