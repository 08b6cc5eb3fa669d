"""nbad on Dask (nbad/dask.py): jitted functions pickle by recipe, every
transformation pickles with cloudpickle (by value: grad and vmap return plain
functions whose cells hold no compiled state), and the three patterns (chunked vmap, sweeps, data-parallel
gradients) equal their local results on a real distributed.LocalCluster with
two worker processes."""
import os
import pickle
import signal
import sys
import time

import numpy as np
import pytest

import nbad
import nbad.numpy as jnp

cloudpickle = pytest.importorskip("cloudpickle")
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
import nbad.dask as nd  # noqa: E402

# Workers cannot import this test module: its functions travel by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

STEPS = 10
DISTURBANCE = 0.1 * np.sin(np.arange(float(STEPS)))


def pid_loss(gains, disturbance):
    """Mean squared error of a bathtub's level held at 1 by a PID controller (seed 000)."""
    kp, ki, kd = gains[0], gains[1], gains[2]
    dt, level, integral, prev_err, total = 0.1, 0.5, 0.0, 0.5, 0.0
    for t in range(STEPS):
        err = 1.0 - level
        integral = integral + err * dt
        inflow = kp * err + ki * integral + kd * (err - prev_err) / dt
        level = level + dt * (inflow + disturbance[t] - 0.5 * jnp.sqrt(jnp.maximum(level, 0.0))) / 2.0
        prev_err = err
        total = total + err ** 2
    return total / STEPS


def pid_point(kp, ki, kd):
    return nbad.value_and_grad(pid_loss)(jnp.stack([kp, ki, kd]), DISTURBANCE)


def features(x, w):
    return {"h": jnp.tanh(x @ w), "norm": jnp.sum(x ** 2)}


def sq_loss(params, X, y):
    return jnp.sum((jnp.tanh(X @ params["w"]) + params["b"] - y) ** 2)


def cubes(w):
    return jnp.sum(jnp.sin(w) ** 3)


def times(x, n):
    return x * n


def heavy(a, b):
    return jnp.sum(jnp.tanh(jnp.outer(a * jnp.ones(1000), jnp.linspace(0.0, b, 1000))))


# ------------------------------------------------------------------ pickling
def _transformations():
    return {
        "jit": nbad.jit(sq_loss), "grad": nbad.grad(sq_loss), "value_and_grad": nbad.value_and_grad(sq_loss),
        "jit_grad": nbad.jit(nbad.grad(sq_loss, argnums=(0,))), "jacrev": nbad.jacrev(features),
        "jacfwd": nbad.jacfwd(features), "hessian": nbad.hessian(cubes),
        "vmap": nbad.vmap(features, in_axes=(0, None)),
        "jit_vmap_grad": nbad.jit(nbad.vmap(nbad.grad(sq_loss), in_axes=(None, 0, 0))),
        "static": nbad.jit(times, static_argnums=1),
    }


def _args(name):
    rng = np.random.default_rng(0)
    p = {"w": rng.random(4), "b": np.array(0.2)}
    X, y = rng.random((6, 4)), rng.random(6)
    return {"jacrev": (X[0], p["w"]), "jacfwd": (X[0], p["w"]), "hessian": (p["w"],),
            "vmap": (X, p["w"]), "jit_vmap_grad": (p, X, y), "static": (X, 3)}.get(name, (p, X, y))


def _scaled_by(n):
    return lambda x: jnp.sum(x * n)


def test_closures_pickle_with_their_cells():
    f = nbad.jit(nbad.grad(_scaled_by(3.0)))
    got = pickle.loads(cloudpickle.dumps(f))(np.ones(2))
    assert np.array_equal(got, [3.0, 3.0])


