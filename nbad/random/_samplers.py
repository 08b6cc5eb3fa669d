"""Samplers built on random bits exactly as JAX builds them, so the same key
gives the same numbers (float64 draws are JAX's x64-mode draws, from 64 bits).

nbad follows NumPy's dtypes: a sampler's default dtype is float64 (int64 for
randint). Parameters (minval, maxval, ...) may be traced and differentiated;
shapes must be static.
"""
from __future__ import annotations

import math

import numpy as np

import nbad.numpy as jnp
from nbad.errors import NbadTypeError, NbadValueError
from nbad.numpy._core import aval_of, as_operand, broadcast_shapes, convert
from nbad.random._erf_inv import erf_inv, fused_multiply_add
from nbad.random._keys import (_raw_key_data, compiled_when_eager, random_bits, split,
                              static_shape)


def _float_dtype(fn_name: str, dtype):
    dtype = np.dtype(np.float64 if dtype is None else dtype)
    if dtype not in (np.float32, np.float64):
        raise NbadValueError(
            f"dtype argument to `{fn_name}` must be a float dtype (float32 or float64), got {dtype}")
    return dtype


def _check_shape(fn_name: str, shape, *param_shapes):
    if param_shapes and broadcast_shapes(fn_name, shape, *param_shapes) != tuple(shape):
        raise NbadValueError(
            f"{fn_name} parameter shapes must be broadcast-compatible with shape argument, and "
            f"the result of broadcasting the shapes must equal the shape argument, but got "
            f"result {broadcast_shapes(fn_name, shape, *param_shapes)} for shape argument {shape}.")


def _uniform(raw, shape, dtype, minval, maxval):
    """JAX's uniform: the top mantissa bits of random bits as a float in [1, 2), minus 1,
    scaled to [minval, maxval) with one rounding (XLA's contracted multiply-add)."""
    finfo = np.finfo(dtype)
    nbits, nmant = finfo.bits, finfo.nmant
    uint = np.dtype(f"uint{nbits}")
    mantissa = jnp.right_shift(random_bits(raw, nbits, shape), uint.type(nbits - nmant))
    # bitcast(mantissa | bits(1.0)) - 1 is exactly mantissa * 2^-nmant
    floats = jnp.multiply(mantissa.astype(dtype), dtype.type(2.0 ** -nmant))
    minval, maxval = convert(as_operand(minval), dtype), convert(as_operand(maxval), dtype)
    scaled = fused_multiply_add(floats, jnp.subtract(maxval, minval), minval)
    out = jnp.maximum(minval, scaled)
    if tuple(aval_of(out).shape) != tuple(shape):
        raise NbadValueError(
            f"uniform: minval and maxval of shapes {aval_of(minval).shape} and "
            f"{aval_of(maxval).shape} do not broadcast to the shape argument {shape}")
    return out


@compiled_when_eager
def uniform(key, shape=(), dtype=None, minval=0.0, maxval=1.0):
    """Uniform floats in [minval, maxval) (default float64, drawn from 64 bits)."""
    raw, _ = _raw_key_data("uniform", key)
    return _uniform(raw, static_shape("uniform", shape), _float_dtype("uniform", dtype),
                    minval, maxval)


@compiled_when_eager
def normal(key, shape=(), dtype=None):
    """Standard normal draws: sqrt(2) erf_inv(u), u uniform in (-1, 1), as JAX; a
    complex dtype draws its real and imaginary parts from split keys, each of
    variance 1/2."""
    raw, _ = _raw_key_data("normal", key)
    shape = static_shape("normal", shape)
    dtype = np.dtype(np.float64 if dtype is None else dtype)
    if dtype in (np.complex64, np.complex128):
        part = np.dtype(np.float32 if dtype == np.complex64 else np.float64)
        k_re, k_im = split(raw)
        re, im = (_normal_real(k, shape, part).astype(dtype) for k in (k_re, k_im))
        return jnp.divide(jnp.add(re, jnp.multiply(1j, im)), dtype.type(np.sqrt(2)))
    return _normal_real(raw, shape, _float_dtype("normal", dtype))


def _normal_real(raw, shape, dtype):
    lo = np.nextafter(dtype.type(-1), dtype.type(0))
    u = _uniform(raw, shape, dtype, lo, dtype.type(1))
    return jnp.multiply(dtype.type(np.sqrt(2)), erf_inv(u))


