"""Shape and data-movement primitives: abstract_eval agrees with impl, and impl
with NumPy, over dtypes, 0-d/empty shapes, non-contiguous and read-only inputs."""
import numpy as np
import pytest

from nbad.core.avals import ShapedArray
from nbad.core.trace import bind, bind_nullary, trace_to_ir, eval_ir
from nbad.errors import NbadError
from nbad.rules import shape as sp

DTYPES = [np.float32, np.float64, np.int32, np.int64, np.bool_]
SHAPE_PRIMS = [sp.squeeze_p, sp.expand_dims_p, sp.slice_p, sp.rev_p, sp.concatenate_p, sp.pad_p,
               sp.gather_p, sp.scatter_add_p, sp.scatter_p, sp.dynamic_slice_p,
               sp.dynamic_update_slice_p, sp.iota_p, sp.full_p]


def sample(shape, dtype, layout="c"):
    """A test array; layout 'f' (non-contiguous view) or 'ro' (read-only)."""
    n = int(np.prod(shape))
    x = (np.arange(n * 2) % 7 - 3).astype(dtype)[::2].reshape(shape) if layout == "f" \
        else (np.arange(n) % 7 - 3).astype(dtype).reshape(shape)
    if layout == "ro":
        x.flags.writeable = False
    return x


def check(prim, *args, expected, **params):
    """impl == expected, and abstract_eval predicts impl's shape and dtype."""
    out = prim.impl(*args, **params)
    np.testing.assert_array_equal(out, expected)
    assert out.dtype == np.asarray(expected).dtype
    aval = prim.abstract_eval(*[ShapedArray(np.shape(a), np.asarray(a).dtype) for a in args],
                              **params)
    assert aval.shape == np.shape(out) and aval.dtype == out.dtype
    return out


@pytest.mark.parametrize("prim", SHAPE_PRIMS, ids=str)
def test_every_primitive_has_abstract_eval_and_impl(prim):
    assert prim.has_rule("abstract_eval") and prim.has_rule("impl")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["c", "f", "ro"])
def test_views(dtype, layout):
    x = sample((3, 1, 4), dtype, layout)
    check(sp.squeeze_p, x, dimensions=(1,), expected=x[:, 0])
    check(sp.expand_dims_p, x, dimensions=(0, 4), expected=x[None, ..., None])
    check(sp.slice_p, x, start_indices=(1, 0, 0), limit_indices=(3, 1, 4), strides=(1, 1, 3),
          expected=x[1:3, :, ::3])
    check(sp.rev_p, x, dimensions=(0, 2), expected=x[::-1, :, ::-1])
    assert np.shares_memory(sp.rev_p.impl(x, dimensions=(0,)), x)


@pytest.mark.parametrize("dtype", DTYPES)
def test_zero_d_and_empty(dtype):
    s = np.asarray(5, dtype)
    check(sp.expand_dims_p, s, dimensions=(0,), expected=s[None])
    check(sp.rev_p, s, dimensions=(), expected=s)
    e = np.zeros((0, 3), dtype)
    check(sp.slice_p, e, start_indices=(0, 1), limit_indices=(0, 3), strides=(1, 1), expected=e[:, 1:])
    check(sp.concatenate_p, e, sample((2, 3), dtype), dimension=0, expected=sample((2, 3), dtype))
    check(sp.pad_p, e, np.asarray(1, dtype)[()], padding_config=((1, 0, 0), (0, 0, 2)),
          expected=np.ones((1, 7), dtype))


def test_slice_shape_with_strides():
    x = np.arange(10)
    for lo, hi, st in [(0, 10, 3), (2, 9, 2), (5, 5, 1), (9, 10, 4)]:
        check(sp.slice_p, x, start_indices=(lo,), limit_indices=(hi,), strides=(st,), expected=x[lo:hi:st])


@pytest.mark.parametrize("dtype", DTYPES)
def test_concatenate(dtype):
    a, b = sample((2, 3), dtype, "f"), sample((2, 1), dtype, "ro")
    check(sp.concatenate_p, a, b, a, dimension=1, expected=np.concatenate([a, b, a], 1))


def _lax_pad_reference(x, value, config):
    """Interior padding by index arithmetic, then lo/hi by NumPy pad or cropping."""
    for axis, (lo, hi, interior) in enumerate(config):
        n = x.shape[axis]
        shape = list(x.shape)
        shape[axis] = n + max(n - 1, 0) * interior
        spread = np.full(shape, value, x.dtype)
        idx = [slice(None)] * x.ndim
        idx[axis] = slice(None, None, interior + 1)
        spread[tuple(idx)] = x
        widths = [(0, 0)] * x.ndim
        widths[axis] = (max(lo, 0), max(hi, 0))
        x = np.pad(spread, widths, constant_values=value)
        idx[axis] = slice(max(-lo, 0), x.shape[axis] - max(-hi, 0))
        x = x[tuple(idx)]
    return x


@pytest.mark.parametrize("config", [((1, 2, 0), (0, 0, 0)), ((-1, 2, 1), (2, -3, 2)),
                                    ((0, 0, 3), (-2, -2, 0))])
@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.bool_])
def test_pad_matches_lax_semantics(config, dtype):
    x = sample((3, 5), dtype, "f")
    value = np.asarray(1, dtype)[()]
    check(sp.pad_p, x, value, padding_config=config, expected=_lax_pad_reference(x, value, config))


