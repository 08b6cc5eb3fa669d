"""nbad.scipy.linalg against jax.scipy.linalg and scipy.linalg: values,
derivatives (check_grads order 2, and JAX's gradients), vmap and jit."""
import numpy as np
import pytest
import scipy.linalg as sl

import nbad
import nbad.scipy.linalg as linalg
from nbad.test_util import check_grads

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
import jax.scipy.linalg as jsl  # noqa: E402

RNG = np.random.default_rng(0)
A = RNG.standard_normal((4, 4))
SPD = A @ A.T + 4 * np.eye(4)
B = RNG.standard_normal((4, 2))


def close(got, want, rtol=1e-10):
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("lower", [True, False])
def test_cholesky_family(lower):
    close(linalg.cholesky(SPD, lower=lower), jsl.cholesky(SPD, lower=lower))
    c_and_lower = linalg.cho_factor(SPD, lower=lower)
    assert c_and_lower[1] is lower
    close(linalg.cho_solve(c_and_lower, B), jsl.cho_solve(jsl.cho_factor(SPD, lower=lower), B))
    check_grads(lambda s: linalg.cho_solve(linalg.cho_factor(s, lower=lower), B), (SPD,), order=2)
    # JAX's vjp follows its own convention off the symmetric matrices; along a
    # symmetric direction every convention gives the derivative.
    direction = A + A.T
    _, got = nbad.jvp(lambda s: linalg.cholesky(s, lower=lower), (SPD,), (direction,))
    _, want = jax.jvp(lambda s: jsl.cholesky(s, lower=lower), (SPD,), (direction,))
    close(got, want, rtol=1e-8)


@pytest.mark.parametrize("lower", [True, False])
@pytest.mark.parametrize("trans", [0, "T", 2])
def test_solve_triangular(lower, trans):
    for unit in (False, True):
        got = linalg.solve_triangular(A, B, trans=trans, lower=lower, unit_diagonal=unit)
        close(got, jsl.solve_triangular(A, B, trans=trans, lower=lower, unit_diagonal=unit))
    check_grads(lambda a, b: linalg.solve_triangular(a, b, trans=trans, lower=lower), (A, B), order=2)
    f = lambda a: linalg.solve_triangular(a, B, trans=trans, lower=lower).sum()  # noqa: E731
    jf = lambda a: jsl.solve_triangular(a, B, trans=trans, lower=lower).sum()  # noqa: E731
    close(nbad.grad(f)(A), jax.grad(jf)(A), rtol=1e-8)
    close(linalg.solve_triangular(A, B[:, 0], lower=lower), sl.solve_triangular(A, B[:, 0], lower=lower))


def test_lu_and_lu_factor():
    for got, want in zip(linalg.lu(A), jsl.lu(A)):
        close(got, want)
    pl, u = linalg.lu(A, permute_l=True)
    close(pl @ u, A)
    lu, piv = linalg.lu_factor(A)
    want_lu, want_piv = sl.lu_factor(A)
    close(lu, want_lu)
    np.testing.assert_array_equal(piv, want_piv)
    assert piv.dtype == np.int32
    check_grads(lambda a: linalg.lu(a)[1:], (A,), order=2)
    close(nbad.grad(lambda a: (linalg.lu(a)[1] * linalg.lu(a)[2]).sum())(A),
          jax.grad(lambda a: (jsl.lu(a)[1] * jsl.lu(a)[2]).sum())(A), rtol=1e-8)
    stack = np.stack([A, 3 * A + np.eye(4)])
    for got, want in zip(nbad.jit(nbad.vmap(linalg.lu))(stack), jax.vmap(jsl.lu)(stack)):
        close(got, want)


def test_expm():
    for scale in (0.01, 1.0, 10.0):
        close(linalg.expm(scale * A), sl.expm(scale * A), rtol=1e-9)
    jitted = nbad.jit(linalg.expm)
    close(jitted(10 * A), sl.expm(10 * A), rtol=1e-9)
    close(jitted(0.01 * A), sl.expm(0.01 * A), rtol=1e-9)    # the same program: fewer squarings kept
    check_grads(linalg.expm, (A[:3, :3] / 2,), order=1)
    close(nbad.grad(lambda a: linalg.expm(a).sum())(A), jax.grad(lambda a: jsl.expm(a).sum())(A), rtol=1e-8)
    stack = np.stack([A, 5 * A])
    close(nbad.vmap(linalg.expm)(stack), np.stack([sl.expm(A), sl.expm(5 * A)]), rtol=1e-9)
