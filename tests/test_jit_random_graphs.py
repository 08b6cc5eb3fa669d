"""Property test: random expression graphs give the same result compiled, eagerly and in NumPy.

Each op is written once against a module `m` (nbad.numpy or numpy), so the
same program runs as NumPy code, as eager nbad code (primitive impls) and
compiled by nbad.jit. Shapes stay within {(3,4), (4,), (3,1), (1,4), ()},
which all broadcast together, so any op can combine any two values; the ops
cover elementwise math, broadcasting, reductions (keepdims, every axis),
views/indexing (negative steps, slices, integer and None indices) and dot.
Inputs in [0.5, 1.5] and domain-safe ops keep every value finite.
"""
import contextlib
import os

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

import nbad
import nbad.numpy as jnp
from nbad.backends.cpu import calls, matmul

UNARY = {
    "neg": lambda m, a: -a,
    "exp_negabs": lambda m, a: m.exp(-m.abs(a)),
    "tanh": lambda m, a: m.tanh(a),
    "sin": lambda m, a: m.sin(a),
    "sqrt1p": lambda m, a: m.sqrt(m.abs(a) + 1.0),
    "log1p_abs": lambda m, a: m.log1p(m.abs(a)),
    "square": lambda m, a: a ** 2,
    "scale": lambda m, a: a * 0.75 - 0.125,
}
BINARY = {
    "add": lambda m, a, b: a + b,
    "sub": lambda m, a, b: a - b,
    "mul": lambda m, a, b: a * b,
    "safe_div": lambda m, a, b: a / (m.abs(b) + 1.0),
    "maximum": lambda m, a, b: m.maximum(a, b),
    "where": lambda m, a, b: m.where(a > b, a, b * 2.0),
}
# Reductions and views, keyed by the input shape they apply to.
SHAPED = {
    (3, 4): {
        "sum0": lambda m, a: m.sum(a, axis=0),
        "max1_keep": lambda m, a: m.max(a, axis=1, keepdims=True),
        "mean_all": lambda m, a: m.mean(a),
        "min0_keep": lambda m, a: m.min(a, axis=0, keepdims=True),
        "rev": lambda m, a: a[::-1, ::-1],
        "row_slice": lambda m, a: a[1:2],
        "col_slice": lambda m, a: a[:, 2:3],
        "row": lambda m, a: a[2],
        "transpose_back": lambda m, a: (a.T * 1.0).T,
        # per-row statistics broadcast back: the patterns row fusion handles
        "center_rows": lambda m, a: a - m.mean(a, axis=1, keepdims=True),
        "row_normalise": lambda m, a: a / m.sqrt(m.sum(a * a, axis=1, keepdims=True) + 1.0),
        "row_softmax_sum": lambda m, a: m.sum(m.exp(a - m.max(a, axis=1, keepdims=True)), axis=1,
                                              keepdims=True) * 0.5,
    },
    (4,): {
        "rev": lambda m, a: a[::-1],
        "sum": lambda m, a: m.sum(a),
        "newaxis": lambda m, a: a[None, :],
    },
    (3, 1): {"col": lambda m, a: a[:, 0][::-1][:, None]},
    (1, 4): {"flat": lambda m, a: a.reshape(4)},
}
INPUT_SHAPES = [(3, 4), (4,), (3, 1), (1, 4), ()]


@st.composite
def programs(draw, prefix=()):
    """Random ops (after the ops of `prefix`, if any) and the values returned."""
    n_ops = draw(st.integers(1, 8))
    ops = list(prefix)
    shapes = list(INPUT_SHAPES)
    if prefix:
        values = run((ops, range(len(INPUT_SHAPES) + len(ops))), np,
                     [np.ones(s) for s in INPUT_SHAPES], np.ones((4, 4)))
        shapes = [np.shape(v) for v in values]
    n_values = len(shapes) + 1  # + the (4, 4) matrix used by dot
    for _ in range(n_ops):
        kind = draw(st.sampled_from(["unary", "binary", "binary", "shaped", "dot"]))
        i = draw(st.integers(0, len(shapes) - 1))
        if kind == "unary":
            ops.append(("unary", draw(st.sampled_from(sorted(UNARY))), i))
            shapes.append(shapes[i])
        elif kind == "binary":
            j = draw(st.integers(0, len(shapes) - 1))
            ops.append(("binary", draw(st.sampled_from(sorted(BINARY))), i, j))
            shapes.append(np.broadcast_shapes(shapes[i], shapes[j]))
        elif kind == "dot" and shapes[i] in ((3, 4), (4,)):
            ops.append(("dot", i))
            shapes.append(shapes[i])
        elif kind == "shaped" and shapes[i] in SHAPED:
            name = draw(st.sampled_from(sorted(SHAPED[shapes[i]])))
            ops.append(("shaped", name, i))
            probe = SHAPED[shapes[i]][name](np, np.ones(shapes[i]))
            shapes.append(probe.shape)
        else:
            ops.append(("unary", "scale", i))
            shapes.append(shapes[i])
        n_values += 1
    outputs = sorted(set([len(shapes) - 1, draw(st.integers(0, len(shapes) - 1))]))
    return ops, outputs


