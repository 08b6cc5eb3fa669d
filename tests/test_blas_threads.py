"""BLAS threads during nbad's calls (backends/cpu/blas.py): nbad sets them per
program, the caller's counts come back after every call, and results do not
depend on the BLAS thread count or on OPENBLAS_NUM_THREADS."""
import os
import subprocess
import sys
import threading

import numpy as np
import pytest
import scipy.linalg.cython_blas  # noqa: F401  (SciPy's BLAS, loaded once nbad compiles: Numba's)
import threadpoolctl

import nbad
import nbad.numpy as jnp
from nbad.backends.cpu import blas

rng = np.random.default_rng(0)
A = rng.standard_normal((256, 256))
X3 = rng.standard_normal((4, 96, 96))


def _blas_counts():
    return [(i["filepath"], i["num_threads"]) for i in threadpoolctl.threadpool_info()
            if i["user_api"] == "blas"]


@pytest.fixture
def two_threads():
    nbad.config.update("num_threads", 2)
    yield
    nbad.config.update("num_threads", None)


def _split_product(a, b):
    return jnp.tanh(a @ b)     # split across nbad's threads by rows


def _whole_product(x, y):
    return jnp.matmul(x, y)    # a batched product: BLAS called whole


split_jit, whole_jit = nbad.jit(_split_product), nbad.jit(_whole_product)