@pytest.mark.parametrize("name", sorted(_transformations()))
def test_transformations_pickle_by_recipe(name):
    f = _transformations()[name]
    args = _args(name)
    want = f(*args)
    # plain pickle too where f is a jitted function of a module-level function
    dumps_list = [cloudpickle.dumps] + ([pickle.dumps] if name in ("jit", "static") else [])
    for dumps in dumps_list:
        blob = dumps(f)
        assert b"numba" not in blob and len(blob) < 20000  # the recipe, no compiled state
        got = pickle.loads(blob)(*args)
        for a, b in zip(nbad.tree_leaves(got), nbad.tree_leaves(want)):
            assert np.array_equal(a, b)


def test_pickled_jit_keeps_its_options():
    f = pickle.loads(pickle.dumps(nbad.jit(pid_loss, static_argnames=("disturbance",))))
    assert f._static_argnames == ("disturbance",)


def test_results_travel_as_numpy_arrays():
    y = nbad.jit(features)(np.ones((2, 3)), np.ones(3))["h"]
    assert type(y) is nbad.Array
    back = pickle.loads(pickle.dumps(y))
    assert type(back) is np.ndarray and np.array_equal(back, y)


def test_eval_shape_matches_jax():
    jax = pytest.importorskip("jax")
    out = nbad.eval_shape(features, nbad.ShapeDtypeStruct((5, 3), np.float32), np.ones(3, np.float32))
    jax_features = lambda x, w: {"h": jax.numpy.tanh(x @ w), "norm": jax.numpy.sum(x ** 2)}  # noqa: E731
    want = jax.eval_shape(jax_features, jax.ShapeDtypeStruct((5, 3), np.float32), np.ones(3, np.float32))
    assert {k: (v.shape, v.dtype) for k, v in out.items()} == {k: (v.shape, v.dtype) for k, v in want.items()}


# ----------------------------------------------- the patterns, local scheduler
def test_vmap_over_chunks_equals_jit_vmap_bit_for_bit():
    rng = np.random.default_rng(1)
    X, w = rng.random((1000, 5)), rng.random((5, 3))
    lazy = nd.vmap(features, in_axes=(0, None))(da.from_array(X, chunks=300), w)
    assert lazy["h"].chunks == ((300, 300, 300, 100), (3,)) and lazy["norm"].dtype == np.float64
    got = da.compute(lazy, scheduler="sync")[0]
    want = nbad.jit(nbad.vmap(features, in_axes=(0, None)))(X, w)
    assert np.array_equal(got["h"], want["h"]) and np.array_equal(got["norm"], want["norm"])


def test_vmap_mapped_axis_and_out_axes():
    X = np.random.default_rng(2).random((4, 30))
    got = nd.vmap(lambda x: jnp.cumsum(x) * 2.0, in_axes=1, out_axes=1)(da.from_array(X, chunks=(4, 7)))
    assert got.chunks[1] == (7, 7, 7, 7, 2)
    assert np.array_equal(got.compute(scheduler="sync"), nbad.vmap(lambda x: jnp.cumsum(x) * 2.0, 1, 1)(X))


def test_vmap_errors():
    with pytest.raises(ValueError, match="different sizes"):
        nd.vmap(jnp.add)(da.ones(4, chunks=2), da.ones(5, chunks=2))
    with pytest.raises(ValueError, match="chunks="):
        nd.vmap(jnp.sin)(np.ones(4))
    with pytest.raises(ValueError, match="no argument is mapped"):
        nd.vmap(jnp.sin, in_axes=None)(np.ones(4))
    with pytest.raises(TypeError, match="callable"):
        nd.vmap(3)


def test_grad_sum_equals_the_whole_gradient():
    rng = np.random.default_rng(3)
    X, y = rng.random((1000, 4)), rng.random(1000)
    params = {"w": rng.random(4), "b": np.array(0.1)}
    got = nd.grad_sum(sq_loss, params, da.from_array(X, chunks=128), da.from_array(y, chunks=128),
                      scheduler="sync")
    want = nbad.jit(nbad.grad(sq_loss))(params, X, y)
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-12)
    chunks = [X[:500], X[500:]], [y[:500], y[500:]]
    listed = nd.grad_sum(sq_loss, params, *chunks, scheduler="sync")
    np.testing.assert_allclose(listed["w"], want["w"], rtol=1e-12)
    with pytest.raises(ValueError, match="numbers of chunks"):
        nd.grad_sum(sq_loss, params, [X], [y[:5], y[5:]])


