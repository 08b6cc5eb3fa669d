"""Silently wrong answers (issues 14 and 15), each compared with JAX's behaviour."""
import numpy as np
import pytest

import nbad
import nbad.numpy as jnp
from nbad import nn
from nbad.core.array import Array
from nbad.errors import NbadTypeError, NbadValueError
from nbad.scipy import special
from nbad.test_util import check_grads

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
import jax.numpy as jjnp  # noqa: E402
import jax.scipy.special as jspecial  # noqa: E402


# -- static arguments are keyed by type and value ------------------------------------
def test_static_arguments_that_compare_equal_get_programs_of_their_own():
    f = nbad.jit(lambda x, s: x * s, static_argnums=1)
    g = jax.jit(lambda x, s: x * s, static_argnums=1)
    x = np.ones(2, np.int64)
    for s in (True, 1, 1.0, float("1"), 1 + 0j):
        got, want = f(x, s), g(x, s)
        assert got.dtype == want.dtype, s
        np.testing.assert_array_equal(got, want)
    assert f.trace_count == 4  # True, 1, 1.0 (twice), 1+0j


def test_static_tuples_are_keyed_by_their_elements_types():
    f = nbad.jit(lambda x, s: x * s[0], static_argnums=1)
    x = np.ones(2, np.int64)
    assert f(x, (1,)).dtype == np.int64
    assert f(x, (1.0,)).dtype == np.float64


# -- captured NumPy arrays are snapshotted at trace time -----------------------------
def test_captured_global_array_is_snapshotted_at_trace_time():
    G = np.ones(3)
    f = nbad.jit(lambda x: x + np.sum(G) + G)
    g = jax.jit(lambda x: x + jjnp.sum(G) + G)
    first = f(np.zeros(3))
    np.testing.assert_array_equal(first, g(np.zeros(3)))
    G[:] = 100
    np.testing.assert_array_equal(f(np.zeros(3)), g(np.zeros(3)))
    np.testing.assert_array_equal(f(np.zeros(3)), [4.0, 4.0, 4.0])


def test_captured_array_is_snapshotted_under_nested_transformations():
    G = np.ones(3)
    f = nbad.jit(nbad.grad(lambda x: jnp.sum(x * G) + jnp.sum(x * G * G)))
    np.testing.assert_array_equal(f(np.zeros(3)), 2 * np.ones(3))
    G[:] = 5.0
    np.testing.assert_array_equal(f(np.zeros(3)), 2 * np.ones(3))
    assert len(nbad.make_ir(f)(np.zeros(3)).constvars) == 1  # one snapshot of G, shared


def test_asarray_does_not_alias_a_callers_mutable_array():
    a = np.ones(3)
    b = jnp.asarray(a)
    a[0] = 5.0
    assert b[0] == 1.0


# -- kinks take JAX's custom derivatives ------------------------------------------------
KINKS = [
    ("relu", nn.relu, jax.nn.relu, [0.0, -1.0, 2.0]),
    ("relu6", nn.relu6, jax.nn.relu6, [0.0, 6.0, 3.0, 7.0]),
    ("hard_sigmoid", nn.hard_sigmoid, jax.nn.hard_sigmoid, [-3.0, 3.0, 0.5]),
    ("hard_swish", nn.hard_swish, jax.nn.hard_swish, [-3.0, 3.0, 1.0]),
    ("softplus", nn.softplus, jax.nn.softplus, [0.0, -2.0, 30.0]),
    ("log_sigmoid", nn.log_sigmoid, jax.nn.log_sigmoid, [0.0, 2.0, -30.0]),
    ("entr", special.entr, jspecial.entr, [0.0, 0.5]),
    ("logit", special.logit, jspecial.logit, [0.0, 1.0, 0.3]),
    ("arccosh", jnp.arccosh, jjnp.arccosh, [-1.0, 1.0, 2.0, -2.0]),
]