@compiled_when_eager
def truncated_normal(key, lower, upper, shape=None, dtype=None):
    """Standard normal floats conditioned on lower < x < upper (JAX's inverse-CDF method)."""
    raw, _ = _raw_key_data("truncated_normal", key)
    dtype = _float_dtype("truncated_normal", dtype)
    bounds = (jnp.shape(lower), jnp.shape(upper))
    if shape is None:
        shape = broadcast_shapes("truncated_normal", *bounds)
    else:
        shape = static_shape("truncated_normal", shape)
        _check_shape("truncated_normal", shape, *bounds)
    sqrt2 = dtype.type(np.sqrt(2))
    lower, upper = convert(as_operand(lower), dtype), convert(as_operand(upper), dtype)
    from nbad.scipy.special import erf

    a, b = erf(jnp.divide(lower, sqrt2)), erf(jnp.divide(upper, sqrt2))
    out = jnp.multiply(sqrt2, erf_inv(_uniform(raw, shape, dtype, a, b)))
    return jnp.clip(out, _inside(lower, dtype, np.inf), _inside(upper, dtype, -np.inf))


def _inside(bound, dtype, toward):
    """The float next to a bound toward the inside of the interval, as JAX clamps to the
    open interval. nbad has no traced nextafter: a traced bound is used as it is (a draw
    that rounds onto it stays there; JAX would move it one ulp inside)."""
    from nbad.core.trace import Tracer
    from nbad.lax import stop_gradient

    if isinstance(bound, Tracer):
        return stop_gradient(bound)
    return np.nextafter(np.asarray(bound, dtype), dtype.type(toward))


@compiled_when_eager
def bernoulli(key, p=0.5, shape=None, mode="low"):
    """Booleans that are True with probability p (uniform(p's dtype) < p, as JAX)."""
    if mode not in ("high", "low"):
        raise NbadValueError(f"got mode={mode!r}, expected 'high' or 'low'")
    raw, _ = _raw_key_data("bernoulli", key)
    p = as_operand(p)
    dtype = aval_of(p).dtype
    if dtype.kind != "f":
        raise NbadTypeError(f"bernoulli probability `p` must have a floating dtype, got {dtype}.")
    shape = jnp.shape(p) if shape is None else static_shape("bernoulli", shape)
    _check_shape("bernoulli", shape, jnp.shape(p))
    if mode == "high":
        u = _uniform(raw, (2,) + tuple(shape), dtype, 0.0, 1.0)
        u2 = jnp.multiply(u[1], dtype.type(2.0 ** -np.finfo(dtype).nmant))
        return jnp.less(u2, jnp.subtract(p, u[0]))
    return jnp.less(_uniform(raw, shape, dtype, 0.0, 1.0), p)


def _clip_to(val, dtype):
    """An integer array converted to dtype, clipped to its range instead of wrapping."""
    info, own = np.iinfo(dtype), np.iinfo(aval_of(val).dtype)
    vdtype = aval_of(val).dtype.type
    return jnp.clip(val, vdtype(max(info.min, own.min)), vdtype(min(info.max, own.max))).astype(dtype)


@compiled_when_eager
def randint(key, shape, minval, maxval, dtype=None):
    """Uniform integers in [minval, maxval), by JAX's double-width modulus method."""
    raw, _ = _raw_key_data("randint", key)
    shape = static_shape("randint", shape)
    dtype = np.dtype(np.int64 if dtype is None else dtype)
    if dtype.kind not in "iu":
        raise NbadTypeError(f"randint only accepts integer dtypes, got {dtype}")
    minval, maxval = jnp.asarray(minval), jnp.asarray(maxval)
    info = np.iinfo(dtype)
    sampling = dtype
    if info.bits < 32:
        sampling = np.dtype(np.int32)
        minval = jnp.clip(minval.astype(np.int32), int(info.min), int(info.max))
        maxval = jnp.clip(maxval.astype(np.int32), int(info.min), int(info.max) + 1)
    return _randint(raw, shape, minval, maxval, sampling).astype(dtype)


