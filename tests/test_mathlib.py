"""Accuracy and special values of nbad.backends.cpu.mathlib.

Each function is compiled once per dtype inside a vectorised kernel with the
flags generated kernels use, and that kernel is reused by every test.  The
reference is NumPy in long double (x87 80-bit: 11 extra bits), math.erf for
erf in float64 (glibc, < 1 ulp) and the float64 result for float32 inputs
(float32 exp expm1 log log1p tanh logistic sin cos have float32-native
cores, nbad/backends/cpu/mathlib_f32.py; erf is computed in float64).
"""
import math

import numpy as np
import pytest
from numba import njit, types

from nbad.backends.cpu import mathlib as M, mathlib_f64 as F64

NAMES = ["exp", "expm1", "log", "log1p", "tanh", "logistic", "sin", "cos", "erf"]
DTYPES = [np.float64, np.float32]
FASTMATH = {"reassoc", "contract", "arcp", "nsz"}

# Max ulp error asserted over the sweep (measured maxima are in the report;
# the bounds leave ~0.5 ulp of slack for unsampled inputs).
ULP_BOUND = {
    np.float64: dict(exp=1.5, expm1=2.5, log=1.5, log1p=1.5, tanh=3.0, logistic=3.0,
                     sin=3.0, cos=3.0, erf=2.5),
    np.float32: dict(exp=1.0, expm1=1.0, log=1.0, log1p=1.0, tanh=1.0, logistic=1.0,
                     sin=1.0, cos=1.0, erf=1.0),
}

_KERNELS = {}


def kernel(name):
    """A vectorisable loop over mathlib.<name>, compiled like nbad's kernels."""
    if name not in _KERNELS:
        f = getattr(M, name)

        @njit(error_model="numpy", fastmath=FASTMATH)
        def k(x, out):
            for i in range(x.size):
                out[i] = f(x[i])

        _KERNELS[name] = k
    return _KERNELS[name]


def run(name, x):
    x = np.ascontiguousarray(x)
    out = np.empty_like(x)
    kernel(name)(x, out)
    return out


_erf_ld = np.vectorize(lambda v: math.erf(float(v)), otypes=[np.float64])


def reference(name, x):
    """Reference values in long double (float64 for float32 inputs)."""
    ld = np.longdouble if x.dtype == np.float64 else np.float64
    v = x.astype(ld)
    with np.errstate(all="ignore"):
        if name == "logistic":
            return ld(1) / (ld(1) + np.exp(-v))
        if name == "erf":
            return _erf_ld(v).astype(ld) if ld is np.longdouble else _erf_ld(v)
        return getattr(np, name)(v)


def ulp_error(y, ref, dtype):
    """|y - ref| in units of the last place of ref rounded to dtype."""
    ld = ref.dtype
    with np.errstate(all="ignore"):
        r = ref.astype(dtype)
        ulp = np.spacing(np.abs(r)).astype(ld)
        err = np.abs(y.astype(ld) - ref) / ulp
    same = ((y == r) & np.isinf(r)) | (np.isnan(y) & np.isnan(r))
    err[same] = 0.0
    err[np.isnan(err)] = np.inf
    return err


def random_bits(rng, n, dtype):
    """n values uniform over the bit patterns of finite floats of dtype:
    log-uniform over every magnitude (subnormals included), both signs."""
    if dtype == np.float64:
        bits = rng.integers(0, 0x7FF0000000000000, n, dtype=np.int64)
        bits |= rng.integers(0, 2, n, dtype=np.int64) << 63
        return bits.view(np.float64)
    bits = rng.integers(0, 0x7F800000, n, dtype=np.int64).astype(np.uint32)
    bits |= rng.integers(0, 2, n).astype(np.uint32) << 31
    return bits.view(np.float32)


def sample(name, dtype, n, seed=0):
    """Whole-range sample plus dense sampling of the interesting regions."""
    rng = np.random.default_rng(seed)
    f64 = dtype == np.float64
    m = n // 8
    parts = [random_bits(rng, n, dtype), rng.uniform(-2, 2, m),
             np.sign(rng.uniform(-1, 1, m)) * 10.0 ** rng.uniform(-10, 0, m)]
    if name in ("exp", "expm1", "logistic"):
        hi, lo = (709.78, -745.14) if f64 else (88.72, -103.98)
        parts += [rng.uniform(hi - 2, hi + 0.1, m), rng.uniform(lo - 0.1, lo + 40, m),
                  rng.uniform(-50, 50, m)]
    if name in ("log", "log1p"):
        parts += [1 + rng.uniform(-1e-3, 1e-3, m), np.abs(random_bits(rng, m, dtype)),
                  rng.uniform(0, 10, m), -1 + 10.0 ** rng.uniform(-17, 0, m)]
        tiny = 2.0 ** -1074 if f64 else 2.0 ** -149
        parts.append(rng.integers(1, 2 ** 20, m) * tiny)     # subnormals
    if name in ("tanh", "logistic", "erf"):
        parts += [rng.uniform(-8, 8, m), rng.uniform(-40, 40, m)]
    if name in ("sin", "cos"):
        k = rng.integers(-10 ** 6, 10 ** 6, m)
        parts += [k * (np.pi / 2) * (1 + rng.uniform(-1e-15, 1e-15, m)),
                  k * (np.pi / 2), np.sign(rng.uniform(-1, 1, m)) * 10.0 ** rng.uniform(0, 300 if f64 else 38, m)]
    with np.errstate(all="ignore"):
        x = np.concatenate([np.asarray(p, dtype=np.float64).astype(dtype) for p in parts])
    return x[np.isfinite(x)]


