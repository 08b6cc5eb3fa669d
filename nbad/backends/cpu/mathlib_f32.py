"""float32-native cores of nbad.backends.cpu.mathlib (imported by it; not public).

Same compilation model as mathlib (see its docstring): forceinlined,
fastmath=False, branch-free, edge cases as selects.  Everything here is
float32 arithmetic, so a vectorised loop holds 8 lanes per ymm register;
integer bit tricks are 32-bit (vpaddd/vpslld) and go through the @intrinsic
helpers below, because numba would widen int32 arithmetic to int64.  float
-> int conversion uses the 1.5*2**23 magic number (no fptosi: no poison for
NaN).  Only sin/cos keep mathlib's exact float64 Payne-Hanek reduction (with
a shorter float64 polynomial).

To stay within 1 ulp of the exact result in float32 arithmetic, the
compound functions carry one extra word where a rounding would otherwise be
doubled:

* exp family: k = rint(x/ln2), r = rh + rl with rh = x - k*C1 exact (C1 has
  9 significant bits) and rl = -k*C2 tiny; exp(r) = 1 + rh + t with
  t = rl + r^2*Q(r), Q of degree 5 on |r| <= 0.36.  exp: 1 + rh is split by
  Fast2Sum so the mantissa 1 + rh + t is rounded once, then scaled by 2^k in
  two exact-or-single-rounding steps (subnormal results correct).
* expm1: k <= 24: (2^k - 1) + 2^k*rh by TwoSum, plus 2^k*t: one rounding;
  k > 24: the exp path with -2^-k folded into the low part.
* logistic / tanh: E = exp(+-...) as 2^k*(ph + pl), the denominator 1 + E
  as a double-float Dh + Dl, the quotient g = c/(1 + E) as gh + gl with an
  FMA residual (one division).  tanh |x| < 0.55: x + x^3*P(x^2), P of
  degree 5; above: 1 - 2/(1 + exp(2|x|)) with a Fast2Sum for the 1 - .
  These rely on llvm.fmuladd being a real FMA (x86-64 with FMA, AArch64);
  without one the residual is not exact and errors may reach ~1.5 ulp.
* log / log1p: fdlibm's logf (x = 2^e*m, m in [sqrt(1/2), sqrt(2)),
  s = f/(2+f), degree-4 polynomial in s^2), with log1p's exact correction
  ((1+x) - u)/u as in float64.

Polynomial coefficients: least-squares fits on Chebyshev nodes in long
double, each coefficient rounded to float32 and the rest refitted
(tests/test_mathlib.py measures the resulting accuracy); logf's are musl's.
"""
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from nbad.backends.cpu.mathlib_f64 import _jit, _reduce32, _fma, _to_int

_F = np.float32
_f32t = ir.FloatType()
_i32t = ir.IntType(32)


# ---------------------------------------------------------------- intrinsics
def _is_f32(t):
    return isinstance(t, types.Float) and t.bitwidth == 32


def _llvm_f32(name, nargs):
    def codegen(context, builder, sig, args):
        f = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(_f32t, [_f32t] * nargs), name)
        return builder.call(f, list(args))
    return codegen


@intrinsic
def _rintf(typingctx, x):
    """Round to nearest even (vroundps)."""
    if _is_f32(x):
        return types.float32(x), _llvm_f32("llvm.rint.f32", 1)


@intrinsic
def _fmaf(typingctx, a, b, c):
    """a*b + c via llvm.fmuladd.f32 (an FMA where the CPU has one)."""
    if all(_is_f32(t) for t in (a, b, c)):
        return types.float32(a, b, c), _llvm_f32("llvm.fmuladd.f32", 3)


@intrinsic
def _copysignf(typingctx, mag, sgn):
    if _is_f32(mag) and _is_f32(sgn):
        return types.float32(mag, sgn), _llvm_f32("llvm.copysign.f32", 2)


@intrinsic
def _pow2f(typingctx, k):
    """2^k for an integral float32 k in [-126, 127]: the magic-number add
    puts k in the low bits; (bits + 127) << 23 keeps only k + 127."""
    if _is_f32(k):
        def codegen(context, builder, sig, args):
            v = builder.fadd(args[0], ir.Constant(_f32t, 12582912.0))   # 1.5*2^23
            b = builder.add(builder.bitcast(v, _i32t), ir.Constant(_i32t, 127))
            return builder.bitcast(builder.shl(b, ir.Constant(_i32t, 23)), _f32t)
        return types.float32(k), codegen