def _randint(raw, shape, minval, maxval, dtype):
    _check_shape("randint", shape, jnp.shape(minval), jnp.shape(maxval))
    if aval_of(minval).dtype.kind not in "iu":
        minval = minval.astype(np.int64)
    if aval_of(maxval).dtype.kind not in "iu":
        maxval = maxval.astype(np.int64)
    top = np.asarray(np.iinfo(dtype).max, dtype)
    maxval_out_of_range = jnp.greater(maxval, _clip_to(top, aval_of(maxval).dtype))
    minval, maxval = _clip_to(minval, dtype), _clip_to(maxval, dtype)
    nbits = np.iinfo(dtype).bits
    k1, k2 = split(raw)
    higher, lower = random_bits(k1, nbits, shape), random_bits(k2, nbits, shape)
    unsigned = np.dtype(f"uint{nbits}").type
    span = jnp.subtract(maxval, minval).astype(unsigned)
    span = jnp.where(jnp.less_equal(maxval, minval), unsigned(1), span)
    span = jnp.where(jnp.logical_and(maxval_out_of_range, jnp.greater(maxval, minval)),
                     jnp.add(span, unsigned(1)), span)
    multiplier = jnp.remainder(unsigned(2 ** (nbits // 2)), span)
    multiplier = jnp.remainder(jnp.multiply(multiplier, multiplier), span)
    offset = jnp.add(jnp.multiply(jnp.remainder(higher, span), multiplier),
                     jnp.remainder(lower, span))
    offset = jnp.remainder(offset, span)
    return jnp.add(minval, offset.astype(dtype))


def _sampler(name, fn, minval, maxval):
    """A sampler transforming uniform(minval(finfo), maxval(finfo)) draws by fn(u)."""

    def sample(key, shape=(), dtype=None):
        raw, _ = _raw_key_data(name, key)
        dtype = _float_dtype(name, dtype)
        finfo = np.finfo(dtype)
        u = _uniform(raw, static_shape(name, shape), dtype, minval(finfo), maxval(finfo))
        return fn(u, dtype)

    sample.__name__ = sample.__qualname__ = name
    return compiled_when_eager(sample)


exponential = _sampler(
    "exponential", lambda u, dtype: jnp.negative(jnp.log1p(jnp.negative(u))),
    lambda f: 0.0, lambda f: 1.0)
exponential.__doc__ = "Exponential(1) floats: -log1p(-u), as JAX."
cauchy = _sampler(
    "cauchy", lambda u, dtype: jnp.tan(jnp.multiply(dtype.type(np.pi),
                                                    jnp.subtract(u, dtype.type(0.5)))),
    lambda f: f.eps, lambda f: 1.0)
cauchy.__doc__ = "Standard Cauchy floats: tan(pi (u - 1/2)), as JAX."
laplace = _sampler(
    "laplace", lambda u, dtype: jnp.multiply(jnp.sign(u), jnp.log1p(jnp.negative(jnp.abs(u)))),
    lambda f: -1.0 + f.epsneg, lambda f: 1.0)
laplace.__doc__ = "Standard Laplace floats: sign(u) log1p(-|u|), u in (-1, 1), as JAX."
logistic = _sampler(
    "logistic", lambda u, dtype: jnp.subtract(jnp.log(u), jnp.log1p(jnp.negative(u))),
    lambda f: f.tiny, lambda f: 1.0)
logistic.__doc__ = "Standard logistic floats: log(u) - log1p(-u), as JAX."
_gumbel_low = _sampler(
    "gumbel", lambda u, dtype: jnp.negative(jnp.log(jnp.negative(jnp.log(u)))),
    lambda f: f.tiny, lambda f: 1.0)


@compiled_when_eager
def gumbel(key, shape=(), dtype=None, mode="low"):
    """Standard Gumbel floats: -log(-log(u)), as JAX's mode='low' (the default)."""
    if mode != "low":
        raise NbadValueError(f"gumbel: mode={mode!r} is not implemented in nbad; use 'low'")
    return _gumbel_low(key, shape, dtype)


@compiled_when_eager
def categorical(key, logits, axis=-1, shape=None, replace=True):
    """Indices drawn with probabilities softmax(logits) along axis (the Gumbel-max trick)."""
    _raw_key_data("categorical", key)
    logits = jnp.asarray(logits)
    ndim = len(jnp.shape(logits))
    axis = axis % ndim
    batch_shape = tuple(d for i, d in enumerate(jnp.shape(logits)) if i != axis)
    shape = batch_shape if shape is None else static_shape("categorical", shape)
    _check_shape("categorical", shape, batch_shape)
    prefix = shape[:len(shape) - len(batch_shape)]
    if not replace:
        noisy = jnp.add(logits, gumbel(key, jnp.shape(logits), aval_of(logits).dtype))
        k = math.prod(prefix)
        if k > jnp.shape(logits)[axis]:
            raise NbadValueError(
                f"Number of samples without replacement ({k}) cannot exceed number of "
                f"categories ({jnp.shape(logits)[axis]}).")
        indices = _top_k_indices(jnp.moveaxis(noisy, axis, -1), k)  # batch_shape + (k,)
        return jnp.reshape(jnp.moveaxis(indices, -1, 0), shape)
    logits_shape = list(shape[len(shape) - len(batch_shape):])
    logits_shape.insert(axis, jnp.shape(logits)[axis])
    noise = gumbel(key, (*prefix, *logits_shape), aval_of(logits).dtype)
    expanded = jnp.reshape(logits, (1,) * len(prefix) + jnp.shape(logits))
    return jnp.argmax(jnp.add(noise, expanded), axis=len(prefix) + axis)


@compiled_when_eager
def multivariate_normal(key, mean, cov, shape=None, dtype=None, method="cholesky"):
    """mean + factor(cov) @ normal draws (factor: Cholesky, or eigh's v sqrt(w))."""
    _raw_key_data("multivariate_normal", key)
    if method not in ("cholesky", "eigh"):
        raise NbadValueError(
            f"multivariate_normal: method must be 'cholesky' or 'eigh' in nbad, got {method!r}")
    dtype = _float_dtype("multivariate_normal", dtype)
    mean, cov = convert(jnp.asarray(mean), dtype), convert(jnp.asarray(cov), dtype)
    if len(jnp.shape(mean)) < 1:
        raise NbadValueError(f"multivariate_normal requires mean.ndim >= 1, got mean.ndim == 0")
    if len(jnp.shape(cov)) < 2:
        raise NbadValueError(
            f"multivariate_normal requires cov.ndim >= 2, got cov.ndim == {len(jnp.shape(cov))}")
    n = jnp.shape(mean)[-1]
    if jnp.shape(cov)[-2:] != (n, n):
        raise NbadValueError(
            f"multivariate_normal requires cov.shape == (..., n, n) for n={n}, but got "
            f"cov.shape == {jnp.shape(cov)}.")
    batch = (jnp.shape(mean)[:-1], jnp.shape(cov)[:-2])
    if shape is None:
        shape = broadcast_shapes("multivariate_normal", *batch)
    else:
        shape = static_shape("multivariate_normal", shape)
        _check_shape("normal", shape, *batch)
    if method == "cholesky":
        factor = jnp.linalg.cholesky(cov)
    else:
        w, v = jnp.linalg.eigh(cov)
        factor = jnp.multiply(v, jnp.expand_dims(jnp.sqrt(w), -2))
    samples = normal(key, tuple(shape) + (n,), dtype)
    return jnp.add(mean, jnp.einsum("...ij,...j->...i", factor, samples))


# -- permutations and choices (sorts by random keys, as JAX) ----------------------------


def _shuffle(raw, x, axis):
    """x reordered along axis by sorting it with fresh 32-bit random keys, in as many
    rounds as JAX uses (so that key collisions are negligible)."""
    from nbad.lax import sort_key_val

    size = int(np.prod(jnp.shape(x)))
    rounds = int(np.ceil(3 * np.log(max(1, size)) / np.log(np.iinfo(np.uint32).max)))
    for _ in range(rounds):
        raw, sub = split(raw)
        _, x = sort_key_val(random_bits(sub, 32, tuple(jnp.shape(x))), x, axis)
    return x


def _axis(fn_name, axis, ndim):
    from nbad.numpy._shape import normalize_axis

    return normalize_axis(fn_name, axis, ndim)


@compiled_when_eager
def permutation(key, x, axis=0, independent=False):
    """A random permutation of arange(x) (x an int) or of x's slices along axis
    (independent=True: each 1-d slice along axis permuted on its own)."""
    raw, _ = _raw_key_data("permutation", key)
    if not jnp.shape(x):
        x = as_operand(x)
        if aval_of(x).dtype.kind not in "iu":
            raise NbadTypeError("x must be an integer or at least 1-dimensional")
        n = operator_index("permutation", x)
        return _shuffle(raw, jnp.arange(n), 0)
    x = jnp.asarray(x)
    axis = _axis("permutation", axis, len(jnp.shape(x)))
    if independent or len(jnp.shape(x)) == 1:
        return _shuffle(raw, x, axis)
    order = _shuffle(raw, jnp.arange(jnp.shape(x)[axis]), 0)
    return jnp.take(x, order, axis=axis)


@compiled_when_eager
def shuffle(key, x, axis=0):
    """x's elements along axis independently shuffled (deprecated in JAX: use permutation)."""
    raw, _ = _raw_key_data("shuffle", key)
    x = jnp.asarray(x)
    return _shuffle(raw, x, _axis("shuffle", axis, len(jnp.shape(x))))


def operator_index(fn_name, x):
    from nbad.core.trace import Tracer

    if isinstance(x, Tracer) and x.value is None:
        from nbad.errors import ConcretizationError

        raise ConcretizationError(
            f"{fn_name}: the integer argument must be concrete, got a traced value under jit; "
            "mark it static (static_argnums).")
    return int(np.asarray(x.value if isinstance(x, Tracer) else x))


def _top_k_indices(x, k):
    """The indices of the k largest entries along x's last axis, largest first (ties:
    lower index first), as lax.top_k orders them."""
    return jnp.argsort(x, axis=-1, descending=True, stable=True)[..., :k]


@compiled_when_eager
def choice(key, a, shape=(), replace=True, p=None, axis=0, mode=None):
    """A random sample of a's entries along axis (a an int: of arange(a)), as JAX draws it."""
    raw, _ = _raw_key_data("choice", key)
    if not isinstance(shape, (tuple, list)):
        raise NbadTypeError(f"shape argument of nbad.random.choice must be a sequence, got {shape}")
    shape = static_shape("choice", shape)
    arr = jnp.asarray(a)
    if not jnp.shape(arr):
        n_inputs = operator_index("choice", arr)
    else:
        axis = _axis("choice", axis, len(jnp.shape(arr)))
        n_inputs = jnp.shape(arr)[axis]
    n_draws = math.prod(shape)
    if n_draws == 0:
        return jnp.zeros(shape, dtype=aval_of(arr).dtype)
    if n_inputs <= 0:
        raise NbadValueError("a must be greater than 0 unless no samples are taken")
    if not replace and n_draws > n_inputs:
        raise NbadValueError(
            f"Cannot take a larger sample (size {n_draws}) than population (size {n_inputs}) "
            "when 'replace=False'")
    scalar = not jnp.shape(arr)
    if p is None:
        if replace:
            ind = randint(raw, shape, 0, n_inputs)
            result = ind if scalar else jnp.take(arr, ind, axis=axis)
        else:
            pool = n_inputs if scalar else arr
            result = permutation(raw, pool, axis)
            result = result[(slice(None),) * (0 if scalar else axis) + (slice(n_draws),)]
    else:
        p = jnp.asarray(p)
        if aval_of(p).dtype.kind not in "fc":
            p = p.astype(np.float64)
        if jnp.shape(p) != (n_inputs,):
            raise NbadValueError(
                "p must be None or a 1D vector with the same size as a.shape[axis]. "
                f"p has shape {jnp.shape(p)} and a.shape[axis] is {n_inputs}.")
        if replace:
            p_cuml = jnp.cumsum(p)
            r = jnp.multiply(p_cuml[-1], jnp.subtract(1, _uniform(raw, shape, aval_of(p).dtype,
                                                                    0.0, 1.0)))
            # searchsorted(p_cuml, r), side='left': how many cumulative sums are below r
            below = jnp.less(p_cuml, jnp.expand_dims(r, -1))
            ind = jnp.sum(below, axis=-1).astype(np.int64)
        else:
            if mode not in (None, "low"):
                raise NbadValueError(f"choice: mode={mode!r} is not implemented in nbad")
            g = jnp.add(gumbel(raw, (n_inputs,), aval_of(p).dtype), jnp.log(p))
            ind = _top_k_indices(g, n_draws).astype(np.int64)
        result = ind if scalar else jnp.take(arr, ind, axis=axis)
    out_shape = shape if scalar else (jnp.shape(arr)[:axis] + tuple(shape)
                                      + jnp.shape(arr)[axis + 1:])
    return jnp.reshape(result, out_shape)
