"""PRNG keys: raw uint32[..., 2] keys (PRNGKey) and typed keys (key), and the
operations on them (split, fold_in, bits, key_data, wrap_key_data, clone).

A raw key is JAX's legacy key: a uint32 array whose last axis holds the two
Threefry key words. A typed key is a `PRNGKeyArray` holding that array; its
shape leaves the key axis out and its dtype prints as JAX's (`key<fry>`). It is
a pytree node whose one leaf is the raw array, so typed keys pass through jit,
vmap (a batch of keys is a batch of raw arrays) and pytree utilities as JAX's
do. Every function returns keys of the kind it was given.
"""
from __future__ import annotations

import functools
import inspect
import operator

import numpy as np

import nbad.numpy as jnp
from nbad.core.trace import Tracer, current_level
from nbad.errors import ConcretizationError, NbadTypeError, NbadValueError
from nbad.numpy._core import aval_of, as_operand
from nbad.random._threefry import hash_counters, hash_words
from nbad import tree_util

_U32 = np.uint32


class KeyDtype:
    """The dtype of typed Threefry keys; prints as JAX's, `key<fry>`."""

    name = "key<fry>"
    itemsize = 8

    def __repr__(self):
        return self.name

    __str__ = __repr__

    def __eq__(self, other):
        return isinstance(other, KeyDtype)

    def __hash__(self):
        return hash(KeyDtype)


KEY_DTYPE = KeyDtype()


class PRNGKeyArray:
    """An array of typed keys (`nbad.random.key`): shape and dtype as JAX's."""

    __slots__ = ("_base",)
    dtype = KEY_DTYPE
    __array_priority__ = 100

    def __init__(self, base):
        self._base = base

    @property
    def shape(self):
        return tuple(aval_of(self._base).shape[:-1])

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return int(np.prod(self.shape))

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of unsized key array")
        return self.shape[0]

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d key array")
        return (PRNGKeyArray(self._base[i]) for i in range(self.shape[0]))

    def __getitem__(self, index):
        index = index if isinstance(index, tuple) else (index,)
        if any(i is Ellipsis for i in index):
            raise NbadTypeError("indexing a key array with ... is not supported; index its axes")
        return PRNGKeyArray(self._base[index + (slice(None),)])

    def __eq__(self, other):
        if not isinstance(other, PRNGKeyArray):
            return NotImplemented
        return jnp.all(jnp.equal(self._base, other._base), axis=-1)

    def __ne__(self, other):
        if not isinstance(other, PRNGKeyArray):
            return NotImplemented
        return jnp.logical_not(self == other)

    def __bool__(self):
        raise TypeError("key array cannot be converted to boolean.")

    __hash__ = None

    def __repr__(self):
        return f"Array({self.shape}, dtype={self.dtype.name}) overlaying:\n{self._base}"


tree_util.register_pytree_node(PRNGKeyArray, lambda k: ((k._base,), None),
                               lambda _, children: PRNGKeyArray(children[0]))


def compiled_when_eager(fn):
    """Run `fn` as a jitted function when called outside any transformation.

    Eager calls then draw with the compiled kernels, so they give the numbers jit
    and vmap give (the kernels' exp/log differ from NumPy's by an ulp at times),
    and fast. Arrays and keys are the jitted function's arguments; everything
    else (shapes, dtypes, Python scalars) is static, so it behaves as it does
    when `fn` is traced inline under an enclosing transformation."""
    from nbad.api import jit

    signature = inspect.signature(fn)
    jitted_by_statics = {}

    @functools.wraps(fn)
    def sampler(*args, **kwargs):
        if current_level():
            return fn(*args, **kwargs)
        bound = signature.bind(*args, **kwargs)
        static, dynamic = {}, {}
        for name, value in bound.arguments.items():
            if isinstance(value, (np.ndarray, np.generic, PRNGKeyArray)):
                dynamic[name] = value
            else:
                static[name] = tuple(value) if isinstance(value, list) else value
        names = tuple(sorted(static))
        jitted = jitted_by_statics.get(names)
        if jitted is None:
            jitted = jitted_by_statics[names] = jit(fn, static_argnames=names)
        return jitted(**static, **dynamic)

    return sampler


