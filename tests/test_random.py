"""nbad.random against jax.random (the oracle): keys, bits and the integer and
uniform samplers bit for bit; samplers computed with transcendental functions
within a few ulp; the same numbers eagerly, under jit, under vmap over split keys
and whatever the thread count; statistics against scipy.stats; gradients
through reparameterised draws; JAX's errors."""
import numpy as np
import pytest
import scipy.stats as st

import nbad
import nbad.numpy as jnp
import nbad.random as nr
from nbad.errors import ConcretizationError, NbadTypeError, NbadValueError, ShapeError
from nbad.test_util import check_grads

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jr = jax.random

# Eager draws run compiled (as jit would): each new rank or dtype of a draw compiles a
# kernel (about a second), so the cases below share ranks and dtypes where they can.
SEEDS = [0, 1234, -1, 2 ** 40 + 7]
SHAPES = [(), (7,), (3, 5)]


def assert_same(got, want):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype, (got.dtype, got.shape,
                                                                 want.dtype, want.shape)
    np.testing.assert_array_equal(got, want)


def assert_ulp(got, want, ulps):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype
    spacing = np.spacing(np.abs(want)).astype(np.float64)
    err = np.abs(got.astype(np.float64) - want) / spacing
    assert err.max() <= ulps, (err.max(), got.ravel()[np.argmax(err)], want.ravel()[np.argmax(err)])


# -- keys ------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS + [np.int32(-1), np.uint64(2 ** 64 - 1), np.int8(5)])
def test_prng_key_from_seeds(seed):
    assert_same(nr.PRNGKey(seed), jr.PRNGKey(seed))
    assert_same(nr.key_data(nr.key(seed)), jr.key_data(jr.key(seed)))


@pytest.mark.parametrize("seed", SEEDS)
def test_split_fold_in_and_bits_are_jax_bits(seed):
    k, jk = nr.PRNGKey(seed), jr.PRNGKey(seed)
    assert_same(nr.split(k), jr.split(jk))
    for num in (1, 3, (2, 3)):
        assert_same(nr.split(k, num), jr.split(jk, num))
    for data in (0, 7, 2 ** 32 - 1, np.int64(12)):
        assert_same(nr.fold_in(k, data), jr.fold_in(jk, data))
    for shape in SHAPES:
        assert_same(nr.bits(k, shape, np.uint32), jr.bits(jk, shape, np.uint32))
    for dtype in (np.uint8, np.uint64):
        assert_same(nr.bits(k, (3, 5), dtype), jr.bits(jk, (3, 5), dtype))
    assert_same(nr.bits(k, (3, 4)), jr.bits(jk, (3, 4)))  # uint64 by default, as JAX's x64


def test_typed_keys():
    k, jk = nr.key(3), jr.key(3)
    assert k.shape == () and str(k.dtype) == "key<fry>" and k.dtype == nr.key(0).dtype
    assert repr(k) == repr(jk)
    keys = nr.split(k, 4)
    assert isinstance(keys, nr.PRNGKeyArray) and keys.shape == (4,) and len(keys) == 4
    assert_same(nr.key_data(keys), jr.key_data(jr.split(jk, 4)))
    assert_same(nr.key_data(keys[1]), jr.key_data(jr.split(jk, 4)[1]))
    first, *rest = keys
    assert_same(nr.key_data(first), nr.key_data(keys)[0]) and len(rest) == 3
    assert_same(nr.uniform(keys[2], (5,)), jr.uniform(jr.split(jk, 4)[2], (5,)))
    assert_same(nr.key_data(nr.fold_in(k, 9)), jr.key_data(jr.fold_in(jk, 9)))
    wrapped = nr.wrap_key_data(nr.key_data(keys))
    assert bool(jnp.all(wrapped == keys)) and nr.key_impl(k) == "threefry2x32"
    assert nr.clone(k) is k
    # a typed key is a pytree: jit and vmap take and return it
    split_jit = nbad.jit(nr.split)
    assert_same(nr.key_data(split_jit(k)), jr.key_data(jr.split(jk)))
    draws = nbad.vmap(lambda key: nr.uniform(key, (3,)))(keys)
    assert_same(draws, jax.vmap(lambda key: jr.uniform(key, (3,)))(jr.split(jk, 4)))


