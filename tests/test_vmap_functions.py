"""vmap of every function in the derivative table (tests/test_ad_functions.py),
against a loop over examples.

Each row's arguments become a batch of three examples (the row's values scaled
by 1, 1.01 and 0.99, which keeps them inside each function's domain). The map
is evaluated eagerly: its impl batches the body with the primitives' vmap rules
and runs NumPy, so this checks the batching rules on real programs (every
nbad.numpy/nn/special function) without compiling each one; the compiled path
runs the same batched equations (tests/test_vmap.py, the property test in
test_jit_random_graphs.py).
"""
import numpy as np
import pytest

from nbad import tree_util
from nbad.api_vmap import apply_vmap
from test_ad_functions import CASES

SCALES = (1.0, 1.01, 0.99)


def _batch(args):
    return [np.stack([a * s if np.asarray(a).dtype.kind == "f" else a for s in SCALES]) for a in args]


def _close(got, want):
    g_leaves, w_leaves = tree_util.tree_leaves(got), tree_util.tree_leaves(want)
    assert len(g_leaves) == len(w_leaves)
    for g, w in zip(g_leaves, w_leaves):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, g.dtype, w.shape, w.dtype)
        np.testing.assert_allclose(g, w, rtol=1e-11, atol=1e-13)


def _loop(fn, batched, mapped):
    outs = [fn(*[a[i] if m else a for a, m in zip(batched, mapped)]) for i in range(len(SCALES))]
    return tree_util.tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *outs)


@pytest.mark.parametrize("fn,args", CASES)
def test_vmap_equals_loop(fn, args):
    batched = _batch(args)
    got = apply_vmap(fn, tuple(batched), {}, 0, 0, None, "f")
    _close(got, _loop(fn, batched, [True] * len(args)))


@pytest.mark.parametrize("fn,args", [c for c in CASES if len(c.values[1]) > 1])
def test_vmap_first_argument_only(fn, args):
    batched = _batch(args[:1]) + [np.asarray(a) for a in args[1:]]
    in_axes = (0,) + (None,) * (len(args) - 1)
    got = apply_vmap(fn, tuple(batched), {}, in_axes, 0, None, "f")
    _close(got, _loop(fn, batched, [True] + [False] * (len(args) - 1)))


def _scalar_loss(fn):
    import nbad.numpy as jnp

    def loss(*args):
        outs = [o for o in tree_util.tree_leaves(fn(*args)) if jnp.asarray(o).dtype.kind in "fc"]
        return sum(jnp.sum(jnp.real(o) * jnp.real(o)) for o in outs)

    return loss


@pytest.mark.parametrize("fn,args", [c for c in CASES if np.asarray(c.values[1][0]).dtype.kind == "f"])
def test_vmap_of_grad_equals_loop(fn, args):
    """Per-example gradients: the backward pass's primitives are batched too."""
    import nbad

    g = nbad.grad(_scalar_loss(fn))
    batched = _batch(args)
    got = apply_vmap(g, tuple(batched), {}, 0, 0, None, "grad_f")
    _close(got, _loop(g, batched, [True] * len(args)))


@pytest.mark.parametrize("fn,args", CASES[::15])
def test_compiled_vmap_of_grad_equals_loop(fn, args):
    """A sample of the table compiled (jit of vmap of grad): the map lowered to
    batched equations, fused and run by Numba, as a user's program is. (All
    rows pass compiled too; a sample keeps the suite's compile time small.)"""
    import nbad

    g = nbad.grad(_scalar_loss(fn)) if np.asarray(args[0]).dtype.kind == "f" else fn
    batched = _batch(args)
    _close(nbad.jit(nbad.vmap(g))(*batched), _loop(g, batched, [True] * len(args)))