# --------------------------------------------------- a real two-worker cluster
@pytest.fixture(scope="module")
def client():
    env = {"NBAD_CACHE_DIR": os.environ["NBAD_CACHE_DIR"], "NBAD_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  env=env, silence_logs=40) as cluster:
        with distributed.Client(cluster) as c:
            yield c


def _programs_compiled(client):
    from nbad import api

    return client.run(api.programs_compiled)


def test_sweep_on_two_workers_equals_the_local_batch(client):
    kp, ki, kd = np.linspace(0.5, 2.0, 8), np.linspace(0.0, 0.5, 8), np.linspace(0.0, 0.2, 4)
    before = _programs_compiled(client)
    value, grads = nd.sweep(pid_point, kp, ki, kd, batch_size=32)
    assert value.shape == (8, 8, 4) and grads.shape == (8, 8, 4, 3)
    P = np.stack([p.ravel() for p in np.meshgrid(kp, ki, kd, indexing="ij")], axis=1)
    want_v, want_g = nbad.jit(nbad.vmap(nbad.value_and_grad(pid_loss), in_axes=(0, None)))(P, DISTURBANCE)
    assert np.array_equal(value.ravel(), want_v) and np.array_equal(grads.reshape(-1, 3), want_g)
    after = _programs_compiled(client)
    # 8 tasks over 2 workers: each worker traced and compiled the program once (its kernels
    # come from the disk cache the local call above wrote), not once per task.
    assert all(after[w] - before[w] <= 1 for w in after), (before, after)
    value2, _ = nd.sweep(pid_point, kp, ki, kd, batch_size=16)
    assert np.array_equal(value2, value)
    # a second sweep of the same function: the workers reuse the program (new batch size: a
    # new shape of the same jitted object, planned in ms; nothing traced per task)
    again = _programs_compiled(client)
    assert all(again[w] - after[w] <= 1 for w in after), (after, again)


def test_unpickling_the_same_object_twice_gives_one_rebuilt_function():
    f = nbad.jit(nbad.vmap(sq_loss, in_axes=(None, 0, 0)))
    blob = cloudpickle.dumps(f)
    a, b = pickle.loads(blob), pickle.loads(cloudpickle.dumps(f))
    assert a is b and a is not f
    assert pickle.loads(cloudpickle.dumps(nbad.jit(nbad.vmap(sq_loss, in_axes=(None, 0, 0))))) is not a
    assert pickle.loads(cloudpickle.dumps(a)) is a  # re-pickled where it was rebuilt: the same id


def test_grad_sum_on_two_workers(client):
    rng = np.random.default_rng(4)
    X, y = rng.random((2000, 4)), rng.random(2000)
    params = {"w": rng.random(4), "b": np.array(0.1)}
    Xd, yd = client.scatter([X[:1000], X[1000:]]), client.scatter([y[:1000], y[1000:]])
    got = nd.grad_sum(sq_loss, params, Xd, yd)
    want = nbad.jit(nbad.grad(sq_loss))(params, X, y)
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-12)


def test_a_worker_killed_mid_sweep_loses_no_result(client):
    a, b = np.linspace(0.0, 1.0, 128), np.array([1.0, 2.0, 3.0, 4.0])
    A, B = (g.ravel() for g in np.meshgrid(a, b, indexing="ij"))
    want = nbad.jit(nbad.vmap(heavy))(A, B).reshape(128, 4)
    lazy = nd.sweep(heavy, a, b, batch_size=16, compute=False)
    assert lazy.shape == (128, 4)
    future = client.compute(lazy)
    deadline = time.monotonic() + 60
    while not any(client.processing().values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    victim, pid = next(iter(client.run(os.getpid).items()))
    assert not future.done()
    os.kill(pid, signal.SIGKILL)
    got = future.result(timeout=120)
    assert np.array_equal(got, want)