@intrinsic
def _log_split(typingctx, x):
    """(m, e) with x = 2^e*m, m in [sqrt(1/2), sqrt(2)), for normal x > 0."""
    if _is_f32(x):
        ret = types.UniTuple(types.float32, 2)

        def codegen(context, builder, sig, args):
            c = lambda v: ir.Constant(_i32t, v)                       # noqa: E731
            ix = builder.add(builder.bitcast(args[0], _i32t), c(0x3F800000 - 0x3F3504F3))
            e = builder.sub(builder.ashr(ix, c(23)), c(127))
            m = builder.add(builder.and_(ix, c(0x7FFFFF)), c(0x3F3504F3))
            vals = [builder.bitcast(m, _f32t), builder.sitofp(e, _f32t)]
            return context.make_tuple(builder, ret, vals)
        return ret(x), codegen


# ----------------------------------------------------------------- constants
_ZERO, _HALF, _ONE, _TWO = _F(0.0), _F(0.5), _F(1.0), _F(2.0)
_INF, _NAN = _F(np.inf), _F(np.nan)
_INV_LN2 = _F(1.44269504)
_C1 = _F(0.693359375)                 # 355/512: k*C1 exact for |k| < 2^15
_NC2 = _F(2.12194440e-4)              # C1 - ln2 (C1 + C2 = ln2 to ~2^-36)
_S64, _SM64 = _F(64.0), _F(-64.0)
_EXP_HI, _EXP_LO = _F(89.0), _F(-104.0)
_TINY25 = _F(2.0 ** -25)
_TINY24 = _F(2.0 ** -24)
_MIN_NORMAL = _F(2.0 ** -126)


@_jit
def _scalef(p, kf):
    """p * 2^kf, kf integral in [-150, 129], with a single rounding."""
    s = _S64 if kf > _ZERO else _SM64
    return p * _pow2f(kf - s) * _pow2f(s)


@_jit
def _exp_parts(x):
    """(kf, rh, t): exp(x) = 2^kf * (1 + rh + t), rh exact, |t| << |rh| + 2^-24,
    for x in [-104, 89] (NaN propagates)."""
    kf = _rintf(x * _INV_LN2)
    rh = x - kf * _C1                                 # exact
    rl = kf * _NC2
    r = rh + rl
    q = _fmaf(r, _F(0.00019962275109719485), _F(0.001393384300172329))
    q = _fmaf(r, q, _F(0.008333186618983746))
    q = _fmaf(r, q, _F(0.041666485369205475))
    q = _fmaf(r, q, _F(0.1666666716337204))
    q = _fmaf(r, q, _HALF)
    return kf, rh, _fmaf(r * r, q, rl)


@_jit
def _exp_mant(rh, t):
    """(ph, pl) = 1 + rh + t as a normalised double-float (two Fast2Sums)."""
    h = _ONE + rh
    lo = (rh - (h - _ONE)) + t
    ph = h + lo
    return ph, lo - (ph - h)


@_jit
def _clamp(x, lo, hi):
    x = hi if x > hi else x                           # NaN-preserving
    return lo if x < lo else x


@_jit
def _exp32(x):
    kf, rh, t = _exp_parts(_clamp(x, _EXP_LO, _EXP_HI))
    ph, pl = _exp_mant(rh, t)
    return _scalef(ph + pl, kf)


@_jit
def _expm1_32(x):
    xc = _clamp(x, _F(-18.0), _EXP_HI)
    kf, rh, t = _exp_parts(xc)
    # k <= 24: (2^k - 1) + 2^k*rh + 2^k*t, the first two by TwoSum.
    s = _pow2f(kf if kf < _F(24.0) else _F(24.0))
    a = s - _ONE
    b = s * rh                                        # exact
    u = a + b
    bb = u - a
    err = (a - (u - bb)) + (b - bb)
    a_err = (s - (a - (a - s))) + (-_ONE - (a - s))   # 0 unless k < -24
    lo = u + ((err + a_err) + s * t)
    # k > 24: exp's path with -2^-k in the low word.
    ph, pl = _exp_mant(rh, t - _pow2f(-kf if kf < _F(100.0) else _F(-100.0)))
    hi = _scalef(ph + pl, kf)
    res = hi if kf > _F(24.0) else lo
    return x if abs(x) < _TINY25 else res            # also -0.0


@_jit
def _recip_parts(num, eh, el):
    """(gh, gl) ~ num/(1 + eh + el), eh <= 1 or eh >= 1 (Fast2Sum either way
    once ordered), |el| << |eh|."""
    big = eh > _ONE
    a = eh if big else _ONE
    b = _ONE if big else eh
    dh = a + b
    dl = (b - (dh - a)) + el
    gh = num / dh
    rsd = _fmaf(-gh, dh, num) - gh * dl              # FMA: exact residual
    return gh, rsd / dh


