"""Rerolling Python loops whose copies differ in a literal (transforms/reroll.py):
a per-step constant computed in Python (np.sin(0.1 * t), the loop index) becomes
a scan xs, an array of its values in every copy, so the IR of T = 10, 100 and
1000 steps has the same number of equations and evaluates as the unrolled IR
does, bit for bit (the same operations in the same order)."""
import numpy as np
import pytest

import nbad
import nbad.numpy as jnp
from nbad.core.trace import eval_ir
from nbad.rules.scan import scan_p
from nbad.transforms.reroll import reroll

rng = np.random.default_rng(3)
A = rng.standard_normal((4, 4)) * 0.4
X0 = rng.standard_normal(4)


def forced(xp, x, steps):
    for t in range(steps):
        x = xp.tanh(A @ x + np.sin(0.1 * t))
    return x


def nested(xp, x, outer, inner):
    for i in range(outer):
        for t in range(inner):
            x = xp.tanh(A @ x + np.cos(0.3 * t))
        x = x * (1.0 + 0.1 * i)
    return x


def scans(ir):
    return [eq for eq in ir.equations if eq.primitive is scan_p]


def rerolled(fn, *args):
    """(unrolled IR, rerolled IR) of fn(jnp, x, *args) at X0; asserts they evaluate bit for bit alike."""
    ir = nbad.make_ir(lambda x: fn(jnp, x, *args))(X0)
    rolled = reroll(ir)
    np.testing.assert_array_equal(np.asarray(eval_ir(rolled, [X0])[0]), np.asarray(eval_ir(ir, [X0])[0]))
    np.testing.assert_allclose(np.asarray(eval_ir(rolled, [X0])[0]), fn(np, X0, *args), rtol=1e-12)
    return ir, rolled


def test_per_step_constant_is_an_xs_and_the_ir_does_not_grow_with_t():
    sizes = []
    for steps in (10, 100, 1000):
        ir, rolled = rerolled(forced, steps)
        assert len(ir.equations) >= 3 * steps - 1
        (loop,) = scans(rolled)
        assert loop.params["num_xs"] == 1
        # the xs is a constant array of the per-step values (the first step, sin(0) = 0, is peeled)
        (table,) = [c for v, c in zip(rolled.constvars, rolled.consts) if v.aval.shape == (loop.params["length"],)]
        np.testing.assert_array_equal(table, np.sin(0.1 * np.arange(steps - loop.params["length"], steps)))
        sizes.append(len(rolled.equations))
    assert sizes[0] == sizes[1] == sizes[2] <= 4


def test_per_step_constants_of_a_nested_loop_pass_through_the_outer_loop():
    for outer in (4, 8):
        _, rolled = rerolled(nested, outer, 6)
        # the first outer step (x * 1.0, simplified away) is peeled: its inner loop comes first
        first, loop = scans(rolled)
        assert loop.params["length"] == outer - 1
        (inner,) = scans(loop.params["body"])
        assert inner.params["num_xs"] == 1 and loop.params["num_xs"] == 1  # cos(0.3 t); 1 + 0.1 i
        assert first.params["num_xs"] == 1


def test_per_step_constant_keeps_the_carry_dtype():
    x, A32 = X0.astype(np.float32), A.astype(np.float32)

    def forced32(x):
        for t in range(20):
            x = jnp.tanh(A32 @ x + float(np.sin(0.1 * t)))  # a Python float: weakly typed
        return x

    ir = nbad.make_ir(forced32)(x)
    rolled = reroll(ir)
    assert scans(rolled)
    got = eval_ir(rolled, [x])[0]
    assert np.asarray(got).dtype == np.float32
    np.testing.assert_array_equal(np.asarray(got), np.asarray(eval_ir(ir, [x])[0]))


def loss(x, steps):
    return jnp.sum(forced(jnp, x, steps) ** 2)


_jit_grad = nbad.jit(nbad.value_and_grad(loss), static_argnums=1)


@pytest.mark.parametrize("steps", [30, 300])
def test_jit_of_grad_through_per_step_constants(steps):
    lowered = _jit_grad.lower(X0, steps)
    assert len(scans(lowered.ir)) == 2  # the forward loop and the backward loop
    assert len(lowered.ir.equations) < 60
    value, grad = _jit_grad(X0, steps)
    want_value, want_grad = nbad.value_and_grad(loss)(X0, steps)  # eager: every step unrolled
    np.testing.assert_allclose(float(value), float(want_value), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(grad), np.asarray(want_grad), rtol=1e-10, atol=1e-14)