def _raw_key_data(fn_name: str, key, *, allow_batched: bool = False):
    """(the raw uint32[..., 2] data of a key, whether it was a typed key)."""
    if isinstance(key, PRNGKeyArray):
        data, typed = key._base, True
    else:
        if isinstance(key, (bool, int, float, complex)) or not hasattr(key, "shape") and \
                not isinstance(key, (list, tuple)):
            raise NbadTypeError(
                f"{fn_name}: unexpected PRNG key type {type(key).__name__}; create keys with "
                "nbad.random.PRNGKey(seed) or nbad.random.key(seed)")
        data, typed = as_operand(key), False
        aval = aval_of(data)
        if aval.dtype != np.uint32:
            raise NbadTypeError(
                f"{fn_name}: invalid PRNG key data: expected key_data.dtype = uint32; got "
                f"dtype={aval.dtype.name}. Create keys with nbad.random.PRNGKey(seed) or "
                "nbad.random.key(seed), not from numbers.")
        if aval.shape[-1:] != (2,):
            raise NbadTypeError(
                f"{fn_name}: invalid PRNG key data: expected key_data.shape to end with (2,); "
                f"got shape={aval.shape} (a threefry2x32 key is two uint32 words)")
    if not allow_batched and aval_of(data).ndim > 1:
        shape = aval_of(data).shape if not typed else aval_of(data).shape[:-1]
        raise NbadValueError(
            f"{fn_name} accepts a single key, but was given a key array of shape {shape} != (). "
            "Use nbad.vmap for batching.")
    return data, typed


def _as_kind(data, typed: bool):
    return PRNGKeyArray(data) if typed else data


def static_shape(fn_name: str, shape) -> tuple:
    """A draw's shape as a tuple of Python ints (it fixes the compiled program)."""
    dims = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
    try:
        dims = tuple(operator.index(d) for d in dims)
    except (ConcretizationError, TypeError):
        raise ConcretizationError(
            f"{fn_name}: shapes must be sequences of concrete integers, got {shape!r}. Under "
            "jit, a shape cannot depend on a traced argument: mark it static "
            "(nbad.jit(f, static_argnums=...)).") from None
    if any(d < 0 for d in dims):
        raise NbadValueError(f"{fn_name}: shape {dims} has a negative dimension")
    return dims


def _seed_words(ctor: str, seed):
    """The two key words of an integer seed, as JAX makes them (int64 seeds bit-cast,
    32-bit and narrower seeds zero-padded)."""
    if isinstance(seed, PRNGKeyArray):
        raise NbadTypeError(f"{ctor} accepts a scalar seed, but was given a PRNG key.")
    if isinstance(seed, (bool, float, complex)) or (
            not isinstance(seed, int) and aval_of(as_operand(seed)).dtype.kind not in "iu"):
        raise NbadTypeError(f"{ctor}: PRNG key seed must be an integer; got {seed!r}")
    if isinstance(seed, int):
        if not -2 ** 63 <= seed < 2 ** 63:
            raise OverflowError(f"{ctor}: seed {seed} does not fit in int64")
        s = seed % 2 ** 64
        return jnp.array([s >> 32, s & 0xFFFFFFFF], dtype=_U32)
    seed = as_operand(seed)
    aval = aval_of(seed)
    if aval.shape:
        raise NbadTypeError(
            f"{ctor} accepts a scalar seed, but was given an array of shape {aval.shape} != (). "
            "Use nbad.vmap for batching")
    low = seed.astype(_U32)
    if aval.dtype.itemsize < 8:
        high = jnp.zeros((), _U32)
    else:
        high = jnp.right_shift(seed.astype(np.uint64), np.uint64(32)).astype(_U32)
    return jnp.stack([high, low])


