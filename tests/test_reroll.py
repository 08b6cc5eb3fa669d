"""Loop rerolling (transforms/reroll.py), the `loop` primitive (rules/loop.py)
and its compilation (backends/cpu/loops.py).

A Python loop traced inside nbad.jit reaches the IR as N copies of its body;
reroll folds them back into one `loop` equation. Every test runs the same
Python loop eagerly with NumPy and compares; the IR (`jit(f).lower(...).ir`)
is checked where the structure matters (a loop was or was not formed, its
length and number of carries). Pure structure/semantics checks of the pass use
`nbad.make_ir` + `reroll` + `eval_ir` (no Numba compilation: fast).

Most functions are written once against an array namespace `xp` and run with
`xp=nbad.numpy` under jit and `xp=numpy` for the reference.
"""
import functools
import re
import threading

import numpy as np
import pytest

import nbad
import nbad.numpy as jnp
from nbad.core.avals import ShapedArray
from nbad.core.trace import eval_ir, trace_to_ir
from nbad.rules.scan import run_scan as expand_loop, scan_p as loop_p
from nbad.test_util import check_grads, check_rule
from nbad.transforms.reroll import FUSED_UNROLL_MAX, MIN_TRIPS, reroll

rng = np.random.default_rng(1234)

N = 6
A = rng.standard_normal((N, N)) * 0.3          # a contraction-ish matrix: iterates stay bounded
X0 = rng.standard_normal(N)
V0 = rng.standard_normal(N)


# -- helpers ----------------------------------------------------------------------------

def assert_close(actual, expected, rtol=1e-12):
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    if expected.dtype.kind in "fc":
        scale = float(np.max(np.abs(expected))) if expected.size else 0.0
        np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * 0.1 * scale)
    else:
        np.testing.assert_array_equal(actual, expected)


def assert_all_close(actual, expected, rtol=1e-12):
    if not isinstance(expected, (tuple, list)):
        actual, expected = [actual], [expected]
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        assert_close(a, e, rtol)


def loop_eqs(ir):
    """The loop equations at the top level of `ir`."""
    return [eq for eq in ir.equations if eq.primitive is loop_p]


def loop_shape(ir):
    """[(length, num_carry, nested shape of the body)] for every loop of `ir`, recursively."""
    return [(eq.params["length"], eq.params["num_carry"], loop_shape(eq.params["body"]))
            for eq in loop_eqs(ir)]


def loop_runners(lowered):
    """For each top-level loop, in program order: True if it runs as a native (Numba)
    loop, False if its body is called from a Python loop."""
    namespace = lowered.compile().program.namespace
    names = sorted((k for k in namespace if re.fullmatch(r"_scan\d+", k)), key=lambda k: int(k[5:]))
    return [hasattr(namespace[k], "source") for k in names]


def native_source(lowered):
    namespace = lowered.compile().program.namespace
    (name,) = [k for k in namespace if re.fullmatch(r"_scan\d+", k)]
    return namespace[name].source


def both(fn, *args, rtol=1e-12):
    """jit(fn(jnp, ...)) and fn(np, ...) on `args`: asserts equal, returns the lowering."""
    jf = nbad.jit(lambda *a: fn(jnp, *a))
    copies = [np.array(a, copy=True) for a in args]
    got = jf(*args)
    with np.errstate(all="ignore"):
        want = fn(np, *copies)
    assert_all_close(got, want, rtol)
    for a, c in zip(args, copies):  # inputs are left as they were
        np.testing.assert_array_equal(np.asarray(a), c)
    return jf.lower(*args)


def reroll_only(fn, *args, rtol=1e-12):
    """reroll of fn(jnp, ...)'s IR (from nbad.make_ir, simplified), evaluated by the
    primitives' NumPy impls (no compilation): asserts it equals fn(np, ...)."""
    ir = reroll(nbad.make_ir(lambda *a: fn(jnp, *a))(*args))
    want = fn(np, *args)
    assert_all_close(eval_ir(ir, list(args)), list(want) if isinstance(want, tuple) else [want], rtol)
    return ir


# -- 1. the linear-regression fit ----------------------------------------------------------

def lin_loss(w, X, y):
    r = X @ w - y
    return jnp.mean(r * r)


def lin_fit(w, X, y, steps, lr=0.05):
    g = nbad.grad(lin_loss)
    for _ in range(steps):
        w = w - lr * g(w, X, y)
    return w


def lin_fit_numpy(w, X, y, steps, lr=0.05):
    for _ in range(steps):
        w = w - lr * (2.0 / X.shape[0]) * (X.T @ (X @ w - y))
    return w


LX = rng.standard_normal((40, 5))
LY = LX @ rng.standard_normal(5) + 0.1 * rng.standard_normal(40)


