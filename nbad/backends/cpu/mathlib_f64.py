"""The float64 cores of nbad's math library (mathlib.py) and the helpers the
float32 ones (mathlib_f32.py) and mathlib_random.py share.

Public names: exp, expm1, log, log1p, tanh, logistic, sin, cos, erf.  Each
takes a float32 or float64 (ints are promoted to float64) and returns the same
type.  Generated kernels call them element-wise inside njit loops.

Why this module exists: pip's llvmlite has no SVML, so ``np.exp`` & co. inside
njit become scalar libm calls that stop the loop vectoriser.  Everything here
is branch-free straight-line arithmetic (edge cases are *selects*), integer
bit tricks go through tiny ``@intrinsic`` bitcasts, and float->int conversion
uses the 1.5*2**52 "magic number" trick, so that LLVM vectorises a loop
calling these functions (AVX2 has no packed double<->int64 conversion).

Compilation model: every function here is ``@njit(forceinline=True,
fastmath=False, error_model='numpy')``.  ``forceinline`` puts LLVM's
``alwaysinline`` on the compiled function, so LLVM inlines it into the
kernel's loop after linking (without it LLVM declines for the bigger ones,
sin/cos/erf, and the call blocks vectorisation).  ``fastmath=False`` must be
explicit: numba otherwise makes a callee *inherit* the caller's fast-math
flags, and ``reassoc`` folds ``(x + M) - M`` to ``x`` and ``(x - k*A) - k*B``
to ``x - k*(A+B)``, which destroys the range reductions.  Numba-level
``inline='always'`` has the same problem (the code is lowered with the
kernel's flags) and is not used.  NBAD_MATHLIB_INLINE=none|numba selects the
alternatives, for measurements only.

Algorithms (f64).  float32 inputs of exp expm1 log log1p tanh logistic sin
cos use the float32-native cores of mathlib_f32.py (8 lanes per ymm; sin/cos
keep an exact float64 reduction); erf is computed in float64, rounded once:

* exp: k = rint(x/ln2), r = x - k*ln2 with the Cody-Waite split of ln2
  (ln2_hi has 32 significant bits so k*ln2_hi is exact; fdlibm's constants),
  exp(r) = 1 + r + r^2*Q(r), Q of degree 10 on |r| <= ln2/2 (Estrin's scheme).  2^k is applied
  as two exactly-representable powers of two (2^(k-s) * 2^s, s = +-512), so
  results near overflow and subnormal results get a single rounding.  x is
  clamped to [-746, 710] first; the scaling then over/underflows by itself.
* expm1: same reduction; expm1(r) = r + r^2*Q(r) and
  expm1(x) = (expm1(r) + (1 - 2^-k)) * 2^k, exact for k = 0.
* log: x = 2^e*m, m in [sqrt(1/2), sqrt(2)), f = m-1, s = f/(2+f),
  log(1+f) = f - (f^2/2 - s*(f^2/2 + R)), R = s^2*h(s^2), h of degree 7 on
  s^2 <= (3-2*sqrt(2))^2 (fdlibm's formulation); e*ln2 split as above.
  Subnormals are pre-scaled by 2^54.
* log1p: u = 1+x rounded, log(u) as above plus the exact correction
  ((1+x)-u)/u (fdlibm's log1p trick).
* tanh: t = expm1(-2|x|), tanh|x| = -t/(t+2), sign copied back; expm1 is
  specialised to its argument's sign (no overflow, one scaling by 2^k).
* logistic: e = exp(-|x|) (never overflows), 1/(1+e) or e/(1+e).
* sin/cos: float64 uses a branch-free Payne-Hanek reduction for *every*
  argument: x = X*2^E with X a 53-bit integer, 2/pi is stored as 24-bit
  chunks (computed at import from Machin's formula), the chunks whose
  product with x is a multiple of 4 are skipped by exponent, the kept ones
  are scaled by 2^E; X is split 27+26 bits so every partial product is
  exact; the high products are reduced mod 4 exactly, the tail is summed in
  double-double (absolute error ~2^-106 quadrants, ample except within
  ~2^-50 of a multiple of pi/2; the worst double, 6381956970095103*2^797,
  is within 2.5 ulp in the tests).  r = f*pi/2 with |f| <= 1/2 quadrant; sin(r) = r + r^3*S(r^2)
  (degree 6), cos(r) = 1 - r^2/2 + r^4*C(r^2) (degree 6, with fdlibm's
  compensated 1 - r^2/2).  There is no Cody-Waite fast path: a vector loop
  computes both sides of a select, so a fast path plus a fallback would cost
  more than the exact reduction alone.  float32: 24-bit significand times
  24-bit chunks is exact in float64, so five chunks suffice.
* erf: |x| < 0.75: x*P(x^2), P of degree 10; 0.75 <= |x| < 6: Taylor series
  of degree 14 about the nearest of 21 centres c (|x| - c in [-1/8, 1/8]);
  its coefficients erf'(c)*(-1)^n H_n(c)/(n+1)! come from the Hermite
  recurrence, so only erf(c) and erf'(c) are gathered from tables (the loop
  vectoriser rejects a loop with a 12-coefficient gather per element);
  |x| >= 6: +-1.

Coefficients of Q, h, S, C and P are our own near-minimax Chebyshev fits,
made offline with ``mpmath.chebyfit`` at 50 digits (fit error below 2e-18
relative for every polynomial) and rounded to double; erf(c), erf'(c) were
evaluated with mpmath.  Measured accuracy (tests/test_mathlib.py sweeps the
whole range): <= 3 ulp in float64 (tanh and logistic 3, the others <= 2.5;
exp, log, log1p < 1 ulp), float32
results are correctly rounded in all sampled cases.
"""
import os

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