# -- samplers, bit for bit ---------------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS[:2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_uniform_is_jax_bits(seed, dtype):
    k, jk = nr.PRNGKey(seed), jr.PRNGKey(seed)
    for shape in SHAPES[1:3]:
        assert_same(nr.uniform(k, shape, dtype), jr.uniform(jk, shape, dtype))
    assert_same(nr.uniform(k, (128, 1), dtype, minval=-1.0, maxval=1.0),
                jr.uniform(jk, (128, 1), dtype, minval=-1.0, maxval=1.0))
    lo, hi = np.array([-3.0, 0.0, 2.0], dtype), np.array([[5.0], [1e-3]], dtype)
    assert_same(nr.uniform(k, (2, 3), dtype, lo, hi), jr.uniform(jk, (2, 3), dtype, lo, hi))


def test_uniform_default_dtype_is_float64():
    assert np.asarray(nr.uniform(nr.PRNGKey(0), (2,))).dtype == np.float64
    assert np.asarray(nr.normal(nr.PRNGKey(0))).dtype == np.float64


@pytest.mark.parametrize("dtype", [np.int8, np.uint32, np.int64])
def test_randint_is_jax_bits(dtype):
    for seed in SEEDS[:2]:
        k, jk = nr.PRNGKey(seed), jr.PRNGKey(seed)
        for lo, hi in ((0, 10), (3, 3), (5, 2), (0, 256), (-7, 100)):
            if np.dtype(dtype).kind == "u" and lo < 0:
                continue
            assert_same(nr.randint(k, (20,), lo, hi, dtype), jr.randint(jk, (20,), lo, hi, dtype))
    k, jk = nr.PRNGKey(1), jr.PRNGKey(1)
    assert_same(nr.randint(k, (3, 4), np.array([0, 10, -5, 7]), 2 ** 40),
                jr.randint(jk, (3, 4), np.array([0, 10, -5, 7]), 2 ** 40))


def test_bernoulli_is_jax_bits():
    k, jk = nr.PRNGKey(2), jr.PRNGKey(2)
    p = np.array([0.0, 0.1, 0.5, 0.9, 1.0], np.float32)
    assert_same(nr.bernoulli(k, p), jr.bernoulli(jk, p))
    assert_same(nr.bernoulli(k, np.float32(0.3), (5,)), jr.bernoulli(jk, np.float32(0.3), (5,)))
    assert_same(nr.bernoulli(k, p, (3, 5), mode="high"), jr.bernoulli(jk, p, (3, 5), mode="high"))
    assert_same(nr.bernoulli(k, 0.3, (5,)), jr.bernoulli(jk, 0.3, (5,)))  # float64


@pytest.mark.parametrize("seed", [0, 5])
def test_permutation_and_choice_are_jax_bits(seed):
    k, jk = nr.PRNGKey(seed), jr.PRNGKey(seed)
    x = np.arange(24.0).reshape(4, 6)
    assert_same(nr.permutation(k, 10), jr.permutation(jk, 10))
    assert_same(nr.permutation(k, x), jr.permutation(jk, x))
    assert_same(nr.permutation(k, x, axis=1), jr.permutation(jk, x, axis=1))
    assert_same(nr.permutation(k, x, 1, independent=True), jr.permutation(jk, x, 1, independent=True))
    assert_same(nr.shuffle(k, np.arange(9)), jr.permutation(jk, np.arange(9), independent=True))
    assert_same(nr.choice(k, 10, (5,)), jr.choice(jk, 10, (5,)))
    assert_same(nr.choice(k, 10, (2, 3), replace=False), jr.choice(jk, 10, (2, 3), replace=False))
    assert_same(nr.choice(k, x, (3,), axis=1), jr.choice(jk, x, (3,), axis=1))
    p = np.array([0.1, 0.2, 0.3, 0.4])
    assert_same(nr.choice(k, 4, (7,), p=p), jr.choice(jk, 4, (7,), p=p))
    assert_same(nr.choice(k, 4, (3,), replace=False, p=p), jr.choice(jk, 4, (3,), replace=False, p=p))
    assert_same(nr.choice(k, 5, (0,)), jr.choice(jk, 5, (0,)))