def PRNGKey(seed, *, impl=None):  # noqa: N802 - JAX's name
    """A raw (legacy) key, uint32[2], from an integer seed."""
    _check_impl(impl)
    return _seed_words("PRNGKey", seed)


def key(seed, *, impl=None, dtype=None):
    """A typed key (shape (), dtype key<fry>) from an integer seed."""
    _check_impl(impl if dtype is None else dtype)
    return PRNGKeyArray(_seed_words("key", seed))


def _check_impl(impl):
    if impl is None or impl == "threefry2x32" or isinstance(impl, KeyDtype):
        return
    raise NbadValueError(
        f'unrecognized PRNG implementation "{impl}". nbad implements "threefry2x32" '
        "(JAX's default).")


def key_data(keys):
    """The raw uint32[..., 2] data of keys (typed or raw)."""
    data, _ = _raw_key_data("key_data", keys, allow_batched=True)
    return data


def wrap_key_data(key_bits_array, *, impl=None, dtype=None):
    """Typed keys holding the raw uint32[..., 2] data `key_bits_array`."""
    _check_impl(impl if dtype is None else dtype)
    if isinstance(key_bits_array, PRNGKeyArray):
        raise NbadTypeError("wrap_key_data: the argument is a typed key already; pass key_data(k)")
    data, _ = _raw_key_data("wrap_key_data", key_bits_array, allow_batched=True)
    return PRNGKeyArray(data)


def key_impl(keys):
    _raw_key_data("key_impl", keys, allow_batched=True)
    return "threefry2x32"


def clone(key):
    """The same key (JAX's clone matters for its key-reuse checker, which nbad has not)."""
    return key


@compiled_when_eager
def split(key, num=2):
    """`num` new keys (an int, or a shape: keys of that shape) from one key."""
    data, typed = _raw_key_data("split", key)
    shape = static_shape("split", num)
    words = [hash_counters(data, shape, word) for word in ("word0", "word1")]
    return _as_kind(jnp.stack(words, axis=len(shape)), typed)


@compiled_when_eager
def fold_in(key, data):
    """A new key: the key's hash of the 32-bit integer `data`."""
    raw, typed = _raw_key_data("fold_in", key)
    if isinstance(data, int) and not isinstance(data, bool) and not 0 <= data < 2 ** 32:
        raise OverflowError(f"fold_in: Python integer {data} out of bounds for uint32")
    data = as_operand(data)
    if aval_of(data).shape:
        raise NbadTypeError(
            f"fold_in accepts a scalar, but was given an array of shape {aval_of(data).shape} "
            "!= (). Use nbad.vmap for batching.")
    word = data.astype(_U32) if isinstance(data, Tracer) else np.asarray(data).astype(_U32)[()]
    y1, y2 = hash_words(raw[0], raw[1], _U32(0), word)
    return _as_kind(jnp.stack([y1, y2]), typed)


def random_bits(raw, bit_width: int, shape):
    """Uniform random bits of a width (8, 16, 32 or 64) from one raw key."""
    if bit_width == 64:
        return hash_counters(raw, shape, "concat")
    bits = hash_counters(raw, shape, "xor")
    return bits if bit_width == 32 else bits.astype(np.dtype(f"uint{bit_width}"))


@compiled_when_eager
def bits(key, shape=(), dtype=None):
    """Uniform random unsigned integers (default uint64: nbad's default integer width)."""
    raw, _ = _raw_key_data("bits", key)
    dtype = np.dtype(np.uint64 if dtype is None else dtype)
    if dtype.kind != "u":
        raise NbadValueError(f"dtype argument to `bits` must be an unsigned int dtype, got {dtype}")
    return random_bits(raw, dtype.itemsize * 8, static_shape("bits", shape))