# See the module docstring.  error_model='numpy': no ZeroDivisionError checks.
_JIT_OPTIONS = {
    "llvm": dict(forceinline=True, fastmath=False, error_model="numpy"),
    "none": dict(fastmath=False, error_model="numpy"),
    "numba": dict(inline="always", fastmath=False, error_model="numpy"),
}[os.environ.get("NBAD_MATHLIB_INLINE", "llvm")]
_jit = njit(**_JIT_OPTIONS)


# ---------------------------------------------------------------- intrinsics
@intrinsic
def _f2i(typingctx, x):
    """float64 -> int64 bit pattern."""
    if isinstance(x, types.Float):
        def codegen(context, builder, sig, args):
            v = context.cast(builder, args[0], sig.args[0], types.float64)
            return builder.bitcast(v, ir.IntType(64))
        return types.int64(x), codegen


@intrinsic
def _i2f(typingctx, i):
    """int64 bit pattern -> float64."""
    if isinstance(i, types.Integer):
        def codegen(context, builder, sig, args):
            v = context.cast(builder, args[0], sig.args[0], types.int64)
            return builder.bitcast(v, ir.DoubleType())
        return types.float64(i), codegen


@intrinsic
def _f32_bits(typingctx, x):
    """float32 -> its 32-bit pattern, zero-extended to int64."""
    if isinstance(x, types.Float) and x.bitwidth == 32:
        def codegen(context, builder, sig, args):
            return builder.zext(builder.bitcast(args[0], ir.IntType(32)), ir.IntType(64))
        return types.int64(x), codegen


def _llvm_unary(name):
    @intrinsic
    def fn(typingctx, x):
        if isinstance(x, types.Float):
            def codegen(context, builder, sig, args):
                v = context.cast(builder, args[0], sig.args[0], types.float64)
                f = cgutils.get_or_insert_function(
                    builder.module, ir.FunctionType(ir.DoubleType(), [ir.DoubleType()]), name)
                return builder.call(f, [v])
            return types.float64(x), codegen
    return fn


_rint = _llvm_unary("llvm.rint.f64")     # round to nearest even (vroundpd)
_floor = _llvm_unary("llvm.floor.f64")


@intrinsic
def _fma(typingctx, a, b, c):
    """a*b + c via llvm.fmuladd: one FMA where the CPU has it, else mul+add.
    Used only in polynomial evaluation, where either rounding is fine."""
    if all(isinstance(t, types.Float) for t in (a, b, c)):
        def codegen(context, builder, sig, args):
            d = ir.DoubleType()
            vals = [context.cast(builder, v, t, types.float64) for v, t in zip(args, sig.args)]
            f = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(d, [d, d, d]), "llvm.fmuladd.f64")
            return builder.call(f, vals)
        return types.float64(a, b, c), codegen