@pytest.mark.parametrize("name, fn, jfn, points", KINKS, ids=[k[0] for k in KINKS])
def test_derivatives_at_kinks_match_jax(name, fn, jfn, points):
    xs = np.array(points)
    want = np.array([jax.grad(jfn)(x) for x in xs])
    eager = np.array([nbad.grad(fn)(x) for x in xs])
    traced = nbad.jit(nbad.vmap(nbad.grad(fn)))(xs)
    np.testing.assert_allclose(eager, want, rtol=1e-12)
    np.testing.assert_allclose(traced, want, rtol=1e-12)
    _, tangent = nbad.jvp(fn, (xs,), (np.ones_like(xs),))
    np.testing.assert_allclose(tangent, want, rtol=1e-12)


@pytest.mark.parametrize("fn, x", [(nn.relu, [-1.5, 0.7, 2.0]), (nn.relu6, [-1.0, 3.0, 6.5]),
                                   (nn.softplus, [-2.0, 0.3, 4.0]), (nn.log_sigmoid, [-1.0, 0.2]),
                                   (special.logit, [0.2, 0.6]), (special.entr, [0.4, 1.3])])
def test_custom_rules_agree_with_finite_differences_away_from_kinks(fn, x):
    check_grads(fn, (np.array(x),), order=2)


def test_activations_keep_nan_and_values():
    x = np.array([np.nan, -1.0, 0.0, 7.0])
    for fn, jfn in ((nn.relu, jax.nn.relu), (nn.relu6, jax.nn.relu6),
                    (nn.softplus, jax.nn.softplus)):
        np.testing.assert_allclose(fn(x), jfn(x), rtol=1e-15)
        np.testing.assert_allclose(nbad.jit(fn)(x), jfn(x), rtol=1e-15)


def test_softplus_trains_from_zero_as_in_jax_gp_example():
    loss = lambda p: jnp.sum((nn.softplus(p) - 2.0) ** 2)  # noqa: E731
    jloss = lambda p: jjnp.sum((jax.nn.softplus(p) - 2.0) ** 2)  # noqa: E731
    np.testing.assert_allclose(nbad.grad(loss)(np.zeros(2)), jax.grad(jloss)(np.zeros(2)))


# -- det of a singular matrix -------------------------------------------------------------
SINGULAR = [np.array([[1.0, 2.0], [2.0, 4.0]]), np.arange(9.0).reshape(3, 3) + 1, np.zeros((3, 3)),
            np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])]


@pytest.mark.parametrize("a", SINGULAR, ids=["rank1_2x2", "rank2_3x3", "zeros", "nilpotent"])
def test_grad_det_of_a_singular_matrix_is_its_cofactor_matrix(a):
    want = jax.grad(jjnp.linalg.det)(a)
    np.testing.assert_allclose(nbad.grad(jnp.linalg.det)(a), want, atol=1e-12)
    np.testing.assert_allclose(nbad.jit(nbad.grad(jnp.linalg.det))(a), want, atol=1e-12)
    _, t = nbad.jvp(jnp.linalg.det, (a,), (np.ones_like(a),))
    np.testing.assert_allclose(t, np.sum(want), atol=1e-12)


def test_det_derivatives_of_invertible_matrices():
    rng = np.random.default_rng(0)
    check_grads(jnp.linalg.det, (rng.normal(size=(3, 3)),), order=2)
    check_grads(jnp.linalg.det, (rng.normal(size=(2, 3, 3)),), order=2)
    a = rng.normal(size=(3, 3)) + 1j * rng.normal(size=(3, 3))
    _, t = nbad.jvp(jnp.linalg.det, (a,), (np.ones_like(a),))
    np.testing.assert_allclose(t, jax.jvp(jjnp.linalg.det, (a,), (np.ones_like(a),))[1])
    batch = rng.normal(size=(4, 3, 3))
    np.testing.assert_allclose(nbad.vmap(nbad.grad(jnp.linalg.det))(batch),
                               jax.vmap(jax.grad(jjnp.linalg.det))(batch), rtol=1e-10)