def run(program, m, inputs, matrix):
    ops, outputs = program
    values = list(inputs)
    for op in ops:
        if op[0] == "unary":
            values.append(UNARY[op[1]](m, values[op[2]]))
        elif op[0] == "binary":
            values.append(BINARY[op[1]](m, values[op[2]], values[op[3]]))
        elif op[0] == "shaped":
            values.append(SHAPED[np.shape(values[op[2]])][op[1]](m, values[op[2]]))
        else:
            values.append(m.dot(values[op[1]], matrix) * 0.25)
    return tuple(values[i] for i in outputs)


@settings(max_examples=25, deadline=None)
@given(programs(), st.integers(0, 2**32 - 1))
def test_compiled_equals_eager_equals_numpy(program, seed):
    rng = np.random.default_rng(seed)
    inputs = [rng.uniform(0.5, 1.5, s) for s in INPUT_SHAPES]
    matrix = rng.uniform(-1, 1, (4, 4))
    expected = run(program, np, inputs, matrix)
    eager = run(program, jnp, inputs, matrix)
    compiled = nbad.jit(lambda *xs: run(program, jnp, xs[:-1], xs[-1]))(*inputs, matrix)
    for want, got_eager, got_jit in zip(expected, eager, compiled):
        want = np.asarray(want)
        np.testing.assert_allclose(np.asarray(got_eager), want, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(np.asarray(got_jit), want, rtol=1e-12, atol=1e-14)
        assert np.asarray(got_jit).dtype == want.dtype and np.shape(got_jit) == want.shape


@settings(max_examples=15, deadline=None)
@given(programs(), st.integers(0, 2**32 - 1))
def test_compiled_gradients_equal_eager_gradients(program, seed):
    """Backward passes are IR like any other: jit(grad(f)) must equal grad(f)
    run eagerly op by op (the same rules, evaluated by NumPy impls)."""
    rng = np.random.default_rng(seed)
    inputs = [rng.uniform(0.5, 1.5, s) for s in INPUT_SHAPES]
    matrix = rng.uniform(-1, 1, (4, 4))

    def scalar_loss(*xs):
        outs = run(program, jnp, xs, matrix)
        return sum(jnp.sum(o * (k + 1.0)) for k, o in enumerate(outs))

    argnums = tuple(range(len(inputs)))
    eager = nbad.grad(scalar_loss, argnums=argnums)(*inputs)
    compiled = nbad.jit(nbad.grad(scalar_loss, argnums=argnums))(*inputs)
    for e, c in zip(eager, compiled):
        np.testing.assert_allclose(np.asarray(c), np.asarray(e), rtol=1e-11, atol=1e-13)


@settings(max_examples=12, deadline=None)
@given(programs(), st.lists(st.booleans(), min_size=len(INPUT_SHAPES), max_size=len(INPUT_SHAPES)),
       st.integers(0, 2**32 - 1))
def test_vmap_equals_a_loop_over_examples(program, mapped, seed):
    """vmap(program) over a batch of 3 (some inputs mapped, the others shared,
    the matrix captured) equals NumPy run on each example and stacked; its
    gradient (grad of a sum over the batch: a map of the body's vjp) equals the
    gradient of the unbatched program summed per example."""
    mapped = list(mapped)
    mapped[0] = True  # at least one mapped input
    rng = np.random.default_rng(seed)
    matrix = rng.uniform(-1, 1, (4, 4))
    inputs = [rng.uniform(0.5, 1.5, ((3,) + s) if m else s) for s, m in zip(INPUT_SHAPES, mapped)]
    in_axes = tuple(0 if m else None for m in mapped)
    got = nbad.vmap(lambda *xs: run(program, jnp, xs, matrix), in_axes=in_axes)(*inputs)
    examples = [run(program, np, [x[i] if m else x for x, m in zip(inputs, mapped)], matrix)
                for i in range(3)]
    for k, g in enumerate(got):
        want = np.stack([np.asarray(e[k]) for e in examples])
        np.testing.assert_allclose(np.asarray(g), want, rtol=1e-12, atol=1e-14)
        assert np.shape(g) == want.shape

    def total(*xs):
        outs = nbad.vmap(lambda *ys: run(program, jnp, ys, matrix), in_axes=in_axes)(*xs)
        return sum(jnp.sum(o * (k + 1.0)) for k, o in enumerate(outs))

    def per_example_total(*xs):
        return sum(jnp.sum(o * (k + 1.0)) for k, o in enumerate(run(program, jnp, xs, matrix)))

    argnums = tuple(range(len(inputs)))
    grads = nbad.jit(nbad.grad(total, argnums=argnums))(*inputs)
    per_example = [nbad.grad(per_example_total, argnums=argnums)(
        *[x[i] if m else x for x, m in zip(inputs, mapped)]) for i in range(3)]
    for j, (g, m) in enumerate(zip(grads, mapped)):
        if m:  # a mapped input: its gradient per example
            want = np.stack([np.asarray(p[j]) for p in per_example])
        else:  # a shared input: summed over the batch
            want = sum(np.asarray(p[j]) for p in per_example)
        np.testing.assert_allclose(np.asarray(g), want, rtol=1e-11, atol=1e-13)


# Two products of independent values: the program's steps run as a dataflow graph.
_TWO_PRODUCTS = [("dot", 0), ("shaped", "rev", 0), ("dot", 6)]
_SIDE_BY_SIDE = (_TWO_PRODUCTS + [("binary", "mul", 5, 7)], [7, 8])


@contextlib.contextmanager
def _steps_side_by_side():
    """Every matrix product counts as large and every loop as worth splitting,
    on 2 threads (BLAS on one inside, as nbad sets it): from two independent
    products on, programs run as task graphs (backends/cpu/dataflow.py), split
    wherever they can."""
    saved = matmul.SPLIT_MATMUL_MIN_FLOPS, calls.PARALLEL_MIN_WORK
    matmul.SPLIT_MATMUL_MIN_FLOPS = calls.PARALLEL_MIN_WORK = 0
    nbad.config.update("num_threads", 2)
    try:
        yield
    finally:
        matmul.SPLIT_MATMUL_MIN_FLOPS, calls.PARALLEL_MIN_WORK = saved
        nbad.config.update("num_threads", None)


def test_independent_products_make_a_dataflow_graph():
    rng = np.random.default_rng(0)
    inputs = [rng.uniform(0.5, 1.5, s) for s in INPUT_SHAPES]
    matrix = rng.uniform(-1, 1, (4, 4))
    with _steps_side_by_side():
        f = nbad.jit(lambda *xs: run(_SIDE_BY_SIDE, jnp, xs[:-1], xs[-1]))
        assert "_run_graph(" in f.lower(*inputs, matrix).driver_source


@settings(max_examples=int(os.environ.get("NBAD_TEST_EXAMPLES", 20)), deadline=None)
@given(programs(prefix=_TWO_PRODUCTS), st.integers(0, 2**32 - 1))
@example(_SIDE_BY_SIDE, 0)
def test_programs_and_gradients_run_side_by_side_equal_numpy(program, seed):
    """Random programs and their gradients with every step split and every pair
    of independent products run as a task graph: still NumPy's results."""
    program = (program[0], sorted(set(program[1]) | {5, 7}))  # both products stay live
    rng = np.random.default_rng(seed)
    inputs = [rng.uniform(0.5, 1.5, s) for s in INPUT_SHAPES]
    matrix = rng.uniform(-1, 1, (4, 4))
    expected = run(program, np, inputs, matrix)

    def scalar_loss(*xs):
        outs = run(program, jnp, xs[:-1], xs[-1])
        return sum(jnp.sum(o * (k + 1.0)) for k, o in enumerate(outs))

    argnums = tuple(range(len(inputs) + 1))
    eager_grads = nbad.grad(scalar_loss, argnums=argnums)(*inputs, matrix)
    with _steps_side_by_side():
        compiled = nbad.jit(lambda *xs: run(program, jnp, xs[:-1], xs[-1]))(*inputs, matrix)
        grads = nbad.jit(nbad.grad(scalar_loss, argnums=argnums))(*inputs, matrix)
    for want, got in zip(expected, compiled):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-12, atol=1e-14)
    for e, c in zip(eager_grads, grads):
        np.testing.assert_allclose(np.asarray(c), np.asarray(e), rtol=1e-11, atol=1e-13)