# ----------------------------------------------------------------- constants
_MAGIC = 6755399441055744.0               # 1.5*2^52: (v + M) has int(v) in its low bits
_MAGIC_BITS = 0x4338000000000000
_TWO52 = 4503599627370496.0
_TWO52_BITS = 0x4330000000000000
_SIGN = -0x8000000000000000               # int64 sign bit (a literal numba types as int64)
_ABS = 0x7FFFFFFFFFFFFFFF
_INF = np.inf
_NAN = np.nan
_INV_LN2 = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01      # fdlibm Cody-Waite split of ln2
_LN2_LO = 1.90821492927058770002e-10
_PIO2_HI = 1.5707963267948966              # pi/2 = hi + lo
_PIO2_LO = 6.123233995736766e-17


@_jit
def _to_int(v):
    """Exact int64 of an integral float64 |v| < 2^51, without cvttpd2qq."""
    return _f2i(v + _MAGIC) - _MAGIC_BITS


@_jit
def _pow2(k):
    """2.0**k for int64 k in [-1022, 1023]."""
    return _i2f((k + 1023) << 52)


@_jit
def _copysign(mag, sgn):
    return _i2f((_f2i(mag) & _ABS) | (_f2i(sgn) & _SIGN))


@_jit
def _two_sum(a, b):
    """s + e == a + b exactly (Knuth)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


# ------------------------------------------------------------- exp family
@_jit
def _exp_q(r):
    """(exp(r) - 1 - r)/r^2 on |r| <= ln2/2, near-minimax degree 10, by
    Estrin's scheme: 4 dependent steps instead of Horner's 10, whose latency
    bound the vectorised loops (10^7 values on one thread: tanh 25.6 -> 22.2 ms,
    exp 17.6 -> 15.1 ms; max error over 4-5 million values unchanged within
    0.1 ulp: exp 0.997, expm1 2.06, tanh 2.56)."""
    r2 = r * r
    r4 = r2 * r2
    q01 = _fma(r, 0.1666666666666667, 0.5)
    q23 = _fma(r, 0.008333333333326141, 0.04166666666666667)
    q45 = _fma(r, 0.00019841269874800493, 0.0013888888888883752)
    q67 = _fma(r, 2.7557255425746435e-06, 2.4801587325533363e-05)
    q89 = _fma(r, 2.510520637395701e-08, 2.7557273661348637e-07)
    q03 = _fma(r2, q23, q01)
    q47 = _fma(r2, q67, q45)
    q8x = _fma(r2, 2.0914679376583935e-09, q89)
    return _fma(r4 * r4, q8x, _fma(r4, q47, q03))


@_jit
def _scale(p, ki):
    """p * 2^ki for ki in [-1100, 1100] with one final rounding: two steps
    through 2^+-512 keep each factor a normal power of two."""
    s = 512 if ki > 0 else -512
    return p * _pow2(ki - s) * _pow2(s)


@_jit
def _exp64(x):
    # NaN-preserving clamp: beyond it the scaling over/underflows by itself.
    x = 710.0 if x > 710.0 else x
    x = -746.0 if x < -746.0 else x
    kf = _rint(x * _INV_LN2)
    r = (x - kf * _LN2_HI) - kf * _LN2_LO          # kf*_LN2_HI is exact
    p = 1.0 + (r + r * r * _exp_q(r))
    return _scale(p, _to_int(kf))


@_jit
def _expm1_64(x):
    xc = 710.0 if x > 710.0 else x
    xc = -45.0 if xc < -45.0 else xc                # expm1(-45) == -1 in double
    kf = _rint(xc * _INV_LN2)
    r = (xc - kf * _LN2_HI) - kf * _LN2_LO
    q = r + r * (r * _exp_q(r))                    # expm1(r)
    ki = _to_int(kf)
    km = ki if ki < 60 else 60                      # 2^-k only matters for k < 54
    u = q + (1.0 - _pow2(-km))                      # exact for k == 0
    res = _scale(u, ki)
    # |x| < 2^-54: expm1(x) rounds to x; also keeps the sign of -0.0.
    return x if abs(x) < 5.551115123125783e-17 else res


@_jit
def _tanh64(x):
    # t = expm1(-2|x|) in [-1, 0], with expm1 specialised to arguments <= 0:
    # 2^k for k in [-65, 0] is one normal power of two, so there is no
    # overflow clamp and no two-step scaling (a quarter fewer instructions).
    a = abs(x)
    y = -2.0 * a
    y = -45.0 if y < -45.0 else y                    # expm1(-45) == -1 in double
    kf = _rint(y * _INV_LN2)
    r = (y - kf * _LN2_HI) - kf * _LN2_LO
    q = r + r * (r * _exp_q(r))                      # expm1(r)
    ki = _to_int(kf)
    t = (q + (1.0 - _pow2(-ki))) * _pow2(ki)
    # |x| < 2^-28 needs no special case: t = -2|x| + 2x^2 there, and
    # -t/(t+2) = |x|(1 - x^2 + ...) rounds to |x| (subnormals and -0.0 included)
    return _copysign(-t / (t + 2.0), x)


@_jit
def _logistic64(x):
    e = _exp64(-abs(x))                              # <= 1: no overflow
    d = 1.0 + e
    return 1.0 / d if x >= 0.0 else e / d           # NaN takes the e/d side


# ------------------------------------------------------------- log family
@_jit
def _log_h(z):
    """(2*atanh(s)/s - 2)/s^2 as a function of z = s^2 <= 0.0295, degree 7
    (Estrin's scheme, as _exp_q)."""
    z2 = z * z
    h01 = _fma(z, 0.4000000000000088, 0.6666666666666666)
    h23 = _fma(z, 0.22222222391713917, 0.28571428570803614)
    h45 = _fma(z, 0.15386239702814658, 0.18181795640132906)
    h67 = _fma(z, 0.13086626147840102, 0.13268773138656886)
    return _fma(z2 * z2, _fma(z2, h67, h45), _fma(z2, h23, h01))


@_jit
def _log_core(x, corr):
    """log(x) + corr for finite x > 0 (|corr| << ulp-scale of log(x))."""
    sub = x < 2.2250738585072014e-308
    xs = x * 18014398509481984.0 if sub else x       # 2^54
    b = _f2i(xs)
    # Offset so that the exponent field counts from m in [sqrt(1/2), sqrt(2)).
    eb = (b + 0x95F619980C433) >> 52
    m = _i2f(b - ((eb - 1023) << 52))
    e = _i2f(eb | _TWO52_BITS) - (_TWO52 + 1023.0)   # eb - 1023 as a double
    e = e - 54.0 if sub else e
    f = m - 1.0
    s = f / (2.0 + f)
    z = s * s
    hfsq = 0.5 * f * f
    r = z * _log_h(z)
    return e * _LN2_HI + (f - (hfsq - (s * (hfsq + r) + (e * _LN2_LO + corr))))


@_jit
def _log64(x):
    res = _log_core(x, 0.0)
    res = -_INF if x == 0.0 else res
    res = _NAN if x < 0.0 else res
    return res if x < _INF else x + x                # +inf -> inf, NaN -> NaN


@_jit
def _log1p64(x):
    u = 1.0 + x
    # (1+x) - u exactly (Sterbenz in both branches), relative to u.
    c = (x - (u - 1.0)) if x < 1.0 else (1.0 - (u - x))
    res = _log_core(u, c / u)
    res = -_INF if x == -1.0 else res
    res = _NAN if x < -1.0 else res
    res = res if x < _INF else x + x
    return x if abs(x) < 5.551115123125783e-17 else res


# ------------------------------------------------------------------ sin/cos
_CHUNK_BIAS = 600


def _two_over_pi_chunks(n):
    """2/pi as n 24-bit chunks: chunk i holds bits 24i+1 .. 24i+24 after the
    binary point, stored as an exact double times 2^_CHUNK_BIAS (so that the
    late chunks, ~2^-1176, are not subnormal).  pi from Machin's formula in
    fixed point with 64 guard bits (checked in the tests against 0xA2F983...)."""
    prec = 24 * n + 64
    one = 1 << prec

    def atan_inv(q):                  # atan(1/q) * 2^prec
        total, term, k, q2 = 0, one // q, 1, q * q
        while term:
            total += term // k if k % 4 == 1 else -(term // k)
            term //= q2
            k += 2
        return total

    pi_fx = 4 * (4 * atan_inv(5) - atan_inv(239))
    t = (2 << (2 * prec)) // pi_fx    # 2/pi * 2^prec
    return np.array([float((t >> (prec - 24 * (i + 1))) & 0xFFFFFF) * 2.0 ** (_CHUNK_BIAS - 24 * (i + 1))
                     for i in range(n)])


# Eight leading zero chunks stand for the (zero) integer bits of 2/pi, so
# that small arguments use the same chunk alignment as large ones; f64 needs
# real chunks up to index 40 + 8 (largest exponent).
_PAD = 8
_TWO_OVER_PI = np.concatenate((np.zeros(_PAD), _two_over_pi_chunks(50)))


@_jit
def _red4(v):
    """v - 4*rint(v/4): exact, result in [-2, 2], congruent to v mod 4."""
    return v - 4.0 * _rint(v * 0.25)


@_jit
def _reduce64(ax):
    """(f, flo, k): ax*2/pi == k + f + flo (mod 4), |f| <= ~1/2, for finite ax >= 2^-27.

    ax = X*2^E, X a 53-bit integer.  Terms X*2^E*c_i of 2/pi's chunks that
    are multiples of 4 are skipped: start at chunk i0 = floor((E-2)/24), so
    that chunk 0's grid is in [2^-22, 2^1] whatever E is."""
    b = _f2i(ax)
    eb = b >> 52
    X = _i2f((b & 0xFFFFFFFFFFFFF) | _TWO52_BITS)    # 2^52 + mantissa, exact
    ebf = _i2f(eb | _TWO52_BITS) - _TWO52
    i0 = _floor((ebf - 1076.5) * (1.0 / 24.0))      # +0.5: never on a boundary
    i0 = i0 if i0 > -_PAD else -_PAD                # tiny x: result unused
    i = _to_int(i0) + _PAD
    sc = _i2f((eb - 652) << 52)                     # 2^(E - _CHUNK_BIAS)
    c0 = _TWO_OVER_PI[i] * sc
    c1 = _TWO_OVER_PI[i + 1] * sc
    c2 = _TWO_OVER_PI[i + 2] * sc
    c3 = _TWO_OVER_PI[i + 3] * sc
    c4 = _TWO_OVER_PI[i + 4] * sc
    c5 = _TWO_OVER_PI[i + 5] * sc
    c6 = _TWO_OVER_PI[i + 6] * sc
    c7 = _TWO_OVER_PI[i + 7] * sc
    c8 = _TWO_OVER_PI[i + 8] * sc
    xh = _i2f(_f2i(X) & -67108864)                  # top 27 bits
    xl = X - xh                                     # low 26 bits
    # 27x24 and 26x24-bit products are exact; xh*c0 is a multiple of 4.
    h = _red4(xl * c0) + _red4(xh * c1)
    h = _red4(_red4(h) + _red4(xl * c1) + _red4(xh * c2))   # exact, grid 2^-46
    # Tail, smallest first; double-double from the terms that matter.
    s = xl * c8 + xh * c8 + xl * c7 + xh * c7 + xl * c6 + xh * c6 + xl * c5
    hi, lo = _two_sum(xh * c5, s)
    hi, e = _two_sum(xl * c4, hi)
    lo += e
    hi, e = _two_sum(xh * c4, hi)
    lo += e
    hi, e = _two_sum(xl * c3, hi)
    lo += e
    hi, e = _two_sum(_red4(xh * c3), hi)
    lo += e
    hi, e = _two_sum(_red4(xl * c2), hi)
    lo += e
    k = _rint(h + hi)
    hi, e = _two_sum(h - k, hi)
    return hi, lo + e, k


@_jit
def _reduce32(x):
    """_reduce64 for a float32: X has 24 bits, so X*chunk is exact and
    five chunks give far more than float32 needs."""
    b = _f32_bits(x) & 0x7FFFFFFF
    eb = b >> 23
    X = _i2f((b & 0x7FFFFF) | 0x800000 | _TWO52_BITS) - _TWO52
    ebf = _i2f(eb | _TWO52_BITS) - _TWO52
    i0 = _floor((ebf - 151.5) * (1.0 / 24.0))
    i0 = i0 if i0 > -_PAD else -_PAD
    i = _to_int(i0) + _PAD
    sc = _i2f((eb + 273) << 52)                     # 2^(eb - 150 - _CHUNK_BIAS)
    h = _red4(_red4(X * _TWO_OVER_PI[i] * sc) + _red4(X * _TWO_OVER_PI[i + 1] * sc))
    p2 = _red4(X * _TWO_OVER_PI[i + 2] * sc)
    k = _rint(h + p2)
    # (h - k) + p2 is exact whenever it is small (both on a 2^-70 grid).
    return ((h - k) + p2) + (X * _TWO_OVER_PI[i + 3] * sc + X * _TWO_OVER_PI[i + 4] * sc), 0.0, k


@_jit
def _sin_cos_poly(f, flo, k, quadrant_shift):
    """sin(r + q*pi/2) with r = (f + flo)*pi/2, q = k + quadrant_shift."""
    r = f * _PIO2_HI + (f * _PIO2_LO + flo * _PIO2_HI)
    z = r * r
    ps = _fma(z, -7.586697117706918e-13, 1.6058531618986147e-10)
    ps = _fma(z, ps, -2.5052106232447578e-08)
    ps = _fma(z, ps, 2.7557319219339167e-06)
    ps = _fma(z, ps, -0.00019841269841265065)
    ps = _fma(z, ps, 0.008333333333333331)
    ps = _fma(z, ps, -0.16666666666666666)
    s = r + r * z * ps
    pc = _fma(z, 4.7458719020432915e-14, -1.1470460887609959e-11)
    pc = _fma(z, pc, 2.087675579108042e-09)
    pc = _fma(z, pc, -2.7557319221402824e-07)
    pc = _fma(z, pc, 2.4801587301584645e-05)
    pc = _fma(z, pc, -0.0013888888888888887)
    pc = _fma(z, pc, 0.041666666666666664)
    hz = 0.5 * z
    w = 1.0 - hz
    c = w + (((1.0 - w) - hz) + z * z * pc)         # compensated 1 - z/2
    q = _to_int(k) + quadrant_shift
    v = c if (q & 1) != 0 else s
    return -v if (q & 2) != 0 else v


@_jit
def _sin64(x):
    ax = abs(x)
    f, flo, k = _reduce64(ax)
    v = _sin_cos_poly(f, flo, k, 0)
    v = -v if x < 0.0 else v
    v = x if ax < 7.450580596923828e-09 else v      # |x| < 2^-27: sin x == x
    return v if ax < _INF else x - x                # inf, NaN -> NaN


@_jit
def _cos64(x):
    ax = abs(x)
    f, flo, k = _reduce64(ax)
    v = _sin_cos_poly(f, flo, k, 1)
    v = 1.0 if ax < 7.450580596923828e-09 else v
    return v if ax < _INF else x - x


# ---------------------------------------------------------------------- erf
_ERF_C = np.array([  # erf(c_j), c_j = 0.875 + j/4
    0.7840750610598597, 0.8883882317017078, 0.9481700727820903, 0.9784437332399837,
    0.9919900576701199, 0.9973459706405177, 0.9992170617821089, 0.9997946242638588,
    0.9999521451602562, 0.9999901032653747, 0.9999981847185726, 0.9999997048598075,
    0.999999957486056, 0.9999999945765992, 0.9999999993875167, 0.9999999999387839,
    0.9999999999945866, 0.9999999999995766, 0.9999999999999707, 0.9999999999999982,
    0.9999999999999999,
])
_ERF_D = np.array([  # erf'(c_j) = 2/sqrt(pi)*exp(-c_j^2)
    0.5247450452901482, 0.3182739585007693, 0.1703597736875156, 0.08047225902251116,
    0.03354582842421607, 0.012340820614333696, 0.004006477861670219, 0.001147875125882675,
    0.00029022828286249803, 6.475868323471298e-05, 1.2751740799765088e-05, 2.2159202846331124e-06,
    3.398223817809154e-07, 4.598995828846052e-08, 5.492717228853464e-09, 5.789281366587474e-10,
    5.384870492099458e-11, 4.4201708693385726e-12, 3.2019610382476225e-13, 2.046945208423793e-14,
    1.154807464350253e-15,
])


@_jit
def _erf_series(c, t):
    """sum_{n=0}^{13} g_n t^(n+1) with g_n = (-1)^n H_n(c)/(n+1)!, by the
    recurrence g_{n+1} = -(2c g_n + 2n/(n+1) g_{n-1})/(n+2); fully unrolled."""
    c2 = -2.0 * c
    g0 = 1.0
    g1 = -c
    tp = t * t
    total = t + g1 * tp
    g2 = 0.3333333333333333 * c2 * g1 + -0.3333333333333333 * g0
    tp = tp * t
    total = total + g2 * tp
    g3 = 0.25 * c2 * g2 + -0.3333333333333333 * g1
    tp = tp * t
    total = total + g3 * tp
    g4 = 0.2 * c2 * g3 + -0.3 * g2
    tp = tp * t
    total = total + g4 * tp
    g5 = 0.16666666666666666 * c2 * g4 + -0.26666666666666666 * g3
    tp = tp * t
    total = total + g5 * tp
    g6 = 0.14285714285714285 * c2 * g5 + -0.23809523809523808 * g4
    tp = tp * t
    total = total + g6 * tp
    g7 = 0.125 * c2 * g6 + -0.21428571428571427 * g5
    tp = tp * t
    total = total + g7 * tp
    g8 = 0.1111111111111111 * c2 * g7 + -0.19444444444444445 * g6
    tp = tp * t
    total = total + g8 * tp
    g9 = 0.1 * c2 * g8 + -0.17777777777777778 * g7
    tp = tp * t
    total = total + g9 * tp
    g10 = 0.09090909090909091 * c2 * g9 + -0.16363636363636364 * g8
    tp = tp * t
    total = total + g10 * tp
    g11 = 0.08333333333333333 * c2 * g10 + -0.15151515151515152 * g9
    tp = tp * t
    total = total + g11 * tp
    g12 = 0.07692307692307693 * c2 * g11 + -0.14102564102564102 * g10
    tp = tp * t
    total = total + g12 * tp
    g13 = 0.07142857142857142 * c2 * g12 + -0.13186813186813187 * g11
    tp = tp * t
    total = total + g13 * tp
    return total


@_jit
def _erf64(x):
    a = abs(x)
    z = a * a
    p = _fma(z, 1.1472499701094691e-08, -1.5940066854661717e-07)
    p = _fma(z, p, 1.643068417974155e-06)
    p = _fma(z, p, -1.4924196305569617e-05)
    p = _fma(z, p, 0.00012055289567541706)
    p = _fma(z, p, -0.0008548326188759752)
    p = _fma(z, p, 0.005223977615420539)
    p = _fma(z, p, -0.026866170644428485)
    p = _fma(z, p, 0.11283791670952596)
    p = _fma(z, p, -0.37612638903183715)
    small = x * _fma(z, p, 1.1283791670955126)      # keeps the sign of -0.0
    # 0.75 <= a < 6: Taylor series of degree 14 about the nearest centre
    # c (|t| <= 1/8): erf(c+t) = erf(c) + erf'(c) * sum_n g_n t^(n+1) with
    # g_n = (-1)^n H_n(c)/(n+1)! from the Hermite recurrence, so only two
    # table values are gathered (the vectoriser rejects 12 gathers).
    j = _floor((a - 0.75) * 4.0)
    j = j if j > 0.0 else 0.0                        # NaN -> 0 as well
    j = j if j < 20.0 else 20.0
    c = 0.875 + 0.25 * j
    t = a - c
    i = _to_int(j)
    q = _ERF_C[i] + _ERF_D[i] * _erf_series(c, t)
    q = 1.0 if a >= 6.0 else q                       # erfc(6) < 2^-55
    q = q if x > 0.0 else -q                         # NaN stays NaN
    return small if a < 0.75 else q


# Straight-line kernels (a 0-d program: an unrolled scalar simulation and its
# gradient) call the math functions instead: inlined, each of hundreds of sin
# calls is its own copy of the argument reduction, and LLVM's time grows with
# them (jit(grad) of a 200-step pendulum: 29 s to compile inlined, 14-16 s called).
_CALL_OPTIONS = dict(fastmath=False, error_model="numpy")
