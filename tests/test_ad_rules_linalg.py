"""Derivative rules of dot_general and the linear-algebra primitives
(solve, inv, det, slogdet, cholesky, eigh): impl against NumPy, rules against
finite differences (check_rule) and against JAX's jvp/vjp of the same
functions. Eager only."""
import numpy as np
import pytest

import nbad.numpy as jnp
from nbad.core.avals import ShapedArray
from nbad.errors import NbadTypeError, ShapeError
from nbad.rules.linalg import dot_general_p
from nbad.rules.linalg_decomp import (cholesky_p, cofactor_p, det_p, eigh_p, inv_p, slogdet_p,
                                      solve_p)
from nbad.test_util import check_rule

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
import jax.numpy as jjnp  # noqa: E402

rng = np.random.default_rng(0)


def randn(shape, dtype=np.float64):
    x = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.standard_normal(shape)
    return x.astype(dtype)


def well_conditioned(shape, dtype=np.float64):
    n = shape[-1]
    return (randn(shape, dtype) + 3 * np.sqrt(n) * np.eye(n)).astype(dtype)


def spd(shape, dtype=np.float64):
    """Hermitian positive definite, well conditioned."""
    x = randn(shape, dtype)
    n = shape[-1]
    return (x @ np.conj(np.swapaxes(x, -1, -2)) + n * np.eye(n)).astype(dtype)


def distinct_spectrum(shape, dtype=np.float64):
    """Hermitian with eigenvalues 1, 2, ..., n (well separated)."""
    n = shape[-1]
    q, _ = np.linalg.qr(randn(shape, dtype))
    w = np.arange(1, n + 1, dtype=np.float64)
    return ((q * w) @ np.conj(np.swapaxes(q, -1, -2))).astype(dtype)


def mT(x):
    return np.swapaxes(x, -1, -2)


# -- dot_general -----------------------------------------------------------------
DOT_CASES = [
    ((5,), (5,), (((0,), (0,)), ((), ()))),                 # vector . vector
    ((3, 5), (5,), (((1,), (0,)), ((), ()))),               # matvec
    ((5, 3), (5,), (((0,), (0,)), ((), ()))),               # A.T v
    ((5,), (5, 4), (((0,), (0,)), ((), ()))),               # vecmat
    ((3, 5), (5, 4), (((1,), (0,)), ((), ()))),             # matmul
    ((5, 3), (5, 4), (((0,), (0,)), ((), ()))),             # A.T B
    ((3, 5), (4, 5), (((1,), (1,)), ((), ()))),             # A B.T
    ((5, 3), (4, 5), (((0,), (1,)), ((), ()))),             # A.T B.T
    ((3,), (4, 2), (((), ()), ((), ()))),                   # outer
    ((2, 3, 5), (2, 5, 4), (((2,), (1,)), ((0,), (0,)))),   # batched matmul
    ((2, 5, 3), (2, 4, 5), (((1,), (2,)), ((0,), (0,)))),   # batched, transposed
    ((2, 3, 5), (2, 5), (((2,), (1,)), ((0,), (0,)))),      # batched matvec
    ((2, 5), (2, 5), (((1,), (1,)), ((0,), (0,)))),         # batched vdot
    ((6, 2, 3, 5), (6, 2, 5, 4), (((3,), (2,)), ((0, 1), (0, 1)))),
    ((3, 4, 5), (4, 5, 2), (((1, 2), (0, 1)), ((), ()))),   # contract two dims
    ((3, 4, 5), (5, 4, 2), (((1, 2), (1, 0)), ((), ()))),   # two dims, reversed order
    ((3, 2, 5, 7), (7, 5, 2, 4), (((2, 3), (1, 0)), ((1,), (2,)))),
    ((4, 3, 5), (5, 6, 4), (((2,), (0,)), ((0,), (2,)))),   # batch dims not leading
    ((2, 3, 4, 5), (5, 4, 3, 2), (((3,), (0,)), ((0, 2), (3, 1)))),  # batch pairs permuted
]


