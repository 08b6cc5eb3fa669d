"""nbad.example_libraries.optimizers against jax.example_libraries.optimizers:
the same gradients give the same parameters, eagerly and in a jitted step;
schedules, l2_norm, clip_grads and the state (un)packing."""
import numpy as np
import pytest

import nbad
import nbad.numpy as jnp
from nbad.example_libraries import optimizers

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
from jax.example_libraries import optimizers as joptimizers  # noqa: E402

RNG = np.random.default_rng(0)
PARAMS = {"w": RNG.standard_normal((3, 2)), "b": RNG.standard_normal(2), "s": np.float64(0.5)}
GRADS = [{k: RNG.standard_normal(np.shape(v)) for k, v in PARAMS.items()} for _ in range(4)]

MAKERS = [
    ("sgd", (0.1,)), ("momentum", (0.1, 0.9)), ("nesterov", (0.1, 0.9)), ("adagrad", (0.1,)),
    ("rmsprop", (0.1,)), ("rmsprop_momentum", (0.1,)), ("adam", (0.1,)), ("adamax", (0.1,)),
    ("sm3", (0.1,)),
]


def run(module, name, args, params, grads):
    init, update, get_params = getattr(module, name)(*args)
    state = init(params)
    for i, g in enumerate(grads):
        state = update(i, g, state)
    return get_params(state)


def assert_trees_close(got, want):
    got_leaves, got_tree = nbad.tree_util.tree_flatten(got)
    want_leaves = jax.tree_util.tree_leaves(want)
    assert len(got_leaves) == len(want_leaves)
    for g, w in zip(got_leaves, want_leaves):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name,args", MAKERS, ids=[m[0] for m in MAKERS])
def test_matches_jax(name, args):
    assert_trees_close(run(optimizers, name, args, PARAMS, GRADS), run(joptimizers, name, args, PARAMS, GRADS))


def test_jitted_training_step_with_schedule():
    schedule = optimizers.exponential_decay(0.1, 10, 0.5)
    init, update, get_params = optimizers.adam(schedule)
    jinit, jupdate, jget_params = joptimizers.adam(joptimizers.exponential_decay(0.1, 10, 0.5))

    def loss(p, x):
        return jnp.sum((x @ p["w"] + p["b"]) ** 2) * p["s"]

    def jloss(p, x):
        return jax.numpy.sum((x @ p["w"] + p["b"]) ** 2) * p["s"]

    @nbad.jit
    def step(i, state, x):
        return update(i, nbad.grad(loss)(get_params(state), x), state)

    @jax.jit
    def jstep(i, state, x):
        return jupdate(i, jax.grad(jloss)(jget_params(state), x), state)

    state, jstate = init(PARAMS), jinit(PARAMS)
    x = RNG.standard_normal((5, 3))
    for i in range(3):
        state, jstate = step(i, state, x), jstep(i, jstate, x)
    assert_trees_close(get_params(state), jget_params(jstate))
    assert isinstance(state, optimizers.OptimizerState)


def test_schedules():
    makers = [("constant", (0.3,)), ("exponential_decay", (0.3, 5, 0.5)),
              ("inverse_time_decay", (0.3, 5, 0.5)), ("inverse_time_decay", (0.3, 5, 0.5, True)),
              ("polynomial_decay", (0.3, 5, 0.01, 2.0)),
              ("piecewise_constant", ([2, 5], [1.0, 0.5, 0.1]))]
    for name, args in makers:
        ours, theirs = getattr(optimizers, name)(*args), getattr(joptimizers, name)(*args)
        for i in (0, 2, 3, 5, 9):
            np.testing.assert_allclose(ours(i), theirs(i), rtol=1e-12)
        np.testing.assert_allclose(nbad.jit(ours)(3), theirs(3), rtol=1e-12)
    with pytest.raises(ValueError, match="one shorter"):
        optimizers.piecewise_constant([1, 2], [1.0])


def test_utilities_and_state_packing():
    np.testing.assert_allclose(optimizers.l2_norm(PARAMS), joptimizers.l2_norm(PARAMS), rtol=1e-12)
    for max_norm in (0.1, 100.0):
        assert_trees_close(optimizers.clip_grads(PARAMS, max_norm), joptimizers.clip_grads(PARAMS, max_norm))
    init, update, get_params = optimizers.momentum(0.1, 0.9)
    state = update(0, GRADS[0], init(PARAMS))
    unpacked = optimizers.unpack_optimizer_state(state)
    assert isinstance(unpacked["w"], optimizers.JoinPoint)
    repacked = optimizers.pack_optimizer_state(unpacked)
    assert_trees_close(get_params(repacked), get_params(state))
    assert repacked.tree_def == state.tree_def
    with pytest.raises(TypeError, match="did not match"):
        update(1, {"w": GRADS[0]["w"]}, state)