@pytest.mark.parametrize("steps,length", [(2, None), (3, 3), (60, 60)])
def test_linreg_fit_becomes_one_loop(steps, length):
    w0 = np.zeros(5)
    f = nbad.jit(lin_fit, static_argnums=3)
    assert_close(f(w0, LX, LY, steps), lin_fit_numpy(w0, LX, LY, steps))
    lowered = f.lower(w0, LX, LY, steps)
    if length is None:  # below MIN_TRIPS: straight-line
        assert steps < MIN_TRIPS
        assert loop_shape(lowered.ir) == []
    else:
        assert loop_shape(lowered.ir) == [(length, 1, [])]
        (eq,) = loop_eqs(lowered.ir)
        assert len(eq.outputs) == 1 and len(lowered.ir.equations) == 1
        assert loop_runners(lowered) == [True]  # dot products and kernels: native
        assert "for it in range(length)" in native_source(lowered)


# -- 2. several carries, swaps, pass-through, scalars, dtypes --------------------------------

def physics(xp, x, v, A):
    for _ in range(10):
        a = A @ x
        x, v = x + 0.1 * v, v - 0.1 * a
    return x, v, xp.sum(x * v)


def test_two_carries_physics_integrator():
    lowered = both(physics, X0, V0, A)
    assert loop_shape(lowered.ir) == [(10, 2, [])]


def swapping(xp, a, b, A):
    for _ in range(8):
        a, b = b, a + xp.tanh(A @ b)
    return a, b


def test_carries_swapping_places():
    lowered = both(swapping, X0, V0, A)
    # each copy reads the value of the copy two before it: rerolled as pairs of iterations
    assert loop_shape(lowered.ir) == [(4, 2, [])]


def three_term(xp, a, b, c, A):
    for _ in range(9):
        a, b, c = b, c, xp.tanh(A @ (a + b + c))
    return a, b, c


def test_three_term_recurrence():
    ir = reroll_only(three_term, X0, V0, X0 * V0, A)
    assert loop_shape(ir) == [(3, 3, [])]   # 3 iterations per trip


def pass_through(xp, a, b, A):
    for _ in range(8):
        a, b = a, xp.tanh(A @ b) + a
    return a, b


def test_carry_passed_through_unchanged():
    lowered = both(pass_through, X0, V0, A)
    # `a` never changes: it is an invariant, not a carry
    assert loop_shape(lowered.ir) == [(8, 1, [])]


def scalar_carry(xp, s, x, A):
    for _ in range(8):
        x = A @ x
        s = s * 0.5 + xp.sum(x)
    return s, x


def test_scalar_carry():
    lowered = both(scalar_carry, np.float64(1.5), X0, A)
    assert loop_shape(lowered.ir) == [(8, 2, [])]
    (eq,) = loop_eqs(lowered.ir)
    assert sorted(v.aval.shape for v in eq.outputs) == [(), (N,)]


def scalar_literal_init(xp, x, A):
    s = 0.0                       # the first iteration reads a literal, the others the carry
    for _ in range(6):
        x = xp.tanh(A @ x)
        s = s + xp.sum(x)
    return s, x


def test_carry_initialized_by_a_literal():
    lowered = both(scalar_literal_init, X0, A)
    assert sum(length for length, _, _ in loop_shape(lowered.ir)) >= MIN_TRIPS


def int_loop(xp, k, M):
    for _ in range(6):
        k = M @ k + 3
    return k


def test_integer_carry_matvec():
    M = rng.integers(-2, 3, (5, 5))
    k = rng.integers(-3, 4, 5)
    lowered = both(int_loop, k, M)
    assert loop_shape(lowered.ir) == [(6, 1, [])]


def int8_loop(xp, k):
    for _ in range(7):
        k = k * k + xp.sum(k).astype(k.dtype)  # stays int8 and wraps around like NumPy
    return k


def test_int8_wraps_around():
    k = np.array([3, -5, 7, 100], dtype=np.int8)
    with np.errstate(over="ignore"):
        lowered = both(int8_loop, k)
    assert loop_shape(lowered.ir) == [(7, 1, [])]


def bool_loop(xp, b, x, A):
    for _ in range(6):
        x = A @ x
        b = b | (x > 0.1)
    return b, x


def test_bool_carry():
    lowered = both(bool_loop, np.zeros(N, bool), X0, A)
    assert loop_shape(lowered.ir) == [(6, 2, [])]


def f32_loop(xp, x, A):
    for _ in range(8):
        x = xp.tanh(A @ x) * 0.5 + x
    return x


def test_float32_stays_float32():
    x, M = X0.astype(np.float32), A.astype(np.float32)
    lowered = both(f32_loop, x, M, rtol=2e-6)
    assert loop_shape(lowered.ir) == [(8, 1, [])]
    assert lowered.ir.outputs[0].aval.dtype == np.float32


def complex_loop(xp, z, M):
    for _ in range(6):
        z = (M @ z) * (0.5 + 0.5j) + xp.sum(z) * 0.01
    return z


def empty_loop(xp, x, s):
    for _ in range(5):
        s = s + xp.sum(xp.tanh(x))
        x = x * 0.5 + s
    return x, s