@pytest.mark.parametrize("lhs_shape,rhs_shape,dims", DOT_CASES)
def test_dot_general_rules(lhs_shape, rhs_shape, dims):
    check_rule(dot_general_p, [randn(lhs_shape), randn(rhs_shape)], {"dimension_numbers": dims})


@pytest.mark.parametrize("lhs_shape,rhs_shape,dims", DOT_CASES)
def test_dot_general_vjp_matches_jax(lhs_shape, rhs_shape, dims):
    x, y = randn(lhs_shape), randn(rhs_shape)
    out, f_vjp = jax.vjp(lambda a, b: jax.lax.dot_general(a, b, dims), x, y)
    ct = randn(out.shape)
    want = f_vjp(ct)
    got = dot_general_p.vjp(ct, [x, y], np.asarray(out), dimension_numbers=dims)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-12, atol=1e-12)


def test_dot_general_one_tangent_and_integer_operands():
    dims = (((1,), (0,)), ((), ()))
    x, y = randn((3, 4)), randn((4, 2))
    tx = randn((3, 4))
    np.testing.assert_allclose(dot_general_p.jvp([x, y], [tx, None], x @ y, dimension_numbers=dims),
                               tx @ y)
    xi, yi = np.ones((3, 4), np.int32), np.ones((4, 2), np.int32)
    assert dot_general_p.jvp([xi, yi], [None, None], xi @ yi, dimension_numbers=dims) is None
    assert dot_general_p.vjp(np.ones((3, 2)), [xi, yi], xi @ yi, dimension_numbers=dims) == [None, None]


def test_dot_general_vjp_float32_dtypes():
    dims = (((2,), (1,)), ((0,), (0,)))
    x, y = randn((2, 3, 5), np.float32), randn((2, 5, 4), np.float32)
    out = x @ y
    cx, cy = dot_general_p.vjp(np.ones_like(out), [x, y], out, dimension_numbers=dims)
    assert cx.dtype == np.float32 and cy.dtype == np.float32
    assert cx.shape == x.shape and cy.shape == y.shape