def max_ulp(name, dtype, n, seed=0):
    x = sample(name, dtype, n, seed)
    err = ulp_error(run(name, x), reference(name, x), dtype)
    i = int(np.argmax(err))
    return float(err[i]), x[i]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("name", NAMES)
def test_accuracy_sweep(name, dtype):
    err, worst = max_ulp(name, dtype, 200_000)
    assert err <= ULP_BOUND[dtype][name], (name, dtype, err, worst)


INF, NAN = np.inf, np.nan
SPECIAL = {
    "exp": [(0.0, 1.0), (-0.0, 1.0), (INF, INF), (-INF, 0.0), (NAN, NAN), (710.0, INF),
            (-746.0, 0.0), (-740.0, np.exp(-740.0)), (-745.0, 5e-324), (709.78, np.exp(709.78))],
    "expm1": [(0.0, 0.0), (-0.0, -0.0), (INF, INF), (-INF, -1.0), (NAN, NAN), (710.0, INF),
              (1e-300, 1e-300), (-5e-324, -5e-324), (-50.0, -1.0)],
    "log": [(0.0, -INF), (-0.0, -INF), (-1.0, NAN), (-INF, NAN), (INF, INF), (NAN, NAN),
            (1.0, 0.0), (5e-324, np.log(5e-324)), (2.2250738585072014e-308, np.log(2.2250738585072014e-308))],
    "log1p": [(0.0, 0.0), (-0.0, -0.0), (-1.0, -INF), (-2.0, NAN), (INF, INF), (-INF, NAN),
              (NAN, NAN), (1e-300, 1e-300), (-5e-324, -5e-324)],
    "tanh": [(0.0, 0.0), (-0.0, -0.0), (INF, 1.0), (-INF, -1.0), (NAN, NAN), (1e-300, 1e-300),
             (30.0, 1.0), (-30.0, -1.0)],
    "logistic": [(0.0, 0.5), (-0.0, 0.5), (INF, 1.0), (-INF, 0.0), (NAN, NAN), (-1000.0, 0.0),
                 (1000.0, 1.0), (-740.0, np.exp(-740.0))],
    "sin": [(0.0, 0.0), (-0.0, -0.0), (INF, NAN), (-INF, NAN), (NAN, NAN), (1e-300, 1e-300),
            (-5e-324, -5e-324)],
    "cos": [(0.0, 1.0), (-0.0, 1.0), (INF, NAN), (-INF, NAN), (NAN, NAN), (1e-300, 1.0)],
    "erf": [(0.0, 0.0), (-0.0, -0.0), (INF, 1.0), (-INF, -1.0), (NAN, NAN), (6.0, 1.0),
            (-30.0, -1.0)],
}
F32_MAX_EXP_ARG = 88.72283172607421875      # largest float32 x with exp(x) finite
SPECIAL32 = {"exp": [(89.0, INF), (-104.0, np.float32(np.exp(-104.0))), (-110.0, 0.0),
                     (F32_MAX_EXP_ARG, np.float32(np.exp(F32_MAX_EXP_ARG))),
                     (np.nextafter(np.float32(F32_MAX_EXP_ARG), np.float32(INF)), INF),
                     (-87.5, np.float32(np.exp(-87.5))), (-103.2, np.float32(np.exp(-103.2)))],
             "expm1": [(89.0, INF), (F32_MAX_EXP_ARG, np.float32(np.expm1(F32_MAX_EXP_ARG))),
                       (np.nextafter(np.float32(F32_MAX_EXP_ARG), np.float32(INF)), INF),
                       (-18.0, -1.0), (1e-30, 1e-30), (-1e-45, -1e-45)],
             "log": [(1e-45, np.float32(np.log(1.401298464324817e-45))),
                     (1.1754942e-38, np.float32(np.log(np.float64(np.float32(1.1754942e-38)))))],
             "log1p": [(1e-30, 1e-30), (-1e-45, -1e-45), (3e38, np.float32(np.log1p(np.float64(np.float32(3e38)))))],
             "tanh": [(1e-30, 1e-30), (-1e-45, -1e-45), (9.5, 1.0), (-20.0, -1.0)],
             "logistic": [(-104.0, 0.0), (-100.0, np.float32(1 / (1 + np.exp(100.0)))), (20.0, 1.0),
                          (-1000.0, 0.0), (1000.0, 1.0)],
             "sin": [(1e-30, 1e-30), (-1e-45, -1e-45)],
             "cos": [(1e-30, 1.0)]}