@pytest.mark.parametrize("case", ["complex", "empty"])
def test_complex_and_empty_carries(case):
    if case == "complex":
        lowered = both(complex_loop, X0 + 1j * V0, (A + 1j * A.T).astype(np.complex128))
        assert loop_shape(lowered.ir) == [(6, 1, [])]
    else:
        lowered = both(empty_loop, np.zeros((0, 3)), np.float64(1.0))
        assert loop_shape(lowered.ir) == [(5, 2, [])]
    assert loop_runners(lowered) == [True]


def next_carry_invariant(xp, x, y, A, v):
    for _ in range(6):
        y = y + xp.sum(xp.tanh(x))
        x = A @ v                 # the next value of the carry `x` reads no carry
    return x, y


def test_next_carry_computed_from_invariants_only():
    lowered = both(next_carry_invariant, X0, np.float64(0.5), A, V0)
    assert loop_shape(lowered.ir) == [(6, 2, [])]


def init_is_invariant(xp, x, A):
    x0 = x
    for _ in range(6):
        x = xp.tanh(A @ x) + 0.5 * x0   # the carry's initial value is also an invariant
    return x


def test_carry_init_also_read_as_invariant():
    lowered = both(init_is_invariant, X0, A)
    assert loop_shape(lowered.ir) == [(6, 1, [])]


def reset_to_constant(xp, x, A):
    acc = x
    for _ in range(6):
        out = xp.tanh(A @ acc)
        acc = xp.ones(N) * 0.5        # the carry's next value is a constant
    return out, acc


def constant_extras(xp, x, A):
    s = xp.zeros(N)
    for _ in range(6):
        x = xp.tanh(A @ x)
        s = s + x
        c = xp.ones(N) * 2.0          # read after the loop, computed from no carry
    return x, s, c


def carry_moves(xp, a, b, A):
    for _ in range(6):
        a, b = xp.tanh(A @ b), a * 1.0   # simplified: b's next value is a's previous value
    return a, b


# reset_to_constant: only the last iteration's tanh is live (dead code goes before rerolling)
@pytest.mark.parametrize("fn,shape", [(reset_to_constant, []),
                                      (constant_extras, [(6, 2, [])]),
                                      (carry_moves, [(6, 2, [])])])
def test_carries_and_extras_that_are_constants_or_inputs(fn, shape):
    args = (X0, V0, A) if fn is carry_moves else (X0, A)
    lowered = both(fn, *args)
    assert loop_shape(lowered.ir) == shape
    assert loop_runners(lowered) == [True] * len(shape)


# -- 3./4. values read after the loop --------------------------------------------------------

def with_extras(xp, x, A):
    for _ in range(8):
        g = A @ x
        loss = xp.sum(g * g)
        x = x - 0.1 * g
    return x, g, loss


def test_last_iteration_values_read_after_the_loop():
    lowered = both(with_extras, X0, A)
    (eq,) = loop_eqs(lowered.ir)
    # only the last iteration computes the loss (dead code goes before rerolling), so
    # it stays outside the loop and computes g too: the loop is 7 copies, carry only
    assert (eq.params["length"], eq.params["num_carry"]) == (7, 1)
    assert len(eq.outputs) == 1


def all_iterates(xp, x, A):
    xs = []
    for _ in range(7):
        x = xp.tanh(A @ x)
        xs.append(x)
    return xp.stack(xs)


def test_every_iterate_read_after_the_loop_is_not_rerolled():
    lowered = both(all_iterates, X0, A)
    assert loop_shape(lowered.ir) == []


def keep_one(xp, x, A):
    for i in range(9):
        x = xp.tanh(A @ x)
        if i == 3:
            kept = x
    prev = None
    for _ in range(5):
        prev = x
        x = xp.tanh(A @ x) * 0.5
    return x, kept, x - prev


def test_earlier_iterations_read_after_the_loop_shorten_it():
    ir = reroll_only(keep_one, X0, A)
    # iterations 0-3 (the last one kept), 4-8, then 4 of the second loop: its last
    # iteration stays unrolled, since its input (`prev`) is read after the loop
    assert loop_shape(ir) == [(4, 1, []), (5, 1, []), (4, 1, [])]


def keep_first(xp, x, A):
    for i in range(10):
        x = xp.tanh(A @ x)
        if i == 0:
            first = x
    return x, first


def test_first_iterate_read_after_the_loop():
    both(keep_first, X0, A)


def test_first_iterate_read_after_the_loop_leaves_the_rest_a_loop():
    ir = reroll(nbad.make_ir(lambda x: keep_first(jnp, x, A))(X0))
    assert_all_close(eval_ir(ir, [X0]), keep_first(np, X0, A))
    assert sum(length for length, _, _ in loop_shape(ir)) >= 8


# -- 5./6. copies that differ ---------------------------------------------------------------

def one_differs(xp, x, A):
    for i in range(10):
        x = xp.sin(A @ x) if i == 5 else xp.tanh(A @ x)
    return x