def test_categorical_is_jax_bits():
    k, jk = nr.PRNGKey(4), jr.PRNGKey(4)
    logits = np.log(np.random.default_rng(0).random((3, 5)))
    assert_same(nr.categorical(k, logits), jr.categorical(jk, logits))
    assert_same(nr.categorical(k, logits, axis=0), jr.categorical(jk, logits, axis=0))
    assert_same(nr.categorical(k, logits, shape=(2, 3)), jr.categorical(jk, logits, shape=(2, 3)))
    # JAX's top_k gives int32 indices; nbad's are int64 like argmax's
    got = nr.categorical(k, logits, axis=1, shape=(2, 3), replace=False)
    assert_same(got, np.asarray(jr.categorical(jk, logits, axis=1, shape=(2, 3), replace=False),
                                np.int64))


# -- samplers through transcendental functions: a few ulp of JAX's ------------------------
# float64 normal: up to ~30 ulp apart, because XLA's float64 log1p is up to 128 ulp
# from NumPy's (nbad's: 1); the float64 laplace, which is log1p itself, differs by up
# to 104 ulp, hence its rtol. Both normals are up to ~470 ulp from the true quantile
# near |u| = 1: Giles' erf_inv approximation sets that accuracy, not the libraries.
ULPS = {np.float32: 4, np.float64: 64}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normal_within_ulps_of_jax(dtype):
    k, jk = nr.PRNGKey(1234), jr.PRNGKey(1234)
    assert_ulp(nr.normal(k, (100, 100), dtype), jr.normal(jk, (100, 100), dtype), ULPS[dtype])
    assert_ulp(nr.normal(k, (), dtype), jr.normal(jk, (), dtype), ULPS[dtype])
    complex_dtype = np.complex64 if dtype == np.float32 else np.complex128
    got, want = nr.normal(k, (30,), complex_dtype), jr.normal(jk, (30,), complex_dtype)
    assert_ulp(got.real, np.asarray(want).real, ULPS[dtype])
    assert_ulp(got.imag, np.asarray(want).imag, ULPS[dtype])
    assert_ulp(nr.truncated_normal(k, -1.0, 2.0, (50,), dtype),
               jr.truncated_normal(jk, -1.0, 2.0, (50,), dtype), 16 * ULPS[dtype])
    mean, cov = np.array([1.0, -2.0, 0.5]), np.array([[2.0, 0.3, 0], [0.3, 1, 0.2], [0, 0.2, 0.5]])
    np.testing.assert_allclose(nr.multivariate_normal(k, mean, cov, (4,), dtype),
                               jr.multivariate_normal(jk, mean, cov, (4,), dtype),
                               rtol=1e-5 if dtype == np.float32 else 1e-13)


