"""nbad.numpy reductions vs NumPy: values and exact dtypes, eagerly and traced."""
import warnings

import numpy as np
import pytest

import nbad.numpy as jnp
from nbad.core.array import Array
from nbad.core.avals import ShapedArray
from nbad.core.trace import eval_ir, trace_to_ir
from nbad.errors import NbadError

rng = np.random.default_rng(0)
ARRAYS = {
    "f32": rng.normal(size=(3, 4, 2)).astype(np.float32),
    "f64": rng.normal(size=(4, 5)),
    "i32": rng.integers(-5, 5, size=(3, 4)).astype(np.int32),
    "i64": rng.integers(-5, 5, size=(5,)),
    "bool": rng.random((2, 3)) > 0.5,
    "u8": rng.integers(0, 9, size=(2, 3)).astype(np.uint8),
    "scalar": np.float64(2.5),
    "empty": np.zeros((0, 3)),
    "c128": rng.normal(size=(2, 3)) + 1j * rng.normal(size=(2, 3)),
}
AXES = [None, 0, -1, (0, -1), ()]


def same(got, expected, exact=False):
    assert isinstance(got, Array), type(got)
    expected = np.asarray(expected)
    assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
    assert got.shape == expected.shape
    if exact or expected.dtype.kind in "biu":
        np.testing.assert_array_equal(got, expected)
    else:
        tol = 1e-5 if expected.dtype in (np.float32, np.complex64) else 1e-12
        np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)