def test_one_iteration_differs():
    lowered = both(one_differs, X0, A)
    assert [(length, carry) for length, carry, _ in loop_shape(lowered.ir)] == [(5, 1), (4, 1)]


def index_literal(xp, x, A):
    for i in range(8):
        x = xp.tanh(A @ x) * (i + 1)
    return x


def test_loop_index_as_literal_becomes_a_per_step_constant():
    lowered = both(index_literal, X0, A)
    assert loop_shape(lowered.ir) == [(8, 1, [])]   # every copy's literal: an xs of constants
    (eq,) = loop_eqs(lowered.ir)
    assert eq.params["num_xs"] == 1


def signed_zero(xp, x, A):
    for i in range(6):
        x = xp.tanh(A @ x) * (-0.0 if i == 5 else 0.0)
    return 1.0 / x


def test_signed_zero_literals_are_different():
    both(signed_zero, X0, A)


# -- 7. elementwise-only bodies ---------------------------------------------------------------

def ew_step(xp, x, n):
    for _ in range(n):
        x = xp.tanh(x) * 0.5 + x
    return x


def test_short_elementwise_loop_stays_unrolled_and_fuses():
    lowered = both(lambda xp, x: ew_step(xp, x, 10), X0)
    assert loop_shape(lowered.ir) == []
    assert len(lowered.plan.steps) == 1   # one fused kernel


def test_long_elementwise_loop_becomes_a_loop():
    lowered = both(lambda xp, x: ew_step(xp, x, 300), X0)
    assert loop_shape(lowered.ir) == [(300, 1, [])]
    assert loop_runners(lowered) == [True]


def test_reroll_leaves_programs_without_repetition_alone():
    ir = nbad.make_ir(lambda x: jnp.sum(jnp.tanh(A @ jnp.sin(x)) * jnp.exp(x)))(X0)
    assert reroll(ir) is ir
    short = nbad.make_ir(lambda x: ew_step(jnp, jnp.sin(x), 2))(X0)
    assert reroll(short) is short


def test_elementwise_unroll_threshold():
    # the body is 3 equations (tanh, mul, add): trips * 3 <= FUSED_UNROLL_MAX stays unrolled
    below = FUSED_UNROLL_MAX // 3
    for trips, expected in ((below, []), (below + 1, [(below + 1, 1, [])])):
        ir = nbad.make_ir(lambda x: ew_step(jnp, x, trips))(X0)
        rerolled = reroll(ir)
        assert loop_shape(rerolled) == expected
        assert_close(eval_ir(rerolled, [X0])[0], ew_step(np, X0, trips))


# -- 8./9. nested loops and loops in sequence ---------------------------------------------------

def nested(xp, x, A):
    for _ in range(4):
        for _ in range(5):
            x = xp.tanh(A @ x)
        x = x * 0.5 + xp.sum(x)
    return x


def test_nested_loops():
    lowered = both(nested, X0, A)
    assert loop_shape(lowered.ir) == [(4, 1, [(5, 1, [])])]
    assert loop_runners(lowered) == [True]
    assert "(5, " in native_source(lowered)  # the inner loop: a nested native loop


def nested_two_carries(xp, x, s, A):
    for _ in range(4):
        for _ in range(5):
            x = xp.tanh(A @ x) + 0.01 * s
            s = s + xp.sum(x)
        x = x * 0.5
        s = s * 0.1
    return x, s


def test_nested_loops_with_two_carries():
    lowered = both(nested_two_carries, X0, np.float64(0.3), A)
    assert loop_shape(lowered.ir) == [(4, 2, [(5, 2, [])])]
    assert loop_runners(lowered) == [True]


def two_loops(xp, x, A):
    for _ in range(6):
        x = xp.tanh(A @ x)
    y = x * 2.0
    for _ in range(5):
        y = A.T @ y - 0.1 * xp.sum(y)
    return x, y


def test_two_loops_in_sequence():
    lowered = both(two_loops, X0, A)
    assert sorted(loop_shape(lowered.ir)) == [(5, 1, []), (6, 1, [])]


# -- 10./11. the Python-loop fallback -----------------------------------------------------------

IDX = np.array([3, 0, 5, 1, 1, 2])


def gather_body(xp, x, A, idx):
    for _ in range(6):
        x = xp.tanh(A @ x)[idx] + 0.1 * x
    return x


def solve_body(xp, x, A):
    M = A + 3.0 * xp.eye(N)
    for _ in range(5):
        x = xp.linalg.solve(M, x) + 0.5 * x
    return x


def gather_sum_body(xp, x, A, idx):
    s = xp.zeros(N)               # a constant computed once by the program: the initial carry
    for _ in range(6):
        g = xp.tanh(A @ x)
        x = g[idx] + 0.1 * x
        s = s + x
    return s, x, g, xp.sum(g)     # g: an extra of the fallback loop


