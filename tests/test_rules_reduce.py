"""argmax/argmin and the cumulative scans: impl vs NumPy, abstract_eval vs impl."""
import numpy as np
import pytest

from nbad.core.avals import ShapedArray
from nbad.errors import NbadError
from nbad.rules import reduce as rp

NEW_PRIMS = [rp.argmax_p, rp.argmin_p, rp.cumsum_p, rp.cumprod_p, rp.cummax_p, rp.cummin_p]
DTYPES = [np.float32, np.float64, np.int32, np.int64, np.bool_]


def sample(shape, dtype, layout):
    x = ((np.arange(int(np.prod(shape)) * 2) * 5) % 7 - 3).astype(dtype)[::2].reshape(shape)
    if layout == "ro":
        x = np.ascontiguousarray(x)
        x.flags.writeable = False
    return x


def check(prim, x, expected, **params):
    out = prim.impl(x, **params)
    np.testing.assert_array_equal(out, expected)
    aval = prim.abstract_eval(ShapedArray(x.shape, x.dtype), **params)
    assert aval.shape == out.shape and aval.dtype == out.dtype == np.asarray(expected).dtype


@pytest.mark.parametrize("prim", NEW_PRIMS, ids=str)
def test_every_primitive_has_abstract_eval_and_impl(prim):
    assert prim.has_rule("abstract_eval") and prim.has_rule("impl")


def test_existing_reducers_kept():
    for prim in (rp.reduce_sum_p, rp.reduce_max_p, rp.reduce_and_p):
        assert prim.kind == "reduce" and prim.reducer.name


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["f", "ro"])
@pytest.mark.parametrize("axis", [0, 1])
def test_argmax_argmin(dtype, layout, axis):
    x = sample((4, 5), dtype, layout)
    for prim, fn in ((rp.argmax_p, np.argmax), (rp.argmin_p, np.argmin)):
        check(prim, x, fn(x, axis=axis).astype(np.int32), axes=(axis,), index_dtype=np.dtype(np.int32))


def test_arg_reductions_return_the_first_nan():
    x = np.array([[1.0, np.nan, 5.0, np.nan], [2.0, 1.0, 0.0, -1.0]])
    for prim in (rp.argmax_p, rp.argmin_p):
        check(prim, x, np.array([1, 3 if prim is rp.argmin_p else 0]), axes=(1,),
              index_dtype=np.dtype(np.int64))


def test_arg_reduction_errors():
    with pytest.raises(NbadError, match="argmax"):
        rp.argmax_p.abstract_eval(ShapedArray((0, 3), np.float64), axes=(0,), index_dtype=np.int64)
    with pytest.raises(NbadError, match="argmin"):
        rp.argmin_p.abstract_eval(ShapedArray((2, 3), np.float64), axes=(0, 1), index_dtype=np.int64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("axis", [0, 1])
def test_cumulative(dtype, reverse, axis):
    x = sample((3, 4), dtype, "f")
    flip = (lambda a: np.flip(a, axis)) if reverse else (lambda a: a)
    for prim, ufunc in ((rp.cumsum_p, np.add), (rp.cumprod_p, np.multiply),
                        (rp.cummax_p, np.maximum), (rp.cummin_p, np.minimum)):
        check(prim, x, flip(ufunc.accumulate(flip(x), axis=axis, dtype=dtype)), axis=axis, reverse=reverse)


def test_cumulative_zero_size_and_nan():
    check(rp.cumsum_p, np.zeros((0, 2)), np.zeros((0, 2)), axis=0, reverse=False)
    check(rp.cummax_p, np.array([1.0, np.nan, 3.0]), np.array([1.0, np.nan, np.nan]), axis=0,
          reverse=False)
    check(rp.cummax_p, np.array([True, False]), np.array([True, True]), axis=0, reverse=False)
    with pytest.raises(NbadError, match="cumsum"):
        rp.cumsum_p.abstract_eval(ShapedArray((3,), np.bool_), axis=0, reverse=False)
    with pytest.raises(NbadError, match="cumprod"):
        rp.cumprod_p.abstract_eval(ShapedArray((3,), np.float64), axis=1, reverse=False)