# -- impl against NumPy ------------------------------------------------------------
DTYPES = [np.float32, np.float64, np.complex64, np.complex128]
BATCHES = [(), (3,), (2, 2)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch", BATCHES)
def test_impls_match_numpy(dtype, batch):
    tol = 1e-4 if dtype in (np.float32, np.complex64) else 1e-10
    real = np.empty((), dtype).real.dtype
    a = well_conditioned(batch + (4, 4), dtype)
    b = randn(batch + (4, 2), dtype)
    x = solve_p.impl(a, b)
    assert x.dtype == dtype and x.shape == b.shape
    np.testing.assert_allclose(x, np.linalg.solve(a, b), rtol=tol, atol=tol)
    xi = inv_p.impl(a)
    assert xi.dtype == dtype
    np.testing.assert_allclose(xi, np.linalg.inv(a), rtol=tol, atol=tol)
    d = det_p.impl(a)
    assert d.dtype == dtype and d.shape == batch
    np.testing.assert_allclose(d, np.linalg.det(a), rtol=tol)
    sign, logabs = slogdet_p.impl(a)
    assert sign.dtype == dtype and logabs.dtype == real and logabs.shape == batch
    want_sign, want_log = np.linalg.slogdet(a)
    np.testing.assert_allclose(sign, want_sign, rtol=tol, atol=tol)
    np.testing.assert_allclose(logabs, want_log, rtol=tol, atol=tol)
    p = spd(batch + (4, 4), dtype)
    L = cholesky_p.impl(p)
    assert L.dtype == dtype
    np.testing.assert_allclose(L, np.linalg.cholesky(p), rtol=tol, atol=tol)
    w, v = eigh_p.impl(p)
    assert w.dtype == real and v.dtype == dtype and w.shape == batch + (4,)
    np.testing.assert_allclose(w, np.linalg.eigvalsh(p), rtol=tol, atol=tol)
    np.testing.assert_allclose((v * w[..., None, :]) @ np.conj(mT(v)), p, rtol=tol * 10,
                               atol=tol * 10)
    c = cofactor_p.impl(a)
    assert c.dtype == dtype
    np.testing.assert_allclose(c, np.linalg.det(a)[..., None, None] * mT(np.linalg.inv(a)),
                               rtol=tol * 10, atol=tol * 10)
    for prim, args in ((solve_p, (a, b)), (inv_p, (a,)), (det_p, (a,)), (cofactor_p, (a,)),
                       (slogdet_p, (a,)),
                       (cholesky_p, (p,)), (eigh_p, (p,))):
        avals = prim.abstract_eval(*[ShapedArray(x.shape, x.dtype) for x in args])
        outs = prim.impl(*args)
        if not prim.multiple_results:
            avals, outs = [avals], [outs]
        for aval, o in zip(avals, outs):
            assert aval.shape == o.shape and aval.dtype == o.dtype, prim.name


def test_symmetrisation_matches_jax():
    a = randn((4, 4)) + 4 * np.eye(4)  # not symmetric
    np.testing.assert_allclose(cholesky_p.impl(a @ a.T + a), jjnp.linalg.cholesky(a @ a.T + a),
                               rtol=1e-10)
    w, v = eigh_p.impl(a)
    jw, _ = jjnp.linalg.eigh(a)
    np.testing.assert_allclose(w, jw, rtol=1e-10)


def test_failures_give_nan_not_errors():
    singular = np.ones((2, 3, 3))
    singular[1] = np.eye(3)
    x = solve_p.impl(singular, np.ones((2, 3, 1)))
    assert np.isnan(x[0]).all() and np.allclose(x[1], 1)
    assert np.isnan(inv_p.impl(singular)[0]).all()
    assert det_p.impl(singular)[0] == 0
    not_pd = np.stack([-np.eye(3), np.eye(3)])
    L = cholesky_p.impl(not_pd)
    assert np.isnan(L[0]).all() and np.allclose(L[1], np.eye(3))


@pytest.mark.parametrize("prim", [inv_p, det_p, slogdet_p, cholesky_p, eigh_p])
def test_abstract_eval_errors(prim):
    with pytest.raises(ShapeError, match=r"square.*\(3, 4\)"):
        prim.abstract_eval(ShapedArray((3, 4), np.float64))
    with pytest.raises(ShapeError, match=r"\(4,\)"):
        prim.abstract_eval(ShapedArray((4,), np.float64))
    with pytest.raises(NbadTypeError, match="int32"):
        prim.abstract_eval(ShapedArray((3, 3), np.int32))
    with pytest.raises(NbadTypeError, match="float16"):
        prim.abstract_eval(ShapedArray((3, 3), np.float16))


def test_solve_abstract_eval_errors():
    a = ShapedArray((2, 3, 3), np.float64)
    with pytest.raises(ShapeError, match=r"\(2, 4, 1\)"):
        solve_p.abstract_eval(a, ShapedArray((2, 4, 1), np.float64))
    with pytest.raises(ShapeError, match=r"\(5, 3, 1\)"):
        solve_p.abstract_eval(a, ShapedArray((5, 3, 1), np.float64))
    with pytest.raises(NbadTypeError, match="one dtype"):
        solve_p.abstract_eval(a, ShapedArray((2, 3, 1), np.float32))
    assert solve_p.abstract_eval(a, ShapedArray((2, 3, 5), np.float64)).shape == (2, 3, 5)


# -- rules against finite differences ---------------------------------------------
class GaugeFixedEigh:
    """eigh with each eigenvector's largest component made positive, so finite
    differences do not see LAPACK's arbitrary sign flips. The rules are eigh's:
    the sign fix is locally constant."""
    name = "eigh"
    multiple_results = True
    jvp = staticmethod(eigh_p.jvp)
    vjp = staticmethod(eigh_p.vjp)

    @staticmethod
    def impl(a):
        w, v = eigh_p.impl(a)
        idx = np.argmax(np.abs(v), axis=-2)[..., None, :]
        signs = np.sign(np.take_along_axis(v, idx, axis=-2))
        return [w, v * signs]


@pytest.mark.parametrize("batch", [(), (3,), (2, 2)])
def test_rules_against_finite_differences(batch):
    n = 4
    a = well_conditioned(batch + (n, n))
    check_rule(solve_p, [a, randn(batch + (n, 3))])
    check_rule(solve_p, [a, randn(batch + (n, 1))])
    check_rule(inv_p, [a])
    check_rule(det_p, [a])
    check_rule(cofactor_p, [a])
    check_rule(slogdet_p, [a])
    check_rule(slogdet_p, [-a])  # negative determinants have the same log-derivative
    check_rule(cholesky_p, [spd(batch + (n, n))])
    check_rule(GaugeFixedEigh, [distinct_spectrum(batch + (n, n))])


def test_nonsymmetric_inputs_differentiate_the_symmetrised_matrix():
    a = spd((4, 4)) + 0.3 * randn((4, 4))
    check_rule(cholesky_p, [a])
    check_rule(GaugeFixedEigh, [distinct_spectrum((4, 4)) + 0.1 * randn((4, 4))])


def test_partial_cotangents():
    a = distinct_spectrum((4, 4))
    w, v = eigh_p.impl(a)
    ct_w = randn(w.shape)
    got, = eigh_p.vjp([ct_w, None], [a], [w, v])
    np.testing.assert_allclose(got, (v * ct_w) @ v.T, atol=1e-12)  # d(sum ct_w w)/dA
    assert eigh_p.vjp([None, None], [a], [w, v]) == [None]
    sign, logabs = slogdet_p.impl(a)
    assert slogdet_p.vjp([randn(()), None], [a], [sign, logabs]) == [None]
    assert inv_p.jvp([a], [None], inv_p.impl(a)) is None


# -- rules against JAX --------------------------------------------------------------
def _jax_fn(name):
    return {
        "solve": lambda a, b: jjnp.linalg.solve(a, b),
        "inv": jjnp.linalg.inv,
        "det": jjnp.linalg.det,
        "slogdet": lambda a: tuple(jjnp.linalg.slogdet(a)),
        "cholesky": jjnp.linalg.cholesky,
    }[name]


def _inputs(name, batch, dtype):
    n = 4
    if name == "solve":
        return [well_conditioned(batch + (n, n), dtype), randn(batch + (n, 2), dtype)]
    if name == "cholesky":
        return [spd(batch + (n, n), dtype)]
    return [well_conditioned(batch + (n, n), dtype)]


PRIMS = {"solve": solve_p, "inv": inv_p, "det": det_p, "slogdet": slogdet_p, "cholesky": cholesky_p}


def _close(got, want, what):
    if got is None:
        got = np.zeros_like(np.asarray(want))
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-8, atol=1e-10,
                               err_msg=what)