def slogdet_body(xp, M):
    for _ in range(5):
        sign, logdet = xp.linalg.slogdet(M)   # a step with two results, both read
        M = M * 0.9 + sign * logdet * 0.01
    return M


@pytest.mark.parametrize("case", ["gather", "solve", "gather_sum", "slogdet"])
def test_unsupported_step_falls_back_to_a_python_loop(case):
    if case == "gather":
        lowered, shape = both(gather_body, X0, A, IDX), [(6, 1, [])]
    elif case == "solve":
        lowered, shape = both(solve_body, X0, A), [(5, 1, [])]
    elif case == "gather_sum":
        lowered, shape = both(gather_sum_body, X0, A, IDX), [(6, 3, [])]  # the sum read after the loop is a carry
    else:
        lowered, shape = both(slogdet_body, A + 2.0 * np.eye(N)), [(5, 1, [])]
    assert loop_shape(lowered.ir) == shape
    assert loop_runners(lowered) == [False]


def nested_gather(xp, x, A, idx):
    for _ in range(3):
        for _ in range(4):
            x = xp.tanh(A @ x)[idx]
        x = x * 0.5 + xp.sum(x)
    return x


def test_nested_loop_with_an_unsupported_inner_step():
    lowered = both(nested_gather, X0, A, IDX)
    assert loop_shape(lowered.ir) == [(3, 1, [(4, 1, [])])]
    assert loop_runners(lowered) == [False]


def big_body(xp, x):
    for _ in range(4):
        x = xp.tanh(x) * 0.5 + x * 0.25 - xp.mean(x)
    return x


def test_body_worth_splitting_across_threads_falls_back():
    from nbad.backends.cpu import calls

    x = rng.standard_normal(3_000_000)
    assert x.size * 2 >= calls.PARALLEL_MIN_WORK
    old = nbad.config.num_threads
    nbad.config.update("num_threads", 2)
    try:
        lowered = both(big_body, x, rtol=1e-11)
        assert loop_shape(lowered.ir) == [(4, 1, [])]
        assert loop_runners(lowered) == [False]
        f = nbad.jit(lambda x: big_body(jnp, x))
        first = f(x)
        kept = np.array(first)
        for _ in range(2):   # later calls recycle large buffers, but not one still held
            assert_close(f(x), kept)
        np.testing.assert_array_equal(first, kept)
    finally:
        nbad.config.update("num_threads", old)


# -- 12. the loop primitive's rules -------------------------------------------------------------

def prim_body(x, s, M):
    y = jnp.tanh(M @ x) + 0.1 * s
    return [y, s + jnp.sum(y * y), jnp.sum(y)]   # carries x, s; ys: sum(y) of every step


def prim_params(length=4):
    avals = [ShapedArray((N,), np.float64), ShapedArray((), np.float64), ShapedArray((N, N), np.float64)]
    body = trace_to_ir(prim_body, avals, name="loop_body")
    return {"body": body, "length": length, "num_carry": 2, "num_xs": 0, "reverse": False}


def prim_numpy(x, s, M, length=4):
    es = []
    for _ in range(length):
        y = np.tanh(M @ x) + 0.1 * s
        x, s = y, s + np.sum(y * y)
        es.append(np.sum(y))
    return [x, s, np.array(es)]


def test_loop_primitive_impl_and_abstract_eval():
    params = prim_params()
    args = [X0, np.float64(0.3), A]
    got = loop_p.impl(*args, **params)
    assert_all_close(got, prim_numpy(*args))
    assert_all_close(expand_loop(args, **params), prim_numpy(*args))
    avals = loop_p.abstract_eval(*[ShapedArray(np.shape(a), np.float64) for a in args], **params)
    assert [(a.shape, a.dtype) for a in avals] == [((N,), np.float64), ((), np.float64), ((4,), np.float64)]


def test_loop_primitive_rules_against_finite_differences():
    params = prim_params(length=3)
    args = [X0, np.float64(0.3), A]
    check_rule(loop_p, args, params)

    def f(x, s, M):
        return loop_p.bind(x, s, M, **params)

    check_grads(f, (X0, 0.3, A), order=1)


def test_loop_primitive_vmap():
    params = prim_params()
    xs = rng.standard_normal((3, N))
    Ms = rng.standard_normal((3, N, N)) * 0.3
    s = np.float64(0.2)

    def f(x, s, M):
        return loop_p.bind(x, s, M, **params)

    got = nbad.vmap(f, in_axes=(0, None, 0))(xs, s, Ms)
    want = [prim_numpy(xs[i], s, Ms[i]) for i in range(3)]
    for k in range(3):
        assert_close(got[k], np.stack([np.asarray(w[k]) for w in want]))
    # batched carry, shared matrix, under jit (the batching rule unrolls the loop)
    jv = nbad.jit(nbad.vmap(f, in_axes=(0, None, None)))
    got = jv(xs, s, A)
    want = [prim_numpy(xs[i], s, A) for i in range(3)]
    for k in range(3):
        assert_close(got[k], np.stack([np.asarray(w[k]) for w in want]))