def same_bits(a, b):
    return (np.isnan(a) and np.isnan(b)) or a.tobytes() == b.tobytes()


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("name", NAMES)
def test_special_values(name, dtype):
    cases = list(SPECIAL[name])
    if dtype == np.float32:
        # float32 versions of the float64 cases whose value survives rounding
        cases = [(x, y) for x, y in cases if x == 0 or np.isnan(x) or np.isinf(x) or
                 abs(x) in (1.0, 2.0, 30.0, 6.0)] + SPECIAL32.get(name, [])
    with np.errstate(all="ignore"):
        x = np.array([c[0] for c in cases], dtype=dtype)
        want = np.array([c[1] for c in cases], dtype=dtype)
    got = run(name, x)
    bad = [(x[i], got[i], want[i]) for i in range(len(x)) if not same_bits(got[i], want[i])]
    assert not bad, bad


@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
def test_sin_cos_huge_arguments(dtype):
    """Payne-Hanek range: largest finite values and the double closest to a
    multiple of pi/2 (x = 6381956970095103 * 2^797, |x mod pi/2| ~ 4.7e-19)."""
    if dtype == np.float64:
        x = np.array([np.finfo(np.float64).max, 6381956970095103 * 2.0 ** 797, 1e22, 2.0 ** 1000])
    else:
        x = np.array([np.finfo(np.float32).max, 1e38, 16367173 * 2.0 ** 72, 2.0 ** 100], dtype=np.float32)
    for name in ("sin", "cos"):
        err = ulp_error(run(name, x), reference(name, x), dtype)
        assert err.max() <= ULP_BOUND[dtype][name], (name, err)


F32_SPECIAL_INPUTS = np.array(
    [0.0, -0.0, INF, -INF, NAN, 1e-45, -1e-45, 1.1754942e-38, -1.1754942e-38, 1e-30, -1e-30,
     3.4028235e38, -3.4028235e38, 1.0, -1.0, 88.72283, 88.72284, -87.33655, -103.27893,
     -103.97208, -104.0, 9.01, -9.01, 2.0 ** -25, -2.0 ** -25, 2.0 ** -12, -1.0 + 2.0 ** -24],
    dtype=np.float32)


@pytest.mark.parametrize("name", ["exp", "expm1", "log", "log1p", "tanh", "sin", "cos"])
def test_float32_specials_match_numpy(name):
    """float32 cores agree bit for bit on special and threshold inputs (signed
    zeros, infinities, NaN, overflow and underflow thresholds, subnormals)
    with the float64 result rounded to float32, and within 1 ulp of it on the
    finite ones. The oracle is not NumPy's float32 ufunc: that is itself not
    correctly rounded (NumPy 2.4's float32 expm1 is 2 ulp off near overflow)."""
    x = F32_SPECIAL_INPUTS
    with np.errstate(all="ignore"):
        want = getattr(np, name)(x.astype(np.float64)).astype(np.float32)
    got = run(name, x)
    for xi, g, w in zip(x, got, want):
        if not np.isfinite(w) or w == 0 or not np.isfinite(g) or g == 0:
            assert same_bits(g, w), (name, xi, g, w)
        else:
            assert abs(int(g.view(np.int32)) - int(w.view(np.int32))) <= 1, (name, xi, g, w)


@pytest.mark.parametrize("name", ["exp", "expm1", "log", "log1p", "tanh", "logistic"])
def test_float32_cores_are_single_precision(name):
    """The float32 loop is vectorised in packed single precision (no
    float64 arithmetic, no libm calls)."""
    k = kernel(name)
    x = np.ones(16, np.float32)
    k(x, np.empty_like(x))
    asm = k.inspect_asm((types.Array(types.float32, 1, "C"), types.Array(types.float32, 1, "C")))
    assert "ymm" in asm and ("vmulps" in asm or "vfmadd" in asm)
    assert not any(op in asm for op in ("vmulpd", "vaddpd", "vfmadd213pd", "vcvtps2pd")), name
    for libm in ("exp", "log", "tanh", "expm1", "log1p"):
        assert f"call\t{libm}" not in asm and f"callq\t{libm}" not in asm


def test_two_over_pi_table():
    # fdlibm's published 24-bit chunks of 2/pi (k_rem_pio2.c, ipio2[0:4])
    chunks = [int(v * 2.0 ** (24 * (i + 1) - F64._CHUNK_BIAS)) for i, v in enumerate(F64._TWO_OVER_PI[F64._PAD:F64._PAD + 4])]
    assert chunks == [0xA2F983, 0x6E4E44, 0x1529FC, 0x2757D1]


def test_scalar_call_and_types():
    """Callable from Python too; float32 in, float32 out; ints promote."""
    assert abs(M.exp(1.0) - math.e) <= np.spacing(math.e)
    M.sin(np.float32(1.0))
    assert M.sin.overloads[(types.float32,)].signature.return_type == types.float32
    assert M.log(np.float32(2.0)) == np.float32(np.log(2.0))
    assert abs(M.erf(1) - math.erf(1.0)) <= np.spacing(1.0)
