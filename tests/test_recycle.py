"""Recycled result buffers (nbad/backends/cpu/recycle.py, issue 14): bounded per
program and per process, counted in bytes held (not RSS), and freed when the
jitted function is dropped."""
import gc
import weakref

import numpy as np

import nbad
import nbad.numpy as jnp
from nbad.backends.cpu import recycle

N0 = 1000  # float64: 8 KB results, "large" once RECYCLE_MIN_BYTES is 1 KiB


def test_process_bound_over_many_shapes(monkeypatch):
    """The issue's case scaled down: many shapes of one function, each result
    dropped at once; what is kept never exceeds the process's bound."""
    monkeypatch.setattr(recycle, "RECYCLE_MIN_BYTES", 1024)
    monkeypatch.setattr(recycle, "PROCESS_MAX_BYTES", 64 * 1024)
    f = nbad.jit(lambda x: jnp.sin(x) * 2.0)
    for n in range(N0, N0 + 40):
        x = np.linspace(0.0, 1.0, n)
        for _ in range(2):
            np.testing.assert_allclose(f(x), np.sin(x) * 2.0, rtol=1e-14)
        assert 0 < recycle.held_bytes() <= 64 * 1024


def test_program_bound_and_reuse(monkeypatch):
    monkeypatch.setattr(recycle, "RECYCLE_MIN_BYTES", 1024)
    monkeypatch.setattr(recycle, "PROGRAM_MAX_BYTES", 4 * 8 * N0)
    f = nbad.jit(lambda x: (jnp.sin(x), jnp.cos(x), x * 3.0))
    x = np.linspace(0.0, 1.0, N0)
    gc.collect()  # (programs of earlier tests, in reference cycles)
    before = recycle.held_bytes()
    held = [f(x) for _ in range(4)]  # 3 results x KEEP 2 would be 6 buffers: the bound keeps 4
    assert recycle.held_bytes() - before == 4 * 8 * N0
    for r in held:
        np.testing.assert_allclose(r[0], np.sin(x), rtol=1e-14)
        np.testing.assert_allclose(r[2], x * 3.0, rtol=1e-14)
    del held
    first = f(x)[0]
    address = first.__array_interface__["data"][0]
    del first
    again = f(x)[0]  # a dropped buffer is reused
    assert again.__array_interface__["data"][0] == address
    np.testing.assert_allclose(again, np.sin(x), rtol=1e-14)


def test_dropping_the_function_frees_its_buffers(monkeypatch):
    monkeypatch.setattr(recycle, "RECYCLE_MIN_BYTES", 1024)
    gc.collect()  # (programs of earlier tests, in reference cycles)
    before = recycle.held_bytes()
    f = nbad.jit(lambda x: jnp.tanh(x) + 1.0)
    buffers = []
    for n in range(N0, N0 + 5):
        y = f(np.ones(n))
        buffers.append(weakref.ref(y.base))
        del y
    assert recycle.held_bytes() - before == 5 * 8 * N0 + 8 * (0 + 1 + 2 + 3 + 4)
    gc.disable()  # freed as the function is, by reference counting: no cycle to collect
    try:
        del f
        assert all(b() is None for b in buffers)
        assert recycle.held_bytes() == before
    finally:
        gc.enable()


def test_intermediate_pools_count_against_the_process_bound(monkeypatch):
    """Intermediate buffers (here a matrix product's result) of many shapes:
    the process's bound holds them too."""
    monkeypatch.setattr(recycle, "RECYCLE_MIN_BYTES", 1024)
    monkeypatch.setattr(recycle, "PROCESS_MAX_BYTES", 64 * 1024)
    w = np.linspace(-1.0, 1.0, 40 * 30).reshape(40, 30)
    f = nbad.jit(lambda x: jnp.sum(jnp.tanh(x @ w), axis=1))
    assert "_pool.give(pool)" in f.lower(np.ones((50, 40))).driver_source
    for n in range(50, 80):
        x = np.linspace(0.0, 1.0, n * 40).reshape(n, 40)
        for _ in range(2):
            np.testing.assert_allclose(f(x), np.tanh(x @ w).sum(axis=1), rtol=1e-13)
        assert 0 < recycle.held_bytes() <= 64 * 1024