def test_reroll_builds_a_loop_whose_rules_hold():
    def f(x, s, M):
        for _ in range(5):
            y = jnp.tanh(M @ x) + 0.1 * s
            x, s = y, s + jnp.sum(y * y)
        return x, s

    args = [X0, np.float64(0.3), A]
    ir = nbad.make_ir(f)(*args)
    rerolled = reroll(ir)
    (eq,) = loop_eqs(rerolled)
    assert (eq.params["length"], eq.params["num_carry"]) == (5, 2)
    positions = [[v.id for v in rerolled.inputs].index(a.id) for a in eq.inputs]
    operands = [args[p] for p in positions]
    want = prim_numpy(*args, length=5)[:2]
    assert_all_close(eval_ir(rerolled, args), want)
    assert_all_close(loop_p.impl(*operands, **eq.params), want)
    params = dict(eq.params)

    def g(*xs):
        return loop_p.bind(*xs, **params)

    check_grads(g, tuple(operands), order=1)


def tanh_chain(xp, x, A):
    for _ in range(5):
        x = xp.tanh(A @ x) + 0.1 * x
    return xp.sum(x * x)


def test_jit_of_grad_of_a_python_loop():
    g = nbad.jit(nbad.grad(lambda x, A: tanh_chain(jnp, x, A), argnums=(0, 1)))
    gx, gA = g(X0, A)
    ex, eA = nbad.grad(lambda x, A: tanh_chain(jnp, x, A), argnums=(0, 1))(X0, A)
    assert_close(gx, np.asarray(ex))
    assert_close(gA, np.asarray(eA))
    # central differences of the NumPy loop
    eps = 1e-6
    num = np.array([(tanh_chain(np, X0 + eps * e, A) - tanh_chain(np, X0 - eps * e, A)) / (2 * eps)
                    for e in np.eye(N)])
    np.testing.assert_allclose(gx, num, rtol=1e-6, atol=1e-8)
    # the gradient of the linear-regression fit
    w0 = np.zeros(5)
    gl = nbad.jit(nbad.grad(lambda w: jnp.sum(lin_fit(w, LX, LY, 20) ** 2)))
    num = np.array([(np.sum(lin_fit_numpy(w0 + eps * e, LX, LY, 20) ** 2)
                     - np.sum(lin_fit_numpy(w0 - eps * e, LX, LY, 20) ** 2)) / (2 * eps)
                    for e in np.eye(5)])
    np.testing.assert_allclose(gl(w0), num, rtol=1e-6, atol=1e-9)
    check_grads(lambda w: lin_fit(w, LX, LY, 4), (w0 + 0.1,), order=2)


def test_jit_of_jvp_and_vmap_of_a_python_loop():
    def f(x):
        return f32_loop(jnp, x, A)

    p, t = nbad.jit(lambda x, t: nbad.jvp(f, (x,), (t,)))(X0, V0)
    ep, et = nbad.jvp(f, (X0,), (V0,))
    assert_close(p, f32_loop(np, X0, A))
    assert_close(p, np.asarray(ep))
    assert_close(t, np.asarray(et))
    xs = rng.standard_normal((3, N))
    got = nbad.jit(nbad.vmap(f))(xs)
    assert_close(got, np.stack([f32_loop(np, x, A) for x in xs]))


def test_jit_of_vmap_of_a_python_loop_is_rerolled():
    xs = rng.standard_normal((3, N))
    lowered = nbad.jit(nbad.vmap(lambda x: f32_loop(jnp, x, A))).lower(xs)
    assert loop_shape(lowered.plan.ir)  # rerolled when lowering expands the map


def test_jit_of_grad_of_a_linear_loop_is_rerolled():
    w0 = np.zeros(5)
    loss = lambda w: jnp.sum(lin_fit(w, LX, LY, 20) ** 2)  # noqa: E731
    gl = nbad.jit(nbad.grad(loss))
    assert loop_shape(gl.lower(w0).ir)
    w1 = rng.standard_normal(5)
    assert_all_close(gl(w1), nbad.grad(loss)(w1))  # compiled (rerolled) == eager


# -- 13. repeated and concurrent calls ----------------------------------------------------------

@pytest.mark.parametrize("case", ["native", "fallback"])
def test_calls_are_repeatable_thread_safe_and_pure(case):
    if case == "native":
        f, args = nbad.jit(lambda x, v, A: physics(jnp, x, v, A)), (X0.copy(), V0.copy(), A.copy())
        want = physics(np, X0, V0, A)
    else:
        f, args = nbad.jit(lambda x, A, i: gather_body(jnp, x, A, i)), (X0.copy(), A.copy(), IDX.copy())
        want = gather_body(np, X0, A, IDX)
    copies = [a.copy() for a in args]
    first = f(*args)
    assert_all_close(first, want)
    assert_all_close(f(*args), want)
    results, errors = [], []

    def work():
        try:
            for _ in range(50):
                results.append(f(*args))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(results) == 100
    for r in results:
        assert_all_close(r, want)
    for a, c in zip(args, copies):
        np.testing.assert_array_equal(a, c)