@pytest.mark.parametrize("user_count", [1, 2])
def test_the_callers_blas_threads_are_restored_after_each_call(two_threads, user_count):
    with threadpoolctl.threadpool_limits(user_count, user_api="blas"):
        before = _blas_counts()
        assert {n for _, n in before} == {user_count}
        assert "BLAS: 1 thread during a call (nbad splits" in split_jit.lower(A, A).driver_source
        assert "BLAS: 2 threads during a call" in whole_jit.lower(X3, X3).driver_source
        np.testing.assert_allclose(split_jit(A, A), np.tanh(A @ A), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(whole_jit(X3, X3), np.matmul(X3, X3), rtol=1e-12, atol=1e-12)
        assert _blas_counts() == before
        np.dot(A, A)  # the user's own NumPy code runs with their counts
        assert _blas_counts() == before


def test_small_products_and_programs_without_blas_are_not_wrapped(two_threads):
    a = rng.standard_normal((8, 8))
    assert "BLAS:" not in nbad.jit(lambda a, b: a @ b).lower(a, a).driver_source
    assert "BLAS:" not in nbad.jit(lambda a: jnp.tanh(a) * 2.0).lower(A).driver_source


def test_counts_inside_calls_nested_and_concurrent():
    with threadpoolctl.threadpool_limits(3, user_api="blas"):
        user = _blas_counts()
        seen = []

        def counts_now():
            seen.append({n for _, n in _blas_counts()})

        inner = blas.with_threads(counts_now, 2)

        def outer_body():
            counts_now()
            inner()          # a nested program (a loop body) sets its own count...
            counts_now()     # ...and gives the outer call's back

        blas.with_threads(outer_body, 1)()
        assert seen == [{1}, {2}, {1}]
        assert _blas_counts() == user
        with pytest.raises(ZeroDivisionError):  # a call that raises restores them too
            blas.with_threads(lambda: 1 / 0, 1)()
        assert _blas_counts() == user

        # calls from two Python threads at once: BLAS on one thread while both run
        entered, release = threading.Event(), threading.Event()

        def other_thread_call():
            counts_now()
            entered.set()
            release.wait(10)
            counts_now()

        seen.clear()
        worker = threading.Thread(target=blas.with_threads(other_thread_call, 2))
        worker.start()
        entered.wait(10)
        blas.with_threads(counts_now, 2)()     # while the other call runs
        counts_now()                          # this call over: the other's count again
        release.set()
        worker.join()
        assert seen == [{2}, {1}, {2}, {2}]
        assert _blas_counts() == user


_MLP = """
import hashlib, json, numpy as np, nbad, nbad.numpy as jnp
nbad.config.update("num_threads", 2)
rng = np.random.default_rng(1)
W1, W2 = rng.standard_normal((64, 256)) * 0.1, rng.standard_normal((256, 10)) * 0.1
x, t = rng.standard_normal((1024, 64)), rng.standard_normal((1024, 10))
def loss(W1, W2, x, t):
    return jnp.mean((jnp.tanh(x @ W1) @ W2 - t) ** 2)
f = nbad.jit(nbad.value_and_grad(loss, argnums=(0, 1)))
value, (g1, g2) = f(W1, W2, x, t)
out = {"digest": hashlib.sha256(b"".join(np.asarray(r).tobytes() for r in (value, g1, g2))).hexdigest(),
       "source": f.lower(W1, W2, x, t).driver_source,
       "g1": np.asarray(g1)[:2, :2].tolist()}
print(json.dumps(out))
"""


def test_results_do_not_depend_on_openblas_num_threads(tmp_path):
    """The same program, bit for bit, whatever the environment says."""
    import json

    runs = []
    for count in ("1", "2"):
        env = dict(os.environ, OPENBLAS_NUM_THREADS=count, OMP_NUM_THREADS=count,
                   NBAD_CACHE_DIR=str(tmp_path / "cache"))
        proc = subprocess.run([sys.executable, "-c", _MLP], capture_output=True, text=True, env=env,
                              timeout=600)
        assert proc.returncode == 0, proc.stderr
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    assert runs[0]["source"] == runs[1]["source"]
    assert "BLAS: 1 thread during a call" in runs[0]["source"]
    assert runs[0]["digest"] == runs[1]["digest"]
    # and against NumPy
    rng = np.random.default_rng(1)
    W1, W2 = rng.standard_normal((64, 256)) * 0.1, rng.standard_normal((256, 10)) * 0.1
    x, t = rng.standard_normal((1024, 64)), rng.standard_normal((1024, 10))
    h = np.tanh(x @ W1)
    d = 2 * (h @ W2 - t) / t.size
    g1 = x.T @ ((d @ W2.T) * (1 - h ** 2))
    np.testing.assert_allclose(runs[0]["g1"], g1[:2, :2], rtol=1e-10)


def test_results_do_not_depend_on_the_blas_thread_count(two_threads):
    """nbad sets the count itself, so the caller's setting changes nothing."""
    results = []
    for count in (1, 2):
        with threadpoolctl.threadpool_limits(count, user_api="blas"):
            results.append((np.asarray(split_jit(A, A)).tobytes(), np.asarray(whole_jit(X3, X3)).tobytes()))
    assert results[0] == results[1]


def _record_counts_at(program, prefix, seen):
    """Make the driver's call of its `prefix...` step record the BLAS counts first."""
    namespace = program.namespace
    (name,) = [k for k in namespace if k.startswith(prefix)]
    step = namespace[name]

    def recorded(*args, **kwargs):
        seen.append((prefix, {lib.get() for lib in blas.libraries()}))
        return step(*args, **kwargs)

    namespace[name] = recorded
    return lambda: namespace.__setitem__(name, step)


def test_counts_inside_real_calls_and_a_whole_product_in_a_splitting_program(two_threads):
    """What the driver's steps run with: 1 inside a split product, nbad's thread
    count for a product called whole, also between split ones."""
    def mixed(a, b, x, y):
        return jnp.tanh(a @ b), jnp.matmul(x, y)  # split (with its epilogue); whole

    mixed_jit = nbad.jit(mixed)
    lowered = mixed_jit.lower(A, A, X3, X3)
    assert "_blas_threads(2)  # BLAS: a product called whole" in lowered.driver_source
    with threadpoolctl.threadpool_limits(3, user_api="blas"):  # neither count nbad sets
        user = _blas_counts()
        got = mixed_jit(A, A, X3, X3)
        program = lowered.compile().program
        seen = []
        undo = [_record_counts_at(program, "_matmul", seen), _record_counts_at(program, "_dot_general", seen)]
        try:
            again = mixed_jit(A, A, X3, X3)
        finally:
            for u in undo:
                u()
        assert sorted(seen) == [("_dot_general", {2}), ("_matmul", {1})]
        assert _blas_counts() == user
    np.testing.assert_allclose(got[0], np.tanh(A @ A), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got[1], np.matmul(X3, X3), rtol=1e-12, atol=1e-12)
    for g, a in zip(got, again):
        np.testing.assert_array_equal(g, a)