@pytest.mark.parametrize("name", ["exponential", "cauchy", "logistic", "gumbel", "laplace"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_samplers_close_to_jax(name, dtype):
    got = getattr(nr, name)(nr.PRNGKey(7), (200,), dtype)
    want = getattr(jr, name)(jr.PRNGKey(7), (200,), dtype)
    assert np.asarray(got).dtype == dtype
    np.testing.assert_allclose(got, want, rtol=4e-6 if dtype == np.float32 else 1e-13,
                               atol=1e-6 if dtype == np.float32 else 1e-14)


# -- the same numbers under jit, vmap and any thread count ----------------------------------

@nbad.jit
def _draws(key):
    k1, k2, k3 = nr.split(key, 3)
    return (nr.normal(k1, (40, 30)), nr.uniform(k2, (1000,), np.float32, -1.0, 1.0),
            nr.randint(k3, (50,), 0, 7), nr.permutation(k3, 20), nr.bits(k2, (5,), np.uint32))


def _draws_plain(key):
    k1, k2, k3 = nr.split(key, 3)
    return (nr.normal(k1, (40, 30)), nr.uniform(k2, (1000,), np.float32, -1.0, 1.0),
            nr.randint(k3, (50,), 0, 7), nr.permutation(k3, 20), nr.bits(k2, (5,), np.uint32))


def _draws_jax(key):
    k1, k2, k3 = jr.split(key, 3)
    return (jr.normal(k1, (40, 30)), jr.uniform(k2, (1000,), np.float32, -1.0, 1.0),
            jr.randint(k3, (50,), 0, 7), jr.permutation(k3, 20), jr.bits(k2, (5,), np.uint32))


def test_jit_gives_the_eager_numbers_and_jax_bits():
    key = nr.PRNGKey(11)
    for got, eager, want in zip(_draws(key), _draws_plain(key), _draws_jax(jr.PRNGKey(11))):
        assert_same(got, eager)
        if np.asarray(want).dtype.kind != "f":
            assert_same(got, want)
    # the eager normal draw is within ulps of JAX's; jit computes it with nbad's kernels
    assert_ulp(_draws(key)[0], _draws_jax(jr.PRNGKey(11))[0], ULPS[np.float64])


def test_vmap_over_split_keys_is_a_loop_over_keys():
    keys = nr.split(nr.PRNGKey(5), 4)
    batched = nbad.vmap(_draws_plain)(keys)
    for i in range(4):
        for got, one in zip(batched, _draws_plain(keys[i])):
            assert_same(got[i], one)
    jax_batched = jax.vmap(_draws_jax)(jr.split(jr.PRNGKey(5), 4))
    for got, want in zip(batched[1:], jax_batched[1:]):
        assert_same(got, want)
    # the typed keys' batch is the raw keys' batch
    typed = nbad.vmap(_draws_plain)(nr.wrap_key_data(keys))
    assert_same(typed[2], batched[2])


def test_same_numbers_whatever_the_thread_count():
    key = nr.PRNGKey(8)
    draw = nbad.jit(lambda k: (nr.normal(k, (600, 500)), nr.uniform(k, (300_001,))))
    previous = nbad.config.num_threads
    try:
        nbad.config.update("num_threads", 1)
        one = draw(key)
        nbad.config.update("num_threads", 4)
        four = nbad.jit(lambda k: (nr.normal(k, (600, 500)), nr.uniform(k, (300_001,))))(key)
    finally:
        nbad.config.update("num_threads", previous)
    for a, b, want in zip(one, four, (jr.normal(jr.PRNGKey(8), (600, 500)),
                                      jr.uniform(jr.PRNGKey(8), (300_001,)))):
        assert_same(a, b)
    assert_same(one[1], want)


def test_traced_seeds_data_and_bounds():
    seeds = np.array([0, 7, -3])
    assert_same(nbad.vmap(nr.PRNGKey)(seeds), jax.vmap(jr.PRNGKey)(seeds))
    key, jkey = nr.PRNGKey(0), jr.PRNGKey(0)
    assert_same(nbad.vmap(lambda i: nr.fold_in(key, i))(np.arange(4)),
                jax.vmap(lambda i: jr.fold_in(jkey, i))(np.arange(4)))
    assert_same(nbad.jit(lambda k, a, b: nr.randint(k, (5,), a, b))(key, 3, 50),
                jr.randint(jkey, (5,), 3, 50))
    assert_same(nbad.lax.map(nr.split, nr.split(key, 3)), jax.lax.map(jr.split, jr.split(jkey, 3)))
    assert_same(nr.uniform(key, (3, 0)), jr.uniform(jkey, (3, 0)))
    assert_same(nr.split(key, 0), jr.split(jkey, 0))


# -- statistics: moments and a KS test for every sampler ----------------------------------

N_STAT = 20_000
STAT_CASES = [
    ("uniform", lambda k: nr.uniform(k, (N_STAT,), minval=-2.0, maxval=3.0), st.uniform(-2, 5)),
    ("normal", lambda k: nr.normal(k, (N_STAT,)), st.norm()),
    ("normal32", lambda k: nr.normal(k, (N_STAT,), np.float32), st.norm()),
    ("truncated_normal", lambda k: nr.truncated_normal(k, -0.5, 1.5, (N_STAT,)),
     st.truncnorm(-0.5, 1.5)),
    ("exponential", lambda k: nr.exponential(k, (N_STAT,)), st.expon()),
    ("cauchy", lambda k: nr.cauchy(k, (N_STAT,)), st.cauchy()),
    ("laplace", lambda k: nr.laplace(k, (N_STAT,)), st.laplace()),
    ("logistic", lambda k: nr.logistic(k, (N_STAT,)), st.logistic()),
    ("gumbel", lambda k: nr.gumbel(k, (N_STAT,)), st.gumbel_r()),
    ("mvn", lambda k: nr.multivariate_normal(k, np.array([1.0, 2.0]), np.array(
        [[1.0, 0.5], [0.5, 2.0]]), (N_STAT,))[:, 1], st.norm(2.0, np.sqrt(2.0))),
]


@pytest.mark.parametrize("name,draw,dist", STAT_CASES, ids=[c[0] for c in STAT_CASES])
def test_sampler_statistics(name, draw, dist):
    x = np.asarray(draw(nr.PRNGKey(2024)), np.float64)
    assert st.kstest(x, dist.cdf).pvalue > 1e-3
    if name != "cauchy":
        sd = dist.std()
        assert abs(x.mean() - dist.mean()) < 5 * sd / np.sqrt(N_STAT)
        assert abs(x.var() / dist.var() - 1) < 0.05


def test_discrete_sampler_statistics():
    key = nr.PRNGKey(99)
    ints = np.asarray(nr.randint(key, (N_STAT,), -3, 5))
    assert ints.min() == -3 and ints.max() == 4
    assert st.chisquare(np.bincount(ints + 3)).pvalue > 1e-3
    flips = np.asarray(nr.bernoulli(key, 0.3, (N_STAT,)))
    assert abs(flips.mean() - 0.3) < 5 * np.sqrt(0.21 / N_STAT)
    p = np.array([0.1, 0.2, 0.3, 0.4])
    picks = np.asarray(nr.choice(key, 4, (N_STAT,), p=p))
    assert st.chisquare(np.bincount(picks, minlength=4), p * N_STAT).pvalue > 1e-3
    cats = np.asarray(nr.categorical(key, np.log(p), shape=(N_STAT,)))
    assert st.chisquare(np.bincount(cats, minlength=4), p * N_STAT).pvalue > 1e-3
    # every position of a permutation is uniform over the elements
    perms = np.asarray(nbad.vmap(lambda k: nr.permutation(k, 5))(nr.split(key, 4000)))
    assert (np.sort(perms, axis=1) == np.arange(5)).all()
    assert st.chisquare(np.bincount(perms[:, 0], minlength=5)).pvalue > 1e-3


def test_split_keys_give_independent_streams():
    keys = nr.split(nr.PRNGKey(0), 8)
    streams = np.stack([np.asarray(nr.normal(k, (5000,))) for k in keys])
    corr = np.corrcoef(streams)
    assert np.abs(corr[np.triu_indices(8, 1)]).max() < 5 / np.sqrt(5000)
    folded = np.stack([np.asarray(nr.uniform(nr.fold_in(keys[0], i), (5000,))) for i in range(4)])
    assert np.abs(np.corrcoef(folded)[np.triu_indices(4, 1)]).max() < 5 / np.sqrt(5000)


# -- gradients ------------------------------------------------------------------------------

def test_reparameterised_draws_are_differentiable():
    key = nr.PRNGKey(3)
    check_grads(lambda lo, hi: nr.uniform(key, (6,), minval=lo, maxval=hi),
                (np.array(-1.0), np.array(2.0)), order=2)
    check_grads(lambda loc, scale: loc + scale * nr.normal(key, (5,)),
                (np.array(0.5), np.array(2.0)), order=2)
    check_grads(lambda lo, hi: nr.truncated_normal(key, lo, hi, (5,)),
                (np.array(-0.7), np.array(1.2)), order=1, rtol=1e-4)
    mean, cov = np.array([0.2, -0.1]), np.array([[1.0, 0.2], [0.2, 0.8]])
    check_grads(lambda m, c: nr.multivariate_normal(key, m, c, (3,)), (mean, cov), order=1)
    g = nbad.jit(nbad.grad(lambda hi: jnp.sum(nr.uniform(key, (4,), maxval=hi))))(3.0)
    np.testing.assert_allclose(g, np.sum(np.asarray(nr.uniform(key, (4,)))), rtol=1e-12)


def test_keys_are_not_differentiable():
    with pytest.raises(TypeError):
        nbad.grad(lambda k: jnp.sum(nr.normal(k, (3,))))(nr.PRNGKey(0))


# -- errors as JAX's -------------------------------------------------------------------------

@pytest.mark.parametrize("call, error, words", [
    (lambda: nr.normal(np.zeros(2, np.float32), (2,)), NbadTypeError, ["uint32", "float32"]),
    (lambda: nr.split(np.zeros(2, np.int32)), NbadTypeError, ["uint32", "int32"]),
    (lambda: nr.normal(np.zeros(3, np.uint32), (2,)), NbadTypeError, ["(2,)", "(3,)"]),
    (lambda: nr.normal(np.zeros((2, 2), np.uint32), (2,)), NbadValueError,
     ["single key", "vmap"]),
    (lambda: nr.split(nr.split(nr.key(0))), NbadValueError, ["single key", "(2,)"]),
    (lambda: nr.uniform(nr.PRNGKey(0), (2,), np.int32), NbadValueError, ["float dtype"]),
    (lambda: nr.bits(nr.PRNGKey(0), (2,), np.int32), NbadValueError, ["unsigned"]),
    (lambda: nr.randint(nr.PRNGKey(0), (2,), 0, 3, np.float32), NbadTypeError, ["integer"]),
    (lambda: nr.PRNGKey(1.5), NbadTypeError, ["integer"]),
    (lambda: nr.PRNGKey(np.arange(2)), NbadTypeError, ["scalar"]),
    (lambda: nr.PRNGKey(2 ** 63), OverflowError, ["int64"]),
    (lambda: nr.fold_in(nr.PRNGKey(0), -1), OverflowError, ["uint32"]),
    (lambda: nr.key(nr.key(0)), NbadTypeError, ["PRNG key"]),
    (lambda: nr.choice(nr.PRNGKey(0), 3, (5,), replace=False), NbadValueError, ["larger"]),
    (lambda: nr.uniform(nr.PRNGKey(0), (2,), minval=np.zeros(3)), ShapeError, ["broadcast"]),
    (lambda: nr.uniform(nr.PRNGKey(0), (2,), minval=np.zeros((3, 2))), NbadValueError,
     ["(3, 2)", "shape argument"]),
    (lambda: nbad.jit(lambda n: nr.normal(nr.PRNGKey(0), (n,)))(3), ConcretizationError,
     ["static"]),
])
def test_errors(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value), (word, str(info.value))


# -- seed 001's examples --------------------------------------------------------------------

def test_seed_001_examples():
    key = nr.PRNGKey(1234)
    assert_same(key, np.array([0, 1234], np.uint32))
    assert_same(nr.normal(key), jr.normal(jr.PRNGKey(1234)))
    x = nr.normal(key, (1000, 1000))
    assert x.shape == (1000, 1000) and abs(float(np.mean(x))) < 5e-3
    assert_ulp(x[:50], jr.normal(jr.PRNGKey(1234), (1000, 1000))[:50], ULPS[np.float64])
    new_key, *sub_keys = nr.split(key, num=3)
    want = jr.split(jr.PRNGKey(1234), num=3)
    assert_same(new_key, want[0]) and len(sub_keys) == 2
    assert_same(sub_keys[1], want[2])
    b = nr.uniform(key, (128, 1), minval=-1.0, maxval=1.0)
    assert_same(b, jr.uniform(jr.PRNGKey(1234), (128, 1), minval=-1.0, maxval=1.0))

    def init_params(layer_widths, key):
        params = []
        for n_in, n_out in zip(layer_widths[:-1], layer_widths[1:]):
            key, new_key = nr.split(key)
            params.append(dict(W=nr.normal(new_key, shape=(n_in, n_out)) * np.sqrt(2 / n_in),
                               b=jnp.ones(shape=(n_out,))))
        return params

    params = init_params([1, 128, 128, 1], key)
    assert nbad.tree_map(lambda x: x.shape, params) == [
        {"W": (1, 128), "b": (128,)}, {"W": (128, 128), "b": (128,)}, {"W": (128, 1), "b": (1,)}]
