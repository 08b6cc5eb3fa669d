"""nbad.jit: compiled results equal eager NumPy results; caching; pytrees; statics.

Fusion decisions and generated code are checked through `lower()`; every
result is compared with NumPy (the reference semantics).
"""
import concurrent.futures

import numpy as np
import pytest

import nbad
import nbad.numpy as jnp
from nbad.backends.cpu import calls, kernels as cpu, matmul, recycle
from nbad.compile.fusion import Kernel, LibraryStep

rng = np.random.default_rng(0)


def assert_same(actual, expected, rtol=1e-12):
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape
    assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    if expected.dtype.kind in "fc":
        np.testing.assert_allclose(actual, expected, rtol=rtol, atol=0)
    else:
        np.testing.assert_array_equal(actual, expected)


def n_kernels(lowered):
    return sum(isinstance(s, Kernel) for s in lowered.plan.steps)


# -- elementwise chains and broadcasting ------------------------------------------

def chain(x, y):
    return jnp.exp(x * 0.5) + x * y - 2.0


@pytest.mark.parametrize("xs,ys", [((7,), (7,)), ((3, 4), (4,)), ((3, 1), (1, 5)), ((), (2, 3)),
                                   ((2, 3, 4), (3, 1)), ((0, 3), (3,))])
def test_elementwise_chain_matches_numpy_and_fuses(xs, ys):
    x, y = rng.standard_normal(xs), rng.standard_normal(ys)
    f = nbad.jit(chain)
    assert_same(f(x, y), np.exp(x * 0.5) + x * y - 2.0, rtol=1e-14)
    # exp(x * 0.5) is computed at x's shape: one loop, or two when x is broadcast.
    full = np.broadcast_shapes(xs, ys)
    assert n_kernels(f.lower(x, y)) == (1 if xs == full else 2)


def test_float32_stays_float32_with_python_scalars():
    x = rng.standard_normal((5, 6)).astype(np.float32)
    out = nbad.jit(lambda x: x * 2.0 + 1)(x)
    assert_same(out, x * 2.0 + 1, rtol=1e-6)