def numpy_result(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn(*args, **kwargs)


def cases(names, kinds):
    return list(_cases(names, kinds))


def _cases(names, kinds):
    for name in names:
        for key, x in ARRAYS.items():
            if x.dtype.kind not in kinds:
                continue
            for axis in AXES:
                if np.ndim(x) < (2 if axis == (0, -1) else 1) and axis not in (None, ()):
                    continue
                for keepdims in (False, True):
                    yield pytest.param(name, x, axis, keepdims, id=f"{name}-{key}-{axis}-{keepdims}")


@pytest.mark.parametrize("name,x,axis,keepdims", cases(
    ["sum", "prod", "mean", "var", "std", "nansum", "nanmean", "count_nonzero"], "biufc"))
def test_sum_like(name, x, axis, keepdims):
    expected = numpy_result(getattr(np, name), x, axis=axis, keepdims=keepdims)
    same(getattr(jnp, name)(x, axis=axis, keepdims=keepdims), expected)


@pytest.mark.parametrize("name,x,axis,keepdims", cases(
    ["max", "min", "amax", "amin", "ptp", "nanmax", "nanmin", "any", "all"], "biuf"))
def test_extrema_and_logic(name, x, axis, keepdims):
    if np.size(x) == 0 and name not in ("any", "all") and axis in (None, 0, (0, -1)):
        with pytest.raises(NbadError):
            getattr(jnp, name)(x, axis=axis, keepdims=keepdims)
        return
    if name == "ptp" and x.dtype == bool:
        return  # NumPy refuses boolean subtract
    expected = numpy_result(getattr(np, name), x, axis=axis, keepdims=keepdims)
    same(getattr(jnp, name)(x, axis=axis, keepdims=keepdims), expected)


@pytest.mark.parametrize("key", ["f32", "f64", "i32", "bool"])
@pytest.mark.parametrize("axis", [None, 0, -1])
@pytest.mark.parametrize("name", ["argmax", "argmin", "cumsum", "cumprod"])
def test_arg_and_cumulative(key, axis, name):
    x = ARRAYS[key]
    same(getattr(jnp, name)(x, axis=axis), getattr(np, name)(x, axis=axis))


def test_argmax_keepdims_and_nan():
    x = np.array([[1.0, np.nan, 3.0], [0.0, 2.0, np.nan]])
    same(jnp.argmax(x, axis=1, keepdims=True), np.argmax(x, axis=1, keepdims=True))
    same(jnp.argmin(x, keepdims=True), np.argmin(x, keepdims=True))


def test_dtype_arguments_and_ddof():
    x = ARRAYS["i32"]
    same(jnp.sum(x, dtype=np.int32), np.sum(x, dtype=np.int32))
    same(jnp.mean(x, axis=0, dtype=np.float32), np.mean(x, axis=0, dtype=np.float32))
    same(jnp.cumsum(x, axis=1, dtype=np.float64), np.cumsum(x, axis=1, dtype=np.float64))
    same(jnp.var(ARRAYS["f32"], axis=(0, 2), ddof=1), np.var(ARRAYS["f32"], axis=(0, 2), ddof=1))
    same(jnp.std(ARRAYS["f64"], ddof=2, keepdims=True), np.std(ARRAYS["f64"], ddof=2, keepdims=True))
    same(jnp.sum(ARRAYS["u8"]), np.sum(ARRAYS["u8"]))


def test_where_and_initial():
    x, mask = ARRAYS["f64"], ARRAYS["f64"] > 0
    same(jnp.sum(x, axis=0, where=mask), np.sum(x, axis=0, where=mask))
    same(jnp.mean(x, axis=1, where=mask), numpy_result(np.mean, x, axis=1, where=mask))
    same(jnp.max(x, axis=1, where=mask, initial=-10.0), np.max(x, axis=1, where=mask, initial=-10.0))
    same(jnp.sum(x, initial=5.0), np.sum(x, initial=5.0))
    same(jnp.max(ARRAYS["empty"], axis=0, initial=1.0), np.max(ARRAYS["empty"], axis=0, initial=1.0))
    same(jnp.all(x > -5, where=mask), np.all(x > -5, where=mask))


def test_average():
    x = ARRAYS["i32"]
    w = np.array([1.0, 2.0, 0.5, 1.0], np.float32)
    same(jnp.average(x), np.average(x))
    same(jnp.average(x, axis=1, weights=w), np.average(x, axis=1, weights=w))
    same(jnp.average(x, axis=1, weights=w, keepdims=True), np.average(x, axis=1, weights=w, keepdims=True))
    for g, e in zip(jnp.average(x, axis=0, returned=True), np.average(x, axis=0, returned=True)):
        same(g, e)
    for g, e in zip(jnp.average(x, 1, w, returned=True), np.average(x, 1, w, returned=True)):
        same(g, e)


def test_nan_functions():
    x = np.array([[np.nan, 1.0, 2.0], [np.nan, np.nan, np.nan]])
    for name in ("nansum", "nanmean", "nanmax", "nanmin"):
        same(getattr(jnp, name)(x, axis=1), numpy_result(getattr(np, name), x, axis=1))


TRACED = [
    lambda x: jnp.sum(x, axis=0),
    lambda x: jnp.mean(x, axis=-1, keepdims=True),
    lambda x: jnp.var(x, ddof=1),
    lambda x: jnp.max(x, axis=(0, 1)),
    lambda x: jnp.argmin(x, axis=1),
    lambda x: jnp.cumprod(x, axis=0),
    lambda x: jnp.any(x > 0, axis=1),
    lambda x: jnp.average(x, axis=1, weights=np.arange(1.0, 6.0)),
]


@pytest.mark.parametrize("i", range(len(TRACED)))
def test_traced_matches_eager(i):
    x = ARRAYS["f64"]
    ir = trace_to_ir(lambda t: [TRACED[i](t)], [ShapedArray(x.shape, x.dtype)])
    same(eval_ir(ir, [x])[0], TRACED[i](x))


def test_reductions_bind_sorted_axes_and_typed_count():
    ir = trace_to_ir(lambda t: [jnp.mean(t, axis=(-1, 0))], [ShapedArray((2, 3, 4), np.float32)])
    text = str(ir)
    assert "reduce_sum %0 {axes=(0,2)}" in text and ":f32" in text, text


@pytest.mark.parametrize("call,match", [
    (lambda: jnp.sum(ARRAYS["f64"], axis=2), "sum"),
    (lambda: jnp.sum(ARRAYS["f64"], axis=(0, 0)), "repeated"),
    (lambda: jnp.max(ARRAYS["empty"]), "zero-size"),
    (lambda: jnp.argmax(ARRAYS["empty"]), "empty"),
    (lambda: jnp.mean(ARRAYS["f64"], out=np.zeros(5)), "out="),
    (lambda: jnp.average(ARRAYS["f64"], weights=np.ones(3)), "weights"),
])
def test_errors(call, match):
    with pytest.raises(NbadError, match=match):
        call()