@pytest.mark.parametrize("name", sorted(PRIMS))
@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
@pytest.mark.parametrize("batch", [(2,)])
def test_jvp_and_vjp_match_jax(name, dtype, batch):
    prim, fn = PRIMS[name], _jax_fn(name)
    args = _inputs(name, batch, dtype)
    tangents = [randn(a.shape, dtype) for a in args]
    want_out, want_t = jax.jvp(fn, args, tangents)
    outs = prim.impl(*args)
    got_t = prim.jvp(args, tangents, outs)
    if prim.multiple_results:
        for g, w in zip(got_t, want_t):
            _close(g, w, f"{name} jvp")
    else:
        _close(got_t, want_t, f"{name} jvp")
    _, f_vjp = jax.vjp(fn, *args)
    if prim.multiple_results:
        ct = [randn(np.shape(o), np.asarray(o).dtype) for o in want_out]
        want_ct = f_vjp(tuple(ct))
    else:
        ct = randn(np.shape(want_out), np.asarray(want_out).dtype)
        want_ct = f_vjp(ct)
    got_ct = prim.vjp(ct, args, outs)
    for g, w in zip(got_ct, want_ct):
        _close(g, w, f"{name} vjp")


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
@pytest.mark.parametrize("batch", [(2,)])
def test_eigh_matches_jax_through_gauge_invariant_function(dtype, batch):
    """f(A) = sum(c * w) + Re sum(C o V diag(h) V^H) does not depend on the
    eigenvectors' phases; compare JAX's gradient (vjp of 1) with eigh's vjp."""
    n = 4
    a = distinct_spectrum(batch + (n, n), dtype)
    c, h = randn(n), randn(n)
    C = randn(batch + (n, n), dtype)

    def g(w, v):
        p = (v * h) @ jjnp.conj(jjnp.swapaxes(v, -1, -2))
        return jjnp.sum(c * w) + jjnp.sum(jjnp.real(C * p))

    want = jax.vjp(lambda x: g(*jjnp.linalg.eigh(x)), a)[1](1.0)[0]
    # The cotangents of (w, v) at nbad's eigenvectors, from JAX (same convention).
    w, v = eigh_p.impl(a)
    ct_w, ct_v = jax.vjp(g, w, v)[1](1.0)
    got, = eigh_p.vjp([np.asarray(ct_w), np.asarray(ct_v)], [a], [w, v])
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_eigh_jvp_matches_jax_gauge_invariant(dtype):
    n = 4
    a = distinct_spectrum((n, n), dtype)
    t = randn((n, n), dtype)
    (jw, jv), (jdw, jdv) = jax.jvp(jjnp.linalg.eigh, (a,), (t,))
    w, v = eigh_p.impl(a)
    dw, dv = eigh_p.jvp([a], [t], [w, v])
    np.testing.assert_allclose(np.asarray(dw), np.asarray(jdw), rtol=1e-8, atol=1e-10)
    # d(v v^H) is phase invariant
    dp = np.asarray(dv) @ np.conj(v.T) + v @ np.conj(np.asarray(dv).T)
    jdp = np.asarray(jdv) @ np.conj(np.asarray(jv).T) + np.asarray(jv) @ np.conj(np.asarray(jdv).T)
    np.testing.assert_allclose(dp, jdp, rtol=1e-8, atol=1e-10)