def test_strided_and_read_only_inputs():
    f = nbad.jit(lambda x, M: f32_loop(jnp, x, M))
    M = np.ascontiguousarray(A.T).T          # Fortran order
    x = np.repeat(X0, 2)[::2]               # strided view
    x.flags.writeable = False
    assert_close(f(x, M), f32_loop(np, X0, A))
    assert loop_shape(f.lower(x, M).ir) == [(8, 1, [])]


# every Python-loop function of this file, rerolled and evaluated without compiling
EVAL_CASES = {
    "physics": lambda: (physics, X0, V0, A),
    "swapping": lambda: (swapping, X0, V0, A),
    "pass_through": lambda: (pass_through, X0, V0, A),
    "scalar_carry": lambda: (scalar_carry, np.float64(1.5), X0, A),
    "scalar_literal_init": lambda: (scalar_literal_init, X0, A),
    "int_loop": lambda: (int_loop, np.arange(-2, 3), np.arange(25).reshape(5, 5) % 5 - 2),
    "bool_loop": lambda: (bool_loop, np.zeros(N, bool), X0, A),
    "next_carry_invariant": lambda: (next_carry_invariant, X0, np.float64(0.5), A, V0),
    "init_is_invariant": lambda: (init_is_invariant, X0, A),
    "reset_to_constant": lambda: (reset_to_constant, X0, A),
    "constant_extras": lambda: (constant_extras, X0, A),
    "carry_moves": lambda: (carry_moves, X0, V0, A),
    "with_extras": lambda: (with_extras, X0, A),
    "all_iterates": lambda: (all_iterates, X0, A),
    "keep_first": lambda: (keep_first, X0, A),
    "one_differs": lambda: (one_differs, X0, A),
    "index_literal": lambda: (index_literal, X0, A),
    "nested": lambda: (nested, X0, A),
    "nested_two_carries": lambda: (nested_two_carries, X0, np.float64(0.3), A),
    "two_loops": lambda: (two_loops, X0, A),
    "gather_sum": lambda: (gather_sum_body, X0, A, IDX),
    "solve": lambda: (solve_body, X0, A),
    "slogdet": lambda: (slogdet_body, A + 2.0 * np.eye(N)),
    "nested_gather": lambda: (nested_gather, X0, A, IDX),
    "tanh_chain": lambda: (tanh_chain, X0, A),
    "complex": lambda: (complex_loop, X0 + 1j * V0, (A + 1j * A.T).astype(np.complex128)),
    "empty": lambda: (empty_loop, np.zeros((0, 3)), np.float64(1.0)),
    "uint8": lambda: (int8_loop, np.array([1, 2, 250], np.uint8)),
}


@pytest.mark.parametrize("name", sorted(EVAL_CASES))
def test_reroll_then_evaluate(name):
    fn, *args = EVAL_CASES[name]()
    reroll_only(fn, *args)


# -- 14. random loop bodies ------------------------------------------------------------------

B = rng.standard_normal((4, 4)) * 0.3
C = rng.standard_normal((4, 4)) * 0.4


def _op(name, c):
    """One step of a random body on the state (X: 4x4, v: 4)."""
    def step(xp, X, v):
        if name == "matvec":
            return X, xp.tanh(X @ v) * c
        if name == "matmul":
            return (C @ X) * c, v
        if name == "tanh":
            return xp.tanh(X), v
        if name == "add":
            return X + B, v
        if name == "mul":
            return X * c, v
        if name == "sum0":
            return X, v * c + xp.sum(X, axis=0) * 0.1
        if name == "sum1":
            return X - xp.reshape(xp.sum(X, axis=1), (4, 1)) * 0.2, v
        if name == "transpose":
            return xp.transpose(X) * c + X * 0.5, v
        if name == "reshape":
            return xp.reshape(xp.transpose(xp.reshape(X, (2, 8))), (4, 4)) + 0.1 * X, v
        raise AssertionError(name)
    return step


OPS = ["matvec", "matmul", "tanh", "add", "mul", "sum0", "sum1", "transpose", "reshape"]


def random_program(seed):
    """(fn(xp, X, v), number of Python-loop iterations, steps per iteration)."""
    r = np.random.default_rng(seed)
    body = [_op(str(r.choice(OPS)), float(np.round(r.uniform(0.3, 0.9), 3)))
            for _ in range(int(r.integers(1, 5)))]
    trips = int(r.integers(1, 8))

    def fn(xp, X, v):
        for _ in range(trips):
            for step in body:
                X, v = step(xp, X, v)
        return X, v

    return fn, trips, len(body)


X44 = rng.standard_normal((4, 4))
V4 = rng.standard_normal(4)