@_jit
def _logistic32(x):
    a = abs(x)
    kf, rh, t = _exp_parts(_clamp(-a, _EXP_LO, _ZERO))
    ph, pl = _exp_mant(rh, t)
    s = _pow2f(kf if kf > _F(-100.0) else _F(-100.0))   # E < 2^-100: 1 + E == 1
    gh, gl = _recip_parts(_ONE, s * ph, s * pl)       # 1/(1 + E)
    pos = gh + gl
    neg = _scalef(_fmaf(ph, gh, ph * gl + pl * gh), kf)   # E/(1 + E)
    return pos if x >= _ZERO else neg                 # NaN takes neg (NaN)


@_jit
def _tanh32(x):
    a = abs(x)
    z = a * a
    p = _fmaf(z, _F(0.0028180452063679695), _F(-0.008782780729234219))
    p = _fmaf(z, p, _F(0.021900340914726257))
    p = _fmaf(z, p, _F(-0.05397612601518631))
    p = _fmaf(z, p, _F(0.13333389163017273))
    p = _fmaf(z, p, _F(-0.3333333432674408))
    small = _copysignf(_fmaf(a, z * p, a), x)         # keeps -0.0
    kf, rh, t = _exp_parts(_TWO * _clamp(a, _ZERO, _F(20.0)))
    ph, pl = _exp_mant(rh, t)
    s = _pow2f(kf)
    gh, gl = _recip_parts(_TWO, s * ph, s * pl)       # 2/(1 + exp(2a)) <= 0.5
    u = _ONE - gh
    y = u + (((_ONE - u) - gh) - gl)
    big = _copysignf(y, x)                            # NaN stays NaN
    return small if a < _F(0.55) else big


# ------------------------------------------------------------------ log
@_jit
def _log_core(x, corr):
    """log(x) + corr for finite x > 0, |corr| << ulp-scale of log(x)."""
    sub = x < _MIN_NORMAL
    m, e = _log_split(x * _F(33554432.0) if sub else x)   # 2^25
    e = e - _F(25.0) if sub else e
    f = m - _ONE
    s = f / (_TWO + f)
    z = s * s
    w = z * z
    r = z * (_F(0.66666662693) + w * _F(0.28498786688)) + w * (_F(0.40000972152) + w * _F(0.24279078841))
    hfsq = _HALF * f * f
    return e * _F(6.9313812256e-01) + (f - (hfsq - (s * (hfsq + r) + (e * _F(9.0580006145e-06) + corr))))


@_jit
def _log32(x):
    res = _log_core(x, _ZERO)
    res = -_INF if x == _ZERO else res
    res = _NAN if x < _ZERO else res
    return res if x < _INF else x + x


@_jit
def _log1p32(x):
    u = _ONE + x
    c = (x - (u - _ONE)) if x < _ONE else (_ONE - (u - x))
    res = _log_core(u, c / u)
    res = -_INF if x == -_ONE else res
    res = _NAN if x < -_ONE else res
    res = res if x < _INF else x + x
    return x if abs(x) < _TINY24 else res


# ------------------------------------------------------------------ sin/cos
@_jit
def _sin_cos_poly32(f, k, quadrant_shift):
    """float64 sin(r + q*pi/2), r = f*pi/2, |r| <= ~pi/4, to ~2^-30: Taylor
    polynomials (enough for a float32 result)."""
    r = f * 1.5707963267948966
    z = r * r
    ps = _fma(z, 2.7557319223985893e-06, -0.0001984126984126984)
    ps = _fma(z, ps, 0.008333333333333333)
    ps = _fma(z, ps, -0.16666666666666666)
    s = _fma(r * z, ps, r)
    pc = _fma(z, -2.755731922398589e-07, 2.48015873015873e-05)
    pc = _fma(z, pc, -0.001388888888888889)
    pc = _fma(z, pc, 0.041666666666666664)
    pc = _fma(z, pc, -0.5)
    c = _fma(z, pc, 1.0)
    q = _to_int(k) + quadrant_shift
    v = c if (q & 1) != 0 else s
    return -v if (q & 2) != 0 else v


@_jit
def _sin32(x):
    ax = abs(x)
    f, flo, k = _reduce32(x)
    v = np.float32(_sin_cos_poly32(f, k, 0))
    v = -v if x < _ZERO else v
    v = x if ax < _F(2.0 ** -12) else v              # sin x == x in float32
    return v if ax < _INF else x - x


@_jit
def _cos32(x):
    ax = abs(x)
    f, flo, k = _reduce32(x)
    v = np.float32(_sin_cos_poly32(f, k, 1))
    v = _ONE if ax < _F(2.0 ** -12) else v
    return v if ax < _INF else x - x