def test_integer_and_bool_dtypes():
    a = rng.integers(-100, 100, (4, 5)).astype(np.int32)
    b = rng.integers(1, 7, (5,)).astype(np.int32)
    f = nbad.jit(lambda a, b: (a * b + 3, a // b, a % b, a > b))
    for got, want in zip(f(a, b), (a * b + 3, a // b, a % b, a > b)):
        assert_same(got, want)


def test_int8_arithmetic_wraps_like_numpy():
    a = np.array([100, -100, 127], dtype=np.int8)
    assert_same(nbad.jit(lambda a: a + a)(a), a + a)


def test_non_contiguous_and_read_only_inputs():
    base = rng.standard_normal((6, 8))
    strided = base[::2, ::-1]
    ro = base.copy()
    ro.flags.writeable = False
    f = nbad.jit(lambda x: x * x + 1.0)
    assert_same(f(strided), strided * strided + 1.0)
    assert_same(f(base.T), base.T * base.T + 1.0)
    assert_same(f(ro), ro * ro + 1.0)


def test_result_is_an_immutable_nbad_array():
    out = nbad.jit(lambda x: x + 1.0)(np.ones(3))
    assert isinstance(out, nbad.Array)
    assert out.block_until_ready() is out
    with pytest.raises(nbad.errors.InPlaceUpdateError, match=r"\.at\[idx\]\.set"):
        out[0] = 5.0


# -- reductions ----------------------------------------------------------------------

@pytest.mark.parametrize("shape,axis", [((40, 30), 1), ((40, 30), 0), ((4, 5, 6), 1), ((4, 5, 6), (0, 2)),
                                        ((10000,), None), ((3, 4), None), ((0, 4), 0), ((), None)])
@pytest.mark.parametrize("op", ["sum", "max", "min", "prod"])
def test_reductions_fused_with_producers(shape, axis, op):
    x = rng.uniform(0.5, 1.5, shape)
    np_fn, nb_fn = getattr(np, op), getattr(jnp, op)
    if op in ("max", "min") and 0 in shape:
        pytest.skip("NumPy raises for max/min of an empty array")
    f = nbad.jit(lambda x: nb_fn(x * 1.5 - 0.25, axis=axis))
    assert_same(f(x), np_fn(x * 1.5 - 0.25, axis=axis), rtol=1e-12)


def test_max_propagates_nan():
    x = np.array([1.0, np.nan, 3.0])
    assert np.isnan(nbad.jit(jnp.max)(x))
    y = np.array([[1.0, np.nan], [2.0, 0.0]])
    assert_same(nbad.jit(lambda y: jnp.max(y, axis=1))(y), np.max(y, axis=1))


def test_softmax_rows():
    x = rng.standard_normal((64, 33))

    def softmax(x):
        e = jnp.exp(x - jnp.max(x, axis=1, keepdims=True))
        return e / jnp.sum(e, axis=1, keepdims=True)

    e = np.exp(x - x.max(axis=1, keepdims=True))
    assert_same(nbad.jit(softmax)(x), e / e.sum(axis=1, keepdims=True), rtol=1e-14)


def test_mean_var_and_integer_sum_dtypes():
    x = rng.integers(0, 10, (5, 7)).astype(np.int32)
    f = nbad.jit(lambda x: (jnp.sum(x), jnp.mean(x, axis=0), jnp.var(x.astype(np.float64), axis=1)))
    s, m, v = f(x)
    assert_same(s, np.sum(x))
    assert_same(m, np.mean(x, axis=0))
    assert_same(v, np.var(x.astype(np.float64), axis=1))


# -- library steps: dot, indexing ----------------------------------------------------

def test_least_squares_loss_reads_X_once():
    X, w, y = rng.standard_normal((200, 8)), rng.standard_normal(8), rng.standard_normal(200)
    f = nbad.jit(lambda w, X, y: jnp.sum((X @ w - y) ** 2) / y.shape[0])
    assert_same(f(w, X, y), np.sum((X @ w - y) ** 2) / 200, rtol=1e-13)
    lowered = f.lower(w, X, y)
    # The matrix-vector product is a row reduction fused with `- y` and the square
    # (kernel 1); the sum over rows and the scalar division follow.
    assert not any(isinstance(s, LibraryStep) for s in lowered.plan.steps)
    assert [s.kind for s in lowered.plan.steps] == ["row", "reduce", "elementwise"]


def test_matrix_products_stay_on_blas():
    A, B, v = rng.standard_normal((5, 4)), rng.standard_normal((4, 3)), rng.standard_normal(5)
    f = nbad.jit(lambda A, B, v: (jnp.tanh(A @ B), v @ A, jnp.einsum("ij,j->i", A.T, v)))
    got = f(A, B, v)
    assert_same(got[0], np.tanh(A @ B), rtol=1e-14)
    assert_same(got[1], v @ A, rtol=1e-13)
    assert_same(got[2], A.T @ v, rtol=1e-13)
    assert any(isinstance(s, LibraryStep) for s in f.lower(A, B, v).plan.steps)


def test_views_of_intermediates_and_inputs():
    x = rng.standard_normal((6, 4))
    f = nbad.jit(lambda x: (x.T * 2.0)[::2] + jnp.reshape(x, (4, 6))[::2])
    assert_same(f(x), (x.T * 2.0)[::2] + np.reshape(x, (4, 6))[::2])


def test_outputs_never_alias_inputs():
    x = rng.standard_normal(4)
    a, b, c = nbad.jit(lambda x: (x, x.T, 3.0))(x)
    assert not np.shares_memory(a, x) and not np.shares_memory(b, x)
    assert_same(a, x)
    assert_same(c, np.asarray(3.0))


# -- caching ---------------------------------------------------------------------------

def test_second_call_does_not_trace_and_new_shapes_retrace():
    f = nbad.jit(lambda x: x * 2.0 + 1.0)
    f(np.ones(3))
    f(np.ones(3))
    assert f.trace_count == 1
    f(np.ones(4))
    assert f.trace_count == 2
    f(np.ones(4, dtype=np.float32))
    assert f.trace_count == 3
    f(np.ones(3))
    assert f.trace_count == 3


def test_new_batch_size_compiles_no_new_kernel():
    f = nbad.jit(lambda x: jnp.sum(jnp.tanh(x) * x, axis=1))
    f(np.ones((5, 7)))
    kernels_before = set(cpu.KERNELS)
    f(np.ones((9, 7)))
    f(np.ones((123, 11)))
    assert set(cpu.KERNELS) == kernels_before


def test_static_argnums_and_argnames():
    def power_sum(x, n, *, axis):
        out = x
        for _ in range(n):  # Python control flow on a static value
            out = out * x
        return jnp.sum(out, axis=axis)

    f = nbad.jit(power_sum, static_argnums=1, static_argnames="axis")
    x = rng.standard_normal((3, 4))
    assert_same(f(x, 2, axis=0), np.sum(x ** 3, axis=0), rtol=1e-13)
    assert_same(f(x, 3, axis=1), np.sum(x ** 4, axis=1), rtol=1e-13)
    f(x, 3, axis=1)
    assert f.trace_count == 2


def test_pytrees_in_and_out():
    params = {"W": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}
    xs = [rng.standard_normal((5, 3)), 2.0]

    @nbad.jit
    def f(params, xs):
        x, scale = xs
        h = jnp.tanh(x @ params["W"] + params["b"]) * scale
        return {"h": h, "stats": (jnp.mean(h), jnp.max(h))}

    out = f(params, xs)
    h = np.tanh(xs[0] @ params["W"] + params["b"]) * 2.0
    assert_same(out["h"], h, rtol=1e-13)
    assert_same(out["stats"][0], np.mean(h), rtol=1e-13)
    assert_same(out["stats"][1], np.max(h))


def test_python_scalar_arguments_are_weakly_typed():
    f = nbad.jit(lambda x, s: x * s)
    x32 = np.ones(3, dtype=np.float32)
    assert f(x32, 2.0).dtype == np.float32
    assert f(np.ones(3), 2).dtype == np.float64


def test_jit_inside_jit_and_closures():
    inner = nbad.jit(lambda x: x * 3.0)
    c = rng.standard_normal(4)
    outer = nbad.jit(lambda x: inner(x) + c)
    x = rng.standard_normal(4)
    assert_same(outer(x), x * 3.0 + c)


def test_side_effects_run_once_at_trace_time():
    calls = []

    @nbad.jit
    def f(x):
        calls.append(1)
        return x + 1.0

    f(np.ones(2))
    f(np.ones(2))
    assert len(calls) == 1


def test_make_ir_prints_the_design_example():
    def loss(w, X, y):
        return jnp.sum((y - X @ w) ** 2) / 500.0

    text = str(nbad.make_ir(loss)(np.ones(8), np.ones((500, 8)), np.ones(500)))
    assert text.splitlines()[0] == "func @loss(%0: f64[8], %1: f64[500,8], %2: f64[500]) -> f64[] {"
    assert "dot_general %1, %0" in text
    assert "integer_pow %4 {y=2} : f64[500]" in text
    assert "reduce_sum %5 {axes=(0)} : f64[]" in text
    assert text.rstrip().endswith("return %7\n}")


def test_lower_exposes_ir_kernels_and_source():
    x = rng.standard_normal(10)
    lowered = nbad.jit(lambda x: jnp.exp(x) * 2.0).lower(x)
    assert "exp" in str(lowered.ir)
    assert len(lowered.kernels) == 1
    assert "def kernel(" in lowered.source and "def program(" in lowered.source
    assert "_m_exp" in lowered.source  # nbad's vectorisable exp, not libm's


def test_simplify_removes_identities_and_dead_code():
    ir = nbad.make_ir(lambda x: (x * 1.0 + 0.0).reshape(x.shape) * (x + x) + jnp.sin(x) * 0)(np.ones(3))
    names = [eq.primitive.name for eq in ir.equations]
    assert names.count("mul") <= 3 and "reshape" not in names
    ir2 = nbad.make_ir(lambda x: (jnp.exp(x), jnp.exp(x))[0])(np.ones(3))
    assert [eq.primitive.name for eq in ir2.equations] == ["exp"]


def test_pooled_intermediates_do_not_leak_between_calls():
    def softmax(x):
        e = jnp.exp(x - jnp.max(x, axis=1, keepdims=True))
        return e / jnp.sum(e, axis=1, keepdims=True), e[0]

    f = nbad.jit(softmax)
    x1, x2 = rng.standard_normal((5, 7)), rng.standard_normal((5, 7))
    s1, row1 = f(x1)
    s1_copy, row1_copy = np.array(s1), np.array(row1)
    f(x2)
    np.testing.assert_array_equal(s1, s1_copy)
    np.testing.assert_array_equal(row1, row1_copy)  # a view of a pooled buffer was copied out
    assert "pool" in f.lower(x1).driver_source


def test_library_results_that_view_inputs_are_copied():
    x = rng.standard_normal((4, 3))
    out = nbad.jit(lambda x, i: x[i])(x, 2)
    assert_same(out, x[2])
    assert not np.shares_memory(out, x)


# -- row fusion: reductions over the same trailing axes share one pass per row -------------

def test_softmax_is_one_row_kernel():
    x = rng.standard_normal((16, 9))
    f = nbad.jit(nbad.nn.softmax)
    lowered = f.lower(x)
    assert [s.kind for s in lowered.plan.steps if isinstance(s, Kernel)] == ["row"]
    e = np.exp(x - x.max(axis=1, keepdims=True))
    assert_same(f(x), e / e.sum(axis=1, keepdims=True), rtol=1e-14)


def test_layernorm_with_per_row_epilogue_and_external_inputs():
    x = rng.standard_normal((6, 4, 5))
    gamma, bias = rng.standard_normal(5), rng.standard_normal((6, 4))

    def layernorm(x, gamma, bias):
        mean = jnp.mean(x, axis=-1, keepdims=True)
        var = jnp.mean((x - mean) ** 2, axis=-1, keepdims=True)
        scale = 1.0 / jnp.sqrt(var + 1e-5)           # a per-row epilogue
        return (x - mean) * scale * gamma + bias[..., None], jnp.sum(x, axis=-1) - bias

    f = nbad.jit(layernorm)
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    out, sums = f(x, gamma, bias)
    assert_same(out, (x - mean) / np.sqrt(var + 1e-5) * gamma + bias[..., None], rtol=1e-12)
    assert_same(sums, x.sum(-1) - bias, rtol=1e-13)
    assert sum(isinstance(s, Kernel) for s in f.lower(x, gamma, bias).plan.steps) <= 2


def test_row_results_used_by_library_ops_and_other_reductions():
    x = rng.standard_normal((7, 8))

    def f(x):
        m = jnp.max(x, axis=1)
        lse = m + jnp.log(jnp.sum(jnp.exp(x - m[:, None]), axis=1))
        return jnp.concatenate([lse, m]), jnp.sum(x, axis=0), jnp.argmax(x - lse[:, None], axis=1)

    m = x.max(1)
    lse = m + np.log(np.exp(x - m[:, None]).sum(1))
    got = nbad.jit(f)(x)
    assert_same(got[0], np.concatenate([lse, m]), rtol=1e-14)
    assert_same(got[1], x.sum(0), rtol=1e-14)
    assert_same(got[2], np.argmax(x - lse[:, None], axis=1))


def test_loops_split_across_threads_give_the_same_results(monkeypatch):
    """Force the driver to split every splittable loop across 3 threads (more
    parts than this machine may have cores), for each kernel form."""
    monkeypatch.setattr(calls, "PARALLEL_MIN_WORK", 0)
    nbad.config.update("num_threads", 3)
    try:
        x = rng.standard_normal((37, 29))
        v = rng.standard_normal(100_003)

        x3 = rng.standard_normal((11, 6, 5))

        def many(x, v, x3):
            e = jnp.exp(x - jnp.max(x, axis=1, keepdims=True))
            g = x * (1.0 - x * x)  # written, and summed over rows, in one kernel
            return (jnp.tanh(x) * 2.0, e / jnp.sum(e, axis=1, keepdims=True), jnp.sum(x * x, axis=1),
                    jnp.sum(v * 0.5), jnp.max(v), jnp.sum(x, axis=0), jnp.prod(v[:40] * 0.0 + 1.01),
                    # reductions over the outer loop: partial results per part, combined
                    g, jnp.sum(g, axis=0), jnp.max(x, axis=0), jnp.min(jnp.tanh(x), axis=0),
                    jnp.prod(x * 0.01 + 1.0, axis=0), jnp.all(x > -2.5, axis=0),
                    jnp.any(x > 2.0, axis=0), jnp.sum(x3 * 2.0, axis=(0, 1)), jnp.max(x3, axis=0))

        f = nbad.jit(many)
        got = f(x, v, x3)
        source = f.lower(x, v, x3).driver_source
        assert "split across threads" in source
        # the 9 reductions over the outer loop, each into partial rows (not 1-value slots)
        assert sum(1 for line in source.splitlines() if "_run_partial_results(" in line
                   and ".reshape((1,))" not in line) == 9
        e = np.exp(x - x.max(axis=1, keepdims=True))
        g = x * (1.0 - x * x)
        expected = (np.tanh(x) * 2.0, e / e.sum(axis=1, keepdims=True), np.sum(x * x, axis=1),
                    np.sum(v * 0.5), np.max(v), np.sum(x, axis=0), np.prod(np.full(40, 1.01)),
                    g, g.sum(axis=0), x.max(axis=0), np.tanh(x).min(axis=0),
                    np.prod(x * 0.01 + 1.0, axis=0), np.all(x > -2.5, axis=0),
                    np.any(x > 2.0, axis=0), np.sum(x3 * 2.0, axis=(0, 1)), x3.max(axis=0))
        for g, want in zip(got, expected):
            assert_same(g, want, rtol=1e-12)
    finally:
        nbad.config.update("num_threads", None)


def test_matrix_products_split_across_threads(monkeypatch):
    monkeypatch.setattr(matmul, "SPLIT_MATMUL_MIN_FLOPS", 0)
    nbad.config.update("num_threads", 2)
    try:
        A, B, G = rng.standard_normal((9, 5)), rng.standard_normal((5, 7)), rng.standard_normal((9, 7))
        f = nbad.jit(lambda A, B, G: (jnp.tanh(A @ B), A.T @ G, G @ B.T))
        for got, want in zip(f(A, B, G), (np.tanh(A @ B), A.T @ G, G @ B.T)):
            assert_same(got, want, rtol=1e-13)
        # elementwise epilogues run inside the split product, on the rows just computed:
        # row-broadcast (2-D kernel) and collapsed (1-D kernel over rows * columns)
        b = rng.standard_normal(7)
        # (one product per function: two independent ones would run side by side instead)
        g1 = nbad.jit(lambda A, B, b: jnp.tanh(A @ B + b))
        g2 = nbad.jit(lambda B, G: jnp.exp(G @ B.T) * 2.0)
        for source in (g1.lower(A, B, b).driver_source, g2.lower(B, G).driver_source):
            assert source.count("after each part of dot_general") == 1
        np.testing.assert_allclose(g1(A, B, b), np.tanh(A @ B + b), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(g2(B, G), np.exp(G @ B.T) * 2.0, rtol=1e-12, atol=1e-14)
        # a contraction much longer than the result's rows (a weight gradient) is split
        # into partial products that are added; concurrent calls get their own partials
        X, Y = rng.standard_normal((300, 5)), rng.standard_normal((300, 7))
        h = nbad.jit(lambda X, Y: (X.T @ Y, jnp.tanh(X.T @ Y)))
        product = next(s.equation for s in h.lower(X, Y).plan.steps
                       if isinstance(s, LibraryStep) and s.equation.primitive.name == "dot_general")
        assert matmul.split_matmul_operands(product, 2)[2]
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            for got in pool.map(lambda _: h(X, Y), range(8)):
                for g_, want in zip(got, (X.T @ Y, np.tanh(X.T @ Y))):
                    np.testing.assert_allclose(g_, want, rtol=1e-12, atol=1e-14)
    finally:
        nbad.config.update("num_threads", None)


@pytest.mark.parametrize("num_threads", [2, 3])
@pytest.mark.parametrize("batch", [40, 300])  # products split by rows; by the contraction
def test_independent_steps_run_as_a_dataflow_graph(monkeypatch, num_threads, batch):
    """From a matrix product that another product does not depend on (an MLP's
    backward pass: g @ W^T and h^T @ g), the program's steps run as a task
    graph: each when its inputs are ready, split where threads would idle.
    Thresholds forced to 0 so that small shapes split every way they can."""
    monkeypatch.setattr(matmul, "SPLIT_MATMUL_MIN_FLOPS", 0)
    monkeypatch.setattr(calls, "PARALLEL_MIN_WORK", 0)
    nbad.config.update("num_threads", num_threads)
    try:
        def loss(params, x, t):
            (W1, b1), (W2, b2), (W3, b3) = params
            h1 = jnp.tanh(x @ W1 + b1)
            h2 = jnp.tanh(h1 @ W2 + b2)
            return jnp.mean((h2 @ W3 + b3 - t) ** 2)

        def step(params, x, t):
            value, grads = nbad.value_and_grad(loss)(params, x, t)
            # a view of a product computed in the graph: a reshape of a transpose copies
            flat = (params[1][0] @ grads[1][0].T).T.reshape(-1)
            return value, [(W - 0.1 * gW, b - 0.1 * gb) for (W, b), (gW, gb) in zip(params, grads)], flat

        sizes = (6, 9, 8, 3)
        params = [(rng.standard_normal((m, n)), rng.standard_normal(n)) for m, n in zip(sizes, sizes[1:])]
        x, t = rng.standard_normal((batch, 6)), rng.standard_normal((batch, 3))
        f = nbad.jit(step)
        source = f.lower(params, x, t).driver_source
        assert "_run_graph(" in source and "side by side" in source
        assert "contraction" in source or "rows" in source  # some product was split

        # the same step by hand, in NumPy
        hs, h = [x], x
        for W, b in params[:-1]:
            h = np.tanh(h @ W + b)
            hs.append(h)
        d = h @ params[-1][0] + params[-1][1] - t
        g, grads = 2.0 * d / d.size, []
        for i in range(len(params) - 1, -1, -1):
            grads.append((hs[i].T @ g, g.sum(axis=0)))
            if i:
                g = (g @ params[i][0].T) * (1.0 - hs[i] ** 2)
        grads = grads[::-1]
        want_new = [(W - 0.1 * gW, b - 0.1 * gb) for (W, b), (gW, gb) in zip(params, grads)]
        want_flat = (params[1][0] @ grads[1][0].T).T.reshape(-1)

        def check(got):
            value, new, flat = got
            np.testing.assert_allclose(value, np.mean(d ** 2), rtol=1e-13)
            for (W, b), (Wn, bn) in zip(new, want_new):
                np.testing.assert_allclose(W, Wn, rtol=1e-12, atol=1e-14)
                np.testing.assert_allclose(b, bn, rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(flat, want_flat, rtol=1e-12, atol=1e-14)

        for _ in range(3):
            check(f(params, x, t))
        with concurrent.futures.ThreadPoolExecutor(4) as pool:  # callers share the workers
            for got in pool.map(lambda _: f(params, x, t), range(8)):
                check(got)
    finally:
        nbad.config.update("num_threads", None)


@pytest.mark.parametrize("num_threads", [1, 3])
def test_inner_loops_with_math_run_in_a_row_function(monkeypatch, num_threads):
    """A loop nest whose body calls a math function runs its innermost loop as a
    function of its own (cpu.KernelSource._row_helper): elementwise over 2-D and
    3-D broadcasts, float32, and with a reduction over the outer loop."""
    monkeypatch.setattr(calls, "PARALLEL_MIN_WORK", 0)
    nbad.config.update("num_threads", num_threads)
    try:
        x, b = rng.standard_normal((33, 17)), rng.standard_normal(17)
        y, c = rng.standard_normal((5, 7, 9)), rng.standard_normal((7, 1))

        def f(x, b, y, c):
            return (jnp.tanh(x + b), jnp.exp(y * c) - y, jnp.sum(jnp.tanh(x) * b, axis=0),
                    jnp.log1p(jnp.abs(x.astype(jnp.float32) * b.astype(jnp.float32))))

        g = nbad.jit(f)
        got = g(x, b, y, c)
        assert g.lower(x, b, y, c).source.count("def _row(") >= 3
        want = (np.tanh(x + b), np.exp(y * c) - y, np.sum(np.tanh(x) * b, axis=0),
                np.log1p(np.abs(x.astype(np.float32) * b.astype(np.float32))))
        for r, w in zip(got, want):
            assert r.dtype == w.dtype
            np.testing.assert_allclose(r, w, rtol=1e-12 if w.dtype == np.float64 else 1e-6)
    finally:
        nbad.config.update("num_threads", None)


def test_straight_line_kernels_call_their_math_functions():
    """A kernel without loops (an unrolled scalar simulation) calls mathlib's
    functions instead of inlining a copy per use (compile time), with the same
    results."""
    def pendulum(k):
        th, om = 1.0, 0.0
        for _ in range(12):
            om = om - 0.1 * k * jnp.sin(th) + 0.01 * jnp.tanh(om)
            th = th + 0.1 * om
        return th

    f = nbad.jit(nbad.grad(pendulum))
    source = f.lower(2.0).source
    assert "import sin_call as _m_sin" in source and "import tanh_call as _m_tanh" in source
    np.testing.assert_allclose(f(2.0), nbad.grad(pendulum)(2.0), rtol=1e-13)
    eps = 1e-6
    np.testing.assert_allclose(f(2.0), (pendulum(2.0 + eps) - pendulum(2.0 - eps)) / (2 * eps), rtol=1e-6)


def test_transposed_products_are_computed_transposed():
    """Reverse mode writes a weight gradient as (g^T x)^T; it is computed as x^T g,
    so no transpose is left for the update to read with strides."""
    W, x = rng.standard_normal((4, 6)), rng.standard_normal((9, 4))
    f = nbad.jit(lambda W, x: W - 0.1 * nbad.grad(lambda W: jnp.sum(jnp.tanh(x @ W)))(W))
    assert_same(f(W, x), W - 0.1 * (x.T @ (1 - np.tanh(x @ W) ** 2)), rtol=1e-13)
    assert "transpose" not in str(f.lower(W, x).plan.ir)
    # and a transpose of a transpose is one transpose
    g = nbad.jit(lambda a: jnp.transpose(jnp.transpose(a, (1, 2, 0)), (2, 0, 1)) * 2.0)
    a = rng.standard_normal((2, 3, 4))
    assert_same(g(a), a * 2.0)
    assert "transpose" not in str(g.lower(a).ir)


def test_shape_derived_constants_do_not_make_new_kernels():
    """A mean's 1/n changes with the batch size; it is a kernel argument, not
    part of the kernel's source, so a new batch size compiles nothing."""
    f = nbad.jit(nbad.value_and_grad(lambda w, X, y: jnp.mean((jnp.tanh(X @ w) - y) ** 2)))
    w = rng.standard_normal(4)
    f(w, rng.standard_normal((10, 4)), rng.standard_normal(10))
    kernels_before = set(cpu.KERNELS)
    for n in (11, 37):
        X, y = rng.standard_normal((n, 4)), rng.standard_normal(n)
        value, grad = f(w, X, y)
        r = np.tanh(X @ w) - y
        assert_same(value, np.mean(r ** 2), rtol=1e-13)
        assert_same(grad, X.T @ (2 * r * (1 - np.tanh(X @ w) ** 2)) / n, rtol=1e-12)
    assert set(cpu.KERNELS) == kernels_before


def test_float32_constants_stay_float32():
    x = rng.standard_normal(7).astype(np.float32)
    out = nbad.jit(lambda x: x * 0.3 + 1.7)(x)
    assert_same(out, x * np.float32(0.3) + np.float32(1.7), rtol=1e-6)


@pytest.mark.parametrize("lhs_shape,rhs_shape,dims,on_blas", [
    ((5,), (5,), (((0,), (0,)), ((), ())), False),                # inner product
    ((3, 5), (5,), (((1,), (0,)), ((), ())), False),              # matvec: a row reduction
    ((5, 3), (5,), (((0,), (0,)), ((), ())), True),               # A.T v: strided, BLAS
    ((3,), (4, 2), (((), ()), ((), ())), False),                  # outer: elementwise
    ((2, 3, 5), (2, 5), (((2,), (1,)), ((0,), (0,))), False),     # batched matvec
    ((2, 5), (2, 5), (((1,), (1,)), ((0,), (0,))), False),        # batched inner products
    ((6,), (6, 4), (((), ()), ((0,), (0,))), False),              # per-example scaling
    ((3, 5), (5, 4), (((1,), (0,)), ((), ())), True),             # matmul
    ((2, 3, 5), (2, 5, 4), (((2,), (1,)), ((0,), (0,))), True),   # batched matmul
])
def test_products_that_are_not_matrix_matrix_are_fused_loops(lhs_shape, rhs_shape, dims, on_blas):
    from nbad.core.trace import bind
    from nbad.rules.linalg import dot_general_p

    a, b = rng.standard_normal(lhs_shape), rng.standard_normal(rhs_shape)
    f = nbad.jit(lambda a, b: bind(dot_general_p, a, b, dimension_numbers=dims) * 2.0)
    want = dot_general_p.impl(a, b, dimension_numbers=dims) * 2.0
    assert_same(f(a, b), want, rtol=1e-13)
    assert any(isinstance(s, LibraryStep) for s in f.lower(a, b).plan.steps) == on_blas


def test_thread_pool_runs_every_chunk_once_and_reraises_errors():
    from nbad.backends.cpu import threads

    nbad.config.update("num_threads", 3)
    try:
        for n in (1, 2, 7, 100):
            hits = np.zeros(n, np.int64)

            def body(lo, hi, out):
                out[lo:hi] += 1  # chunks are disjoint: no two threads touch one element

            parts = threads.run(body, n, (hits,))
            assert hits.tolist() == [1] * n and parts == min(n, threads.max_parts())

        def failing(lo, hi):
            if lo > 0:
                raise ValueError("chunk failed")

        with pytest.raises(ValueError, match="chunk failed"):
            threads.run(failing, 50, ())
        partials = np.zeros(threads.max_parts())
        used = threads.run(lambda lo, hi, slot: slot.__setitem__(0, hi - lo), 50, (),
                           per_part_args=lambda p: (partials[p:p + 1],))
        assert partials[:used].sum() == 50
    finally:
        nbad.config.update("num_threads", None)


def test_transposes_sink_into_loops_over_broadcasts():
    """jacfwd's result has the batch of tangents last: the loop writes that
    layout (no transposed copy); a transpose of full-size data stays a view."""
    x = rng.standard_normal(6)
    h = nbad.jit(nbad.hessian(lambda x: jnp.sum(jnp.sin(x) * x ** 2)))
    want = np.diag(-np.sin(x) * x ** 2 + 4 * x * np.cos(x) + 2 * np.sin(x))
    np.testing.assert_allclose(h(x), want, rtol=1e-12, atol=1e-15)
    assert ".transpose(" not in h.lower(x).driver_source
    u, v = rng.standard_normal(4), rng.standard_normal(3)
    outer = nbad.jit(lambda u, v: (jnp.exp(u[:, None]) * v[None, :] + 1.0).T)
    assert_same(outer(u, v), (np.exp(u[:, None]) * v + 1.0).T, rtol=1e-14)
    assert ".transpose(" not in outer.lower(u, v).driver_source
    A = rng.standard_normal((4, 3))
    full = nbad.jit(lambda A: (jnp.exp(A) + 1.0).T)
    assert_same(full(A), (np.exp(A) + 1.0).T, rtol=1e-14)


def test_reshape_chains_fold_into_one():
    ir = nbad.make_ir(lambda x: jnp.expand_dims(x, 0).reshape(2, 3)[None].squeeze(0) * 2.0)(
        np.ones((2, 3)))
    assert [eq.primitive.name for eq in ir.equations] == ["mul"]
    ir = nbad.make_ir(lambda x: x.reshape(6)[None, :].reshape(3, 2))(np.ones((2, 3)))
    assert [eq.primitive.name for eq in ir.equations] == ["reshape"]


@pytest.mark.parametrize("threads", [1, 2])
def test_matrix_product_buffers_are_reused_but_results_never_alias(monkeypatch, threads):
    """Intermediate products are written into buffers kept between calls
    (np.dot(..., out=)); results the caller holds must not change later."""
    monkeypatch.setattr(matmul, "SPLIT_MATMUL_MIN_FLOPS", 0)
    nbad.config.update("num_threads", threads)
    try:
        def f(A, B, v):
            h = jnp.tanh(A @ B)           # fused epilogue (split) or kernel (one thread)
            g = h.T @ A                   # a transposed product, pooled
            return g * 2.0, h @ v, (A @ B).T

        f_jit = nbad.jit(f)
        A, B, v = rng.standard_normal((8, 5)), rng.standard_normal((5, 6)), rng.standard_normal(6)
        first = f_jit(A, B, v)
        kept = [np.array(r) for r in first]
        A2 = rng.standard_normal((8, 5))
        second = f_jit(A2, B, v)
        for r, k in zip(first, kept):
            np.testing.assert_array_equal(r, k)
        for got, x in ((first, A), (second, A2)):
            h = np.tanh(x @ B)
            for g, w in zip(got, (h.T @ x * 2.0, h @ v, (x @ B).T)):
                np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14)
    finally:
        nbad.config.update("num_threads", None)


def test_large_results_reuse_only_buffers_nobody_holds(monkeypatch):
    """Results of a megabyte or more recycle the buffers of earlier results the
    caller has dropped; one still held (or viewed) is never written again."""
    monkeypatch.setattr(recycle, "RECYCLE_MIN_BYTES", 64)
    f = nbad.jit(lambda x, s: jnp.sin(x) * s)
    x = rng.standard_normal(100)
    assert ".take()" in f.lower(x, 1.0).driver_source
    held = f(x, 1.0)
    view = f(x, 2.0)[10:20]          # the result is dropped, a view of it kept
    results = [np.asarray(f(x, float(k))) for k in range(3, 8)]  # held in a list
    for k in range(20):
        f(x, 100.0 + k)              # dropped at once: these reuse buffers
    # (nbad's sin is within an ulp of NumPy's; a reused buffer would be off by 100x)
    np.testing.assert_allclose(held, np.sin(x), rtol=1e-14)
    np.testing.assert_allclose(view, (np.sin(x) * 2.0)[10:20], rtol=1e-14)
    for k, r in zip(range(3, 8), results):
        np.testing.assert_allclose(r, np.sin(x) * k, rtol=1e-14)
    a, b = f(x, 1.0), f(x, 1.0)
    assert np.shares_memory(a, a) and not np.shares_memory(a, b)


def test_concurrent_calls_from_python_threads(monkeypatch):
    """Several Python threads calling one program at once: each call gets its
    own pooled intermediates and recycled result buffers, and the kernels'
    loops share nbad's worker threads."""
    import threading

    monkeypatch.setattr(recycle, "RECYCLE_MIN_BYTES", 64)
    monkeypatch.setattr(calls, "PARALLEL_MIN_WORK", 0)
    nbad.config.update("num_threads", 2)
    try:
        f = nbad.jit(lambda x, s: jnp.tanh(x * s) - jnp.mean(x) * s)
        x = rng.standard_normal((64, 32))
        f(x, 1.0)
        errors = []

        def worker(k):
            try:
                for j in range(30):
                    s = float(k * 100 + j)
                    got = f(x, s)
                    want = np.tanh(x * s) - np.mean(x) * s
                    if not np.allclose(got, want, rtol=1e-12, atol=1e-12):
                        errors.append((k, j))
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors[:3]
    finally:
        nbad.config.update("num_threads", None)