@pytest.mark.parametrize("seed", range(40))
def test_random_bodies_reroll_preserves_semantics(seed):
    """reroll alone, evaluated by the NumPy impls (no compilation)."""
    fn, trips, steps = random_program(seed)
    ir = nbad.make_ir(lambda X, v: fn(jnp, X, v))(X44, V4)
    rerolled = reroll(ir)
    for length, _, _ in loop_shape(rerolled):   # a repeated step may loop on its own
        assert MIN_TRIPS <= length <= trips * steps
    assert_all_close(eval_ir(rerolled, [X44, V4]), fn(np, X44, V4))


@pytest.mark.parametrize("seed", [0, 3, 7])
def test_random_bodies_compiled(seed):
    fn, trips, steps = random_program(seed)
    lowered = both(fn, X44, V4)
    for length, _, _ in loop_shape(lowered.ir):
        assert MIN_TRIPS <= length <= trips * steps


# -- 13. gradients taken after rerolling -----------------------------------------------------

def sine_map(x, steps):
    for _ in range(steps):
        x = jnp.sin(x) * 1.01 + 0.1 * jnp.tanh(x)
    return jnp.sum(x * x)


sine_map_vg = nbad.jit(nbad.value_and_grad(sine_map), static_argnums=1)


def test_gradient_of_a_python_loop_is_a_reverse_scan():
    """Under jit, grad rerolls the traced forward pass before differentiating it:
    the IR is a forward scan and a reverse scan, the same size whatever the length."""
    x = np.linspace(0.1, 1.0, 4)
    sizes = []
    for steps in (100, 1000):
        value, grad = sine_map_vg(x, steps)
        want_value, want_grad = nbad.value_and_grad(sine_map)(x, steps)  # eager: unrolled
        assert_close(value, want_value)
        np.testing.assert_allclose(grad, want_grad, rtol=1e-11)
        ir = sine_map_vg.lower(x, steps).ir
        assert sorted(eq.params["reverse"] for eq in loop_eqs(ir)) == [False, True]
        sizes.append(len(ir.equations))
    assert sizes[0] == sizes[1]


# -- 14. windows that move each iteration (D[t]) -----------------------------------------------

def pid_python_loop(xp, gains, D):
    """examples/pid.py's loss as a Python loop: Python floats start the carries (the
    first iterations differ), the disturbance D[t] is read each step."""
    kp, ki, kd = gains[0], gains[1], gains[2]
    h, integral, previous, total = 1.0, 0.0, 0.0, 0.0
    for t in range(D.shape[0]):
        error = 1.0 - h
        integral = integral + error
        u = kp * error + ki * integral + kd * (error - previous)
        h = h + (u + D[t] - 0.1 * xp.sqrt(19.6 * xp.maximum(h, 0.0))) / 10.0
        previous, total = error, total + error * error
    return total / D.shape[0]


pid_jit = nbad.jit(functools.partial(pid_python_loop, jnp))
pid_vg = nbad.jit(nbad.value_and_grad(functools.partial(pid_python_loop, jnp)))


def test_a_moving_window_becomes_the_scans_xs():
    gains = np.array([0.1, 0.01, 0.0])
    sizes = []
    for steps in (30, 100):
        D = 0.01 * np.sin(0.37 * np.arange(steps))
        assert_close(pid_jit(gains, D), pid_python_loop(np, gains, D))
        value, grad = pid_vg(gains, D)
        want_value, want_grad = nbad.value_and_grad(functools.partial(pid_python_loop, jnp))(gains, D)
        assert_close(value, want_value)
        np.testing.assert_allclose(grad, want_grad, rtol=1e-11)
        ir, vg_ir = pid_jit.lower(gains, D).ir, pid_vg.lower(gains, D).ir
        (eq,) = loop_eqs(ir)
        assert eq.params["num_xs"] == 1 and eq.params["length"] > steps - 5
        sizes.append((len(ir.equations), len(vg_ir.equations)))
    assert sizes[0] == sizes[1]


def strided_columns(xp, X, w):
    for t in range(6):
        w = xp.tanh(A @ (X[:, 2 * t] * w) + 0.5)
    return w


def uneven_windows(xp, X, w):
    for t in range(5):
        w = xp.tanh(A @ (X[:, t * t] * w) + 0.5)   # the start moves unevenly: stays unrolled
    return w


def wide_windows(xp, X, w):
    for t in range(5):
        w = xp.tanh(A @ (xp.sum(X[:, t:t + 3], axis=1) * w) + 0.5)   # 3 wide: stays unrolled
    return w


def test_windows_moving_by_a_stride_and_irregular_ones():
    X = rng.standard_normal((N, 20))
    w = rng.standard_normal(N)
    lowered = both(strided_columns, X, w)
    (eq,) = loop_eqs(lowered.ir)
    assert eq.params["num_xs"] == 1
    for fn in (uneven_windows, wide_windows):
        lowered = both(fn, X, w)
        assert all(eq.params["num_xs"] == 0 for eq in loop_eqs(lowered.ir))