@pytest.mark.parametrize("dtype", DTYPES)
def test_gather_is_numpy_advanced_indexing_with_clamping(dtype):
    x = sample((3, 4, 5), dtype, "f")
    i = np.array([[0, 2], [1, 1]])
    j = np.array([[4, 0], [3, 2]])
    check(sp.gather_p, x, i, j, axes=(1, 2), expected=x[:, i, j])
    check(sp.gather_p, x, np.array(2), axes=(0,), expected=x[2])
    check(sp.gather_p, x, np.array([-3, 9]), axes=(2,), expected=x[:, :, [0, 4]])
    check(sp.gather_p, x, np.zeros((0, 2), int), axes=(0,), expected=x[np.zeros((0, 2), int)])


def test_scatter_add_sums_duplicates_and_handles_out_of_bounds():
    x = np.zeros((4, 2))
    upd = np.arange(6.).reshape(3, 2)
    idx = np.array([1, 1, 7])
    dropped = np.zeros((4, 2))
    dropped[1] = upd[0] + upd[1]
    check(sp.scatter_add_p, x, upd, idx, axes=(0,), oob="drop", expected=dropped)
    clipped = dropped.copy()
    clipped[3] = upd[2]
    check(sp.scatter_add_p, x, upd, idx, axes=(0,), oob="clip", expected=clipped)
    assert (x == 0).all()  # the operand is not written


def test_scatter_add_is_the_transpose_of_gather():
    rng = np.random.default_rng(0)
    x, idx = rng.normal(size=(5, 3)), np.array([[0, 4], [4, 2]])
    ct = rng.normal(size=(5, 2, 2))
    lhs = np.sum(sp.gather_p.impl(x, idx, axes=(1,)) * ct)
    rhs = np.sum(x * sp.scatter_add_p.impl(np.zeros_like(x), ct, idx, axes=(1,), oob="clip"))
    np.testing.assert_allclose(lhs, rhs)


@pytest.mark.parametrize("combine,ufunc", [("mul", np.multiply), ("min", np.minimum),
                                           ("max", np.maximum)])
def test_scatter_combines(combine, ufunc):
    x = np.array([1, 5, 3, 8], np.int32)
    idx, upd = np.array([0, 3, 0, -1]), np.array([4, 2, 7, 9], np.int32)
    expected = x.copy()
    ufunc.at(expected, idx[:3], upd[:3])
    check(sp.scatter_p, x, upd, idx, axes=(0,), oob="drop", combine=combine, expected=expected)


def test_scatter_set():
    x = sample((3, 3), np.float64, "ro")
    expected = x.copy()
    expected[[2, 0]] = [[1, 1, 1], [2, 2, 2]]
    check(sp.scatter_p, x, np.array([[1., 1, 1], [2, 2, 2]]), np.array([2, 0]), axes=(0,),
          oob="drop", combine="set", expected=expected)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dynamic_slice_clamps_starts(dtype):
    x = sample((4, 5), dtype, "f")
    check(sp.dynamic_slice_p, x, np.int32(1), np.int64(2), slice_sizes=(2, 3), expected=x[1:3, 2:5])
    check(sp.dynamic_slice_p, x, np.int32(9), np.int64(-4), slice_sizes=(2, 3), expected=x[2:4, 0:3])
    upd = np.ones((2, 2), dtype)
    expected = x.copy()
    expected[2:4, 3:5] = upd
    check(sp.dynamic_update_slice_p, x, upd, 5, 4, expected=expected)


@pytest.mark.parametrize("dtype", DTYPES)
def test_iota_and_full(dtype):
    np.testing.assert_array_equal(sp.full_p.impl(2, shape=(2, 0), dtype=np.dtype(dtype)),
                                  np.full((2, 0), 2, dtype))
    if dtype is np.bool_:
        with pytest.raises(NbadError, match="iota"):
            sp.iota_p.abstract_eval(dtype=np.dtype(dtype), shape=(3,), dimension=0)
        return
    expected = np.broadcast_to(np.arange(3, dtype=dtype)[:, None], (3, 2))
    np.testing.assert_array_equal(bind_nullary(sp.iota_p, dtype=np.dtype(dtype), shape=(3, 2),
                                               dimension=0), expected)


def test_creation_primitives_are_recorded_under_a_trace():
    def f(x):
        return [bind(sp.concatenate_p, x, bind_nullary(sp.full_p, 1.0, shape=(2,),
                                                       dtype=np.dtype(np.float64)), dimension=0)]

    ir = trace_to_ir(f, [ShapedArray((3,), np.float64)])
    assert [eq.primitive.name for eq in ir.equations] == ["full", "concatenate"]
    np.testing.assert_array_equal(eval_ir(ir, [np.zeros(3)])[0], [0, 0, 0, 1, 1])


@pytest.mark.parametrize("prim,args,params", [
    (sp.squeeze_p, [(2, 3)], dict(dimensions=(0,))),
    (sp.slice_p, [(4,)], dict(start_indices=(2,), limit_indices=(1,), strides=(1,))),
    (sp.slice_p, [(4,)], dict(start_indices=(0,), limit_indices=(4,), strides=(-1,))),
    (sp.concatenate_p, [(2, 3), (3, 3)], dict(dimension=1)),
    (sp.gather_p, [(3, 4), (2,), (3,)], dict(axes=(0, 1))),
    (sp.gather_p, [(3, 4, 5), (2,), (2,)], dict(axes=(0, 2))),
    (sp.dynamic_slice_p, [(3,), ()], dict(slice_sizes=(4,))),
    (sp.iota_p, [], dict(dtype=np.dtype(np.int32), shape=(2,), dimension=1)),
])
def test_abstract_eval_errors_name_the_problem(prim, args, params):
    avals = [ShapedArray(s, np.int64 if prim in (sp.gather_p, sp.dynamic_slice_p) and i else np.float64)
             for i, s in enumerate(args)]
    with pytest.raises(NbadError, match=prim.name):
        prim.abstract_eval(*avals, **params)