# -- nbad.numpy.linalg ----------------------------------------------------------
def test_numpy_linalg_functions_match_jax():
    a = well_conditioned((2, 4, 4))
    b = randn((4,))
    np.testing.assert_allclose(jnp.linalg.solve(a, b), jjnp.linalg.solve(a, b), rtol=1e-10)
    B = randn((3, 1, 4, 2))
    got = jnp.linalg.solve(a, B)
    assert got.shape == (3, 2, 4, 2)
    np.testing.assert_allclose(got, np.linalg.solve(a, B), rtol=1e-10)
    np.testing.assert_allclose(jnp.linalg.inv(a), jjnp.linalg.inv(a), rtol=1e-10)
    np.testing.assert_allclose(jnp.linalg.det(a), jjnp.linalg.det(a), rtol=1e-10)
    res = jnp.linalg.slogdet(a)
    sign, logabsdet = res
    assert res.sign is sign and res.logabsdet is logabsdet
    np.testing.assert_allclose(logabsdet, jjnp.linalg.slogdet(a).logabsdet, rtol=1e-10)
    p = spd((4, 4)) + 0.2 * randn((4, 4))
    np.testing.assert_allclose(jnp.linalg.cholesky(p), jjnp.linalg.cholesky(p), rtol=1e-10)
    np.testing.assert_allclose(jnp.linalg.cholesky(p, upper=True),
                               jjnp.linalg.cholesky(p, upper=True), rtol=1e-10)
    for uplo in ("L", "U"):
        for sym in (True, False):
            w, v = jnp.linalg.eigh(p, UPLO=uplo, symmetrize_input=sym)
            jw, _ = jjnp.linalg.eigh(p, UPLO=uplo, symmetrize_input=sym)
            np.testing.assert_allclose(w, jw, rtol=1e-10, err_msg=f"{uplo} {sym}")
    res = jnp.linalg.eigh(p)
    assert res.eigenvalues is res[0] and res.eigenvectors is res[1]
    np.testing.assert_allclose(jnp.linalg.eigvalsh(p), np.linalg.eigvalsh((p + p.T) / 2), rtol=1e-10)
    # Integer inputs compute in float64.
    ai = np.array([[2, 1], [1, 3]])
    assert jnp.linalg.inv(ai).dtype == np.float64
    np.testing.assert_allclose(jnp.linalg.det(ai), 5.0)
    assert jnp.linalg.inv(a.astype(np.float32)).dtype == np.float32