# -- creation functions return immutable nbad Arrays -------------------------------------
@pytest.mark.parametrize("make", [lambda: jnp.eye(3), lambda: jnp.identity(2), lambda: jnp.tri(3),
                                  lambda: jnp.linspace(0, 1, 4), lambda: jnp.eye(2, dtype=np.int32)],
                         ids=["eye", "identity", "tri", "linspace", "eye_int32"])
def test_creation_functions_return_immutable_arrays(make):
    x = make()
    assert type(x) is Array
    with pytest.raises(TypeError):
        x[0] = 5
    y = x
    y += 1
    assert not np.array_equal(x, y)


# -- masked arrays are refused as in JAX ------------------------------------------------
def test_masked_arrays_are_refused():
    m = np.ma.masked_array([1.0, 2.0], mask=[0, 1])
    with pytest.raises(ValueError):
        jax.numpy.sum(m)
    for call in (lambda: jnp.sum(m), lambda: nbad.jit(jnp.sum)(m), lambda: jnp.asarray(m),
                 lambda: nbad.grad(lambda v: jnp.sum(v))(m)):
        with pytest.raises(NbadValueError, match="masked"):
            call()


# -- float32 sums are as accurate as NumPy's pairwise sums, whatever the thread count ---
@pytest.fixture
def restore_threads():
    saved = nbad.config.num_threads
    yield
    nbad.config.update("num_threads", saved)


def _sum_cases():
    rng = np.random.default_rng(0)
    x = rng.random(4_000_000, dtype=np.float32)
    return [("contiguous", x, jnp.sum, np.sum(x.astype(np.float64))),
            ("mean", x, jnp.mean, np.mean(x.astype(np.float64))),
            ("transposed", x.reshape(2000, 2000), lambda a: jnp.sum(a.T), np.sum(x.astype(np.float64))),
            ("complex64", x[:1_000_000].astype(np.complex64) * (1 + 1j), jnp.sum,
             np.sum(x[:1_000_000].astype(np.complex128)) * (1 + 1j))]


def test_float32_sums_match_numpy_accuracy_on_every_thread_count(restore_threads):
    for name, x, fn, exact in _sum_cases():
        tolerance = max(2e-7, 2 * abs(np.sum(x) / (x.size if fn is jnp.mean else 1) - exact)
                        / abs(exact))
        results = []
        for n in (1, 2, 3):
            nbad.config.update("num_threads", n)
            got = nbad.jit(fn)(x)
            assert got.dtype == x.dtype
            assert abs(complex(got) - exact) / abs(exact) < tolerance, (name, n)
            results.append(complex(got))
        assert len(set(results)) == 1, (name, results)


# -- the jit cache belongs to the function ---------------------------------------------------
def _shared_cache_fn(x, scale=2.0):
    return x * scale


def test_jit_created_anew_reuses_the_functions_programs(restore_threads):
    x = np.ones(3)
    first = nbad.jit(_shared_cache_fn)
    first(x)
    again = nbad.jit(_shared_cache_fn)
    np.testing.assert_array_equal(again(x), 2 * x)
    assert again.trace_count == 0
    static = nbad.jit(_shared_cache_fn, static_argnames="scale")  # other static arguments
    np.testing.assert_array_equal(static(x, scale=3.0), 3 * x)
    assert static.trace_count == 1
    from nbad.backends.cpu.threads import num_threads

    nbad.config.update("num_threads", num_threads() + 1)  # programs are planned per count
    other_threads = nbad.jit(_shared_cache_fn)
    other_threads(x)
    assert other_threads.trace_count == 1


class _NoWeakref:
    __slots__ = ()

    def __call__(self, x):
        return x + 1


def test_jit_of_a_callable_without_weak_references_keeps_its_own_cache():
    f = nbad.jit(_NoWeakref())
    np.testing.assert_array_equal(f(np.ones(2)), [2.0, 2.0])
    f(np.ones(2))
    assert f.trace_count == 1
