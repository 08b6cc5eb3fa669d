"""nbad.scipy.special against scipy.special (values, dtypes, extremes), plus traced."""
import numpy as np
import pytest
import scipy.special as sp

import nbad.scipy.special as special
from nbad.test_util import trace_and_eval

X = np.array([-1e3, -30.0, -4.0, -1.0, -1e-8, 0.0, 1e-8, 0.3, 1.0, 2.5, 30.0, 1e3, -np.inf, np.inf])
P = np.array([0.0, 1e-12, 0.1, 0.5, 0.9, 1 - 1e-12, 1.0])


def assert_close(out, want, dtype, tol=None):
    out, want = np.asarray(out), np.asarray(want)
    assert out.dtype == np.dtype(dtype), (out.dtype, dtype)
    assert out.shape == want.shape
    tol = tol or (2e-6 if np.dtype(dtype) == np.float32 else 1e-13)
    np.testing.assert_allclose(out, want, rtol=tol, atol=tol)


def traced(fn, *args):
    return trace_and_eval(fn, *args)[0]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_erf_expit(dtype):
    x = X.astype(dtype)
    assert_close(special.erf(x), sp.erf(x), dtype)
    assert_close(special.expit(x), sp.expit(x), dtype)


def test_erfc_absolute_accuracy():
    x = np.array([-3.0, -1.0, 0.0, 0.5, 1.0, 3.0, np.inf, -np.inf])
    np.testing.assert_allclose(special.erfc(x), sp.erfc(x), rtol=1e-12, atol=1e-15)
    assert np.asarray(special.erfc(np.float32(1))).dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_logit(dtype):
    p = P.astype(dtype)
    with np.errstate(divide="ignore"):
        want = sp.logit(p)
    assert_close(special.logit(p), want, dtype, tol=1e-5 if dtype == np.float32 else None)


def test_integer_inputs_compute_in_float64():
    ints = np.arange(-2, 3)
    assert_close(special.expit(ints), sp.expit(ints), np.float64)
    assert_close(special.erf(ints), sp.erf(ints), np.float64)


@pytest.mark.parametrize("fn", ["xlogy", "xlog1py"])
def test_xlogy(fn):
    x = np.array([0.0, 0.0, 1.0, 2.0, -1.5, 3.0, 0.0])
    y = np.array([0.0, 1.0, 0.5, 3.0, 2.0, 0.0, -np.inf if fn == "xlogy" else -1.0])
    with np.errstate(all="ignore"):
        want = getattr(sp, fn)(x, y)
    assert_close(getattr(special, fn)(x, y), want, np.float64)
    assert_close(getattr(special, fn)(np.float32(2), np.float32(3)),
                 np.float32(getattr(sp, fn)(2.0, 3.0)), np.float32)


def test_entr():
    x = np.array([-1.0, 0.0, 0.5, 1.0, 3.0, np.inf, np.nan])
    assert_close(special.entr(x), sp.entr(x), np.float64)


@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 2)])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_logsumexp(axis, keepdims, dtype):
    a = (np.random.default_rng(0).standard_normal((3, 4, 2)) * 500).astype(dtype)
    want = sp.logsumexp(a, axis=axis, keepdims=keepdims)
    tol = 1e-5 if dtype == np.float32 else None
    assert_close(special.logsumexp(a, axis=axis, keepdims=keepdims), want, dtype, tol)


def test_logsumexp_infinities_weights_and_sign():
    a = np.array([[-np.inf, -np.inf], [np.inf, 1.0], [1e3, 1e3], [-1e3, 0.0]])
    with np.errstate(all="ignore"):
        assert_close(special.logsumexp(a, axis=1), sp.logsumexp(a, axis=1), np.float64)
    b = np.array([[0.5, 1.0], [-3.0, 1.0]])
    assert_close(special.logsumexp(a[2:], axis=1, b=b), sp.logsumexp(a[2:], axis=1, b=b),
                 np.float64)
    b = np.array([[1.0, -2.0], [-3.0, 1.0]])
    out, sign = special.logsumexp(a[2:], axis=1, b=b, return_sign=True)
    wout, wsign = sp.logsumexp(a[2:], axis=1, b=b, return_sign=True)
    assert_close(out, wout, np.float64)
    assert_close(sign, wsign, np.float64)
    # An exactly cancelling sum is log(0) = -inf with sign 0, as in JAX.
    out, sign = special.logsumexp(np.array([1.0, 1.0]), b=np.array([1.0, -1.0]), return_sign=True)
    assert (float(out), float(sign)) == (-np.inf, 0.0)
    assert_close(special.logsumexp(np.arange(4)), sp.logsumexp(np.arange(4)), np.float64)


def test_traced_subset():
    x = X
    assert_close(traced(special.expit, x), sp.expit(x), np.float64)
    a = np.random.default_rng(2).standard_normal((3, 5)) * 100
    assert_close(traced(lambda v: special.logsumexp(v, axis=1), a), sp.logsumexp(a, axis=1),
                 np.float64)
    assert_close(traced(special.xlogy, np.array([0.0, 2.0]), np.array([0.0, 3.0])),
                 sp.xlogy([0.0, 2.0], [0.0, 3.0]), np.float64)