def test_numpy_linalg_complex_hermitian_from_triangle():
    p = spd((3, 3), np.complex128)
    junk = np.triu(randn((3, 3), np.complex128), 1) + 1j * np.diag(randn(3))
    for uplo, m in (("L", p + junk), ("U", p + np.conj(junk.T))):
        w, _ = jnp.linalg.eigh(m, UPLO=uplo, symmetrize_input=False)
        np.testing.assert_allclose(w, np.linalg.eigvalsh(p), rtol=1e-10)
    L = jnp.linalg.cholesky(p + junk, symmetrize_input=False)
    np.testing.assert_allclose(L, np.linalg.cholesky(p), rtol=1e-10)


def test_numpy_linalg_errors():
    with pytest.raises(ShapeError, match=r"square.*\(3, 4\)"):
        jnp.linalg.inv(np.ones((3, 4)))
    with pytest.raises(ShapeError, match=r"\(2,\)"):
        jnp.linalg.det(np.ones(2))
    with pytest.raises(ShapeError, match="solve"):
        jnp.linalg.solve(np.eye(3), np.ones(4))
    with pytest.raises(ShapeError, match="solve"):
        jnp.linalg.solve(np.eye(3), np.ones((4, 2)))
    with pytest.raises(ShapeError, match="broadcast"):
        jnp.linalg.solve(np.ones((2, 3, 3)), np.ones((5, 3, 1)))
    with pytest.raises(Exception, match="UPLO"):
        jnp.linalg.eigh(np.eye(3), UPLO="X")


@pytest.mark.parametrize("dtype", [np.float32, np.complex64])
def test_rules_keep_single_precision(dtype):
    n = 3
    cases = [(solve_p, [well_conditioned((2, n, n), dtype), randn((2, n, 2), dtype)]),
             (inv_p, [well_conditioned((n, n), dtype)]),
             (det_p, [well_conditioned((n, n), dtype)]),
             (slogdet_p, [well_conditioned((n, n), dtype)]),
             (cholesky_p, [spd((n, n), dtype)]),
             (eigh_p, [distinct_spectrum((n, n), dtype)])]
    for prim, args in cases:
        outs = prim.impl(*args)
        out_list = outs if prim.multiple_results else [outs]
        tangents = prim.jvp(args, [randn(a.shape, dtype) for a in args], outs)
        for t, o in zip(tangents if prim.multiple_results else [tangents], out_list):
            assert t is None or (np.asarray(t).dtype == o.dtype and np.shape(t) == o.shape), prim.name
        cts = [randn(o.shape, o.dtype) for o in out_list]
        in_cts = prim.vjp(cts if prim.multiple_results else cts[0], args, outs)
        for c, a in zip(in_cts, args):
            assert np.asarray(c).dtype == a.dtype and np.shape(c) == a.shape, prim.name


def test_grad_through_numpy_linalg_matches_jax():
    """End to end (eager nbad.grad) through every wrapper, against jax.grad."""
    import nbad

    a = well_conditioned((2, 3, 3))
    b = randn((3,))
    p = spd((3, 3))

    def make(np_):
        def f(a, b, p):
            x = np_.linalg.solve(a, b)
            _, logabs = np_.linalg.slogdet(a)
            w, v = np_.linalg.eigh(p)
            k = np_.arange(3.0)
            return (np_.sum(np_.sin(x)) + np_.sum(logabs) + np_.sum(np_.linalg.inv(a) ** 2)
                    + 0.01 * np_.sum(np_.linalg.det(a)) + np_.sum(w * k)
                    + np_.sum(((v * k) @ np_.swapaxes(v, -1, -2)) * p)
                    + np_.sum(np_.linalg.cholesky(p) ** 3))
        return f

    got = nbad.grad(make(jnp), argnums=(0, 1, 2))(a, b, p)
    want = jax.grad(make(jjnp), argnums=(0, 1, 2))(a, b, p)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-9, atol=1e-10)
