"""x[index] and x.at[index] vs NumPy: basic and advanced indexing, eager and traced."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import nbad.numpy as jnp
from nbad.core.array import Array, as_array
from nbad.core.avals import ShapedArray
from nbad.core.trace import eval_ir, trace_to_ir
from nbad.errors import ConcretizationError, InPlaceUpdateError, NbadError
from nbad.numpy._indexing import getitem
from nbad.test_util import trace_and_eval

X = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
INDICES = [
    1, -1, (2, -3), (slice(None), 1), (Ellipsis, 2), (1, Ellipsis, slice(1, 4)),
    (None, 1, slice(1, None, 2), None), slice(None, None, -1), (slice(-1, -4, -2), slice(3, 0, -1)),
    (slice(10, -10, -3),), slice(5, 1), (), Ellipsis, None, (Ellipsis, None),
    [0, 2], np.array([[0, 1], [2, 0]]), ([0, 2], slice(None), [1, 3]),
    (slice(None), [0, 2], [1, 3]), ([[0], [2]], 1, [1, 3, 4]), (1, slice(None), [-1, 0]),
    (slice(-1, -4, -2), [1], None, [2]), ([0, 1], None, [1, 2]), (Ellipsis, [4, 0]),
    X[:, :, 0] > 20, (1, X[0] > 7), (slice(None), X[0, :, 0] > 6), (X > 30),
    np.array(2), ([],), (np.array([], dtype=np.int32), slice(None)), True,
]


def same(got, expected):
    assert isinstance(got, Array)
    assert got.shape == expected.shape and got.dtype == expected.dtype, (got.shape, expected.shape)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("index", INDICES, ids=repr)
def test_getitem_matches_numpy(index):
    same(getitem(X, index), X[index])


@pytest.mark.parametrize("index", [0, (Ellipsis,), None, ()])
def test_getitem_zero_d(index):
    s = np.float64(3.0)
    if index == 0:
        with pytest.raises(IndexError):
            getitem(s, index)
        return
    same(getitem(np.asarray(s), index), np.asarray(s)[index])


def test_getitem_empty_array():
    e = np.zeros((0, 3))
    same(getitem(e, (slice(None), 1)), e[:, 1])
    same(getitem(e, np.zeros(0, int)), e[np.zeros(0, int)])


@pytest.mark.parametrize("index,error", [
    (3, IndexError), ((0, 0, 0, 0), IndexError), ((Ellipsis, Ellipsis), IndexError),
    (1.5, IndexError), (np.array([0, 7]), IndexError), ((0, -5), IndexError),
    (X[:2] > 0, IndexError),
])
def test_getitem_errors_like_numpy(index, error):
    with pytest.raises(error):
        X[index]
    with pytest.raises(error):
        getitem(X, index)


def _traced(fn, *args):
    return as_array(trace_and_eval(fn, *args)[0])  # an identity IR returns its input as is


@pytest.mark.parametrize("index", INDICES[:24], ids=repr)
def test_traced_getitem_with_static_index(index):
    same(_traced(lambda t: t[index], X), X[index])


def test_traced_integer_indices_wrap_negatives_and_clamp():
    i = np.array([-1, 0, 2, 7], np.int32)
    got = _traced(lambda t, j: t[:, j], X[0], i)
    same(got, X[0][:, np.clip(np.where(i < 0, i + 5, i), 0, 4)])
    same(_traced(lambda t, j: t[j, 1:], X[0], np.int64(-2)), X[0][-2, 1:])


def test_traced_mask_is_an_error_under_jit_but_fine_when_concrete():
    with pytest.raises(ConcretizationError, match="where"):
        _traced(lambda t: t[t > 2], X)
    ir = trace_to_ir(lambda t: [t[t > 20.0]], [ShapedArray(X.shape, X.dtype)], in_values=[X])
    same(eval_ir(ir, [X])[0], X[X > 20])


@st.composite
def index_tuples(draw, shape):
    """Random mixes of ints, slices, None, Ellipsis and integer arrays valid for `shape`."""
    items, axis, used_ellipsis = [], 0, False
    while axis < len(shape) and draw(st.booleans()):
        n = shape[axis]
        kind = draw(st.sampled_from(["int", "slice", "none", "array", "ellipsis"]))
        if kind == "int":
            items.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            bounds = st.none() | st.integers(-n - 2, n + 2)
            items.append(slice(draw(bounds), draw(bounds),
                               draw(st.none() | st.integers(-3, 3).filter(bool))))
        elif kind == "none":
            items.append(None)
            continue
        elif kind == "array":
            size = draw(st.integers(0, 3))
            items.append(np.array(draw(st.lists(st.integers(-n, n - 1), min_size=size,
                                                max_size=size)), dtype=np.int64))
        elif not used_ellipsis:
            used_ellipsis = True
            items.append(Ellipsis)
            axis = len(shape) - sum(1 for i in items if i is not None and i is not Ellipsis)
            continue
        axis += 1
    return tuple(items)


@settings(max_examples=150, deadline=None)
@given(index_tuples((3, 4, 5)))
def test_getitem_random_indices(index):
    try:
        expected = X[index]
    except IndexError:
        with pytest.raises(IndexError):
            getitem(X, index)
        return
    same(getitem(X, index), expected)


# -- .at --------------------------------------------------------------------------
A = as_array(np.arange(12.0).reshape(3, 4))


def numpy_update(index, op, values):
    out = np.array(A)
    if op == "set":
        out[index] = values
    elif op == "add":
        np.add.at(out, index, values)
    elif op == "multiply":
        np.multiply.at(out, index, values)
    elif op == "min":
        np.minimum.at(out, index, values)
    elif op == "max":
        np.maximum.at(out, index, values)
    elif op == "divide":
        out[index] = out[index] / values
    elif op == "power":
        out[index] = out[index] ** values
    return out


@pytest.mark.parametrize("op", ["set", "add", "multiply", "min", "max", "divide", "power"])
@pytest.mark.parametrize("index,values", [
    ((1, 2), 5.0), (0, np.array([1.0, 2, 3, 4])), ((slice(None), -1), 2.0),
    ((slice(None, None, -2), slice(1, 3)), np.array([[1.0, 2], [3, 4]])),
    (([0, 0, 2], [1, 1, 3]), np.array([1.0, 2, 3])), (A > 6, 3.0), ((Ellipsis, None, 2), 7.0),
])
def test_at_updates_match_numpy(op, index, values):
    got = getattr(A.at[index], op)(values)
    same(got, numpy_update(index, op, values))
    np.testing.assert_array_equal(A, np.arange(12.0).reshape(3, 4))  # functional update


def test_at_drops_out_of_bounds_updates_and_casts_values():
    same(A.at[5].set(1.0), np.array(A))
    same(A.at[[0, 9], 1].add(1), numpy_update((0, 1), "add", 1.0))
    same(A.at[-4, 0].set(1.0), np.array(A))
    i32 = as_array(np.arange(4, dtype=np.int32))
    same(i32.at[1].set(2.7), np.array([0, 2, 2, 3], np.int32))
    same(A.at[0].get(), np.asarray(A)[0])


def test_at_on_tracers():
    def f(x, i):
        return x.at[i, 1:].add(10.0).at[0].multiply(2.0)

    i = np.array([2, -1, 7])
    got = _traced(f, np.array(A), i)
    expected = np.array(A)
    np.add.at(expected, (np.array([2, 2]), slice(1, None)), 10.0)
    expected[0] *= 2
    same(got, expected)


def test_at_shape_error():
    with pytest.raises(NbadError, match="indexed shape"):
        A.at[0].set(np.ones(3))


def test_in_place_assignment_points_to_at():
    with pytest.raises(InPlaceUpdateError, match=r"\.at\["):
        A[0] = 1.0


def test_take_and_take_along_axis():
    idx = np.array([[0, 2], [1, 0]])
    same(jnp.take(X, idx, axis=1), np.take(X, idx, axis=1))
    same(jnp.take(X, [5, -1]), np.take(X, [5, -1]))
    order = np.argsort(X, axis=-1)[..., ::-1]
    same(jnp.take_along_axis(X, order, axis=-1), np.take_along_axis(X, order, axis=-1))
